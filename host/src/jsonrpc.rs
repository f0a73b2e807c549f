//! JSON-RPC framing checks shared by both transports.
//!
//! [`check`] looks at one incoming message before rmcp does and either lets
//! it through or says which JSON-RPC error to answer. rmcp alone answers
//! such messages unevenly: over stdio it ignores unparsable lines (the
//! client waits forever), over HTTP it answers 415 in plain text, and a
//! known method with malformed params falls through to "method not found".
//! Here every transport gets the same error, with an id when one can be
//! read and a message that says what to send instead.
//!
//! Only requests get `-32602`: a notification cannot be answered, so one
//! whose params are wrong goes on to rmcp, which ignores it. A `ping` of
//! the 2026-07-28 era (which has none) is answered `-32601` here, as rmcp
//! answers it over HTTP but not always over stdio.

use std::fmt;

use rmcp::model as mcp;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The message is not JSON.
pub const PARSE_ERROR: i32 = -32700;
/// JSON, but not one JSON-RPC 2.0 message.
pub const INVALID_REQUEST: i32 = -32600;
/// A method this server does not serve (here: `ping` in 2026-07-28).
pub const METHOD_NOT_FOUND: i32 = -32601;
/// A request whose params do not fit its method.
pub const INVALID_PARAMS: i32 = -32602;
/// The session named by `Mcp-Session-Id` is unknown here (the code the MCP
/// SDKs use for it).
pub const SESSION_NOT_FOUND: i32 = -32001;

/// The error response to send instead of passing a message on.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// The request's id when it could be read, else `null`.
    pub id: Value,
    pub code: i32,
    pub message: String,
}

impl Rejection {
    pub fn new(code: i32, id: Value, message: impl Into<String>) -> Self {
        Self {
            id,
            code,
            message: message.into(),
        }
    }

    /// A message longer than `limit` bytes, discarded unread.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            INVALID_REQUEST,
            Value::Null,
            format!(
                "message too large: longer than {limit} bytes, discarded; \
                 send smaller arguments (e.g. a path or URL instead of the content)"
            ),
        )
    }

    /// The JSON-RPC error response.
    pub fn to_json(&self) -> Value {
        json!({
            "jsonrpc": "2.0",
            "id": self.id,
            "error": { "code": self.code, "message": self.message },
        })
    }

    /// The error response as one line of bytes, without the newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.to_json()).unwrap_or_default()
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JSON-RPC error {}: {}", self.code, self.message)
    }
}

/// What kind of message passed [`check`], for transports that keep count
/// of the requests they are answering.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Request {
        id: Value,
    },
    /// `cancelled`: the `requestId` of a `notifications/cancelled`, whose
    /// request will get no response.
    Notification {
        cancelled: Option<Value>,
    },
    Response,
}

/// What a transport does with one message: `Ok` hands it to rmcp
/// unchanged; `Err` answers it with the rejection instead.
pub fn check(message: &[u8]) -> Result<Kind, Rejection> {
    // RFC 8259 §8.1 lets parsers ignore a byte order mark; rmcp does.
    let message = message.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(message);
    let value: Value = serde_json::from_slice(message).map_err(|e| {
        Rejection::new(
            PARSE_ERROR,
            Value::Null,
            format!(
                "parse error: the message is not valid JSON ({e}); \
                 send one JSON-RPC 2.0 message as a JSON object"
            ),
        )
    })?;
    match &value {
        Value::Object(_) => check_object(&value),
        Value::Array(_) => Err(Rejection::new(
            INVALID_REQUEST,
            Value::Null,
            "batches are not supported by MCP 2025-06-18 and later; \
             send one message per request",
        )),
        other => Err(invalid(
            Value::Null,
            format!(
                "a JSON-RPC message is a JSON object, not {}",
                kind_of(other)
            ),
        )),
    }
}

