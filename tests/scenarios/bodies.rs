//! User story: "I POST bodies through the proxy": under the mirror's body limit the copy is
//! intact; over it (known up front or learned while streaming) the user's request still reaches
//! the primary intact and only the copy is dropped.

use bytes::Bytes;
use shadowmesh::proxy::mirror::MirrorOutcome;

use crate::assert_eventually;
use crate::support::backend::{self, Backend};
use crate::support::client::Answer;
use crate::support::proxy::{self, Proxy};
use crate::support::{config, refusing_port};

fn payload(len: usize) -> Bytes {
    Bytes::from((0..len).map(|i| (i % 251) as u8).collect::<Vec<u8>>())
}

/// Seed 000 with v1 and v3 answering (v2 refuses); the default 1 MiB mirror body limit.
async fn seed_proxy() -> (Backend, Backend, Proxy) {
    let v1 = backend::http1("v1").run().await;
    let v3 = backend::http1("v3").run().await;
    let files = config::seed(v1.port(), refusing_port().await, v3.port());
    let proxy = proxy::with_config(files)
        .mirror_body_limit(1 << 20)
        .run()
        .await;
    (v1, v3, proxy)
}

/// POSTs `body` to `/api/upload`; the user gets 200.
async fn upload(proxy: &Proxy, body: &Bytes) -> Answer {
    let a = proxy
        .client()
        .post("/api/upload")
        .body(body.clone())
        .send()
        .await;
    assert_eq!(a.status, 200);
    a
}

#[tokio::test]
async fn a_100_kib_post_is_mirrored_intact() {
    let (v1, v3, proxy) = seed_proxy().await;
    let body = payload(100 * 1024);
    let a = upload(&proxy, &body).await;
    assert_eq!(a.version(), "v1");
    assert_eventually!(v3.count() == 1, "the mirror got the POST");
    assert_eq!(v1.seen()[0].body, body, "primary body intact");
    assert_eq!(v3.seen()[0].body, body, "mirrored body intact");
    assert_eq!(v3.seen()[0].method, "POST");
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_5_mib_post_reaches_the_primary_intact_and_is_not_mirrored() {
    let (v1, v3, proxy) = seed_proxy().await;
    let body = payload(5 * 1024 * 1024);
    upload(&proxy, &body).await;
    assert_eq!(v1.seen()[0].body.len(), body.len());
    assert_eq!(v1.seen()[0].body, body, "primary body intact");
    assert_eq!(proxy.mirrored(MirrorOutcome::SkippedBodyTooLarge), 1);
    // A small request afterwards is mirrored, so the mirror path works and skipped only the big one.
    proxy.client().get("/after").send().await;
    assert_eventually!(v3.count() == 1, "only the small request is mirrored");
    assert_eq!(v3.seen()[0].path, "/after");
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_chunked_body_that_grows_past_the_limit_is_cut_from_the_mirror_only() {
    let (v1, v3, proxy) = seed_proxy().await;
    // No Content-Length: the proxy learns the size only while streaming.
    let chunks = (0..48).map(|_| payload(64 * 1024)).collect();
    let a = proxy.client().post("/stream").stream(chunks).send().await;
    assert_eq!(a.status, 200);
    assert_eq!(
        v1.seen()[0].body.len(),
        48 * 64 * 1024,
        "primary body intact"
    );
    assert_eventually!(
        proxy.mirrored(MirrorOutcome::SkippedBodyTooLarge) == 1,
        "the mirror was cut off"
    );
    assert!(
        v3.seen().iter().all(|s| s.body.len() < 48 * 64 * 1024),
        "the mirror never got the whole body"
    );
    proxy.shutdown().await;
}
