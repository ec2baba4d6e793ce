//! Reads for the public directory (the FHIR API): professionals, their situations and the
//! structures, searched and paged by keyset.
//!
//! Only public data leaves through these records: no birth data, personal contact details, ID
//! documents or civil names. Reads run outside any transaction, on the read side of the store
//! (SQLite's read pool), and see every change as soon as it commits.
//!
//! **Paging** never uses an offset. A page is the first `limit` rows after a keyset cursor:
//! ordered by id by default (a client paging through everything never sees a row twice and
//! never misses one that existed when it started: ids are never reused, and a row's id never
//! changes), or by `(last_updated, id)` when the client filters on the last update (a delta
//! feed: a row changed while the client pages moves after the cursor and is seen again, with
//! its newer content). Each order has its index, so a page costs the same at any depth.

use async_trait::async_trait;
use jiff::Timestamp;
use jiff::civil::Date;
use rppsplus_domain::{Adeli, Idnps, Rpps};

use crate::{PersonId, SituationId, StoreResult, Structure, StructureId};

/// How a text search parameter compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextMatch {
    /// The value starts with the text, ignoring case and accents (the FHIR default).
    Prefix,
    /// The value is exactly the text (FHIR `:exact`).
    Exact,
    /// The value contains the text, ignoring case and accents (FHIR `:contains`). Not
    /// index-driven: it reads every row the other filters leave.
    Contains,
}

/// One text parameter: matches when any of `any_of` matches (FHIR's comma).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextFilter {
    /// How to compare.
    pub mode: TextMatch,
    /// The texts as given by the client; never empty.
    pub any_of: Vec<String>,
}

/// A bound on the last update, in the form FHIR date prefixes reduce to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeBound {
    /// At or after the instant.
    AtLeast(Timestamp),
    /// Strictly before the instant.
    Before(Timestamp),
    /// Before the first instant or at or after the second (FHIR `ne`).
    Outside(Timestamp, Timestamp),
}

/// Which identifier of a person a value is searched in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonIdKind {
    /// RPPS number.
    Rpps,
    /// IDNPS.
    Idnps,
    /// ADELI number.
    Adeli,
}

/// One identifier value to find, in one kind of identifier or in any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonIdFilter {
    /// Where to look; `None` for any identifier.
    pub kind: Option<PersonIdKind>,
    /// The value.
    pub value: String,
}

/// Which identifier of a structure a value is searched in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StructureIdKind {
    /// FINESS number (EJ or EG).
    Finess,
    /// FINESS number of a legal entity only.
    FinessEj,
    /// FINESS number of an establishment only.
    FinessEg,
    /// SIRET.
    Siret,
    /// IDNST: `1` + FINESS.
    Idnst,
}

/// One identifier value of a structure to find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructureIdFilter {
    /// Where to look; `None` for any identifier.
    pub kind: Option<StructureIdKind>,
    /// The value.
    pub value: String,
}

/// Which code of a situation a role value is searched in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleField {
    /// TRE_R22 genre d'activité (the RPPS+ role).
    Genre,
    /// TRE_R23 practice mode.
    PracticeMode,
    /// The exercise's profession code (TRE_R85 rôle de prise en charge or TRE_G15).
    Profession,
}

/// One code of a situation to find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleCodeFilter {
    /// Where to look; `None` for any of the situation's codes.
    pub field: Option<RoleField>,
    /// The code.
    pub code: String,
}

/// What a structure's `type` may be searched on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StructureTypeFilter {
    /// Legal entity or establishment.
    Kind(crate::StructureKind),
    /// FINESS category code (TRE_R66).
    Category(String),
}

/// Every parameter is a list of clauses that must all hold (FHIR's repeated parameter, AND);
/// each clause is a list of alternatives (FHIR's comma, OR).
pub type AllOf<T> = Vec<Vec<T>>;

/// A search of practitioners (persons with at least one professional exercise).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PractitionerQuery {
    /// Internal ids.
    pub ids: AllOf<PersonId>,
    /// Identifier values.
    pub identifiers: AllOf<PersonIdFilter>,
    /// Kinds of identifier the person must hold.
    pub identifier_types: AllOf<PersonIdKind>,
    /// Nom d'exercice of any exercise.
    pub family: Vec<TextFilter>,
    /// Prénom d'exercice of any exercise.
    pub given: Vec<TextFilter>,
    /// Nom or prénom d'exercice of any exercise.
    pub name: Vec<TextFilter>,
    /// Profession codes of any exercise.
    pub professions: AllOf<String>,
    /// With (true) or without (false) a situation in force.
    pub active: Option<bool>,
    /// Bounds on the last update.
    pub last_updated: Vec<TimeBound>,
}

