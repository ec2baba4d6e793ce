//! The registration wizard of the web pages: a server-side draft kept between the three steps
//! (état civil, contact, exercice) and the confirmation, and the identity-document scan.
//!
//! Each step is checked by the very validation of [`App::register`] (`validate_in`), keeping
//! only the problems of that step's fields, so that the pages, the API and the final
//! registration give the same messages. Confirming runs `register_in` in one transaction that
//! also moves the scan from the draft to the person and deletes the draft.
//!
//! A draft holds personal data: only the person who started it reads it, they must still hold
//! a right to manage professionals somewhere, and a draft untouched for
//! [`DRAFT_LIFETIME_DAYS`] days is purged. Scans are never logged nor published; the audit log
//! records their id, media type and size only.

use jiff::{SignedDuration, Timestamp};
use rppsplus_domain::RawCivilIdentity;
use rppsplus_domain::authz::{self, Action, Principal};
use rppsplus_domain::identity::RawIdDocument;
use rppsplus_domain::matching::matching_key;
use rppsplus_store::{
    DraftId, IdentityDocument, IdentityDocumentId, IdentityDocumentInfo, NewAuditEntry, NewDraft,
    NewIdentityDocument, Person, PersonId, Structure, StructureKind, Tx,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::access::{node_of, principal_of};
use crate::registrations::{
    Candidate, RawExercise, RegistrationInput, RegistrationOutcome, SearchQuery, register_in,
    validate_in,
};
use crate::{Actor, App, AppError, AppResult, FieldError};

/// A draft not saved for this many days is deleted.
pub const DRAFT_LIFETIME_DAYS: i64 = 30;

/// Largest scan accepted, in bytes (5 Mo).
pub const MAX_SCAN_BYTES: usize = 5 * 1024 * 1024;

/// The field the scan's problems are reported on.
pub const SCAN_FIELD: &str = "identity.scan";

/// The birth commune's field.
const COMMUNE_FIELD: &str = "identity.birth_commune";

/// The steps of the wizard, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// État civil.
    Identity = 1,
    /// Contact.
    Contact = 2,
    /// Exercice.
    Exercise = 3,
    /// Récapitulatif et confirmation.
    Confirmation = 4,
}

impl Step {
    /// The step of a stored number (a number out of range is the first step).
    pub fn from_number(n: i16) -> Step {
        match n {
            2 => Step::Contact,
            3 => Step::Exercise,
            4 => Step::Confirmation,
            _ => Step::Identity,
        }
    }

    /// Its number, from 1.
    pub fn number(self) -> i16 {
        self as i16
    }

    /// The step whose form holds a field of a registration (`identity.birth_name`,
    /// `contact.email`, `exercise.role`, `existing_rpps`…).
    pub fn of_field(field: &str) -> Step {
        let head = field.split(['.', '[']).next().unwrap_or_default();
        match head {
            "identity" | "existing_rpps" => Step::Identity,
            "contact" => Step::Contact,
            "exercise" => Step::Exercise,
            _ => Step::Confirmation,
        }
    }
}

/// The person a draft adds a situation to, instead of creating one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReusedPerson {
    /// Their RPPS number.
    pub rpps: String,
    /// How they are shown: their name when in the actor's scope, masked otherwise.
    pub label: String,
    /// Whether the identity was taken from the registry (in scope): the identity and contact
    /// steps are then skipped.
    pub identity_known: bool,
}

/// What a draft holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DraftData {
    /// The registration typed so far, as the API takes it.
    pub registration: RegistrationInput,
    /// The person reused, if any.
    pub reused: Option<ReusedPerson>,
}

impl DraftData {
    /// The step after `step`, skipping the identity and contact steps of a person whose
    /// identity comes from the registry.
    pub fn next_after(&self, step: Step) -> Step {
        let known = self.reused.as_ref().is_some_and(|r| r.identity_known);
        match step {
            Step::Identity if known || self.reused.is_some() => Step::Exercise,
            Step::Identity => Step::Contact,
            Step::Contact => Step::Exercise,
            Step::Exercise | Step::Confirmation => Step::Confirmation,
        }
    }

