//! A group's questions to a 2026-07-28 client (SEP-2322): the host answers
//! `input_required` with the question and a sealed `requestState`, and the
//! client's retry, carrying the answer, resumes the operation. Measured
//! with rmcp's client in its 2026 mode (which drives the rounds itself),
//! and on the wire, over HTTP and stdio: several rounds, a state that was
//! tampered with or is used for another request, a client that declared
//! no such capability (-32021 when the operation needs it).

use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use rmcp::service::ClientLifecycleMode;
use serde_json::{Value, json};
use toolhost_tests::http::{HttpServer, post_2026};
use toolhost_tests::raw_stdio::RawStdio;
use toolhost_tests::{CONFORMANCE, Notes, PluginDir, SAMPLED_TEXT, bounded};

const UNPREFIXED: &str = "[groups.conformance]\nnamespace = \"\"\n";

fn conformance() -> PluginDir {
    let dir = PluginDir::with(&[CONFORMANCE]);
    dir.set_config(UNPREFIXED);
    dir
}

fn meta(capabilities: Value) -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": capabilities,
        "io.modelcontextprotocol/clientInfo": { "name": "raw", "version": "0" },
    })
}

/// A 2026-07-28 `tools/call` of `tool`, retrying with `retry` (the
/// `inputResponses` and `requestState` members) when given.
fn call(id: u64, tool: &str, capabilities: Value, retry: Option<(Value, &str)>) -> Value {
    let mut params = json!({ "name": tool, "arguments": {}, "_meta": meta(capabilities) });
    if let Some((responses, state)) = retry {
        params["inputResponses"] = responses;
        params["requestState"] = json!(state);
    }
    json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params })
}

async fn post(server: &HttpServer, body: &Value) -> Value {
    send(server, body).await.1
}

/// The HTTP status and the JSON-RPC response.
async fn send(server: &HttpServer, body: &Value) -> (u16, Value) {
    let tool = body["params"]["name"].as_str().unwrap();
    post_2026(server, None, tool, body).await
}

/// The one question of an `input_required` answer: its key, its request
/// and the state to send back.
fn question(answer: &Value) -> (String, Value, String) {
    let result = &answer["result"];
    assert_eq!(result["resultType"], "input_required", "{answer}");
    let requests = result["inputRequests"].as_object().unwrap();
    assert_eq!(requests.len(), 1, "{answer}");
    let (key, request) = requests.iter().next().unwrap();
    let state = result["requestState"].as_str().unwrap().to_owned();
    (key.clone(), request.clone(), state)
}

fn accept(key: &str, content: Value) -> Value {
    json!({ key: { "action": "accept", "content": content } })
}

#[tokio::test]
async fn a_2026_client_answers_questions_by_retrying() {
    let dir = conformance();
    let server = HttpServer::start(&dir, &[]).await;
    let notes = Notes {
        elicit_answer: Some(json!({ "name": "Ada", "color": "blue" })),
        ..Notes::default()
    };
    let lifecycle = ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    };
    let client = server.connect_as(notes, None, lifecycle).await.unwrap();

    let call = |name: &'static str, arguments: Value| {
        let request =
            CallToolRequestParams::new(name).with_arguments(arguments.as_object().unwrap().clone());
        let client = &client;
        async move {
            let result = bounded(name, client.call_tool(request)).await.unwrap();
            serde_json::to_value(result).unwrap()
        }
    };
    let sampled = call("test_sampling", json!({ "prompt": "Say hi" })).await;
    assert!(sampled.to_string().contains(SAMPLED_TEXT), "{sampled}");
    assert_eq!(client.service().sampled.lock().unwrap().len(), 1);

    // Two questions, one round each; each reaches the user once although
    // the operation runs three times.
    let answered = call("test_input_required_result_multi_round", json!({})).await;
    assert_eq!(
        answered["content"][0]["text"], "Ada likes blue",
        "{answered}"
    );
    assert_eq!(
        *client.service().elicited.lock().unwrap(),
        [
            "Step 1: What is your name?",
            "Step 2: What is your favorite color?"
        ]
    );
    let _ = bounded("close", client.cancel()).await;
}

