//! Sign-in through Pro Santé Connect (PSC), the national identity federation of health
//! professionals: an OpenID Connect relying party on `openidconnect`, over one `reqwest` client
//! (rustls on ring, no redirects, a timeout).
//!
//! The flow, as the web layer drives it:
//!
//! 1. At start-up, [`PscClient::discover`] reads the provider's discovery document (PSC names it
//!    `/.well-known/wallet-openid-configuration`; the standard name is tried next) and its keys.
//! 2. [`PscClient::start_sign_in`] gives the URL to redirect the person to — authorization code
//!    flow with PKCE (S256), `state`, `nonce` and `acr_values=eidas1` — and a [`PendingSignIn`],
//!    kept server-side (session store, keyed by its state), never in a cookie.
//! 3. On the callback, [`PscClient::finish_sign_in`] checks the state, exchanges the code, verifies
//!    the ID token (signature, issuer, audience, expiry, nonce, `acr`) and reads userinfo (JSON or
//!    a signed JWT, RS256 or ES256) for the person's `SubjectNameID`, returned in a
//!    [`PscIdentity`].
//!
//! Every failure is a [`PscError`] with a stable [`PscError::code`].

mod client;
mod config;
mod error;
mod http;
mod jws;

pub use client::{
    PSC_DISCOVERY_PATH, PendingSignIn, PscClient, PscIdentity, STANDARD_DISCOVERY_PATH,
};
pub use config::{DEFAULT_SCOPES, EIDAS1, PRODUCTION_ISSUER, PscConfig, SANDBOX_ISSUER};
pub use error::{PscError, PscResult};
