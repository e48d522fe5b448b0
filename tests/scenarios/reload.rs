//! User story: "I change the config while users keep coming": the seed's house-keeping (reset
//! to baseline) applied while requests flow, and a broken file refused while routing goes on
//! unchanged.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::assert_eventually;
use crate::support::backend::{self, Backend};
use crate::support::load::Load;
use crate::support::proxy::{self, Proxy};
use crate::support::{config, example_file};

/// Loop mode: a client sending steadily until told to stop; counts answers not 200 from v1.
fn steady_v1_traffic(proxy: &Proxy, failed: Arc<AtomicUsize>) -> Load {
    let client = proxy.client();
    Load::start(20_000, move |i| {
        let (client, failed) = (client.clone(), failed.clone());
        async move {
            let a = client.calculation(i).send().await;
            if a.status != 200 || a.version() != "v1" {
                failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    })
}

/// House-keeping: the seed's baseline DestinationRule and VirtualService; v3 receives nothing
/// more once the mirrors in flight have landed.
async fn reset_to_baseline(proxy: &Proxy, load: &Load, v3: &Backend) {
    for name in ["virtualservice.yaml", "destinationrule.yaml"] {
        proxy.replace_file(name, &example_file(&format!("calcbackend/baseline/{name}")));
    }
    assert_eventually!(proxy.generation() == 2, "the baseline is applied");
    // Mirrors already in flight may still land; after a moment v3 receives nothing more.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let v3_after_reset = v3.count();
    let sent_at_reset = load.done();
    assert_eventually!(load.done() > sent_at_reset + 50, "requests keep flowing");
    assert_eq!(
        v3.count(),
        v3_after_reset,
        "v3 receives nothing after the reset"
    );
}

/// A broken file: logged and refused; routing goes on with generation 2.
async fn broken_file_is_refused(proxy: &Proxy, load: &Load) {
    proxy.replace_file(
        "broken.yaml",
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x\nspec: [\n",
    );
    assert_eventually!(
        proxy.reloads_rejected() == 1,
        "the broken config is refused"
    );
    let errors = proxy.reload_errors();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("broken.yaml") && e.contains("line")),
        "{errors:?}"
    );
    let sent_at_break = load.done();
    assert_eventually!(load.done() > sent_at_break + 50, "requests keep flowing");
    assert_eq!(proxy.generation(), 2, "the last good config stays active");
}

#[tokio::test]
async fn reset_to_baseline_while_requests_flow_then_a_broken_file_is_refused() {
    let v1 = backend::http1("v1").run().await;
    let v2 = backend::http1("v2").run().await;
    let v3 = backend::http1("v3").run().await;
    let proxy = proxy::with_config(config::seed(v1.port(), v2.port(), v3.port()))
        .run()
        .await;
    let failed = Arc::new(AtomicUsize::new(0));
    let load = steady_v1_traffic(&proxy, failed.clone());
    assert_eventually!(v3.count() > 20, "mirroring is on before the reset");

    reset_to_baseline(&proxy, &load, &v3).await;
    broken_file_is_refused(&proxy, &load).await;

    let sent = load.stop().await;
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "no request failed across both changes"
    );
    assert!(sent > 100);
    proxy.shutdown().await;
}
