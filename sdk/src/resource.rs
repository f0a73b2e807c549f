//! What a `#[resource]` function returns: the contents of the resource.

use crate::{ResourceContents, ToolError};

/// One part of a resource's contents: text or bytes, with the URI and MIME
/// type to publish for it. A resource read returns one part or several.
///
/// Parts left without a URI get the URI that was read; parts left without a
/// MIME type get the one declared in `#[resource(mime_type = "...")]`.
///
/// ```
/// use toolhost_sdk::ResourcePart;
///
/// let parts = vec![
///     ResourcePart::text("# Summary"),
///     ResourcePart::blob(vec![0x89, b'P', b'N', b'G'])
///         .with_uri("test://report/chart.png")
///         .with_mime_type("image/png"),
/// ];
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ResourcePart {
    /// URI of this part; `None` means the URI that was read.
    pub uri: Option<String>,
    /// MIME type; `None` means the resource's declared MIME type.
    pub mime_type: Option<String>,
    /// Text or bytes.
    pub contents: ResourceContents,
}

impl ResourcePart {
    /// A text part.
    ///
    /// ```
    /// # use toolhost_sdk::{ResourceContents, ResourcePart};
    /// let part = ResourcePart::text("hello");
    /// assert_eq!(part.contents, ResourceContents::Text("hello".into()));
    /// ```
    pub fn text(text: impl Into<String>) -> Self {
        ResourcePart {
            uri: None,
            mime_type: None,
            contents: ResourceContents::Text(text.into()),
        }
    }

    /// A binary part (the host base64-encodes it).
    ///
    /// ```
    /// # use toolhost_sdk::ResourcePart;
    /// let part = ResourcePart::blob(vec![1, 2, 3]).with_mime_type("application/octet-stream");
    /// ```
    pub fn blob(data: impl Into<Vec<u8>>) -> Self {
        ResourcePart {
            uri: None,
            mime_type: None,
            contents: ResourceContents::Blob(data.into()),
        }
    }

    /// Set the URI of this part.
    ///
    /// ```
    /// # use toolhost_sdk::ResourcePart;
    /// let part = ResourcePart::text("{}").with_uri("test://config/defaults.json");
    /// ```
    pub fn with_uri(mut self, uri: impl Into<String>) -> Self {
        self.uri = Some(uri.into());
        self
    }

    /// Set the MIME type of this part.
    ///
    /// ```
    /// # use toolhost_sdk::ResourcePart;
    /// let part = ResourcePart::text("a,b").with_mime_type("text/csv");
    /// ```
    pub fn with_mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.mime_type = Some(mime_type.into());
        self
    }
}

impl From<ResourceContents> for ResourcePart {
    fn from(contents: ResourceContents) -> Self {
        ResourcePart {
            uri: None,
            mime_type: None,
            contents,
        }
    }
}

/// What a `#[resource]` function may return. Implemented for
///
/// - `String` and `&'static str`: one text part;
/// - `Vec<u8>`: one binary part (declare its `mime_type` in the attribute);
/// - [`ResourceContents`] and [`ResourcePart`]: one part;
/// - `Vec<ResourcePart>`: several parts, in order;
/// - `serde_json::Value`: one text part holding the JSON, pretty-printed
///   (declare `mime_type = "application/json"`).
///
/// A function may also return `Result<R, E>` for any such `R`, with
/// `ToolError: From<E>`.
///
/// ```
/// use toolhost_sdk::{IntoResourceContents, ResourcePart};
///
/// let parts = "hello".into_resource_parts().unwrap();
/// assert_eq!(parts, [ResourcePart::text("hello")]);
/// ```
pub trait IntoResourceContents {
    /// The parts of the resource.
    fn into_resource_parts(self) -> Result<Vec<ResourcePart>, ToolError>;
}

impl IntoResourceContents for String {
    fn into_resource_parts(self) -> Result<Vec<ResourcePart>, ToolError> {
        Ok(vec![ResourcePart::text(self)])
    }
}

impl IntoResourceContents for &'static str {
    fn into_resource_parts(self) -> Result<Vec<ResourcePart>, ToolError> {
        Ok(vec![ResourcePart::text(self)])
    }
}

impl IntoResourceContents for Vec<u8> {
    fn into_resource_parts(self) -> Result<Vec<ResourcePart>, ToolError> {
        Ok(vec![ResourcePart::blob(self)])
    }
}

impl IntoResourceContents for ResourceContents {
    fn into_resource_parts(self) -> Result<Vec<ResourcePart>, ToolError> {
        Ok(vec![self.into()])
    }
}

impl IntoResourceContents for ResourcePart {
    fn into_resource_parts(self) -> Result<Vec<ResourcePart>, ToolError> {
        Ok(vec![self])
    }
}

impl IntoResourceContents for Vec<ResourcePart> {
    fn into_resource_parts(self) -> Result<Vec<ResourcePart>, ToolError> {
        Ok(self)
    }
}

impl IntoResourceContents for serde_json::Value {
    fn into_resource_parts(self) -> Result<Vec<ResourcePart>, ToolError> {
        Ok(vec![ResourcePart::text(serde_json::to_string_pretty(
            &self,
        )?)])
    }
}

/// Fill in what the parts left open: the URI read and the declared MIME
/// type.
pub(crate) fn complete_parts(
    parts: Vec<ResourcePart>,
    uri: &str,
    declared_mime_type: Option<&str>,
) -> Vec<ResourcePart> {
    parts
        .into_iter()
        .map(|part| ResourcePart {
            uri: part.uri.or_else(|| Some(uri.to_owned())),
            mime_type: part
                .mime_type
                .or_else(|| declared_mime_type.map(Into::into)),
            contents: part.contents,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn open_parts_get_the_uri_read_and_the_declared_mime_type() {
        let parts = vec![
            ResourcePart::text("a"),
            ResourcePart::blob(vec![1])
                .with_uri("x://b")
                .with_mime_type("image/png"),
        ];
        let parts = complete_parts(parts, "x://a", Some("text/plain"));
        assert_eq!(parts[0].uri.as_deref(), Some("x://a"));
        assert_eq!(parts[0].mime_type.as_deref(), Some("text/plain"));
        assert_eq!(parts[1].uri.as_deref(), Some("x://b"));
        assert_eq!(parts[1].mime_type.as_deref(), Some("image/png"));
    }

    #[test]
    fn json_is_pretty_printed() {
        let parts = json!({ "a": 1 }).into_resource_parts().unwrap();
        assert_eq!(parts, [ResourcePart::text("{\n  \"a\": 1\n}")]);
    }
}
