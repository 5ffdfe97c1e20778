//! Standard base64 with padding, for the `X-Docker-Container-Path-Stat` header.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encodes `data` (RFC 4648 §4, `=` padding), as Go's `base64.StdEncoding`.
pub fn encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(super::encode(input.as_bytes()), want);
        }
        // The header of trace 19-cp-from.
        assert_eq!(
            super::encode(br#"{"name":"passwd","size":30,"mode":420,"mtime":"2026-11-26T14:06:12Z","linkTarget":""}"#),
            "eyJuYW1lIjoicGFzc3dkIiwic2l6ZSI6MzAsIm1vZGUiOjQyMCwibXRpbWUiOiIyMDI2LTExLTI2VDE0OjA2OjEyWiIsImxpbmtUYXJnZXQiOiIifQ=="
        );
    }
}
