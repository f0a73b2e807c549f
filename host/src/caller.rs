//! Who is calling: what a transport tells the MCP handler about a request.
//!
//! The HTTP layers put a [`Caller`] (after authentication) and a
//! [`RequestId`] into the request's extensions; rmcp hands the request's
//! `http::request::Parts` to the handler, which reads them back with
//! [`caller`] and [`request_id`]. Over stdio there is neither: the local
//! user who started the process may call everything.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rmcp::RoleServer;
use rmcp::service::RequestContext;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Token subject (`sub`), or the name given to a static token.
    pub subject: String,
    /// Scopes the token grants.
    pub scopes: BTreeSet<String>,
}

/// The correlation id of one HTTP request (`X-Request-Id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub Arc<str>);

/// Scopes a caller needs to see and call each group's tools.
#[derive(Debug, Clone, Default)]
pub struct ScopePolicy {
    by_group: BTreeMap<String, Vec<String>>,
}

impl ScopePolicy {
    pub fn new(by_group: BTreeMap<String, Vec<String>>) -> Self {
        Self { by_group }
    }

    /// The scopes `caller` lacks for group `group`; empty when it may call.
    /// Without a caller (stdio, or HTTP without auth) nothing is missing.
    pub fn missing<'a>(&'a self, group: &str, caller: Option<&Caller>) -> Vec<&'a str> {
        let (Some(caller), Some(required)) = (caller, self.by_group.get(group)) else {
            return Vec::new();
        };
        required
            .iter()
            .filter(|scope| !caller.scopes.contains(scope.as_str()))
            .map(String::as_str)
            .collect()
    }

    /// Every scope the policy names (for `scopes_supported`).
    pub fn all_scopes(&self) -> BTreeSet<&str> {
        self.by_group
            .values()
            .flatten()
            .map(String::as_str)
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.by_group.is_empty()
    }
}

/// The caller of an MCP request, when its transport authenticated one.
pub fn caller(context: &RequestContext<RoleServer>) -> Option<&Caller> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Caller>())
}

/// The correlation id of an MCP request that came over HTTP.
pub fn request_id(context: &RequestContext<RoleServer>) -> Option<&RequestId> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<RequestId>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_scopes_only_for_authenticated_callers_of_protected_groups() {
        let policy = ScopePolicy::new(BTreeMap::from([(
            "math".to_owned(),
            vec!["math:call".to_owned(), "beta".to_owned()],
        )]));
        let caller = Caller {
            subject: "alice".into(),
            scopes: BTreeSet::from(["math:call".to_owned()]),
        };
        assert_eq!(policy.missing("math", Some(&caller)), vec!["beta"]);
        assert!(policy.missing("text", Some(&caller)).is_empty());
        assert!(policy.missing("math", None).is_empty());
    }
}
