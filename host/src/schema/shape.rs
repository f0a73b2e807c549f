//! A schema's shape as validation will walk it, worked out before it is
//! compiled: every subschema, the `$ref`s between them, and how many
//! subschemas one instance value can be checked against.
//!
//! The walk knows the applicator keywords of drafts 4 to 2020-12. Each
//! subschema becomes a [`Node`] whose edges say where validation goes next:
//! to the same value (`allOf`, `anyOf`, `oneOf`, `not`, `if`/`then`/`else`,
//! `dependentSchemas`, `$ref`) or into a member or item of it
//! (`properties`, `items`, …). Edges to the same value must not form a
//! cycle (validation would never end); edges into members may (recursive
//! schemas describe trees).

use std::collections::HashMap;

use serde_json::Value;

use super::SchemaBudget;

/// One subschema.
#[derive(Default)]
pub(super) struct Node {
    /// Where it is, as a JSON Pointer into the schema.
    pub at: String,
    /// Subschemas applied to the same value.
    pub in_place: Vec<Edge>,
    /// `properties`, by name, sorted.
    pub properties: Vec<(String, usize)>,
    /// Applied to every member value (`patternProperties` counted as if
    /// every pattern matched, `additionalProperties`, `unevaluatedProperties`).
    pub members: Vec<usize>,
    /// Applied to every array item (`items`, `prefixItems`, `contains`, …).
    pub items: Vec<usize>,
    /// `propertyNames`: applied to every member name.
    pub names: Vec<usize>,
    /// Has a `pattern`: a string value costs its length in regex steps.
    pub pattern: bool,
    /// How many `patternProperties` every member name is matched against.
    pub pattern_properties: u64,
}

/// An edge to a subschema applied to the same value.
#[derive(Clone, Copy)]
pub(super) struct Edge {
    pub to: usize,
    /// Times the subschema is evaluated when checking validity: twice
    /// below `unevaluated*`, which evaluate their siblings again.
    pub check: u64,
    /// Times it is evaluated when listing violations: twice below `anyOf`
    /// and `oneOf`, which first test each branch and then explain each.
    pub explain: u64,
}

/// The walked schema.
pub(super) struct Shape {
    pub nodes: Vec<Node>,
    /// Per node: position in an order where a node comes before every node
    /// it applies to the same value.
    pub rank: Vec<u32>,
    /// The node of each rank.
    pub by_rank: Vec<usize>,
    /// Every `pattern` and `patternProperties` key, with where it is.
    pub patterns: Vec<(String, String)>,
}

/// Walks `root` (an object) within `budget`.
pub(super) fn walk(root: &Value, budget: &SchemaBudget) -> Result<Shape, String> {
    let depth = nesting_depth(root);
    if depth > budget.max_depth {
        return Err(format!(
            "nests {depth} levels deep, over the limit of {} (schema nesting depth)",
            budget.max_depth
        ));
    }
    let mut walker = Walker {
        root,
        budget,
        nodes: Vec::new(),
        by_pointer: HashMap::new(),
        anchors: HashMap::new(),
        pending: Vec::new(),
        patterns: Vec::new(),
        pattern_bytes: 0,
        legacy_id: root
            .get("$schema")
            .and_then(Value::as_str)
            .is_some_and(|dialect| dialect.contains("draft-04") || dialect.contains("draft-03")),
    };
    walker.walk(root, String::new())?;
    while let Some(reference) = walker.pending.pop() {
        let to = walker.resolve(&reference)?;
        walker.nodes[reference.from].in_place.push(Edge {
            to,
            check: reference.check,
            explain: 1,
        });
    }
    for node in &mut walker.nodes {
        node.properties.sort_by(|a, b| a.0.cmp(&b.0));
    }
    // Per node: subschemas one value is checked against when it reaches
    // the node, `$ref`s and in-place applicators followed, with repeats.
    let (rank, expansion) = expand(&walker.nodes)?;
    if let Some((node, &most)) = expansion
        .iter()
        .enumerate()
        .max_by_key(|(_, n)| **n)
        .filter(|(_, n)| **n > budget.max_expansion)
    {
        return Err(format!(
            "one value reaching {} would be checked against {} subschemas once `$ref`, `allOf`, \
             `anyOf` and `oneOf` are followed, over the limit of {} (subschemas per value); \
             share fewer definitions between the branches",
            display(&walker.nodes[node].at),
            saturated(most),
            budget.max_expansion
        ));
    }
    Ok(Shape {
        nodes: walker.nodes,
        by_rank: {
            let mut by_rank = vec![0; rank.len()];
            for (node, &position) in rank.iter().enumerate() {
                by_rank[position as usize] = node;
            }
            by_rank
        },
        rank,
        patterns: walker.patterns,
    })
}

/// `/` for the root, as in violation messages.
pub(super) fn display(pointer: &str) -> &str {
    if pointer.is_empty() { "/" } else { pointer }
}

