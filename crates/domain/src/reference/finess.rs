//! FINESS establishment categories (TRE_R397) and the kind of structure each one is for the
//! registry.

use jiff::civil::Date;
use serde::Deserialize;

use super::eligibility::Setting;
use super::{
    CodeStatus, DataError, embedded, non_empty, parse_bool, parse_optional_date, read_csv,
};

/// A FINESS *catégorie d'établissement* (`categetab`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinessCategory {
    /// The 3-digit code.
    pub code: String,
    /// The TRE_R397 label (FINESS extracts may differ in case or apostrophes: match on codes).
    pub label: String,
    /// The level-3 aggregate (`categagretab`), absent for ROR-only categories.
    pub aggregate_code: Option<String>,
    /// Its label.
    pub aggregate_label: Option<String>,
    /// The level-2 aggregate.
    pub aggregate_level2: Option<String>,
    /// The level-1 aggregate.
    pub aggregate_level1: Option<String>,
    /// `SAN`, `SOC`, `ENS` or `ADM`; absent for ROR-only categories.
    pub domain: Option<String>,
    /// The kind of structure for the registry (a judgement, not an ANS property).
    pub setting: Setting,
    /// Whether that judgement is uncertain (see `note`).
    pub setting_uncertain: bool,
    /// Active or retired in TRE_R397.
    pub status: CodeStatus,
    /// End of validity of a retired category.
    pub date_end: Option<Date>,
    /// Whether the category exists only in the ROR, not in FINESS.
    pub ror_only: bool,
    /// Why the setting was chosen, when not obvious.
    pub note: Option<String>,
}

/// All FINESS categories.
#[derive(Debug, Clone)]
pub struct FinessCategories {
    categories: Vec<FinessCategory>,
}

#[derive(Deserialize)]
struct Row {
    code: String,
    label: String,
    aggregate_code: String,
    aggregate_label: String,
    setting: String,
    setting_uncertain: String,
    status: String,
    date_end: String,
    domain: String,
    aggregate_level2: String,
    aggregate_level1: String,
    ror_only: String,
    note: String,
}

impl FinessCategories {
    pub(super) fn load() -> Result<Self, DataError> {
        let (file, text) = embedded!("finess_categories.csv");
        let categories = read_csv(file, text, |r: Row| {
            if r.code.len() != 3 || !r.code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("bad category code {:?}", r.code));
            }
            Ok(FinessCategory {
                status: CodeStatus::parse(&r.status, &r.date_end)?,
                date_end: parse_optional_date(&r.date_end)?,
                setting: Setting::parse_field(&r.setting)?,
                setting_uncertain: parse_bool(&r.setting_uncertain)?,
                ror_only: parse_bool(&r.ror_only)?,
                code: r.code,
                label: r.label,
                aggregate_code: non_empty(r.aggregate_code),
                aggregate_label: non_empty(r.aggregate_label),
                aggregate_level2: non_empty(r.aggregate_level2),
                aggregate_level1: non_empty(r.aggregate_level1),
                domain: non_empty(r.domain),
                note: non_empty(r.note),
            })
        })?;
        let mut categories = categories;
        categories.sort_by(|a, b| a.code.cmp(&b.code));
        if let Some(w) = categories.windows(2).find(|w| w[0].code == w[1].code) {
            return Err(DataError::new(
                file,
                None,
                format!("duplicate category {}", w[0].code),
            ));
        }
        Ok(FinessCategories { categories })
    }

    /// Every category, retired ones included, sorted by code.
    pub fn all(&self) -> &[FinessCategory] {
        &self.categories
    }

    /// A category by code.
    pub fn get(&self, code: &str) -> Option<&FinessCategory> {
        let code = code.trim();
        self.categories
            .binary_search_by(|c| c.code.as_str().cmp(code))
            .ok()
            .and_then(|i| self.categories.get(i))
    }

    /// The kind of structure of an establishment of this category.
    pub fn setting(&self, code: &str) -> Option<Setting> {
        self.get(code).map(|c| c.setting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::tables;

    #[test]
    fn categories() -> Result<(), String> {
        let f = &tables().map_err(|e| e.to_string())?.finess_categories;
        assert_eq!(f.all().len(), 322);
        assert_eq!(f.all().iter().filter(|c| c.status.is_active()).count(), 170);
        assert_eq!(f.setting("620"), Some(Setting::Officine));
        assert_eq!(f.setting("101"), Some(Setting::EtablissementSanitaire));
        assert_eq!(f.setting("500"), Some(Setting::Esms));
        assert_eq!(f.setting("999"), None);
        let active = |s: Setting| {
            f.all()
                .iter()
                .filter(|c| c.status.is_active() && c.setting == s)
                .count()
        };
        assert_eq!(active(Setting::Esms), 77);
        assert_eq!(active(Setting::EtablissementSanitaire), 66);
        assert_eq!(active(Setting::Officine), 4);
        assert_eq!(active(Setting::Other), 23);
        let c = f.get("001").ok_or("001")?;
        assert_eq!(c.date_end, Some(jiff::civil::date(1999, 9, 15)));
        assert!(!c.status.is_active());
        assert!(f.get("641").is_some_and(|c| c.setting_uncertain));
        assert!(
            f.get("700")
                .is_some_and(|c| c.ror_only && c.domain.is_none())
        );
        Ok(())
    }
}
