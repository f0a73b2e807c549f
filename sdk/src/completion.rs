//! What a `#[complete]` function receives and returns.

use crate::ToolError;

/// The most values a completion carries (MCP's limit); the rest are
/// counted in [`Completion::total`].
pub const MAX_COMPLETION_VALUES: usize = 100;

/// Suggested values for an argument, best first.
///
/// ```
/// use toolhost_sdk::Completion;
///
/// let languages = ["python", "pytorch", "rust", "ruby"];
/// let completion = Completion::matching(languages, "py");
/// assert_eq!(completion.values, ["python", "pytorch"]);
/// assert_eq!(completion.total, Some(2));
/// assert!(!completion.has_more);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Completion {
    /// The suggestions, at most [`MAX_COMPLETION_VALUES`].
    pub values: Vec<String>,
    /// How many values exist in all, when known.
    pub total: Option<u32>,
    /// Whether there are more values than those in `values`.
    pub has_more: bool,
}

impl Completion {
    /// Exactly these values (cut to [`MAX_COMPLETION_VALUES`], with `total`
    /// and `has_more` saying so).
    ///
    /// ```
    /// # use toolhost_sdk::Completion;
    /// let completion = Completion::new(["a", "b"]);
    /// assert_eq!(completion.total, Some(2));
    /// let many = Completion::new((0..150).map(|n| n.to_string()));
    /// assert_eq!((many.values.len(), many.total, many.has_more), (100, Some(150), true));
    /// ```
    pub fn new<S: Into<String>>(values: impl IntoIterator<Item = S>) -> Self {
        let mut values: Vec<String> = values.into_iter().map(Into::into).collect();
        let total = values.len();
        values.truncate(MAX_COMPLETION_VALUES);
        Completion {
            has_more: total > values.len(),
            total: u32::try_from(total).ok(),
            values,
        }
    }

    /// The candidates that start with what the user typed, ignoring ASCII
    /// case, in the candidates' order.
    ///
    /// ```
    /// # use toolhost_sdk::Completion;
    /// let completion = Completion::matching(["Alpha", "beta", "alpine"], "AL");
    /// assert_eq!(completion.values, ["Alpha", "alpine"]);
    /// ```
    pub fn matching<S: AsRef<str>>(candidates: impl IntoIterator<Item = S>, typed: &str) -> Self {
        let typed = typed.to_ascii_lowercase();
        Completion::new(
            candidates
                .into_iter()
                .filter(|candidate| candidate.as_ref().to_ascii_lowercase().starts_with(&typed))
                .map(|candidate| candidate.as_ref().to_owned()),
        )
    }
}

/// Values of the other arguments the user already chose, which a
/// completion may depend on (MCP's `context.arguments`).
///
/// ```
/// use toolhost_sdk::CompletionContext;
///
/// let context = CompletionContext::from_iter([("owner", "rust-lang")]);
/// assert_eq!(context.argument("owner"), Some("rust-lang"));
/// assert_eq!(context.argument("repo"), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompletionContext {
    arguments: Vec<(String, String)>,
}

impl CompletionContext {
    /// The value chosen for argument `name`, if any.
    ///
    /// ```
    /// # use toolhost_sdk::CompletionContext;
    /// assert_eq!(CompletionContext::default().argument("x"), None);
    /// ```
    pub fn argument(&self, name: &str) -> Option<&str> {
        self.arguments
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Every (name, value) chosen.
    ///
    /// ```
    /// # use toolhost_sdk::CompletionContext;
    /// let context = CompletionContext::from_iter([("a", "1"), ("b", "2")]);
    /// assert_eq!(context.iter().count(), 2);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.arguments
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for CompletionContext {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        CompletionContext {
            arguments: iter
                .into_iter()
                .map(|(key, value)| (key.into(), value.into()))
                .collect(),
        }
    }
}

/// What a `#[complete]` function may return. Implemented for
/// `Vec<String>`, `Vec<&str>` (each as [`Completion::new`]) and
/// [`Completion`]; a function may also return `Result<R, E>` for any such
/// `R`, with `ToolError: From<E>`.
///
/// ```
/// use toolhost_sdk::IntoCompletion;
///
/// let completion = vec!["a", "b"].into_completion().unwrap();
/// assert_eq!(completion.values, ["a", "b"]);
/// ```
pub trait IntoCompletion {
    /// The completion.
    fn into_completion(self) -> Result<Completion, ToolError>;
}

impl IntoCompletion for Completion {
    fn into_completion(self) -> Result<Completion, ToolError> {
        Ok(self)
    }
}

impl IntoCompletion for Vec<String> {
    fn into_completion(self) -> Result<Completion, ToolError> {
        Ok(Completion::new(self))
    }
}

impl IntoCompletion for Vec<&str> {
    fn into_completion(self) -> Result<Completion, ToolError> {
        Ok(Completion::new(self))
    }
}
