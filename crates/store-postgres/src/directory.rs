//! Directory reads (see [`rppsplus_store::DirectoryStore`]) on the pool, outside transactions.
//!
//! Every page is one `SELECT … WHERE <filters> AND <after the cursor> ORDER BY <key> LIMIT n`
//! driven by an index in the page order (the same statements as on SQLite, whose plans are
//! checked by its tests):
//!
//! - practitioners by id: the `persons` primary key, each row probed in
//!   `ix_exercises_person` (only persons with an exercise are practitioners); by last update:
//!   `ix_persons_directory_updated (directory_updated_at, id)`;
//! - situations by id: the `situations` primary key; by last update:
//!   `ix_situations_updated (updated_at, id)`; of one person: `ix_situations_person`; at one
//!   establishment: `ix_situations_structure`;
//! - structures by id: the primary key; by last update: `ix_structures_updated`.
//!
//! Name searches start from the folded names' index (`ix_exercises_last_name_fold`,
//! `ix_exercises_first_name_fold`: `p.id IN (SELECT person_id … WHERE fold range)`), then
//! look the few persons up by primary key and sort them: their cost follows the number of
//! names with that prefix, not the registry's size. Identifiers use their unique indexes
//! (`uq_persons_rpps`, `uq_persons_idnps`, `ix_persons_adeli`, `uq_structures_finess`,
//! `ix_structures_siret`; SQLite's multi-index OR). Structures by name use
//! `ix_structures_name_key`, by city `ix_structures_city_fold`. Professions and `active` are
//! probes per row (`ix_exercises_person`, `ix_situations_person`) in page order.
//! `:contains` searches read every row the other filters leave.

use std::collections::HashMap;

use async_trait::async_trait;
use jiff::Timestamp;
use jiff_sqlx::ToSqlx;
use rppsplus_domain::matching_key;
use rppsplus_domain::situation::situation_in_force;
use rppsplus_store::{
    DirectoryExercise, DirectoryOrganization, DirectoryPractitioner, DirectoryRole, DirectoryStore,
    InForceAt, Keyset, OrganizationQuery, PageOrder, Paging, PersonId, PersonIdFilter,
    PersonIdKind, PractitionerQuery, RoleCodeFilter, RoleField, RoleQuery, SituationId,
    StoreResult, StructureId, StructureIdFilter, StructureIdKind, StructureTypeFilter, TextFilter,
    TextMatch, TimeBound, fold_text, prefix_upper_bound,
};
use sqlx::postgres::PgArguments;
// Statements are assembled from fixed fragments and numbered placeholders; every value is
// bound, and only integers read back from the database are spelled into `IN (…)` lists.
use sqlx::{Arguments, AssertSqlSafe, FromRow};

use crate::PgStore;
use crate::convert::{adeli, idnps, rpps};
use crate::error::store_error;
use crate::rows::StructureRow;

/// A statement being built: its text and its arguments, numbered in order.
#[derive(Default)]
struct Sql {
    where_: Vec<String>,
    args: Vec<Arg>,
}

enum Arg {
    Int(i64),
    Text(String),
    Instant(Timestamp),
    Day(jiff::civil::Date),
}

impl Sql {
    fn int(&mut self, v: i64) -> String {
        self.args.push(Arg::Int(v));
        format!("${}", self.args.len())
    }

    fn text(&mut self, v: impl Into<String>) -> String {
        self.args.push(Arg::Text(v.into()));
        format!("${}", self.args.len())
    }

    fn instant(&mut self, v: Timestamp) -> String {
        self.args.push(Arg::Instant(v));
        format!("${}", self.args.len())
    }

    fn day(&mut self, v: jiff::civil::Date) -> String {
        self.args.push(Arg::Day(v));
        format!("${}", self.args.len())
    }

    fn cond(&mut self, c: String) {
        self.where_.push(c);
    }

