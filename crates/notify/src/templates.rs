//! The French mails, as plain text and HTML, from an outbox message's kind and payload.
//!
//! Each kind reads its own payload; a payload that does not fit, or a kind this crate does not
//! know, is a [`TemplateError`]: the worker parks the message with that error (retrying would
//! not help). Mails carry no more personal data than their purpose needs: the name to greet,
//! the number to keep, the structure concerned.

use jiff::civil::Date;
use serde::Deserialize;

/// The RPPS number has been allocated.
pub const KIND_RPPS_NUMBER: &str = "mail.rpps_number";
/// 48 hours later: the e-CPS may be activated.
pub const KIND_ECPS_READY: &str = "mail.ecps_ready";
/// A situation d'exercice was created, modified, closed or its closure scheduled.
pub const KIND_SITUATION_CHANGE: &str = "mail.situation_change";
/// The civil identity was corrected (to the person's address).
pub const KIND_IDENTITY_CORRECTED: &str = "mail.identity_corrected";
/// The e-mail or mobile changed (to the address now on record).
pub const KIND_CONTACT_CHANGED: &str = "mail.contact_changed";
/// The e-mail was replaced or removed (a notice to the address no longer on record, so that a
/// change the person did not ask for does not go unnoticed).
pub const KIND_CONTACT_CHANGED_NOTICE: &str = "mail.contact_changed_notice";
/// A manager rejected a self-registration (to the address it was submitted with).
pub const KIND_SELF_REGISTRATION_REJECTED: &str = "mail.self_registration_rejected";

/// A mail ready to be addressed and sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMail {
    /// The recipient's address, as given in the payload (personal data: never log it).
    pub to: String,
    /// The subject, in French.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
}

/// Why a message cannot be rendered. The text names the kind and the field, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// No template for this kind.
    #[error("unknown outbox message kind {0:?}")]
    UnknownKind(String),
    /// The payload does not fit the kind.
    #[error("invalid payload for {kind}: {reason}")]
    InvalidPayload {
        /// The kind.
        kind: &'static str,
        /// What is wrong (field names only).
        reason: String,
    },
}

