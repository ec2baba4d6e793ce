//! A real OpenID Connect provider on `127.0.0.1:0`, shaped like Pro Santé Connect, for tests of
//! the sign-in (and, later, for a browser following its redirects).
//!
//! It serves the discovery document (at PSC's name `/.well-known/wallet-openid-configuration` or
//! at the standard name, not both), the JWKS, an authorization endpoint that approves at once
//! (it redirects back to `redirect_uri` with `code` and `state` for the subject the test chose),
//! a token endpoint that authenticates the client (`client_secret_basic` and/or
//! `client_secret_post`) and checks PKCE (S256) like a real provider, a userinfo endpoint (JSON
//! or a signed JWT) and an end-session endpoint. Tokens are really signed (RS256 or ES256) with
//! fixed test keys and carry PSC's claims (`acr`, `nonce`, `SubjectNameID`, `idp`…).
//!
//! ```text
//! let issuer = TestIssuer::start(TestIssuerOptions::default()).await?;
//! issuer.set_next_subject("810100000001", "Jeanne", "Martin");
//! issuer.misbehave_next(Misbehaviour::WrongNonce); // the next token only
//! let redirect = issuer.authorize(authorize_url.as_str()).await?; // plays the browser
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Form, Query, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use openidconnect::PrivateSigningKey as _;
use openidconnect::core::{CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey};
use openidconnect::url::{Url, form_urlencoded};
use p256::ecdsa::signature::Signer as _;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

/// The realm path of PSC's Keycloak, kept so that URLs look like the real ones.
pub const REALM_PATH: &str = "/auth/realms/esante-wallet";

/// Which name the discovery document is served at (only that one: the other answers 404).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiscoveryName {
    /// `/.well-known/wallet-openid-configuration`, PSC's name.
    Psc,
    /// `/.well-known/openid-configuration`, the standard name.
    Standard,
}

/// How tokens (ID token, signed userinfo) are signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256, a 2048-bit key.
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
}

/// How the token endpoint accepts the client's credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// `Authorization: Basic` only (`client_secret_basic`).
    Basic,
    /// `client_id` and `client_secret` in the form only (`client_secret_post`).
    Post,
    /// Either.
    Both,
}

/// Ways to make the provider misbehave once (see [`TestIssuer::misbehave_next`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Misbehaviour {
    /// The next authorization redirects back with `error=access_denied`.
    Deny,
    /// The next ID token carries another nonce.
    WrongNonce,
    /// The next ID token carries `acr: "eidas0"`.
    WrongAcr,
    /// The next ID token is for another client.
    WrongAudience,
    /// The next ID token names another issuer.
    WrongIssuer,
    /// The next ID token is signed by another key (under the `kid` of the key in use).
    ForeignKey,
    /// The next ID token expired ten minutes ago.
    Expired,
    /// Userinfo for the next token is a JWT signed by another key (under the `kid` of the key
    /// in use), whatever [`TestIssuer::userinfo_as_jwt`] says.
    UserinfoForeignKey,
}

/// How the provider is set up; [`Default`] is PSC's shape with RS256 and JSON userinfo.
#[derive(Clone, Debug)]
pub struct TestIssuerOptions {
    /// Where discovery is served.
    pub discovery: DiscoveryName,
    /// How tokens are signed.
    pub signing: SigningAlg,
    /// The only client known.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// Client authentication methods accepted (and advertised).
    pub client_auth: ClientAuth,
    /// Redirect URIs accepted; empty accepts any absolute URL.
    pub redirect_uris: Vec<String>,
    /// Userinfo as a signed JWT (`application/jwt`) rather than JSON, at start.
    pub userinfo_as_jwt: bool,
    /// Whether discovery advertises an `end_session_endpoint`.
    pub end_session: bool,
}

impl Default for TestIssuerOptions {
    fn default() -> Self {
        TestIssuerOptions {
            discovery: DiscoveryName::Psc,
            signing: SigningAlg::Rs256,
            client_id: "rpps-plus-test".to_owned(),
            client_secret: "test-secret-not-for-production".to_owned(),
            client_auth: ClientAuth::Both,
            redirect_uris: Vec::new(),
            userinfo_as_jwt: false,
            end_session: true,
        }
    }
}

