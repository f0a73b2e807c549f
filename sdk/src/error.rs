//! Errors an operation returns to the caller.

use std::fmt;

/// Why an operation failed. The host tells the model which kind it was, so
/// pick the one that says what the model should do next.
///
/// ```
/// use toolhost_sdk::{ErrorKind, ToolError};
///
/// let err = ToolError::not_found("no user with id 42");
/// assert_eq!(err.kind(), ErrorKind::NotFound);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The arguments were well-formed but not acceptable: fix them and retry.
    InvalidArguments,
    /// The thing the arguments referred to does not exist.
    NotFound,
    /// The caller is not allowed to do this.
    Denied,
    /// The operation is temporarily unavailable; retrying later may help.
    Unavailable,
    /// The operation ran and failed.
    Failed,
}

impl ErrorKind {
    /// A short lowercase name, as used in the contract (`invalid-arguments`, ...).
    ///
    /// ```
    /// assert_eq!(toolhost_sdk::ErrorKind::NotFound.as_str(), "not-found");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidArguments => "invalid-arguments",
            ErrorKind::NotFound => "not-found",
            ErrorKind::Denied => "denied",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Failed => "failed",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed call: a [kind](ErrorKind) and a message shown to the model.
///
/// Write the message for the reader who has to act on it: say what was wrong
/// and what to do instead ("`b` must not be zero", not "division error").
///
/// `?` converts common error types (see the `From` impls below). For any
/// other error, choose the kind yourself:
///
/// ```
/// use toolhost_sdk::ToolError;
///
/// fn parse_port(text: &str) -> Result<u16, ToolError> {
///     text.parse::<u16>()
///         .map_err(|err| ToolError::invalid_arguments(format!("port `{text}`: {err}")))
/// }
/// assert!(parse_port("80").is_ok());
/// assert_eq!(
///     parse_port("x").unwrap_err().message(),
///     "port `x`: invalid digit found in string"
/// );
/// ```
///
/// or use [`ResultExt`](crate::ResultExt) to map any `Display` error to a kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolError {
    kind: ErrorKind,
    message: String,
}

impl ToolError {
    /// An error of the given kind.
    ///
    /// ```
    /// use toolhost_sdk::{ErrorKind, ToolError};
    /// let err = ToolError::new(ErrorKind::Denied, "read-only mode");
    /// assert_eq!(err.kind(), ErrorKind::Denied);
    /// ```
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ToolError {
            kind,
            message: message.into(),
        }
    }

    /// The arguments were well-formed but not acceptable.
    ///
    /// ```
    /// # use toolhost_sdk::ToolError;
    /// let err = ToolError::invalid_arguments("b must not be zero");
    /// ```
    pub fn invalid_arguments(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArguments, message)
    }

    /// The thing the arguments referred to does not exist.
    ///
    /// ```
    /// # use toolhost_sdk::ToolError;
    /// let err = ToolError::not_found("no value at `/a/b`");
    /// ```
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// The caller is not allowed to do this.
    ///
    /// ```
    /// # use toolhost_sdk::ToolError;
    /// let err = ToolError::denied("deleting is disabled in this deployment");
    /// ```
    pub fn denied(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Denied, message)
    }

    /// The operation is temporarily unavailable; retrying may help.
    ///
    /// ```
    /// # use toolhost_sdk::ToolError;
    /// let err = ToolError::unavailable("the index is being rebuilt; retry in a minute");
    /// ```
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    /// The operation ran and failed.
    ///
    /// ```
    /// # use toolhost_sdk::ToolError;
    /// let err = ToolError::failed("the result does not fit in 64 bits");
    /// ```
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Failed, message)
    }

    /// Why the call failed.
    ///
    /// ```
    /// # use toolhost_sdk::{ErrorKind, ToolError};
    /// assert_eq!(ToolError::failed("x").kind(), ErrorKind::Failed);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message shown to the model.
    ///
    /// ```
    /// # use toolhost_sdk::ToolError;
    /// assert_eq!(ToolError::failed("disk full").message(), "disk full");
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Shows the message only; the kind is reported separately ([`ToolError::kind`]).
impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ToolError {}

/// A plain message is a [`ErrorKind::Failed`] error, so that
/// `Err("message")?` and `.ok_or("message")?` work.
impl From<&str> for ToolError {
    fn from(message: &str) -> Self {
        ToolError::failed(message)
    }
}

/// A plain message is a [`ErrorKind::Failed`] error.
impl From<String> for ToolError {
    fn from(message: String) -> Self {
        ToolError::failed(message)
    }
}

