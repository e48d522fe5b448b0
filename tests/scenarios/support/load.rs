//! Loop mode: a client sending one request after another until told to stop (bounded in count),
//! while the test changes something underneath.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::task::JoinHandle;

/// A running loop.
pub struct Load {
    stop: Arc<AtomicBool>,
    done: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Load {
    /// Runs `step(0)`, `step(1)`, ... one after the other, at most `limit` times.
    pub fn start<F, Fut>(limit: usize, step: F) -> Self
    where
        F: Fn(usize) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let (stop, done) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicUsize::new(0)),
        );
        let task = tokio::spawn({
            let (stop, done) = (stop.clone(), done.clone());
            async move {
                for i in 0..limit {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    step(i).await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        Self { stop, done, task }
    }

    /// Steps completed so far.
    pub fn done(&self) -> usize {
        self.done.load(Ordering::Relaxed)
    }

    /// Stops after the step in progress; returns the steps completed (a step's panic fails the
    /// test here).
    pub async fn stop(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap();
        self.done.load(Ordering::Relaxed)
    }
}
