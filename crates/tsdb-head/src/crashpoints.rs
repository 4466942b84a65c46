//! Crash injection for tests (cargo feature `crashpoints`, never enabled by
//! default, so a normal build carries none of this).
//!
//! With `AEON_TSDB_HEAD_CRASH_AT=<step>[:<nth>]` in the environment the
//! process SIGKILLs itself the `nth` (default first) time it passes `step`:
//!
//! | step                | the process dies …                                               |
//! |---------------------|------------------------------------------------------------------|
//! | `wal-written`       | in a commit, after its records reached the WAL, before memory     |
//! | `block-written`     | in a compaction, after the block is in place, before truncation   |
//! | `checkpoint-written`| in a compaction, after the checkpoint, before old segments go     |

/// The environment variable naming the crash point.
#[cfg(feature = "crashpoints")]
pub const ENV: &str = "AEON_TSDB_HEAD_CRASH_AT";
/// Every step a crash can be injected at.
#[cfg(feature = "crashpoints")]
pub const STEPS: [&str; 3] = ["wal-written", "block-written", "checkpoint-written"];

#[cfg(feature = "crashpoints")]
pub(crate) fn pass(step: &str) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static SEEN: AtomicUsize = AtomicUsize::new(0);
    let Ok(spec) = std::env::var(ENV) else {
        return;
    };
    let (want, nth) = match spec.split_once(':') {
        Some((s, n)) => (s.to_string(), n.parse().unwrap_or(1usize)),
        None => (spec, 1),
    };
    if want != step || SEEN.fetch_add(1, Ordering::SeqCst) + 1 != nth.max(1) {
        return;
    }
    let pid = std::process::id().to_string();
    eprintln!("crash point {step}: killing process {pid} with SIGKILL");
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status();
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

#[cfg(not(feature = "crashpoints"))]
#[inline(always)]
pub(crate) fn pass(_step: &str) {}
