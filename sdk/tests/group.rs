//! `#[group]` end to end, natively: what a group describes and how its
//! calls are dispatched, as the host would see them through the WIT exports.

use toolhost_sdk::__private::{self, Group, GroupDef};
use toolhost_sdk::prelude::*;
use toolhost_sdk::serde_json::{Value, json};
use toolhost_sdk::{ErrorKind, IntoOutput};

/// Arithmetic for the tests.
///
/// Second paragraph.
#[group(name = "calc", version = "1.2.3", instructions = "Be exact.")]
mod calc {
    use super::*;

    #[derive(Deserialize, JsonSchema)]
    pub struct Pair {
        /// First operand.
        pub a: f64,
        /// Second operand.
        pub b: f64,
    }

    #[derive(Serialize, JsonSchema)]
    pub struct Both {
        pub quotient: f64,
        pub remainder: f64,
    }

    /// Divide `a` by `b`.
    ///
    /// Fails when `b` is zero.
    #[operation(read_only, idempotent, title = "Divide")]
    pub fn divide(ctx: &Context, Pair { a, b }: Pair) -> Result<f64, ToolError> {
        if b == 0.0 {
            return Err(ToolError::invalid_arguments("b must not be zero"));
        }
        ctx.debug("dividing");
        Ok(a / b)
    }

    /// Quotient and remainder.
    #[operation(name = "div-rem", destructive = false)]
    pub fn div_rem(Pair { a, b }: Pair) -> Both {
        Both {
            quotient: (a / b).trunc(),
            remainder: a % b,
        }
    }

    /// The configured greeting.
    #[operation]
    pub fn greeting(ctx: &Context) -> Option<String> {
        ctx.config("greeting")
    }

    /// Does nothing.
    #[operation]
    pub fn noop() {}

    /// Two pieces of content.
    #[operation]
    pub fn parts() -> Vec<Content> {
        vec![Content::text("a"), Content::text("b")]
    }

    /// Parses a number the `?` way.
    #[operation]
    pub fn parse() -> Result<i32, ToolError> {
        Ok("x".parse::<i32>()?)
    }
}

fn group() -> &'static GroupDef {
    <calc::__ToolhostGroup as Group>::GROUP
}

fn call(name: &str, arguments: Value) -> Result<ToolOutput, ToolError> {
    let ctx = Context::detached().with_config("greeting", "hi");
    __private::call(group(), name, &arguments.to_string(), &ctx)
}

fn operation(name: &str) -> &'static __private::OperationDef {
    group()
        .operations
        .iter()
        .find(|op| op.name == name)
        .unwrap_or_else(|| panic!("no operation {name}"))
}

#[test]
fn the_group_is_described_by_its_attribute_and_doc_comment() {
    let group = group();
    assert_eq!(group.name, "calc");
    assert_eq!(group.version, "1.2.3");
    assert_eq!(group.instructions, Some("Be exact."));
    assert_eq!(
        group.description,
        "Arithmetic for the tests.\n\nSecond paragraph."
    );
    let names: Vec<&str> = group.operations.iter().map(|op| op.name).collect();
    assert_eq!(
        names,
        ["divide", "div-rem", "greeting", "noop", "parts", "parse"]
    );
}

#[test]
fn operations_carry_their_docs_title_annotations_and_schemas() {
    let divide = operation("divide");
    assert_eq!(divide.title, Some("Divide"));
    assert_eq!(
        divide.description,
        "Divide `a` by `b`.\n\nFails when `b` is zero."
    );
    assert_eq!(divide.annotations, [Some(true), None, Some(true), None]);
    let input = (divide.input_schema)();
    assert_eq!(input["type"], "object");
    assert_eq!(input["properties"]["a"]["description"], "First operand.");
    assert_eq!(
        (divide.output_schema)(),
        <f64 as IntoOutput>::output_schema()
    );

    let div_rem = operation("div-rem");
    assert_eq!(div_rem.annotations, [None, Some(false), None, None]);
    assert_eq!(
        (div_rem.output_schema)().unwrap()["required"],
        json!(["quotient", "remainder"])
    );

    let noop = operation("noop");
    assert_eq!(
        (noop.input_schema)(),
        json!({ "type": "object", "properties": {} })
    );
    assert_eq!((noop.output_schema)(), None);
    assert!(__private::check_group(group()).is_empty());
}

#[test]
fn calls_run_the_function_and_shape_its_result() {
    let output = call("divide", json!({ "a": 1, "b": 4 })).unwrap();
    assert_eq!(output.structured(), Some(&json!({ "result": 0.25 })));
    assert_eq!(output.content(), &[Content::text("0.25")]);

    let output = call("div-rem", json!({ "a": 7, "b": 2 })).unwrap();
    assert_eq!(
        output.structured(),
        Some(&json!({ "quotient": 3.0, "remainder": 1.0 }))
    );
    assert!(output.content().is_empty());

    let output = call("greeting", json!({})).unwrap();
    assert_eq!(output.structured(), Some(&json!({ "result": "hi" })));

    assert_eq!(call("noop", json!({})).unwrap(), ToolOutput::new());

    let output = call("parts", json!({})).unwrap();
    assert_eq!(output.content(), &[Content::text("a"), Content::text("b")]);
    assert_eq!(output.structured(), None);
    assert_eq!((operation("parts").output_schema)(), None);
}

#[test]
fn failures_have_the_kind_a_model_can_act_on() {
    let err = call("divide", json!({ "a": 1, "b": 0 })).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArguments);
    assert_eq!(err.message(), "b must not be zero");

    let err = call("divide", json!({ "a": 1 })).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArguments);
    assert!(err.message().contains("missing field `b`"), "{err}");

    let err = call("parse", json!({})).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArguments);

    let err = call("multiply", json!({})).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(
        err.message(),
        "group `calc` has no operation `multiply`; it has: divide, div-rem, greeting, noop, parts, parse"
    );
}

#[test]
// The borrow selects the conversion, as in the code `#[group]` generates.
#[allow(clippy::needless_borrow)]
fn struct_results_skip_schema_generation_with_the_same_output() {
    fn marked_as_object<T: __private::ObjectOutput>() {}
    marked_as_object::<calc::Both>();

    use __private::{AnyOutput as _, SpecialOutput as _};
    let both = || calc::Both {
        quotient: 3.0,
        remainder: 1.0,
    };
    let fast = (&__private::Returned::new(both())).convert().unwrap();
    assert_eq!(fast, both().into_output().unwrap());
    let general = (&__private::Returned::new(0.5_f64)).convert().unwrap();
    assert_eq!(general, 0.5_f64.into_output().unwrap());
}
