//! Request deadlines on a data-plane thread without a tokio timer each ([`Deadline`]).
//!
//! Nearly every request carries a route timeout (60 s by default) that nearly never fires. A
//! tokio `Sleep` per request costs a heap box, a timer-wheel insert and remove under the time
//! driver's lock, and, at a low request rate where every request finds cold caches, several
//! microseconds: a tenth of what the proxy spends on a request at 1000 req/s. On a worker thread
//! ([`install`]) the deadlines are kept in one thread-local queue instead (no lock: one thread
//! owns it), and one tokio timer per thread, the driver's, is armed at the earliest of them.
//! Elsewhere (tests on a multi-threaded runtime, the main runtime) a [`Deadline`] is a tokio
//! `Sleep`. Same precision either way: the driver wakes at the earliest deadline, not on a tick.
//!
//! The queue is a binary heap; a deadline dropped before it fires (the usual end) leaves its
//! heap entry behind, stamped so that it is known stale, and the heap is rebuilt from the live
//! entries once the stale ones outnumber them, so it stays the size of the requests in flight.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

thread_local! {
    /// This thread's deadlines, while its driver runs ([`install`]).
    static LOCAL: RefCell<Option<Queue>> = const { RefCell::new(None) };
}

/// Ready once its instant has passed.
#[must_use = "a deadline does nothing unless polled"]
pub struct Deadline {
    at: Instant,
    state: State,
}

enum State {
    /// Not polled yet: registers on its first poll.
    New,
    /// In this thread's queue.
    Queued { key: usize, stamp: u64 },
    /// No queue on this thread: a tokio timer.
    Timer(Pin<Box<Sleep>>),
}

impl Deadline {
    /// Ready after `timeout` from now.
    pub fn after(timeout: Duration) -> Self {
        Self::at(Instant::now() + timeout)
    }

    /// Ready at `at`.
    pub fn at(at: Instant) -> Self {
        Self {
            at,
            state: State::New,
        }
    }

    fn fall_back(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut sleep = Box::pin(tokio::time::sleep_until(self.at));
        let polled = sleep.as_mut().poll(cx);
        self.state = State::Timer(sleep);
        polled
    }
}

impl Future for Deadline {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        match &mut this.state {
            State::Timer(sleep) => sleep.as_mut().poll(cx),
            State::New => {
                if Instant::now() >= this.at {
                    return Poll::Ready(());
                }
                match with_queue(|q| q.register(this.at, cx.waker())) {
                    Some((key, stamp)) => {
                        this.state = State::Queued { key, stamp };
                        Poll::Pending
                    }
                    None => this.fall_back(cx),
                }
            }
            &mut State::Queued { key, stamp } => {
                match with_queue(|q| q.poll_entry(key, stamp, cx.waker())) {
                    Some(Some(true)) => Poll::Ready(()),
                    Some(Some(false)) => Poll::Pending,
                    // The queue is gone (the runtime is ending) or does not know this entry
                    // (polled on another thread): a tokio timer from now on.
                    Some(None) | None => this.fall_back(cx),
                }
            }
        }
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        if let State::Queued { key, stamp } = self.state {
            // `try_with`/`try_borrow_mut`: a deadline dropped while its thread ends, or inside
            // the queue's borrow (nothing does that: wakers are woken outside it), would leave
            // its slot taken until the queue ends.
            let _ = LOCAL.try_with(|local| {
                if let Ok(mut local) = local.try_borrow_mut()
                    && let Some(queue) = local.as_mut()
                {
                    queue.remove(key, stamp);
                }
            });
        }
    }
}

/// Runs `f` on this thread's queue; `None` when there is none (or it is busy).
fn with_queue<R>(f: impl FnOnce(&mut Queue) -> R) -> Option<R> {
    LOCAL
        .try_with(|local| local.try_borrow_mut().ok()?.as_mut().map(f))
        .ok()
        .flatten()
}

/// Keeps this thread's deadlines in a queue from now on: spawns the driver on the current
/// runtime, which must be a single-threaded one running on this thread (a data-plane worker).
/// The queue ends with the driver (when the runtime drops its tasks).
pub fn install() {
    let id = fastrand::u64(..);
    let replaced = LOCAL.with(|local| {
        local.borrow_mut().replace(Queue {
            id,
            next_stamp: fastrand::u64(..),
            ..Queue::default()
        })
    });
    // Deadlines of a queue replaced (a second runtime on this thread) go on as tokio timers.
    wake_all(replaced);
    tokio::spawn(drive(id));
}

/// Wakes every deadline waiting in `queue`: each falls back to a tokio timer when polled.
fn wake_all(queue: Option<Queue>) {
    let entries = queue.into_iter().flat_map(|q| q.entries).flatten();
    entries.filter_map(|e| e.waker).for_each(Waker::wake);
}