/// The professional the provider signs in.
#[derive(Clone, Debug, PartialEq)]
pub struct TestSubject {
    /// `SubjectNameID` (and `preferred_username`): an IDNPS such as `8` + RPPS.
    pub subject_name_id: String,
    /// `given_name`.
    pub given_name: String,
    /// `family_name`.
    pub family_name: String,
    /// More userinfo claims (`SubjectRefPro`, `SubjectOrganization`…), added to the defaults.
    pub extra_userinfo: Map<String, Value>,
}

impl TestSubject {
    /// A subject with the default extra claims.
    pub fn new(subject_name_id: &str, given_name: &str, family_name: &str) -> Self {
        TestSubject {
            subject_name_id: subject_name_id.to_owned(),
            given_name: given_name.to_owned(),
            family_name: family_name.to_owned(),
            extra_userinfo: Map::new(),
        }
    }

    /// PSC's `sub`: an opaque id around the national one.
    pub fn sub(&self) -> String {
        format!(
            "f:550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd:{}",
            self.subject_name_id
        )
    }
}

/// Where the authorization endpoint sent the browser.
#[derive(Clone, Debug)]
pub struct AuthorizeRedirect {
    /// The `Location` header.
    pub location: String,
    /// Its query parameters (`code`, `state`, or `error`…).
    pub params: BTreeMap<String, String>,
}

