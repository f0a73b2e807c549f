//! Guest stdout and stderr: captured, never inherited.
//!
//! In stdio mode the host's stdout is the MCP protocol stream, so a guest's
//! `println!` must never reach it. Each stream keeps only its last bytes (a
//! panic message is at the end of stderr) and accepts any amount of output,
//! so a flooding guest neither fails its writes nor grows host memory.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// How many trailing bytes of each stream are kept.
pub const TAIL_BYTES: usize = 16 * 1024;

/// The last [`TAIL_BYTES`] a guest wrote to one stream, plus a total count.
#[derive(Clone, Default)]
pub struct Tail {
    inner: Arc<Mutex<TailInner>>,
}

#[derive(Default)]
struct TailInner {
    bytes: VecDeque<u8>,
    total: u64,
}

impl Tail {
    fn push(&self, data: &[u8]) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.total += data.len() as u64;
        let keep = &data[data.len().saturating_sub(TAIL_BYTES)..];
        let overflow = (inner.bytes.len() + keep.len()).saturating_sub(TAIL_BYTES);
        inner.bytes.drain(..overflow);
        inner.bytes.extend(keep);
    }

    /// The kept bytes as (lossy) text.
    pub fn text(&self) -> String {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (a, b) = inner.bytes.as_slices();
        let mut all = Vec::with_capacity(a.len() + b.len());
        all.extend_from_slice(a);
        all.extend_from_slice(b);
        String::from_utf8_lossy(&all).into_owned()
    }

    /// Bytes written in all, including those no longer kept.
    pub fn total(&self) -> u64 {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).total
    }

    /// Forgets everything (a reused instance starts each call clean).
    pub fn clear(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.bytes.clear();
        inner.total = 0;
    }
}

impl IsTerminal for Tail {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Tail {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Tail {
    async fn ready(&mut self) {}
}

impl OutputStream for Tail {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for Tail {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Extracts the message of a Rust panic from a stderr tail, e.g.
/// `thread 'main' panicked at src/lib.rs:3:5:\nboom\nnote: ...` gives `boom`.
pub fn panic_message(stderr: &str) -> Option<String> {
    let start = stderr.rfind("panicked at ")?;
    let after = &stderr[start..];
    // The location line ends with ":\n" (Rust 1.73+); the message follows.
    let body = after.split_once('\n').map_or("", |(_, rest)| rest);
    let message: Vec<&str> = body
        .lines()
        .take_while(|line| {
            !line.starts_with("note: run with `RUST_BACKTRACE")
                && !line.starts_with("stack backtrace:")
        })
        .collect();
    let message = message.join("\n").trim().to_owned();
    Some(if message.is_empty() {
        "(no message)".to_owned()
    } else {
        message
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_end_and_counts_everything() {
        let tail = Tail::default();
        tail.push(&vec![b'a'; TAIL_BYTES]);
        tail.push(b"end");
        assert_eq!(tail.total(), TAIL_BYTES as u64 + 3);
        let text = tail.text();
        assert_eq!(text.len(), TAIL_BYTES);
        assert!(text.ends_with("aend"));
    }

    #[test]
    fn panic_message_is_found() {
        let stderr = "noise\nthread '<unnamed>' panicked at src/lib.rs:10:9:\nthe answer is 41\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(panic_message(stderr).as_deref(), Some("the answer is 41"));
        assert_eq!(panic_message("all fine"), None);
    }
}