/// `message` is a JSON object.
fn check_object(message: &Value) -> Result<Kind, Rejection> {
    let object = message.as_object().expect("checked by the caller");
    // The id is read first so that every later error can carry it.
    let id = match object.get("id") {
        None => None,
        // An error answering an unreadable message has no id to carry.
        Some(Value::Null) if !object.contains_key("method") && object.contains_key("error") => None,
        Some(id) if is_valid_id(id) => Some(id.clone()),
        Some(other) => {
            return Err(invalid(
                Value::Null,
                format!(
                    "`id` must be a string or an integer, not {}",
                    kind_of(other)
                ),
            ));
        }
    };
    let reply_id = id.clone().unwrap_or(Value::Null);
    match object.get("jsonrpc") {
        Some(Value::String(version)) if version == "2.0" => {}
        Some(other) => {
            return Err(invalid(
                reply_id,
                format!("`jsonrpc` must be \"2.0\", not {}", describe(other)),
            ));
        }
        None => {
            return Err(invalid(
                reply_id,
                "`jsonrpc` is missing; every message carries \"jsonrpc\": \"2.0\"",
            ));
        }
    }
    let has_result = object.contains_key("result");
    let has_error = object.contains_key("error");
    let Some(method) = object.get("method") else {
        return check_response(object, id, has_result, has_error);
    };
    let Value::String(method) = method else {
        return Err(invalid(
            reply_id,
            format!("`method` must be a string, not {}", kind_of(method)),
        ));
    };
    if has_result || has_error {
        return Err(invalid(
            reply_id,
            "a message with `method` is a request or a notification and carries no \
             `result` or `error`",
        ));
    }
    let Some(id) = id else {
        // A notification: nothing can be answered, so rmcp has the last word.
        let cancelled = (method == "notifications/cancelled")
            .then(|| object.get("params")?.get("requestId").cloned())
            .flatten();
        return Ok(Kind::Notification { cancelled });
    };
    check_request(message, method, id.clone())?;
    Ok(Kind::Request { id })
}

fn check_response(
    object: &Map<String, Value>,
    id: Option<Value>,
    has_result: bool,
    has_error: bool,
) -> Result<Kind, Rejection> {
    let reply_id = id.clone().unwrap_or(Value::Null);
    match (has_result, has_error) {
        (false, false) => Err(invalid(
            reply_id,
            "the message has no `method` (a request or notification) and no \
             `result` or `error` (a response)",
        )),
        (true, true) => Err(invalid(
            reply_id,
            "a response carries either `result` or `error`, not both",
        )),
        (true, false) if id.is_none() => Err(invalid(
            reply_id,
            "a response with `result` needs the `id` of its request",
        )),
        (true, false) => Ok(Kind::Response),
        (false, true) => {
            let error = &object["error"];
            let well_formed = error.get("code").is_some_and(|code| {
                code.as_i64()
                    .is_some_and(|code| i32::try_from(code).is_ok())
            }) && error.get("message").is_some_and(Value::is_string);
            if well_formed {
                Ok(Kind::Response)
            } else {
                Err(invalid(
                    reply_id,
                    "`error` must be an object with an integer `code` and a string `message`",
                ))
            }
        }
    }
}

fn check_request(message: &Value, method: &str, id: Value) -> Result<(), Rejection> {
    let object = message.as_object().expect("checked by the caller");
    match object.get("params") {
        None | Some(Value::Object(_)) => {}
        Some(other) => {
            return Err(Rejection::new(
                INVALID_PARAMS,
                id,
                format!(
                    "`params` of `{method}` must be an object, not {}",
                    kind_of(other)
                ),
            ));
        }
    }
    // rmcp cannot decode a request whose `_meta` is not an object and
    // would answer without the id, leaving the client waiting.
    if let Some(meta) = object.get("params").and_then(|params| params.get("_meta"))
        && !meta.is_object()
    {
        return Err(Rejection::new(
            INVALID_PARAMS,
            id,
            format!(
                "`params._meta` of `{method}` must be an object, not {}",
                kind_of(meta)
            ),
        ));
    }
    if method == "tools/call" {
        check_tool_call(object.get("params"), &id)?;
    }
    // rmcp answers such a ping itself before a stdio client's first
    // 2026-07-28 request and "method not found" after it (and over HTTP);
    // answer it here so that every transport says the same at any time.
    if method == "ping" && stateless_era(object) {
        return Err(Rejection::new(
            METHOD_NOT_FOUND,
            id,
            "method not found: `ping` is not part of MCP 2026-07-28, the protocol version \
             in this request's _meta; any request (e.g. `server/discover`) shows that the \
             server answers",
        ));
    }
    // A known method whose params do not deserialize would reach rmcp as a
    // custom request and be answered "method not found"; name the problem.
    match typed_parse(method, message) {
        None | Some(Ok(())) => Ok(()),
        Some(Err(e)) => Err(Rejection::new(
            INVALID_PARAMS,
            id,
            format!("invalid params for `{method}`: {e}; see the MCP specification of `{method}`"),
        )),
    }
}

