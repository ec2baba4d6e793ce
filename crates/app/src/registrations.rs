//! Registering professionals: search before create, registration in one transaction, changes
//! to situations with optimistic versioning, closing a situation, and the mails they queue.
//!
//! # Masking
//!
//! A person is *in scope* for an actor when the actor may manage the professionals
//! ([`Action::ManageProfessionals`]) of an establishment where the person has a situation
//! (the operator sees everyone). Candidates out of scope are shown masked, with just enough to
//! tell them apart and no more:
//! - first name: its initial and a dot (`J.`);
//! - name: its first letter followed by one `•` per further letter (`D•••••`);
//! - birth: the year only;
//! - RPPS number: its first two and last two digits, the seven others as `•` (`10•••••••42`).
//!
//! To add a situation for a masked candidate, the manager asks the professional for their RPPS
//! number (mailed at their first registration) and sends it as `existing_rpps`; the identity
//! sent must then match that person (same birth date, names within one typo).

use jiff::Timestamp;
use jiff::civil::Date;
use rppsplus_domain::authz::{self, Action, Principal};
use rppsplus_domain::matching::{first_name_words, matching_key, within_one_typo};
use rppsplus_domain::reference::{
    CodeStatus, Eligibility, EligibilityStatus, Setting, TableId, tables,
};
use rppsplus_domain::situation::{closed_at_after_write, situation_in_force};
use rppsplus_domain::validation::{codes, parse_date_input};
use rppsplus_domain::{CivilIdentity, Email, Finess, Mobile, RawCivilIdentity, Rpps};
use rppsplus_store::{
    IdDocumentRecord, NewOutboxMessage, NewPendingRegistration, PendingDecision,
    PendingRegistration, PendingRegistrationId, PendingStatus, Person, PersonId, Situation,
    SituationChange, SituationId, Structure, StructureKind, Tx,
};
use serde_json::json;

use crate::access::{authorize, node_of, principal_of};
use crate::persons::{PersonInput, SituationInput, add_situation_in, create_person_in};
use crate::{Actor, App, AppError, AppResult, FieldError, journal, paris_date};

mod history;
mod mail;
mod roster;

pub use history::HistoryEntry;
pub use roster::{Roster, RosterFilter, RosterRow};

/// At most this many persons share a birth date in the candidate lookup.
const CANDIDATES_PER_BIRTH_DATE: u32 = 500;

/// The exercise part of a registration, as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RawExercise {
    /// Nom d'exercice (defaults to the nom d'usage, else the nom de naissance).
    pub exercise_last_name: Option<String>,
    /// Prénom d'exercice (defaults to the first prénom).
    pub exercise_first_name: Option<String>,
    /// FINESS number of the establishment (EG).
    pub establishment_finess: Option<String>,
    /// Date de prise de fonction.
    pub start_date: Option<String>,
    /// TRE_R85 code.
    pub profession: Option<String>,
    /// GENR08…GENR12.
    pub role: Option<String>,
    /// TRE_R23 S, L or B.
    pub practice_mode: Option<String>,
}

/// A registration, as sent by a manager (or by the person, for a self-registration).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RegistrationInput {
    /// Step 1: état civil.
    pub identity: RawCivilIdentity,
    /// Step 2: personal e-mail.
    pub email: Option<String>,
    /// Step 2: personal mobile.
    pub mobile: Option<String>,
    /// Step 3: exercise.
    pub exercise: RawExercise,
    /// The RPPS number of an existing person to add the situation to.
    pub existing_rpps: Option<String>,
    /// Create a new person although strong matches exist.
    pub confirm_new_person: bool,
    /// Why (required with `confirm_new_person` when there are strong matches; audited).
    pub confirm_reason: Option<String>,
}

/// A person found by a search, full or masked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Candidate {
    /// Whether the data is masked (the person is outside the actor's scope).
    pub masked: bool,
    /// RPPS number, or its masked form.
    pub rpps: String,
    /// Nom (d'usage, else de naissance), or its masked form.
    pub last_name: String,
    /// Prénoms, or the initial of the first one.
    pub first_names: Vec<String>,
    /// Date de naissance (in scope only).
    pub birth_date: Option<Date>,
    /// Year of birth.
    pub birth_year: i16,
}

/// What a registration produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// The person's RPPS number.
    pub rpps: Rpps,
    /// The person.
    pub person_id: PersonId,
    /// The new situation.
    pub situation_id: SituationId,
    /// Whether the person was created (else reused).
    pub person_created: bool,
}

/// The outcome of a registration that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationOutcome {
    /// Stored.
    Registered(Registered),
    /// Nothing stored: persons strongly matching the identity exist; reuse one
    /// (`existing_rpps`) or confirm a new person with a reason.
    StrongMatch(Vec<Candidate>),
}

/// A search before create.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    /// By RPPS number.
    pub rpps: Option<String>,
    /// Nom de naissance or nom d'usage.
    pub name: Option<String>,
    /// A prénom.
    pub first_name: Option<String>,
    /// Date de naissance.
    pub birth_date: Option<String>,
}

/// A situation as a manager sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SituationView {
    /// The situation.
    pub situation: Situation,
    /// FINESS of its establishment.
    pub structure_finess: Finess,
    /// Name of its establishment.
    pub structure_name: String,
    /// Whether in force now (see [`situation_in_force`]).
    pub active: bool,
    /// `active`, `scheduled_closure` (end date in the future), `closed` (end date today or
    /// past: the closure is final) or `upcoming` (not started).
    pub status: &'static str,
}

/// A person with the situations the actor may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfessionalView {
    /// The person.
    pub person: Person,
    /// Their situations at establishments in the actor's scope.
    pub situations: Vec<SituationView>,
}

/// A change to a situation; absent fields keep their value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SituationPatch {
    /// Nom d'exercice.
    pub exercise_last_name: Option<String>,
    /// Prénom d'exercice.
    pub exercise_first_name: Option<String>,
    /// FINESS of another establishment within scope.
    pub establishment_finess: Option<String>,
    /// Date de prise de fonction.
    pub start_date: Option<String>,
    /// Last day of activity (`Some(None)` removes it).
    pub end_date: Option<Option<String>>,
    /// TRE_R85 code.
    pub profession: Option<String>,
    /// GENR08…GENR12.
    pub role: Option<String>,
    /// S, L or B.
    pub practice_mode: Option<String>,
}

impl App {
    /// Searches persons by RPPS number or by civil identity, for a manager about to register
    /// someone. Persons outside the actor's scope come masked.
    pub async fn search_professionals(
        &self,
        actor: &Actor,
        q: &SearchQuery,
    ) -> AppResult<Vec<Candidate>> {
        let mut tx = self.store.begin().await?;
        let principal = manager_principal(&mut tx, actor).await?;
        let persons: Vec<Person> = if let Some(raw) =
            q.rpps.as_deref().filter(|s| !s.trim().is_empty())
        {
            let rpps = Rpps::parse(raw.trim()).map_err(|_| {
                AppError::invalid(
                    "rpps",
                    "invalid_rpps",
                    "Numéro RPPS invalide : 11 chiffres dont une clé de contrôle.",
                )
            })?;
            tx.person_by_rpps(&rpps).await?.into_iter().collect()
        } else {
            let mut errors = Vec::new();
            let name = required_text(&mut errors, "name", q.name.as_deref(), "le nom");
            let first = required_text(
                &mut errors,
                "first_name",
                q.first_name.as_deref(),
                "un prénom",
            );
            let birth = parse_date_field(&mut errors, "birth_date", q.birth_date.as_deref());
            let (Some(name), Some(first), Some(birth)) = (name, first, birth) else {
                return Err(AppError::Invalid(errors));
            };
            tx.persons_born_on(birth, CANDIDATES_PER_BIRTH_DATE)
                .await?
                .into_iter()
                .filter(|p| {
                    name_matches(&name, &p.record.birth_name, p.record.usage_name.as_deref())
                        && first_names_match(std::slice::from_ref(&first), &p.record.first_names)
                })
                .collect()
        };
        let mut out = Vec::new();
        for p in persons {
            out.push(candidate(&mut tx, &principal, &p).await?);
        }
        tx.rollback().await?;
        Ok(out)
    }

