//! Systems, profiles and code tables the directory's resources use, as the ANS IG "Annuaire
//! Santé" and FR Core spell them.

use crate::search::{OrgType, RoleCode, RoleField};
use rppsplus_domain::reference::{TableId, tables};

/// IDNPS (idNat_PS).
pub const IDNPS_SYSTEM: &str = "urn:oid:1.2.250.1.71.4.2.1";
/// RPPS number, as written by the IG and FR Core.
pub const RPPS_SYSTEM: &str = "https://rpps.esante.gouv.fr";
/// RPPS systems accepted in searches (the live API's documentation also shows the older one).
pub const RPPS_SYSTEMS: &[&str] = &[RPPS_SYSTEM, "http://rpps.fr"];
/// IDNST (idNat_Struct).
pub const IDNST_SYSTEM: &str = "urn:oid:1.2.250.1.71.4.2.2";
/// FINESS numbers.
pub const FINESS_SYSTEM: &str = "https://finess.esante.gouv.fr";
/// SIREN and SIRET numbers.
pub const SIRENE_SYSTEM: &str = "https://sirene.fr";
/// FR Core identifier types (IDNPS, RPPS, FINEG, FINEJ, SIRET, IDNST).
pub const IDENTIFIER_TYPE_SYSTEM: &str =
    "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203";
/// Identifier-type systems accepted in searches (FR Core and the older InteropSanté one).
pub const IDENTIFIER_TYPE_SYSTEMS: &[&str] = &[
    IDENTIFIER_TYPE_SYSTEM,
    "http://interopsante.org/fhir/CodeSystem/fr-v2-0203",
    "http://interopsante.org/CodeSystem/v2-0203",
];
/// Organization type LEGAL-ENTITY / GEOGRAPHICAL-ENTITY.
pub const ORGANIZATION_TYPE_SYSTEM: &str =
    "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-3307";
/// Organization-type systems accepted in searches.
pub const ORGANIZATION_TYPE_SYSTEMS: &[&str] = &[
    ORGANIZATION_TYPE_SYSTEM,
    "http://interopsante.org/fhir/CodeSystem/fr-v2-3307",
];
/// The IG extension naming which slice of Organization.type a coding fills.
pub const ORGANIZATION_TYPES_EXTENSION: &str =
    "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-ext-organization-types";
/// TRE_R66 catégorie d'établissement (the FINESS category).
pub const CATEGORY_SYSTEM: &str = "https://mos.esante.gouv.fr/NOS/TRE_R66-CategorieEtablissement/FHIR/TRE-R66-CategorieEtablissement";
/// TRE_R22 genre d'activité.
pub const GENRE_SYSTEM: &str =
    "https://mos.esante.gouv.fr/NOS/TRE_R22-GenreActivite/FHIR/TRE-R22-GenreActivite";
/// TRE_R23 mode d'exercice.
pub const PRACTICE_MODE_SYSTEM: &str =
    "https://mos.esante.gouv.fr/NOS/TRE_R23-ModeExercice/FHIR/TRE-R23-ModeExercice";
/// TRE_R11 civilité d'exercice.
pub const EXERCISE_CIVILITY_SYSTEM: &str =
    "https://mos.esante.gouv.fr/NOS/TRE_R11-CiviliteExercice/FHIR/TRE-R11-CiviliteExercice";
/// FR Core: the INSEE code of an address's commune.
pub const INSEE_CODE_EXTENSION: &str =
    "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code";
/// TRE_R13 commune (INSEE code).
pub const COMMUNE_SYSTEM: &str =
    "https://mos.esante.gouv.fr/NOS/TRE_R13-Commune/FHIR/TRE-R13-Commune";
/// The core extension carrying an organization's period.
pub const ORGANIZATION_PERIOD_EXTENSION: &str =
    "http://hl7.org/fhir/StructureDefinition/organization-period";

