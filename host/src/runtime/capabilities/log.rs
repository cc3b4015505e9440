//! `log`: the guest's log lines, and its stdout and stderr, kept with the attempt.
//!
//! A budget caps what one invocation keeps, so a guest that logs in a loop
//! costs the host a bounded amount of memory and storage. Each kept line has
//! its secrets replaced first, so the budget charges what is stored.

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::runtime::bindings::log::{Host, Level as WitLevel};
use crate::runtime::redact::Redactor;
use crate::runtime::state::State;

/// Where a line came from and how much it matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// `log` at trace level.
    Trace,
    /// `log` at debug level.
    Debug,
    /// `log` at info level.
    Info,
    /// `log` at warn level.
    Warn,
    /// `log` at error level.
    Error,
    /// A line the guest wrote to stdout.
    Stdout,
    /// A line the guest wrote to stderr.
    Stderr,
}

impl Level {
    /// The name used in tables and the JSON record.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Stdout => "stdout",
            Level::Stderr => "stderr",
        }
    }
}

/// One kept line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogLine {
    /// Milliseconds since the invocation started.
    pub at_ms: u64,
    /// Its level or stream.
    pub level: Level,
    /// The text, without a trailing newline.
    pub message: String,
}

/// What each kept line costs the budget beyond its text: its record in the
/// attempt (level, time, framing), so that empty lines are not free.
const LINE_OVERHEAD_BYTES: u64 = 32;

/// Bytes of stderr kept aside for a trap's message, whatever the budget did.
const STDERR_TAIL_BYTES: usize = 4096;

/// The log of one invocation, shared by the `log` import and the stdio streams.
pub(crate) struct LogBuffer {
    started: std::time::Instant,
    lines: Vec<LogLine>,
    bytes: u64,
    budget: u64,
    truncated: bool,
    partial_stdout: Vec<u8>,
    partial_stderr: Vec<u8>,
    stderr_tail: String,
    /// The last `Uncaught …` block on stderr, kept apart from the tail so
    /// that a deep stack after it does not push its first line out.
    uncaught: Option<String>,
    redactor: Arc<Redactor>,
}

pub(crate) type SharedLog = Arc<Mutex<LogBuffer>>;

impl LogBuffer {
    pub(crate) fn shared(budget: u64, redactor: Arc<Redactor>) -> SharedLog {
        Arc::new(Mutex::new(LogBuffer {
            started: std::time::Instant::now(),
            lines: Vec::new(),
            bytes: 0,
            budget,
            truncated: false,
            partial_stdout: Vec::new(),
            partial_stderr: Vec::new(),
            stderr_tail: String::new(),
            uncaught: None,
            redactor,
        }))
    }

    pub(crate) fn push(&mut self, level: Level, message: String) {
        if level == Level::Stderr {
            self.keep_uncaught(&message);
            self.stderr_tail.push_str(&message);
            self.stderr_tail.push('\n');
            if self.stderr_tail.len() > STDERR_TAIL_BYTES {
                let cut = self.stderr_tail.len() - STDERR_TAIL_BYTES;
                let cut = (cut..self.stderr_tail.len())
                    .find(|&i| self.stderr_tail.is_char_boundary(i))
                    .unwrap_or(self.stderr_tail.len());
                self.stderr_tail.drain(..cut);
            }
        }
        if self.truncated {
            return;
        }
        // A line longer than the whole budget is never kept, whatever it
        // holds, so only shorter ones are searched (and so only what the
        // budget bounds); replacing may shrink or grow a line. It is charged
        // the longer of what the guest wrote and what is kept, so a line of
        // secrets cannot buy more searching than the budget.
        let written = message.len() as u64;
        let message = if written <= self.budget {
            self.redactor.redact(message)
        } else {
            message
        };
        let charge = written.max(message.len() as u64) + LINE_OVERHEAD_BYTES;
        if self.bytes + charge > self.budget {
            self.truncated = true;
            let message = format!(
                "[log truncated: this invocation reached its budget of {} bytes]",
                self.budget
            );
            self.lines.push(self.line(Level::Warn, message));
            return;
        }
        self.bytes += charge;
        let line = self.line(level, message);
        self.lines.push(line);
    }

