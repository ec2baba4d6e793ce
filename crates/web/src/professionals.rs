//! The pages a manager uses for the professionals of their structures: a structure's list
//! (filters, paging, CSV export, self-registrations waiting for a decision) and a
//! professional's page (situations with their effective access, history, and the forms that
//! modify or close a situation and correct the identity or the contact).
//!
//! Every form carries the version it was based on: a change made meanwhile by someone else
//! makes the use case refuse, and the page says so and shows the current data.

use askama::Template;
use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::civil::Date;
use rppsplus_app::registrations::{
    Candidate, HistoryEntry, ProfessionalView, RegistrationInput, RegistrationOutcome, Roster,
    RosterFilter, SituationPatch, SituationView,
};
use rppsplus_app::sessions::SignedIn;
use rppsplus_app::{AppError, FieldError};
use rppsplus_domain::authz::Capacity;
use rppsplus_domain::reference::{EligibilityStatus, Setting, TableId, tables};
use rppsplus_domain::validation::format_date_fr;
use rppsplus_domain::{RawCivilIdentity, RawIdDocument};
use rppsplus_store::{PendingRegistration, PendingRegistrationId, Person, SituationId};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Viewer, require_sign_in, require_signed_in_form};
use crate::error::{WebError, render};
use crate::pages::{FormErrors, Layout};

/// Rows per page of a structure's list.
const PAGE_SIZE: usize = 50;

// ---------------------------------------------------------------------------------------------
// Form fields, built here so that templates only lay them out.

/// A text input with its label, hint and error.
pub struct Field {
    id: String,
    name: &'static str,
    label: &'static str,
    value: String,
    hint: Option<String>,
    error: Option<String>,
    input_type: &'static str,
    autocomplete: &'static str,
}

impl Field {
    fn new(prefix: &str, name: &'static str, label: &'static str, value: &str) -> Field {
        Field {
            id: format!("{prefix}-{name}"),
            name,
            label,
            value: value.to_owned(),
            hint: None,
            error: None,
            input_type: "text",
            autocomplete: "off",
        }
    }

    fn hint(mut self, hint: &str) -> Field {
        self.hint = Some(hint.to_owned());
        self
    }

    fn kind(mut self, input_type: &'static str, autocomplete: &'static str) -> Field {
        self.input_type = input_type;
        self.autocomplete = autocomplete;
        self
    }

    fn errors(mut self, errors: &FormErrors) -> Field {
        self.error = errors.error_for(&self.id).map(str::to_owned);
        self
    }

    /// `aria-describedby`: the hint and the error, when present.
    fn described_by(&self) -> String {
        let mut ids = Vec::new();
        if self.hint.is_some() {
            ids.push(format!("{}-hint", self.id));
        }
        if self.error.is_some() {
            ids.push(format!("{}-error", self.id));
        }
        ids.join(" ")
    }
}

/// One choice of a select or of a group of radio buttons.
pub struct Choice {
    value: String,
    label: String,
    /// A longer explanation (radio buttons only).
    description: Option<String>,
    selected: bool,
}

/// A select, or a group of radio buttons.
pub struct ChoiceField {
    id: String,
    name: &'static str,
    label: &'static str,
    hint: Option<String>,
    error: Option<String>,
    choices: Vec<Choice>,
}

impl ChoiceField {
    fn new(
        prefix: &str,
        name: &'static str,
        label: &'static str,
        current: &str,
        options: Vec<(String, String, Option<String>)>,
    ) -> ChoiceField {
        ChoiceField {
            id: format!("{prefix}-{name}"),
            name,
            label,
            hint: None,
            error: None,
            choices: options
                .into_iter()
                .map(|(value, label, description)| Choice {
                    selected: value == current,
                    value,
                    label,
                    description,
                })
                .collect(),
        }
    }

    fn hint(mut self, hint: &str) -> ChoiceField {
        self.hint = Some(hint.to_owned());
        self
    }

    fn errors(mut self, errors: &FormErrors) -> ChoiceField {
        self.error = errors.error_for(&self.id).map(str::to_owned);
        self
    }

    fn described_by(&self) -> String {
        let mut ids = Vec::new();
        if self.hint.is_some() {
            ids.push(format!("{}-hint", self.id));
        }
        if self.error.is_some() {
            ids.push(format!("{}-error", self.id));
        }
        ids.join(" ")
    }
}

/// The errors of a form whose inputs carry `prefix`: a use case names fields by their path
/// (`identity.birth_name`), the page by `{prefix}-{path}`.
fn prefixed_errors(problems: &[FieldError], prefix: &str) -> FormErrors {
    FormErrors::prefixed(FormErrors::from_fields(problems), prefix)
}

// ---------------------------------------------------------------------------------------------
// Labels from the reference data.

fn profession_label(code: &str) -> String {
    tables()
        .ok()
        .and_then(|t| t.professions.r85(code))
        .map(|p| p.label.clone())
        .unwrap_or_else(|| code.to_owned())
}

fn role_label(code: &str) -> String {
    tables()
        .ok()
        .and_then(|t| t.roles.get(code))
        .map(|r| r.label.clone())
        .unwrap_or_else(|| code.to_owned())
}

fn mode_label(code: &str) -> String {
    tables()
        .ok()
        .and_then(|t| t.exercise_modes.label(code).map(str::to_owned))
        .unwrap_or_else(|| code.to_owned())
}

/// The statuses of a situation, in French.
fn status_label(status: &str) -> &'static str {
    match status {
        "active" => "Active",
        "scheduled_closure" => "Départ programmé",
        "closed" => "Close",
        "upcoming" => "À venir",
        _ => "Inconnu",
    }
}

const STATUSES: [&str; 4] = ["active", "scheduled_closure", "closed", "upcoming"];

/// The five RPPS+ roles, each with its meaning and what it opens.
fn role_options() -> Vec<(String, String, Option<String>)> {
    let Ok(t) = tables() else {
        return Vec::new();
    };
    t.roles
        .rpps_plus_roles()
        .map(|r| {
            let count = rppsplus_domain::documents_for_role(&r.code).len();
            (
                r.code.clone(),
                format!("{} ({})", r.label, r.code),
                Some(format!(
                    "Ouvre {count} types de documents du DMP / Mon espace santé."
                )),
            )
        })
        .collect()
}

/// The professions that may be registered in an establishment of this setting, and `current`
/// (kept even if it is no longer registrable there, so that the form shows it).
fn profession_options(
    setting: Option<&str>,
    current: &str,
) -> Vec<(String, String, Option<String>)> {
    let Ok(t) = tables() else {
        return Vec::new();
    };
    let mut codes: Vec<String> = setting
        .and_then(Setting::parse)
        .map(|s| {
            t.eligibility
                .for_setting(s)
                .filter(|e| e.table == TableId::R85 && e.status == EligibilityStatus::Active)
                .map(|e| e.code.clone())
                .collect()
        })
        .unwrap_or_default();
    if !current.is_empty() && !codes.iter().any(|c| c == current) {
        codes.push(current.to_owned());
    }
    codes.dedup();
    let mut options: Vec<(String, String, Option<String>)> = codes
        .into_iter()
        .map(|c| {
            let label = format!("{} ({c})", profession_label(&c));
            (c, label, None)
        })
        .collect();
    options.sort_by(|a, b| a.1.cmp(&b.1));
    options
}

