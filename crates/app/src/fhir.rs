//! The public directory over FHIR: searches and reads of Practitioner, PractitionerRole and
//! Organization, from the registry as last committed (no batch, no cache).
//!
//! Reads only, outside any transaction: each page is one indexed query (see
//! `rppsplus_store::DirectoryStore`), plus one per `_include` / `_revinclude`, plus a count
//! only when `_total=accurate` is asked.

use rppsplus_fhir::bundle::Page;
use rppsplus_fhir::search::{
    DateBound, Include, OrgIdKind, OrgType, PersonIdKind, RevInclude, RoleField, StringMode,
    StringParam,
};
use rppsplus_fhir::{
    Criterion, Cursor, ExerciseView, OrganizationView, Outcome, PractitionerView, ResourceType,
    RoleView, Search,
};
use rppsplus_store::{
    DirectoryOrganization, DirectoryPractitioner, DirectoryRole, Keyset, OrganizationQuery,
    PageOrder, Paging, PersonId, PersonIdFilter, PractitionerQuery, RoleCodeFilter, RoleQuery,
    SituationId, StoreError, StructureId, StructureIdFilter, StructureIdKind, StructureKind,
    StructureTypeFilter, TextFilter, TextMatch, TimeBound,
};
use serde_json::Value;

use crate::App;

/// At most this many resources are added to a page by one `_revinclude` (an establishment may
/// have thousands of situations; a client wanting them all searches PractitionerRole).
pub const MAX_REVINCLUDED: u32 = 1000;

fn internal(e: StoreError) -> Outcome {
    tracing::error!(error = %e, "directory read failed");
    Outcome::internal()
}

fn text(p: &StringParam) -> TextFilter {
    TextFilter {
        mode: match p.mode {
            StringMode::Prefix => TextMatch::Prefix,
            StringMode::Exact => TextMatch::Exact,
            StringMode::Contains => TextMatch::Contains,
        },
        any_of: p.any_of.clone(),
    }
}

fn bounds(b: DateBound) -> Vec<TimeBound> {
    match b {
        DateBound::AtLeast(t) => vec![TimeBound::AtLeast(t)],
        DateBound::Before(t) => vec![TimeBound::Before(t)],
        DateBound::Within(lo, hi) => vec![TimeBound::AtLeast(lo), TimeBound::Before(hi)],
        DateBound::Outside(lo, hi) => vec![TimeBound::Outside(lo, hi)],
    }
}

/// Resource ids are the registry's internal ids; anything else names no resource.
fn ids<T>(values: &[String], wrap: impl Fn(i64) -> T) -> Vec<T> {
    values
        .iter()
        .filter_map(|v| v.parse::<i64>().ok())
        .map(wrap)
        .collect()
}

/// `active=true&active=false` matches nothing: an empty clause says so.
fn set_active(active: &mut Option<bool>, value: bool, impossible: &mut bool) {
    match *active {
        Some(a) if a != value => *impossible = true,
        _ => *active = Some(value),
    }
}

