//! Tool schemas: untrusted input, compiled within limits and checked
//! within a budget.
//!
//! A plugin declares a JSON Schema for each tool's arguments and structured
//! output, and a schema is a program: nested `allOf`/`$ref` can double the
//! work per level, a `pattern` can backtrack, thousands of patterns can eat
//! gigabytes. So [`Schema::compile`] walks the schema first (`shape`) and
//! refuses it when it passes a cap of [`SchemaBudget`]: text size, nesting
//! depth, number of subschemas, subschemas one value can be checked
//! against once `$ref`s and in-place applicators are followed, number and
//! total length of patterns. `$ref`s must stay inside the schema (nothing
//! is ever fetched), and patterns use the linear-time `regex` engine, so a
//! pattern that needs backtracking (look-around, backreferences) is refused
//! at load instead of slowing every call.
//!
//! Then every [`Schema::validate`] first counts what checking this
//! instance will cost (`cost`: values × the subschemas reaching each, with
//! repeats) and refuses an instance over [`SchemaBudget::max_checks`]
//! before doing any of it. That count bounds the work of validation, so
//! [`Schema::validate_async`] can run small instances inline and move the
//! rest to the blocking pool, where the worst case is the budget.
//!
//! `format` is not asserted (it is an annotation, as in draft 2020-12).

mod cost;
mod shape;

use std::fmt;
use std::sync::Arc;

use jsonschema::{PatternOptions, Validator};
use serde_json::Value;

use crate::catalog::JsonObject;
use shape::{Shape, display, saturated};

/// Most violations one [`Rejection::Violations`] lists.
pub const MAX_VIOLATIONS: usize = 10;

/// Instances predicted to take at most this many checks are validated on
/// the calling task; more go to the blocking pool.
const INLINE_CHECKS: u64 = 20_000;

/// Limits on what a schema may ask of the host. Each is named in the
/// message that refuses a schema or an instance.
#[derive(Debug, Clone)]
pub struct SchemaBudget {
    /// Bytes of schema text.
    pub max_text_bytes: usize,
    /// Levels of JSON nesting in the schema text.
    pub max_depth: usize,
    /// Subschemas, each counted once however many `$ref`s lead to it.
    pub max_subschemas: usize,
    /// Subschemas one value can be checked against, following `$ref`,
    /// `allOf`, `anyOf`, `oneOf`, `not`, `if` and repeats.
    pub max_expansion: u64,
    /// `pattern` and `patternProperties` keys.
    pub max_patterns: usize,
    /// Bytes of all patterns together.
    pub max_pattern_bytes: usize,
    /// Bytes one compiled pattern may take (and its matching cache).
    pub max_regex_bytes: usize,
    /// Schema checks one validation may take, predicted before it starts.
    pub max_checks: u64,
}

impl Default for SchemaBudget {
    fn default() -> Self {
        Self {
            max_text_bytes: 256 * 1024,
            max_depth: 64,
            max_subschemas: 4096,
            max_expansion: 2048,
            max_patterns: 128,
            max_pattern_bytes: 16 * 1024,
            max_regex_bytes: 256 * 1024,
            max_checks: 20_000_000,
        }
    }
}

/// A compiled tool schema.
pub struct Schema {
    object: Arc<JsonObject>,
    shape: Shape,
    validator: Validator,
    max_checks: u64,
}

/// Why an instance was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// It does not match: at most [`MAX_VIOLATIONS`] lines, each
    /// `/json/pointer: message` (the root is `/`).
    Violations(Vec<String>),
    /// Checking it would take more than the budget; nothing was checked.
    TooComplex {
        /// Values of the instance counted before giving up.
        values: u64,
        /// Checks counted before giving up (more than `budget`).
        checks: u64,
        budget: u64,
    },
}

impl fmt::Display for Rejection {
    /// The violations joined by `; `, or "too complex to validate against
    /// its schema: …", to follow e.g. "the structured result does not
    /// match its output schema: " or "the structured result is ".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Violations(lines) => f.write_str(&lines.join("; ")),
            Rejection::TooComplex {
                values,
                checks,
                budget,
            } => write!(
                f,
                "too complex to validate against its schema: {values} values would take more \
                 than {checks} schema checks, over the budget of {budget} (schema checks per \
                 validation); send less data or simplify the schema"
            ),
        }
    }
}

