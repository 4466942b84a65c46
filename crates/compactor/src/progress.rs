//! Progress of long `aeon tools bucket` operations: an `indicatif` bar when
//! stderr is a terminal, otherwise a plain line every few seconds (and a
//! last one at the end when any was written), so piped output and CI logs
//! stay readable. A [`Progress::hidden`] one does nothing (the service).

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often the plain (non-terminal) progress line is written.
pub const LOG_EVERY: Duration = Duration::from_secs(5);

enum Sink {
    Hidden,
    Bar(indicatif::ProgressBar),
    Lines {
        out: Mutex<Box<dyn Write + Send>>,
        every: Duration,
        last: Mutex<Instant>,
        wrote: AtomicU64,
    },
}

/// Progress of one operation over a known number of items.
pub struct Progress {
    what: String,
    total: AtomicU64,
    done: AtomicU64,
    sink: Sink,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("what", &self.what)
            .field("done", &self.done.load(Ordering::Relaxed))
            .field("total", &self.total.load(Ordering::Relaxed))
            .finish()
    }
}

impl Progress {
    /// A bar on a terminal stderr, periodic lines on any other stderr.
    pub fn stderr(what: &str) -> Self {
        if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(0);
            let style = indicatif::ProgressStyle::with_template(
                "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} ({eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_message(what.to_string());
            Self::with_sink(what, Sink::Bar(bar))
        } else {
            Self::lines(what, Box::new(std::io::stderr()), LOG_EVERY)
        }
    }

    /// Plain progress lines into `out`, at most one per `every`.
    pub fn lines(what: &str, out: Box<dyn Write + Send>, every: Duration) -> Self {
        Self::with_sink(
            what,
            Sink::Lines {
                out: Mutex::new(out),
                every,
                last: Mutex::new(Instant::now()),
                wrote: AtomicU64::new(0),
            },
        )
    }

    /// Progress that shows nothing.
    pub fn hidden() -> Self {
        Self::with_sink("", Sink::Hidden)
    }

    fn with_sink(what: &str, sink: Sink) -> Self {
        Self {
            what: what.to_string(),
            total: AtomicU64::new(0),
            done: AtomicU64::new(0),
            sink,
        }
    }

    /// Sets the number of items (once known).
    pub fn set_total(&self, n: u64) {
        self.total.store(n, Ordering::Relaxed);
        if let Sink::Bar(b) = &self.sink {
            b.set_length(n);
        }
    }

    /// Items done so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    fn line(&self, out: &Mutex<Box<dyn Write + Send>>, done: u64, wrote: &AtomicU64) {
        let total = self.total.load(Ordering::Relaxed);
        let pct = done.saturating_mul(100).checked_div(total).unwrap_or(100);
        if let Ok(mut o) = out.lock() {
            let _ = writeln!(o, "{}: {done}/{total} ({pct}%)", self.what);
        }
        wrote.fetch_add(1, Ordering::Relaxed);
    }

    /// One more item done.
    pub fn inc(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        match &self.sink {
            Sink::Hidden => {}
            Sink::Bar(b) => b.inc(1),
            Sink::Lines {
                out,
                every,
                last,
                wrote,
            } => {
                let due = match last.lock() {
                    Ok(mut l) if l.elapsed() >= *every => {
                        *l = Instant::now();
                        true
                    }
                    _ => false,
                };
                if due {
                    self.line(out, done, wrote);
                }
            }
        }
    }

    /// Ends the progress display.
    pub fn finish(&self) {
        match &self.sink {
            Sink::Hidden => {}
            Sink::Bar(b) => b.finish_and_clear(),
            Sink::Lines { out, wrote, .. } => {
                let done = self.done();
                if wrote.load(Ordering::Relaxed) > 0 {
                    self.line(out, done, wrote);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn plain_lines_when_not_a_terminal() {
        let buf = Buf::default();
        let p = Progress::lines("verify blocks", Box::new(buf.clone()), Duration::ZERO);
        p.set_total(4);
        for _ in 0..4 {
            p.inc();
        }
        p.finish();
        let s = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 5, "{s}");
        assert_eq!(lines[1], "verify blocks: 2/4 (50%)");
        assert_eq!(lines[4], "verify blocks: 4/4 (100%)");
    }

    #[test]
    fn quick_operations_print_nothing() {
        let buf = Buf::default();
        let p = Progress::lines("ls", Box::new(buf.clone()), Duration::from_secs(3600));
        p.set_total(3);
        p.inc();
        p.finish();
        assert!(buf.0.lock().unwrap().is_empty());
        assert_eq!(p.done(), 1);
        let h = Progress::hidden();
        h.inc();
        h.finish();
        assert_eq!(h.done(), 1);
    }
}