fn practitioner_query(s: &Search) -> PractitionerQuery {
    let mut q = PractitionerQuery::default();
    let mut impossible = false;
    for c in &s.criteria {
        match c {
            Criterion::Id(v) => q.ids.push(ids(v, PersonId)),
            Criterion::LastUpdated(b) => q.last_updated.extend(bounds(*b)),
            Criterion::Active(a) => set_active(&mut q.active, *a, &mut impossible),
            Criterion::Family(p) => q.family.push(text(p)),
            Criterion::Given(p) => q.given.push(text(p)),
            Criterion::Name(p) => q.name.push(text(p)),
            Criterion::PersonIdentifier(alts) => {
                let kind = |k: PersonIdKind| match k {
                    PersonIdKind::Rpps => rppsplus_store::PersonIdKind::Rpps,
                    PersonIdKind::Idnps => rppsplus_store::PersonIdKind::Idnps,
                };
                if !alts.is_empty() && alts.iter().all(|a| a.value.is_none()) {
                    q.identifier_types
                        .push(alts.iter().filter_map(|a| a.kind.map(kind)).collect());
                } else {
                    q.identifiers.push(
                        alts.iter()
                            .filter_map(|a| {
                                Some(PersonIdFilter {
                                    kind: a.kind.map(kind),
                                    value: a.value.clone()?,
                                })
                            })
                            .collect(),
                    );
                }
            }
            Criterion::PersonIdentifierType(kinds) => q.identifier_types.push(
                kinds
                    .iter()
                    .map(|k| match k {
                        PersonIdKind::Rpps => rppsplus_store::PersonIdKind::Rpps,
                        PersonIdKind::Idnps => rppsplus_store::PersonIdKind::Idnps,
                    })
                    .collect(),
            ),
            Criterion::Profession(codes) => q.professions.push(codes.clone()),
            _ => impossible = true,
        }
    }
    if impossible {
        q.ids.push(Vec::new());
    }
    q
}

fn role_query(s: &Search) -> RoleQuery {
    let mut q = RoleQuery::default();
    let mut impossible = false;
    for c in &s.criteria {
        match c {
            Criterion::Id(v) => q.ids.push(ids(v, SituationId)),
            Criterion::LastUpdated(b) => q.last_updated.extend(bounds(*b)),
            Criterion::Active(a) => set_active(&mut q.active, *a, &mut impossible),
            Criterion::Practitioner(v) => q.practitioners.push(ids(v, PersonId)),
            Criterion::Organization(v) => q.organizations.push(ids(v, StructureId)),
            Criterion::Role(codes) => q.codes.push(
                codes
                    .iter()
                    .map(|c| RoleCodeFilter {
                        field: c.field.map(|f| match f {
                            RoleField::Genre => rppsplus_store::RoleField::Genre,
                            RoleField::PracticeMode => rppsplus_store::RoleField::PracticeMode,
                            RoleField::Profession => rppsplus_store::RoleField::Profession,
                        }),
                        code: c.code.clone(),
                    })
                    .collect(),
            ),
            _ => impossible = true,
        }
    }
    if impossible {
        q.ids.push(Vec::new());
    }
    q
}

fn org_kind(k: OrgIdKind) -> StructureIdKind {
    match k {
        OrgIdKind::Finess => StructureIdKind::Finess,
        OrgIdKind::FinessEj => StructureIdKind::FinessEj,
        OrgIdKind::FinessEg => StructureIdKind::FinessEg,
        OrgIdKind::Siret => StructureIdKind::Siret,
        OrgIdKind::Idnst => StructureIdKind::Idnst,
    }
}

fn organization_query(s: &Search) -> OrganizationQuery {
    let mut q = OrganizationQuery::default();
    let mut impossible = false;
    for c in &s.criteria {
        match c {
            Criterion::Id(v) => q.ids.push(ids(v, StructureId)),
            Criterion::LastUpdated(b) => q.last_updated.extend(bounds(*b)),
            Criterion::Active(a) => set_active(&mut q.active, *a, &mut impossible),
            Criterion::OrgIdentifier(alts) => {
                if !alts.is_empty() && alts.iter().all(|a| a.value.is_none()) {
                    q.identifier_types
                        .push(alts.iter().filter_map(|a| a.kind.map(org_kind)).collect());
                } else {
                    q.identifiers.push(
                        alts.iter()
                            .filter_map(|a| {
                                Some(StructureIdFilter {
                                    kind: a.kind.map(org_kind),
                                    value: a.value.clone()?,
                                })
                            })
                            .collect(),
                    );
                }
            }
            Criterion::OrgIdentifierType(kinds) => q
                .identifier_types
                .push(kinds.iter().copied().map(org_kind).collect()),
            Criterion::OrgName(p) => q.name.push(text(p)),
            Criterion::Address(p) => q.address.push(text(p)),
            Criterion::City(p) => q.city.push(text(p)),
            Criterion::Postcode(p) => q.postcode.push(text(p)),
            Criterion::OrgType(types) => q.types.push(
                types
                    .iter()
                    .map(|t| match t {
                        OrgType::LegalEntity(true) => StructureTypeFilter::Kind(StructureKind::Ej),
                        OrgType::LegalEntity(false) => StructureTypeFilter::Kind(StructureKind::Eg),
                        OrgType::Category(c) => StructureTypeFilter::Category(c.clone()),
                    })
                    .collect(),
            ),
            Criterion::PartOf(v) => q.part_of.push(ids(v, StructureId)),
            _ => impossible = true,
        }
    }
    if impossible {
        q.ids.push(Vec::new());
    }
    q
}

