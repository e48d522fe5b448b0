//! Requests over h2 upstream connections: one connection per endpoint (and TLS setting) per
//! data-plane thread, driven by a task of its own and shared by its requests, made on first
//! use and dropped once it fails.

use std::collections::HashMap;
use std::time::Duration;

use http::header;
use http::uri::Authority;
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::tls::Origination;
use super::{
    ClusterPolicy, H2Key, ResponseBody, Sending, UpstreamBody, UpstreamError, Upstreams, connect,
    owned_request,
};

impl Upstreams {
    /// Sends a request on the h2 connection to `endpoint`. Boxed behind a `dyn`, so its
    /// futures are not inlined into `send_on`: their locals made `send_on`'s stack frame 12 KB,
    /// paid by every HTTP/1.1 request (BENCHMARKS.md, fourteenth session).
    pub(super) fn send_h2<'a>(
        &'a self,
        policy: &'a ClusterPolicy,
        endpoint: &'a Authority,
        (head, body): (&'a http::request::Parts, UpstreamBody),
        (mirror, tls): (bool, Option<&'a Origination>),
    ) -> Sending<'a> {
        Box::pin(async move {
            let mut req = owned_request(head, body);
            // h2: `:authority` is the service host; the connection goes to the endpoint.
            if let Some(authority) = req
                .headers_mut()
                .remove(header::HOST)
                .and_then(|h| Authority::try_from(h.as_bytes()).ok())
            {
                let mut parts = req.uri().clone().into_parts();
                parts.authority = Some(authority);
                parts.scheme = Some(http::uri::Scheme::HTTP);
                if let Ok(uri) = http::Uri::from_parts(parts) {
                    *req.uri_mut() = uri;
                }
            }
            let key = (endpoint.clone(), mirror, Origination::key(tls));
            let mut sender = self.h2_sender(&key, policy.connect_timeout, tls).await?;
            let sent = async {
                sender.ready().await?;
                sender.send_request(req).await
            };
            match sent.await {
                Ok(resp) => Ok(resp.map(ResponseBody::plain)),
                Err(e) => {
                    // A failed connection is not handed out again.
                    self.shard().h2.rcu(|map| {
                        let mut map = HashMap::clone(map);
                        map.remove(&key);
                        map
                    });
                    Err(e.into())
                }
            }
        })
    }

    async fn h2_sender(
        &self,
        key: &H2Key,
        connect_timeout: Duration,
        tls: Option<&Origination>,
    ) -> Result<http2::SendRequest<UpstreamBody>, UpstreamError> {
        if let Some(s) = self.shard().h2.load().get(key)
            && !s.is_closed()
        {
            return Ok(s.clone());
        }
        // Boxed: the handshakes' state is large, and carried inline it would make every
        // request's future (moved several times per request) that much larger.
        Box::pin(self.h2_connect(key, connect_timeout, tls)).await
    }

    /// A new h2 connection for `key`, driven by a task of its own and shared from then on.
    async fn h2_connect(
        &self,
        key: &H2Key,
        connect_timeout: Duration,
        tls: Option<&Origination>,
    ) -> Result<http2::SendRequest<UpstreamBody>, UpstreamError> {
        let stall = key.1.then_some(self.mirror_stall);
        let stream = connect(&key.0, connect_timeout, tls, stall).await?;
        // Pings find peers that vanished without a reset; the connection then closes.
        let (sender, conn) = http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(10))
            .keep_alive_while_idle(true)
            .handshake(stream)
            .await
            .map_err(|e| UpstreamError::Connect(format!("h2 handshake: {e}")))?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "h2 upstream connection ended");
            }
        });
        self.shard().h2.rcu(|map| {
            let mut map = HashMap::clone(map);
            map.retain(|_, s| !s.is_closed());
            map.insert(key.clone(), sender.clone());
            map
        });
        Ok(sender)
    }
}
