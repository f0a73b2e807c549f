//! Upstream MCP servers served beside the groups: the real
//! `@modelcontextprotocol/server-everything` over stdio, as an rmcp client
//! sees it through toolhost, and what a client sees when an upstream fails
//! to start, hangs, is too slow or dies during a call.

use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequestParams, ContentBlock, GetPromptRequestParams, ReadResourceRequestParams,
    ResourceContents,
};
use serde_json::{Value, json};
use toolhost_tests::live::Live;
use toolhost_tests::{LIMIT, MATH, PluginDir, bounded, servers};

/// `toolhost serve` of a directory holding `math`, with `config`, and the
/// client connected; `env` is added to toolhost's environment.
async fn serve(config: &str, env: &[(&str, &str)]) -> (PluginDir, Live) {
    let dir = PluginDir::with(&[MATH]);
    dir.set_config(config);
    let mut command = Live::command(&["serve"]);
    command
        .arg(dir.plugins())
        .arg("--cache-dir")
        .arg(dir.root().join("cache"))
        .arg("--config")
        .arg(dir.config().expect("the config was written"))
        .envs(env.iter().copied());
    (dir, Live::connect(command).await)
}

/// Serving server-everything as upstream `everything`, once its tools are
/// listed.
async fn everything(extra: &str, env: &[(&str, &str)]) -> (PluginDir, Live) {
    let config = servers::everything().upstream("everything", extra);
    let (dir, live) = serve(&config, env).await;
    live.wait_for_tools("server-everything's tools", |tools| {
        tools.iter().any(|t| t.name == "everything_echo")
    })
    .await;
    (dir, live)
}

async fn call(live: &Live, tool: &str, arguments: Value) -> rmcp::model::CallToolResult {
    let mut params = CallToolRequestParams::new(tool.to_owned());
    if let Value::Object(arguments) = arguments {
        params = params.with_arguments(arguments);
    }
    bounded(tool, live.client().call_tool(params))
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}\nstderr:\n{}", live.stderr()))
}

#[tokio::test]
async fn server_everything_answers_through_toolhost_as_it_would_directly() {
    let env = [
        ("TOOLHOST_TEST_SHARED", "shared-value"),
        ("TOOLHOST_TEST_SECRET", "secret-value"),
    ];
    let extra =
        "env = [\"TOOLHOST_TEST_SHARED\", \"TOOLHOST_TEST_SET=${env:TOOLHOST_TEST_SHARED}-set\"]";
    let (_dir, live) = everything(extra, &env).await;
    let tools = live.tools().await;
    assert!(
        tools.iter().any(|t| t.name == "math_add"),
        "the group still serves"
    );
    let echo = tools.iter().find(|t| t.name == "everything_echo").unwrap();
    assert_eq!(echo.title.as_deref(), Some("Echo Tool"));
    assert_eq!(
        echo.annotations.as_ref().and_then(|a| a.read_only_hint),
        Some(true),
        "annotations pass through"
    );

    assert_eq!(
        live.call("everything_echo", json!({ "message": "hi" }))
            .await,
        Ok("Echo: hi".to_owned())
    );
    // Arguments are checked against the upstream's schema before anything
    // is forwarded.
    let refused = live.call("everything_echo", json!({})).await.unwrap_err();
    assert!(refused.contains("message"), "{refused}");

    let structured = call(
        &live,
        "everything_get-structured-content",
        json!({ "location": "Chicago" }),
    )
    .await;
    assert_eq!(structured.is_error, Some(false), "{structured:?}");
    assert!(structured.structured_content.is_some(), "{structured:?}");
    let image = call(&live, "everything_get-tiny-image", json!({})).await;
    assert!(
        image
            .content
            .iter()
            .any(|c| matches!(c, ContentBlock::Image(i) if i.mime_type == "image/png")),
        "{image:?}"
    );

    // Progress of the upstream reaches the client that called.
    let before = live.notes().progress.lock().unwrap().len();
    let long = call(
        &live,
        "everything_trigger-long-running-operation",
        json!({ "duration": 2, "steps": 4 }),
    )
    .await;
    assert_eq!(long.is_error, Some(false), "{long:?}");
    // The last one may come after the result, and is then dropped: the
    // request is over.
    let progress = live.notes().progress.lock().unwrap().len() - before;
    assert!(progress >= 2, "{progress} progress notifications");

    // The upstream's own questions reach the client that called: sampling
    // (answered by the test client's model).
    let sampled = live
        .call(
            "everything_trigger-sampling-request",
            json!({ "prompt": "hello", "maxTokens": 20 }),
        )
        .await
        .unwrap();
    assert!(sampled.contains(toolhost_tests::SAMPLED_TEXT), "{sampled}");
    assert!(
        format!("{:?}", live.notes().sampled.lock().unwrap()).contains("hello"),
        "the client saw the upstream's prompt"
    );

    // Only what the config passes reaches the upstream's environment.
    let env = live.call("everything_get-env", json!({})).await.unwrap();
    assert!(env.contains("shared-value"), "{env}");
    assert!(env.contains("shared-value-set"), "{env}");
    assert!(!env.contains("secret-value"), "{env}");

    // Resources, namespaced both ways, and prompts.
    let resources = bounded("resources/list", live.client().list_all_resources())
        .await
        .unwrap();
    let document = resources
        .iter()
        .find(|r| r.uri.ends_with("architecture.md"))
        .unwrap_or_else(|| panic!("{resources:?}"));
    assert!(document.uri.contains("everything/"), "{}", document.uri);
    let read = bounded(
        "resources/read",
        live.client()
            .read_resource(ReadResourceRequestParams::new(document.uri.clone())),
    )
    .await
    .unwrap();
    assert!(
        matches!(&read.contents[0], ResourceContents::TextResourceContents { uri, text, .. } if *uri == document.uri && !text.is_empty()),
        "{read:?}"
    );
    let mut arguments = serde_json::Map::new();
    arguments.insert("city".into(), json!("Paris"));
    let prompt = bounded(
        "prompts/get",
        live.client().get_prompt(
            GetPromptRequestParams::new("everything_args-prompt").with_arguments(arguments),
        ),
    )
    .await
    .unwrap();
    assert!(format!("{prompt:?}").contains("Paris"), "{prompt:?}");
    let completed = bounded(
        "completion/complete",
        live.client()
            .complete_prompt_simple("everything_completable-prompt", "department", "S"),
    )
    .await
    .unwrap();
    assert_eq!(completed, ["Sales", "Support"]);
    live.stop().await;
}