#[tokio::test]
async fn rounds_on_the_wire_and_states_that_do_not_verify() {
    let dir = conformance();
    let server = HttpServer::start(&dir, &[]).await;
    let tool = "test_input_required_result_multi_round";
    let can_elicit = json!({ "elicitation": {} });

    let first = post(&server, &call(1, tool, can_elicit.clone(), None)).await;
    let (key, request, state) = question(&first);
    assert_eq!(request["method"], "elicitation/create", "{first}");
    assert_eq!(request["params"]["message"], "Step 1: What is your name?");
    let retry = (accept(&key, json!({ "name": "Ada" })), state.as_str());
    let second = post(&server, &call(2, tool, can_elicit.clone(), Some(retry))).await;
    let (key2, request, state2) = question(&second);
    assert_eq!(
        request["params"]["message"],
        "Step 2: What is your favorite color?"
    );
    assert_ne!(state, state2);
    let retry = (accept(&key2, json!({ "color": "blue" })), state2.as_str());
    let done = post(&server, &call(3, tool, can_elicit.clone(), Some(retry))).await;
    assert_eq!(done["result"]["resultType"], "complete", "{done}");
    assert_eq!(
        done["result"]["content"][0]["text"], "Ada likes blue",
        "{done}"
    );

    // Tampered with, or issued for another tool: refused, saying why.
    let tampered = format!("{state2}x");
    let retry = (accept(&key2, json!({ "color": "red" })), tampered.as_str());
    let refused = post(&server, &call(4, tool, can_elicit.clone(), Some(retry))).await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("failed verification"), "{message}");
    let other = "test_input_required_result_request_state";
    let retry = (accept(&key2, json!({ "ok": true })), state2.as_str());
    let foreign = post(&server, &call(5, other, can_elicit, Some(retry))).await;
    assert_eq!(foreign["error"]["code"], -32602, "{foreign}");

    // A client that cannot answer is not asked; an operation that cannot
    // do without the answer fails as needing the capability (-32021).
    let (status, unasked) = send(&server, &call(6, tool, json!({}), None)).await;
    assert_eq!(status, 400, "{unasked}");
    assert_eq!(unasked["error"]["code"], -32021, "{unasked}");
    assert_eq!(
        unasked["error"]["data"]["requiredCapabilities"],
        json!({ "elicitation": {} })
    );
    // One that can do without it goes on: asked by sampling instead.
    let sampling = json!({ "sampling": {} });
    let other_way = "test_input_required_result_capabilities";
    let asked = post(&server, &call(7, other_way, sampling, None)).await;
    let (_, request, _) = question(&asked);
    assert_eq!(request["method"], "sampling/createMessage", "{asked}");
}

#[tokio::test]
async fn rounds_over_stdio() {
    let dir = conformance();
    let mut stdio = RawStdio::start(&dir).await;
    let tool = "test_input_required_result_request_state";
    let can_elicit = json!({ "elicitation": {} });
    // The first round takes the fast path, the retry goes through rmcp.
    let first = stdio
        .request(&call(1, tool, can_elicit.clone(), None))
        .await;
    let (key, _, state) = question(&first);
    let retry = (accept(&key, json!({ "ok": true })), state.as_str());
    let done = stdio.request(&call(2, tool, can_elicit, Some(retry))).await;
    assert_eq!(done["result"]["resultType"], "complete", "{done}");
    assert_eq!(
        done["result"]["content"][0]["text"], "state-ok: action=accept",
        "{done}"
    );
}