#[derive(Deserialize)]
struct PersonPayload {
    rpps: String,
    to: String,
    first_name: String,
    last_name: String,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Change {
    Created,
    Modified,
    Closed,
    ScheduledClosure,
}

#[derive(Deserialize)]
struct SituationPayload {
    to: String,
    first_name: String,
    last_name: String,
    structure_name: String,
    change: Change,
    #[serde(default)]
    end_date: Option<String>,
}

#[derive(Deserialize)]
struct IdentityPayload {
    to: String,
    first_name: String,
    last_name: String,
    fields: Vec<String>,
    reason: String,
}

#[derive(Deserialize)]
struct ContactPayload {
    to: String,
    first_name: String,
    last_name: String,
    fields: Vec<String>,
}

#[derive(Deserialize)]
struct RejectionPayload {
    to: String,
    first_name: String,
    last_name: String,
    structure_name: String,
    reason: String,
}

/// Renders the mail of an outbox message.
pub fn render(kind: &str, payload: &serde_json::Value) -> Result<RenderedMail, TemplateError> {
    match kind {
        KIND_RPPS_NUMBER => rpps_number(parse(KIND_RPPS_NUMBER, payload)?),
        KIND_ECPS_READY => ecps_ready(parse(KIND_ECPS_READY, payload)?),
        KIND_SITUATION_CHANGE => situation_change(parse(KIND_SITUATION_CHANGE, payload)?),
        KIND_IDENTITY_CORRECTED => identity_corrected(parse(KIND_IDENTITY_CORRECTED, payload)?),
        KIND_CONTACT_CHANGED => contact_changed(parse(KIND_CONTACT_CHANGED, payload)?),
        KIND_CONTACT_CHANGED_NOTICE => {
            contact_changed_notice(parse(KIND_CONTACT_CHANGED_NOTICE, payload)?)
        }
        KIND_SELF_REGISTRATION_REJECTED => {
            self_registration_rejected(parse(KIND_SELF_REGISTRATION_REJECTED, payload)?)
        }
        other => Err(TemplateError::UnknownKind(
            // A kind is a short code; keep the error short whatever was stored.
            other.chars().take(64).collect(),
        )),
    }
}

fn parse<T: for<'de> Deserialize<'de>>(
    kind: &'static str,
    payload: &serde_json::Value,
) -> Result<T, TemplateError> {
    T::deserialize(payload).map_err(|e| {
        // Keep serde's message only when it names a field or a code; "invalid type" messages
        // quote the value read, which may be personal data.
        let message = e.to_string();
        let reason =
            if message.starts_with("missing field") || message.starts_with("unknown variant") {
                message
            } else {
                "a field has the wrong type".to_owned()
            };
        TemplateError::InvalidPayload { kind, reason }
    })
}

fn invalid(kind: &'static str, reason: &str) -> TemplateError {
    TemplateError::InvalidPayload {
        kind,
        reason: reason.to_owned(),
    }
}

/// The name to greet: first name then last name, trimmed.
fn full_name(first: &str, last: &str) -> String {
    format!("{} {}", first.trim(), last.trim())
        .trim()
        .to_owned()
}

fn check_rpps(kind: &'static str, rpps: &str) -> Result<(), TemplateError> {
    if rpps.len() == 11 && rpps.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(invalid(kind, "field `rpps` is not an 11-digit number"))
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Subject lines must stay on one line whatever a name holds.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

const SIGNATURE_TEXT: &str = "\n-- \nRPPS+ — Répertoire partagé des professionnels intervenant dans le système de santé\n\
Ce message vous est envoyé automatiquement ; merci de ne pas y répondre.\n";

fn html_page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"fr\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n</head>\n\
         <body style=\"font-family: Marianne, Arial, sans-serif; line-height: 1.5; color: #161616;\">\n\
         {body}\
         <hr>\n<p style=\"font-size: 0.875em; color: #666;\">RPPS+ — Répertoire partagé des professionnels \
         intervenant dans le système de santé.<br>Ce message vous est envoyé automatiquement ; merci de ne \
         pas y répondre.</p>\n</body>\n</html>\n",
        title = escape_html(title),
    )
}

fn rpps_number(p: PersonPayload) -> Result<RenderedMail, TemplateError> {
    check_rpps(KIND_RPPS_NUMBER, &p.rpps)?;
    let name = full_name(&p.first_name, &p.last_name);
    let subject = "Votre numéro RPPS".to_owned();
    let text = format!(
        "Bonjour {name},\n\n\
         Vous êtes désormais enregistré(e) dans le répertoire RPPS+.\n\n\
         Votre numéro RPPS est : {rpps}\n\n\
         Conservez-le : il vous identifie tout au long de votre carrière, quel que soit votre \
         employeur.\n\n\
         - Vous apparaîtrez dans l'Annuaire Santé dans les 24 heures.\n\
         - Vous pourrez activer votre e-CPS (carte de professionnel sur mobile) dans 48 heures ; \
         nous vous préviendrons par un nouveau message.\n{SIGNATURE_TEXT}",
        rpps = p.rpps,
    );
    let html = html_page(
        &subject,
        &format!(
            "<p>Bonjour {name},</p>\n\
             <p>Vous êtes désormais enregistré(e) dans le répertoire RPPS+.</p>\n\
             <p>Votre numéro RPPS est&nbsp;: <strong style=\"font-size: 1.25em;\">{rpps}</strong></p>\n\
             <p>Conservez-le&nbsp;: il vous identifie tout au long de votre carrière, quel que soit \
             votre employeur.</p>\n\
             <ul>\n<li>Vous apparaîtrez dans l'Annuaire Santé dans les 24&nbsp;heures.</li>\n\
             <li>Vous pourrez activer votre e-CPS (carte de professionnel sur mobile) dans \
             48&nbsp;heures&nbsp;; nous vous préviendrons par un nouveau message.</li>\n</ul>\n",
            name = escape_html(&name),
            rpps = escape_html(&p.rpps),
        ),
    );
    Ok(RenderedMail {
        to: p.to,
        subject,
        text,
        html,
    })
}

