//! What validating one instance will cost, counted before validating it.
//!
//! Walks the instance together with the schema's [`Shape`]: each value gets
//! the subschemas that reach it, with how many times each does (repeats
//! multiply: `allOf: [{$ref: A}, {$ref: A}]` checks the value against `A`
//! twice, and so does every member below it). Merging repeats into counts
//! keeps this walk to one step per distinct (value, subschema) pair, which
//! is never more than the validation it predicts, so it is cheap exactly
//! when validation is, and it stops as soon as the prediction passes the
//! budget.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use serde_json::Value;

use super::shape::Shape;

/// Predicted schema checks for one instance.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Work {
    /// Values of the instance that some subschema applies to.
    pub values: u64,
    /// Checks to decide whether the instance is valid.
    pub check: u64,
    /// Checks to list its violations, when it is not valid.
    pub explain: u64,
}

/// Counts the checks validating `instance` takes; `Err` with the count so
/// far as soon as validity checks pass `budget`.
pub(super) fn estimate(shape: &Shape, instance: &Value, budget: u64) -> Result<Work, Work> {
    let mut walk = Walk {
        shape,
        budget,
        work: Work::default(),
        pending: vec![NONE; shape.nodes.len()],
        next: BinaryHeap::new(),
        applied: Vec::new(),
    };
    walk.reach(0, ONCE);
    match walk.visit(instance) {
        Ok(()) => Ok(walk.work),
        Err(()) => Err(walk.work),
    }
}

#[derive(Clone, Copy, PartialEq)]
struct Repeats {
    check: u64,
    explain: u64,
}

const NONE: Repeats = Repeats {
    check: 0,
    explain: 0,
};
const ONCE: Repeats = Repeats {
    check: 1,
    explain: 1,
};

/// The walk's state. Subschemas reaching the next value wait in `pending`
/// (repeats per node) and `next` (their ranks, lowest first, so that a
/// subschema is taken only after every subschema that applies it to the
/// same value); a value takes them all before its members are reached, so
/// one of each serves the whole walk.
struct Walk<'s> {
    shape: &'s Shape,
    budget: u64,
    work: Work,
    pending: Vec<Repeats>,
    next: BinaryHeap<Reverse<u32>>,
    /// Subschemas applied to the values being visited, innermost last.
    applied: Vec<(usize, Repeats)>,
}

impl Walk<'_> {
    fn charge(&mut self, repeats: Repeats, units: u64) -> Result<(), ()> {
        let work = &mut self.work;
        work.check = work
            .check
            .saturating_add(repeats.check.saturating_mul(units));
        work.explain = work
            .explain
            .saturating_add(repeats.explain.saturating_mul(units));
        if work.check > self.budget {
            return Err(());
        }
        Ok(())
    }

    /// Adds `repeats` of subschema `to` to those reaching the next value.
    fn reach(&mut self, to: usize, repeats: Repeats) {
        let pending = &mut self.pending[to];
        if *pending == NONE {
            self.next.push(Reverse(self.shape.rank[to]));
        }
        pending.check = pending.check.saturating_add(repeats.check);
        pending.explain = pending.explain.saturating_add(repeats.explain);
    }

    /// Visits `value` with the subschemas reaching it so far.
    fn visit(&mut self, value: &Value) -> Result<(), ()> {
        self.work.values += 1;
        let shape = self.shape;
        let start = self.applied.len();
        while let Some(Reverse(rank)) = self.next.pop() {
            let id = shape.by_rank[rank as usize];
            let repeats = std::mem::replace(&mut self.pending[id], NONE);
            let node = &shape.nodes[id];
            // Linear-time regexes: one step per byte, and a step is far
            // cheaper than a subschema check.
            let regex_steps = match value {
                Value::String(text) if node.pattern => text.len() as u64 / 64,
                _ => 0,
            };
            self.charge(repeats, 1 + regex_steps)?;
            for edge in &node.in_place {
                let next = Repeats {
                    check: repeats.check.saturating_mul(edge.check),
                    explain: repeats.explain.saturating_mul(edge.explain),
                };
                self.reach(edge.to, next);
            }
            self.applied.push((id, repeats));
        }
        let result = self.visit_members(value, start);
        self.applied.truncate(start);
        result
    }

    fn visit_members(&mut self, value: &Value, start: usize) -> Result<(), ()> {
        let shape = self.shape;
        match value {
            Value::Object(members) => {
                for (name, member) in members {
                    // Names first: what reaches the member waits in `next`.
                    for i in start..self.applied.len() {
                        let (id, repeats) = self.applied[i];
                        let names = &shape.nodes[id].names;
                        if !names.is_empty() {
                            for &to in names {
                                self.reach(to, repeats);
                            }
                            self.visit(&Value::String(name.clone()))?;
                        }
                    }
                    for i in start..self.applied.len() {
                        let (id, repeats) = self.applied[i];
                        let node = &shape.nodes[id];
                        if node.properties.is_empty()
                            && node.members.is_empty()
                            && node.names.is_empty()
                            && node.pattern_properties == 0
                        {
                            continue;
                        }
                        self.charge(repeats, 1 + node.pattern_properties)?;
                        let named = node
                            .properties
                            .binary_search_by(|(property, _)| property.as_str().cmp(name))
                            .ok()
                            .map(|i| node.properties[i].1);
                        for to in named.into_iter().chain(node.members.iter().copied()) {
                            self.reach(to, repeats);
                        }
                    }
                    if !self.next.is_empty() {
                        self.visit(member)?;
                    }
                }
            }
            Value::Array(items) => {
                for item in items {
                    for i in start..self.applied.len() {
                        let (id, repeats) = self.applied[i];
                        for &to in &shape.nodes[id].items {
                            self.reach(to, repeats);
                        }
                    }
                    if self.next.is_empty() {
                        break;
                    }
                    self.visit(item)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}
