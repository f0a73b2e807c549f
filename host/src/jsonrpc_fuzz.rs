//! Bounded fuzzing (proptest) of JSON-RPC decoding, at the places where
//! untrusted bytes become messages:
//!
//! - the host's framing check ([`jsonrpc::check`]), which both transports
//!   run before rmcp: no input panics, a refusal is a well-formed error
//!   response with a JSON-RPC code whose id, unless null, is the one the
//!   message sent, and what passes as a request keeps the id it sent;
//! - rmcp's `ClientJsonRpcMessage`, decoded with `serde_json::from_slice`
//!   as rmcp does behind the check: no input panics, and what decodes
//!   encodes to JSON that decodes to the same message again;
//! - a stdio session ([`stdio::serve`] around the real [`Handler`] over
//!   in-memory pipes, as `toolhost serve` runs it): after any lines at
//!   all, it still answers a `ping`, and writes nothing but JSON-RPC;
//! - `POST /mcp` on the real HTTP router, stateless headers included so
//!   that the host's own fast path (`http::direct`) parses the body: any
//!   body gets an answer that is not a server error.
//!
//! Messages are generated from JSON-RPC's shape and MCP's method names,
//! then sometimes cut or flipped, so that most cases get past the JSON
//! syntax into the message types. `PROPTEST_CASES=100000 cargo test -p
//! toolhost --lib fuzz` runs more cases; `fuzz/` has the decoding target for
//! cargo-fuzz.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::{Request, StatusCode};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use rmcp::model::ClientJsonRpcMessage;
use serde_json::{Map, Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use crate::caller::ScopePolicy;
use crate::config::HttpConfig;
use crate::config_fuzz::cases;
use crate::jsonrpc::{self, Kind};
use crate::mcp::Handler;
use crate::service::CallService;
use crate::stdio;

const METHODS: &[&str] = &[
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "server/discover",
    "notifications/initialized",
    "notifications/cancelled",
    "notifications/progress",
    "notifications/roots/list_changed",
    "tools/Call",
    "",
];

const KEYS: &[&str] = &[
    "name",
    "arguments",
    "_meta",
    "cursor",
    "uri",
    "progressToken",
    "requestId",
    "level",
    "ref",
    "argument",
    "protocolVersion",
    "capabilities",
    "clientInfo",
    "io.modelcontextprotocol/protocolVersion",
    "io.modelcontextprotocol/clientCapabilities",
    "io.modelcontextprotocol/clientInfo",
    "a",
    "b",
];

/// Any JSON value, leaning towards the keys and values MCP uses.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        prop::sample::select(METHODS).prop_map(Value::from),
        prop::sample::select(&["2.0", "2025-11-25", "2026-07-28", "math_add", "debug"][..])
            .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        prop::sample::select(KEYS).prop_map(str::to_owned),
                        "\\PC{0,6}"
                    ],
                    inner
                ),
                0..5
            )
            .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

/// An id as JSON-RPC allows it, and some it does not.
fn id() -> impl Strategy<Value = Option<Value>> {
    prop::option::weighted(
        0.9,
        prop_oneof![
            4 => any::<i64>().prop_map(Value::from),
            1 => any::<u64>().prop_map(Value::from),
            2 => "[a-z0-9-]{0,8}".prop_map(Value::String),
            1 => json_value(),
        ],
    )
}

/// A message shaped like a request, notification or response.
fn message() -> impl Strategy<Value = Value> {
    let jsonrpc =
        prop::option::weighted(0.9, prop_oneof![8 => Just(json!("2.0")), 1 => json_value()]);
    let method = prop::option::weighted(
        0.8,
        prop_oneof![8 => prop::sample::select(METHODS).prop_map(Value::from), 1 => json_value()],
    );
    let params = prop::option::weighted(0.8, json_value());
    let answer = prop::option::weighted(
        0.15,
        prop_oneof![
            json_value().prop_map(|v| ("result", v)),
            json_value().prop_map(|v| ("error", v)),
        ],
    );
    (jsonrpc, id(), method, params, answer).prop_map(|(jsonrpc, id, method, params, answer)| {
        let mut message = Map::new();
        let fields = [
            ("jsonrpc", jsonrpc),
            ("id", id),
            ("method", method),
            ("params", params),
        ];
        for (key, value) in fields {
            if let Some(value) = value {
                message.insert(key.to_owned(), value);
            }
        }
        if let Some((key, value)) = answer {
            message.insert(key.to_owned(), value);
        }
        Value::Object(message)
    })
}

