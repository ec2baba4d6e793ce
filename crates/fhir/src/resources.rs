//! Practitioner, PractitionerRole and Organization built from the registry's public data,
//! shaped after the ANS IG "Annuaire Santé" public-data (DP) profiles.
//!
//! The views below hold everything a resource may show, and nothing else: no birth date or
//! place, personal e-mail or phone, identity document, nor civil names (a practitioner is named
//! by their exercise names). As on the national API, an inactive Practitioner or Organization
//! keeps only its id, identifiers, `active` (and an Organization its name).

use jiff::Timestamp;
use jiff::civil::Date;
use serde_json::{Map, Value, json};

use crate::codes::{self, is_role_based};

/// A professional exercise as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExerciseView {
    /// Profession code (TRE_G15 or TRE_R85).
    pub profession_code: String,
    /// TRE_R11 civilité d'exercice.
    pub exercise_civility: Option<String>,
    /// Nom d'exercice.
    pub last_name: String,
    /// Prénom d'exercice.
    pub first_name: String,
}

/// A practitioner's public data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PractitionerView {
    /// Resource id.
    pub id: String,
    /// IDNPS.
    pub idnps: String,
    /// RPPS number.
    pub rpps: Option<String>,
    /// TRE_R81 civility (`M`, `MME`).
    pub civility: String,
    /// Exercises, oldest first; the newest names the practitioner.
    pub exercises: Vec<ExerciseView>,
    /// Whether a situation is in force.
    pub active: bool,
    /// Last change.
    pub last_updated: Timestamp,
}

/// A situation d'exercice's public data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleView {
    /// Resource id.
    pub id: String,
    /// The Practitioner's id.
    pub practitioner: String,
    /// The Organization's id.
    pub organization: String,
    /// TRE_R22 genre d'activité.
    pub role_code: String,
    /// TRE_R23 mode d'exercice.
    pub practice_mode: String,
    /// Profession code of the exercise.
    pub profession_code: String,
    /// Start.
    pub start: Date,
    /// Last day of activity.
    pub end: Option<Date>,
    /// Whether in force.
    pub active: bool,
    /// Last change.
    pub last_updated: Timestamp,
}

/// A structure's public data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationView {
    /// Resource id.
    pub id: String,
    /// FINESS number.
    pub finess: String,
    /// Legal entity (true) or establishment (false).
    pub legal_entity: bool,
    /// Raison sociale.
    pub name: String,
    /// SIRET.
    pub siret: Option<String>,
    /// FINESS category (TRE_R66), for an establishment.
    pub category_code: Option<String>,
    /// Address line.
    pub address: Option<String>,
    /// Postcode.
    pub postcode: Option<String>,
    /// INSEE code of the commune.
    pub commune_code: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Open.
    pub open: bool,
    /// Closing date.
    pub closed_on: Option<Date>,
    /// The legal entity's resource id, for an establishment.
    pub part_of: Option<String>,
    /// Last change.
    pub last_updated: Timestamp,
}

/// A FHIR `instant` with a microsecond at most and an offset, as R4 requires.
pub fn instant(t: Timestamp) -> String {
    format!("{t:.6}").replace("+00:00", "Z")
}

fn meta(last_updated: Timestamp, profiles: &[&str]) -> Value {
    json!({ "lastUpdated": instant(last_updated), "profile": profiles })
}

fn typed_identifier(type_code: &str, system: &str, value: &str) -> Value {
    json!({
        "use": "official",
        "type": { "coding": [{ "system": codes::IDENTIFIER_TYPE_SYSTEM, "code": type_code }] },
        "system": system,
        "value": value,
    })
}

fn coding(system: &str, code: &str) -> Value {
    json!({ "coding": [{ "system": system, "code": code }] })
}

/// The Practitioner.
pub fn practitioner(p: &PractitionerView) -> Value {
    let mut identifier = vec![typed_identifier("IDNPS", codes::IDNPS_SYSTEM, &p.idnps)];
    if let Some(rpps) = &p.rpps {
        identifier.push(typed_identifier("RPPS", codes::RPPS_SYSTEM, rpps));
    }
    let mut r = Map::new();
    r.insert("resourceType".into(), "Practitioner".into());
    r.insert("id".into(), p.id.clone().into());
    r.insert(
        "meta".into(),
        meta(p.last_updated, codes::PRACTITIONER_PROFILES),
    );
    r.insert("language".into(), "fr".into());
    r.insert("identifier".into(), identifier.into());
    r.insert("active".into(), p.active.into());
    if !p.active {
        return Value::Object(r);
    }
    if let Some(e) = p.exercises.last() {
        let mut name = Map::new();
        name.insert("use".into(), "usual".into());
        name.insert("family".into(), e.last_name.clone().into());
        name.insert("given".into(), json!([e.first_name]));
        if !p.civility.is_empty() {
            name.insert("prefix".into(), json!([p.civility]));
        }
        if let Some(c) = &e.exercise_civility {
            name.insert("suffix".into(), json!([c]));
        }
        r.insert("name".into(), json!([name]));
    }
    let mut qualification: Vec<Value> = Vec::new();
    for e in &p.exercises {
        let q = if is_role_based(&e.profession_code) {
            json!({ "code": coding(
                rppsplus_domain::reference::TableId::R291.system(),
                codes::ROLE_BASED_PROFESSION,
            )})
        } else {
            json!({ "code": coding(
                rppsplus_domain::reference::TableId::G15.system(),
                &e.profession_code,
            )})
        };
        if !qualification.contains(&q) {
            qualification.push(q);
        }
    }
    if !qualification.is_empty() {
        r.insert("qualification".into(), qualification.into());
    }
    Value::Object(r)
}