    /// Registers a professional: validates every field (all errors at once, nothing stored),
    /// then writes the person (new or reused), the exercise and situation, the RPPS number,
    /// the audit rows, the mails and the change feed in one transaction.
    pub async fn register(
        &self,
        actor: &Actor,
        input: RegistrationInput,
    ) -> AppResult<RegistrationOutcome> {
        let at = self.now();
        let mut tx = self.store.begin().await?;
        let outcome = register_in(&mut tx, actor, at, input).await?;
        match outcome {
            RegistrationOutcome::Registered(_) => tx.commit().await?,
            RegistrationOutcome::StrongMatch(_) => tx.rollback().await?,
        }
        Ok(outcome)
    }

    /// A professional by RPPS number, with their situations at establishments the actor may
    /// manage; not found when there is none (the actor may not see them).
    pub async fn professional(&self, actor: &Actor, rpps: &str) -> AppResult<ProfessionalView> {
        let at = self.now();
        let mut tx = self.store.begin().await?;
        let found = professional_in(&mut tx, actor, rpps, at).await?;
        tx.rollback().await?;
        Ok(found)
    }

    /// The professionals of an establishment (or of every establishment of a legal entity).
    pub async fn structure_professionals(
        &self,
        actor: &Actor,
        finess: &str,
    ) -> AppResult<Vec<(Person, SituationView)>> {
        let finess = Finess::parse(finess.trim()).map_err(|_| AppError::NotFound)?;
        let at = self.now();
        let mut tx = self.store.begin().await?;
        let structure = tx
            .structure_by_finess(&finess)
            .await?
            .ok_or(AppError::NotFound)?;
        authorize(&mut tx, actor, Action::ManageProfessionals, &structure).await?;
        let sites = match structure.record.kind {
            StructureKind::Eg => vec![structure],
            StructureKind::Ej => tx.establishments_of(&finess).await?,
        };
        let mut out = Vec::new();
        for site in sites {
            for s in tx.situations_at(site.id).await? {
                let person = tx
                    .person(s.record.person)
                    .await?
                    .ok_or(AppError::NotFound)?;
                out.push((person, view(s, &site, at)));
            }
        }
        tx.rollback().await?;
        Ok(out)
    }

    /// A situation the actor may manage.
    pub async fn situation_view(&self, actor: &Actor, id: SituationId) -> AppResult<SituationView> {
        let at = self.now();
        let mut tx = self.store.begin().await?;
        let (situation, structure) = managed_situation(&mut tx, actor, id).await?;
        tx.rollback().await?;
        Ok(view(situation, &structure, at))
    }

    /// Changes a situation if it is still at `expected_version`; returns the new view.
    pub async fn modify_situation(
        &self,
        actor: &Actor,
        id: SituationId,
        expected_version: i64,
        patch: SituationPatch,
    ) -> AppResult<SituationView> {
        let at = self.now();
        let mut tx = self.store.begin().await?;
        let (current, mut structure) = managed_situation(&mut tx, actor, id).await?;
        let mut errors = Vec::new();
        if let Some(raw) = patch.establishment_finess.as_deref()
            && let Some(s) = establishment(
                &mut tx,
                Some(actor),
                &mut errors,
                Some(raw),
                "establishment_finess",
            )
            .await?
        {
            structure = s;
        }
        let start = match patch.start_date.as_deref() {
            Some(raw) => parse_date_field(&mut errors, "start_date", Some(raw)),
            None => Some(current.record.start_date),
        };
        let end = match &patch.end_date {
            Some(Some(raw)) => parse_date_field(&mut errors, "end_date", Some(raw)).map(Some),
            Some(None) => Some(None),
            None => Some(current.record.end_date),
        };
        if let (Some(start), Some(Some(end))) = (start, end)
            && end < start
        {
            errors.push(FieldError::new(
                "end_date",
                "before_start",
                "La date de fin ne peut pas précéder la date de prise de fonction.",
            ));
        }
        let profession_raw = patch
            .profession
            .clone()
            .unwrap_or_else(|| current.exercise.profession_code.clone());
        // An unchanged profession stays valid even if the code was retired since.
        let profession = if patch.profession.is_none() && structure.id == current.record.structure {
            Some(profession_raw)
        } else {
            check_profession(
                &mut errors,
                "profession",
                Some(&profession_raw),
                Some(&structure),
            )
        };
        let role = match patch.role.as_deref() {
            Some(r) => check_role(&mut errors, "role", Some(r)),
            None => Some(current.record.role_code.clone()),
        };
        let mode = match patch.practice_mode.as_deref() {
            Some(m) => check_mode(&mut errors, "practice_mode", Some(m)),
            None => Some(current.record.practice_mode.clone()),
        };
        // A situation keeps its exercise names: a blank one is an error, not "unchanged".
        let last = match patch.exercise_last_name.as_deref() {
            Some(n) if n.trim().is_empty() => {
                required_text(&mut errors, "exercise_last_name", None, "le nom d'exercice")
            }
            Some(n) => check_exercise_name(&mut errors, "exercise_last_name", Some(n)),
            None => Some(current.exercise.exercise_last_name.clone()),
        };
        let first = match patch.exercise_first_name.as_deref() {
            Some(n) if n.trim().is_empty() => required_text(
                &mut errors,
                "exercise_first_name",
                None,
                "le prénom d'exercice",
            ),
            Some(n) => check_exercise_name(&mut errors, "exercise_first_name", Some(n)),
            None => Some(current.exercise.exercise_first_name.clone()),
        };
        let (
            Some(start),
            Some(end),
            Some(profession),
            Some(role),
            Some(mode),
            Some(last),
            Some(first),
        ) = (start, end, profession, role, mode, last, first)
        else {
            return Err(AppError::Invalid(errors));
        };
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        let version = tx
            .update_situation(
                id,
                expected_version,
                &SituationChange {
                    exercise_last_name: last,
                    exercise_first_name: first,
                    profession_code: profession.clone(),
                    role_code: role.clone(),
                    practice_mode: mode,
                    structure: structure.id,
                    start_date: start,
                    end_date: end,
                    // An edit keeps the instant of a closing at once; moving the end date
                    // into the future reopens the situation until then.
                    closed_at: closed_at_after_write(current.closed_at, end, at),
                    at,
                },
            )
            .await?;
        journal(
            &mut tx,
            actor,
            at,
            "situation.modify",
            ("situation", id.0),
            json!({
                "version": version,
                "structure": structure.id,
                "profession": profession,
                "role": role,
            }),
            "updated",
        )
        .await?;
        mail_for_situation(&mut tx, at, id, version, &structure, "modified", None).await?;
        let updated = tx.situation(id).await?.ok_or(AppError::NotFound)?;
        tx.commit().await?;
        Ok(view(updated, &structure, at))
    }

    /// Closes a situation: an end date of today or in the past closes it at once; a future
    /// end date is the last day of activity of a scheduled departure, which takes effect when
    /// that day ends in Europe/Paris. `expected_version` defaults to the current version.
    pub async fn close_situation_with_reason(
        &self,
        actor: &Actor,
        id: SituationId,
        expected_version: Option<i64>,
        end_date: Option<&str>,
        reason: Option<&str>,
    ) -> AppResult<SituationView> {
        let at = self.now();
        let mut tx = self.store.begin().await?;
        let (current, structure) = managed_situation(&mut tx, actor, id).await?;
        close_in(
            &mut tx,
            actor,
            at,
            &current,
            &structure,
            expected_version,
            end_date,
            reason,
        )
        .await?;
        let updated = tx.situation(id).await?.ok_or(AppError::NotFound)?;
        tx.commit().await?;
        Ok(view(updated, &structure, at))
    }

