//! The relying party's settings, one value passed to [`crate::PscClient::discover`].

use std::time::Duration;

use secrecy::SecretString;

/// Issuer of Pro Santé Connect in production.
pub const PRODUCTION_ISSUER: &str = "https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet";
/// Issuer of the Pro Santé Connect integration environment (bac à sable).
pub const SANDBOX_ISSUER: &str = "https://auth.bas.psc.esante.gouv.fr/auth/realms/esante-wallet";
/// The authentication level Pro Santé Connect provides (card or e-CPS).
pub const EIDAS1: &str = "eidas1";
/// The scopes Pro Santé Connect expects.
pub const DEFAULT_SCOPES: [&str; 2] = ["openid", "scope_all"];

/// How to reach Pro Santé Connect and who this client is there.
///
/// `Debug` shows everything but the client secret.
#[derive(Clone, Debug)]
pub struct PscConfig {
    /// The issuer, exactly as the provider names itself (no trailing slash for PSC).
    /// Must be `https`, except on a loopback address (tests).
    pub issuer_url: String,
    /// The client id registered at PSC.
    pub client_id: String,
    /// The client secret registered at PSC.
    pub client_secret: SecretString,
    /// Where PSC sends the person back (our callback route), as registered.
    pub redirect_uri: String,
    /// The scopes asked for (`openid` is always sent).
    pub scopes: Vec<String>,
    /// The authentication level asked for (`acr_values`) and required in the ID token (`acr`).
    pub acr: String,
    /// Timeout of each request to PSC (connection included).
    pub http_timeout: Duration,
}

impl PscConfig {
    /// A configuration with PSC's scopes, the `eidas1` level and a 10-second timeout.
    pub fn new(
        issuer_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        redirect_uri: impl Into<String>,
    ) -> Self {
        PscConfig {
            issuer_url: issuer_url.into(),
            client_id: client_id.into(),
            client_secret: SecretString::from(client_secret.into()),
            redirect_uri: redirect_uri.into(),
            scopes: DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            acr: EIDAS1.to_owned(),
            http_timeout: Duration::from_secs(10),
        }
    }
}

/// True when `url` may be used: `https`, or `http` to a loopback host.
pub(crate) fn is_acceptable_url(url: &openidconnect::url::Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(openidconnect::url::Host::Domain(d)) => d == "localhost",
            Some(openidconnect::url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(openidconnect::url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        _ => false,
    }
}
