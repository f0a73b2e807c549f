//! Matching a URI against a template's parts without backtracking.
//!
//! A table says, for every part `i` and URI position `p`, whether
//! `parts[i..]` can match `uri[p..]`. It is filled from the last part to
//! the first, each row from the row after it in one pass over the URI. Then
//! one walk forward picks, for each variable, the longest value after which
//! the table says the rest matches: the same values a backtracking matcher
//! trying the longest value first would find, in linear time.
//!
//! `steps` counts the work: one per table cell, per literal byte compared
//! and per URI byte scanned or decoded. With `u` = `len(uri) + 1`, a literal
//! of `L` bytes costs at most `(L + 1) × u` (a row, and a comparison where
//! the row after allows one), a variable at most `3 × u` (a row, then its
//! segment scanned forward and its end searched backward), and decoding at
//! most `u` in all. There are at most `v + 1` literals for `v` variables,
//! and each variable takes at least three template bytes, so a template of
//! `t` bytes costs at most `(t + v + 2) × u ≤ 2 × (t + 1) × u` steps; the
//! tests check that bound.

use crate::encoding::percent_decode;
use crate::{MAX_URI_LEN, Part};

/// The variables' values when `uri` matches `parts`, in order.
pub(crate) fn match_parts(
    parts: &[Part],
    uri: &str,
    steps: &mut u64,
) -> Option<Vec<(String, String)>> {
    if uri.len() > MAX_URI_LEN {
        return None;
    }
    let table = fill_table(parts, uri, steps);
    if !table[0].contains(0) {
        return None;
    }
    let bytes = uri.as_bytes();
    let mut values = Vec::new();
    let mut at = 0;
    for (index, part) in parts.iter().enumerate() {
        match part {
            Part::Literal(text) => at += text.len(),
            Part::Variable { name, reserved } => {
                let limit = if *reserved {
                    uri.len()
                } else {
                    let segment = bytes[at..].iter().position(|&b| ends_segment(b));
                    *steps += segment.map_or(uri.len() - at, |len| len + 1) as u64;
                    segment.map_or(uri.len(), |len| at + len)
                };
                let rest = &table[index + 1];
                let mut end = limit;
                while !(rest.contains(end) && uri.is_char_boundary(end)) {
                    *steps += 1;
                    end -= 1;
                }
                debug_assert!(end > at, "the table promised a non-empty value");
                let value = &uri[at..end];
                let value = if *reserved {
                    value.to_owned()
                } else {
                    percent_decode(value, steps)
                };
                values.push((name.clone(), value));
                at = end;
            }
        }
    }
    debug_assert_eq!(at, uri.len());
    Some(values)
}

/// Row `i` holds the positions `p` where `parts[i..]` matches `uri[p..]`.
fn fill_table(parts: &[Part], uri: &str, steps: &mut u64) -> Vec<Positions> {
    let bytes = uri.as_bytes();
    let end = uri.len();
    let mut table = vec![Positions::new(end); parts.len() + 1];
    table[parts.len()].insert(end);
    for (index, part) in parts.iter().enumerate().rev() {
        let (rows, after) = table.split_at_mut(index + 1);
        let (row, rest) = (&mut rows[index], &after[0]);
        match part {
            Part::Literal(text) => {
                let text = text.as_bytes();
                for at in 0..=end.saturating_sub(text.len()) {
                    *steps += 1;
                    if rest.contains(at + text.len()) {
                        *steps += text.len() as u64;
                        if &bytes[at..at + text.len()] == text {
                            row.insert(at);
                        }
                    }
                }
            }
            Part::Variable { reserved, .. } => {
                // From the end backwards: the nearest end of a value after
                // which the rest matches, and where the segment stops.
                let mut nearest_end = usize::MAX;
                let mut segment_end = end;
                for at in (0..end).rev() {
                    *steps += 1;
                    if rest.contains(at + 1) && uri.is_char_boundary(at + 1) {
                        nearest_end = at + 1;
                    }
                    if !reserved && ends_segment(bytes[at]) {
                        segment_end = at;
                    }
                    if nearest_end <= segment_end {
                        row.insert(at);
                    }
                }
            }
        }
    }
    table
}

/// Bytes a `{name}` value stops before.
fn ends_segment(byte: u8) -> bool {
    matches!(byte, b'/' | b'?' | b'#')
}

/// A set of positions `0..=len` in a URI.
#[derive(Clone)]
struct Positions(Vec<u64>);