impl Schema {
    /// Compiles a tool schema: a JSON object with `"type": "object"` (as
    /// MCP requires), within `budget`.
    pub fn compile(text: &str, budget: &SchemaBudget) -> Result<Schema, String> {
        if text.len() > budget.max_text_bytes {
            return Err(format!(
                "is {} bytes, over the limit of {} bytes (schema size)",
                text.len(),
                budget.max_text_bytes
            ));
        }
        let value: Value =
            serde_json::from_str(text).map_err(|e| format!("not valid JSON ({e})"))?;
        let Value::Object(object) = value else {
            return Err("must be a JSON object".to_owned());
        };
        if object.get("type") != Some(&Value::String("object".into())) {
            return Err(
                "must describe an object (`\"type\": \"object\"`), as MCP requires".to_owned(),
            );
        }
        let value = Value::Object(object);
        let shape = shape::walk(&value, budget)?;
        for (pattern, at) in &shape.patterns {
            check_pattern(pattern, at, budget)?;
        }
        let validator = options(budget)
            .build(&value)
            .map_err(|e| format!("not a valid JSON Schema: {e}"))?;
        let Value::Object(object) = value else {
            unreachable!("checked above")
        };
        Ok(Schema {
            object: Arc::new(object),
            shape,
            validator,
            max_checks: budget.max_checks,
        })
    }

    /// The schema as declared, to publish.
    pub fn as_object(&self) -> &Arc<JsonObject> {
        &self.object
    }

    /// Checks `instance`, refusing it unchecked when it would take more
    /// than the budget. Takes at most [`SchemaBudget::max_checks`] checks:
    /// run it where blocking is fine, or use [`Schema::validate_async`].
    pub fn validate(&self, instance: &Value) -> Result<(), Rejection> {
        let work = self.estimate(instance)?;
        self.validate_within(instance, work)
    }

    /// [`Schema::validate`] for async callers: a small instance is checked
    /// here, a larger one on the blocking pool so that it never holds an
    /// async worker.
    ///
    /// The worst case is bounded by the caps, not by the schema's whim:
    /// the estimate takes one step per distinct (value, subschema) pair, at
    /// most values × subschemas and never more than the budget; validation
    /// runs only when the estimate (values × the subschemas reaching each,
    /// repeats included, string length for patterns) is within
    /// [`SchemaBudget::max_checks`], and each check is constant time but
    /// for patterns, which are linear in the string and charged for it.
    pub async fn validate_async(self: &Arc<Self>, instance: Arc<Value>) -> Result<(), Rejection> {
        // The estimate takes at most one step per (value, subschema) pair.
        let pairs = values_up_to(&instance, INLINE_CHECKS as usize)
            .saturating_mul(self.shape.nodes.len() as u64);
        if pairs <= INLINE_CHECKS {
            let work = self.estimate(&instance)?;
            if work.check.max(work.explain) <= INLINE_CHECKS {
                return self.validate_within(&instance, work);
            }
        }
        let schema = self.clone();
        tokio::task::spawn_blocking(move || schema.validate(&instance))
            .await
            .unwrap_or_else(|e| {
                Err(Rejection::Violations(vec![format!(
                    "/: validation failed inside the host ({e})"
                )]))
            })
    }

    fn estimate(&self, instance: &Value) -> Result<cost::Work, Rejection> {
        cost::estimate(&self.shape, instance, self.max_checks).map_err(|work| {
            Rejection::TooComplex {
                values: work.values,
                checks: work.check,
                budget: self.max_checks,
            }
        })
    }

    fn validate_within(&self, instance: &Value, work: cost::Work) -> Result<(), Rejection> {
        if self.validator.is_valid(instance) {
            return Ok(());
        }
        // Listing violations tests and then explains every `anyOf`/`oneOf`
        // branch, which doubles per nested level: past the budget, say only
        // that it does not match.
        let mut lines: Vec<String> = if work.explain <= self.max_checks {
            self.validator
                .iter_errors(instance)
                .take(MAX_VIOLATIONS)
                .map(|e| format!("{}: {e}", display(&e.instance_path().to_string())))
                .collect()
        } else {
            vec![format!(
                "/: does not match; listing the violations would take {} schema checks, over \
                 the budget of {} (schema checks per validation)",
                saturated(work.explain),
                self.max_checks
            )]
        };
        if lines.is_empty() {
            lines.push("/: does not match".to_owned());
        }
        Err(Rejection::Violations(lines))
    }
}