fn ecps_ready(p: PersonPayload) -> Result<RenderedMail, TemplateError> {
    check_rpps(KIND_ECPS_READY, &p.rpps)?;
    let name = full_name(&p.first_name, &p.last_name);
    let subject = "Vous pouvez activer votre e-CPS".to_owned();
    let text = format!(
        "Bonjour {name},\n\n\
         Vous pouvez maintenant activer votre e-CPS, votre carte de professionnel sur mobile. \
         Elle vous permet de vous connecter aux services numériques de santé avec Pro Santé \
         Connect.\n\n\
         Pour l'activer :\n\
         1. Téléchargez l'application « e-CPS » sur votre téléphone (App Store ou Google Play).\n\
         2. Ouvrez-la et choisissez d'activer votre e-CPS.\n\
         3. Saisissez votre numéro RPPS : {rpps}\n\
         4. Suivez les étapes : un code vous est envoyé par courriel et par SMS aux coordonnées \
         enregistrées par votre établissement.\n{SIGNATURE_TEXT}",
        rpps = p.rpps,
    );
    let html = html_page(
        &subject,
        &format!(
            "<p>Bonjour {name},</p>\n\
             <p>Vous pouvez maintenant activer votre e-CPS, votre carte de professionnel sur \
             mobile. Elle vous permet de vous connecter aux services numériques de santé avec Pro \
             Santé Connect.</p>\n\
             <p>Pour l'activer&nbsp;:</p>\n<ol>\n\
             <li>Téléchargez l'application «&nbsp;e-CPS&nbsp;» sur votre téléphone (App Store ou \
             Google Play).</li>\n\
             <li>Ouvrez-la et choisissez d'activer votre e-CPS.</li>\n\
             <li>Saisissez votre numéro RPPS&nbsp;: <strong>{rpps}</strong></li>\n\
             <li>Suivez les étapes&nbsp;: un code vous est envoyé par courriel et par SMS aux \
             coordonnées enregistrées par votre établissement.</li>\n</ol>\n",
            name = escape_html(&name),
            rpps = escape_html(&p.rpps),
        ),
    );
    Ok(RenderedMail {
        to: p.to,
        subject,
        text,
        html,
    })
}

/// A civil date the French way: 31/12/2026.
fn french_date(kind: &'static str, iso: Option<&str>) -> Result<String, TemplateError> {
    let iso = iso.ok_or_else(|| invalid(kind, "field `end_date` is missing"))?;
    let d: Date = iso
        .parse()
        .map_err(|_| invalid(kind, "field `end_date` is not an ISO 8601 date"))?;
    Ok(d.strftime("%d/%m/%Y").to_string())
}

