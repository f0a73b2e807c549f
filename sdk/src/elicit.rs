//! Questions to the user (MCP elicitation), asked with
//! [`Context::elicit`](crate::Context::elicit): a form derived from a Rust
//! type, and the user's answer.

use schemars::JsonSchema;
use schemars::generate::Contract;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::ToolError;
use crate::schema::schema_of;

/// How the user answered an elicitation.
///
/// ```
/// use toolhost_sdk::Elicitation;
///
/// fn greeting(answer: Elicitation<String>) -> String {
///     match answer {
///         Elicitation::Accept(name) => format!("hello, {name}"),
///         Elicitation::Decline => "the user would rather not say".into(),
///         Elicitation::Cancel => "the user dismissed the question".into(),
///     }
/// }
/// assert_eq!(greeting(Elicitation::Accept("Ada".into())), "hello, Ada");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Elicitation<T> {
    /// The user submitted the form; here are the values.
    Accept(T),
    /// The user explicitly declined to answer.
    Decline,
    /// The user dismissed the request without choosing.
    Cancel,
}

impl<T> Elicitation<T> {
    /// The submitted values, `None` when the user declined or cancelled.
    ///
    /// ```
    /// # use toolhost_sdk::Elicitation;
    /// assert_eq!(Elicitation::Accept(3).accepted(), Some(3));
    /// assert_eq!(Elicitation::<u8>::Cancel.accepted(), None);
    /// ```
    pub fn accepted(self) -> Option<T> {
        match self {
            Elicitation::Accept(value) => Some(value),
            Elicitation::Decline | Elicitation::Cancel => None,
        }
    }

    /// The action as MCP names it: `accept`, `decline` or `cancel`.
    ///
    /// ```
    /// # use toolhost_sdk::Elicitation;
    /// assert_eq!(Elicitation::<()>::Decline.action(), "decline");
    /// ```
    pub fn action(&self) -> &'static str {
        match self {
            Elicitation::Accept(_) => "accept",
            Elicitation::Decline => "decline",
            Elicitation::Cancel => "cancel",
        }
    }
}

impl<T: DeserializeOwned + JsonSchema> Elicitation<T> {
    /// The form `Context::elicit::<T>` sends: the JSON Schema of `T`, a
    /// struct of primitive fields, in the restricted shape MCP elicitation
    /// allows.
    ///
    /// - `String` (with `#[schemars(length(...))]`, `#[schemars(email)]`,
    ///   `#[schemars(url)]`), numbers (with `#[schemars(range(...))]`),
    ///   `bool`, and enums of unit variants (single choice), or `Vec`s of
    ///   them (multiple choice);
    /// - `Option` fields and `#[serde(default)]` fields are optional; a
    ///   default value is published as `default`;
    /// - doc comments on fields become descriptions (the struct's own is
    ///   left out: the message says what the form is for); `#[schemars(title = "...")]` on a
    ///   field or an enum variant becomes its title (a variant's doc comment
    ///   is its title when it has none).
    ///
    /// Fails, naming the field, when `T` is not such a struct.
    ///
    /// ```
    /// use toolhost_sdk::Elicitation;
    /// use toolhost_sdk::prelude::*;
    /// use toolhost_sdk::serde_json::json;
    ///
    /// #[derive(Deserialize, JsonSchema)]
    /// # #[serde(crate = "toolhost_sdk::serde")]
    /// # #[schemars(crate = "toolhost_sdk::schemars")]
    /// enum Size {
    ///     /// Small (250 ml)
    ///     Small,
    ///     /// Large (500 ml)
    ///     Large,
    /// }
    ///
    /// #[derive(Deserialize, JsonSchema)]
    /// # #[serde(crate = "toolhost_sdk::serde")]
    /// # #[schemars(crate = "toolhost_sdk::schemars")]
    /// struct Order {
    ///     /// Cup size.
    ///     size: Size,
    ///     /// Extra shots of espresso.
    ///     #[schemars(range(max = 3))]
    ///     shots: Option<u8>,
    /// }
    ///
    /// let schema = Elicitation::<Order>::requested_schema().unwrap();
    /// assert_eq!(schema["required"], json!(["size"]));
    /// assert_eq!(schema["properties"]["shots"]["type"], "integer");
    /// assert_eq!(
    ///     schema["properties"]["size"]["oneOf"][1],
    ///     json!({ "const": "Large", "title": "Large (500 ml)" })
    /// );
    /// ```
    pub fn requested_schema() -> Result<Value, ToolError> {
        let schema = schema_of::<T>(Contract::Deserialize);
        restrict_schema(schema).map_err(|reason| {
            ToolError::failed(format!(
                "`{}` cannot be asked for by elicitation: {reason}",
                std::any::type_name::<T>()
            ))
        })
    }
}

