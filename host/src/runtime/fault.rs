//! What went wrong, in words a user can act on.
//!
//! A failed call becomes a [`Fault`]: which group, which limit or trap, and
//! the setting to change when the limit was expected. A file that cannot be
//! served becomes a [`LoadError`] naming the file and the reason.

use std::fmt;
use std::path::Path;

use wasmtime::Trap;

use super::Output;
use super::capture::panic_message;
use super::state::CallState;
use crate::config::{ByteSize, Limits, format_duration};

/// A call that did not produce a result.
#[derive(Debug, Clone)]
pub struct Fault {
    pub group: std::sync::Arc<str>,
    pub limits: Limits,
    pub kind: FaultKind,
}

/// The kinds of [`Fault`].
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    OutOfFuel,
    Timeout,
    OutOfMemory {
        requested: u64,
    },
    StackOverflow,
    Panic {
        message: String,
    },
    Trap {
        trap: String,
        stderr: String,
    },
    InvalidOutput {
        reason: String,
    },
    /// `size` is unknown when the copy was refused before it happened.
    OutputTooLarge {
        size: Option<u64>,
    },
    Cancelled,
    Instantiate(String),
    ShuttingDown,
    Host(String),
    /// An upstream MCP server failed the request (it is not a plugin, and
    /// none of a plugin's limits apply): `label` for metrics, and what
    /// happened, said in full.
    Upstream {
        label: &'static str,
        reason: String,
    },
    /// The call could not start within its timeout: something it needs was
    /// in use by other calls.
    Busy {
        waited: std::time::Duration,
        busy: Busy,
    },
}

/// What a call waited for in vain.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Busy {
    /// The group's own call slots (their number).
    GroupCalls(u32),
    /// The host's call slots (their number).
    HostCalls(u32),
    /// The host's guest memory budget (bytes).
    Memory(u64),
    /// The group's one kept instance (`instances = "reuse"`).
    Instance,
}

