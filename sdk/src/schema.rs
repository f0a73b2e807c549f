//! JSON Schemas of arguments and results, shaped the way MCP wants them:
//! inline (no `$ref` where possible) and, at the top, always an object.

use schemars::JsonSchema;
use schemars::generate::{Contract, SchemaSettings};
use serde_json::{Map, Value, json};

/// The JSON Schema of `T`, draft 2020-12, with subschemas inlined (only
/// recursive types keep `$defs`), as a JSON object, [tidied](tidy).
///
/// `contract` matters where serde treats both directions differently: an
/// argument field with `#[serde(default)]` is optional, a result field with
/// `#[serde(skip_serializing_if = ...)]` is.
pub(crate) fn schema_of<T: JsonSchema + ?Sized>(contract: Contract) -> Map<String, Value> {
    let generator = SchemaSettings::draft2020_12()
        .with(|settings| {
            settings.inline_subschemas = true;
            settings.contract = contract;
        })
        .into_generator();
    let mut schema = match generator.into_root_schema_for::<T>().to_value() {
        Value::Object(map) => map,
        // `true` accepts anything, `false` nothing.
        Value::Bool(true) => Map::new(),
        _ => {
            let mut never = Map::new();
            never.insert("not".into(), json!({}));
            never
        }
    };
    tidy(&mut schema);
    schema
}

/// Remove what schemars adds for Rust readers but a tool schema does not
/// need: the root `title` (the Rust type name, e.g. `Pair` or `double`) and
/// the OpenAPI-style `format` of numbers (`double`, `uint8`, ...), which is
/// not part of JSON Schema's format vocabulary and which some model APIs
/// reject; `minimum`/`maximum` still carry the bounds. The root keywords
/// come first (`$schema`, `description`, `type`) for people reading it.
fn tidy(schema: &mut Map<String, Value>) {
    schema.remove("title");
    let mut root = Value::Object(std::mem::take(schema));
    strip_number_formats(&mut root);
    if let Value::Object(map) = root {
        *schema = map;
    }
    order_root_keywords(schema);
}

/// Put `$schema`, `description` and `type` first (with the
/// `preserve-order` feature; maps are sorted otherwise).
fn order_root_keywords(schema: &mut Map<String, Value>) {
    let mut ordered = Map::new();
    for key in ["$schema", "description", "type"] {
        if let Some(value) = schema.remove(key) {
            ordered.insert(key.into(), value);
        }
    }
    ordered.append(schema);
    *schema = ordered;
}

fn strip_number_formats(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let numeric = |ty: &Value| matches!(ty.as_str(), Some("number" | "integer"));
            let is_number = match map.get("type") {
                Some(Value::Array(types)) => types.iter().any(numeric),
                Some(ty) => numeric(ty),
                None => false,
            };
            if is_number {
                map.remove("format");
            }
            map.values_mut().for_each(strip_number_formats);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_number_formats),
        _ => {}
    }
}

/// The input schema of an operation that takes no arguments.
pub(crate) fn no_arguments_schema() -> Value {
    json!({ "type": "object", "properties": {} })
}

/// Whether every value valid against `schema` is a JSON object. A `oneOf` or
/// `anyOf` whose branches are all objects (how serde enums of struct variants
/// look) also counts, and gets the `"type": "object"` MCP clients look for.
pub(crate) fn make_object_schema(schema: &mut Map<String, Value>) -> bool {
    match schema.get("type") {
        Some(Value::String(ty)) => ty == "object",
        Some(_) => false,
        None => {
            let all_objects = ["oneOf", "anyOf"].iter().any(|key| {
                matches!(schema.get(*key), Some(Value::Array(branches))
                    if !branches.is_empty()
                        && branches.iter().all(|branch| branch.get("type") == Some(&json!("object"))))
            });
            if all_objects {
                schema.insert("type".into(), json!("object"));
                order_root_keywords(schema);
            }
            all_objects
        }
    }
}

/// How a result of a given type travels back to the host.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ResultShape {
    /// The type carries no information (`()`): empty output, no schema.
    Nothing,
    /// The type serializes to a JSON object: it is the structured result
    /// as is, and its schema is the output schema.
    Object(Value),
    /// Anything else (numbers, strings, arrays, options...): the structured
    /// result is `{"result": value}` and the text content is the value.
    Wrapped(Value),
}

impl ResultShape {
    /// The shape of results of type `T`.
    pub(crate) fn of<T: JsonSchema + ?Sized>() -> Self {
        Self::from_schema(schema_of::<T>(Contract::Serialize))
    }

    /// The shape of results whose JSON Schema is `schema`.
    pub(crate) fn from_schema(mut schema: Map<String, Value>) -> Self {
        if schema.get("type") == Some(&json!("null")) {
            return ResultShape::Nothing;
        }
        if make_object_schema(&mut schema) {
            return ResultShape::Object(Value::Object(schema));
        }
        ResultShape::Wrapped(wrap_schema(schema))
    }

    /// The output schema to declare, if any.
    pub(crate) fn output_schema(self) -> Option<Value> {
        match self {
            ResultShape::Nothing => None,
            ResultShape::Object(schema) | ResultShape::Wrapped(schema) => Some(schema),
        }
    }
}

