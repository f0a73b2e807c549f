//! Bounded fuzzing (proptest) of `toolhost.toml`: whatever text an operator
//! (or a typo) puts in the file, reading it either fails with a message or
//! yields a configuration whose policies keep the checked invariants, and
//! nothing on the way panics.
//!
//! The text is generated from the file's own sections, keys and value
//! shapes (sizes, durations, numbers at the edges) mixed with arbitrary
//! text, so that most cases get past TOML syntax and reach `serde` and
//! [`Config::load`]'s checks. The number of cases is bounded so that
//! `cargo test` runs this in a few seconds; `PROPTEST_CASES=100000 cargo test
//! -p toolhost --lib fuzz` runs more, and `fuzz/` has the same target for
//! cargo-fuzz.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use proptest::prelude::*;

use crate::config::{ByteSize, Config, HumanDuration, LimitOverrides, format_duration};

/// `PROPTEST_CASES` when set, else `default`: proptest's `with_cases`
/// would ignore the variable.
pub(crate) fn cases(default: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = default;
    }
    config
}

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// What a key holds, so that most generated values have the right type and
/// reach the checks after parsing.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Size,
    Span,
    Count,
    Rate,
    Flag,
    Text,
    Texts,
    Address,
    Dirs,
    Tools,
    Table,
    Instances,
}

use Shape::*;

const GROUP_KEYS: &[(&str, Shape)] = &[
    ("fuel", Count),
    ("timeout", Span),
    ("memory", Size),
    ("stack", Size),
    ("max_output", Size),
    ("instances", Instances),
    ("max_concurrent_calls", Count),
    ("namespace", Text),
    ("env", Texts),
    ("dirs", Dirs),
    ("tools", Tools),
    ("config", Table),
];

/// Every section of the file with the keys it knows (and a typo or two).
const SECTIONS: &[(&str, &[(&str, Shape)])] = &[
    (
        "server",
        &[
            ("separator", Text),
            ("max_concurrent_calls", Count),
            ("strict_names", Flag),
            ("page_size", Count),
            ("memory_budget", Size),
            ("max_component_size", Size),
            ("compile_timeout", Span),
            ("compile_memory", Size),
            ("load_wait", Span),
        ],
    ),
    ("defaults", GROUP_KEYS),
    ("groups.math", GROUP_KEYS),
    ("groups.\"odd name\"", GROUP_KEYS),
    (
        "groups.math.tools",
        &[("enable", Texts), ("disable", Texts)],
    ),
    ("cache", &[("enabled", Flag), ("dir", Text)]),
    (
        "http",
        &[
            ("listen", Address),
            ("allowed_hosts", Texts),
            ("allowed_origins", Texts),
            ("max_body", Size),
            ("shutdown_grace", Span),
        ],
    ),
    ("http.rate_limit", &[("per_second", Rate), ("burst", Count)]),
    (
        "http.address_limit",
        &[("per_second", Rate), ("burst", Count)],
    ),
    (
        "http.auth",
        &[
            ("tokens_file", Text),
            ("tokens_env", Text),
            ("resource", Text),
            ("authorization_servers", Texts),
        ],
    ),
    (
        "http.auth.jwt",
        &[
            ("issuer", Text),
            ("audience", Text),
            ("hs256_secret_env", Text),
            ("hs256_secret_file", Text),
            ("public_key", Text),
            ("jwks", Text),
            ("leeway", Span),
        ],
    ),
    ("http.auth.scopes", &[("math", Texts), ("other", Texts)]),
    (
        "upstreams.everything",
        &[
            ("command", Text),
            ("args", Texts),
            ("url", Text),
            ("env", Texts),
            ("namespace", Text),
            ("tools", Tools),
            ("timeout", Span),
            ("max_concurrent_calls", Count),
            ("breaker_failures", Count),
            ("breaker_open", Span),
        ],
    ),
    ("upstreams.everything.headers", &[("Authorization", Text)]),
    ("nonsense", &[("fuell", Count)]),
];

/// A TOML string literal of `text`, escaped the way `toml` writes it.
fn quoted(text: String) -> String {
    toml::Value::String(text).to_string()
}

/// Text that looks like a size or a duration, or almost.
fn size_or_duration() -> impl Strategy<Value = String> {
    "[ -]{0,1}[0-9]{0,22}(\\.[0-9]{0,4}){0,1}[ ]{0,1}(ms|s|m|min|h|d|B|K|k|M|G|KiB|MiB|GiB|KB|kB|MB|GB|TiB|e9){0,1}"
}

