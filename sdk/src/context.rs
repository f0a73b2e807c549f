//! What the host offers an operation while it runs.

use std::collections::BTreeMap;

use crate::__private::bindings::toolhost::plugin::{host, types};

/// Severity of a log message, as in MCP (RFC 5424 severities), lowest first.
///
/// ```
/// use toolhost_sdk::Level;
/// assert!(Level::Warning > Level::Info);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Detailed information for debugging.
    Debug,
    /// Normal operational messages.
    Info,
    /// Normal but significant events.
    Notice,
    /// Something unexpected that the operation recovered from.
    Warning,
    /// The operation could not do part of its work.
    Error,
    /// A critical condition.
    Critical,
    /// Action must be taken immediately.
    Alert,
    /// The system is unusable.
    Emergency,
}

impl From<Level> for types::Level {
    fn from(level: Level) -> Self {
        match level {
            Level::Debug => types::Level::Debug,
            Level::Info => types::Level::Info,
            Level::Notice => types::Level::Notice,
            Level::Warning => types::Level::Warning,
            Level::Error => types::Level::Error,
            Level::Critical => types::Level::Critical,
            Level::Alert => types::Level::Alert,
            Level::Emergency => types::Level::Emergency,
        }
    }
}

/// The running call's link to the host: logging, progress, cancellation and
/// per-group configuration. Take `ctx: &Context` as the first parameter of an
/// operation to get one.
///
/// ```
/// use toolhost_sdk::prelude::*;
///
/// /// Long-running work.
/// #[group(name = "batch")]
/// mod batch {
///     use super::*;
///
///     /// Process every item, reporting progress; stops early when cancelled.
///     #[operation]
///     pub fn process(ctx: &Context) -> Result<u32, ToolError> {
///         let limit: u32 = ctx.config("limit").map(|v| v.parse()).transpose()?.unwrap_or(100);
///         for done in 0..limit {
///             if ctx.cancelled() {
///                 return Err(ToolError::unavailable("cancelled by the caller"));
///             }
///             ctx.progress(done as f64, Some(limit as f64), None);
///         }
///         ctx.info(format!("processed {limit} items"));
///         Ok(limit)
///     }
/// }
/// # fn main() {}
/// ```
///
/// Outside a host (unit tests), use [`Context::detached`].
#[derive(Debug)]
pub struct Context {
    detached: Option<Detached>,
}

/// State of a context that is not connected to a host.
#[derive(Debug, Default)]
struct Detached {
    config: BTreeMap<String, String>,
    cancelled: bool,
}

impl Context {
    /// The context of a call made by the host.
    pub(crate) fn from_host() -> Self {
        Context { detached: None }
    }

    /// A context that is not connected to a host, for calling operations in
    /// native unit tests: log messages go to stderr, progress is dropped,
    /// the call is never cancelled and configuration comes from
    /// [`with_config`](Self::with_config).
    ///
    /// ```
    /// use toolhost_sdk::Context;
    ///
    /// let ctx = Context::detached().with_config("greeting", "hello");
    /// assert_eq!(ctx.config("greeting").as_deref(), Some("hello"));
    /// assert_eq!(ctx.config("missing"), None);
    /// assert!(!ctx.cancelled());
    /// ```
    pub fn detached() -> Self {
        Context {
            detached: Some(Detached::default()),
        }
    }

    /// Set a configuration value of a [detached](Self::detached) context.
    /// On a context given by the host it has no effect.
    ///
    /// ```
    /// # use toolhost_sdk::Context;
    /// let ctx = Context::detached().with_config("limit", "10");
    /// assert_eq!(ctx.config("limit").as_deref(), Some("10"));
    /// ```
    pub fn with_config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        if let Some(detached) = &mut self.detached {
            detached.config.insert(key.into(), value.into());
        }
        self
    }

    /// Mark a [detached](Self::detached) context as cancelled, to test how an
    /// operation stops early. On a context given by the host it has no effect.
    ///
    /// ```
    /// # use toolhost_sdk::Context;
    /// assert!(Context::detached().with_cancelled(true).cancelled());
    /// ```
    pub fn with_cancelled(mut self, cancelled: bool) -> Self {
        if let Some(detached) = &mut self.detached {
            detached.cancelled = cancelled;
        }
        self
    }

    /// Write a log message. The host writes it to its log and forwards it to
    /// MCP clients as `notifications/message`.
    ///
    /// ```no_run
    /// # use toolhost_sdk::{Context, Level};
    /// # let ctx = Context::detached();
    /// ctx.log(Level::Notice, "cache was cold; this call is slower");
    /// ```
    pub fn log(&self, level: Level, message: impl AsRef<str>) {
        match &self.detached {
            None => host::log(level.into(), message.as_ref()),
            Some(_) => eprintln!("[{level:?}] {}", message.as_ref()),
        }
    }

    /// Log at [`Level::Debug`].
    ///
    /// ```no_run
    /// # let ctx = toolhost_sdk::Context::detached();
    /// ctx.debug("parsed 3 rows");
    /// ```
    pub fn debug(&self, message: impl AsRef<str>) {
        self.log(Level::Debug, message);
    }

    /// Log at [`Level::Info`].
    ///
    /// ```no_run
    /// # let ctx = toolhost_sdk::Context::detached();
    /// ctx.info("imported 3 rows");
    /// ```
    pub fn info(&self, message: impl AsRef<str>) {
        self.log(Level::Info, message);
    }

    /// Log at [`Level::Warning`].
    ///
    /// ```no_run
    /// # let ctx = toolhost_sdk::Context::detached();
    /// ctx.warn("row 7 has no id; skipped");
    /// ```
    pub fn warn(&self, message: impl AsRef<str>) {
        self.log(Level::Warning, message);
    }

    /// Log at [`Level::Error`].
    ///
    /// ```no_run
    /// # let ctx = toolhost_sdk::Context::detached();
    /// ctx.error("could not read row 9");
    /// ```
    pub fn error(&self, message: impl AsRef<str>) {
        self.log(Level::Error, message);
    }

    /// Report progress: `done` units out of `total` (when known), with an
    /// optional message. The host forwards it as `notifications/progress`
    /// when the caller asked for progress, and drops it otherwise.
    ///
    /// ```no_run
    /// # let ctx = toolhost_sdk::Context::detached();
    /// ctx.progress(3.0, Some(10.0), Some("downloading"));
    /// ```
    pub fn progress(&self, done: f64, total: Option<f64>, message: Option<&str>) {
        if self.detached.is_none() {
            host::progress(done, total, message);
        }
    }

    /// Whether the caller has cancelled this call. A long operation should
    /// check it regularly and stop early; its result is then discarded.
    ///
    /// ```no_run
    /// # let ctx = toolhost_sdk::Context::detached();
    /// for chunk in 0..100 {
    ///     if ctx.cancelled() {
    ///         break;
    ///     }
    ///     // ... work on `chunk` ...
    /// }
    /// ```
    pub fn cancelled(&self) -> bool {
        match &self.detached {
            None => host::cancelled(),
            Some(detached) => detached.cancelled,
        }
    }

    /// Read a per-group setting from the host's configuration, `None` when
    /// it is not set.
    ///
    /// ```no_run
    /// # let ctx = toolhost_sdk::Context::detached();
    /// let base_url = ctx.config("base_url").unwrap_or_else(|| "https://example.org".into());
    /// ```
    pub fn config(&self, key: &str) -> Option<String> {
        match &self.detached {
            None => host::config(key),
            Some(detached) => detached.config.get(key).cloned(),
        }
    }
}
