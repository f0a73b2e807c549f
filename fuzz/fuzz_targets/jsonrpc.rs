//! One JSON-RPC message as the host decodes it from a stdio line or an HTTP
//! body (rmcp's `ClientJsonRpcMessage` through `serde_json::from_slice`):
//! decoding must not panic, and a message that decodes must encode to JSON
//! that decodes and encodes to the same bytes again.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rmcp::model::ClientJsonRpcMessage;

fuzz_target!(|bytes: &[u8]| {
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