/// `{"type":"object","properties":{"result": schema},"required":["result"]}`,
/// keeping the root-only keywords (`$schema`, `$defs`) at the root so that
/// references inside `schema` still resolve.
fn wrap_schema(mut schema: Map<String, Value>) -> Value {
    let mut root = Map::new();
    for key in ["$schema", "$defs"] {
        if let Some(value) = schema.remove(key) {
            root.insert(key.into(), value);
        }
    }
    root.insert("type".into(), json!("object"));
    root.insert("properties".into(), json!({ "result": schema }));
    root.insert("required".into(), json!(["result"]));
    Value::Object(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemars::JsonSchema;

    /// A point on the plane.
    #[derive(JsonSchema)]
    #[allow(dead_code, reason = "only the schema is used")]
    struct Point {
        /// Horizontal position.
        x: f64,
        y: Option<Inner>,
    }

    #[derive(JsonSchema)]
    #[allow(dead_code, reason = "only the schema is used")]
    struct Inner {
        z: u8,
    }

    #[derive(JsonSchema)]
    #[serde(tag = "kind")]
    #[allow(dead_code, reason = "only the schema is used")]
    enum Shape {
        Circle { radius: f64 },
        Square { side: f64 },
    }

    #[derive(JsonSchema)]
    #[allow(dead_code, reason = "only the schema is used")]
    struct Routed {
        #[schemars(extend("x-mcp-header" = "Region"))]
        region: String,
    }

    // The README tells authors to mark header arguments this way.
    #[test]
    fn extension_keywords_on_fields_are_kept() {
        let schema = Value::Object(schema_of::<Routed>(Contract::Deserialize));
        assert_eq!(schema["properties"]["region"]["x-mcp-header"], "Region");
    }

    #[test]
    fn struct_schemas_are_inline_objects_with_field_docs() {
        let schema = Value::Object(schema_of::<Point>(Contract::Deserialize));
        assert_eq!(schema["type"], "object");
        assert_eq!(
            schema["properties"]["x"]["description"],
            "Horizontal position."
        );
        assert_eq!(schema["required"], json!(["x"]));
        let text = schema.to_string();
        assert!(!text.contains("$ref") && !text.contains("$defs"), "{text}");
        assert!(schema.get("title").is_none(), "{text}");
        assert!(!text.contains("format"), "{text}");
        assert_eq!(schema["properties"]["y"]["properties"]["z"]["maximum"], 255);
    }

    #[derive(JsonSchema)]
    #[allow(dead_code, reason = "only the schema is used")]
    struct Sparse {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tags: Vec<String>,
        #[serde(default)]
        count: u32,
    }

    #[test]
    fn arguments_and_results_follow_their_serde_direction() {
        let arguments = Value::Object(schema_of::<Sparse>(Contract::Deserialize));
        assert_eq!(arguments.get("required"), None, "{arguments}");
        let ResultShape::Object(result) = ResultShape::of::<Sparse>() else {
            panic!("a struct is an object");
        };
        assert_eq!(result["required"], json!(["count"]), "{result}");
    }

    #[test]
    fn objects_are_structured_results_as_they_are() {
        let ResultShape::Object(schema) = ResultShape::of::<Point>() else {
            panic!("a struct is an object");
        };
        assert_eq!(schema["type"], "object");
    }

    #[test]
    fn enums_of_struct_variants_are_objects() {
        let ResultShape::Object(schema) = ResultShape::of::<Shape>() else {
            panic!("every variant is an object");
        };
        assert_eq!(schema["type"], "object");
        assert!(schema["oneOf"].is_array());
    }

    #[test]
    fn non_objects_are_wrapped_in_a_result_property() {
        let ResultShape::Wrapped(schema) = ResultShape::of::<f64>() else {
            panic!("a number is not an object");
        };
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["required"], json!(["result"]));
        assert_eq!(schema["properties"]["result"], json!({ "type": "number" }));
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        assert!(schema["properties"]["result"].get("$schema").is_none());

        for shape in [
            ResultShape::of::<String>(),
            ResultShape::of::<Vec<u32>>(),
            ResultShape::of::<Option<Point>>(),
        ] {
            assert!(matches!(shape, ResultShape::Wrapped(_)), "{shape:?}");
        }
    }

    #[test]
    fn unit_has_no_output_schema() {
        assert_eq!(ResultShape::of::<()>(), ResultShape::Nothing);
        assert_eq!(ResultShape::of::<()>().output_schema(), None);
    }

    #[test]
    fn wrapping_keeps_definitions_at_the_root() {
        let mut inner = Map::new();
        inner.insert("$ref".into(), json!("#/$defs/Node"));
        inner.insert("$defs".into(), json!({ "Node": { "type": "array" } }));
        let wrapped = wrap_schema(inner);
        assert_eq!(wrapped["$defs"]["Node"]["type"], "array");
        assert_eq!(
            wrapped["properties"]["result"],
            json!({ "$ref": "#/$defs/Node" })
        );
    }
}
