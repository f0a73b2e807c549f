//! What a `#[prompt]` function returns: messages for the model.

use crate::{Content, ToolError};

/// Who speaks a [`Message`].
///
/// ```
/// use toolhost_sdk::{Message, Role};
/// assert_eq!(Message::assistant("Sure.").role, Role::Assistant);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The user.
    User,
    /// The model.
    Assistant,
}

/// One message of a rendered prompt or of a sampling exchange: a role and
/// one piece of [`Content`] (text, an image, audio, an embedded resource or
/// a resource link).
///
/// ```
/// use toolhost_sdk::{Content, Message};
///
/// let messages = vec![
///     Message::user("Review this file:"),
///     Message::user(Content::resource("file:///main.rs", "fn main() {}")),
///     Message::assistant("I will look at the error handling first."),
/// ];
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Who speaks.
    pub role: Role,
    /// What is said.
    pub content: Content,
}

impl Message {
    /// A message from the user.
    ///
    /// ```
    /// # use toolhost_sdk::{Content, Message};
    /// let text = Message::user("Summarize this:");
    /// let image = Message::user(Content::image(vec![0x89, b'P', b'N', b'G'], "image/png"));
    /// ```
    pub fn user(content: impl Into<Content>) -> Self {
        Message {
            role: Role::User,
            content: content.into(),
        }
    }

    /// A message from the model.
    ///
    /// ```
    /// # use toolhost_sdk::Message;
    /// let message = Message::assistant("Here is a summary.");
    /// ```
    pub fn assistant(content: impl Into<Content>) -> Self {
        Message {
            role: Role::Assistant,
            content: content.into(),
        }
    }

    /// The text of a text message, `None` for other content.
    ///
    /// ```
    /// # use toolhost_sdk::Message;
    /// assert_eq!(Message::user("hi").text(), Some("hi"));
    /// ```
    pub fn text(&self) -> Option<&str> {
        match &self.content {
            Content::Text(text) => Some(text),
            _ => None,
        }
    }
}

/// A rendered prompt: its messages and, when this rendering needs one, a
/// description of its own.
///
/// ```
/// use toolhost_sdk::{Message, PromptResult};
///
/// let result = PromptResult::new(vec![Message::user("Explain recursion.")])
///     .with_description("Explains one concept");
/// assert_eq!(result.messages.len(), 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PromptResult {
    /// Description of this rendering.
    pub description: Option<String>,
    /// The messages, in order.
    pub messages: Vec<Message>,
}

impl PromptResult {
    /// A result with these messages and no description.
    ///
    /// ```
    /// # use toolhost_sdk::{Message, PromptResult};
    /// let result = PromptResult::new(vec![Message::user("hi")]);
    /// ```
    pub fn new(messages: Vec<Message>) -> Self {
        PromptResult {
            description: None,
            messages,
        }
    }

    /// Set the description of this rendering.
    ///
    /// ```
    /// # use toolhost_sdk::PromptResult;
    /// let result = PromptResult::default().with_description("Nothing to say");
    /// ```
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Append a message.
    ///
    /// ```
    /// # use toolhost_sdk::{Message, PromptResult};
    /// let result = PromptResult::default().with(Message::user("a")).with(Message::assistant("b"));
    /// ```
    pub fn with(mut self, message: Message) -> Self {
        self.messages.push(message);
        self
    }
}

/// What a `#[prompt]` function may return. Implemented for
///
/// - `String` and `&'static str`: one user message with that text;
/// - [`Message`]: that message alone; `Vec<Message>`: those messages;
/// - [`PromptResult`]: messages and a description.
///
/// A function may also return `Result<R, E>` for any such `R`, with
/// `ToolError: From<E>`.
///
/// ```
/// use toolhost_sdk::{IntoPromptResult, Message};
///
/// let result = "Say hello.".into_prompt_result().unwrap();
/// assert_eq!(result.messages, [Message::user("Say hello.")]);
/// ```
pub trait IntoPromptResult {
    /// The rendered prompt.
    fn into_prompt_result(self) -> Result<PromptResult, ToolError>;
}

impl IntoPromptResult for String {
    fn into_prompt_result(self) -> Result<PromptResult, ToolError> {
        Ok(PromptResult::new(vec![Message::user(self)]))
    }
}

impl IntoPromptResult for &'static str {
    fn into_prompt_result(self) -> Result<PromptResult, ToolError> {
        Ok(PromptResult::new(vec![Message::user(self)]))
    }
}

impl IntoPromptResult for Message {
    fn into_prompt_result(self) -> Result<PromptResult, ToolError> {
        Ok(PromptResult::new(vec![self]))
    }
}

impl IntoPromptResult for Vec<Message> {
    fn into_prompt_result(self) -> Result<PromptResult, ToolError> {
        Ok(PromptResult::new(self))
    }
}

impl IntoPromptResult for PromptResult {
    fn into_prompt_result(self) -> Result<PromptResult, ToolError> {
        Ok(self)
    }
}
