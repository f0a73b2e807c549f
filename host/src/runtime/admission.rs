//! Who may start a call now: each group's share of call slots, the host's
//! call slots, and a host-wide budget of guest memory. A call waits for all
//! three within its own deadline, so the time spent queueing counts toward
//! its timeout and a flood of calls to one group never holds the slots
//! another group needs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use std::sync::Mutex;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::fault::{Busy, FaultKind};

const MIB: u64 = 1024 * 1024;

/// What every group shares: the host's call slots and memory budget.
pub struct Shared {
    calls: Arc<Semaphore>,
    call_limit: u32,
    memory: Arc<Budget>,
    memory_mib: u32,
}

/// A quantity handed out to whoever fits, not first come first served: a
/// call that needs little is not held up behind one that needs a lot (a
/// fair semaphore would make every group wait behind the largest).
struct Budget {
    available: Mutex<u32>,
    freed: Notify,
}

/// Part of a [`Budget`], given back when dropped.
struct Reservation {
    budget: Arc<Budget>,
    amount: u32,
}

impl Budget {
    async fn reserve(self: &Arc<Self>, amount: u32) -> Reservation {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            // Registered before looking, so a release in between is heard.
            freed.as_mut().enable();
            {
                let mut available = self.available.lock().unwrap_or_else(|e| e.into_inner());
                if *available >= amount {
                    *available -= amount;
                    return Reservation {
                        budget: self.clone(),
                        amount,
                    };
                }
            }
            freed.await;
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        *self
            .budget
            .available
            .lock()
            .unwrap_or_else(|e| e.into_inner()) += self.amount;
        self.budget.freed.notify_waiters();
    }
}

impl Shared {
    pub fn new(max_calls: u32, memory_budget: u64) -> Self {
        let memory_mib = u32::try_from(memory_budget.div_ceil(MIB))
            .unwrap_or(u32::MAX)
            .clamp(1, 1 << 28);
        Self {
            calls: Arc::new(Semaphore::new(max_calls as usize)),
            call_limit: max_calls,
            memory: Arc::new(Budget {
                available: Mutex::new(memory_mib),
                freed: Notify::new(),
            }),
            memory_mib,
        }
    }

    /// One group's way in: `max_calls` of its own, each reserving `memory`.
    pub fn for_group(self: &Arc<Self>, max_calls: u32, memory: u64) -> Admission {
        let memory_mib = u32::try_from(memory.div_ceil(MIB))
            .unwrap_or(u32::MAX)
            .clamp(1, self.memory_mib);
        Admission {
            shared: self.clone(),
            calls: Arc::new(Semaphore::new(max_calls as usize)),
            call_limit: max_calls,
            memory_mib,
        }
    }
}

/// One group's way in.
pub struct Admission {
    shared: Arc<Shared>,
    calls: Arc<Semaphore>,
    call_limit: u32,
    memory_mib: u32,
}

/// Held while a call runs; dropping it frees the slots and the memory.
pub struct Ticket {
    _group: OwnedSemaphorePermit,
    _host: OwnedSemaphorePermit,
    _memory: Reservation,
}

impl Admission {
    /// Waits until the call may start, at most until `deadline`.
    pub async fn enter(&self, deadline: Instant) -> Result<Ticket, FaultKind> {
        let started = Instant::now();
        let wait = |busy: Busy| FaultKind::Busy {
            waited: started.elapsed(),
            busy,
        };
        let until = tokio::time::Instant::from_std(deadline);
        let group = tokio::time::timeout_at(until, self.calls.clone().acquire_owned())
            .await
            .map_err(|_| wait(Busy::GroupCalls(self.call_limit)))?
            .map_err(|_| FaultKind::ShuttingDown)?;
        let host = tokio::time::timeout_at(until, self.shared.calls.clone().acquire_owned())
            .await
            .map_err(|_| wait(Busy::HostCalls(self.shared.call_limit)))?
            .map_err(|_| FaultKind::ShuttingDown)?;
        let memory = tokio::time::timeout_at(until, self.shared.memory.reserve(self.memory_mib))
            .await
            .map_err(|_| wait(Busy::Memory(u64::from(self.shared.memory_mib) * MIB)))?;
        Ok(Ticket {
            _group: group,
            _host: host,
            _memory: memory,
        })
    }
}

/// Waits for `future` until `deadline`, or says what was busy.
pub async fn within<T>(
    deadline: Instant,
    busy: Busy,
    future: impl Future<Output = T>,
) -> Result<T, FaultKind> {
    let started = Instant::now();
    tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), future)
        .await
        .map_err(|_| FaultKind::Busy {
            waited: started.elapsed(),
            busy,
        })
}

/// How long a call may queue and run: its timeout from when it asked.
pub fn deadline(timeout: Duration) -> Instant {
    Instant::now() + timeout
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_busy_group_waits_within_its_deadline_and_others_go_on() {
        let shared = Arc::new(Shared::new(8, 1024 * MIB));
        let busy = shared.for_group(1, 64 * MIB);
        let other = shared.for_group(1, 64 * MIB);
        let held = busy.enter(deadline(Duration::from_secs(5))).await.unwrap();
        let refused = busy
            .enter(deadline(Duration::from_millis(30)))
            .await
            .err()
            .unwrap();
        assert!(
            matches!(
                refused,
                FaultKind::Busy {
                    busy: Busy::GroupCalls(1),
                    ..
                }
            ),
            "{refused:?}"
        );
        // The other group still has its share.
        other
            .enter(deadline(Duration::from_millis(30)))
            .await
            .unwrap();
        drop(held);
        busy.enter(deadline(Duration::from_millis(30)))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn memory_is_reserved_from_one_budget() {
        let shared = Arc::new(Shared::new(8, 100 * MIB));
        let big = shared.for_group(8, 60 * MIB);
        let first = big.enter(deadline(Duration::from_secs(1))).await.unwrap();
        let refused = big
            .enter(deadline(Duration::from_millis(30)))
            .await
            .err()
            .unwrap();
        assert!(matches!(
            refused,
            FaultKind::Busy {
                busy: Busy::Memory(_),
                ..
            }
        ));
        drop(first);
        big.enter(deadline(Duration::from_millis(30)))
            .await
            .unwrap();
        // A small reservation is not held up behind a large one waiting.
        let first = big.enter(deadline(Duration::from_secs(1))).await.unwrap();
        let waiting = tokio::spawn({
            let shared = shared.clone();
            async move {
                shared
                    .for_group(8, 60 * MIB)
                    .enter(deadline(Duration::from_secs(5)))
                    .await
                    .is_ok()
            }
        });
        tokio::task::yield_now().await;
        let small = shared.for_group(8, 30 * MIB);
        small
            .enter(deadline(Duration::from_millis(100)))
            .await
            .unwrap();
        drop(first);
        assert!(waiting.await.unwrap());
        // A group asking for more than the whole budget reserves all of it
        // instead of waiting forever.
        let huge = shared.for_group(1, 10_000 * MIB);
        huge.enter(deadline(Duration::from_millis(30)))
            .await
            .unwrap();
    }
}