    /// A manager's own departure, by the legal representative (a mandataire, the operator): closes the
    /// manager's situation and revokes their Gestionnaire RPPS+ habilitations that cover its
    /// establishment, in one transaction. Returns the closed situation and how many
    /// habilitations were revoked.
    pub async fn close_manager_departure(
        &self,
        actor: &Actor,
        id: SituationId,
        end_date: Option<&str>,
        reason: Option<&str>,
    ) -> AppResult<(SituationView, usize)> {
        let at = self.now();
        let mut tx = self.store.begin().await?;
        let situation = tx.situation(id).await?.ok_or(AppError::NotFound)?;
        let structure = tx
            .structure(situation.record.structure)
            .await?
            .ok_or(AppError::NotFound)?;
        match authorize(&mut tx, actor, Action::ManageHabilitations, &structure).await {
            Ok(()) => {}
            Err(AppError::Forbidden) => return Err(AppError::NotFound),
            Err(e) => return Err(e),
        }
        let by = actor.person_id();
        let node = node_of(&mut tx, &structure).await?;
        let mut revoked = 0;
        for h in tx.active_habilitations_of(situation.record.person).await? {
            if h.record.kind != rppsplus_store::HabilitationKind::Manager
                || !authz::covers(h.record.structure.0, node)
            {
                continue;
            }
            tx.revoke_habilitation(h.id, by, at).await?;
            journal(
                &mut tx,
                actor,
                at,
                "habilitation.revoke",
                ("habilitation", h.id.0),
                json!({
                    "person": h.record.person,
                    "structure": h.record.structure,
                    "kind": h.record.kind.as_str(),
                    "departure": id,
                }),
                "updated",
            )
            .await?;
            revoked += 1;
        }
        if revoked == 0 {
            return Err(AppError::Conflict {
                code: "not_a_manager",
                message: "Cette personne n'a pas d'habilitation de Gestionnaire RPPS+ sur cet établissement : clôturez simplement sa situation d'exercice.".to_owned(),
            });
        }
        close_in(
            &mut tx, actor, at, &situation, &structure, None, end_date, reason,
        )
        .await?;
        let updated = tx.situation(id).await?.ok_or(AppError::NotFound)?;
        tx.commit().await?;
        Ok((view(updated, &structure, at), revoked))
    }

    /// Corrects a person's civil identity (with a reason, audited) if their version is still
    /// `expected_version`. Returns the new version.
    pub async fn correct_identity(
        &self,
        actor: &Actor,
        rpps: &str,
        expected_version: i64,
        raw: &RawCivilIdentity,
        reason: Option<&str>,
    ) -> AppResult<i64> {
        let at = self.now();
        let mut tx = self.store.begin().await?;
        let person = managed_person(&mut tx, actor, rpps).await?;
        let mut errors = Vec::new();
        let identity = match CivilIdentity::parse(raw, paris_date(at)) {
            Ok(i) => Some(i),
            Err(e) => {
                errors.extend(e.into_iter().map(rename_identity_field));
                None
            }
        };
        let reason = required_text(&mut errors, "reason", reason, "le motif de la correction");
        let (Some(identity), Some(reason)) = (identity, reason) else {
            return Err(AppError::Invalid(errors));
        };
        let mut record = person.record.clone();
        record.civility = identity.civility().code().to_owned();
        record.sex = identity.sex().code().to_owned();
        record.birth_name = identity.birth_name().as_str().to_owned();
        record.usage_name = identity.usage_name().map(|n| n.as_str().to_owned());
        record.first_names = identity
            .first_names()
            .iter()
            .map(|n| n.as_str().to_owned())
            .collect();
        record.birth_date = identity.birth_date();
        record.birth_country = identity.birth_country().to_owned();
        record.birth_commune = identity.birth_commune().map(str::to_owned);
        record.id_document = Some(IdDocumentRecord {
            kind: identity.id_document().kind().code().to_owned(),
            number: identity.id_document().number().to_owned(),
            expires_on: identity.id_document().printed_expiry(),
        });
        record.birth_name_key = matching_key(&record.birth_name);
        record.usage_name_key = record.usage_name.as_deref().map(matching_key);
        record.first_names_key = record
            .first_names
            .iter()
            .map(|n| matching_key(n))
            .collect::<Vec<_>>()
            .join(" ");
        record.at = at;
        // Which fields changed, by name only: the audit log holds no personal data.
        let old = &person.record;
        let changed: Vec<&str> = [
            ("civility", old.civility != record.civility),
            ("sex", old.sex != record.sex),
            ("birth_name", old.birth_name != record.birth_name),
            ("usage_name", old.usage_name != record.usage_name),
            ("first_names", old.first_names != record.first_names),
            ("birth_date", old.birth_date != record.birth_date),
            ("birth_country", old.birth_country != record.birth_country),
            ("birth_commune", old.birth_commune != record.birth_commune),
            ("id_document", old.id_document != record.id_document),
        ]
        .into_iter()
        .filter_map(|(f, c)| c.then_some(f))
        .collect();
        let version = tx
            .update_person(person.id, expected_version, &record)
            .await?;
        journal(
            &mut tx,
            actor,
            at,
            "person.correct_identity",
            ("person", person.id.0),
            json!({ "fields": changed, "reason": reason, "version": version }),
            "updated",
        )
        .await?;
        mail::identity_corrected(&mut tx, at, person.id, version, &record, &changed, &reason)
            .await?;
        tx.commit().await?;
        Ok(version)
    }

    /// Changes a person's e-mail and mobile (each belonging to one person only) if their
    /// version is still `expected_version`. Returns the new version.
    pub async fn change_contact(
        &self,
        actor: &Actor,
        rpps: &str,
        expected_version: i64,
        email: Option<&str>,
        mobile: Option<&str>,
    ) -> AppResult<i64> {
        let at = self.now();
        let mut tx = self.store.begin().await?;
        let person = managed_person(&mut tx, actor, rpps).await?;
        let mut errors = Vec::new();
        let email = optional_contact(&mut errors, email, |s| {
            Email::parse(s).map(|e| e.comparison_key())
        });
        let mobile = optional_contact(&mut errors, mobile, |s| {
            Mobile::parse(s).map(|m| m.e164().to_owned())
        });
        if let Some(e) = &email
            && tx
                .person_id_by_email(e)
                .await?
                .is_some_and(|o| o != person.id)
        {
            errors.push(FieldError::new(
                "contact.email",
                "email_taken",
                "Cette adresse e-mail est déjà utilisée par une autre personne : chaque professionnel doit avoir sa propre adresse.",
            ));
        }
        if let Some(m) = &mobile
            && tx
                .person_id_by_mobile(m)
                .await?
                .is_some_and(|o| o != person.id)
        {
            errors.push(FieldError::new(
                "contact.mobile",
                "mobile_taken",
                "Ce numéro de mobile est déjà utilisé par une autre personne : chaque professionnel doit avoir son propre numéro.",
            ));
        }
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        let mut record = person.record.clone();
        let changed: Vec<&str> = [
            ("email", record.email != email),
            ("mobile", record.mobile != mobile),
        ]
        .into_iter()
        .filter_map(|(f, c)| c.then_some(f))
        .collect();
        record.email = email;
        record.mobile = mobile;
        let version = tx
            .update_person(person.id, expected_version, &record)
            .await?;
        journal(
            &mut tx,
            actor,
            at,
            "person.change_contact",
            ("person", person.id.0),
            json!({ "fields": changed, "version": version }),
            "updated",
        )
        .await?;
        mail::contact_changed(
            &mut tx,
            at,
            person.id,
            version,
            &person.record,
            &record,
            &changed,
        )
        .await?;
        tx.commit().await?;
        Ok(version)
    }

