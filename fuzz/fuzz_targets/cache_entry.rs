//! A cache entry file is bytes on disk: whatever they hold, reading them is a hit or a miss,
//! never a crash. `Cache::read` is `serde_json::from_slice::<Entry>` and then `is_fresh`.
//!
//! Properties:
//! - parsing and `is_fresh` never panic (at a fixed, realistic "now", with and without a
//!   `not_before`);
//! - `is_fresh` agrees with its documented rule (at least `min_remaining_seconds` of its
//!   lifetime left, not issued more than 5 min in the future, not issued before `not_before`);
//! - an entry that parses can be written back (`Locked` stores entries with `serde_json`)
//!   and reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rolegate::cache::{Entry, is_fresh, min_remaining_seconds};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// The fixed "now" of the run: a realistic clock (the real one comes from `Context::now`).
const NOW: OffsetDateTime = datetime!(2026-11-28 12:00:00 UTC);

fuzz_target!(|data: &[u8]| {
    let Ok(entry) = serde_json::from_slice::<Entry>(data) else { return };

    let left = entry.credentials.seconds_left(NOW);
    let not_future = entry.issued_at <= NOW + Duration::minutes(5);
    for not_before in [None, Some(NOW - Duration::hours(1)), Some(NOW), Some(entry.issued_at)] {
        let fresh = is_fresh(&entry, NOW, not_before);
        let lifetime = (entry.credentials.expiration - entry.issued_at).whole_seconds();
        let expected =
            left >= min_remaining_seconds(lifetime) && not_future && not_before.is_none_or(|t| entry.issued_at >= t);
        assert_eq!(fresh, expected, "is_fresh disagrees with its rule (not_before {not_before:?})");
    }

    // What was read can be stored again, and reads back the same.
    let written = serde_json::to_vec(&entry).expect("a parsed entry serializes");
    let again: Entry = serde_json::from_slice(&written).expect("a written entry parses");
    assert_eq!(serde_json::to_vec(&again).expect("serializes"), written, "the entry changed on a round trip");
    assert_eq!(again.credentials.expiration, entry.credentials.expiration);
    assert_eq!(again.issued_at, entry.issued_at);
});
