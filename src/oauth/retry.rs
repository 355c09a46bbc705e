//! Retries with OAuth semantics: which failures may be retried for which
//! grant, and how long to wait (exponential backoff with full jitter,
//! honouring `Retry-After` up to a cap).
#![forbid(unsafe_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::Error;

/// How many times, and how patiently, a failed request is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0: none).
    pub max_retries: u32,
    /// The first backoff ceiling; it doubles with each retry.
    pub base_delay: Duration,
    /// No wait is longer: a `Retry-After` beyond it ends the retries.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

/// What repeating a grant's request could do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// Harmless (client_credentials and most other grants).
    Safe,
    /// The server may rotate the refresh token once it processed the
    /// request: repeat only what it certainly did not process.
    RotatesState,
    /// Single use (an authorization code): repeat only what was never sent.
    SingleUse,
}

/// Whether `error`, after a request of kind `repeat`, may be retried.
pub fn may_retry(error: &Error, repeat: Repeat) -> bool {
    error.is_transient()
        && match repeat {
            Repeat::Safe => true,
            Repeat::RotatesState => error.is_not_processed(),
            Repeat::SingleUse => error.is_not_processed() && error.http_status() == 0,
        }
}

/// How long to wait before retry number `attempt` (1-based), or `None`
/// when the server asks for a wait longer than the policy allows.
pub fn delay(
    policy: &RetryPolicy,
    attempt: u32,
    retry_after: Option<&str>,
    random: u64,
) -> Option<Duration> {
    if let Some(value) = retry_after {
        if let Some(wait) = parse_retry_after(value, SystemTime::now()) {
            return (wait <= policy.max_delay).then_some(wait);
        }
    }
    // Full jitter: uniform in [0, min(max, base * 2^(attempt-1))].
    let ceiling = policy
        .base_delay
        .saturating_mul(1u32 << (attempt.saturating_sub(1)).min(20))
        .min(policy.max_delay);
    let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Some(Duration::from_millis(if millis == 0 {
        0
    } else {
        random % (millis + 1)
    }))
}

/// `Retry-After` as delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    let at = parse_http_date(value)?;
    let now = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(at.saturating_sub(now)))
}

/// IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT", as Unix seconds.
fn parse_http_date(value: &str) -> Option<u64> {
    let parts: Vec<&str> = value.split_ascii_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let day: u64 = day.parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m == month)? as u64
        + 1;
    let year: u64 = year.parse().ok()?;
    let hms: Vec<u64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    if !(1..=31).contains(&day) || year < 1970 || *h > 23 || *m > 59 || *s > 60 {
        return None;
    }
    // Days since the epoch of a proleptic Gregorian date.
    let (y, mo) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * mo + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some(days * 86_400 + h * 3600 + m * 60 + s)
}

/// A random number for jitter.
pub fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    if openssl::rand::rand_bytes(&mut bytes).is_err() {
        return 0;
    }
    u64::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn retry_after_forms() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_770); // 1994-11-06 08:49:30 GMT
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        for bad in [
            "",
            "-1",
            "soon",
            "Sun, 06 Nov 1994 08:49:37 PST",
            "Sun, 32 Foo 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad}");
        }
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date("Tue, 29 Feb 2000 12:00:00 GMT"),
            Some(951_825_600)
        );
    }

    #[test]
    fn backoff_is_jittered_capped_and_honours_retry_after() {
        let p = RetryPolicy {
            max_retries: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        assert_eq!(delay(&p, 1, None, 0), Some(Duration::ZERO));
        assert_eq!(delay(&p, 1, None, 100), Some(Duration::from_millis(100)));
        assert_eq!(delay(&p, 1, None, 101), Some(Duration::ZERO));
        assert_eq!(delay(&p, 3, None, 400), Some(Duration::from_millis(400)));
        assert!(delay(&p, 9, None, u64::MAX).unwrap() <= Duration::from_secs(1));
        assert_eq!(delay(&p, 1, Some("1"), 5), Some(Duration::from_secs(1)));
        assert_eq!(
            delay(&p, 1, Some("30"), 5),
            None,
            "longer than the cap: stop"
        );
    }

    #[test]
    fn what_may_be_retried() {
        let transport_unsent = Error::new(ErrorKind::Transport, "x").mark_transient(true);
        let transport_sent = Error::new(ErrorKind::Transport, "x").mark_transient(false);
        let busy = Error::new(ErrorKind::Http, "x")
            .with_http_status(503)
            .mark_transient(true);
        let oauth = Error::new(ErrorKind::OAuth, "invalid_grant").with_http_status(400);
        for (e, safe, rotating, single) in [
            (&transport_unsent, true, true, true),
            (&transport_sent, true, false, false),
            (&busy, true, true, false),
            (&oauth, false, false, false),
        ] {
            assert_eq!(may_retry(e, Repeat::Safe), safe);
            assert_eq!(may_retry(e, Repeat::RotatesState), rotating);
            assert_eq!(may_retry(e, Repeat::SingleUse), single);
        }
    }
}
