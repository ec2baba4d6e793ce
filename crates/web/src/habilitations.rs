//! "Mes structures" (what a manager acts for) and "Mes habilitations" (the legal
//! representative grants and revokes the Gestionnaire RPPS+ right).

use askama::Template;
use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use rppsplus_app::habilitations::{GrantRequest, HabilitationView, ScopeView};
use rppsplus_app::sessions::SignedIn;
use rppsplus_app::{AppError, FieldError};
use rppsplus_domain::authz::Capacity;
use rppsplus_store::{HabilitationId, HabilitationKind, StructureKind};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Viewer, require_sign_in, require_signed_in_form};
use crate::error::{WebError, render};
use crate::pages::{FormErrors, Layout};

struct ScopeRow {
    name: String,
    finess: String,
    capacity: &'static str,
    kind: &'static str,
    establishments: Vec<(String, String)>,
    /// For the legal representative of a legal entity: its management mode, which they choose.
    mode: Option<String>,
}

fn capacity_label(c: Capacity) -> &'static str {
    match c {
        Capacity::LegalRepresentative => "Représentant légal",
        Capacity::Manager => "Gestionnaire RPPS+",
        Capacity::Mandatary => "Mandataire",
    }
}

impl From<&ScopeView> for ScopeRow {
    fn from(v: &ScopeView) -> Self {
        ScopeRow {
            name: v.structure.record.name.clone(),
            finess: v.structure.record.finess.to_string(),
            capacity: capacity_label(v.capacity),
            kind: match v.structure.record.kind {
                StructureKind::Ej => "Entité juridique",
                StructureKind::Eg => "Établissement",
            },
            establishments: v
                .establishments
                .iter()
                .map(|e| (e.record.finess.to_string(), e.record.name.clone()))
                .collect(),
            mode: (v.capacity == Capacity::LegalRepresentative
                && v.structure.record.kind == StructureKind::Ej)
                .then(|| v.structure.management_mode.as_str().to_owned()),
        }
    }
}

#[derive(Template)]
#[template(path = "my_structures.html")]
struct MyStructuresPage {
    layout: Layout,
    scopes: Vec<ScopeRow>,
    notice: Option<&'static str>,
}

/// The management-mode form of a legal entity.
#[derive(Debug, Deserialize)]
pub struct ModeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    finess: String,
    #[serde(default)]
    mode: String,
}

/// The legal representative chooses how the legal entity manages its professionals.
pub async fn set_mode(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Form(form): Form<ModeForm>,
) -> Response {
    let signed_in = match require_signed_in_form(&state, &viewer, &headers, &form.csrf) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let Some(mode) = rppsplus_store::ManagementMode::parse(&form.mode) else {
        return WebError::from_app(
            AppError::invalid("mode", "invalid_value", "Choisissez un mode de gestion."),
            viewer.layout(&state, "my_structures"),
        )
        .into_response();
    };
    match state
        .app
        .change_management_mode(&signed_in.actor, &form.finess, mode)
        .await
    {
        Ok(()) => Redirect::to("/mes-structures?ok=mode").into_response(),
        Err(e) => WebError::from_app(e, viewer.layout(&state, "my_structures")).into_response(),
    }
}

/// "Mes structures": the structures the signed-in person acts for.
pub async fn my_structures(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Query(done): Query<Done>,
) -> Response {
    let signed_in = match require_sign_in(&viewer) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let layout = viewer.layout(&state, "my_structures");
    match state.app.my_structures(&signed_in.actor).await {
        Ok(scopes) => render(
            StatusCode::OK,
            &MyStructuresPage {
                layout,
                scopes: scopes.iter().map(ScopeRow::from).collect(),
                notice: (done.ok.as_deref() == Some("mode")).then_some(
                    "Le mode de gestion a été enregistré. Les habilitations déjà accordées restent valables ; les nouvelles suivent ce mode.",
                ),
            },
        ),
        Err(e) => WebError::from_app(e, layout).into_response(),
    }
}