/// A search of situations d'exercice (FHIR PractitionerRole).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleQuery {
    /// Internal ids.
    pub ids: AllOf<SituationId>,
    /// Persons.
    pub practitioners: AllOf<PersonId>,
    /// Establishments.
    pub organizations: AllOf<StructureId>,
    /// Codes of the situation.
    pub codes: AllOf<RoleCodeFilter>,
    /// In force (true) or not (false).
    pub active: Option<bool>,
    /// Bounds on the last update.
    pub last_updated: Vec<TimeBound>,
}

/// A search of structures (FHIR Organization).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrganizationQuery {
    /// Internal ids.
    pub ids: AllOf<StructureId>,
    /// Identifier values.
    pub identifiers: AllOf<StructureIdFilter>,
    /// Kinds of identifier the structure must hold.
    pub identifier_types: AllOf<StructureIdKind>,
    /// Name.
    pub name: Vec<TextFilter>,
    /// Any part of the address: line, postcode or city.
    pub address: Vec<TextFilter>,
    /// City.
    pub city: Vec<TextFilter>,
    /// Postcode.
    pub postcode: Vec<TextFilter>,
    /// Kind or category.
    pub types: AllOf<StructureTypeFilter>,
    /// Establishments of these legal entities.
    pub part_of: AllOf<StructureId>,
    /// Open (true) or closed (false).
    pub active: Option<bool>,
    /// Bounds on the last update.
    pub last_updated: Vec<TimeBound>,
}

/// The order of a page, which is also the form of its cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageOrder {
    /// By id.
    Id,
    /// By last update, then id.
    LastUpdated,
}

/// Where a page starts: after the row with this sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keyset {
    /// The last row's last update (only for [`PageOrder::LastUpdated`]).
    pub last_updated: Option<Timestamp>,
    /// The last row's id.
    pub id: i64,
}

/// One page to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// The order.
    pub order: PageOrder,
    /// Start after this row (`None`: from the start).
    pub after: Option<Keyset>,
    /// At most this many rows.
    pub limit: u32,
}

/// A professional exercise as the directory shows it: the exercise names, not civil ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryExercise {
    /// Profession code (TRE_R85 or TRE_G15).
    pub profession_code: String,
    /// TRE_R11 civilité d'exercice.
    pub exercise_civility: Option<String>,
    /// Nom d'exercice.
    pub last_name: String,
    /// Prénom d'exercice.
    pub first_name: String,
}

/// A practitioner: a person with at least one professional exercise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryPractitioner {
    /// Internal id.
    pub id: PersonId,
    /// IDNPS.
    pub idnps: Idnps,
    /// RPPS number.
    pub rpps: Option<Rpps>,
    /// ADELI number.
    pub adeli: Option<Adeli>,
    /// TRE_R81 civility.
    pub civility: String,
    /// Exercises, oldest first.
    pub exercises: Vec<DirectoryExercise>,
    /// Whether one of their situations is in force.
    pub active: bool,
    /// Last change of the person or of one of their situations.
    pub last_updated: Timestamp,
}

/// A situation d'exercice as the directory shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryRole {
    /// Internal id.
    pub id: SituationId,
    /// The person.
    pub person: PersonId,
    /// The establishment.
    pub structure: StructureId,
    /// TRE_R22 genre d'activité.
    pub role_code: String,
    /// TRE_R23 practice mode.
    pub practice_mode: String,
    /// The exercise's profession code.
    pub profession_code: String,
    /// Date de prise de fonction.
    pub start_date: Date,
    /// Last day of activity.
    pub end_date: Option<Date>,
    /// Whether in force (`domain::situation::situation_in_force`).
    pub active: bool,
    /// Last change.
    pub last_updated: Timestamp,
}

/// A structure as the directory shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryOrganization {
    /// The structure.
    pub structure: Structure,
    /// For an establishment, its legal entity's id when the registry holds it.
    pub part_of: Option<StructureId>,
}

/// Directory reads. `now` is the instant at which situations are judged in force.
#[async_trait]
pub trait DirectoryStore {
    /// A page of practitioners.
    async fn directory_practitioners(
        &self,
        q: &PractitionerQuery,
        page: &Paging,
        now: Timestamp,
    ) -> StoreResult<Vec<DirectoryPractitioner>>;

    /// How many practitioners match (reads every match: only on demand).
    async fn count_directory_practitioners(
        &self,
        q: &PractitionerQuery,
        now: Timestamp,
    ) -> StoreResult<u64>;

    /// A page of situations.
    async fn directory_roles(
        &self,
        q: &RoleQuery,
        page: &Paging,
        now: Timestamp,
    ) -> StoreResult<Vec<DirectoryRole>>;

    /// How many situations match.
    async fn count_directory_roles(&self, q: &RoleQuery, now: Timestamp) -> StoreResult<u64>;

    /// A page of structures.
    async fn directory_organizations(
        &self,
        q: &OrganizationQuery,
        page: &Paging,
    ) -> StoreResult<Vec<DirectoryOrganization>>;

