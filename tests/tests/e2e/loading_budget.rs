//! Loading is budgeted (issue 10): a component over the size cap, a compile
//! over the time limit and a `describe` that never ends are refused with a
//! message naming the limit, and none of them delays any other group: the
//! others are listed, answer calls and reload while the slow one still runs.

use std::time::{Duration, Instant};

use toolhost_tests::live::{Live, publish, versioned};
use toolhost_tests::{PluginDir, SLOW_DESCRIBE};

/// A component holding one core function that takes cranelift tens of
/// seconds to compile (and little memory): `values` products of the
/// argument, all live at once, then summed. Register allocation of that
/// grows with the square of `values`.
fn slow_to_compile(values: u32) -> Vec<u8> {
    fn leb(mut n: u64, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    fn section(id: u8, body: &[u8], out: &mut Vec<u8>) {
        out.push(id);
        leb(body.len() as u64, out);
        out.extend_from_slice(body);
    }
    let mut body = vec![0]; // no locals
    for i in 1..=values {
        body.extend_from_slice(&[0x20, 0x00, 0x41]); // local.get 0, i32.const
        // `i` as a signed LEB128 (positive, so a zero sign bit at the end).
        let mut n = i;
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 && byte & 0x40 == 0 {
                body.push(byte);
                break;
            }
            body.push(byte | 0x80);
        }
        body.push(0x6c); // i32.mul
    }
    body.extend(std::iter::repeat_n(0x6a, values as usize - 1)); // i32.add
    body.push(0x0b); // end
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    section(1, &[1, 0x60, 1, 0x7f, 1, 0x7f], &mut module); // (i32) -> i32
    section(3, &[1, 0], &mut module);
    let mut code = vec![1];
    leb(body.len() as u64, &mut code);
    code.extend_from_slice(&body);
    section(10, &code, &mut module);
    let mut component = b"\0asm\x0d\0\x01\0".to_vec();
    section(1, &module, &mut component); // a core module section
    component
}

/// `toolhost serve` on `dir` with its config file.
async fn serve(dir: &PluginDir) -> Live {
    let config = dir.config().expect("a config file");
    Live::serve(dir, &["--config", config.to_str().unwrap()]).await
}

/// Waits until `versioned_version` is listed and answers `tag`.
async fn serving_versioned(live: &Live, tag: &str) {
    live.wait_for_tools("versioned is listed", |tools| {
        tools.iter().any(|tool| tool.name == "versioned_version")
    })
    .await;
    assert_eq!(live.version("versioned_version").await, tag);
}

/// Asserts that no log notification so far contains `needle`.
fn not_yet(live: &Live, needle: &str) {
    let logs = live.logs();
    assert!(
        !logs.iter().any(|log| log.contains(needle)),
        "{needle:?} came first: {logs:?}\nstderr:\n{}",
        live.stderr()
    );
}

#[tokio::test]
async fn a_component_over_the_size_cap_is_refused_naming_the_key() {
    let dir = PluginDir::new();
    dir.set_config("[server]\nmax_component_size = \"1MiB\"\n");
    dir.write("versioned.wasm", versioned("v1"));
    let live = serve(&dir).await;
    serving_versioned(&live, "v1").await;

    let mut big = b"\0asm\x0d\0\x01\0".to_vec();
    big.resize(2 * 1024 * 1024, 0);
    publish(&dir, "big.wasm", &big);
    let message = live
        .wait_for_log("(limit: server.max_component_size)")
        .await;
    assert!(message.contains("big.wasm"), "{message}");
    assert!(
        message.contains("the file is 2MiB, over the limit of 1MiB"),
        "{message}"
    );
    assert_eq!(live.version("versioned_version").await, "v1");
}

#[tokio::test]
async fn a_compile_over_the_time_limit_is_refused_and_the_others_serve_meanwhile() {
    let dir = PluginDir::new();
    dir.set_config("[server]\ncompile_timeout = \"6s\"\nload_wait = \"1s\"\n");
    dir.write("a_slow.wasm", slow_to_compile(30_000));
    dir.write("versioned.wasm", versioned("v1"));
    let live = serve(&dir).await;
    let started = Instant::now();

    // The first list does not wait for the slow file.
    let first = live.tools().await;
    let first_listed = started.elapsed();
    let message = "took longer than 6s (limit: server.compile_timeout)";
    serving_versioned(&live, "v1").await;
    not_yet(&live, message);

    live.wait_for_log(message).await;
    assert!(
        first_listed < Duration::from_secs(6),
        "the first tools/list took {first_listed:?}: {first:?}"
    );
    let line = live.wait_for_stderr(&["a_slow.wasm", message]).await;
    assert!(line.contains("ERROR"), "{line}");
    assert_eq!(live.version("versioned_version").await, "v1");
}

#[tokio::test]
async fn a_reload_completes_while_a_slow_compile_runs() {
    let dir = PluginDir::new();
    dir.set_config("[server]\ncompile_timeout = \"30s\"\nload_wait = \"1s\"\n");
    dir.write("a_slow.wasm", slow_to_compile(30_000));
    dir.write("versioned.wasm", versioned("v1"));
    let live = serve(&dir).await;
    serving_versioned(&live, "v1").await;

    let reloading = Instant::now();
    let seen = live.changes();
    publish(&dir, "versioned.wasm", &versioned("v2"));
    live.wait_for_change(seen).await;
    assert_eq!(live.version("versioned_version").await, "v2");
    assert!(
        reloading.elapsed() < Duration::from_secs(20),
        "the reload took {:?}",
        reloading.elapsed()
    );
    not_yet(&live, "a_slow.wasm");
}

#[tokio::test]
async fn a_describe_that_sleeps_delays_no_other_group() {
    let dir = PluginDir::with(&[SLOW_DESCRIBE]);
    dir.set_config("[server]\nload_wait = \"1s\"\n\n[defaults]\ntimeout = \"5s\"\n");
    dir.write("versioned.wasm", versioned("v1"));
    let live = serve(&dir).await;

    let message = "describing the group took longer than 5s (limit: defaults.timeout or --timeout)";
    serving_versioned(&live, "v1").await;
    not_yet(&live, message);
    live.wait_for_log(message).await;
    live.wait_for_stderr(&["slow_describe.wasm", "describing the group took longer"])
        .await;
    assert!(
        live.tools()
            .await
            .iter()
            .all(|tool| !tool.name.starts_with("slow_describe")),
    );
}
