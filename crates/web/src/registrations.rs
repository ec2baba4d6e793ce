//! "Enregistrer un professionnel": the registration wizard of the manager's pages.
//!
//! Search before create, then the three steps (état civil, contact, exercice) and the
//! confirmation, each a plain HTML form checked on the server; what is typed is kept in a
//! server-side draft between steps (`rppsplus_app::drafts`), so the pages work without
//! JavaScript and can be resumed. The état-civil form is `multipart/form-data` for the optional
//! scan of the identity document: its route reads its own body (see [`upload_routes`]) so that
//! a file too large gets a French page rather than a bare 413.

use askama::Template;
use axum::Extension;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Form, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use rppsplus_app::drafts::{Confirmed, DraftData, DraftView, MAX_SCAN_BYTES, Step};
use rppsplus_app::registrations::{Candidate, RawExercise, SearchQuery};
use rppsplus_app::sessions::SignedIn;
use rppsplus_app::{AppError, FieldError};
use rppsplus_domain::RawCivilIdentity;
use rppsplus_domain::reference::{EligibilityStatus, Setting, TableId, tables};
use rppsplus_store::{DraftId, IdentityDocument, IdentityDocumentId, Structure};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Viewer, check_csrf, check_origin, require_sign_in, require_signed_in_form};
use crate::error::{WebError, render};
use crate::pages::{FormErrors, Layout};

/// The section of the navigation these pages belong to.
const SECTION: &str = "registrations";

/// How many prénoms the état-civil form offers.
const FIRST_NAME_INPUTS: usize = 4;

/// Past this many bytes, the upload is no longer read: the browser is answered at once (and
/// the connection closed). Below it, the whole body is read, so that the browser shows the
/// French message about the size.
const UPLOAD_READ_LIMIT: u64 = 64 * 1024 * 1024;

/// Largest text field of the état-civil form.
const TEXT_FIELD_LIMIT: usize = 4 * 1024;

/// The routes of the wizard but the état-civil form's POST (see [`upload_routes`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/enregistrements", get(drafts_page))
        .route("/enregistrements/recherche", get(search_page))
        .route("/enregistrements/nouveau", post(start_new))
        .route("/enregistrements/reprise", post(start_reuse))
        .route("/enregistrements/{draft}/etat-civil", get(identity_page))
        .route(
            "/enregistrements/{draft}/contact",
            get(contact_page).post(save_contact),
        )
        .route(
            "/enregistrements/{draft}/exercice",
            get(exercise_page).post(save_exercise),
        )
        .route(
            "/enregistrements/{draft}/confirmation",
            get(confirmation_page).post(confirm),
        )
        .route("/enregistrements/{draft}/suppression", post(delete_draft))
        .route("/enregistrements/{draft}/piece", get(draft_scan))
        .route("/pieces-identite/{id}", get(person_scan))
}

/// The état-civil form's POST, which carries the scan: it reads its own body, with its own
/// limit, and must be merged outside the global body limit. Like pages, it sees who is signed in.
pub fn upload_routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/enregistrements/{draft}/etat-civil", post(save_identity))
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(
            state,
            crate::auth::resolve_session,
        ))
}

// ---------------------------------------------------------------------------------------------
// Views shared by the pages.

/// One input of a form, with its value and error (`registration_field.html`), shared with the
/// self-registration page.
pub(crate) struct FieldView {
    /// HTML id: the field's path with `-` (`identity-birth_name`), as error summaries link.
    pub(crate) id: String,
    pub(crate) name: &'static str,
    pub(crate) label: String,
    pub(crate) hint: Option<String>,
    pub(crate) value: String,
    pub(crate) error: Option<String>,
    /// `text`, `email`, `tel`, `date`, `select`, `radio`, `file`.
    pub(crate) kind: &'static str,
    pub(crate) options: Vec<(String, String)>,
    pub(crate) autocomplete: &'static str,
    pub(crate) required: bool,
}

impl FieldView {
    pub(crate) fn new(
        id: &str,
        name: &'static str,
        label: &str,
        value: Option<&str>,
        errors: &FormErrors,
    ) -> Self {
        FieldView {
            id: id.to_owned(),
            name,
            label: label.to_owned(),
            hint: None,
            value: value.unwrap_or_default().to_owned(),
            error: errors.error_for(id).map(str::to_owned),
            kind: "text",
            options: Vec::new(),
            autocomplete: "off",
            required: true,
        }
    }

    pub(crate) fn hint(mut self, hint: &str) -> Self {
        self.hint = Some(hint.to_owned());
        self
    }

    pub(crate) fn kind(mut self, kind: &'static str) -> Self {
        self.kind = kind;
        self
    }

    pub(crate) fn options(mut self, options: Vec<(String, String)>) -> Self {
        self.options = options;
        self
    }

    pub(crate) fn optional(mut self) -> Self {
        self.required = false;
        self
    }

    pub(crate) fn autocomplete(mut self, value: &'static str) -> Self {
        self.autocomplete = value;
        self
    }

    /// The ids the input is described by (hint, error).
    pub(crate) fn described_by(&self) -> String {
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

/// One step in the list of steps at the top of the wizard's pages.
struct StepLink {
    number: usize,
    label: &'static str,
    href: Option<String>,
    current: bool,
}

fn step_label(step: Step) -> &'static str {
    match step {
        Step::Identity => "État civil",
        Step::Contact => "Contact",
        Step::Exercise => "Exercice",
        Step::Confirmation => "Confirmation",
    }
}

fn step_path(step: Step) -> &'static str {
    match step {
        Step::Identity => "etat-civil",
        Step::Contact => "contact",
        Step::Exercise => "exercice",
        Step::Confirmation => "confirmation",
    }
}

fn step_url(id: DraftId, step: Step) -> String {
    format!("/enregistrements/{}/{}", id.0, step_path(step))
}

fn step_links(draft: &DraftView, current: Step) -> Vec<StepLink> {
    draft
        .data
        .steps()
        .into_iter()
        .enumerate()
        .map(|(i, s)| StepLink {
            number: i + 1,
            label: step_label(s),
            href: (s <= draft.reached && s != current).then(|| step_url(draft.id, s)),
            current: s == current,
        })
        .collect()
}

fn date_fr(at: jiff::Timestamp) -> String {
    let tz = jiff::tz::TimeZone::get("Europe/Paris").unwrap_or(jiff::tz::TimeZone::UTC);
    let z = at.to_zoned(tz);
    format!(
        "{} à {:02}h{:02}",
        rppsplus_domain::validation::format_date_fr(z.date()),
        z.hour(),
        z.minute()
    )
}

