//! Professions: TRE_G15 ProfessionSante, TRE_R85 RolePriseCharge (the "profession" chosen in
//! the RPPS+ portal), TRE_R94, TRE_R95, TRE_R291, the seed's list of 30 professions, and the
//! successor of each retired profession code.

use std::fmt;

use jiff::civil::Date;
use serde::Deserialize;

use super::{
    CodeStatus, DataError, embedded, non_empty, parse_bool, parse_optional_date, read_csv,
};

/// The ANS table a profession code belongs to; codes overlap between tables (e.g. `93`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TableId {
    /// TRE_G15 ProfessionSante: professions of the Code de la santé publique.
    G15,
    /// TRE_R85 RolePriseCharge: roles, used as the profession of RPPS+ registrations.
    R85,
    /// TRE_R94 ProfessionSocial (its codes 42–53 were moved to TRE_R85 in 2024).
    R94,
    /// TRE_R95 UsagerTitre.
    R95,
    /// TRE_R291 AutreProfession.
    R291,
}

impl TableId {
    /// The table name as written in the files and in ANS publications.
    pub fn name(self) -> &'static str {
        match self {
            TableId::G15 => "TRE_G15-ProfessionSante",
            TableId::R85 => "TRE_R85-RolePriseCharge",
            TableId::R94 => "TRE_R94-ProfessionSocial",
            TableId::R95 => "TRE_R95-UsagerTitre",
            TableId::R291 => "TRE_R291-AutreProfession",
        }
    }

    /// The short name, e.g. `TRE_R85`.
    pub fn short_name(self) -> &'static str {
        let name = self.name();
        name.split('-').next().unwrap_or(name)
    }

    /// The FHIR `system` of the table.
    pub fn system(self) -> &'static str {
        match self {
            TableId::G15 => {
                "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante"
            }
            TableId::R85 => {
                "https://mos.esante.gouv.fr/NOS/TRE_R85-RolePriseCharge/FHIR/TRE-R85-RolePriseCharge"
            }
            TableId::R94 => {
                "https://mos.esante.gouv.fr/NOS/TRE_R94-ProfessionSocial/FHIR/TRE-R94-ProfessionSocial"
            }
            TableId::R95 => {
                "https://mos.esante.gouv.fr/NOS/TRE_R95-UsagerTitre/FHIR/TRE-R95-UsagerTitre"
            }
            TableId::R291 => {
                "https://mos.esante.gouv.fr/NOS/TRE_R291-AutreProfession/FHIR/TRE-R291-AutreProfession"
            }
        }
    }

    /// Reads a table name (`TRE_R85-RolePriseCharge` or `TRE_R85`).
    pub fn parse(s: &str) -> Option<Self> {
        let short = s.trim().split('-').next().unwrap_or_default();
        match short {
            "TRE_G15" => Some(TableId::G15),
            "TRE_R85" => Some(TableId::R85),
            "TRE_R94" => Some(TableId::R94),
            "TRE_R95" => Some(TableId::R95),
            "TRE_R291" => Some(TableId::R291),
            _ => None,
        }
    }

    pub(super) fn parse_field(s: &str) -> Result<Self, String> {
        Self::parse(s).ok_or_else(|| format!("unknown profession table {s:?}"))
    }
}

impl fmt::Display for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether a code may be chosen when registering through RPPS+ (value set
/// JDV_J121_RolePriseCharge_ENREG).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Enreg {
    /// In the value set.
    Yes,
    /// Not in the value set.
    No,
    /// The question does not arise: the code is not a TRE_R85 role (ordinal professions are
    /// registered by their Ordre, not through RPPS+).
    NotApplicable,
}

impl Enreg {
    fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "yes" => Ok(Enreg::Yes),
            "no" => Ok(Enreg::No),
            s if s.starts_with("n/a") => Ok(Enreg::NotApplicable),
            other => Err(format!("expected yes/no/n/a, got {other:?}")),
        }
    }
}

