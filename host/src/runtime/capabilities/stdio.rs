//! The guest's stdout and stderr, captured line by line into the invocation's log.

use bytes::Bytes;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

use super::log::{Level, SharedLog};

/// One of the two output streams, writing into the shared log.
#[derive(Clone)]
pub(crate) struct CapturedStream {
    log: SharedLog,
    level: Level,
}

impl CapturedStream {
    pub(crate) fn stdout(log: SharedLog) -> Self {
        Self {
            log,
            level: Level::Stdout,
        }
    }

    pub(crate) fn stderr(log: SharedLog) -> Self {
        Self {
            log,
            level: Level::Stderr,
        }
    }

    fn append(&self, bytes: &[u8]) {
        self.log
            .lock()
            .expect("log lock")
            .write_stream(self.level, bytes);
    }
}

impl IsTerminal for CapturedStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

/// Writes never block: the log buffer takes whatever fits the permit and
/// applies its own budget. A guest writing more than it was permitted breaks
/// the stream's contract, and WASI says that traps.
const WRITE_PERMIT: usize = 64 * 1024;

impl OutputStream for CapturedStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        if bytes.len() > WRITE_PERMIT {
            return Err(StreamError::Trap(wasmtime::Error::msg(format!(
                "a write of {} bytes to {} exceeds the {WRITE_PERMIT} bytes check-write permitted",
                bytes.len(),
                self.level.as_str(),
            ))));
        }
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_PERMIT)
    }
}

#[async_trait::async_trait]
impl Pollable for CapturedStream {
    async fn ready(&mut self) {}
}

impl AsyncWrite for CapturedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let taken = &buf[..buf.len().min(WRITE_PERMIT)];
        self.append(taken);
        Poll::Ready(Ok(taken.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
