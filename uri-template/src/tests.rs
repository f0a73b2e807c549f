//! Bounded fuzzing (proptest) of parsing, matching and expansion, and the
//! templates that made the old backtracking matcher hang.
//!
//! For coverage-guided fuzzing over a longer time see `uri-template/fuzz`.

use proptest::prelude::*;

use crate::encoding::percent_decode;
use crate::matching::match_parts;
use crate::{MAX_URI_LEN, Part, UriTemplate};

/// Match `uri`, checking the documented step bound on the way.
fn matches_within_bound(template: &UriTemplate, uri: &str) -> Option<Vec<(String, String)>> {
    let mut steps = 0;
    let values = match_parts(&template.parts, uri, &mut steps);
    let bound = 2 * (template.as_str().len() as u64 + 1) * (uri.len() as u64 + 1);
    assert!(
        steps <= bound,
        "`{template}` against a URI of {} bytes took {steps} steps, over the bound {bound}",
        uri.len()
    );
    values
}

/// The matcher toolhost-sdk had before this crate: backtracking, the
/// longest value first. Exponential on some templates, so only run on
/// short inputs, as the reference for which match is chosen.
fn backtracking(parts: &[Part], uri: &str, values: &mut Vec<(String, String)>) -> bool {
    let Some((first, others)) = parts.split_first() else {
        return uri.is_empty();
    };
    match first {
        Part::Literal(text) => uri
            .strip_prefix(text.as_str())
            .is_some_and(|rest| backtracking(others, rest, values)),
        Part::Variable { name, reserved } => {
            let limit = if *reserved {
                uri.len()
            } else {
                uri.find(['/', '?', '#']).unwrap_or(uri.len())
            };
            for end in (1..=limit).rev().filter(|end| uri.is_char_boundary(*end)) {
                let value = if *reserved {
                    uri[..end].to_owned()
                } else {
                    percent_decode(&uri[..end], &mut 0)
                };
                values.push((name.clone(), value));
                if backtracking(others, &uri[end..], values) {
                    return true;
                }
                values.pop();
            }
            false
        }
    }
}

/// Templates that parse: literals from a small alphabet (so that URIs made
/// from the same alphabet match them in several ways) between `{vN}` and
/// `{+vN}` expressions.
fn template_text(alphabet: &'static str, max_variables: usize) -> impl Strategy<Value = String> {
    (
        alphabet,
        prop::collection::vec((any::<bool>(), alphabet), 0..=max_variables),
    )
        .prop_map(|(head, rest)| {
            let mut text = head;
            let count = rest.len();
            for (index, (reserved, literal)) in rest.into_iter().enumerate() {
                let plus = if reserved { "+" } else { "" };
                text.push_str(&format!("{{{plus}v{index}}}"));
                // Two expressions need literal text between them.
                if literal.is_empty() && index + 1 < count {
                    text.push('-');
                }
                text.push_str(&literal);
            }
            text
        })
}

/// A URI made of the template's literals with raw values between them, or
/// of random text from the same alphabet.
fn uri_for(template: &UriTemplate) -> impl Strategy<Value = String> + use<> {
    let pieces: Vec<Option<String>> = template
        .parts
        .iter()
        .map(|part| match part {
            Part::Literal(text) => Some(text.clone()),
            Part::Variable { .. } => None,
        })
        .collect();
    let values = prop::collection::vec("[ab/?%2Fé.:-]{0,5}", pieces.len());
    prop_oneof![
        values.prop_map(move |values| {
            pieces
                .iter()
                .zip(values)
                .map(|(piece, value)| piece.clone().unwrap_or(value))
                .collect()
        }),
        "[ab/?%2Fé.:-]{0,40}".prop_map(String::from),
    ]
}