fn mode_options() -> Vec<(String, String, Option<String>)> {
    ["S", "L", "B"]
        .into_iter()
        .map(|c| (c.to_owned(), mode_label(c), None))
        .collect()
}

/// A stored mobile (E.164) as French people write it: `06 12 34 56 78`.
fn mobile_display(stored: Option<&str>) -> String {
    stored
        .map(|m| {
            rppsplus_domain::Mobile::parse(m)
                .map(|x| x.national_display())
                .unwrap_or_else(|_| m.to_owned())
        })
        .unwrap_or_default()
}

fn date_fr(d: Option<Date>) -> String {
    d.map(format_date_fr).unwrap_or_default()
}

fn paris_time(at: jiff::Timestamp) -> String {
    let tz = jiff::tz::TimeZone::get("Europe/Paris").unwrap_or(jiff::tz::TimeZone::UTC);
    let z = at.to_zoned(tz);
    format!(
        "{} à {:02}:{:02}",
        format_date_fr(z.date()),
        z.hour(),
        z.minute()
    )
}

// ---------------------------------------------------------------------------------------------
// The structure's list.

/// The filters of the list, as in the address.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ListParams {
    #[serde(default)]
    statut: String,
    #[serde(default)]
    profession: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    etablissement: String,
    #[serde(default)]
    nom: String,
    #[serde(default)]
    page: String,
    #[serde(default)]
    ok: String,
}

impl ListParams {
    fn filter(&self) -> RosterFilter {
        let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        RosterFilter {
            status: some(&self.statut),
            profession: some(&self.profession),
            role: some(&self.role),
            establishment: some(&self.etablissement),
            name: some(&self.nom),
        }
    }

    /// The query string of these filters (without the page), for links and the export.
    fn query(&self) -> String {
        [
            ("statut", &self.statut),
            ("profession", &self.profession),
            ("role", &self.role),
            ("etablissement", &self.etablissement),
            ("nom", &self.nom),
        ]
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", encode_query_value(v.trim())))
        .collect::<Vec<_>>()
        .join("&")
    }
}

/// Percent-encodes a query value (application/x-www-form-urlencoded).
fn encode_query_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

struct ListRow {
    rpps: String,
    last_name: String,
    first_name: String,
    profession: String,
    role_code: String,
    role: String,
    establishment: String,
    start: String,
    end: String,
    status: &'static str,
    status_code: &'static str,
}

/// A self-registration waiting for a decision, as the list shows it.
struct PendingView {
    id: i64,
    name: String,
    birth_date: String,
    establishment: String,
    profession: String,
    role: String,
    start: String,
    submitted_on: String,
    existing_rpps: Field,
    confirm_reason: Field,
    confirm_checked: bool,
    reject_reason: Field,
    /// Persons already registered that strongly match, after a first attempt.
    candidates: Vec<Candidate>,
}

#[derive(Template)]
#[template(path = "structure_professionals.html")]
struct ListPage {
    layout: Layout,
    form: FormErrors,
    notice: Option<&'static str>,
    problem: Option<String>,
    finess: String,
    name: String,
    is_ej: bool,
    total: usize,
    found: usize,
    rows: Vec<ListRow>,
    status: ChoiceField,
    profession: ChoiceField,
    role: ChoiceField,
    establishment: ChoiceField,
    search: Field,
    page: usize,
    pages: usize,
    previous: Option<String>,
    next: Option<String>,
    export: String,
    pending: Vec<PendingView>,
}

fn list_notice(ok: &str) -> Option<&'static str> {
    match ok {
        "validee" => Some(
            "La demande d'enregistrement a été validée : le professionnel est enregistré et reçoit son numéro RPPS par e-mail.",
        ),
        "refusee" => Some("La demande d'enregistrement a été refusée. Le motif est conservé."),
        _ => None,
    }
}

/// What happened to one self-registration form, to show it again.
struct PendingAttempt {
    id: i64,
    form: DecisionForm,
    errors: FormErrors,
    candidates: Vec<Candidate>,
}

