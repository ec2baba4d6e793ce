//! Compact JWS verification for signed userinfo responses.
//!
//! `openidconnect` verifies signed userinfo only with RS256; PSC may sign with ES256 as well, so
//! the signature is checked here with the provider's keys (`openidconnect`'s own key types and
//! verification code), for every asymmetric algorithm the provider advertises.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use openidconnect::{JsonWebKey, JsonWebKeyAlgorithm, JsonWebKeyId, JsonWebKeyUse as _};
use openidconnect::{JwsSigningAlgorithm as _, SignatureVerificationError};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Why a compact JWS was not accepted.
#[derive(Debug)]
pub(crate) enum JwsError {
    /// Not a compact JWS with a JSON object as payload.
    Malformed(String),
    /// The algorithm is not allowed, no key fits, or the signature does not verify.
    Signature(String),
}

#[derive(Deserialize)]
struct Header {
    alg: Value,
    kid: Option<JsonWebKeyId>,
    crit: Option<Value>,
}

/// The claims of a compact JWS, without checking its signature (for a token verified otherwise).
pub(crate) fn payload_of(jws: &str) -> Result<Map<String, Value>, String> {
    let mut parts = jws.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(payload), Some(_), None) => decode_json(payload),
        _ => Err("not a compact JWS".to_owned()),
    }
}

/// Verifies `jws` with the matching key of `jwks` and returns its claims. Only asymmetric
/// algorithms listed in `allowed` are accepted.
pub(crate) fn verify(
    jws: &str,
    jwks: &CoreJsonWebKeySet,
    allowed: &[CoreJwsSigningAlgorithm],
) -> Result<Map<String, Value>, JwsError> {
    let mut parts = jws.split('.');
    let (header_b64, payload_b64, signature_b64) =
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(h), Some(p), Some(s), None) => (h, p, s),
            _ => return Err(JwsError::Malformed("not a compact JWS".to_owned())),
        };
    let header_json = URL_SAFE_NO_PAD
        .decode(header_b64)
        .map_err(|e| JwsError::Malformed(format!("header: {e}")))?;
    let header: Header = serde_json::from_slice(&header_json)
        .map_err(|e| JwsError::Malformed(format!("header: {e}")))?;
    if header.crit.is_some() {
        return Err(JwsError::Malformed(
            "critical header parameters are not supported".to_owned(),
        ));
    }
    let alg: CoreJwsSigningAlgorithm =
        serde_json::from_value(header.alg).map_err(|e| JwsError::Malformed(format!("alg: {e}")))?;
    if alg.uses_shared_secret() || alg.key_type().is_none() || !allowed.contains(&alg) {
        return Err(JwsError::Signature(format!(
            "algorithm {alg:?} not allowed"
        )));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|e| JwsError::Malformed(format!("signature: {e}")))?;
    let signing_input = jws
        .get(..header_b64.len() + 1 + payload_b64.len())
        .ok_or_else(|| JwsError::Malformed("signing input".to_owned()))?;

    let candidates: Vec<_> = jwks
        .keys()
        .iter()
        .filter(|key| header.kid.is_none() || header.kid.as_ref() == key.key_id())
        .filter(|key| key.key_use().is_none_or(|u| u.allows_signature()))
        .filter(|key| alg.key_type().as_ref() == Some(key.key_type()))
        .filter(|key| match key.signing_alg() {
            JsonWebKeyAlgorithm::Unspecified => true,
            JsonWebKeyAlgorithm::Algorithm(a) => *a == alg,
            JsonWebKeyAlgorithm::Unsupported => false,
        })
        .collect();
    if candidates.is_empty() {
        return Err(JwsError::Signature(
            SignatureVerificationError::NoMatchingKey.to_string(),
        ));
    }
    let mut last_error = None;
    for key in candidates {
        match key.verify_signature(&alg, signing_input.as_bytes(), &signature) {
            Ok(()) => {
                return decode_json(payload_b64).map_err(JwsError::Malformed);
            }
            Err(e) => last_error = Some(e),
        }
    }
    Err(JwsError::Signature(
        last_error.map(|e| e.to_string()).unwrap_or_default(),
    ))
}

fn decode_json(part: &str) -> Result<Map<String, Value>, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|e| format!("payload: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("payload: {e}"))
}