    fn where_clause(&self) -> String {
        if self.where_.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.where_.join(" AND "))
        }
    }

    fn arguments(&self) -> StoreResult<PgArguments> {
        let mut a = PgArguments::default();
        for arg in &self.args {
            let r = match arg {
                Arg::Int(v) => a.add(*v),
                Arg::Text(v) => a.add(v.clone()),
                Arg::Instant(v) => a.add(rppsplus_store::audit::truncate(*v).to_sqlx()),
                Arg::Day(v) => a.add(v.to_sqlx()),
            };
            r.map_err(|e| rppsplus_store::StoreError::Backend(e.to_string()))?;
        }
        Ok(a)
    }

    /// `(alt1 OR alt2 …)`, false when there is no alternative.
    fn any<T>(&mut self, alts: &[T], mut one: impl FnMut(&mut Sql, &T) -> String) -> String {
        if alts.is_empty() {
            return "FALSE".into();
        }
        let parts: Vec<String> = alts.iter().map(|a| one(self, a)).collect();
        format!("({})", parts.join(" OR "))
    }

    fn ids<T: Copy>(&mut self, column: &str, clauses: &[Vec<T>], id: impl Fn(T) -> i64) {
        for clause in clauses {
            let c = self.any(clause, |sql, v| format!("{column} = {}", sql.int(id(*v))));
            self.cond(c);
        }
    }

    /// A text filter on a folded column (`fold`) whose raw text is `raw`.
    fn text_filter(&mut self, f: &TextFilter, fold: &str, raw: &str) -> String {
        self.any(&f.any_of, |sql, v| match f.mode {
            TextMatch::Prefix => {
                let key = fold_text(v);
                let hi = prefix_upper_bound(&key);
                format!(
                    "({fold} >= {} AND {fold} < {})",
                    sql.text(key),
                    sql.text(hi)
                )
            }
            TextMatch::Exact => format!(
                "({fold} = {} AND {raw} = {})",
                sql.text(fold_text(v)),
                sql.text(v.clone())
            ),
            TextMatch::Contains => format!("strpos({fold}, {}) > 0", sql.text(fold_text(v))),
        })
    }

    fn time_bounds(&mut self, column: &str, bounds: &[TimeBound]) {
        for b in bounds {
            let c = match *b {
                TimeBound::AtLeast(t) => format!("{column} >= {}", self.instant(t)),
                TimeBound::Before(t) => format!("{column} < {}", self.instant(t)),
                TimeBound::Outside(lo, hi) => format!(
                    "({column} < {} OR {column} >= {})",
                    self.instant(lo),
                    self.instant(hi)
                ),
            };
            self.cond(c);
        }
    }

    /// Whether the situation `s` is in force (`domain::situation::situation_in_force`).
    fn in_force(&mut self, f: &InForceAt) -> String {
        let today = self.day(f.today);
        let now = self.instant(f.now);
        format!(
            "(s.start_date <= {today} AND (s.end_date IS NULL OR s.end_date >= {today})
              AND (s.closed_at IS NULL OR s.closed_at > {now}))"
        )
    }

    /// The cursor condition and the ORDER BY of a page.
    fn page(&mut self, page: &Paging, id: &str, updated: &str) -> String {
        match (page.order, page.after) {
            (PageOrder::Id, Some(Keyset { id: after, .. })) => {
                let c = format!("{id} > {}", self.int(after));
                self.cond(c);
            }
            (
                PageOrder::LastUpdated,
                Some(Keyset {
                    last_updated: Some(t),
                    id: after,
                }),
            ) => {
                let c = format!(
                    "({updated}, {id}) > ({}, {})",
                    self.instant(t),
                    self.int(after)
                );
                self.cond(c);
            }
            (PageOrder::LastUpdated, Some(Keyset { id: after, .. })) => {
                let c = format!("{id} > {}", self.int(after));
                self.cond(c);
            }
            (_, None) => {}
        }
        let limit = self.int(i64::from(page.limit));
        match page.order {
            PageOrder::Id => format!("ORDER BY {id} LIMIT {limit}"),
            PageOrder::LastUpdated => format!("ORDER BY {updated}, {id} LIMIT {limit}"),
        }
    }
}