/// A profession or role code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profession {
    /// Its table.
    pub table: TableId,
    /// The code, e.g. `328`.
    pub code: String,
    /// The official label.
    pub label: String,
    /// Active or retired.
    pub status: CodeStatus,
    /// Whether the code is in JDV_J106 (professions of the RASS extracts).
    pub in_rass_professions: bool,
    /// Whether the code may be chosen in an RPPS+ registration (`in_JDV_J121_RolePriseCharge_ENREG`).
    pub enreg: Enreg,
    /// The label shown by the ENREG value set when it differs from the table's.
    pub enreg_label: Option<String>,
    /// First day of validity, when the table gives it.
    pub valid_from: Option<Date>,
    /// Explanatory note from the seed's profession list (English), e.g. what to choose instead.
    pub note: Option<String>,
}

impl Profession {
    /// Whether this code may be chosen in a new RPPS+ registration.
    pub fn is_registrable(&self) -> bool {
        self.status.is_active() && self.enreg == Enreg::Yes
    }
}

/// One of the 30 professions listed by the seed presentation, with its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedProfession {
    /// The label as written in the seed.
    pub label_in_seed: String,
    /// The table of its code.
    pub table: TableId,
    /// The code.
    pub code: String,
    /// The official label of the code.
    pub official_label: String,
    /// Whether the code is active.
    pub status: CodeStatus,
    /// Whether it may be chosen in an RPPS+ registration.
    pub enreg: Enreg,
    /// Explanation (English), e.g. the codes it replaces.
    pub note: Option<String>,
}

/// A code to use instead of a retired profession code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Successor {
    /// The retired code's table.
    pub table: TableId,
    /// The retired code.
    pub code: String,
    /// The successor's table.
    pub successor_table: TableId,
    /// The successor code.
    pub successor_code: String,
    /// When this successor applies rather than another (French, to show to users).
    pub condition: Option<String>,
    /// Where the succession comes from.
    pub source: String,
}

/// All profession tables.
#[derive(Debug, Clone)]
pub struct Professions {
    professions: Vec<Profession>,
    seed: Vec<SeedProfession>,
    successors: Vec<Successor>,
}

#[derive(Deserialize)]
struct ProfessionRow {
    table: String,
    code: String,
    label: String,
    status: String,
    deprecation_date: String,
    #[serde(rename = "in_JDV_J106_EnsembleProfession_RASS")]
    in_j106: String,
    #[serde(rename = "in_JDV_J121_RolePriseCharge_ENREG")]
    in_j121: String,
    #[serde(rename = "label_in_JDV_J121_if_different")]
    j121_label: String,
    date_valid: String,
}

#[derive(Deserialize)]
struct SeedRow {
    label_in_seed: String,
    table: String,
    code: String,
    official_label: String,
    status: String,
    #[serde(rename = "in_JDV_J121_RolePriseCharge_ENREG")]
    in_j121: String,
    note: String,
}

#[derive(Deserialize)]
struct SuccessorRow {
    table: String,
    code: String,
    successor_table: String,
    successor_code: String,
    condition: String,
    source: String,
}

