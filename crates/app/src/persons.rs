//! Persons: creation with a new RPPS number, exercises, situations, e-learning records.

use jiff::civil::Date;
use rppsplus_domain::Rpps;
use rppsplus_domain::matching::matching_key;
use rppsplus_domain::situation::closed_at_after_write;
use rppsplus_store::{
    IdDocumentRecord, NewElearning, NewExercise, NewPerson, NewSituation, PersonId, SituationId,
    StoreError, StructureId, Tx, UniqueRule,
};
use serde_json::json;

use rppsplus_domain::authz::Action;

use crate::access::{authorize, holdings_of};
use crate::{Actor, App, AppError, AppResult, journal, journal_versioned};

/// A person's civil identity and contact, already validated by the domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonInput {
    /// TRE_R81 civility code.
    pub civility: String,
    /// TRE_R10 sex code.
    pub sex: String,
    /// Nom de naissance.
    pub birth_name: String,
    /// Nom d'usage.
    pub usage_name: Option<String>,
    /// Prénoms, in civil order.
    pub first_names: Vec<String>,
    /// Date de naissance.
    pub birth_date: Date,
    /// COG country code.
    pub birth_country: String,
    /// COG commune code, when born in France.
    pub birth_commune: Option<String>,
    /// Identity document.
    pub id_document: Option<IdDocumentRecord>,
    /// Personal e-mail.
    pub email: Option<String>,
    /// Personal mobile (E.164).
    pub mobile: Option<String>,
}

/// An exercise and its first situation at an establishment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SituationInput {
    /// Establishment (EG).
    pub structure: StructureId,
    /// Profession code (TRE_R85 or TRE_G15).
    pub profession_code: String,
    /// Nom d'exercice.
    pub exercise_last_name: String,
    /// Prénom d'exercice.
    pub exercise_first_name: String,
    /// RPPS+ role (TRE_R22 `GENR08`…`GENR12`).
    pub role_code: String,
    /// TRE_R23 practice mode.
    pub practice_mode: String,
    /// Date de prise de fonction.
    pub start_date: Date,
    /// Last day of activity, when known.
    pub end_date: Option<Date>,
}

/// What a person creation produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedPerson {
    /// Internal id.
    pub id: PersonId,
    /// The new RPPS number.
    pub rpps: Rpps,
}

