//! WebSocket through the proxy: HTTP/1.1 `Connection: upgrade` + `Upgrade: websocket`, proxied
//! as Envoy does with Istio's `upgrade_configs: websocket` on every route.
//!
//! The upgrade request is routed like any other (matches, weights, header operations, rewrites,
//! fault, CORS) and forwarded with its `Upgrade`/`Connection` headers kept ([`RequestCtx::upgrade`]
//! finds it, [`RequestCtx::keep_upgrade`] puts the headers back after the prepare step). Its
//! mirrors are never sent (counted `skipped_upgrade`). The route timeout covers the upstream's
//! answer only. A 101 from the upstream is answered 101 to the client, then a tunnel copies bytes
//! both ways between the two upgraded connections until either side closes; the client
//! connection's idle timeout closes a tunnel with no byte either way (Envoy's stream idle
//! timeout; see `server::ConnActivity::tunnel`). Any other answer goes back as a normal one.
//! Other upgrade protocols are refused with 403, as Envoy refuses an unconfigured upgrade
//! (`upgrade_failed`); an `h2c` upgrade is served as a plain request. HTTP/2 extended CONNECT
//! (RFC 8441) from clients, and upgrades to HTTP/2 upstreams, are not supported.
//!
//! The exchange is recorded once, when the tunnel ends, with status 101 and the bytes each way
//! (client to upstream as request bytes). A tunnel closed by either side is nobody's failure.

use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use hyper_util::rt::TokioIo;

use super::body::{BodySummary, OnBodyEnd};
use super::headers::{self, UpgradeRequest};
use super::mirror::MirrorOutcome;
use super::record::ExchangeRecord;
use super::server::h1::OnUpgrade;
use super::steps::{Routed, Step};
use super::{Proxy, RequestCtx};
use crate::model::cluster::Protocol;
use crate::telemetry::Flag;
use crate::upstream::{ResponseBody, UpstreamBody};

/// A client's WebSocket upgrade, waiting for the upstream's 101.
pub(super) struct ClientUpgrade {
    /// The client's `Upgrade` value, sent on as is.
    protocol: HeaderValue,
    /// The client's connection once the server has written the 101.
    on_upgrade: OnUpgrade,
}

impl RequestCtx {
    /// 1b. upgrade: a WebSocket upgrade is taken (its connection awaited later); another
    ///     protocol is refused with 403, as Envoy refuses an upgrade it is not configured for.
    pub(super) fn upgrade(&mut self) -> Step<Option<ClientUpgrade>> {
        match headers::upgrade_request(self.parts.version, &self.parts.headers) {
            UpgradeRequest::None => Ok(None),
            UpgradeRequest::Other(protocol) => {
                let reason = format!("upgrade to {protocol:?} is not supported (only websocket)");
                Err(Box::new(self.record.answer(
                    StatusCode::FORBIDDEN,
                    Flag::None,
                    reason,
                )))
            }
            UpgradeRequest::WebSocket(protocol) => {
                // The server offers the connection only where upgrades are served (HTTP/1.1).
                Ok(
                    (self.parts.extensions.remove::<OnUpgrade>()).map(|on_upgrade| ClientUpgrade {
                        protocol,
                        on_upgrade,
                    }),
                )
            }
        }
    }

    /// 5b. keep the upgrade: the prepare step removed `Upgrade`/`Connection` as hop-by-hop. They
    ///     cannot cross HTTP/2: to an HTTP2/GRPC port the request goes on plain.
    pub(super) fn keep_upgrade(&mut self, upgrade: Option<&ClientUpgrade>, routed: &Routed<'_>) {
        if let Some(u) = upgrade
            && routed.cluster.protocol == Protocol::Http1
        {
            headers::keep_upgrade(&mut self.parts.headers, u.protocol.clone());
        }
    }
}

impl Proxy {
    /// 7 (upgrade): mirrors are never sent for an upgrade; a selected one is counted
    /// `skipped_upgrade`, one not selected by the percentage `skipped_percentage`.
    pub(super) fn skip_mirrors<T>(&self, routed: &Routed<'_>) -> Vec<T> {
        for (cluster, selected) in routed.decision.mirror_choices() {
            let outcome = if selected {
                MirrorOutcome::SkippedUpgrade
            } else {
                MirrorOutcome::SkippedPercentage
            };
            self.mirrorer.count(cluster, outcome);
        }
        Vec::new()
    }

    /// 9 (upgrade): a 101 from the upstream is answered 101 (its hop-by-hop headers cleaned, the
    /// upgrade kept, response header operations applied) and both connections are handed to a
    /// tunnel; any other answer is a normal one.
    pub(super) fn respond_upgrade(
        &self,
        cx: RequestCtx,
        routed: &Routed<'_>,
        mut response: Response<ResponseBody>,
        client: ClientUpgrade,
    ) -> Response<UpstreamBody> {
        if response.status() != StatusCode::SWITCHING_PROTOCOLS {
            return self.respond(cx, routed, response);
        }
        let upstream = hyper::upgrade::on(&mut response);
        let (mut parts, _empty) = response.into_parts();
        let protocol = (parts.headers.get(header::UPGRADE).cloned()).unwrap_or(client.protocol);
        headers::strip_hop_by_hop(&mut parts.headers);
        headers::keep_upgrade(&mut parts.headers, protocol);
        (routed.destination.headers.response).apply(&mut parts.headers);
        (routed.decision.route.headers.response).apply(&mut parts.headers);
        parts.headers.extend(cx.cors_marks);
        let mut record = cx.record;
        record.exchange.status = StatusCode::SWITCHING_PROTOCOLS.as_u16();
        tokio::spawn(tunnel(client.on_upgrade, upstream, record));
        Response::from_parts(parts, crate::upstream::empty_body())
    }
}

/// Copies bytes both ways between the upgraded client and upstream connections until both
/// directions end (a side's close is passed on as a close to the other), then records the
/// exchange.
async fn tunnel(
    client: OnUpgrade,
    upstream: hyper::upgrade::OnUpgrade,
    mut record: Box<ExchangeRecord>,
) {
    let (client, upstream) = tokio::join!(client, upstream);
    let (client, upstream) = match (client, upstream) {
        (Ok(c), Ok(u)) => (c, u),
        (Err(e), _) => {
            record.exchange.flag = Flag::DownstreamClosed;
            record.exchange.reason = Some(format!("the client's upgrade failed: {e}"));
            return end(record, 0, 0);
        }
        (_, Err(e)) => {
            record.exchange.flag = Flag::UpstreamReset;
            record.exchange.reason = Some(format!("the upstream's upgrade failed: {e}"));
            return end(record, 0, 0);
        }
    };
    let (mut client, mut upstream) = (client, TokioIo::new(upstream));
    match tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
        Ok((sent, received)) => end(record, sent, received),
        Err(e) => {
            // A side that went away or fell idle ends the tunnel; nobody's failure.
            record.exchange.reason = Some(format!("tunnel closed: {e}"));
            end(record, 0, 0);
        }
    }
}

/// Records the tunnel: `sent` bytes from the client, `received` from the upstream.
fn end(mut record: Box<ExchangeRecord>, sent: u64, received: u64) {
    record.upload = None;
    record.exchange.request_bytes = sent;
    let summary = BodySummary {
        bytes: received,
        ..BodySummary::default()
    };
    record.finish(summary);
}
