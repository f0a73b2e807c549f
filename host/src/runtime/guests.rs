//! Where guest code runs: inline on the caller's worker while it is short,
//! on the guest threads once it runs long.
//!
//! Every call starts inline, so the common short call (a fresh instance and
//! a few thousand instructions) costs no thread hop. A guest yields every
//! [`super::YIELD_FUEL`] units of fuel; a call that has not finished by its
//! first yield (a long computation, a spinning plugin, or a call waiting for
//! the client) is handed to the guest threads and runs there to the end.
//! Those threads run at the lowest OS priority (`SCHED_IDLE`): however many
//! guests burn CPU, the workers that read sockets and stdin, look tools up
//! and write answers, and every other program on the machine, get a core the
//! moment they need one. Guests get every cycle nothing else wants.

use std::future::Future;
use std::task::Poll;

use tokio_util::task::AbortOnDropHandle;
use tracing::Instrument as _;

/// The guest threads.
pub struct Guests {
    // Always `Some` but in `drop`.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Guests {
    /// Starts `threads` guest threads (at least one).
    pub fn start(threads: usize) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("guest")
            .on_thread_start(lower_priority)
            // Host functions a guest calls may use timers and sockets.
            .enable_all()
            // Yielding guests take turns with calls that just arrived.
            .global_queue_interval(2)
            .build()?;
        Ok(Self {
            runtime: Some(runtime),
        })
    }

    /// Runs `call` to the end: inline up to its first yield, then on a guest
    /// thread. Dropping the returned future stops the call either way.
    pub async fn run<F>(&self, call: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let mut call = Box::pin(call);
        let first = std::future::poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx))).await;
        if let Poll::Ready(output) = first {
            return output;
        }
        tracing::trace!("the call runs on: moved to the guest threads");
        let Some(runtime) = &self.runtime else {
            // Not reached: the runtime is only taken when `self` is dropped.
            return call.await;
        };
        // The call keeps its span (tool, request id, trace context) on the
        // guest threads, so its log lines there still say whose they are.
        let call = call.instrument(tracing::Span::current());
        match AbortOnDropHandle::new(runtime.spawn(call)).await {
            Ok(output) => output,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Aborted only by a runtime shutting down, which happens after
            // every caller is gone.
            Err(e) => panic!("the guest threads stopped under a call: {e}"),
        }
    }
}

impl Drop for Guests {
    fn drop(&mut self) {
        // Calls still on the guest threads are dropped, not waited for: this
        // may run inside the main executor, where blocking is not allowed.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn lower_priority() {
    // On Linux the scheduling policy is per thread: this changes only the
    // calling thread. `SCHED_IDLE` rather than a `nice` value: a thread
    // waking from any other policy preempts an idle-policy thread at once,
    // where a niced one keeps its core to the end of its slice (measured:
    // milliseconds at p99 for the calls beside two spinners). A failure (a
    // sandbox that forbids it) leaves the thread at the process's priority,
    // which only costs responsiveness beside busy guests.
    #[cfg(target_os = "linux")]
    // SAFETY: `sched_setscheduler` reads the parameter it is given, which
    // lives until it returns.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        libc::sched_setscheduler(0, libc::SCHED_IDLE, &param);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    fn thread_name() -> String {
        std::thread::current().name().unwrap_or_default().to_owned()
    }

    #[tokio::test]
    async fn a_call_that_finishes_at_once_never_leaves_the_caller() {
        let guests = Guests::start(1).unwrap();
        let here = thread_name();
        assert_eq!(guests.run(async { thread_name() }).await, here);
    }

    #[tokio::test]
    async fn a_call_that_yields_finishes_on_a_guest_thread() {
        let guests = Guests::start(1).unwrap();
        let ran_on = guests
            .run(async {
                tokio::task::yield_now().await;
                thread_name()
            })
            .await;
        assert_eq!(ran_on, "guest");
    }

    #[tokio::test]
    async fn dropping_the_caller_stops_a_moved_call() {
        struct Flag(Arc<AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let guests = Guests::start(1).unwrap();
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = Flag(dropped.clone());
        let call = guests.run(async move {
            let _flag = flag;
            tokio::task::yield_now().await;
            std::future::pending::<()>().await;
        });
        // Long enough for the call to move and park on the guest thread.
        let _ = tokio::time::timeout(std::time::Duration::from_millis(50), call).await;
        for _ in 0..200 {
            if dropped.load(Ordering::SeqCst) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the call kept running after its caller was dropped");
    }
}
