//! TRE_R22 GenreActivite: the "rôle RPPS+" of a professional in a structure is one of its codes
//! GENR08–GENR12.

use jiff::civil::Date;
use serde::Deserialize;

use super::{
    CodeStatus, DataError, embedded, non_empty, parse_bool, parse_optional_date, read_csv,
};

/// A TRE_R22 GenreActivite code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// The code, `GENR01`…`GENR13`, `GENR99`.
    pub code: String,
    /// The official label.
    pub label: String,
    /// The official short label.
    pub short_label: String,
    /// Active or retired.
    pub status: CodeStatus,
    /// First day of validity.
    pub valid_from: Option<Date>,
    /// Whether the code is in JDV_J116_GenreActivite_ENREG (choosable in RPPS+).
    pub enreg: bool,
    /// Whether it is one of the five RPPS+ roles of the seed (`is_rpps_plus_role_in_seed`).
    pub is_rpps_plus_role: bool,
    /// The wording of the seed, for the five RPPS+ roles.
    pub seed_label: Option<String>,
    /// The FHIR `system` of TRE_R22.
    pub system: String,
}

/// The TRE_R22 table.
#[derive(Debug, Clone)]
pub struct Roles {
    roles: Vec<Role>,
}

#[derive(Deserialize)]
struct RoleRow {
    code: String,
    label: String,
    short_label: String,
    status: String,
    deprecation_date: String,
    date_valid: String,
    #[serde(rename = "in_JDV_J116_GenreActivite_ENREG")]
    in_j116: String,
    is_rpps_plus_role_in_seed: String,
    seed_role_label: String,
    code_system: String,
}

impl Roles {
    pub(super) fn load() -> Result<Self, DataError> {
        let (file, text) = embedded!("rpps_plus_roles.csv");
        let roles = read_csv(file, text, |r: RoleRow| {
            Ok(Role {
                status: CodeStatus::parse(&r.status, &r.deprecation_date)?,
                valid_from: parse_optional_date(&r.date_valid)?,
                enreg: parse_bool(&r.in_j116)?,
                is_rpps_plus_role: parse_bool(&r.is_rpps_plus_role_in_seed)?,
                seed_label: non_empty(r.seed_role_label),
                code: r.code,
                label: r.label,
                short_label: r.short_label,
                system: r.code_system,
            })
        })?;
        Ok(Roles { roles })
    }

    /// Every TRE_R22 code, in file order.
    pub fn all(&self) -> &[Role] {
        &self.roles
    }

    /// A code.
    pub fn get(&self, code: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.code == code)
    }

    /// The five RPPS+ roles (GENR08–GENR12), in code order.
    pub fn rpps_plus_roles(&self) -> impl Iterator<Item = &Role> {
        self.roles.iter().filter(|r| r.is_rpps_plus_role)
    }

    /// Whether `code` is one of the five RPPS+ roles.
    pub fn is_rpps_plus_role(&self, code: &str) -> bool {
        self.get(code).is_some_and(|r| r.is_rpps_plus_role)
    }
}

#[cfg(test)]
mod tests {
    use crate::reference::tables;

    #[test]
    fn the_five_rpps_plus_roles() -> Result<(), String> {
        let roles = &tables().map_err(|e| e.to_string())?.roles;
        assert_eq!(roles.all().len(), 14);
        let five: Vec<_> = roles.rpps_plus_roles().map(|r| r.code.as_str()).collect();
        assert_eq!(five, ["GENR08", "GENR09", "GENR10", "GENR11", "GENR12"]);
        assert!(
            roles
                .rpps_plus_roles()
                .all(|r| r.enreg && r.status.is_active())
        );
        assert!(roles.rpps_plus_roles().all(|r| r.seed_label.is_some()));
        let g10 = roles.get("GENR10").ok_or("GENR10")?;
        assert_eq!(
            g10.label,
            "Accompagnement social/médico-social à la vie sociale, professionnelle, éducative"
        );
        assert!(roles.is_rpps_plus_role("GENR08"));
        assert!(!roles.is_rpps_plus_role("GENR01"));
        assert!(!roles.is_rpps_plus_role("genr08"));
        assert!(roles.get("GENR05").is_some_and(|r| !r.status.is_active()));
        assert_eq!(
            roles.get("GENR99").map(|r| r.short_label.as_str()),
            Some("Autre")
        );
        Ok(())
    }
}
