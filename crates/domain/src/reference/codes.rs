//! Small ANS code tables sharing one layout: TRE_R23 ModeExercice, TRE_R81 Civilite,
//! TRE_R10 SexeAdministratif, TRE_R11 CiviliteExercice; and the identifier-type tables.

use serde::Deserialize;

use super::{CodeStatus, DataError, embedded, non_empty, read_csv};

/// One code of a simple ANS table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleCode {
    /// The code, e.g. `S` or `MME`.
    pub code: String,
    /// The official label.
    pub label: String,
    /// The official short label, when different.
    pub short_label: Option<String>,
    /// Whether the code is still usable.
    pub status: CodeStatus,
    /// The FHIR `system` of the table.
    pub system: String,
}

/// A simple ANS code table, in file order.
#[derive(Debug, Clone)]
pub struct CodeTable {
    file: &'static str,
    codes: Vec<SimpleCode>,
}

#[derive(Deserialize)]
struct CodeRow {
    code: String,
    label: String,
    short_label: String,
    status: String,
    deprecation_date: String,
    code_system: String,
}

impl CodeTable {
    pub(super) fn load((file, text): (&'static str, &'static str)) -> Result<Self, DataError> {
        let codes = read_csv(file, text, |r: CodeRow| {
            Ok(SimpleCode {
                status: CodeStatus::parse(&r.status, &r.deprecation_date)?,
                code: r.code,
                label: r.label,
                short_label: non_empty(r.short_label),
                system: r.code_system,
            })
        })?;
        Ok(CodeTable { file, codes })
    }

    /// The file this table comes from, relative to `data/`.
    pub fn file(&self) -> &'static str {
        self.file
    }

    /// Every code, retired ones included, in the table's order.
    pub fn all(&self) -> &[SimpleCode] {
        &self.codes
    }

    /// The codes usable in new records, e.g. to fill a drop-down list.
    pub fn active(&self) -> impl Iterator<Item = &SimpleCode> {
        self.codes.iter().filter(|c| c.status.is_active())
    }

    /// The entry for a code (exact, case-sensitive as in the ANS table).
    pub fn get(&self, code: &str) -> Option<&SimpleCode> {
        self.codes.iter().find(|c| c.code == code)
    }

    /// The label of a code.
    pub fn label(&self, code: &str) -> Option<&str> {
        self.get(code).map(|c| c.label.as_str())
    }
}

/// One identifier type: a TRE_G08 person type, a TRE_G07 structure type (the digit prefixed to
/// an idNat), or a FR Core FHIR `Identifier.type` code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentifierType {
    /// `person`, `structure` or `fhir-identifier-type`.
    pub applies_to: String,
    /// The table name, e.g. `TRE_G08-TypeIdentifiantPersonne`.
    pub table: String,
    /// The FHIR `system` of the table.
    pub system: String,
    /// The code, e.g. `8` or `RPPS`.
    pub code: String,
    /// The official label.
    pub label: String,
    /// Whether the code is still usable; `None` for codes seen in examples but not found in
    /// their code system.
    pub status: Option<CodeStatus>,
    /// How the code is used.
    pub usage: String,
}

/// Identifier types of persons, structures and FHIR identifiers.
#[derive(Debug, Clone)]
pub struct IdentifierTypes {
    types: Vec<IdentifierType>,
}

#[derive(Deserialize)]
struct IdentifierRow {
    applies_to: String,
    table: String,
    code_system: String,
    code: String,
    label: String,
    status: String,
    deprecation_date: String,
    usage: String,
}

impl IdentifierTypes {
    pub(super) fn load() -> Result<Self, DataError> {
        let (file, text) = embedded!("identifier_types.csv");
        let types = read_csv(file, text, |r: IdentifierRow| {
            let status = if r.status == "unverified" {
                None
            } else {
                Some(CodeStatus::parse(&r.status, &r.deprecation_date)?)
            };
            Ok(IdentifierType {
                applies_to: r.applies_to,
                table: r.table,
                system: r.code_system,
                code: r.code,
                label: r.label,
                status,
                usage: r.usage,
            })
        })?;
        Ok(IdentifierTypes { types })
    }

    /// Every identifier type, in file order.
    pub fn all(&self) -> &[IdentifierType] {
        &self.types
    }

    /// A TRE_G08 person identifier type by code (`8` = RPPS, `0` = ADELI…).
    pub fn person(&self, code: &str) -> Option<&IdentifierType> {
        self.find("person", code)
    }

    /// A TRE_G07 structure identifier type by code (`1` = FINESS, `3` = SIRET…).
    pub fn structure(&self, code: &str) -> Option<&IdentifierType> {
        self.find("structure", code)
    }

    /// A FR Core FHIR identifier type by code (`RPPS`, `IDNPS`, `FINEG`…).
    pub fn fhir(&self, code: &str) -> Option<&IdentifierType> {
        self.find("fhir-identifier-type", code)
    }

    fn find(&self, applies_to: &str, code: &str) -> Option<&IdentifierType> {
        self.types
            .iter()
            .find(|t| t.applies_to == applies_to && t.code == code)
    }
}

#[cfg(test)]
mod tests {
    use crate::reference::{CodeStatus, tables};

    #[test]
    fn simple_tables() -> Result<(), String> {
        let t = tables().map_err(|e| e.to_string())?;
        let modes: Vec<_> = t
            .exercise_modes
            .all()
            .iter()
            .map(|c| c.code.as_str())
            .collect();
        assert_eq!(modes, ["S", "L", "B", "I"]);
        assert_eq!(t.exercise_modes.label("B"), Some("Bénévole"));
        assert_eq!(t.civilities.label("MME"), Some("Madame"));
        assert!(
            !t.civilities
                .get("MLLE")
                .is_some_and(|c| c.status.is_active())
        );
        assert_eq!(t.civilities.active().count(), 2);
        assert_eq!(t.sexes.label("F"), Some("Féminin"));
        assert_eq!(t.sexes.all().len(), 2);
        assert_eq!(t.exercise_civilities.label("PR"), Some("Professeur"));
        assert_eq!(t.exercise_civilities.all().len(), 6);
        assert!(t.exercise_modes.get("s").is_none());
        Ok(())
    }

    #[test]
    fn identifier_types() -> Result<(), String> {
        let t = &tables().map_err(|e| e.to_string())?.identifier_types;
        assert_eq!(t.all().len(), 38);
        assert_eq!(t.person("8").map(|i| i.label.as_str()), Some("N° RPPS"));
        assert_eq!(t.structure("1").map(|i| i.label.as_str()), Some("FINESS"));
        assert_eq!(
            t.fhir("IDNPS").map(|i| i.status),
            Some(Some(CodeStatus::Active))
        );
        assert_eq!(t.fhir("RPPSRG").map(|i| i.status), Some(None));
        assert!(
            t.person("2")
                .is_some_and(|i| !i.status.is_some_and(|s| s.is_active()))
        );
        Ok(())
    }
}