struct HabilitationRow {
    id: i64,
    person_name: String,
    person_idnps: String,
    kind: &'static str,
    scope_name: String,
    scope_finess: String,
    granted_on: String,
    elearning: String,
}

impl From<&HabilitationView> for HabilitationRow {
    fn from(h: &HabilitationView) -> Self {
        let paris = h
            .granted_at
            .to_zoned(jiff::tz::TimeZone::get("Europe/Paris").unwrap_or(jiff::tz::TimeZone::UTC));
        HabilitationRow {
            id: h.id.0,
            person_name: h.person_name.clone(),
            person_idnps: h.person_idnps.clone(),
            kind: match h.kind {
                HabilitationKind::Manager => "Gestionnaire RPPS+",
                HabilitationKind::Mandatary => "Mandataire",
            },
            scope_name: h.scope.record.name.clone(),
            scope_finess: h.scope.record.finess.to_string(),
            granted_on: rppsplus_domain::validation::format_date_fr(paris.date()),
            elearning: h
                .elearning_on
                .map(rppsplus_domain::validation::format_date_fr)
                .unwrap_or_else(|| "non suivi".to_owned()),
        }
    }
}

/// What the grant and e-learning forms hold, to show again after an error.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct GrantForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    person: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    kind: String,
}

/// The e-learning form.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ElearningForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    person: String,
    #[serde(default)]
    completed_on: String,
    #[serde(default)]
    certificate_ref: String,
}

#[derive(Template)]
#[template(path = "habilitations.html")]
struct HabilitationsPage {
    layout: Layout,
    notice: Option<&'static str>,
    rows: Vec<HabilitationRow>,
    scopes: Vec<(String, String)>,
    grant: GrantForm,
    grant_errors: FormErrors,
    elearning: ElearningForm,
    elearning_errors: FormErrors,
    /// The error summary lists the errors of whichever form was sent.
    form: FormErrors,
    may_designate_mandatary: bool,
}

/// Result messages after a redirect.
#[derive(Debug, Deserialize)]
pub struct Done {
    ok: Option<String>,
}

fn notice(ok: Option<&str>) -> Option<&'static str> {
    match ok? {
        "accordee" => Some("L'habilitation a été accordée."),
        "retiree" => {
            Some("L'habilitation a été retirée. La personne perd ce droit dès sa prochaine action.")
        }
        "elearning" => Some("Le suivi de l'e-learning a été enregistré."),
        _ => None,
    }
}

async fn habilitations_page(
    state: &AppState,
    viewer: &Viewer,
    signed_in: &SignedIn,
    status: StatusCode,
    notice: Option<&'static str>,
    grant: (GrantForm, FormErrors),
    elearning: (ElearningForm, FormErrors),
) -> Response {
    let layout = viewer.layout(state, "habilitations");
    let scopes = match state.app.my_structures(&signed_in.actor).await {
        Ok(s) => s,
        Err(e) => return WebError::from_app(e, layout).into_response(),
    };
    let granting: Vec<&ScopeView> = scopes
        .iter()
        .filter(|s| {
            matches!(
                s.capacity,
                Capacity::LegalRepresentative | Capacity::Mandatary
            )
        })
        .collect();
    if granting.is_empty() {
        return WebError::from_app(AppError::Forbidden, layout).into_response();
    }
    let rows = match state.app.manageable_habilitations(&signed_in.actor).await {
        Ok(h) => h.iter().map(HabilitationRow::from).collect(),
        Err(e) => return WebError::from_app(e, layout).into_response(),
    };
    let mut choices: Vec<(String, String)> = Vec::new();
    for s in &granting {
        choices.push((
            s.structure.record.finess.to_string(),
            s.structure.record.name.clone(),
        ));
        if s.structure.record.kind == StructureKind::Ej {
            for e in &s.establishments {
                choices.push((e.record.finess.to_string(), e.record.name.clone()));
            }
        }
    }
    choices.dedup();
    let form = if grant.1.errors.is_empty() {
        elearning.1.clone()
    } else {
        grant.1.clone()
    };
    render(
        status,
        &HabilitationsPage {
            layout,
            notice,
            rows,
            scopes: choices,
            grant: grant.0,
            grant_errors: grant.1,
            elearning: elearning.0,
            elearning_errors: elearning.1,
            form,
            may_designate_mandatary: granting
                .iter()
                .any(|s| s.capacity == Capacity::LegalRepresentative),
        },
    )
}

