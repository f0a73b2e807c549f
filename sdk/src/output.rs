//! What an operation returns: structured JSON with a schema, or content.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};

use crate::ToolError;
use crate::schema::ResultShape;

/// One piece of unstructured content: of a tool result, a prompt message
/// or a sampling exchange.
///
/// A result may mix any number of them, in order:
///
/// ```
/// use toolhost_sdk::{Content, ToolOutput};
///
/// let parts: Vec<Content> = vec![
///     "Here is the chart:".into(),
///     Content::image(vec![0x89, b'P', b'N', b'G'], "image/png"),
///     Content::audio(vec![b'R', b'I', b'F', b'F'], "audio/wav"),
///     Content::resource("file:///data.csv", "a,b\n1,2").with_mime_type("text/csv"),
///     Content::link("file:///full.csv", "full-data"),
/// ];
/// let output = ToolOutput::from(parts);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Content {
    /// Plain text.
    Text(String),
    /// An image: raw bytes and their MIME type (the host base64-encodes them).
    Image {
        /// Raw bytes.
        data: Vec<u8>,
        /// MIME type such as `image/png`.
        mime_type: String,
    },
    /// An audio clip: raw bytes and their MIME type.
    Audio {
        /// Raw bytes.
        data: Vec<u8>,
        /// MIME type such as `audio/wav`.
        mime_type: String,
    },
    /// A resource embedded in the result.
    Resource {
        /// URI identifying the resource.
        uri: String,
        /// MIME type of the contents, when known.
        mime_type: Option<String>,
        /// The contents.
        contents: ResourceContents,
    },
    /// A link to a resource the client may read or subscribe to.
    Link(ResourceLink),
}

/// A link to a resource: its URI and name, and optionally what a client
/// shows before reading it. Made with [`Content::link`]; a [`ResourceLink`]
/// converts into a [`Content`] too.
///
/// ```
/// use toolhost_sdk::{Content, ResourceLink};
///
/// let link = ResourceLink::new("file:///report.pdf", "report")
///     .with_title("Quarterly report")
///     .with_description("Revenue by region, Q3")
///     .with_mime_type("application/pdf")
///     .with_size(48_213);
/// let content = Content::from(link);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceLink {
    /// URI of the resource.
    pub uri: String,
    /// Short name of the resource.
    pub name: String,
    /// Human-readable title.
    pub title: Option<String>,
    /// What the resource holds.
    pub description: Option<String>,
    /// MIME type, when known.
    pub mime_type: Option<String>,
    /// Size in bytes, when known.
    pub size: Option<u64>,
}

impl ResourceLink {
    /// A link with a URI and a name and nothing else.
    ///
    /// ```
    /// # use toolhost_sdk::ResourceLink;
    /// let link = ResourceLink::new("test://static-text", "static-text");
    /// assert_eq!(link.title, None);
    /// ```
    pub fn new(uri: impl Into<String>, name: impl Into<String>) -> Self {
        ResourceLink {
            uri: uri.into(),
            name: name.into(),
            title: None,
            description: None,
            mime_type: None,
            size: None,
        }
    }

    /// Set the human-readable title.
    ///
    /// ```
    /// # use toolhost_sdk::ResourceLink;
    /// let link = ResourceLink::new("a://b", "b").with_title("The B");
    /// ```
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Set the description.
    ///
    /// ```
    /// # use toolhost_sdk::ResourceLink;
    /// let link = ResourceLink::new("a://b", "b").with_description("What b holds");
    /// ```
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Set the MIME type.
    ///
    /// ```
    /// # use toolhost_sdk::ResourceLink;
    /// let link = ResourceLink::new("a://b.json", "b").with_mime_type("application/json");
    /// ```
    pub fn with_mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.mime_type = Some(mime_type.into());
        self
    }

    /// Set the size in bytes.
    ///
    /// ```
    /// # use toolhost_sdk::ResourceLink;
    /// let link = ResourceLink::new("a://b", "b").with_size(1024);
    /// ```
    pub fn with_size(mut self, size: u64) -> Self {
        self.size = Some(size);
        self
    }
}