/// `/structures/{finess}/professionnels`.
pub async fn list(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(finess): Path<String>,
    Query(params): Query<ListParams>,
) -> Response {
    let signed_in = match require_sign_in(&viewer) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    list_page(
        &state,
        &viewer,
        &signed_in,
        &finess,
        &params,
        StatusCode::OK,
        None,
        None,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn list_page(
    state: &AppState,
    viewer: &Viewer,
    signed_in: &SignedIn,
    finess: &str,
    params: &ListParams,
    status: StatusCode,
    problem: Option<String>,
    attempt: Option<PendingAttempt>,
) -> Response {
    let layout = viewer.layout(state, "structures");
    let roster = match state
        .app
        .structure_roster(&signed_in.actor, finess, &params.filter())
        .await
    {
        Ok(r) => r,
        Err(e) => return WebError::from_app(e, layout).into_response(),
    };
    let mut pending = Vec::new();
    for site in &roster.establishments {
        match state
            .app
            .pending_self_registrations(&signed_in.actor, site.record.finess.as_str())
            .await
        {
            Ok(list) => {
                pending.extend(list.into_iter().map(|(p, input)| {
                    pending_view(&p, &input, &site.record.name, attempt.as_ref())
                }))
            }
            Err(e) => return WebError::from_app(e, layout).into_response(),
        }
    }
    let form = attempt
        .as_ref()
        .map(|a| a.errors.clone())
        .unwrap_or_default();
    render(
        status,
        &list_view(layout, roster, params, form, problem, pending),
    )
}

fn list_view(
    layout: Layout,
    roster: Roster,
    params: &ListParams,
    form: FormErrors,
    problem: Option<String>,
    pending: Vec<PendingView>,
) -> ListPage {
    let is_ej = roster.structure.record.kind == rppsplus_store::StructureKind::Ej;
    let finess = roster.structure.record.finess.to_string();
    let found = roster.rows.len();
    let pages = found.div_ceil(PAGE_SIZE).max(1);
    let page = params
        .page
        .trim()
        .parse::<usize>()
        .unwrap_or(1)
        .clamp(1, pages);
    let query = params.query();
    let link = |p: usize| {
        let sep = if query.is_empty() { "" } else { "&" };
        format!("/structures/{finess}/professionnels?{query}{sep}page={p}")
    };
    let rows = roster
        .rows
        .iter()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .map(|r| {
            let s = &r.situation.situation;
            ListRow {
                rpps: r.rpps.clone(),
                last_name: s.exercise.exercise_last_name.clone(),
                first_name: s.exercise.exercise_first_name.clone(),
                profession: profession_label(&s.exercise.profession_code),
                role_code: s.record.role_code.clone(),
                role: role_label(&s.record.role_code),
                establishment: r.situation.structure_name.clone(),
                start: format_date_fr(s.record.start_date),
                end: date_fr(s.record.end_date),
                status: status_label(r.situation.status),
                status_code: r.situation.status,
            }
        })
        .collect();
    let any = || (String::new(), "Tous".to_owned(), None);
    let status = ChoiceField::new(
        "filtre",
        "statut",
        "Statut",
        params.statut.trim(),
        std::iter::once(any())
            .chain(
                STATUSES
                    .iter()
                    .map(|s| ((*s).to_owned(), status_label(s).to_owned(), None)),
            )
            .collect(),
    );
    let profession = ChoiceField::new(
        "filtre",
        "profession",
        "Profession",
        params.profession.trim(),
        std::iter::once(any())
            .chain(
                roster
                    .professions
                    .iter()
                    .map(|c| (c.clone(), format!("{} ({c})", profession_label(c)), None)),
            )
            .collect(),
    );
    let role = ChoiceField::new(
        "filtre",
        "role",
        "Rôle RPPS+",
        params.role.trim(),
        std::iter::once(any())
            .chain(role_options().into_iter().map(|(c, l, _)| (c, l, None)))
            .collect(),
    );
    let establishment = ChoiceField::new(
        "filtre",
        "etablissement",
        "Établissement",
        params.etablissement.trim(),
        std::iter::once(any())
            .chain(
                roster
                    .establishments
                    .iter()
                    .map(|e| (e.record.finess.to_string(), e.record.name.clone(), None)),
            )
            .collect(),
    );
    let search = Field::new(
        "filtre",
        "nom",
        "Nom, prénom ou numéro RPPS",
        params.nom.trim(),
    )
    .kind("search", "off");
    let export = if query.is_empty() {
        format!("/structures/{finess}/professionnels.csv")
    } else {
        format!("/structures/{finess}/professionnels.csv?{query}")
    };
    ListPage {
        layout,
        form,
        notice: list_notice(&params.ok),
        problem,
        name: roster.structure.record.name.clone(),
        is_ej,
        total: roster.total,
        found,
        rows,
        status,
        profession,
        role,
        establishment,
        search,
        page,
        pages,
        previous: (page > 1).then(|| link(page - 1)),
        next: (page < pages).then(|| link(page + 1)),
        export,
        pending,
        finess,
    }
}

fn pending_view(
    p: &PendingRegistration,
    input: &RegistrationInput,
    site: &str,
    attempt: Option<&PendingAttempt>,
) -> PendingView {
    let prefix = format!("demande-{}", p.id.0);
    let mine = attempt.filter(|a| a.id == p.id.0);
    let empty = DecisionForm::default();
    let (form, errors) = match mine {
        Some(a) => (&a.form, a.errors.clone()),
        None => (&empty, FormErrors::default()),
    };
    let i = &input.identity;
    let name = [
        i.first_names.join(" "),
        i.usage_name
            .clone()
            .filter(|u| !u.trim().is_empty())
            .or_else(|| i.birth_name.clone())
            .unwrap_or_default(),
    ]
    .join(" ");
    let e = &input.exercise;
    PendingView {
        id: p.id.0,
        name,
        birth_date: i
            .birth_date
            .as_deref()
            .and_then(rppsplus_domain::validation::parse_date_input)
            .map(format_date_fr)
            .unwrap_or_default(),
        establishment: site.to_owned(),
        profession: e
            .profession
            .as_deref()
            .map(|c| format!("{} ({c})", profession_label(c)))
            .unwrap_or_default(),
        role: e
            .role
            .as_deref()
            .map(|c| format!("{} ({c})", role_label(c)))
            .unwrap_or_default(),
        start: e
            .start_date
            .as_deref()
            .and_then(rppsplus_domain::validation::parse_date_input)
            .map(format_date_fr)
            .unwrap_or_default(),
        submitted_on: paris_time(p.record.at),
        existing_rpps: Field::new(&prefix, "existing_rpps", "Numéro RPPS de la personne déjà enregistrée", &form.existing_rpps)
            .hint("Seulement si la personne a déjà un numéro RPPS : elle le trouve dans le courriel reçu à son premier enregistrement.")
            .kind("text", "off")
            .errors(&errors),
        confirm_reason: Field::new(
            &prefix,
            "confirm_reason",
            "Pourquoi créer une nouvelle personne malgré tout",
            &form.confirm_reason,
        )
        .errors(&errors),
        confirm_checked: form.confirm_new_person.is_some(),
        reject_reason: Field::new(&prefix, "reason", "Motif du refus", &form.reason)
            .hint("Il est conservé et pourra être communiqué à la personne.")
            .errors(&errors),
        candidates: mine.map(|a| a.candidates.clone()).unwrap_or_default(),
    }
}

/// The validate and reject forms of a self-registration.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    existing_rpps: String,
    #[serde(default)]
    confirm_new_person: Option<String>,
    #[serde(default)]
    confirm_reason: String,
    #[serde(default)]
    reason: String,
}

/// Validates a self-registration.
pub async fn validate_pending(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Path((finess, id)): Path<(String, i64)>,
    Form(form): Form<DecisionForm>,
) -> Response {
    let signed_in = match require_signed_in_form(&state, &viewer, &headers, &form.csrf) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let outcome = state
        .app
        .validate_self_registration(
            &signed_in.actor,
            PendingRegistrationId(id),
            some(&form.existing_rpps),
            form.confirm_new_person.is_some(),
            some(&form.confirm_reason),
        )
        .await;
    let prefix = format!("demande-{id}");
    let (errors, candidates, problem) = match outcome {
        Ok(RegistrationOutcome::Registered(_)) => {
            return Redirect::to(&format!("/structures/{finess}/professionnels?ok=validee"))
                .into_response();
        }
        Ok(RegistrationOutcome::StrongMatch(candidates)) => (
            FormErrors::default(),
            candidates,
            Some("Des personnes très proches sont déjà enregistrées : si c'est la même personne, indiquez son numéro RPPS ; sinon, confirmez la création d'une nouvelle personne en expliquant pourquoi.".to_owned()),
        ),
        Err(AppError::Invalid(problems)) => {
            // The stored registration itself may no longer pass (an e-mail taken since):
            // its fields are not on this page, so their messages go to the banner.
            let (here, elsewhere): (Vec<FieldError>, Vec<FieldError>) = problems
                .into_iter()
                .partition(|p| matches!(p.field.as_str(), "existing_rpps" | "confirm_reason"));
            let problem = (!elsewhere.is_empty()).then(|| {
                elsewhere
                    .iter()
                    .map(|p| p.message.clone())
                    .collect::<Vec<_>>()
                    .join(" ")
            });
            (prefixed_errors(&here, &prefix), Vec::new(), problem)
        }
        Err(AppError::Conflict { message, .. }) => (FormErrors::default(), Vec::new(), Some(message)),
        Err(e) => return WebError::from_app(e, viewer.layout(&state, "structures")).into_response(),
    };
    list_page(
        &state,
        &viewer,
        &signed_in,
        &finess,
        &ListParams::default(),
        StatusCode::UNPROCESSABLE_ENTITY,
        problem,
        Some(PendingAttempt {
            id,
            form,
            errors,
            candidates,
        }),
    )
    .await
}

/// Rejects a self-registration, with a reason.
pub async fn reject_pending(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Path((finess, id)): Path<(String, i64)>,
    Form(form): Form<DecisionForm>,
) -> Response {
    let signed_in = match require_signed_in_form(&state, &viewer, &headers, &form.csrf) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    match state
        .app
        .reject_self_registration(
            &signed_in.actor,
            PendingRegistrationId(id),
            Some(form.reason.as_str()),
        )
        .await
    {
        Ok(()) => {
            Redirect::to(&format!("/structures/{finess}/professionnels?ok=refusee")).into_response()
        }
        Err(AppError::Invalid(problems)) => {
            let errors = prefixed_errors(&problems, &format!("demande-{id}"));
            list_page(
                &state,
                &viewer,
                &signed_in,
                &finess,
                &ListParams::default(),
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(PendingAttempt {
                    id,
                    form,
                    errors,
                    candidates: Vec::new(),
                }),
            )
            .await
        }
        Err(AppError::Conflict { message, .. }) => {
            list_page(
                &state,
                &viewer,
                &signed_in,
                &finess,
                &ListParams::default(),
                StatusCode::CONFLICT,
                Some(message),
                None,
            )
            .await
        }
        Err(e) => WebError::from_app(e, viewer.layout(&state, "structures")).into_response(),
    }
}

// ---------------------------------------------------------------------------------------------
// CSV export.

/// One CSV cell: a value a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, or a tab
/// or carriage return that some spreadsheets skip before one) is prefixed with `'`; then RFC
/// 4180 quoting when the cell holds the separator, a quote or a line break.
fn csv_cell(value: &str) -> String {
    let safe = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if safe.contains([';', '"', '\n', '\r']) {
        format!("\"{}\"", safe.replace('"', "\"\""))
    } else {
        safe
    }
}

fn csv_line(out: &mut String, cells: &[&str]) {
    let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
    out.push_str(&line.join(";"));
    out.push_str("\r\n");
}

/// The filtered list as CSV for French spreadsheets: UTF-8 with a byte-order mark, `;`.
fn roster_csv(roster: &Roster) -> String {
    let mut out = String::from("\u{FEFF}");
    csv_line(
        &mut out,
        &[
            "RPPS",
            "Nom d'exercice",
            "Prénom d'exercice",
            "Profession (code)",
            "Profession",
            "Rôle RPPS+ (code)",
            "Rôle RPPS+",
            "FINESS de l'établissement",
            "Établissement",
            "Mode d'exercice",
            "Début",
            "Fin",
            "Statut",
        ],
    );
    for r in &roster.rows {
        let s = &r.situation.situation;
        csv_line(
            &mut out,
            &[
                &r.rpps,
                &s.exercise.exercise_last_name,
                &s.exercise.exercise_first_name,
                &s.exercise.profession_code,
                &profession_label(&s.exercise.profession_code),
                &s.record.role_code,
                &role_label(&s.record.role_code),
                r.situation.structure_finess.as_str(),
                &r.situation.structure_name,
                &mode_label(&s.record.practice_mode),
                &format_date_fr(s.record.start_date),
                &date_fr(s.record.end_date),
                status_label(r.situation.status),
            ],
        );
    }
    out
}

/// `/structures/{finess}/professionnels.csv`: the filtered list, every page.
pub async fn export(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(finess): Path<String>,
    Query(params): Query<ListParams>,
) -> Response {
    let signed_in = match require_sign_in(&viewer) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    match state
        .app
        .structure_roster(&signed_in.actor, &finess, &params.filter())
        .await
    {
        Ok(roster) => {
            let file = format!(
                "attachment; filename=\"professionnels-{}.csv\"",
                roster.structure.record.finess
            );
            let mut response = roster_csv(&roster).into_response();
            let h = response.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            // Personal data: never kept by a shared cache or the browser's.
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            if let Ok(v) = HeaderValue::from_str(&file) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            response
        }
        Err(e) => WebError::from_app(e, viewer.layout(&state, "structures")).into_response(),
    }
}

// ---------------------------------------------------------------------------------------------
// A professional's page.

/// The situation form.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ModifyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    exercise_last_name: String,
    #[serde(default)]
    exercise_first_name: String,
    #[serde(default)]
    start_date: String,
    #[serde(default)]
    profession: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    practice_mode: String,
    #[serde(default)]
    establishment_finess: String,
}