/// The public view of a practitioner.
pub fn practitioner_view(p: &DirectoryPractitioner) -> PractitionerView {
    PractitionerView {
        id: p.id.0.to_string(),
        idnps: p.idnps.as_str().to_owned(),
        rpps: p.rpps.as_ref().map(|r| r.as_str().to_owned()),
        civility: p.civility.clone(),
        exercises: p
            .exercises
            .iter()
            .map(|e| ExerciseView {
                profession_code: e.profession_code.clone(),
                exercise_civility: e.exercise_civility.clone(),
                last_name: e.last_name.clone(),
                first_name: e.first_name.clone(),
            })
            .collect(),
        active: p.active,
        last_updated: p.last_updated,
    }
}

/// The public view of a situation.
pub fn role_view(r: &DirectoryRole) -> RoleView {
    RoleView {
        id: r.id.0.to_string(),
        practitioner: r.person.0.to_string(),
        organization: r.structure.0.to_string(),
        role_code: r.role_code.clone(),
        practice_mode: r.practice_mode.clone(),
        profession_code: r.profession_code.clone(),
        start: r.start_date,
        end: r.end_date,
        active: r.active,
        last_updated: r.last_updated,
    }
}

/// The public view of a structure.
pub fn organization_view(o: &DirectoryOrganization) -> OrganizationView {
    let s = &o.structure;
    OrganizationView {
        id: s.id.0.to_string(),
        finess: s.record.finess.as_str().to_owned(),
        legal_entity: s.record.kind == StructureKind::Ej,
        name: s.record.name.clone(),
        siret: s.record.siret.as_ref().map(|v| v.as_str().to_owned()),
        category_code: s.record.category_code.clone(),
        address: s.record.address.clone(),
        postcode: s.record.postcode.clone(),
        commune_code: s.record.commune_code.clone(),
        city: s.record.city.clone(),
        open: s.record.open,
        closed_on: s.record.closed_on,
        part_of: o.part_of.map(|id| id.0.to_string()),
        last_updated: s.updated_at,
    }
}

fn paging(search: &Search) -> Paging {
    Paging {
        order: if search.by_last_updated() {
            PageOrder::LastUpdated
        } else {
            PageOrder::Id
        },
        after: search.cursor.map(|c| Keyset {
            last_updated: c.last_updated,
            id: c.id,
        }),
        // One more than asked tells whether a next page exists, without counting.
        limit: search.count.saturating_add(1),
    }
}

fn by_ids(ids: Vec<i64>) -> Paging {
    Paging {
        order: PageOrder::Id,
        after: None,
        limit: u32::try_from(ids.len()).unwrap_or(u32::MAX),
    }
}

/// Keeps the first `count` rows and gives the cursor after the last kept one when more
/// followed.
fn cut<T>(
    mut rows: Vec<T>,
    search: &Search,
    key: impl Fn(&T) -> (jiff::Timestamp, i64),
) -> (Vec<T>, Option<Cursor>) {
    let count = usize::try_from(search.count).unwrap_or(usize::MAX);
    if rows.len() <= count {
        return (rows, None);
    }
    rows.truncate(count);
    let next = rows.last().map(|r| {
        let (t, id) = key(r);
        Cursor {
            last_updated: search.by_last_updated().then_some(t),
            id,
        }
    });
    (rows, next)
}

