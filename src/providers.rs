//! Token endpoint URLs of the identity providers our users work with.
#![forbid(unsafe_code)]

use crate::error::{Error, Result};
use crate::url::check_endpoint;

/// Talkdesk's regions, each with its own host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TalkdeskRegion {
    Us,
    Eu,
    Ca,
}

/// Checks a name that becomes one DNS label or one path segment: ASCII
/// letters, digits and `-`, not starting or ending with `-`, 1 to 63 bytes.
fn check_label(what: &str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= 63
        && !value.starts_with('-')
        && !value.ends_with('-')
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_argument(format!(
            "{what} must be 1 to 63 ASCII letters, digits or '-' (not at either end)"
        )))
    }
}

/// `https://{account}.talkdeskid.com/oauth/token` and its EU and CA twins.
pub fn talkdesk_token_url(account: &str, region: TalkdeskRegion) -> Result<String> {
    check_label("the Talkdesk account", account)?;
    let domain = match region {
        TalkdeskRegion::Us => "talkdeskid.com",
        TalkdeskRegion::Eu => "talkdeskid.eu",
        TalkdeskRegion::Ca => "talkdeskidca.com",
    };
    Ok(format!(
        "https://{}.{domain}/oauth/token",
        account.to_ascii_lowercase()
    ))
}

/// `{auth_base}/{env_id}/as/token`, e.g. `https://auth.pingone.com/{env}/as/token`.
/// `auth_base` is a scheme and host (a trailing `/` is ignored); `http://` is
/// accepted only for a loopback host, for tests.
pub fn pingone_token_url(auth_base: &str, env_id: &str) -> Result<String> {
    check_label("the PingOne environment id", env_id)?;
    let base = auth_base.strip_suffix('/').unwrap_or(auth_base);
    check_endpoint("the PingOne auth base", base)?;
    let after_scheme = &base[base.find("://").map_or(0, |i| i + 3)..];
    if after_scheme.contains(['/', '?']) {
        return Err(Error::invalid_argument(
            "the PingOne auth base must be a scheme and host only, e.g. https://auth.pingone.com",
        ));
    }
    Ok(format!("{base}/{env_id}/as/token"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn talkdesk_urls() {
        assert_eq!(
            talkdesk_token_url("acme", TalkdeskRegion::Us).unwrap(),
            "https://acme.talkdeskid.com/oauth/token"
        );
        assert_eq!(
            talkdesk_token_url("acme-2", TalkdeskRegion::Eu).unwrap(),
            "https://acme-2.talkdeskid.eu/oauth/token"
        );
        assert_eq!(
            talkdesk_token_url("Acme", TalkdeskRegion::Ca).unwrap(),
            "https://acme.talkdeskidca.com/oauth/token"
        );
        for bad in [
            "",
            "a/b",
            "a@b",
            "a b",
            "a.b",
            "-a",
            "a-",
            "a:1",
            "ä",
            "a?x",
            "a#",
            &"a".repeat(64),
        ] {
            let e = talkdesk_token_url(bad, TalkdeskRegion::Us).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad:?}");
        }
    }

    #[test]
    fn pingone_urls() {
        let env = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
        assert_eq!(
            pingone_token_url("https://auth.pingone.eu", env).unwrap(),
            format!("https://auth.pingone.eu/{env}/as/token")
        );
        assert_eq!(
            pingone_token_url("https://auth.pingone.com/", env).unwrap(),
            format!("https://auth.pingone.com/{env}/as/token")
        );
        assert_eq!(
            pingone_token_url("http://127.0.0.1:3000", env).unwrap(),
            format!("http://127.0.0.1:3000/{env}/as/token")
        );
        for (base, env_id) in [
            ("https://auth.pingone.com", "a/../b"),
            ("https://auth.pingone.com", "a b"),
            ("https://auth.pingone.com", "x@evil.com"),
            ("https://auth.pingone.com", ""),
            ("https://auth.pingone.com/path", env),
            ("https://auth.pingone.com?q", env),
            ("http://auth.pingone.com", env),
            ("auth.pingone.com", env),
        ] {
            let e = pingone_token_url(base, env_id).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{base} {env_id}");
        }
    }
}
