//! The data plane's threads and their listeners: every `--listen` address bound once per
//! worker (`SO_REUSEPORT`), each worker serving its sockets with the shared [`Proxy`], and the
//! address's connections kept even across the workers (`--connection-balance`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use hyper::service::service_fn;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use super::{RunOptions, StartError};
use crate::proxy::server::balance::{self, ConnectionBalance};
use crate::proxy::server::workers::{self, Workers};
use crate::proxy::server::{self, ClientLimits, ConnActivity, InFlightBody};
use crate::proxy::{ConnInfo, Proxy};

/// Binds every `--listen` address once per worker.
pub(super) fn bind_listeners(opts: &RunOptions) -> Result<Vec<BoundListen>, StartError> {
    let mut bound = Vec::new();
    for spec in &opts.listen {
        let (addr, sockets) =
            workers::bind_each(spec.addr, opts.workers).map_err(|source| StartError::Bind {
                addr: spec.addr,
                source,
            })?;
        let host = spec.host.as_deref().map(Arc::from);
        bound.push(BoundListen {
            addr,
            sockets,
            host,
        });
    }
    Ok(bound)
}

/// One listen address as one worker accepts on it: its own `SO_REUSEPORT` socket, the
/// service host it is bound to, the connection slots all the address's workers share, and
/// its share of the address's connection balance.
struct WorkerListener {
    socket: std::net::TcpListener,
    host: Option<Arc<str>>,
    slots: Arc<Semaphore>,
    balance: Option<balance::Share>,
}

/// A listen address, bound once per worker.
pub(super) struct BoundListen {
    pub(super) addr: SocketAddr,
    sockets: Vec<std::net::TcpListener>,
    host: Option<Arc<str>>,
}

/// Starts the data-plane threads, each serving its socket of every listen address.
pub(super) fn start_workers(
    opts: &RunOptions,
    bound: Vec<BoundListen>,
    proxy: &Arc<Proxy>,
    shutdown: &watch::Receiver<bool>,
) -> Result<Workers, StartError> {
    let mut payloads: Vec<Vec<WorkerListener>> =
        (0..opts.workers.max(1)).map(|_| Vec::new()).collect();
    let balanced = opts.connection_balance == ConnectionBalance::Exact && payloads.len() > 1;
    for listen in bound {
        let slots = opts.client.slots();
        let mut shares = balanced.then(|| balance::shares(payloads.len()).into_iter());
        for (payload, socket) in payloads.iter_mut().zip(listen.sockets) {
            let (host, slots) = (listen.host.clone(), slots.clone());
            let balance = shares.as_mut().and_then(Iterator::next);
            payload.push(WorkerListener {
                socket,
                host,
                slots,
                balance,
            });
        }
    }
    let (proxy, shutdown) = (proxy.clone(), shutdown.clone());
    let (drain, limits) = (opts.drain_timeout, opts.client.clone());
    Workers::start(payloads, opts.pin_workers, move |listeners| {
        let serving = listeners.into_iter().map(|listener| {
            serve_on_worker(
                listener,
                proxy.clone(),
                shutdown.clone(),
                drain,
                limits.clone(),
            )
        });
        futures_util::future::join_all(serving).map(drop)
    })
    .map_err(StartError::Threads)
}

/// Serves one worker's socket of a listen address until shutdown.
async fn serve_on_worker(
    listener: WorkerListener,
    proxy: Arc<Proxy>,
    shutdown: watch::Receiver<bool>,
    drain: Duration,
    limits: ClientLimits,
) {
    let socket = match TcpListener::from_std(listener.socket) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "a data-plane thread cannot accept: it serves nothing");
            return;
        }
    };
    let bound_host = listener.host;
    let make_service = move |remote, activity: Arc<ConnActivity>| {
        let proxy = proxy.clone();
        let conn = ConnInfo::new(remote, bound_host.clone());
        service_fn(move |req: http::Request<server::ClientBody>| {
            let in_flight = activity.enter();
            let (proxy, conn, activity) = (proxy.clone(), conn.clone(), activity.clone());
            async move {
                let resp = std::pin::pin!(proxy.handle(req, conn)).await?;
                if resp.status() == http::StatusCode::SWITCHING_PROTOCOLS {
                    activity.tunnel();
                }
                Ok::<_, Infallible>(resp.map(|body| InFlightBody::new(body, in_flight)))
            }
        })
    };
    let admission = server::Admission {
        drain_time: drain,
        slots: listener.slots,
        balance: listener.balance,
    };
    server::serve(socket, shutdown, admission, limits, make_service).await;
}
