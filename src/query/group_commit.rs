//! Group commit, whatever a group runs: the queue, the leader and the
//! hand-offs `Shared` serves its threads through (`shared.rs`), apart from
//! the database, so that the benchmarks can run redb alone through the
//! very same hand-offs (`benches/common/floor.rs`, the threaded limits of
//! P1) and tell the cost of the threads from the cost of caldb's work.
//!
//! A calling thread queues its work. If no group is being run, it leads:
//! it takes the queue (its own work first), runs it as one group, hands
//! each waiting thread its answer and then the lead to the first work that
//! queued meanwhile. Every other thread sleeps on its own slot until its
//! answer (or the lead) comes: one wake-up per call, whatever the number
//! of threads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// The most calls one group takes; the rest wait for the next.
const MAX_GROUP: usize = 1024;

/// A leader whose queue holds fewer calls than the last group took yields
/// at most this many times first, so that the threads the last group
/// answered can queue their next calls and share this group.
const GATHER_YIELDS: usize = 8;

/// Calls from many threads, run a group at a time by one of them.
pub struct GroupCommit<W, A> {
    queue: Mutex<Queue<W, A>>,
    /// How many calls the last group took.
    last_group: AtomicUsize,
}

struct Queue<W, A> {
    waiting: Vec<Pending<W, A>>,
    /// A thread is running a group (and will hand the lead on).
    leading: bool,
}

struct Pending<W, A> {
    work: W,
    slot: Arc<Slot<A>>,
}

/// Where a queued call's thread waits for its answer or the lead.
struct Slot<A> {
    state: Mutex<SlotState<A>>,
    ready: Condvar,
}

enum SlotState<A> {
    Waiting,
    /// The thread is to lead the next group.
    Lead,
    Done(A),
    /// The group ended without an answer for this call.
    Unanswered,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The queue and the slots are changed in single steps: a poisoned
    // lock holds nothing half done.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<W, A> Default for GroupCommit<W, A> {
    fn default() -> Self {
        GroupCommit { queue: Mutex::new(Queue { waiting: Vec::new(), leading: false }), last_group: AtomicUsize::new(0) }
    }
}

impl<W, A> GroupCommit<W, A> {
    /// Queues `work` and waits for its answer, leading a group when no
    /// other thread is: `run` takes a group's works, in the order they
    /// queued, and gives their answers in that order. `None` when the
    /// group's answers ended before this call's.
    pub fn submit(&self, work: W, run: impl FnOnce(Vec<W>) -> Vec<A>) -> Option<A> {
        let slot = Arc::new(Slot { state: Mutex::new(SlotState::Waiting), ready: Condvar::new() });
        let lead = {
            let mut queue = lock(&self.queue);
            queue.waiting.push(Pending { work, slot: Arc::clone(&slot) });
            !std::mem::replace(&mut queue.leading, true)
        };
        if !lead && !slot.wait_for_lead_or_answer() {
            return slot.take();
        }
        self.lead(run);
        slot.take()
    }

    /// Runs the queued works (up to `MAX_GROUP`) as one group, answers
    /// each, and hands the lead to the next queued work.
    fn lead(&self, run: impl FnOnce(Vec<W>) -> Vec<A>) {
        self.gather(std::thread::yield_now);
        let group: Vec<Pending<W, A>> = {
            let mut queue = lock(&self.queue);
            let n = queue.waiting.len().min(MAX_GROUP);
            self.last_group.store(n, Ordering::Relaxed);
            queue.waiting.drain(..n).collect()
        };
        let (works, slots): (Vec<W>, Vec<Arc<Slot<A>>>) = group.into_iter().map(|p| (p.work, p.slot)).unzip();
        // A `run` that panics answers none of its group, and the lead
        // still passes on before the panic goes on up the leader's thread.
        let (answers, panic) = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(works))) {
            Ok(answers) => (answers, None),
            Err(panic) => (Vec::new(), Some(panic)),
        };
        let mut answers = answers.into_iter();
        for slot in &slots {
            slot.set(answers.next().map_or(SlotState::Unanswered, SlotState::Done));
        }
        {
            let mut queue = lock(&self.queue);
            match queue.waiting.first() {
                Some(next) => next.slot.set(SlotState::Lead),
                None => queue.leading = false,
            }
        }
        if let Some(panic) = panic {
            std::panic::resume_unwind(panic);
        }
    }

    /// Yields (`yield_now`), `GATHER_YIELDS` times at most, while the
    /// queue holds fewer works than the last group took. The lead passes
    /// to a queued thread as soon as a group is answered, before the
    /// threads it answered have queued again: a group taken at once would
    /// be the few that queued during the last one, and the rest would wait
    /// for a group of their own (from 8 threads, groups of 6.3 instead of
    /// 7.3-8), while every commit costs about the same CPU however few it
    /// carries (redb's page writes, the sync).
    fn gather(&self, mut yield_now: impl FnMut()) {
        let want = self.last_group.load(Ordering::Relaxed);
        for _ in 0..GATHER_YIELDS {
            if lock(&self.queue).waiting.len() >= want {
                return;
            }
            yield_now();
        }
    }
}

