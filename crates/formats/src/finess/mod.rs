//! The FINESS public extracts: legal entities (EJ) and their establishments (EG / ET).
//!
//! Two readers yield the same [`FinessItem`]s:
//!
//! - [`EtalabReader`]: the historical etalab CSV extracts (`etalab-cs1100502-stock-…csv`,
//!   `…cs1100507…` with geolocation, `…cs1100501…` for legal entities): `;`-separated lines,
//!   each starting with its section (`structureet`, `structureej`, `geolocalisation`), after a
//!   first line `finess;etalab;<number>;<date>`. UTF-8 (2026) and Windows-1252 (older
//!   releases) are both read, line by line.
//! - [`read_structures_json`]: the FINESS+ "Structures" JSON document (`pmej[]` legal entities
//!   with their `ege[]` establishments), uncompressed.
//!
//! A bad FINESS check key is a warning, not a rejection: some published numbers fail it. A
//! rejection names its place in the file ([`Location`]) and a short reason in English, for the
//! operator.

mod etalab;
mod json;

use std::fmt;

use jiff::civil::Date;
use rppsplus_domain::{Finess, IdError, Siren, Siret};

pub use crate::text::Encoding;
pub use etalab::{EtalabHeader, EtalabReader};
pub use json::{JsonSummary, read_structures_json};

/// Where an item is in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Location {
    /// A 1-based line of a text extract.
    Line(u64),
    /// An entry of a JSON document: the 1-based position of the legal entity in `pmej`, and of
    /// the establishment in its `ege`, if the item is an establishment.
    Entry {
        /// Position in `pmej`, from 1.
        legal_entity: u64,
        /// Position in that entity's `ege`, from 1.
        establishment: Option<u64>,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Entry {
                legal_entity,
                establishment: None,
            } => write!(f, "pmej #{legal_entity}"),
            Location::Entry {
                legal_entity,
                establishment: Some(e),
            } => write!(f, "pmej #{legal_entity} ege #{e}"),
        }
    }
}

/// One item of an extract.
// Items are streamed one at a time: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinessItem {
    /// A record read, with what was odd about it.
    Record {
        /// Where it is.
        at: Location,
        /// The data.
        record: FinessRecord,
        /// Problems that did not prevent reading it (bad FINESS key, invalid SIRET dropped…).
        warnings: Vec<String>,
    },
    /// A record that could not be read.
    Rejected(Rejection),
    /// A record of a section the registry does not use (`geolocalisation`).
    Ignored {
        /// Where it is.
        at: Location,
    },
}

/// A record that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Where it is.
    pub at: Location,
    /// The FINESS number of the record, when it could be read: an importer must not treat a
    /// rejected establishment as missing from the extract.
    pub finess: Option<Finess>,
    /// Why, in a few words.
    pub reason: String,
}

/// A legal entity or an establishment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinessRecord {
    /// Entité juridique.
    LegalEntity(LegalEntity),
    /// Entité géographique / établissement.
    Establishment(Establishment),
}

impl FinessRecord {
    /// The FINESS number of the record.
    pub fn finess(&self) -> &Finess {
        match self {
            FinessRecord::LegalEntity(e) => &e.finess,
            FinessRecord::Establishment(e) => &e.finess,
        }
    }
}

/// A postal address as FINESS gives it. Every part is optional: many records have no street.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    /// Delivery complement: building, "c/o"… (`compldistrib`).
    pub delivery_complement: Option<String>,
    /// Street number (`numvoie`).
    pub street_number: Option<String>,
    /// Repetition index (`compvoie`: `B`, `T`, `Q`, `C`).
    pub repetition: Option<String>,
    /// Street type, abbreviated in the etalab extract (`R`, `AV`, `RTE`…).
    pub street_type: Option<String>,
    /// Street name.
    pub street_name: Option<String>,
    /// Locality or post-office box (`lieuditbp`: `BP 381`, `ZAC CHAMPIGNY`).
    pub locality: Option<String>,
    /// Postcode.
    pub postcode: Option<String>,
    /// Routing locality: the city, `CEDEX` included when there is one.
    pub city: Option<String>,
    /// INSEE COG code of the commune (5 characters), converted from the FINESS coding.
    pub commune_code: Option<String>,
}

