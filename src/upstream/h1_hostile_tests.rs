//! Hostile upstreams against the HTTP/1.1 codec, on loopback sockets (from a hostile review):
//! heads trickled byte by byte, closes at every point of an answer, heads that break the
//! protocol or the size limit, bodiless answers carrying bytes, HTTP/1.0 until close, and a 101
//! to a plain request. Each must end in the status Envoy gives it (503 `UC` before the head,
//! 502 `UPE` for a broken head), a body error after the head, and a pool that is never fed a
//! connection with bytes nobody asked for.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{UpstreamBody, UpstreamError, Upstreams};
use crate::model::cluster::{ClusterPolicy, Protocol};

use crate::upstream::empty_body as empty;

/// A raw upstream: each accepted connection is handed to `script`.
async fn upstream<F, Fut>(script: F) -> (SocketAddr, Arc<AtomicUsize>)
where
    F: Fn(TcpStream, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let script = Arc::new(script);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let n = count.fetch_add(1, Ordering::SeqCst);
            let script = script.clone();
            tokio::spawn(async move { script(stream, n).await });
        }
    });
    (addr, accepted)
}

/// Reads until the end of a request head.
async fn read_head(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut raw = Vec::new();
    let mut b = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        if s.read(&mut b).await.ok()? == 0 {
            return None;
        }
        raw.push(b[0]);
    }
    Some(raw)
}

async fn send_req(
    upstreams: &Upstreams,
    addr: SocketAddr,
    method: Method,
    headers: &[(&str, &str)],
    body: UpstreamBody,
) -> Result<http::Response<super::ResponseBody>, UpstreamError> {
    let mut b = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}/p"))
        .header("host", "web");
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    let req = b.body(body).unwrap();
    let endpoint = addr.to_string().parse().unwrap();
    let policy = ClusterPolicy::default();
    let fut = upstreams.send_request(Protocol::Http1, &policy, &endpoint, req, false);
    tokio::time::timeout(Duration::from_secs(5), fut)
        .await
        .expect("send hung")
}

async fn collect(r: http::Response<super::ResponseBody>) -> Result<Bytes, String> {
    let fut = r.into_body().collect();
    match tokio::time::timeout(Duration::from_secs(5), fut).await {
        Err(_) => Err("body hung".into()),
        Ok(Err(e)) => Err(format!("body error: {e}")),
        Ok(Ok(c)) => Ok(c.to_bytes()),
    }
}

#[tokio::test]
async fn a_head_split_byte_by_byte_with_delays() {
    let answer = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nx-a: 1\r\ntransfer-encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n0\r\nx-t: 2\r\n\r\n";
    let (addr, accepted) = upstream(move |mut s, _| async move {
        while read_head(&mut s).await.is_some() {
            for b in answer {
                if s.write_all(&[*b]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    })
    .await;
    let ups = Upstreams::default();
    for _ in 0..2 {
        let r = send_req(&ups, addr, Method::GET, &[], empty())
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(collect(r).await.unwrap(), "abc");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn closes_mid_head_mid_body_and_right_after_the_head() {
    let cases: [(&'static [u8], bool); 5] = [
        (b"HTTP/1.1 200 OK\r\ncontent-len", false),
        (b"", false),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n", true),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc", true),
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n",
            true,
        ),
    ];
    for (answer, head_ok) in cases {
        let (addr, _) = upstream(move |mut s, _| async move {
            let _ = read_head(&mut s).await;
            let _ = s.write_all(answer).await;
        })
        .await;
        let ups = Upstreams::default();
        let r = send_req(&ups, addr, Method::GET, &[], empty()).await;
        let shown = String::from_utf8_lossy(answer);
        if head_ok {
            let r = r.unwrap();
            assert!(collect(r).await.is_err(), "{shown}");
        } else {
            let f = r.err().expect(&shown).failure();
            assert_eq!(f.status, 503, "{shown}: {f:?}");
        }
    }
}

#[tokio::test]
async fn protocol_errors_are_502() {
    let cases: [&'static [u8]; 4] = [
        b"HTTP/1.1 2x0 OK\r\n\r\n",
        b"garbage\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nfoo bar\r\n\r\n",
    ];
    for answer in cases {
        let (addr, _) = upstream(move |mut s, _| async move {
            let _ = read_head(&mut s).await;
            let _ = s.write_all(answer).await;
            tokio::time::sleep(Duration::from_secs(10)).await;
        })
        .await;
        let ups = Upstreams::default();
        let r = send_req(&ups, addr, Method::GET, &[], empty()).await;
        let f = r.err().expect("error").failure();
        assert_eq!(f.status, 502, "{}: {f:?}", String::from_utf8_lossy(answer));
    }
}

#[tokio::test]
async fn a_head_over_60k_trickled_is_refused_without_hanging() {
    let (addr, _) = upstream(|mut s, _| async move {
        let _ = read_head(&mut s).await;
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\n").await;
        for _ in 0..70 {
            let mut line = b"x-pad: ".to_vec();
            line.extend_from_slice(&[b'a'; 1000]);
            line.extend_from_slice(b"\r\n");
            if s.write_all(&line).await.is_err() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
    })
    .await;
    let ups = Upstreams::default();
    let f = send_req(&ups, addr, Method::GET, &[], empty())
        .await
        .err()
        .expect("too large")
        .failure();
    assert_eq!(f.status, 502, "{f:?}");
}

#[tokio::test]
async fn bodiless_answers_with_body_bytes_do_not_poison_the_pool() {
    // HEAD with content-length, 204/304 with a body: the bytes after the head are not the body
    // and must not be read as the next answer.
    let cases: [(Method, &'static [u8]); 3] = [
        (Method::HEAD, b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"),
        (Method::GET, b"HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\nhello"),
        (Method::GET, b"HTTP/1.1 304 Not Modified\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    ];
    for (method, answer) in cases {
        let (addr, accepted) = upstream(move |mut s, _| async move {
            while read_head(&mut s).await.is_some() {
                if s.write_all(answer).await.is_err() {
                    return;
                }
            }
        })
        .await;
        let ups = Upstreams::default();
        for _ in 0..3 {
            let r = send_req(&ups, addr, method.clone(), &[], empty())
                .await
                .unwrap();
            assert!(r.status() == 200 || r.status() == 204 || r.status() == 304);
            assert_eq!(collect(r).await.unwrap(), "");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let n = accepted.load(Ordering::SeqCst);
        let shown = String::from_utf8_lossy(answer);
        if method == Method::HEAD {
            assert_eq!(n, 1, "{shown}");
        } else {
            assert_eq!(n, 3, "{shown}");
        }
    }
}

#[tokio::test]
async fn http10_without_length_and_101_to_a_plain_request() {
    let (addr, accepted) = upstream(|mut s, n| async move {
        let _ = read_head(&mut s).await;
        if n == 0 {
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\n\r\nuntil close").await;
        } else {
            let _ = s
                .write_all(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\n\r\nRAW")
                .await;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
    .await;
    let ups = Upstreams::default();
    let r = send_req(&ups, addr, Method::GET, &[], empty())
        .await
        .unwrap();
    assert_eq!(collect(r).await.unwrap(), "until close");
    let r = send_req(&ups, addr, Method::GET, &[], empty())
        .await
        .unwrap();
    assert_eq!(r.status(), 101);
    assert_eq!(collect(r).await.unwrap(), "");
    let r = send_req(&ups, addr, Method::GET, &[], empty()).await;
    let _ = r;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        3,
        "101 connection not reused"
    );
}