/// The conditions of a practitioner search; `counting` when every match is read anyway.
fn practitioner_filters(sql: &mut Sql, q: &PractitionerQuery, now: Timestamp, counting: bool) {
    // Scalar subqueries with LIMIT 1 are probes of one person's rows: PostgreSQL would turn an
    // EXISTS into a merge semi-join that reads the other table from its start, whatever the
    // cursor, so a deep page would cost more than the first.
    // A count reads every match: there a semi-join is the cheaper plan.
    sql.cond(if counting {
        "EXISTS (SELECT 1 FROM exercises e WHERE e.person_id = p.id)".into()
    } else {
        "(SELECT TRUE FROM exercises e WHERE e.person_id = p.id LIMIT 1)".into()
    });
    sql.ids("p.id", &q.ids, |v: PersonId| v.0);
    for clause in &q.identifiers {
        let c = sql.any(clause, |sql, f: &PersonIdFilter| {
            let v = sql.text(f.value.clone());
            match f.kind {
                Some(PersonIdKind::Rpps) => format!("p.rpps = {v}"),
                Some(PersonIdKind::Idnps) => format!("p.idnps = {v}"),
                Some(PersonIdKind::Adeli) => format!("p.adeli = {v}"),
                None => format!("(p.rpps = {v} OR p.idnps = {v} OR p.adeli = {v})"),
            }
        });
        sql.cond(c);
    }
    for clause in &q.identifier_types {
        let c = sql.any(clause, |_, k: &PersonIdKind| match k {
            PersonIdKind::Rpps => "p.rpps IS NOT NULL".into(),
            PersonIdKind::Idnps => "TRUE".into(),
            PersonIdKind::Adeli => "p.adeli IS NOT NULL".into(),
        });
        sql.cond(c);
    }
    for f in &q.family {
        let c = sql.text_filter(f, "e.last_name_fold", "e.exercise_last_name");
        sql.cond(format!(
            "p.id IN (SELECT e.person_id FROM exercises e WHERE {c})"
        ));
    }
    for f in &q.given {
        let c = sql.text_filter(f, "e.first_name_fold", "e.exercise_first_name");
        sql.cond(format!(
            "p.id IN (SELECT e.person_id FROM exercises e WHERE {c})"
        ));
    }
    for f in &q.name {
        let last = sql.text_filter(f, "e.last_name_fold", "e.exercise_last_name");
        let first = sql.text_filter(f, "e.first_name_fold", "e.exercise_first_name");
        sql.cond(format!(
            "p.id IN (SELECT e.person_id FROM exercises e WHERE {last} OR {first})"
        ));
    }
    for clause in &q.professions {
        let c = sql.any(clause, |sql, code: &String| {
            format!("e.profession_code = {}", sql.text(code.clone()))
        });
        sql.cond(format!(
            "(SELECT TRUE FROM exercises e WHERE e.person_id = p.id AND {c} LIMIT 1)"
        ));
    }
    if let Some(active) = q.active {
        let f = sql.in_force(&InForceAt::new(now));
        let none = if active { "" } else { " IS NULL" };
        sql.cond(format!(
            "(SELECT TRUE FROM situations s WHERE s.person_id = p.id AND {f} LIMIT 1){none}"
        ));
    }
    sql.time_bounds("p.directory_updated_at", &q.last_updated);
}

fn role_filters(sql: &mut Sql, q: &RoleQuery, now: Timestamp) {
    sql.ids("s.id", &q.ids, |v: SituationId| v.0);
    sql.ids("s.person_id", &q.practitioners, |v: PersonId| v.0);
    sql.ids("s.structure_id", &q.organizations, |v: StructureId| v.0);
    for clause in &q.codes {
        let c = sql.any(clause, |sql, f: &RoleCodeFilter| {
            let v = sql.text(f.code.clone());
            match f.field {
                Some(RoleField::Genre) => format!("s.role_code = {v}"),
                Some(RoleField::PracticeMode) => format!("s.practice_mode = {v}"),
                Some(RoleField::Profession) => format!("e.profession_code = {v}"),
                None => format!(
                    "(s.role_code = {v} OR s.practice_mode = {v} OR e.profession_code = {v})"
                ),
            }
        });
        sql.cond(c);
    }
    if let Some(active) = q.active {
        let f = sql.in_force(&InForceAt::new(now));
        let not = if active { "" } else { "NOT " };
        sql.cond(format!("{not}{f}"));
    }
    sql.time_bounds("s.updated_at", &q.last_updated);
}

