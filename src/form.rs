//! `application/x-www-form-urlencoded` bodies (and the encoding RFC 6749
//! §2.3.1 applies to the client id and secret before HTTP Basic).
#![forbid(unsafe_code)]

use zeroize::Zeroizing;

/// Appends `value` to `out`, form-urlencoded: ASCII letters, digits and
/// `*-._` stay, space becomes `+`, every other byte of the UTF-8 becomes
/// `%XX`.
pub fn encode_into(out: &mut String, value: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in value.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 15)] as char);
            }
        }
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
        if !self.body.is_empty() {
            self.body.push('&');
        }
        encode_into(&mut self.body, name);
        self.body.push('=');
        encode_into(&mut self.body, value);
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
}