/// Validator options: linear-time regexes within the budget, no formats
/// asserted, nothing fetched.
fn options(budget: &SchemaBudget) -> jsonschema::ValidationOptions<'static> {
    jsonschema::options()
        .with_pattern_options(
            PatternOptions::regex()
                .size_limit(budget.max_regex_bytes)
                .dfa_size_limit(budget.max_regex_bytes),
        )
        .should_validate_formats(false)
        .offline()
}

/// Refuses a pattern the linear-time engine cannot run, saying why.
fn check_pattern(pattern: &str, at: &str, budget: &SchemaBudget) -> Result<(), String> {
    let alone = serde_json::json!({ "pattern": pattern });
    if options(budget).build(&alone).is_ok() {
        return Ok(());
    }
    let reason = match regex::RegexBuilder::new(pattern)
        .size_limit(budget.max_regex_bytes)
        .build()
    {
        // Parse errors span lines (pattern, caret, reason): keep the reason.
        Err(e) => {
            let text = e.to_string();
            text.lines()
                .find_map(|line| line.strip_prefix("error: "))
                .map_or(text.clone(), str::to_owned)
        }
        Ok(_) => "it is not an ECMA-262 regular expression".to_owned(),
    };
    let shown: String = pattern.chars().take(80).collect();
    let ellipsis = if shown.len() < pattern.len() {
        "…"
    } else {
        ""
    };
    Err(format!(
        "pattern `{shown}{ellipsis}` at {at} cannot be used: {reason}; toolhost matches \
         `pattern` and `patternProperties` with linear-time regular expressions (no \
         look-around, no backreferences, at most {} bytes compiled)",
        budget.max_regex_bytes
    ))
}

