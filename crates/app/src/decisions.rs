//! Access decisions for consuming systems: may this professional open patient documents of this
//! type, now (or at a given instant), at this establishment?
//!
//! Never cached. Each decision reads the professional's situations from the database in one
//! statement ([`rppsplus_store::DecisionStore::decision_facts`]) and asks the domain's pure
//! [`rppsplus_domain::decision::decide`]; the answer carries the registry version (change-feed
//! head) of the snapshot it read, so that a closing, a role change or a scheduled end date takes
//! effect at the very next decision, on every server instance sharing the database, and a
//! caller can prove it (see ARCHITECTURE.md, "The revocation guarantee").

use std::collections::HashMap;

use jiff::Timestamp;
use rppsplus_domain::decision::{self, Reason, SituationFacts, Verdict};
use rppsplus_domain::{Finess, Idnps, Rpps};
use rppsplus_store::{DecisionFacts, SituationId, TokenHolder};

use crate::{Actor, App, AppError, AppResult, FieldError};

/// The most questions one batch may ask.
pub const MAX_BATCH: usize = 1000;

/// A question as received: every field as text, checked by [`RawQuestion::check`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawQuestion {
    /// IDNPS (`8` + RPPS, `0` + ADELI) or RPPS number.
    pub professional: Option<String>,
    /// Code system of the document type.
    pub system: Option<String>,
    /// Code of the document type.
    pub code: Option<String>,
    /// FINESS number of an establishment, to count only situations there.
    pub structure: Option<String>,
    /// RFC 3339 instant of the decision; now when absent.
    pub at: Option<String>,
}

/// A checked question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// The professional.
    pub professional: Idnps,
    /// Code system of the document type.
    pub system: String,
    /// Code of the document type.
    pub code: String,
    /// Only situations at this establishment count.
    pub structure: Option<Finess>,
    /// The instant of the decision; now when absent.
    pub at: Option<Timestamp>,
}

fn required(
    problems: &mut Vec<FieldError>,
    prefix: &str,
    name: &str,
    value: Option<String>,
) -> Option<String> {
    match value {
        Some(v) if !v.trim().is_empty() => Some(v.trim().to_owned()),
        _ => {
            problems.push(FieldError::new(
                format!("{prefix}{name}"),
                "required",
                format!("Le champ « {name} » est obligatoire."),
            ));
            None
        }
    }
}

/// An IDNPS, or an RPPS number (whose IDNPS is `8` + the number).
pub fn parse_professional(s: &str) -> Option<Idnps> {
    if s.len() == 11 {
        Rpps::parse(s).ok().map(|r| r.idnps())
    } else {
        Idnps::parse(s).ok()
    }
}

impl RawQuestion {
    /// Checks every field; problems are named `{prefix}professional`, `{prefix}document_type.code`…
    pub fn check(self, prefix: &str) -> Result<Question, Vec<FieldError>> {
        let mut problems = Vec::new();
        let professional = required(&mut problems, prefix, "professional", self.professional)
            .and_then(|p| {
                let parsed = parse_professional(&p);
                if parsed.is_none() {
                    problems.push(FieldError::new(
                        format!("{prefix}professional"),
                        "invalid_identifier",
                        "Indiquez un IDNPS (8 + numéro RPPS, ou 0 + numéro ADELI) ou un numéro RPPS \
                         à 11 chiffres.",
                    ));
                }
                parsed
            });
        let system = required(&mut problems, prefix, "document_type.system", self.system);
        let code = required(&mut problems, prefix, "document_type.code", self.code);
        let structure = match self.structure.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => match Finess::read(s) {
                Ok(r) => Some(r.finess),
                Err(_) => {
                    problems.push(FieldError::new(
                        format!("{prefix}structure"),
                        "invalid_finess",
                        "Indiquez un numéro FINESS d'établissement à 9 caractères.",
                    ));
                    None
                }
            },
        };
        let at = match self.at.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => match s.parse::<Timestamp>() {
                Ok(t) => Some(t),
                Err(_) => {
                    problems.push(FieldError::new(
                        format!("{prefix}at"),
                        "invalid_instant",
                        "Indiquez un instant au format RFC 3339, par exemple « 2026-11-27T10:00:00+01:00 ».",
                    ));
                    None
                }
            },
        };
        match (professional, system, code) {
            (Some(professional), Some(system), Some(code)) if problems.is_empty() => Ok(Question {
                professional,
                system,
                code,
                structure,
                at,
            }),
            _ => Err(problems),
        }
    }
}

/// A situation that grants a permit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The situation.
    pub situation: SituationId,
    /// Its establishment.
    pub structure: Finess,
    /// Its role.
    pub role_code: String,
}

/// A decision and what it saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Permit or deny.
    pub verdict: Verdict,
    /// Why.
    pub reason: Reason,
    /// The situations that grant a permit (none on a deny).
    pub granted_by: Vec<Grant>,
    /// The change-feed head of the snapshot the situations were read from.
    pub registry_version: i64,
    /// The instant decided about.
    pub at: Timestamp,
}