    /// A person submits their own registration naming their establishment. Every field is
    /// checked as for a manager's registration (but the establishment need only exist and be
    /// open); it then waits, pending, for a manager of that establishment.
    pub async fn submit_self_registration(
        &self,
        input: RegistrationInput,
    ) -> AppResult<PendingRegistrationId> {
        let at = self.now();
        let mut tx = self.store.begin().await?;
        let input = RegistrationInput {
            confirm_new_person: false,
            confirm_reason: None,
            ..input
        };
        let valid = validate_in(&mut tx, None, at, &input).await?;
        let payload = serde_json::to_value(&input).map_err(|e| {
            AppError::Store(rppsplus_store::StoreError::Backend(format!(
                "registration payload: {e}"
            )))
        })?;
        let id = tx
            .insert_pending_registration(&NewPendingRegistration {
                structure: valid.structure.id,
                payload,
                at,
            })
            .await?;
        journal(
            &mut tx,
            &Actor::System,
            at,
            "registration.self_submit",
            ("pending_registration", id.0),
            json!({ "structure": valid.structure.id }),
            "created",
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The self-registrations waiting at an establishment (its managers only).
    pub async fn pending_self_registrations(
        &self,
        actor: &Actor,
        finess: &str,
    ) -> AppResult<Vec<(PendingRegistration, RegistrationInput)>> {
        let finess = Finess::parse(finess.trim()).map_err(|_| AppError::NotFound)?;
        let mut tx = self.store.begin().await?;
        let structure = tx
            .structure_by_finess(&finess)
            .await?
            .ok_or(AppError::NotFound)?;
        authorize(&mut tx, actor, Action::ManageProfessionals, &structure).await?;
        let mut out = Vec::new();
        for r in tx.pending_registrations_at(structure.id).await? {
            let input = stored_input(&r)?;
            out.push((r, input));
        }
        tx.rollback().await?;
        Ok(out)
    }

    /// A manager of the establishment validates a self-registration: the normal registration
    /// transaction (strong matches included: reuse with `existing_rpps` or confirm a new
    /// person with a reason), and the registration is marked validated in the same one.
    pub async fn validate_self_registration(
        &self,
        actor: &Actor,
        id: PendingRegistrationId,
        existing_rpps: Option<String>,
        confirm_new_person: bool,
        confirm_reason: Option<String>,
    ) -> AppResult<RegistrationOutcome> {
        let at = self.now();
        let mut tx = self.store.begin().await?;
        let (pending, by) = pending_for_decision(&mut tx, actor, id).await?;
        let mut input = stored_input(&pending)?;
        if existing_rpps.is_some() {
            input.existing_rpps = existing_rpps;
        }
        input.confirm_new_person = confirm_new_person;
        input.confirm_reason = confirm_reason;
        let outcome = register_in(&mut tx, actor, at, input).await?;
        let RegistrationOutcome::Registered(r) = &outcome else {
            tx.rollback().await?;
            return Ok(outcome);
        };
        tx.decide_pending_registration(
            id,
            &PendingDecision {
                status: PendingStatus::Validated,
                by,
                at,
                reason: None,
                person: Some(r.person_id),
                situation: Some(r.situation_id),
            },
        )
        .await?;
        journal(
            &mut tx,
            actor,
            at,
            "registration.self_validate",
            ("pending_registration", id.0),
            json!({ "person": r.person_id, "situation": r.situation_id }),
            "updated",
        )
        .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// A manager of the establishment rejects a self-registration, with a reason.
    pub async fn reject_self_registration(
        &self,
        actor: &Actor,
        id: PendingRegistrationId,
        reason: Option<&str>,
    ) -> AppResult<()> {
        let at = self.now();
        let mut tx = self.store.begin().await?;
        let (pending, by) = pending_for_decision(&mut tx, actor, id).await?;
        let mut errors = Vec::new();
        let Some(reason) = required_text(&mut errors, "reason", reason, "le motif du refus") else {
            return Err(AppError::Invalid(errors));
        };
        tx.decide_pending_registration(
            id,
            &PendingDecision {
                status: PendingStatus::Rejected,
                by,
                at,
                reason: Some(reason.clone()),
                person: None,
                situation: None,
            },
        )
        .await?;
        journal(
            &mut tx,
            actor,
            at,
            "registration.self_reject",
            ("pending_registration", id.0),
            json!({ "reason": reason }),
            "updated",
        )
        .await?;
        let structure = tx
            .structure(pending.record.structure)
            .await?
            .ok_or(AppError::NotFound)?;
        mail::self_registration_rejected(
            &mut tx,
            at,
            id,
            &stored_input(&pending)?,
            &structure.record.name,
            &reason,
        )
        .await?;
        tx.commit().await.map_err(AppError::from)
    }
}

/// Closes a situation inside the caller's transaction, with its checks and its mail.
#[allow(clippy::too_many_arguments)]
async fn close_in(
    tx: &mut Box<dyn Tx>,
    actor: &Actor,
    at: Timestamp,
    current: &Situation,
    structure: &Structure,
    expected_version: Option<i64>,
    end_date: Option<&str>,
    reason: Option<&str>,
) -> AppResult<()> {
    let today = paris_date(at);
    let id = current.id;
    let mut errors = Vec::new();
    let end = parse_date_field(&mut errors, "end_date", end_date);
    let reason = required_text(&mut errors, "reason", reason, "le motif de fin");
    if let Some(end) = end
        && end < current.record.start_date
    {
        errors.push(FieldError::new(
            "end_date",
            "before_start",
            "La date de fin ne peut pas précéder la date de prise de fonction.",
        ));
    }
    let (Some(end), Some(reason)) = (end, reason) else {
        return Err(AppError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    if current.record.end_date.is_some_and(|e| e < today) {
        return Err(AppError::Conflict {
            code: "already_closed",
            message: "Cette situation d'exercice est déjà close.".to_owned(),
        });
    }
    let version = expected_version.unwrap_or(current.version);
    crate::persons::close_situation_in(tx, actor, at, id, version, end, &reason).await?;
    let change = if end > today {
        "scheduled_closure"
    } else {
        "closed"
    };
    mail_for_situation(tx, at, id, version + 1, structure, change, Some(end)).await?;
    Ok(())
}

/// A registration whose every field is valid.
pub(crate) struct Validated {
    identity: CivilIdentity,
    email: Option<String>,
    mobile: Option<String>,
    structure: Structure,
    start_date: Date,
    profession: String,
    role: String,
    mode: String,
    exercise_last: Option<String>,
    exercise_first: Option<String>,
    reused: Option<Person>,
}

/// Checks every field of a registration, collecting every problem. `scope_of` is the actor
/// whose scope must cover the establishment (none for a self-registration, which only names
/// it).
pub(crate) async fn validate_in(
    tx: &mut Box<dyn Tx>,
    scope_of: Option<&Actor>,
    at: Timestamp,
    input: &RegistrationInput,
) -> AppResult<Validated> {
    let today = paris_date(at);
    let mut errors = Vec::new();

    let identity = match CivilIdentity::parse(&input.identity, today) {
        Ok(i) => Some(i),
        Err(e) => {
            errors.extend(e.into_iter().map(rename_identity_field));
            None
        }
    };
    let email = optional_contact(&mut errors, input.email.as_deref(), |s| {
        Email::parse(s).map(|e| e.comparison_key())
    });
    let mobile = optional_contact(&mut errors, input.mobile.as_deref(), |s| {
        Mobile::parse(s).map(|m| m.e164().to_owned())
    });
    let structure = establishment(
        tx,
        scope_of,
        &mut errors,
        input.exercise.establishment_finess.as_deref(),
        "exercise.establishment_finess",
    )
    .await?;
    let start_date = parse_date_field(
        &mut errors,
        "exercise.start_date",
        input.exercise.start_date.as_deref(),
    );
    if let (Some(start), Some(identity)) = (start_date, &identity)
        && start < identity.birth_date()
    {
        errors.push(FieldError::new(
            "exercise.start_date",
            "before_birth",
            "La date de prise de fonction ne peut pas précéder la date de naissance.",
        ));
    }
    let profession = check_profession(
        &mut errors,
        "exercise.profession",
        input.exercise.profession.as_deref(),
        structure.as_ref(),
    );
    let role = check_role(&mut errors, "exercise.role", input.exercise.role.as_deref());
    let mode = check_mode(
        &mut errors,
        "exercise.practice_mode",
        input.exercise.practice_mode.as_deref(),
    );
    let exercise_last = check_exercise_name(
        &mut errors,
        "exercise.exercise_last_name",
        input.exercise.exercise_last_name.as_deref(),
    );
    let exercise_first = check_exercise_name(
        &mut errors,
        "exercise.exercise_first_name",
        input.exercise.exercise_first_name.as_deref(),
    );

    // The person to reuse, if named.
    let mut reused: Option<Person> = None;
    if let Some(raw) = input
        .existing_rpps
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        match Rpps::parse(raw.trim()) {
            Err(_) => errors.push(FieldError::new(
                "existing_rpps",
                "invalid_rpps",
                "Numéro RPPS invalide : 11 chiffres dont une clé de contrôle.",
            )),
            Ok(rpps) => match tx.person_by_rpps(&rpps).await? {
                None => errors.push(FieldError::new(
                    "existing_rpps",
                    "unknown_person",
                    "Aucun professionnel n'a ce numéro RPPS.",
                )),
                Some(p) => {
                    if let Some(identity) = &identity
                        && !strong_match(identity, &p)
                    {
                        errors.push(FieldError::new(
                            "existing_rpps",
                            "identity_mismatch",
                            "L'identité saisie ne correspond pas à la personne qui porte ce numéro RPPS : vérifiez le numéro, la date de naissance, le nom et le prénom.",
                        ));
                    }
                    reused = Some(p);
                }
            },
        }
    }
    // E-mail and mobile each belong to one person only.
    let owner = reused.as_ref().map(|p| p.id);
    if let Some(email) = &email
        && let Some(other) = tx.person_id_by_email(email).await?
        && Some(other) != owner
    {
        errors.push(FieldError::new(
            "contact.email",
            "email_taken",
            "Cette adresse e-mail est déjà utilisée par une autre personne : chaque professionnel doit avoir sa propre adresse.",
        ));
    }
    if let Some(mobile) = &mobile
        && let Some(other) = tx.person_id_by_mobile(mobile).await?
        && Some(other) != owner
    {
        errors.push(FieldError::new(
            "contact.mobile",
            "mobile_taken",
            "Ce numéro de mobile est déjà utilisé par une autre personne : chaque professionnel doit avoir son propre numéro.",
        ));
    }
    let (
        Some(identity),
        Some(structure),
        Some(start_date),
        Some(profession),
        Some(role),
        Some(mode),
    ) = (identity, structure, start_date, profession, role, mode)
    else {
        return Err(AppError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    Ok(Validated {
        identity,
        email,
        mobile,
        structure,
        start_date,
        profession,
        role,
        mode,
        exercise_last,
        exercise_first,
        reused,
    })
}

/// Registers inside the caller's transaction; on a strong match nothing is written and the
/// caller rolls back.
pub(crate) async fn register_in(
    tx: &mut Box<dyn Tx>,
    actor: &Actor,
    at: Timestamp,
    input: RegistrationInput,
) -> AppResult<RegistrationOutcome> {
    let Validated {
        identity,
        email,
        mobile,
        structure,
        start_date,
        profession,
        role,
        mode,
        exercise_last,
        exercise_first,
        reused,
    } = validate_in(tx, Some(actor), at, &input).await?;
    // Search before create.
    let mut confirmed_despite: Vec<PersonId> = Vec::new();
    if reused.is_none() {
        let matches: Vec<Person> = tx
            .persons_born_on(identity.birth_date(), CANDIDATES_PER_BIRTH_DATE)
            .await?
            .into_iter()
            .filter(|p| strong_match(&identity, p))
            .collect();
        if !matches.is_empty() {
            if !input.confirm_new_person {
                let principal = principal_of(tx, actor).await?;
                let mut candidates = Vec::new();
                for p in &matches {
                    candidates.push(candidate(tx, &principal, p).await?);
                }
                return Ok(RegistrationOutcome::StrongMatch(candidates));
            }
            if input
                .confirm_reason
                .as_deref()
                .is_none_or(|r| r.trim().chars().count() < 5)
            {
                return Err(AppError::invalid(
                    "confirm_reason",
                    codes::REQUIRED,
                    "Des personnes très proches sont déjà enregistrées : pour créer quand même une nouvelle personne, expliquez pourquoi (5 caractères au moins).",
                ));
            }
            confirmed_despite = matches.iter().map(|p| p.id).collect();
        }
    }

    let last_default = identity
        .usage_name()
        .unwrap_or(identity.birth_name())
        .as_str()
        .to_owned();
    let first_default = identity.first_name().as_str().to_owned();
    let (person_id, rpps, person_created, to, first_name, last_name) = match reused {
        Some(p) => {
            let rpps = p.record.rpps.clone().ok_or(AppError::NotFound)?;
            let (first, last) = civil_names(&p);
            (p.id, rpps, false, p.record.email.clone(), first, last)
        }
        None => {
            let created = create_person_in(
                tx,
                actor,
                at,
                PersonInput {
                    civility: identity.civility().code().to_owned(),
                    sex: identity.sex().code().to_owned(),
                    birth_name: identity.birth_name().as_str().to_owned(),
                    usage_name: identity.usage_name().map(|n| n.as_str().to_owned()),
                    first_names: identity
                        .first_names()
                        .iter()
                        .map(|n| n.as_str().to_owned())
                        .collect(),
                    birth_date: identity.birth_date(),
                    birth_country: identity.birth_country().to_owned(),
                    birth_commune: identity.birth_commune().map(str::to_owned),
                    id_document: Some(IdDocumentRecord {
                        kind: identity.id_document().kind().code().to_owned(),
                        number: identity.id_document().number().to_owned(),
                        expires_on: identity.id_document().printed_expiry(),
                    }),
                    email: email.clone(),
                    mobile,
                },
            )
            .await?;
            if !confirmed_despite.is_empty() {
                tx.append_audit(&rppsplus_store::NewAuditEntry {
                    at,
                    actor: actor.audit_name(),
                    action: "person.create_despite_match".to_owned(),
                    target: format!("person:{}", created.id.0),
                    details: json!({
                        "candidates": confirmed_despite,
                        "reason": input.confirm_reason.as_deref().map(str::trim),
                    }),
                })
                .await?;
            }
            (
                created.id,
                created.rpps,
                true,
                email,
                first_default.clone(),
                last_default.clone(),
            )
        }
    };
    let situation_id = add_situation_in(
        tx,
        actor,
        at,
        person_id,
        SituationInput {
            structure: structure.id,
            profession_code: profession,
            exercise_last_name: exercise_last.unwrap_or(last_default),
            exercise_first_name: exercise_first.unwrap_or(first_default),
            role_code: role,
            practice_mode: mode,
            start_date,
            end_date: None,
        },
    )
    .await?;
    if let Some(to) = to {
        let base = json!({
            "person_id": person_id.0,
            "rpps": rpps.as_str(),
            "to": to,
            "first_name": first_name,
            "last_name": last_name,
        });
        if person_created {
            enqueue(
                tx,
                at,
                at,
                format!("rpps_number:{}", person_id.0),
                "mail.rpps_number",
                base.clone(),
            )
            .await?;
            enqueue(
                tx,
                at,
                at + jiff::SignedDuration::from_hours(48),
                format!("ecps_ready:{}", person_id.0),
                "mail.ecps_ready",
                base,
            )
            .await?;
        }
        situation_mail(
            tx,
            at,
            MailTarget {
                person: person_id,
                situation: situation_id,
                version: 1,
                to: &to,
                first_name: &first_name,
                last_name: &last_name,
                structure_name: &structure.record.name,
            },
            "created",
            None,
        )
        .await?;
    }
    Ok(RegistrationOutcome::Registered(Registered {
        rpps,
        person_id,
        situation_id,
        person_created,
    }))
}

/// The registration a self-registration holds.
fn stored_input(r: &PendingRegistration) -> AppResult<RegistrationInput> {
    serde_json::from_value(r.record.payload.clone()).map_err(|e| {
        AppError::Store(rppsplus_store::StoreError::Corrupt(format!(
            "registration payload: {e}"
        )))
    })
}

/// A self-registration still pending, and the person deciding it: a manager of its
/// establishment (others do not see it).
async fn pending_for_decision(
    tx: &mut Box<dyn Tx>,
    actor: &Actor,
    id: PendingRegistrationId,
) -> AppResult<(PendingRegistration, PersonId)> {
    let pending = tx
        .pending_registration(id)
        .await?
        .ok_or(AppError::NotFound)?;
    let structure = tx
        .structure(pending.record.structure)
        .await?
        .ok_or(AppError::NotFound)?;
    match authorize(tx, actor, Action::ManageProfessionals, &structure).await {
        Ok(()) => {}
        Err(AppError::Forbidden) => return Err(AppError::NotFound),
        Err(e) => return Err(e),
    }
    let Some(by) = actor.person_id() else {
        return Err(AppError::Forbidden);
    };
    if pending.status != PendingStatus::Pending {
        return Err(AppError::Conflict {
            code: "already_decided",
            message: "Cette demande d'enregistrement a déjà été traitée.".to_owned(),
        });
    }
    Ok((pending, by))
}

/// [`App::professional`] inside the caller's transaction.
async fn professional_in(
    tx: &mut Box<dyn Tx>,
    actor: &Actor,
    rpps: &str,
    at: Timestamp,
) -> AppResult<ProfessionalView> {
    let rpps = Rpps::parse(rpps.trim()).map_err(|_| AppError::NotFound)?;
    let principal = principal_of(tx, actor).await?;
    let person = tx.person_by_rpps(&rpps).await?.ok_or(AppError::NotFound)?;
    let mut situations = Vec::new();
    for s in tx.situations_of_person(person.id).await? {
        let Some(structure) = tx.structure(s.record.structure).await? else {
            continue;
        };
        let node = node_of(tx, &structure).await?;
        if authz::permits(&principal, Action::ManageProfessionals, node) {
            situations.push(view(s, &structure, at));
        }
    }
    if situations.is_empty() && principal != Principal::Operator {
        return Err(AppError::NotFound);
    }
    Ok(ProfessionalView { person, situations })
}

/// A person the actor may manage: one with a situation at an establishment in the actor's
/// scope (the operator manages everyone). Others are not found.
async fn managed_person(tx: &mut Box<dyn Tx>, actor: &Actor, rpps: &str) -> AppResult<Person> {
    let rpps = Rpps::parse(rpps.trim()).map_err(|_| AppError::NotFound)?;
    let person = tx.person_by_rpps(&rpps).await?.ok_or(AppError::NotFound)?;
    let principal = principal_of(tx, actor).await?;
    if principal == Principal::Operator {
        return Ok(person);
    }
    for s in tx.situations_of_person(person.id).await? {
        if let Some(structure) = tx.structure(s.record.structure).await? {
            let node = node_of(tx, &structure).await?;
            if authz::permits(&principal, Action::ManageProfessionals, node) {
                return Ok(person);
            }
        }
    }
    Err(AppError::NotFound)
}

/// The principal of an actor who may search: the operator or a person holding some right.
async fn manager_principal(tx: &mut Box<dyn Tx>, actor: &Actor) -> AppResult<Principal> {
    let principal = principal_of(tx, actor).await?;
    match &principal {
        Principal::Operator => Ok(principal),
        Principal::Person(h) if !h.is_empty() => Ok(principal),
        Principal::Person(_) => Err(AppError::Forbidden),
    }
}

/// The situation and its establishment, if the actor may manage it (else not found, so that
/// the existence of situations elsewhere is not disclosed).
async fn managed_situation(
    tx: &mut Box<dyn Tx>,
    actor: &Actor,
    id: SituationId,
) -> AppResult<(Situation, Structure)> {
    let situation = tx.situation(id).await?.ok_or(AppError::NotFound)?;
    let structure = tx
        .structure(situation.record.structure)
        .await?
        .ok_or(AppError::NotFound)?;
    match authorize(tx, actor, Action::ManageProfessionals, &structure).await {
        Ok(()) => Ok((situation, structure)),
        Err(AppError::Forbidden) => Err(AppError::NotFound),
        Err(e) => Err(e),
    }
}

fn view(situation: Situation, structure: &Structure, at: Timestamp) -> SituationView {
    let today = paris_date(at);
    let start = situation.record.start_date;
    let end = situation.record.end_date;
    let status = match end {
        Some(end) if end <= today => "closed",
        _ if today < start => "upcoming",
        Some(_) => "scheduled_closure",
        None => "active",
    };
    SituationView {
        active: situation_in_force(start, end, situation.closed_at, at),
        status,
        structure_finess: structure.record.finess.clone(),
        structure_name: structure.record.name.clone(),
        situation,
    }
}

/// The establishment named by a FINESS number: an open EG the actor may manage. Unknown or
/// invalid numbers are field errors; a structure out of the actor's scope is refused.
async fn establishment(
    tx: &mut Box<dyn Tx>,
    actor: Option<&Actor>,
    errors: &mut Vec<FieldError>,
    raw: Option<&str>,
    field: &str,
) -> AppResult<Option<Structure>> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        errors.push(FieldError::new(
            field,
            codes::REQUIRED,
            "Indiquez le numéro FINESS de l'établissement.",
        ));
        return Ok(None);
    };
    let Ok(finess) = Finess::parse(raw) else {
        errors.push(FieldError::new(
            field,
            "invalid_finess",
            "Numéro FINESS invalide : 9 caractères dont une clé de contrôle.",
        ));
        return Ok(None);
    };
    let Some(structure) = tx.structure_by_finess(&finess).await? else {
        errors.push(FieldError::new(
            field,
            "unknown_structure",
            "Aucun établissement n'a ce numéro FINESS.",
        ));
        return Ok(None);
    };
    if let Some(actor) = actor {
        authorize(tx, actor, Action::ManageProfessionals, &structure).await?;
    }
    if structure.record.kind != StructureKind::Eg {
        errors.push(FieldError::new(
            field,
            "not_an_establishment",
            "Choisissez un établissement (entité géographique), pas l'entité juridique.",
        ));
        return Ok(None);
    }
    if !structure.record.open {
        errors.push(FieldError::new(
            field,
            "closed_structure",
            "Cet établissement est fermé : on ne peut plus y enregistrer de professionnel.",
        ));
        return Ok(None);
    }
    Ok(Some(structure))
}

fn check_profession(
    errors: &mut Vec<FieldError>,
    field: &str,
    raw: Option<&str>,
    structure: Option<&Structure>,
) -> Option<String> {
    let Some(code) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        errors.push(FieldError::new(
            field,
            codes::REQUIRED,
            "Choisissez la profession (code TRE_R85).",
        ));
        return None;
    };
    let Ok(t) = tables() else {
        errors.push(FieldError::new(
            field,
            codes::REFERENCE_UNAVAILABLE,
            "Les tables de référence sont indisponibles : réessayez plus tard.",
        ));
        return None;
    };
    let Some(p) = t.professions.r85(code) else {
        errors.push(FieldError::new(
            field,
            codes::UNKNOWN_CODE,
            "Profession inconnue : choisissez un code de la table TRE_R85.",
        ));
        return None;
    };
    if let CodeStatus::Deprecated { .. } = p.status {
        let guidance = t
            .professions
            .retired_guidance(TableId::R85, code)
            .unwrap_or_else(|| "Ce code de profession a été retiré de la nomenclature.".to_owned());
        errors.push(FieldError::new(field, codes::RETIRED_CODE, guidance));
        return None;
    }
    if !p.is_registrable() {
        errors.push(FieldError::new(
            field,
            "not_registrable",
            format!(
                "La profession « {} » ne s'enregistre pas dans RPPS+ (elle relève de son Ordre ou d'une autre autorité).",
                p.label
            ),
        ));
        return None;
    }
    let structure = structure?;
    let setting = structure.record.setting.as_deref().and_then(Setting::parse);
    let line: Option<&Eligibility> = setting.and_then(|s| t.eligibility.get(s, TableId::R85, code));
    match line.map(|l| l.status) {
        Some(EligibilityStatus::Active) => Some(code.to_owned()),
        Some(EligibilityStatus::Retired { .. }) => {
            let guidance = t
                .professions
                .retired_guidance(TableId::R85, code)
                .unwrap_or_else(|| {
                    "Ce code de profession a été retiré : choisissez le code qui le remplace."
                        .to_owned()
                });
            errors.push(FieldError::new(field, codes::RETIRED_CODE, guidance));
            None
        }
        Some(EligibilityStatus::Announced) => {
            errors.push(FieldError::new(
                field,
                "not_yet_open",
                format!(
                    "L'enregistrement de la profession « {} » n'est pas encore ouvert pour ce type d'établissement.",
                    p.label
                ),
            ));
            None
        }
        None => {
            errors.push(FieldError::new(
                field,
                "not_eligible_here",
                format!(
                    "La profession « {} » ne peut pas être enregistrée dans cet établissement.",
                    p.label
                ),
            ));
            None
        }
    }
}

fn check_role(errors: &mut Vec<FieldError>, field: &str, raw: Option<&str>) -> Option<String> {
    let code = raw.map(str::trim).unwrap_or_default().to_ascii_uppercase();
    if code.is_empty() {
        errors.push(FieldError::new(
            field,
            codes::REQUIRED,
            "Choisissez le rôle RPPS+ (GENR08 à GENR12).",
        ));
        return None;
    }
    if tables().is_ok_and(|t| t.roles.is_rpps_plus_role(&code)) {
        Some(code)
    } else {
        errors.push(FieldError::new(
            field,
            codes::UNKNOWN_CODE,
            "Rôle inconnu : choisissez l'un des rôles RPPS+ GENR08, GENR09, GENR10, GENR11 ou GENR12.",
        ));
        None
    }
}

fn check_mode(errors: &mut Vec<FieldError>, field: &str, raw: Option<&str>) -> Option<String> {
    let code = raw.map(str::trim).unwrap_or_default().to_ascii_uppercase();
    if code.is_empty() {
        errors.push(FieldError::new(
            field,
            codes::REQUIRED,
            "Choisissez le mode d'exercice : S (salarié), L (libéral) ou B (bénévole).",
        ));
        return None;
    }
    let known = tables().is_ok_and(|t| t.exercise_modes.active().any(|c| c.code == code));
    if known && matches!(code.as_str(), "S" | "L" | "B") {
        Some(code)
    } else {
        errors.push(FieldError::new(
            field,
            codes::UNKNOWN_CODE,
            "Mode d'exercice inconnu : S (salarié), L (libéral) ou B (bénévole).",
        ));
        None
    }
}

/// An exercise name: absent means "use the civil name"; present, it must be sensible.
fn check_exercise_name(
    errors: &mut Vec<FieldError>,
    field: &str,
    raw: Option<&str>,
) -> Option<String> {
    let s = raw?.trim();
    if s.is_empty() {
        return None;
    }
    if s.chars().count() > 100 {
        errors.push(FieldError::new(
            field,
            codes::TOO_LONG,
            "Ce nom est trop long (100 caractères au maximum).",
        ));
        return None;
    }
    if matching_key(s).is_empty() || s.chars().any(|c| c.is_control() || c.is_ascii_digit()) {
        errors.push(FieldError::new(
            field,
            codes::INVALID_CHARACTERS,
            "Ce nom ne peut contenir que des lettres, des espaces, des traits d'union et des apostrophes.",
        ));
        return None;
    }
    Some(s.to_owned())
}

fn required_text(
    errors: &mut Vec<FieldError>,
    field: &str,
    raw: Option<&str>,
    what: &str,
) -> Option<String> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Some(s.to_owned()),
        None => {
            errors.push(FieldError::new(
                field,
                codes::REQUIRED,
                format!("Indiquez {what}."),
            ));
            None
        }
    }
}

fn parse_date_field(errors: &mut Vec<FieldError>, field: &str, raw: Option<&str>) -> Option<Date> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        errors.push(FieldError::new(
            field,
            codes::REQUIRED,
            "Indiquez la date (AAAA-MM-JJ ou JJ/MM/AAAA).",
        ));
        return None;
    };
    match parse_date_input(raw) {
        Some(d) if d.year() >= 1900 => Some(d),
        _ => {
            errors.push(FieldError::new(
                field,
                "invalid_date",
                "Date invalide : utilisez la forme AAAA-MM-JJ ou JJ/MM/AAAA.",
            ));
            None
        }
    }
}

