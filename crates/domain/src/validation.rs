//! The error reported for one invalid field of a user's input.
//!
//! Forms and APIs show every problem at once, so validators collect these instead of stopping at
//! the first one. `field` and `code` are stable (clients and tests key on them); `message` is
//! French prose for a non-technical user and may be reworded at any time.

use std::fmt;

use jiff::civil::Date;
use serde::Serialize;

/// One invalid field: where, what kind of problem, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Stable dotted path of the field, e.g. `identity.birth_name` or `identity.first_names[1]`.
    pub field: String,
    /// Stable snake_case code of the problem, one of [`codes`].
    pub code: &'static str,
    /// French sentence that says what is wrong and what to do.
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            code,
            message: message.into(),
        }
    }

    /// The same error reported at another path, for callers that embed a value in a larger
    /// form (e.g. the contact e-mail of a manager rather than of a professional).
    #[must_use]
    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = field.into();
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}) : {}", self.field, self.code, self.message)
    }
}

impl std::error::Error for FieldError {}

/// The stable problem codes used in [`FieldError::code`].
pub mod codes {
    /// A mandatory value is missing or blank.
    pub const REQUIRED: &str = "required";
    /// The value is longer than allowed.
    pub const TOO_LONG: &str = "too_long";
    /// The value is shorter than allowed.
    pub const TOO_SHORT: &str = "too_short";
    /// The value contains characters that are not allowed.
    pub const INVALID_CHARACTERS: &str = "invalid_characters";
    /// The value does not have the expected shape (date, e-mail, phone number…).
    pub const INVALID_FORMAT: &str = "invalid_format";
    /// The value is not one of the codes of its reference table.
    pub const UNKNOWN_CODE: &str = "unknown_code";
    /// The code exists but has been withdrawn from its reference table.
    pub const RETIRED_CODE: &str = "retired_code";
    /// A date that must not be in the future is.
    pub const IN_FUTURE: &str = "in_future";
    /// The birth date gives an age below the accepted minimum.
    pub const TOO_YOUNG: &str = "too_young";
    /// The birth date gives an age above the accepted maximum.
    pub const TOO_OLD: &str = "too_old";
    /// The country code is not in the INSEE / ANS list.
    pub const UNKNOWN_COUNTRY: &str = "unknown_country";
    /// The commune code is neither a current nor a former INSEE commune code.
    pub const UNKNOWN_COMMUNE: &str = "unknown_commune";
    /// A value was given where none is expected (e.g. a birth commune for a birth abroad).
    pub const NOT_APPLICABLE: &str = "not_applicable";
    /// The identity document is no longer valid.
    pub const EXPIRED: &str = "expired";
    /// The phone number belongs to a country the registry does not accept.
    pub const UNSUPPORTED_COUNTRY: &str = "unsupported_country";
    /// The phone number is valid but not a mobile number.
    pub const NOT_A_MOBILE: &str = "not_a_mobile";
    /// The parts of a value contradict each other (e.g. a country code and a number).
    pub const INCONSISTENT: &str = "inconsistent";
    /// The embedded reference data could not be read; not the user's fault.
    pub const REFERENCE_UNAVAILABLE: &str = "reference_unavailable";
}

/// A date as French users write it: `JJ/MM/AAAA`.
pub fn format_date_fr(d: Date) -> String {
    format!("{:02}/{:02}/{:04}", d.day(), d.month(), d.year())
}

/// Reads a date typed by a user or sent by a form: `AAAA-MM-JJ` (HTML date inputs, JSON) or
/// `JJ/MM/AAAA` (French typing; one-digit day and month accepted). `None` when the text has
/// neither shape or names a day that does not exist.
pub fn parse_date_input(s: &str) -> Option<Date> {
    let s = s.trim();
    let (y, m, d) = if let Some((y, rest)) = s.split_once('-') {
        let (m, d) = rest.split_once('-')?;
        (y, m, d)
    } else {
        let mut parts = s.split('/');
        let (d, m, y) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        (y, m, d)
    };
    let digits = |p: &str, min: usize, max: usize| {
        (min..=max).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
    };
    if !(digits(y, 4, 4) && digits(m, 1, 2) && digits(d, 1, 2)) {
        return None;
    }
    Date::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?).ok()
}

/// The same day `years` years later (earlier if negative); 29 February becomes 28 February in
/// a common year. `None` outside the supported range.
pub fn add_years(d: Date, years: i16) -> Option<Date> {
    let year = d.year().checked_add(years)?;
    Date::new(year, d.month(), d.day())
        .or_else(|_| Date::new(year, d.month(), d.day() - 1))
        .ok()
}

/// Age in whole years on `today` of someone born on `birth` (negative if born after `today`).
pub fn age_on(birth: Date, today: Date) -> i32 {
    let mut age = i32::from(today.year()) - i32::from(birth.year());
    if (today.month(), today.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;

    use jiff::civil::date;

    #[test]
    fn dates() {
        assert_eq!(parse_date_input("1980-02-29"), Some(date(1980, 2, 29)));
        assert_eq!(parse_date_input(" 29/02/1980 "), Some(date(1980, 2, 29)));
        assert_eq!(parse_date_input("1/2/1980"), Some(date(1980, 2, 1)));
        for bad in [
            "",
            "29/02/1981",
            "1980-2-30",
            "80-01-01",
            "01/01/80",
            "01.01.1980",
            "1980/01/01",
            "01/01/1980/1",
            "+1980-01-01",
            "1980-01-01T00:00",
            "١٩٨٠-٠١-٠١",
            "00/01/1980",
        ] {
            assert_eq!(parse_date_input(bad), None, "{bad}");
        }
        assert_eq!(format_date_fr(date(2025, 1, 5)), "05/01/2025");
        assert_eq!(add_years(date(2024, 2, 29), 1), Some(date(2025, 2, 28)));
        assert_eq!(add_years(date(2024, 2, 29), 4), Some(date(2028, 2, 29)));
        assert_eq!(add_years(date(2024, 3, 1), -10), Some(date(2014, 3, 1)));
        assert_eq!(add_years(date(9999, 1, 1), 1), None);
        assert_eq!(age_on(date(2000, 6, 15), date(2026, 6, 14)), 25);
        assert_eq!(age_on(date(2000, 6, 15), date(2026, 6, 15)), 26);
        assert_eq!(age_on(date(2000, 2, 29), date(2026, 2, 28)), 25);
        assert_eq!(age_on(date(2000, 2, 29), date(2026, 3, 1)), 26);
        assert_eq!(age_on(date(2030, 1, 1), date(2026, 3, 1)), -4);
    }

    #[test]
    fn at_moves_the_error_and_keeps_the_rest() {
        let e = FieldError::new("contact.email", codes::REQUIRED, "Saisissez une adresse.");
        let moved = e.clone().at("manager.email");
        assert_eq!(moved.field, "manager.email");
        assert_eq!(moved.code, e.code);
        assert_eq!(moved.message, e.message);
        assert_eq!(
            e.to_string(),
            "contact.email (required) : Saisissez une adresse."
        );
    }
}