    /// How many structures match.
    async fn count_directory_organizations(&self, q: &OrganizationQuery) -> StoreResult<u64>;
}

/// What SQL needs to judge a situation in force at `now` with the rule of
/// `domain::situation::situation_in_force`: `start <= today <= end`, and not closed at once
/// (`closed_at` absent or after `now`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InForceAt {
    /// The civil date of `now` in Europe/Paris.
    pub today: Date,
    /// The instant.
    pub now: Timestamp,
}

impl InForceAt {
    /// The values for the instant `now`.
    pub fn new(now: Timestamp) -> InForceAt {
        InForceAt {
            today: rppsplus_domain::situation::paris_date(now),
            now,
        }
    }
}

/// The folding of exercise names, cities and address lines that the directory searches on,
/// twin of the `*_fold` columns of migration `20261127000009_directory`: French accented
/// letters (both cases) to their base letter, `æ`/`œ` to two letters, hyphens and apostrophes
/// to spaces, ASCII to lower case; anything else unchanged. The database computes the same
/// function in SQL (`replace`/`translate` and `lower`), so a prefix of a folded text is a range
/// of the index on the folded column.
pub fn fold_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match fold_char(c) {
            Some(f) => out.push_str(f),
            None => out.push(c.to_ascii_lowercase()),
        }
    }
    out
}

/// The characters [`fold_text`] replaces, and by what. The migrations spell the same table.
pub const FOLDED_CHARS: &[(char, &str)] = &[
    ('À', "a"),
    ('Â', "a"),
    ('Ä', "a"),
    ('Á', "a"),
    ('à', "a"),
    ('â', "a"),
    ('ä', "a"),
    ('á', "a"),
    ('Ç', "c"),
    ('ç', "c"),
    ('É', "e"),
    ('È', "e"),
    ('Ê', "e"),
    ('Ë', "e"),
    ('é', "e"),
    ('è', "e"),
    ('ê', "e"),
    ('ë', "e"),
    ('Î', "i"),
    ('Ï', "i"),
    ('Í', "i"),
    ('î', "i"),
    ('ï', "i"),
    ('í', "i"),
    ('Ô', "o"),
    ('Ö', "o"),
    ('Ó', "o"),
    ('ô', "o"),
    ('ö', "o"),
    ('ó', "o"),
    ('Ù', "u"),
    ('Û', "u"),
    ('Ü', "u"),
    ('Ú', "u"),
    ('ù', "u"),
    ('û', "u"),
    ('ü', "u"),
    ('ú', "u"),
    ('Ÿ', "y"),
    ('ÿ', "y"),
    ('Ñ', "n"),
    ('ñ', "n"),
    ('-', " "),
    ('\'', " "),
    ('’', " "),
    ('Æ', "ae"),
    ('æ', "ae"),
    ('Œ', "oe"),
    ('œ', "oe"),
];

fn fold_char(c: char) -> Option<&'static str> {
    FOLDED_CHARS
        .iter()
        .find(|(from, _)| *from == c)
        .map(|(_, to)| *to)
}

/// The exclusive upper bound of the texts that start with `prefix` (in byte order, which both
/// backends use on the folded columns): `prefix` followed by the greatest code point.
pub fn prefix_upper_bound(prefix: &str) -> String {
    let mut s = String::with_capacity(prefix.len() + 4);
    s.push_str(prefix);
    s.push(char::MAX);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_accents_and_separators() {
        assert_eq!(fold_text("Lefèvre"), "lefevre");
        assert_eq!(fold_text("ÉLODIE"), "elodie");
        assert_eq!(fold_text("Jean-Pierre"), "jean pierre");
        assert_eq!(fold_text("D’Almeida"), "d almeida");
        assert_eq!(fold_text("Lætitia Œuvray"), "laetitia oeuvray");
        // Outside the table, nothing changes (the database does the same).
        assert_eq!(fold_text("Øst"), "Øst");
    }

    #[test]
    fn today_is_the_date_in_paris() {
        let at = |s: &str| s.parse::<Timestamp>().unwrap_or(Timestamp::UNIX_EPOCH);
        let f = InForceAt::new(at("2026-11-27T23:30:00Z"));
        assert_eq!(f.today, jiff::civil::date(2026, 11, 28));
        let summer = InForceAt::new(at("2026-06-30T22:30:00Z"));
        assert_eq!(summer.today, jiff::civil::date(2026, 7, 1));
        let before = InForceAt::new(at("2026-06-30T21:30:00Z"));
        assert_eq!(before.today, jiff::civil::date(2026, 6, 30));
    }

    #[test]
    fn the_upper_bound_follows_every_continuation() {
        let hi = prefix_upper_bound("dup");
        assert!("dupont".as_bytes() < hi.as_bytes());
        assert!("dupé".as_bytes() < hi.as_bytes());
        assert!("duq".as_bytes() > hi.as_bytes());
        assert!("dup".as_bytes() < hi.as_bytes());
    }
}