    /// Follows the SDKs' `Uncaught …` blocks on stderr, within the same
    /// bound as the tail; a Rust panic after one ends it.
    fn keep_uncaught(&mut self, line: &str) {
        if line.starts_with("Uncaught ") {
            self.uncaught = Some(String::new());
        } else if line.contains("panicked at ") {
            self.uncaught = None;
        }
        if let Some(block) = &mut self.uncaught
            && block.len() + line.len() < STDERR_TAIL_BYTES
        {
            if !block.is_empty() {
                block.push('\n');
            }
            block.push_str(line);
        }
    }

    fn line(&self, level: Level, message: String) -> LogLine {
        LogLine {
            at_ms: self.started.elapsed().as_millis() as u64,
            level,
            message,
        }
    }

    /// Appends raw stream output, keeping complete lines and buffering the
    /// rest; one pass over the bytes, however many newlines they hold.
    pub(crate) fn write_stream(&mut self, level: Level, bytes: &[u8]) {
        let mut partial = std::mem::take(self.partial(level));
        partial.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(offset) = partial[start..].iter().position(|&b| b == b'\n') {
            let end = start + offset;
            self.push(
                level,
                String::from_utf8_lossy(&partial[start..end]).into_owned(),
            );
            start = end + 1;
        }
        partial.drain(..start);
        if partial.len() as u64 > self.budget {
            let line = std::mem::take(&mut partial);
            self.push(level, String::from_utf8_lossy(&line).into_owned());
        }
        *self.partial(level) = partial;
    }

    fn partial(&mut self, level: Level) -> &mut Vec<u8> {
        match level {
            Level::Stdout => &mut self.partial_stdout,
            _ => &mut self.partial_stderr,
        }
    }

    /// Flushes unterminated stream output and hands back the lines.
    pub(crate) fn finish(&mut self) -> (Vec<LogLine>, bool) {
        for level in [Level::Stdout, Level::Stderr] {
            let partial = match level {
                Level::Stdout => std::mem::take(&mut self.partial_stdout),
                _ => std::mem::take(&mut self.partial_stderr),
            };
            if !partial.is_empty() {
                self.push(level, String::from_utf8_lossy(&partial).into_owned());
            }
        }
        (std::mem::take(&mut self.lines), self.truncated)
    }

    /// What the guest said about its own failure before it trapped, when
    /// stderr shows it: a Rust panic's message, or the block the JavaScript
    /// and Python SDKs write for an uncaught exception (a line starting with
    /// `Uncaught `, then the stack in the author's source).
    pub(crate) fn failure_message(&self) -> Option<String> {
        if let Some(block) = &self.uncaught {
            return Some(block.clone());
        }
        let tail = self.stderr_tail.as_str();
        let text: Vec<&str> = tail[tail.rfind("panicked at ")?..]
            .lines()
            .take_while(|l| !l.starts_with("note: "))
            .collect();
        Some(text.join(" "))
    }
}