impl FaultKind {
    /// A short stable name, for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            FaultKind::OutOfFuel => "fuel",
            FaultKind::Timeout => "timeout",
            FaultKind::OutOfMemory { .. } => "memory",
            FaultKind::StackOverflow => "stack",
            FaultKind::Panic { .. } => "panic",
            FaultKind::Trap { .. } => "trap",
            FaultKind::InvalidOutput { .. } => "invalid_output",
            FaultKind::OutputTooLarge { .. } => "output_too_large",
            FaultKind::Cancelled => "cancelled",
            FaultKind::Instantiate(_) => "instantiate",
            FaultKind::ShuttingDown => "shutdown",
            FaultKind::Host(_) => "host",
            FaultKind::Busy { .. } => "busy",
            FaultKind::Upstream { label, .. } => label,
        }
    }

    /// The message when the group failed while describing itself at load
    /// time, before it has a name or a policy.
    pub fn describe_at_load(&self) -> String {
        match self {
            FaultKind::Panic { message } => format!("it panicked: {message}"),
            FaultKind::Trap { trap, .. } => format!("it trapped: {trap}"),
            FaultKind::OutOfFuel => "it ran out of fuel".to_owned(),
            FaultKind::Timeout => "it took too long".to_owned(),
            FaultKind::OutOfMemory { .. } => "it ran out of memory".to_owned(),
            FaultKind::StackOverflow => "it hit a stack overflow".to_owned(),
            other => other.describe("(loading)", &Limits::default()),
        }
    }

    /// The message for group `group` running under `limits`.
    pub fn describe(&self, group: &str, limits: &Limits) -> String {
        match self {
            FaultKind::OutOfFuel => format!(
                "plugin `{group}` ran out of fuel after {} units (limit: groups.{group}.fuel or --fuel); \
                 raise it if this much work is expected",
                limits.fuel
            ),
            FaultKind::Timeout => format!(
                "plugin `{group}` timed out after {} (limit: groups.{group}.timeout or --timeout); \
                 raise it if the operation is expected to take longer",
                format_duration(limits.timeout)
            ),
            FaultKind::OutOfMemory { requested } => format!(
                "plugin `{group}` ran out of memory: it asked for {} of linear memory, over the limit of {} \
                 (limit: groups.{group}.memory or --memory)",
                ByteSize(*requested),
                ByteSize(limits.memory)
            ),
            FaultKind::StackOverflow => format!(
                "plugin `{group}` hit a stack overflow (limit: {} of wasm stack, groups.{group}.stack); \
                 deep recursion in the plugin is the usual cause",
                ByteSize(limits.stack)
            ),
            FaultKind::Panic { message } => {
                format!("plugin `{group}` panicked: {}", printable(message))
            }
            FaultKind::Trap { trap, stderr } => {
                let mut text = format!("plugin `{group}` trapped: {trap}");
                let stderr = stderr.trim();
                if !stderr.is_empty() {
                    let start = stderr.len().saturating_sub(2000);
                    let start = (start..stderr.len())
                        .find(|i| stderr.is_char_boundary(*i))
                        .unwrap_or(0);
                    text.push_str(&format!(
                        "; its stderr ended with: {}",
                        printable(&stderr[start..])
                    ));
                }
                text
            }
            FaultKind::InvalidOutput { reason } => {
                format!("plugin `{group}` returned invalid output: {reason}")
            }
            FaultKind::OutputTooLarge { size } => format!(
                "plugin `{group}` returned output too large: {}over the limit of {} \
                 (limit: groups.{group}.max_output); ask for less, e.g. a narrower query",
                size.map(|n| format!("{}, ", ByteSize(n)))
                    .unwrap_or_default(),
                ByteSize(limits.max_output)
            ),
            FaultKind::Cancelled => format!("call to plugin `{group}` was cancelled"),
            FaultKind::Instantiate(reason) => {
                format!("plugin `{group}` could not be started: {reason}")
            }
            FaultKind::ShuttingDown => "the server is shutting down".to_owned(),
            FaultKind::Host(reason) => format!("internal error running plugin `{group}`: {reason}"),
            FaultKind::Upstream { reason, .. } => format!("upstream `{group}` {reason}"),
            FaultKind::Busy { waited, busy } => {
                let what = match busy {
                    Busy::GroupCalls(n) => format!(
                        "all {n} call slots of the group were in use \
                         (limit: groups.{group}.max_concurrent_calls)"
                    ),
                    Busy::HostCalls(n) => format!(
                        "all {n} call slots of the host were in use \
                         (limit: server.max_concurrent_calls)"
                    ),
                    Busy::Memory(budget) => format!(
                        "the host's guest memory budget of {} was reserved by other calls \
                         (limit: server.memory_budget; each call reserves groups.{group}.memory)",
                        ByteSize(*budget)
                    ),
                    Busy::Instance => format!(
                        "its one instance was busy with other calls \
                         (groups.{group}.instances = \"reuse\" runs one call at a time)"
                    ),
                };
                format!(
                    "plugin `{group}` could not start within its timeout of {} (waited {}): {what}; \
                     try again later",
                    format_duration(limits.timeout),
                    format_duration(*waited)
                )
            }
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.kind.describe(&self.group, &self.limits))
    }
}

impl std::error::Error for Fault {}

/// Turns a wasmtime error from a call into what happened.
pub fn classify(error: &wasmtime::Error, state: &CallState, limits: &Limits) -> FaultKind {
    let stderr = state.stderr.text();
    if format!("{error:#}").contains("too much data is being copied between the host and the guest")
    {
        return FaultKind::OutputTooLarge { size: None };
    }
    if let Some(trap) = error.downcast_ref::<Trap>() {
        match trap {
            Trap::OutOfFuel => return FaultKind::OutOfFuel,
            Trap::Interrupt => return FaultKind::Timeout,
            Trap::StackOverflow => return FaultKind::StackOverflow,
            _ => {}
        }
        if let Some(requested) = state.limiter.denied {
            return FaultKind::OutOfMemory { requested };
        }
        if let Some(message) = panic_message(&stderr) {
            return FaultKind::Panic { message };
        }
        if stderr.contains("memory allocation of") {
            return FaultKind::OutOfMemory {
                requested: limits.memory,
            };
        }
        return FaultKind::Trap {
            trap: trap.to_string(),
            stderr,
        };
    }
    if let Some(requested) = state.limiter.denied {
        return FaultKind::OutOfMemory { requested };
    }
    let text = format!("{error:#}");
    if text.contains("utf-8") || text.contains("utf8") || text.contains("UTF-8") {
        return FaultKind::InvalidOutput {
            reason: format!("a string is not valid UTF-8 ({text})"),
        };
    }
    FaultKind::Trap { trap: text, stderr }
}