/// A count that may have hit `u64::MAX`, for messages.
pub(super) fn saturated(n: u64) -> String {
    if n == u64::MAX {
        "more than 18446744073709551614".to_owned()
    } else {
        n.to_string()
    }
}

fn nesting_depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(nesting_depth).max().unwrap_or(0),
        Value::Object(members) => 1 + members.values().map(nesting_depth).max().unwrap_or(0),
        _ => 0,
    }
}

struct Reference {
    from: usize,
    target: String,
    keyword: &'static str,
    check: u64,
}

struct Walker<'a> {
    root: &'a Value,
    budget: &'a SchemaBudget,
    nodes: Vec<Node>,
    by_pointer: HashMap<String, usize>,
    anchors: HashMap<String, usize>,
    pending: Vec<Reference>,
    patterns: Vec<(String, String)>,
    pattern_bytes: usize,
    /// Draft 4 spells `$id` as `id`.
    legacy_id: bool,
}

impl Walker<'_> {
    /// Registers the subschema `value` at `at` and everything below it.
    fn walk(&mut self, value: &Value, at: String) -> Result<usize, String> {
        if let Some(&id) = self.by_pointer.get(&at) {
            return Ok(id);
        }
        let id = self.nodes.len();
        if id >= self.budget.max_subschemas {
            return Err(format!(
                "has more than {} subschemas (subschemas per schema)",
                self.budget.max_subschemas
            ));
        }
        self.nodes.push(Node {
            at: at.clone(),
            ..Node::default()
        });
        self.by_pointer.insert(at.clone(), id);
        let schema = match value {
            Value::Bool(_) => return Ok(id),
            Value::Object(schema) => schema,
            _ => {
                return Err(format!(
                    "{} is not a schema (a JSON object or a boolean)",
                    display(&at)
                ));
            }
        };
        let below = |keyword: &str| format!("{at}/{}", escape(keyword));
        let unevaluated =
            schema.contains_key("unevaluatedProperties") || schema.contains_key("unevaluatedItems");
        let check = if unevaluated { 2 } else { 1 };
        for (keyword, member) in schema {
            let here = below(keyword);
            match (keyword.as_str(), member) {
                ("$id" | "id", Value::String(uri)) if keyword == "$id" || self.legacy_id => {
                    if let Some(anchor) = uri.strip_prefix('#') {
                        self.anchors.insert(anchor.to_owned(), id);
                    } else if !at.is_empty() {
                        return Err(format!(
                            "`{keyword}` at {here} starts a new base URI inside the schema; \
                             toolhost accepts `{keyword}` only at the root: move the subschema \
                             to `$defs`"
                        ));
                    }
                }
                ("$anchor" | "$dynamicAnchor", Value::String(anchor)) => {
                    self.anchors.insert(anchor.clone(), id);
                }
                ("$ref" | "$dynamicRef", Value::String(target)) => {
                    self.pending.push(Reference {
                        from: id,
                        target: target.clone(),
                        keyword: if keyword == "$ref" {
                            "$ref"
                        } else {
                            "$dynamicRef"
                        },
                        check,
                    });
                }
                ("$recursiveRef", Value::String(_)) => self.pending.push(Reference {
                    from: id,
                    target: "#".to_owned(),
                    keyword: "$recursiveRef",
                    check,
                }),
                ("allOf" | "anyOf" | "oneOf", Value::Array(branches)) => {
                    let explain = if keyword == "allOf" { 1 } else { 2 };
                    for (i, branch) in branches.iter().enumerate() {
                        let to = self.walk(branch, format!("{here}/{i}"))?;
                        self.nodes[id].in_place.push(Edge { to, check, explain });
                    }
                }
                ("not" | "if" | "then" | "else", _) => {
                    let to = self.walk(member, here)?;
                    self.nodes[id].in_place.push(Edge {
                        to,
                        check,
                        explain: 1,
                    });
                }
                ("dependentSchemas" | "dependencies", Value::Object(map)) => {
                    for (name, dependent) in map {
                        if dependent.is_array() {
                            continue;
                        }
                        let to = self.walk(dependent, format!("{here}/{}", escape(name)))?;
                        self.nodes[id].in_place.push(Edge {
                            to,
                            check,
                            explain: 1,
                        });
                    }
                }
                ("properties", Value::Object(map)) => {
                    for (name, property) in map {
                        let to = self.walk(property, format!("{here}/{}", escape(name)))?;
                        self.nodes[id].properties.push((name.clone(), to));
                    }
                }
                ("patternProperties", Value::Object(map)) => {
                    for (pattern, property) in map {
                        let place = format!("{here}/{}", escape(pattern));
                        self.pattern(pattern, &place)?;
                        let to = self.walk(property, place)?;
                        self.nodes[id].members.push(to);
                        self.nodes[id].pattern_properties += 1;
                    }
                }
                ("additionalProperties" | "unevaluatedProperties", _) => {
                    let to = self.walk(member, here)?;
                    self.nodes[id].members.push(to);
                }
                ("items" | "prefixItems", Value::Array(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        let to = self.walk(item, format!("{here}/{i}"))?;
                        self.nodes[id].items.push(to);
                    }
                }
                ("items" | "additionalItems" | "contains" | "unevaluatedItems", _) => {
                    let to = self.walk(member, here)?;
                    self.nodes[id].items.push(to);
                }
                ("propertyNames", _) => {
                    let to = self.walk(member, here)?;
                    self.nodes[id].names.push(to);
                }
                ("pattern", Value::String(pattern)) => {
                    self.pattern(pattern, &here)?;
                    self.nodes[id].pattern = true;
                }
                ("$defs" | "definitions", Value::Object(map)) => {
                    for (name, definition) in map {
                        self.walk(definition, format!("{here}/{}", escape(name)))?;
                    }
                }
                _ => {}
            }
        }
        Ok(id)
    }

    fn pattern(&mut self, pattern: &str, at: &str) -> Result<(), String> {
        self.pattern_bytes += pattern.len();
        self.patterns.push((pattern.to_owned(), at.to_owned()));
        if self.patterns.len() > self.budget.max_patterns {
            return Err(format!(
                "has more than {} patterns (`pattern` and `patternProperties` per schema)",
                self.budget.max_patterns
            ));
        }
        if self.pattern_bytes > self.budget.max_pattern_bytes {
            return Err(format!(
                "has patterns of more than {} bytes in all (pattern text per schema)",
                self.budget.max_pattern_bytes
            ));
        }
        Ok(())
    }

    /// The node `reference` points to, walking it if nothing led there yet.
    fn resolve(&mut self, reference: &Reference) -> Result<usize, String> {
        let from = display(&self.nodes[reference.from].at).to_owned();
        let keyword = reference.keyword;
        let target = reference.target.as_str();
        let (base, fragment) = target.split_once('#').unwrap_or((target, ""));
        let root_id = self
            .root
            .get("$id")
            .and_then(Value::as_str)
            .map(|id| id.split_once('#').map_or(id, |(base, _)| base));
        if !base.is_empty() && Some(base) != root_id {
            return Err(format!(
                "`{keyword}` at {from} refers outside the schema (`{target}`); toolhost never \
                 fetches schemas: put the definition under `$defs` and refer to it as \
                 `#/$defs/…`"
            ));
        }
        if fragment.is_empty() {
            return Ok(0);
        }
        if !fragment.starts_with('/') {
            return self.anchors.get(fragment).copied().ok_or_else(|| {
                format!(
                    "`{keyword}` at {from} names anchor `{fragment}`, which no subschema declares"
                )
            });
        }
        let pointer = percent_decode(fragment);
        if let Some(&id) = self.by_pointer.get(&pointer) {
            return Ok(id);
        }
        let value = self.root.pointer(&pointer).ok_or_else(|| {
            format!("`{keyword}` at {from} points to nothing in the schema (`{target}`)")
        })?;
        self.walk(value, pointer)
    }
}