/// The PractitionerRole. Its `code` holds the genre d'activité (the RPPS+ role, TRE_R22), the
/// mode d'exercice (TRE_R23) and, for a professional registered with a rôle de prise en charge,
/// that rôle (TRE_R85, the IG's `fonction` slice), each its own CodeableConcept as in the IG
/// examples.
pub fn practitioner_role(r: &RoleView) -> Value {
    let mut code = vec![
        coding(codes::GENRE_SYSTEM, &r.role_code),
        coding(codes::PRACTICE_MODE_SYSTEM, &r.practice_mode),
    ];
    if is_role_based(&r.profession_code) {
        code.push(coding(
            rppsplus_domain::reference::TableId::R85.system(),
            &r.profession_code,
        ));
    }
    let mut period = Map::new();
    period.insert("start".into(), r.start.to_string().into());
    if let Some(end) = r.end {
        period.insert("end".into(), end.to_string().into());
    }
    json!({
        "resourceType": "PractitionerRole",
        "id": r.id,
        "meta": meta(r.last_updated, codes::PRACTITIONER_ROLE_PROFILES),
        "language": "fr",
        "active": r.active,
        "period": period,
        "practitioner": { "reference": format!("Practitioner/{}", r.practitioner) },
        "organization": { "reference": format!("Organization/{}", r.organization) },
        "code": code,
    })
}

/// The Organization (EJ or EG).
pub fn organization(o: &OrganizationView) -> Value {
    let mut identifier = vec![
        typed_identifier("IDNST", codes::IDNST_SYSTEM, &format!("1{}", o.finess)),
        typed_identifier(
            if o.legal_entity { "FINEJ" } else { "FINEG" },
            codes::FINESS_SYSTEM,
            &o.finess,
        ),
    ];
    if let Some(siret) = &o.siret {
        identifier.push(typed_identifier("SIRET", codes::SIRENE_SYSTEM, siret));
    }
    let mut r = Map::new();
    r.insert("resourceType".into(), "Organization".into());
    r.insert("id".into(), o.id.clone().into());
    r.insert(
        "meta".into(),
        meta(o.last_updated, codes::ORGANIZATION_PROFILES),
    );
    r.insert("language".into(), "fr".into());
    if let Some(closed) = o.closed_on {
        r.insert(
            "extension".into(),
            json!([{
                "url": codes::ORGANIZATION_PERIOD_EXTENSION,
                "valuePeriod": { "end": closed.to_string() },
            }]),
        );
    }
    r.insert("identifier".into(), identifier.into());
    r.insert("active".into(), o.open.into());
    r.insert("name".into(), o.name.clone().into());
    if !o.open {
        return Value::Object(r);
    }
    let mut types = vec![json!({
        "extension": [{
            "url": codes::ORGANIZATION_TYPES_EXTENSION,
            "valueCode": "organizationType",
        }],
        "coding": [{
            "system": codes::ORGANIZATION_TYPE_SYSTEM,
            "code": if o.legal_entity { "LEGAL-ENTITY" } else { "GEOGRAPHICAL-ENTITY" },
        }],
    })];
    if let Some(category) = &o.category_code {
        types.push(coding(codes::CATEGORY_SYSTEM, category));
    }
    r.insert("type".into(), types.into());
    let mut address = Map::new();
    if let Some(code) = &o.commune_code {
        address.insert(
            "extension".into(),
            json!([{
                "url": codes::INSEE_CODE_EXTENSION,
                "valueCoding": { "system": codes::COMMUNE_SYSTEM, "code": code },
            }]),
        );
    }
    if let Some(line) = o.address.as_ref().filter(|l| !l.is_empty()) {
        address.insert("line".into(), json!([line]));
    }
    if let Some(city) = o.city.as_ref().filter(|c| !c.is_empty()) {
        address.insert("city".into(), city.clone().into());
    }
    if let Some(pc) = o.postcode.as_ref().filter(|c| !c.is_empty()) {
        address.insert("postalCode".into(), pc.clone().into());
    }
    if !address.is_empty() {
        r.insert("address".into(), json!([address]));
    }
    if let Some(ej) = &o.part_of {
        r.insert(
            "partOf".into(),
            json!({ "reference": format!("Organization/{ej}") }),
        );
    }
    Value::Object(r)
}