/// Bytes on the wire: a message as JSON, cut short or with a byte changed,
/// or arbitrary bytes.
fn wire_bytes() -> impl Strategy<Value = Vec<u8>> {
    let json = message().prop_map(|m| m.to_string().into_bytes()).boxed();
    prop_oneof![
        6 => json.clone(),
        1 => (json.clone(), any::<prop::sample::Index>())
            .prop_map(|(bytes, at)| bytes[..at.index(bytes.len() + 1)].to_vec()),
        1 => (json, any::<prop::sample::Index>(), any::<u8>()).prop_map(|(mut bytes, at, byte)| {
            if !bytes.is_empty() {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            bytes
        }),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

/// The `id` member of a message that is a JSON object, as sent.
fn sent_id(bytes: &[u8]) -> Option<Value> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    serde_json::from_slice::<Value>(bytes)
        .ok()?
        .get("id")
        .cloned()
}

proptest! {
    #![proptest_config(cases(4096))]

    #[test]
    fn the_framing_check_refuses_with_a_well_formed_error_and_keeps_the_id_sent(
        bytes in wire_bytes(),
    ) {
        let shown = String::from_utf8_lossy(&bytes).into_owned();
        match jsonrpc::check(&bytes) {
            Ok(Kind::Request { id }) => {
                prop_assert_eq!(Some(id), sent_id(&bytes), "{}", shown);
            }
            Ok(_) => {}
            Err(rejection) => {
                let codes = [
                    jsonrpc::PARSE_ERROR,
                    jsonrpc::INVALID_REQUEST,
                    jsonrpc::METHOD_NOT_FOUND,
                    jsonrpc::INVALID_PARAMS,
                ];
                prop_assert!(codes.contains(&rejection.code), "{rejection} for {shown}");
                prop_assert!(!rejection.message.is_empty(), "{shown}");
                let answer: Value = serde_json::from_slice(&rejection.to_bytes())
                    .map_err(|e| TestCaseError::fail(format!("{e} for {shown}")))?;
                prop_assert_eq!(&answer["jsonrpc"], "2.0");
                prop_assert_eq!(&answer["error"]["code"], &json!(rejection.code));
                if !rejection.id.is_null() {
                    prop_assert_eq!(Some(rejection.id), sent_id(&bytes), "{}", shown);
                }
            }
        }
    }

    #[test]
    fn any_bytes_decode_or_fail_and_what_decodes_encodes_back(bytes in wire_bytes()) {
        let Ok(message) = serde_json::from_slice::<ClientJsonRpcMessage>(&bytes) else {
            return Ok(());
        };
        let encoded = serde_json::to_vec(&message).expect("a decoded message encodes");
        let again = serde_json::from_slice::<ClientJsonRpcMessage>(&encoded);
        prop_assert!(
            again.is_ok(),
            "{} decoded, but its encoding {} does not: {:?}",
            String::from_utf8_lossy(&bytes),
            String::from_utf8_lossy(&encoded),
            again.err()
        );
        let reencoded = serde_json::to_vec(&again.unwrap()).expect("encodes");
        prop_assert_eq!(
            String::from_utf8_lossy(&encoded),
            String::from_utf8_lossy(&reencoded),
            "from {}",
            String::from_utf8_lossy(&bytes)
        );
    }
}

/// The call service with the math example loaded, as `toolhost serve`
/// builds it.
async fn math_service() -> CallService {
    crate::service::tests::math_service_with(ScopePolicy::new(BTreeMap::new())).await
}

/// Most time one case may take before the session counts as wedged.
const WEDGED: Duration = Duration::from_secs(20);

/// Runs `property` on `cases` inputs of `strategy` against one math
/// service, on one tokio runtime.
fn run_with_service<S: Strategy>(
    default_cases: u32,
    strategy: S,
    property: impl AsyncFn(&CallService, S::Value) -> Result<(), TestCaseError>,
) {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let service = tokio.block_on(math_service());
    let mut runner = TestRunner::new(cases(default_cases));
    let outcome = runner.run(&strategy, |input| {
        tokio.block_on(async {
            match tokio::time::timeout(WEDGED, property(&service, input)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(TestCaseError::fail(format!("no answer within {WEDGED:?}"))),
            }
        })
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
}

/// A line as a client could send it: any bytes but the line break.
fn hostile_line() -> impl Strategy<Value = Vec<u8>> {
    wire_bytes().prop_map(|mut bytes| {
        bytes.retain(|b| *b != b'\n');
        bytes
    })
}

const SENTINEL: &str = "jsonrpc-fuzz-sentinel";

#[test]
fn a_stdio_session_answers_a_ping_after_any_lines() {
    let lines = prop::collection::vec(hostile_line(), 1..12);
    run_with_service(48, lines, async |service, lines| {
        let (server_in, mut write) = tokio::io::duplex(1 << 20);
        let (read, server_out) = tokio::io::duplex(1 << 20);
        let handler = Handler::new(service.clone());
        let fast = stdio::Fast {
            service: service.clone(),
            rounds: handler.rounds(),
            level: handler.session_level(),
        };
        let server = tokio::spawn(stdio::serve(
            handler,
            Some(fast),
            server_in,
            server_out,
            stdio::MAX_LINE,
        ));
        let mut read = BufReader::new(read);
        let mut send = async |line: &[u8]| {
            write.write_all(line).await.unwrap();
            write.write_all(b"\n").await.unwrap();
        };
        let initialize = json!({
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": { "name": "fuzz", "version": "0" },
            },
        });
        send(initialize.to_string().as_bytes()).await;
        send(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).await;
        for line in &lines {
            send(line).await;
        }
        let ping = json!({ "jsonrpc": "2.0", "id": SENTINEL, "method": "ping" });
        send(ping.to_string().as_bytes()).await;

        let mut answered = false;
        let mut line = String::new();
        while read.read_line(&mut line).await.unwrap_or(0) > 0 {
            let message: Result<Value, _> = serde_json::from_str(&line);
            prop_assert!(
                message.as_ref().is_ok_and(|m| m["jsonrpc"] == "2.0"),
                "the session wrote `{}`",
                line.trim_end()
            );
            if message.unwrap()["id"] == SENTINEL {
                answered = true;
                break;
            }
            line.clear();
        }
        server.abort();
        let sent: Vec<_> = lines.iter().map(|l| String::from_utf8_lossy(l)).collect();
        prop_assert!(
            answered,
            "the session ended without answering the ping after {sent:#?}"
        );
        Ok(())
    });
}

/// A POST to `/mcp`: a body, and whether its headers claim a stateless
/// `tools/call` of `math_add` (the fast path's condition).
fn post() -> impl Strategy<Value = (Vec<u8>, bool)> {
    let number = prop_oneof![
        3 => any::<i32>().prop_map(Value::from),
        1 => any::<f64>().prop_map(|f| json!(f)),
        1 => json_value(),
    ];
    let arguments = prop_oneof![
        3 => (number.clone(), number).prop_map(|(a, b)| json!({ "a": a, "b": b })),
        1 => json_value(),
    ];
    let meta = prop::bool::weighted(0.8);
    let stateless_call = (arguments, id(), meta).prop_map(|(arguments, id, meta)| {
        let mut params = json!({ "name": "math_add", "arguments": arguments });
        if meta {
            params["_meta"] = json!({
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": { "name": "fuzz", "version": "0" },
            });
        }
        let mut call = json!({ "jsonrpc": "2.0", "method": "tools/call", "params": params });
        if let Some(id) = id {
            call["id"] = id;
        }
        call.to_string().into_bytes()
    });
    (
        prop_oneof![2 => stateless_call, 3 => wire_bytes()],
        any::<bool>(),
    )
}

#[test]
fn any_post_to_mcp_gets_an_answer_that_is_not_a_server_error() {
    run_with_service(256, post(), async |service, (body, stateless)| {
        let parts = crate::http::Parts {
            service: service.clone(),
            scopes: Arc::new(ScopePolicy::new(BTreeMap::new())),
            rounds: Arc::new(crate::mcp::rounds::Rounds::random()),
            tasks: crate::mcp::tasks::Tasks::embedded(&Default::default()),
        };
        let streams = CancellationToken::new();
        let listen = "127.0.0.1:0".parse().unwrap();
        let router =
            crate::http::router(&HttpConfig::default(), listen, parts, streams.clone()).unwrap();
        let mut request = Request::post("/mcp")
            .header("host", "localhost")
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        if stateless {
            request = request
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", "tools/call")
                .header("mcp-name", "math_add");
        }
        let request = request.body(Body::from(body.clone())).unwrap();
        let response = router.oneshot(request).await.unwrap();
        let status = response.status();
        let answer = axum::body::to_bytes(response.into_body(), 1 << 20).await;
        streams.cancel();
        let answer = answer.map_or_else(
            |e| e.to_string(),
            |b| String::from_utf8_lossy(&b).into_owned(),
        );
        let shown = String::from_utf8_lossy(&body);
        prop_assert!(!status.is_server_error(), "{status} for {shown}: {answer}");
        // 404 is how rmcp (and the framing check, alike) answers an unknown
        // method; anything else would mean the route itself went missing.
        if status == StatusCode::NOT_FOUND {
            let code = serde_json::from_str::<Value>(&answer)
                .ok()
                .map(|a| a["error"]["code"].clone());
            prop_assert_eq!(
                code,
                Some(json!(jsonrpc::METHOD_NOT_FOUND)),
                "404 for {}: {}",
                shown,
                answer
            );
        }
        Ok(())
    });
}