/// The closing form.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct CloseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    end_date: String,
    #[serde(default)]
    reason: String,
}

/// The civil identity correction form.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct IdentityForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    civility: String,
    #[serde(default)]
    sex: String,
    #[serde(default)]
    birth_name: String,
    #[serde(default)]
    usage_name: String,
    #[serde(default)]
    first_name_1: String,
    #[serde(default)]
    first_name_2: String,
    #[serde(default)]
    first_name_3: String,
    #[serde(default)]
    birth_date: String,
    #[serde(default)]
    birth_country: String,
    #[serde(default)]
    birth_commune: String,
    #[serde(default)]
    id_document_type: String,
    #[serde(default)]
    id_document_number: String,
    #[serde(default)]
    id_document_expires_on: String,
    #[serde(default)]
    reason: String,
}

/// The contact form.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ContactForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    mobile: String,
}

/// The form that was sent, to show again with its values and errors.
enum Sent {
    Nothing,
    Modify(SituationId, ModifyForm, FormErrors),
    Close(SituationId, CloseForm, FormErrors),
    Identity(IdentityForm, FormErrors),
    Contact(ContactForm, FormErrors),
}

impl Sent {
    fn errors(&self) -> FormErrors {
        match self {
            Sent::Nothing => FormErrors::default(),
            Sent::Modify(_, _, e) | Sent::Close(_, _, e) => e.clone(),
            Sent::Identity(_, e) | Sent::Contact(_, e) => e.clone(),
        }
    }
}

/// A document type a situation opens.
struct DocumentRow {
    label: String,
    code: String,
}

struct SituationCard {
    id: i64,
    establishment: String,
    finess: String,
    profession: String,
    role: String,
    role_code: String,
    mode: String,
    exercise_name: String,
    start: String,
    end: String,
    end_reason: Option<String>,
    status: &'static str,
    status_code: &'static str,
    /// In force now: what the access decisions answer now.
    in_force: bool,
    /// Why there is no access, or until when there is.
    access_note: String,
    documents: Vec<DocumentRow>,
    closable: bool,
    /// The form was sent and refused: shown open.
    modify_open: bool,
    close_open: bool,
    modify_version: String,
    last_name: Field,
    first_name: Field,
    start_date: Field,
    profession_field: ChoiceField,
    role_field: ChoiceField,
    mode_field: ChoiceField,
    establishment_field: ChoiceField,
    close_version: String,
    end_date: Field,
    close_reason: Field,
}

