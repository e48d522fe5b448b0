//! Exact connection balance over the data-plane threads, as Envoy's `exact_balance`
//! (`ExactConnectionBalancerImpl`): a worker that accepts a connection while another worker of
//! the same listen address holds fewer open connections hands it to that worker. So the open
//! connections of an address differ by at most one between workers (races between two accepts
//! aside).
//!
//! Why not leave it to the kernel: `SO_REUSEPORT` spreads connections by a hash of their
//! addresses, and a few dozen long-lived keep-alive connections (the usual load of a sidecar,
//! and of a benchmark) split unevenly by chance: 19 and 13 of 32 is common. The busier thread
//! then runs out of CPU while the other waits. BENCHMARKS.md (fourteenth session) measures it.
//!
//! The cost is paid per connection, never per request: a handed-off socket leaves the
//! accepting thread's reactor (`into_std`), crosses an unbounded channel and joins the
//! receiving thread's reactor.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::OwnedSemaphorePermit;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// How a listen address's connections are spread over the data-plane threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ConnectionBalance {
    /// Open connections kept even across workers, a connection handed over when needed
    /// (Envoy's `exact_balance`).
    #[default]
    Exact,
    /// Left to the kernel: each connection served where `SO_REUSEPORT` queued it.
    Kernel,
}

/// The open connections of one listen address, per worker, and each worker's inbox.
struct Balance {
    open: Box<[AtomicUsize]>,
    inboxes: Box<[UnboundedSender<Handoff>]>,
}

/// One worker's part of a listen address's balance: its index, and the connections other
/// workers hand it.
pub struct Share {
    balance: Arc<Balance>,
    worker: usize,
    inbox: UnboundedReceiver<Handoff>,
}

/// A connection counted as open on one worker until this is dropped (with its socket).
pub struct Open {
    balance: Arc<Balance>,
    worker: usize,
}

/// A connection another worker accepted, with its place under the connection limit.
pub struct Handoff {
    pub stream: std::net::TcpStream,
    pub remote: SocketAddr,
    pub slot: OwnedSemaphorePermit,
    pub open: Open,
}

/// Where a connection just accepted is served.
pub enum Placement {
    /// By the worker that accepted it.
    Here(Open),
    /// By worker `.0`, which holds fewer connections.
    There(usize, Open),
}

/// The shares of one listen address served by `workers` threads, one per worker in order.
pub fn shares(workers: usize) -> Vec<Share> {
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..workers).map(|_| unbounded_channel()).unzip();
    let balance = Arc::new(Balance {
        open: (0..workers).map(|_| AtomicUsize::new(0)).collect(),
        inboxes: senders.into(),
    });
    (receivers.into_iter().enumerate())
        .map(|(worker, inbox)| Share {
            balance: balance.clone(),
            worker,
            inbox,
        })
        .collect()
}

impl Share {
    /// Places a connection this worker accepted: here when no worker holds fewer open
    /// connections (ties stay, sparing a handoff), else on the worker with fewest.
    /// The connection is counted on its worker at once, so the next accept anywhere sees it.
    pub fn place(&self) -> Placement {
        let open = &self.balance.open;
        let mine = open[self.worker].load(Ordering::Relaxed);
        let (fewest, least) = (open.iter().enumerate())
            .map(|(i, n)| (i, n.load(Ordering::Relaxed)))
            .min_by_key(|&(_, n)| n)
            .unwrap_or((self.worker, mine));
        if least >= mine {
            Placement::Here(self.count(self.worker))
        } else {
            Placement::There(fewest, self.count(fewest))
        }
    }

    fn count(&self, worker: usize) -> Open {
        self.balance.open[worker].fetch_add(1, Ordering::Relaxed);
        Open {
            balance: self.balance.clone(),
            worker,
        }
    }

    /// Sends `handoff` to `worker`; gives it back if that worker has stopped.
    pub fn hand_off(&self, worker: usize, handoff: Handoff) -> Result<(), Box<Handoff>> {
        (self.balance.inboxes[worker].send(handoff)).map_err(|e| Box::new(e.0))
    }

    /// The next connection another worker hands this one. Pends forever when none will come
    /// (every sender lives in the balance this share holds).
    pub async fn handed(&mut self) -> Handoff {
        match self.inbox.recv().await {
            Some(handoff) => handoff,
            None => std::future::pending().await,
        }
    }

    /// This worker's index.
    pub fn worker(&self) -> usize {
        self.worker
    }
}

