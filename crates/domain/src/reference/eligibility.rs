//! Which professions may be registered through RPPS+ in which kind of structure, as listed by
//! the seed ("Qui enregistrer au RPPS+ ?").

use std::fmt;

use jiff::civil::Date;
use serde::Deserialize;

use super::professions::{Professions, TableId};
use super::{CodeStatus, DataError, embedded, non_empty, read_csv};

/// The kind of structure a professional is registered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Setting {
    /// Établissement ou service social ou médico-social.
    Esms,
    /// Pharmacie d'officine.
    Officine,
    /// Établissement de santé.
    EtablissementSanitaire,
    /// Anything else (schools, administrations…): no RPPS+ registration.
    Other,
}

impl Setting {
    /// The code used in the data files.
    pub fn code(self) -> &'static str {
        match self {
            Setting::Esms => "ESMS",
            Setting::Officine => "officine",
            Setting::EtablissementSanitaire => "etablissement_sanitaire",
            Setting::Other => "other",
        }
    }

    /// A French label for users.
    pub fn label(self) -> &'static str {
        match self {
            Setting::Esms => "Établissement ou service social ou médico-social (ESMS)",
            Setting::Officine => "Pharmacie d'officine",
            Setting::EtablissementSanitaire => "Établissement de santé",
            Setting::Other => "Autre structure",
        }
    }

    /// Reads a data-file code.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "ESMS" => Some(Setting::Esms),
            "officine" => Some(Setting::Officine),
            "etablissement_sanitaire" => Some(Setting::EtablissementSanitaire),
            "other" => Some(Setting::Other),
            _ => None,
        }
    }

    pub(super) fn parse_field(s: &str) -> Result<Self, String> {
        Self::parse(s).ok_or_else(|| format!("unknown setting {s:?}"))
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Whether a listed profession can be registered in a setting today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EligibilityStatus {
    /// Registrable.
    Active,
    /// The code has been withdrawn; registrations must use its successor.
    Retired {
        /// The withdrawal date.
        since: Option<Date>,
    },
    /// Announced by the seed but not open yet.
    Announced,
}

/// One line of the eligibility list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eligibility {
    /// The setting.
    pub setting: Setting,
    /// The profession as named in the seed.
    pub label_in_seed: String,
    /// The code's table.
    pub table: TableId,
    /// The code.
    pub code: String,
    /// Registrable, retired or announced.
    pub status: EligibilityStatus,
    /// Explanation (English), e.g. "announced as coming soon for ESMS in the seed".
    pub note: Option<String>,
}

/// The eligibility list.
#[derive(Debug, Clone)]
pub struct EligibilityTable {
    rows: Vec<Eligibility>,
}

#[derive(Deserialize)]
struct Row {
    setting: String,
    label_in_seed: String,
    table: String,
    code: String,
    status: String,
    note: String,
}

impl EligibilityTable {
    pub(super) fn load(professions: &Professions) -> Result<Self, DataError> {
        let (file, text) = embedded!("eligibility_by_setting.csv");
        let rows = read_csv(file, text, |r: Row| {
            let table = TableId::parse_field(&r.table)?;
            if professions.get(table, &r.code).is_none() {
                return Err(format!("{table} {} is not a known profession", r.code));
            }
            let status = if r.status.trim() == "announced" {
                EligibilityStatus::Announced
            } else {
                match CodeStatus::parse(&r.status, "")? {
                    CodeStatus::Active => EligibilityStatus::Active,
                    CodeStatus::Deprecated { since } => EligibilityStatus::Retired { since },
                }
            };
            Ok(Eligibility {
                setting: Setting::parse_field(&r.setting)?,
                label_in_seed: r.label_in_seed,
                table,
                code: r.code,
                status,
                note: non_empty(r.note),
            })
        })?;
        Ok(EligibilityTable { rows })
    }

    /// Every line, in the seed's order.
    pub fn all(&self) -> &[Eligibility] {
        &self.rows
    }

    /// The lines of a setting, whatever their status.
    pub fn for_setting(&self, setting: Setting) -> impl Iterator<Item = &Eligibility> {
        self.rows.iter().filter(move |e| e.setting == setting)
    }

    /// The line of a profession in a setting, when listed.
    pub fn get(&self, setting: Setting, table: TableId, code: &str) -> Option<&Eligibility> {
        self.rows
            .iter()
            .find(|e| e.setting == setting && e.table == table && e.code == code)
    }

    /// Whether a profession may be registered in a setting now: listed there and active.
    pub fn may_register(&self, setting: Setting, table: TableId, code: &str) -> bool {
        self.get(setting, table, code)
            .is_some_and(|e| e.status == EligibilityStatus::Active)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::tables;

    #[test]
    fn eligibility_by_setting() -> Result<(), String> {
        let e = &tables().map_err(|e| e.to_string())?.eligibility;
        assert_eq!(e.all().len(), 28);
        assert_eq!(e.for_setting(Setting::Esms).count(), 22);
        assert_eq!(e.for_setting(Setting::Officine).count(), 1);
        assert_eq!(e.for_setting(Setting::EtablissementSanitaire).count(), 5);
        assert_eq!(e.for_setting(Setting::Other).count(), 0);
        assert!(e.may_register(Setting::Esms, TableId::R85, "328"));
        assert!(!e.may_register(Setting::Officine, TableId::R85, "328"));
        assert!(e.may_register(Setting::Officine, TableId::R85, "317"));
        assert!(e.may_register(Setting::EtablissementSanitaire, TableId::R85, "329"));
        assert!(e.may_register(Setting::Esms, TableId::R85, "329"));
        assert!(!e.may_register(Setting::Esms, TableId::R85, "323"));
        assert_eq!(
            e.get(Setting::Esms, TableId::R85, "318").map(|l| l.status),
            Some(EligibilityStatus::Retired {
                since: Some(jiff::civil::date(2025, 12, 22))
            })
        );
        assert_eq!(
            e.get(Setting::EtablissementSanitaire, TableId::G15, "10")
                .map(|l| l.status),
            Some(EligibilityStatus::Announced)
        );
        assert!(!e.may_register(Setting::EtablissementSanitaire, TableId::G15, "10"));
        Ok(())
    }

    #[test]
    fn setting_codes_round_trip() {
        for s in [
            Setting::Esms,
            Setting::Officine,
            Setting::EtablissementSanitaire,
            Setting::Other,
        ] {
            assert_eq!(Setting::parse(s.code()), Some(s));
            assert_eq!(s.to_string(), s.code());
        }
        assert_eq!(Setting::parse("esms"), None);
    }
}
