//! The mails of changes to a person and of a rejected self-registration, queued in the
//! transaction of the change (the outbox; `rppsplus-notify` renders them in French).
//!
//! Each event key names the change it tells of (the person's new version, the pending
//! registration), so a change is mailed once. A person without an e-mail gets no mail.

use jiff::Timestamp;
use rppsplus_store::{NewPerson, PendingRegistrationId, PersonId, Tx};
use serde_json::json;

use super::{RegistrationInput, enqueue};
use crate::AppResult;

/// The first first name and the name in use (d'usage, else de naissance), to greet.
fn names(record: &NewPerson) -> (String, String) {
    let first = record.first_names.first().cloned().unwrap_or_default();
    let last = record
        .usage_name
        .clone()
        .unwrap_or_else(|| record.birth_name.clone());
    (first, last)
}

/// The civil identity was corrected: which fields (by name) and why, to the person.
pub(super) async fn identity_corrected(
    tx: &mut Box<dyn Tx>,
    at: Timestamp,
    person: PersonId,
    version: i64,
    record: &NewPerson,
    fields: &[&str],
    reason: &str,
) -> AppResult<()> {
    let Some(to) = record.email.as_deref() else {
        return Ok(());
    };
    if fields.is_empty() {
        return Ok(());
    }
    let (first_name, last_name) = names(record);
    enqueue(
        tx,
        at,
        at,
        format!("identity_corrected:{}:{version}", person.0),
        "mail.identity_corrected",
        json!({
            "person_id": person.0,
            "to": to,
            "first_name": first_name,
            "last_name": last_name,
            "fields": fields,
            "reason": reason,
        }),
    )
    .await
}

/// The e-mail or mobile changed: a mail to the address now on record and, when the e-mail was
/// replaced or removed, a notice to the former one (which is not told the new address).
pub(super) async fn contact_changed(
    tx: &mut Box<dyn Tx>,
    at: Timestamp,
    person: PersonId,
    version: i64,
    before: &NewPerson,
    after: &NewPerson,
    fields: &[&str],
) -> AppResult<()> {
    if fields.is_empty() {
        return Ok(());
    }
    let (first_name, last_name) = names(after);
    if let Some(to) = after.email.as_deref() {
        enqueue(
            tx,
            at,
            at,
            format!("contact_changed:{}:{version}", person.0),
            "mail.contact_changed",
            json!({
                "person_id": person.0,
                "to": to,
                "first_name": first_name,
                "last_name": last_name,
                "fields": fields,
            }),
        )
        .await?;
    }
    if let Some(former) = before.email.as_deref()
        && fields.contains(&"email")
    {
        enqueue(
            tx,
            at,
            at,
            format!("contact_changed_notice:{}:{version}", person.0),
            "mail.contact_changed_notice",
            json!({
                "person_id": person.0,
                "to": former,
                "first_name": first_name,
                "last_name": last_name,
                "fields": fields,
            }),
        )
        .await?;
    }
    Ok(())
}

/// A manager rejected a self-registration: the reason, to the address it was submitted with.
pub(super) async fn self_registration_rejected(
    tx: &mut Box<dyn Tx>,
    at: Timestamp,
    id: PendingRegistrationId,
    input: &RegistrationInput,
    structure_name: &str,
    reason: &str,
) -> AppResult<()> {
    let Some(to) = input
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    else {
        return Ok(());
    };
    let identity = &input.identity;
    let first_name = identity
        .first_names
        .first()
        .map(|f| f.trim().to_owned())
        .unwrap_or_default();
    let last_name = identity
        .usage_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .or(identity.birth_name.as_deref().map(str::trim))
        .unwrap_or_default()
        .to_owned();
    enqueue(
        tx,
        at,
        at,
        format!("self_registration_rejected:{}", id.0),
        "mail.self_registration_rejected",
        json!({
            "pending_registration_id": id.0,
            "to": to,
            "first_name": first_name,
            "last_name": last_name,
            "structure_name": structure_name,
            "reason": reason,
        }),
    )
    .await
}