impl Address {
    /// Number, repetition, type and name: `900 RTE DE PARIS`, `1 C R RAYMOND BARRE`.
    pub fn street_line(&self) -> Option<String> {
        join(
            " ",
            [
                &self.street_number,
                &self.repetition,
                &self.street_type,
                &self.street_name,
            ],
        )
    }

    /// The address on one line, in postal order: delivery complement, street, locality.
    pub fn one_line(&self) -> Option<String> {
        join(
            ", ",
            [
                &self.delivery_complement,
                &self.street_line(),
                &self.locality,
            ],
        )
    }
}

fn join<'a>(sep: &str, parts: impl IntoIterator<Item = &'a Option<String>>) -> Option<String> {
    let parts: Vec<&str> = parts
        .into_iter()
        .filter_map(|p| p.as_deref())
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        None
    } else {
        Some(parts.join(sep))
    }
}

/// An establishment (entité géographique).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Establishment {
    /// Its FINESS number (`nofinesset`, `numFinessEge`).
    pub finess: Finess,
    /// The FINESS number of its legal entity (`nofinessej`, `numFinessPm`).
    pub legal_entity: Finess,
    /// Short name (`rs`, `nomEgeCourt`), at most 38 characters in the etalab extract.
    pub short_name: String,
    /// Long name (`rslongue`, `nomEgeLong`).
    pub long_name: Option<String>,
    /// Name complement (`complrs`, `complementDenominationEg`).
    pub name_complement: Option<String>,
    /// Address.
    pub address: Address,
    /// Phone number as published.
    pub phone: Option<String>,
    /// Fax number as published.
    pub fax: Option<String>,
    /// Category (`categetab`, 3 digits; TRE_R397).
    pub category_code: String,
    /// Category label as published (may differ from TRE_R397 in case: compare codes).
    pub category_label: Option<String>,
    /// Category aggregate (`categagretab`, 4 digits).
    pub aggregate_code: Option<String>,
    /// SIRET, when published and valid.
    pub siret: Option<Siret>,
    /// NAF/APE code, without dot (`8610Z`).
    pub ape_code: Option<String>,
    /// Pricing mode code (`codemft`, 2 digits).
    pub pricing_mode_code: Option<String>,
    /// Public hospital service code (`codesph`).
    pub sph_code: Option<String>,
    /// Opening date.
    pub opened_on: Option<Date>,
    /// Authorisation date.
    pub authorised_on: Option<Date>,
    /// Last update of the record in FINESS.
    pub updated_on: Option<Date>,
    /// Closing date (JSON flow only).
    pub closed_on: Option<Date>,
    /// Whether it is open: always true in the etalab extract (closed sites are not in it).
    pub open: bool,
    /// Éducation nationale UAI number.
    pub uai: Option<String>,
}

impl Establishment {
    /// The long name when there is one, else the short name.
    pub fn display_name(&self) -> &str {
        self.long_name.as_deref().unwrap_or(&self.short_name)
    }
}

/// A legal entity (entité juridique).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalEntity {
    /// Its FINESS number.
    pub finess: Finess,
    /// Short name (`rs`, `denominationPm`).
    pub short_name: String,
    /// Long name (`rslongue`, `denominationLonguePmSmsse`).
    pub long_name: Option<String>,
    /// Name complement.
    pub name_complement: Option<String>,
    /// Address.
    pub address: Address,
    /// Phone number as published.
    pub phone: Option<String>,
    /// Legal status code (`statutjuridique`).
    pub legal_status_code: Option<String>,
    /// SIREN, when published and valid.
    pub siren: Option<Siren>,
    /// NAF/APE code as published.
    pub ape_code: Option<String>,
    /// Creation date.
    pub created_on: Option<Date>,
    /// Closing date (JSON flow only).
    pub closed_on: Option<Date>,
    /// Whether it is active.
    pub open: bool,
}

impl LegalEntity {
    /// The long name when there is one, else the short name.
    pub fn display_name(&self) -> &str {
        self.long_name.as_deref().unwrap_or(&self.short_name)
    }
}

