//! The single mapping from use-case errors to HTML responses.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use rppsplus_app::AppError;

use crate::pages::Layout;

/// An error page.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    title: &'a str,
    message: &'a str,
}

/// An error turned into a French page with the right status.
#[derive(Debug)]
pub struct WebError {
    status: StatusCode,
    title: &'static str,
    message: String,
    layout: Layout,
}

impl WebError {
    /// A page for a use-case error.
    pub fn from_app(e: AppError, layout: Layout) -> Self {
        let (status, title, message) = match &e {
            AppError::NotFound => (
                StatusCode::NOT_FOUND,
                "Page introuvable",
                "Ce que vous cherchez n'existe pas ou n'est plus disponible.".to_owned(),
            ),
            AppError::Forbidden => (
                StatusCode::FORBIDDEN,
                "Accès refusé",
                "Vous n'avez pas d'habilitation pour cette structure ou cette action. Si vous pensez que c'est une erreur, adressez-vous au représentant légal de votre structure.".to_owned(),
            ),
            AppError::Invalid(problems) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "Données à corriger",
                problems
                    .iter()
                    .map(|p| p.message.clone())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            AppError::Conflict { message, .. } => {
                (StatusCode::CONFLICT, "Action impossible", message.clone())
            }
            AppError::Store(inner) => {
                // Logged once, here, where it is handled; the page says nothing of internals.
                tracing::error!(error = %inner, "storage failure");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Erreur du service",
                    "Le service a rencontré une erreur. Réessayez dans quelques instants."
                        .to_owned(),
                )
            }
        };
        WebError {
            status,
            title,
            message,
            layout,
        }
    }

    /// The page for an unknown address.
    pub fn not_found(layout: Layout) -> Self {
        WebError::from_app(AppError::NotFound, layout)
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            layout: self.layout,
            title: self.title,
            message: &self.message,
        };
        match page.render() {
            Ok(html) => (self.status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "error page failed to render");
                (self.status, self.title).into_response()
            }
        }
    }
}

/// Renders a template, or a plain 500 if it cannot be rendered.
pub fn render<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "Erreur du service").into_response()
        }
    }
}
