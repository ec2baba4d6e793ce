//! "Quels accès pour mes professionnels": the RPPS+ roles and the patient document types each
//! opens, from the reference data (public: the same for every structure).

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use crate::AppState;
use crate::auth::Viewer;
use crate::error::render;
use crate::pages::Layout;

struct RoleSection {
    code: String,
    label: String,
    description: Option<String>,
    count: usize,
    documents: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "access.html")]
struct AccessPage {
    layout: Layout,
    roles: Vec<RoleSection>,
}

/// The matrix of the five RPPS+ roles.
pub async fn matrix(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
) -> Response {
    let roles = match rppsplus_domain::reference::tables() {
        Ok(t) => t
            .roles
            .rpps_plus_roles()
            .map(|r| {
                let documents: Vec<(String, String)> = rppsplus_domain::documents_for_role(&r.code)
                    .iter()
                    .map(|d| (d.document_label_in_seed.clone(), d.document.code.clone()))
                    .collect();
                RoleSection {
                    code: r.code.clone(),
                    label: r.label.clone(),
                    // The seed's wording, when it says more than the official label.
                    description: r
                        .seed_label
                        .clone()
                        .filter(|s| !s.eq_ignore_ascii_case(&r.label))
                        .map(|s| format!("« {s} »")),
                    count: documents.len(),
                    documents,
                }
            })
            .collect(),
        Err(e) => {
            tracing::error!(error = %e, "reference data unavailable");
            Vec::new()
        }
    };
    render(
        StatusCode::OK,
        &AccessPage {
            layout: viewer.layout(&state, "access"),
            roles,
        },
    )
}
