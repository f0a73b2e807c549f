//! One JSON-RPC message as the host reads it from a stdio line or an HTTP
//! body: first the host's framing check (`toolhost::jsonrpc::check`), then,
//! for what passes, rmcp's `ClientJsonRpcMessage` through
//! `serde_json::from_slice`. Neither may panic; a refusal must be a
//! well-formed error response; a message rmcp decodes must encode to JSON
//! that decodes and encodes to the same bytes again.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rmcp::model::ClientJsonRpcMessage;
use serde_json::Value;
use toolhost::jsonrpc;

fuzz_target!(|bytes: &[u8]| {
    if let Err(rejection) = jsonrpc::check(bytes) {
        let answer: Value =
            serde_json::from_slice(&rejection.to_bytes()).expect("a refusal is JSON");
        assert_eq!(answer["jsonrpc"], "2.0");
        assert_eq!(answer["error"]["code"], rejection.code);
        return;
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let Ok(message) = serde_json::from_slice::<ClientJsonRpcMessage>(bytes) else {
        return;
    };
    let encoded = serde_json::to_vec(&message).expect("a decoded message encodes");
    let again = serde_json::from_slice::<ClientJsonRpcMessage>(&encoded).unwrap_or_else(|e| {
        panic!(
            "{} decoded, but its encoding {} does not: {e}",
            String::from_utf8_lossy(bytes),
            String::from_utf8_lossy(&encoded)
        )
    });
    let reencoded = serde_json::to_vec(&again).expect("encodes");
    assert_eq!(
        String::from_utf8_lossy(&encoded),
        String::from_utf8_lossy(&reencoded)
    );
});
