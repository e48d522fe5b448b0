//! WebSocket on raw tokio sockets, handshake and framing written by hand (RFC 6455), so the
//! tests depend on no WebSocket library: an echo backend (`websocket::backend("v2").run().await`;
//! `.refuse(400)` answers upgrades with that status, `.close_after(n)` closes the tunnel after
//! `n` echoes) that also answers plain requests (`plain <version>`), and a client
//! (`WsClient::upgrade(addr, &[("user-agent", "Mobile")]).await`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha1::{Digest, Sha1};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Frame opcodes used here.
pub const TEXT: u8 = 1;
/// Close.
pub const CLOSE: u8 = 8;

/// How long a test waits for a byte before it fails.
const PATIENCE: Duration = Duration::from_secs(5);

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`.
pub fn accept_for(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64(&sha.finalize())
}

#[test]
fn the_accept_is_rfc_6455s() {
    // RFC 6455 section 1.3's example.
    assert_eq!(
        accept_for("dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
    assert_eq!(base64(b"ab"), "YWI=");
}

/// Standard base64 with padding (RFC 4648), small enough to write here.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Reads an HTTP head byte by byte (so no frame byte is read with it); `None` at EOF.
async fn read_head(s: &mut (impl AsyncRead + Unpin)) -> Option<String> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        match s.read_u8().await {
            Ok(b) => head.push(b),
            Err(_) => return None,
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// A header's value in a head (names case-insensitive), or "".
pub fn header<'h>(head: &'h str, name: &str) -> &'h str {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map_or("", |(_, v)| v.trim())
}

/// Writes one frame (FIN set); clients mask theirs.
pub async fn write_frame(
    s: &mut (impl AsyncWrite + Unpin),
    opcode: u8,
    payload: &[u8],
    mask: bool,
) -> std::io::Result<()> {
    let mut frame = vec![0x80 | opcode];
    let mask_bit = if mask { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => frame.push(mask_bit | n as u8),
        n => {
            frame.push(mask_bit | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    let key = fastrand::u32(..).to_be_bytes();
    if mask {
        frame.extend_from_slice(&key);
    }
    let masked = payload.iter().enumerate();
    frame.extend(masked.map(|(i, b)| if mask { b ^ key[i % 4] } else { *b }));
    s.write_all(&frame).await?;
    s.flush().await
}

/// Reads one frame: `(opcode, payload)`, unmasked; `None` at EOF or on an error.
pub async fn read_frame(s: &mut (impl AsyncRead + Unpin)) -> Option<(u8, Vec<u8>)> {
    let mut two = [0u8; 2];
    s.read_exact(&mut two).await.ok()?;
    let len = match two[1] & 0x7f {
        126 => u64::from(s.read_u16().await.ok()?),
        127 => s.read_u64().await.ok()?,
        n => u64::from(n),
    };
    let mut key = [0u8; 4];
    if two[1] & 0x80 != 0 {
        s.read_exact(&mut key).await.ok()?;
    }
    let mut payload = vec![0u8; len as usize];
    s.read_exact(&mut payload).await.ok()?;
    for (i, b) in payload.iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
    Some((two[0] & 0x0f, payload))
}

/// How the backend answers an upgrade.
#[derive(Clone, Copy)]
enum Mode {
    Echo { close_after: Option<usize> },
    Refuse(u16),
}

/// An echo backend to be started.
#[must_use]
pub struct Builder {
    version: String,
    mode: Mode,
}

/// A WebSocket echo backend answering each text frame with `<version>:<text>`.
pub fn backend(version: &str) -> Builder {
    Builder {
        version: version.to_string(),
        mode: Mode::Echo { close_after: None },
    }
}

/// What a backend saw.
#[derive(Default)]
struct Seen {
    heads: Mutex<Vec<String>>,
    upgrades: AtomicUsize,
    tunnels_closed: AtomicUsize,
}

impl Builder {
    /// Answers upgrades with `status` and a short body.
    pub fn refuse(mut self, status: u16) -> Self {
        self.mode = Mode::Refuse(status);
        self
    }

    /// Closes the tunnel after `n` echoes.
    pub fn close_after(mut self, n: usize) -> Self {
        self.mode = Mode::Echo {
            close_after: Some(n),
        };
        self
    }

    /// Starts it on a loopback port.
    pub async fn run(self) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Seen::default());
        let (version, mode, state) = (self.version, self.mode, seen.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (version, state) = (version.clone(), state.clone());
                tokio::spawn(serve(stream, version, mode, state));
            }
        });
        Backend { addr, seen }
    }
}

/// One connection: plain requests answered `plain <version>`, an upgrade per the mode.
async fn serve(mut s: TcpStream, version: String, mode: Mode, seen: Arc<Seen>) {
    while let Some(head) = read_head(&mut s).await {
        seen.heads.lock().unwrap().push(head.clone());
        let upgrade = header(&head, "upgrade").eq_ignore_ascii_case("websocket");
        let answer = match mode {
            _ if !upgrade => plain(200, &format!("plain {version}")),
            Mode::Refuse(status) => plain(status, "no upgrade here"),
            Mode::Echo { close_after } => {
                seen.upgrades.fetch_add(1, Ordering::SeqCst);
                let accept = accept_for(header(&head, "sec-websocket-key"));
                let head = format!(
                    "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-accept: {accept}\r\n\r\n"
                );
                if s.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                echo(&mut s, &version, close_after).await;
                seen.tunnels_closed.fetch_add(1, Ordering::SeqCst);
                return;
            }
        };
        if s.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn plain(status: u16, body: &str) -> String {
    format!(
        "HTTP/1.1 {status} Whatever\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Echoes text frames until a close (answered) or `close_after` echoes (then just closes).
async fn echo(s: &mut TcpStream, version: &str, close_after: Option<usize>) {
    let mut echoed = 0;
    while close_after.is_none_or(|n| echoed < n) {
        let Some((opcode, payload)) = read_frame(s).await else {
            return;
        };
        if opcode == CLOSE {
            let _ = write_frame(s, CLOSE, &payload, false).await;
            return;
        }
        let text = format!("{version}:{}", String::from_utf8_lossy(&payload));
        if write_frame(s, TEXT, text.as_bytes(), false).await.is_err() {
            return;
        }
        echoed += 1;
    }
}

/// A running echo backend.
pub struct Backend {
    addr: SocketAddr,
    seen: Arc<Seen>,
}

impl Backend {
    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Request heads received (plain and upgrades).
    pub fn heads(&self) -> Vec<String> {
        self.seen.heads.lock().unwrap().clone()
    }

    /// Upgrades it accepted (answered 101).
    pub fn upgrades(&self) -> usize {
        self.seen.upgrades.load(Ordering::SeqCst)
    }

    /// Tunnels that ended on its side (closed by either side).
    pub fn tunnels_closed(&self) -> usize {
        self.seen.tunnels_closed.load(Ordering::SeqCst)
    }
}

/// A client that asked the proxy for an upgrade.
pub struct WsClient {
    stream: TcpStream,
    /// The answer's status.
    pub status: u16,
    /// The answer's head.
    pub head: String,
    /// The answer's body (a refused upgrade's; empty after a 101).
    pub body: String,
    key: String,
}

impl WsClient {
    /// Connects to `addr` and asks `GET /chat` for `Upgrade: websocket` with `headers` (a
    /// `Host: calcbackendsvc` unless given).
    pub async fn upgrade(addr: SocketAddr, headers: &[(&str, &str)]) -> Self {
        Self::upgrade_to(addr, "websocket", headers).await
    }

    /// Like [`upgrade`](Self::upgrade) with another `Upgrade` protocol.
    pub async fn upgrade_to(addr: SocketAddr, protocol: &str, headers: &[(&str, &str)]) -> Self {
        let key = base64(&fastrand::u128(..).to_be_bytes());
        let mut req = format!(
            "GET /chat HTTP/1.1\r\nconnection: Upgrade\r\nupgrade: {protocol}\r\nsec-websocket-key: {key}\r\nsec-websocket-version: 13\r\n"
        );
        if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
            req.push_str("host: calcbackendsvc\r\n");
        }
        for (n, v) in headers {
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        req.push_str("\r\n");
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(req.as_bytes()).await.unwrap();
        let head = tokio::time::timeout(PATIENCE, read_head(&mut stream))
            .await
            .expect("the proxy answers the upgrade")
            .expect("an answer head");
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let len: usize = header(&head, "content-length").parse().unwrap_or(0);
        let mut body = vec![0u8; if status == 101 { 0 } else { len }];
        stream.read_exact(&mut body).await.unwrap();
        let body = String::from_utf8_lossy(&body).into_owned();
        Self {
            stream,
            status,
            head,
            body,
            key,
        }
    }

    /// Is the 101's `Sec-WebSocket-Accept` the one for this client's key?
    pub fn accept_matches(&self) -> bool {
        header(&self.head, "sec-websocket-accept") == accept_for(&self.key)
    }

    /// Sends a text message.
    pub async fn send(&mut self, text: &str) {
        write_frame(&mut self.stream, TEXT, text.as_bytes(), true)
            .await
            .unwrap();
    }

    /// The next text message; `None` when the tunnel closed.
    pub async fn recv(&mut self) -> Option<String> {
        let frame = tokio::time::timeout(PATIENCE, read_frame(&mut self.stream))
            .await
            .expect("a frame or the end within the patience")?;
        match frame {
            (TEXT, payload) => Some(String::from_utf8(payload).unwrap()),
            _ => None,
        }
    }

    /// Sends a close frame and waits for the tunnel to end.
    pub async fn close(mut self) {
        write_frame(&mut self.stream, CLOSE, b"", true)
            .await
            .unwrap();
        while self.recv().await.is_some() {}
    }
}
