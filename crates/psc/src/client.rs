//! The relying party: discovery, the authorization request, the code exchange and the checks on
//! what comes back.

use std::fmt;
use std::sync::RwLock;
use std::time::{SystemTime, UNIX_EPOCH};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreClientAuthMethod, CoreErrorResponseType, CoreIdToken,
    CoreIdTokenClaims, CoreJsonWebKeySet,
};
use openidconnect::http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use openidconnect::http::{Method, StatusCode};
use openidconnect::url::Url;
use openidconnect::{
    AccessToken, AccessTokenHash, AuthType, AuthenticationContextClass, AuthorizationCode,
    ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, HttpRequest, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, ProviderMetadataWithLogout, RedirectUrl, RequestTokenError, Scope,
    SignatureVerificationError, StandardErrorResponse, TokenResponse, TokenUrl, UserInfoUrl,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::config::{PscConfig, is_acceptable_url};
use crate::error::{PscError, PscResult};
use crate::http::{HttpClient, HttpError};
use crate::jws;

/// The discovery document's name at PSC, tried first.
pub const PSC_DISCOVERY_PATH: &str = "/.well-known/wallet-openid-configuration";
/// The standard discovery document's name, tried when PSC's is not there.
pub const STANDARD_DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// `openidconnect`'s client with the endpoints discovery guarantees.
type OidcClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
    EndpointMaybeSet,
>;

/// A client of Pro Santé Connect, made once at start-up by [`PscClient::discover`] and shared.
pub struct PscClient {
    http: HttpClient,
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: ClientSecret,
    redirect_url: RedirectUrl,
    scopes: Vec<Scope>,
    acr: String,
    metadata: ProviderMetadataWithLogout,
    token_url: TokenUrl,
    userinfo_url: UserInfoUrl,
    auth_type: AuthType,
    discovery_url: String,
    /// The provider's keys; fetched again once when a token names a key not in it (rotation).
    jwks: RwLock<CoreJsonWebKeySet>,
}

impl fmt::Debug for PscClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PscClient")
            .field("issuer", &self.issuer.as_str())
            .field("client_id", &self.client_id.as_str())
            .field("redirect_url", &self.redirect_url.as_str())
            .field("discovery_url", &self.discovery_url)
            .finish_non_exhaustive()
    }
}

/// What must be kept between [`PscClient::start_sign_in`] and [`PscClient::finish_sign_in`].
///
/// It holds secrets (the PKCE verifier): keep it server-side (the session store, keyed by
/// [`PendingSignIn::state`]), never in a cookie or a page. `Debug` shows none of it.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingSignIn {
    state: String,
    nonce: String,
    pkce_verifier: String,
    created_at: u64,
}

impl PendingSignIn {
    /// The `state` sent to PSC, which comes back on the callback.
    pub fn state(&self) -> &str {
        &self.state
    }

    /// When the sign-in started, in seconds since the Unix epoch (to expire abandoned ones).
    pub fn created_at_unix(&self) -> u64 {
        self.created_at
    }
}

impl fmt::Debug for PendingSignIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingSignIn")
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// The professional who signed in.
///
/// `Debug` shows no personal data (names, identifiers), only the level and the claim names.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct PscIdentity {
    /// The national identifier (`SubjectNameID` of userinfo): an IDNPS in production
    /// (`8` + RPPS, `0` + ADELI); sandbox identities have other shapes.
    pub subject_name_id: String,
    /// The PSC subject (`sub`), stable for the person at PSC.
    pub subject: String,
    /// First name, for display.
    pub given_name: Option<String>,
    /// Last name, for display.
    pub family_name: Option<String>,
    /// `preferred_username` (equal to `SubjectNameID` at PSC).
    pub preferred_username: Option<String>,
    /// The authentication level reached (`acr`), checked to be the one required.
    pub acr: String,
    /// The identity provider named in the ID token (`idp`, `PSC`), if any.
    pub idp: Option<String>,
    /// The raw ID token, for `id_token_hint` at logout.
    pub id_token: String,
    /// Every claim of the verified ID token.
    pub id_token_claims: Map<String, Value>,
    /// Every claim of the verified userinfo response (activities, organisation…).
    pub userinfo_claims: Map<String, Value>,
}