/// `tools/call` is where clients err most; say exactly what is wrong.
fn check_tool_call(params: Option<&Value>, id: &Value) -> Result<(), Rejection> {
    let params = match params {
        Some(Value::Object(params)) => params,
        _ => {
            return Err(Rejection::new(
                INVALID_PARAMS,
                id.clone(),
                "`tools/call` needs params {\"name\": TOOL, \"arguments\": {...}}",
            ));
        }
    };
    match params.get("name") {
        Some(Value::String(_)) => {}
        other => {
            return Err(Rejection::new(
                INVALID_PARAMS,
                id.clone(),
                format!(
                    "`tools/call` needs `params.name`, the tool to call, as a string ({}); \
                     `tools/list` names the tools",
                    match other {
                        None => "it is missing".to_owned(),
                        Some(other) => format!("got {}", kind_of(other)),
                    }
                ),
            ));
        }
    }
    match params.get("arguments") {
        None | Some(Value::Null) | Some(Value::Object(_)) => Ok(()),
        Some(other) => Err(Rejection::new(
            INVALID_PARAMS,
            id.clone(),
            format!(
                "`params.arguments` of `tools/call` must be a JSON object of named \
                 arguments, not {}; send e.g. {{\"name\": \"...\", \"arguments\": {{\"a\": 1}}}}",
                kind_of(other)
            ),
        )),
    }
}

// Logging and resources/subscribe are deprecated in the newest era, but
// clients of the older ones still send them.
#[allow(deprecated)]
/// Deserializes a request of a method rmcp knows into its typed form;
/// `None` for any other method.
fn typed_parse(method: &str, message: &Value) -> Option<Result<(), String>> {
    fn parse<T: for<'de> Deserialize<'de>>(message: &Value) -> Result<(), String> {
        T::deserialize(message).map(drop).map_err(|e| e.to_string())
    }
    let parse = match method {
        "ping" => parse::<mcp::PingRequest>,
        "initialize" => parse::<mcp::InitializeRequest>,
        "server/discover" => parse::<mcp::DiscoverRequest>,
        "completion/complete" => parse::<mcp::CompleteRequest>,
        "logging/setLevel" => parse::<mcp::SetLevelRequest>,
        "prompts/get" => parse::<mcp::GetPromptRequest>,
        "prompts/list" => parse::<mcp::ListPromptsRequest>,
        "resources/list" => parse::<mcp::ListResourcesRequest>,
        "resources/templates/list" => parse::<mcp::ListResourceTemplatesRequest>,
        "resources/read" => parse::<mcp::ReadResourceRequest>,
        "resources/subscribe" => parse::<mcp::SubscribeRequest>,
        "resources/unsubscribe" => parse::<mcp::UnsubscribeRequest>,
        "subscriptions/listen" => parse::<mcp::SubscriptionsListenRequest>,
        "tools/call" => parse::<mcp::CallToolRequest>,
        "tools/list" => parse::<mcp::ListToolsRequest>,
        _ => return None,
    };
    Some(parse(message))
}