/// The shape MCP elicitation allows: a flat object of primitive fields.
pub(crate) fn restrict_schema(mut schema: Map<String, Value>) -> Result<Value, String> {
    if schema.get("type") != Some(&json!("object")) {
        return Err("it must be a struct with named fields".into());
    }
    // The message says what the form is for; the struct's doc comment is
    // for Rust readers.
    for key in ["$schema", "description", "additionalProperties"] {
        schema.remove(key);
    }
    let Some(Value::Object(properties)) = schema.get_mut("properties") else {
        return Ok(Value::Object(schema));
    };
    for (name, property) in properties.iter_mut() {
        let Value::Object(map) = property else {
            return Err(format!("field `{name}` has no schema"));
        };
        restrict_property(map).map_err(|reason| format!("field `{name}` {reason}"))?;
    }
    Ok(Value::Object(schema))
}

fn restrict_property(property: &mut Map<String, Value>) -> Result<(), String> {
    drop_null(property);
    if let Some(Value::Array(branches)) = property.remove("oneOf") {
        property.insert("type".into(), json!("string"));
        property.insert("oneOf".into(), Value::Array(titled_choices(branches)?));
        return Ok(());
    }
    match property.get("type").and_then(Value::as_str) {
        Some("string" | "number" | "integer" | "boolean") => Ok(()),
        Some("array") => {
            let Some(Value::Object(items)) = property.get_mut("items") else {
                return Err("is a list without an item type".into());
            };
            if let Some(Value::Array(branches)) = items.remove("oneOf") {
                items.remove("type");
                items.insert("anyOf".into(), Value::Array(titled_choices(branches)?));
                return Ok(());
            }
            if items.get("type") == Some(&json!("string")) && items.contains_key("enum") {
                return Ok(());
            }
            Err("is a list; elicitation only takes lists of enum choices".into())
        }
        _ => Err(format!(
            "must be a string, a number, a boolean or an enum of unit variants (or a list of \
             enum choices); its schema is {}",
            Value::Object(property.clone())
        )),
    }
}

/// `Option<T>`: `"type": ["string", "null"]`, `null` among the `enum`
/// values, or `anyOf: [T, {"type": "null"}]` become plain `T`.
fn drop_null(property: &mut Map<String, Value>) {
    if let Some(Value::Array(types)) = property.get("type") {
        let types: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        if let [only] = types.as_slice() {
            property.insert("type".into(), only.clone());
        }
    }
    if let Some(Value::Array(values)) = property.get_mut("enum") {
        values.retain(|value| !value.is_null());
    }
    if let Some(Value::Array(branches)) = property.get("anyOf") {
        let kept: Vec<&Value> = branches
            .iter()
            .filter(|branch| branch.get("type") != Some(&json!("null")))
            .collect();
        if let [Value::Object(only)] = kept.as_slice() {
            let only = only.clone();
            property.remove("anyOf");
            for (key, value) in only {
                property.entry(key).or_insert(value);
            }
        }
    }
}

