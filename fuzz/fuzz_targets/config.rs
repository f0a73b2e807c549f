//! `toolhost.toml` as `Config::load` reads it: parsing and checking must
//! not panic, and a file that loads keeps the invariants the checks promise
//! for every group's effective policy.
//!
//! Seed the corpus with real files for a faster start, e.g.
//! `mkdir -p corpus/config && cp path/to/toolhost.toml corpus/config/`.

#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use toolhost::config::{Config, LimitOverrides};

/// `Config::load` reads a file; one per fuzzing process, rewritten per input.
static FILE: LazyLock<PathBuf> = LazyLock::new(|| {
    std::env::temp_dir().join(format!("toolhost-fuzz-config-{}.toml", std::process::id()))
});

fuzz_target!(|text: &str| {
    // Most inputs are not TOML for a `Config`; skip the file for those.
    if toml::from_str::<Config>(text).is_err() {
        return;
    }
    std::fs::write(&*FILE, text).expect("write the config file");
    let Ok(config) = Config::load(&FILE) else {
        return;
    };
    assert!(config.server.max_concurrent_calls >= 1);
    assert!(config.server.page_size >= 1);
    assert!(config.server.default_group_calls() >= 1);
    let _ = config.server.memory_budget();
    let max_memory = config.max_memory(&LimitOverrides::default());
    let max_stack = config.max_stack();
    let names = config.groups.keys().map(String::as_str).chain(["unnamed"]);
    for name in names {
        let policy = config.policy(name, &LimitOverrides::default());
        let limits = policy.limits;
        assert!(limits.fuel >= 1, "{name}: {text}");
        assert!(!limits.timeout.is_zero(), "{name}: {text}");
        assert!(limits.memory >= 64 * 1024, "{name}: {text}");
        assert!(
            (16 * 1024..=64 << 20).contains(&limits.stack),
            "{name}: {text}"
        );
        assert!(limits.memory <= max_memory, "{name}: {text}");
        assert!(limits.stack <= max_stack, "{name}: {text}");
        assert!(policy.max_concurrent_calls >= 1, "{name}: {text}");
        assert!(
            policy.dirs.iter().all(|d| d.guest.starts_with('/')),
            "{name}: {text}"
        );
    }
});
