//! The input's first line is a template, the rest a URI: parsing and
//! matching must not panic, a long URI must not take long (libFuzzer's
//! `-timeout` catches that), and a match must expand back to a URI that
//! matches too.

#![no_main]

use libfuzzer_sys::fuzz_target;
use toolhost_uri_template::UriTemplate;

fuzz_target!(|input: &str| {
    let (template, uri) = input.split_once('\n').unwrap_or((input, ""));
    let Ok(template) = UriTemplate::parse(template) else {
        return;
    };
    let Some(captures) = template.matches(uri) else {
        return;
    };
    let values: Vec<(&str, &str)> = captures.iter().collect();
    assert_eq!(values.len(), template.variables().count());
    let expanded = template.expand(&values);
    assert!(
        template.matches(&expanded).is_some(),
        "`{template}` matched `{uri}` as {values:?}, but not its expansion `{expanded}`"
    );
});
