//! Conversions between domain values and their PostgreSQL storage form.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff_sqlx::ToSqlx;
use rppsplus_domain::{Adeli, Finess, Idnps, Rpps, Siret};
use rppsplus_store::{StoreError, StoreResult, audit};

/// An instant as stored (`timestamptz`), truncated to the microsecond first so that the
/// encoding is exact and equal to what SQLite stores.
pub(crate) fn ts(at: Timestamp) -> jiff_sqlx::Timestamp {
    audit::truncate(at).to_sqlx()
}

/// A date as stored (`date`).
pub(crate) fn day(d: Date) -> jiff_sqlx::Date {
    d.to_sqlx()
}

/// An optional date as stored.
pub(crate) fn opt_day(d: Option<Date>) -> Option<jiff_sqlx::Date> {
    d.map(day)
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