fn organization_filters(sql: &mut Sql, q: &OrganizationQuery) {
    sql.ids("st.id", &q.ids, |v: StructureId| v.0);
    for clause in &q.identifiers {
        let c = sql.any(clause, |sql, f: &StructureIdFilter| {
            let idnst = f.value.strip_prefix('1').map(str::to_owned);
            let v = sql.text(f.value.clone());
            let idnst_cond = |sql: &mut Sql| match &idnst {
                Some(finess) => format!("st.finess = {}", sql.text(finess.clone())),
                None => "FALSE".into(),
            };
            match f.kind {
                Some(StructureIdKind::Finess) => format!("st.finess = {v}"),
                Some(StructureIdKind::FinessEj) => format!("(st.finess = {v} AND st.kind = 'EJ')"),
                Some(StructureIdKind::FinessEg) => format!("(st.finess = {v} AND st.kind = 'EG')"),
                Some(StructureIdKind::Siret) => format!("st.siret = {v}"),
                Some(StructureIdKind::Idnst) => idnst_cond(sql),
                None => {
                    let i = idnst_cond(sql);
                    format!("(st.finess = {v} OR st.siret = {v} OR {i})")
                }
            }
        });
        sql.cond(c);
    }
    for clause in &q.identifier_types {
        let c = sql.any(clause, |_, k: &StructureIdKind| match k {
            StructureIdKind::Finess | StructureIdKind::Idnst => "TRUE".into(),
            StructureIdKind::FinessEj => "st.kind = 'EJ'".into(),
            StructureIdKind::FinessEg => "st.kind = 'EG'".into(),
            StructureIdKind::Siret => "st.siret IS NOT NULL".into(),
        });
        sql.cond(c);
    }
    for f in &q.name {
        // The name is searched on its matching key (`name_key`, as the structure search does).
        let c = sql.any(&f.any_of, |sql, v| match f.mode {
            TextMatch::Prefix => {
                let key = matching_key(v);
                let hi = prefix_upper_bound(&key);
                format!(
                    "(st.name_key COLLATE \"C\" >= {} AND st.name_key COLLATE \"C\" < {})",
                    sql.text(key),
                    sql.text(hi)
                )
            }
            TextMatch::Exact => format!("st.name = {}", sql.text(v.clone())),
            TextMatch::Contains => {
                format!("strpos(st.name_key, {}) > 0", sql.text(matching_key(v)))
            }
        });
        sql.cond(c);
    }
    for f in &q.address {
        let line = sql.text_filter(f, "st.address_fold", "st.address");
        let city = sql.text_filter(f, "st.city_fold", "st.city");
        let postcode = sql.text_filter(f, "st.postcode COLLATE \"C\"", "st.postcode");
        sql.cond(format!("({line} OR {city} OR {postcode})"));
    }
    for f in &q.city {
        let c = sql.text_filter(f, "st.city_fold", "st.city");
        sql.cond(c);
    }
    for f in &q.postcode {
        let c = sql.text_filter(f, "st.postcode COLLATE \"C\"", "st.postcode");
        sql.cond(c);
    }
    for clause in &q.types {
        let c = sql.any(clause, |sql, t: &StructureTypeFilter| match t {
            StructureTypeFilter::Kind(k) => format!("st.kind = {}", sql.text(k.as_str())),
            StructureTypeFilter::Category(code) => {
                format!("st.category_code = {}", sql.text(code.clone()))
            }
        });
        sql.cond(c);
    }
    for clause in &q.part_of {
        let c = sql.any(clause, |sql, id: &StructureId| {
            format!(
                "st.ej_finess = (SELECT ej.finess FROM structures ej WHERE ej.id = {})",
                sql.int(id.0)
            )
        });
        sql.cond(c);
    }
    if let Some(active) = q.active {
        sql.cond(if active {
            "st.open".into()
        } else {
            "NOT st.open".into()
        });
    }
    sql.time_bounds("st.updated_at", &q.last_updated);
}

