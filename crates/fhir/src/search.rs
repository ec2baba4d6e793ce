//! Search parameters of the national API v2 for Practitioner, PractitionerRole and
//! Organization, parsed and checked: what a query asks for, or the 400 that names what is not
//! supported.
//!
//! Semantics follow FHIR R4: a repeated parameter is AND, a comma inside one value is OR;
//! strings match a case- and accent-insensitive prefix by default, `:exact` the exact text,
//! `:contains` a part; tokens are `system|code`, `code` or `system|`.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

use crate::codes;
use crate::outcome::Outcome;

/// The resource types the directory serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceType {
    /// A professional (a person with an exercise).
    Practitioner,
    /// A situation d'exercice.
    PractitionerRole,
    /// A legal entity or an establishment.
    Organization,
}

impl ResourceType {
    /// Every type, in the order of the CapabilityStatement.
    pub const ALL: [ResourceType; 3] = [
        ResourceType::Organization,
        ResourceType::Practitioner,
        ResourceType::PractitionerRole,
    ];

    /// The FHIR name.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Practitioner => "Practitioner",
            ResourceType::PractitionerRole => "PractitionerRole",
            ResourceType::Organization => "Organization",
        }
    }

    /// Reads a FHIR name.
    pub fn parse(s: &str) -> Option<Self> {
        ResourceType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Default page size, as on the national API.
pub const DEFAULT_COUNT: u32 = 50;

/// Largest page served; a larger `_count` is lowered to it.
pub const MAX_COUNT: u32 = 500;

/// The paging parameter of our `next` links (an opaque keyset cursor).
pub const CURSOR_PARAM: &str = "_cursor";

/// How a string parameter compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringMode {
    /// Case- and accent-insensitive prefix (default).
    Prefix,
    /// `:exact`.
    Exact,
    /// `:contains`.
    Contains,
}

/// A string parameter: any of the values (OR).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringParam {
    /// How to compare.
    pub mode: StringMode,
    /// The values; never empty.
    pub any_of: Vec<String>,
}

/// A bound on `_lastUpdated`, from a prefix and the precision of the date given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateBound {
    /// At or after.
    AtLeast(Timestamp),
    /// Strictly before.
    Before(Timestamp),
    /// At or after the first and before the second (`eq`).
    Within(Timestamp, Timestamp),
    /// Before the first or at or after the second (`ne`).
    Outside(Timestamp, Timestamp),
}

/// Which identifier of a person a value is looked for in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonIdKind {
    /// RPPS number.
    Rpps,
    /// IDNPS.
    Idnps,
}

/// One identifier alternative of a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonIdentifier {
    /// In which identifier (`None`: any).
    pub kind: Option<PersonIdKind>,
    /// The value (`None` for `system|`: any value of that kind).
    pub value: Option<String>,
}

/// Which identifier of a structure a value is looked for in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgIdKind {
    /// FINESS (EJ or EG).
    Finess,
    /// FINESS of a legal entity (type FINEJ).
    FinessEj,
    /// FINESS of an establishment (type FINEG).
    FinessEg,
    /// SIRET.
    Siret,
    /// IDNST.
    Idnst,
}

/// One identifier alternative of a structure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgIdentifier {
    /// In which identifier (`None`: any).
    pub kind: Option<OrgIdKind>,
    /// The value (`None` for `system|`).
    pub value: Option<String>,
}

/// Which code of a situation a `role` value is looked for in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleField {
    /// TRE_R22 genre d'activité.
    Genre,
    /// TRE_R23 mode d'exercice.
    PracticeMode,
    /// TRE_R85 rôle de prise en charge (the profession of an RPPS+ registration).
    Profession,
}

/// One `role` alternative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleCode {
    /// Where (`None`: any code of the situation).
    pub field: Option<RoleField>,
    /// The code.
    pub code: String,
}

/// One `type` alternative of an Organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgType {
    /// `LEGAL-ENTITY` (true) or `GEOGRAPHICAL-ENTITY` (false).
    LegalEntity(bool),
    /// TRE_R66 catégorie d'établissement (FINESS category).
    Category(String),
}

