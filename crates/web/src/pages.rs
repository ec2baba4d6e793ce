//! HTML pages.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rppsplus_app::AppError;
use rppsplus_app::directory::{DirectorySummary, PersonKind};
use rppsplus_domain::Finess;
use rppsplus_store::{ManagementMode, Structure, StructureKind};
use serde::Deserialize;

use crate::AppState;
use crate::auth::Viewer;
use crate::error::{WebError, render};

/// What the base layout shows: mode, who is signed in, where we are.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// Demo mode.
    pub demo: bool,
    /// Name of the signed-in person.
    pub user: Option<String>,
    /// Structure the person acts for.
    pub structure: Option<String>,
    /// Current section of the navigation.
    pub section: &'static str,
    /// The signed-in person's form token (the sign-out button needs it on every page).
    pub csrf_token: Option<String>,
}

/// One field error, tied to the id of its input.
#[derive(Debug, Clone)]
pub struct ErrorView {
    /// Id of the input in the page.
    pub field_id: String,
    /// French message.
    pub message: String,
}

/// The errors of a form, for the error summary and the fields.
#[derive(Debug, Clone, Default)]
pub struct FormErrors {
    /// In the order of the form.
    pub errors: Vec<ErrorView>,
}

impl FormErrors {
    /// From a use-case error; `None` when it is not about fields.
    pub fn from_app(e: &AppError) -> Option<Self> {
        match e {
            AppError::Invalid(problems) => Some(Self::from_fields(problems)),
            _ => None,
        }
    }

    /// From field errors.
    pub fn from_fields(problems: &[rppsplus_app::FieldError]) -> Self {
        FormErrors {
            errors: problems
                .iter()
                .map(|p| ErrorView {
                    field_id: field_id(&p.field),
                    message: p.message.clone(),
                })
                .collect(),
        }
    }

    /// The same errors for a form whose inputs carry a prefix (`grant-person`), when a page
    /// holds several forms.
    pub fn prefixed(errors: FormErrors, prefix: &str) -> Self {
        FormErrors {
            errors: errors
                .errors
                .into_iter()
                .map(|e| ErrorView {
                    field_id: format!("{prefix}-{}", e.field_id),
                    message: e.message,
                })
                .collect(),
        }
    }

    /// The message for the input with this id.
    pub fn error_for(&self, id: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field_id == id)
            .map(|e| e.message.as_str())
    }
}

/// The HTML id of a field given its dotted path: `identity.first_names[1]` → `identity-first_names-1`.
fn field_id(path: &str) -> String {
    path.chars()
        .filter(|c| *c != ']')
        .map(|c| if c == '.' || c == '[' { '-' } else { c })
        .collect()
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
}

/// The home page.
pub async fn home(State(state): State<AppState>, Extension(viewer): Extension<Viewer>) -> Response {
    render(
        StatusCode::OK,
        &HomePage {
            layout: viewer.layout(&state, "home"),
        },
    )
}

/// A structure as listed.
struct StructureRow {
    finess: String,
    name: String,
    kind_label: &'static str,
    city: Option<String>,
}

fn kind_label(kind: StructureKind) -> &'static str {
    match kind {
        StructureKind::Ej => "Entité juridique",
        StructureKind::Eg => "Établissement",
    }
}

impl From<&Structure> for StructureRow {
    fn from(s: &Structure) -> Self {
        StructureRow {
            finess: s.record.finess.to_string(),
            name: s.record.name.clone(),
            kind_label: kind_label(s.record.kind),
            city: s.record.city.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "structures.html")]
struct StructuresPage {
    layout: Layout,
    form: FormErrors,
    query: String,
    searched: bool,
    results: Vec<StructureRow>,
}

/// Query of the structure search.
#[derive(Debug, Deserialize)]
pub struct SearchParams {
    q: Option<String>,
}

/// Results listed at most on one page.
const SEARCH_LIMIT: usize = 50;

/// Search an establishment by FINESS number or by name.
pub async fn search_structures(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Query(params): Query<SearchParams>,
) -> Response {
    let layout = viewer.layout(&state, "structures");
    let Some(query) = params.q else {
        return render(
            StatusCode::OK,
            &StructuresPage {
                layout,
                form: FormErrors::default(),
                query: String::new(),
                searched: false,
                results: Vec::new(),
            },
        );
    };
    match state.app.search_structures(&query, SEARCH_LIMIT).await {
        Ok(found) => render(
            StatusCode::OK,
            &StructuresPage {
                layout,
                form: FormErrors::default(),
                query,
                searched: true,
                results: found.iter().map(StructureRow::from).collect(),
            },
        ),
        Err(e) => match FormErrors::from_app(&e) {
            Some(form) => render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &StructuresPage {
                    layout,
                    form,
                    query,
                    searched: true,
                    results: Vec::new(),
                },
            ),
            None => WebError::from_app(e, viewer.layout(&state, "structures")).into_response(),
        },
    }
}