/// Short text, mostly from the names and paths configurations hold.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => prop::sample::select(&[
            "", "_", "-", ".", "__", "math", "add", "math_*", "/data", "data", "/tmp", "HOME",
            "KEY=VALUE", "=x", "\0", "*", "localhost", "http://localhost:*", "null",
            "https://tools.example.com/mcp",
        ][..])
        .prop_map(str::to_owned),
        1 => "\\PC{0,16}",
    ]
    .boxed()
}

/// Some value of `shape`: usually one of its type, at its edges, sometimes
/// one of another type.
fn value_of(shape: Shape) -> BoxedStrategy<String> {
    let count = prop_oneof![
        Just(0u64),
        Just(1),
        0u64..100_000,
        Just(u64::from(u32::MAX)),
        Just(u64::from(u32::MAX) + 1),
        Just(i64::MAX as u64),
    ]
    .prop_map(|n| n.to_string());
    let typed = match shape {
        Size => prop_oneof![
            3 => size_or_duration().prop_map(quoted),
            1 => prop::sample::select(&["\"0\"", "\"1KiB\"", "\"64KiB\"", "\"16KiB\"",
                "\"64MiB\"", "\"65MiB\"", "\"1GiB\"", "\"17179869184GiB\""][..])
                .prop_map(str::to_owned),
            1 => count.clone(),
        ]
        .boxed(),
        Span => prop_oneof![
            3 => size_or_duration().prop_map(quoted),
            1 => prop::sample::select(&["\"0s\"", "\"0.0000000001s\"", "\"1ns\"", "\"500ms\"",
                "\"1e400s\"", "\"99999999999999999999h\"", "\".s\"", "\"-1s\""][..])
                .prop_map(str::to_owned),
        ]
        .boxed(),
        Count => count.clone().boxed(),
        Rate => prop_oneof![
            Just("nan".to_owned()),
            Just("inf".to_owned()),
            Just("-inf".to_owned()),
            Just("-0.0".to_owned()),
            Just("0.0".to_owned()),
            Just("1e-300".to_owned()),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| format!("{f:e}")),
            (0u32..10_000).prop_map(|n| format!("{n}.5")),
        ]
        .boxed(),
        Flag => any::<bool>().prop_map(|b| b.to_string()).boxed(),
        Text => text().prop_map(quoted).boxed(),
        Texts => prop::collection::vec(text().prop_map(quoted), 0..4)
            .prop_map(|items| format!("[{}]", items.join(", ")))
            .boxed(),
        Address => prop::sample::select(
            &[
                "127.0.0.1:0",
                "[::1]:8080",
                "0.0.0.0:65535",
                "localhost:1",
                ":80",
            ][..],
        )
        .prop_map(|s| quoted(s.to_owned()))
        .boxed(),
        Dirs => prop::collection::vec(
            (
                text(),
                text(),
                prop::sample::select(&["ro", "rw", "RW", "wo"][..]),
                any::<bool>(),
            ),
            0..3,
        )
        .prop_map(|dirs| {
            let dirs: Vec<String> = dirs
                .into_iter()
                .map(|(host, guest, mode, with_mode)| {
                    let mode = if with_mode {
                        format!(", mode = {}", quoted(mode.to_owned()))
                    } else {
                        String::new()
                    };
                    format!(
                        "{{ host = {}, guest = {}{mode} }}",
                        quoted(host),
                        quoted(guest)
                    )
                })
                .collect();
            format!("[{}]", dirs.join(", "))
        })
        .boxed(),
        Tools => (value_of(Texts), value_of(Texts))
            .prop_map(|(enable, disable)| format!("{{ enable = {enable}, disable = {disable} }}"))
            .boxed(),
        Table => prop::collection::vec((text(), text()), 0..3)
            .prop_map(|pairs| {
                let pairs: Vec<String> = pairs
                    .into_iter()
                    .map(|(k, v)| format!("{} = {}", quoted(k), quoted(v)))
                    .collect();
                format!("{{ {} }}", pairs.join(", "))
            })
            .boxed(),
        Instances => prop::sample::select(&["per-call", "reuse", "sometimes", "PerCall"][..])
            .prop_map(|s| quoted(s.to_owned()))
            .boxed(),
    };
    let other = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        "\\PC{0,16}".prop_map(quoted),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
    ];
    prop_oneof![12 => typed, 1 => other].boxed()
}

/// One `key = value` line of a section, or a line of noise.
fn line(keys: &'static [(&'static str, Shape)]) -> impl Strategy<Value = String> {
    let entry = prop::sample::select(keys)
        .prop_flat_map(|(key, shape)| value_of(shape).prop_map(move |v| format!("{key} = {v}")));
    prop_oneof![
        20 => entry,
        1 => "\\PC{0,24}",
        1 => "[ a-z_.=\"\\[\\]{},0-9#]{0,24}",
    ]
}