/// One search criterion; each holds alternatives (OR), criteria are combined with AND. An
/// empty list of alternatives matches nothing (e.g. only unknown systems were given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Criterion {
    /// `_id`.
    Id(Vec<String>),
    /// `_lastUpdated`.
    LastUpdated(DateBound),
    /// `active`.
    Active(bool),
    /// Practitioner `family`.
    Family(StringParam),
    /// Practitioner `given`.
    Given(StringParam),
    /// Practitioner `name` (any part).
    Name(StringParam),
    /// Practitioner `identifier`.
    PersonIdentifier(Vec<PersonIdentifier>),
    /// Practitioner `identifier-type`.
    PersonIdentifierType(Vec<PersonIdKind>),
    /// Practitioner `qualification-code`, as the stored profession codes it stands for.
    Profession(Vec<String>),
    /// PractitionerRole `practitioner` (ids).
    Practitioner(Vec<String>),
    /// PractitionerRole `organization` (ids).
    Organization(Vec<String>),
    /// PractitionerRole `role`.
    Role(Vec<RoleCode>),
    /// Organization `identifier`.
    OrgIdentifier(Vec<OrgIdentifier>),
    /// Organization `identifier-type`.
    OrgIdentifierType(Vec<OrgIdKind>),
    /// Organization `name`.
    OrgName(StringParam),
    /// Organization `address` (any part).
    Address(StringParam),
    /// Organization `address-city`.
    City(StringParam),
    /// Organization `address-postalcode`.
    Postcode(StringParam),
    /// Organization `type`.
    OrgType(Vec<OrgType>),
    /// Organization `partof` (ids).
    PartOf(Vec<String>),
}

/// Resources added to a page by `_include` (from the matches' references).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Include {
    /// `PractitionerRole:organization`.
    RoleOrganization,
    /// `PractitionerRole:practitioner`.
    RolePractitioner,
    /// `Organization:partof`.
    OrganizationPartOf,
}

/// Resources added to a page by `_revinclude` (those that refer to the matches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevInclude {
    /// `PractitionerRole:practitioner`, on Practitioner.
    RolesOfPractitioner,
    /// `PractitionerRole:organization`, on Organization.
    RolesOfOrganization,
}

/// Where a page starts: after this sort key (see [`Search::by_last_updated`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The last row's last update, when the order is by last update.
    pub last_updated: Option<Timestamp>,
    /// The last row's id.
    pub id: i64,
}

impl Cursor {
    /// The opaque text of the cursor in a `next` link.
    pub fn encode(&self) -> String {
        match self.last_updated {
            Some(t) => format!("u{}_{}", t.as_microsecond(), self.id),
            None => format!("i{}", self.id),
        }
    }

    /// Reads a cursor text.
    pub fn decode(s: &str) -> Option<Cursor> {
        if let Some(id) = s.strip_prefix('i') {
            return Some(Cursor {
                last_updated: None,
                id: id.parse().ok()?,
            });
        }
        let (t, id) = s.strip_prefix('u')?.split_once('_')?;
        Some(Cursor {
            last_updated: Some(Timestamp::from_microsecond(t.parse().ok()?).ok()?),
            id: id.parse().ok()?,
        })
    }
}

/// A checked search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    /// On which type.
    pub resource: ResourceType,
    /// The criteria, all of which must hold.
    pub criteria: Vec<Criterion>,
    /// Page size.
    pub count: u32,
    /// Whether `_total=accurate` was asked (counting reads every match).
    pub total: bool,
    /// `_include`.
    pub includes: Vec<Include>,
    /// `_revinclude`.
    pub revincludes: Vec<RevInclude>,
    /// `_elements`, when given.
    pub elements: Option<Vec<String>>,
    /// Where the page starts.
    pub cursor: Option<Cursor>,
    /// The parameters to repeat in `self` and `next` links (all but the cursor).
    pub link_params: Vec<(String, String)>,
}

impl Search {
    /// Whether pages are ordered by last update (when the search filters on it: a delta feed)
    /// rather than by id.
    pub fn by_last_updated(&self) -> bool {
        self.criteria
            .iter()
            .any(|c| matches!(c, Criterion::LastUpdated(_)))
    }
}

/// The parameters each type supports, with their FHIR type (for the CapabilityStatement).
pub fn supported_params(t: ResourceType) -> &'static [(&'static str, &'static str)] {
    match t {
        ResourceType::Practitioner => &[
            ("_id", "token"),
            ("_lastUpdated", "date"),
            ("active", "token"),
            ("family", "string"),
            ("given", "string"),
            ("identifier", "token"),
            ("identifier-type", "token"),
            ("name", "string"),
            ("qualification-code", "token"),
        ],
        ResourceType::PractitionerRole => &[
            ("_id", "token"),
            ("_lastUpdated", "date"),
            ("active", "token"),
            ("organization", "reference"),
            ("practitioner", "reference"),
            ("role", "token"),
        ],
        ResourceType::Organization => &[
            ("_id", "token"),
            ("_lastUpdated", "date"),
            ("active", "token"),
            ("address", "string"),
            ("address-city", "string"),
            ("address-postalcode", "string"),
            ("identifier", "token"),
            ("identifier-type", "token"),
            ("name", "string"),
            ("partof", "reference"),
            ("type", "token"),
        ],
    }
}

/// The `_include` values each type accepts.
pub fn supported_includes(t: ResourceType) -> &'static [&'static str] {
    match t {
        ResourceType::Practitioner => &[],
        ResourceType::PractitionerRole => &[
            "*",
            "PractitionerRole:organization",
            "PractitionerRole:practitioner",
        ],
        ResourceType::Organization => &["*", "Organization:partof"],
    }
}

