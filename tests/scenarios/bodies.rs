//! Request bodies: mirrored intact under the limit, forwarded intact but not mirrored over it.

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use shadowmesh::proxy::mirror::MirrorOutcome;

use crate::assert_eventually;
use crate::support::*;

fn payload(len: usize) -> Bytes {
    Bytes::from((0..len).map(|i| (i % 251) as u8).collect::<Vec<u8>>())
}

async fn seed_proxy() -> (
    Backend,
    Backend,
    shadowmesh::app::Running,
    tempfile::TempDir,
) {
    let v1 = Backend::start("v1", Behavior::Answer).await;
    let v3 = Backend::start("v3", Behavior::Answer).await;
    let dir = seed_config(v1.addr.port(), refusing_port().await, v3.addr.port());
    let proxy = start_proxy(vec![dir.path().to_path_buf()], |_| {}).await;
    (v1, v3, proxy, dir)
}

#[tokio::test]
async fn a_100_kib_post_is_mirrored_intact() {
    let (v1, v3, proxy, _dir) = seed_proxy().await;
    let body = payload(100 * 1024);
    let a = send(
        proxy.listen_addrs[0],
        "POST",
        "calcbackendsvc",
        "/api/upload",
        &[],
        body.clone(),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.version(), "v1");
    assert_eventually!(v3.count() == 1, "the mirror got the POST");
    assert_eq!(v1.seen()[0].body, body, "primary body intact");
    assert_eq!(v3.seen()[0].body, body, "mirrored body intact");
    assert_eq!(v3.seen()[0].method, "POST");
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_5_mib_post_reaches_the_primary_intact_and_is_not_mirrored() {
    let (v1, v3, proxy, _dir) = seed_proxy().await;
    let body = payload(5 * 1024 * 1024);
    let a = send(
        proxy.listen_addrs[0],
        "POST",
        "calcbackendsvc",
        "/api/upload",
        &[],
        body.clone(),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(v1.seen()[0].body.len(), body.len());
    assert_eq!(v1.seen()[0].body, body, "primary body intact");
    let m = &proxy.proxy.mirrorer;
    assert_eq!(m.stats.get(MirrorOutcome::SkippedBodyTooLarge), 1);
    // A small request afterwards is mirrored, so the mirror path works and skipped only the big one.
    get(proxy.listen_addrs[0], "calcbackendsvc", "/after", None).await;
    assert_eventually!(v3.count() == 1, "only the small request is mirrored");
    assert_eq!(v3.seen()[0].path, "/after");
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_chunked_body_that_grows_past_the_limit_is_cut_from_the_mirror_only() {
    let (v1, v3, proxy, _dir) = seed_proxy().await;
    // No Content-Length: the proxy learns the size only while streaming.
    let chunks: Vec<Result<http_body::Frame<Bytes>, std::convert::Infallible>> = (0..48)
        .map(|_| Ok(http_body::Frame::data(payload(64 * 1024))))
        .collect();
    let body = StreamBody::new(futures_util::stream::iter(chunks));
    let req = http::Request::builder()
        .method("POST")
        .uri(format!("http://{}/stream", proxy.listen_addrs[0]))
        .header("host", "calcbackendsvc")
        .body(body)
        .unwrap();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let resp = client.request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let _ = resp.into_body().collect().await.unwrap();
    assert_eq!(
        v1.seen()[0].body.len(),
        48 * 64 * 1024,
        "primary body intact"
    );
    let m = &proxy.proxy.mirrorer;
    assert_eventually!(
        m.stats.get(MirrorOutcome::SkippedBodyTooLarge) == 1,
        "the mirror was cut off"
    );
    assert!(
        v3.seen().iter().all(|s| s.body.len() < 48 * 64 * 1024),
        "the mirror never got the whole body"
    );
    proxy.shutdown().await;
}