fn dedup(mut v: Vec<i64>) -> Vec<i64> {
    v.sort_unstable();
    v.dedup();
    v
}

impl App {
    /// One page of a directory search, as a searchset Bundle whose links start with `base`
    /// (the public URL of `/fhir/v2`).
    pub async fn fhir_search(&self, search: &Search, base: &str) -> Result<Value, Outcome> {
        let now = self.now();
        let page = match search.resource {
            ResourceType::Practitioner => self.practitioner_page(search, now).await?,
            ResourceType::PractitionerRole => self.role_page(search, now).await?,
            ResourceType::Organization => self.organization_page(search).await?,
        };
        Ok(rppsplus_fhir::searchset(base, search, page, now))
    }

    /// One resource by id; [`Outcome::not_found`] when there is none.
    pub async fn fhir_read(&self, resource: ResourceType, id: &str) -> Result<Value, Outcome> {
        let missing = || Outcome::not_found(resource.as_str(), id);
        let n: i64 = id.parse().map_err(|_| missing())?;
        let now = self.now();
        let store = &self.store;
        let one = by_ids(vec![n]);
        let found = match resource {
            ResourceType::Practitioner => {
                let q = PractitionerQuery {
                    ids: vec![vec![PersonId(n)]],
                    ..Default::default()
                };
                let rows = store
                    .directory_practitioners(&q, &one, now)
                    .await
                    .map_err(internal)?;
                rows.first()
                    .map(|p| rppsplus_fhir::practitioner(&practitioner_view(p)))
            }
            ResourceType::PractitionerRole => {
                let q = RoleQuery {
                    ids: vec![vec![SituationId(n)]],
                    ..Default::default()
                };
                let rows = store
                    .directory_roles(&q, &one, now)
                    .await
                    .map_err(internal)?;
                rows.first()
                    .map(|r| rppsplus_fhir::practitioner_role(&role_view(r)))
            }
            ResourceType::Organization => {
                let q = OrganizationQuery {
                    ids: vec![vec![StructureId(n)]],
                    ..Default::default()
                };
                let rows = store
                    .directory_organizations(&q, &one)
                    .await
                    .map_err(internal)?;
                rows.first()
                    .map(|o| rppsplus_fhir::organization(&organization_view(o)))
            }
        };
        found.ok_or_else(missing)
    }

    async fn practitioner_page(
        &self,
        search: &Search,
        now: jiff::Timestamp,
    ) -> Result<Page, Outcome> {
        let q = practitioner_query(search);
        let rows = if search.count == 0 {
            Vec::new()
        } else {
            self.store
                .directory_practitioners(&q, &paging(search), now)
                .await
                .map_err(internal)?
        };
        let (rows, next) = cut(rows, search, |p| (p.last_updated, p.id.0));
        let total = if search.total {
            Some(
                self.store
                    .count_directory_practitioners(&q, now)
                    .await
                    .map_err(internal)?,
            )
        } else {
            None
        };
        let mut included = Vec::new();
        if search
            .revincludes
            .contains(&RevInclude::RolesOfPractitioner)
            && !rows.is_empty()
        {
            let q = RoleQuery {
                practitioners: vec![rows.iter().map(|p| p.id).collect()],
                ..Default::default()
            };
            included.extend(self.roles(&q, now).await?);
        }
        Ok(Page {
            matches: rows
                .iter()
                .map(|p| rppsplus_fhir::practitioner(&practitioner_view(p)))
                .collect(),
            included,
            next,
            total,
        })
    }

