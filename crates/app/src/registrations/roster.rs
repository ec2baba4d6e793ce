//! A structure's professionals as its managers list them: filtered, sorted by name.

use std::collections::HashMap;

use rppsplus_domain::Finess;
use rppsplus_domain::authz::Action;
use rppsplus_domain::matching::matching_key;
use rppsplus_store::{Person, PersonId, Structure, StructureKind};

use super::{SituationView, view};
use crate::access::authorize;
use crate::{Actor, App, AppError, AppResult};

/// What the list keeps; an absent or empty criterion keeps everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RosterFilter {
    /// `active`, `scheduled_closure`, `closed` or `upcoming` (see [`SituationView::status`]).
    pub status: Option<String>,
    /// TRE_R85 code.
    pub profession: Option<String>,
    /// GENR08…GENR12.
    pub role: Option<String>,
    /// FINESS of one establishment of a legal entity.
    pub establishment: Option<String>,
    /// Part of a name (exercise or civil), whatever the accents, case or hyphens; or the start
    /// of an RPPS number.
    pub name: Option<String>,
}

/// One situation of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterRow {
    /// RPPS number of the person.
    pub rpps: String,
    /// The situation, with its establishment and status.
    pub situation: SituationView,
}

/// A structure's professionals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roster {
    /// The structure asked about (an EJ or an EG).
    pub structure: Structure,
    /// The establishments it covers: itself for an EG, its EGs for an EJ.
    pub establishments: Vec<Structure>,
    /// The situations kept by the filter, sorted by exercise name, then first name, then
    /// start date.
    pub rows: Vec<RosterRow>,
    /// How many situations there are before filtering.
    pub total: usize,
    /// The profession codes of those situations, sorted (what the profession filter offers).
    pub professions: Vec<String>,
}

/// A criterion that is set: neither absent nor blank.
fn wanted(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl RosterFilter {
    fn keeps(&self, person: &Person, s: &SituationView) -> bool {
        if wanted(&self.status).is_some_and(|st| st != s.status) {
            return false;
        }
        if wanted(&self.profession).is_some_and(|p| p != s.situation.exercise.profession_code) {
            return false;
        }
        if wanted(&self.role)
            .is_some_and(|r| !r.eq_ignore_ascii_case(&s.situation.record.role_code))
        {
            return false;
        }
        if wanted(&self.establishment).is_some_and(|f| f != s.structure_finess.as_str()) {
            return false;
        }
        match wanted(&self.name) {
            None => true,
            Some(q) if q.chars().all(|c| c.is_ascii_digit()) => person
                .record
                .rpps
                .as_ref()
                .is_some_and(|r| r.as_str().starts_with(q)),
            Some(q) => {
                let r = &person.record;
                let e = &s.situation.exercise;
                let names = [
                    Some(e.exercise_last_name.as_str()),
                    Some(e.exercise_first_name.as_str()),
                    Some(r.birth_name.as_str()),
                    r.usage_name.as_deref(),
                ]
                .into_iter()
                .flatten()
                .chain(r.first_names.iter().map(String::as_str))
                .map(matching_key)
                .collect::<Vec<_>>()
                .join(" ");
                // Every word typed, in any order, is part of one of the names.
                matching_key(q)
                    .split(' ')
                    .all(|w| names.split(' ').any(|n| n.contains(w)))
            }
        }
    }
}

impl App {
    /// The professionals of a structure (every establishment of a legal entity), filtered and
    /// sorted by name, for its legal representative and managers only.
    pub async fn structure_roster(
        &self,
        actor: &Actor,
        finess: &str,
        filter: &RosterFilter,
    ) -> AppResult<Roster> {
        let finess = Finess::parse(finess.trim()).map_err(|_| AppError::NotFound)?;
        let at = self.now();
        let mut tx = self.store.begin().await?;
        let structure = tx
            .structure_by_finess(&finess)
            .await?
            .ok_or(AppError::NotFound)?;
        authorize(&mut tx, actor, Action::ManageProfessionals, &structure).await?;
        let establishments = match structure.record.kind {
            StructureKind::Eg => vec![structure.clone()],
            StructureKind::Ej => tx.establishments_of(&finess).await?,
        };
        let mut persons: HashMap<PersonId, Person> = HashMap::new();
        let mut all = Vec::new();
        for site in &establishments {
            for s in tx.situations_at(site.id).await? {
                let id = s.record.person;
                if let std::collections::hash_map::Entry::Vacant(slot) = persons.entry(id) {
                    slot.insert(tx.person(id).await?.ok_or(AppError::NotFound)?);
                }
                all.push(view(s, site, at));
            }
        }
        tx.rollback().await?;
        let total = all.len();
        let mut professions: Vec<String> = all
            .iter()
            .map(|s| s.situation.exercise.profession_code.clone())
            .collect();
        professions.sort();
        professions.dedup();
        let mut rows: Vec<(String, RosterRow)> = all
            .into_iter()
            .filter_map(|s| {
                let p = persons.get(&s.situation.record.person)?;
                filter.keeps(p, &s).then(|| {
                    let key = format!(
                        "{}\u{1}{}",
                        matching_key(&s.situation.exercise.exercise_last_name),
                        matching_key(&s.situation.exercise.exercise_first_name)
                    );
                    let rpps = p
                        .record
                        .rpps
                        .as_ref()
                        .map(|r| r.as_str().to_owned())
                        .unwrap_or_default();
                    (key, RosterRow { rpps, situation: s })
                })
            })
            .collect();
        rows.sort_by(|(a, x), (b, y)| {
            a.cmp(b)
                .then(
                    x.situation
                        .situation
                        .record
                        .start_date
                        .cmp(&y.situation.situation.record.start_date),
                )
                .then(x.situation.situation.id.0.cmp(&y.situation.situation.id.0))
        });
        Ok(Roster {
            structure,
            establishments,
            rows: rows.into_iter().map(|(_, r)| r).collect(),
            total,
            professions,
        })
    }
}
