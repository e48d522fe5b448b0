//! `--pin-workers`: each data-plane thread bound to one CPU of those the process may use, as
//! nginx's `worker_cpu_affinity auto` does. Off by default: a pinned thread cannot be moved
//! off a core that something else keeps busy, so pinning suits cores given to the proxy
//! (a Kubernetes pod with the static CPU manager, a dedicated machine), not a shared laptop.
//! BENCHMARKS.md measures what it changes.

use std::io;

#[cfg(target_os = "linux")]
use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
#[cfg(target_os = "linux")]
use nix::unistd::Pid;

/// The CPUs the calling thread may run on (the process's, before any worker is pinned), in
/// order.
#[cfg(target_os = "linux")]
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    let set = sched_getaffinity(Pid::from_raw(0)).map_err(io::Error::from)?;
    Ok((0..CpuSet::count())
        .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
        .collect())
}

/// Elsewhere the flag is refused at start, by name, rather than ignored.
#[cfg(not(target_os = "linux"))]
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "--pin-workers binds threads to CPUs on Linux only",
    ))
}

/// The CPU worker `index` of a process allowed `cpus` is pinned to: one each, in order, then
/// round again when there are more workers than CPUs.
pub fn cpu_of_worker(cpus: &[usize], index: usize) -> Option<usize> {
    (!cpus.is_empty()).then(|| cpus[index % cpus.len()])
}

/// Binds the calling thread to `cpu`.
#[cfg(target_os = "linux")]
pub fn pin_current_thread(cpu: usize) -> io::Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu).map_err(io::Error::from)?;
    sched_setaffinity(Pid::from_raw(0), &set).map_err(io::Error::from)
}

/// Not reached elsewhere: [`allowed_cpus`] refuses the flag first.
#[cfg(not(target_os = "linux"))]
pub fn pin_current_thread(_cpu: usize) -> io::Result<()> {
    allowed_cpus().map(drop)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn workers_take_the_allowed_cpus_in_order_then_round_again() {
        let cpus = [2, 5, 7];
        let each: Vec<_> = (0..5).map(|i| cpu_of_worker(&cpus, i)).collect();
        assert_eq!(each, [Some(2), Some(5), Some(7), Some(2), Some(5)]);
        assert_eq!(cpu_of_worker(&[], 0), None);
    }

    #[test]
    fn a_pinned_thread_runs_on_its_cpu_alone_and_the_others_keep_theirs() {
        let before = allowed_cpus().expect("this thread's affinity");
        assert!(!before.is_empty());
        let last = *before.last().expect("one CPU at least");
        let pinned = std::thread::spawn(move || {
            pin_current_thread(last).expect("pinned to an allowed CPU");
            allowed_cpus().expect("the pinned thread's affinity")
        })
        .join()
        .expect("the thread ends");
        assert_eq!(pinned, [last]);
        assert_eq!(
            allowed_cpus().unwrap(),
            before,
            "only the pinned thread changed"
        );
    }

    #[test]
    fn a_cpu_the_process_may_not_use_is_refused() {
        let allowed = allowed_cpus().unwrap();
        let outside = (0..CpuSet::count()).find(|cpu| !allowed.contains(cpu));
        let outside = outside.expect("a CPU id beyond this machine's");
        let refused = std::thread::spawn(move || pin_current_thread(outside))
            .join()
            .unwrap();
        assert!(refused.is_err());
    }
}
