//! User story: "a broken candidate never hurts my users": a mirror that is slow, times out,
//! refuses connections or resets never delays or fails the user, and is counted; mirrors beyond
//! the in-flight cap are dropped, not queued.

use std::time::Duration;

use shadowmesh::proxy::mirror::MirrorOutcome;

use crate::assert_eventually;
use crate::support::backend::{self, Backend};
use crate::support::config;
use crate::support::proxy::{self, Builder};
use crate::support::refusing_port;

/// Seed 000 with v1 answering, v2 refusing, v3 at `v3_port`.
async fn seed_with_v3(v3_port: u16) -> (Backend, Builder) {
    let v1 = backend::http1("v1").run().await;
    let files = config::seed(v1.port(), refusing_port().await, v3_port);
    (v1, proxy::with_config(files))
}

/// Sends `n` requests to calcbackendsvc; each is answered 200 by v1.
async fn v1_answers(proxy: &proxy::Proxy, n: usize, path: impl Fn(usize) -> String) {
    let client = proxy.client();
    for i in 0..n {
        let a = client.get(&path(i)).send().await;
        assert_eq!(a.status, 200);
        assert_eq!(a.version(), "v1");
    }
}

#[tokio::test]
async fn a_mirror_that_takes_two_seconds_never_delays_the_primary() {
    let slow = backend::slow("v3", Duration::from_secs(2)).await;
    let (v1, proxy) = seed_with_v3(slow.port()).await;
    let proxy = proxy.mirror_timeout(Duration::from_secs(5)).run().await;
    v1_answers(&proxy, 10, |n| format!("/api/calculation?number={n}")).await;
    // Every primary answer arrived, one after the other, while the mirror was still holding
    // its first request: had the primary waited for the mirror, no answer could precede the
    // mirror's first completion.
    assert_eventually!(
        slow.count() == 10,
        "the slow mirror got {} copies",
        slow.count()
    );
    assert_eq!(
        slow.completed(),
        0,
        "primaries finished before any mirror did"
    );
    assert_eq!(v1.completed(), 10);
    assert_eq!(
        proxy.mirrors_in_flight(),
        10,
        "all ten mirrors are still in flight"
    );
    assert_eventually!(
        proxy.mirrored(MirrorOutcome::Sent) == 10,
        "mirrors complete later"
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_mirror_past_its_timeout_is_cut_off_and_counted() {
    let slow = backend::slow("v3", Duration::from_secs(3)).await;
    let (_v1, proxy) = seed_with_v3(slow.port()).await;
    let proxy = proxy.mirror_timeout(Duration::from_millis(200)).run().await;
    v1_answers(&proxy, 5, |_| "/".into()).await;
    assert_eventually!(
        proxy.mirrored(MirrorOutcome::Timeout) == 5,
        "timeouts: {}",
        proxy.mirrored(MirrorOutcome::Timeout)
    );
    assert_eq!(
        proxy.mirrors_in_flight(),
        0,
        "timed-out mirrors release their permits"
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_mirror_that_refuses_connections_is_counted_and_the_user_never_notices() {
    let (v1, proxy) = seed_with_v3(refusing_port().await).await;
    let proxy = proxy.run().await;
    v1_answers(&proxy, 10, |_| "/api/calculation?number=12".into()).await;
    assert_eq!(v1.count(), 10);
    assert_eventually!(
        proxy.mirrored(MirrorOutcome::ConnectError) == 10,
        "connect errors: {}",
        proxy.mirrored(MirrorOutcome::ConnectError)
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_mirror_that_resets_is_counted_and_the_user_never_notices() {
    let reset = backend::http1("v3").reset().run().await;
    let (_v1, proxy) = seed_with_v3(reset.port()).await;
    let proxy = proxy.run().await;
    v1_answers(&proxy, 10, |_| "/".into()).await;
    assert_eventually!(
        proxy.mirrored(MirrorOutcome::Reset) == 10,
        "resets: {}",
        proxy.mirrored(MirrorOutcome::Reset)
    );
    assert!(reset.accepted() >= 1);
    proxy.shutdown().await;
}

#[tokio::test]
async fn mirrors_beyond_the_in_flight_cap_are_dropped_not_queued() {
    let slow = backend::slow("v3", Duration::from_secs(2)).await;
    let (_v1, proxy) = seed_with_v3(slow.port()).await;
    let proxy = proxy.max_mirrors_in_flight(3).run().await;
    v1_answers(&proxy, 8, |_| "/".into()).await;
    assert_eq!(proxy.mirrored(MirrorOutcome::DroppedOverflow), 5);
    assert_eventually!(slow.count() == 3, "only three copies are sent");
    proxy.shutdown().await;
}