    /// The steps the user goes through, in order.
    pub fn steps(&self) -> Vec<Step> {
        match &self.reused {
            Some(r) if r.identity_known => vec![Step::Exercise, Step::Confirmation],
            Some(_) => vec![Step::Identity, Step::Exercise, Step::Confirmation],
            None => vec![
                Step::Identity,
                Step::Contact,
                Step::Exercise,
                Step::Confirmation,
            ],
        }
    }
}

/// A draft as its owner sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct DraftView {
    /// Its id.
    pub id: DraftId,
    /// What it holds.
    pub data: DraftData,
    /// The furthest step reached.
    pub reached: Step,
    /// When started.
    pub created_at: Timestamp,
    /// When last saved.
    pub updated_at: Timestamp,
    /// The scan attached, if any.
    pub scan: Option<IdentityDocumentInfo>,
}

/// What confirming a draft gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmed {
    /// Registered; the draft is gone.
    Registered(crate::registrations::Registered),
    /// Nothing stored: persons strongly matching the identity exist.
    StrongMatch(Vec<Candidate>),
}

/// The media type of a scan, found from its first bytes: PDF, JPEG or PNG only.
pub fn sniff_media_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("image/png")
    } else {
        None
    }
}

/// Checks a scan: its type from its content and its size. The caller passes at most
/// [`MAX_SCAN_BYTES`] + 1 bytes of a larger file.
pub fn check_scan(bytes: &[u8]) -> Result<&'static str, FieldError> {
    if bytes.len() > MAX_SCAN_BYTES {
        return Err(FieldError::new(
            SCAN_FIELD,
            "file_too_large",
            "Le fichier dépasse 5 Mo : réduisez sa taille (numérisation en 150 ppp, en noir et blanc ou en JPEG) puis envoyez-le à nouveau.",
        ));
    }
    if bytes.is_empty() {
        return Err(FieldError::new(
            SCAN_FIELD,
            "file_empty",
            "Le fichier envoyé est vide : choisissez le fichier de la pièce d'identité.",
        ));
    }
    sniff_media_type(bytes).ok_or_else(|| {
        FieldError::new(
            SCAN_FIELD,
            "file_type",
            "Ce fichier n'est ni un PDF, ni une image JPEG, ni une image PNG : envoyez la pièce d'identité dans l'un de ces formats.",
        )
    })
}

/// A birth commune typed by its name (managers rarely know INSEE codes) turned into its COG
/// code when one commune has that name (accents, case and hyphens aside); a code is kept as
/// typed, for the civil-identity rules to check.
pub fn resolve_commune(raw: &str) -> Result<String, FieldError> {
    let typed = raw.trim();
    let code_like = typed.chars().count() == 5
        && typed.chars().all(|c| c.is_ascii_alphanumeric())
        && typed.chars().filter(char::is_ascii_digit).count() >= 3;
    if code_like || typed.is_empty() {
        return Ok(typed.to_owned());
    }
    let Ok(cog) = rppsplus_domain::reference::cog() else {
        return Ok(typed.to_owned());
    };
    let key = matching_key(typed);
    let mut found: Vec<(&str, &str, &str)> = cog
        .communes()
        .iter()
        .filter(|c| matching_key(&c.name) == key)
        .map(|c| (c.code.as_str(), c.name.as_str(), c.department.as_str()))
        .collect();
    found.sort_unstable();
    found.dedup_by_key(|c| c.0);
    match found.as_slice() {
        [(code, _, _)] => Ok((*code).to_owned()),
        [] => Err(FieldError::new(
            COMMUNE_FIELD,
            "unknown_commune_name",
            format!(
                "Aucune commune ne s'appelle « {typed} » : vérifiez l'orthographe sur l'acte de naissance, ou saisissez le code INSEE de la commune (5 caractères)."
            ),
        )),
        many => {
            let listed: Vec<String> = many
                .iter()
                .take(12)
                .map(|(code, name, dept)| format!("{name} ({dept}) : {code}"))
                .collect();
            Err(FieldError::new(
                COMMUNE_FIELD,
                "ambiguous_commune_name",
                format!(
                    "Plusieurs communes s'appellent « {typed} » : saisissez le code INSEE de la bonne. {}{}.",
                    listed.join(" ; "),
                    if many.len() > listed.len() {
                        " ; …"
                    } else {
                        ""
                    }
                ),
            ))
        }
    }
}