/// Orders the nodes so that in-place edges go forward, and counts each
/// node's expansion; refuses in-place cycles.
fn expand(nodes: &[Node]) -> Result<(Vec<u32>, Vec<u64>), String> {
    const NEW: u8 = 0;
    const OPEN: u8 = 1;
    const DONE: u8 = 2;
    let mut state = vec![NEW; nodes.len()];
    let mut expansion = vec![0u64; nodes.len()];
    let mut finished = Vec::with_capacity(nodes.len());
    for start in 0..nodes.len() {
        if state[start] != NEW {
            continue;
        }
        // (node, next edge to follow)
        let mut stack = vec![(start, 0usize)];
        state[start] = OPEN;
        while let Some((node, next)) = stack.last_mut() {
            let node = *node;
            if let Some(edge) = nodes[node].in_place.get(*next) {
                *next += 1;
                match state[edge.to] {
                    NEW => {
                        state[edge.to] = OPEN;
                        stack.push((edge.to, 0));
                    }
                    OPEN => {
                        return Err(format!(
                            "{} applies itself to the same value again (through {}) without \
                             descending into it; validation would never end",
                            display(&nodes[edge.to].at),
                            display(&nodes[node].at),
                        ));
                    }
                    _ => {}
                }
                continue;
            }
            stack.pop();
            state[node] = DONE;
            expansion[node] = nodes[node].in_place.iter().fold(1u64, |sum, edge| {
                sum.saturating_add(expansion[edge.to].saturating_mul(edge.check))
            });
            finished.push(node);
        }
    }
    // Post-order puts children first: reversed, parents come first.
    let mut rank = vec![0u32; nodes.len()];
    for (position, node) in finished.into_iter().rev().enumerate() {
        rank[node] = position as u32;
    }
    Ok((rank, expansion))
}

/// A JSON Pointer token for `key`.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// A URI fragment as the JSON Pointer it encodes.
fn percent_decode(fragment: &str) -> String {
    let bytes = fragment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