impl AuthorizeRedirect {
    /// One query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// The provider, running until dropped.
pub struct TestIssuer {
    /// `http://127.0.0.1:PORT/auth/realms/esante-wallet`, the issuer to configure.
    pub issuer_url: String,
    /// Where it listens.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestIssuer {
    /// Starts the provider on a free loopback port.
    pub async fn start(options: TestIssuerOptions) -> std::io::Result<TestIssuer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let issuer_url = format!("http://{addr}{REALM_PATH}");
        let keys = match options.signing {
            SigningAlg::Rs256 => [TestKey::rsa(RSA_KEY_PEM)?, TestKey::rsa(RSA_OTHER_KEY_PEM)?],
            SigningAlg::Es256 => [TestKey::ec(EC_KEY_HEX)?, TestKey::ec(EC_OTHER_KEY_HEX)?],
        };
        let shared = Arc::new(Shared {
            issuer_url: issuer_url.clone(),
            dynamic: Mutex::new(Dynamic {
                subject: TestSubject::new("810100000001", "Jeanne", "Martin"),
                misbehaviours: HashSet::new(),
                userinfo_as_jwt: options.userinfo_as_jwt,
                grants: HashMap::new(),
                access_tokens: HashMap::new(),
                last_authorization: None,
                last_client_auth: None,
                last_logout: None,
                rotations: 0,
            }),
            options,
            keys,
        });
        let discovery = match shared.options.discovery {
            DiscoveryName::Psc => "/.well-known/wallet-openid-configuration",
            DiscoveryName::Standard => "/.well-known/openid-configuration",
        };
        let protocol = format!("{REALM_PATH}/protocol/openid-connect");
        let router = Router::new()
            .route(&format!("{REALM_PATH}{discovery}"), get(discovery_document))
            .route(&format!("{protocol}/certs"), get(jwks))
            .route(&format!("{protocol}/auth"), get(authorize))
            .route(&format!("{protocol}/token"), axum::routing::post(token))
            .route(
                &format!("{protocol}/userinfo"),
                get(userinfo).post(userinfo),
            )
            .route(&format!("{protocol}/logout"), get(logout))
            .with_state(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await
        });
        Ok(TestIssuer {
            issuer_url,
            addr,
            shared,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// The client id the provider knows.
    pub fn client_id(&self) -> &str {
        &self.shared.options.client_id
    }

    /// That client's secret.
    pub fn client_secret(&self) -> &str {
        &self.shared.options.client_secret
    }

    /// The person the following authorizations sign in (until changed).
    pub fn set_next_subject(&self, subject_name_id: &str, given_name: &str, family_name: &str) {
        self.set_subject(TestSubject::new(subject_name_id, given_name, family_name));
    }

    /// Same as [`TestIssuer::set_next_subject`] with extra userinfo claims.
    pub fn set_subject(&self, subject: TestSubject) {
        self.shared.lock().subject = subject;
    }

    /// Makes the next authorization (for [`Misbehaviour::Deny`]) or the next token response
    /// (for the others) misbehave; several can be combined. Each is used once.
    pub fn misbehave_next(&self, misbehaviour: Misbehaviour) {
        self.shared.lock().misbehaviours.insert(misbehaviour);
    }

    /// Serves userinfo as a signed JWT (`application/jwt`) or as JSON, from now on.
    pub fn userinfo_as_jwt(&self, as_jwt: bool) {
        self.shared.lock().userinfo_as_jwt = as_jwt;
    }

    /// Replaces the signing key by another one under a new `kid`, as a provider rotating its
    /// keys does; the JWKS then holds only the new key.
    pub fn rotate_keys(&self) {
        self.shared.lock().rotations += 1;
    }

    /// The query parameters of the last authorization request.
    pub fn last_authorization_request(&self) -> Option<BTreeMap<String, String>> {
        self.shared.lock().last_authorization.clone()
    }

    /// How the client authenticated at the last accepted token request.
    pub fn last_client_auth(&self) -> Option<ClientAuth> {
        self.shared.lock().last_client_auth
    }

    /// The query parameters of the last end-session request.
    pub fn last_logout_request(&self) -> Option<BTreeMap<String, String>> {
        self.shared.lock().last_logout.clone()
    }

    /// Plays the browser at the authorization endpoint: GETs `authorize_url` without following
    /// the redirect and returns where it points.
    pub async fn authorize(&self, authorize_url: &str) -> Result<AuthorizeRedirect, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let response = client
            .get(authorize_url)
            .send()
            .await
            .map_err(|e| format!("GET {authorize_url}: {e}"))?;
        if !response.status().is_redirection() {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            return Err(format!("authorization answered {status}: {body}"));
        }
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or("redirect without Location")?
            .to_owned();
        let url = Url::parse(&location).map_err(|e| format!("Location {location}: {e}"))?;
        let params = url.query_pairs().into_owned().collect();
        Ok(AuthorizeRedirect { location, params })
    }

    /// Stops the provider and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

struct Shared {
    issuer_url: String,
    options: TestIssuerOptions,
    /// Two keys: the one in use (see `Dynamic::rotations`) and the other, which signs the
    /// tokens that must not verify.
    keys: [TestKey; 2],
    dynamic: Mutex<Dynamic>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Dynamic> {
        match self.dynamic.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The key in use, the other key, and the `kid` of the key in use.
    fn keys(&self, dynamic: &Dynamic) -> (&TestKey, &TestKey, String) {
        let [first, second] = &self.keys;
        let (current, other) = if dynamic.rotations.is_multiple_of(2) {
            (first, second)
        } else {
            (second, first)
        };
        let kid = format!(
            "psc-test-{}-{}",
            current.alg().to_ascii_lowercase(),
            dynamic.rotations
        );
        (current, other, kid)
    }

    fn endpoint(&self, name: &str) -> String {
        format!("{}/protocol/openid-connect/{name}", self.issuer_url)
    }
}

struct Dynamic {
    subject: TestSubject,
    misbehaviours: HashSet<Misbehaviour>,
    userinfo_as_jwt: bool,
    grants: HashMap<String, Grant>,
    access_tokens: HashMap<String, Issued>,
    last_authorization: Option<BTreeMap<String, String>>,
    last_client_auth: Option<ClientAuth>,
    last_logout: Option<BTreeMap<String, String>>,
    rotations: u32,
}

impl Dynamic {
    fn take(&mut self, misbehaviour: Misbehaviour) -> bool {
        self.misbehaviours.remove(&misbehaviour)
    }
}

/// An authorization code and what it was issued for.
struct Grant {
    redirect_uri: String,
    nonce: Option<String>,
    code_challenge: String,
    subject: TestSubject,
}

/// An access token and what userinfo says for it.
struct Issued {
    subject: TestSubject,
    userinfo_foreign_key: bool,
}

/// A signing key.
enum TestKey {
    Rsa(Box<CoreRsaPrivateSigningKey>),
    Ec(p256::ecdsa::SigningKey),
}

impl TestKey {
    fn rsa(pem: &str) -> std::io::Result<TestKey> {
        let key = CoreRsaPrivateSigningKey::from_pem(pem, None).map_err(std::io::Error::other)?;
        Ok(TestKey::Rsa(Box::new(key)))
    }

    fn ec(hex_scalar: &str) -> std::io::Result<TestKey> {
        let bytes = hex::decode(hex_scalar).map_err(std::io::Error::other)?;
        let key = p256::ecdsa::SigningKey::from_slice(&bytes)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(TestKey::Ec(key))
    }

    fn alg(&self) -> &'static str {
        match self {
            TestKey::Rsa(_) => "RS256",
            TestKey::Ec(_) => "ES256",
        }
    }

    /// The public key as a JWK named `kid`.
    fn jwk(&self, kid: &str) -> Value {
        match self {
            TestKey::Rsa(key) => {
                let mut jwk = serde_json::to_value(key.as_verification_key()).unwrap_or_default();
                if let Value::Object(fields) = &mut jwk {
                    fields.insert("alg".to_owned(), json!("RS256"));
                    fields.insert("kid".to_owned(), json!(kid));
                }
                jwk
            }
            TestKey::Ec(key) => {
                let point = key.verifying_key().to_sec1_point(false);
                let point = point.as_bytes();
                let x = point.get(1..33).unwrap_or_default();
                let y = point.get(33..65).unwrap_or_default();
                json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "use": "sig",
                    "alg": "ES256",
                    "kid": kid,
                    "x": URL_SAFE_NO_PAD.encode(x),
                    "y": URL_SAFE_NO_PAD.encode(y),
                })
            }
        }
    }

