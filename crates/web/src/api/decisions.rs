//! Access decisions for consuming systems (DMP / Mon espace santé document types), one at a
//! time or in batches, and a no-op endpoint to measure the API's own cost against.
//!
//! Every decision reads the professional's situations as committed at that moment (nothing is
//! cached) and reports the registry version it read in `registry_version` and in the
//! `X-Registry-Version` header.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rppsplus_app::decisions::{Answer, MAX_BATCH, Question, RawQuestion};
use rppsplus_app::{AppError, FieldError};
use rppsplus_domain::decision::{Reason, Verdict};
use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, Caller, JsonBytes, Text};
use crate::AppState;

/// The header carrying the registry version a decision read.
pub const REGISTRY_VERSION: HeaderName = HeaderName::from_static("x-registry-version");

/// A document type, as a FHIR coding.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DocumentTypeBody {
    /// `http://loinc.org` or the TRE_A05 system.
    #[schema(value_type = String, example = "http://loinc.org")]
    system: Option<Text>,
    /// The code.
    #[schema(value_type = String, example = "11488-4")]
    code: Option<Text>,
}

/// The `document_type` field: an object, or anything else (reported as a wrong type).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum DocumentTypeField {
    Object(DocumentTypeBody),
    Other(IgnoredAny),
}

/// A question: may this professional open documents of this type?
#[derive(Debug, Deserialize, ToSchema)]
pub struct QuestionBody {
    /// IDNPS (`8` + RPPS number, `0` + ADELI number) or RPPS number.
    #[schema(value_type = String, example = "810000000005")]
    professional: Option<Text>,
    /// The document type.
    #[schema(value_type = DocumentTypeBody)]
    document_type: Option<DocumentTypeField>,
    /// FINESS number of an establishment: only situations there count.
    #[schema(value_type = Option<String>, example = "690001029")]
    structure: Option<Text>,
    /// The instant to decide at (RFC 3339); now when absent.
    #[schema(value_type = Option<String>, example = "2026-11-27T10:00:00+01:00")]
    at: Option<Text>,
}

fn text(problems: &mut Vec<FieldError>, field: String, value: Option<Text>) -> Option<String> {
    match value {
        Some(Text::Str(s)) => Some(s),
        Some(Text::Other(_)) => {
            problems.push(FieldError::new(
                field.clone(),
                "invalid_type",
                format!("Le champ « {field} » doit être une chaîne de caractères."),
            ));
            Some(String::new())
        }
        None => None,
    }
}

impl QuestionBody {
    /// The checked question, or every problem, named under `prefix`.
    fn check(self, prefix: &str) -> Result<Question, Vec<FieldError>> {
        let mut problems = Vec::new();
        let professional = text(
            &mut problems,
            format!("{prefix}professional"),
            self.professional,
        );
        let (system, code) = match self.document_type {
            Some(DocumentTypeField::Object(d)) => (
                text(
                    &mut problems,
                    format!("{prefix}document_type.system"),
                    d.system,
                ),
                text(&mut problems, format!("{prefix}document_type.code"), d.code),
            ),
            Some(DocumentTypeField::Other(_)) => {
                problems.push(FieldError::new(
                    format!("{prefix}document_type"),
                    "invalid_type",
                    "Le champ « document_type » doit être un objet { \"system\", \"code\" }.",
                ));
                (Some(String::new()), Some(String::new()))
            }
            None => (None, None),
        };
        let structure = text(&mut problems, format!("{prefix}structure"), self.structure);
        let at = text(&mut problems, format!("{prefix}at"), self.at);
        let typed = problems.len();
        let checked = RawQuestion {
            professional,
            system,
            code,
            structure,
            at,
        }
        .check(prefix);
        match checked {
            Ok(q) if problems.is_empty() => Ok(q),
            Ok(_) => Err(problems),
            Err(more) => {
                // A field of the wrong type is reported once, as such.
                let more: Vec<FieldError> = more
                    .into_iter()
                    .filter(|m| {
                        !problems[..typed].iter().any(|p| {
                            m.field == p.field || m.field.starts_with(&format!("{}.", p.field))
                        })
                    })
                    .collect();
                problems.extend(more);
                Err(problems)
            }
        }
    }
}