impl fmt::Debug for PscIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PscIdentity")
            .field("acr", &self.acr)
            .field("idp", &self.idp)
            .field("id_token_claims", &self.id_token_claims.keys())
            .field("userinfo_claims", &self.userinfo_claims.keys())
            .finish_non_exhaustive()
    }
}

impl PscClient {
    /// Reads the provider's discovery document (PSC's name first, then the standard one) and
    /// its keys, with a client of its own (rustls, no redirects, `config.http_timeout`).
    pub async fn discover(config: PscConfig) -> PscResult<PscClient> {
        let http = HttpClient::new(config.http_timeout)
            .map_err(|e| PscError::Config(format!("HTTP client: {e}")))?;
        Self::discover_inner(config, http).await
    }

    /// Same as [`PscClient::discover`] over a client shared with the rest of the application.
    /// That client must not follow redirects (`reqwest::redirect::Policy::none()`) and should have
    /// a timeout; `config.http_timeout` is then not used.
    pub async fn discover_with_http_client(
        config: PscConfig,
        http: reqwest::Client,
    ) -> PscResult<PscClient> {
        Self::discover_inner(config, HttpClient::from_reqwest(http)).await
    }

    async fn discover_inner(config: PscConfig, http: HttpClient) -> PscResult<PscClient> {
        let issuer = IssuerUrl::new(config.issuer_url.clone())
            .map_err(|e| PscError::Config(format!("issuer URL: {e}")))?;
        if !is_acceptable_url(issuer.url()) {
            return Err(PscError::Config(
                "the issuer must be https (http only on a loopback address)".to_owned(),
            ));
        }
        let redirect_url = RedirectUrl::new(config.redirect_uri.clone())
            .map_err(|e| PscError::Config(format!("redirect URI: {e}")))?;
        if config.client_id.is_empty() {
            return Err(PscError::Config("empty client id".to_owned()));
        }

        let (discovery_url, metadata) = fetch_metadata(&http, &config.issuer_url).await?;
        if metadata.issuer().as_str() != issuer.as_str() {
            return Err(PscError::Discovery(format!(
                "the document names issuer `{}`, not `{}`",
                metadata.issuer().as_str(),
                issuer.as_str()
            )));
        }
        let token_url = metadata
            .token_endpoint()
            .cloned()
            .ok_or_else(|| PscError::Discovery("no token_endpoint".to_owned()))?;
        let userinfo_url = metadata
            .userinfo_endpoint()
            .cloned()
            .ok_or_else(|| PscError::Discovery("no userinfo_endpoint".to_owned()))?;
        for (name, url) in [
            (
                "authorization_endpoint",
                metadata.authorization_endpoint().url(),
            ),
            ("token_endpoint", token_url.url()),
            ("userinfo_endpoint", userinfo_url.url()),
            ("jwks_uri", metadata.jwks_uri().url()),
        ] {
            if !is_acceptable_url(url) {
                return Err(PscError::Discovery(format!(
                    "{name} must be https (http only on a loopback address)"
                )));
            }
        }
        let auth_type = match metadata.token_endpoint_auth_methods_supported() {
            None => AuthType::BasicAuth,
            Some(methods) if methods.contains(&CoreClientAuthMethod::ClientSecretBasic) => {
                AuthType::BasicAuth
            }
            Some(methods) if methods.contains(&CoreClientAuthMethod::ClientSecretPost) => {
                AuthType::RequestBody
            }
            Some(_) => return Err(PscError::UnsupportedClientAuth),
        };
        let jwks = fetch_jwks(&http, &metadata).await?;

        let scopes = config
            .scopes
            .iter()
            .filter(|s| s.as_str() != "openid" && !s.is_empty())
            .map(|s| Scope::new(s.clone()))
            .collect();
        Ok(PscClient {
            http,
            issuer,
            client_id: ClientId::new(config.client_id),
            client_secret: ClientSecret::new(config.client_secret.expose_secret().to_owned()),
            redirect_url,
            scopes,
            acr: config.acr,
            metadata,
            token_url,
            userinfo_url,
            auth_type,
            discovery_url,
            jwks: RwLock::new(jwks),
        })
    }