impl Host for State {
    async fn log(&mut self, level: WitLevel, message: String) {
        let level = match level {
            WitLevel::Trace => Level::Trace,
            WitLevel::Debug => Level::Debug,
            WitLevel::Info => Level::Info,
            WitLevel::Warn => Level::Warn,
            WitLevel::Error => Level::Error,
        };
        self.log.lock().expect("log lock").push(level, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{PluginSecrets, SecretValue};

    fn shared(budget: u64) -> SharedLog {
        LogBuffer::shared(budget, Arc::new(Redactor::new(Arc::default())))
    }

    #[test]
    fn a_kept_line_has_its_secrets_replaced_and_is_charged_as_written_when_longer() {
        let secrets: PluginSecrets = [("k".into(), SecretValue::new("0123456789abcdef".into()))]
            .into_iter()
            .collect();
        let secrets = Arc::new(secrets);
        // 16 bytes as written, 10 as kept: charged 16 each, so two lines
        // need 32 bytes of budget. The second comes in two writes, and is
        // searched once whole.
        for (room, fits) in [(32, true), (31, false)] {
            let budget = 2 * LINE_OVERHEAD_BYTES + room;
            let log = LogBuffer::shared(budget, Arc::new(Redactor::new(secrets.clone())));
            let mut log = log.lock().unwrap();
            log.push(Level::Info, "0123456789abcdef".into());
            log.write_stream(Level::Stdout, b"01234567");
            log.write_stream(Level::Stdout, b"89abcdef\n");
            let (lines, truncated) = log.finish();
            assert_eq!(truncated, !fits, "room {room}");
            assert_eq!(lines[0].message, "[secret k]");
            if fits {
                assert_eq!(lines[1].message, "[secret k]");
            }
        }
    }

    #[test]
    fn lines_past_the_budget_are_dropped_behind_one_marker() {
        let log = shared(10 + 2 * LINE_OVERHEAD_BYTES);
        let mut log = log.lock().unwrap();
        log.push(Level::Info, "12345".into());
        log.push(Level::Info, "67890".into());
        log.push(Level::Info, "x".into());
        log.push(Level::Info, "y".into());
        let (lines, truncated) = log.finish();
        assert!(truncated);
        assert_eq!(lines.len(), 3);
        assert!(lines[2].message.starts_with("[log truncated"));
    }

    #[test]
    fn empty_lines_are_charged_so_a_flood_of_them_stays_bounded() {
        let budget = 1024;
        let log = shared(budget);
        let mut log = log.lock().unwrap();
        for _ in 0..100_000 {
            log.push(Level::Info, String::new());
        }
        let (lines, truncated) = log.finish();
        assert!(truncated);
        assert_eq!(lines.len() as u64, budget / LINE_OVERHEAD_BYTES + 1);
    }

    #[test]
    fn one_write_of_a_million_newlines_keeps_lines_within_the_budget() {
        let budget = 4096;
        let log = shared(budget);
        let mut log = log.lock().unwrap();
        log.write_stream(Level::Stdout, &vec![b'\n'; 1_000_000]);
        let (lines, truncated) = log.finish();
        assert!(truncated);
        assert_eq!(lines.len() as u64, budget / LINE_OVERHEAD_BYTES + 1);
    }

    #[test]
    fn stream_output_is_split_into_lines_and_flushed_at_the_end() {
        let log = shared(1024);
        let mut log = log.lock().unwrap();
        log.write_stream(Level::Stdout, b"hello\nwor");
        log.write_stream(Level::Stdout, b"ld\nlast");
        let (lines, _) = log.finish();
        let text: Vec<_> = lines.iter().map(|l| l.message.as_str()).collect();
        assert_eq!(text, ["hello", "world", "last"]);
    }

    #[test]
    fn an_uncaught_exception_is_the_sdks_block_with_its_stack() {
        let log = shared(4);
        let mut log = log.lock().unwrap();
        log.write_stream(
            Level::Stderr,
            b"thread '<unnamed>' panicked at src/lib.rs:1:1:\nearlier\n",
        );
        log.write_stream(
            Level::Stderr,
            b"Uncaught Error: boom\n    at fail (src/handler.ts:3:9)\n    at handle (src/handler.ts:7:3)\n",
        );
        assert_eq!(
            log.failure_message().as_deref(),
            Some(
                "Uncaught Error: boom\n    at fail (src/handler.ts:3:9)\n    at handle (src/handler.ts:7:3)"
            )
        );
    }

    #[test]
    fn an_uncaught_block_keeps_its_first_line_however_deep_the_stack() {
        let log = shared(4);
        let mut log = log.lock().unwrap();
        log.write_stream(Level::Stderr, b"Uncaught RecursionError: too deep\n");
        for _ in 0..1000 {
            log.write_stream(Level::Stderr, b"  File \"handler.py\", line 3, in f\n");
        }
        let message = log.failure_message().unwrap();
        assert!(message.starts_with("Uncaught RecursionError: too deep\n  File"));
        assert!(message.len() < STDERR_TAIL_BYTES);
    }

    #[test]
    fn a_panic_message_is_found_in_stderr_even_after_truncation() {
        let log = shared(4);
        let mut log = log.lock().unwrap();
        log.write_stream(Level::Stderr, b"noise that overflows the budget\n");
        log.write_stream(
            Level::Stderr,
            b"\nthread '<unnamed>' panicked at src/lib.rs:4:5:\nboom 42\nnote: run with `RUST_BACKTRACE=1`\n",
        );
        assert_eq!(
            log.failure_message().as_deref(),
            Some("panicked at src/lib.rs:4:5: boom 42")
        );
    }
}
