//! A summary of who is in a (small) registry and what they can do: what `demo info` prints, so
//! that a person trying the demo knows whom to sign in as.

use std::collections::BTreeSet;

use rppsplus_store::{HabilitationKind, PersonId, Structure, StructureId, StructureKind, Tx};
use serde::Serialize;

use crate::{App, AppResult};

/// A structure in the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StructureSummary {
    /// FINESS number.
    pub finess: String,
    /// Name.
    pub name: String,
    /// `EJ` or `EG`.
    pub kind: &'static str,
    /// Setting of an establishment (`ESMS`, `officine`, `etablissement_sanitaire`, `other`).
    pub setting: Option<String>,
}

/// What a person is, for the demo: the strongest of their capacities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonKind {
    /// Legal representative of a structure.
    LegalRepresentative,
    /// Gestionnaire RPPS+.
    Manager,
    /// Professional.
    Professional,
}

/// A person in the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonSummary {
    /// IDNPS, to sign in with.
    pub idnps: String,
    /// First name and birth name.
    pub name: String,
    /// Strongest capacity.
    pub kind: PersonKind,
    /// FINESS numbers of the establishments they act for or work at.
    pub structures: Vec<String>,
}

/// The whole summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirectorySummary {
    /// Every structure.
    pub structures: Vec<StructureSummary>,
    /// Every person.
    pub people: Vec<PersonSummary>,
}

const PAGE: u32 = 500;

impl App {
    /// Lists structures and people with their capacities. Meant for small registries (demo).
    pub async fn directory_summary(&self) -> AppResult<DirectorySummary> {
        let mut tx = self.store.begin().await?;
        let all = tx.list_structures().await?;
        let structures = all
            .iter()
            .map(|s| StructureSummary {
                finess: s.record.finess.to_string(),
                name: s.record.name.clone(),
                kind: s.record.kind.as_str(),
                setting: s.record.setting.clone(),
            })
            .collect();
        let mut people = Vec::new();
        let mut after = PersonId(0);
        loop {
            let page = tx.list_persons(after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            for p in page {
                people.push(summarise(&mut tx, &all, p).await?);
            }
        }
        tx.rollback().await?;
        Ok(DirectorySummary { structures, people })
    }
}

async fn summarise(
    tx: &mut Box<dyn Tx>,
    all: &[Structure],
    p: rppsplus_store::Person,
) -> AppResult<PersonSummary> {
    let mut sites = BTreeSet::new();
    let mut kind = PersonKind::Professional;
    for rl in tx.represented_by(p.id).await? {
        kind = PersonKind::LegalRepresentative;
        sites.extend(establishments_in_scope(all, rl.record.structure));
    }
    for h in tx.active_habilitations_of(p.id).await? {
        if h.record.kind == HabilitationKind::Manager && kind == PersonKind::Professional {
            kind = PersonKind::Manager;
        }
        sites.extend(establishments_in_scope(all, h.record.structure));
    }
    for s in tx.situations_of_person(p.id).await? {
        if let Some(st) = all.iter().find(|x| x.id == s.record.structure) {
            sites.insert(st.record.finess.to_string());
        }
    }
    let first = p.record.first_names.first().cloned().unwrap_or_default();
    Ok(PersonSummary {
        idnps: p.record.idnps.to_string(),
        name: format!("{first} {}", p.record.birth_name),
        kind,
        structures: sites.into_iter().collect(),
    })
}

/// The establishments a scope covers: the EG itself, or every EG of an EJ.
fn establishments_in_scope(all: &[Structure], scope: StructureId) -> Vec<String> {
    let Some(s) = all.iter().find(|s| s.id == scope) else {
        return Vec::new();
    };
    match s.record.kind {
        StructureKind::Eg => vec![s.record.finess.to_string()],
        StructureKind::Ej => all
            .iter()
            .filter(|e| e.record.ej_finess.as_ref() == Some(&s.record.finess))
            .map(|e| e.record.finess.to_string())
            .collect(),
    }
}
