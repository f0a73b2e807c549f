//! Calls that go on as tasks (the `io.modelcontextprotocol/tasks`
//! extension, SEP-2663), with rmcp's client in its 2026 mode over HTTP and
//! on the wire over stdio: a task started, polled, completed; one that asks
//! the user and is answered through `tasks/update`; one cancelled; tool
//! errors and traps; a client that takes no tasks; the host's task budget.

use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CancelTaskParams, GetTaskParams, ProtocolVersion,
    UpdateTaskParams,
};
use rmcp::service::ClientLifecycleMode;
use serde_json::{Value, json};
use toolhost_tests::http::{HttpClient, HttpServer, post_2026};
use toolhost_tests::raw_stdio::RawStdio;
use toolhost_tests::{CONFORMANCE, Notes, PluginDir, bounded};

fn conformance(extra: &str) -> PluginDir {
    let dir = PluginDir::with(&[CONFORMANCE]);
    dir.set_config(&format!("[groups.conformance]\nnamespace = \"\"\n{extra}"));
    dir
}

async fn client_taking_tasks(server: &HttpServer) -> HttpClient {
    let notes = Notes {
        elicit_answer: Some(json!({ "confirm": true })),
        tasks: true,
        ..Notes::default()
    };
    let lifecycle = ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    };
    server.connect_as(notes, None, lifecycle).await.unwrap()
}

/// Calls `tool` once: the result, the questions, or the task.
async fn call(client: &HttpClient, tool: &str, arguments: Value) -> CallToolResponse {
    let request = CallToolRequestParams::new(tool.to_owned())
        .with_arguments(arguments.as_object().unwrap().clone());
    bounded(tool, client.peer().call_tool_once(request))
        .await
        .unwrap()
}

fn task_id(response: CallToolResponse) -> String {
    match response {
        CallToolResponse::Task(task) => task.task.task_id,
        other => panic!("expected a task, got {other:?}"),
    }
}

/// `tasks/get` as JSON.
async fn get(client: &HttpClient, id: &str) -> Value {
    let task = bounded("tasks/get", client.peer().get_task(GetTaskParams::new(id)))
        .await
        .unwrap();
    serde_json::to_value(task).unwrap()
}