/// The `_revinclude` values each type accepts.
pub fn supported_revincludes(t: ResourceType) -> &'static [&'static str] {
    match t {
        ResourceType::Practitioner => &["PractitionerRole:practitioner"],
        ResourceType::PractitionerRole => &[],
        ResourceType::Organization => &["PractitionerRole:organization"],
    }
}

/// Parses the parameters of a search on `resource` (from the query string or a `_search`
/// form), in order.
pub fn parse_search(
    resource: ResourceType,
    params: &[(String, String)],
) -> Result<Search, Outcome> {
    let mut search = Search {
        resource,
        criteria: Vec::new(),
        count: DEFAULT_COUNT,
        total: false,
        includes: Vec::new(),
        revincludes: Vec::new(),
        elements: None,
        cursor: None,
        link_params: Vec::new(),
    };
    for (raw_name, value) in params {
        let (name, modifier) = match raw_name.split_once(':') {
            Some((n, m)) => (n, Some(m)),
            None => (raw_name.as_str(), None),
        };
        if name == CURSOR_PARAM {
            no_modifier(raw_name, modifier)?;
            search.cursor =
                Some(Cursor::decode(value).ok_or_else(|| {
                    Outcome::invalid(format!("Curseur de page invalide : {value}"))
                })?);
            continue;
        }
        search.link_params.push((raw_name.clone(), value.clone()));
        match name {
            "_format" => {
                no_modifier(raw_name, modifier)?;
                if !matches!(
                    value.as_str(),
                    "json" | "application/json" | "application/fhir+json"
                ) {
                    return Err(Outcome::not_supported(format!(
                        "Format non pris en charge : {value} (seul JSON est servi)"
                    )));
                }
            }
            "_count" => {
                no_modifier(raw_name, modifier)?;
                let n: u32 = value.parse().map_err(|_| {
                    Outcome::invalid(format!("_count doit être un entier positif : {value}"))
                })?;
                search.count = n.min(MAX_COUNT);
            }
            "_total" => {
                no_modifier(raw_name, modifier)?;
                search.total = match value.as_str() {
                    "accurate" => true,
                    "none" | "estimate" => false,
                    _ => {
                        return Err(Outcome::invalid(format!(
                            "_total accepte none, estimate ou accurate : {value}"
                        )));
                    }
                };
            }
            "_include" => {
                let v = include_value(modifier, value);
                let supported = supported_includes(resource);
                if !supported.contains(&v.as_str()) {
                    return Err(Outcome::not_supported(format!(
                        "_include non pris en charge sur {} : {v}",
                        resource.as_str()
                    )));
                }
                for i in includes_of(resource, &v) {
                    if !search.includes.contains(&i) {
                        search.includes.push(i);
                    }
                }
            }
            "_revinclude" => {
                let v = include_value(modifier, value);
                let r = match (resource, v.as_str()) {
                    (ResourceType::Practitioner, "PractitionerRole:practitioner") => {
                        RevInclude::RolesOfPractitioner
                    }
                    (ResourceType::Organization, "PractitionerRole:organization") => {
                        RevInclude::RolesOfOrganization
                    }
                    _ => {
                        return Err(Outcome::not_supported(format!(
                            "_revinclude non pris en charge sur {} : {v}",
                            resource.as_str()
                        )));
                    }
                };
                if !search.revincludes.contains(&r) {
                    search.revincludes.push(r);
                }
            }
            "_elements" => {
                no_modifier(raw_name, modifier)?;
                let mut list = search.elements.take().unwrap_or_default();
                for e in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                    if !e.chars().all(|c| c.is_ascii_alphanumeric()) {
                        return Err(Outcome::invalid(format!("_elements invalide : {e}")));
                    }
                    list.push(e.to_owned());
                }
                search.elements = Some(list);
            }
            _ => {
                let c = criterion(resource, raw_name, name, modifier, value)?;
                search.criteria.push(c);
            }
        }
    }
    if let Some(cursor) = search.cursor
        && cursor.last_updated.is_some() != search.by_last_updated()
    {
        return Err(Outcome::invalid(
            "Le curseur de page ne correspond pas à cette recherche".to_owned(),
        ));
    }
    Ok(search)
}

/// `_include=PractitionerRole:organization` or `_include:iterate=…`: the value, with a target
/// type suffix (`…:Organization`) dropped when it is the reference's own target.
fn include_value(modifier: Option<&str>, value: &str) -> String {
    let _ = modifier;
    let mut parts: Vec<&str> = value.split(':').collect();
    if parts.len() == 3 {
        let target_ok = matches!(
            (parts[1], parts[2]),
            ("organization", "Organization")
                | ("practitioner", "Practitioner")
                | ("partof", "Organization")
        );
        if target_ok {
            parts.truncate(2);
        }
    }
    parts.join(":")
}