/// "Mes habilitations": the managers of my structures, the grant and e-learning forms.
pub async fn habilitations(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Query(done): Query<Done>,
) -> Response {
    let signed_in = match require_sign_in(&viewer) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let grant = GrantForm {
        kind: "manager".to_owned(),
        ..GrantForm::default()
    };
    habilitations_page(
        &state,
        &viewer,
        &signed_in,
        StatusCode::OK,
        notice(done.ok.as_deref()),
        (grant, FormErrors::default()),
        (ElearningForm::default(), FormErrors::default()),
    )
    .await
}

/// Grants a habilitation (form of "Mes habilitations").
pub async fn grant(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Form(form): Form<GrantForm>,
) -> Response {
    let signed_in = match require_signed_in_form(&state, &viewer, &headers, &form.csrf) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let kind = match form.kind.as_str() {
        "mandatary" => HabilitationKind::Mandatary,
        _ => HabilitationKind::Manager,
    };
    let req = GrantRequest {
        person: form.person.clone(),
        scope: form.scope.clone(),
        kind,
    };
    match state.app.grant(&signed_in.actor, &req).await {
        Ok(_) => Redirect::to("/mes-habilitations?ok=accordee").into_response(),
        Err(e) => {
            let errors = match FormErrors::from_app(&e) {
                Some(f) => f,
                None => match &e {
                    AppError::Conflict { message, .. } => {
                        FormErrors::from_fields(&[FieldError::new(
                            "person",
                            "conflict",
                            message.clone(),
                        )])
                    }
                    _ => {
                        return WebError::from_app(e, viewer.layout(&state, "habilitations"))
                            .into_response();
                    }
                },
            };
            let prefixed = FormErrors::prefixed(errors, "grant");
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            habilitations_page(
                &state,
                &viewer,
                &signed_in,
                status,
                None,
                (form.clone(), prefixed),
                // After a refusal for want of e-learning, the next step is recording it.
                (
                    ElearningForm {
                        person: form.person.clone(),
                        ..ElearningForm::default()
                    },
                    FormErrors::default(),
                ),
            )
            .await
        }
    }
}

/// Records an e-learning completion (form of "Mes habilitations").
pub async fn record_elearning(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Form(form): Form<ElearningForm>,
) -> Response {
    let signed_in = match require_signed_in_form(&state, &viewer, &headers, &form.csrf) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    match state
        .app
        .record_elearning_for(
            &signed_in.actor,
            &form.person,
            &form.completed_on,
            &form.certificate_ref,
        )
        .await
    {
        Ok(()) => Redirect::to("/mes-habilitations?ok=elearning").into_response(),
        Err(e) => match FormErrors::from_app(&e) {
            Some(errors) => {
                let grant = GrantForm {
                    kind: "manager".to_owned(),
                    person: form.person.clone(),
                    ..GrantForm::default()
                };
                habilitations_page(
                    &state,
                    &viewer,
                    &signed_in,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    (grant, FormErrors::default()),
                    (form, FormErrors::prefixed(errors, "elearning")),
                )
                .await
            }
            None => WebError::from_app(e, viewer.layout(&state, "habilitations")).into_response(),
        },
    }
}

/// Revokes a habilitation (button of "Mes habilitations").
pub async fn revoke(
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
    match state.app.revoke(&signed_in.actor, HabilitationId(id)).await {
        Ok(()) => Redirect::to("/mes-habilitations?ok=retiree").into_response(),
        Err(e) => WebError::from_app(e, viewer.layout(&state, "habilitations")).into_response(),
    }
}