impl<A> Slot<A> {
    fn set(&self, state: SlotState<A>) {
        *lock(&self.state) = state;
        self.ready.notify_one();
    }

    /// Sleeps until the answer (`false`) or the lead (`true`) comes.
    fn wait_for_lead_or_answer(&self) -> bool {
        let mut state = lock(&self.state);
        loop {
            match &*state {
                SlotState::Waiting => state = self.ready.wait(state).unwrap_or_else(PoisonError::into_inner),
                SlotState::Lead => return true,
                SlotState::Done(_) | SlotState::Unanswered => return false,
            }
        }
    }

    fn take(&self) -> Option<A> {
        match std::mem::replace(&mut *lock(&self.state), SlotState::Unanswered) {
            SlotState::Done(answer) => Some(answer),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leader_waits_for_as_many_calls_as_the_last_group_took_and_no_longer() {
        let group: GroupCommit<u32, u32> = GroupCommit::default();
        let queue_one = || {
            let slot = Arc::new(Slot { state: Mutex::new(SlotState::Waiting), ready: Condvar::new() });
            lock(&group.queue).waiting.push(Pending { work: 1, slot });
        };
        group.last_group.store(3, Ordering::Relaxed);
        // Each yield lets one answered thread queue its next call.
        let mut yields = 0;
        group.gather(|| {
            yields += 1;
            queue_one();
        });
        assert_eq!((yields, lock(&group.queue).waiting.len()), (3, 3), "it stops once the group is whole");
        yields = 0;
        group.gather(|| yields += 1);
        assert_eq!(yields, 0, "a queue as long as the last group is taken at once");
        group.last_group.store(64, Ordering::Relaxed);
        group.gather(|| yields += 1);
        assert_eq!(yields, GATHER_YIELDS, "the threads that do not come are waited for a bounded time");
    }

    #[test]
    fn every_call_gets_its_own_answer_and_a_short_group_leaves_the_rest_unanswered() {
        let group: GroupCommit<u64, u64> = GroupCommit::default();
        let largest = AtomicUsize::new(0);
        // A group takes a while, as a commit does, so that others queue.
        let run = |ws: Vec<u64>| {
            largest.fetch_max(ws.len(), Ordering::Relaxed);
            std::thread::sleep(std::time::Duration::from_micros(200));
            ws.iter().map(|w| w * 2).collect()
        };
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..16u64)
                .map(|i| {
                    let (group, run) = (&group, &run);
                    s.spawn(move || (0..50).map(|k| group.submit(i * 100 + k, run)).collect::<Vec<_>>())
                })
                .collect();
            for (i, h) in handles.into_iter().enumerate() {
                let answers = h.join().expect("no panic");
                let want: Vec<_> = (0..50).map(|k| Some((i as u64 * 100 + k) * 2)).collect();
                assert_eq!(answers, want, "thread {i}");
            }
        });
        assert!(largest.load(Ordering::Relaxed) > 1, "groups of more than one call were run");
        assert_eq!(group.submit(7, |_| Vec::new()), None, "no answer is not an answer");
        assert!(!lock(&group.queue).leading, "the lead is given back");
    }

    #[test]
    fn a_group_that_panics_gives_the_lead_back_and_the_next_call_runs() {
        let group: GroupCommit<u64, u64> = GroupCommit::default();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            group.submit(1, |_: Vec<u64>| -> Vec<u64> { panic!("a group's run failed") })
        }));
        assert!(panicked.is_err(), "the leader's call panics as its run did");
        assert!(!lock(&group.queue).leading, "the lead is given back");
        assert_eq!(group.submit(2, |ws| ws), Some(2), "the next call leads and is answered");
    }
}
