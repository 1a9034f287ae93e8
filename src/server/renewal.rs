//! Keeping the endpoint's credentials fresh, in the background: when to renew, and how long to
//! wait after a failure. The loop ([`run`]) sleeps between steps; each step ([`Renewal::step`])
//! is plain code over the renewer's clock, so the schedule is tested without waiting.
//!
//! The rules:
//! - renew `margin` before the served credentials expire: `--refresh-margin` (20 min by
//!   default, ahead of botocore's 15-minute refresh), but at most half the credentials' lifetime
//!   or the cache's floor for that lifetime, whichever is more ([`cache::min_remaining_seconds`]:
//!   11 min for a 900-second role), so a short role is renewed once per lifetime, never in a loop;
//! - the renewal asks for credentials with more validity left than the served ones have, so it
//!   gets new ones (from STS, or from the cache if another rolegate process renewed them);
//! - at least [`MIN_INTERVAL_SECONDS`] between two attempts, whatever STS returns (credentials
//!   shorter than asked, an expiry already past);
//! - after a failure, wait [`MIN_INTERVAL_SECONDS`], then twice as long each time, at most
//!   [`MAX_BACKOFF_SECONDS`]; the old credentials are served while they last, then 503.

use std::time::Duration;

use time::OffsetDateTime;

use super::Current;
use crate::cache;
use crate::diag;
use crate::provider::Renew;

/// The least time between two renewal attempts (each may be an STS call).
pub const MIN_INTERVAL_SECONDS: i64 = 60;
/// The longest wait after failures in a row.
pub const MAX_BACKOFF_SECONDS: i64 = 5 * 60;

/// Renews `current` for the rest of the process (which ends with the child).
pub fn run(renewer: impl Renew, current: &Current, margin: u64) {
    let mut renewal = Renewal::new(renewer, margin, current);
    loop {
        let wait = renewal.step(current);
        std::thread::sleep(wait);
    }
}

/// The renewal's state between two steps.
pub struct Renewal<R> {
    renewer: R,
    /// `--refresh-margin`, seconds.
    configured_margin: i64,
    /// The longest lifetime seen of the served credentials (expiry minus the time they were
    /// received: for credentials taken from the cache, less than their real lifetime, until the
    /// first renewal brings new ones).
    lifetime: i64,
    last_attempt: Option<OffsetDateTime>,
    failures: u32,
    warned: bool,
}

impl<R: Renew> Renewal<R> {
    pub fn new(renewer: R, margin: u64, current: &Current) -> Renewal<R> {
        let now = renewer.now();
        let lifetime = served_expiration(current).map_or(0, |exp| (exp - now).whole_seconds());
        Renewal {
            renewer,
            configured_margin: i64::try_from(margin).unwrap_or(i64::MAX),
            lifetime,
            last_attempt: None,
            failures: 0,
            warned: false,
        }
    }

    /// How long before their expiry the served credentials are renewed.
    pub fn margin(&self) -> i64 {
        self.configured_margin.min((self.lifetime / 2).max(cache::min_remaining_seconds(self.lifetime)))
    }

    /// When the next attempt is due: `margin` before the expiry (at once if nothing is served),
    /// after a failure the back-off, and never within [`MIN_INTERVAL_SECONDS`] of the last one.
    pub fn next_attempt(&self, current: &Current) -> OffsetDateTime {
        let due = match (self.failures, served_expiration(current)) {
            (0, Some(exp)) => exp - time::Duration::seconds(self.margin()),
            (0, None) => self.renewer.now(),
            (n, _) => {
                let backoff = MIN_INTERVAL_SECONDS.saturating_mul(1 << (n - 1).min(16)).min(MAX_BACKOFF_SECONDS);
                self.last_attempt.unwrap_or_else(|| self.renewer.now()) + time::Duration::seconds(backoff)
            }
        };
        match self.last_attempt {
            Some(last) => due.max(last + time::Duration::seconds(MIN_INTERVAL_SECONDS)),
            None => due,
        }
    }

    /// Renews if it is time, then says how long to wait before the next step.
    pub fn step(&mut self, current: &Current) -> Duration {
        let now = self.renewer.now();
        let due = self.next_attempt(current);
        if due > now {
            return to_std(due - now);
        }
        self.attempt(current, now);
        to_std(self.next_attempt(current) - self.renewer.now())
    }