/// A question whose fields are all strings (or absent), as every well-formed call sends it,
/// read straight from the body's bytes into borrowed fields. Any other body is read as a
/// [`QuestionBody`], which names each field of the wrong type: both give the same question
/// for a body this one accepts.
#[derive(Debug, Deserialize)]
struct PlainQuestion<'a> {
    #[serde(borrow)]
    professional: Option<Cow<'a, str>>,
    #[serde(borrow)]
    document_type: Option<PlainDocumentType<'a>>,
    #[serde(borrow)]
    structure: Option<Cow<'a, str>>,
    #[serde(borrow)]
    at: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
struct PlainDocumentType<'a> {
    #[serde(borrow)]
    system: Option<Cow<'a, str>>,
    #[serde(borrow)]
    code: Option<Cow<'a, str>>,
}

impl PlainQuestion<'_> {
    /// The question in `bytes` if they are a plain JSON object of strings. A body with a `[`
    /// anywhere is left to [`QuestionBody`]: serde would read an array into a struct by
    /// position, which the API refuses.
    fn read(bytes: &[u8]) -> Option<RawQuestion> {
        let object = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        if !object || bytes.contains(&b'[') {
            return None;
        }
        let plain: PlainQuestion<'_> = serde_json::from_slice(bytes).ok()?;
        let (system, code) = match plain.document_type {
            Some(d) => (d.system.map(Cow::into_owned), d.code.map(Cow::into_owned)),
            None => (None, None),
        };
        Some(RawQuestion {
            professional: plain.professional.map(Cow::into_owned),
            system,
            code,
            structure: plain.structure.map(Cow::into_owned),
            at: plain.at.map(Cow::into_owned),
        })
    }
}

/// `permit` or `deny`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionValue {
    /// The professional may open documents of this type.
    Permit,
    /// They may not.
    Deny,
}

/// Why, as a stable code.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReasonValue {
    /// An active situation's role opens the type (`granted_by` lists them).
    PermittedByRole,
    /// The document type is not in the RPPS+ matrix.
    UnknownDocumentType,
    /// No professional has this identifier in the registry.
    UnknownProfessional,
    /// The professional has no situation active at `at` (closed, ended or not started).
    NoActiveSituation,
    /// Active situations exist, none at the establishment asked about.
    StructureMismatch,
    /// No role of the active situations (at the establishment) opens the type.
    RoleDoesNotCoverDocumentType,
}

impl From<Reason> for ReasonValue {
    fn from(r: Reason) -> Self {
        match r {
            Reason::PermittedByRole => ReasonValue::PermittedByRole,
            Reason::UnknownDocumentType => ReasonValue::UnknownDocumentType,
            Reason::UnknownProfessional => ReasonValue::UnknownProfessional,
            Reason::NoActiveSituation => ReasonValue::NoActiveSituation,
            Reason::StructureMismatch => ReasonValue::StructureMismatch,
            Reason::RoleDoesNotCoverDocumentType => ReasonValue::RoleDoesNotCoverDocumentType,
        }
    }
}

/// A situation that grants the permit.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantBody {
    /// Internal id of the situation d'exercice.
    pub situation_id: i64,
    /// FINESS number of its establishment.
    #[schema(example = "690001029")]
    pub structure: String,
    /// Its RPPS+ role (TRE_R22).
    #[schema(example = "GENR11")]
    pub role: String,
}

/// A decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionBody {
    /// Permit or deny.
    pub decision: DecisionValue,
    /// Why.
    pub reason: ReasonValue,
    /// The situations that grant a permit; empty on a deny.
    pub granted_by: Vec<GrantBody>,
    /// The registry version (change-feed sequence) of the data the decision read: every change
    /// committed at this version or before was seen.
    pub registry_version: i64,
    /// The instant decided about.
    pub at: jiff::Timestamp,
}

impl From<Answer> for DecisionBody {
    fn from(a: Answer) -> Self {
        DecisionBody {
            decision: match a.verdict {
                Verdict::Permit => DecisionValue::Permit,
                Verdict::Deny => DecisionValue::Deny,
            },
            reason: a.reason.into(),
            granted_by: a
                .granted_by
                .into_iter()
                .map(|g| GrantBody {
                    situation_id: g.situation.0,
                    structure: g.structure.as_str().to_owned(),
                    role: g.role_code,
                })
                .collect(),
            registry_version: a.registry_version,
            at: a.at,
        }
    }
}