fn optional_contact(
    errors: &mut Vec<FieldError>,
    raw: Option<&str>,
    parse: impl Fn(&str) -> Result<String, FieldError>,
) -> Option<String> {
    let raw = raw.map(str::trim).filter(|s| !s.is_empty())?;
    match parse(raw) {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(e);
            None
        }
    }
}

/// The domain names the identity document's fields as in its form; the API names them
/// `type` and `expires_on`.
fn rename_identity_field(mut e: FieldError) -> FieldError {
    if e.field == "identity.id_document.kind" {
        e.field = "identity.id_document.type".to_owned();
    } else if e.field == "identity.id_document.expiry_date" {
        e.field = "identity.id_document.expires_on".to_owned();
    }
    e
}

/// Whether one of `name`'s forms is within one typo of the birth or usage name.
fn name_matches(name: &str, birth: &str, usage: Option<&str>) -> bool {
    within_one_typo(name, birth) || usage.is_some_and(|u| within_one_typo(name, u))
}

/// Whether every word of one list of first names is within one typo of a word of the other
/// (in any order).
fn first_names_match<A: AsRef<str>, B: AsRef<str>>(a: &[A], b: &[B]) -> bool {
    let (a, b) = (first_name_words(a), first_name_words(b));
    let covers = |x: &[String], y: &[String]| {
        !x.is_empty() && x.iter().all(|w| y.iter().any(|v| within_one_typo(w, v)))
    };
    covers(&a, &b) || covers(&b, &a)
}

