//! Percent-encoding for expansion and percent-decoding of `{name}` values.

/// Decode `%XX` triplets; anything that is not a valid triplet, or decodes
/// to bytes that are not UTF-8, stays as written. Adds one step per byte.
pub(crate) fn percent_decode(text: &str, steps: &mut u64) -> String {
    *steps += text.len() as u64;
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        // Two hex digits; `from_str_radix` alone would take `+1` too.
        let hex = bytes
            .get(index + 1..index + 3)
            .filter(|pair| pair.iter().all(u8::is_ascii_hexdigit))
            .and_then(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok());
        match (bytes[index], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                index += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8(decoded).unwrap_or_else(|_| text.to_owned())
}

/// Append `value`, keeping unreserved characters, and reserved ones and `%`
/// too when `keep_reserved` (`{+name}`); every other byte becomes `%XX`.
pub(crate) fn percent_encode(value: &str, keep_reserved: bool, out: &mut String) {
    const RESERVED: &str = ":/?#[]@!$&'()*+,;=";
    for c in value.chars() {
        let unreserved = c.is_ascii_alphanumeric() || "-._~".contains(c);
        if unreserved || (keep_reserved && (RESERVED.contains(c) || c == '%')) {
            out.push(c);
        } else {
            let mut buffer = [0; 4];
            for byte in c.encode_utf8(&mut buffer).bytes() {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(text: &str) -> String {
        percent_decode(text, &mut 0)
    }

    #[test]
    fn valid_triplets_are_decoded_and_the_rest_kept() {
        assert_eq!(decode("caf%C3%A9%20au%20lait"), "café au lait");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz%4"), "%zz%4");
        assert_eq!(decode("%2f%2F"), "//");
        // Not UTF-8 once decoded: kept as written.
        assert_eq!(decode("%FF"), "%FF");
        // A `+` sign in a triplet is no hex digit.
        assert_eq!(decode("%+1"), "%+1");
    }

    #[test]
    fn encoding_keeps_reserved_characters_only_when_asked() {
        let encode = |value: &str, keep_reserved: bool| {
            let mut out = String::new();
            percent_encode(value, keep_reserved, &mut out);
            out
        };
        assert_eq!(encode("a b/c%é~", false), "a%20b%2Fc%25%C3%A9~");
        assert_eq!(encode("a b/c%é~", true), "a%20b/c%%C3%A9~");
    }
}
