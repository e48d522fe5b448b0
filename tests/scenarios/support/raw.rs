//! Raw TCP for what a well-behaved client or server cannot do: [`exchange`] writes bytes as they
//! are and reads what comes back until the peer closes or the patience ends; [`Sink`] is a peer
//! that accepts connections and never reads them (a stuck mirror); [`garbage`] is a backend
//! that answers every request with the same bytes (`HTTP/1.1 abc` for a protocol error) and
//! closes.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, timeout};

/// Writes `bytes` to a fresh connection to `addr`, then reads until the peer closes or
/// `patience` has passed; what was read (lossy UTF-8) and whether the peer closed.
pub async fn exchange(addr: SocketAddr, bytes: &[u8], patience: Duration) -> (String, bool) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    read_until_close(&mut s, patience).await
}

/// Sends `request` on `s` and reads once: the start of its answer (a small one whole). The
/// connection stays open for what the test does next.
pub async fn send_and_read(s: &mut TcpStream, request: &[u8], patience: Duration) -> String {
    s.write_all(request).await.unwrap();
    let mut buf = [0u8; 4096];
    let n = tokio::time::timeout(patience, s.read(&mut buf))
        .await
        .expect("no answer in time")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Reads until the peer closes (true) or `patience` has passed (false).
pub async fn read_until_close(s: &mut TcpStream, patience: Duration) -> (String, bool) {
    let deadline = Instant::now() + patience;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => break true,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    (String::from_utf8_lossy(&got).into_owned(), closed)
}

/// The status line of a raw answer ("" when none came).
pub fn status_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or("")
}

/// A peer that accepts connections and never reads from them until [`Sink::drain`].
#[derive(Clone)]
pub struct Sink {
    pub addr: SocketAddr,
    held: Arc<Mutex<Vec<TcpStream>>>,
}

impl Sink {
    /// Binds `127.0.0.1:0` and holds every connection it accepts.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sink = Self {
            addr: listener.local_addr().unwrap(),
            held: Arc::default(),
        };
        let held = sink.held.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                held.lock().unwrap().push(s);
            }
        });
        sink
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.held.lock().unwrap().len()
    }

    /// Starts reading every held connection and counts those the peer has closed within
    /// `patience` (what was written before the close is read and dropped). A connection the
    /// proxy still holds open never reaches its end.
    pub async fn closed_by_peer(&self, patience: Duration) -> usize {
        let streams: Vec<TcpStream> = std::mem::take(&mut *self.held.lock().unwrap());
        let reads = streams.into_iter().map(|mut s| async move {
            let deadline = Instant::now() + patience;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
                    Ok(Ok(0) | Err(_)) => return true,
                    Ok(Ok(_)) => {}
                    Err(_) => return false,
                }
            }
        });
        let closed = futures_util::future::join_all(reads).await;
        closed.into_iter().filter(|c| *c).count()
    }
}

/// A backend answering each connection's first request with `reply` and closing it.
pub async fn garbage(reply: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = timeout(Duration::from_secs(2), s.read(&mut buf)).await;
                let _ = s.write_all(reply).await;
                let _ = s.shutdown().await;
            });
        }
    });
    addr
}