impl App {
    /// Creates a person with a new RPPS number (the operator, or a person holding a right on
    /// some structure).
    pub async fn create_person(
        &self,
        actor: &Actor,
        input: PersonInput,
    ) -> AppResult<CreatedPerson> {
        let mut tx = self.store.begin().await?;
        if let Actor::Person { id, .. } = actor
            && holdings_of(&mut tx, *id).await?.is_empty()
        {
            return Err(AppError::Forbidden);
        }
        let created = create_person_in(&mut tx, actor, self.now(), input).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Adds an exercise and a situation at an establishment for an existing person.
    pub async fn add_situation(
        &self,
        actor: &Actor,
        person: PersonId,
        input: SituationInput,
    ) -> AppResult<SituationId> {
        let mut tx = self.store.begin().await?;
        let structure = tx
            .structure(input.structure)
            .await?
            .ok_or(AppError::NotFound)?;
        authorize(&mut tx, actor, Action::ManageProfessionals, &structure).await?;
        let id = add_situation_in(&mut tx, actor, self.now(), person, input).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Closes a situation at `end_date`, if it was not changed since `expected_version`.
    /// Returns the registry version it committed at: every access decision that reports this
    /// version or a later one saw the situation closed.
    pub async fn close_situation(
        &self,
        actor: &Actor,
        id: SituationId,
        expected_version: i64,
        end_date: Date,
        reason: &str,
    ) -> AppResult<i64> {
        let mut tx = self.store.begin().await?;
        let situation = tx.situation(id).await?.ok_or(AppError::NotFound)?;
        let structure = tx
            .structure(situation.record.structure)
            .await?
            .ok_or(AppError::NotFound)?;
        authorize(&mut tx, actor, Action::ManageProfessionals, &structure).await?;
        let version = close_situation_in(
            &mut tx,
            actor,
            self.now(),
            id,
            expected_version,
            end_date,
            reason,
        )
        .await?;
        tx.commit().await?;
        Ok(version)
    }
}

/// Allocates an RPPS number and inserts the person, inside the caller's transaction.
pub(crate) async fn create_person_in(
    tx: &mut Box<dyn Tx>,
    actor: &Actor,
    at: jiff::Timestamp,
    input: PersonInput,
) -> AppResult<CreatedPerson> {
    let value = tx.next_rpps_value().await?;
    let rpps = Rpps::from_sequence(value).map_err(|_| AppError::Conflict {
        code: "rpps_sequence_exhausted",
        message: "La plage de numéros RPPS de ce registre est épuisée : contactez l'opérateur."
            .to_owned(),
    })?;
    let first_names_key = input
        .first_names
        .iter()
        .map(|n| matching_key(n))
        .collect::<Vec<_>>()
        .join(" ");
    let record = NewPerson {
        idnps: rpps.idnps(),
        rpps: Some(rpps.clone()),
        adeli: None,
        birth_name_key: matching_key(&input.birth_name),
        usage_name_key: input.usage_name.as_deref().map(matching_key),
        first_names_key,
        civility: input.civility,
        sex: input.sex,
        birth_name: input.birth_name,
        usage_name: input.usage_name,
        first_names: input.first_names,
        birth_date: input.birth_date,
        birth_country: input.birth_country,
        birth_commune: input.birth_commune,
        id_document: input.id_document,
        email: input.email,
        mobile: input.mobile,
        at,
    };
    let id = match tx.insert_person(&record).await {
        Ok(id) => id,
        // The sequence never repeats; a clash means a number was imported from elsewhere.
        Err(StoreError::Duplicate(UniqueRule::PersonRpps | UniqueRule::PersonIdnps)) => {
            return Err(AppError::Conflict {
                code: "rpps_already_used",
                message: "Le numéro RPPS attribué existe déjà : contactez l'opérateur du registre."
                    .to_owned(),
            });
        }
        Err(e) => return Err(e.into()),
    };
    journal(
        tx,
        actor,
        at,
        "person.create",
        ("person", id.0),
        json!({ "rpps": rpps }),
        "created",
    )
    .await?;
    Ok(CreatedPerson { id, rpps })
}

/// Inserts an exercise and its situation, inside the caller's transaction.
pub(crate) async fn add_situation_in(
    tx: &mut Box<dyn Tx>,
    actor: &Actor,
    at: jiff::Timestamp,
    person: PersonId,
    input: SituationInput,
) -> AppResult<SituationId> {
    tx.structure(input.structure)
        .await?
        .ok_or(AppError::NotFound)?;
    let exercise = tx
        .insert_exercise(&NewExercise {
            person,
            profession_code: input.profession_code.clone(),
            exercise_civility: None,
            exercise_last_name: input.exercise_last_name,
            exercise_first_name: input.exercise_first_name,
            at,
        })
        .await?;
    let id = tx
        .insert_situation(&NewSituation {
            exercise,
            person,
            structure: input.structure,
            role_code: input.role_code.clone(),
            practice_mode: input.practice_mode,
            start_date: input.start_date,
            end_date: input.end_date,
            created_by: actor.person_id(),
            at,
        })
        .await?;
    journal(
        tx,
        actor,
        at,
        "situation.create",
        ("situation", id.0),
        json!({
            "person": person,
            "structure": input.structure,
            "profession": input.profession_code,
            "role": input.role_code,
        }),
        "created",
    )
    .await?;
    Ok(id)
}

/// Records an e-learning completion inside the caller's transaction.
pub(crate) async fn record_elearning_in(
    tx: &mut Box<dyn Tx>,
    actor: &Actor,
    at: jiff::Timestamp,
    person: PersonId,
    completed_on: Date,
    certificate_ref: &str,
) -> AppResult<()> {
    tx.person(person).await?.ok_or(AppError::NotFound)?;
    tx.record_elearning(&NewElearning {
        person,
        completed_on,
        certificate_ref: certificate_ref.to_owned(),
        at,
    })
    .await?;
    journal(
        tx,
        actor,
        at,
        "elearning.record",
        ("person", person.0),
        json!({ "completed_on": completed_on.to_string(), "certificate": certificate_ref }),
        "updated",
    )
    .await
}

/// Closes a situation inside the caller's transaction.
pub(crate) async fn close_situation_in(
    tx: &mut Box<dyn Tx>,
    actor: &Actor,
    at: jiff::Timestamp,
    id: SituationId,
    expected_version: i64,
    end_date: Date,
    reason: &str,
) -> AppResult<i64> {
    let situation = tx.situation(id).await?.ok_or(AppError::NotFound)?;
    if end_date < situation.record.start_date {
        return Err(AppError::invalid(
            "end_date",
            "before_start",
            "La date de fin ne peut pas précéder la date de prise de fonction.",
        ));
    }
    // Closing with today's date or a past one takes effect now; a situation already closed at
    // once keeps the instant it was first closed.
    let closed_at = closed_at_after_write(situation.closed_at, Some(end_date), at);
    tx.close_situation(id, expected_version, end_date, reason, closed_at, at)
        .await?;
    journal_versioned(
        tx,
        actor,
        at,
        "situation.close",
        ("situation", id.0),
        json!({ "end_date": end_date.to_string(), "reason": reason }),
        "closed",
    )
    .await
}