impl From<ResourceLink> for Content {
    fn from(link: ResourceLink) -> Self {
        Content::Link(link)
    }
}

/// Text content: `vec!["Here is the chart:".into(), Content::image(png, "image/png")]`.
impl From<&str> for Content {
    fn from(text: &str) -> Self {
        Content::text(text)
    }
}

/// Text content.
impl From<String> for Content {
    fn from(text: String) -> Self {
        Content::Text(text)
    }
}

/// Contents of an embedded [resource](Content::Resource).
///
/// ```
/// use toolhost_sdk::ResourceContents;
/// let contents = ResourceContents::Text("# Notes".into());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum ResourceContents {
    /// UTF-8 text.
    Text(String),
    /// Bytes (the host base64-encodes them).
    Blob(Vec<u8>),
}

impl Content {
    /// Plain text.
    ///
    /// ```
    /// # use toolhost_sdk::Content;
    /// let content = Content::text("done");
    /// ```
    pub fn text(text: impl Into<String>) -> Self {
        Content::Text(text.into())
    }

    /// An image.
    ///
    /// ```
    /// # use toolhost_sdk::Content;
    /// # let png_bytes: Vec<u8> = Vec::new();
    /// let content = Content::image(png_bytes, "image/png");
    /// ```
    pub fn image(data: impl Into<Vec<u8>>, mime_type: impl Into<String>) -> Self {
        Content::Image {
            data: data.into(),
            mime_type: mime_type.into(),
        }
    }

    /// An audio clip.
    ///
    /// ```
    /// # use toolhost_sdk::Content;
    /// # let wav_bytes: Vec<u8> = Vec::new();
    /// let content = Content::audio(wav_bytes, "audio/wav");
    /// ```
    pub fn audio(data: impl Into<Vec<u8>>, mime_type: impl Into<String>) -> Self {
        Content::Audio {
            data: data.into(),
            mime_type: mime_type.into(),
        }
    }

    /// An embedded text resource. Set its MIME type with
    /// [`with_mime_type`](Self::with_mime_type).
    ///
    /// ```
    /// # use toolhost_sdk::Content;
    /// let content = Content::resource("file:///notes.md", "# Notes").with_mime_type("text/markdown");
    /// ```
    pub fn resource(uri: impl Into<String>, text: impl Into<String>) -> Self {
        Content::Resource {
            uri: uri.into(),
            mime_type: None,
            contents: ResourceContents::Text(text.into()),
        }
    }

    /// An embedded binary resource.
    ///
    /// ```
    /// # use toolhost_sdk::Content;
    /// let content = Content::blob_resource("file:///data.bin", vec![1, 2, 3], "application/octet-stream");
    /// ```
    pub fn blob_resource(
        uri: impl Into<String>,
        data: impl Into<Vec<u8>>,
        mime_type: impl Into<String>,
    ) -> Self {
        Content::Resource {
            uri: uri.into(),
            mime_type: Some(mime_type.into()),
            contents: ResourceContents::Blob(data.into()),
        }
    }

    /// A link to a resource, with a URI and a name. For a title,
    /// description, MIME type or size, build a [`ResourceLink`] and convert
    /// it with `.into()`.
    ///
    /// ```
    /// # use toolhost_sdk::Content;
    /// let content = Content::link("test://static-text", "static-text");
    /// ```
    pub fn link(uri: impl Into<String>, name: impl Into<String>) -> Self {
        Content::Link(ResourceLink::new(uri, name))
    }

    /// Set the MIME type of a [resource](Content::Resource) or a
    /// [link](Content::Link); other content is returned unchanged (images
    /// and audio take theirs when created).
    ///
    /// ```
    /// # use toolhost_sdk::Content;
    /// let content = Content::resource("file:///a.csv", "a,b\n1,2").with_mime_type("text/csv");
    /// ```
    pub fn with_mime_type(mut self, mime: impl Into<String>) -> Self {
        match &mut self {
            Content::Resource { mime_type, .. } => *mime_type = Some(mime.into()),
            Content::Link(link) => link.mime_type = Some(mime.into()),
            _ => {}
        }
        self
    }
}

