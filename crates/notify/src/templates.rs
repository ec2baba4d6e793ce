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

/// Renders the mail of an outbox message.
pub fn render(kind: &str, payload: &serde_json::Value) -> Result<RenderedMail, TemplateError> {
    match kind {
        KIND_RPPS_NUMBER => rpps_number(parse(KIND_RPPS_NUMBER, payload)?),
        KIND_ECPS_READY => ecps_ready(parse(KIND_ECPS_READY, payload)?),
        KIND_SITUATION_CHANGE => situation_change(parse(KIND_SITUATION_CHANGE, payload)?),
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