/// Errors that stop a reader: the input cannot be read as an extract at all.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The underlying reader failed.
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    /// The file is not of the expected kind.
    #[error("not a FINESS extract: {0}")]
    NotAnExtract(String),
    /// The JSON document is malformed (positions are 1-based).
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Json {
        /// Line of the error.
        line: usize,
        /// Column of the error.
        column: usize,
        /// What the JSON parser said.
        message: String,
    },
}

/// The INSEE COG code of a commune from FINESS's `departement` (FINESS coding: `9A`…`9F` for the
/// overseas départements, `9J` for Wallis-et-Futuna) and 3-digit `commune`.
///
/// Metropolitan France: département + commune (`01` + `451` → `01451`, `2A` + `004`). Overseas,
/// the commune already starts with the département's third digit: `9C` + `302` → `97302`,
/// `9J` + `613` → `98613`. Saint-Barthélemy and Saint-Martin are still filed under `9A` with
/// their Guadeloupe codes of before 2007 (`123`, `127`), mapped to their current codes `97701`
/// and `97801`. `None` for a code this function does not know.
pub fn commune_cog_code(departement: &str, commune: &str) -> Option<String> {
    let departement = departement.trim().to_ascii_uppercase();
    let commune = commune.trim();
    if commune.len() != 3 || !commune.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let d = departement.as_bytes();
    if d.len() != 2 {
        return None;
    }
    match (d[0], d[1]) {
        (b'0'..=b'9', b'0'..=b'9') => {
            let n = (d[0] - b'0') * 10 + (d[1] - b'0');
            ((1..=95).contains(&n) && n != 20).then(|| format!("{departement}{commune}"))
        }
        (b'2', b'A' | b'B') => Some(format!("{departement}{commune}")),
        (b'9', letter @ b'A'..=b'F') => {
            let expected_first = b'1' + (letter - b'A');
            if commune.as_bytes().first() != Some(&expected_first) {
                return None;
            }
            Some(match (letter, commune) {
                (b'A', "123") => "97701".to_owned(),
                (b'A', "127") => "97801".to_owned(),
                _ => format!("97{commune}"),
            })
        }
        (b'9', b'J') => commune.starts_with('6').then(|| format!("98{commune}")),
        _ => None,
    }
}

/// Reads a FINESS number of a bulk file: malformed is a rejection (`Err` with the reason), a
/// bad key a warning pushed on `warnings`.
fn read_finess(what: &str, value: &str, warnings: &mut Vec<String>) -> Result<Finess, String> {
    if value.is_empty() {
        return Err(format!("{what}: missing"));
    }
    match Finess::read(value) {
        Ok(r) => {
            if !r.key_valid {
                warnings.push(format!("{what} {}: check key does not match", r.finess));
            }
            Ok(r.finess)
        }
        Err(e) => Err(format!("{what} {value:?}: {}", id_reason(e))),
    }
}

fn id_reason(e: IdError) -> &'static str {
    match e {
        IdError::Length { .. } => "wrong length",
        IdError::Charset => "invalid characters",
        IdError::CheckKey => "check key does not match",
        IdError::Prefix => "unknown prefix",
        IdError::Exhausted => "out of range",
    }
}

/// An optional SIRET: an invalid one is dropped with a warning.
fn read_siret(value: &str, warnings: &mut Vec<String>) -> Option<Siret> {
    if value.is_empty() {
        return None;
    }
    match Siret::parse(value) {
        Ok(s) => Some(s),
        Err(e) => {
            warnings.push(format!("SIRET {value:?} ignored: {}", id_reason(e)));
            None
        }
    }
}

/// An optional SIREN: an invalid one is dropped with a warning.
fn read_siren(value: &str, warnings: &mut Vec<String>) -> Option<Siren> {
    if value.is_empty() {
        return None;
    }
    match Siren::parse(value) {
        Ok(s) => Some(s),
        Err(e) => {
            warnings.push(format!("SIREN {value:?} ignored: {}", id_reason(e)));
            None
        }
    }
}