/// Checks a result against the output limits and JSON well-formedness.
/// Bytes a piece of content takes on the wire: every field, strings as
/// JSON-escaped, binary data as base64.
pub fn content_size(content: &super::Content) -> u64 {
    use super::Content;
    match content {
        Content::Text(text) => encoded_len(text),
        Content::Image(media) | Content::Audio(media) => {
            base64_len(media.data.len()) + encoded_len(&media.mime_type)
        }
        Content::Resource(resource) => resource_size(resource),
        Content::Link(link) => {
            encoded_len(&link.uri)
                + encoded_len(&link.name)
                + optional_len(&link.description)
                + optional_len(&link.title)
                + optional_len(&link.mime_type)
        }
    }
}

/// Bytes an embedded resource takes on the wire.
pub fn resource_size(resource: &super::EmbeddedResource) -> u64 {
    use super::ResourceContents;
    encoded_len(&resource.uri)
        + optional_len(&resource.mime_type)
        + match &resource.contents {
            ResourceContents::Text(text) => encoded_len(text),
            ResourceContents::Blob(blob) => base64_len(blob.len()),
        }
}

fn optional_len(text: &Option<String>) -> u64 {
    text.as_deref().map_or(0, encoded_len)
}

/// Length of `text` as a JSON string body: quotes and backslashes take
/// two bytes, other control characters up to six.
pub fn encoded_len(text: &str) -> u64 {
    text.bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..0x20 => 6,
            _ => 1,
        })
        .sum()
}

fn base64_len(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(3) * 4
}

/// Checks a result against the output limits and JSON well-formedness. A
/// structured result with no other content is also sent as text, escaped.
pub fn check_output(output: &Output, limits: &Limits) -> Result<(), FaultKind> {
    let structured = output.structured.as_deref().map_or(0, |s| {
        let as_text = if output.content.is_empty() {
            encoded_len(s)
        } else {
            0
        };
        s.len() as u64 + as_text
    });
    let size = structured + output.content.iter().map(content_size).sum::<u64>();
    if size > limits.max_output {
        return Err(FaultKind::OutputTooLarge { size: Some(size) });
    }
    if let Some(structured) = &output.structured
        && let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(structured)
    {
        return Err(FaultKind::InvalidOutput {
            reason: format!("structured result is not valid JSON ({e})"),
        });
    }
    Ok(())
}

/// A file that could not be loaded as a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// What could not be loaded or served.
    pub source: crate::source::SourceId,
    pub reason: String,
}

impl LoadError {
    /// A file that could not be loaded.
    pub fn new(path: &Path, reason: impl Into<String>) -> Self {
        Self::of(crate::source::SourceId::file(path), reason)
    }

    /// A source that could not be loaded or served.
    pub fn of(source: crate::source::SourceId, reason: impl Into<String>) -> Self {
        Self {
            source,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.reason)
    }
}

impl std::error::Error for LoadError {}

/// Tells apart "not wasm", "a core module" and "a component" before
/// compiling, so the error says which.
pub fn check_header(bytes: &[u8]) -> Result<(), String> {
    const HINT: &str = "build the plugin with `cargo build --release --target wasm32-wasip2`";
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(if bytes.is_empty() {
            "the file is empty (still being written?)".to_owned()
        } else {
            format!("not a WebAssembly file (it does not start with \\0asm); {HINT}")
        });
    }
    match bytes[4..8] {
        [1, 0, 0, 0] => Err(format!(
            "a core WebAssembly module, not a component; {HINT}"
        )),
        [_, _, 1, 0] => Ok(()),
        _ => Err("an unknown WebAssembly version or layer".to_owned()),
    }
}

