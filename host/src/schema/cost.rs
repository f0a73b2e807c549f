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

use std::collections::BTreeMap;

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
    };
    let start = BTreeMap::from([(
        shape.rank[0],
        (
            0,
            Repeats {
                check: 1,
                explain: 1,
            },
        ),
    )]);
    match walk.visit(instance, start) {
        Ok(()) => Ok(walk.work),
        Err(()) => Err(walk.work),
    }
}

#[derive(Clone, Copy)]
struct Repeats {
    check: u64,
    explain: u64,
}

impl Repeats {
    fn add(&mut self, other: Repeats) {
        self.check = self.check.saturating_add(other.check);
        self.explain = self.explain.saturating_add(other.explain);
    }
}

/// Subschemas reaching one value, keyed by rank so that a subschema is
/// taken only after every subschema that applies it to the same value.
type Reaching = BTreeMap<u32, (usize, Repeats)>;

struct Walk<'s> {
    shape: &'s Shape,
    budget: u64,
    work: Work,
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

    fn visit(&mut self, value: &Value, mut reaching: Reaching) -> Result<(), ()> {
        self.work.values += 1;
        let nodes = &self.shape.nodes;
        let mut applied = Vec::new();
        while let Some((_, (id, repeats))) = reaching.pop_first() {
            let node = &nodes[id];
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
                reaching
                    .entry(self.shape.rank[edge.to])
                    .or_insert((
                        edge.to,
                        Repeats {
                            check: 0,
                            explain: 0,
                        },
                    ))
                    .1
                    .add(next);
            }
            applied.push((id, repeats));
        }
        match value {
            Value::Object(members) => {
                for (name, member) in members {
                    let mut below = Reaching::new();
                    for &(id, repeats) in &applied {
                        let node = &nodes[id];
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
                            self.reach(&mut below, to, repeats);
                        }
                        if !node.names.is_empty() {
                            let mut names = Reaching::new();
                            for &to in &node.names {
                                self.reach(&mut names, to, repeats);
                            }
                            self.visit(&Value::String(name.clone()), names)?;
                        }
                    }
                    if !below.is_empty() {
                        self.visit(member, below)?;
                    }
                }
            }
            Value::Array(items) => {
                for item in items {
                    let mut below = Reaching::new();
                    for &(id, repeats) in &applied {
                        for &to in &nodes[id].items {
                            self.reach(&mut below, to, repeats);
                        }
                    }
                    if below.is_empty() {
                        break;
                    }
                    self.visit(item, below)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn reach(&self, reaching: &mut Reaching, to: usize, repeats: Repeats) {
        reaching
            .entry(self.shape.rank[to])
            .or_insert((
                to,
                Repeats {
                    check: 0,
                    explain: 0,
                },
            ))
            .1
            .add(repeats);
    }
}