/// Whether the request names MCP 2026-07-28 or later in its `_meta`.
fn stateless_era(object: &Map<String, Value>) -> bool {
    object
        .get("params")
        .and_then(|params| params.get("_meta"))
        .and_then(|meta| meta.get("io.modelcontextprotocol/protocolVersion"))
        .and_then(Value::as_str)
        .is_some_and(|version| version >= "2026-07-28")
}

/// What rmcp accepts as an id: a string, or an integer (also written as
/// `1.0`). MCP forbids `null`.
fn is_valid_id(id: &Value) -> bool {
    match id {
        Value::String(_) => true,
        Value::Number(n) => {
            n.as_i64().is_some()
                || n.as_f64()
                    .is_some_and(|f| f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0)
        }
        _ => false,
    }
}

fn invalid(id: Value, what: impl fmt::Display) -> Rejection {
    Rejection::new(INVALID_REQUEST, id, format!("invalid request: {what}"))
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A short rendering of a wrong value for an error message.
fn describe(value: &Value) -> String {
    match value {
        Value::String(s) if s.len() <= 16 => format!("\"{s}\""),
        Value::Number(n) => n.to_string(),
        other => kind_of(other).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(message: &str) -> Rejection {
        check(message.as_bytes()).expect_err(message)
    }

    #[test]
    fn well_formed_messages_pass() {
        for message in [
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":"a","method":"tools/list","params":{}}"#,
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"x","arguments":{"a":1}}}"#,
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"x"}}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/whatever","params":[1]}"#,
            r#"{"jsonrpc":"2.0","id":4,"method":"vendor/custom","params":{"x":1}}"#,
            r#"{"jsonrpc":"2.0","id":5,"result":{}}"#,
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}"#,
            "\u{feff}{\"jsonrpc\":\"2.0\",\"id\":1.0,\"method\":\"ping\"}",
        ] {
            assert!(check(message.as_bytes()).is_ok(), "{message}");
        }
    }

    #[test]
    fn kinds_are_told_apart() {
        assert_eq!(
            check(br#"{"jsonrpc":"2.0","id":"r1","method":"ping"}"#),
            Ok(Kind::Request { id: json!("r1") })
        );
        assert_eq!(
            check(
                br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":4}}"#
            ),
            Ok(Kind::Notification {
                cancelled: Some(json!(4))
            })
        );
        assert_eq!(
            check(br#"{"jsonrpc":"2.0","id":4,"result":{}}"#),
            Ok(Kind::Response)
        );
    }

    #[test]
    fn malformed_json_is_a_parse_error_with_a_null_id() {
        for message in [r#"{"jsonrpc":"2.0","id":1,"#, "not json", ""] {
            let rejection = rejected(message);
            assert_eq!(rejection.code, PARSE_ERROR, "{message}");
            assert_eq!(rejection.id, Value::Null);
            assert!(rejection.message.contains("not valid JSON"), "{rejection}");
        }
    }

    #[test]
    fn batches_get_one_clear_answer() {
        for message in ["[]", r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#] {
            let rejection = rejected(message);
            assert_eq!(rejection.code, INVALID_REQUEST);
            assert_eq!(rejection.id, Value::Null);
            assert_eq!(
                rejection.message,
                "batches are not supported by MCP 2025-06-18 and later; \
                 send one message per request"
            );
        }
    }

    #[test]
    fn invalid_requests_carry_the_id_when_it_can_be_read() {
        for (message, id, words) in [
            ("3", Value::Null, "not a number"),
            (
                r#"{"id":7,"method":"ping"}"#,
                json!(7),
                "`jsonrpc` is missing",
            ),
            (
                r#"{"jsonrpc":"1.0","id":"x","method":"ping"}"#,
                json!("x"),
                "not \"1.0\"",
            ),
            (
                r#"{"jsonrpc":"2.0","id":7,"method":5}"#,
                json!(7),
                "`method` must be a string",
            ),
            (
                r#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#,
                Value::Null,
                "`id` must be a string or an integer, not an object",
            ),
            (
                r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#,
                Value::Null,
                "not a number",
            ),
            (
                r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
                Value::Null,
                "not null",
            ),
            (r#"{"jsonrpc":"2.0","id":7}"#, json!(7), "no `method`"),
            (
                r#"{"jsonrpc":"2.0","id":7,"method":"ping","result":{}}"#,
                json!(7),
                "no `result` or `error`",
            ),
            (
                r#"{"jsonrpc":"2.0","id":7,"error":{"code":"x"}}"#,
                json!(7),
                "integer `code`",
            ),
        ] {
            let rejection = rejected(message);
            assert_eq!(rejection.code, INVALID_REQUEST, "{message}: {rejection}");
            assert_eq!(rejection.id, id, "{message}");
            assert!(rejection.message.contains(words), "{message}: {rejection}");
        }
    }

    #[test]
    fn a_meta_that_is_not_an_object_is_invalid_params_with_the_id() {
        for method in ["vendor/x", "tools/list"] {
            let message = format!(
                r#"{{"jsonrpc":"2.0","id":"9","method":"{method}","params":{{"_meta":[1]}}}}"#
            );
            let rejection = rejected(&message);
            assert_eq!(rejection.code, INVALID_PARAMS, "{message}");
            assert_eq!(rejection.id, json!("9"));
            assert!(rejection.message.contains("_meta"), "{rejection}");
        }
    }

    #[test]
    fn tool_calls_with_non_object_arguments_are_invalid_params() {
        for arguments in [r#""a=1""#, "[1,2]", "3", "true"] {
            let message = format!(
                r#"{{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{{"name":"math_add","arguments":{arguments}}}}}"#
            );
            let rejection = rejected(&message);
            assert_eq!(rejection.code, INVALID_PARAMS, "{message}");
            assert_eq!(rejection.id, json!(9));
            assert!(
                rejection
                    .message
                    .contains("`params.arguments` of `tools/call` must be a JSON object"),
                "{rejection}"
            );
        }
        let rejection =
            rejected(r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"arguments":{}}}"#);
        assert_eq!(rejection.code, INVALID_PARAMS);
        assert!(rejection.message.contains("params.name"), "{rejection}");
    }

    #[test]
    fn known_methods_with_malformed_params_are_invalid_params() {
        let rejection =
            rejected(r#"{"jsonrpc":"2.0","id":"c","method":"resources/read","params":{}}"#);
        assert_eq!(rejection.code, INVALID_PARAMS);
        assert_eq!(rejection.id, json!("c"));
        assert!(
            rejection.message.contains("`resources/read`"),
            "{rejection}"
        );
        assert!(rejection.message.contains("uri"), "{rejection}");
        let rejection = rejected(r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":[]}"#);
        assert_eq!(rejection.code, INVALID_PARAMS);
    }

    #[test]
    fn ping_is_not_part_of_the_stateless_era() {
        let ping = |version: &str| {
            format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"_meta":{{"io.modelcontextprotocol/protocolVersion":"{version}"}}}}}}"#
            )
        };
        let rejection = rejected(&ping("2026-07-28"));
        assert_eq!(rejection.code, METHOD_NOT_FOUND);
        assert_eq!(rejection.id, json!(1));
        assert!(check(ping("2025-11-25").as_bytes()).is_ok());
    }

    #[test]
    fn rejections_are_json_rpc_error_responses() {
        let rejection = Rejection::too_large(1024);
        let value: Value = serde_json::from_slice(&rejection.to_bytes()).unwrap();
        assert_eq!(value["jsonrpc"], "2.0");
        assert_eq!(value["id"], Value::Null);
        assert_eq!(value["error"]["code"], INVALID_REQUEST);
        assert!(
            value["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("message too large")
        );
        // What rmcp's own client makes of it.
        let parsed: mcp::ServerJsonRpcMessage = serde_json::from_value(value).unwrap();
        assert!(matches!(parsed, mcp::ServerJsonRpcMessage::Error(_)));
    }
}
