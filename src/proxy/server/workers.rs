//! Data-plane threads: one single-threaded runtime per core, each accepting on its own
//! `SO_REUSEPORT` socket of every listen address. The kernel spreads new connections over the
//! sockets, and the accept loops even them out ([`super::balance`]); a connection, its
//! requests, their mirrors and the upstream connections they use then all live on one thread (the upstream pools are per thread: `upstream::enter_worker`).
//! A request never changes thread, so nothing on its path is woken across cores or stolen by
//! another worker (BENCHMARKS.md measures the difference). The control plane (admin, config
//! reloads, Kubernetes watches, the comparison) stays on the main runtime.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::oneshot;

use super::affinity;
use crate::upstream;

/// Pending connections the kernel queues per socket (nginx's default is 511, tokio's 1024).
const BACKLOG: i32 = 1024;

/// Binds `addr` once per worker (`count` sockets sharing the port with `SO_REUSEPORT`) and
/// returns the bound address (port 0 picks one, shared by all).
///
/// `SO_REUSEPORT` would also let a second proxy started on the same port take half of the
/// connections without a word: a fixed port is therefore first bound once without it, which
/// fails (address in use) if anything listens there already.
pub fn bind_each(
    addr: SocketAddr,
    count: usize,
) -> io::Result<(SocketAddr, Vec<std::net::TcpListener>)> {
    if addr.port() != 0 {
        drop(socket(addr, false)?);
    }
    let first = socket(addr, true)?;
    let bound = first.local_addr()?;
    let mut sockets = vec![first];
    for _ in 1..count.max(1) {
        sockets.push(socket(bound, true)?);
    }
    Ok((bound, sockets))
}

fn socket(addr: SocketAddr, reuse_port: bool) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(reuse_port)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    if reuse_port {
        socket.listen(BACKLOG)?;
    }
    Ok(socket.into())
}

/// The data-plane threads. Dropped without [`Workers::finish`], they stop at once (their
/// connections closed); `finish` waits for their graceful end.
pub struct Workers {
    each: Vec<Worker>,
}

struct Worker {
    /// Dropping it stops the worker at once.
    abort: Option<oneshot::Sender<()>>,
    done: oneshot::Receiver<()>,
    thread: Option<JoinHandle<()>>,
}

impl Workers {
    /// Starts one thread per payload, each running `job(payload)` on its own runtime until
    /// the job ends (the job's own shutdown) or the workers are dropped.
    /// With `pin`, worker `i` is bound to the `i`-th CPU the process may use ([`affinity`]).
    pub fn start<T, F, Fut>(payloads: Vec<T>, pin: bool, job: F) -> io::Result<Self>
    where
        T: Send + 'static,
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let cpus = if pin {
            affinity::allowed_cpus()?
        } else {
            Vec::new()
        };
        let job = Arc::new(job);
        let mut each = Vec::with_capacity(payloads.len());
        for (index, payload) in payloads.into_iter().enumerate() {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let (abort, aborted) = oneshot::channel::<()>();
            let (finished, done) = oneshot::channel();
            let job = job.clone();
            let cpu = affinity::cpu_of_worker(&cpus, index);
            let thread = std::thread::Builder::new()
                .name(format!("shadowmesh-worker-{index}"))
                .spawn(move || {
                    if let Some(cpu) = cpu
                        && let Err(e) = affinity::pin_current_thread(cpu)
                    {
                        tracing::warn!(worker = index, cpu, error = %e, "cannot pin the worker");
                    }
                    upstream::enter_worker(index);
                    runtime.block_on(async move {
                        // This thread's request deadlines, without a tokio timer each.
                        super::deadline::install();
                        let work = job(payload);
                        tokio::select! {
                            () = work => {}
                            _ = aborted => {}
                        }
                    });
                    // Tasks still running (a mirror in flight) end with the runtime.
                    runtime.shutdown_timeout(Duration::from_secs(1));
                    let _ = finished.send(());
                })?;
            each.push(Worker {
                abort: Some(abort),
                done,
                thread: Some(thread),
            });
        }
        Ok(Self { each })
    }

    /// Waits until every worker's job has ended (after the caller signalled its shutdown).
    pub async fn finish(mut self) {
        for worker in &mut self.each {
            let _ = (&mut worker.done).await;
            if let Some(thread) = worker.thread.take() {
                let _ = thread.join();
            }
            worker.abort.take();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn every_worker_gets_a_socket_on_one_port_and_a_second_proxy_is_refused_it() {
        let (bound, sockets) = bind_each("127.0.0.1:0".parse().unwrap(), 3).unwrap();
        assert_ne!(bound.port(), 0);
        assert_eq!(sockets.len(), 3);
        for s in &sockets {
            assert_eq!(s.local_addr().unwrap(), bound);
        }
        let second = bind_each(bound, 2).map(|(addr, _)| addr);
        let err = second.expect_err("a port in use is refused, not shared");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }

    #[test]
    fn each_job_runs_on_its_own_named_thread_and_dropping_the_workers_stops_them() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (stopped_tx, stopped_rx) = std::sync::mpsc::channel::<usize>();
        let record = seen.clone();
        let workers = Workers::start(vec![0usize, 1], false, move |i| {
            let name = std::thread::current().name().map(str::to_string);
            record.lock().unwrap().push(name);
            let stopped = StopSignal(i, stopped_tx.clone());
            async move {
                let _stopped = stopped;
                std::future::pending::<()>().await;
            }
        })
        .unwrap();
        let patience = Duration::from_secs(5);
        let until = std::time::Instant::now() + patience;
        while seen.lock().unwrap().len() < 2 && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut names = seen.lock().unwrap().clone();
        names.sort();
        let expected = ["shadowmesh-worker-0", "shadowmesh-worker-1"].map(|n| Some(n.into()));
        assert_eq!(names, expected);
        drop(workers);
        let mut stopped = [
            stopped_rx.recv_timeout(patience),
            stopped_rx.recv_timeout(patience),
        ]
        .map(|r| r.expect("a dropped worker stops its job"));
        stopped.sort_unstable();
        assert_eq!(stopped, [0, 1]);
    }

    /// Says which job stopped when dropped.
    struct StopSignal(usize, std::sync::mpsc::Sender<usize>);

    impl Drop for StopSignal {
        fn drop(&mut self) {
            let _ = self.1.send(self.0);
        }
    }

    #[tokio::test]
    async fn finish_waits_for_every_job_to_end() {
        let ended = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = ended.clone();
        let workers = Workers::start(vec![10u64, 60], false, move |ms| {
            let counter = counter.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        })
        .unwrap();
        workers.finish().await;
        assert_eq!(ended.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
