//! Requests to the client's model (MCP sampling), made with
//! [`Context::sample`](crate::Context::sample).

use crate::{Content, Message, Role};

/// What to ask the client's model: the conversation so far and how to
/// generate the answer. A `&str` or `String` converts into a request with
/// that one user message.
///
/// ```
/// use toolhost_sdk::SamplingRequest;
///
/// let request = SamplingRequest::new()
///     .system_prompt("You are a terse reviewer.")
///     .user("Is `x = x + 1` idiomatic Rust?")
///     .max_tokens(200)
///     .temperature(0.2);
/// assert_eq!(request.messages.len(), 1);
///
/// let quick: SamplingRequest = "What is the capital of France?".into();
/// assert_eq!(quick.max_tokens, SamplingRequest::DEFAULT_MAX_TOKENS);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingRequest {
    /// The conversation so far.
    pub messages: Vec<Message>,
    /// A system prompt the client may use.
    pub system_prompt: Option<String>,
    /// Most tokens to generate.
    pub max_tokens: u32,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Sequences that stop generation.
    pub stop_sequences: Vec<String>,
    /// Model names the group would prefer, best first (hints only).
    pub model_hints: Vec<String>,
}

impl Default for SamplingRequest {
    fn default() -> Self {
        SamplingRequest {
            messages: Vec::new(),
            system_prompt: None,
            max_tokens: Self::DEFAULT_MAX_TOKENS,
            temperature: None,
            stop_sequences: Vec::new(),
            model_hints: Vec::new(),
        }
    }
}

impl SamplingRequest {
    /// `max_tokens` unless set otherwise.
    pub const DEFAULT_MAX_TOKENS: u32 = 1000;

    /// An empty request, with [`DEFAULT_MAX_TOKENS`](Self::DEFAULT_MAX_TOKENS).
    ///
    /// ```
    /// # use toolhost_sdk::SamplingRequest;
    /// let request = SamplingRequest::new().user("Hello");
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Append a message from the user.
    ///
    /// ```
    /// # use toolhost_sdk::SamplingRequest;
    /// let request = SamplingRequest::new().user("Name three primes.");
    /// ```
    pub fn user(self, content: impl Into<Content>) -> Self {
        self.message(Message::user(content))
    }

    /// Append a message from the model, e.g. an earlier answer.
    ///
    /// ```
    /// # use toolhost_sdk::SamplingRequest;
    /// let request = SamplingRequest::new().user("2+2?").assistant("4").user("And 3+3?");
    /// ```
    pub fn assistant(self, content: impl Into<Content>) -> Self {
        self.message(Message::assistant(content))
    }

    /// Append a message.
    ///
    /// ```
    /// # use toolhost_sdk::{Message, SamplingRequest};
    /// let request = SamplingRequest::new().message(Message::user("Hi"));
    /// ```
    pub fn message(mut self, message: Message) -> Self {
        self.messages.push(message);
        self
    }

    /// Set the system prompt.
    ///
    /// ```
    /// # use toolhost_sdk::SamplingRequest;
    /// let request = SamplingRequest::from("Hi").system_prompt("Answer in French.");
    /// ```
    pub fn system_prompt(mut self, prompt: impl Into<String>) -> Self {
        self.system_prompt = Some(prompt.into());
        self
    }

    /// Set the most tokens to generate.
    ///
    /// ```
    /// # use toolhost_sdk::SamplingRequest;
    /// let request = SamplingRequest::from("Hi").max_tokens(100);
    /// ```
    pub fn max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = max_tokens;
        self
    }

    /// Set the sampling temperature.
    ///
    /// ```
    /// # use toolhost_sdk::SamplingRequest;
    /// let request = SamplingRequest::from("Hi").temperature(0.0);
    /// ```
    pub fn temperature(mut self, temperature: f64) -> Self {
        self.temperature = Some(temperature);
        self
    }

    /// Add a sequence that stops generation.
    ///
    /// ```
    /// # use toolhost_sdk::SamplingRequest;
    /// let request = SamplingRequest::from("List fruit").stop_sequence("\n\n");
    /// ```
    pub fn stop_sequence(mut self, sequence: impl Into<String>) -> Self {
        self.stop_sequences.push(sequence.into());
        self
    }

    /// Add the name of a model the group would prefer (a hint; the client
    /// chooses).
    ///
    /// ```
    /// # use toolhost_sdk::SamplingRequest;
    /// let request = SamplingRequest::from("Hi").model_hint("claude");
    /// ```
    pub fn model_hint(mut self, model: impl Into<String>) -> Self {
        self.model_hints.push(model.into());
        self
    }
}

impl From<&str> for SamplingRequest {
    fn from(text: &str) -> Self {
        SamplingRequest::new().user(text)
    }
}

impl From<String> for SamplingRequest {
    fn from(text: String) -> Self {
        SamplingRequest::new().user(text)
    }
}

/// What the client's model answered.
///
/// ```
/// use toolhost_sdk::{Content, Role, SamplingResponse};
///
/// let response = SamplingResponse {
///     role: Role::Assistant,
///     content: Content::text("Paris"),
///     model: "test-model".into(),
///     stop_reason: Some("endTurn".into()),
/// };
/// assert_eq!(response.text(), Some("Paris"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingResponse {
    /// Who speaks (the model: [`Role::Assistant`]).
    pub role: Role,
    /// The answer.
    pub content: Content,
    /// The model that answered.
    pub model: String,
    /// Why generation stopped (`endTurn`, `maxTokens`, ...).
    pub stop_reason: Option<String>,
}

impl SamplingResponse {
    /// The answer's text, `None` when it is not text (an image, ...).
    ///
    /// ```
    /// # use toolhost_sdk::{Content, Role, SamplingResponse};
    /// # let response = SamplingResponse { role: Role::Assistant, content: Content::text("4"), model: "m".into(), stop_reason: None };
    /// let answer = response.text().unwrap_or("(no text)");
    /// ```
    pub fn text(&self) -> Option<&str> {
        match &self.content {
            Content::Text(text) => Some(text),
            _ => None,
        }
    }
}
