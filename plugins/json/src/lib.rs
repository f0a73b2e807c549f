//! The `json` service group: JSON pointer queries, formatting, JSON Schema
//! validation and merge patches, and a catalogue of JSON Schemas served as
//! resources (`json://schemas`, `json://schemas/{name}`).
//!
//! Build: `cargo build --release` in `plugins/` gives
//! `target/wasm32-wasip2/release/json.wasm`.

use serde_json::Value;
use toolhost_sdk::prelude::*;

/// Work with JSON documents: read a value by JSON pointer, pretty-print or
/// minify JSON text, validate a document against a JSON Schema, and apply
/// a JSON merge patch.
#[group(name = "json")]
mod json {
    use super::*;

    /// A document and a pointer into it.
    #[derive(Deserialize, JsonSchema)]
    pub struct Query {
        /// The JSON document (any JSON value).
        pub document: Value,
        /// RFC 6901 JSON pointer, e.g. `/items/0/name`; `""` is the whole
        /// document. Escape `~` as `~0` and `/` as `~1` in member names.
        pub pointer: String,
    }

    /// Read the value at a JSON pointer (RFC 6901) in a document.
    ///
    /// Fails with `not-found` when nothing is there, naming the part of the
    /// pointer that does exist.
    #[operation(read_only, idempotent, title = "Query by JSON pointer")]
    pub fn query(Query { document, pointer }: Query) -> Result<Value, ToolError> {
        crate::lookup(&document, &pointer).cloned()
    }

    /// How to lay out JSON text.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum Style {
        #[default]
        Pretty,
        Minify,
    }

    /// JSON text and how to lay it out.
    #[derive(Deserialize, JsonSchema)]
    pub struct Format {
        /// The JSON text to format.
        pub json: String,
        /// `pretty` (one member or element per line, indented) or `minify`
        /// (no whitespace at all).
        #[serde(default)]
        pub style: Style,
        /// Spaces per indentation level, for `pretty`.
        #[serde(default = "default_indent")]
        #[schemars(range(min = 0, max = 8))]
        pub indent: u8,
        /// Sort object members by name (recursively) instead of keeping
        /// their order.
        #[serde(default)]
        pub sort_keys: bool,
    }

    fn default_indent() -> u8 {
        2
    }

    /// Pretty-print or minify JSON text.
    ///
    /// Fails with `invalid-arguments` when the text is not valid JSON,
    /// giving the line and column of the first error.
    #[operation(read_only, idempotent, title = "Format JSON")]
    pub fn format(args: Format) -> Result<String, ToolError> {
        if args.indent > 8 {
            return Err(ToolError::invalid_arguments(
                "indent must be between 0 and 8",
            ));
        }
        let mut value: Value = serde_json::from_str(&args.json).map_err(|err| {
            ToolError::invalid_arguments(format!("`json` is not valid JSON: {err}"))
        })?;
        if args.sort_keys {
            crate::sort_keys(&mut value);
        }
        crate::layout(&value, args.style, args.indent)
    }

    /// A document and the schema it should follow.
    #[derive(Deserialize, JsonSchema)]
    pub struct Validate {
        /// The JSON document to check (any JSON value).
        pub document: Value,
        /// The JSON Schema (draft 2020-12 unless its `$schema` says
        /// otherwise). Only references inside the schema resolve; remote
        /// `$ref`s do not.
        pub schema: Value,
        /// Report at most this many errors.
        #[serde(default = "default_max_errors")]
        #[schemars(range(min = 1, max = 1000))]
        pub max_errors: usize,
    }

    fn default_max_errors() -> usize {
        50
    }

    /// One way the document breaks the schema.
    #[derive(Debug, PartialEq, Serialize, JsonSchema)]
    pub struct ValidationError {
        /// JSON pointer to the offending value in the document (`""` is the
        /// whole document).
        pub instance_path: String,
        /// JSON pointer to the schema keyword that failed.
        pub schema_path: String,
        /// What is wrong.
        pub message: String,
    }

    /// The verdict.
    #[derive(Debug, PartialEq, Serialize, JsonSchema)]
    pub struct Validation {
        /// Whether the document is valid.
        pub valid: bool,
        /// Why not, at most `max_errors` of them; empty when valid.
        pub errors: Vec<ValidationError>,
    }

    /// Validate a JSON document against a JSON Schema, listing every error
    /// with the path of the value it concerns.
    ///
    /// Fails with `invalid-arguments` when the schema itself is not a valid
    /// JSON Schema. `format` keywords are not checked.
    #[operation(read_only, idempotent, title = "Validate against a JSON Schema")]
    pub fn validate(args: Validate) -> Result<Validation, ToolError> {
        let validator = jsonschema::validator_for(&args.schema).map_err(|err| {
            ToolError::invalid_arguments(format!("`schema` is not a valid JSON Schema: {err}"))
        })?;
        let errors: Vec<ValidationError> = validator
            .iter_errors(&args.document)
            .take(args.max_errors)
            .map(|err| ValidationError {
                instance_path: err.instance_path().to_string(),
                schema_path: err.schema_path().to_string(),
                message: err.to_string(),
            })
            .collect();
        Ok(Validation {
            valid: errors.is_empty(),
            errors,
        })
    }

    /// A document and a merge patch.
    #[derive(Deserialize, JsonSchema)]
    pub struct MergePatch {
        /// The JSON document to patch (any JSON value).
        pub document: Value,
        /// RFC 7396 merge patch: members set to `null` are removed, objects
        /// merge recursively, anything else replaces.
        pub patch: Value,
    }

    /// Apply a JSON merge patch (RFC 7396) to a document and return the
    /// result.
    #[operation(read_only, idempotent, title = "Apply a JSON merge patch")]
    pub fn merge_patch(
        MergePatch {
            mut document,
            patch,
        }: MergePatch,
    ) -> Value {
        crate::merge(&mut document, &patch);
        document
    }

    /// The names of the schemas in the catalogue, one per line; read
    /// `json://schemas/{name}` for one of them.
    #[resource(
        uri = "json://schemas",
        title = "Schema catalogue",
        mime_type = "text/plain"
    )]
    pub fn schemas() -> String {
        crate::SCHEMAS
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// A JSON Schema from the catalogue, by name, to use with `validate`.
    #[resource(
        template = "json://schemas/{name}",
        name = "schema",
        title = "Catalogue schema",
        mime_type = "application/schema+json"
    )]
    pub fn schema(name: &str) -> Result<&'static str, ToolError> {
        crate::SCHEMAS
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, schema)| *schema)
            .ok_or_else(|| {
                ToolError::not_found(format!(
                    "the catalogue has no schema `{name}`; read json://schemas for the list"
                ))
            })
    }

    #[complete(template = "json://schemas/{name}", argument = "name")]
    pub fn complete_schema_name(value: &str) -> Completion {
        Completion::matching(crate::SCHEMAS.iter().map(|(name, _)| *name), value)
    }
}