/// A strong match: same birth date, a name within one typo (birth or usage, either side) and
/// the same first names within one typo each, in any order.
pub(crate) fn strong_match(identity: &CivilIdentity, p: &Person) -> bool {
    let birth = identity.birth_name().as_str();
    let usage = identity.usage_name().map(|n| n.as_str());
    let firsts: Vec<&str> = identity.first_names().iter().map(|n| n.as_str()).collect();
    identity.birth_date() == p.record.birth_date
        && (name_matches(birth, &p.record.birth_name, p.record.usage_name.as_deref())
            || usage.is_some_and(|u| {
                name_matches(u, &p.record.birth_name, p.record.usage_name.as_deref())
            }))
        && first_names_match(&firsts, &p.record.first_names)
}

fn civil_names(p: &Person) -> (String, String) {
    let first = p.record.first_names.first().cloned().unwrap_or_default();
    let last = p
        .record
        .usage_name
        .clone()
        .unwrap_or_else(|| p.record.birth_name.clone());
    (first, last)
}

/// A candidate, full when in the actor's scope, masked otherwise.
async fn candidate(
    tx: &mut Box<dyn Tx>,
    principal: &Principal,
    p: &Person,
) -> AppResult<Candidate> {
    let mut in_scope = *principal == Principal::Operator;
    if !in_scope {
        for s in tx.situations_of_person(p.id).await? {
            if let Some(structure) = tx.structure(s.record.structure).await? {
                let node = node_of(tx, &structure).await?;
                if authz::permits(principal, Action::ManageProfessionals, node) {
                    in_scope = true;
                    break;
                }
            }
        }
    }
    let (first, last) = civil_names(p);
    let rpps = p
        .record
        .rpps
        .as_ref()
        .map(|r| r.as_str().to_owned())
        .unwrap_or_default();
    Ok(if in_scope {
        Candidate {
            masked: false,
            rpps,
            last_name: last,
            first_names: p.record.first_names.clone(),
            birth_date: Some(p.record.birth_date),
            birth_year: p.record.birth_date.year(),
        }
    } else {
        Candidate {
            masked: true,
            rpps: mask_rpps(&rpps),
            last_name: mask_name(&last),
            first_names: vec![initial(&first)],
            birth_date: None,
            birth_year: p.record.birth_date.year(),
        }
    })
}