impl Positions {
    fn new(len: usize) -> Self {
        Positions(vec![0; len / 64 + 1])
    }

    fn insert(&mut self, at: usize) {
        self.0[at / 64] |= 1 << (at % 64);
    }

    fn contains(&self, at: usize) -> bool {
        self.0
            .get(at / 64)
            .is_some_and(|word| word & (1 << (at % 64)) != 0)
    }
}

#[cfg(test)]
mod tests {
    use crate::{MAX_URI_LEN, UriTemplate};

    fn captures(template: &str, uri: &str) -> Option<Vec<(String, String)>> {
        let template = UriTemplate::parse(template).unwrap();
        template.matches(uri).map(|captures| {
            captures
                .iter()
                .map(|(key, value)| (key.to_owned(), value.to_owned()))
                .collect()
        })
    }

    fn pairs(pairs: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        Some(
            pairs
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect(),
        )
    }

    #[test]
    fn a_simple_variable_is_one_path_segment() {
        let template = "test://template/{id}/data";
        assert_eq!(
            captures(template, "test://template/123/data"),
            pairs(&[("id", "123")])
        );
        assert_eq!(captures(template, "test://template/1/2/data"), None);
        assert_eq!(captures(template, "test://template//data"), None);
        assert_eq!(captures(template, "test://template/123/data/"), None);
        assert_eq!(captures(template, "test://other/123/data"), None);
        assert_eq!(captures("a://{x}", "a://b?c"), None);
        assert_eq!(captures("a://{x}", "a://b#c"), None);
        assert_eq!(captures("a://{x}?q", "a://b?q"), pairs(&[("x", "b")]));
    }

    #[test]
    fn a_reserved_variable_takes_the_rest_with_slashes() {
        assert_eq!(
            captures("file:///{+path}", "file:///a/b/c.txt"),
            pairs(&[("path", "a/b/c.txt")])
        );
        assert_eq!(
            captures("repo://{owner}/{+path}/raw", "repo://me/src/lib.rs/raw"),
            pairs(&[("owner", "me"), ("path", "src/lib.rs")])
        );
        assert_eq!(captures("file:///{+path}", "file:///"), None);
    }

    #[test]
    fn each_variable_from_the_left_takes_the_longest_value_that_fits() {
        assert_eq!(
            captures("x://{+a}/end", "x://1/end/2/end"),
            pairs(&[("a", "1/end/2")])
        );
        assert_eq!(
            captures("x://{+a}/{+b}", "x://1/2/3"),
            pairs(&[("a", "1/2"), ("b", "3")])
        );
        assert_eq!(
            captures("x://{a}.{b}", "x://1.2.3"),
            pairs(&[("a", "1.2"), ("b", "3")])
        );
        assert_eq!(
            captures("x://{+a}-{b}-{+c}", "x://1-2-3-4/5-6"),
            pairs(&[("a", "1-2"), ("b", "3"), ("c", "4/5-6")])
        );
    }

    #[test]
    fn simple_values_are_percent_decoded_and_reserved_ones_are_not() {
        assert_eq!(
            captures("n://{name}", "n://caf%C3%A9%20au%20lait"),
            pairs(&[("name", "café au lait")])
        );
        assert_eq!(
            captures("n://{name}", "n://100%"),
            pairs(&[("name", "100%")])
        );
        assert_eq!(
            captures("n://{+name}", "n://a%2Fb"),
            pairs(&[("name", "a%2Fb")])
        );
    }

    #[test]
    fn templates_without_variables_match_exactly() {
        assert_eq!(captures("test://static", "test://static"), pairs(&[]));
        assert_eq!(captures("test://static", "test://static2"), None);
        assert_eq!(captures("test://static", "test://stati"), None);
        assert_eq!(captures("", ""), pairs(&[]));
        assert_eq!(captures("", "x"), None);
    }

    #[test]
    fn multibyte_characters_are_matched_whole() {
        assert_eq!(captures("n://{a}é", "n://ééé"), pairs(&[("a", "éé")]));
        assert_eq!(captures("n://{+a}", "n://é"), pairs(&[("a", "é")]));
    }

    #[test]
    fn uris_longer_than_the_limit_match_nothing() {
        let at_limit = format!("f:///{}", "a".repeat(MAX_URI_LEN - 5));
        assert_eq!(at_limit.len(), MAX_URI_LEN);
        assert!(captures("f:///{+path}", &at_limit).is_some());
        assert_eq!(captures("f:///{+path}", &format!("{at_limit}a")), None);
    }
}
