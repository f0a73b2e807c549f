//! What a call that fetches 1 KiB over HTTP costs through toolhost, against
//! the same request made directly by this process, in the same run.
//!
//! - `direct`: a fresh TCP connection, an HTTP/1.1 GET of `/kib` and its
//!   body, with hyper.
//! - `through toolhost`: the `outbound` fixture's `send` of the same URL
//!   through the host's whole in-process path: lookup, validation, a fresh
//!   instance, the grant check, resolution and address check, a fresh
//!   connection, the body through the guest, output checks.
//!
//! The two alternate call by call, so both see the same machine. Prints
//! p50 and p99 of each and their ratio (target ≤ 2×).

#[allow(
    dead_code,
    reason = "only the in-process service of the shared helpers"
)]
mod common;

use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use serde_json::json;
use toolhost::config::{Config, GroupSettings, HttpGrant};
use toolhost_tests::origin::Origin;

const ROUNDS: usize = 2000;
const WARM_UP: usize = 100;

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let origin = Origin::start().await;
        let url = origin.url("/kib");
        let mut config = Config::default();
        config.groups.insert(
            "outbound".into(),
            GroupSettings {
                http: Some(vec![HttpGrant {
                    host: "127.0.0.1".into(),
                    schemes: Some(vec!["http".into()]),
                    ports: Some(vec![origin.port]),
                    methods: None,
                    paths: None,
                    addresses: Vec::new(),
                    headers: Default::default(),
                }]),
                ..GroupSettings::default()
            },
        );
        let service =
            common::in_process_service_with(std::path::Path::new(toolhost_tests::OUTBOUND), config)
                .await;
        let arguments = json!({ "url": url }).as_object().unwrap().clone();

        let mut direct = Vec::with_capacity(ROUNDS);
        let mut hosted = Vec::with_capacity(ROUNDS);
        for round in 0..WARM_UP + ROUNDS {
            let started = Instant::now();
            let body = get(origin.port, "/kib").await;
            let direct_time = started.elapsed();
            assert_eq!(body.len(), 1024);

            let started = Instant::now();
            let result =
                common::in_process_call(&service, "outbound_send", arguments.clone()).await;
            let hosted_time = started.elapsed();
            assert_eq!(result.structured_content.unwrap()["status"], 200);

            if round >= WARM_UP {
                direct.push(direct_time);
                hosted.push(hosted_time);
            }
        }
        let (d50, d99) = percentiles(&mut direct);
        let (h50, h99) = percentiles(&mut hosted);
        println!("fetch 1 KiB from 127.0.0.1, {ROUNDS} rounds, alternating");
        println!("{:<18} {:>10} {:>10}", "", "p50", "p99");
        println!("{:<18} {:>10.1?} {:>10.1?}", "direct (hyper)", d50, d99);
        println!("{:<18} {:>10.1?} {:>10.1?}", "through toolhost", h50, h99);
        println!(
            "ratio              {:>9.2}x {:>9.2}x   (target <= 2x)",
            h50.as_secs_f64() / d50.as_secs_f64(),
            h99.as_secs_f64() / d99.as_secs_f64()
        );
    });
}

/// GET `path` on 127.0.0.1:`port` over a fresh connection; the body.
async fn get(port: u16, path: &str) -> bytes::Bytes {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    let connection = tokio::spawn(connection);
    let request = http::Request::get(path)
        .header("host", format!("127.0.0.1:{port}"))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    drop(sender);
    let _ = connection.await;
    body
}

fn percentiles(times: &mut [Duration]) -> (Duration, Duration) {
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    (at(0.5), at(0.99))
}
