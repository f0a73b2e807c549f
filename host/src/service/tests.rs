//! In-process tests of the call service and the MCP door: a real rmcp
//! client talks to the real handler over an in-memory duplex pipe, and
//! the service is asked directly as a caller with or without scopes. Fast
//! beside the end-to-end tests in `tests/`, which start the binary.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rmcp::ServiceExt as _;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{CallOutcome, CallService, Error, NoClient, Who};
use crate::caller::{Caller, ScopePolicy};
use crate::catalog::{Catalog, Naming};
use crate::config::{Config, LimitOverrides};
use crate::mcp::Handler;
use crate::metrics::Metrics;
use crate::runtime::Runtime;

/// The call service with the math example loaded, as `toolhost serve`
/// builds it, under `scopes` (shared with the other in-process tests).
pub(crate) async fn math_service_with(scopes: ScopePolicy) -> CallService {
    let runtime = Runtime::new(Config::default(), LimitOverrides::default()).unwrap();
    let catalog = Arc::new(Catalog::new(Naming {
        separator: "_".into(),
        strict: true,
    }));
    let group = runtime
        .load(toolhost_tests::MATH.as_ref())
        .await
        .expect("math loads");
    catalog.insert(Arc::new(group)).expect("math is served");
    catalog.mark_ready();
    CallService::new(catalog, Metrics::new(), Arc::new(scopes))
}

/// A service serving the math example, with `math` needing scope `math:use`.
async fn math_service() -> CallService {
    math_service_with(ScopePolicy::new(BTreeMap::from([(
        "math".to_owned(),
        vec!["math:use".to_owned()],
    )])))
    .await
}

fn caller(scopes: &[&str]) -> Caller {
    Caller {
        subject: "someone".into(),
        scopes: scopes
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>(),
    }
}

#[tokio::test]
async fn an_rmcp_client_calls_through_the_handler_in_process() {
    let service = math_service().await;
    let (server_io, client_io) = tokio::io::duplex(64 * 1024);
    let (server_read, server_write) = tokio::io::split(server_io);
    tokio::spawn(async move {
        let running = Handler::new(service)
            .serve((server_read, server_write))
            .await
            .expect("server starts");
        let _ = running.waiting().await;
    });
    let (client_read, client_write) = tokio::io::split(client_io);
    let client = ().serve((client_read, client_write)).await.expect("client");
    let info = client.peer_info().expect("initialized");
    assert!(
        info.instructions.as_deref().unwrap_or("").contains("math"),
        "{info:?}"
    );
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "math_add"));
    let result = client
        .call_tool(
            serde_json::from_value(json!({ "name": "math_add", "arguments": { "a": 2, "b": 3 } }))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(false));
    let structured = result.structured_content.expect("structured result");
    assert_eq!(structured["result"].as_f64(), Some(5.0), "{structured}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn one_authorization_point_for_lists_calls_and_instructions() {
    let service = math_service().await;
    let allowed = caller(&["math:use"]);
    let denied = caller(&["other"]);
    let who = |caller| Who {
        caller: Some(caller),
        request_id: None,
        traceparent: None,
    };

    let listed = service.list_tools(who(&allowed), None).await.unwrap();
    assert!(listed.items.iter().any(|t| t.name == "math_add"));
    let listed = service.list_tools(who(&denied), None).await.unwrap();
    assert!(listed.items.is_empty());
    // Without a caller (stdio, HTTP without auth) everything is allowed.
    let listed = service.list_tools(Who::default(), None).await.unwrap();
    assert!(!listed.items.is_empty());

    assert!(service.instructions(who(&allowed)).await.is_some());
    assert!(service.instructions(who(&denied)).await.is_none());

    let refused = service
        .find_tool(who(&denied), "math_add")
        .await
        .err()
        .expect("refused");
    assert!(
        matches!(&refused, Error::Forbidden { missing, .. } if missing == &["math:use"]),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("insufficient_scope"));
    let unknown = service
        .find_tool(who(&allowed), "math_nope")
        .await
        .err()
        .expect("unknown");
    assert!(unknown.to_string().contains("tools/list"), "{unknown}");

    let tool = service.find_tool(who(&allowed), "math_add").await.unwrap();
    let outcome = service
        .call(
            who(&allowed),
            &tool,
            serde_json::from_value(json!({ "a": "x" })).unwrap(),
            &NoClient,
            CancellationToken::new(),
        )
        .await;
    assert!(
        matches!(outcome, CallOutcome::InvalidArguments(ref lines) if !lines.is_empty()),
        "{outcome:?}"
    );
    // Every kind of request counts as in flight while it runs, and none is
    // left when they are done.
    assert_eq!(service.metrics().in_flight(), 0);
}