/// An optional `YYYY-MM-DD` date (a time after it, as in the JSON flow, is ignored); FINESS's
/// "unknown" default 1900-01-01 reads as none. A bad date is dropped with a warning.
fn read_date(what: &str, value: &str, warnings: &mut Vec<String>) -> Option<Date> {
    if value.is_empty() {
        return None;
    }
    let day = value.get(..10).unwrap_or(value);
    let rest_ok = value.len() == 10 || matches!(value.as_bytes().get(10), Some(b' ' | b'T'));
    match (rest_ok, day.parse::<Date>()) {
        (true, Ok(d)) if d == jiff::civil::date(1900, 1, 1) => None,
        (true, Ok(d)) => Some(d),
        _ => {
            warnings.push(format!("{what} {value:?} ignored: not a YYYY-MM-DD date"));
            None
        }
    }
}

/// An optional text cell: empty is none.
fn opt(value: &str) -> Option<String> {
    let v = value.trim();
    if v.is_empty() {
        None
    } else {
        Some(v.to_owned())
    }
}

/// Whether a category code has the FINESS shape (3 digits).
fn is_category_code(value: &str) -> bool {
    value.len() == 3 && value.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn commune_codes_follow_the_finess_departement_coding() {
        let cases = [
            ("01", "451", Some("01451")),
            ("2A", "004", Some("2A004")),
            ("2b", "096", Some("2B096")),
            ("95", "127", Some("95127")),
            ("9A", "105", Some("97105")),
            ("9A", "123", Some("97701")),
            ("9A", "127", Some("97801")),
            ("9B", "207", Some("97207")),
            ("9C", "302", Some("97302")),
            ("9D", "411", Some("97411")),
            ("9E", "502", Some("97502")),
            ("9F", "606", Some("97606")),
            ("9J", "613", Some("98613")),
            ("9C", "411", None),
            ("9J", "713", None),
            ("20", "004", None),
            ("00", "001", None),
            ("96", "001", None),
            ("97", "411", None),
            ("9Z", "101", None),
            ("01", "45", None),
            ("01", "4x1", None),
            ("", "451", None),
        ];
        for (d, c, expected) in cases {
            assert_eq!(commune_cog_code(d, c).as_deref(), expected, "{d} {c}");
        }
    }

    #[test]
    fn dates() {
        let mut w = Vec::new();
        assert_eq!(
            read_date("d", "2020-02-04", &mut w),
            Some(jiff::civil::date(2020, 2, 4))
        );
        assert_eq!(
            read_date("d", "2024-01-15 00:00:00", &mut w),
            Some(jiff::civil::date(2024, 1, 15))
        );
        assert_eq!(read_date("d", "1900-01-01", &mut w), None);
        assert_eq!(read_date("d", "", &mut w), None);
        assert!(w.is_empty());
        assert_eq!(read_date("d", "04/02/2020", &mut w), None);
        assert_eq!(read_date("d", "2020-02-30", &mut w), None);
        assert_eq!(read_date("d", "2020-02-0412", &mut w), None);
        assert_eq!(read_date("d", "é", &mut w), None);
        assert_eq!(w.len(), 4);
    }

    #[test]
    fn addresses_on_one_line() {
        let a = Address {
            delivery_complement: Some("CITE BON AIR".into()),
            street_number: Some("1".into()),
            repetition: Some("C".into()),
            street_type: Some("R".into()),
            street_name: Some("RAYMOND BARRE".into()),
            locality: Some("ZAC MOULIN JOLI".into()),
            ..Address::default()
        };
        assert_eq!(a.street_line().as_deref(), Some("1 C R RAYMOND BARRE"));
        assert_eq!(
            a.one_line().as_deref(),
            Some("CITE BON AIR, 1 C R RAYMOND BARRE, ZAC MOULIN JOLI")
        );
        assert_eq!(Address::default().one_line(), None);
    }

    proptest! {
        #[test]
        fn commune_codes_never_panic(d in "\\PC{0,3}", c in "\\PC{0,4}") {
            if let Some(code) = commune_cog_code(&d, &c) {
                prop_assert_eq!(code.len(), 5);
            }
        }

        #[test]
        fn dates_never_panic(s in "\\PC{0,24}") {
            let _ = read_date("d", &s, &mut Vec::new());
        }
    }
}