#[tokio::test]
async fn server_everything_over_streamable_http_is_served_the_same() {
    let server = servers::everything().start_http();
    let config = format!(
        "[upstreams.web]\nurl = {:?}\nheaders = {{ Authorization = \"Bearer ${{env:TOOLHOST_TEST_TOKEN}}\" }}\n",
        server.url
    );
    let (_dir, live) = serve(&config, &[("TOOLHOST_TEST_TOKEN", "t0ken")]).await;
    live.wait_for_tools("the HTTP upstream's tools", |tools| {
        tools.iter().any(|t| t.name == "web_echo")
    })
    .await;
    assert_eq!(
        live.call("web_echo", json!({ "message": "over http" }))
            .await,
        Ok("Echo: over http".to_owned())
    );
    let sum = live
        .call("web_get-sum", json!({ "a": 2, "b": 5 }))
        .await
        .unwrap();
    assert!(sum.contains('7'), "{sum}");
    let structured = call(
        &live,
        "web_get-structured-content",
        json!({ "location": "Chicago" }),
    )
    .await;
    assert!(structured.structured_content.is_some(), "{structured:?}");
    live.stop().await;
    drop(server);
}

#[tokio::test]
async fn upstreams_that_cannot_start_or_never_answer_hold_up_nothing() {
    let config = "[upstreams.missing]\ncommand = \"/nonexistent/toolhost-upstream\"\n\
                  [upstreams.silent]\ncommand = \"sleep\"\nargs = [\"600\"]\ntimeout = \"1s\"\n";
    let started = Instant::now();
    let (_dir, live) = serve(config, &[]).await;
    assert_eq!(
        live.call("math_add", json!({ "a": 1, "b": 2 }))
            .await
            .map(|t| t.contains('3')),
        Ok(true)
    );
    assert!(started.elapsed() < LIMIT);
    live.wait_for_stderr(&["upstream `missing`", "cannot start"])
        .await;
    live.wait_for_stderr(&[
        "upstream `silent`",
        "did not complete the MCP handshake within 1s",
    ])
    .await;
    live.wait_for_stderr(&["connecting again in"]).await;
    live.stop().await;
}

