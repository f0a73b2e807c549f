//! End-to-end tests, one module per area, linked into one test binary
//! (one link instead of a dozen, and far less `target/`).

mod admission;
mod cache;
mod config;
mod dev;
mod events;
mod examples;
mod faults;
mod http_auth;
mod http_basics;
mod http_hardening;
mod http_limits;
mod identity;
mod input_required;
mod listing;
mod loading;
mod loading_budget;
mod outbound;
mod protocol;
mod python_clients;
mod reload;
mod sandbox;
mod schema_budget;
mod scopes;
mod session_fast_path;
mod state;
mod stdio_basics;
mod stdio_fast_path;
mod surface;
mod tasks;
mod untrusted_text;
mod upstreams;