fn includes_of(resource: ResourceType, v: &str) -> Vec<Include> {
    match (resource, v) {
        (ResourceType::PractitionerRole, "*") => {
            vec![Include::RoleOrganization, Include::RolePractitioner]
        }
        (ResourceType::PractitionerRole, "PractitionerRole:organization") => {
            vec![Include::RoleOrganization]
        }
        (ResourceType::PractitionerRole, "PractitionerRole:practitioner") => {
            vec![Include::RolePractitioner]
        }
        (ResourceType::Organization, "*" | "Organization:partof") => {
            vec![Include::OrganizationPartOf]
        }
        _ => Vec::new(),
    }
}

fn no_modifier(raw: &str, modifier: Option<&str>) -> Result<(), Outcome> {
    match modifier {
        None => Ok(()),
        Some(m) => Err(Outcome::not_supported(format!(
            "Modificateur non pris en charge : {raw} (:{m})"
        ))),
    }
}

fn criterion(
    resource: ResourceType,
    raw: &str,
    name: &str,
    modifier: Option<&str>,
    value: &str,
) -> Result<Criterion, Outcome> {
    use ResourceType::{Organization, Practitioner, PractitionerRole};
    let c = match (resource, name) {
        (_, "_id") => {
            no_modifier(raw, modifier)?;
            Criterion::Id(list(value))
        }
        (_, "_lastUpdated") => {
            no_modifier(raw, modifier)?;
            Criterion::LastUpdated(date_bound(value)?)
        }
        (_, "active") => {
            no_modifier(raw, modifier)?;
            let (_, code) = token(value);
            match code.as_deref() {
                Some("true") => Criterion::Active(true),
                Some("false") => Criterion::Active(false),
                _ => {
                    return Err(Outcome::invalid(format!(
                        "active accepte true ou false : {value}"
                    )));
                }
            }
        }
        (Practitioner, "family") => Criterion::Family(string(raw, modifier, value)?),
        (Practitioner, "given") => Criterion::Given(string(raw, modifier, value)?),
        (Practitioner, "name") => Criterion::Name(string(raw, modifier, value)?),
        (Practitioner, "identifier") => {
            no_modifier(raw, modifier)?;
            Criterion::PersonIdentifier(
                list(value)
                    .iter()
                    .filter_map(|v| person_identifier(v))
                    .collect(),
            )
        }
        (Practitioner, "identifier-type") => {
            no_modifier(raw, modifier)?;
            Criterion::PersonIdentifierType(
                list(value)
                    .iter()
                    .filter_map(|v| {
                        let (system, code) = token(v);
                        if !identifier_type_system(system.as_deref()) {
                            return None;
                        }
                        match code.as_deref() {
                            Some("IDNPS") => Some(PersonIdKind::Idnps),
                            Some("RPPS") => Some(PersonIdKind::Rpps),
                            _ => None,
                        }
                    })
                    .collect(),
            )
        }
        (Practitioner, "qualification-code") => {
            no_modifier(raw, modifier)?;
            Criterion::Profession(
                list(value)
                    .iter()
                    .flat_map(|v| {
                        let (system, code) = token(v);
                        codes::profession_codes_for(system.as_deref(), code.as_deref())
                    })
                    .collect(),
            )
        }
        (PractitionerRole, "practitioner") => {
            reference_modifier(raw, modifier, "Practitioner")?;
            Criterion::Practitioner(references(value, "Practitioner"))
        }
        (PractitionerRole, "organization") => {
            reference_modifier(raw, modifier, "Organization")?;
            Criterion::Organization(references(value, "Organization"))
        }
        (PractitionerRole, "role") => {
            no_modifier(raw, modifier)?;
            Criterion::Role(
                list(value)
                    .iter()
                    .filter_map(|v| {
                        let (system, code) = token(v);
                        codes::role_code_for(system.as_deref(), code?)
                    })
                    .collect(),
            )
        }
        (Organization, "identifier") => {
            no_modifier(raw, modifier)?;
            Criterion::OrgIdentifier(
                list(value)
                    .iter()
                    .filter_map(|v| org_identifier(v))
                    .collect(),
            )
        }
        (Organization, "identifier-type") => {
            no_modifier(raw, modifier)?;
            Criterion::OrgIdentifierType(
                list(value)
                    .iter()
                    .filter_map(|v| {
                        let (system, code) = token(v);
                        if !identifier_type_system(system.as_deref()) {
                            return None;
                        }
                        match code.as_deref() {
                            Some("FINEG") => Some(OrgIdKind::FinessEg),
                            Some("FINEJ") => Some(OrgIdKind::FinessEj),
                            Some("SIRET") => Some(OrgIdKind::Siret),
                            Some("IDNST") => Some(OrgIdKind::Idnst),
                            _ => None,
                        }
                    })
                    .collect(),
            )
        }
        (Organization, "name") => Criterion::OrgName(string(raw, modifier, value)?),
        (Organization, "address") => Criterion::Address(string(raw, modifier, value)?),
        (Organization, "address-city") => Criterion::City(string(raw, modifier, value)?),
        (Organization, "address-postalcode") => Criterion::Postcode(string(raw, modifier, value)?),
        (Organization, "type") => {
            no_modifier(raw, modifier)?;
            Criterion::OrgType(
                list(value)
                    .iter()
                    .filter_map(|v| {
                        let (system, code) = token(v);
                        codes::org_type_for(system.as_deref(), code?)
                    })
                    .collect(),
            )
        }
        (Organization, "partof") => {
            reference_modifier(raw, modifier, "Organization")?;
            Criterion::PartOf(references(value, "Organization"))
        }
        _ => {
            return Err(Outcome::not_supported(format!(
                "Paramètre de recherche non pris en charge sur {} : {name}",
                resource.as_str()
            )));
        }
    };
    Ok(c)
}

