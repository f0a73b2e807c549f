//! The example groups (`math`, `text`, `json`) as a client sees them: every
//! tool listed as declared, and every operation called with realistic
//! arguments returning the real answer.

use rmcp::model::{CallToolResult, Tool};
use serde_json::{Value, json};
use toolhost_tests::{JSON, MATH, PluginDir, Server, TEXT, text};

const MATH_TOOLS: [&str; 6] = [
    "math_add",
    "math_subtract",
    "math_multiply",
    "math_divide",
    "math_round",
    "math_statistics",
];
const TEXT_TOOLS: [&str; 5] = [
    "text_convert_case",
    "text_count",
    "text_regex_replace",
    "text_regex_find",
    "text_slugify",
];
const JSON_TOOLS: [&str; 4] = [
    "json_query",
    "json_format",
    "json_validate",
    "json_merge_patch",
];

/// Serves one example (each test loads only what it needs: compiling the
/// larger examples in a debug host takes a while).
async fn serve(component: &str, tools: &[&str]) -> (PluginDir, Server) {
    let dir = PluginDir::with(&[component]);
    let server = Server::start(&dir).await;
    server.wait_for_tools(tools).await;
    (dir, server)
}

fn listed(tools: &[Tool], name: &str) -> Value {
    let tool = tools.iter().find(|tool| tool.name == name);
    serde_json::to_value(tool.unwrap_or_else(|| panic!("{name} is not listed"))).unwrap()
}

/// The structured result, after checking that the text copy says the same.
fn structured(result: &CallToolResult) -> Value {
    let structured = result
        .structured_content
        .clone()
        .expect("structured result");
    let copy: Value = serde_json::from_str(&text(result)).expect("text copy is JSON");
    assert_eq!(copy, structured, "text copy and structured content differ");
    structured
}

/// A wrapped scalar result: structured `{"result": v}`, text the plain value.
fn scalar(result: &CallToolResult) -> Value {
    let structured = result
        .structured_content
        .clone()
        .expect("structured result");
    let value = structured["result"].clone();
    let plain = match &value {
        Value::String(string) => string.clone(),
        other => other.to_string(),
    };
    assert_eq!(text(result), plain, "text is not the plain value");
    value
}

#[tokio::test]
async fn every_example_tool_is_listed_as_declared() {
    let dir = PluginDir::with(&[MATH, TEXT, JSON]);
    let server = Server::start(&dir).await;
    let all: Vec<&str> = [&MATH_TOOLS[..], &TEXT_TOOLS, &JSON_TOOLS].concat();
    let tools = server.wait_for_tools(&all).await;

    let mut names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
    names.sort();
    let mut expected = all.clone();
    expected.sort();
    assert_eq!(names, expected);
    for name in &all {
        let tool = listed(&tools, name);
        // Every example declares `read_only, idempotent` and nothing else.
        let hints = json!({ "readOnlyHint": true, "idempotentHint": true });
        assert_eq!(tool["annotations"], hints, "{name}");
        assert_eq!(tool["inputSchema"]["type"], "object", "{name}");
        assert!(
            !tool["description"].as_str().unwrap_or("").is_empty(),
            "{name}"
        );
        assert!(!tool["title"].as_str().unwrap_or("").is_empty(), "{name}");
    }

    let divide = listed(&tools, "math_divide");
    assert_eq!(divide["title"], "Divide");
    let description = divide["description"].as_str().unwrap();
    assert!(
        description.starts_with("Divide `a` by `b`."),
        "{description}"
    );
    assert_eq!(divide["inputSchema"]["properties"]["a"]["type"], "number");
    assert_eq!(divide["inputSchema"]["properties"]["b"]["type"], "number");
    let mut required = divide["inputSchema"]["required"]
        .as_array()
        .unwrap()
        .clone();
    required.sort_by_key(|name| name.to_string());
    assert_eq!(required, [json!("a"), json!("b")]);

    let statistics = listed(&tools, "math_statistics");
    let output = &statistics["outputSchema"];
    assert_eq!(output["type"], "object");
    for field in ["count", "sum", "mean", "median", "min", "max", "stddev"] {
        assert!(
            output["properties"].get(field).is_some(),
            "no {field} in {output}"
        );
    }

    let convert = listed(&tools, "text_convert_case");
    let case = &convert["inputSchema"]["properties"]["case"];
    let case = serde_json::to_string(case).unwrap();
    for name in ["snake", "kebab", "camel", "pascal", "constant"] {
        assert!(
            case.contains(&format!("\"{name}\"")),
            "case {name} missing: {case}"
        );
    }

    let validate = listed(&tools, "json_validate");
    let output = &validate["outputSchema"]["properties"];
    assert!(
        output.get("valid").is_some() && output.get("errors").is_some(),
        "{output}"
    );
}

#[tokio::test]
async fn math_operations_compute_the_right_answers() {
    let (_dir, server) = serve(MATH, &MATH_TOOLS).await;
    let call = |tool: &'static str, arguments: Value| {
        let server = &server;
        async move { scalar(&server.call_ok(tool, arguments).await) }
    };

    assert_eq!(call("math_add", json!({ "a": 2, "b": 3.5 })).await, 5.5);
    assert_eq!(call("math_subtract", json!({ "a": 10, "b": 4 })).await, 6.0);
    assert_eq!(
        call("math_multiply", json!({ "a": -3, "b": 7 })).await,
        -21.0
    );
    assert_eq!(call("math_divide", json!({ "a": 1, "b": 4 })).await, 0.25);
    assert_eq!(call("math_round", json!({ "value": 2.5 })).await, 3.0);
    let round = json!({ "value": 12.3456, "decimals": 2 });
    assert_eq!(call("math_round", round).await, 12.35);

    let values = json!({ "values": [4, 1, 3, 2] });
    let stats = structured(&server.call_ok("math_statistics", values).await);
    assert_eq!(stats["count"], 4);
    assert_eq!(stats["sum"], 10.0);
    assert_eq!(stats["mean"], 2.5);
    assert_eq!(stats["median"], 2.5);
    assert_eq!(stats["min"], 1.0);
    assert_eq!(stats["max"], 4.0);
    let stddev = stats["stddev"].as_f64().unwrap();
    assert!((stddev - 1.25f64.sqrt()).abs() < 1e-12, "{stddev}");
}