fn text(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

fn error_page(state: &AppState, viewer: &Viewer, e: AppError) -> Response {
    WebError::from_app(e, viewer.layout(state, SECTION)).into_response()
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

// ---------------------------------------------------------------------------------------------
// Drafts.

struct DraftRow {
    id: i64,
    who: String,
    step: &'static str,
    resume: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "registration_drafts.html")]
struct DraftsPage {
    layout: Layout,
    rows: Vec<DraftRow>,
    notice: Option<&'static str>,
}

/// Messages after a redirect.
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    ok: Option<String>,
}

fn who_of(data: &DraftData) -> String {
    if let Some(r) = &data.reused {
        return r.label.clone();
    }
    let i = &data.registration.identity;
    let name = [
        i.first_names.first().cloned().unwrap_or_default(),
        i.usage_name
            .clone()
            .filter(|s| !s.trim().is_empty())
            .or_else(|| i.birth_name.clone())
            .unwrap_or_default(),
    ]
    .join(" ");
    let name = name.trim().to_owned();
    if name.is_empty() {
        "Identité à saisir".to_owned()
    } else {
        name
    }
}

/// The drafts of the signed-in manager, and the way to start a registration.
pub async fn drafts_page(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Query(done): Query<Done>,
) -> Response {
    let signed_in = match require_sign_in(&viewer) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    match state.app.my_drafts(&signed_in.actor).await {
        Ok(drafts) => {
            let rows = drafts
                .iter()
                .map(|d| DraftRow {
                    id: d.id.0,
                    who: who_of(&d.data),
                    step: step_label(d.reached),
                    resume: step_url(d.id, d.reached),
                    updated: date_fr(d.updated_at),
                })
                .collect();
            let notice = match done.ok.as_deref() {
                Some("supprime") => Some("Le brouillon a été supprimé."),
                _ => None,
            };
            render(
                StatusCode::OK,
                &DraftsPage {
                    layout: viewer.layout(&state, SECTION),
                    rows,
                    notice,
                },
            )
        }
        Err(e) => error_page(&state, &viewer, e),
    }
}

/// Deletes a draft of the signed-in manager.
pub async fn delete_draft(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<crate::auth::CsrfForm>,
) -> Response {
    let signed_in = match require_signed_in_form(&state, &viewer, &headers, form.token()) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    match state.app.delete_draft(&signed_in.actor, DraftId(id)).await {
        Ok(()) => see_other("/enregistrements?ok=supprime"),
        Err(e) => error_page(&state, &viewer, e),
    }
}

// ---------------------------------------------------------------------------------------------
// Search before create.

/// The search form, as sent (a GET form: a search changes nothing).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct SearchForm {
    #[serde(default)]
    rpps: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    birth_date: String,
}

impl SearchForm {
    fn is_empty(&self) -> bool {
        [&self.rpps, &self.name, &self.first_name, &self.birth_date]
            .iter()
            .all(|s| s.trim().is_empty())
    }

    fn by_rpps(&self) -> bool {
        !self.rpps.trim().is_empty()
    }

    fn query(&self) -> SearchQuery {
        SearchQuery {
            rpps: text(&self.rpps),
            name: text(&self.name),
            first_name: text(&self.first_name),
            birth_date: text(&self.birth_date),
        }
    }
}

struct CandidateRow {
    masked: bool,
    /// The full number, when the manager may see it (in scope, or typed by them).
    rpps: Option<String>,
    shown_rpps: String,
    name: String,
    birth: String,
}

#[derive(Template)]
#[template(path = "registration_search.html")]
struct SearchPage {
    layout: Layout,
    form: FormErrors,
    search: SearchForm,
    searched: bool,
    by_rpps: bool,
    candidates: Vec<CandidateRow>,
    confirm: bool,
    reason: String,
    /// Whether a masked candidate is listed without its number: the manager types it.
    masked_reuse: bool,
    /// The number typed in the "reuse a masked person" form.
    reuse_rpps: String,
}