pub fn describe_compile_error(error: &wasmtime::Error) -> String {
    format!("not a valid component (truncated or corrupt?): {error:#}")
}

pub fn describe_link_error(error: &wasmtime::Error) -> String {
    format!(
        "the component needs imports toolhost does not provide (only WASI 0.2 and toolhost:plugin/host are available): {error:#}"
    )
}

pub fn describe_world_error(error: &wasmtime::Error) -> String {
    format!(
        "not a toolhost service group: it does not export `toolhost:plugin/group@0.1.0` ({error:#}); \
         build it with toolhost-sdk"
    )
}

/// Plugin text made safe to show: control characters other than newline
/// and tab are escaped, so a panic message cannot carry terminal control
/// sequences (ESC, BEL) to a client or an operator's terminal.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\t' => c.to_string(),
            c if c.is_control() => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_size_counts_every_field_as_sent() {
        use super::super::{Content, ResourceLink};
        let limits = Limits {
            max_output: 1000,
            ..Limits::default()
        };
        // A link whose MIME type carries the bulk is counted.
        let link = Content::Link(ResourceLink {
            uri: "x://a".into(),
            name: "a".into(),
            title: None,
            description: None,
            mime_type: Some("m".repeat(2000)),
            size: None,
        });
        let output = Output {
            content: vec![link],
            structured: None,
        };
        assert!(matches!(
            check_output(&output, &limits),
            Err(FaultKind::OutputTooLarge { .. })
        ));
        // Control characters count as their JSON escapes (six bytes each).
        let controls = Output {
            content: vec![Content::Text("\u{1}".repeat(200))],
            structured: None,
        };
        assert_eq!(encoded_len(&"\u{1}".repeat(200)), 1200);
        assert!(check_output(&controls, &limits).is_err());
        // Structured output alone is also sent as escaped text.
        let structured = Output {
            content: Vec::new(),
            structured: Some(format!("{{\"a\":\"{}\"}}", "q".repeat(500))),
        };
        assert!(check_output(&structured, &limits).is_err());
    }

    #[test]
    fn plugin_text_shown_to_clients_has_no_control_characters() {
        let shown = printable("boom\u{1b}[2J\u{7}\nnext\tline");
        assert!(
            !shown.contains('\u{1b}') && !shown.contains('\u{7}'),
            "{shown}"
        );
        assert!(
            shown.contains("\\u{1b}") && shown.contains("\nnext\tline"),
            "{shown}"
        );
    }

    #[test]
    fn headers_are_told_apart() {
        assert!(check_header(b"").unwrap_err().contains("empty"));
        assert!(
            check_header(b"hello world")
                .unwrap_err()
                .contains("not a WebAssembly file")
        );
        assert!(
            check_header(b"\0asm\x01\0\0\0")
                .unwrap_err()
                .contains("core WebAssembly module")
        );
        assert!(check_header(b"\0asm\x0d\0\x01\0").is_ok());
    }

    #[test]
    fn messages_name_the_group_and_the_setting() {
        let limits = Limits::default();
        let text = FaultKind::OutOfFuel.describe("math", &limits);
        assert!(
            text.contains("plugin `math` ran out of fuel after 1000000000 units"),
            "{text}"
        );
        assert!(text.contains("groups.math.fuel"));
        let text = FaultKind::Timeout.describe("math", &limits);
        assert!(text.contains("timed out after 10s"), "{text}");
        let text = FaultKind::OutOfMemory {
            requested: 256 << 20,
        }
        .describe("m", &limits);
        assert!(
            text.contains("ran out of memory") && text.contains("128MiB"),
            "{text}"
        );
    }
}
