//! The deadline queue on its own (pure), then deadlines on an installed single-threaded
//! runtime and on one without a queue, under tokio's paused clock.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::time::Instant;

use super::*;

fn queue() -> Queue {
    Queue::default()
}

#[test]
fn the_queue_fires_what_is_due_in_order_and_skips_what_was_removed() {
    let mut q = queue();
    let t0 = Instant::now();
    let at = |ms| t0 + Duration::from_millis(ms);
    let waker = Waker::noop();
    let (k30, s30) = q.register(at(30), waker);
    let (k10, s10) = q.register(at(10), waker);
    let (k20, s20) = q.register(at(20), waker);
    q.remove(k10, s10);
    let mut due = Vec::new();
    assert_eq!(
        q.fire(at(5), waker, &mut due),
        Some(at(20)),
        "the removed one is skipped"
    );
    assert!(due.is_empty());
    assert_eq!(q.fire(at(25), waker, &mut due), Some(at(30)));
    assert_eq!(due.len(), 1);
    assert_eq!(q.poll_entry(k20, s20, waker), Some(true), "fired");
    assert_eq!(q.poll_entry(k30, s30, waker), Some(false), "still waiting");
    assert_eq!(q.poll_entry(k10, s10, waker), None, "removed: unknown");
    assert_eq!(
        q.fire(at(30), waker, &mut due),
        None,
        "the last one is due at its instant"
    );
    assert_eq!(q.armed, None);
}

#[test]
fn a_reused_slot_does_not_answer_for_its_previous_deadline() {
    let mut q = queue();
    let waker = Waker::noop();
    let (key, old) = q.register(Instant::now() + Duration::from_secs(1), waker);
    q.remove(key, old);
    let (again, new) = q.register(Instant::now() + Duration::from_secs(2), waker);
    assert_eq!(again, key, "the slot is reused");
    assert_eq!(q.poll_entry(key, old, waker), None);
    q.remove(key, old);
    assert_eq!(
        q.poll_entry(key, new, waker),
        Some(false),
        "a stale removal leaves it alone"
    );
}

#[test]
fn deadlines_ended_early_do_not_pile_up_in_the_heap() {
    let mut q = queue();
    let waker = Waker::noop();
    let long = Instant::now() + Duration::from_secs(60);
    let kept: Vec<_> = (0..32).map(|_| q.register(long, waker)).collect();
    for _ in 0..100_000 {
        let (key, stamp) = q.register(long, waker);
        q.remove(key, stamp);
    }
    assert_eq!(q.live, kept.len());
    assert!(q.heap.len() <= 2 * q.live + 65, "heap of {}", q.heap.len());
    assert!(
        q.entries.len() <= kept.len() + 1,
        "{} slots",
        q.entries.len()
    );
}

#[test]
fn a_new_earliest_deadline_wakes_the_driver() {
    let mut q = queue();
    let (driver, woken) = counting_waker();
    let mut due = Vec::new();
    assert_eq!(q.fire(Instant::now(), &driver, &mut due), None);
    q.register(Instant::now() + Duration::from_secs(5), Waker::noop());
    assert_eq!(woken(), 1, "nothing was armed");
    q.fire(Instant::now(), &driver, &mut due);
    q.register(Instant::now() + Duration::from_secs(9), Waker::noop());
    assert_eq!(woken(), 1, "later than the armed one: no wake-up");
    q.register(Instant::now() + Duration::from_secs(1), Waker::noop());
    assert_eq!(woken(), 2, "earlier: the driver re-arms");
}

#[tokio::test(start_paused = true)]
async fn on_an_installed_thread_a_deadline_is_ready_at_its_instant_and_not_before() {
    install();
    let start = Instant::now();
    {
        let mut d = pin!(Deadline::after(Duration::from_millis(100)));
        assert!(poll_once(d.as_mut()).is_pending());
        assert!(
            matches!(d.state, State::Queued { .. }),
            "kept in the queue, not a timer"
        );
        tokio::time::sleep(Duration::from_millis(99)).await;
        assert!(poll_once(d.as_mut()).is_pending());
        d.as_mut().await;
        assert_eq!(start.elapsed(), Duration::from_millis(100));
        assert!(poll_once(d.as_mut()).is_ready(), "and stays ready");
    }
    // Many, registered in any order, each at its own instant.
    let order = [70u64, 10, 50, 30, 90];
    let tasks: Vec<_> = order
        .iter()
        .map(|&ms| {
            tokio::spawn(async move {
                let at = Instant::now() + Duration::from_millis(ms);
                Deadline::at(at).await;
                assert_eq!(Instant::now(), at);
                ms
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("each deadline fires at its instant");
    }
    assert_eq!(with_queue(|q| q.live), Some(0), "none left behind");
}

#[tokio::test(start_paused = true)]
async fn a_dropped_deadline_leaves_no_entry() {
    install();
    {
        let mut d = pin!(Deadline::after(Duration::from_secs(60)));
        assert!(poll_once(d.as_mut()).is_pending());
        assert_eq!(with_queue(|q| q.live), Some(1));
    }
    assert_eq!(with_queue(|q| q.live), Some(0));
}

#[tokio::test(start_paused = true)]
async fn a_deadline_of_a_replaced_queue_still_fires_as_a_timer() {
    install();
    let start = Instant::now();
    let waiting = tokio::spawn(async {
        Deadline::after(Duration::from_millis(50)).await;
        Instant::now()
    });
    tokio::task::yield_now().await;
    assert_eq!(
        with_queue(|q| q.live),
        Some(1),
        "registered in the first queue"
    );
    install();
    assert_eq!(with_queue(|q| q.live), Some(0), "a new, empty queue");
    let fired = waiting.await.expect("the deadline fires");
    assert_eq!(fired - start, Duration::from_millis(50));
}

#[tokio::test(start_paused = true)]
async fn without_a_queue_a_deadline_is_a_tokio_timer() {
    let start = Instant::now();
    let mut d = pin!(Deadline::after(Duration::from_millis(40)));
    assert!(poll_once(d.as_mut()).is_pending());
    assert!(matches!(d.state, State::Timer(_)));
    d.await;
    assert_eq!(start.elapsed(), Duration::from_millis(40));
}

#[test]
fn the_queue_ends_with_its_runtime() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        install();
        tokio::task::yield_now().await;
    });
    assert!(with_queue(|_| ()).is_some());
    drop(rt);
    assert!(
        with_queue(|_| ()).is_none(),
        "the driver took the queue with it"
    );
}

fn poll_once<F: Future>(f: Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

/// A waker counting its wake-ups, and a way to read the count.
fn counting_waker() -> (Waker, impl Fn() -> usize) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    struct Count(AtomicUsize);
    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
    let count = Arc::new(Count(AtomicUsize::new(0)));
    let read = count.clone();
    (Waker::from(count), move || read.0.load(Ordering::Relaxed))
}