    /// A compact JWS of `claims`, its header naming `kid`.
    fn sign(&self, kid: &str, claims: &Value) -> Result<String, String> {
        let header = json!({ "alg": self.alg(), "typ": "JWT", "kid": kid });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = match self {
            TestKey::Rsa(key) => key
                .sign(
                    &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                    input.as_bytes(),
                )
                .map_err(|e| e.to_string())?,
            TestKey::Ec(key) => {
                let signature: p256::ecdsa::Signature = key.sign(input.as_bytes());
                signature.to_bytes().to_vec()
            }
        };
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn random_token() -> String {
    let mut bytes = [0u8; 24];
    // A failing system RNG would only make tokens predictable in a test.
    let _ = getrandom::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `base64url(left half of SHA-256(value))`, as in `at_hash`.
fn half_hash(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.get(..16).unwrap_or_default())
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        [(CACHE_CONTROL, "no-store")],
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

fn redirect(to: &str) -> Response {
    (StatusCode::FOUND, [(LOCATION, to.to_owned())]).into_response()
}

async fn discovery_document(State(shared): State<Arc<Shared>>) -> Response {
    let methods = match shared.options.client_auth {
        ClientAuth::Basic => json!(["client_secret_basic"]),
        ClientAuth::Post => json!(["client_secret_post"]),
        ClientAuth::Both => json!(["client_secret_basic", "client_secret_post"]),
    };
    let alg = shared.keys[0].alg();
    let mut doc = json!({
        "issuer": shared.issuer_url,
        "authorization_endpoint": shared.endpoint("auth"),
        "token_endpoint": shared.endpoint("token"),
        "userinfo_endpoint": shared.endpoint("userinfo"),
        "jwks_uri": shared.endpoint("certs"),
        "introspection_endpoint": shared.endpoint("token/introspect"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [alg],
        "userinfo_signing_alg_values_supported": [alg],
        "token_endpoint_auth_methods_supported": methods,
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "scope_all"],
        "acr_values_supported": ["eidas1"],
        "claims_supported": ["sub", "iss", "acr", "idp", "SubjectNameID", "preferred_username",
            "given_name", "family_name"],
    });
    if let (true, Value::Object(fields)) = (shared.options.end_session, &mut doc) {
        fields.insert(
            "end_session_endpoint".to_owned(),
            json!(shared.endpoint("logout")),
        );
    }
    Json(doc).into_response()
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    let dynamic = shared.lock();
    let (current, _, kid) = shared.keys(&dynamic);
    Json(json!({ "keys": [current.jwk(&kid)] })).into_response()
}

async fn authorize(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    let param = |name: &str| params.get(name).map(String::as_str);
    if param("client_id") != Some(shared.options.client_id.as_str()) {
        return (StatusCode::BAD_REQUEST, "unknown client_id").into_response();
    }
    let Some(redirect_uri) = param("redirect_uri") else {
        return (StatusCode::BAD_REQUEST, "missing redirect_uri").into_response();
    };
    let Ok(mut back) = Url::parse(redirect_uri) else {
        return (StatusCode::BAD_REQUEST, "invalid redirect_uri").into_response();
    };
    if !shared.options.redirect_uris.is_empty()
        && !shared
            .options
            .redirect_uris
            .iter()
            .any(|u| u == redirect_uri)
    {
        return (StatusCode::BAD_REQUEST, "redirect_uri not registered").into_response();
    }
    let mut dynamic = shared.lock();
    dynamic.last_authorization = Some(params.clone());
    let scopes: Vec<&str> = param("scope").unwrap_or_default().split(' ').collect();
    let error = if dynamic.take(Misbehaviour::Deny) {
        Some(("access_denied", "the user refused"))
    } else if param("response_type") != Some("code") {
        Some(("unsupported_response_type", "only code is supported"))
    } else if !scopes.contains(&"openid") {
        Some(("invalid_scope", "openid is required"))
    } else if param("code_challenge_method") != Some("S256") || param("code_challenge").is_none() {
        Some(("invalid_request", "PKCE with S256 is required"))
    } else {
        None
    };
    {
        let mut query = back.query_pairs_mut();
        match error {
            Some((error, description)) => {
                query.append_pair("error", error);
                query.append_pair("error_description", description);
            }
            None => {
                let code = random_token();
                let subject = dynamic.subject.clone();
                dynamic.grants.insert(
                    code.clone(),
                    Grant {
                        redirect_uri: redirect_uri.to_owned(),
                        nonce: param("nonce").map(str::to_owned),
                        code_challenge: param("code_challenge").unwrap_or_default().to_owned(),
                        subject,
                    },
                );
                query.append_pair("code", &code);
                query.append_pair("session_state", "test-session");
            }
        }
        if let Some(state) = param("state") {
            query.append_pair("state", state);
        }
    }
    redirect(back.as_str())
}

/// The client's credentials: from `Authorization: Basic` or from the form.
fn client_credentials(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Option<(ClientAuth, String, String)> {
    if let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let encoded = value.strip_prefix("Basic ")?;
        let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
        let unescape = |s: &str| -> String {
            form_urlencoded::parse(format!("v={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        return Some((ClientAuth::Basic, unescape(id), unescape(secret)));
    }
    Some((
        ClientAuth::Post,
        form.get("client_id")?.clone(),
        form.get("client_secret")?.clone(),
    ))
}

async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let Some((method, client_id, secret)) = client_credentials(&headers, &form) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "no client credentials",
        );
    };
    let method_allowed = matches!(
        (shared.options.client_auth, method),
        (ClientAuth::Both, _)
            | (ClientAuth::Basic, ClientAuth::Basic)
            | (ClientAuth::Post, ClientAuth::Post)
    );
    if !method_allowed {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "auth method not allowed",
        );
    }
    if client_id != shared.options.client_id || secret != shared.options.client_secret {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "bad client credentials",
        );
    }
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "code only",
        );
    }
    let mut dynamic = shared.lock();
    let Some(grant) = form.get("code").and_then(|c| dynamic.grants.remove(c)) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "code not valid");
    };
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "incorrect redirect_uri",
        );
    }
    let verifier = form
        .get("code_verifier")
        .map(String::as_str)
        .unwrap_or_default();
    if verifier.is_empty()
        || URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != grant.code_challenge
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "PKCE verification failed",
        );
    }
    dynamic.last_client_auth = Some(method);

    let access_token = random_token();
    let now = now();
    let (iat, exp) = if dynamic.take(Misbehaviour::Expired) {
        (now - 1200, now - 600)
    } else {
        (now, now + 300)
    };
    let subject = &grant.subject;
    let mut claims = json!({
        "exp": exp,
        "iat": iat,
        "auth_time": iat,
        "jti": random_token(),
        "iss": shared.issuer_url,
        "aud": shared.options.client_id,
        "sub": subject.sub(),
        "typ": "ID",
        "azp": shared.options.client_id,
        "session_state": "test-session",
        "at_hash": half_hash(&access_token),
        "acr": "eidas1",
        "sid": "test-session",
        "SubjectNameID": subject.subject_name_id,
        "idp": "PSC",
        "preferred_username": subject.subject_name_id,
        "given_name": subject.given_name,
        "family_name": subject.family_name,
    });
    if let Value::Object(fields) = &mut claims {
        if let Some(nonce) = &grant.nonce {
            fields.insert("nonce".to_owned(), json!(nonce));
        }
        if dynamic.take(Misbehaviour::WrongNonce) {
            fields.insert("nonce".to_owned(), json!("a-nonce-from-another-sign-in"));
        }
        if dynamic.take(Misbehaviour::WrongAcr) {
            fields.insert("acr".to_owned(), json!("eidas0"));
        }
        if dynamic.take(Misbehaviour::WrongAudience) {
            fields.insert("aud".to_owned(), json!("another-client"));
            fields.insert("azp".to_owned(), json!("another-client"));
        }
        if dynamic.take(Misbehaviour::WrongIssuer) {
            fields.insert(
                "iss".to_owned(),
                json!(shared.issuer_url.replace("esante-wallet", "another-realm")),
            );
        }
    }
    let (current, other, kid) = shared.keys(&dynamic);
    let key = if dynamic.take(Misbehaviour::ForeignKey) {
        other
    } else {
        current
    };
    let id_token = match key.sign(&kid, &claims) {
        Ok(t) => t,
        Err(e) => return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", &e),
    };
    let userinfo_foreign_key = dynamic.take(Misbehaviour::UserinfoForeignKey);
    dynamic.access_tokens.insert(
        access_token.clone(),
        Issued {
            subject: grant.subject.clone(),
            userinfo_foreign_key,
        },
    );
    (
        [(CACHE_CONTROL, "no-store")],
        Json(json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": id_token,
            "scope": "openid scope_all",
            "session_state": "test-session",
            "not-before-policy": 0,
        })),
    )
        .into_response()
}

