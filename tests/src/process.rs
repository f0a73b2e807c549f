//! What every harness does with a `toolhost` child process: record its
//! stderr, and record its stdout while the MCP client reads it, so that a
//! test can check that nothing but the protocol reached stdout.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt as _, ReadBuf};
use tokio::process::{Child, ChildStdout};

/// Bytes a child wrote to one of its streams, as they arrive.
pub type Recording = Arc<Mutex<Vec<u8>>>;

/// Records `child`'s stderr (which must be piped) in the background.
pub fn record_stderr(child: &mut Child) -> Recording {
    let record = Recording::default();
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let sink = record.clone();
    tokio::spawn(async move {
        let mut chunk = [0u8; 8192];
        while let Ok(n @ 1..) = stderr.read(&mut chunk).await {
            sink.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    record
}

/// `child`'s stdout (which must be piped), recorded as it is read.
pub fn recorded_stdout(child: &mut Child) -> (Recorder<ChildStdout>, Recording) {
    let record = Recording::default();
    let inner = child.stdout.take().expect("stdout is piped");
    (
        Recorder {
            inner,
            record: record.clone(),
        },
        record,
    )
}

/// The recording as text.
pub fn text_of(record: &Recording) -> String {
    String::from_utf8_lossy(&record.lock().unwrap()).into_owned()
}

/// Lines of a recorded stdout that are not JSON-RPC messages: any such line
/// means something other than the protocol reached stdout.
pub fn protocol_violations(stdout: &Recording) -> Vec<String> {
    text_of(stdout)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .filter(|line| {
            serde_json::from_str::<Value>(line).unwrap_or(Value::Null)["jsonrpc"] != "2.0"
        })
        .map(|line| line.chars().take(200).collect())
        .collect()
}

/// Copies what it reads into its recording.
pub struct Recorder<R> {
    inner: R,
    record: Recording,
}

impl<R: AsyncRead + Unpin> AsyncRead for Recorder<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        this.record
            .lock()
            .unwrap()
            .extend_from_slice(&buf.filled()[before..]);
        poll
    }
}