/// `10•••••••42`: the first two and last two digits.
pub fn mask_rpps(rpps: &str) -> String {
    let chars: Vec<char> = rpps.chars().collect();
    if chars.len() < 5 {
        return "•".repeat(chars.len());
    }
    let n = chars.len();
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < 2 || i >= n - 2 { *c } else { '•' })
        .collect()
}

/// `D•••••`: the first letter, upper-cased, then one `•` per further letter.
pub fn mask_name(name: &str) -> String {
    let key = matching_key(name).replace(' ', "");
    let mut chars = key.chars();
    match chars.next() {
        Some(c) => format!("{}{}", c.to_ascii_uppercase(), "•".repeat(chars.count())),
        None => String::new(),
    }
}

/// `J.`: the initial of a first name.
pub fn initial(first: &str) -> String {
    matching_key(first)
        .chars()
        .next()
        .map(|c| format!("{}.", c.to_ascii_uppercase()))
        .unwrap_or_default()
}

async fn enqueue(
    tx: &mut Box<dyn Tx>,
    at: Timestamp,
    not_before: Timestamp,
    event_key: String,
    kind: &str,
    payload: serde_json::Value,
) -> AppResult<()> {
    tx.enqueue_outbox(&NewOutboxMessage {
        event_key,
        kind: kind.to_owned(),
        payload,
        not_before,
        at,
    })
    .await?;
    Ok(())
}