fn situation_change(p: SituationPayload) -> Result<RenderedMail, TemplateError> {
    let kind = KIND_SITUATION_CHANGE;
    let name = full_name(&p.first_name, &p.last_name);
    let structure = one_line(&p.structure_name);
    let (subject, sentence) = match p.change {
        Change::Created => (
            "Votre exercice a été enregistré".to_owned(),
            format!("Votre exercice au sein de « {structure} » a été enregistré dans RPPS+."),
        ),
        Change::Modified => (
            "Votre exercice a été modifié".to_owned(),
            format!(
                "Les informations de votre exercice au sein de « {structure} » ont été \
                 modifiées dans RPPS+."
            ),
        ),
        Change::Closed => {
            let end = french_date(kind, p.end_date.as_deref())?;
            (
                "Fin de votre exercice enregistrée".to_owned(),
                format!(
                    "La fin de votre exercice au sein de « {structure} » a été enregistrée dans \
                     RPPS+, à la date du {end}."
                ),
            )
        }
        Change::ScheduledClosure => {
            let end = french_date(kind, p.end_date.as_deref())?;
            (
                "Fin de votre exercice programmée".to_owned(),
                format!(
                    "La fin de votre exercice au sein de « {structure} » est programmée : votre \
                     dernier jour d'activité sera le {end}."
                ),
            )
        }
    };
    let text = format!(
        "Bonjour {name},\n\n{sentence}\n\n\
         Votre numéro RPPS reste le même. Si ce changement vous semble inexact, adressez-vous au \
         gestionnaire RPPS+ de votre établissement.\n{SIGNATURE_TEXT}"
    );
    let html = html_page(
        &subject,
        &format!(
            "<p>Bonjour {name},</p>\n<p>{sentence}</p>\n\
             <p>Votre numéro RPPS reste le même. Si ce changement vous semble inexact, \
             adressez-vous au gestionnaire RPPS+ de votre établissement.</p>\n",
            name = escape_html(&name),
            sentence = escape_html(&sentence),
        ),
    );
    Ok(RenderedMail {
        to: p.to,
        subject,
        text,
        html,
    })
}