#[tokio::test]
async fn dividing_by_zero_is_an_error_result_with_the_plugins_message() {
    let (_dir, server) = serve(MATH, &MATH_TOOLS).await;

    let error = server
        .call_err("math_divide", json!({ "a": 1, "b": 0 }))
        .await;

    assert!(error.contains("b must not be zero"), "{error}");
    let next = server
        .call_ok("math_divide", json!({ "a": 9, "b": 3 }))
        .await;
    assert_eq!(scalar(&next), 3.0);
}

#[tokio::test]
async fn math_arguments_are_validated_before_the_call() {
    let (_dir, server) = serve(MATH, &MATH_TOOLS).await;

    let error = server.call_err("math_add", json!({ "a": "one" })).await;
    assert!(
        error.starts_with("invalid arguments for tool `math_add`"),
        "{error}"
    );
    assert!(
        error.contains("/a"),
        "wrong type of `a` not reported: {error}"
    );
    assert!(error.contains("\"b\""), "missing `b` not reported: {error}");

    let round = json!({ "value": 1.5, "decimals": 16 });
    let error = server.call_err("math_round", round).await;
    assert!(error.contains("/decimals"), "{error}");

    let error = server
        .call_err("math_statistics", json!({ "values": [] }))
        .await;
    assert!(error.contains("/values"), "{error}");
}

#[tokio::test]
async fn text_operations_compute_the_right_answers() {
    let (_dir, server) = serve(TEXT, &TEXT_TOOLS).await;

    let arguments = json!({ "text": "parseHTTPResponse", "case": "snake" });
    let converted = server.call_ok("text_convert_case", arguments).await;
    assert_eq!(scalar(&converted), "parse_http_response");

    let arguments = json!({ "text": "héllo world\nbye\n" });
    let counts = structured(&server.call_ok("text_count", arguments).await);
    assert_eq!(
        counts,
        json!({ "chars": 16, "words": 3, "lines": 2, "bytes": 17 })
    );

    let arguments = json!({ "text": "a1b22c333", "pattern": "[0-9]+", "replacement": "#" });
    let replaced = structured(&server.call_ok("text_regex_replace", arguments).await);
    assert_eq!(replaced, json!({ "text": "a#b#c#", "replacements": 3 }));

    let arguments = json!({ "text": "x=1, y=22", "pattern": r"(?P<k>\w)=(\d+)" });
    let found = structured(&server.call_ok("text_regex_find", arguments).await);
    assert_eq!(found["truncated"], false);
    assert_eq!(
        found["matches"][1],
        json!({ "text": "y=22", "start": 5, "end": 9, "groups": ["y", "22"], "named": { "k": "y" } })
    );

    let arguments = json!({ "text": "Crème Brûlée: A How-To!" });
    let slug = server.call_ok("text_slugify", arguments).await;
    assert_eq!(scalar(&slug), "creme-brulee-a-how-to");

    let arguments = json!({ "text": "x", "pattern": "(" });
    let error = server.call_err("text_regex_find", arguments).await;
    assert!(error.contains("not a valid regular expression"), "{error}");
}

#[tokio::test]
async fn json_operations_compute_the_right_answers() {
    let (_dir, server) = serve(JSON, &JSON_TOOLS).await;

    let document = json!({ "a": { "b": [1, { "c": "d" }] } });
    let arguments = json!({ "document": document, "pointer": "/a/b/1" });
    let found = server.call_ok("json_query", arguments).await;
    assert_eq!(
        found.structured_content,
        Some(json!({ "result": { "c": "d" } }))
    );

    let arguments = json!({ "document": { "a": 1 }, "pointer": "/a/x" });
    let error = server.call_err("json_query", arguments).await;
    assert!(error.contains("no value at `/a/x`"), "{error}");

    let arguments = json!({ "json": r#"{"b":1,"a":[1,2]}"#, "style": "minify", "sort_keys": true });
    let formatted = server.call_ok("json_format", arguments).await;
    assert_eq!(scalar(&formatted), r#"{"a":[1,2],"b":1}"#);

    let schema = json!({
        "type": "object",
        "properties": { "age": { "minimum": 0 } },
        "required": ["name"],
    });
    let arguments = json!({ "document": { "age": -1 }, "schema": schema });
    let verdict = structured(&server.call_ok("json_validate", arguments).await);
    assert_eq!(verdict["valid"], false);
    let mut paths: Vec<&str> = verdict["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["instance_path"].as_str().unwrap())
        .collect();
    paths.sort();
    assert_eq!(paths, ["", "/age"]);

    let arguments = json!({ "document": { "a": 1, "b": 2 }, "patch": { "b": null, "c": 3 } });
    let patched = server.call_ok("json_merge_patch", arguments).await;
    assert_eq!(
        patched.structured_content,
        Some(json!({ "result": { "a": 1, "c": 3 } }))
    );
}