/// Polls `tasks/get` until the task's status is one of `statuses`.
async fn until(client: &HttpClient, id: &str, statuses: &[&str]) -> Value {
    for _ in 0..300 {
        let task = get(client, id).await;
        if statuses.iter().any(|s| task["status"] == *s) {
            return task;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "task {id} never reached {statuses:?}: {}",
        get(client, id).await
    );
}

#[tokio::test]
async fn a_2026_client_starts_polls_answers_and_cancels_tasks() {
    let dir = conformance("");
    let server = HttpServer::start(&dir, &[]).await;
    let client = client_taking_tasks(&server).await;

    // A fast call answers as usual; a long one becomes a task whose
    // result `tasks/get` inlines once it is done.
    let CallToolResponse::Complete(greeting) =
        call(&client, "greet", json!({ "name": "Ada" })).await
    else {
        panic!("greet is never a task");
    };
    assert_eq!(
        serde_json::to_value(&greeting).unwrap()["content"][0]["text"],
        "Hello, Ada!"
    );
    let started = call(
        &client,
        "slow_compute",
        json!({ "seconds": 1, "label": "pi" }),
    )
    .await;
    let CallToolResponse::Task(created) = &started else {
        panic!("expected a task, got {started:?}");
    };
    let created = serde_json::to_value(created).unwrap();
    assert_eq!(created["resultType"], "task", "{created}");
    assert_eq!(created["status"], "working", "{created}");
    assert_eq!(created["ttlMs"], 3_600_000, "{created}");
    let id = task_id(started);
    assert_eq!(get(&client, &id).await["status"], "working");
    let done = until(&client, &id, &["completed", "failed", "cancelled"]).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        done["result"]["content"][0]["text"], "computed pi in 1s",
        "{done}"
    );

    // A question in a task parks it; the answer through tasks/update
    // resumes it (the operation runs again with the answer).
    let id = task_id(call(&client, "confirm_delete", json!({ "filename": "a.txt" })).await);
    let parked = until(&client, &id, &["input_required"]).await;
    let requests = parked["inputRequests"].as_object().unwrap();
    assert_eq!(requests.len(), 1, "{parked}");
    assert_eq!(
        requests["confirm"]["method"], "elicitation/create",
        "{parked}"
    );
    let answer = json!({ "confirm": { "action": "accept", "content": { "confirm": true } } });
    let answer = serde_json::from_value(answer).unwrap();
    bounded(
        "tasks/update",
        client
            .peer()
            .update_task(UpdateTaskParams::new(&id, answer)),
    )
    .await
    .unwrap();
    let done = until(&client, &id, &["completed", "failed", "cancelled"]).await;
    assert_eq!(
        done["result"]["content"][0]["text"], "deleted a.txt",
        "{done}"
    );

    // Cancelled while it runs: it stays cancelled, and cancelling again
    // is acknowledged.
    let id = task_id(call(&client, "slow_compute", json!({ "seconds": 20 })).await);
    bounded(
        "tasks/cancel",
        client.peer().cancel_task(CancelTaskParams::new(&id)),
    )
    .await
    .unwrap();
    assert_eq!(get(&client, &id).await["status"], "cancelled");
    bounded(
        "tasks/cancel",
        client.peer().cancel_task(CancelTaskParams::new(&id)),
    )
    .await
    .unwrap();

    // The tool's own error completes the task; a trap fails it.
    let id = task_id(call(&client, "failing_job", json!({})).await);
    let done = until(&client, &id, &["completed", "failed", "cancelled"]).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["result"]["isError"], true, "{done}");
    let id = task_id(call(&client, "protocol_error_job", json!({})).await);
    let done = until(&client, &id, &["completed", "failed", "cancelled"]).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["error"]["code"], -32603, "{done}");
    assert!(done.get("result").is_none(), "{done}");

    // An id this server never gave out.
    let unknown = client
        .peer()
        .get_task(GetTaskParams::new("0123456789abcdef0123456789abcdef"))
        .await
        .unwrap_err();
    assert!(unknown.to_string().contains("no task"), "{unknown}");
    let _ = bounded("close", client.cancel()).await;
}

/// A raw 2026-07-28 request over HTTP from a client without tasks, and its
/// JSON-RPC response.
async fn post(server: &HttpServer, method: &str, name: &str, params: Value) -> Value {
    post_as(server, None, json!({}), method, name, params).await
}

/// A raw 2026-07-28 request with `token` and `capabilities`.
async fn post_as(
    server: &HttpServer,
    token: Option<&str>,
    capabilities: Value,
    method: &str,
    name: &str,
    params: Value,
) -> Value {
    let mut params = params;
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": capabilities,
        "io.modelcontextprotocol/clientInfo": { "name": "raw", "version": "0" },
    });
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
    post_2026(server, token, name, &body).await.1
}

#[tokio::test]
async fn a_client_that_takes_no_tasks_waits_or_is_told_what_to_declare() {
    let dir = conformance("");
    let server = HttpServer::start(&dir, &[]).await;
    let arguments = json!({ "name": "slow_compute", "arguments": { "seconds": 1 } });
    let waited = post(&server, "tools/call", "slow_compute", arguments).await;
    assert_eq!(waited["result"]["resultType"], "complete", "{waited}");
    assert_eq!(waited["result"]["content"][0]["text"], "computed in 1s");

    let arguments = json!({ "name": "failing_job", "arguments": {} });
    let refused = post(&server, "tools/call", "failing_job", arguments).await;
    assert_eq!(refused["error"]["code"], -32021, "{refused}");
    let required = &refused["error"]["data"]["requiredCapabilities"];
    assert!(
        required["extensions"]["io.modelcontextprotocol/tasks"].is_object(),
        "{refused}"
    );

    let params = json!({ "taskId": "0123" });
    let gated = post(&server, "tasks/get", "0123", params).await;
    assert_eq!(gated["error"]["code"], -32021, "{gated}");
}