/// Values in `instance`, counting no further than `limit`.
fn values_up_to(instance: &Value, limit: usize) -> u64 {
    let mut count = 0usize;
    let mut stack = vec![instance];
    while let Some(value) = stack.pop() {
        count += 1;
        if count > limit {
            break;
        }
        match value {
            Value::Array(items) => stack.extend(items),
            Value::Object(members) => stack.extend(members.values()),
            _ => {}
        }
    }
    count as u64
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn compile(schema: Value) -> Result<Schema, String> {
        Schema::compile(&schema.to_string(), &SchemaBudget::default())
    }

    fn violations(schema: &Schema, instance: Value) -> Vec<String> {
        match schema.validate(&instance) {
            Err(Rejection::Violations(lines)) => lines,
            other => panic!("expected violations, got {other:?}"),
        }
    }

    /// `$defs` d0…d{levels}, each level `allOf` twice the next: the
    /// expansion doubles per level.
    fn doubling(levels: usize) -> Value {
        let mut defs = serde_json::Map::new();
        defs.insert(format!("d{levels}"), json!({"type": "string"}));
        for level in (0..levels).rev() {
            let next = format!("#/$defs/d{}", level + 1);
            defs.insert(
                format!("d{level}"),
                json!({"allOf": [{"$ref": next}, {"$ref": next}]}),
            );
        }
        json!({
            "type": "object",
            "properties": {"value": {"$ref": "#/$defs/d0"}},
            "$defs": defs,
        })
    }

    #[test]
    fn must_be_an_object_schema() {
        assert!(compile(json!({"type": "object", "properties": {}})).is_ok());
        let err = |text: &str| {
            Schema::compile(text, &SchemaBudget::default())
                .err()
                .unwrap()
        };
        assert!(err(r#"{"type":"string"}"#).contains("`\"type\": \"object\"`"));
        assert!(err("{nope").contains("not valid JSON"));
        assert!(err("[1]").contains("must be a JSON object"));
        assert!(
            err(r#"{"type":"object","properties":{"a":7}}"#)
                .contains("/properties/a is not a schema")
        );
    }

    #[test]
    fn violations_name_where_and_why() {
        let schema = compile(json!({
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
            "required": ["a"],
        }))
        .unwrap();
        assert_eq!(schema.validate(&json!({"a": 1, "b": "x"})), Ok(()));
        let lines = violations(&schema, json!({"a": "one"}));
        assert_eq!(lines, ["/a: \"one\" is not of type \"integer\""]);
        let lines = violations(&schema, json!({}));
        assert_eq!(lines, ["/: \"a\" is a required property"]);
        let many = compile(json!({
            "type": "object",
            "additionalProperties": {"type": "integer"},
        }))
        .unwrap();
        let instance: serde_json::Map<String, Value> =
            (0..50).map(|i| (format!("k{i}"), json!("x"))).collect();
        assert_eq!(
            violations(&many, Value::Object(instance)).len(),
            MAX_VIOLATIONS
        );
    }

    #[test]
    fn text_size_is_capped() {
        let budget = SchemaBudget {
            max_text_bytes: 100,
            ..SchemaBudget::default()
        };
        let text = json!({"type": "object", "description": "x".repeat(200)}).to_string();
        let err = Schema::compile(&text, &budget).err().unwrap();
        assert!(
            err.contains("over the limit of 100 bytes (schema size)"),
            "{err}"
        );
    }

    #[test]
    fn nesting_depth_is_capped() {
        // Two levels each: 70 levels deep.
        let mut deep = json!({"type": "string"});
        for _ in 0..35 {
            deep = json!({"type": "object", "properties": {"x": deep}});
        }
        let err = compile(deep).err().unwrap();
        assert!(
            err.contains("over the limit of 64 (schema nesting depth)"),
            "{err}"
        );
    }

    #[test]
    fn subschemas_are_capped() {
        let properties: serde_json::Map<String, Value> =
            (0..5000).map(|i| (format!("p{i}"), json!({}))).collect();
        let err = compile(json!({"type": "object", "properties": properties}))
            .err()
            .unwrap();
        assert!(
            err.contains("more than 4096 subschemas (subschemas per schema)"),
            "{err}"
        );
    }

    #[test]
    fn exponential_all_of_nest_is_refused_at_load() {
        // Each level is four times the next (two branches, two `$ref`s):
        // 8 levels check about 1000 subschemas per value, 40 far more.
        let start = Instant::now();
        let fine = compile(doubling(8)).unwrap();
        assert_eq!(fine.validate(&json!({"value": "s"})), Ok(()));
        let err = compile(doubling(40)).err().unwrap();
        assert!(
            err.contains("one value reaching /properties/value would be checked against")
                && err.contains("over the limit of 2048 (subschemas per value)"),
            "{err}"
        );
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn definitions_shared_by_members_compile_once() {
        // Each level names the next twice, for different members: per
        // value that is one subschema, but inlining `$ref`s would build
        // 2^30 of them.
        let mut defs = serde_json::Map::new();
        defs.insert("d30".into(), json!({"type": "string"}));
        for level in 0..30 {
            let next = format!("#/$defs/d{}", level + 1);
            defs.insert(
                format!("d{level}"),
                json!({"properties": {"x": {"$ref": next}, "y": {"$ref": next}}}),
            );
        }
        let start = Instant::now();
        let schema =
            compile(json!({"type": "object", "$ref": "#/$defs/d0", "$defs": defs})).unwrap();
        assert_eq!(schema.validate(&json!({"x": {"y": {"x": {}}}})), Ok(()));
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn refs_that_apply_themselves_to_the_same_value_are_refused() {
        let err = compile(json!({
            "type": "object",
            "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"anyOf": [{"$ref": "#/$defs/a"}]}},
            "properties": {"x": {"$ref": "#/$defs/a"}},
        }))
        .err()
        .unwrap();
        assert!(err.contains("validation would never end"), "{err}");
    }

    #[test]
    fn recursive_schemas_that_descend_are_fine() {
        let tree = compile(json!({
            "type": "object",
            "$ref": "#/$defs/node",
            "$defs": {"node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                },
            }},
        }))
        .unwrap();
        let mut instance = json!({"name": "leaf"});
        for depth in 0..50 {
            instance =
                json!({"name": format!("n{depth}"), "children": [instance.clone(), {"name": "x"}]});
        }
        assert_eq!(tree.validate(&instance), Ok(()));
        let mut bad = json!({"name": 7});
        for _ in 0..3 {
            bad = json!({"name": "n", "children": [bad]});
        }
        assert_eq!(
            violations(&tree, bad),
            ["/children/0/children/0/children/0/name: 7 is not of type \"string\""]
        );
    }

    #[test]
    fn repeats_that_multiply_per_level_are_refused_per_instance() {
        // Each level checks the next one twice: cheap to load (one
        // subschema per value), exponential in the instance's depth.
        let schema = compile(json!({
            "type": "object",
            "$ref": "#/$defs/twice",
            "$defs": {
                "twice": {"allOf": [{"$ref": "#/$defs/step"}, {"$ref": "#/$defs/step"}]},
                "step": {"properties": {"next": {"$ref": "#/$defs/twice"}}},
            },
        }))
        .unwrap();
        let mut shallow = json!({});
        for _ in 0..5 {
            shallow = json!({"next": shallow});
        }
        assert_eq!(schema.validate(&shallow), Ok(()));
        let mut deep = json!({});
        for _ in 0..100 {
            deep = json!({"next": deep});
        }
        let start = Instant::now();
        let rejection = schema.validate(&deep).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(matches!(
            rejection,
            Rejection::TooComplex {
                budget: 20_000_000,
                ..
            }
        ));
        let message = rejection.to_string();
        assert!(
            message.starts_with("too complex to validate against its schema:")
                && message.contains("over the budget of 20000000 (schema checks per validation)"),
            "{message}"
        );
    }

    #[test]
    fn explaining_nested_branches_past_the_budget_says_only_that_it_does_not_match() {
        // A failing `anyOf` tests, then explains, each branch: doubling per
        // instance level even though checking validity does not double.
        let schema = Schema::compile(
            &json!({
                "type": "object",
                "$ref": "#/$defs/node",
                "$defs": {"node": {"anyOf": [
                    {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}}},
                    {"type": "integer"},
                ]}},
            })
            .to_string(),
            &SchemaBudget {
                max_checks: 10_000,
                ..SchemaBudget::default()
            },
        )
        .unwrap();
        let mut deep = json!("leaf");
        for _ in 0..40 {
            deep = json!({"next": deep});
        }
        let start = Instant::now();
        let lines = violations(&schema, deep);
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].starts_with("/: does not match; listing the violations"),
            "{lines:?}"
        );
        let shallow = json!({"next": {"next": "leaf"}});
        let lines = violations(&schema, shallow);
        assert!(
            lines[0].contains("is not valid under any of the schemas"),
            "{lines:?}"
        );
    }

    #[test]
    fn backtracking_patterns_run_in_linear_time() {
        let schema = compile(json!({
            "type": "object",
            "properties": {"s": {"type": "string", "pattern": "^(a+)+$"}},
        }))
        .unwrap();
        let hostile = format!("{}!", "a".repeat(100_000));
        let start = Instant::now();
        let lines = violations(&schema, json!({ "s": hostile }));
        assert!(lines[0].starts_with("/s: "), "{lines:?}");
        assert_eq!(schema.validate(&json!({"s": "a".repeat(100_000)})), Ok(()));
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn patterns_needing_backtracking_are_refused() {
        let err = compile(json!({
            "type": "object",
            "properties": {"s": {"type": "string", "pattern": "^(?=a)a+$"}},
        }))
        .err()
        .unwrap();
        assert!(
            err.contains("pattern `^(?=a)a+$` at /properties/s/pattern cannot be used")
                && err.contains("look-around")
                && err.contains("linear-time regular expressions"),
            "{err}"
        );
        let err = compile(json!({
            "type": "object",
            "patternProperties": {"^(a)\\1$": {}},
        }))
        .err()
        .unwrap();
        assert!(
            err.contains("at /patternProperties/^(a)\\1$ cannot be used"),
            "{err}"
        );
    }

    #[test]
    fn patterns_are_capped_in_number_length_and_compiled_size() {
        let properties: serde_json::Map<String, Value> = (0..129)
            .map(|i| (format!("p{i}"), json!({"pattern": "^a$"})))
            .collect();
        let err = compile(json!({"type": "object", "properties": properties}))
            .err()
            .unwrap();
        assert!(err.contains("more than 128 patterns"), "{err}");
        let properties: serde_json::Map<String, Value> = (0..20)
            .map(|i| (format!("p{i}"), json!({"pattern": "a".repeat(1000)})))
            .collect();
        let err = compile(json!({"type": "object", "properties": properties}))
            .err()
            .unwrap();
        assert!(
            err.contains("more than 16384 bytes in all (pattern text per schema)"),
            "{err}"
        );
        let err = compile(json!({
            "type": "object",
            "properties": {"s": {"pattern": "(\\w{100}){100}"}},
        }))
        .err()
        .unwrap();
        assert!(err.contains("at most 262144 bytes compiled"), "{err}");
    }

    #[test]
    fn remote_refs_are_refused_and_never_fetched() {
        for target in [
            "http://127.0.0.1:9/schema.json",
            "https://example.com/schema.json#/$defs/a",
            "other.json",
            "file:///etc/passwd",
        ] {
            let err = compile(json!({
                "type": "object",
                "properties": {"a": {"$ref": target}},
            }))
            .err()
            .unwrap();
            assert!(
                err.contains(&format!("refers outside the schema (`{target}`)"))
                    && err.contains("never fetches"),
                "{err}"
            );
        }
        // A root `$id` names the schema itself.
        let schema = compile(json!({
            "$id": "https://example.com/tool.json",
            "type": "object",
            "properties": {"a": {"$ref": "https://example.com/tool.json#/$defs/a"}},
            "$defs": {"a": {"type": "integer"}},
        }))
        .unwrap();
        assert_eq!(violations(&schema, json!({"a": "x"})).len(), 1);
        let err = compile(json!({
            "type": "object",
            "properties": {"a": {"$id": "https://example.com/a.json", "type": "string"}},
        }))
        .err()
        .unwrap();
        assert!(err.contains("accepts `$id` only at the root"), "{err}");
    }

    #[test]
    fn refs_to_nothing_or_unknown_anchors_are_refused() {
        let err = compile(json!({"type": "object", "$ref": "#/$defs/missing"}))
            .err()
            .unwrap();
        assert!(err.contains("points to nothing in the schema"), "{err}");
        let err = compile(json!({"type": "object", "$ref": "#nowhere"}))
            .err()
            .unwrap();
        assert!(err.contains("anchor `nowhere`"), "{err}");
        let anchored = compile(json!({
            "type": "object",
            "properties": {"a": {"$ref": "#int"}},
            "$defs": {"i": {"$anchor": "int", "type": "integer"}},
        }))
        .unwrap();
        assert_eq!(violations(&anchored, json!({"a": "x"})).len(), 1);
    }

    #[test]
    fn property_names_are_checked_apart_from_member_values() {
        let schema = compile(json!({
            "type": "object",
            "properties": {"a": {"type": "integer"}},
            "propertyNames": {"maxLength": 1},
        }))
        .unwrap();
        assert_eq!(schema.validate(&json!({"a": 1})), Ok(()));
        assert_eq!(
            violations(&schema, json!({"a": "x", "bb": 2})),
            [
                "/a: \"x\" is not of type \"integer\"",
                "/: \"bb\" is longer than 1 character"
            ]
        );
    }

    #[test]
    fn formats_are_not_asserted() {
        let schema = compile(json!({
            "type": "object",
            "properties": {"at": {"type": "string", "format": "date-time"}},
        }))
        .unwrap();
        assert_eq!(schema.validate(&json!({"at": "not a date"})), Ok(()));
    }

    #[allow(dead_code)]
    #[derive(schemars::JsonSchema)]
    struct Shelf {
        /// Where the shelf is.
        room: String,
        books: Vec<Book>,
        best: Option<Box<Book>>,
        kind: Kind,
    }

    #[allow(dead_code)]
    #[derive(schemars::JsonSchema)]
    struct Book {
        title: String,
        pages: u32,
        #[schemars(regex(pattern = r"^\d{3}-\d{10}$"))]
        isbn: String,
        sequel: Option<Box<Book>>,
    }

    #[allow(dead_code)]
    #[derive(schemars::JsonSchema)]
    enum Kind {
        Wall,
        Standing { height: u32 },
    }

    #[test]
    fn schemars_schemas_compile_and_validate_as_before() {
        let generated = schemars::schema_for!(Shelf);
        let text = serde_json::to_string(&generated).unwrap();
        assert!(text.contains("2020-12") && text.contains("#/$defs/Book"));
        let schema = Schema::compile(&text, &SchemaBudget::default()).unwrap();
        let plain = jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap();
        let book = json!({"title": "T", "pages": 3, "isbn": "123-0123456789", "sequel": null});
        let good = json!({
            "room": "hall",
            "books": [book, {"title": "U", "pages": 1, "isbn": "123-0123456789",
                             "sequel": book}],
            "best": null,
            "kind": {"Standing": {"height": 3}},
        });
        assert_eq!(schema.validate(&good), Ok(()));
        let bad = json!({
            "room": 1,
            "books": [{"title": "T", "pages": -1, "isbn": "nope"}],
            "kind": "Floating",
        });
        let before: Vec<String> = plain
            .iter_errors(&bad)
            .take(MAX_VIOLATIONS)
            .map(|e| format!("{}: {e}", display(&e.instance_path().to_string())))
            .collect();
        assert_eq!(violations(&schema, bad), before);
        assert_eq!(schema.as_object().get("title"), Some(&json!("Shelf")));
    }

    #[tokio::test]
    async fn validate_async_gives_the_same_answers_inline_and_on_the_blocking_pool() {
        let schema = Arc::new(
            compile(json!({
                "type": "object",
                "properties": {"items": {"type": "array", "items": {"type": "integer"}}},
            }))
            .unwrap(),
        );
        let small = Arc::new(json!({"items": [1, 2, 3]}));
        assert_eq!(schema.validate_async(small).await, Ok(()));
        let large: Vec<Value> = (0..100_000).map(|i| json!(i)).collect();
        let mut bad = large.clone();
        bad[99_999] = json!("x");
        let large = Arc::new(json!({ "items": large }));
        assert_eq!(schema.validate_async(large).await, Ok(()));
        assert_eq!(
            schema
                .validate_async(Arc::new(json!({ "items": bad })))
                .await,
            Err(Rejection::Violations(vec![
                "/items/99999: \"x\" is not of type \"integer\"".to_owned()
            ]))
        );
    }

    /// JSON-ish schema text: mostly schema keywords, some junk.
    fn schema_text() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            Just("type"),
            Just("properties"),
            Just("items"),
            Just("allOf"),
            Just("anyOf"),
            Just("oneOf"),
            Just("not"),
            Just("if"),
            Just("then"),
            Just("else"),
            Just("$ref"),
            Just("$defs"),
            Just("pattern"),
            Just("patternProperties"),
            Just("required"),
            Just("additionalProperties"),
            Just("unevaluatedProperties"),
            Just("prefixItems"),
            Just("contains"),
            Just("propertyNames"),
            Just("$anchor"),
            Just("$id"),
            Just("enum"),
            Just("const"),
            Just("minimum"),
            Just("a"),
            Just("b"),
        ]
        .prop_map(str::to_owned);
        let leaf = prop_oneof![
            Just(json!("object")),
            Just(json!("string")),
            Just(json!("#")),
            Just(json!("#/$defs/a")),
            Just(json!("#/$defs/b")),
            Just(json!("#/properties/a")),
            Just(json!("^(a+)+$")),
            Just(json!("(?=x)")),
            Just(json!("http://example.com/x")),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            "[a-z#/$()+*?]{0,8}".prop_map(Value::String),
        ];
        let value = leaf.prop_recursive(6, 64, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((key.clone(), inner), 0..6)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        });
        (value, any::<bool>(), 0..3usize).prop_map(|(value, object, cut)| {
            let value = match value {
                Value::Object(mut members) if object => {
                    members.insert("type".into(), json!("object"));
                    Value::Object(members)
                }
                other => other,
            };
            let text = value.to_string();
            // Sometimes not JSON at all.
            text[..text.len() - text.len().min(cut)].to_owned()
        })
    }

    fn instance() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(Value::from),
            "[a!]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 48, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map("[ab]", inner, 0..4)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn compiling_any_text_never_panics_and_validation_ends(
            text in schema_text(),
            instances in prop::collection::vec(instance(), 0..4),
        ) {
            let budget = SchemaBudget { max_checks: 200_000, ..SchemaBudget::default() };
            if let Ok(schema) = Schema::compile(&text, &budget) {
                for instance in &instances {
                    let start = Instant::now();
                    let _ = schema.validate(instance);
                    prop_assert!(start.elapsed() < Duration::from_secs(2), "{text} on {instance}");
                }
            }
        }
    }
}