/// Profiles (unversioned canonicals, as the national API v2 lists them).
pub const PRACTITIONER_PROFILES: &[&str] = &[
    "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-practitioner",
    "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-dp-practitioner",
];
/// PractitionerRole profiles.
pub const PRACTITIONER_ROLE_PROFILES: &[&str] = &[
    "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-practitioner-role",
    "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-dp-practitionerrole",
];
/// Organization profiles.
pub const ORGANIZATION_PROFILES: &[&str] = &[
    "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-organization",
    "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-dp-organization",
];

/// TRE_R291 `99`, "acteur caractérisé par rôle": the profession shown for a professional
/// registered with a TRE_R85 rôle de prise en charge (as in the flat extracts).
pub const ROLE_BASED_PROFESSION: &str = "99";

/// Whether a stored profession code is a TRE_R85 rôle (else a TRE_G15 profession): the rule of
/// the flat extracts.
pub fn is_role_based(code: &str) -> bool {
    let t = tables().ok();
    let r85 = t.and_then(|t| t.professions.r85(code)).is_some();
    let g15 = t.and_then(|t| t.professions.g15(code)).is_some();
    r85 || (!g15 && code.len() == 3 && code.starts_with('3'))
}

/// The stored profession codes a `qualification-code` token stands for: a TRE_G15 code as
/// itself; TRE_R291 `99` (or a bare `99`) as every TRE_R85 rôle; a TRE_R85 rôle as itself.
pub fn profession_codes_for(system: Option<&str>, code: Option<&str>) -> Vec<String> {
    let Some(code) = code else {
        return Vec::new();
    };
    let all_roles = || -> Vec<String> {
        tables()
            .map(|t| {
                t.professions
                    .in_table(TableId::R85)
                    .map(|p| p.code.clone())
                    .collect()
            })
            .unwrap_or_default()
    };
    match system.map(TableId::from_system) {
        None => {
            let mut v = vec![code.to_owned()];
            if code == ROLE_BASED_PROFESSION {
                v.extend(all_roles());
            }
            v
        }
        Some(Some(TableId::G15)) if !is_role_based(code) => vec![code.to_owned()],
        Some(Some(TableId::R85)) if is_role_based(code) => vec![code.to_owned()],
        Some(Some(TableId::R291)) if code == ROLE_BASED_PROFESSION => all_roles(),
        _ => Vec::new(),
    }
}

/// What a `role` token of PractitionerRole looks for, or `None` when it cannot match.
pub fn role_code_for(system: Option<&str>, code: String) -> Option<RoleCode> {
    let field = match system {
        None => None,
        Some(GENRE_SYSTEM) => Some(RoleField::Genre),
        Some(PRACTICE_MODE_SYSTEM) => Some(RoleField::PracticeMode),
        Some(s) if TableId::from_system(s) == Some(TableId::R85) => Some(RoleField::Profession),
        Some(_) => return None,
    };
    Some(RoleCode { field, code })
}

/// What an Organization `type` token looks for, or `None` when it cannot match.
pub fn org_type_for(system: Option<&str>, code: String) -> Option<OrgType> {
    let kind = |c: &str| match c {
        "LEGAL-ENTITY" => Some(OrgType::LegalEntity(true)),
        "GEOGRAPHICAL-ENTITY" => Some(OrgType::LegalEntity(false)),
        _ => None,
    };
    match system {
        None => kind(&code).or(Some(OrgType::Category(code))),
        Some(s) if ORGANIZATION_TYPE_SYSTEMS.contains(&s) => kind(&code),
        Some(CATEGORY_SYSTEM) => Some(OrgType::Category(code)),
        Some(_) => None,
    }
}

/// The table of a profession coding's system.
trait FromSystem {
    fn from_system(system: &str) -> Option<TableId>;
}

impl FromSystem for TableId {
    fn from_system(system: &str) -> Option<TableId> {
        [
            TableId::G15,
            TableId::R85,
            TableId::R94,
            TableId::R95,
            TableId::R291,
        ]
        .into_iter()
        .find(|t| t.system() == system)
    }
}