/// The comma-separated alternatives of a value (`\,` is a literal comma).
fn list(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => cur.push(n),
                None => cur.push('\\'),
            },
            ',' => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().filter(|v| !v.is_empty()).collect()
}

fn string(raw: &str, modifier: Option<&str>, value: &str) -> Result<StringParam, Outcome> {
    let mode = match modifier {
        None => StringMode::Prefix,
        Some("exact") => StringMode::Exact,
        Some("contains") => StringMode::Contains,
        Some(m) => {
            return Err(Outcome::not_supported(format!(
                "Modificateur non pris en charge : {raw} (:{m})"
            )));
        }
    };
    let any_of = list(value);
    if any_of.is_empty() {
        return Err(Outcome::invalid(format!("Valeur vide pour {raw}")));
    }
    Ok(StringParam { mode, any_of })
}

/// `system|code` → (Some(system), Some(code)); `code` → (None, Some(code)); `system|` →
/// (Some(system), None); `|code` → (Some(""), Some(code)).
fn token(v: &str) -> (Option<String>, Option<String>) {
    match v.split_once('|') {
        Some((s, c)) => (Some(s.to_owned()), (!c.is_empty()).then(|| c.to_owned())),
        None => (None, (!v.is_empty()).then(|| v.to_owned())),
    }
}

fn identifier_type_system(system: Option<&str>) -> bool {
    match system {
        None => true,
        Some(s) => codes::IDENTIFIER_TYPE_SYSTEMS.contains(&s),
    }
}

fn person_identifier(v: &str) -> Option<PersonIdentifier> {
    let (system, value) = token(v);
    let kind = match system.as_deref() {
        None => None,
        Some(s) if s == codes::IDNPS_SYSTEM => Some(PersonIdKind::Idnps),
        Some(s) if codes::RPPS_SYSTEMS.contains(&s) => Some(PersonIdKind::Rpps),
        Some(_) => return None,
    };
    if kind.is_none() && value.is_none() {
        return None;
    }
    Some(PersonIdentifier { kind, value })
}

fn org_identifier(v: &str) -> Option<OrgIdentifier> {
    let (system, value) = token(v);
    let kind = match system.as_deref() {
        None => None,
        Some(codes::FINESS_SYSTEM) => Some(OrgIdKind::Finess),
        Some(codes::SIRENE_SYSTEM) => Some(OrgIdKind::Siret),
        Some(codes::IDNST_SYSTEM) => Some(OrgIdKind::Idnst),
        Some(_) => return None,
    };
    if kind.is_none() && value.is_none() {
        return None;
    }
    Some(OrgIdentifier { kind, value })
}

fn reference_modifier(raw: &str, modifier: Option<&str>, target: &str) -> Result<(), Outcome> {
    match modifier {
        None => Ok(()),
        Some(m) if m == target => Ok(()),
        Some(m) => Err(Outcome::not_supported(format!(
            "Modificateur non pris en charge : {raw} (:{m})"
        ))),
    }
}

/// The ids named by reference values: `Type/id`, an absolute URL ending in `Type/id`, or `id`.
fn references(value: &str, target: &str) -> Vec<String> {
    list(value)
        .iter()
        .filter_map(|v| {
            let mut parts = v.rsplitn(3, '/');
            let id = parts.next()?;
            match parts.next() {
                None => Some(id.to_owned()),
                Some(t) if t == target => Some(id.to_owned()),
                Some(_) => None,
            }
        })
        .collect()
}

