//! When a situation d'exercice is active.

use jiff::Timestamp;
use jiff::civil::Date;

/// Whether a situation that starts on `start` and whose last day of activity is `end` (when
/// known) is active at the instant `at`: `start <= date <= end`, where `date` is the civil date
/// of `at` in Europe/Paris. An end date is the last day of activity: by dates alone, a situation
/// ending today is active until midnight in Paris. (A *closing* that takes effect at once ends
/// it earlier, from its recorded instant: see [`closed_at_once`], which
/// [`situation_in_force`] applies on top of this rule.)
pub fn situation_active_at(start: Date, end: Option<Date>, at: Timestamp) -> bool {
    situation_active_on(start, end, paris_date(at))
}

/// [`situation_active_at`] for a civil date already computed with [`paris_date`] (a caller
/// checking several situations at one instant converts the instant once).
pub fn situation_active_on(start: Date, end: Option<Date>, date: Date) -> bool {
    start <= date && end.is_none_or(|end| date <= end)
}

/// Whether a situation closed at once at `closed_at` (see [`closed_at_after_write`]) is
/// already out of force at the instant `at`: from the instant the closing was recorded, not
/// from the end of its last day. A situation without a `closed_at` (never closed, or a
/// scheduled departure) ends by its dates alone.
pub fn closed_at_once(closed_at: Option<Timestamp>, at: Timestamp) -> bool {
    closed_at.is_some_and(|closed| closed <= at)
}

/// The `closed_at` a situation keeps after a write, at the instant `at`, that leaves it with the
/// last day of activity `end`; `previous` is the `closed_at` it had before the write.
///
/// - An end date of today or earlier (in Europe/Paris) takes effect at once: from the instant
///   it was first recorded. A situation already closed at once keeps that instant through later
///   writes (a correction of its exercise names, a new reason, another past end date), so that
///   a decision asked about an instant between the closing and the correction still denies.
/// - A future end date is a scheduled departure, which ends with its last day: no `closed_at`.
///   Moving the end date of a closed situation into the future therefore reopens it until that
///   day; removing the end date reopens it for good.
pub fn closed_at_after_write(
    previous: Option<Timestamp>,
    end: Option<Date>,
    at: Timestamp,
) -> Option<Timestamp> {
    match end {
        Some(end) if end <= paris_date(at) => Some(previous.unwrap_or(at)),
        _ => None,
    }
}

/// The whole rule: active by its dates ([`situation_active_at`]) and not closed at once
/// ([`closed_at_once`]). Every part of the registry that says whether a situation is in force
/// (access decisions, registration views, the public directory) uses this.
pub fn situation_in_force(
    start: Date,
    end: Option<Date>,
    closed_at: Option<Timestamp>,
    at: Timestamp,
) -> bool {
    situation_active_at(start, end, at) && !closed_at_once(closed_at, at)
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
    use super::{closed_at_after_write, situation_active_at, situation_in_force};
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

    #[test]
    fn a_closing_at_once_keeps_its_instant_through_later_edits() {
        let start = date(2026, 1, 5);
        let today = date(2026, 11, 27);
        let closed = at("2026-11-27T09:00:00Z");
        let edited = at("2026-11-27T15:00:00Z");
        // Closed with today's date at 10:00 in Paris: at once.
        let closed_at = closed_at_after_write(None, Some(today), closed);
        assert_eq!(closed_at, Some(closed));
        // An exercise-name correction in the afternoon keeps the end date and the instant.
        let after_edit = closed_at_after_write(closed_at, Some(today), edited);
        assert_eq!(after_edit, Some(closed));
        let between = at("2026-11-27T12:00:00Z");
        assert!(situation_in_force(
            start,
            Some(today),
            after_edit,
            at("2026-11-27T08:59:59Z")
        ));
        assert!(!situation_in_force(start, Some(today), after_edit, closed));
        assert!(!situation_in_force(start, Some(today), after_edit, between));
        assert!(!situation_in_force(start, Some(today), after_edit, edited));
        // Corrected the next day to a later past end date: still closed since the closing.
        let next_day = at("2026-11-28T10:00:00Z");
        let corrected = closed_at_after_write(after_edit, Some(date(2026, 11, 28)), next_day);
        assert_eq!(corrected, Some(closed));
        assert!(!situation_in_force(
            start,
            Some(date(2026, 11, 28)),
            corrected,
            next_day
        ));
    }

    #[test]
    fn a_future_end_date_is_a_scheduled_departure_and_reopens_a_closed_situation() {
        let start = date(2026, 1, 5);
        let now = at("2026-11-27T09:00:00Z");
        let scheduled = closed_at_after_write(None, Some(date(2026, 12, 31)), now);
        assert_eq!(scheduled, None);
        assert!(situation_in_force(
            start,
            Some(date(2026, 12, 31)),
            scheduled,
            at("2026-12-31T22:59:59Z")
        ));
        assert!(!situation_in_force(
            start,
            Some(date(2026, 12, 31)),
            scheduled,
            at("2026-12-31T23:00:00Z")
        ));
        // A situation closed at once whose end date moves into the future is open until then.
        let closed = Some(at("2026-11-26T09:00:00Z"));
        let reopened = closed_at_after_write(closed, Some(date(2026, 12, 31)), now);
        assert_eq!(reopened, None);
        assert!(situation_in_force(
            start,
            Some(date(2026, 12, 31)),
            reopened,
            now
        ));
        // Removing the end date reopens it for good.
        assert_eq!(closed_at_after_write(closed, None, now), None);
    }

    #[test]
    fn today_is_the_date_in_paris_when_closing() {
        // 23:30 UTC on 27 November is already 28 November in Paris: an end date of the 28th
        // given then takes effect at once.
        let late = at("2026-11-27T23:30:00Z");
        assert_eq!(
            closed_at_after_write(None, Some(date(2026, 11, 28)), late),
            Some(late)
        );
        let earlier = at("2026-11-27T22:30:00Z");
        assert_eq!(
            closed_at_after_write(None, Some(date(2026, 11, 28)), earlier),
            None
        );
    }
}