    fn attempt(&mut self, current: &Current, now: OffsetDateTime) {
        self.last_attempt = Some(now);
        let margin = self.margin();
        // More than the served credentials have left, so that they do not count as fresh.
        let left = served_expiration(current).map_or(0, |exp| (exp - now).whole_seconds());
        let want = margin.max(left).saturating_add(1).max(MIN_INTERVAL_SECONDS);
        let _span = tracing::debug_span!("renew", margin, want).entered();
        match self.renewer.renew(want) {
            Ok(c) => {
                tracing::debug!(expiration = %c.expiration, "renewed");
                self.lifetime = self.lifetime.max((c.expiration - self.renewer.now()).whole_seconds());
                *lock(current) = Ok(c);
                self.failures = 0;
                self.warned = false;
            }
            Err(e) => {
                self.failures = self.failures.saturating_add(1);
                let message = diag::chain_message(&e);
                if !self.warned {
                    diag::warn(&format!("cannot renew the credentials of the local endpoint: {message}"));
                    if let Some(hint) = e.hint() {
                        diag::notice(&format!("hint: {hint}"));
                    }
                    self.warned = true;
                }
                let mut guard = lock(current);
                let expired = guard.as_ref().is_ok_and(|c| c.seconds_left(self.renewer.now()) <= 0);
                if expired {
                    *guard = Err(message);
                }
            }
        }
    }
}

fn lock(current: &Current) -> std::sync::MutexGuard<'_, Result<crate::credentials::Credentials, String>> {
    current.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn served_expiration(current: &Current) -> Option<OffsetDateTime> {
    lock(current).as_ref().ok().map(|c| c.expiration)
}

