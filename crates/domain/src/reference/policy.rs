//! Habilitation policy: from which date a manager's habilitation requires the completed
//! e-learning, per setting. Kept as data (`data/habilitation_policy.csv`) because the date is a
//! decision of the authority, not a property of the code.

use jiff::civil::Date;
use serde::Deserialize;

use super::eligibility::Setting;
use super::{DataError, embedded, read_csv};

#[derive(Deserialize)]
struct Row {
    setting: String,
    elearning_required_from: String,
}

/// The e-learning requirement per setting.
#[derive(Debug, Clone, Default)]
pub struct HabilitationPolicy {
    rules: Vec<(Setting, Date)>,
}

impl HabilitationPolicy {
    pub(super) fn load() -> Result<Self, DataError> {
        let (file, text) = embedded!("habilitation_policy.csv");
        let rules = read_csv(file, text, |r: Row| {
            let setting = Setting::parse_field(&r.setting)?;
            let from = r
                .elearning_required_from
                .trim()
                .parse::<Date>()
                .map_err(|e| format!("bad date {:?}: {e}", r.elearning_required_from))?;
            Ok((setting, from))
        })?;
        Ok(HabilitationPolicy { rules })
    }

    /// The date from which a habilitation in `setting` requires the e-learning, if ever.
    pub fn elearning_required_from(&self, setting: Setting) -> Option<Date> {
        self.rules
            .iter()
            .find(|(s, _)| *s == setting)
            .map(|(_, d)| *d)
    }

    /// Whether a habilitation granted on `on` in `setting` requires the e-learning.
    pub fn elearning_required(&self, setting: Setting, on: Date) -> bool {
        self.elearning_required_from(setting)
            .is_some_and(|from| on >= from)
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    #[test]
    fn esms_requires_the_elearning_from_april_2025() -> Result<(), DataError> {
        let p = HabilitationPolicy::load()?;
        assert_eq!(
            p.elearning_required_from(Setting::Esms),
            Some(date(2025, 4, 1))
        );
        assert!(!p.elearning_required(Setting::Esms, date(2025, 3, 31)));
        assert!(p.elearning_required(Setting::Esms, date(2025, 4, 1)));
        assert!(!p.elearning_required(Setting::Officine, date(2030, 1, 1)));
        Ok(())
    }
}
