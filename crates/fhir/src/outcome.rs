//! OperationOutcome: how every error of the FHIR API is answered.

use serde_json::{Value, json};

/// An error to answer with an OperationOutcome, with its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// HTTP status.
    pub status: u16,
    /// FHIR issue type (`not-supported`, `invalid`, `not-found`, `exception`…): the stable code.
    pub code: &'static str,
    /// What went wrong, in French; names the parameter or the resource concerned.
    pub diagnostics: String,
}

impl Outcome {
    /// A parameter, modifier or value the server does not support (400).
    pub fn not_supported(diagnostics: String) -> Outcome {
        Outcome {
            status: 400,
            code: "not-supported",
            diagnostics,
        }
    }

    /// A malformed value (400).
    pub fn invalid(diagnostics: String) -> Outcome {
        Outcome {
            status: 400,
            code: "invalid",
            diagnostics,
        }
    }

    /// No such resource (404).
    pub fn not_found(resource: &str, id: &str) -> Outcome {
        Outcome {
            status: 404,
            code: "not-found",
            diagnostics: format!("Ressource introuvable : {resource}/{id}"),
        }
    }

    /// An unknown resource type (404).
    pub fn unknown_type(resource: &str) -> Outcome {
        Outcome {
            status: 404,
            code: "not-supported",
            diagnostics: format!(
                "Type de ressource inconnu : {resource} (servis : Practitioner, PractitionerRole, Organization)"
            ),
        }
    }

    /// A failure of the server (500); the details stay in the logs.
    pub fn internal() -> Outcome {
        Outcome {
            status: 500,
            code: "exception",
            diagnostics: "Erreur interne du serveur".to_owned(),
        }
    }

    /// The resource.
    pub fn to_json(&self) -> Value {
        json!({
            "resourceType": "OperationOutcome",
            "issue": [{
                "severity": if self.status >= 500 { "fatal" } else { "error" },
                "code": self.code,
                "diagnostics": self.diagnostics,
            }],
        })
    }
}
