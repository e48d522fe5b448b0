//! Live config: the seed's house-keeping (reset to baseline) applied while requests flow, and a
//! broken file refused while routing goes on unchanged.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::assert_eventually;
use crate::support::*;

#[tokio::test]
async fn reset_to_baseline_while_requests_flow_then_a_broken_file_is_refused() {
    let v1 = Backend::start("v1", Behavior::Answer).await;
    let v2 = Backend::start("v2", Behavior::Answer).await;
    let v3 = Backend::start("v3", Behavior::Answer).await;
    let dir = seed_config(v1.addr.port(), v2.addr.port(), v3.addr.port());
    let proxy = start_proxy(vec![dir.path().to_path_buf()], |_| {}).await;
    let addr = proxy.listen_addrs[0];

    // Loop mode: a client sending steadily until told to stop (bounded in count).
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load = {
        let (stop, sent, failed) = (stop.clone(), sent.clone(), failed.clone());
        tokio::spawn(async move {
            for i in 0..20_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let a = get(
                    addr,
                    "calcbackendsvc",
                    &format!("/api/calculation?number={i}"),
                    None,
                )
                .await;
                sent.fetch_add(1, Ordering::Relaxed);
                if a.status != 200 || a.version() != "v1" {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    assert_eventually!(v3.count() > 20, "mirroring is on before the reset");

    // House-keeping: the seed's baseline DestinationRule and VirtualService.
    let baseline = examples().join("calcbackend").join("baseline");
    for name in ["virtualservice.yaml", "destinationrule.yaml"] {
        replace_file(
            dir.path(),
            name,
            &std::fs::read_to_string(baseline.join(name)).unwrap(),
        );
    }
    let snapshot = proxy.reloader.snapshot.clone();
    assert_eventually!(snapshot.load().generation == 2, "the baseline is applied");
    // Mirrors already in flight may still land; after a moment v3 receives nothing more.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let v3_after_reset = v3.count();
    let sent_at_reset = sent.load(Ordering::Relaxed);
    assert_eventually!(
        sent.load(Ordering::Relaxed) > sent_at_reset + 50,
        "requests keep flowing"
    );
    assert_eq!(
        v3.count(),
        v3_after_reset,
        "v3 receives nothing after the reset"
    );

    // A broken file: logged and refused; routing goes on with generation 2.
    replace_file(
        dir.path(),
        "broken.yaml",
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x\nspec: [\n",
    );
    assert_eventually!(
        proxy.reloader.stats.rejected.load(Ordering::Relaxed) == 1,
        "the broken config is refused"
    );
    let errors = proxy.reloader.last_errors.load();
    assert!(
        errors
            .iter()
            .any(|e| e.to_string().contains("broken.yaml") && e.to_string().contains("line")),
        "{errors:?}"
    );
    let sent_at_break = sent.load(Ordering::Relaxed);
    assert_eventually!(
        sent.load(Ordering::Relaxed) > sent_at_break + 50,
        "requests keep flowing"
    );
    assert_eq!(
        snapshot.load().generation,
        2,
        "the last good config stays active"
    );

    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "no request failed across both changes"
    );
    assert!(sent.load(Ordering::Relaxed) > 100);
    proxy.shutdown().await;
}
