//! Conversions between domain values and their SQLite storage form.

use jiff::Timestamp;
use jiff::civil::Date;
use rppsplus_domain::{Adeli, Finess, Idnps, Rpps, Siret};
use rppsplus_store::{StoreError, StoreResult, audit};

/// An instant as stored: microseconds since the Unix epoch, truncated like the audit chain
/// (and PostgreSQL) truncate, so that both backends give back the same value.
pub(crate) fn micros(at: Timestamp) -> i64 {
    audit::truncate(at).as_microsecond()
}

/// An instant read back.
pub(crate) fn instant(us: i64) -> StoreResult<Timestamp> {
    Timestamp::from_microsecond(us).map_err(|e| corrupt("instant", us, e))
}

/// An optional instant read back.
pub(crate) fn opt_instant(us: Option<i64>) -> StoreResult<Option<Timestamp>> {
    us.map(instant).transpose()
}

/// A date as stored: ISO 8601, which sorts like the dates it writes.
pub(crate) fn iso(d: Date) -> String {
    d.to_string()
}

/// An optional date as stored.
pub(crate) fn opt_iso(d: Option<Date>) -> Option<String> {
    d.map(iso)
}

/// A date read back. The error names neither the text nor the parser's message (which quotes
/// it): a birth date is personal data, and errors end up in logs.
pub(crate) fn date(s: &str) -> StoreResult<Date> {
    s.parse()
        .map_err(|_| StoreError::Corrupt("a stored date is not an ISO 8601 date".into()))
}

/// An optional date read back.
pub(crate) fn opt_date(s: Option<&str>) -> StoreResult<Option<Date>> {
    s.map(date).transpose()
}

/// A boolean stored as INTEGER 0/1.
pub(crate) fn flag(v: i64) -> StoreResult<bool> {
    match v {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(corrupt("boolean", other, "not 0 or 1")),
    }
}

pub(crate) fn rpps(s: &str) -> StoreResult<Rpps> {
    Rpps::parse(s).map_err(|e| corrupt("RPPS number", s, e))
}

pub(crate) fn adeli(s: &str) -> StoreResult<Adeli> {
    Adeli::parse(s).map_err(|e| corrupt("ADELI number", s, e))
}

pub(crate) fn idnps(s: &str) -> StoreResult<Idnps> {
    Idnps::parse(s).map_err(|e| corrupt("IDNPS", s, e))
}

/// A FINESS number read back. Bulk imports store published numbers whose key fails, so only
/// the format is checked here, as on import.
pub(crate) fn finess(s: &str) -> StoreResult<Finess> {
    Finess::read(s)
        .map(|r| r.finess)
        .map_err(|e| corrupt("FINESS number", s, e))
}

pub(crate) fn siret(s: &str) -> StoreResult<Siret> {
    Siret::parse(s).map_err(|e| corrupt("SIRET number", s, e))
}

/// A stored value that does not parse back into its domain type. Only for identifiers, codes
/// and instants: never pass personal data (names, birth dates, contact details) as `value`.
pub(crate) fn corrupt(
    what: &str,
    value: impl std::fmt::Debug,
    why: impl std::fmt::Display,
) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?}: {why}"))
}
