//! The errors a use case reports. Each has a stable code; messages are French, for people.

pub use rppsplus_domain::validation::FieldError;
use rppsplus_store::{StoreError, UniqueRule};

/// Why a use case did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The input has invalid fields; nothing was stored.
    #[error("données invalides")]
    Invalid(Vec<FieldError>),
    /// The thing asked for does not exist (or is not visible to the actor).
    #[error("introuvable")]
    NotFound,
    /// The actor may not do this.
    #[error("action non autorisée")]
    Forbidden,
    /// The request conflicts with the current state (stable code and French message).
    #[error("{message}")]
    Conflict {
        /// Stable code.
        code: &'static str,
        /// French message.
        message: String,
    },
    /// Storage failed; the details are logged, not shown.
    #[error("erreur interne")]
    Store(#[source] StoreError),
}

impl AppError {
    /// A stable code for APIs.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Invalid(_) => "invalid_input",
            AppError::NotFound => "not_found",
            AppError::Forbidden => "forbidden",
            AppError::Conflict { code, .. } => code,
            AppError::Store(_) => "internal_error",
        }
    }

    /// One invalid field.
    pub fn invalid(field: &str, code: &'static str, message: &str) -> Self {
        AppError::Invalid(vec![FieldError::new(field, code, message)])
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound,
            StoreError::StaleVersion => AppError::Conflict {
                code: "stale_version",
                message: "Cet enregistrement a été modifié entre-temps : rechargez la page et recommencez."
                    .to_owned(),
            },
            StoreError::Duplicate(UniqueRule::PersonEmail) => AppError::invalid(
                "contact.email",
                "email_taken",
                "Cette adresse e-mail est déjà utilisée par une autre personne : chaque professionnel doit avoir sa propre adresse.",
            ),
            StoreError::Duplicate(UniqueRule::PersonMobile) => AppError::invalid(
                "contact.mobile",
                "mobile_taken",
                "Ce numéro de mobile est déjà utilisé par une autre personne : chaque professionnel doit avoir son propre numéro.",
            ),
            other => AppError::Store(other),
        }
    }
}

/// Result alias of the use cases.
pub type AppResult<T> = Result<T, AppError>;