impl Open {
    /// Moves the count to `worker` (a handoff that came back is served where it was accepted).
    pub fn move_to(self, worker: usize) -> Open {
        let balance = self.balance.clone();
        balance.open[worker].fetch_add(1, Ordering::Relaxed);
        drop(self);
        Open { balance, worker }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.balance.open[self.worker].fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_counts(share: &Share) -> Vec<usize> {
        (share.balance.open.iter())
            .map(|n| n.load(Ordering::Relaxed))
            .collect()
    }

    fn keep(placement: Placement) -> (Option<usize>, Open) {
        match placement {
            Placement::Here(open) => (None, open),
            Placement::There(worker, open) => (Some(worker), open),
        }
    }

    #[test]
    fn connections_accepted_by_one_worker_are_spread_evenly() {
        let shares = shares(3);
        let mut held = Vec::new();
        let mut sent_to = Vec::new();
        for _ in 0..9 {
            let (to, open) = keep(shares[0].place());
            sent_to.push(to);
            held.push(open);
        }
        assert_eq!(open_counts(&shares[0]), vec![3, 3, 3]);
        assert_eq!(sent_to[..3], [None, Some(1), Some(2)]);
        drop(held.drain(..3));
        assert_eq!(open_counts(&shares[0]).iter().sum::<usize>(), 6);
    }

    #[test]
    fn a_tie_stays_with_the_worker_that_accepted() {
        let shares = shares(2);
        let (to, _a) = keep(shares[1].place());
        assert_eq!(to, None, "no worker holds fewer than 0");
        let (to, _b) = keep(shares[1].place());
        assert_eq!(to, Some(0), "worker 0 holds none");
        let (to, _c) = keep(shares[1].place());
        assert_eq!(to, None, "one each: the accepting worker keeps it");
        assert_eq!(open_counts(&shares[1]), vec![1, 2]);
    }

    #[test]
    fn a_closed_connection_frees_its_place() {
        let shares = shares(2);
        let (_, first) = keep(shares[0].place());
        let (_, second) = keep(shares[0].place());
        assert_eq!(open_counts(&shares[0]), vec![1, 1]);
        drop(first);
        let (to, _third) = keep(shares[1].place());
        assert_eq!(to, Some(0), "worker 0's connection closed");
        drop(second);
        assert_eq!(open_counts(&shares[0]), vec![1, 0]);
    }

    #[test]
    fn a_moved_count_follows_the_connection() {
        let shares = shares(2);
        let (_, open) = keep(shares[0].place());
        let open = open.move_to(1);
        assert_eq!(open_counts(&shares[0]), vec![0, 1]);
        drop(open);
        assert_eq!(open_counts(&shares[0]), vec![0, 0]);
    }

    /// Two data-plane threads on one port, each serving its own `SO_REUSEPORT` socket: eight
    /// connections, opened one after another, are served four by each thread, wherever the
    /// kernel queued them.
    #[test]
    fn each_of_two_workers_serves_half_of_the_connections() {
        use std::io::{Read, Write};

        let (addr, sockets) =
            super::super::workers::bind_each("127.0.0.1:0".parse().unwrap(), 2).unwrap();
        let payloads: Vec<_> = sockets.into_iter().zip(shares(2)).collect();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let workers =
            super::super::workers::Workers::start(payloads, false, move |(socket, share)| {
                let stopped = stopped.clone();
                async move {
                    let listener = tokio::net::TcpListener::from_std(socket).unwrap();
                    let limits = super::super::ClientLimits::default();
                    let admission = super::super::Admission {
                        drain_time: std::time::Duration::from_secs(1),
                        slots: limits.slots(),
                        balance: Some(share),
                    };
                    super::super::serve(listener, stopped, admission, limits, |_, _| {
                        hyper::service::service_fn(|_| async {
                            let name = std::thread::current().name().unwrap_or("").to_string();
                            let body = http_body_util::Full::new(bytes::Bytes::from(name));
                            Ok::<_, std::convert::Infallible>(http::Response::new(body))
                        })
                    })
                    .await;
                }
            })
            .unwrap();
        let mut served_by = std::collections::BTreeMap::<String, usize>::new();
        let mut open = Vec::new();
        for _ in 0..8 {
            let mut conn = std::net::TcpStream::connect(addr).unwrap();
            conn.set_read_timeout(Some(std::time::Duration::from_secs(5)))
                .unwrap();
            conn.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
                .unwrap();
            let mut answer = Vec::new();
            while !answer.ends_with(b"worker-0") && !answer.ends_with(b"worker-1") {
                let mut buf = [0u8; 512];
                let n = conn.read(&mut buf).expect("an answer within 5 s");
                assert_ne!(
                    n,
                    0,
                    "closed before answering: {}",
                    String::from_utf8_lossy(&answer)
                );
                answer.extend_from_slice(&buf[..n]);
            }
            let text = String::from_utf8_lossy(&answer);
            *served_by
                .entry(text.rsplit('-').next().unwrap().to_string())
                .or_default() += 1;
            open.push(conn);
        }
        let _ = stop.send(true);
        drop(workers);
        assert_eq!(
            served_by,
            [("0".to_string(), 4), ("1".to_string(), 4)].into()
        );
    }
}
