//! Micro-benchmarks of the per-request work: route lookup in a 100-route table with regex
//! header matches, the body tee, and metrics recording. Run: `cargo bench --bench hot_path`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::HeaderMap;
use http_body_util::{BodyExt, StreamBody};
use std::hint::black_box;

use shadowmesh::model::{ProxyIdentity, RouteTable, compile_text};
use shadowmesh::proxy::body::{Tap, TeeBody, Upload};
use shadowmesh::route::{RequestHead, find};

/// 100 routes: 99 with a regex on a header and a path prefix, then the catch-all.
fn table() -> RouteTable {
    let mut yaml = String::from(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: s, namespace: default}\nspec:\n  hosts: [svc]\n  ports: [{number: 80, name: http}]\n  resolution: STATIC\n  endpoints:\n  - {address: 127.0.0.1, ports: {http: 9081}, labels: {version: v1}}\n  - {address: 127.0.0.1, ports: {http: 9083}, labels: {version: v3}}\n---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: s, namespace: default}\nspec:\n  host: svc\n  subsets: [{name: v1, labels: {version: v1}}, {name: v3, labels: {version: v3}}]\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: s, namespace: default}\nspec:\n  hosts: [svc]\n  http:\n",
    );
    for i in 0..99 {
        yaml.push_str(&format!(
            "  - match: [{{uri: {{prefix: /api/v{i}/}}, headers: {{user-agent: {{regex: \".*Client{i}/[0-9]+.*\"}}}}}}]\n    route: [{{destination: {{host: svc, subset: v3}}}}]\n"
        ));
    }
    yaml.push_str("  - route: [{destination: {host: svc, subset: v1}}]\n    mirror: {host: svc, subset: v3}\n");
    compile_text("bench.yaml", &yaml, &ProxyIdentity::default())
        .0
        .expect("valid")
}

fn route_lookup(c: &mut Criterion) {
    let t = table();
    let mut headers = HeaderMap::new();
    headers.insert(
        "user-agent",
        "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"
            .parse()
            .unwrap(),
    );
    let head = RequestHead {
        method: "GET",
        scheme: "http",
        authority: "svc",
        host: "svc",
        port: None,
        path: "/api/v98/items",
        query: Some("id=1"),
        headers: &headers,
    };
    let mut rng = fastrand::Rng::with_seed(1);
    c.bench_function(
        "route: 100 routes, regex header matches, falls through to the last",
        |b| {
            b.iter(|| {
                let d = find(black_box(&t), black_box(&head), &mut || rng.f64()).unwrap();
                black_box(d.mirrors)
            })
        },
    );
    let mut early = headers.clone();
    early.insert("user-agent", "Client3/42".parse().unwrap());
    let head3 = RequestHead {
        path: "/api/v3/x",
        headers: &early,
        ..head
    };
    c.bench_function("route: first route matches", |b| {
        b.iter(|| {
            black_box(
                find(black_box(&t), black_box(&head3), &mut || rng.f64())
                    .unwrap()
                    .route_index,
            )
        })
    });
}

fn body_tee(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let chunk = Bytes::from(vec![7u8; 16 * 1024]);
    c.bench_function("tee: 64 KiB body in 16 KiB frames to one mirror", |b| {
        b.iter(|| {
            rt.block_on(async {
                let frames: Vec<Result<http_body::Frame<Bytes>, std::convert::Infallible>> = (0..4)
                    .map(|_| Ok(http_body::Frame::data(chunk.clone())))
                    .collect();
                let (tap, mirror_body) = Tap::new(1 << 20);
                let upload = Arc::new(Upload::default());
                let tee = TeeBody::new(
                    StreamBody::new(futures_util::stream::iter(frames)),
                    vec![tap],
                    upload,
                    None,
                );
                let primary = tee.collect().await.unwrap().to_bytes();
                let mirrored = mirror_body.collect().await.unwrap().to_bytes();
                black_box((primary.len(), mirrored.len()))
            })
        })
    });
}

fn metrics_recording(c: &mut Criterion) {
    use shadowmesh::model::cluster::{Cluster, ClusterPolicy, Endpoint, Protocol};
    use shadowmesh::telemetry::metrics::{IstioMetrics, SourceIdentity};
    use shadowmesh::telemetry::{Exchange, ExchangeHook};
    let mut registry = prometheus_client::registry::Registry::default();
    let source = SourceIdentity {
        workload: "frontend".into(),
        namespace: "default".into(),
        app: "frontend".into(),
        version: "v1".into(),
    };
    let m = IstioMetrics::new(&mut registry, source);
    let labels = [
        ("app".to_string(), "svc".to_string()),
        ("version".to_string(), "v1".to_string()),
    ]
    .into();
    let cluster = Cluster::new(
        "svc.default.svc.cluster.local".into(),
        "svc".into(),
        "default".into(),
        80,
        Some("v1".into()),
        Some("v1".into()),
        Protocol::Http1,
        vec![Endpoint::new(
            "127.0.0.1:9081".parse().unwrap(),
            labels,
            "svc-v1".into(),
            "default".into(),
        )],
        false,
        ClusterPolicy::default(),
    );
    let ex = Exchange {
        method: http::Method::GET,
        path: "/".into(),
        status: 200,
        duration: Duration::from_micros(1500),
        response_bytes: 512,
        peer: Some(cluster.peer(Some(0)).clone()),
        request_id: Some(http::HeaderValue::from_static("id")),
        protocol: "HTTP/1.1",
        ..Default::default()
    };
    c.bench_function(
        "metrics: record one exchange (4 families x 2 reporters)",
        |b| b.iter(|| m.on_exchange(black_box(&ex))),
    );
}

criterion_group!(benches, route_lookup, body_tee, metrics_recording);
criterion_main!(benches);