fn parsed(text: String) -> UriTemplate {
    UriTemplate::parse(&text).unwrap_or_else(|err| panic!("the generator made {err}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_templates_parse_or_fail_without_panicking(
        text in prop_oneof![any::<String>(), "[a-z{}+/?#%.:,*é]{0,40}"],
        uri in "[a-z{}+/?#%.:,*é]{0,40}",
    ) {
        match UriTemplate::parse(&text) {
            Ok(template) => {
                prop_assert_eq!(template.as_str(), text.as_str());
                prop_assert!(template.variables().count() <= crate::MAX_VARIABLES);
                matches_within_bound(&template, &uri);
            }
            Err(err) => prop_assert!(err.offset() <= text.len(), "{}", err),
        }
    }

    #[test]
    fn matching_agrees_with_the_backtracking_matcher(
        (template, uri) in template_text("[ab/.:-]{0,3}", 4)
            .prop_map(parsed)
            .prop_flat_map(|template| {
                let uri = uri_for(&template);
                (Just(template), uri)
            })
    ) {
        let mut expected = Vec::new();
        let expected = backtracking(&template.parts, &uri, &mut expected).then_some(expected);
        prop_assert_eq!(matches_within_bound(&template, &uri), expected);
    }

    #[test]
    fn long_uris_match_within_the_step_bound(
        (template, uri) in template_text("[ab/.:-]{1,6}", 12)
            .prop_map(parsed)
            .prop_flat_map(|template| {
                let uri = uri_for(&template);
                (Just(template), prop::collection::vec(uri, 1..40))
            })
            .prop_map(|(template, uris)| (template, uris.concat()))
    ) {
        matches_within_bound(&template, &uri);
    }

    #[test]
    fn expansions_match_back(
        text in template_text("[a-z/.:?-]{1,4}", 6),
        values in prop::collection::vec(any::<String>().prop_filter("values are non-empty", |v| !v.is_empty()), 6),
    ) {
        let template = parsed(text);
        let names: Vec<String> = template.variables().map(String::from).collect();
        let values: Vec<(&str, &str)> = names
            .iter()
            .zip(&values)
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        let uri = template.expand(&values);
        prop_assume!(uri.len() <= MAX_URI_LEN);
        let captures = matches_within_bound(&template, &uri);
        prop_assert!(captures.is_some(), "`{}` does not match its expansion `{}`", template, uri);
    }

    #[test]
    fn segment_values_come_back_as_they_were_expanded(
        literals in prop::collection::vec("/[a-z.:-]{0,3}", 1..6),
        values in prop::collection::vec(any::<String>().prop_filter("values are non-empty", |v| !v.is_empty()), 6),
    ) {
        // Each `{name}` ends where a `/` starts the next literal, so
        // there is one way to match and the values must come back whole.
        let text: String = literals
            .iter()
            .enumerate()
            .map(|(index, literal)| format!("{{v{index}}}{literal}"))
            .collect();
        let template = parsed(format!("x://{text}"));
        let names: Vec<String> = template.variables().map(String::from).collect();
        let values: Vec<(&str, &str)> = names
            .iter()
            .zip(&values)
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        let uri = template.expand(&values);
        prop_assume!(uri.len() <= MAX_URI_LEN);
        let captures = matches_within_bound(&template, &uri).unwrap();
        let captures: Vec<(&str, &str)> = captures
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        prop_assert_eq!(captures, values);
    }
}

/// Six reserved variables separated by `/` and a final literal that is
/// missing: a backtracking matcher tries every way to place five `/` among
/// thousands, and never finished on a 1 KB URI.
#[test]
fn the_six_reserved_variables_template_matches_a_long_uri_in_one_pass() {
    let template = UriTemplate::parse("t://{+a}/{+b}/{+c}/{+d}/{+e}/{+f}!").unwrap();
    let segments = "x/".repeat((MAX_URI_LEN - "t://".len()) / 2);
    let missing = format!("t://{}", &segments[..segments.len() - 1]);
    assert_eq!(missing.len(), MAX_URI_LEN - 1);
    assert_eq!(matches_within_bound(&template, &missing), None);

    let found = format!("{missing}!");
    let captures = template.matches(&found).unwrap();
    // From the left, each variable takes as much as still lets the rest match.
    assert_eq!(
        captures.get("a").unwrap().len(),
        found.len() - "t://".len() - 11
    );
    assert_eq!(captures.get("f"), Some("x"));
    assert_eq!(matches_within_bound(&template, &found).unwrap().len(), 6);
}

#[test]
fn simple_variables_and_many_slashes_match_in_one_pass() {
    let template = UriTemplate::parse("t://{a}/{+b}/{c}/{+d}/{e}").unwrap();
    let uri = format!("t://{}", "/".repeat(MAX_URI_LEN - 4));
    assert_eq!(matches_within_bound(&template, &uri), None);
    let segments = "a/".repeat((MAX_URI_LEN - 4) / 2);
    let uri = format!("t://{}", &segments[..segments.len() - 1]);
    assert!(matches_within_bound(&template, &uri).is_some());
}

/// A 1 MB URI once kept the host busy for seconds; it is refused outright.
#[test]
fn a_megabyte_uri_is_refused_without_matching() {
    let template = UriTemplate::parse("file:///{+path}").unwrap();
    let uri = format!("file:///{}", "a/".repeat(512 * 1024));
    let mut steps = 0;
    assert_eq!(match_parts(&template.parts, &uri, &mut steps), None);
    assert_eq!(steps, 0);
}

#[test]
fn expansion_encodes_what_matching_decodes() {
    let template = UriTemplate::parse("n://{folder}/{+path}").unwrap();
    let uri = template.expand(&[("folder", "a b/c"), ("path", "x/y z")]);
    assert_eq!(uri, "n://a%20b%2Fc/x/y%20z");
    let captures = template.matches(&uri).unwrap();
    assert_eq!(captures.get("folder"), Some("a b/c"));
    assert_eq!(captures.get("path"), Some("x/y%20z"));
}
