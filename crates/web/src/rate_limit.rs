//! Token buckets kept in the memory of one server instance, for the limits that protect the
//! public entry points (the directory, the self-registration). With `n` instances behind a load
//! balancer a client may reach `n` times its rate: the limits bound abuse, not exact quotas.
//!
//! A bucket of rate `r` per period holds `r` requests and refills continuously. Levels are
//! counted in microseconds × requests per period, so one request is exactly one period in
//! microseconds and the arithmetic stays in integers. Time is whatever the caller passes (the
//! application's clock), so tests move it by hand instead of sleeping.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;

use jiff::{SignedDuration, Timestamp};

/// Buckets kept before full ones are forgotten (a full bucket is what a new one would be).
pub(crate) const MAX_BUCKETS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// What is left, in request units (see the module's comment).
    level: u64,
    /// When it was last seen.
    at: Timestamp,
    /// Requests per period: the refill rate and the capacity.
    rate: u64,
}

impl Bucket {
    fn capacity(&self, request: u64) -> u64 {
        self.rate.saturating_mul(request)
    }

    /// The level at `now`: refilled since the bucket was last seen, up to its capacity. A
    /// clock moved back refills nothing.
    fn level_at(&self, now: Timestamp, request: u64) -> u64 {
        let elapsed =
            u64::try_from(now.duration_since(self.at).as_micros().max(0)).unwrap_or(u64::MAX);
        self.level
            .saturating_add(elapsed.saturating_mul(self.rate))
            .min(self.capacity(request))
    }
}

/// Token buckets, one per `K`, refilled from the instants they are asked at.
#[derive(Debug)]
pub(crate) struct Buckets<K> {
    /// One request, in level units: the period in microseconds.
    request: u64,
    /// Whose buckets may be dropped, when crowds of callers would otherwise grow memory (their
    /// limits start afresh); the others are kept whatever their level.
    expendable: fn(&K) -> bool,
    map: HashMap<K, Bucket>,
}

impl<K: Eq + Hash> Buckets<K> {
    /// Buckets whose rates count requests per `period` (at least a microsecond).
    pub(crate) fn new(period: SignedDuration, expendable: fn(&K) -> bool) -> Buckets<K> {
        let request = u64::try_from(period.as_micros()).unwrap_or(u64::MAX).max(1);
        Buckets {
            request,
            expendable,
            map: HashMap::new(),
        }
    }

    /// Takes one request from `key`'s bucket of `rate` requests per period; when it is empty,
    /// the whole seconds to wait for the next one.
    pub(crate) fn take(&mut self, key: K, rate: u32, now: Timestamp) -> Result<(), u64> {
        let request = self.request;
        let rate = u64::from(rate.max(1));
        if self.map.len() >= MAX_BUCKETS && !self.map.contains_key(&key) {
            self.map
                .retain(|_, b| b.level_at(now, request) < b.capacity(request));
            if self.map.len() >= MAX_BUCKETS {
                let expendable = self.expendable;
                self.map.retain(|k, _| !expendable(k));
            }
        }
        let bucket = self.map.entry(key).or_insert(Bucket {
            level: rate.saturating_mul(request),
            at: now,
            rate,
        });
        bucket.rate = rate;
        let level = bucket.level_at(now, request);
        bucket.at = bucket.at.max(now);
        if level >= request {
            bucket.level = level - request;
            Ok(())
        } else {
            bucket.level = level;
            let wait_us = (request - level).div_ceil(rate);
            Err(wait_us.div_ceil(1_000_000).max(1))
        }
    }

    /// How many buckets are kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

/// The address a limit counts a client by: IPv4 as is (IPv4-mapped IPv6 too), IPv6 by its
/// /64, what one subscriber usually gets.
pub(crate) fn client_address(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: f64) -> Timestamp {
        Timestamp::from_microsecond(1_764_000_000_000_000 + (seconds * 1e6) as i64)
            .unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn per_minute() -> Buckets<u32> {
        Buckets::new(SignedDuration::from_secs(60), |k| *k >= 1000)
    }

    #[test]
    fn a_bucket_holds_a_periods_worth_and_refills_continuously() {
        let mut b = per_minute();
        for _ in 0..3 {
            assert_eq!(b.take(1, 3, at(0.0)), Ok(()));
        }
        // Empty: one request comes back every 20 seconds.
        assert_eq!(b.take(1, 3, at(0.0)), Err(20));
        assert_eq!(b.take(1, 3, at(15.0)), Err(5));
        assert_eq!(b.take(1, 3, at(20.0)), Ok(()));
        assert_eq!(b.take(1, 3, at(20.5)), Err(20));
        // A long pause refills it, never above a period's worth.
        for _ in 0..3 {
            assert_eq!(b.take(1, 3, at(3600.0)), Ok(()));
        }
        assert!(b.take(1, 3, at(3600.0)).is_err());
        // Other keys have buckets of their own, of their own rate.
        assert_eq!(b.take(2, 3, at(3600.0)), Ok(()));
        assert_eq!(b.take(1000, 1, at(3600.0)), Ok(()));
        assert_eq!(b.take(1000, 1, at(3600.0)), Err(60));
    }

    #[test]
    fn a_clock_moved_back_refills_nothing() {
        let mut b = per_minute();
        assert_eq!(b.take(1, 1, at(100.0)), Ok(()));
        assert_eq!(b.take(1, 1, at(50.0)), Err(60));
        assert_eq!(b.take(1, 1, at(159.0)), Err(1));
        assert_eq!(b.take(1, 1, at(160.0)), Ok(()));
    }

    #[test]
    fn crowds_of_expendable_callers_do_not_grow_memory_nor_reset_the_others() {
        let mut b = per_minute();
        for _ in 0..2 {
            assert_eq!(b.take(1, 2, at(0.0)), Ok(()));
        }
        for n in 0..MAX_BUCKETS as u32 {
            let _ = b.take(1000 + n, 10, at(0.0));
        }
        assert!(b.len() <= MAX_BUCKETS);
        // The kept bucket stayed, still empty.
        assert_eq!(b.take(1, 2, at(0.0)), Err(30));
    }

    #[test]
    fn full_buckets_are_forgotten_when_there_are_too_many() {
        let mut b = per_minute();
        for n in 0..MAX_BUCKETS as u32 {
            let _ = b.take(n, 10, at(0.0));
        }
        assert_eq!(b.len(), MAX_BUCKETS);
        // A minute later every bucket is full again: room is made for the new one.
        assert_eq!(b.take(u32::MAX, 10, at(60.0)), Ok(()));
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn ipv6_clients_count_by_their_64_prefix() {
        let parse = |s: &str| {
            s.parse::<IpAddr>()
                .unwrap_or(IpAddr::V4([0, 0, 0, 0].into()))
        };
        assert_eq!(
            client_address(parse("2001:db8:1:2:aaaa::1")),
            parse("2001:db8:1:2::")
        );
        assert_eq!(
            client_address(parse("2001:db8:1:2:bbbb::2")),
            client_address(parse("2001:db8:1:2:cccc::3"))
        );
        assert_ne!(
            client_address(parse("2001:db8:1:2::1")),
            client_address(parse("2001:db8:1:3::1"))
        );
        assert_eq!(
            client_address(parse("::ffff:192.0.2.7")),
            parse("192.0.2.7")
        );
        assert_eq!(client_address(parse("192.0.2.7")), parse("192.0.2.7"));
    }
}
