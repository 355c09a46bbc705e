//! `application/x-www-form-urlencoded` bodies (and the encoding RFC 6749
//! §2.3.1 applies to the client id and secret before HTTP Basic).
#![forbid(unsafe_code)]

use zeroize::Zeroizing;

/// Bytes that stay as they are: ASCII letters, digits and `*-._`.
const STAYS: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] =
            matches!(b as u8, b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_');
        b += 1;
    }
    table
};

fn stays(b: u8) -> bool {
    STAYS[usize::from(b)]
}

/// Appends `value` to `out`, form-urlencoded: ASCII letters, digits and
/// `*-._` stay, space becomes `+`, every other byte of the UTF-8 becomes
/// `%XX`. Runs of bytes that stay are copied whole (an assertion is one).
pub fn encode_into(out: &mut String, value: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = value.as_bytes();
    let mut run_start = 0;
    while run_start < bytes.len() {
        let run_end = bytes[run_start..]
            .iter()
            .position(|&b| !stays(b))
            .map_or(bytes.len(), |n| run_start + n);
        if run_end > run_start {
            // ASCII on both ends, so both are character boundaries.
            out.push_str(&value[run_start..run_end]);
        }
        let Some(&b) = bytes.get(run_end) else {
            break;
        };
        if b == b' ' {
            out.push('+');
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
        run_start = run_end + 1;
    }
}

/// A form body being built. Its buffer is wiped when dropped: it carries
/// secrets and assertions.
#[derive(Default)]
pub struct Form {
    body: Zeroizing<String>,
}

impl Form {
    pub fn new() -> Form {
        Form {
            body: Zeroizing::new(String::with_capacity(1024)),
        }
    }

    pub fn push(&mut self, name: &str, value: &str) {
        self.reserve(3 * (name.len() + value.len()) + 2);
        if !self.body.is_empty() {
            self.body.push('&');
        }
        encode_into(&mut self.body, name);
        self.body.push('=');
        encode_into(&mut self.body, value);
    }

    /// `push` for a value made only of bytes that stay, such as a JWS
    /// compact serialization (base64url and dots): it is copied without
    /// looking at each byte.
    pub fn push_unescaped(&mut self, name: &str, value: &str) {
        debug_assert!(value.bytes().all(stays), "a value with bytes to escape");
        self.reserve(3 * name.len() + value.len() + 2);
        if !self.body.is_empty() {
            self.body.push('&');
        }
        encode_into(&mut self.body, name);
        self.body.push('=');
        self.body.push_str(value);
    }

    /// Room for `most` more bytes first: growing the buffer by pushing would
    /// free the old one, secrets and all, without wiping it.
    fn reserve(&mut self, most: usize) {
        if self.body.capacity() - self.body.len() < most {
            let mut grown =
                String::with_capacity((self.body.len() + most).max(2 * self.body.capacity()));
            grown.push_str(&self.body);
            self.body = Zeroizing::new(grown);
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.body.as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_the_form_spec() {
        let mut f = Form::new();
        f.push("grant_type", "authorization_code");
        f.push("a b", "x+y&z=w%");
        f.push("n", "é/~:?#[]@!$'()*,;");
        assert_eq!(
            std::str::from_utf8(f.as_bytes()).unwrap(),
            "grant_type=authorization_code&a+b=x%2By%26z%3Dw%25&n=%C3%A9%2F%7E%3A%3F%23%5B%5D%40%21%24%27%28%29*%2C%3B"
        );
    }

    /// The run-copying encoder agrees with a byte-at-a-time one on every
    /// mix of kept, escaped, multi-byte and space characters.
    #[test]
    fn runs_and_escapes_agree_with_bytewise_encoding() {
        let bytewise = |v: &str| -> String {
            v.bytes()
                .map(|b| match b {
                    b' ' => "+".to_string(),
                    b if stays(b) => (b as char).to_string(),
                    b => format!("%{b:02X}"),
                })
                .collect()
        };
        let pieces = ["", "a", "Z9", " ", "é", "€x", "😀", "+", "&=", "abc.def-_*"];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let value = format!("{a}{b}{c}");
                    let mut out = String::new();
                    encode_into(&mut out, &value);
                    assert_eq!(out, bytewise(&value), "{value:?}");
                }
            }
        }
    }

    /// A value of base64url and dots comes out as `push` would encode it.
    #[test]
    fn unescaped_values_match_pushed_ones() {
        let jws = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJjIn0.MEUCIQ-_x";
        let (mut pushed, mut unescaped) = (Form::new(), Form::new());
        for f in [&mut pushed, &mut unescaped] {
            f.push("client_id", "a b");
        }
        pushed.push("client_assertion", jws);
        unescaped.push_unescaped("client_assertion", jws);
        assert_eq!(pushed.as_bytes(), unescaped.as_bytes());
        let mut first = Form::new();
        first.push_unescaped("a", &"x".repeat(3000));
        assert_eq!(first.as_bytes().len(), 3002);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "a value with bytes to escape")]
    fn unescaped_values_are_checked_in_debug_builds() {
        Form::new().push_unescaped("a", "x=y");
    }

    #[test]
    fn long_values_fit() {
        let mut f = Form::new();
        let long = "é".repeat(5000);
        f.push("a", &long);
        f.push("b", "c");
        assert_eq!(f.as_bytes().len(), 2 + 5000 * 6 + 4);
    }
}