fn to_std(d: time::Duration) -> Duration {
    Duration::try_from(d).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    //! The schedule over simulated hours: a fake renewer with a clock of its own, which each
    //! step's wait moves forward (no real waiting).

    use std::sync::{Arc, Mutex};

    use time::macros::datetime;

    use super::*;
    use crate::cache::CacheError;
    use crate::credentials::{Credentials, Secret};
    use crate::provider::ProviderError;

    const T0: OffsetDateTime = datetime!(2026-03-02 08:00 UTC);

    fn creds(expiration: OffsetDateTime) -> Credentials {
        Credentials {
            access_key_id: "ASIAX".into(),
            secret_access_key: Secret::new("SECRET"),
            session_token: Secret::new("TOKEN"),
            expiration,
            account_id: None,
            arn: None,
        }
    }

    /// Each renewal issues credentials good for `lifetime` seconds from its clock, unless
    /// `fails` says this attempt (numbered from 0) fails. It records when it was asked, and for
    /// how much validity.
    struct FakeRenewer {
        clock: Arc<Mutex<OffsetDateTime>>,
        asked: Arc<Mutex<Vec<(OffsetDateTime, i64)>>>,
        lifetime: i64,
        fails: fn(usize) -> bool,
    }

    impl Renew for FakeRenewer {
        fn renew(&mut self, min_remaining_seconds: i64) -> Result<Credentials, ProviderError> {
            let now = self.now();
            let mut asked = self.asked.lock().unwrap();
            let n = asked.len();
            asked.push((now, min_remaining_seconds));
            if (self.fails)(n) {
                return Err(ProviderError::Cache(CacheError::NoDir));
            }
            Ok(creds(now + time::Duration::seconds(self.lifetime)))
        }

        fn now(&self) -> OffsetDateTime {
            *self.clock.lock().unwrap()
        }
    }

    struct Run {
        /// When the renewer was asked, and for how much validity.
        asked: Vec<(OffsetDateTime, i64)>,
        /// What was served at each step.
        served: Vec<(OffsetDateTime, Result<OffsetDateTime, String>)>,
    }

    /// Runs the renewal for `hours` of simulated time, the served credentials starting with
    /// `lifetime` seconds left, with `--refresh-margin margin`.
    fn simulate(lifetime: i64, margin: u64, hours: i64, fails: fn(usize) -> bool) -> Run {
        let clock = Arc::new(Mutex::new(T0));
        let asked = Arc::new(Mutex::new(Vec::new()));
        let renewer = FakeRenewer { clock: clock.clone(), asked: asked.clone(), lifetime, fails };
        let current: Current = Arc::new(Mutex::new(Ok(creds(T0 + time::Duration::seconds(lifetime)))));
        let mut renewal = Renewal::new(renewer, margin, &current);
        let end = T0 + time::Duration::hours(hours);
        let mut served = Vec::new();
        for _ in 0..100_000 {
            let wait = renewal.step(&current);
            assert!(!wait.is_zero(), "a step that asks for no wait would spin");
            let now = {
                let mut clock = clock.lock().unwrap();
                *clock += wait;
                *clock
            };
            served.push((now, current.lock().unwrap().as_ref().map(|c| c.expiration).map_err(String::clone)));
            if now >= end {
                let asked = asked.lock().unwrap().clone();
                return Run { asked, served };
            }
        }
        panic!("the renewal stepped 100 000 times in {hours} h");
    }

    fn gaps(asked: &[(OffsetDateTime, i64)]) -> Vec<i64> {
        asked.windows(2).map(|w| (w[1].0 - w[0].0).whole_seconds()).collect()
    }

    #[test]
    fn a_900_second_role_is_renewed_once_per_lifetime_with_11_minutes_left() {
        // The default margin (20 min) is more than such a role ever has: the renewal happens
        // with 11 min left (the cache's floor for it), every 4 minutes, and asks for more than
        // what is served, so it gets new credentials.
        let run = simulate(900, 20 * 60, 2, |_| false);
        // Two hours: at 4, 8, ... 116 minutes (the one at 120 is the next run's).
        assert_eq!(run.asked.len(), 29, "{:?}", gaps(&run.asked));
        assert!(gaps(&run.asked).iter().all(|g| *g == 240), "{:?}", gaps(&run.asked));
        assert_eq!(run.asked[0].0, T0 + time::Duration::seconds(240));
        assert!(run.asked.iter().all(|(_, want)| *want > 660), "{:?}", run.asked);
        // Never served with less than 11 minutes left.
        assert!(run.served.iter().all(|(now, exp)| (*exp.as_ref().unwrap() - *now).whole_seconds() >= 660));
    }

    #[test]
    fn a_one_hour_role_is_renewed_with_the_configured_margin() {
        let run = simulate(3600, 20 * 60, 5, |_| false);
        assert!(gaps(&run.asked).iter().all(|g| *g == 2400), "{:?}", gaps(&run.asked));
        assert_eq!(run.asked.len(), 7, "at 40 min, then every 40 min for 5 h");
        // A margin smaller than the cache's floor is the user's choice, kept.
        let run = simulate(3600, 120, 5, |_| false);
        assert!(gaps(&run.asked).iter().all(|g| *g == 3480), "{:?}", gaps(&run.asked));
    }

    #[test]
    fn credentials_shorter_than_a_minute_are_renewed_once_a_minute_not_in_a_loop() {
        let run = simulate(30, 20 * 60, 1, |_| false);
        assert!(gaps(&run.asked).iter().all(|g| *g == 60), "{:?}", gaps(&run.asked));
        assert_eq!(run.asked.len(), 60);
    }

    #[test]
    fn failures_back_off_from_a_minute_to_five_then_the_endpoint_says_503_and_recovers() {
        // A 900-second role whose renewals fail 8 times in a row, then succeed.
        let run = simulate(900, 20 * 60, 1, |n| (0..8).contains(&n));
        let gaps = gaps(&run.asked);
        assert_eq!(gaps[..8], [60, 120, 240, 300, 300, 300, 300, 300], "{gaps:?}");
        assert!(gaps[8..].iter().all(|g| *g == 240), "after the recovery, once per lifetime: {gaps:?}");
        // Old credentials are served while they last, then the failure, then the new ones.
        let expired_at = T0 + time::Duration::seconds(900);
        let first_failure = run.served.iter().position(|(_, s)| s.is_err()).expect("a 503 while expired");
        assert!(run.served[first_failure].0 > expired_at);
        assert!(
            run.served[..first_failure]
                .iter()
                .all(|(now, s)| s.is_ok() && *now <= expired_at + time::Duration::minutes(5))
        );
        assert!(run.served.last().unwrap().1.is_ok(), "served again once renewed");
    }
}