/// A `_lastUpdated` value: an optional prefix and a date or date-time, whose precision gives
/// the range it stands for.
fn date_bound(value: &str) -> Result<DateBound, Outcome> {
    let invalid = || {
        Outcome::invalid(format!(
            "_lastUpdated invalide : {value} (attendu : [eq|ne|gt|lt|ge|le|sa|eb]AAAA[-MM[-JJ[Thh:mm[:ss[.fff]]±hh:mm]]])"
        ))
    };
    let (prefix, date) = match value.get(..2) {
        Some(p @ ("eq" | "ne" | "gt" | "lt" | "ge" | "le" | "sa" | "eb")) => (p, &value[2..]),
        Some("ap") => {
            return Err(Outcome::not_supported(
                "Le préfixe ap n'est pas pris en charge sur _lastUpdated".to_owned(),
            ));
        }
        _ => ("eq", value),
    };
    let (lo, hi) = instant_range(date).ok_or_else(invalid)?;
    Ok(match prefix {
        "ne" => DateBound::Outside(lo, hi),
        "gt" | "sa" => DateBound::AtLeast(hi),
        "lt" | "eb" => DateBound::Before(lo),
        "ge" => DateBound::AtLeast(lo),
        "le" => DateBound::Before(hi),
        _ => DateBound::Within(lo, hi),
    })
}

