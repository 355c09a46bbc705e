//! A deliberately small URL check for token endpoints: absolute `https://`
//! (or `http://` to a loopback host), no user info, no fragment, nothing
//! that could smuggle another host or header.
#![forbid(unsafe_code)]

use crate::error::{Error, Result};

/// The parts of a checked endpoint URL that the rest of the crate needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointUrl {
    pub https: bool,
    pub host: String,
}

fn bad(what: &str, detail: &str) -> Error {
    Error::invalid_argument(format!("{what} is not a valid endpoint URL: {detail}"))
}

/// Whether `host` (as written in a URL, IPv6 in brackets) is a loopback host.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") || host == "[::1]" {
        return true;
    }
    match host.parse::<std::net::Ipv4Addr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => false,
    }
}

/// Checks `url` (named `what` in errors) and returns its scheme and host.
pub fn check_endpoint(what: &str, url: &str) -> Result<EndpointUrl> {
    if url.len() > 8192 {
        return Err(bad(what, "longer than 8192 bytes"));
    }
    if let Some(c) = url
        .chars()
        .find(|c| c.is_control() || c.is_whitespace() || !c.is_ascii())
    {
        return Err(bad(
            what,
            &format!("it contains the character {c:?}; percent-encode it"),
        ));
    }
    let lower = url.to_ascii_lowercase();
    let (https, rest) = if lower.starts_with("https://") {
        (true, &url["https://".len()..])
    } else if lower.starts_with("http://") {
        (false, &url["http://".len()..])
    } else {
        return Err(bad(
            what,
            "it must start with https:// (or http:// for loopback)",
        ));
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let after = &rest[authority_end..];
    if after.contains('#') {
        return Err(bad(what, "it has a fragment (#...)"));
    }
    if authority.contains('@') {
        return Err(bad(
            what,
            "it has user info (...@); pass credentials with the setters",
        ));
    }
    let (host, port) =
        split_host_port(authority).ok_or_else(|| bad(what, "the host or port is malformed"))?;
    if let Some(port) = port {
        // Digits only: `u16::from_str` would also take a sign ("+443").
        match port.parse::<u16>() {
            Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => {}
            _ => return Err(bad(what, "the port is not a number from 1 to 65535")),
        }
    }
    if !https && !is_loopback_host(host) {
        return Err(bad(
            what,
            "plain http:// is refused except to a loopback host; use https://",
        ));
    }
    Ok(EndpointUrl {
        https,
        host: host.to_ascii_lowercase(),
    })
}

fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if authority.starts_with('[') {
        let close = authority.find(']')?;
        let host = &authority[..=close];
        let inner = &host[1..host.len() - 1];
        // An IPv6 address (no zone id), not just its characters: "[1]" or
        // "[2:::1]" would only fail later, in curl.
        if inner.parse::<std::net::Ipv6Addr>().is_err() {
            return None;
        }
        return match &authority[close + 1..] {
            "" => Some((host, None)),
            p => p.strip_prefix(':').map(|port| (host, Some(port))),
        };
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    is_reg_name(host).then_some((host, port))
}

/// A registered name: letters, digits, `-`, `.` and `_`, not empty.
fn is_reg_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_https_and_loopback_http() {
        for ok in [
            "https://acme.talkdeskid.com/oauth/token",
            "https://auth.pingone.com/0f1e/as/token",
            "https://[2001:db8::1]:8443/token",
            "http://127.0.0.1:8080/oauth/token",
            "http://localhost/token",
            "http://[::1]:9/token?x=1",
            "https://[::ffff:192.0.2.1]/token",
        ] {
            assert!(check_endpoint("u", ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_the_rest() {
        for bad in [
            "",
            "ftp://x/",
            "http://example.com/token",
            "https://user:pw@host/token",
            "https://host/token#frag",
            "https://host name/token",
            "https:///token",
            "https://host:99999/token",
            "https://host:0/token",
            "https://ho\nst/token",
            "https://hóst/token",
            "https://[zz::1]/token",
            "https://host:/token",
        ] {
            let e = check_endpoint("token_url", bad).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument, "{bad}");
        }
    }

    /// Found by fuzzing (fuzz/fuzz_targets/endpoint_url.rs): a signed port
    /// ("+9", which `u16::from_str` takes) and bracketed hosts made of IPv6
    /// characters that are no IPv6 address passed the check.
    #[test]
    fn refuses_signed_ports_and_bogus_ipv6() {
        for bad in [
            "https://ttp:+9/2",
            "https://host:+443/token",
            "https://[::1]:+443/token",
            "https://[2:::::::::::::::::::::::001:db8::1]:8443/token",
            "https://[1]/token",
            "https://[.]/token",
            "https://[1:2:3:4:5:6:7:8:9]/token",
            "http://[::1:]/token",
        ] {
            let e = check_endpoint("token_url", bad).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument, "{bad}");
        }
    }
}

/// The name/value pairs of a URL's query (`application/x-www-form-urlencoded`:
/// `+` is a space, `%XX` a byte), in order. `None` for a malformed escape or
/// a value that is not UTF-8.
pub(crate) fn query_pairs(url: &str) -> Option<Vec<(String, String)>> {
    let without_fragment = url.split('#').next().unwrap_or("");
    let Some((_, query)) = without_fragment.split_once('?') else {
        return Some(Vec::new());
    };
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode(name, true)?, decode(value, true)?))
        })
        .collect()
}

/// `%XX` escapes decoded, as in a URL's path (`+` stays `+`). `None` for a
/// malformed escape or a result that is not UTF-8.
pub(crate) fn percent_decode(text: &str) -> Option<String> {
    decode(text, false)
}

/// `%XX` escapes decoded; with `form`, `+` is a space too.
fn decode(text: &str, form: bool) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if form => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                // Two hex digits exactly (from_str_radix would take a sign).
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod query_tests {
    use super::query_pairs;

    #[test]
    fn query_pairs_decode() {
        let pairs =
            query_pairs("https://a/cb?code=a%2Bb+c&state=x%3D&iss=https%3A%2F%2Fi&empty=#frag")
                .unwrap();
        let want = [
            ("code", "a+b c"),
            ("state", "x="),
            ("iss", "https://i"),
            ("empty", ""),
        ];
        assert_eq!(pairs.len(), 4);
        for ((n, v), (wn, wv)) in pairs.iter().zip(want) {
            assert_eq!((n.as_str(), v.as_str()), (wn, wv));
        }
        assert_eq!(query_pairs("https://a/cb").unwrap().len(), 0);
        assert!(query_pairs("https://a/cb?x=%zz").is_none());
        assert!(query_pairs("https://a/cb?x=%ff").is_none());
        assert!(query_pairs("https://a/cb?x=%4").is_none());
        assert!(query_pairs("https://a/cb?x=%+f").is_none());
    }
}
