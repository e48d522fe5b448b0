//! The fault step, as Envoy's fault filter does it for a route's `fault` (it runs before the
//! router, so before any mirror is sent): the delay, when rolled, holds the request for its
//! fixed time (flag `DI`); the abort, when rolled, answers instead of forwarding (flag `FI`, or
//! `DI,FI` after a delay): its HTTP status (to a gRPC client as a gRPC status, Envoy's mapping),
//! or, for `grpcStatus`, HTTP 200 with that `grpc-status` to a gRPC client. The body says
//! `fault filter abort`, as Envoy's. The rolls are the route's ([`crate::route::FaultRolls`]).

use http::StatusCode;

use super::steps::{Routed, Step};
use super::{RequestCtx, local};
use crate::model::http_policy::AbortAnswer;
use crate::telemetry::Flag;

/// Envoy's reason (and body) for an injected abort.
const ABORT_REASON: &str = "fault filter abort";

impl RequestCtx {
    /// 4. fault: see the module doc.
    pub(super) async fn fault(&mut self, routed: &Routed<'_>) -> Step<()> {
        let Some(fault) = &routed.decision.route.fault else {
            return Ok(());
        };
        let rolls = routed.decision.faults;
        let mut delayed = false;
        if let Some(delay) = fault.delay.as_ref().filter(|_| rolls.delay) {
            self.record.exchange.flag = Flag::DelayInjected;
            tokio::time::sleep(delay.fixed).await;
            delayed = true;
        }
        let Some(abort) = fault.abort.as_ref().filter(|_| rolls.abort) else {
            return Ok(());
        };
        // Envoy knows the route's cluster when its fault filter aborts: Istio's metrics name the
        // destination service (no workload).
        self.record.exchange.peer = Some(routed.cluster.peer(None).clone());
        let flag = if delayed {
            Flag::DelayedThenAborted
        } else {
            Flag::FaultInjected
        };
        let mut resp = match abort.answer {
            AbortAnswer::Http(status) => self.record.answer(status, flag, ABORT_REASON.into()),
            AbortAnswer::Grpc(code) => {
                let resp = if self.record.exchange.grpc {
                    local::grpc_code(u16::from(code), ABORT_REASON)
                } else {
                    local::text(StatusCode::OK, ABORT_REASON)
                };
                let ex = &mut self.record.exchange;
                ex.flag = flag;
                ex.reason = Some(ABORT_REASON.into());
                self.record.local_response(resp)
            }
        };
        // Envoy's CORS filter sits before the fault filter: it marks the local answer too.
        resp.headers_mut()
            .extend(std::mem::take(&mut self.cors_marks));
        Err(Box::new(resp))
    }
}