struct HistoryRow {
    at: String,
    author: String,
    summary: String,
    details: Vec<String>,
}

#[derive(Template)]
#[template(path = "professional.html")]
struct ProfessionalPage {
    layout: Layout,
    form: FormErrors,
    notice: Option<&'static str>,
    problem: Option<String>,
    rpps: String,
    display_name: String,
    active: bool,
    identity: Vec<(&'static str, String)>,
    email: String,
    mobile: String,
    situations: Vec<SituationCard>,
    history: Vec<HistoryRow>,
    identity_open: bool,
    contact_open: bool,
    identity_version: String,
    identity_fields: Vec<Field>,
    civility: ChoiceField,
    sex: ChoiceField,
    id_document_type: ChoiceField,
    identity_reason: Field,
    contact_version: String,
    email_field: Field,
    mobile_field: Field,
}

fn professional_notice(ok: &str) -> Option<&'static str> {
    match ok {
        "modifiee" => Some(
            "La situation d'exercice a été modifiée. Le professionnel en est informé par e-mail.",
        ),
        "close" => Some(
            "La situation d'exercice est close : les accès qu'elle ouvrait sont retirés dès maintenant.",
        ),
        "programmee" => Some(
            "Le départ est programmé : les accès restent ouverts jusqu'à la fin du dernier jour d'activité, puis sont retirés sans autre action.",
        ),
        "identite" => Some(
            "L'état civil a été corrigé. La correction et son motif sont conservés dans l'historique.",
        ),
        "contact" => Some("Les coordonnées ont été modifiées."),
        _ => None,
    }
}

/// The result message after a redirect.
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    ok: String,
}

/// `/professionnels/{rpps}`.
pub async fn professional(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(rpps): Path<String>,
    Query(done): Query<Done>,
) -> Response {
    let signed_in = match require_sign_in(&viewer) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    professional_page(
        &state,
        &viewer,
        &signed_in,
        &rpps,
        StatusCode::OK,
        professional_notice(&done.ok),
        None,
        Sent::Nothing,
    )
    .await
}

/// The establishments where the signed-in person may place a situation.
async fn establishment_choices(state: &AppState, signed_in: &SignedIn) -> Vec<(String, String)> {
    let Ok(scopes) = state.app.my_structures(&signed_in.actor).await else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = scopes
        .iter()
        .filter(|s| {
            matches!(
                s.capacity,
                Capacity::LegalRepresentative | Capacity::Manager
            )
        })
        .flat_map(|s| s.establishments.iter())
        .filter(|e| e.record.open)
        .map(|e| (e.record.finess.to_string(), e.record.name.clone()))
        .collect();
    out.sort();
    out.dedup();
    out
}

#[allow(clippy::too_many_arguments)]
async fn professional_page(
    state: &AppState,
    viewer: &Viewer,
    signed_in: &SignedIn,
    rpps: &str,
    status: StatusCode,
    notice: Option<&'static str>,
    problem: Option<String>,
    sent: Sent,
) -> Response {
    let layout = viewer.layout(state, "structures");
    let (view, history) = match state
        .app
        .professional_with_history(&signed_in.actor, rpps)
        .await
    {
        Ok(v) => v,
        Err(e) => return WebError::from_app(e, layout).into_response(),
    };
    let sites = establishment_choices(state, signed_in).await;
    let settings: Vec<(String, Option<String>)> = {
        let mut out = Vec::new();
        for s in &view.situations {
            let setting = state
                .app
                .structure_view(&s.structure_finess)
                .await
                .ok()
                .and_then(|v| v.structure.record.setting);
            out.push((s.structure_finess.to_string(), setting));
        }
        out
    };
    let page = professional_view(
        layout, view, history, &sites, &settings, notice, problem, sent,
    );
    render(status, &page)
}