struct StructureDetail {
    finess: String,
    name: String,
    kind_label: &'static str,
    is_ej: bool,
    setting_label: Option<&'static str>,
    category: Option<String>,
    address: Option<String>,
    open: bool,
    management_label: Option<&'static str>,
}

fn setting_label(setting: &str) -> &'static str {
    match setting {
        "ESMS" => "Social et médico-social (ESMS)",
        "officine" => "Officine",
        "etablissement_sanitaire" => "Établissement sanitaire",
        _ => "Autre",
    }
}

#[derive(Template)]
#[template(path = "structure.html")]
struct StructurePage {
    layout: Layout,
    s: StructureDetail,
    legal_entity: Option<StructureRow>,
    sisters: Vec<StructureRow>,
}

/// A structure's page: its facts, its legal entity and sister establishments.
pub async fn structure(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(finess): Path<String>,
) -> Response {
    let layout = viewer.layout(&state, "structures");
    let Ok(finess) = Finess::read(&finess).map(|r| r.finess) else {
        return WebError::not_found(layout).into_response();
    };
    match state.app.structure_view(&finess).await {
        Ok(view) => {
            let r = &view.structure.record;
            let address = [r.address.clone(), r.postcode.clone(), r.city.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            let s = StructureDetail {
                finess: r.finess.to_string(),
                name: r.name.clone(),
                kind_label: kind_label(r.kind),
                is_ej: r.kind == StructureKind::Ej,
                setting_label: r.setting.as_deref().map(setting_label),
                category: r.category_code.clone(),
                address: (!address.is_empty()).then_some(address),
                open: r.open,
                management_label: (r.kind == StructureKind::Ej).then_some(
                    match view.structure.management_mode {
                        ManagementMode::Centralised => "Centralisée sur l'entité juridique",
                        ManagementMode::PerSite => "Par établissement",
                    },
                ),
            };
            render(
                StatusCode::OK,
                &StructurePage {
                    layout,
                    s,
                    legal_entity: view.legal_entity.as_ref().map(StructureRow::from),
                    sisters: view.sisters.iter().map(StructureRow::from).collect(),
                },
            )
        }
        Err(e) => WebError::from_app(e, layout).into_response(),
    }
}

struct PersonRow {
    idnps: String,
    name: String,
    kind_label: &'static str,
    structures: String,
}

#[derive(Template)]
#[template(path = "demo.html")]
struct DemoPage {
    layout: Layout,
    summary: DirectorySummary,
    people: Vec<PersonRow>,
}

/// The demo's structures and people, so that a visitor knows whom to sign in as.
pub async fn demo(State(state): State<AppState>, Extension(viewer): Extension<Viewer>) -> Response {
    let layout = viewer.layout(&state, "demo");
    if !state.settings.demo {
        return WebError::not_found(layout).into_response();
    }
    match state.app.directory_summary().await {
        Ok(summary) => {
            let people = summary
                .people
                .iter()
                .map(|p| PersonRow {
                    idnps: p.idnps.clone(),
                    name: p.name.clone(),
                    kind_label: match p.kind {
                        PersonKind::LegalRepresentative => "Représentant légal",
                        PersonKind::Manager => "Gestionnaire RPPS+",
                        PersonKind::Professional => "Professionnel",
                    },
                    structures: p.structures.join(", "),
                })
                .collect();
            render(
                StatusCode::OK,
                &DemoPage {
                    layout,
                    summary,
                    people,
                },
            )
        }
        Err(e) => WebError::from_app(e, layout).into_response(),
    }
}

/// Any unknown address.
pub async fn not_found(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
) -> Response {
    WebError::not_found(viewer.layout(&state, "")).into_response()
}
