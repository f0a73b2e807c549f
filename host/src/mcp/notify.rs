//! Notifications that are not answers to a request: list changes,
//! resource updates and the host's own notices, for the lifetime of a
//! session (2025-11-25) or of a `subscriptions/listen` stream (2026-07-28).
//! Resource updates reach a client only for URIs it subscribed to and may
//! read ([`CallService::may_hear`]).

// MCP logging (`notifications/message`) is deprecated by SEP-2577 in the
// newest protocol era, but every client of the current eras uses it.
#![allow(deprecated)]

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use rmcp::model::{
    LoggingLevel, LoggingMessageNotificationParam, ResourceUpdatedNotificationParam,
};
use rmcp::service::SubscriptionContext;
use rmcp::{Peer, RoleServer};
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;

use super::convert::{severity, to_logging_level};
use crate::caller::Caller;
use crate::catalog::{Snapshot, Version};
use crate::service::{CallService, Who};

/// Which lists differ between two moments.
struct Changed {
    /// A new snapshot was swapped in.
    swapped: bool,
    tools: bool,
    prompts: bool,
    resources: bool,
}

impl Changed {
    fn between(
        (before, was): &(Arc<Snapshot>, Version),
        (after, is): &(Arc<Snapshot>, Version),
    ) -> Self {
        fn differ<T>(a: &BTreeMap<String, Arc<T>>, b: &BTreeMap<String, Arc<T>>) -> bool {
            a.len() != b.len()
                || a.iter()
                    .zip(b)
                    .any(|((ka, va), (kb, vb))| ka != kb || !Arc::ptr_eq(va, vb))
        }
        Self {
            swapped: was.swaps != is.swaps,
            tools: was.tools != is.tools || differ(&before.tools, &after.tools),
            prompts: was.prompts != is.prompts || differ(&before.prompts, &after.prompts),
            resources: was.resources != is.resources
                || differ(&before.resources, &after.resources)
                || differ(&before.templates, &after.templates),
        }
    }

    /// Tells a client of the changed lists. Tools are announced on every
    /// swap (a reload of the same names may change descriptions).
    async fn send(&self, peer: &Peer<RoleServer>) -> Result<(), rmcp::ServiceError> {
        if self.swapped || self.tools {
            peer.notify_tool_list_changed().await?;
        }
        if self.prompts {
            peer.notify_prompt_list_changed().await?;
        }
        if self.resources {
            peer.notify_resource_list_changed().await?;
        }
        Ok(())
    }
}

/// Runs `task` for as long as `peer`'s connection is open, so that a
/// client that went away without closing its session (an HTTP session
/// expires when idle) leaves no task waiting for the next change.
fn spawn_while_connected(peer: &Peer<RoleServer>, task: impl Future<Output = ()> + Send + 'static) {
    let peer = peer.clone();
    tokio::spawn(async move {
        let gone = async {
            let mut check = tokio::time::interval(std::time::Duration::from_secs(5));
            while !peer.is_transport_closed() {
                check.tick().await;
            }
        };
        tokio::select! {
            () = task => {}
            () = gone => {}
        }
    });
}

/// Starts a session's notification tasks: list changes, updates of the
/// resources it subscribed to (and may read), and the host's notices at
/// the level it asked for.
pub fn start_session(
    service: &CallService,
    peer: Peer<RoleServer>,
    caller: Option<Caller>,
    subscriptions: Arc<Mutex<HashSet<String>>>,
    min_level: Arc<Mutex<LoggingLevel>>,
) {
    let catalog = service.catalog().clone();
    let mut changes = catalog.subscribe();
    let list_peer = peer.clone();
    spawn_while_connected(&peer, async move {
        // Changes are announced once the initial load is done; compare
        // with what was served then.
        catalog.until_ready().await;
        let mut last = (catalog.snapshot(), *changes.borrow_and_update());
        while changes.changed().await.is_ok() {
            let now = (catalog.snapshot(), *changes.borrow_and_update());
            let what = Changed::between(&last, &now);
            last = now;
            if what.send(&list_peer).await.is_err() {
                break;
            }
        }
    });

    let mut updates = service.catalog().resource_updates();
    let update_peer = peer.clone();
    let updates_service = service.clone();
    spawn_while_connected(&peer, async move {
        loop {
            let uri = match updates.recv().await {
                Ok(uri) => uri,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => break,
            };
            let subscribed = subscriptions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&uri);
            let who = Who {
                caller: caller.as_ref(),
                request_id: None,
                traceparent: None,
            };
            if subscribed
                && updates_service.may_hear(who, &uri)
                && update_peer
                    .notify_resource_updated(ResourceUpdatedNotificationParam::new(uri))
                    .await
                    .is_err()
            {
                break;
            }
        }
    });

    let mut notices = service.catalog().notices();
    let notices_peer = peer.clone();
    spawn_while_connected(&peer, async move {
        loop {
            let notice = match notices.recv().await {
                Ok(notice) => notice,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => break,
            };
            let level = to_logging_level(notice.level);
            if severity(level) < severity(*min_level.lock().unwrap_or_else(|e| e.into_inner())) {
                continue;
            }
            let mut param =
                LoggingMessageNotificationParam::new(level, Value::String(notice.message));
            param.logger = Some("toolhost".into());
            if notices_peer.notify_logging_message(param).await.is_err() {
                break;
            }
        }
    });
}

/// Serves one `subscriptions/listen` stream until the client cancels it.
pub async fn listen(
    service: &CallService,
    subscription: SubscriptionContext,
    caller: Option<Caller>,
) {
    let catalog = service.catalog();
    let mut changes = catalog.subscribe();
    changes.mark_unchanged();
    let mut updates = catalog.resource_updates();
    let accepted = subscription.accepted();
    let watched: HashSet<String> = accepted
        .resource_subscriptions
        .iter()
        .flatten()
        .cloned()
        .collect();
    let wants = |flag: Option<bool>| flag == Some(true);
    let (tools, prompts, resources) = (
        wants(accepted.tools_list_changed),
        wants(accepted.prompts_list_changed),
        wants(accepted.resources_list_changed),
    );
    let who = Who {
        caller: caller.as_ref(),
        request_id: None,
        traceparent: None,
    };
    catalog.until_ready().await;
    let mut last = (catalog.snapshot(), *changes.borrow_and_update());
    loop {
        tokio::select! {
            () = subscription.cancelled() => return,
            update = updates.recv(), if !watched.is_empty() => {
                let uri = match update {
                    Ok(uri) => uri,
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return,
                };
                if watched.contains(&uri)
                    && service.may_hear(who, &uri)
                    && subscription.sink().notify_resource_updated(uri).await.is_err()
                {
                    return;
                }
            }
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
                let now = (catalog.snapshot(), *changes.borrow_and_update());
                let what = Changed::between(&last, &now);
                last = now;
                let sink = subscription.sink();
                let sent = async {
                    if tools && what.tools {
                        sink.notify_tool_list_changed().await?;
                    }
                    if prompts && what.prompts {
                        sink.notify_prompt_list_changed().await?;
                    }
                    if resources && what.resources {
                        sink.notify_resource_list_changed().await?;
                    }
                    Ok::<_, rmcp::service::SubscriptionSendError>(())
                };
                if sent.await.is_err() {
                    return;
                }
            }
        }
    }
}