/// A configuration file: some sections in some order, each with a few
/// lines, or arbitrary text.
fn config_text() -> impl Strategy<Value = String> {
    let section = prop::sample::select(SECTIONS).prop_flat_map(|(name, keys)| {
        prop::collection::vec(line(keys), 0..4)
            .prop_map(move |lines| format!("[{name}]\n{}\n", lines.join("\n")))
    });
    prop_oneof![
        12 => prop::collection::vec(section, 0..4).prop_map(|sections| sections.concat()),
        1 => "\\PC{0,200}",
    ]
}

/// A file of its own per case, removed when dropped.
struct ConfigFile(PathBuf);

impl ConfigFile {
    fn new(text: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "toolhost-config-fuzz-{}-{}.toml",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, text).expect("write a temporary config file");
        Self(path)
    }
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// What `Config::load` promises of every file it accepts.
fn assert_checked(config: &Config, text: &str) -> Result<(), TestCaseError> {
    prop_assert!(config.server.max_concurrent_calls >= 1, "{text}");
    prop_assert!(config.server.page_size >= 1, "{text}");
    prop_assert!(!config.server.separator.is_empty(), "{text}");
    prop_assert!(config.http.max_body.0 >= 1, "{text}");
    prop_assert!(config.server.default_group_calls() >= 1, "{text}");
    let _ = config.server.memory_budget();
    let max_memory = config.max_memory(&LimitOverrides::default());
    let max_stack = config.max_stack();
    let names = config
        .groups
        .keys()
        .map(String::as_str)
        .chain(["a group without a section"]);
    for name in names {
        let policy = config.policy(name, &LimitOverrides::default());
        let limits = policy.limits;
        prop_assert!(limits.fuel >= 1, "{name} in {text}");
        prop_assert!(!limits.timeout.is_zero(), "{name} in {text}");
        prop_assert!(limits.memory >= 64 * KIB, "{name} in {text}");
        prop_assert!(
            (16 * KIB..=64 * MIB).contains(&limits.stack),
            "{name} in {text}"
        );
        prop_assert!(limits.memory <= max_memory, "{name} in {text}");
        prop_assert!(limits.stack <= max_stack, "{name} in {text}");
        prop_assert!(policy.max_concurrent_calls >= 1, "{name} in {text}");
        for dir in &policy.dirs {
            prop_assert!(dir.guest.starts_with('/'), "{name} in {text}");
        }
    }
    for (name, upstream) in &config.upstreams {
        prop_assert!(
            upstream.command.is_some() != upstream.url.is_some(),
            "{name} in {text}"
        );
        let policy = config.upstream_policy(name, upstream);
        prop_assert!(!policy.limits.timeout.is_zero(), "{name} in {text}");
        prop_assert!(policy.max_concurrent_calls >= 1, "{name} in {text}");
        prop_assert!(
            policy.env.is_empty() && policy.http.is_empty(),
            "{name} in {text}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases(2048))]

    #[test]
    fn any_config_text_loads_or_fails_without_panicking(text in config_text()) {
        // `Config::load` is the only way in, so each case is a file.
        let parsed = toml::from_str::<Config>(&text);
        let file = ConfigFile::new(&text);
        match Config::load(&file.0) {
            Ok(config) => {
                prop_assert!(parsed.is_ok(), "load accepted what toml refused: {text}");
                assert_checked(&config, &text)?;
            }
            Err(e) => {
                // The message names the file, so the reader knows where to look.
                let message = format!("{e:#}");
                prop_assert!(message.contains("toolhost-config-fuzz"), "{message}");
            }
        }
    }

    #[test]
    fn sizes_and_durations_parse_or_fail_without_panicking(text in prop_oneof![
        size_or_duration(),
        "\\PC{0,32}",
    ]) {
        if let Ok(size) = text.parse::<ByteSize>() {
            let _ = size.to_string();
        }
        if let Ok(duration) = text.parse::<HumanDuration>() {
            let _ = format_duration(duration.0);
        }
    }

    #[test]
    fn a_written_duration_reads_back_as_itself(millis in prop_oneof![
        0u64..10_000,
        any::<u32>().prop_map(u64::from),
        (0u64..1_000_000).prop_map(|s| s * 1000),
    ]) {
        let duration = Duration::from_millis(millis);
        let written = format_duration(duration);
        let read = written.parse::<HumanDuration>().map_err(TestCaseError::fail)?;
        prop_assert_eq!(read.0, duration, "written as {}", written);
    }
}
