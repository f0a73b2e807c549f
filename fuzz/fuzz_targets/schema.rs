//! A tool schema as a plugin declares it, and an instance to check against
//! it: `Schema::compile` must refuse or accept any text without panicking,
//! and validating any JSON instance must end within the budget's checks
//! (libFuzzer's `-timeout` catches a validation that does not).
//!
//! The input is the schema text, then a NUL byte, then the instance.

#![no_main]

use libfuzzer_sys::fuzz_target;
use toolhost::schema::{Schema, SchemaBudget};

fuzz_target!(|input: &str| {
    let (text, instance) = input.split_once('\0').unwrap_or((input, "null"));
    // A smaller check budget than the host's keeps each run short; the
    // bound, not its size, is what is tested.
    let budget = SchemaBudget {
        max_checks: 200_000,
        ..SchemaBudget::default()
    };
    let Ok(schema) = Schema::compile(text, &budget) else {
        return;
    };
    let Ok(instance) = serde_json::from_str(instance) else {
        return;
    };
    let _ = schema.validate(&instance);
});