async fn userinfo(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let unauthorized = || {
        (
            StatusCode::UNAUTHORIZED,
            [(WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
        )
            .into_response()
    };
    let Some(token) = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return unauthorized();
    };
    let (subject, as_jwt, key, kid) = {
        let dynamic = shared.lock();
        let Some(issued) = dynamic.access_tokens.get(token) else {
            return unauthorized();
        };
        let (current, other, kid) = shared.keys(&dynamic);
        let key = if issued.userinfo_foreign_key {
            other
        } else {
            current
        };
        (
            issued.subject.clone(),
            dynamic.userinfo_as_jwt || issued.userinfo_foreign_key,
            key,
            kid,
        )
    };
    let mut claims = Map::new();
    for (name, value) in [
        ("sub", json!(subject.sub())),
        ("SubjectNameID", json!(subject.subject_name_id)),
        ("preferred_username", json!(subject.subject_name_id)),
        ("given_name", json!(subject.given_name)),
        ("family_name", json!(subject.family_name)),
        ("codeCivilite", json!("M")),
        ("SubjectOrganization", json!("CABINET TEST")),
        ("SubjectOrganizationID", json!("R10000")),
        ("SubjectRole", json!(["10^1.2.250.1.213.1.1.5.5"])),
        ("Secteur_Activite", json!("SA07^1.2.250.1.71.4.2.4")),
        ("codeGenreActivite", json!("GENR01")),
        (
            "Palier_Authentification",
            json!("APPPRIP3^1.2.250.1.213.1.5.1.1.1"),
        ),
        ("PSI_Locale", json!("1.2.250.1.213.1.3.1.1")),
        ("Acces_Regulation_Medicale", json!("FAUX")),
        ("Mode_Acces_Raison", json!("")),
        ("UITVersion", json!("1.0")),
        (
            "otherIds",
            json!([{ "identifiant": subject.subject_name_id, "origine": "RPPS", "qualite": 1 }]),
        ),
        (
            "SubjectRefPro",
            json!({ "codeCivilite": "M", "exercices": [] }),
        ),
    ] {
        claims.insert(name.to_owned(), value);
    }
    for (name, value) in &subject.extra_userinfo {
        claims.insert(name.clone(), value.clone());
    }
    if !as_jwt {
        return Json(Value::Object(claims)).into_response();
    }
    claims.insert("iss".to_owned(), json!(shared.issuer_url));
    claims.insert("aud".to_owned(), json!(shared.options.client_id));
    match key.sign(&kid, &Value::Object(claims)) {
        Ok(jwt) => ([(CONTENT_TYPE, "application/jwt")], jwt).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    }
}

async fn logout(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    shared.lock().last_logout = Some(params.clone());
    match params
        .get("post_logout_redirect_uri")
        .map(|u| Url::parse(u))
    {
        Some(Ok(mut back)) => {
            if let Some(state) = params.get("state") {
                back.query_pairs_mut().append_pair("state", state);
            }
            redirect(back.as_str())
        }
        Some(Err(_)) => {
            (StatusCode::BAD_REQUEST, "invalid post_logout_redirect_uri").into_response()
        }
        None => (
            StatusCode::OK,
            "Vous êtes déconnecté de Pro Santé Connect (test).",
        )
            .into_response(),
    }
}

/// The provider's RSA key (2048 bits, PKCS#1), made for these tests only.
const RSA_KEY_PEM: &str = concat!(
    "-----BEGIN RSA PRIVATE KEY-----\n",
    "MIIEowIBAAKCAQEAuzi44G3ndmtMZ+OlD/s0OhbbIfkma8Z70lFct4MxSs/ezw4M\n",
    "B3y1sx0BP0nfGAcIzF79T2X/T2XjZY4fo+rTxvvXWXTU8cTRZeLSrF6PCJkdSXoh\n",
    "4hZdCgx1+GNk7z9BVTGJ8hkc0UfNYL5JciMfWkY/ExAIQv/p2fIV7jkDHXx72Ntp\n",
    "aaIOKSah/XEVqNKhmk+VcCZpYeBDnUv11lpULee8/GYreBEigl9tRS4sxbSehp/D\n",
    "be/qHRjGe/ANF56wZS3/igJfX1ogfyXCmAKCeaByZp+Mq5Th8v6OXkQyOexnwAcL\n",
    "wA+iQWXdOO9AvM2nHXKNSmxlbSsvnw6hsUwg+QIDAQABAoIBAAKtbr1s7PK9WZgh\n",
    "wg5OtCJBiew8NS+05LfvCHGqa2XLv767z3G695lCaK5oRsu/7AEKObqtNX/D8ALX\n",
    "i73LIbC2kM+bc2EqxKjdm9AxwP9pOyk+GSZz1exLHdPJzht6ztsiTHv9HnOiwH3p\n",
    "8sByXqQqnYPPBqM4qDZA903THGeLRiftQk/uJxvbMYAUdbbWXNVnYtQ8HffeoY9c\n",
    "wXG82roNYhyonc3gaZ9YofkcU7bryS0k6wWvpEp6ZAy8XeWPDLRqRJ/p0EhWu9ix\n",
    "CbgXeUSnAuUdXYy39/RopDjazn75rye+i+bNNJZJC9R3qwpooFZmFeoBww0fV4SR\n",
    "TCGzabUCgYEA9QhqO9LhVJwrln+U2t11EkgfEaQFL5QwmLahGa/G+N9Y+cv/Ttkx\n",
    "gXBxn1pT92bNplGpiSz/qZAgCPqTfOdtXSD+8DrC+vuYID0pFNVkwSCG2mgXlHcf\n",
    "v++QsaxY3HMHtzSXeli36O7ufZBh+sij5HIuQO4Gol56PfYmxJLAGDUCgYEAw5nn\n",
    "3DW6xfnheizRJ8xeZp5nWi3KuL+pIaZ2MmVz4xUrFwgNJUcRejaqLvO3OeDHqyHi\n",
    "cqDm+MAiulRid8M5hAgIQ1yDAkp86hXoFMRFS90WKqLA383jgI2ciIAzNib9PIxW\n",
    "Mccvd1yJO5mqkLRoYPJN10ueoJrow0A1Ch6aZjUCgYEAw3HM2p7gII7YrZhh8RlH\n",
    "cieYsId1o3e+M3EomsZ8HLJ50/WFVS0ksaww1PxFkUasrgbhBYug+Wz+QGsuDSjD\n",
    "MM9Kye706yCXPM/L3tQ/I1SAe+EfPcquxnedoDpqPpx6AQWv9WSifOdnzzvFCzXS\n",
    "lDsG7b9uB0D4nEeksJKlKikCgYAJgkflSq9jxHwTpm4ckzDbqEO5/JPoW1jri94f\n",
    "IRN7LKJFolyRPV06JcIsOijkJWtPhHwvumbAHQcTK9sFm3YGVyWfsLWlvN1Ju/rm\n",
    "V4xO3dagB/18Y9P1gezkLedPcKHK+b+O9/H0yYjaXuQN2NdiLyVdnA2AHUfHhi2N\n",
    "6mLzKQKBgEz9YT1Ki3P/OcI62U4L3m1LXvZBoURc/fg24EQ6P7txIy9GGKJt3XsM\n",
    "H5Ux1tm5kZdyZBAW+bd/vp0h85vgWduttnMTUes+DExTJWbGdKjfK17LYD8XDe77\n",
    "Wk7R5C5dRqS5FRuZMqKxVfkU/d+QVyckMSUQvekx+zltrQ7paEwC\n",
    "-----END RSA PRIVATE KEY-----\n",
);

/// Another RSA key, for tokens that must not verify and for key rotation.
const RSA_OTHER_KEY_PEM: &str = concat!(
    "-----BEGIN RSA PRIVATE KEY-----\n",
    "MIIEowIBAAKCAQEA39gr9XQnXCrdAzq5/41UX83d3maHQyI7A+rdT8QqqFg79APu\n",
    "EzJ/8VpeGM/2ojTir7aBFKjf1dNAhelNgxme5vRg8KfwXz5CyvZFk/OC/Hf+peRm\n",
    "WVwxsshbob+d1DBrJU28ofDhgCB23hk7D1sgc09zkRaKxK2rrgo7QQHnhRca3VeG\n",
    "wxClfHpAVqwOdtqPrCyDWv+VYC7xEtenw31PJ7sKwke1++Icy7k8aM0hdNQdifRf\n",
    "IKwpMh2Yym+9QbB6QOeSAlcS53Jw8AYGlYFmJGbWMYYmQRR92nmjIutKdNGcl633\n",
    "ALhpr+dqD45sNc1paaC/gnmZLsdmenbaXwLglwIDAQABAoIBAA618zWfW5LYEkxL\n",
    "CLw9uoTNT750+IC1+DDqt36tgqwrmE0SEQxb7kKbUMHKsQe5+AfaM6N68bLovj3O\n",
    "tlReU64T82b9cnOf8N3Lz4jIoRwcerTGTN+kinOYbUU1BZdTU0dRU4tE/FziRU2V\n",
    "VOdOctSBLTQkyhvg2f6HF5vPFzsMyTUXDuSV2lKFRaxTL0d58E9hSqIEktp9CodL\n",
    "dfDLieoH5O1I4+uzXg3k9WkviwFxJcmThK9SuyH3Cy+PKEFq00tn57vC/03sbfuz\n",
    "1Dh2odqBk6TV9fXYKQ4vEYDYPgg388ChZo7e5qzk3rGqMh0Utl5/7i3VwCnJ/Xj/\n",
    "4b0Cj/kCgYEA8TyaU1LSJxwCWEVU0AHnX23I6ZlNvNEpjQEhfQ4OBlfN+0XtrGFn\n",
    "g1Nq3W6RFScauHg205vbTwsufclpZPDZDc698Re7SBAPgDXtHIWdKsZBWR6VP3j+\n",
    "okC/dXaBpEM6N6gJJivwWitMIJQmHhMxKe90u1+EnsjJgnzStND95isCgYEA7YsW\n",
    "el6L8m/yRzFTs4K6BYxWDEaG0gRMelapE5J0444jr8eceiTkptP1fiyFnv9vYXXB\n",
    "sK1T8hB0tqL5KSWvQrTmVhqIHUlnlQGNmI4WYPveoSDff4yUpTG0A/P9xr0Ivpf2\n",
    "pp0t9uw7+QfOjU0tqpJ23itmvifPdDAztJG/BUUCgYBz5rkCtXTwg12BCXZxJakD\n",
    "SVzRFu2pfRiofVWYnqsQUxlM01EYlAfGqcpbLucXsZz96gv1aRlaBbZFiwJPFARE\n",
    "xQKvFcbOHaFE6SPNo0hap7v31GDCiSBV1iPmjJRG1mHfIaWbqFqnB8xgjq0tn+zs\n",
    "B/cemwq9uxxNzCjz5MFH1wKBgQCyhGisJgm+dOr7HdLtgT0TllfEeewwQRLIjgAa\n",
    "uWIm8VdYbwbltHwx8/D2lbcFuqmV8M1TXa9Mp5lO+EOP7MY9t32zD9VjTRsPHE+x\n",
    "anbfA+pX5UCRtrCvRR8oKWF6ze2YbtPqew1kGD0p9fgAsRO0sMWsSam5FmoNw3vY\n",
    "JAAOkQKBgDAHdFqh2p/5WikjlmqixZUI2lLE7TrhEtxKEotGLQZfXUU2D71+lhYk\n",
    "u7j9TDnBiicybLw91cl6aS0h3hWNXzE0EchdWMCl+ezs+UVxsHURV0OsWvBXz4JJ\n",
    "saQPX6zOY9Ue57iu/xoLnYfBd73NTCwBT0/4yAAtJ5sNvJgmZT95\n",
    "-----END RSA PRIVATE KEY-----\n",
);

/// The provider's P-256 private scalar, made for these tests only.
const EC_KEY_HEX: &str = "9738acdff8227ddd6fd3e561373ffbbff98c70cde4d5634b600b1883de5c7c01";

/// Another P-256 scalar, for tokens that must not verify and for key rotation.
const EC_OTHER_KEY_HEX: &str = "d3a51d62cc2b12f3d3c690a52d2c9dce8a7470353aa26db9fe4492c667db8d8f";