/// The schema catalogue: names and schemas (JSON text), sorted by name.
const SCHEMAS: [(&str, &str); 3] = [
    (
        "geo-point",
        r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "A point on Earth, in degrees (WGS 84)",
  "type": "object",
  "properties": {
    "lat": { "type": "number", "minimum": -90, "maximum": 90 },
    "lon": { "type": "number", "minimum": -180, "maximum": 180 }
  },
  "required": ["lat", "lon"]
}"#,
    ),
    (
        "person",
        r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "A person",
  "type": "object",
  "properties": {
    "name": { "type": "string", "minLength": 1 },
    "email": { "type": "string", "format": "email" },
    "age": { "type": "integer", "minimum": 0 }
  },
  "required": ["name"]
}"#,
    ),
    (
        "semver",
        r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "A semantic version (semver.org), such as 1.4.0-rc.1",
  "type": "string",
  "pattern": "^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)(-[0-9A-Za-z.-]+)?(\\+[0-9A-Za-z.-]+)?$"
}"#,
    ),
];

/// The value at `pointer`, or a `not-found` error naming the longest prefix
/// of the pointer that exists.
fn lookup<'a>(document: &'a Value, pointer: &str) -> Result<&'a Value, ToolError> {
    if !pointer.is_empty() && !pointer.starts_with('/') {
        return Err(ToolError::invalid_arguments(format!(
            "`{pointer}` is not a JSON pointer: it must be empty or start with `/` (try `/{pointer}`)"
        )));
    }
    if let Some(value) = document.pointer(pointer) {
        return Ok(value);
    }
    let mut found = "";
    for (index, _) in pointer.match_indices('/').skip(1) {
        if document.pointer(&pointer[..index]).is_none() {
            break;
        }
        found = &pointer[..index];
    }
    let parent = document.pointer(found).unwrap_or(document);
    let what = match parent {
        Value::Object(_) => "an object without that member".to_owned(),
        Value::Array(items) => format!("an array of {} elements", items.len()),
        _ => "not a container".to_owned(),
    };
    let found = if found.is_empty() {
        "the document root"
    } else {
        found
    };
    Err(ToolError::not_found(format!(
        "no value at `{pointer}`: `{found}` is {what}"
    )))
}

fn layout(value: &Value, style: json::Style, indent: u8) -> Result<String, ToolError> {
    match style {
        json::Style::Minify => Ok(value.to_string()),
        json::Style::Pretty => {
            let indent = vec![b' '; usize::from(indent)];
            let mut out = Vec::new();
            let formatter = serde_json::ser::PrettyFormatter::with_indent(&indent);
            let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
            value.serialize(&mut serializer).or_failed()?;
            String::from_utf8(out).or_failed()
        }
    }
}