#[tokio::test]
async fn a_slow_upstream_times_out_opens_its_breaker_and_the_groups_answer_meanwhile() {
    let extra = "timeout = \"2s\"\nbreaker_failures = 1\nbreaker_open = \"10m\"";
    let (_dir, live) = everything(extra, &[]).await;
    let slow = live.call(
        "everything_trigger-long-running-operation",
        json!({ "duration": 10, "steps": 10 }),
    );
    let quick = async {
        let started = Instant::now();
        let answer = live.call("math_add", json!({ "a": 1, "b": 2 })).await;
        (answer, started.elapsed())
    };
    let (slow, (quick, quick_took)) = tokio::join!(slow, quick);
    let slow = slow.unwrap_err();
    assert!(
        slow.contains("upstream `everything` did not answer within 2s")
            && slow.contains("upstreams.everything.timeout"),
        "{slow}"
    );
    assert!(quick.is_ok(), "{quick:?}");
    assert!(quick_took < Duration::from_secs(2), "{quick_took:?}");

    // One failure opens the breaker here: the next request fails at once,
    // saying when the upstream is tried again.
    let started = Instant::now();
    let refused = live
        .call("everything_echo", json!({ "message": "hi" }))
        .await
        .unwrap_err();
    assert!(
        refused.contains("upstream `everything` failed 1 request in a row")
            && refused.contains("tried again in"),
        "{refused}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    live.stop().await;
}

#[tokio::test]
async fn an_upstream_killed_during_a_call_fails_it_and_is_started_again() {
    let (_dir, live) = everything("", &[]).await;
    let pid = live.pid();
    let slow = live.call(
        "everything_trigger-long-running-operation",
        json!({ "duration": 30, "steps": 30 }),
    );
    let kill = async {
        // Once the call is running (its first progress), kill the process.
        let wait = async {
            while live.notes().progress.lock().unwrap().is_empty() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(LIMIT, wait)
            .await
            .expect("progress of the call");
        let children = std::process::Command::new("pkill")
            .args(["-KILL", "-P", &pid.to_string()])
            .status()
            .expect("run pkill");
        assert!(children.success(), "the upstream is a child of toolhost");
    };
    let (failed, ()) = tokio::join!(slow, kill);
    let failed = failed.unwrap_err();
    assert!(failed.contains("upstream `everything`"), "{failed}");
    // It comes back by itself, and serves again.
    live.wait_for_stderr(&["upstream `everything` ended its session"])
        .await;
    live.wait_for_tools("the upstream back", |tools| {
        tools.iter().any(|t| t.name == "everything_echo")
    })
    .await;
    let echo = async {
        loop {
            if let Ok(text) = live
                .call("everything_echo", json!({ "message": "again" }))
                .await
            {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let echo = tokio::time::timeout(LIMIT, echo).await.expect("echo again");
    assert_eq!(echo, "Echo: again");
    live.stop().await;
}

#[tokio::test]
async fn readyz_and_metrics_show_each_upstream() {
    use toolhost_tests::http::{HttpServer, http_client};

    let dir = PluginDir::with(&[MATH]);
    let config = servers::everything().upstream("everything", "")
        + "[upstreams.missing]\ncommand = \"/nonexistent/toolhost-upstream\"\n";
    dir.set_config(&config);
    let server = HttpServer::start(&dir, &[]).await;
    let ready = async {
        loop {
            let ready = server.wait_ready().await;
            let groups = ready["groups"].as_array().cloned().unwrap_or_default();
            if groups.iter().any(|g| g["upstream"] == "everything") {
                return ready;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let ready = tokio::time::timeout(LIMIT, ready).await.expect("served");
    let failed = ready["failed"].as_array().unwrap();
    let missing = failed
        .iter()
        .find(|f| f["upstream"] == "missing")
        .unwrap_or_else(|| panic!("{ready:#}"));
    assert!(
        missing["reason"].as_str().unwrap().contains("cannot start"),
        "{ready:#}"
    );
    let metrics = bounded("metrics", http_client().get(server.url("/metrics")).send())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("toolhost_upstream_up{upstream=\"everything\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("toolhost_upstream_up{upstream=\"missing\"} 0"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_fastmcp_server_is_served_and_its_floods_and_oversized_schema_are_contained() {
    let python = toolhost_tests::python::python();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("servers/python/fastmcp_server.py");
    // Python and FastMCP take seconds to start on a busy machine.
    let config = format!(
        "[defaults]\nmax_output = \"64KiB\"\n\
         [upstreams.fast]\ncommand = {:?}\nargs = [{:?}]\ntimeout = \"60s\"\n",
        python.display().to_string(),
        script.display().to_string()
    );
    let (_dir, live) = serve(&config, &[]).await;
    let tools = live
        .wait_for_tools("the FastMCP server's tools", |tools| {
            tools.iter().any(|t| t.name == "fast_add")
        })
        .await;
    // A schema over the budget leaves that tool out, not the server.
    assert!(tools.iter().all(|t| t.name != "fast_huge"), "{tools:?}");
    live.wait_for_stderr(&["tool `huge` of upstream `fast` is left out", "schema"])
        .await;

    let sum = call(&live, "fast_add", json!({ "a": 2, "b": 3 })).await;
    assert_eq!(
        sum.structured_content,
        Some(json!({ "result": 5 })),
        "{sum:?}"
    );
    // Its results get the groups' size limit.
    assert!(live.call("fast_big", json!({ "size": 1000 })).await.is_ok());
    let refused = live
        .call("fast_big", json!({ "size": 100_000 }))
        .await
        .unwrap_err();
    assert!(
        refused.contains("upstream `fast` answered with") && refused.contains("max_output"),
        "{refused}"
    );

    // A flood of progress is capped per request, and a flood of
    // list_changed is listed at most once a second; the group answers
    // meanwhile.
    let before = live.notes().progress.lock().unwrap().len();
    let flood = live.call("fast_flood", json!({ "progress": 5000, "changes": 200 }));
    let quick = live.call("math_add", json!({ "a": 1, "b": 2 }));
    let (flood, quick) = tokio::join!(flood, quick);
    assert_eq!(flood, Ok("flooded".to_owned()));
    assert!(quick.is_ok(), "{quick:?}");
    let progress = live.notes().progress.lock().unwrap().len() - before;
    assert!(
        (1..=1000).contains(&progress),
        "{progress} progress notifications"
    );

    let mut arguments = serde_json::Map::new();
    arguments.insert("code".into(), json!("fn main() {}"));
    let prompt = bounded(
        "prompts/get",
        live.client()
            .get_prompt(GetPromptRequestParams::new("fast_review").with_arguments(arguments)),
    )
    .await
    .unwrap();
    assert!(format!("{prompt:?}").contains("fn main() {}"), "{prompt:?}");
    let read = bounded(
        "resources/read",
        live.client()
            .read_resource(ReadResourceRequestParams::new("greeting://fast/Ada")),
    )
    .await
    .unwrap();
    assert!(format!("{read:?}").contains("Hello, Ada!"), "{read:?}");
    live.stop().await;
}

#[tokio::test]
async fn inspect_lists_an_upstream_given_by_command_or_url() {
    let everything = servers::everything();
    let node = everything.node.display().to_string();
    let script = everything.script.display().to_string();
    let output = toolhost_tests::run_toolhost(&["inspect", &node, &script, "stdio"]).await;
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("tool echo"), "{text}");

    let server = everything.start_http();
    let output = toolhost_tests::run_toolhost(&["inspect", "--json", &server.url]).await;
    let json: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
    let tools = json["tools"].as_array().unwrap();
    assert!(tools.iter().any(|t| t["name"] == "get-sum"), "{json:#}");

    let output = toolhost_tests::run_toolhost(&["inspect", "/nonexistent/toolhost-upstream"]).await;
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("cannot start"), "{error}");
}

#[tokio::test]
async fn stopping_toolhost_stops_its_upstream_processes() {
    // A server that ignores SIGTERM and its stdin closing, and never
    // answers the handshake.
    let config = "[upstreams.stubborn]\ncommand = \"sh\"\n\
                  args = [\"-c\", \"trap '' TERM HUP; exec sleep 600\"]\ntimeout = \"60s\"\n";
    let (_dir, live) = serve(config, &[]).await;
    let toolhost = live.pid().to_string();
    let children = async {
        loop {
            let out = std::process::Command::new("pgrep")
                .args(["-P", &toolhost])
                .output()
                .expect("run pgrep");
            let pids = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if !pids.is_empty() {
                return pids;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let pid = tokio::time::timeout(LIMIT, children)
        .await
        .expect("the upstream runs");
    live.stop().await;
    // Running means present and not a zombie (a dead process whose new
    // parent has not reaped it yet).
    let running = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
        })
    };
    let gone = async {
        while running() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), gone)
        .await
        .unwrap_or_else(|_| panic!("upstream process {pid} outlived toolhost"));
}
