//! Reference data of the registry, embedded at compile time from `data/` and parsed once.
//!
//! Every table is parsed on first use and kept for the life of the process. Parsing cannot fail
//! on the files shipped with this crate (a unit test parses them all), but a bad file must never
//! bring a server down, so each accessor returns a `Result` and the convenience lookups degrade
//! to "not found" / "not permitted" when their table is unavailable. Call [`check_all`] at
//! start-up to fail fast instead.
//!
//! Codes and labels are those of the ANS terminologies (NOS) and of the INSEE COG; see
//! `data/README.md` for the source and version of each file.

mod codes;
mod cog;
mod documents;
mod eligibility;
mod finess;
mod policy;
mod professions;
mod roles;

use std::sync::LazyLock;

use jiff::civil::Date;
use serde::de::DeserializeOwned;

pub use codes::{CodeTable, IdentifierType, IdentifierTypes, SimpleCode};
pub(crate) use cog::is_commune_code_shape;
pub use cog::{
    BirthCommune, Cog, Commune, CommuneKind, Country, CountryStatus, FRANCE, FRANCE_BEFORE_2016,
    FormerCommuneCode, normalize_country_code,
};
pub use documents::{DocumentAccess, DocumentKey, DocumentMatrix, DocumentType};
pub use eligibility::{Eligibility, EligibilityStatus, EligibilityTable, Setting};
pub use finess::{FinessCategories, FinessCategory};
pub use policy::HabilitationPolicy;
pub use professions::{Enreg, Profession, Professions, SeedProfession, Successor, TableId};
pub use roles::{Role, Roles};

/// A reference file that could not be read into its table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("reference file {file}{}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
pub struct DataError {
    /// The file, relative to `data/`.
    pub file: &'static str,
    /// The 1-based line of the offending record, when known.
    pub line: Option<u64>,
    /// What is wrong.
    pub message: String,
}

impl DataError {
    fn new(file: &'static str, line: Option<u64>, message: impl Into<String>) -> Self {
        DataError {
            file,
            line,
            message: message.into(),
        }
    }
}

/// Where a code stands in its ANS table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeStatus {
    /// Usable.
    Active,
    /// Withdrawn by ANS (FHIR `deprecated`, NOS `dateFin`): kept so that old records stay
    /// readable, refused for new ones.
    Deprecated {
        /// The withdrawal date, when the table gives it.
        since: Option<Date>,
    },
}

impl CodeStatus {
    /// Whether the code may be used in new records.
    pub fn is_active(self) -> bool {
        matches!(self, CodeStatus::Active)
    }

    /// Reads `active` / `deprecated` plus an optional date column. The seed-derived files put
    /// the date in the status itself (`deprecated 2025-12-22`), which is accepted too.
    fn parse(status: &str, date: &str) -> Result<Self, String> {
        let status = status.trim();
        if status == "active" {
            return Ok(CodeStatus::Active);
        }
        let rest = status
            .strip_prefix("deprecated")
            .ok_or_else(|| format!("unknown status {status:?}"))?
            .trim();
        let date = if rest.is_empty() { date.trim() } else { rest };
        Ok(CodeStatus::Deprecated {
            since: parse_optional_date(date)?,
        })
    }
}

fn parse_optional_date(s: &str) -> Result<Option<Date>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<Date>()
        .map(Some)
        .map_err(|e| format!("bad date {s:?}: {e}"))
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim() {
        "true" | "yes" => Ok(true),
        "false" | "no" => Ok(false),
        other => Err(format!("expected true/false or yes/no, got {other:?}")),
    }
}

fn non_empty(s: String) -> Option<String> {
    let t = s.trim();
    if t.is_empty() {
        None
    } else if t.len() == s.len() {
        Some(s)
    } else {
        Some(t.to_owned())
    }
}

/// Parses every record of an embedded CSV file, converting each with `convert`.
fn read_csv<R, T>(
    file: &'static str,
    text: &'static str,
    mut convert: impl FnMut(R) -> Result<T, String>,
) -> Result<Vec<T>, DataError>
where
    R: DeserializeOwned,
{
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| DataError::new(file, Some(1), e.to_string()))?
        .clone();
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line());
            DataError::new(file, line, e.to_string())
        })?;
        let line = record.position().map(|p| p.line());
        let row: R = record
            .deserialize(Some(&headers))
            .map_err(|e| DataError::new(file, line, e.to_string()))?;
        out.push(convert(row).map_err(|m| DataError::new(file, line, m))?);
    }
    Ok(out)
}

macro_rules! embedded {
    ($name:literal) => {
        ($name, include_str!(concat!("../../../../data/", $name)))
    };
}
use embedded;