impl Professions {
    pub(super) fn load() -> Result<Self, DataError> {
        let (file, text) = embedded!("rpps_plus_seed_professions.csv");
        let seed = read_csv(file, text, |r: SeedRow| {
            Ok(SeedProfession {
                label_in_seed: r.label_in_seed,
                table: TableId::parse_field(&r.table)?,
                code: r.code,
                official_label: r.official_label,
                status: CodeStatus::parse(&r.status, "")?,
                enreg: Enreg::parse(&r.in_j121)?,
                note: non_empty(r.note),
            })
        })?;

        let (file, text) = embedded!("professions.csv");
        let professions = read_csv(file, text, |r: ProfessionRow| {
            let table = TableId::parse_field(&r.table)?;
            let note = seed
                .iter()
                .find(|s| s.table == table && s.code == r.code)
                .and_then(|s| s.note.clone());
            Ok(Profession {
                table,
                status: CodeStatus::parse(&r.status, &r.deprecation_date)?,
                in_rass_professions: parse_bool(&r.in_j106)?,
                enreg: Enreg::parse(&r.in_j121)?,
                enreg_label: non_empty(r.j121_label),
                valid_from: parse_optional_date(&r.date_valid)?,
                code: r.code,
                label: r.label,
                note,
            })
        })?;

        let known = |t: TableId, c: &str| professions.iter().any(|p| p.table == t && p.code == c);
        for s in &seed {
            if !known(s.table, &s.code) {
                return Err(DataError::new(
                    file,
                    None,
                    format!(
                        "seed profession {} {} is not in professions.csv",
                        s.table, s.code
                    ),
                ));
            }
        }

        let (file, text) = embedded!("profession_successors.csv");
        let successors = read_csv(file, text, |r: SuccessorRow| {
            let s = Successor {
                table: TableId::parse_field(&r.table)?,
                code: r.code,
                successor_table: TableId::parse_field(&r.successor_table)?,
                successor_code: r.successor_code,
                condition: non_empty(r.condition),
                source: r.source,
            };
            // A successor must exist and be usable, or the guidance would send users in circles.
            let target = professions
                .iter()
                .find(|p| p.table == s.successor_table && p.code == s.successor_code);
            match target {
                Some(p) if p.status.is_active() => {}
                _ => {
                    return Err(format!(
                        "successor {} {} is unknown or retired",
                        s.successor_table, s.successor_code
                    ));
                }
            }
            if !known(s.table, &s.code) {
                return Err(format!("retired code {} {} is unknown", s.table, s.code));
            }
            Ok(s)
        })?;

        Ok(Professions {
            professions,
            seed,
            successors,
        })
    }

    /// Every code of every profession table, in file order.
    pub fn all(&self) -> &[Profession] {
        &self.professions
    }

    /// The codes of one table.
    pub fn in_table(&self, table: TableId) -> impl Iterator<Item = &Profession> {
        self.professions.iter().filter(move |p| p.table == table)
    }

    /// A code of a table.
    pub fn get(&self, table: TableId, code: &str) -> Option<&Profession> {
        self.professions
            .iter()
            .find(|p| p.table == table && p.code == code)
    }

    /// A TRE_R85 RolePriseCharge code (the profession of an RPPS+ registration).
    pub fn r85(&self, code: &str) -> Option<&Profession> {
        self.get(TableId::R85, code)
    }

    /// A TRE_G15 ProfessionSante code.
    pub fn g15(&self, code: &str) -> Option<&Profession> {
        self.get(TableId::G15, code)
    }

    /// The TRE_R85 codes that may be chosen in a new RPPS+ registration.
    pub fn registrable(&self) -> impl Iterator<Item = &Profession> {
        self.in_table(TableId::R85).filter(|p| p.is_registrable())
    }

    /// The professions of the seed presentation, in its order.
    pub fn seed(&self) -> &[SeedProfession] {
        &self.seed
    }

    /// The codes to use instead of a retired code (empty when none is recorded).
    pub fn successors(&self, table: TableId, code: &str) -> Vec<&Successor> {
        self.successors
            .iter()
            .filter(|s| s.table == table && s.code == code)
            .collect()
    }