fn id_list(ids: &[i64]) -> String {
    ids.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(FromRow)]
struct PractitionerRow {
    id: i64,
    idnps: String,
    rpps: Option<String>,
    adeli: Option<String>,
    civility: String,
    directory_updated_at: jiff_sqlx::Timestamp,
}

#[derive(FromRow)]
struct ExerciseRow {
    person_id: i64,
    profession_code: String,
    exercise_civility: Option<String>,
    exercise_last_name: String,
    exercise_first_name: String,
}

#[derive(FromRow)]
struct RoleRow {
    id: i64,
    person_id: i64,
    structure_id: i64,
    role_code: String,
    practice_mode: String,
    profession_code: String,
    start_date: jiff_sqlx::Date,
    end_date: Option<jiff_sqlx::Date>,
    closed_at: Option<jiff_sqlx::Timestamp>,
    updated_at: jiff_sqlx::Timestamp,
}

#[derive(FromRow)]
struct OrganizationRow {
    #[sqlx(flatten)]
    structure: StructureRow,
    part_of: Option<i64>,
}

const ROLE_SELECT: &str =
    "SELECT s.id, s.person_id, s.structure_id, s.role_code, s.practice_mode, e.profession_code,
            s.start_date, s.end_date,
            s.closed_at,
            s.updated_at
     FROM situations s JOIN exercises e ON e.id = s.exercise_id ";

const ORGANIZATION_SELECT: &str =
    "SELECT st.id, st.finess, st.kind, st.ej_finess, st.name, st.siret, st.category_code,
            st.setting, st.address, st.postcode, st.commune_code, st.city, st.open,
            st.closed_on, st.management_mode, st.created_at, st.updated_at,
            (SELECT ej.id FROM structures ej WHERE ej.finess = st.ej_finess) AS part_of
     FROM structures st ";

