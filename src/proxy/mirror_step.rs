//! Step 7, the mirrors: each selected mirror takes a permit and a tap on the primary's body and
//! is sent from its own task; the others are counted as skipped (percentage, method). The
//! request is marked for comparison here. (For an upgrade, `upgrade.rs` skips them all.)

use std::sync::atomic::{AtomicU64, Ordering};

use http::header;
use hyper::body::Body as _;

use super::body::Tap;
use super::hash_key::RequestHashes;
use super::mirror::{MirrorOutcome, MirrorRequest};
use super::server::ClientBody;
use super::steps::Routed;
use super::{Proxy, RequestCtx};
use crate::model::methods::MethodSet;

impl Proxy {
    /// 7. mirrors: each selected mirror takes a permit and a tap on the body and is sent from
    ///    its own task; the others are counted as skipped.
    pub(super) fn start_mirrors(
        &self,
        cx: &mut RequestCtx,
        routed: &Routed<'_>,
        body: &ClientBody,
        uri: &http::Uri,
        hashes: &RequestHashes,
    ) -> Vec<Tap> {
        if routed.decision.route.mirrors.is_empty() {
            return Vec::new();
        }
        self.start_route_mirrors(cx, routed, body, uri, hashes)
    }

    /// [`Proxy::start_mirrors`] for a route that has mirrors. Not inlined: spawning a mirror
    /// builds its task's future on the stack, and inlined, that room was in the frame of
    /// every request's poll, mirrored or not.
    #[inline(never)]
    fn start_route_mirrors(
        &self,
        cx: &mut RequestCtx,
        routed: &Routed<'_>,
        body: &ClientBody,
        uri: &http::Uri,
        hashes: &RequestHashes,
    ) -> Vec<Tap> {
        let mut taps = Vec::new();
        let has_body = !body.is_end_stream();
        let declared_len = (cx.parts.headers.get(header::CONTENT_LENGTH))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let vhost = routed.decision.vhost;
        let method = &cx.parts.method;
        let policy = |route: &Option<MethodSet>, proxy_wide: &MethodSet| {
            route.as_ref().unwrap_or(proxy_wide).contains(method)
        };
        let mirror_method = policy(&vhost.mirror_methods, &self.options.mirror_methods);
        let compare_method = policy(&vhost.compare_methods, &self.options.compare_methods);
        let mut pending = Vec::new();
        for (i, (cluster, selected)) in routed.decision.mirror_choices().enumerate() {
            let skipped = if !selected {
                Some(MirrorOutcome::SkippedPercentage)
            } else if !mirror_method {
                Some(MirrorOutcome::SkippedMethod)
            } else {
                None
            };
            if let Some(outcome) = skipped {
                self.mirrorer.count(cluster, outcome);
            } else if let Some(mut p) =
                (self.mirrorer).prepare(cluster, has_body, declared_len, &mut taps)
            {
                p.hash = hashes.mirrors.get(i).copied().flatten();
                pending.push(p);
            }
        }
        let ex = &mut cx.record.exchange;
        ex.mirrors_sent = pending.len() as u8;
        ex.compare = !pending.is_empty() && compare_method && self.telemetry.sample_pair();
        if ex.compare {
            ex.pair = next_pair_id();
            ex.compare_ignore = Some(routed.decision.vhost.compare_ignore.clone());
            ex.compare_unordered = Some(routed.decision.vhost.compare_unordered.clone());
        }
        let req = MirrorRequest {
            head: &cx.parts,
            uri,
            request_id: ex.request_id.as_ref(),
            route: &routed.decision.route.name,
            pair: ex.compare.then_some(ex.pair),
        };
        for p in pending {
            self.mirrorer.spawn(p, req);
        }
        taps
    }
}

/// A process-wide unique id pairing a primary with its mirrored copies.
fn next_pair_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