/// The French names of the fields a mail lists, in the order given; an unknown field name is
/// an error (the application and its templates ship together).
fn field_labels(kind: &'static str, fields: &[String]) -> Result<String, TemplateError> {
    if fields.is_empty() {
        return Err(invalid(kind, "field `fields` is empty"));
    }
    let labels = fields
        .iter()
        .map(|f| match f.as_str() {
            "civility" => Ok("civilité"),
            "sex" => Ok("sexe"),
            "birth_name" => Ok("nom de naissance"),
            "usage_name" => Ok("nom d'usage"),
            "first_names" => Ok("prénoms"),
            "birth_date" => Ok("date de naissance"),
            "birth_country" => Ok("pays de naissance"),
            "birth_commune" => Ok("commune de naissance"),
            "id_document" => Ok("pièce d'identité"),
            "email" => Ok("adresse e-mail"),
            "mobile" => Ok("numéro de mobile"),
            _ => Err(invalid(kind, "field `fields` names an unknown field")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(labels.join(", "))
}

/// A text written by a manager (a reason), trimmed; it must not be empty.
fn reason_text(kind: &'static str, reason: &str) -> Result<String, TemplateError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(invalid(kind, "field `reason` is empty"));
    }
    Ok(reason.to_owned())
}

/// Plain text paragraphs to HTML ones: escaped, one `<p>` each.
fn html_paragraphs(paragraphs: &[&str]) -> String {
    paragraphs
        .iter()
        .map(|p| format!("<p>{}</p>\n", escape_html(p)))
        .collect()
}

/// A mail made of a greeting and paragraphs, in both forms.
fn simple_mail(to: String, subject: String, name: &str, paragraphs: &[&str]) -> RenderedMail {
    let text = format!(
        "Bonjour {name},\n\n{}\n{SIGNATURE_TEXT}",
        paragraphs.join("\n\n")
    );
    let greeting = format!("Bonjour {name},");
    let html = html_page(
        &subject,
        &format!(
            "{}{}",
            html_paragraphs(&[&greeting]),
            html_paragraphs(paragraphs)
        ),
    );
    RenderedMail {
        to,
        subject,
        text,
        html,
    }
}

const ASK_THE_MANAGER: &str = "Si ce changement vous semble inexact, ou si vous n'en êtes pas à \
     l'origine, adressez-vous au gestionnaire RPPS+ de votre établissement.";

fn identity_corrected(p: IdentityPayload) -> Result<RenderedMail, TemplateError> {
    let kind = KIND_IDENTITY_CORRECTED;
    let fields = field_labels(kind, &p.fields)?;
    let reason = reason_text(kind, &p.reason)?;
    let name = full_name(&p.first_name, &p.last_name);
    let changed =
        format!("Votre état civil a été corrigé dans RPPS+. Éléments corrigés : {fields}.");
    let why = format!("Motif de la correction : {reason}");
    let rest = "Votre numéro RPPS reste le même. Vous apparaîtrez sous votre état civil corrigé \
                dans les services qui utilisent RPPS+.";
    Ok(simple_mail(
        p.to,
        "Votre état civil a été corrigé".to_owned(),
        &name,
        &[&changed, &why, rest, ASK_THE_MANAGER],
    ))
}

fn contact_changed(p: ContactPayload) -> Result<RenderedMail, TemplateError> {
    let kind = KIND_CONTACT_CHANGED;
    let fields = field_labels(kind, &p.fields)?;
    let name = full_name(&p.first_name, &p.last_name);
    let changed =
        format!("Vos coordonnées ont été modifiées dans RPPS+. Éléments modifiés : {fields}.");
    let mut paragraphs: Vec<&str> = vec![&changed];
    if p.fields.iter().any(|f| f == "email") {
        paragraphs.push(
            "RPPS+ vous écrira désormais à cette adresse, notamment pour activer votre e-CPS.",
        );
    }
    paragraphs.push(ASK_THE_MANAGER);
    Ok(simple_mail(
        p.to,
        "Vos coordonnées ont été modifiées".to_owned(),
        &name,
        &paragraphs,
    ))
}

fn contact_changed_notice(p: ContactPayload) -> Result<RenderedMail, TemplateError> {
    let kind = KIND_CONTACT_CHANGED_NOTICE;
    if !p.fields.iter().any(|f| f == "email") {
        return Err(invalid(kind, "field `fields` does not name `email`"));
    }
    field_labels(kind, &p.fields)?;
    let name = full_name(&p.first_name, &p.last_name);
    Ok(simple_mail(
        p.to,
        "Votre adresse e-mail a été remplacée".to_owned(),
        &name,
        &[
            "L'adresse e-mail enregistrée pour vous dans RPPS+ a été remplacée : RPPS+ ne vous \
             écrira plus à cette adresse.",
            "Si vous n'êtes pas à l'origine de ce changement, adressez-vous sans tarder au \
             gestionnaire RPPS+ de votre établissement.",
        ],
    ))
}

fn self_registration_rejected(p: RejectionPayload) -> Result<RenderedMail, TemplateError> {
    let kind = KIND_SELF_REGISTRATION_REJECTED;
    let reason = reason_text(kind, &p.reason)?;
    let name = full_name(&p.first_name, &p.last_name);
    let structure = one_line(&p.structure_name);
    let refused = format!(
        "Votre demande d'enregistrement dans RPPS+ auprès de « {structure} » n'a pas été \
         acceptée par le gestionnaire RPPS+ de cet établissement."
    );
    let why = format!("Motif du refus : {reason}");
    Ok(simple_mail(
        p.to,
        "Votre demande d'enregistrement RPPS+ n'a pas été acceptée".to_owned(),
        &name,
        &[
            &refused,
            &why,
            "Aucun numéro RPPS ne vous a été attribué à la suite de cette demande. Pour toute \
             question, adressez-vous à cet établissement.",
        ],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn person() -> serde_json::Value {
        json!({"person_id": 7, "rpps": "10000000017", "to": "jeanne@example.org",
               "first_name": "Jeanne", "last_name": "D'Arc <b>"})
    }

    #[test]
    fn the_rpps_mail_gives_the_number_and_what_follows() -> Result<(), TemplateError> {
        let m = render(KIND_RPPS_NUMBER, &person())?;
        assert_eq!(m.subject, "Votre numéro RPPS");
        assert_eq!(m.to, "jeanne@example.org");
        assert!(m.text.contains("Votre numéro RPPS est : 10000000017"));
        assert!(m.text.contains("Annuaire Santé dans les 24 heures"));
        assert!(m.text.contains("48 heures"));
        assert!(m.text.contains("Bonjour Jeanne D'Arc <b>,"));
        assert!(
            m.html.contains("Jeanne D&#39;Arc &lt;b&gt;"),
            "names are escaped"
        );
        assert!(!m.html.contains("<b>"));
        Ok(())
    }

    #[test]
    fn the_ecps_mail_gives_the_steps() -> Result<(), TemplateError> {
        let m = render(KIND_ECPS_READY, &person())?;
        assert_eq!(m.subject, "Vous pouvez activer votre e-CPS");
        assert!(m.text.contains("Téléchargez l'application « e-CPS »"));
        assert!(m.text.contains("Saisissez votre numéro RPPS : 10000000017"));
        Ok(())
    }

    #[test]
    fn each_situation_change_has_its_sentence() -> Result<(), TemplateError> {
        for (change, subject, needle) in [
            (
                "created",
                "Votre exercice a été enregistré",
                "a été enregistré",
            ),
            (
                "modified",
                "Votre exercice a été modifié",
                "ont été modifiées",
            ),
            (
                "closed",
                "Fin de votre exercice enregistrée",
                "à la date du 31/12/2026",
            ),
            (
                "scheduled_closure",
                "Fin de votre exercice programmée",
                "dernier jour d'activité sera le 31/12/2026",
            ),
        ] {
            let m = render(
                KIND_SITUATION_CHANGE,
                &json!({"person_id": 7, "situation_id": 9, "to": "j@example.org",
                        "first_name": "Jeanne", "last_name": "Durand",
                        "structure_name": "EHPAD Les Tilleuls", "change": change,
                        "end_date": "2026-12-31"}),
            )?;
            assert_eq!(m.subject, subject);
            assert!(m.text.contains(needle), "{change}: {}", m.text);
            assert!(m.text.contains("« EHPAD Les Tilleuls »"));
        }
        Ok(())
    }

    #[test]
    fn the_identity_mail_lists_the_fields_and_the_reason() -> Result<(), TemplateError> {
        let m = render(
            KIND_IDENTITY_CORRECTED,
            &json!({"person_id": 7, "to": "j@example.org", "first_name": "Jeanne",
                    "last_name": "Durand", "fields": ["birth_name", "first_names"],
                    "reason": "Erreur de saisie <corrigée>"}),
        )?;
        assert_eq!(m.subject, "Votre état civil a été corrigé");
        assert_eq!(m.to, "j@example.org");
        assert!(m.text.contains("Bonjour Jeanne Durand,"));
        assert!(
            m.text
                .contains("Éléments corrigés : nom de naissance, prénoms."),
            "{}",
            m.text
        );
        assert!(
            m.text
                .contains("Motif de la correction : Erreur de saisie <corrigée>")
        );
        assert!(m.html.contains("Erreur de saisie &lt;corrigée&gt;"));
        assert!(!m.html.contains("<corrigée>"));
        let Err(e) = render(
            KIND_IDENTITY_CORRECTED,
            &json!({"to": "j@example.org", "first_name": "J", "last_name": "D",
                    "fields": ["password"], "reason": "x"}),
        ) else {
            panic!("an unknown field must not render");
        };
        assert!(e.to_string().contains("unknown field"), "{e}");
        assert!(
            render(
                KIND_IDENTITY_CORRECTED,
                &json!({"to": "j@example.org", "first_name": "J", "last_name": "D",
                        "fields": [], "reason": "x"}),
            )
            .is_err()
        );
        Ok(())
    }

    #[test]
    fn the_contact_mails_tell_the_new_and_the_old_address() -> Result<(), TemplateError> {
        let both = json!({"to": "new@example.org", "first_name": "Jeanne", "last_name": "Durand",
                          "fields": ["email", "mobile"]});
        let m = render(KIND_CONTACT_CHANGED, &both)?;
        assert_eq!(m.subject, "Vos coordonnées ont été modifiées");
        assert!(
            m.text
                .contains("Éléments modifiés : adresse e-mail, numéro de mobile.")
        );
        assert!(m.text.contains("vous écrira désormais à cette adresse"));
        let mobile = render(
            KIND_CONTACT_CHANGED,
            &json!({"to": "same@example.org", "first_name": "Jeanne", "last_name": "Durand",
                    "fields": ["mobile"]}),
        )?;
        assert!(
            mobile
                .text
                .contains("Éléments modifiés : numéro de mobile.")
        );
        assert!(!mobile.text.contains("désormais à cette adresse"));

        let old = json!({"to": "old@example.org", "first_name": "Jeanne", "last_name": "Durand",
                         "fields": ["email"]});
        let n = render(KIND_CONTACT_CHANGED_NOTICE, &old)?;
        assert_eq!(n.to, "old@example.org");
        assert_eq!(n.subject, "Votre adresse e-mail a été remplacée");
        assert!(n.text.contains("ne vous écrira plus à cette adresse"));
        assert!(
            !n.text.contains("new@example.org"),
            "the new address is not told"
        );
        assert!(
            render(
                KIND_CONTACT_CHANGED_NOTICE,
                &json!({"to": "old@example.org", "first_name": "J", "last_name": "D",
                        "fields": ["mobile"]}),
            )
            .is_err(),
            "a notice is only for a replaced e-mail"
        );
        Ok(())
    }

    #[test]
    fn the_rejection_mail_gives_the_structure_and_the_reason() -> Result<(), TemplateError> {
        let m = render(
            KIND_SELF_REGISTRATION_REJECTED,
            &json!({"to": "j@example.org", "first_name": "Jeanne", "last_name": "Durand",
                    "structure_name": "EHPAD\nLes Tilleuls", "reason": "Inconnue de nos services"}),
        )?;
        assert_eq!(
            m.subject,
            "Votre demande d'enregistrement RPPS+ n'a pas été acceptée"
        );
        assert!(
            m.text.contains("auprès de « EHPAD Les Tilleuls »"),
            "{}",
            m.text
        );
        assert!(m.text.contains("Motif du refus : Inconnue de nos services"));
        assert!(
            m.html
                .contains("<p>Motif du refus : Inconnue de nos services</p>")
        );
        assert!(
            render(
                KIND_SELF_REGISTRATION_REJECTED,
                &json!({"to": "j@example.org", "first_name": "J", "last_name": "D",
                        "structure_name": "S", "reason": "  "}),
            )
            .is_err()
        );
        Ok(())
    }

    #[test]
    fn unknown_kinds_and_bad_payloads_are_errors_naming_no_value() {
        assert_eq!(
            render("mail.unknown", &person()),
            Err(TemplateError::UnknownKind("mail.unknown".into()))
        );
        let Err(e) = render(KIND_RPPS_NUMBER, &json!({"to": "secret@example.org"})) else {
            panic!("a payload without rpps must not render");
        };
        assert!(!e.to_string().contains("secret"), "{e}");
        let Err(e) = render(
            KIND_SITUATION_CHANGE,
            &json!({"to": "a@b.fr", "first_name": "A", "last_name": "B",
                    "structure_name": "S", "change": "closed"}),
        ) else {
            panic!("a closure without end date must not render");
        };
        assert!(e.to_string().contains("end_date"));
        assert!(render(KIND_RPPS_NUMBER, &json!(null)).is_err());
        assert!(
            render(
                KIND_RPPS_NUMBER,
                &json!({"rpps": "123", "to": "a@b.fr", "first_name": "A", "last_name": "B"})
            )
            .is_err()
        );
    }
}
