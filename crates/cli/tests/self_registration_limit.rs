//! The public self-registration (`POST /api/v1/self-registrations`, no token) is rate-limited
//! per client IP address, over real HTTP on SQLite and on PostgreSQL: beyond the hourly rate a
//! submission gets `429 too_many_requests` in the API's error shape, with `Retry-After`, and
//! nothing is stored; another address has its own allowance; time comes from the server's
//! clock, moved by hand (no sleep).

mod api_common;

use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::sync::Arc;

use api_common::*;
use jiff::{SignedDuration, Timestamp};
use rppsplus_test_support::{ManualClock, TestDb, TestServer};
use rppsplus_web::{TrustedProxies, WebSettings};
use serde_json::{Value, json};

fn submission(first: &str, last: &str) -> Value {
    json!({
        "identity": {
            "civility": "MME",
            "sex": "F",
            "birth_name": last,
            "usage_name": null,
            "first_names": [first],
            "birth_date": "1991-03-14",
            "birth_country": "99100",
            "birth_commune": "69123",
            "id_document": {"type": "CNI", "number": "QR1234567", "expires_on": "2034-01-31"}
        },
        "contact": {"email": null, "mobile": null},
        "exercise": {
            "exercise_last_name": null,
            "exercise_first_name": null,
            "establishment_finess": SSIAD,
            "start_date": "2025-03-03",
            "profession": "371",
            "role": "GENR12",
            "practice_mode": "S"
        },
        "existing_rpps": null,
        "confirm_new_person": false
    })
}

async fn servers(per_hour: u32, clock: Arc<ManualClock>) -> Fallible<Vec<TestServer>> {
    servers_behind(per_hour, clock, TrustedProxies::default()).await
}

async fn servers_behind(
    per_hour: u32,
    clock: Arc<ManualClock>,
    proxies: TrustedProxies,
) -> Fallible<Vec<TestServer>> {
    let mut dbs = vec![TestDb::sqlite().await?];
    if let Some(pg) = TestDb::postgres().await? {
        dbs.push(pg);
    }
    let mut out = Vec::new();
    for db in dbs {
        let server = TestServer::start_configured(db, clock.clone(), |base| WebSettings {
            demo: true,
            public_url: base.to_owned(),
            self_registrations_per_hour: per_hour,
            trusted_proxies: proxies.clone(),
            ..WebSettings::default()
        })
        .await?;
        server.app.load_demo().await.map_err(|e| format!("{e:?}"))?;
        out.push(server);
    }
    Ok(out)
}

/// A client whose connections come from `source` (any 127.0.0.0/8 address reaches the server
/// on Linux's loopback).
fn client_from(source: IpAddr) -> Fallible<reqwest::Client> {
    Ok(reqwest::Client::builder().local_address(source).build()?)
}

