//! A professional's page: what the viewer may see of them and the history of those
//! situations and of the person, from the audit log, in French.

use jiff::Timestamp;
use rppsplus_domain::Idnps;
use rppsplus_domain::reference::tables;
use rppsplus_domain::validation::format_date_fr;
use rppsplus_store::{AuditRow, StructureId, Tx};
use serde_json::Value;

use super::{ProfessionalView, civil_names, professional_in};
use crate::{Actor, App, AppResult, paris_date};

/// The newest audit rows shown on a professional's page.
const HISTORY_LIMIT: u32 = 200;

/// One change in a professional's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// When.
    pub at: Timestamp,
    /// Who, for a reader: a person's name, or the operator, a system, a piece of software.
    pub author: String,
    /// What happened, in one French sentence.
    pub summary: String,
    /// The particulars (new role, reason…), in French.
    pub details: Vec<String>,
    /// The situation concerned, when it is one (else the person).
    pub situation: Option<rppsplus_store::SituationId>,
}

impl App {
    /// A professional as [`App::professional`] shows them, with the history of the person and
    /// of the situations the actor may see (newest first), read in one transaction.
    pub async fn professional_with_history(
        &self,
        actor: &Actor,
        rpps: &str,
    ) -> AppResult<(ProfessionalView, Vec<HistoryEntry>)> {
        let at = self.now();
        let mut tx = self.store.begin().await?;
        let professional = professional_in(&mut tx, actor, rpps, at).await?;
        // Only the rows about this person and the situations in the actor's scope: the
        // history of situations elsewhere is not theirs to read.
        let mut targets = vec![format!("person:{}", professional.person.id.0)];
        targets.extend(
            professional
                .situations
                .iter()
                .map(|s| format!("situation:{}", s.situation.id.0)),
        );
        let rows = tx.audit_rows_for_targets(&targets, HISTORY_LIMIT).await?;
        let mut history = Vec::with_capacity(rows.len());
        for row in rows {
            history.push(entry(&mut tx, &row).await?);
        }
        tx.rollback().await?;
        Ok((professional, history))
    }
}

async fn entry(tx: &mut Box<dyn Tx>, row: &AuditRow) -> AppResult<HistoryEntry> {
    let e = &row.entry;
    let d = &e.details;
    let text = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_owned);
    let situation = e
        .target
        .strip_prefix("situation:")
        .and_then(|id| id.parse().ok())
        .map(rppsplus_store::SituationId);
    let mut details = Vec::new();
    let summary = match e.action.as_str() {
        "person.create" => "Enregistrement au RPPS+ et attribution du numéro RPPS".to_owned(),
        "person.create_despite_match" => {
            if let Some(r) = text("reason") {
                details.push(format!("Motif : {r}"));
            }
            "Création confirmée malgré des personnes très proches déjà enregistrées".to_owned()
        }
        "situation.create" | "situation.modify" => {
            if let Some(id) = d.get("structure").and_then(Value::as_i64)
                && let Some(s) = tx.structure(StructureId(id)).await?
            {
                details.push(format!(
                    "Établissement : {} (FINESS {})",
                    s.record.name, s.record.finess
                ));
            }
            if let Some(p) = text("profession") {
                details.push(format!("Profession : {}", profession_label(&p)));
            }
            if let Some(r) = text("role") {
                details.push(format!("Rôle RPPS+ : {}", role_label(&r)));
            }
            if e.action == "situation.create" {
                "Situation d'exercice créée".to_owned()
            } else {
                "Situation d'exercice modifiée".to_owned()
            }
        }
        "situation.close" => {
            let end = text("end_date").and_then(|s| s.parse::<jiff::civil::Date>().ok());
            if let Some(r) = text("reason") {
                details.push(format!("Motif : {r}"));
            }
            match end {
                Some(end) if end > paris_date(e.at) => format!(
                    "Départ programmé : dernier jour d'activité le {}",
                    format_date_fr(end)
                ),
                Some(end) => format!(
                    "Situation d'exercice close (fin au {}), accès retirés aussitôt",
                    format_date_fr(end)
                ),
                None => "Situation d'exercice close".to_owned(),
            }
        }
        "person.correct_identity" => {
            let fields = field_labels(d);
            if !fields.is_empty() {
                details.push(format!("Champs corrigés : {}", fields.join(", ")));
            }
            if let Some(r) = text("reason") {
                details.push(format!("Motif : {r}"));
            }
            "État civil corrigé".to_owned()
        }
        "person.change_contact" => {
            let fields = field_labels(d);
            if !fields.is_empty() {
                details.push(format!("Changé : {}", fields.join(", ")));
            }
            "Coordonnées modifiées".to_owned()
        }
        _ => "Autre modification de l'enregistrement".to_owned(),
    };
    Ok(HistoryEntry {
        at: e.at,
        author: author(tx, &e.actor).await?,
        summary,
        details,
        situation,
    })
}

/// The French names of the fields listed under `fields` (names only: the audit log holds no
/// personal data, so neither does the history).
fn field_labels(details: &Value) -> Vec<&'static str> {
    details
        .get("fields")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|f| match f {
                    "civility" => "civilité",
                    "sex" => "sexe",
                    "birth_name" => "nom de naissance",
                    "usage_name" => "nom d'usage",
                    "first_names" => "prénoms",
                    "birth_date" => "date de naissance",
                    "birth_country" => "pays de naissance",
                    "birth_commune" => "commune de naissance",
                    "id_document" => "pièce d'identité",
                    "email" => "adresse e-mail",
                    "mobile" => "téléphone mobile",
                    _ => "autre champ",
                })
                .collect()
        })
        .unwrap_or_default()
}

fn profession_label(code: &str) -> String {
    match tables().ok().and_then(|t| t.professions.r85(code)) {
        Some(p) => format!("{} ({code})", p.label),
        None => code.to_owned(),
    }
}

fn role_label(code: &str) -> String {
    match tables().ok().and_then(|t| t.roles.get(code)) {
        Some(r) => format!("{} ({code})", r.label),
        None => code.to_owned(),
    }
}

/// The author of an audit row, as a reader names them.
async fn author(tx: &mut Box<dyn Tx>, actor: &str) -> AppResult<String> {
    Ok(match actor.split_once(':') {
        Some(("person", idnps)) => match Idnps::parse(idnps) {
            Ok(idnps) => match tx.person_by_idnps(&idnps).await? {
                Some(p) => {
                    let (first, last) = civil_names(&p);
                    format!("{first} {last}")
                }
                None => "Une personne qui n'est plus enregistrée".to_owned(),
            },
            Err(_) => "Une personne".to_owned(),
        },
        Some(("token", _)) => "Un logiciel (jeton d'API)".to_owned(),
        _ if actor == "operator" => "L'opérateur du registre".to_owned(),
        _ => "RPPS+ (traitement automatique)".to_owned(),
    })
}