    async fn role_page(&self, search: &Search, now: jiff::Timestamp) -> Result<Page, Outcome> {
        let q = role_query(search);
        let rows = if search.count == 0 {
            Vec::new()
        } else {
            self.store
                .directory_roles(&q, &paging(search), now)
                .await
                .map_err(internal)?
        };
        let (rows, next) = cut(rows, search, |r| (r.last_updated, r.id.0));
        let total = if search.total {
            Some(
                self.store
                    .count_directory_roles(&q, now)
                    .await
                    .map_err(internal)?,
            )
        } else {
            None
        };
        let mut included = Vec::new();
        if search.includes.contains(&Include::RolePractitioner) && !rows.is_empty() {
            let ids = dedup(rows.iter().map(|r| r.person.0).collect());
            let q = PractitionerQuery {
                ids: vec![ids.iter().copied().map(PersonId).collect()],
                ..Default::default()
            };
            let found = self
                .store
                .directory_practitioners(&q, &by_ids(ids), now)
                .await
                .map_err(internal)?;
            included.extend(
                found
                    .iter()
                    .map(|p| rppsplus_fhir::practitioner(&practitioner_view(p))),
            );
        }
        if search.includes.contains(&Include::RoleOrganization) && !rows.is_empty() {
            let ids = dedup(rows.iter().map(|r| r.structure.0).collect());
            included.extend(self.organizations_by_id(ids).await?);
        }
        Ok(Page {
            matches: rows
                .iter()
                .map(|r| rppsplus_fhir::practitioner_role(&role_view(r)))
                .collect(),
            included,
            next,
            total,
        })
    }

    async fn organization_page(&self, search: &Search) -> Result<Page, Outcome> {
        let q = organization_query(search);
        let rows = if search.count == 0 {
            Vec::new()
        } else {
            self.store
                .directory_organizations(&q, &paging(search))
                .await
                .map_err(internal)?
        };
        let (rows, next) = cut(rows, search, |o| (o.structure.updated_at, o.structure.id.0));
        let total = if search.total {
            Some(
                self.store
                    .count_directory_organizations(&q)
                    .await
                    .map_err(internal)?,
            )
        } else {
            None
        };
        let mut included = Vec::new();
        if search.includes.contains(&Include::OrganizationPartOf) {
            let page_ids: Vec<i64> = rows.iter().map(|o| o.structure.id.0).collect();
            // An included resource already in the page as a match is not repeated.
            let ids = dedup(
                rows.iter()
                    .filter_map(|o| o.part_of.map(|p| p.0))
                    .filter(|id| !page_ids.contains(id))
                    .collect(),
            );
            if !ids.is_empty() {
                included.extend(self.organizations_by_id(ids).await?);
            }
        }
        if search
            .revincludes
            .contains(&RevInclude::RolesOfOrganization)
            && !rows.is_empty()
        {
            let q = RoleQuery {
                organizations: vec![rows.iter().map(|o| o.structure.id).collect()],
                ..Default::default()
            };
            included.extend(self.roles(&q, self.now()).await?);
        }
        Ok(Page {
            matches: rows
                .iter()
                .map(|o| rppsplus_fhir::organization(&organization_view(o)))
                .collect(),
            included,
            next,
            total,
        })
    }

    async fn roles(&self, q: &RoleQuery, now: jiff::Timestamp) -> Result<Vec<Value>, Outcome> {
        let page = Paging {
            order: PageOrder::Id,
            after: None,
            limit: MAX_REVINCLUDED,
        };
        let rows = self
            .store
            .directory_roles(q, &page, now)
            .await
            .map_err(internal)?;
        Ok(rows
            .iter()
            .map(|r| rppsplus_fhir::practitioner_role(&role_view(r)))
            .collect())
    }

    async fn organizations_by_id(&self, ids: Vec<i64>) -> Result<Vec<Value>, Outcome> {
        let q = OrganizationQuery {
            ids: vec![ids.iter().copied().map(StructureId).collect()],
            ..Default::default()
        };
        let rows = self
            .store
            .directory_organizations(&q, &by_ids(ids))
            .await
            .map_err(internal)?;
        Ok(rows
            .iter()
            .map(|o| rppsplus_fhir::organization(&organization_view(o)))
            .collect())
    }
}
