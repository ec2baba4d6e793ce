//! The rate limit of the public self-registration (`POST /api/v1/self-registrations`): the one
//! unsafe API call that needs no token, so the one a script could flood with pending
//! registrations for managers to sort out.
//!
//! A token bucket per client IP address: it holds an hour's worth of submissions and refills
//! continuously; an empty bucket answers `429 too_many_requests` in the API's error shape, with
//! `Retry-After` (whole seconds). Every submission counts, invalid ones included, so that the
//! checks cannot be probed at will either. Buckets live **in the memory of each server
//! instance**: with `n` instances behind a load balancer, an address may submit up to `n` times
//! the rate. Time comes from the application's clock, so tests move it by hand.

use std::net::IpAddr;
use std::sync::Mutex;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};

use super::error::ApiError;
use crate::AppState;
use crate::client_ip::client_ip;
use crate::rate_limit::{Buckets, client_address};

/// Self-registrations one address may submit per hour, by default.
pub const DEFAULT_SELF_REGISTRATIONS_PER_HOUR: u32 = 20;

/// Token buckets per client address, all of one rate per hour.
#[derive(Debug)]
pub(crate) struct AddressBuckets {
    per_hour: u32,
    buckets: Mutex<Buckets<Option<IpAddr>>>,
}

impl AddressBuckets {
    /// Buckets of `per_hour` requests an hour (at least one).
    pub(crate) fn per_hour(per_hour: u32) -> AddressBuckets {
        AddressBuckets {
            per_hour: per_hour.max(1),
            buckets: Mutex::new(Buckets::new(SignedDuration::from_hours(1), |_| true)),
        }
    }

    /// Takes one request from the address's bucket; when it is empty, the whole seconds to
    /// wait for the next one.
    pub(crate) fn take(&self, address: Option<IpAddr>, now: Timestamp) -> Result<(), u64> {
        // A panic while the lock was held cannot leave a bucket half-written: serve on.
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        buckets.take(address.map(client_address), self.per_hour, now)
    }
}

/// A self-registration the rate limit let through: extracting it takes one request from the
/// client address's bucket, or answers `429` with `Retry-After`.
#[derive(Debug)]
pub struct SelfRegistrationAllowed;

impl FromRequestParts<AppState> for SelfRegistrationAllowed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let address = client_ip(
            &parts.extensions,
            &parts.headers,
            &state.settings.trusted_proxies,
        );
        match state.self_registrations.take(address, state.app.now()) {
            Ok(()) => Ok(SelfRegistrationAllowed),
            Err(retry_after) => Err(too_many(retry_after)),
        }
    }
}

/// `429 too_many_requests`, with `Retry-After`.
fn too_many(retry_after: u64) -> Response {
    let minutes = retry_after.div_ceil(60);
    let wait = if retry_after < 60 {
        format!(
            "{retry_after} seconde{}",
            if retry_after > 1 { "s" } else { "" }
        )
    } else {
        format!("{minutes} minute{}", if minutes > 1 { "s" } else { "" })
    };
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
        format!(
            "Trop de demandes d'enregistrement envoyées depuis cette adresse : réessayez dans \
             {wait}. Rien n'a été enregistré."
        ),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn a_bucket_holds_an_hours_worth_and_refills_continuously() {
        let b = AddressBuckets::per_hour(4);
        let a = Some(IpAddr::from([192, 0, 2, 1]));
        for _ in 0..4 {
            assert_eq!(b.take(a, t(0)), Ok(()));
        }
        // One request every 15 minutes.
        assert_eq!(b.take(a, t(0)), Err(900));
        assert_eq!(b.take(a, t(899)), Err(1));
        assert_eq!(b.take(a, t(900)), Ok(()));
        assert_eq!(b.take(a, t(900)), Err(900));
        // Another address has its own bucket.
        assert_eq!(b.take(Some(IpAddr::from([192, 0, 2, 2])), t(900)), Ok(()));
        // A long wait refills up to the capacity only.
        for _ in 0..4 {
            assert_eq!(b.take(a, t(100_000)), Ok(()));
        }
        assert!(b.take(a, t(100_000)).is_err());
    }

    #[test]
    fn a_clock_moved_back_refills_nothing() {
        let b = AddressBuckets::per_hour(1);
        assert_eq!(b.take(None, t(3600)), Ok(()));
        assert_eq!(b.take(None, t(0)), Err(3600));
        assert_eq!(b.take(None, t(3600)), Err(3600));
        assert_eq!(b.take(None, t(7200)), Ok(()));
    }
}
