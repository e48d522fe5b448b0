//! Graceful shutdown of one accept loop's connections: [`Drain::start`] tells every connection
//! to finish; each [`DrainWatch`] is woken if it is waiting for a request, and a request in
//! flight is answered with `connection: close`.
//!
//! One per accept loop, so per data-plane thread: the flag and the waiters are only touched by
//! that thread's connections (no cache line shared between threads per request).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Context;

use tokio::sync::Notify;
use tokio::sync::futures::OwnedNotified;

/// The signal to finish.
#[derive(Clone, Default)]
pub struct Drain {
    draining: Arc<AtomicBool>,
    notify: Arc<Notify>,
}

impl Drain {
    /// Tells every connection to finish.
    pub fn start(&self) {
        self.draining.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// A connection's view of the signal.
    pub fn watch(&self) -> DrainWatch {
        DrainWatch {
            drain: self.clone(),
            waiting: None,
        }
    }
}

/// One connection's view of the drain signal.
pub struct DrainWatch {
    drain: Drain,
    /// Registered once per connection (the first time it waits), then kept.
    waiting: Option<Pin<Box<OwnedNotified>>>,
}

impl DrainWatch {
    pub fn is_draining(&self) -> bool {
        self.drain.is_draining()
    }

    /// Has draining started? If not, the task is woken when it does.
    pub fn poll_draining(&mut self, cx: &mut Context<'_>) -> bool {
        if self.drain.is_draining() {
            return true;
        }
        let waiting = self.waiting.get_or_insert_with(|| {
            let mut notified = Box::pin(self.drain.notify.clone().notified_owned());
            notified.as_mut().enable();
            notified
        });
        // Checked again after registering: a start between the two is not missed.
        self.drain.is_draining() || waiting.as_mut().poll(cx).is_ready()
    }
}