#[allow(clippy::too_many_arguments)]
fn professional_view(
    layout: Layout,
    view: ProfessionalView,
    history: Vec<HistoryEntry>,
    sites: &[(String, String)],
    settings: &[(String, Option<String>)],
    notice: Option<&'static str>,
    problem: Option<String>,
    sent: Sent,
) -> ProfessionalPage {
    let form = sent.errors();
    let p: &Person = &view.person;
    let r = &p.record;
    let rpps = r.rpps.as_ref().map(|x| x.to_string()).unwrap_or_default();
    let display_name = format!(
        "{} {}",
        r.first_names.first().cloned().unwrap_or_default(),
        r.usage_name.clone().unwrap_or_else(|| r.birth_name.clone())
    );
    let civility_label = |c: &str| {
        tables()
            .ok()
            .and_then(|t| t.civilities.label(c).map(str::to_owned))
            .unwrap_or_else(|| c.to_owned())
    };
    let sex_label = |c: &str| {
        tables()
            .ok()
            .and_then(|t| t.sexes.label(c).map(str::to_owned))
            .unwrap_or_else(|| c.to_owned())
    };
    let birth_place = match r.birth_commune.as_deref() {
        Some(code) => rppsplus_domain::reference::cog()
            .ok()
            .and_then(|c| c.communes_with_code(code).first().map(|x| x.name.clone()))
            .map(|n| format!("{n} ({code})"))
            .unwrap_or_else(|| code.to_owned()),
        None => rppsplus_domain::reference::cog()
            .ok()
            .and_then(|c| c.country(&r.birth_country).map(|x| x.label.clone()))
            .unwrap_or_else(|| r.birth_country.clone()),
    };
    let mut identity: Vec<(&'static str, String)> = vec![
        ("Numéro RPPS", rpps.clone()),
        ("Civilité", civility_label(&r.civility)),
        ("Sexe", sex_label(&r.sex)),
        ("Nom de naissance", r.birth_name.clone()),
    ];
    if let Some(u) = &r.usage_name {
        identity.push(("Nom d'usage", u.clone()));
    }
    identity.push(("Prénoms", r.first_names.join(", ")));
    identity.push(("Date de naissance", format_date_fr(r.birth_date)));
    identity.push(("Lieu de naissance", birth_place));
    if let Some(d) = &r.id_document {
        let kind = rppsplus_domain::IdDocumentKind::parse(&d.kind)
            .map(|k| k.label().to_owned())
            .unwrap_or_else(|| d.kind.clone());
        identity.push((
            "Pièce d'identité",
            format!("{kind}, valable jusqu'au {}", format_date_fr(d.expires_on)),
        ));
    }

    let situations = view
        .situations
        .iter()
        .map(|s| {
            let setting = settings
                .iter()
                .find(|(f, _)| f == s.structure_finess.as_str())
                .and_then(|(_, st)| st.clone());
            situation_card(s, sites, setting.as_deref(), &sent)
        })
        .collect();

    let history = history
        .into_iter()
        .map(|h| HistoryRow {
            at: paris_time(h.at),
            author: h.author,
            summary: h.summary,
            details: h.details,
        })
        .collect();

    // The identity form: the values sent, else the record.
    let doc = r.id_document.as_ref();
    let current = IdentityForm {
        csrf: String::new(),
        version: p.version.to_string(),
        civility: r.civility.clone(),
        sex: r.sex.clone(),
        birth_name: r.birth_name.clone(),
        usage_name: r.usage_name.clone().unwrap_or_default(),
        first_name_1: r.first_names.first().cloned().unwrap_or_default(),
        first_name_2: r.first_names.get(1).cloned().unwrap_or_default(),
        first_name_3: r.first_names.get(2).cloned().unwrap_or_default(),
        birth_date: format_date_fr(r.birth_date),
        birth_country: r.birth_country.clone(),
        birth_commune: r.birth_commune.clone().unwrap_or_default(),
        id_document_type: doc.map(|d| d.kind.clone()).unwrap_or_default(),
        id_document_number: doc.map(|d| d.number.clone()).unwrap_or_default(),
        id_document_expires_on: date_fr(doc.map(|d| d.expires_on)),
        reason: String::new(),
    };
    let (idf, id_errors) = match &sent {
        Sent::Identity(f, e) => (f.clone(), e.clone()),
        _ => (current, FormErrors::default()),
    };
    let pre = "identite";
    let identity_fields = vec![
        Field::new(pre, "birth_name", "Nom de naissance", &idf.birth_name).errors(&id_errors),
        Field::new(
            pre,
            "usage_name",
            "Nom d'usage (facultatif)",
            &idf.usage_name,
        )
        .errors(&id_errors),
        Field::new(pre, "first_name_1", "Premier prénom", &idf.first_name_1).errors(&id_errors),
        Field::new(
            pre,
            "first_name_2",
            "Deuxième prénom (facultatif)",
            &idf.first_name_2,
        )
        .errors(&id_errors),
        Field::new(
            pre,
            "first_name_3",
            "Troisième prénom (facultatif)",
            &idf.first_name_3,
        )
        .errors(&id_errors),
        Field::new(pre, "birth_date", "Date de naissance", &idf.birth_date)
            .hint("Au format JJ/MM/AAAA.")
            .errors(&id_errors),
        Field::new(
            pre,
            "birth_country",
            "Pays de naissance (code COG)",
            &idf.birth_country,
        )
        .hint("99100 pour la France.")
        .errors(&id_errors),
        Field::new(
            pre,
            "birth_commune",
            "Commune de naissance (code COG)",
            &idf.birth_commune,
        )
        .hint("Obligatoire pour une naissance en France, par exemple 69123 pour Lyon.")
        .errors(&id_errors),
        Field::new(
            pre,
            "id_document_number",
            "Numéro de la pièce d'identité",
            &idf.id_document_number,
        )
        .errors(&id_errors),
        Field::new(
            pre,
            "id_document_expires_on",
            "Date d'expiration de la pièce",
            &idf.id_document_expires_on,
        )
        .hint("Au format JJ/MM/AAAA.")
        .errors(&id_errors),
    ];
    let coded = |table: fn(
        &rppsplus_domain::reference::Tables,
    ) -> &rppsplus_domain::reference::CodeTable| {
        tables()
            .map(|t| {
                table(t)
                    .active()
                    .map(|c| (c.code.clone(), c.label.clone(), None))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let civility = ChoiceField::new(
        pre,
        "civility",
        "Civilité",
        &idf.civility,
        coded(|t| &t.civilities),
    )
    .errors(&id_errors);
    let sex =
        ChoiceField::new(pre, "sex", "Sexe", &idf.sex, coded(|t| &t.sexes)).errors(&id_errors);
    let id_document_type = ChoiceField::new(
        pre,
        "id_document_type",
        "Type de pièce d'identité",
        &idf.id_document_type,
        [
            rppsplus_domain::IdDocumentKind::IdentityCard,
            rppsplus_domain::IdDocumentKind::Passport,
            rppsplus_domain::IdDocumentKind::ResidencePermit,
        ]
        .into_iter()
        .map(|k| (k.code().to_owned(), k.label().to_owned(), None))
        .collect(),
    )
    .errors(&id_errors);
    let identity_reason = Field::new(pre, "reason", "Motif de la correction", &idf.reason)
        .hint("Obligatoire : par exemple « erreur de saisie du nom de naissance, vérifiée sur la pièce d'identité ».")
        .errors(&id_errors);

    let (cf, contact_errors) = match &sent {
        Sent::Contact(f, e) => (f.clone(), e.clone()),
        _ => (
            ContactForm {
                csrf: String::new(),
                version: p.version.to_string(),
                email: r.email.clone().unwrap_or_default(),
                mobile: mobile_display(r.mobile.as_deref()),
            },
            FormErrors::default(),
        ),
    };
    let email_field = Field::new("contact", "email", "Adresse e-mail personnelle", &cf.email)
        .hint("Le professionnel y reçoit son numéro RPPS et les informations sur ses situations. Une adresse n'appartient qu'à une personne.")
        .kind("email", "off")
        .errors(&contact_errors);
    let mobile_field = Field::new("contact", "mobile", "Téléphone mobile", &cf.mobile)
        .hint("Mobile français ou d'outre-mer, par exemple 06 12 34 56 78.")
        .kind("tel", "off")
        .errors(&contact_errors);

    ProfessionalPage {
        layout,
        form,
        notice,
        problem,
        active: view.situations.iter().any(|s| s.active),
        display_name,
        identity,
        email: r.email.clone().unwrap_or_default(),
        mobile: mobile_display(r.mobile.as_deref()),
        situations,
        history,
        identity_open: !id_errors.errors.is_empty(),
        contact_open: !contact_errors.errors.is_empty(),
        identity_version: idf.version,
        identity_fields,
        civility,
        sex,
        id_document_type,
        identity_reason,
        contact_version: cf.version,
        email_field,
        mobile_field,
        rpps,
    }
}

fn situation_card(
    s: &SituationView,
    sites: &[(String, String)],
    setting: Option<&str>,
    sent: &Sent,
) -> SituationCard {
    let sit = &s.situation;
    let id = sit.id;
    let documents: Vec<DocumentRow> = if s.active {
        rppsplus_domain::documents_for_role(&sit.record.role_code)
            .iter()
            .map(|d| DocumentRow {
                label: d.document_label_in_seed.clone(),
                code: d.document.code.clone(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let access_note = match s.status {
        _ if s.active && s.status == "scheduled_closure" => format!(
            "Accès ouverts jusqu'à la fin du dernier jour d'activité, le {}, puis retirés automatiquement.",
            date_fr(sit.record.end_date)
        ),
        _ if s.active => "Accès ouverts tant que la situation est active.".to_owned(),
        "upcoming" => format!(
            "Aucun accès avant la prise de fonction, le {}.",
            format_date_fr(sit.record.start_date)
        ),
        _ => "Aucun accès : la situation est close, elle n'ouvre plus aucun document.".to_owned(),
    };
    let current = ModifyForm {
        csrf: String::new(),
        version: sit.version.to_string(),
        exercise_last_name: sit.exercise.exercise_last_name.clone(),
        exercise_first_name: sit.exercise.exercise_first_name.clone(),
        start_date: format_date_fr(sit.record.start_date),
        profession: sit.exercise.profession_code.clone(),
        role: sit.record.role_code.clone(),
        practice_mode: sit.record.practice_mode.clone(),
        establishment_finess: s.structure_finess.to_string(),
    };
    let (mf, m_errors) = match sent {
        Sent::Modify(sid, f, e) if *sid == id => (f.clone(), e.clone()),
        _ => (current, FormErrors::default()),
    };
    let (cf, c_errors) = match sent {
        Sent::Close(sid, f, e) if *sid == id => (f.clone(), e.clone()),
        _ => (
            CloseForm {
                version: sit.version.to_string(),
                ..CloseForm::default()
            },
            FormErrors::default(),
        ),
    };
    let m = format!("modifier-{}", id.0);
    let c = format!("cloturer-{}", id.0);
    let mut site_options: Vec<(String, String, Option<String>)> = sites
        .iter()
        .map(|(f, n)| (f.clone(), format!("{n} (FINESS {f})"), None))
        .collect();
    if !site_options
        .iter()
        .any(|(f, _, _)| f == s.structure_finess.as_str())
    {
        site_options.insert(
            0,
            (
                s.structure_finess.to_string(),
                format!("{} (FINESS {})", s.structure_name, s.structure_finess),
                None,
            ),
        );
    }
    SituationCard {
        id: id.0,
        establishment: s.structure_name.clone(),
        finess: s.structure_finess.to_string(),
        profession: format!(
            "{} ({})",
            profession_label(&sit.exercise.profession_code),
            sit.exercise.profession_code
        ),
        role: role_label(&sit.record.role_code),
        role_code: sit.record.role_code.clone(),
        mode: mode_label(&sit.record.practice_mode),
        exercise_name: format!(
            "{} {}",
            sit.exercise.exercise_first_name, sit.exercise.exercise_last_name
        ),
        start: format_date_fr(sit.record.start_date),
        end: date_fr(sit.record.end_date),
        end_reason: sit.end_reason.clone(),
        status: status_label(s.status),
        status_code: s.status,
        in_force: s.active,
        access_note,
        documents,
        closable: s.status != "closed",
        modify_open: !m_errors.errors.is_empty(),
        close_open: !c_errors.errors.is_empty(),
        modify_version: mf.version.clone(),
        last_name: Field::new(&m, "exercise_last_name", "Nom d'exercice", &mf.exercise_last_name)
            .errors(&m_errors),
        first_name: Field::new(&m, "exercise_first_name", "Prénom d'exercice", &mf.exercise_first_name)
            .errors(&m_errors),
        start_date: Field::new(&m, "start_date", "Date de prise de fonction", &mf.start_date)
            .hint("Au format JJ/MM/AAAA.")
            .errors(&m_errors),
        profession_field: ChoiceField::new(
            &m,
            "profession",
            "Profession",
            &mf.profession,
            profession_options(setting, &sit.exercise.profession_code),
        )
        .errors(&m_errors),
        role_field: ChoiceField::new(&m, "role", "Rôle RPPS+", &mf.role, role_options())
            .hint("Le rôle décide des types de documents du patient que le professionnel peut consulter.")
            .errors(&m_errors),
        mode_field: ChoiceField::new(&m, "practice_mode", "Mode d'exercice", &mf.practice_mode, mode_options())
            .errors(&m_errors),
        establishment_field: ChoiceField::new(
            &m,
            "establishment_finess",
            "Établissement",
            &mf.establishment_finess,
            site_options,
        )
        .errors(&m_errors),
        close_version: cf.version.clone(),
        end_date: Field::new(&c, "end_date", "Dernier jour d'activité", &cf.end_date)
            .hint("Au format JJ/MM/AAAA. La date du jour ou une date passée retire les accès immédiatement ; une date future est le dernier jour d'activité : les accès restent ouverts jusqu'à la fin de ce jour (heure de Paris).")
            .errors(&c_errors),
        close_reason: Field::new(&c, "reason", "Motif de fin", &cf.reason)
            .hint("Par exemple : fin de contrat, démission, départ à la retraite, mutation.")
            .errors(&c_errors),
    }
}

/// The version a form was based on; an unreadable one is treated as outdated (0).
fn version_of(raw: &str) -> i64 {
    raw.trim().parse().unwrap_or(0)
}

const STALE: &str = "Cette fiche a été modifiée entre-temps par quelqu'un d'autre : rien n'a été enregistré. Les informations affichées sont les données à jour ; vérifiez-les et recommencez si besoin.";

/// What to show after a refused change: field errors on the form sent (values kept), an
/// outdated version or another conflict in the banner (with the current data).
async fn refused(
    state: &AppState,
    viewer: &Viewer,
    signed_in: &SignedIn,
    rpps: &str,
    e: AppError,
    sent: impl FnOnce(FormErrors) -> Sent,
    prefix: &str,
) -> Response {
    match e {
        AppError::Invalid(problems) => {
            let errors = prefixed_errors(&problems, prefix);
            professional_page(
                state,
                viewer,
                signed_in,
                rpps,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                None,
                sent(errors),
            )
            .await
        }
        AppError::Conflict { code, message } => {
            let problem = if code == "stale_version" {
                STALE.to_owned()
            } else {
                message
            };
            professional_page(
                state,
                viewer,
                signed_in,
                rpps,
                StatusCode::CONFLICT,
                None,
                Some(problem),
                Sent::Nothing,
            )
            .await
        }
        other => WebError::from_app(other, viewer.layout(state, "structures")).into_response(),
    }
}

/// Modifies a situation.
pub async fn modify(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Path((rpps, id)): Path<(String, i64)>,
    Form(form): Form<ModifyForm>,
) -> Response {
    let signed_in = match require_signed_in_form(&state, &viewer, &headers, &form.csrf) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let id = SituationId(id);
    // Only what the form changes is sent: an unchanged profession stays valid even if its
    // code was retired since, and an unchanged establishment is not checked again.
    let current = match state.app.situation_view(&signed_in.actor, id).await {
        Ok(v) => v,
        Err(e) => {
            return WebError::from_app(e, viewer.layout(&state, "structures")).into_response();
        }
    };
    let s = &current.situation;
    let changed = |new: &str, old: &str| {
        let new = new.trim();
        (new != old).then(|| new.to_owned())
    };
    let start = match rppsplus_domain::validation::parse_date_input(form.start_date.trim()) {
        Some(d) if d == s.record.start_date => None,
        _ => Some(form.start_date.trim().to_owned()),
    };
    let patch = SituationPatch {
        exercise_last_name: changed(&form.exercise_last_name, &s.exercise.exercise_last_name),
        exercise_first_name: changed(&form.exercise_first_name, &s.exercise.exercise_first_name),
        establishment_finess: changed(
            &form.establishment_finess,
            current.structure_finess.as_str(),
        ),
        start_date: start,
        end_date: None,
        profession: changed(&form.profession, &s.exercise.profession_code),
        role: changed(&form.role, &s.record.role_code),
        practice_mode: changed(&form.practice_mode, &s.record.practice_mode),
    };
    match state
        .app
        .modify_situation(&signed_in.actor, id, version_of(&form.version), patch)
        .await
    {
        Ok(_) => Redirect::to(&format!(
            "/professionnels/{rpps}?ok=modifiee#situation-{}",
            id.0
        ))
        .into_response(),
        Err(e) => {
            let prefix = format!("modifier-{}", id.0);
            refused(
                &state,
                &viewer,
                &signed_in,
                &rpps,
                e,
                |errors| Sent::Modify(id, form, errors),
                &prefix,
            )
            .await
        }
    }
}

/// Closes a situation, at once or on a future last day.
pub async fn close(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Path((rpps, id)): Path<(String, i64)>,
    Form(form): Form<CloseForm>,
) -> Response {
    let signed_in = match require_signed_in_form(&state, &viewer, &headers, &form.csrf) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let id = SituationId(id);
    match state
        .app
        .close_situation_with_reason(
            &signed_in.actor,
            id,
            Some(version_of(&form.version)),
            Some(form.end_date.as_str()),
            Some(form.reason.as_str()),
        )
        .await
    {
        Ok(v) => {
            let ok = if v.status == "scheduled_closure" {
                "programmee"
            } else {
                "close"
            };
            Redirect::to(&format!(
                "/professionnels/{rpps}?ok={ok}#situation-{}",
                id.0
            ))
            .into_response()
        }
        Err(e) => {
            let prefix = format!("cloturer-{}", id.0);
            refused(
                &state,
                &viewer,
                &signed_in,
                &rpps,
                e,
                |errors| Sent::Close(id, form, errors),
                &prefix,
            )
            .await
        }
    }
}

/// The use case names the identity's fields by their path; the form by its inputs.
fn identity_field_errors(problems: &[FieldError]) -> FormErrors {
    let renamed: Vec<FieldError> = problems
        .iter()
        .map(|p| {
            let field = match p.field.as_str() {
                "identity.first_names" | "identity.first_names[0]" => "first_name_1",
                "identity.first_names[1]" => "first_name_2",
                "identity.first_names[2]" => "first_name_3",
                "identity.id_document.type" | "identity.id_document.kind" => "id_document_type",
                "identity.id_document.number" => "id_document_number",
                "identity.id_document.expires_on" | "identity.id_document.expiry_date" => {
                    "id_document_expires_on"
                }
                other => other.strip_prefix("identity.").unwrap_or(other),
            };
            FieldError::new(field, p.code, p.message.clone())
        })
        .collect();
    prefixed_errors(&renamed, "identite")
}

/// Corrects the civil identity (reason required).
pub async fn correct_identity(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Path(rpps): Path<String>,
    Form(form): Form<IdentityForm>,
) -> Response {
    let signed_in = match require_signed_in_form(&state, &viewer, &headers, &form.csrf) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let raw = RawCivilIdentity {
        civility: some(&form.civility),
        sex: some(&form.sex),
        birth_name: some(&form.birth_name),
        usage_name: some(&form.usage_name),
        first_names: [&form.first_name_1, &form.first_name_2, &form.first_name_3]
            .into_iter()
            .filter_map(|f| some(f))
            .collect(),
        birth_date: some(&form.birth_date),
        birth_country: some(&form.birth_country),
        birth_commune: some(&form.birth_commune),
        id_document: RawIdDocument {
            kind: some(&form.id_document_type),
            number: some(&form.id_document_number),
            expiry_date: some(&form.id_document_expires_on),
        },
    };
    match state
        .app
        .correct_identity(
            &signed_in.actor,
            &rpps,
            version_of(&form.version),
            &raw,
            Some(form.reason.as_str()),
        )
        .await
    {
        Ok(_) => {
            Redirect::to(&format!("/professionnels/{rpps}?ok=identite#identite")).into_response()
        }
        Err(AppError::Invalid(problems)) => {
            let errors = identity_field_errors(&problems);
            professional_page(
                &state,
                &viewer,
                &signed_in,
                &rpps,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                None,
                Sent::Identity(form, errors),
            )
            .await
        }
        Err(e) => {
            refused(
                &state,
                &viewer,
                &signed_in,
                &rpps,
                e,
                |_| Sent::Nothing,
                "identite",
            )
            .await
        }
    }
}

/// Changes the contact (e-mail, mobile).
pub async fn change_contact(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Path(rpps): Path<String>,
    Form(form): Form<ContactForm>,
) -> Response {
    let signed_in = match require_signed_in_form(&state, &viewer, &headers, &form.csrf) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    match state
        .app
        .change_contact(
            &signed_in.actor,
            &rpps,
            version_of(&form.version),
            Some(form.email.as_str()),
            Some(form.mobile.as_str()),
        )
        .await
    {
        Ok(_) => {
            Redirect::to(&format!("/professionnels/{rpps}?ok=contact#coordonnees")).into_response()
        }
        Err(AppError::Invalid(problems)) => {
            // `contact.email` → `contact-email`: the form's prefix is the path's.
            let errors = FormErrors::from_fields(&problems);
            professional_page(
                &state,
                &viewer,
                &signed_in,
                &rpps,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                None,
                Sent::Contact(form, errors),
            )
            .await
        }
        Err(e) => {
            refused(
                &state,
                &viewer,
                &signed_in,
                &rpps,
                e,
                |_| Sent::Nothing,
                "contact",
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_neutralised() {
        assert_eq!(csv_cell("Dupont"), "Dupont");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+33 6"), "'+33 6");
        assert_eq!(csv_cell("-1"), "'-1");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("\tx"), "'\tx");
        assert_eq!(csv_cell("a;b"), "\"a;b\"");
        assert_eq!(csv_cell("l'été"), "l'été");
        assert_eq!(csv_cell("deux\nlignes"), "\"deux\nlignes\"");
        assert_eq!(csv_cell(""), "");
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode_query_value("Le Goff"), "Le+Goff");
        assert_eq!(encode_query_value("é&=#"), "%C3%A9%26%3D%23");
        let p = ListParams {
            statut: "active".into(),
            nom: "a b".into(),
            ..ListParams::default()
        };
        assert_eq!(p.query(), "statut=active&nom=a+b");
    }
}
