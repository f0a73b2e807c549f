//! What checking a structured result against its schema costs, and what
//! the budget's up-front estimate adds.
//!
//! - `jsonschema_plain`: jsonschema's own validator, built as before issue
//!   10 (`validator_for`), on 1000 objects: the baseline.
//! - `schema_plain`: the same through [`Schema::validate`], estimate
//!   included: its overhead over the baseline.
//! - `schema_backtracking_pattern`: 1000 strings of 30 `a`s and a `!`
//!   against `^(a+)+$`, linear-time; before, each string cost ~20 ms.
//!
//! Report ratios against `jsonschema_plain` from the same run.

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use toolhost::schema::{Schema, SchemaBudget};

fn objects() -> (Value, Value) {
    let schema = json!({
        "type": "object",
        "properties": {"rows": {"type": "array", "items": {"$ref": "#/$defs/row"}}},
        "$defs": {"row": {
            "type": "object",
            "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
            "required": ["id", "name"],
        }},
    });
    let rows: Vec<Value> = (0..1000)
        .map(|i| json!({"id": i, "name": format!("row {i}")}))
        .collect();
    (schema, json!({ "rows": rows }))
}

fn validate(c: &mut Criterion) {
    let (schema, instance) = objects();
    let plain = jsonschema::validator_for(&schema).unwrap();
    c.bench_function("jsonschema_plain", |b| {
        b.iter(|| assert!(plain.is_valid(&instance)))
    });
    let budgeted = Schema::compile(&schema.to_string(), &SchemaBudget::default()).unwrap();
    c.bench_function("schema_plain", |b| {
        b.iter(|| budgeted.validate(&instance).unwrap())
    });

    let pattern = json!({
        "type": "object",
        "properties": {"words": {"type": "array", "items": {"pattern": "^(a+)+$"}}},
    });
    let words = json!({ "words": vec![format!("{}!", "a".repeat(30)); 1000] });
    let linear = Schema::compile(&pattern.to_string(), &SchemaBudget::default()).unwrap();
    c.bench_function("schema_backtracking_pattern", |b| {
        b.iter(|| assert!(linear.validate(&words).is_err()))
    });
}

criterion_group!(benches, validate);
criterion_main!(benches);