#[test]
fn only_well_formed_trace_contexts_reach_the_span() {
    let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    assert_eq!(super::traceparent(good), Some(good));
    for bad in [
        "",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\nforged log line",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
    ] {
        assert_eq!(super::traceparent(bad), None, "{bad:?}");
    }
}

/// The conformance fixture served as `toolhost serve` serves it, through
/// `catalog`.
async fn serve_conformance(runtime: &Arc<Runtime>, catalog: &Catalog) {
    let group = runtime
        .load(toolhost_tests::CONFORMANCE.as_ref())
        .await
        .expect("conformance loads");
    catalog
        .insert(Arc::new(group))
        .expect("conformance is served");
}

#[tokio::test]
async fn a_group_lists_and_unlists_its_items_and_a_reload_keeps_the_choice() {
    use crate::source::ItemKind;

    let runtime = Runtime::new(Config::default(), LimitOverrides::default()).unwrap();
    let catalog = Arc::new(Catalog::new(Naming {
        separator: "_".into(),
        strict: true,
    }));
    serve_conformance(&runtime, &catalog).await;
    catalog.mark_ready();
    let service = CallService::new(catalog.clone(), Metrics::new(), Arc::default());
    let service = &service;
    let who = Who::default();
    let dynamic = "conformance_test_dynamic_tool";
    let tool_names = || async {
        let page = service.list_tools(who, None).await.unwrap();
        page.items
            .iter()
            .map(|t| t.name.clone())
            .collect::<Vec<_>>()
    };
    let call = |name: &'static str| async move {
        let tool = service.find_tool(who, name).await?;
        Ok::<_, Error>(
            service
                .call(
                    who,
                    &tool,
                    Default::default(),
                    &NoClient,
                    CancellationToken::new(),
                )
                .await,
        )
    };

    // Declared `unlisted`: not listed, and as unknown as a tool never
    // declared.
    assert!(!tool_names().await.contains(&dynamic.to_owned()));
    let unknown = call(dynamic)
        .await
        .expect_err("an unlisted tool is unknown");
    assert!(matches!(unknown, Error::Unknown { .. }), "{unknown:?}");

    // The group lists it while it runs; subscribers hear of it.
    let mut changes = catalog.subscribe();
    changes.borrow_and_update();
    let outcome = call("conformance_test_trigger_tool_change").await.unwrap();
    assert!(
        matches!(&outcome, CallOutcome::Done { output, .. } if format!("{:?}", output.content).contains("is listed")),
        "{outcome:?}"
    );
    assert!(changes.has_changed().unwrap());
    assert_eq!(changes.borrow_and_update().tools, 1);
    assert!(tool_names().await.contains(&dynamic.to_owned()));
    assert!(matches!(call(dynamic).await, Ok(CallOutcome::Done { .. })));

    // A reload (a new version of the same group) keeps the group's choice.
    serve_conformance(&runtime, &catalog).await;
    assert!(tool_names().await.contains(&dynamic.to_owned()));

    // Unlisting takes it away again; unlisting twice changes nothing.
    call("conformance_test_trigger_tool_change").await.unwrap();
    assert!(!tool_names().await.contains(&dynamic.to_owned()));
    let source = catalog.snapshot().sources.values().next().unwrap().clone();
    let again = catalog.set_listed(
        source.as_ref(),
        ItemKind::Operation,
        "test_dynamic_tool",
        false,
    );
    assert_eq!(again, Ok(false));
    let undeclared = catalog
        .set_listed(source.as_ref(), ItemKind::Operation, "nope", true)
        .unwrap_err();
    assert!(
        undeclared.contains("declares no operation `nope`"),
        "{undeclared}"
    );

    // An unlisted template serves no URI it matches, and completes nothing.
    let template = "test://template/{id}/data";
    let uri = "test://conformance/template/7/data";
    let read = || service.read_resource(who, uri, &NoClient, CancellationToken::new());
    assert!(read().await.is_ok());
    let changed = catalog.set_listed(source.as_ref(), ItemKind::ResourceTemplate, template, false);
    assert_eq!(changed, Ok(true));
    assert!(matches!(read().await, Err(Error::Unknown { .. })));
    let templates = service.list_templates(who, None).await.unwrap();
    assert!(templates.items.is_empty());
    catalog
        .set_listed(source.as_ref(), ItemKind::ResourceTemplate, template, true)
        .unwrap();
    assert!(read().await.is_ok());

    // Prompts, through the group's own trigger.
    let prompt = "conformance_test_dynamic_prompt";
    let get = || service.get_prompt(who, prompt, Vec::new(), &NoClient, CancellationToken::new());
    assert!(matches!(get().await, Err(Error::Unknown { .. })));
    call("conformance_test_trigger_prompt_change")
        .await
        .unwrap();
    assert!(get().await.is_ok());
    let prompts = service.list_prompts(who, None).await.unwrap();
    assert!(prompts.items.iter().any(|p| p.name == prompt));
}