/// Up to 1 000 questions.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BatchBody {
    /// The questions, answered in the same order.
    #[schema(value_type = Vec<QuestionBody>)]
    questions: Option<Vec<QuestionBody>>,
}

/// The answers of a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchAnswerBody {
    /// One decision per question, in the order asked.
    pub decisions: Vec<DecisionBody>,
}

fn refused(e: AppError) -> ApiError {
    match e {
        AppError::Forbidden => ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Les décisions d'accès sont réservées aux systèmes consommateurs, avec un jeton système \
             délivré par l'opérateur du registre.",
        ),
        other => other.into(),
    }
}

fn with_version<T: IntoResponse>(body: T, version: i64) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(REGISTRY_VERSION, HeaderValue::from(version));
    response
}

/// Decide whether a professional may open patient documents of a type (consuming systems).
///
/// Only situations active at `at` count. Nothing is cached: closing a situation, changing its
/// role or reaching its end date takes effect at the next decision, on every server instance.
#[utoipa::path(
    post,
    path = "/access/decisions",
    tag = "access",
    operation_id = "decide_access",
    request_body = QuestionBody,
    responses(
        (status = 200, description = "The decision. `X-Registry-Version` repeats `registry_version`.", body = DecisionBody,
         headers(("X-Registry-Version" = i64, description = "Change-feed sequence of the data read."))),
        (status = 400, description = "The body is not a JSON object.", body = ErrorBody),
        (status = 401, description = "Missing, invalid or revoked token.", body = ErrorBody),
        (status = 403, description = "Not a system's (or the operator's) token.", body = ErrorBody),
        (status = 422, description = "Invalid fields.", body = ErrorBody),
    ),
)]
pub async fn decide(
    State(state): State<AppState>,
    Bearer(token): Bearer,
    JsonBytes(body): JsonBytes,
) -> Result<Response, ApiError> {
    let checked = match PlainQuestion::read(&body) {
        Some(raw) => raw.check(""),
        None => ApiJson::<QuestionBody>::parse(&body)?.check(""),
    };
    let question = match checked {
        Ok(q) => q,
        Err(problems) => {
            // An unknown token is told so before any field problem, as everywhere else.
            if state.app.authenticate_token(&token).await?.is_none() {
                return Err(ApiError::invalid_token());
            }
            return Err(ApiError::invalid(problems));
        }
    };
    // The token and the situations are read in one statement: one round trip per decision.
    let answer = state
        .app
        .decide_access_with_token(&token, &question)
        .await
        .map_err(refused)?
        .ok_or_else(ApiError::invalid_token)?;
    let version = answer.registry_version;
    Ok(with_version(Json(DecisionBody::from(answer)), version))
}

/// The bearer token of a request, not yet checked (the decision checks it in the same read as
/// the situations). A missing or malformed header is `401 unauthenticated`.
#[derive(Debug)]
pub struct Bearer(String);

impl axum::extract::FromRequestParts<AppState> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &AppState,
    ) -> Result<Self, ApiError> {
        parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| Bearer(token.trim().to_owned()))
            .ok_or_else(ApiError::unauthenticated)
    }
}

