//! When a situation d'exercice is active.

use jiff::Timestamp;
use jiff::civil::Date;

/// Whether a situation that starts on `start` and whose last day of activity is `end` (when
/// known) is active at the instant `at`: `start <= date <= end`, where `date` is the civil date
/// of `at` in Europe/Paris. An end date is the last day of activity: by dates alone, a situation
/// ending today is active until midnight in Paris. (A *closing* recorded on or after its end
/// date takes effect at once, from the instant it was recorded: see
/// [`crate::decision::closed_at_once`], which access decisions apply on top of this rule.)
pub fn situation_active_at(start: Date, end: Option<Date>, at: Timestamp) -> bool {
    situation_active_on(start, end, paris_date(at))
}

/// [`situation_active_at`] for a civil date already computed with [`paris_date`] (a caller
/// checking several situations at one instant converts the instant once).
pub fn situation_active_on(start: Date, end: Option<Date>, date: Date) -> bool {
    start <= date && end.is_none_or(|end| date <= end)
}

/// Whether a closing recorded at `closed_at` ended the situation at once by the instant `at`:
/// a closing recorded on or after the last day it gives (closing with today's date, or a past
/// one) takes effect from the instant it was recorded, not at the end of the day. A closing
/// recorded before its last day is a scheduled departure: that day stays active until midnight.
pub fn closed_at_once(end: Option<Date>, closed_at: Option<Timestamp>, at: Timestamp) -> bool {
    match (closed_at, end) {
        (Some(closed), Some(end)) => closed <= at && paris_date(closed) >= end,
        _ => false,
    }
}

/// The whole rule: active by its dates ([`situation_active_at`]) and not closed at once
/// ([`closed_at_once`]). Every part of the registry that says whether a situation is in force
/// (access decisions, registration views, extracts) uses this.
pub fn situation_in_force(
    start: Date,
    end: Option<Date>,
    closed_at: Option<Timestamp>,
    at: Timestamp,
) -> bool {
    situation_active_at(start, end, at) && !closed_at_once(end, closed_at, at)
}

/// The civil date in Europe/Paris at an instant (UTC if the bundled database is unavailable,
/// which it never is: it is compiled in).
pub fn paris_date(at: Timestamp) -> Date {
    static PARIS: std::sync::LazyLock<jiff::tz::TimeZone> = std::sync::LazyLock::new(|| {
        jiff::tz::TimeZone::get("Europe/Paris").unwrap_or(jiff::tz::TimeZone::UTC)
    });
    PARIS.to_datetime(at).date()
}

#[cfg(test)]
mod tests {
    use super::situation_active_at;
    use jiff::Timestamp;
    use jiff::civil::date;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn active_from_the_start_date_to_the_end_of_the_last_day() {
        let start = date(2026, 3, 1);
        let end = Some(date(2026, 11, 27));
        // The day before the start, in Paris (23:30 UTC on 28 Feb is 00:30 on 1 March in Paris).
        assert!(!situation_active_at(start, end, at("2026-02-28T22:59:59Z")));
        assert!(situation_active_at(start, end, at("2026-02-28T23:00:00Z")));
        assert!(situation_active_at(start, None, at("2030-01-01T00:00:00Z")));
        // The last day counts until midnight in Paris (UTC+1 in November).
        assert!(situation_active_at(start, end, at("2026-11-27T22:59:59Z")));
        assert!(!situation_active_at(start, end, at("2026-11-27T23:00:00Z")));
    }

    #[test]
    fn summer_time_is_paris_time() {
        // 22:30 UTC on 30 June is 00:30 on 1 July in Paris (UTC+2).
        let end = Some(date(2026, 6, 30));
        assert!(!situation_active_at(
            date(2026, 1, 1),
            end,
            at("2026-06-30T22:30:00Z")
        ));
        assert!(situation_active_at(
            date(2026, 1, 1),
            end,
            at("2026-06-30T21:59:59Z")
        ));
    }

    #[test]
    fn closed_on_its_start_date_is_active_that_day_only() {
        let d = date(2026, 5, 4);
        assert!(situation_active_at(d, Some(d), at("2026-05-04T12:00:00Z")));
        assert!(!situation_active_at(d, Some(d), at("2026-05-05T12:00:00Z")));
    }
}