    /// French guidance for a retired code, naming what to choose instead; `None` when the code
    /// is unknown, active, or has no recorded successor.
    pub fn retired_guidance(&self, table: TableId, code: &str) -> Option<String> {
        let p = self.get(table, code)?;
        let CodeStatus::Deprecated { since } = p.status else {
            return None;
        };
        let successors = self.successors(table, code);
        if successors.is_empty() {
            return None;
        }
        let choices: Vec<String> = successors
            .iter()
            .filter_map(|s| {
                let target = self.get(s.successor_table, &s.successor_code)?;
                let mut choice = format!("« {} » ({})", target.label, target.code);
                if let Some(c) = &s.condition {
                    choice.push(' ');
                    choice.push_str(c);
                }
                Some(choice)
            })
            .collect();
        let since = since
            .map(|d| format!(" depuis le {}", crate::validation::format_date_fr(d)))
            .unwrap_or_default();
        Some(format!(
            "Le code « {} » n'est plus utilisable{since}. Choisissez : {}.",
            p.label,
            choices.join(" ; ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::tables;

    fn professions() -> Result<&'static Professions, String> {
        tables().map(|t| &t.professions).map_err(|e| e.to_string())
    }

    #[test]
    fn tables_and_counts() -> Result<(), String> {
        let p = professions()?;
        assert_eq!(p.all().len(), 148);
        assert_eq!(p.in_table(TableId::G15).count(), 30);
        assert_eq!(p.in_table(TableId::R85).count(), 80);
        assert_eq!(
            p.in_table(TableId::R85)
                .filter(|p| p.enreg == Enreg::Yes)
                .count(),
            60
        );
        assert_eq!(p.seed().len(), 30);
        // Codes overlap between tables.
        assert_eq!(p.g15("93").map(|p| p.status.is_active()), Some(false));
        assert_eq!(
            p.get(TableId::R95, "93").map(|p| p.status.is_active()),
            Some(true)
        );
        Ok(())
    }

    #[test]
    fn r85_entries() -> Result<(), String> {
        let p = professions()?;
        let aes = p.r85("328").ok_or("328")?;
        assert_eq!(aes.label, "Accompagnant éducatif et social");
        assert!(aes.is_registrable());
        assert!(aes.note.as_deref().is_some_and(|n| n.contains("371/372")));
        let amp = p.r85("323").ok_or("323")?;
        assert_eq!(
            amp.status,
            CodeStatus::Deprecated {
                since: Some(jiff::civil::date(2025, 12, 22))
            }
        );
        assert!(!amp.is_registrable());
        let osnp = p.r85("370").ok_or("370")?;
        assert_eq!(
            osnp.enreg_label.as_deref(),
            Some("Opérateur de Soins Non Programmés")
        );
        assert_eq!(
            p.r85("379").and_then(|p| p.valid_from),
            Some(jiff::civil::date(2026, 5, 5))
        );
        assert_eq!(p.g15("10").map(|p| p.enreg), Some(Enreg::NotApplicable));
        assert!(
            p.registrable()
                .all(|p| p.table == TableId::R85 && p.status.is_active())
        );
        assert_eq!(p.registrable().count(), 60);
        Ok(())
    }

    #[test]
    fn retired_codes_come_with_guidance() -> Result<(), String> {
        let p = professions()?;
        let g = p
            .retired_guidance(TableId::R85, "323")
            .ok_or("no guidance for 323")?;
        assert!(g.contains("22/12/2025"), "{g}");
        assert!(
            g.contains("« Accompagnant éducatif et social » (328)"),
            "{g}"
        );
        assert!(g.contains("(372) pour une activité au domicile"), "{g}");
        assert!(p.retired_guidance(TableId::R85, "328").is_none());
        assert!(p.retired_guidance(TableId::R85, "999").is_none());
        let g = p
            .retired_guidance(TableId::G15, "35")
            .ok_or("no guidance for G15 35")?;
        assert!(g.contains("(313)"), "{g}");
        // Every retired R85 code that the seed lists has somewhere to go.
        for s in p.seed() {
            if !s.status.is_active() {
                assert!(!p.successors(s.table, &s.code).is_empty(), "{}", s.code);
            }
        }
        Ok(())
    }

    #[test]
    fn table_names() {
        assert_eq!(TableId::parse("TRE_R85"), Some(TableId::R85));
        assert_eq!(
            TableId::parse("TRE_G15-ProfessionSante"),
            Some(TableId::G15)
        );
        assert_eq!(TableId::parse("R85"), None);
        assert_eq!(TableId::R291.short_name(), "TRE_R291");
        for t in [
            TableId::G15,
            TableId::R85,
            TableId::R94,
            TableId::R95,
            TableId::R291,
        ] {
            assert_eq!(TableId::parse(t.name()), Some(t));
            assert!(t.system().ends_with(&t.name().replace('_', "-")));
        }
    }
}