/// The instants `[lo, hi)` a date or date-time of some precision stands for. Dates without a
/// time are days in Europe/Paris (the registry's time zone); a time without an offset is in
/// Europe/Paris too.
pub fn instant_range(s: &str) -> Option<(Timestamp, Timestamp)> {
    let paris = TimeZone::get("Europe/Paris").ok()?;
    let day_start = |d: Date| d.to_zoned(paris.clone()).ok().map(|z| z.timestamp());
    if !s.contains('T') {
        let parts: Vec<&str> = s.split('-').collect();
        let year: i16 = parts.first().filter(|p| p.len() == 4)?.parse().ok()?;
        return match parts.len() {
            1 => Some((
                day_start(Date::new(year, 1, 1).ok()?)?,
                day_start(Date::new(year.checked_add(1)?, 1, 1).ok()?)?,
            )),
            2 => {
                let month: i8 = parts.get(1).filter(|p| p.len() == 2)?.parse().ok()?;
                let first = Date::new(year, month, 1).ok()?;
                let next = first.checked_add(jiff::Span::new().months(1)).ok()?;
                Some((day_start(first)?, day_start(next)?))
            }
            3 => {
                if parts.get(1)?.len() != 2 || parts.get(2)?.len() != 2 {
                    return None;
                }
                let d: Date = s.parse().ok()?;
                Some((day_start(d)?, day_start(d.tomorrow().ok()?)?))
            }
            _ => None,
        };
    }
    let (date_part, time_part) = s.split_once('T')?;
    // The precision is read from the time as written, before any offset.
    let time_only = time_part.split(['Z', '+', '-']).next().unwrap_or(time_part);
    let step = if time_only.contains('.') {
        jiff::SignedDuration::from_micros(1)
    } else if time_only.len() == 5 {
        jiff::SignedDuration::from_secs(60)
    } else if time_only.len() == 8 {
        jiff::SignedDuration::from_secs(1)
    } else {
        return None;
    };
    let has_offset =
        time_part.contains(['Z', '+']) || time_part.get(1..).is_some_and(|t| t.contains('-'));
    let lo = if has_offset {
        let with_seconds = if time_only.len() == 5 {
            format!("{date_part}T{time_only}:00{}", time_part.get(5..)?)
        } else {
            s.to_owned()
        };
        with_seconds.parse::<Timestamp>().ok()?
    } else {
        let with_seconds = if time_only.len() == 5 {
            format!("{date_part}T{time_only}:00")
        } else {
            s.to_owned()
        };
        let dt: DateTime = with_seconds.parse().ok()?;
        dt.to_zoned(paris).ok()?.timestamp()
    };
    Some((lo, lo.checked_add(step).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn parse(t: ResourceType, pairs: &[(&str, &str)]) -> Result<Search, Outcome> {
        parse_search(t, &params(pairs))
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn an_unsupported_parameter_is_named_in_a_400() {
        for (t, name) in [
            (ResourceType::Practitioner, "birthdate"),
            (ResourceType::Practitioner, "mailbox-mss"),
            (ResourceType::Practitioner, "role"),
            (ResourceType::PractitionerRole, "family"),
            (ResourceType::Organization, "_sort"),
        ] {
            let Err(o) = parse(t, &[(name, "x")]) else {
                panic!("{name} accepted on {t:?}");
            };
            assert_eq!(o.status, 400);
            assert_eq!(o.code, "not-supported");
            assert!(o.diagnostics.contains(name), "{}", o.diagnostics);
        }
        let Err(o) = parse(ResourceType::Practitioner, &[("family:text", "x")]) else {
            panic!("family:text accepted");
        };
        assert!(o.diagnostics.contains("family:text"));
        let Err(o) = parse(
            ResourceType::Practitioner,
            &[("_include", "PractitionerRole:organization")],
        ) else {
            panic!("an include Practitioner does not have");
        };
        assert_eq!(o.status, 400);
    }

    #[test]
    fn strings_default_to_prefix_with_exact_and_contains_modifiers() -> Result<(), Outcome> {
        let s = parse(
            ResourceType::Practitioner,
            &[
                ("family", "dupont,durand"),
                ("given:exact", "Élodie"),
                ("name:contains", "mar"),
            ],
        )?;
        assert_eq!(
            s.criteria,
            vec![
                Criterion::Family(StringParam {
                    mode: StringMode::Prefix,
                    any_of: vec!["dupont".into(), "durand".into()],
                }),
                Criterion::Given(StringParam {
                    mode: StringMode::Exact,
                    any_of: vec!["Élodie".into()],
                }),
                Criterion::Name(StringParam {
                    mode: StringMode::Contains,
                    any_of: vec!["mar".into()],
                }),
            ]
        );
        // An escaped comma is part of the value.
        let s = parse(ResourceType::Organization, &[("name", "a\\,b")])?;
        assert_eq!(
            s.criteria,
            vec![Criterion::OrgName(StringParam {
                mode: StringMode::Prefix,
                any_of: vec!["a,b".into()],
            })]
        );
        Ok(())
    }

    #[test]
    fn tokens_with_and_without_system() -> Result<(), Outcome> {
        let s = parse(
            ResourceType::Practitioner,
            &[(
                "identifier",
                "https://rpps.esante.gouv.fr|10003461033,810003461033,urn:oid:1.2.250.1.71.4.2.1|,http://autre|1",
            )],
        )?;
        assert_eq!(
            s.criteria,
            vec![Criterion::PersonIdentifier(vec![
                PersonIdentifier {
                    kind: Some(PersonIdKind::Rpps),
                    value: Some("10003461033".into()),
                },
                PersonIdentifier {
                    kind: None,
                    value: Some("810003461033".into()),
                },
                PersonIdentifier {
                    kind: Some(PersonIdKind::Idnps),
                    value: None,
                },
            ])]
        );
        let s = parse(
            ResourceType::PractitionerRole,
            &[
                (
                    "role",
                    "https://mos.esante.gouv.fr/NOS/TRE_R22-GenreActivite/FHIR/TRE-R22-GenreActivite|GENR08",
                ),
                (
                    "role",
                    "https://mos.esante.gouv.fr/NOS/TRE_R85-RolePriseCharge/FHIR/TRE-R85-RolePriseCharge|328",
                ),
                ("role", "S"),
                (
                    "practitioner",
                    "Practitioner/12,https://x.example/fhir/v2/Practitioner/13,14,Organization/1",
                ),
            ],
        )?;
        assert_eq!(
            s.criteria,
            vec![
                Criterion::Role(vec![RoleCode {
                    field: Some(RoleField::Genre),
                    code: "GENR08".into()
                }]),
                Criterion::Role(vec![RoleCode {
                    field: Some(RoleField::Profession),
                    code: "328".into()
                }]),
                Criterion::Role(vec![RoleCode {
                    field: None,
                    code: "S".into()
                }]),
                Criterion::Practitioner(vec!["12".into(), "13".into(), "14".into()]),
            ]
        );
        let s = parse(
            ResourceType::Practitioner,
            &[(
                "qualification-code",
                "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante|10",
            )],
        )?;
        assert_eq!(s.criteria, vec![Criterion::Profession(vec!["10".into()])]);
        let s = parse(
            ResourceType::Practitioner,
            &[(
                "qualification-code",
                "https://mos.esante.gouv.fr/NOS/TRE_R291-AutreProfession/FHIR/TRE-R291-AutreProfession|99",
            )],
        )?;
        let Some(Criterion::Profession(codes)) = s.criteria.first() else {
            panic!("{:?}", s.criteria);
        };
        assert!(
            codes.contains(&"328".to_owned()),
            "every TRE_R85 rôle: {codes:?}"
        );
        assert!(!codes.contains(&"10".to_owned()));
        let s = parse(
            ResourceType::Organization,
            &[
                ("type", "GEOGRAPHICAL-ENTITY,500"),
                ("identifier", "https://finess.esante.gouv.fr|690001029"),
            ],
        )?;
        assert_eq!(
            s.criteria,
            vec![
                Criterion::OrgType(vec![
                    OrgType::LegalEntity(false),
                    OrgType::Category("500".into())
                ]),
                Criterion::OrgIdentifier(vec![OrgIdentifier {
                    kind: Some(OrgIdKind::Finess),
                    value: Some("690001029".into()),
                }]),
            ]
        );
        Ok(())
    }

    #[test]
    fn last_updated_prefixes_and_precisions() -> Result<(), Outcome> {
        let bound = |v: &str| -> Result<DateBound, Outcome> {
            let s = parse(ResourceType::Practitioner, &[("_lastUpdated", v)])?;
            match s.criteria.first() {
                Some(Criterion::LastUpdated(b)) => Ok(*b),
                other => panic!("{other:?}"),
            }
        };
        // A day is a day in Paris (UTC+2 in September, UTC+1 in winter).
        assert_eq!(
            bound("ge2025-09-27")?,
            DateBound::AtLeast(at("2025-09-26T22:00:00Z"))
        );
        assert_eq!(
            bound("2025-09-27")?,
            DateBound::Within(at("2025-09-26T22:00:00Z"), at("2025-09-27T22:00:00Z"))
        );
        assert_eq!(
            bound("gt2025-09-27")?,
            DateBound::AtLeast(at("2025-09-27T22:00:00Z"))
        );
        assert_eq!(bound("sa2025-09-27")?, bound("gt2025-09-27")?);
        assert_eq!(
            bound("lt2025")?,
            DateBound::Before(at("2024-12-31T23:00:00Z"))
        );
        assert_eq!(bound("eb2025")?, bound("lt2025")?);
        assert_eq!(
            bound("le2025-02")?,
            DateBound::Before(at("2025-02-28T23:00:00Z"))
        );
        assert_eq!(
            bound("ne2025-09-27T10:00:00Z")?,
            DateBound::Outside(at("2025-09-27T10:00:00Z"), at("2025-09-27T10:00:01Z"))
        );
        assert_eq!(
            bound("ge2025-09-27T10:00+02:00")?,
            DateBound::AtLeast(at("2025-09-27T08:00:00Z"))
        );
        assert_eq!(
            bound("eq2025-09-27T10:00:00.5Z")?,
            DateBound::Within(
                at("2025-09-27T10:00:00.5Z"),
                at("2025-09-27T10:00:00.500001Z")
            )
        );
        for bad in [
            "ge27/09/2025",
            "ap2025",
            "2025-9-1",
            "ge",
            "2025-09-27T",
            "2025-02-30",
            "ééé",
        ] {
            let Err(o) = parse(ResourceType::Practitioner, &[("_lastUpdated", bad)]) else {
                panic!("{bad} accepted");
            };
            assert_eq!(o.status, 400, "{bad}");
        }
        Ok(())
    }

    #[test]
    fn result_parameters() -> Result<(), Outcome> {
        let s = parse(ResourceType::PractitionerRole, &[])?;
        assert_eq!(s.count, DEFAULT_COUNT);
        assert!(!s.total);
        let s = parse(
            ResourceType::PractitionerRole,
            &[
                ("_count", "100000"),
                ("_total", "accurate"),
                ("_include", "*"),
                ("_elements", "active,period"),
                ("_format", "application/fhir+json"),
            ],
        )?;
        assert_eq!(s.count, MAX_COUNT);
        assert!(s.total);
        assert_eq!(
            s.includes,
            vec![Include::RoleOrganization, Include::RolePractitioner]
        );
        assert_eq!(s.elements, Some(vec!["active".into(), "period".into()]));
        let s = parse(
            ResourceType::Organization,
            &[
                ("_revinclude", "PractitionerRole:organization"),
                ("_include", "Organization:partof:Organization"),
            ],
        )?;
        assert_eq!(s.revincludes, vec![RevInclude::RolesOfOrganization]);
        assert_eq!(s.includes, vec![Include::OrganizationPartOf]);
        for bad in [
            ("_count", "-1"),
            ("_total", "exact"),
            ("_format", "xml"),
            ("_elements", "a.b"),
        ] {
            assert!(
                parse(ResourceType::Organization, &[bad]).is_err(),
                "{bad:?}"
            );
        }
        Ok(())
    }

    #[test]
    fn cursors_round_trip_and_must_fit_the_order() -> Result<(), Outcome> {
        for c in [
            Cursor {
                last_updated: None,
                id: 42,
            },
            Cursor {
                last_updated: Some(at("2026-11-27T10:00:00.123456Z")),
                id: 7,
            },
        ] {
            assert_eq!(Cursor::decode(&c.encode()), Some(c));
        }
        for bad in ["", "i", "x12", "u12", "u_3", "iabc"] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
        let s = parse(
            ResourceType::Practitioner,
            &[("family", "a"), (CURSOR_PARAM, "i12")],
        )?;
        assert_eq!(
            s.cursor,
            Some(Cursor {
                last_updated: None,
                id: 12
            })
        );
        assert_eq!(
            s.link_params,
            params(&[("family", "a")]),
            "the cursor is not repeated"
        );
        assert!(!s.by_last_updated());
        // A cursor of the other order is refused rather than misread.
        assert!(
            parse(
                ResourceType::Practitioner,
                &[("_lastUpdated", "ge2025"), (CURSOR_PARAM, "i12")]
            )
            .is_err()
        );
        let s = parse(
            ResourceType::Practitioner,
            &[("_lastUpdated", "ge2025"), (CURSOR_PARAM, "u1_2")],
        )?;
        assert!(s.by_last_updated());
        Ok(())
    }
}