/// All the small code tables (everything but the COG), parsed together.
#[derive(Debug)]
pub struct Tables {
    /// TRE_G15, TRE_R85, TRE_R94, TRE_R95, TRE_R291, plus the seed's profession list.
    pub professions: Professions,
    /// TRE_R22 GenreActivite.
    pub roles: Roles,
    /// Document types and the role × document-type matrix.
    pub documents: DocumentMatrix,
    /// Which professions may be registered in which setting.
    pub eligibility: EligibilityTable,
    /// TRE_R23 ModeExercice.
    pub exercise_modes: CodeTable,
    /// TRE_R81 Civilite.
    pub civilities: CodeTable,
    /// TRE_R10 SexeAdministratif.
    pub sexes: CodeTable,
    /// TRE_R11 CiviliteExercice.
    pub exercise_civilities: CodeTable,
    /// TRE_G08, TRE_G07 and FR Core identifier types.
    pub identifier_types: IdentifierTypes,
    /// TRE_R397 FINESS categories with the registry's setting.
    pub finess_categories: FinessCategories,
    /// When managers' habilitations require the e-learning.
    pub habilitation_policy: HabilitationPolicy,
}

impl Tables {
    fn load() -> Result<Self, DataError> {
        let professions = Professions::load()?;
        let roles = Roles::load()?;
        let documents = DocumentMatrix::load(&roles)?;
        let eligibility = EligibilityTable::load(&professions)?;
        Ok(Tables {
            professions,
            roles,
            documents,
            eligibility,
            exercise_modes: CodeTable::load(embedded!("exercise_modes.csv"))?,
            civilities: CodeTable::load(embedded!("civilities.csv"))?,
            sexes: CodeTable::load(embedded!("administrative_sexes.csv"))?,
            exercise_civilities: CodeTable::load(embedded!("exercise_civilities.csv"))?,
            identifier_types: IdentifierTypes::load()?,
            finess_categories: FinessCategories::load()?,
            habilitation_policy: HabilitationPolicy::load()?,
        })
    }
}

static TABLES: LazyLock<Result<Tables, DataError>> = LazyLock::new(Tables::load);
static COG: LazyLock<Result<Cog, DataError>> = LazyLock::new(Cog::load);

/// The code tables, parsed on first call.
pub fn tables() -> Result<&'static Tables, &'static DataError> {
    TABLES.as_ref()
}

/// The INSEE geographic code (communes, former codes, countries), parsed on first call. Kept
/// apart from [`tables`] because it is large (about 40,000 rows).
pub fn cog() -> Result<&'static Cog, &'static DataError> {
    COG.as_ref()
}

/// Parses every embedded table now and reports the first failure; call it at start-up.
pub fn check_all() -> Result<(), DataError> {
    tables().map_err(Clone::clone)?;
    cog().map_err(Clone::clone)?;
    Ok(())
}

/// The documents a role of the RPPS+ matrix may access (empty for other roles or if the data is
/// unavailable).
pub fn documents_for_role(role_code: &str) -> Vec<&'static DocumentAccess> {
    tables()
        .map(|t| t.documents.documents_for_role(role_code))
        .unwrap_or_default()
}

/// A document type by its code (`system`, `code`), with its label and class; successor codes
/// such as `ATTEST-DROITS-AM` included.
pub fn document_type(system: &str, code: &str) -> Option<&'static DocumentType> {
    tables().ok()?.documents.document_type(system, code)
}

/// Whether a role may access documents of type (`system`, `code`). Successor codes recorded as
/// aliases count as the code they replace. Denies when the data is unavailable.
pub fn role_permits(role_code: &str, system: &str, code: &str) -> bool {
    tables().is_ok_and(|t| t.documents.role_permits(role_code, system, code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_table_parses() {
        if let Err(e) = check_all() {
            panic!("{e}");
        }
    }

    #[test]
    fn status_parsing() {
        assert_eq!(CodeStatus::parse("active", ""), Ok(CodeStatus::Active));
        assert_eq!(
            CodeStatus::parse("deprecated", "2024-12-13"),
            Ok(CodeStatus::Deprecated {
                since: Some(jiff::civil::date(2024, 12, 13))
            })
        );
        assert_eq!(
            CodeStatus::parse("deprecated 2025-12-22", ""),
            Ok(CodeStatus::Deprecated {
                since: Some(jiff::civil::date(2025, 12, 22))
            })
        );
        assert_eq!(
            CodeStatus::parse("deprecated", ""),
            Ok(CodeStatus::Deprecated { since: None })
        );
        assert!(CodeStatus::parse("gone", "").is_err());
        assert!(CodeStatus::parse("deprecated", "13/12/2024").is_err());
    }

    #[test]
    fn a_malformed_file_is_an_error_not_a_panic() {
        #[derive(serde::Deserialize)]
        struct Row {
            code: String,
            status: String,
        }
        let bad = "code,status\nA,active\nB,\"unterminated\nC";
        let r = read_csv("bad.csv", bad, |r: Row| {
            CodeStatus::parse(&r.status, "").map(|s| (r.code, s))
        });
        assert!(r.is_err());
        let wrong_value = "code,status\nA,active\nB,maybe\n";
        let r = read_csv("bad.csv", wrong_value, |r: Row| {
            CodeStatus::parse(&r.status, "").map(|s| (r.code, s))
        });
        match r {
            Err(e) => {
                assert_eq!(e.file, "bad.csv");
                assert_eq!(e.line, Some(3));
                assert!(e.to_string().contains("line 3"), "{e}");
            }
            Ok(_) => panic!("accepted a bad status"),
        }
        let missing_column = "code\nA\n";
        assert!(read_csv("bad.csv", missing_column, |r: Row| Ok::<_, String>(r.code)).is_err());
    }
}
