//! Clock skew against an explicitly configured STS endpoint: one unsigned `GET`, a short
//! timeout, and the response's `Date` header against the local clock. STS refuses signatures
//! more than 15 minutes off. rolegate itself signs by STS's time once an answer told it (see
//! `sts::client`), but the SDKs and tools around it may not.
//!
//! Only endpoints the user configured (`AWS_ENDPOINT_URL[_STS]`, `endpoint_url`, a `services`
//! section) are contacted; `doctor` never calls the public AWS endpoints.

use std::time::Duration;

use crate::context::Context;
use crate::sts::client::{describe_seconds, parse_http_date};

use super::report::{Finding, Severity};

const TIMEOUT: Duration = Duration::from_secs(3);
/// Above this a warning (rolegate copes; other tools drift towards STS's 15-minute limit).
const WARN_SECONDS: i64 = 60;
/// Above this STS refuses signed requests.
const ERROR_SECONDS: i64 = 15 * 60;

/// Local clock minus the endpoint's clock, in seconds; `Err` with the reason when it cannot tell.
pub fn skew(ctx: &Context, url: &str) -> Result<i64, String> {
    let agent = crate::sts::client::agent(ctx).map_err(|e| e.to_string())?;
    let response = agent.get(url).config().timeout_global(Some(TIMEOUT)).build().call().map_err(|e| e.to_string())?;
    let date = response
        .headers()
        .get("date")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| "its answer has no Date header".to_string())?;
    let remote = parse_http_date(date).ok_or_else(|| format!("cannot read its Date header `{date}`"))?;
    Ok((ctx.now() - remote).whole_seconds())
}

/// The finding for a measured skew, if it matters.
pub fn finding(skew: i64, url: &str) -> Option<Finding> {
    let abs = skew.abs();
    if abs <= WARN_SECONDS {
        return None;
    }
    let direction = if skew > 0 { "ahead of" } else { "behind" };
    let amount = describe_seconds(abs);
    let (severity, consequence) = if abs > ERROR_SECONDS {
        (
            Severity::Error,
            "STS refuses requests signed more than 15 minutes off: rolegate signs with STS's time, other tools may not",
        )
    } else {
        (Severity::Warning, "tools that sign by the local clock fail once it is more than 15 minutes off")
    };
    Some(
        Finding::new(
            severity,
            "clock-skew",
            format!("the local clock is {amount} {direction} the STS endpoint {url} (its Date header): {consequence}"),
        )
        .fix("synchronise the clock (`timedatectl set-ntp true`, or your system's time settings)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_http_dates() {
        let t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(t.unix_timestamp(), 784_111_777);
        assert!(parse_http_date("yesterday").is_none());
    }

    #[test]
    fn skew_findings() {
        assert!(finding(30, "http://x").is_none());
        assert!(finding(-60, "http://x").is_none());
        let w = finding(90, "http://x").unwrap();
        assert_eq!(w.severity, Severity::Warning);
        assert!(w.message.starts_with("the local clock is 90 s ahead of"), "{}", w.message);
        let e = finding(-3601, "http://x").unwrap();
        assert_eq!(e.severity, Severity::Error);
        assert!(
            e.message.starts_with("the local clock is about 60 min behind the STS endpoint http://x"),
            "{}",
            e.message
        );
    }
}
