//! Endpoint URL checks and the provider URL builders on arbitrary strings:
//! `url::check_endpoint`, `providers::talkdesk_token_url` (every region) and
//! `providers::pingone_token_url` (the text split at its first NUL into the
//! auth base and the environment id).
//!
//! Properties:
//! - nothing panics;
//! - a URL `check_endpoint` accepts is, by an independent reading of RFC 3986:
//!   printable ASCII without spaces, `https://` (any case) or `http://` to a
//!   loopback host (localhost, *.localhost, 127.0.0.0/8, [::1]), with no user
//!   info and no fragment, a host of registered-name characters or an IPv6
//!   literal, an optional port of digits from 1 to 65535; and the host it
//!   returns is that host, lowercased;
//! - a provider URL is https (PingOne: or http to loopback), passes
//!   `check_endpoint` again, has the expected host (Talkdesk: one label under
//!   the region's domain; PingOne: the auth base's) and the expected path.
//! - errors are `InvalidArgument`.
#![no_main]

use std::net::{Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use tokenclient::{pingone_token_url, talkdesk_token_url, TalkdeskRegion};
use tokenclient::fuzzing::check_endpoint;
use tokenclient::ErrorKind;

/// An absolute http(s) URL read by RFC 3986 rules.
struct Parsed {
    https: bool,
    host: String,
    path_and_query: String,
}

/// Reads `url` as this target expects an accepted endpoint to read; `Err`
/// says why it should not have been accepted.
fn read(url: &str) -> Result<Parsed, String> {
    if let Some(c) = url.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(format!("the character {c:?}"));
    }
    let (scheme, rest) = url.split_once("://").ok_or("no scheme")?;
    let https = match scheme.to_ascii_lowercase().as_str() {
        "https" => true,
        "http" => false,
        other => return Err(format!("scheme {other}")),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path_and_query) = rest.split_at(end);
    if path_and_query.contains('#') {
        return Err("a fragment".into());
    }
    if authority.contains('@') {
        return Err("user info".into());
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (inner, after) = v6.split_once(']').ok_or("unclosed [")?;
        inner
            .parse::<Ipv6Addr>()
            .map_err(|_| format!("IPv6 literal [{inner}]"))?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("junk after ]")?),
        };
        (&authority[..inner.len() + 2], port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if !host.starts_with('[')
        && (host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)))
    {
        return Err(format!("host {host:?}"));
    }
    if let Some(port) = port {
        let ok = !port.is_empty()
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p));
        if !ok {
            return Err(format!("port {port:?}"));
        }
    }
    let host = host.to_ascii_lowercase();
    if !https && !loopback(&host) {
        return Err(format!("http to {host}"));
    }
    Ok(Parsed {
        https,
        host,
        path_and_query: path_and_query.to_string(),
    })
}

fn loopback(host: &str) -> bool {
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback());
    }
    host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

fn check_url(url: &str) {
    match check_endpoint("token_url", url) {
        Ok(endpoint) => {
            let parsed = read(url).unwrap_or_else(|why| panic!("accepted {url:?}: {why}"));
            assert_eq!(endpoint.https, parsed.https, "{url:?}");
            assert_eq!(endpoint.host, parsed.host, "{url:?}");
        }
        Err(e) => assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}"),
    }
}

fn check_talkdesk(account: &str) {
    for (region, domain) in [
        (TalkdeskRegion::Us, "talkdeskid.com"),
        (TalkdeskRegion::Eu, "talkdeskid.eu"),
        (TalkdeskRegion::Ca, "talkdeskidca.com"),
    ] {
        let url = match talkdesk_token_url(account, region) {
            Ok(url) => url,
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
                continue;
            }
        };
        let endpoint = check_endpoint("talkdesk", &url)
            .unwrap_or_else(|e| panic!("{account:?} made {url:?}, which is refused: {e}"));
        let parsed = read(&url).unwrap_or_else(|why| panic!("{account:?} made {url:?}: {why}"));
        assert!(endpoint.https && parsed.https, "{url:?}");
        assert_eq!(endpoint.host, parsed.host);
        let label = parsed
            .host
            .strip_suffix(domain)
            .and_then(|h| h.strip_suffix('.'))
            .unwrap_or_else(|| panic!("{account:?} made {url:?}: not under {domain}"));
        assert!(
            !label.is_empty() && !label.contains('.'),
            "{account:?} made {url:?}: not one label under {domain}"
        );
        assert_eq!(label, account.to_ascii_lowercase());
        assert_eq!(parsed.path_and_query, "/oauth/token", "{url:?}");
    }
}

fn check_pingone(base: &str, env_id: &str) {
    let url = match pingone_token_url(base, env_id) {
        Ok(url) => url,
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
            return;
        }
    };
    let endpoint = check_endpoint("pingone", &url)
        .unwrap_or_else(|e| panic!("{base:?} {env_id:?} made {url:?}, which is refused: {e}"));
    let parsed = read(&url).unwrap_or_else(|why| panic!("{base:?} {env_id:?} made {url:?}: {why}"));
    let base_parsed = read(base.strip_suffix('/').unwrap_or(base))
        .unwrap_or_else(|why| panic!("accepted the auth base {base:?}: {why}"));
    assert_eq!(endpoint.host, parsed.host);
    assert_eq!(
        parsed.host, base_parsed.host,
        "{base:?} {env_id:?} made {url:?}"
    );
    assert_eq!(parsed.https, base_parsed.https);
    assert!(
        base_parsed.path_and_query.is_empty() || base_parsed.path_and_query == "/",
        "accepted an auth base with a path: {base:?}"
    );
    assert_eq!(
        parsed.path_and_query,
        format!("/{env_id}/as/token"),
        "{base:?} {env_id:?} made {url:?}"
    );
    assert!(
        !env_id.is_empty()
            && env_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-'),
        "accepted the environment id {env_id:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    check_url(&text);
    check_talkdesk(&text);
    let (base, env_id) = text.split_once('\0').unwrap_or((&text, "env"));
    check_pingone(base, env_id);
});