impl App {
    /// The establishments (EG) where the actor may register professionals, by name.
    /// [`AppError::Forbidden`] when there is none.
    pub async fn registration_establishments(&self, actor: &Actor) -> AppResult<Vec<Structure>> {
        let mut tx = self.store.begin().await?;
        let found = establishments_in(&mut tx, actor).await?;
        tx.rollback().await?;
        Ok(found)
    }

    /// The actor's drafts, most recently saved first. Drafts left for
    /// [`DRAFT_LIFETIME_DAYS`] days are purged first (everyone's).
    pub async fn my_drafts(&self, actor: &Actor) -> AppResult<Vec<DraftView>> {
        let at = self.now();
        let mut tx = self.store.begin().await?;
        let owner = owner_of(actor)?;
        establishments_in(&mut tx, actor).await?;
        tx.purge_drafts(purge_limit(at)).await?;
        let mut out = Vec::new();
        for d in tx.drafts_of(owner).await? {
            let scan = tx.draft_document(d.id).await?;
            out.push(view(d, scan)?);
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Starts the registration of a new person from a search by civil identity. When the
    /// search finds persons, creating a new one needs `confirm` and a reason (recorded in the
    /// audit log when the registration is confirmed).
    pub async fn start_new_registration(
        &self,
        actor: &Actor,
        query: &SearchQuery,
        confirm: bool,
        reason: Option<&str>,
    ) -> AppResult<DraftId> {
        let found = self.search_professionals(actor, query).await?;
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if !found.is_empty() {
            let mut errors = Vec::new();
            if !confirm {
                errors.push(FieldError::new(
                    "confirm_new_person",
                    "confirmation_required",
                    "Des personnes proches sont déjà enregistrées : si aucune n'est la bonne, cochez la case pour confirmer la création d'une nouvelle personne.",
                ));
            }
            if reason.is_none() {
                errors.push(FieldError::new(
                    "confirm_reason",
                    "required",
                    "Expliquez pourquoi aucune des personnes trouvées n'est la bonne.",
                ));
            }
            if !errors.is_empty() {
                return Err(AppError::Invalid(errors));
            }
        }
        let first = query
            .first_name
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let data = DraftData {
            registration: RegistrationInput {
                identity: RawCivilIdentity {
                    birth_name: query.name.clone().map(|s| s.trim().to_owned()),
                    first_names: first.map(str::to_owned).into_iter().collect(),
                    birth_date: query.birth_date.clone().map(|s| s.trim().to_owned()),
                    birth_country: Some("99100".to_owned()),
                    ..RawCivilIdentity::default()
                },
                confirm_new_person: !found.is_empty(),
                confirm_reason: (!found.is_empty())
                    .then(|| reason.map(str::to_owned))
                    .flatten(),
                ..RegistrationInput::default()
            },
            reused: None,
        };
        self.insert_draft(actor, &data, Step::Identity).await
    }

    /// Starts a new situation for an existing person, by RPPS number. A person in the
    /// actor's scope comes with their identity (straight to the exercise step); for anyone
    /// else the manager types the identity, which must match the person.
    pub async fn start_reuse(&self, actor: &Actor, rpps: &str) -> AppResult<(DraftId, Step)> {
        let mut tx = self.store.begin().await?;
        establishments_in(&mut tx, actor).await?;
        let number = rppsplus_domain::Rpps::parse(rpps.trim()).map_err(|_| {
            AppError::invalid(
                "rpps",
                "invalid_rpps",
                "Numéro RPPS invalide : 11 chiffres dont une clé de contrôle.",
            )
        })?;
        let person = tx.person_by_rpps(&number).await?.ok_or_else(|| {
            AppError::invalid(
                "rpps",
                "unknown_person",
                "Aucun professionnel n'a ce numéro RPPS.",
            )
        })?;
        let in_scope = in_scope(&mut tx, actor, &person).await?;
        tx.rollback().await?;
        let r = &person.record;
        let (label, identity) = if in_scope {
            let last = r.usage_name.clone().unwrap_or_else(|| r.birth_name.clone());
            (
                format!("{} {last}", r.first_names.join(" ")),
                RawCivilIdentity {
                    civility: Some(r.civility.clone()),
                    sex: Some(r.sex.clone()),
                    birth_name: Some(r.birth_name.clone()),
                    usage_name: r.usage_name.clone(),
                    first_names: r.first_names.clone(),
                    birth_date: Some(r.birth_date.to_string()),
                    birth_country: Some(r.birth_country.clone()),
                    birth_commune: r.birth_commune.clone(),
                    id_document: r
                        .id_document
                        .as_ref()
                        .map(|d| RawIdDocument {
                            kind: Some(d.kind.clone()),
                            number: Some(d.number.clone()),
                            expiry_date: Some(d.expires_on.to_string()),
                        })
                        .unwrap_or_default(),
                },
            )
        } else {
            (
                format!("RPPS {}", number.as_str()),
                RawCivilIdentity {
                    birth_country: Some("99100".to_owned()),
                    ..RawCivilIdentity::default()
                },
            )
        };
        let data = DraftData {
            registration: RegistrationInput {
                identity,
                existing_rpps: Some(number.as_str().to_owned()),
                ..RegistrationInput::default()
            },
            reused: Some(ReusedPerson {
                rpps: number.as_str().to_owned(),
                label,
                identity_known: in_scope,
            }),
        };
        let first = data.steps().first().copied().unwrap_or(Step::Identity);
        let id = self.insert_draft(actor, &data, first).await?;
        Ok((id, first))
    }

    async fn insert_draft(
        &self,
        actor: &Actor,
        data: &DraftData,
        step: Step,
    ) -> AppResult<DraftId> {
        let at = self.now();
        let mut tx = self.store.begin().await?;
        let owner = owner_of(actor)?;
        establishments_in(&mut tx, actor).await?;
        let id = tx
            .insert_draft(&NewDraft {
                owner,
                payload: to_payload(data)?,
                step: step.number(),
                at,
            })
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// A draft of the actor's.
    pub async fn draft(&self, actor: &Actor, id: DraftId) -> AppResult<DraftView> {
        let at = self.now();
        let mut tx = self.store.begin().await?;
        let (draft, _) = owned_draft(&mut tx, actor, id, at).await?;
        let scan = tx.draft_document(id).await?;
        tx.rollback().await?;
        view(draft, scan)
    }

    /// Saves step 1 (état civil) and its optional scan when every field of the step is valid;
    /// returns the next step. Nothing is saved otherwise.
    pub async fn save_identity(
        &self,
        actor: &Actor,
        id: DraftId,
        identity: RawCivilIdentity,
        scan: Option<&[u8]>,
    ) -> AppResult<Step> {
        let at = self.now();
        let mut tx = self.store.begin().await?;
        let (draft, mut data) = owned_draft(&mut tx, actor, id, at).await?;
        if data.reused.as_ref().is_some_and(|r| r.identity_known) {
            // The identity comes from the registry; corrections go through their own page.
            return Err(AppError::NotFound);
        }
        let mut identity = identity;
        let mut commune_error = None;
        if let Some(typed) = identity.birth_commune.clone() {
            match resolve_commune(&typed) {
                Ok(code) => identity.birth_commune = Some(code),
                Err(e) => commune_error = Some(e),
            }
        }
        data.registration.identity = identity;
        let mut errors = step_errors(&mut tx, actor, at, &data, Step::Identity).await?;
        if let Some(e) = commune_error {
            // The name's problem replaces the code's (the name is not a code).
            errors.retain(|x| x.field != COMMUNE_FIELD);
            errors.push(e);
        }
        let media_type = match scan.map(check_scan) {
            Some(Ok(t)) => Some(t),
            Some(Err(e)) => {
                errors.push(e);
                None
            }
            None => None,
        };
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        if let (Some(bytes), Some(media_type), Some(by)) = (scan, media_type, actor.person_id()) {
            let doc = tx
                .put_draft_document(&NewIdentityDocument {
                    draft: id,
                    uploaded_by: by,
                    media_type: media_type.to_owned(),
                    sha256: hex::encode(Sha256::digest(bytes)),
                    content: bytes.to_vec(),
                    at,
                })
                .await?;
            audit(
                &mut tx,
                actor,
                at,
                "identity_document.upload",
                doc,
                json!({ "draft": id, "media_type": media_type, "size": bytes.len() }),
            )
            .await?;
        }
        let next = data.next_after(Step::Identity);
        save(&mut tx, &draft, &data, next, at).await?;
        tx.commit().await?;
        Ok(next)
    }

    /// Saves step 2 (contact) when valid; returns the next step.
    pub async fn save_contact(
        &self,
        actor: &Actor,
        id: DraftId,
        email: Option<String>,
        mobile: Option<String>,
    ) -> AppResult<Step> {
        let at = self.now();
        let mut tx = self.store.begin().await?;
        let (draft, mut data) = owned_draft(&mut tx, actor, id, at).await?;
        data.registration.email = email.filter(|s| !s.trim().is_empty());
        data.registration.mobile = mobile.filter(|s| !s.trim().is_empty());
        let errors = step_errors(&mut tx, actor, at, &data, Step::Contact).await?;
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        let next = data.next_after(Step::Contact);
        save(&mut tx, &draft, &data, next, at).await?;
        tx.commit().await?;
        Ok(next)
    }

    /// Saves step 3 (exercice) when valid; returns the next step (the confirmation).
    pub async fn save_exercise(
        &self,
        actor: &Actor,
        id: DraftId,
        exercise: RawExercise,
    ) -> AppResult<Step> {
        let at = self.now();
        let mut tx = self.store.begin().await?;
        let (draft, mut data) = owned_draft(&mut tx, actor, id, at).await?;
        data.registration.exercise = exercise;
        let errors = step_errors(&mut tx, actor, at, &data, Step::Exercise).await?;
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        let next = data.next_after(Step::Exercise);
        save(&mut tx, &draft, &data, next, at).await?;
        tx.commit().await?;
        Ok(next)
    }

    /// Registers what the draft holds, in one transaction: the registration of
    /// [`App::register`], the scan moved to the person, the draft deleted. `confirm` (with
    /// its reason) creates a new person although strong matches exist. The errors are those
    /// of [`App::register`]; [`Step::of_field`] tells which step each belongs to.
    pub async fn confirm_draft(
        &self,
        actor: &Actor,
        id: DraftId,
        confirm: Option<(bool, Option<String>)>,
    ) -> AppResult<Confirmed> {
        let at = self.now();
        let mut tx = self.store.begin().await?;
        let (_, mut data) = owned_draft(&mut tx, actor, id, at).await?;
        if let Some((confirm, reason)) = confirm {
            data.registration.confirm_new_person = confirm;
            data.registration.confirm_reason = reason;
        }
        let outcome = register_in(&mut tx, actor, at, data.registration).await?;
        let registered = match outcome {
            RegistrationOutcome::Registered(r) => r,
            RegistrationOutcome::StrongMatch(c) => {
                tx.rollback().await?;
                return Ok(Confirmed::StrongMatch(c));
            }
        };
        if let Some(doc) = tx.attach_draft_document(id, registered.person_id).await? {
            audit(
                &mut tx,
                actor,
                at,
                "identity_document.attach",
                doc,
                json!({ "person": registered.person_id }),
            )
            .await?;
        }
        tx.delete_draft(id).await?;
        tx.commit().await?;
        Ok(Confirmed::Registered(registered))
    }

    /// Deletes a draft of the actor's, with its scan.
    pub async fn delete_draft(&self, actor: &Actor, id: DraftId) -> AppResult<()> {
        let at = self.now();
        let mut tx = self.store.begin().await?;
        owned_draft(&mut tx, actor, id, at).await?;
        tx.delete_draft(id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The scan of a draft of the actor's (downloads are audited).
    pub async fn draft_scan(&self, actor: &Actor, id: DraftId) -> AppResult<IdentityDocument> {
        let at = self.now();
        let mut tx = self.store.begin().await?;
        owned_draft(&mut tx, actor, id, at).await?;
        let info = tx.draft_document(id).await?.ok_or(AppError::NotFound)?;
        let doc = tx
            .identity_document(info.id)
            .await?
            .ok_or(AppError::NotFound)?;
        audit(
            &mut tx,
            actor,
            at,
            "identity_document.download",
            info.id,
            json!({ "draft": id }),
        )
        .await?;
        tx.commit().await?;
        Ok(doc)
    }

    /// The scans of a person the actor manages (a situation at an establishment in their
    /// scope), newest first; not found otherwise.
    pub async fn person_scans(
        &self,
        actor: &Actor,
        person: PersonId,
    ) -> AppResult<Vec<IdentityDocumentInfo>> {
        let mut tx = self.store.begin().await?;
        let p = tx.person(person).await?.ok_or(AppError::NotFound)?;
        if !in_scope(&mut tx, actor, &p).await? {
            return Err(AppError::NotFound);
        }
        let out = tx.documents_of_person(person).await?;
        tx.rollback().await?;
        Ok(out)
    }

    /// A scan attached to a person the actor manages (downloads are audited); not found
    /// otherwise, and for scans still in someone's draft.
    pub async fn person_scan(
        &self,
        actor: &Actor,
        id: IdentityDocumentId,
    ) -> AppResult<IdentityDocument> {
        let at = self.now();
        let mut tx = self.store.begin().await?;
        let doc = tx.identity_document(id).await?.ok_or(AppError::NotFound)?;
        let person = doc.info.person.ok_or(AppError::NotFound)?;
        let p = tx.person(person).await?.ok_or(AppError::NotFound)?;
        if !in_scope(&mut tx, actor, &p).await? {
            return Err(AppError::NotFound);
        }
        audit(
            &mut tx,
            actor,
            at,
            "identity_document.download",
            id,
            json!({ "person": person }),
        )
        .await?;
        tx.commit().await?;
        Ok(doc)
    }
}

fn purge_limit(at: Timestamp) -> Timestamp {
    at.checked_sub(SignedDuration::from_hours(24 * DRAFT_LIFETIME_DAYS))
        .unwrap_or(Timestamp::MIN)
}

fn to_payload(data: &DraftData) -> AppResult<serde_json::Value> {
    serde_json::to_value(data).map_err(|e| {
        AppError::Store(rppsplus_store::StoreError::Backend(format!(
            "draft payload: {e}"
        )))
    })
}

fn view(d: rppsplus_store::Draft, scan: Option<IdentityDocumentInfo>) -> AppResult<DraftView> {
    // The error names the draft and the kind of problem only: serde's message may quote the
    // value, personal data that must not reach the logs.
    let data: DraftData = serde_json::from_value(d.payload).map_err(|e| {
        AppError::Store(rppsplus_store::StoreError::Corrupt(format!(
            "draft {} payload does not match the registration ({:?})",
            d.id.0,
            e.classify()
        )))
    })?;
    Ok(DraftView {
        id: d.id,
        data,
        reached: Step::from_number(d.step),
        created_at: d.created_at,
        updated_at: d.updated_at,
        scan,
    })
}

/// The person behind the actor: drafts belong to persons.
fn owner_of(actor: &Actor) -> AppResult<PersonId> {
    actor.person_id().ok_or(AppError::Forbidden)
}

/// The draft if it is the actor's, not expired, and the actor still manages professionals
/// somewhere; not found otherwise (others' drafts are not disclosed).
async fn owned_draft(
    tx: &mut Box<dyn Tx>,
    actor: &Actor,
    id: DraftId,
    at: Timestamp,
) -> AppResult<(rppsplus_store::Draft, DraftData)> {
    let owner = owner_of(actor)?;
    let draft = tx.draft(id).await?.ok_or(AppError::NotFound)?;
    if draft.owner != owner || draft.updated_at < purge_limit(at) {
        return Err(AppError::NotFound);
    }
    establishments_in(tx, actor).await?;
    let data = view(draft.clone(), None)?.data;
    Ok((draft, data))
}

async fn save(
    tx: &mut Box<dyn Tx>,
    draft: &rppsplus_store::Draft,
    data: &DraftData,
    next: Step,
    at: Timestamp,
) -> AppResult<()> {
    let reached = Step::from_number(draft.step).max(next);
    tx.update_draft(draft.id, &to_payload(data)?, reached.number(), at)
        .await?;
    Ok(())
}

/// The problems of one step's fields, found by the registration's own validation.
async fn step_errors(
    tx: &mut Box<dyn Tx>,
    actor: &Actor,
    at: Timestamp,
    data: &DraftData,
    step: Step,
) -> AppResult<Vec<FieldError>> {
    match validate_in(tx, Some(actor), at, &data.registration).await {
        Ok(_) => Ok(Vec::new()),
        Err(AppError::Invalid(errors)) => Ok(errors
            .into_iter()
            .filter(|e| Step::of_field(&e.field) == step)
            .collect()),
        // The one right the validation checks: the establishment must be in the actor's scope
        // (the form offers only those; the rest is a tampered or outdated choice).
        Err(AppError::Forbidden) if step == Step::Exercise => Ok(vec![FieldError::new(
            "exercise.establishment_finess",
            "establishment_out_of_scope",
            "Vous n'êtes pas habilité à enregistrer des professionnels dans cet établissement : choisissez l'un des vôtres.",
        )]),
        Err(AppError::Forbidden) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// The establishments where the actor may manage professionals; [`AppError::Forbidden`] when
/// there is none.
async fn establishments_in(tx: &mut Box<dyn Tx>, actor: &Actor) -> AppResult<Vec<Structure>> {
    let principal = principal_of(tx, actor).await?;
    let candidates: Vec<Structure> = match &principal {
        Principal::Operator => return Err(AppError::Forbidden),
        Principal::Person(holdings) => {
            let mut out = Vec::new();
            for h in holdings {
                let Some(s) = tx.structure(rppsplus_store::StructureId(h.scope)).await? else {
                    continue;
                };
                match s.record.kind {
                    StructureKind::Eg => out.push(s),
                    StructureKind::Ej => out.extend(tx.establishments_of(&s.record.finess).await?),
                }
            }
            out
        }
    };
    let mut allowed: Vec<Structure> = Vec::new();
    for s in candidates {
        if allowed.iter().any(|a| a.id == s.id) {
            continue;
        }
        let node = node_of(tx, &s).await?;
        if authz::permits(&principal, Action::ManageProfessionals, node) {
            allowed.push(s);
        }
    }
    if allowed.is_empty() {
        return Err(AppError::Forbidden);
    }
    allowed.sort_by(|a, b| a.record.name.cmp(&b.record.name));
    Ok(allowed)
}

/// Whether the actor manages the person: a situation at an establishment in their scope.
async fn in_scope(tx: &mut Box<dyn Tx>, actor: &Actor, p: &Person) -> AppResult<bool> {
    let principal = principal_of(tx, actor).await?;
    if principal == Principal::Operator {
        return Ok(true);
    }
    for s in tx.situations_of_person(p.id).await? {
        if let Some(structure) = tx.structure(s.record.structure).await? {
            let node = node_of(tx, &structure).await?;
            if authz::permits(&principal, Action::ManageProfessionals, node) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// An audit row about a scan, without change-feed row: a scan is not part of the registry
/// others read.
async fn audit(
    tx: &mut Box<dyn Tx>,
    actor: &Actor,
    at: Timestamp,
    action: &str,
    doc: IdentityDocumentId,
    details: serde_json::Value,
) -> AppResult<()> {
    tx.append_audit(&NewAuditEntry {
        at,
        actor: actor.audit_name(),
        action: action.to_owned(),
        target: format!("identity_document:{}", doc.0),
        details,
    })
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_are_recognised_by_content() {
        assert_eq!(sniff_media_type(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(
            sniff_media_type(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some("image/jpeg")
        );
        assert_eq!(
            sniff_media_type(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0]),
            Some("image/png")
        );
        assert_eq!(sniff_media_type(b"GIF89a"), None);
        assert_eq!(sniff_media_type(b"<html>%PDF-"), None);
        assert_eq!(sniff_media_type(b"%PD"), None);
    }

    #[test]
    fn scans_are_checked_for_size_and_type() {
        let mut big = b"%PDF-".to_vec();
        big.resize(MAX_SCAN_BYTES, 0);
        assert_eq!(check_scan(&big), Ok("application/pdf"));
        big.push(0);
        assert_eq!(check_scan(&big).map_err(|e| e.code), Err("file_too_large"));
        assert_eq!(check_scan(b"").map_err(|e| e.code), Err("file_empty"));
        assert_eq!(
            check_scan(b"MZ\x90\0").map_err(|e| e.code),
            Err("file_type")
        );
    }

    #[test]
    fn communes_are_found_by_name() {
        assert_eq!(resolve_commune("69123"), Ok("69123".to_owned()));
        assert_eq!(resolve_commune(" 2A004 "), Ok("2A004".to_owned()));
        assert_eq!(resolve_commune("lyon"), Ok("69123".to_owned()));
        assert_eq!(resolve_commune("SAINT ETIENNE"), Ok("42218".to_owned()));
        assert_eq!(
            resolve_commune("Nowhereville").map_err(|e| e.code),
            Err("unknown_commune_name")
        );
        let ambiguous = resolve_commune("Saint-Denis").map_err(|e| (e.code, e.message));
        let Err((code, message)) = ambiguous else {
            panic!("several communes are named Saint-Denis");
        };
        assert_eq!(code, "ambiguous_commune_name");
        assert!(message.contains("11339"), "{message}");
    }

    #[test]
    fn fields_belong_to_their_step() {
        assert_eq!(Step::of_field("identity.first_names[1]"), Step::Identity);
        assert_eq!(Step::of_field("identity.id_document.type"), Step::Identity);
        assert_eq!(Step::of_field("existing_rpps"), Step::Identity);
        assert_eq!(Step::of_field("contact.mobile"), Step::Contact);
        assert_eq!(Step::of_field("exercise.role"), Step::Exercise);
        assert_eq!(Step::of_field("confirm_reason"), Step::Confirmation);
    }

    #[test]
    fn a_known_person_skips_identity_and_contact() {
        let mut d = DraftData::default();
        assert_eq!(d.next_after(Step::Identity), Step::Contact);
        d.reused = Some(ReusedPerson {
            rpps: "10000000008".into(),
            label: "x".into(),
            identity_known: false,
        });
        assert_eq!(d.next_after(Step::Identity), Step::Exercise);
        assert_eq!(
            d.steps(),
            [Step::Identity, Step::Exercise, Step::Confirmation]
        );
        if let Some(r) = d.reused.as_mut() {
            r.identity_known = true;
        }
        assert_eq!(d.steps(), [Step::Exercise, Step::Confirmation]);
    }
}