struct Reply {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

async fn submit(server: &TestServer, client: &reqwest::Client, body: Value) -> Fallible<Reply> {
    submit_forwarded(server, client, body, None).await
}

/// [`submit`] with an `X-Forwarded-For` header.
async fn submit_forwarded(
    server: &TestServer,
    client: &reqwest::Client,
    body: Value,
    forwarded_for: Option<&str>,
) -> Fallible<Reply> {
    let mut request = client
        .post(server.url("/api/v1/self-registrations"))
        .json(&body);
    if let Some(f) = forwarded_for {
        request = request.header("X-Forwarded-For", f);
    }
    let r = request.send().await?;
    let status = r.status().as_u16();
    let retry_after = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = r.json().await.unwrap_or(Value::Null);
    Ok(Reply {
        status,
        retry_after,
        body,
    })
}

/// Row counts and the length of the change feed, to prove that a refused call stored nothing.
async fn stored(server: &TestServer) -> Fallible<(rppsplus_store::RowCounts, usize)> {
    let store = server.app.store();
    Ok((
        store.row_counts().await?,
        store.changes_after(0, 100_000).await?.len(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_registrations_are_limited_per_address_without_sleeping() -> TestResult {
    let start = Timestamp::now();
    let clock = Arc::new(ManualClock::new(start));
    for server in servers(2, clock.clone()).await? {
        clock.set(start);
        let here = client_from(IpAddr::V4(Ipv4Addr::LOCALHOST))?;
        // Two an hour: the first two pass (an invalid one counts as well).
        let a = submit(&server, &here, submission("Léa", "Fontaine")).await?;
        assert_eq!(a.status, 202, "{}", a.body);
        let mut invalid = submission("Zoé", "Garnier");
        invalid["identity"]["birth_name"] = json!("");
        let a = submit(&server, &here, invalid).await?;
        assert_eq!(a.status, 422, "{}", a.body);

        // The third is refused, in the API's error shape, and stores nothing.
        let before = stored(&server).await?;
        let a = submit(&server, &here, submission("Zoé", "Garnier")).await?;
        assert_eq!(a.status, 429, "{}", a.body);
        assert_eq!(a.body["error"]["code"], "too_many_requests");
        let message = a.body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("réessayez dans 30 minutes"), "{message}");
        assert_eq!(
            a.retry_after.as_deref(),
            Some("1800"),
            "one every 30 minutes"
        );
        assert_eq!(stored(&server).await?, before, "nothing stored");

        // Another address has its own allowance.
        let elsewhere = client_from(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))?;
        let a = submit(&server, &elsewhere, submission("Zoé", "Garnier")).await?;
        assert_eq!(a.status, 202, "{}", a.body);

        // A second before the refill: still refused, one second to wait.
        clock.set(start + SignedDuration::from_secs(1799));
        let a = submit(&server, &here, submission("Zoé", "Garnier")).await?;
        assert_eq!((a.status, a.retry_after.as_deref()), (429, Some("1")));
        // Once refilled, accepted again.
        clock.set(start + SignedDuration::from_secs(1800));
        let a = submit(&server, &here, submission("Zoé", "Garnier")).await?;
        assert_eq!(a.status, 202, "{}", a.body);
        assert_eq!(
            stored(&server).await?.1,
            before.1 + 2,
            "two more submissions"
        );

        // Other calls are not limited.
        let a = here.get(server.url("/api/v1/ping")).send().await?;
        assert_eq!(a.status().as_u16(), 204);
    }
    Ok(())
}

/// Submits, in turn, each step's person from its client with its `X-Forwarded-For`, and checks
/// the status of each answer.
async fn expect_in_turn(
    server: &TestServer,
    steps: &[(&reqwest::Client, &str, (&str, &str), u16)],
) -> TestResult {
    for (client, forwarded, (first, last), expected) in steps {
        let a = submit_forwarded(server, client, submission(first, last), Some(forwarded)).await?;
        assert_eq!(a.status, *expected, "{forwarded}: {}", a.body);
    }
    Ok(())
}

/// Behind a trusted proxy each client named by `X-Forwarded-For` has its own allowance; from a
/// connection that is not a trusted proxy, the header changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_clients_are_counted_by_forwarded_address() -> TestResult {
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let proxy = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let trusted = TrustedProxies::new(vec!["127.0.0.1".parse()?]);
    for server in servers_behind(1, clock.clone(), trusted).await? {
        let via_proxy = client_from(proxy)?;
        // A connection from an address that is no trusted proxy is counted by that address,
        // whatever it forwards.
        let direct = client_from(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)))?;
        expect_in_turn(
            &server,
            &[
                (&via_proxy, "198.51.100.1", ("Léa", "Fontaine"), 202),
                // The same client again, even claiming another address to the left of the
                // proxy's entry: refused.
                (
                    &via_proxy,
                    "203.0.113.5, 198.51.100.1",
                    ("Zoé", "Garnier"),
                    429,
                ),
                // Another client through the same proxy: its own allowance.
                (&via_proxy, "198.51.100.2", ("Zoé", "Garnier"), 202),
                (&direct, "198.51.100.7", ("Inès", "Marchand"), 202),
                (&direct, "198.51.100.8", ("Inès", "Marchand"), 429),
            ],
        )
        .await?;
    }
    // Without trusted proxies the header is ignored: one allowance for the connection.
    for server in servers(1, clock.clone()).await? {
        let here = client_from(proxy)?;
        expect_in_turn(
            &server,
            &[
                (&here, "198.51.100.1", ("Léa", "Fontaine"), 202),
                (&here, "198.51.100.2", ("Zoé", "Garnier"), 429),
            ],
        )
        .await?;
    }
    Ok(())
}

#[test]
fn serve_help_documents_the_self_registration_limit() -> TestResult {
    let out = Command::new(env!("CARGO_BIN_EXE_rppsplus"))
        .args(["serve", "--help"])
        .output()?;
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--self-registrations-per-hour"), "{help}");
    assert!(
        help.contains("RPPSPLUS_SELF_REGISTRATIONS_PER_HOUR"),
        "{help}"
    );
    assert!(help.contains("[default: 20]"), "{help}");
    // Zero is refused before anything starts (and the bogus database would stop it anyway).
    let out = Command::new(env!("CARGO_BIN_EXE_rppsplus"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--self-registrations-per-hour",
            "0",
        ])
        .env("RPPSPLUS_DATABASE_URL", "nope://nowhere")
        .output()?;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid value '0' for '--self-registrations-per-hour"),
        "{err}"
    );
    Ok(())
}
