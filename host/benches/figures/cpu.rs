//! CPU time from `/proc`: a process's (the server's CPU per call), and the
//! machine's, to say how much other work ran beside a measurement and so
//! disturbed it (on a shared machine, a build or another benchmark).

use std::time::{Duration, Instant};

/// CPU time process `pid` has used so far (user + system, all threads),
/// from `/proc/PID/stat` fields 14 and 15.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which may hold spaces, start at 3.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    ticks(&fields, &[11, 12])
}

/// CPU time the whole machine has spent running processes so far (user,
/// nice, system; not interrupts, which loopback traffic itself causes),
/// from the first line of `/proc/stat`.
fn machine_busy() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    ticks(&fields, &[1, 2, 3])
}

/// The sum of the clock-tick counts at `indexes` of `fields`.
fn ticks(fields: &[&str], indexes: &[usize]) -> Duration {
    let ticks: u64 = indexes
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    // SAFETY: sysconf has no preconditions; it only reads a constant.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_nanos(ticks * 1_000_000_000 / per_second)
}

/// CPU used by processes other than this bench and the server under test,
/// from [`Others::start`] on.
pub struct Others {
    server: Option<u32>,
    server_before: Duration,
    bench_before: Duration,
    machine_before: Duration,
    started: Instant,
}

impl Others {
    /// Starts counting; `server` is the process under test, if any.
    pub fn start(server: Option<u32>) -> Others {
        Others {
            server,
            server_before: server.map(cpu_time).unwrap_or_default(),
            bench_before: cpu_time(std::process::id()),
            machine_before: machine_busy(),
            started: Instant::now(),
        }
    }

    /// The cores they kept busy on average so far.
    pub fn cores(&self) -> f64 {
        let server = self.server.map(cpu_time).unwrap_or_default();
        let others = machine_busy()
            .saturating_sub(self.machine_before)
            .saturating_sub(server.saturating_sub(self.server_before))
            .saturating_sub(cpu_time(std::process::id()).saturating_sub(self.bench_before));
        others.as_secs_f64() / self.started.elapsed().as_secs_f64()
    }
}