impl PgStore {
    async fn count(&self, sql: &Sql, from: &str) -> StoreResult<u64> {
        let text = format!("SELECT count(*) FROM {from} {}", sql.where_clause());
        let n: i64 = sqlx::query_scalar_with(AssertSqlSafe(text), sql.arguments()?)
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

#[async_trait]
impl DirectoryStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn directory_practitioners(
        &self,
        q: &PractitionerQuery,
        page: &Paging,
        now: Timestamp,
    ) -> StoreResult<Vec<DirectoryPractitioner>> {
        let mut sql = Sql::default();
        practitioner_filters(&mut sql, q, now, false);
        let tail = sql.page(page, "p.id", "p.directory_updated_at");
        let text = format!(
            "SELECT p.id, p.idnps, p.rpps, p.adeli, p.civility, p.directory_updated_at
             FROM persons p {} {tail}",
            sql.where_clause()
        );
        let rows: Vec<PractitionerRow> = sqlx::query_as_with(AssertSqlSafe(text), sql.arguments()?)
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids = id_list(&rows.iter().map(|r| r.id).collect::<Vec<_>>());
        let exercises: Vec<ExerciseRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT person_id, profession_code, exercise_civility, exercise_last_name,
                    exercise_first_name
             FROM exercises WHERE person_id IN ({ids}) ORDER BY person_id, id"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        let situations: Vec<(
            i64,
            jiff_sqlx::Date,
            Option<jiff_sqlx::Date>,
            Option<jiff_sqlx::Timestamp>,
        )> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT person_id, start_date, end_date,
                        closed_at
                 FROM situations WHERE person_id IN ({ids})"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        let mut by_person: HashMap<i64, Vec<DirectoryExercise>> = HashMap::new();
        for e in exercises {
            by_person
                .entry(e.person_id)
                .or_default()
                .push(DirectoryExercise {
                    profession_code: e.profession_code,
                    exercise_civility: e.exercise_civility,
                    last_name: e.exercise_last_name,
                    first_name: e.exercise_first_name,
                });
        }
        let mut active: HashMap<i64, bool> = HashMap::new();
        for (person, start, end, closed_at) in situations {
            let in_force = situation_in_force(
                start.to_jiff(),
                end.map(|d| d.to_jiff()),
                closed_at.map(|t| t.to_jiff()),
                now,
            );
            *active.entry(person).or_default() |= in_force;
        }
        rows.into_iter()
            .map(|r| {
                Ok(DirectoryPractitioner {
                    id: PersonId(r.id),
                    idnps: idnps(&r.idnps)?,
                    rpps: r.rpps.as_deref().map(rpps).transpose()?,
                    adeli: r.adeli.as_deref().map(adeli).transpose()?,
                    civility: r.civility,
                    exercises: by_person.remove(&r.id).unwrap_or_default(),
                    active: active.get(&r.id).copied().unwrap_or(false),
                    last_updated: r.directory_updated_at.to_jiff(),
                })
            })
            .collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn count_directory_practitioners(
        &self,
        q: &PractitionerQuery,
        now: Timestamp,
    ) -> StoreResult<u64> {
        let mut sql = Sql::default();
        practitioner_filters(&mut sql, q, now, true);
        self.count(&sql, "persons p").await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn directory_roles(
        &self,
        q: &RoleQuery,
        page: &Paging,
        now: Timestamp,
    ) -> StoreResult<Vec<DirectoryRole>> {
        let mut sql = Sql::default();
        role_filters(&mut sql, q, now);
        let tail = sql.page(page, "s.id", "s.updated_at");
        let text = format!("{ROLE_SELECT} {} {tail}", sql.where_clause());
        let rows: Vec<RoleRow> = sqlx::query_as_with(AssertSqlSafe(text), sql.arguments()?)
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.into_iter()
            .map(|r| {
                let start_date = r.start_date.to_jiff();
                let end_date = r.end_date.map(|d| d.to_jiff());
                Ok(DirectoryRole {
                    id: SituationId(r.id),
                    person: PersonId(r.person_id),
                    structure: StructureId(r.structure_id),
                    role_code: r.role_code,
                    practice_mode: r.practice_mode,
                    profession_code: r.profession_code,
                    start_date,
                    end_date,
                    active: situation_in_force(
                        start_date,
                        end_date,
                        r.closed_at.map(|t| t.to_jiff()),
                        now,
                    ),
                    last_updated: r.updated_at.to_jiff(),
                })
            })
            .collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn count_directory_roles(&self, q: &RoleQuery, now: Timestamp) -> StoreResult<u64> {
        let mut sql = Sql::default();
        role_filters(&mut sql, q, now);
        self.count(
            &sql,
            "situations s JOIN exercises e ON e.id = s.exercise_id",
        )
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn directory_organizations(
        &self,
        q: &OrganizationQuery,
        page: &Paging,
    ) -> StoreResult<Vec<DirectoryOrganization>> {
        let mut sql = Sql::default();
        organization_filters(&mut sql, q);
        let tail = sql.page(page, "st.id", "st.updated_at");
        let text = format!("{ORGANIZATION_SELECT} {} {tail}", sql.where_clause());
        let rows: Vec<OrganizationRow> = sqlx::query_as_with(AssertSqlSafe(text), sql.arguments()?)
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.into_iter()
            .map(|r| {
                Ok(DirectoryOrganization {
                    structure: r.structure.into_structure()?,
                    part_of: r.part_of.map(StructureId),
                })
            })
            .collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn count_directory_organizations(&self, q: &OrganizationQuery) -> StoreResult<u64> {
        let mut sql = Sql::default();
        organization_filters(&mut sql, q);
        self.count(&sql, "structures st").await
    }
}