/// Decides one question on facts already read.
pub fn answer(question: &Question, facts: &DecisionFacts, now: Timestamp) -> Answer {
    let at = question.at.unwrap_or(now);
    let situations: Vec<SituationFacts> = facts
        .situations
        .iter()
        .map(|s| SituationFacts {
            id: s.id.0,
            structure: s.structure.as_str().to_owned(),
            role_code: s.role_code.clone(),
            start_date: s.start_date,
            end_date: s.end_date,
            closed_at: s.closed_at,
        })
        .collect();
    let d = decision::decide(
        &question.system,
        &question.code,
        facts.known.then_some(situations.as_slice()),
        question.structure.as_ref().map(Finess::as_str),
        at,
    );
    let granted_by = d
        .granted_by
        .iter()
        .filter_map(|&i| facts.situations.get(i))
        .map(|s| Grant {
            situation: s.id,
            structure: s.structure.clone(),
            role_code: s.role_code.clone(),
        })
        .collect();
    Answer {
        verdict: d.verdict,
        reason: d.reason,
        granted_by,
        registry_version: facts.registry_version,
        at,
    }
}

/// Consuming systems (and the operator) ask; a person's token does not: a decision tells which
/// document types someone may open, which is not a manager's business through the API.
fn may_ask(actor: &Actor) -> AppResult<()> {
    match actor {
        Actor::Client { .. } | Actor::Operator | Actor::System => Ok(()),
        Actor::Person { .. } => Err(AppError::Forbidden),
    }
}

impl App {
    /// One access decision asked with an API token: the token is checked and the
    /// professional's situations read in one statement (one round trip, both uncached).
    /// `None` when the token is not a token, unknown or revoked; [`AppError::Forbidden`] for a
    /// person's token.
    pub async fn decide_access_with_token(
        &self,
        presented: &str,
        question: &Question,
    ) -> AppResult<Option<Answer>> {
        let Some(hash) = crate::tokens::token_hash(presented) else {
            return Ok(None);
        };
        let (token, facts) = self
            .store
            .decision_facts_for_token(&question.professional, &hash)
            .await?;
        let Some(token) = token else {
            return Ok(None);
        };
        if matches!(token.holder, TokenHolder::Person(_)) {
            return Err(AppError::Forbidden);
        }
        let now = self.now();
        let stale = token.last_used_at.is_none_or(|t| {
            t.checked_add(crate::tokens::TOUCH_EVERY)
                .is_ok_and(|t| t <= now)
        });
        if stale {
            let mut tx = self.store.begin().await?;
            tx.touch_api_token(token.id, now).await?;
            tx.commit().await?;
        }
        Ok(Some(answer(question, &facts, self.clock.now())))
    }

    /// One access decision, on the professional's situations as committed now.
    pub async fn decide_access(&self, actor: &Actor, question: &Question) -> AppResult<Answer> {
        may_ask(actor)?;
        let facts = self.store.decision_facts(&question.professional).await?;
        Ok(answer(question, &facts, self.clock.now()))
    }

    /// Up to [`MAX_BATCH`] decisions, answered in order. Each professional's situations are read
    /// once per batch; every answer reports the version it saw.
    pub async fn decide_access_batch(
        &self,
        actor: &Actor,
        questions: &[Question],
    ) -> AppResult<Vec<Answer>> {
        may_ask(actor)?;
        if questions.len() > MAX_BATCH {
            return Err(AppError::invalid(
                "questions",
                "too_many",
                "Une requête groupée compte au plus 1 000 questions.",
            ));
        }
        let now = self.clock.now();
        let mut read: HashMap<&Idnps, DecisionFacts> = HashMap::new();
        let mut answers = Vec::with_capacity(questions.len());
        for q in questions {
            let facts = match read.get(&q.professional) {
                Some(f) => f,
                None => {
                    let f = self.store.decision_facts(&q.professional).await?;
                    read.entry(&q.professional).or_insert(f)
                }
            };
            answers.push(answer(q, facts, now));
        }
        Ok(answers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn professionals_by_idnps_or_rpps() {
        let rpps = Rpps::from_sequence(12_345_678).ok();
        let rpps = rpps.as_ref().map(Rpps::as_str).unwrap_or_default();
        let by_rpps = parse_professional(rpps);
        let by_idnps = parse_professional(&format!("8{rpps}"));
        assert!(by_rpps.is_some());
        assert_eq!(by_rpps, by_idnps);
        assert!(parse_professional("1000000000").is_none());
        assert!(parse_professional("").is_none());
        assert!(parse_professional("8abc").is_none());
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let raw = RawQuestion {
            professional: Some("12".into()),
            system: None,
            code: Some("11488-4".into()),
            structure: Some("nope".into()),
            at: Some("yesterday".into()),
        };
        let problems = raw.check("questions[2].").err().unwrap_or_default();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "questions[2].professional",
                "questions[2].document_type.system",
                "questions[2].structure",
                "questions[2].at"
            ]
        );
    }
}
