//! Arguments that a 2026-07-28 HTTP request also carries in headers
//! (SEP-2243): a tool property with `x-mcp-header: Name` is sent both in
//! the body and as `Mcp-Param-Name`, so that gateways and load balancers
//! can route on it without reading the body. The host checks that the two
//! agree before the call runs; a request where they differ, or where one
//! is missing, gets 400 and `-32020` (header mismatch), naming both.
//!
//! A header value is literal, or `=?base64?…?=` around standard Base64
//! (canonical padding) of the UTF-8 value, for values a header cannot hold.

use base64::Engine as _;
use http::HeaderMap;
use serde_json::{Map, Value};

use crate::catalog::Tool;

/// Checks the `Mcp-Param-*` headers of a call of `tool` against its
/// `arguments`; the message says what disagrees.
pub fn check(
    tool: &Tool,
    arguments: &Map<String, Value>,
    headers: &HeaderMap,
) -> Result<(), String> {
    for (property, header) in &tool.header_params {
        let body = arguments.get(property);
        let sent = headers.get(header);
        match (body, sent) {
            (None, None) => {}
            (Some(_), None) => {
                return Err(format!(
                    "argument `{property}` of tool `{}` must also be sent in the `{header}` \
                     header (its schema says `x-mcp-header`)",
                    tool.name
                ));
            }
            (None, Some(_)) => {
                return Err(format!(
                    "header `{header}` was sent but argument `{property}` of tool `{}` was not",
                    tool.name
                ));
            }
            (Some(body), Some(sent)) => {
                let sent =
                    decode(sent.as_bytes()).map_err(|why| format!("header `{header}`: {why}"))?;
                let expected = match body {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                if sent != expected {
                    return Err(format!(
                        "header `{header}` does not match argument `{property}` of tool `{}`",
                        tool.name
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The value a header carries: literal, or Base64 inside `=?base64?…?=`.
fn decode(value: &[u8]) -> Result<String, String> {
    let Some(encoded) = value
        .strip_prefix(b"=?base64?")
        .and_then(|rest| rest.strip_suffix(b"?="))
    else {
        return String::from_utf8(value.to_vec()).map_err(|_| "the value is not UTF-8".to_owned());
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| format!("the =?base64?…?= value is not valid Base64 ({e})"))?;
    String::from_utf8(bytes).map_err(|_| "the decoded value is not UTF-8".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_literal_or_wrapped_base64() {
        assert_eq!(decode(b"Hello").unwrap(), "Hello");
        assert_eq!(decode(b"=?base64?SGVsbG8=?=").unwrap(), "Hello");
        // Without the whole wrapper, the value is literal.
        assert_eq!(decode(b"=?base64?SGVsbG8=").unwrap(), "=?base64?SGVsbG8=");
        assert_eq!(decode(b"SGVsbG8=").unwrap(), "SGVsbG8=");
        // Missing padding, or characters outside the alphabet.
        assert!(decode(b"=?base64?SGVsbG8?=").is_err());
        assert!(decode(b"=?base64?SGVs!!!bG8=?=").is_err());
    }
}