/// The driver of queue `id`: fires the due deadlines and sleeps until the earliest one left.
async fn drive(id: u64) {
    /// Ends the queue with its driver, when the runtime drops its tasks.
    struct Uninstall(u64);
    impl Drop for Uninstall {
        fn drop(&mut self) {
            let ended = LOCAL.try_with(|local| {
                let mut local = local.try_borrow_mut().ok()?;
                local.take_if(|q| q.id == self.0)
            });
            wake_all(ended.ok().flatten());
        }
    }
    let _uninstall = Uninstall(id);
    let mut timer = Box::pin(tokio::time::sleep_until(Instant::now()));
    let mut due = Vec::new();
    std::future::poll_fn(|cx| {
        loop {
            let ours =
                |q: &mut Queue| (q.id == id).then(|| q.fire(Instant::now(), cx.waker(), &mut due));
            let next = with_queue(ours).flatten();
            // Woken outside the queue's borrow: a woken task may drop its deadline at once.
            due.drain(..).for_each(Waker::wake);
            let Some(next) = next else {
                // The queue was replaced or has ended: this driver has nothing left to drive.
                return Poll::Ready(());
            };
            let Some(next) = next else {
                return Poll::Pending;
            };
            if timer.deadline() != next {
                timer.as_mut().reset(next);
            }
            if timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
    })
    .await
}

/// One deadline in the queue.
struct Entry {
    stamp: u64,
    waker: Option<Waker>,
    fired: bool,
}

/// A thread's deadlines: entries by key, a heap of (instant, key, stamp) over them.
#[derive(Default)]
struct Queue {
    /// Which driver owns it.
    id: u64,
    entries: Vec<Option<Entry>>,
    free: Vec<usize>,
    live: usize,
    heap: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    next_stamp: u64,
    /// When the driver's timer is armed (`None`: it waits for a first deadline).
    armed: Option<Instant>,
    driver: Option<Waker>,
}

impl Queue {
    fn register(&mut self, at: Instant, waker: &Waker) -> (usize, u64) {
        let stamp = self.next_stamp;
        self.next_stamp = self.next_stamp.wrapping_add(1);
        let entry = Entry {
            stamp,
            waker: Some(waker.clone()),
            fired: false,
        };
        let key = match self.free.pop() {
            Some(key) => {
                self.entries[key] = Some(entry);
                key
            }
            None => {
                self.entries.push(Some(entry));
                self.entries.len() - 1
            }
        };
        self.live += 1;
        if self.heap.len() > 2 * self.live + 64 {
            self.rebuild();
        }
        self.heap.push(Reverse((at, key, stamp)));
        if self.armed.is_none_or(|armed| at < armed)
            && let Some(driver) = &self.driver
        {
            driver.wake_by_ref();
        }
        (key, stamp)
    }

    /// `Some(fired)` for a known entry (its waker updated), `None` for an unknown one.
    fn poll_entry(&mut self, key: usize, stamp: u64, waker: &Waker) -> Option<bool> {
        let entry = self.entries.get_mut(key)?.as_mut()?;
        if entry.stamp != stamp {
            return None;
        }
        if !entry.fired && !entry.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            entry.waker = Some(waker.clone());
        }
        Some(entry.fired)
    }

    fn remove(&mut self, key: usize, stamp: u64) {
        if let Some(slot) = self.entries.get_mut(key)
            && slot.as_ref().is_some_and(|e| e.stamp == stamp)
        {
            *slot = None;
            self.free.push(key);
            self.live -= 1;
        }
    }

    /// The heap again without its stale items (work the size of the heap, not of the slots,
    /// which a past burst may have made many).
    fn rebuild(&mut self) {
        let mut items = std::mem::take(&mut self.heap).into_vec();
        let entries = &self.entries;
        items.retain(|&Reverse((_, key, stamp))| {
            entries[key]
                .as_ref()
                .is_some_and(|e| e.stamp == stamp && !e.fired)
        });
        self.heap = BinaryHeap::from(items);
    }

    /// Marks the entries due at `now` fired, their wakers into `due`; returns the earliest
    /// instant left (`None`: none) and notes that the driver's timer is armed at it.
    fn fire(&mut self, now: Instant, driver: &Waker, due: &mut Vec<Waker>) -> Option<Instant> {
        if !self.driver.as_ref().is_some_and(|d| d.will_wake(driver)) {
            self.driver = Some(driver.clone());
        }
        while let Some(&Reverse((at, key, stamp))) = self.heap.peek() {
            let entry = self.entries[key].as_mut().filter(|e| e.stamp == stamp);
            match entry {
                Some(entry) if at > now => {
                    debug_assert!(!entry.fired);
                    self.armed = Some(at);
                    return Some(at);
                }
                Some(entry) => {
                    entry.fired = true;
                    due.extend(entry.waker.take());
                }
                None => {}
            }
            self.heap.pop();
        }
        self.armed = None;
        None
    }
}

#[cfg(test)]
#[path = "deadline_tests.rs"]
mod tests;
