//! Structures: legal entities (EJ), their establishments (EG), legal representatives and
//! management habilitations.

use jiff::Timestamp;
use rppsplus_domain::Finess;
use rppsplus_store::{
    HabilitationId, HabilitationKind, ManagementMode, NewHabilitation, NewLegalRepresentative,
    PersonId, RepresentativeCard, Structure, StructureId, StructureKind, StructureRecord, Tx,
    Upsert,
};
use serde_json::json;

use crate::{Actor, App, AppError, AppResult, journal};

/// A structure with its legal entity and sister establishments, for display.
#[derive(Debug, Clone)]
pub struct StructureView {
    /// The structure.
    pub structure: Structure,
    /// Its legal entity, for an establishment.
    pub legal_entity: Option<Structure>,
    /// The other establishments of the same legal entity (or all of them, for an EJ).
    pub sisters: Vec<Structure>,
}

/// Shortest name query accepted: shorter ones match too much to be useful.
pub const MIN_QUERY_CHARS: usize = 2;

impl App {
    /// Writes a structure (insert or update by FINESS); audited when something changed. Only
    /// the operator and the registry itself (imports) write structures.
    pub async fn upsert_structure(
        &self,
        actor: &Actor,
        record: StructureRecord,
    ) -> AppResult<Upsert> {
        if !matches!(actor, Actor::Operator | Actor::System) {
            return Err(AppError::Forbidden);
        }
        let mut tx = self.store.begin().await?;
        let outcome = upsert_structure_in(&mut tx, actor, &record).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// A structure by FINESS number, with its legal entity and sister establishments.
    pub async fn structure_view(&self, finess: &Finess) -> AppResult<StructureView> {
        let mut tx = self.store.begin().await?;
        let structure = tx
            .structure_by_finess(finess)
            .await?
            .ok_or(AppError::NotFound)?;
        let (legal_entity, ej_finess) = match &structure.record.ej_finess {
            Some(ej) => (tx.structure_by_finess(ej).await?, Some(ej.clone())),
            None => (None, Some(structure.record.finess.clone())),
        };
        let sisters = match ej_finess {
            Some(ej) => tx
                .establishments_of(&ej)
                .await?
                .into_iter()
                .filter(|s| s.id != structure.id)
                .collect(),
            None => Vec::new(),
        };
        tx.rollback().await?;
        Ok(StructureView {
            structure,
            legal_entity,
            sisters,
        })
    }

    /// Finds structures by FINESS number or by name, ignoring case and accents.
    pub async fn search_structures(&self, query: &str, limit: usize) -> AppResult<Vec<Structure>> {
        let query = query.trim();
        if query.chars().count() < MIN_QUERY_CHARS {
            return Err(AppError::invalid(
                "q",
                "too_short",
                "Saisissez au moins 2 caractères : un numéro FINESS ou une partie du nom.",
            ));
        }
        let key = rppsplus_domain::matching::matching_key(query);
        // Words are keys of letters and digits only, so they carry no LIKE wildcard; the
        // longest four narrow best.
        let mut words: Vec<String> = key
            .split(' ')
            .map(|w| {
                w.chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect::<String>()
            })
            .filter(|w| !w.is_empty())
            .collect();
        words.sort_by_key(|w| std::cmp::Reverse(w.len()));
        words.truncate(4);
        let upper = query.to_ascii_uppercase();
        let finess_prefix = if upper.len() <= 9
            && upper
                .chars()
                .all(|c| c.is_ascii_digit() || c == 'A' || c == 'B')
        {
            upper
        } else {
            String::new()
        };
        let mut tx = self.store.begin().await?;
        let found = tx
            .search_structures(
                &finess_prefix,
                &words,
                u32::try_from(limit).unwrap_or(u32::MAX),
            )
            .await?;
        tx.rollback().await?;
        Ok(found)
    }
}

/// Inserts or updates a structure inside the caller's transaction; audited when it changed.
pub(crate) async fn upsert_structure_in(
    tx: &mut Box<dyn Tx>,
    actor: &Actor,
    record: &StructureRecord,
) -> AppResult<Upsert> {
    let outcome = tx.upsert_structure(record).await?;
    let (action, op) = match outcome {
        Upsert::Inserted(_) => ("structure.create", "created"),
        Upsert::Updated(_) => ("structure.update", "updated"),
        Upsert::Unchanged(_) => return Ok(outcome),
    };
    journal(
        tx,
        actor,
        record.at,
        action,
        ("structure", outcome.id().0),
        json!({ "finess": record.finess, "kind": record.kind.as_str(), "open": record.open }),
        op,
    )
    .await?;
    Ok(outcome)
}

/// Sets a legal entity's management mode inside the caller's transaction.
pub(crate) async fn set_management_mode_in(
    tx: &mut Box<dyn Tx>,
    actor: &Actor,
    at: Timestamp,
    ej: &Finess,
    mode: ManagementMode,
) -> AppResult<()> {
    let s = tx
        .structure_by_finess(ej)
        .await?
        .ok_or(AppError::NotFound)?;
    if s.record.kind != StructureKind::Ej {
        return Err(AppError::invalid(
            "structure",
            "not_a_legal_entity",
            "Le mode de gestion se choisit sur l'entité juridique (EJ), pas sur un établissement.",
        ));
    }
    tx.set_management_mode(s.id, mode).await?;
    journal(
        tx,
        actor,
        at,
        "structure.management_mode",
        ("structure", s.id.0),
        json!({ "finess": ej, "mode": mode.as_str() }),
        "updated",
    )
    .await
}

/// Designates a legal representative inside the caller's transaction.
pub(crate) async fn set_legal_representative_in(
    tx: &mut Box<dyn Tx>,
    actor: &Actor,
    at: Timestamp,
    structure: StructureId,
    person: PersonId,
    card: RepresentativeCard,
) -> AppResult<()> {
    tx.structure(structure).await?.ok_or(AppError::NotFound)?;
    tx.person(person).await?.ok_or(AppError::NotFound)?;
    tx.set_legal_representative(&NewLegalRepresentative {
        structure,
        person,
        card,
        at,
    })
    .await?;
    journal(
        tx,
        actor,
        at,
        "structure.legal_representative",
        ("structure", structure.0),
        json!({ "person": person, "card": card.as_str() }),
        "updated",
    )
    .await
}

/// Grants a habilitation inside the caller's transaction.
pub(crate) async fn grant_habilitation_in(
    tx: &mut Box<dyn Tx>,
    actor: &Actor,
    at: Timestamp,
    person: PersonId,
    structure: StructureId,
    kind: HabilitationKind,
) -> AppResult<HabilitationId> {
    tx.structure(structure).await?.ok_or(AppError::NotFound)?;
    tx.person(person).await?.ok_or(AppError::NotFound)?;
    let id = tx
        .grant_habilitation(&NewHabilitation {
            person,
            structure,
            kind,
            granted_by: actor.person_id(),
            at,
        })
        .await?;
    journal(
        tx,
        actor,
        at,
        "habilitation.grant",
        ("habilitation", id.0),
        json!({ "person": person, "structure": structure, "kind": kind.as_str() }),
        "created",
    )
    .await?;
    Ok(id)
}