struct MailTarget<'a> {
    person: PersonId,
    situation: SituationId,
    version: i64,
    to: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    structure_name: &'a str,
}

async fn situation_mail(
    tx: &mut Box<dyn Tx>,
    at: Timestamp,
    m: MailTarget<'_>,
    change: &str,
    end_date: Option<Date>,
) -> AppResult<()> {
    enqueue(
        tx,
        at,
        at,
        format!("situation_change:{}:{}", m.situation.0, m.version),
        "mail.situation_change",
        json!({
            "person_id": m.person.0,
            "situation_id": m.situation.0,
            "to": m.to,
            "first_name": m.first_name,
            "last_name": m.last_name,
            "structure_name": m.structure_name,
            "change": change,
            "end_date": end_date.map(|d| d.to_string()),
        }),
    )
    .await
}

/// Queues the situation-change mail of a situation's person, if they have an e-mail.
async fn mail_for_situation(
    tx: &mut Box<dyn Tx>,
    at: Timestamp,
    id: SituationId,
    version: i64,
    structure: &Structure,
    change: &str,
    end_date: Option<Date>,
) -> AppResult<()> {
    let situation = tx.situation(id).await?.ok_or(AppError::NotFound)?;
    let person = tx
        .person(situation.record.person)
        .await?
        .ok_or(AppError::NotFound)?;
    let Some(to) = person.record.email.clone() else {
        return Ok(());
    };
    let (first, last) = civil_names(&person);
    situation_mail(
        tx,
        at,
        MailTarget {
            person: person.id,
            situation: id,
            version,
            to: &to,
            first_name: &first,
            last_name: &last,
            structure_name: &structure.record.name,
        },
        change,
        end_date,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(mask_rpps("10000000042"), "10•••••••42");
        assert_eq!(mask_name("Dupont"), "D•••••");
        assert_eq!(mask_name("N'Diaye"), "N•••••");
        assert_eq!(initial("Émilie"), "E.");
    }

    type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

    fn person(birth: &str, usage: Option<&str>, firsts: &[&str], born: Date) -> Fallible<Person> {
        Ok(Person {
            id: PersonId(1),
            record: rppsplus_store::NewPerson {
                rpps: None,
                adeli: None,
                idnps: Rpps::from_sequence(0)?.idnps(),
                civility: "MME".into(),
                sex: "F".into(),
                birth_name: birth.into(),
                usage_name: usage.map(Into::into),
                first_names: firsts.iter().map(|f| (*f).to_owned()).collect(),
                birth_date: born,
                birth_country: "99100".into(),
                birth_commune: Some("69123".into()),
                id_document: None,
                email: None,
                mobile: None,
                birth_name_key: String::new(),
                usage_name_key: None,
                first_names_key: String::new(),
                at: Timestamp::UNIX_EPOCH,
            },
            version: 1,
            updated_at: Timestamp::UNIX_EPOCH,
        })
    }

    fn identity(birth: &str, usage: Option<&str>, firsts: &[&str]) -> Fallible<CivilIdentity> {
        let raw = RawCivilIdentity {
            civility: Some("MME".into()),
            sex: Some("F".into()),
            birth_name: Some(birth.into()),
            usage_name: usage.map(Into::into),
            first_names: firsts.iter().map(|f| (*f).to_owned()).collect(),
            birth_date: Some("1985-04-12".into()),
            birth_country: Some("99100".into()),
            birth_commune: Some("69123".into()),
            id_document: rppsplus_domain::RawIdDocument {
                kind: Some("CNI".into()),
                number: Some("AB1234567".into()),
                expiry_date: Some("2032-01-31".into()),
            },
        };
        CivilIdentity::parse(&raw, jiff::civil::date(2026, 11, 27))
            .map_err(|e| format!("{e:?}").into())
    }

    #[test]
    fn strong_matches() -> Fallible<()> {
        let born = jiff::civil::date(1985, 4, 12);
        let p = person("Lefèvre-Durand", Some("Martin"), &["Élodie", "Marie"], born)?;
        // Accents, case, hyphens, first-name order, one typo, usage name on either side.
        assert!(strong_match(
            &identity("LEFEVRE DURAND", None, &["marie", "elodie"])?,
            &p
        ));
        assert!(strong_match(
            &identity("Lefevre-Durant", None, &["Elodie"])?,
            &p
        ));
        assert!(strong_match(
            &identity("Dupont", Some("Martin"), &["Élodie", "Marie"])?,
            &p
        ));
        assert!(strong_match(&identity("Martin", None, &["Elodie"])?, &p));
        // Another first name, another name, another birth date.
        assert!(!strong_match(
            &identity("Lefèvre-Durand", None, &["Chloé"])?,
            &p
        ));
        assert!(!strong_match(&identity("Lefort", None, &["Élodie"])?, &p));
        let other_day = person(
            "Lefèvre-Durand",
            None,
            &["Élodie"],
            jiff::civil::date(1985, 4, 13),
        )?;
        assert!(!strong_match(
            &identity("Lefèvre-Durand", None, &["Élodie"])?,
            &other_day
        ));
        Ok(())
    }

    #[test]
    fn first_names_in_any_order_with_one_typo() {
        assert!(first_names_match(&["Marie", "Anne"], &["Anne-Marie"]));
        assert!(first_names_match(
            &["Jean-Pierre"],
            &["Pierre", "Jean", "Louis"]
        ));
        assert!(first_names_match(&["Mathis"], &["Matis"]));
        assert!(!first_names_match(&["Lucas"], &["Hugo"]));
        assert!(name_matches("lefevre", "Lefèvre", None));
        assert!(name_matches("Lefebvre", "Lefèvre", None));
        assert!(name_matches("Durand", "Lefèvre", Some("Durant")));
        assert!(!name_matches("Martin", "Lefèvre", None));
    }
}