fn sort_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            for (key, mut child) in entries {
                sort_keys(&mut child);
                map.insert(key, child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

/// RFC 7396, section 2.
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let Value::Object(target) = target else {
        unreachable!("made an object above");
    };
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            merge(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::json::*;
    use serde_json::json;

    #[test]
    fn the_catalogue_serves_valid_schemas_by_name() {
        let names = schemas();
        assert_eq!(names, "geo-point\nperson\nsemver");
        for name in names.lines() {
            let schema: serde_json::Value = serde_json::from_str(schema(name).unwrap()).unwrap();
            assert!(jsonschema::validator_for(&schema).is_ok(), "{name}");
        }
        let verdict = validate(Validate {
            document: json!("1.4.0-rc.1"),
            schema: serde_json::from_str(schema("semver").unwrap()).unwrap(),
            max_errors: 10,
        })
        .unwrap();
        assert!(verdict.valid);
        assert_eq!(
            schema("nope").unwrap_err().kind(),
            toolhost_sdk::ErrorKind::NotFound
        );
        assert_eq!(complete_schema_name("pe").values, ["person"]);
    }

    #[test]
    fn query_finds_values_and_explains_misses() {
        let document = json!({ "items": [{ "name": "a" }], "a/b": 1 });
        let query = |pointer: &str| {
            super::json::query(Query {
                document: document.clone(),
                pointer: pointer.into(),
            })
        };
        assert_eq!(query("/items/0/name").unwrap(), json!("a"));
        assert_eq!(query("/a~1b").unwrap(), json!(1));
        assert_eq!(query("").unwrap(), document);

        let err = query("/items/3/name").unwrap_err();
        assert_eq!(err.kind(), toolhost_sdk::ErrorKind::NotFound);
        assert_eq!(
            err.message(),
            "no value at `/items/3/name`: `/items` is an array of 1 elements"
        );
        let err = query("/missing").unwrap_err();
        assert!(
            err.message().contains("the document root"),
            "{}",
            err.message()
        );
        assert_eq!(
            query("items").unwrap_err().kind(),
            toolhost_sdk::ErrorKind::InvalidArguments
        );
    }

    #[test]
    fn format_pretty_minify_and_sort() {
        let args = |style, indent, sort_keys| Format {
            json: r#"{"b": [1, 2], "a": {}}"#.into(),
            style,
            indent,
            sort_keys,
        };
        assert_eq!(
            format(args(Style::Minify, 2, false)).unwrap(),
            r#"{"b":[1,2],"a":{}}"#
        );
        assert_eq!(
            format(args(Style::Minify, 2, true)).unwrap(),
            r#"{"a":{},"b":[1,2]}"#
        );
        assert_eq!(
            format(args(Style::Pretty, 4, false)).unwrap(),
            "{\n    \"b\": [\n        1,\n        2\n    ],\n    \"a\": {}\n}"
        );
        let err = format(Format {
            json: "{,".into(),
            style: Style::Pretty,
            indent: 2,
            sort_keys: false,
        })
        .unwrap_err();
        assert!(
            err.message().contains("line 1 column 2"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn validation_lists_errors_with_paths() {
        let schema = json!({
            "type": "object",
            "properties": { "age": { "type": "integer", "minimum": 0 } },
            "required": ["name"]
        });
        let verdict = validate(Validate {
            document: json!({ "age": -1 }),
            schema: schema.clone(),
            max_errors: 50,
        })
        .unwrap();
        assert!(!verdict.valid);
        let mut paths: Vec<&str> = verdict
            .errors
            .iter()
            .map(|e| e.instance_path.as_str())
            .collect();
        paths.sort();
        assert_eq!(paths, ["", "/age"]);

        let verdict = validate(Validate {
            document: json!({ "name": "x", "age": 3 }),
            schema,
            max_errors: 50,
        })
        .unwrap();
        assert_eq!(
            verdict,
            Validation {
                valid: true,
                errors: vec![]
            }
        );

        let err = validate(Validate {
            document: json!(1),
            schema: json!({ "type": "no-such-type" }),
            max_errors: 50,
        })
        .unwrap_err();
        assert_eq!(err.kind(), toolhost_sdk::ErrorKind::InvalidArguments);
    }

    #[test]
    fn merge_patch_follows_rfc_7396() {
        // The example of RFC 7396, section 3.
        let document = json!({
            "title": "Goodbye!",
            "author": { "givenName": "John", "familyName": "Doe" },
            "tags": ["example", "sample"],
            "content": "This will be unchanged"
        });
        let patch = json!({
            "title": "Hello!",
            "phoneNumber": "+01-123-456-7890",
            "author": { "familyName": null },
            "tags": ["example"]
        });
        assert_eq!(
            merge_patch(MergePatch { document, patch }),
            json!({
                "title": "Hello!",
                "author": { "givenName": "John" },
                "tags": ["example"],
                "content": "This will be unchanged",
                "phoneNumber": "+01-123-456-7890"
            })
        );
        assert_eq!(
            merge_patch(MergePatch {
                document: json!([1]),
                patch: json!({ "a": { "b": null } })
            }),
            json!({ "a": {} })
        );
    }
}