fn candidate_rows(found: &[Candidate], typed_rpps: Option<&str>) -> Vec<CandidateRow> {
    found
        .iter()
        .map(|c| CandidateRow {
            masked: c.masked,
            rpps: if c.masked {
                typed_rpps.map(str::to_owned)
            } else {
                Some(c.rpps.clone())
            },
            shown_rpps: c.rpps.clone(),
            name: format!("{} {}", c.first_names.join(" "), c.last_name),
            birth: match c.birth_date {
                Some(d) => format!(
                    "né(e) le {}",
                    rppsplus_domain::validation::format_date_fr(d)
                ),
                None => format!("né(e) en {}", c.birth_year),
            },
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
async fn search_page_with(
    state: &AppState,
    viewer: &Viewer,
    signed_in: &SignedIn,
    status: StatusCode,
    search: SearchForm,
    form: FormErrors,
    confirm: bool,
    reason: String,
    reuse_rpps: String,
) -> Response {
    let layout = viewer.layout(state, SECTION);
    // Only managers reach the wizard.
    if let Err(e) = state
        .app
        .registration_establishments(&signed_in.actor)
        .await
    {
        return WebError::from_app(e, layout).into_response();
    }
    let mut form = form;
    let mut candidates = Vec::new();
    let searched = !search.is_empty();
    if searched {
        match state
            .app
            .search_professionals(&signed_in.actor, &search.query())
            .await
        {
            Ok(found) => {
                let typed = search.by_rpps().then(|| search.rpps.trim().to_owned());
                candidates = candidate_rows(&found, typed.as_deref());
            }
            Err(e) => match FormErrors::from_app(&e) {
                Some(f) => {
                    form.errors.extend(f.errors);
                }
                None => return WebError::from_app(e, layout).into_response(),
            },
        }
    }
    let status = if form.errors.is_empty() {
        status
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    // The form for a number the manager types: for masked candidates, or to correct one.
    let masked_reuse =
        candidates.iter().any(|c| c.rpps.is_none()) || form.error_for("reuse-rpps").is_some();
    render(
        status,
        &SearchPage {
            layout,
            form,
            by_rpps: search.by_rpps(),
            search,
            searched,
            masked_reuse,
            candidates,
            confirm,
            reason,
            reuse_rpps,
        },
    )
}

/// Search before create: by RPPS number or by civil identity.
pub async fn search_page(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Query(search): Query<SearchForm>,
) -> Response {
    let signed_in = match require_sign_in(&viewer) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    search_page_with(
        &state,
        &viewer,
        &signed_in,
        StatusCode::OK,
        search,
        FormErrors::default(),
        false,
        String::new(),
        String::new(),
    )
    .await
}

/// "Créer une nouvelle personne" from the search results.
#[derive(Debug, Default, Deserialize)]
pub struct NewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    birth_date: String,
    #[serde(default)]
    confirm_new_person: Option<String>,
    #[serde(default)]
    confirm_reason: String,
}

/// Starts the registration of a new person.
pub async fn start_new(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Form(form): Form<NewForm>,
) -> Response {
    let signed_in = match require_signed_in_form(&state, &viewer, &headers, &form.csrf) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let search = SearchForm {
        rpps: String::new(),
        name: form.name.clone(),
        first_name: form.first_name.clone(),
        birth_date: form.birth_date.clone(),
    };
    let confirm = form.confirm_new_person.is_some();
    match state
        .app
        .start_new_registration(
            &signed_in.actor,
            &search.query(),
            confirm,
            Some(&form.confirm_reason),
        )
        .await
    {
        Ok(id) => see_other(&step_url(id, Step::Identity)),
        Err(e) => match FormErrors::from_app(&e) {
            Some(errors) => {
                search_page_with(
                    &state,
                    &viewer,
                    &signed_in,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    search,
                    errors,
                    confirm,
                    form.confirm_reason,
                    String::new(),
                )
                .await
            }
            None => error_page(&state, &viewer, e),
        },
    }
}

/// "Reprendre cette personne" from the search results.
#[derive(Debug, Default, Deserialize)]
pub struct ReuseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    rpps: String,
    /// The search the manager came from, to show it again after an error.
    #[serde(default)]
    name: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    birth_date: String,
    #[serde(default)]
    searched_rpps: String,
}

/// Starts a new situation for an existing person.
pub async fn start_reuse(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Form(form): Form<ReuseForm>,
) -> Response {
    let signed_in = match require_signed_in_form(&state, &viewer, &headers, &form.csrf) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    match state.app.start_reuse(&signed_in.actor, &form.rpps).await {
        Ok((id, step)) => see_other(&step_url(id, step)),
        Err(e) => match FormErrors::from_app(&e) {
            Some(errors) => {
                let search = SearchForm {
                    rpps: form.searched_rpps,
                    name: form.name,
                    first_name: form.first_name,
                    birth_date: form.birth_date,
                };
                let errors = FormErrors::prefixed(errors, "reuse");
                search_page_with(
                    &state,
                    &viewer,
                    &signed_in,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    search,
                    errors,
                    false,
                    String::new(),
                    form.rpps,
                )
                .await
            }
            None => error_page(&state, &viewer, e),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// The steps.

#[derive(Template)]
#[template(path = "registration_step.html")]
struct StepPage {
    layout: Layout,
    form: FormErrors,
    title: &'static str,
    intro: Option<String>,
    steps: Vec<StepLink>,
    action: String,
    multipart: bool,
    /// Groups of fields, each with an optional legend.
    groups: Vec<(Option<&'static str>, Vec<FieldView>)>,
    /// The first-name inputs (état civil only).
    first_names: Vec<FieldView>,
    first_names_error: Option<String>,
    /// A scan already attached (état civil only).
    scan: Option<ScanView>,
    /// A file was sent with a refused form: browsers do not keep it, it must be chosen again.
    scan_resend: bool,
    /// The RPPS+ roles with their meaning and document types (exercice only).
    roles: Vec<RoleView>,
    role_value: String,
    role_error: Option<String>,
    reused: Option<String>,
    back: Option<String>,
    submit: &'static str,
}

struct ScanView {
    media_type: String,
    size: String,
    href: String,
}

struct RoleView {
    code: String,
    label: String,
    description: Option<String>,
    documents: Vec<String>,
}

fn size_fr(bytes: i64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} Mo", bytes as f64 / (1024.0 * 1024.0)).replace('.', ",")
    } else {
        format!("{} ko", (bytes + 1023) / 1024)
    }
}

fn media_label(media_type: &str) -> String {
    match media_type {
        "application/pdf" => "PDF".to_owned(),
        "image/jpeg" => "image JPEG".to_owned(),
        "image/png" => "image PNG".to_owned(),
        other => other.to_owned(),
    }
}

fn code_options(table: impl Iterator<Item = (String, String)>) -> Vec<(String, String)> {
    let mut out = vec![(String::new(), "Choisir…".to_owned())];
    out.extend(table);
    out
}

fn identity_page_view(
    draft: &DraftView,
    identity: &RawCivilIdentity,
    errors: FormErrors,
) -> StepPage {
    let civilities = code_options(
        [("M", "Monsieur"), ("MME", "Madame")]
            .into_iter()
            .map(|(c, l)| (c.to_owned(), l.to_owned())),
    );
    let sexes = [("F", "Féminin"), ("M", "Masculin")]
        .into_iter()
        .map(|(c, l)| (c.to_owned(), l.to_owned()))
        .collect();
    let mut countries: Vec<(String, String)> = rppsplus_domain::reference::cog()
        .map(|cog| {
            cog.countries()
                .iter()
                .filter(|c| c.status != rppsplus_domain::reference::CountryStatus::Retired)
                .map(|c| (c.code.clone(), c.label.clone()))
                .collect()
        })
        .unwrap_or_default();
    countries.sort_by(|a, b| {
        (a.0 != "99100")
            .cmp(&(b.0 != "99100"))
            .then_with(|| a.1.cmp(&b.1))
    });
    let documents = code_options(
        [
            ("CNI", "Carte nationale d'identité"),
            ("PASSEPORT", "Passeport"),
            ("TITRE_SEJOUR", "Titre de séjour"),
        ]
        .into_iter()
        .map(|(c, l)| (c.to_owned(), l.to_owned())),
    );
    let e = &errors;
    let civil = vec![
        FieldView::new(
            "identity-civility",
            "civility",
            "Civilité",
            identity.civility.as_deref(),
            e,
        )
        .kind("select")
        .options(civilities),
        FieldView::new(
            "identity-sex",
            "sex",
            "Sexe (à l'état civil)",
            identity.sex.as_deref(),
            e,
        )
        .kind("radio")
        .options(sexes),
        FieldView::new(
            "identity-birth_name",
            "birth_name",
            "Nom de naissance",
            identity.birth_name.as_deref(),
            e,
        )
        .hint("Tel qu'il figure sur la pièce d'identité.")
        .autocomplete("family-name"),
        FieldView::new(
            "identity-usage_name",
            "usage_name",
            "Nom d'usage (facultatif)",
            identity.usage_name.as_deref(),
            e,
        )
        .hint("Par exemple le nom d'époux ou d'épouse, s'il est utilisé.")
        .optional(),
    ];
    let first_names = (0..FIRST_NAME_INPUTS)
        .map(|i| {
            let mut f = FieldView::new(
                &format!("identity-first_names-{i}"),
                "first_names",
                &if i == 0 {
                    "Premier prénom".to_owned()
                } else {
                    format!("Prénom {} (facultatif)", i + 1)
                },
                identity.first_names.get(i).map(String::as_str),
                e,
            );
            if i > 0 {
                f = f.optional();
            } else {
                f = f.autocomplete("given-name");
            }
            f
        })
        .collect();
    let birth = vec![
        FieldView::new(
            "identity-birth_date",
            "birth_date",
            "Date de naissance",
            identity.birth_date.as_deref(),
            e,
        )
        .kind("date")
        .hint("Au format JJ/MM/AAAA.")
        .autocomplete("bday"),
        FieldView::new(
            "identity-birth_country",
            "birth_country",
            "Pays de naissance",
            identity.birth_country.as_deref(),
            e,
        )
        .kind("select")
        .options(countries),
        FieldView::new(
            "identity-birth_commune",
            "birth_commune",
            "Commune de naissance (si né·e en France)",
            identity.birth_commune.as_deref(),
            e,
        )
        .hint("Obligatoire pour une naissance en France : son nom tel qu'écrit sur l'acte de naissance (par exemple Lyon), ou son code INSEE si plusieurs communes portent ce nom (par exemple 69123).")
        .optional(),
    ];
    let doc = &identity.id_document;
    let document = vec![
        FieldView::new(
            "identity-id_document-type",
            "id_type",
            "Type de pièce d'identité",
            doc.kind.as_deref(),
            e,
        )
        .kind("select")
        .options(documents),
        FieldView::new(
            "identity-id_document-number",
            "id_number",
            "Numéro de la pièce",
            doc.number.as_deref(),
            e,
        ),
        FieldView::new(
            "identity-id_document-expires_on",
            "id_expiry",
            "Date de fin de validité",
            doc.expiry_date.as_deref(),
            e,
        )
        .kind("date")
        .hint("Au format JJ/MM/AAAA, telle qu'imprimée sur la pièce."),
        FieldView::new(
            "identity-scan",
            "scan",
            "Copie de la pièce d'identité (facultative)",
            None,
            e,
        )
        .kind("file")
        .hint("PDF, JPEG ou PNG, 5 Mo au plus. Elle reste privée : seuls les gestionnaires du professionnel peuvent la consulter.")
        .optional(),
    ];
    let first_names_error = e.error_for("identity-first_names").map(str::to_owned);
    StepPage {
        title: "État civil",
        intro: Some(
            "Saisissez l'identité telle qu'elle figure sur la pièce d'identité.".to_owned(),
        ),
        steps: step_links(draft, Step::Identity),
        action: step_url(draft.id, Step::Identity),
        multipart: true,
        groups: vec![
            (None, civil),
            (Some("Naissance"), birth),
            (Some("Pièce d'identité"), document),
        ],
        first_names,
        first_names_error,
        scan: draft.scan.as_ref().map(|s| ScanView {
            media_type: media_label(&s.media_type),
            size: size_fr(s.size),
            href: format!("/enregistrements/{}/piece", draft.id.0),
        }),
        scan_resend: false,
        roles: Vec::new(),
        role_value: String::new(),
        role_error: None,
        reused: draft.data.reused.as_ref().map(|r| r.label.clone()),
        back: None,
        submit: "Enregistrer et continuer",
        layout: Layout::default(),
        form: errors,
    }
}

fn contact_page_view(
    draft: &DraftView,
    email: Option<&str>,
    mobile: Option<&str>,
    errors: FormErrors,
) -> StepPage {
    let e = &errors;
    let fields = vec![
        FieldView::new("contact-email", "email", "Adresse e-mail personnelle", email, e)
            .kind("email")
            .hint("Le numéro RPPS y est envoyé, puis l'invitation à activer la e-CPS. Chaque professionnel a sa propre adresse.")
            .autocomplete("email")
            .optional(),
        FieldView::new("contact-mobile", "mobile", "Téléphone mobile", mobile, e)
            .kind("tel")
            .hint("Un mobile français ou d'outre-mer, par exemple 06 12 34 56 78 ou +262 692 12 34 56.")
            .autocomplete("tel")
            .optional(),
    ];
    StepPage {
        title: "Contact",
        intro: Some(
            "Les coordonnées personnelles du professionnel (pas celles de l'établissement)."
                .to_owned(),
        ),
        steps: step_links(draft, Step::Contact),
        action: step_url(draft.id, Step::Contact),
        multipart: false,
        groups: vec![(None, fields)],
        first_names: Vec::new(),
        first_names_error: None,
        scan: None,
        scan_resend: false,
        roles: Vec::new(),
        role_value: String::new(),
        role_error: None,
        reused: None,
        back: Some(step_url(draft.id, Step::Identity)),
        submit: "Enregistrer et continuer",
        layout: Layout::default(),
        form: errors,
    }
}

/// The professions a manager may choose, by the settings of their establishments: the active
/// TRE_R85 codes of the eligibility list.
fn profession_options(establishments: &[Structure]) -> Vec<(String, String)> {
    let mut out = vec![(String::new(), "Choisir…".to_owned())];
    let Ok(t) = tables() else { return out };
    let mut settings: Vec<Setting> = establishments
        .iter()
        .filter_map(|s| s.record.setting.as_deref().and_then(Setting::parse))
        .collect();
    settings.sort_by_key(|s| s.code());
    settings.dedup();
    let mut seen: Vec<String> = Vec::new();
    for setting in settings {
        for line in t.eligibility.for_setting(setting) {
            if line.table != TableId::R85
                || line.status != EligibilityStatus::Active
                || seen.contains(&line.code)
            {
                continue;
            }
            let label = t
                .professions
                .r85(&line.code)
                .map(|p| p.enreg_label.clone().unwrap_or_else(|| p.label.clone()))
                .unwrap_or_else(|| line.label_in_seed.clone());
            seen.push(line.code.clone());
            out.push((line.code.clone(), format!("{label} ({})", line.code)));
        }
    }
    out[1..].sort_by(|a, b| a.1.cmp(&b.1));
    out
}

fn role_views() -> Vec<RoleView> {
    let Ok(t) = tables() else { return Vec::new() };
    t.roles
        .rpps_plus_roles()
        .map(|r| RoleView {
            code: r.code.clone(),
            label: r.label.clone(),
            description: r.seed_label.clone().filter(|s| {
                rppsplus_domain::matching_key(s) != rppsplus_domain::matching_key(&r.label)
            }),
            documents: rppsplus_domain::documents_for_role(&r.code)
                .iter()
                .map(|d| d.document_label_in_seed.clone())
                .collect(),
        })
        .collect()
}

fn exercise_page_view(
    draft: &DraftView,
    exercise: &RawExercise,
    establishments: &[Structure],
    errors: FormErrors,
) -> StepPage {
    let e = &errors;
    let identity = &draft.data.registration.identity;
    // Prefilled from the état civil: the nom d'usage (else de naissance) and the first prénom.
    let last_default = identity
        .usage_name
        .clone()
        .filter(|s| !s.trim().is_empty())
        .or_else(|| identity.birth_name.clone());
    let first_default = identity.first_names.first().cloned();
    let last = exercise.exercise_last_name.clone().or(last_default);
    let first = exercise.exercise_first_name.clone().or(first_default);
    let mut sites = vec![(String::new(), "Choisir…".to_owned())];
    sites.extend(establishments.iter().map(|s| {
        (
            s.record.finess.to_string(),
            format!("{} — FINESS {}", s.record.name, s.record.finess),
        )
    }));
    let finess = exercise
        .establishment_finess
        .clone()
        .or_else(|| match establishments {
            [only] => Some(only.record.finess.to_string()),
            _ => None,
        });
    let modes = tables()
        .map(|t| {
            ["S", "L", "B"]
                .iter()
                .filter_map(|c| t.exercise_modes.get(c))
                .map(|m| (m.code.clone(), m.label.clone()))
                .collect()
        })
        .unwrap_or_default();
    let fields = vec![
        FieldView::new(
            "exercise-exercise_last_name",
            "exercise_last_name",
            "Nom d'exercice",
            last.as_deref(),
            e,
        )
        .hint("Le nom sous lequel le professionnel exerce ; repris de l'état civil."),
        FieldView::new(
            "exercise-exercise_first_name",
            "exercise_first_name",
            "Prénom d'exercice",
            first.as_deref(),
            e,
        ),
        FieldView::new(
            "exercise-establishment_finess",
            "establishment_finess",
            "Établissement",
            finess.as_deref(),
            e,
        )
        .kind("select")
        .options(sites)
        .hint("Un établissement sur lequel vous êtes habilité."),
        FieldView::new(
            "exercise-start_date",
            "start_date",
            "Date de prise de fonction",
            exercise.start_date.as_deref(),
            e,
        )
        .kind("date")
        .hint("Au format JJ/MM/AAAA."),
        FieldView::new(
            "exercise-profession",
            "profession",
            "Profession",
            exercise.profession.as_deref(),
            e,
        )
        .kind("select")
        .options(profession_options(establishments))
        .hint("Les professions que l'on peut enregistrer dans vos établissements (nomenclature TRE_R85). Le choix est vérifié pour l'établissement retenu."),
        FieldView::new(
            "exercise-practice_mode",
            "practice_mode",
            "Mode d'exercice",
            exercise.practice_mode.as_deref().or(Some("S")),
            e,
        )
        .kind("radio")
        .options(modes),
    ];
    StepPage {
        title: "Exercice",
        intro: None,
        steps: step_links(draft, Step::Exercise),
        action: step_url(draft.id, Step::Exercise),
        multipart: false,
        groups: vec![(None, fields)],
        first_names: Vec::new(),
        first_names_error: None,
        scan: None,
        scan_resend: false,
        roles: role_views(),
        role_value: exercise.role.clone().unwrap_or_default(),
        role_error: e.error_for("exercise-role").map(str::to_owned),
        reused: draft.data.reused.as_ref().map(|r| r.label.clone()),
        back: draft
            .data
            .steps()
            .into_iter()
            .take_while(|s| *s != Step::Exercise)
            .last()
            .map(|s| step_url(draft.id, s)),
        submit: "Enregistrer et continuer",
        layout: Layout::default(),
        form: errors,
    }
}

/// Renders a step page (for GET, or again with the errors of a POST).
#[allow(clippy::too_many_arguments)]
async fn step_page(
    state: &AppState,
    viewer: &Viewer,
    signed_in: &SignedIn,
    draft: &DraftView,
    step: Step,
    status: StatusCode,
    errors: FormErrors,
    overlay: Option<&DraftData>,
    scan_resend: bool,
) -> Response {
    let data = overlay.unwrap_or(&draft.data);
    let r = &data.registration;
    let mut page = match step {
        Step::Identity => identity_page_view(draft, &r.identity, errors),
        Step::Contact => contact_page_view(draft, r.email.as_deref(), r.mobile.as_deref(), errors),
        Step::Exercise => {
            let establishments = match state
                .app
                .registration_establishments(&signed_in.actor)
                .await
            {
                Ok(e) => e,
                Err(e) => return error_page(state, viewer, e),
            };
            exercise_page_view(draft, &r.exercise, &establishments, errors)
        }
        Step::Confirmation => {
            return confirmation_view(
                state,
                viewer,
                signed_in,
                draft,
                status,
                errors,
                Vec::new(),
                None,
            )
            .await;
        }
    };
    page.layout = viewer.layout(state, SECTION);
    page.scan_resend = scan_resend;
    let status = if page.form.errors.is_empty() {
        status
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render(status, &page)
}

/// Loads the draft for a step page; sends the browser to the right step when this one is not
/// reachable yet (or not part of this draft).
async fn draft_for(
    state: &AppState,
    viewer: &Viewer,
    signed_in: &SignedIn,
    id: i64,
    step: Step,
) -> Result<DraftView, Response> {
    let draft = state
        .app
        .draft(&signed_in.actor, DraftId(id))
        .await
        .map_err(|e| error_page(state, viewer, e))?;
    let steps = draft.data.steps();
    if !steps.contains(&step) {
        let first = steps.first().copied().unwrap_or(Step::Identity);
        return Err(see_other(&step_url(draft.id, first)));
    }
    if step > draft.reached {
        let at = steps
            .iter()
            .copied()
            .rfind(|s| *s <= draft.reached)
            .unwrap_or(Step::Identity);
        return Err(see_other(&step_url(draft.id, at)));
    }
    Ok(draft)
}

async fn show_step(state: AppState, viewer: Viewer, id: i64, step: Step) -> Response {
    let signed_in = match require_sign_in(&viewer) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let draft = match draft_for(&state, &viewer, &signed_in, id, step).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    step_page(
        &state,
        &viewer,
        &signed_in,
        &draft,
        step,
        StatusCode::OK,
        FormErrors::default(),
        None,
        false,
    )
    .await
}

/// Step 1: état civil.
pub async fn identity_page(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
) -> Response {
    show_step(state, viewer, id, Step::Identity).await
}

/// Step 2: contact.
pub async fn contact_page(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
) -> Response {
    show_step(state, viewer, id, Step::Contact).await
}

/// Step 3: exercice.
pub async fn exercise_page(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
) -> Response {
    show_step(state, viewer, id, Step::Exercise).await
}

/// After a step's form was refused: the same page with the values sent and the errors.
#[allow(clippy::too_many_arguments)]
async fn refused(
    state: &AppState,
    viewer: &Viewer,
    signed_in: &SignedIn,
    id: i64,
    step: Step,
    e: AppError,
    overlay: impl FnOnce(&mut DraftData),
    scan_resend: bool,
) -> Response {
    let Some(errors) = FormErrors::from_app(&e) else {
        return error_page(state, viewer, e);
    };
    let draft = match state.app.draft(&signed_in.actor, DraftId(id)).await {
        Ok(d) => d,
        Err(e) => return error_page(state, viewer, e),
    };
    let mut data = draft.data.clone();
    overlay(&mut data);
    step_page(
        state,
        viewer,
        signed_in,
        &draft,
        step,
        StatusCode::UNPROCESSABLE_ENTITY,
        errors,
        Some(&data),
        scan_resend,
    )
    .await
}

/// What the état-civil form sends, besides the scan.
#[derive(Debug, Default)]
struct IdentityForm {
    csrf: String,
    identity: RawCivilIdentity,
}

impl IdentityForm {
    fn set(&mut self, name: &str, value: String) {
        let i = &mut self.identity;
        let v = text(&value);
        match name {
            "csrf" => self.csrf = value,
            "civility" => i.civility = v,
            "sex" => i.sex = v,
            "birth_name" => i.birth_name = v,
            "usage_name" => i.usage_name = v,
            // Blank inputs keep their place: error paths name positions in this list.
            "first_names" => i.first_names.push(value.trim().to_owned()),
            "birth_date" => i.birth_date = v,
            "birth_country" => i.birth_country = v,
            "birth_commune" => i.birth_commune = v,
            "id_type" => i.id_document.kind = v,
            "id_number" => i.id_document.number = v,
            "id_expiry" => i.id_document.expiry_date = v,
            _ => {}
        }
    }
}

/// The scan as read: at most [`MAX_SCAN_BYTES`] + 1 bytes are kept, enough to tell that it
/// is too large.
enum ReadError {
    /// The body is not a form we can read.
    Malformed,
    /// Larger than [`UPLOAD_READ_LIMIT`].
    TooLarge,
}

async fn read_identity_form(
    mut multipart: Multipart,
) -> Result<(IdentityForm, Option<Vec<u8>>), ReadError> {
    let mut form = IdentityForm::default();
    let mut scan: Option<Vec<u8>> = None;
    let mut total: u64 = 0;
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|_| ReadError::Malformed)?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let is_file = name == "scan";
        let keep = if is_file {
            MAX_SCAN_BYTES + 1
        } else {
            TEXT_FIELD_LIMIT
        };
        let mut bytes: Vec<u8> = Vec::new();
        let has_file_name = field.file_name().is_some_and(|n| !n.is_empty());
        while let Some(chunk) = field.chunk().await.map_err(|_| ReadError::Malformed)? {
            total += chunk.len() as u64;
            if total > UPLOAD_READ_LIMIT {
                return Err(ReadError::TooLarge);
            }
            let room = keep.saturating_sub(bytes.len());
            bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        if is_file {
            // A file input left empty still sends a part, without file name nor content.
            if has_file_name || !bytes.is_empty() {
                scan = Some(bytes);
            }
        } else {
            form.set(&name, String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    Ok((form, scan))
}

fn too_large_page(state: &AppState, viewer: &Viewer) -> Response {
    WebError::from_app(
        AppError::invalid(
            rppsplus_app::drafts::SCAN_FIELD,
            "file_too_large",
            "Le fichier dépasse 5 Mo : réduisez sa taille (numérisation en 150 ppp, en noir et blanc ou en JPEG), revenez à la page précédente et envoyez-le à nouveau.",
        ),
        viewer.layout(state, SECTION),
    )
    .into_response()
}

/// Saves step 1 (multipart: the optional scan).
pub async fn save_identity(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    req: Request<Body>,
) -> Response {
    let signed_in = match require_sign_in(&viewer) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let headers = req.headers().clone();
    if let Err(r) = check_origin(&state, &headers) {
        return r.into_response();
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > UPLOAD_READ_LIMIT) {
        return too_large_page(&state, &viewer);
    }
    let multipart = match Multipart::from_request(req, &state).await {
        Ok(m) => m,
        Err(_) => {
            return error_page(
                &state,
                &viewer,
                AppError::invalid(
                    "form",
                    "invalid_form",
                    "Le formulaire n'a pas pu être lu : rechargez la page et recommencez.",
                ),
            );
        }
    };
    let (form, scan) = match read_identity_form(multipart).await {
        Ok(read) => read,
        Err(ReadError::TooLarge) => return too_large_page(&state, &viewer),
        Err(ReadError::Malformed) => {
            return error_page(
                &state,
                &viewer,
                AppError::invalid(
                    "form",
                    "invalid_form",
                    "Le formulaire n'a pas pu être lu : rechargez la page et recommencez.",
                ),
            );
        }
    };
    if let Err(r) = check_csrf(&state, &headers, &signed_in, &form.csrf) {
        return r.into_response();
    }
    let identity = form.identity;
    match state
        .app
        .save_identity(
            &signed_in.actor,
            DraftId(id),
            identity.clone(),
            scan.as_deref(),
        )
        .await
    {
        Ok(next) => see_other(&step_url(DraftId(id), next)),
        Err(e) => {
            let resend = scan.is_some();
            refused(
                &state,
                &viewer,
                &signed_in,
                id,
                Step::Identity,
                e,
                |d| d.registration.identity = identity,
                resend,
            )
            .await
        }
    }
}

/// The contact form.
#[derive(Debug, Default, Deserialize)]
pub struct ContactForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    mobile: String,
}

/// Saves step 2.
pub async fn save_contact(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<ContactForm>,
) -> Response {
    let signed_in = match require_signed_in_form(&state, &viewer, &headers, &form.csrf) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let (email, mobile) = (text(&form.email), text(&form.mobile));
    match state
        .app
        .save_contact(&signed_in.actor, DraftId(id), email.clone(), mobile.clone())
        .await
    {
        Ok(next) => see_other(&step_url(DraftId(id), next)),
        Err(e) => {
            refused(
                &state,
                &viewer,
                &signed_in,
                id,
                Step::Contact,
                e,
                |d| {
                    d.registration.email = email;
                    d.registration.mobile = mobile;
                },
                false,
            )
            .await
        }
    }
}

/// The exercise form.
#[derive(Debug, Default, Deserialize)]
pub struct ExerciseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    exercise_last_name: String,
    #[serde(default)]
    exercise_first_name: String,
    #[serde(default)]
    establishment_finess: String,
    #[serde(default)]
    start_date: String,
    #[serde(default)]
    profession: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    practice_mode: String,
}

/// Saves step 3.
pub async fn save_exercise(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<ExerciseForm>,
) -> Response {
    let signed_in = match require_signed_in_form(&state, &viewer, &headers, &form.csrf) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let exercise = RawExercise {
        exercise_last_name: text(&form.exercise_last_name),
        exercise_first_name: text(&form.exercise_first_name),
        establishment_finess: text(&form.establishment_finess),
        start_date: text(&form.start_date),
        profession: text(&form.profession),
        role: text(&form.role),
        practice_mode: text(&form.practice_mode),
    };
    match state
        .app
        .save_exercise(&signed_in.actor, DraftId(id), exercise.clone())
        .await
    {
        Ok(next) => see_other(&step_url(DraftId(id), next)),
        Err(e) => {
            refused(
                &state,
                &viewer,
                &signed_in,
                id,
                Step::Exercise,
                e,
                |d| {
                    d.registration.exercise = exercise;
                },
                false,
            )
            .await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Confirmation.

#[derive(Template)]
#[template(path = "registration_confirmation.html")]
struct ConfirmationPage {
    layout: Layout,
    form: FormErrors,
    steps: Vec<StepLink>,
    draft_id: i64,
    sections: Vec<RecapSection>,
    scan: Option<ScanView>,
    candidates: Vec<CandidateRow>,
    reason: String,
    reused: Option<String>,
}

struct RecapSection {
    title: &'static str,
    edit: Option<String>,
    rows: Vec<(&'static str, String)>,
}

fn label_of(options: &[(String, String)], code: Option<&str>) -> String {
    let code = code.unwrap_or_default();
    options
        .iter()
        .find(|(c, _)| c == code)
        .map(|(_, l)| l.clone())
        .unwrap_or_else(|| code.to_owned())
}

fn or_dash(s: Option<&str>) -> String {
    s.filter(|s| !s.trim().is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| "—".to_owned())
}

fn date_text(s: Option<&str>) -> String {
    match s.and_then(rppsplus_domain::validation::parse_date_input) {
        Some(d) => rppsplus_domain::validation::format_date_fr(d),
        None => or_dash(s),
    }
}

fn recap(draft: &DraftView, establishments: &[Structure]) -> Vec<RecapSection> {
    let r = &draft.data.registration;
    let i = &r.identity;
    let steps = draft.data.steps();
    let edit = |s: Step| steps.contains(&s).then(|| step_url(draft.id, s));
    let country = i
        .birth_country
        .as_deref()
        .and_then(|c| {
            rppsplus_domain::reference::cog()
                .ok()
                .and_then(|cog| cog.country(c).map(|c| c.label.clone()))
        })
        .unwrap_or_else(|| or_dash(i.birth_country.as_deref()));
    let commune = i
        .birth_commune
        .as_deref()
        .map(|c| {
            let name = rppsplus_domain::reference::cog()
                .ok()
                .and_then(|cog| cog.current_commune(c).map(|m| m.name.clone()));
            match name {
                Some(n) => format!("{n} ({c})"),
                None => c.to_owned(),
            }
        })
        .unwrap_or_else(|| "—".to_owned());
    let mut sections = Vec::new();
    if !draft.data.reused.as_ref().is_some_and(|p| p.identity_known) {
        sections.push(RecapSection {
            title: "État civil",
            edit: edit(Step::Identity),
            rows: vec![
                (
                    "Civilité",
                    match i.civility.as_deref() {
                        Some("M") => "Monsieur".to_owned(),
                        Some("MME") => "Madame".to_owned(),
                        other => or_dash(other),
                    },
                ),
                (
                    "Sexe",
                    match i.sex.as_deref() {
                        Some("F") => "Féminin".to_owned(),
                        Some("M") => "Masculin".to_owned(),
                        other => or_dash(other),
                    },
                ),
                ("Nom de naissance", or_dash(i.birth_name.as_deref())),
                ("Nom d'usage", or_dash(i.usage_name.as_deref())),
                (
                    "Prénoms",
                    i.first_names
                        .iter()
                        .filter(|s| !s.trim().is_empty())
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                ("Date de naissance", date_text(i.birth_date.as_deref())),
                ("Pays de naissance", country),
                ("Commune de naissance", commune),
                (
                    "Pièce d'identité",
                    format!(
                        "{} n° {}, valable jusqu'au {}",
                        match i.id_document.kind.as_deref() {
                            Some("CNI") => "Carte nationale d'identité",
                            Some("PASSEPORT") => "Passeport",
                            Some("TITRE_SEJOUR") => "Titre de séjour",
                            _ => "Pièce",
                        },
                        or_dash(i.id_document.number.as_deref()),
                        date_text(i.id_document.expiry_date.as_deref())
                    ),
                ),
            ],
        });
    }
    if steps.contains(&Step::Contact) {
        sections.push(RecapSection {
            title: "Contact",
            edit: edit(Step::Contact),
            rows: vec![
                ("Adresse e-mail", or_dash(r.email.as_deref())),
                ("Téléphone mobile", or_dash(r.mobile.as_deref())),
            ],
        });
    }
    let x = &r.exercise;
    let establishment = establishments
        .iter()
        .find(|s| Some(s.record.finess.to_string().as_str()) == x.establishment_finess.as_deref())
        .map(|s| format!("{} (FINESS {})", s.record.name, s.record.finess))
        .unwrap_or_else(|| or_dash(x.establishment_finess.as_deref()));
    let t = tables().ok();
    let profession = x
        .profession
        .as_deref()
        .map(|c| {
            t.and_then(|t| t.professions.r85(c))
                .map(|p| {
                    format!(
                        "{} ({c})",
                        p.enreg_label.clone().unwrap_or_else(|| p.label.clone())
                    )
                })
                .unwrap_or_else(|| c.to_owned())
        })
        .unwrap_or_else(|| "—".to_owned());
    let role = x
        .role
        .as_deref()
        .map(|c| {
            t.and_then(|t| t.roles.get(c))
                .map(|r| format!("{} ({c})", r.label))
                .unwrap_or_else(|| c.to_owned())
        })
        .unwrap_or_else(|| "—".to_owned());
    let modes: Vec<(String, String)> = t
        .map(|t| {
            t.exercise_modes
                .all()
                .iter()
                .map(|m| (m.code.clone(), m.label.clone()))
                .collect()
        })
        .unwrap_or_default();
    sections.push(RecapSection {
        title: "Exercice",
        edit: edit(Step::Exercise),
        rows: vec![
            (
                "Nom et prénom d'exercice",
                format!(
                    "{} {}",
                    x.exercise_first_name.clone().unwrap_or_default(),
                    x.exercise_last_name.clone().unwrap_or_default()
                )
                .trim()
                .to_owned(),
            ),
            ("Établissement", establishment),
            (
                "Date de prise de fonction",
                date_text(x.start_date.as_deref()),
            ),
            ("Profession", profession),
            ("Rôle RPPS+", role),
            (
                "Mode d'exercice",
                label_of(&modes, x.practice_mode.as_deref()),
            ),
        ],
    });
    sections
}

#[allow(clippy::too_many_arguments)]
async fn confirmation_view(
    state: &AppState,
    viewer: &Viewer,
    signed_in: &SignedIn,
    draft: &DraftView,
    status: StatusCode,
    form: FormErrors,
    candidates: Vec<CandidateRow>,
    reason: Option<String>,
) -> Response {
    let establishments = match state
        .app
        .registration_establishments(&signed_in.actor)
        .await
    {
        Ok(e) => e,
        Err(e) => return error_page(state, viewer, e),
    };
    let status = if form.errors.is_empty() && candidates.is_empty() {
        status
    } else if candidates.is_empty() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::CONFLICT
    };
    render(
        status,
        &ConfirmationPage {
            layout: viewer.layout(state, SECTION),
            steps: step_links(draft, Step::Confirmation),
            draft_id: draft.id.0,
            sections: recap(draft, &establishments),
            scan: draft.scan.as_ref().map(|s| ScanView {
                media_type: media_label(&s.media_type),
                size: size_fr(s.size),
                href: format!("/enregistrements/{}/piece", draft.id.0),
            }),
            reason: reason
                .or_else(|| draft.data.registration.confirm_reason.clone())
                .unwrap_or_default(),
            candidates,
            reused: draft.data.reused.as_ref().map(|r| r.label.clone()),
            form,
        },
    )
}

/// The confirmation page: everything typed, to check before registering.
pub async fn confirmation_page(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
) -> Response {
    show_step(state, viewer, id, Step::Confirmation).await
}

/// The confirmation form.
#[derive(Debug, Default, Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    csrf: String,
    /// Present when the manager confirms a new person despite strong matches.
    #[serde(default)]
    confirm_new_person: Option<String>,
    #[serde(default)]
    confirm_reason: Option<String>,
}

#[derive(Template)]
#[template(path = "registration_done.html")]
struct DonePage {
    layout: Layout,
    rpps: String,
    created: bool,
    scans: Vec<(String, String)>,
}

/// Registers the draft (one transaction), and shows the RPPS number.
pub async fn confirm(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<ConfirmForm>,
) -> Response {
    let signed_in = match require_signed_in_form(&state, &viewer, &headers, &form.csrf) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let draft = match draft_for(&state, &viewer, &signed_in, id, Step::Confirmation).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let confirm = form.confirm_reason.is_some().then(|| {
        (
            form.confirm_new_person.is_some(),
            form.confirm_reason.clone(),
        )
    });
    match state
        .app
        .confirm_draft(&signed_in.actor, draft.id, confirm)
        .await
    {
        Ok(Confirmed::Registered(r)) => {
            let scans = state
                .app
                .person_scans(&signed_in.actor, r.person_id)
                .await
                .unwrap_or_default()
                .into_iter()
                .map(|s| {
                    (
                        format!("/pieces-identite/{}", s.id.0),
                        format!("{}, {}", media_label(&s.media_type), size_fr(s.size)),
                    )
                })
                .collect();
            render(
                StatusCode::OK,
                &DonePage {
                    layout: viewer.layout(&state, SECTION),
                    rpps: r.rpps.as_str().to_owned(),
                    created: r.person_created,
                    scans,
                },
            )
        }
        Ok(Confirmed::StrongMatch(found)) => {
            let rows = candidate_rows(&found, None);
            confirmation_view(
                &state,
                &viewer,
                &signed_in,
                &draft,
                StatusCode::CONFLICT,
                FormErrors::default(),
                rows,
                form.confirm_reason,
            )
            .await
        }
        Err(AppError::Invalid(problems)) => {
            // Back to the earliest step with a problem, with the messages.
            let steps = draft.data.steps();
            let step = problems
                .iter()
                .map(|p| Step::of_field(&p.field))
                .filter(|s| steps.contains(s))
                .min()
                .unwrap_or(Step::Confirmation);
            let mine: Vec<FieldError> = problems
                .iter()
                .filter(|p| Step::of_field(&p.field) == step)
                .cloned()
                .collect();
            let others: Vec<String> = problems
                .iter()
                .filter(|p| !steps.contains(&Step::of_field(&p.field)))
                .map(|p| p.message.clone())
                .collect();
            if step == Step::Confirmation {
                let mut errors = FormErrors::from_fields(&mine);
                // Problems of a step this draft skips (the identity of a known person): shown
                // here, linked to the confirmation button.
                for message in others {
                    if !errors.errors.iter().any(|e| e.message == message) {
                        errors.errors.push(crate::pages::ErrorView {
                            field_id: "confirm".to_owned(),
                            message,
                        });
                    }
                }
                return confirmation_view(
                    &state,
                    &viewer,
                    &signed_in,
                    &draft,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    errors,
                    Vec::new(),
                    form.confirm_reason,
                )
                .await;
            }
            step_page(
                &state,
                &viewer,
                &signed_in,
                &draft,
                step,
                StatusCode::UNPROCESSABLE_ENTITY,
                FormErrors::from_fields(&mine),
                None,
                false,
            )
            .await
        }
        Err(e) => error_page(&state, &viewer, e),
    }
}

// ---------------------------------------------------------------------------------------------
// Scans.

fn scan_response(doc: IdentityDocument) -> Response {
    let extension = match doc.info.media_type.as_str() {
        "application/pdf" => "pdf",
        "image/jpeg" => "jpg",
        _ => "png",
    };
    let disposition = format!(
        "attachment; filename=\"piece-identite-{}.{extension}\"",
        doc.info.id.0
    );
    let mut response = (StatusCode::OK, doc.content).into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&doc.info.media_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    response
}

/// Downloads the scan of a draft (its owner only).
pub async fn draft_scan(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
) -> Response {
    let signed_in = match require_sign_in(&viewer) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    match state.app.draft_scan(&signed_in.actor, DraftId(id)).await {
        Ok(doc) => scan_response(doc),
        Err(e) => error_page(&state, &viewer, e),
    }
}

/// Downloads the scan of a registered person (their managers only).
pub async fn person_scan(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
) -> Response {
    let signed_in = match require_sign_in(&viewer) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    match state
        .app
        .person_scan(&signed_in.actor, IdentityDocumentId(id))
        .await
    {
        Ok(doc) => scan_response(doc),
        Err(e) => error_page(&state, &viewer, e),
    }
}