    /// The issuer, as configured and as the provider names itself.
    pub fn issuer(&self) -> &str {
        self.issuer.as_str()
    }

    /// Where the discovery document was found.
    pub fn discovery_url(&self) -> &str {
        &self.discovery_url
    }

    /// Starts a sign-in: the URL to redirect the person to (with `state`, `nonce`, the PKCE
    /// challenge and `acr_values`), and what to keep server-side until the callback.
    pub fn start_sign_in(&self) -> (Url, PendingSignIn) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = self
            .oidc_client(self.current_jwks())
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scopes(self.scopes.iter().cloned())
            .add_auth_context_value(AuthenticationContextClass::new(self.acr.clone()))
            .set_pkce_challenge(challenge)
            .url();
        let created_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let pending = PendingSignIn {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            created_at,
        };
        (url, pending)
    }

    /// Finishes a sign-in from the callback's `state` and `code`: checks the state, exchanges
    /// the code (with the PKCE verifier), verifies the ID token (signature, issuer, audience,
    /// expiry, nonce, `acr`, `at_hash`) and reads userinfo (JSON, or a JWT verified with the
    /// provider's keys) for `SubjectNameID`.
    ///
    /// When the callback carries `error` instead of `code`, use [`PscError::from_callback`].
    pub async fn finish_sign_in(
        &self,
        pending: PendingSignIn,
        returned_state: &str,
        code: &str,
    ) -> PscResult<PscIdentity> {
        if !same_secret(&pending.state, returned_state) {
            return Err(PscError::StateMismatch);
        }
        let client = self.oidc_client(self.current_jwks());
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(token_error)?;
        let id_token = token.id_token().ok_or(PscError::MissingIdToken)?;
        let nonce = Nonce::new(pending.nonce.clone());

        let claims = match verify_id_token(&client, id_token, &nonce, token.access_token()) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                // The provider may have rotated its keys since start-up: look again, once.
                let jwks = fetch_jwks(&self.http, &self.metadata).await?;
                self.replace_jwks(jwks.clone());
                verify_id_token(
                    &self.oidc_client(jwks),
                    id_token,
                    &nonce,
                    token.access_token(),
                )
            }
            other => other,
        }
        .map_err(id_token_error)?;

        let acr = claims.auth_context_ref().map(|a| a.as_str().to_owned());
        if acr.as_deref() != Some(self.acr.as_str()) {
            return Err(PscError::AcrMismatch {
                expected: self.acr.clone(),
                found: acr,
            });
        }
        let raw_id_token = id_token.to_string();
        let id_token_claims = jws::payload_of(&raw_id_token)
            .map_err(|e| PscError::InvalidIdToken(format!("payload: {e}")))?;
        let subject = claims.subject().as_str().to_owned();

        let userinfo_claims = self.userinfo(token.access_token(), &subject).await?;
        let subject_name_id = match userinfo_claims.get("SubjectNameID") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
            _ => return Err(PscError::MissingSubjectNameId),
        };
        let string_claim = |name: &str| {
            [&userinfo_claims, &id_token_claims]
                .into_iter()
                .find_map(|claims| match claims.get(name) {
                    Some(Value::String(s)) => Some(s.clone()),
                    _ => None,
                })
        };
        Ok(PscIdentity {
            subject_name_id,
            subject,
            given_name: string_claim("given_name"),
            family_name: string_claim("family_name"),
            preferred_username: string_claim("preferred_username"),
            acr: self.acr.clone(),
            idp: match id_token_claims.get("idp") {
                Some(Value::String(s)) => Some(s.clone()),
                _ => None,
            },
            id_token: raw_id_token,
            id_token_claims,
            userinfo_claims,
        })
    }

    /// The URL that ends the person's session at PSC, when the provider publishes an
    /// `end_session_endpoint`: with `client_id`, the ID token as `id_token_hint` and where to
    /// come back (which must be registered at PSC).
    pub fn logout_url(
        &self,
        id_token_hint: Option<&str>,
        post_logout_redirect_uri: Option<&str>,
    ) -> Option<Url> {
        let endpoint = self
            .metadata
            .additional_metadata()
            .end_session_endpoint
            .as_ref()?;
        let mut url = endpoint.url().clone();
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("client_id", self.client_id.as_str());
            if let Some(hint) = id_token_hint {
                query.append_pair("id_token_hint", hint);
            }
            if let Some(uri) = post_logout_redirect_uri {
                query.append_pair("post_logout_redirect_uri", uri);
            }
        }
        Some(url)
    }

    fn oidc_client(&self, jwks: CoreJsonWebKeySet) -> OidcClient {
        CoreClient::from_provider_metadata(
            self.metadata.clone().set_jwks(jwks),
            self.client_id.clone(),
            Some(self.client_secret.clone()),
        )
        .set_token_uri(self.token_url.clone())
        .set_redirect_uri(self.redirect_url.clone())
        .set_auth_type(self.auth_type.clone())
    }

    fn current_jwks(&self) -> CoreJsonWebKeySet {
        match self.jwks.read() {
            Ok(jwks) => jwks.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn replace_jwks(&self, jwks: CoreJsonWebKeySet) {
        match self.jwks.write() {
            Ok(mut current) => *current = jwks,
            Err(poisoned) => *poisoned.into_inner() = jwks,
        }
    }

    /// Reads userinfo with the access token; the subject must be the ID token's.
    async fn userinfo(
        &self,
        access_token: &AccessToken,
        expected_subject: &str,
    ) -> PscResult<Map<String, Value>> {
        let request: HttpRequest = openidconnect::http::Request::builder()
            .method(Method::GET)
            .uri(self.userinfo_url.as_str())
            .header(ACCEPT, "application/jwt, application/json")
            .header(AUTHORIZATION, format!("Bearer {}", access_token.secret()))
            .body(Vec::new())
            .map_err(|e| PscError::Http(e.to_string()))?;
        let response = self.http.send(request).await.map_err(http_error)?;
        if response.status() != StatusCode::OK {
            return Err(PscError::UserinfoFailed {
                status: response.status().as_u16(),
            });
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_else(|| "application/json".to_owned());
        let claims = match content_type.as_str() {
            "application/json" => serde_json::from_slice::<Map<String, Value>>(response.body())
                .map_err(|e| PscError::UserinfoInvalid(format!("JSON: {e}")))?,
            "application/jwt" => {
                let jwt = std::str::from_utf8(response.body())
                    .map_err(|_| PscError::UserinfoInvalid("JWT is not UTF-8".to_owned()))?;
                let allowed = self
                    .metadata
                    .userinfo_signing_alg_values_supported()
                    .cloned()
                    .unwrap_or_else(|| {
                        self.metadata
                            .id_token_signing_alg_values_supported()
                            .clone()
                    });
                let claims = jws::verify(jwt.trim(), &self.current_jwks(), &allowed).map_err(
                    |e| match e {
                        jws::JwsError::Signature(m) => PscError::UserinfoBadSignature(m),
                        jws::JwsError::Malformed(m) => PscError::UserinfoInvalid(m),
                    },
                )?;
                check_userinfo_origin(&claims, self.issuer.as_str(), self.client_id.as_str())?;
                claims
            }
            other => {
                return Err(PscError::UserinfoInvalid(format!(
                    "unexpected content type `{other}`"
                )));
            }
        };
        match claims.get("sub") {
            Some(Value::String(sub)) if sub == expected_subject => Ok(claims),
            _ => Err(PscError::UserinfoInvalid(
                "subject differs from the ID token's".to_owned(),
            )),
        }
    }
}

impl PscError {
    /// The error for a callback that carries `error` (and maybe `error_description`) instead of
    /// a code: the person refused, cancelled, or PSC could not authenticate them.
    pub fn from_callback(error: &str, description: Option<&str>) -> PscError {
        PscError::AuthorizationDenied {
            error: error.to_owned(),
            description: description.map(str::to_owned),
        }
    }
}

/// Fetches the discovery document, at PSC's name first then at the standard one.
async fn fetch_metadata(
    http: &HttpClient,
    issuer: &str,
) -> PscResult<(String, ProviderMetadataWithLogout)> {
    let base = issuer.trim_end_matches('/');
    let mut failures = Vec::new();
    for path in [PSC_DISCOVERY_PATH, STANDARD_DISCOVERY_PATH] {
        let url = format!("{base}{path}");
        let request: HttpRequest = openidconnect::http::Request::builder()
            .method(Method::GET)
            .uri(url.as_str())
            .header(ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(|e| PscError::Config(format!("discovery URL: {e}")))?;
        let response = http.send(request).await.map_err(http_error)?;
        if !response.status().is_success() {
            failures.push(format!("{path}: HTTP {}", response.status().as_u16()));
            continue;
        }
        let metadata = serde_json::from_slice::<ProviderMetadataWithLogout>(response.body())
            .map_err(|e| PscError::Discovery(format!("{path}: {e}")))?;
        return Ok((url, metadata));
    }
    Err(PscError::Discovery(failures.join(", ")))
}

async fn fetch_jwks(
    http: &HttpClient,
    metadata: &ProviderMetadataWithLogout,
) -> PscResult<CoreJsonWebKeySet> {
    CoreJsonWebKeySet::fetch_async(metadata.jwks_uri(), http)
        .await
        .map_err(|e| PscError::Discovery(format!("JWKS: {e}")))
}

/// Verifies the ID token and, when it carries `at_hash`, that it matches the access token.
fn verify_id_token(
    client: &OidcClient,
    id_token: &CoreIdToken,
    nonce: &Nonce,
    access_token: &AccessToken,
) -> Result<CoreIdTokenClaims, ClaimsVerificationError> {
    let verifier = client.id_token_verifier();
    let claims = id_token.claims(&verifier, nonce)?.clone();
    if let Some(expected) = claims.access_token_hash() {
        let alg = id_token
            .signing_alg()
            .map_err(ClaimsVerificationError::SignatureVerification)?;
        let key = id_token
            .signing_key(&verifier)
            .map_err(ClaimsVerificationError::SignatureVerification)?;
        let actual = AccessTokenHash::from_token(access_token, alg, key)
            .map_err(|e| ClaimsVerificationError::Other(format!("at_hash: {e}")))?;
        if actual != *expected {
            return Err(ClaimsVerificationError::Other(
                "at_hash does not match the access token".to_owned(),
            ));
        }
    }
    Ok(claims)
}

/// The signed userinfo must come from our issuer and be meant for us.
fn check_userinfo_origin(
    claims: &Map<String, Value>,
    issuer: &str,
    client_id: &str,
) -> PscResult<()> {
    match claims.get("iss") {
        Some(Value::String(iss)) if iss == issuer => {}
        _ => return Err(PscError::UserinfoInvalid("issuer".to_owned())),
    }
    let for_us = match claims.get("aud") {
        Some(Value::String(aud)) => aud == client_id,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    };
    if for_us {
        Ok(())
    } else {
        Err(PscError::UserinfoInvalid("audience".to_owned()))
    }
}

/// Compares two secrets without leaking where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

fn http_error(e: HttpError) -> PscError {
    PscError::Http(e.to_string())
}

fn token_error(
    e: RequestTokenError<HttpError, StandardErrorResponse<CoreErrorResponseType>>,
) -> PscError {
    match e {
        RequestTokenError::ServerResponse(r) => PscError::TokenRejected {
            error: r.error().as_ref().to_owned(),
            description: r.error_description().cloned(),
        },
        RequestTokenError::Request(e) => http_error(e),
        RequestTokenError::Parse(e, _) => PscError::InvalidResponse(format!("token: {e}")),
        RequestTokenError::Other(m) => PscError::InvalidResponse(format!("token: {m}")),
    }
}

fn id_token_error(e: ClaimsVerificationError) -> PscError {
    match e {
        ClaimsVerificationError::InvalidNonce(m) => PscError::NonceMismatch(m),
        ClaimsVerificationError::InvalidIssuer(m) => PscError::IssuerMismatch(m),
        ClaimsVerificationError::InvalidAudience(m) => PscError::AudienceMismatch(m),
        ClaimsVerificationError::Expired(m) => PscError::Expired(m),
        ClaimsVerificationError::SignatureVerification(e) => {
            PscError::IdTokenBadSignature(e.to_string())
        }
        other => PscError::InvalidIdToken(other.to_string()),
    }
}