/// Malformed or mistyped JSON is an [`ErrorKind::InvalidArguments`] error
/// (it almost always comes from the caller); an I/O failure while reading
/// JSON is [`ErrorKind::Failed`].
impl From<serde_json::Error> for ToolError {
    fn from(err: serde_json::Error) -> Self {
        let kind = if err.is_io() {
            ErrorKind::Failed
        } else {
            ErrorKind::InvalidArguments
        };
        ToolError::new(kind, err.to_string())
    }
}

/// `NotFound` and `PermissionDenied` keep their meaning; every other I/O
/// error is [`ErrorKind::Failed`].
impl From<std::io::Error> for ToolError {
    fn from(err: std::io::Error) -> Self {
        let kind = match err.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            std::io::ErrorKind::PermissionDenied => ErrorKind::Denied,
            _ => ErrorKind::Failed,
        };
        ToolError::new(kind, err.to_string())
    }
}

/// Formatting into a `String` failed.
impl From<std::fmt::Error> for ToolError {
    fn from(err: std::fmt::Error) -> Self {
        ToolError::failed(err.to_string())
    }
}

macro_rules! parse_errors_are_invalid_arguments {
    ($($ty:ty),* $(,)?) => {$(
        /// Parsing text the caller supplied failed: an
        /// [`ErrorKind::InvalidArguments`] error.
        impl From<$ty> for ToolError {
            fn from(err: $ty) -> Self {
                ToolError::invalid_arguments(err.to_string())
            }
        }
    )*};
}

parse_errors_are_invalid_arguments!(
    std::num::ParseIntError,
    std::num::ParseFloatError,
    std::num::TryFromIntError,
    std::str::ParseBoolError,
    std::char::ParseCharError,
    std::str::Utf8Error,
    std::string::FromUtf8Error,
);

/// Turn any `Result` whose error is `Display` into a `Result<T, ToolError>`
/// of the kind you choose; the message is the error's `Display` text.
///
/// ```
/// use toolhost_sdk::{ErrorKind, ResultExt, ToolError};
///
/// fn port(text: &str) -> Result<u16, ToolError> {
///     text.parse::<u16>().or_invalid_arguments()
/// }
/// let err = port("70000").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::InvalidArguments);
/// assert_eq!(err.message(), "number too large to fit in target type");
/// ```
pub trait ResultExt<T> {
    /// Map the error to a [`ToolError`] of `kind`.
    fn or_tool_error(self, kind: ErrorKind) -> Result<T, ToolError>;

    /// Map the error to [`ToolError::invalid_arguments`].
    fn or_invalid_arguments(self) -> Result<T, ToolError>
    where
        Self: Sized,
    {
        self.or_tool_error(ErrorKind::InvalidArguments)
    }

    /// Map the error to [`ToolError::not_found`].
    fn or_not_found(self) -> Result<T, ToolError>
    where
        Self: Sized,
    {
        self.or_tool_error(ErrorKind::NotFound)
    }

    /// Map the error to [`ToolError::denied`].
    fn or_denied(self) -> Result<T, ToolError>
    where
        Self: Sized,
    {
        self.or_tool_error(ErrorKind::Denied)
    }

    /// Map the error to [`ToolError::unavailable`].
    fn or_unavailable(self) -> Result<T, ToolError>
    where
        Self: Sized,
    {
        self.or_tool_error(ErrorKind::Unavailable)
    }

    /// Map the error to [`ToolError::failed`].
    fn or_failed(self) -> Result<T, ToolError>
    where
        Self: Sized,
    {
        self.or_tool_error(ErrorKind::Failed)
    }
}

impl<T, E: fmt::Display> ResultExt<T> for Result<T, E> {
    fn or_tool_error(self, kind: ErrorKind) -> Result<T, ToolError> {
        self.map_err(|err| ToolError::new(kind, err.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn question_mark_conversions_pick_the_kind_a_caller_can_act_on() {
        let bad_number: ToolError = "x".parse::<i32>().unwrap_err().into();
        assert_eq!(bad_number.kind(), ErrorKind::InvalidArguments);

        let bad_json: ToolError = serde_json::from_str::<i32>("{").unwrap_err().into();
        assert_eq!(bad_json.kind(), ErrorKind::InvalidArguments);

        let missing: ToolError = std::io::Error::from(std::io::ErrorKind::NotFound).into();
        assert_eq!(missing.kind(), ErrorKind::NotFound);

        let plain: ToolError = "boom".into();
        assert_eq!(plain.kind(), ErrorKind::Failed);
        assert_eq!(plain.to_string(), "boom");
    }
}
