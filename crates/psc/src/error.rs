//! Why a sign-in through Pro Santé Connect failed. Each kind has a stable code; messages are
//! French, for people. Details that could help an attacker or that carry personal data stay out
//! of the messages: they are in the variants' fields, for logs that choose to show them.

/// Why discovery or a sign-in failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PscError {
    /// The configuration is unusable (bad URL, plain HTTP to a remote host…).
    #[error("configuration Pro Santé Connect invalide : {0}")]
    Config(String),
    /// Neither discovery document could be fetched or read, or it misses something required.
    #[error("découverte Pro Santé Connect impossible : {0}")]
    Discovery(String),
    /// The provider offers no client authentication method this client supports.
    #[error("aucune méthode d'authentification du client commune avec Pro Santé Connect")]
    UnsupportedClientAuth,
    /// Talking to the provider failed (connection, timeout, body too large).
    #[error("Pro Santé Connect ne répond pas")]
    Http(String),
    /// The provider answered something this client cannot read.
    #[error("réponse illisible de Pro Santé Connect : {0}")]
    InvalidResponse(String),
    /// The provider sent the person back with an error (refusal, cancellation…).
    #[error("connexion refusée ou annulée sur Pro Santé Connect")]
    AuthorizationDenied {
        /// The OAuth `error` code returned (`access_denied`…).
        error: String,
        /// The provider's `error_description`, if any.
        description: Option<String>,
    },
    /// The `state` returned does not match the sign-in that was started.
    #[error("la réponse ne correspond pas à la connexion en cours")]
    StateMismatch,
    /// The token endpoint refused the code (expired or reused code, PKCE verifier mismatch,
    /// client authentication failure…).
    #[error("Pro Santé Connect a refusé l'échange du code")]
    TokenRejected {
        /// The OAuth `error` code returned (`invalid_grant`, `invalid_client`…).
        error: String,
        /// The provider's `error_description`, if any.
        description: Option<String>,
    },
    /// The token response has no ID token.
    #[error("Pro Santé Connect n'a pas renvoyé de jeton d'identité")]
    MissingIdToken,
    /// The ID token's signature does not verify against the provider's keys.
    #[error("signature du jeton d'identité invalide")]
    IdTokenBadSignature(String),
    /// The ID token was issued by another issuer.
    #[error("jeton d'identité d'un autre émetteur")]
    IssuerMismatch(String),
    /// The ID token was issued for another client.
    #[error("jeton d'identité destiné à un autre client")]
    AudienceMismatch(String),
    /// The ID token's `nonce` is not the one of this sign-in (replay).
    #[error("jeton d'identité rejoué ou d'une autre connexion")]
    NonceMismatch(String),
    /// The ID token has expired.
    #[error("jeton d'identité expiré")]
    Expired(String),
    /// The authentication level (`acr`) is not the one required.
    #[error("niveau d'authentification insuffisant")]
    AcrMismatch {
        /// The level required.
        expected: String,
        /// The level in the ID token, if any.
        found: Option<String>,
    },
    /// The ID token is invalid for another reason (issued in the future, bad `at_hash`…).
    #[error("jeton d'identité invalide : {0}")]
    InvalidIdToken(String),
    /// The userinfo endpoint answered with an error status.
    #[error("Pro Santé Connect n'a pas fourni l'identité du professionnel")]
    UserinfoFailed {
        /// The HTTP status.
        status: u16,
    },
    /// The signed userinfo response does not verify against the provider's keys.
    #[error("signature des informations d'identité invalide")]
    UserinfoBadSignature(String),
    /// The userinfo response is invalid (other subject, issuer or audience; unreadable claims).
    #[error("informations d'identité invalides : {0}")]
    UserinfoInvalid(String),
    /// The userinfo response has no `SubjectNameID`, so the person cannot be identified.
    #[error("Pro Santé Connect n'a pas fourni l'identifiant national du professionnel")]
    MissingSubjectNameId,
}

impl PscError {
    /// A stable code, for APIs, logs and tests.
    pub fn code(&self) -> &'static str {
        match self {
            PscError::Config(_) => "psc_config_invalid",
            PscError::Discovery(_) => "psc_discovery_failed",
            PscError::UnsupportedClientAuth => "psc_unsupported_client_auth",
            PscError::Http(_) => "psc_unreachable",
            PscError::InvalidResponse(_) => "psc_invalid_response",
            PscError::AuthorizationDenied { .. } => "psc_authorization_denied",
            PscError::StateMismatch => "psc_state_mismatch",
            PscError::TokenRejected { .. } => "psc_token_rejected",
            PscError::MissingIdToken => "psc_missing_id_token",
            PscError::IdTokenBadSignature(_) => "psc_id_token_bad_signature",
            PscError::IssuerMismatch(_) => "psc_issuer_mismatch",
            PscError::AudienceMismatch(_) => "psc_audience_mismatch",
            PscError::NonceMismatch(_) => "psc_nonce_mismatch",
            PscError::Expired(_) => "psc_id_token_expired",
            PscError::AcrMismatch { .. } => "psc_acr_mismatch",
            PscError::InvalidIdToken(_) => "psc_id_token_invalid",
            PscError::UserinfoFailed { .. } => "psc_userinfo_failed",
            PscError::UserinfoBadSignature(_) => "psc_userinfo_bad_signature",
            PscError::UserinfoInvalid(_) => "psc_userinfo_invalid",
            PscError::MissingSubjectNameId => "psc_missing_subject_name_id",
        }
    }
}

/// Result alias of this crate.
pub type PscResult<T> = Result<T, PscError>;