/// A result built by hand: content in order, and optionally a structured
/// JSON value. An operation returning `ToolOutput` declares no output schema.
///
/// ```
/// use toolhost_sdk::{Content, ToolOutput};
///
/// let output = ToolOutput::text("3 files changed")
///     .with(Content::resource("file:///CHANGES.md", "- fixed the parser"));
/// assert_eq!(output.content().len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolOutput {
    content: Vec<Content>,
    structured: Option<Value>,
}

impl ToolOutput {
    /// An empty result.
    ///
    /// ```
    /// # use toolhost_sdk::ToolOutput;
    /// assert!(ToolOutput::new().content().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// A result holding one piece of text.
    ///
    /// ```
    /// # use toolhost_sdk::ToolOutput;
    /// let output = ToolOutput::text("hello");
    /// ```
    pub fn text(text: impl Into<String>) -> Self {
        Self::new().with(Content::text(text))
    }

    /// Append a piece of content (anything that converts into one: text,
    /// a [`ResourceLink`], ...).
    ///
    /// ```
    /// # use toolhost_sdk::{Content, ToolOutput};
    /// let output = ToolOutput::new().with(Content::text("a")).with(Content::text("b"));
    /// ```
    pub fn with(mut self, content: impl Into<Content>) -> Self {
        self.content.push(content.into());
        self
    }

    /// Attach a structured result. No schema is declared for it; return a
    /// `Serialize + JsonSchema` type instead when you want one.
    ///
    /// ```
    /// # use toolhost_sdk::{ToolOutput, serde_json::json};
    /// let output = ToolOutput::text("2 rows").with_structured(json!({ "rows": 2 }));
    /// ```
    pub fn with_structured(mut self, value: Value) -> Self {
        self.structured = Some(value);
        self
    }

    /// The content, in order.
    ///
    /// ```
    /// # use toolhost_sdk::{Content, ToolOutput};
    /// assert_eq!(ToolOutput::text("x").content(), &[Content::text("x")]);
    /// ```
    pub fn content(&self) -> &[Content] {
        &self.content
    }

    /// The structured result, if any.
    ///
    /// ```
    /// # use toolhost_sdk::ToolOutput;
    /// assert_eq!(ToolOutput::text("x").structured(), None);
    /// ```
    pub fn structured(&self) -> Option<&Value> {
        self.structured.as_ref()
    }

    /// Take the result apart, to hand it to the host.
    pub(crate) fn into_parts(self) -> (Vec<Content>, Option<Value>) {
        (self.content, self.structured)
    }
}

impl From<Content> for ToolOutput {
    fn from(content: Content) -> Self {
        ToolOutput::new().with(content)
    }
}

/// Collect content into a result:
/// `parts.into_iter().map(Content::text).collect::<ToolOutput>()`.
impl FromIterator<Content> for ToolOutput {
    fn from_iter<I: IntoIterator<Item = Content>>(iter: I) -> Self {
        ToolOutput {
            content: iter.into_iter().collect(),
            structured: None,
        }
    }
}

impl From<Vec<Content>> for ToolOutput {
    fn from(content: Vec<Content>) -> Self {
        ToolOutput {
            content,
            structured: None,
        }
    }
}

/// A value an operation can return. You rarely implement it: it is
/// implemented for
///
/// - every `T: Serialize + JsonSchema`: a **structured result** with an
///   output schema. MCP wants output schemas to be objects, so when `T` is
///   not an object (a number, string, array, `Option`, ...) the structured
///   result is `{"result": value}` with the schema
///   `{"type":"object","properties":{"result": <schema of T>},"required":["result"]}`,
///   and the text content is the value itself (a string as is, anything
///   else as JSON). For objects the content is left empty and the host adds
///   the text copy. `()` (and any type whose schema is `null`) returns an
///   empty result with no schema;
/// - [`ToolOutput`] and [`Content`]: unstructured content, no output schema.
///
/// Operations may also return `Vec<Content>` (unstructured, no schema):
/// `#[group]` converts it, although it cannot implement this trait beside
/// the blanket implementation (use `ToolOutput::from(vec)` elsewhere).
///
/// ```
/// use toolhost_sdk::{IntoOutput, serde_json::json};
///
/// let output = 2.5_f64.into_output().unwrap();
/// assert_eq!(output.structured(), Some(&json!({ "result": 2.5 })));
/// assert_eq!(<f64 as IntoOutput>::output_schema().unwrap()["required"], json!(["result"]));
/// ```
pub trait IntoOutput {
    /// The JSON Schema (an object schema) of the structured result, if any.
    fn output_schema() -> Option<Value>;