/// Enum variants with doc comments (`{"const": "a", "description": ...}`)
/// as MCP's titled choices (`{"const": "a", "title": ...}`).
fn titled_choices(branches: Vec<Value>) -> Result<Vec<Value>, String> {
    branches
        .into_iter()
        .map(|branch| {
            let constant = branch
                .get("const")
                .or_else(|| branch.get("enum").and_then(|values| values.get(0)))
                .filter(|value| value.is_string())
                .ok_or_else(|| {
                    format!("must be an enum of unit variants; one variant's schema is {branch}")
                })?;
            let title = branch
                .get("title")
                .or_else(|| branch.get("description"))
                .cloned()
                .unwrap_or_else(|| constant.clone());
            Ok(json!({ "const": constant, "title": title }))
        })
        .collect()
}

/// The user's answer, as the host returned it, converted to `T`.
pub(crate) fn parse_answer<T: DeserializeOwned>(
    action: Elicitation<()>,
    content: Option<&str>,
) -> Result<Elicitation<T>, ToolError> {
    Ok(match action {
        Elicitation::Accept(()) => {
            let content = content.unwrap_or("{}");
            let value = serde_json::from_str(content).map_err(|err| {
                ToolError::failed(format!(
                    "the user's answer does not fit `{}`: {err}; the answer was {content}",
                    std::any::type_name::<T>()
                ))
            })?;
            Elicitation::Accept(value)
        }
        Elicitation::Decline => Elicitation::Decline,
        Elicitation::Cancel => Elicitation::Cancel,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code, reason = "only the schema is used")]
    enum Color {
        Red,
        Green,
    }

    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code, reason = "only the schema is used")]
    struct Form {
        /// Your name.
        name: String,
        #[schemars(email)]
        email: Option<String>,
        #[serde(default)]
        age: u32,
        subscribe: bool,
        color: Option<Color>,
        colors: Vec<Color>,
    }

    #[test]
    fn a_struct_of_primitives_becomes_a_flat_form() {
        let schema = Elicitation::<Form>::requested_schema().unwrap();
        let properties = &schema["properties"];
        assert_eq!(properties["name"]["description"], "Your name.");
        assert_eq!(properties["email"]["type"], "string");
        assert_eq!(properties["email"]["format"], "email");
        assert_eq!(properties["age"]["default"], 0);
        assert_eq!(properties["color"]["type"], "string");
        assert_eq!(properties["color"]["enum"], json!(["Red", "Green"]));
        assert_eq!(
            properties["colors"]["items"]["enum"],
            json!(["Red", "Green"])
        );
        assert_eq!(schema["required"], json!(["name", "subscribe", "colors"]));
        assert!(schema.get("$schema").is_none());
    }

    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code, reason = "only the schema is used")]
    struct Nested {
        inner: Inner,
    }

    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code, reason = "only the schema is used")]
    struct Inner {
        x: u8,
    }

    #[test]
    fn nested_objects_and_non_structs_are_refused_naming_the_field() {
        let err = Elicitation::<Nested>::requested_schema().unwrap_err();
        assert!(err.message().contains("field `inner` must be"), "{err}");
        let err = Elicitation::<String>::requested_schema().unwrap_err();
        assert!(err.message().contains("struct with named fields"), "{err}");
    }

    #[test]
    fn answers_are_parsed_into_the_type() {
        #[derive(Debug, PartialEq, Deserialize)]
        struct Name {
            name: String,
        }
        let answer = parse_answer::<Name>(Elicitation::Accept(()), Some(r#"{"name":"Ada"}"#));
        assert_eq!(
            answer.unwrap(),
            Elicitation::Accept(Name { name: "Ada".into() })
        );
        let err = parse_answer::<Name>(Elicitation::Accept(()), Some("{}")).unwrap_err();
        assert!(err.message().contains("missing field `name`"), "{err}");
        assert_eq!(
            parse_answer::<Name>(Elicitation::Cancel, None).unwrap(),
            Elicitation::Cancel
        );
    }
}