#[tokio::test]
async fn past_the_task_budget_a_call_runs_without_a_task() {
    let dir = conformance("[tasks]\nmax_per_caller = 1\n");
    let server = HttpServer::start(&dir, &[]).await;
    let client = client_taking_tasks(&server).await;
    let first = call(&client, "slow_compute", json!({ "seconds": 1 })).await;
    assert!(matches!(first, CallToolResponse::Task(_)), "{first:?}");
    let second = call(&client, "slow_compute", json!({ "seconds": 1 })).await;
    let CallToolResponse::Complete(result) = second else {
        panic!("the second call must run without a task: {second:?}");
    };
    let result = serde_json::to_value(result).unwrap();
    assert_eq!(result["content"][0]["text"], "computed in 1s", "{result}");
    // A group that needs a task is told why there is none.
    let refused = call(&client, "failing_job", json!({})).await;
    let CallToolResponse::Complete(refused) = refused else {
        panic!("expected the tool's error: {refused:?}");
    };
    let refused = serde_json::to_value(refused).unwrap();
    assert_eq!(refused["isError"], true, "{refused}");
    let text = refused["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("tasks the host keeps for one caller"),
        "{text}"
    );
    let _ = bounded("close", client.cancel()).await;
}

#[tokio::test]
async fn a_task_over_stdio() {
    let dir = conformance("");
    let mut stdio = RawStdio::start(&dir).await;
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {
            "extensions": { "io.modelcontextprotocol/tasks": {} }
        },
        "io.modelcontextprotocol/clientInfo": { "name": "raw", "version": "0" },
    });
    let call = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": "slow_compute", "arguments": { "seconds": 1 }, "_meta": meta },
    });
    let created = stdio.request(&call).await;
    assert_eq!(created["result"]["resultType"], "task", "{created}");
    let id = created["result"]["taskId"].as_str().unwrap().to_owned();
    let mut status = Value::Null;
    for n in 2..200 {
        let get = json!({
            "jsonrpc": "2.0", "id": n, "method": "tasks/get",
            "params": { "taskId": id, "_meta": meta },
        });
        let task = stdio.request(&get).await;
        status = task["result"]["status"].clone();
        if status == "completed" {
            assert_eq!(
                task["result"]["result"]["content"][0]["text"],
                "computed in 1s"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the task never completed: {status}");
}

#[tokio::test]
async fn a_task_is_its_callers_alone() {
    let dir = conformance("");
    let tokens = dir.root().join("tokens");
    std::fs::write(
        &tokens,
        "alice-token-0123456789abcdef alice\nbob-token-0123456789abcdef bob\n",
    )
    .unwrap();
    dir.set_config(&format!(
        "[groups.conformance]\nnamespace = \"\"\n[http.auth]\ntokens_file = \"{}\"\n",
        tokens.display()
    ));
    let server = HttpServer::start(&dir, &[]).await;
    let tasks = json!({ "extensions": { "io.modelcontextprotocol/tasks": {} } });
    let (alice, bob) = (
        Some("alice-token-0123456789abcdef"),
        Some("bob-token-0123456789abcdef"),
    );
    let call = json!({ "name": "slow_compute", "arguments": { "seconds": 20 } });
    let created = post_as(
        &server,
        alice,
        tasks.clone(),
        "tools/call",
        "slow_compute",
        call,
    )
    .await;
    let id = created["result"]["taskId"].as_str().unwrap().to_owned();
    let params = json!({ "taskId": id });

    // Bob holds the id but gets what an unknown id gets, and cannot cancel.
    for method in ["tasks/get", "tasks/cancel"] {
        let refused = post_as(&server, bob, tasks.clone(), method, &id, params.clone()).await;
        assert_eq!(refused["error"]["code"], -32602, "{method}: {refused}");
    }
    let update = json!({ "taskId": id, "inputResponses": {} });
    let refused = post_as(&server, bob, tasks.clone(), "tasks/update", &id, update).await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    let seen = post_as(
        &server,
        alice,
        tasks.clone(),
        "tasks/get",
        &id,
        params.clone(),
    )
    .await;
    assert_eq!(seen["result"]["status"], "working", "{seen}");
    let cancelled = post_as(
        &server,
        alice,
        tasks.clone(),
        "tasks/cancel",
        &id,
        params.clone(),
    )
    .await;
    assert_eq!(cancelled["result"]["resultType"], "complete", "{cancelled}");
    let seen = post_as(&server, alice, tasks, "tasks/get", &id, params).await;
    assert_eq!(seen["result"]["status"], "cancelled", "{seen}");
}

/// Starts `confirm_delete` of `filename` as a task for `token`'s caller
/// and waits (bounded) until it is parked on its question; its id.
async fn parked_task(
    server: &HttpServer,
    token: Option<&str>,
    capabilities: &Value,
    filename: &str,
) -> String {
    let call = json!({ "name": "confirm_delete", "arguments": { "filename": filename } });
    let created = post_as(
        server,
        token,
        capabilities.clone(),
        "tools/call",
        "confirm_delete",
        call,
    )
    .await;
    let id = created["result"]["taskId"].as_str().unwrap().to_owned();
    let params = json!({ "taskId": id });
    for _ in 0..200 {
        let task = post_as(
            server,
            token,
            capabilities.clone(),
            "tasks/get",
            &id,
            params.clone(),
        )
        .await;
        if task["result"]["status"] == "input_required" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    id
}

#[tokio::test]
async fn a_parked_task_keeps_a_bounded_amount_of_answers() {
    let dir = conformance("");
    let server = HttpServer::start(&dir, &[]).await;
    let tasks = json!({ "elicitation": {}, "extensions": { "io.modelcontextprotocol/tasks": {} } });
    let id = parked_task(&server, None, &tasks, "big.txt").await;
    let params = json!({ "taskId": id });
    let padding = "x".repeat(300 * 1024);
    let update = json!({
        "taskId": id,
        "inputResponses": {
            "confirm": { "action": "accept", "content": { "confirm": true, "note": padding } }
        },
    });
    let refused = post_as(&server, None, tasks.clone(), "tasks/update", &id, update).await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("exceed 262144 bytes"), "{message}");
    let task = post_as(&server, None, tasks, "tasks/get", &id, params).await;
    assert_eq!(task["result"]["status"], "input_required", "{task}");
}

#[tokio::test]
async fn answering_a_task_is_authorized_again() {
    let dir = conformance("");
    let tokens = dir.root().join("tokens");
    std::fs::write(
        &tokens,
        "scoped-token-0123456789abcdef alice conformance:call\n\
         plain-token-0123456789abcdef alice\n",
    )
    .unwrap();
    dir.set_config(&format!(
        "[groups.conformance]\nnamespace = \"\"\n[http.auth]\ntokens_file = \"{}\"\n\
         [http.auth.scopes]\nconformance = [\"conformance:call\"]\n",
        tokens.display()
    ));
    let server = HttpServer::start(&dir, &[]).await;
    let caps = json!({ "elicitation": {}, "extensions": { "io.modelcontextprotocol/tasks": {} } });
    let (scoped, plain) = (
        Some("scoped-token-0123456789abcdef"),
        Some("plain-token-0123456789abcdef"),
    );
    let id = parked_task(&server, scoped, &caps, "a.txt").await;
    let params = json!({ "taskId": id });
    let update = json!({
        "taskId": id,
        "inputResponses": { "confirm": { "action": "accept", "content": { "confirm": true } } },
    });
    // Alice without the group's scope may not run the tool again.
    let refused = post_as(
        &server,
        plain,
        caps.clone(),
        "tasks/update",
        &id,
        update.clone(),
    )
    .await;
    assert!(refused["error"].is_object(), "{refused}");
    let task = post_as(
        &server,
        scoped,
        caps.clone(),
        "tasks/get",
        &id,
        params.clone(),
    )
    .await;
    assert_eq!(task["result"]["status"], "input_required", "{task}");
    let accepted = post_as(&server, scoped, caps.clone(), "tasks/update", &id, update).await;
    assert_eq!(accepted["result"]["resultType"], "complete", "{accepted}");
    for _ in 0..200 {
        let task = post_as(
            &server,
            scoped,
            caps.clone(),
            "tasks/get",
            &id,
            params.clone(),
        )
        .await;
        if task["result"]["status"] == "completed" {
            assert_eq!(
                task["result"]["result"]["content"][0]["text"],
                "deleted a.txt"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the task never completed");
}
