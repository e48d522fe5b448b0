//! A mirror that is slow, refuses connections or resets never delays or fails the user.

use std::sync::atomic::Ordering;
use std::time::Duration;

use shadowmesh::proxy::mirror::MirrorOutcome;

use crate::assert_eventually;
use crate::support::*;

/// Seed 000 config with v3 at `v3_port`.
async fn seed_with_v3(v3_port: u16) -> (Backend, tempfile::TempDir) {
    let v1 = Backend::start("v1", Behavior::Answer).await;
    let dir = seed_config(v1.addr.port(), refusing_port().await, v3_port);
    (v1, dir)
}

#[tokio::test]
async fn a_mirror_that_takes_two_seconds_never_delays_the_primary() {
    let slow = Backend::start("v3", Behavior::Delay(Duration::from_secs(2))).await;
    let (v1, dir) = seed_with_v3(slow.addr.port()).await;
    let proxy = start_proxy(vec![dir.path().to_path_buf()], |o| {
        o.mirror.timeout = Duration::from_secs(5)
    })
    .await;
    let addr = proxy.listen_addrs[0];
    for n in 0..10 {
        let a = get(
            addr,
            "calcbackendsvc",
            &format!("/api/calculation?number={n}"),
            None,
        )
        .await;
        assert_eq!(a.status, 200);
        assert_eq!(a.version(), "v1");
    }
    // Every primary answer arrived, one after the other, while the mirror was still holding
    // its first request: had the primary waited for the mirror, no answer could precede the
    // mirror's first completion.
    assert_eventually!(
        slow.count() == 10,
        "the slow mirror got {} copies",
        slow.count()
    );
    assert_eq!(
        slow.completed.load(Ordering::SeqCst),
        0,
        "primaries finished before any mirror did"
    );
    assert_eq!(v1.completed.load(Ordering::SeqCst), 10);
    let m = &proxy.proxy.mirrorer;
    assert_eq!(m.in_flight(), 10, "all ten mirrors are still in flight");
    assert_eventually!(
        m.stats.get(MirrorOutcome::Sent) == 10,
        "mirrors complete later"
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_mirror_past_its_timeout_is_cut_off_and_counted() {
    let slow = Backend::start("v3", Behavior::Delay(Duration::from_secs(3))).await;
    let (_v1, dir) = seed_with_v3(slow.addr.port()).await;
    let proxy = start_proxy(vec![dir.path().to_path_buf()], |o| {
        o.mirror.timeout = Duration::from_millis(200)
    })
    .await;
    let addr = proxy.listen_addrs[0];
    for _ in 0..5 {
        assert_eq!(get(addr, "calcbackendsvc", "/", None).await.version(), "v1");
    }
    let m = &proxy.proxy.mirrorer;
    assert_eventually!(
        m.stats.get(MirrorOutcome::Timeout) == 5,
        "timeouts: {}",
        m.stats.get(MirrorOutcome::Timeout)
    );
    assert_eq!(m.in_flight(), 0, "timed-out mirrors release their permits");
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_mirror_that_refuses_connections_is_counted_and_the_user_never_notices() {
    let (v1, dir) = seed_with_v3(refusing_port().await).await;
    let proxy = start_proxy(vec![dir.path().to_path_buf()], |_| {}).await;
    let addr = proxy.listen_addrs[0];
    for _ in 0..10 {
        let a = get(addr, "calcbackendsvc", "/api/calculation?number=12", None).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.version(), "v1");
    }
    assert_eq!(v1.count(), 10);
    let m = &proxy.proxy.mirrorer;
    assert_eventually!(
        m.stats.get(MirrorOutcome::ConnectError) == 10,
        "connect errors: {}",
        m.stats.get(MirrorOutcome::ConnectError)
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_mirror_that_resets_is_counted_and_the_user_never_notices() {
    let reset = Backend::start("v3", Behavior::Reset).await;
    let (_v1, dir) = seed_with_v3(reset.addr.port()).await;
    let proxy = start_proxy(vec![dir.path().to_path_buf()], |_| {}).await;
    let addr = proxy.listen_addrs[0];
    for _ in 0..10 {
        let a = get(addr, "calcbackendsvc", "/", None).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.version(), "v1");
    }
    let m = &proxy.proxy.mirrorer;
    assert_eventually!(
        m.stats.get(MirrorOutcome::Reset) == 10,
        "resets: {}",
        m.stats.get(MirrorOutcome::Reset)
    );
    assert!(reset.accepted.load(Ordering::SeqCst) >= 1);
    proxy.shutdown().await;
}

#[tokio::test]
async fn mirrors_beyond_the_in_flight_cap_are_dropped_not_queued() {
    let slow = Backend::start("v3", Behavior::Delay(Duration::from_secs(2))).await;
    let (_v1, dir) = seed_with_v3(slow.addr.port()).await;
    let proxy = start_proxy(vec![dir.path().to_path_buf()], |o| {
        o.mirror.max_in_flight = 3
    })
    .await;
    let addr = proxy.listen_addrs[0];
    for _ in 0..8 {
        assert_eq!(get(addr, "calcbackendsvc", "/", None).await.version(), "v1");
    }
    let m = &proxy.proxy.mirrorer;
    assert_eq!(m.stats.get(MirrorOutcome::DroppedOverflow), 5);
    assert_eventually!(slow.count() == 3, "only three copies are sent");
    proxy.shutdown().await;
}