#[tokio::test]
async fn several_questions_go_out_in_one_round_under_the_group_keys() {
    let dir = conformance();
    let server = HttpServer::start(&dir, &[]).await;
    let tool = "test_input_required_result_multiple_inputs";
    let all = json!({ "sampling": {}, "elicitation": {}, "roots": {} });
    let first = post(&server, &call(1, tool, all.clone(), None)).await;
    let result = &first["result"];
    assert_eq!(result["resultType"], "input_required", "{first}");
    let requests = result["inputRequests"].as_object().unwrap();
    let mut keys: Vec<&str> = requests.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["client_roots", "greeting", "user_name"], "{first}");
    assert_eq!(requests["client_roots"]["method"], "roots/list");
    assert_eq!(requests["greeting"]["method"], "sampling/createMessage");
    let state = result["requestState"].as_str().unwrap();

    // A malformed answer is no answer: the question goes out again.
    let malformed = json!({ "user_name": 12345 });
    let again = post(
        &server,
        &call(2, tool, all.clone(), Some((malformed, state))),
    )
    .await;
    assert_eq!(again["result"]["resultType"], "input_required", "{again}");

    let answers = json!({
        "user_name": { "action": "accept", "content": { "name": "Ada" } },
        "greeting": {
            "role": "assistant", "model": "m",
            "content": { "type": "text", "text": "Hello" },
        },
        "client_roots": { "roots": [{ "uri": "file:///work", "name": "work" }] },
    });
    let done = post(&server, &call(3, tool, all, Some((answers, state)))).await;
    assert_eq!(done["result"]["resultType"], "complete", "{done}");
    assert_eq!(
        done["result"]["content"][0]["text"], "Hello Ada (1 roots)",
        "{done}"
    );
}

#[tokio::test]
async fn a_url_elicitation_is_a_question_over_http_and_stdio() {
    let dir = conformance();
    let server = HttpServer::start(&dir, &[]).await;
    let tool = "test_elicitation_url";
    let can_open_urls = json!({ "elicitation": { "url": {} } });
    let first = post(&server, &call(1, tool, can_open_urls.clone(), None)).await;
    let (key, request, state) = question(&first);
    assert_eq!(request["method"], "elicitation/create", "{first}");
    let params = &request["params"];
    assert_eq!(params["mode"], "url", "{first}");
    assert_eq!(
        params["url"],
        "https://accounts.example.com/authorize?state=conformance"
    );
    assert_eq!(params["message"], "Sign in to Example to continue.");
    assert_eq!(
        params["elicitationId"].as_str().unwrap().len(),
        32,
        "{first}"
    );
    let answer = json!({ key.clone(): { "action": "accept" } });
    let done = post(
        &server,
        &call(2, tool, can_open_urls.clone(), Some((answer, &state))),
    )
    .await;
    assert_eq!(
        done["result"]["content"][0]["text"], "action=accept",
        "{done}"
    );

    // A client that fills in forms but opens no URLs is told what the
    // operation needed.
    let (status, refused) = send(&server, &call(3, tool, json!({ "elicitation": {} }), None)).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["code"], -32021, "{refused}");
    assert_eq!(
        refused["error"]["data"]["requiredCapabilities"],
        json!({ "elicitation": { "url": {} } })
    );

    let mut stdio = RawStdio::start(&dir).await;
    let first = stdio
        .request(&call(1, tool, can_open_urls.clone(), None))
        .await;
    let (key, request, state) = question(&first);
    assert_eq!(request["params"]["mode"], "url", "{first}");
    let answer = json!({ key: { "action": "decline" } });
    let done = stdio
        .request(&call(2, tool, can_open_urls, Some((answer, &state))))
        .await;
    assert_eq!(
        done["result"]["content"][0]["text"], "action=decline",
        "{done}"
    );
}

#[tokio::test]
async fn a_2025_session_is_sent_to_the_url_during_the_call() {
    let dir = conformance();
    let server = HttpServer::start(&dir, &[]).await;
    let initialize = ClientLifecycleMode::Initialize;
    let client = server
        .connect_as(Notes::default(), None, initialize)
        .await
        .unwrap();
    let request = CallToolRequestParams::new("test_elicitation_url");
    let result = bounded("url elicitation", client.call_tool(request))
        .await
        .unwrap();
    let result = serde_json::to_value(result).unwrap();
    assert_eq!(result["content"][0]["text"], "action=accept", "{result}");
    assert_eq!(
        *client.service().elicited.lock().unwrap(),
        [
            "Sign in to Example to continue. (https://accounts.example.com/authorize?state=conformance)"
        ]
    );
    let _ = bounded("close", client.cancel()).await;
}