    /// Convert the value into the result sent to the host.
    fn into_output(self) -> Result<ToolOutput, ToolError>;
}

impl<T: Serialize + JsonSchema> IntoOutput for T {
    fn output_schema() -> Option<Value> {
        ResultShape::of::<T>().output_schema()
    }

    fn into_output(self) -> Result<ToolOutput, ToolError> {
        let value = to_json(&self)?;
        // A value that is neither an object nor null cannot match an object
        // or a null schema, so it is wrapped without generating the schema,
        // which costs tens of microseconds for a struct (every call, since
        // the host starts each call in a fresh instance).
        if matches!(value, Value::Object(_) | Value::Null) {
            match ResultShape::of::<T>() {
                ResultShape::Nothing => return Ok(ToolOutput::new()),
                ResultShape::Object(_) => return Ok(ToolOutput::new().with_structured(value)),
                ResultShape::Wrapped(_) => {}
            }
        }
        Ok(wrapped(value))
    }
}

/// The JSON form of a result.
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<Value, ToolError> {
    serde_json::to_value(value).map_err(|err| {
        ToolError::failed(format!("the result could not be converted to JSON: {err}"))
    })
}

/// `{"result": value}`, with the value as text content: a string as is,
/// anything else as JSON.
fn wrapped(value: Value) -> ToolOutput {
    let text = match &value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    ToolOutput::text(text).with_structured(json!({ "result": value }))
}

impl IntoOutput for ToolOutput {
    fn output_schema() -> Option<Value> {
        None
    }

    fn into_output(self) -> Result<ToolOutput, ToolError> {
        Ok(self)
    }
}

impl IntoOutput for Content {
    fn output_schema() -> Option<Value> {
        None
    }

    fn into_output(self) -> Result<ToolOutput, ToolError> {
        Ok(self.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, JsonSchema)]
    struct Stats {
        count: usize,
    }

    #[test]
    fn objects_are_structured_without_text() {
        let output = Stats { count: 3 }.into_output().unwrap();
        assert!(output.content().is_empty());
        assert_eq!(output.structured(), Some(&json!({ "count": 3 })));
        assert_eq!(Stats::output_schema().unwrap()["type"], "object");
    }

    #[test]
    fn strings_are_wrapped_and_their_text_is_plain() {
        let output = "hello".to_string().into_output().unwrap();
        assert_eq!(output.content(), &[Content::text("hello")]);
        assert_eq!(output.structured(), Some(&json!({ "result": "hello" })));
    }

    #[test]
    fn other_values_are_wrapped_and_their_text_is_json() {
        let output = vec![1, 2].into_output().unwrap();
        assert_eq!(output.content(), &[Content::text("[1,2]")]);
        assert_eq!(output.structured(), Some(&json!({ "result": [1, 2] })));

        let output = None::<Stats>.into_output().unwrap();
        assert_eq!(output.content(), &[Content::text("null")]);
        assert_eq!(output.structured(), Some(&json!({ "result": null })));
    }

    #[test]
    fn unit_and_content_have_no_schema() {
        assert_eq!(().into_output().unwrap(), ToolOutput::new());
        assert_eq!(<()>::output_schema(), None);
        assert_eq!(<ToolOutput>::output_schema(), None);
        let output = ToolOutput::from(vec![Content::text("a")])
            .into_output()
            .unwrap();
        assert_eq!(output.structured(), None);
    }
}