/// Up to 1 000 decisions in one call, answered in the same order.
#[utoipa::path(
    post,
    path = "/access/decisions:batch",
    tag = "access",
    operation_id = "decide_access_batch",
    request_body = BatchBody,
    responses(
        (status = 200, description = "The decisions, in the order asked. `X-Registry-Version` is the lowest version an answer read.", body = BatchAnswerBody,
         headers(("X-Registry-Version" = i64, description = "Lowest change-feed sequence read by an answer."))),
        (status = 400, description = "The body is not a JSON object.", body = ErrorBody),
        (status = 401, description = "Missing, invalid or revoked token.", body = ErrorBody),
        (status = 403, description = "Not a system's (or the operator's) token.", body = ErrorBody),
        (status = 422, description = "Invalid fields, or more than 1 000 questions.", body = ErrorBody),
    ),
)]
pub async fn decide_batch(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<BatchBody>,
) -> Result<Response, ApiError> {
    let Some(raw) = body.questions else {
        return Err(ApiError::invalid(vec![FieldError::new(
            "questions",
            "required",
            "Le champ « questions » est obligatoire.",
        )]));
    };
    if raw.len() > MAX_BATCH {
        return Err(ApiError::invalid(vec![FieldError::new(
            "questions",
            "too_many",
            "Une requête groupée compte au plus 1 000 questions.",
        )]));
    }
    let mut questions = Vec::with_capacity(raw.len());
    let mut problems = Vec::new();
    for (i, q) in raw.into_iter().enumerate() {
        match q.check(&format!("questions[{i}].")) {
            Ok(q) => questions.push(q),
            Err(p) => problems.extend(p),
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::invalid(problems));
    }
    let answers = state
        .app
        .decide_access_batch(&caller.actor, &questions)
        .await
        .map_err(refused)?;
    let version = answers
        .iter()
        .map(|a| a.registry_version)
        .min()
        .unwrap_or(0);
    Ok(with_version(
        Json(BatchAnswerBody {
            decisions: answers.into_iter().map(DecisionBody::from).collect(),
        }),
        version,
    ))
}

/// Does nothing, without a token: the baseline the decision endpoint's throughput is compared
/// with (see `docs/benchmarks.md`).
#[utoipa::path(
    get,
    path = "/ping",
    tag = "meta",
    operation_id = "ping",
    security(()),
    responses((status = 204, description = "Nothing.")),
)]
pub async fn ping() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// Does nothing but authenticate the token: the baseline of an authenticated call.
#[utoipa::path(
    get,
    path = "/ping/authenticated",
    tag = "meta",
    operation_id = "ping_authenticated",
    responses(
        (status = 204, description = "The token is valid."),
        (status = 401, description = "Missing, invalid or revoked token.", body = ErrorBody),
    ),
)]
pub async fn ping_authenticated(Caller(_caller): Caller) -> StatusCode {
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the general reading makes of a body: the checked question or the field problems,
    /// or `None` when the body itself is refused.
    fn general(body: &str) -> Option<Result<Question, Vec<FieldError>>> {
        let parsed = ApiJson::<QuestionBody>::parse(body.as_bytes()).ok()?;
        Some(parsed.check(""))
    }

    /// Bodies of strings are read straight from their bytes into the same question as the
    /// general reading gives; anything else is left to the general reading.
    #[test]
    fn plain_bodies_read_like_the_general_reading_and_others_are_left_to_it() {
        let plain = [
            r#"{"professional":"810000000005","document_type":{"system":"http://loinc.org","code":"11488-4"}}"#,
            r#"  {"professional":" 10000000005 ","document_type":{"system":"http://loinc.org","code":"11488-4"},"structure":"690001029","at":"2026-11-27T10:00:00+01:00"}"#,
            r#"{"professional":"8100\u00300000005","document_type":{"system":"http:\/\/loinc.org","code":"11488-4"},"extra":"ignored"}"#,
            r#"{"professional":null,"document_type":null,"structure":null,"at":null}"#,
            r#"{"document_type":{},"at":"hier"}"#,
            r#"{}"#,
        ];
        for body in plain {
            let fast = PlainQuestion::read(body.as_bytes())
                .unwrap_or_else(|| panic!("read as plain: {body}"))
                .check("");
            assert_eq!(Some(fast), general(body), "{body}");
        }
        let others = [
            r#"["810000000005",{"system":"http://loinc.org","code":"11488-4"}]"#,
            r#"{"professional":"810000000005","document_type":["http://loinc.org","11488-4"]}"#,
            r#"{"professional":810000000005,"document_type":{"system":"http://loinc.org","code":"11488-4"}}"#,
            r#"{"professional":"810000000005","professional":"810000000013"}"#,
            r#"{"professional":"810000000005","document_type":"11488-4"}"#,
            r#"{"professional":"810000000005""#,
            r#""810000000005""#,
            "",
        ];
        for body in others {
            assert!(PlainQuestion::read(body.as_bytes()).is_none(), "{body}");
        }
    }
}
