//! Access to the public directory over real HTTP, on SQLite and on PostgreSQL: directory keys
//! in `ESANTE-API-KEY` (401 `OperationOutcome` without one, revocation at the next request),
//! anonymous reads when the operator allows them, the per-key and per-address rate limits on
//! the server's clock (moved by hand: no sleep), the extracts streamed to the keys allowed, and
//! the operator's `rppsplus apikey` commands.

use std::error::Error;
use std::process::{Command, Output};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE, RETRY_AFTER};
use rppsplus_app::extracts::ExtractFormat;
use rppsplus_app::{Actor, App, AppSettings, SystemClock};
use rppsplus_formats::extract::{ExtractItem, ExtractReader};
use rppsplus_store::DirectoryKeyId;
use rppsplus_test_support::{ManualClock, TestDb, TestServer};
use rppsplus_web::{DirectorySettings, WebSettings};

type TestResult = Result<(), Box<dyn Error>>;

/// A search of the FHIR API (any resource behind the gate would do).
const SEARCH: &str = "/fhir/v2/Practitioner?_count=1";

async fn databases() -> Result<Vec<TestDb>, Box<dyn Error>> {
    let mut dbs = vec![TestDb::sqlite().await?];
    if let Some(pg) = TestDb::postgres().await? {
        dbs.push(pg);
    }
    Ok(dbs)
}

/// The demo data behind a server with these directory settings.
async fn server(
    db: TestDb,
    demo: bool,
    directory: DirectorySettings,
    clock: Arc<ManualClock>,
) -> Result<TestServer, Box<dyn Error>> {
    let web = WebSettings {
        demo,
        directory,
        ..WebSettings::default()
    };
    let server = TestServer::start_with_clock(db, web, clock).await?;
    server.app.load_demo().await.map_err(|e| format!("{e:?}"))?;
    Ok(server)
}

fn clock() -> Result<Arc<ManualClock>, Box<dyn Error>> {
    Ok(Arc::new(ManualClock::new(
        "2026-11-27T09:00:00Z".parse::<Timestamp>()?,
    )))
}

fn closed(rate: u32) -> DirectorySettings {
    DirectorySettings {
        anonymous: Some(false),
        rate_per_minute: rate,
        anonymous_rate_per_minute: rate,
    }
}

async fn key(
    app: &App,
    extracts: bool,
    rate: Option<u32>,
) -> Result<(DirectoryKeyId, String), Box<dyn Error>> {
    let issued = app
        .create_directory_key(&Actor::Operator, "Logiciel de test", extracts, rate)
        .await
        .map_err(|e| format!("{e:?}"))?;
    Ok((issued.view.id, issued.secret))
}

async fn get(
    http: &reqwest::Client,
    server: &TestServer,
    path: &str,
    key: Option<&str>,
) -> Result<reqwest::Response, Box<dyn Error>> {
    let mut req = http.get(server.url(path));
    if let Some(k) = key {
        req = req.header("ESANTE-API-KEY", k);
    }
    Ok(req.send().await?)
}

/// The request went through the gate and the FHIR API answered it.
fn admitted(r: &reqwest::Response) -> bool {
    r.status() == StatusCode::OK
}

/// A refusal: the status, a FHIR `OperationOutcome` with this issue code, as FHIR JSON.
async fn assert_outcome(
    r: reqwest::Response,
    status: StatusCode,
    code: &str,
) -> Result<serde_json::Value, Box<dyn Error>> {
    assert_eq!(r.status(), status);
    let content_type = r
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/fhir+json"),
        "{content_type}"
    );
    let body: serde_json::Value = r.json().await?;
    assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
    assert_eq!(body["issue"][0]["severity"], "error", "{body}");
    assert_eq!(body["issue"][0]["code"], code, "{body}");
    assert!(body["issue"][0]["diagnostics"].is_string(), "{body}");
    Ok(body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_opens_the_directory_and_a_revoked_one_stops_at_the_next_request() -> TestResult {
    for db in databases().await? {
        let server = server(db, false, closed(1_000), clock()?).await?;
        let http = reqwest::Client::new();

        let r = get(&http, &server, SEARCH, None).await?;
        assert_outcome(r, StatusCode::UNAUTHORIZED, "login").await?;
        for wrong in [
            "nimporte-quoi".to_owned(),
            format!("rppsdir_{}", "ab".repeat(32)),
            format!("rpps_{}", "ab".repeat(32)),
        ] {
            let r = get(&http, &server, SEARCH, Some(&wrong)).await?;
            assert_outcome(r, StatusCode::UNAUTHORIZED, "login").await?;
        }
        // FHIR clients read the capability statement first, without a key.
        let r = get(&http, &server, "/fhir/v2/metadata", None).await?;
        assert!(admitted(&r), "{}", r.status());

        let (id, secret) = key(&server.app, false, None).await?;
        let r = get(&http, &server, SEARCH, Some(&secret)).await?;
        assert!(admitted(&r), "{}", r.status());
        // The header's name is case-insensitive.
        let r = http
            .get(server.url(SEARCH))
            .header("esante-api-key", &secret)
            .send()
            .await?;
        assert!(admitted(&r), "{}", r.status());

        server
            .app
            .revoke_directory_key(&Actor::Operator, id)
            .await
            .map_err(|e| format!("{e:?}"))?;
        let r = get(&http, &server, SEARCH, Some(&secret)).await?;
        assert_outcome(r, StatusCode::UNAUTHORIZED, "login").await?;
        server.stop().await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_reads_when_allowed_but_a_wrong_key_is_still_refused() -> TestResult {
    let db = TestDb::sqlite().await?;
    let open = DirectorySettings {
        anonymous: Some(true),
        ..DirectorySettings::default()
    };
    let server = server(db, false, open, clock()?).await?;
    let http = reqwest::Client::new();
    let r = get(&http, &server, SEARCH, None).await?;
    assert!(admitted(&r), "{}", r.status());
    let r = get(&http, &server, SEARCH, Some("rppsdir_faux")).await?;
    assert_outcome(r, StatusCode::UNAUTHORIZED, "login").await?;
    server.stop().await;

    // Demo mode opens anonymous reads unless the operator says otherwise.
    let demo = server_of(true, DirectorySettings::default()).await?;
    let r = get(&http, &demo, SEARCH, None).await?;
    assert!(admitted(&r), "{}", r.status());
    demo.stop().await;
    let demo_closed = server_of(
        true,
        DirectorySettings {
            anonymous: Some(false),
            ..DirectorySettings::default()
        },
    )
    .await?;
    let r = get(&http, &demo_closed, SEARCH, None).await?;
    assert_outcome(r, StatusCode::UNAUTHORIZED, "login").await?;
    demo_closed.stop().await;
    // And a server that is not a demo keeps the directory closed by default.
    let production = server_of(false, DirectorySettings::default()).await?;
    let r = get(&http, &production, SEARCH, None).await?;
    assert_outcome(r, StatusCode::UNAUTHORIZED, "login").await?;
    production.stop().await;
    Ok(())
}

async fn server_of(demo: bool, directory: DirectorySettings) -> Result<TestServer, Box<dyn Error>> {
    server(TestDb::sqlite().await?, demo, directory, clock()?).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_key_and_each_anonymous_address_has_its_rate_on_the_server_clock() -> TestResult {
    for db in databases().await? {
        let clock = clock()?;
        let settings = DirectorySettings {
            anonymous: Some(true),
            rate_per_minute: 3,
            anonymous_rate_per_minute: 1,
        };
        let server = server(db, false, settings, clock.clone()).await?;
        let http = reqwest::Client::new();
        let (_, slow) = key(&server.app, false, Some(2)).await?;
        let (_, default) = key(&server.app, false, None).await?;

        // A key's own rate: two a minute, so one every 30 seconds once spent.
        for _ in 0..2 {
            let r = get(&http, &server, SEARCH, Some(&slow)).await?;
            assert!(admitted(&r), "{}", r.status());
        }
        let r = get(&http, &server, SEARCH, Some(&slow)).await?;
        let retry = r
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        assert_eq!(retry.as_deref(), Some("30"));
        assert_outcome(r, StatusCode::TOO_MANY_REQUESTS, "throttled").await?;

        // Another key is not slowed down by it, and has the server's default rate.
        for _ in 0..3 {
            let r = get(&http, &server, SEARCH, Some(&default)).await?;
            assert!(admitted(&r), "{}", r.status());
        }
        let r = get(&http, &server, SEARCH, Some(&default)).await?;
        assert_outcome(r, StatusCode::TOO_MANY_REQUESTS, "throttled").await?;

        // Anonymous reads: one a minute for this address.
        let r = get(&http, &server, SEARCH, None).await?;
        assert!(admitted(&r), "{}", r.status());
        let r = get(&http, &server, SEARCH, None).await?;
        assert_eq!(
            r.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()),
            Some("60")
        );
        assert_outcome(r, StatusCode::TOO_MANY_REQUESTS, "throttled").await?;

        // 29 seconds later the slow key still waits a second; at 30 it may go again.
        let start: Timestamp = "2026-11-27T09:00:00Z".parse()?;
        clock.set(start.checked_add(SignedDuration::from_secs(29))?);
        let r = get(&http, &server, SEARCH, Some(&slow)).await?;
        assert_eq!(
            r.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()),
            Some("1")
        );
        clock.set(start.checked_add(SignedDuration::from_secs(30))?);
        let r = get(&http, &server, SEARCH, Some(&slow)).await?;
        assert!(admitted(&r), "{}", r.status());
        clock.set(start.checked_add(SignedDuration::from_secs(60))?);
        let r = get(&http, &server, SEARCH, None).await?;
        assert!(admitted(&r), "{}", r.status());
        server.stop().await;
    }
    Ok(())
}

/// An extract downloaded with `key`: its bytes, its file name.
async fn download(
    http: &reqwest::Client,
    server: &TestServer,
    name: &str,
    key: &str,
) -> Result<(Vec<u8>, String), Box<dyn Error>> {
    let r = get(http, server, &format!("/extracts/{name}"), Some(key)).await?;
    assert_eq!(r.status(), StatusCode::OK, "{name}");
    assert_eq!(
        r.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()),
        Some("text/plain; charset=utf-8")
    );
    let disposition = r
        .headers()
        .get(CONTENT_DISPOSITION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Ok((r.bytes().await?.to_vec(), disposition))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extracts_are_streamed_to_the_keys_allowed_and_read_back() -> TestResult {
    for db in databases().await? {
        let open = DirectorySettings {
            anonymous: Some(true),
            ..DirectorySettings::default()
        };
        let server = server(db, false, open, clock()?).await?;
        let http = reqwest::Client::new();
        let (public_id, public_key) = key(&server.app, false, None).await?;
        let (_, rass_key) = key(&server.app, true, None).await?;

        for (name, format, key) in [
            ("ps-libreacces", ExtractFormat::PsLibreAcces, &public_key),
            ("ps-libreacces", ExtractFormat::PsLibreAcces, &rass_key),
            ("rass", ExtractFormat::Rass, &rass_key),
        ] {
            let (bytes, disposition) = download(&http, &server, name, key).await?;
            let file = match format {
                ExtractFormat::PsLibreAcces => "PS_LibreAcces_Personne_activite_202611271000.txt",
                ExtractFormat::Rass => {
                    "Extraction_ProSanteConnect_Personne_activite_202611271000.txt"
                }
            };
            assert_eq!(disposition, format!("attachment; filename=\"{file}\""));
            // The same file as the operator's export, and the reader parses it back.
            let (expected, summary) = server
                .app
                .export_extract(format, Vec::new(), |_| {})
                .await
                .map_err(|e| format!("{e:?}"))?;
            assert!(
                bytes == expected,
                "{name}: the download ({} bytes) differs from the export ({} bytes)",
                bytes.len(),
                expected.len()
            );
            let reader = ExtractReader::new(bytes.as_slice())?;
            assert_eq!(reader.format(), format);
            let mut rows = 0;
            for item in reader {
                match item? {
                    ExtractItem::Row { .. } => rows += 1,
                    other => return Err(format!("{name}: {other:?}").into()),
                }
            }
            assert_eq!(rows, summary.rows);
            assert!(rows > 0);
        }

        // The restricted extract only for keys allowed; extracts never without a key.
        let r = get(&http, &server, "/extracts/rass", Some(&public_key)).await?;
        assert_outcome(r, StatusCode::FORBIDDEN, "forbidden").await?;
        let r = get(&http, &server, "/extracts/ps-libreacces", None).await?;
        assert_outcome(r, StatusCode::UNAUTHORIZED, "login").await?;
        let r = get(&http, &server, "/extracts/rass", Some("rppsdir_faux")).await?;
        assert_outcome(r, StatusCode::UNAUTHORIZED, "login").await?;
        let r = get(&http, &server, "/extracts/finess", Some(&rass_key)).await?;
        assert_outcome(r, StatusCode::NOT_FOUND, "not-found").await?;

        // Every download is on record, under the key that made it.
        let audit = server
            .db
            .store
            .audit_rows(0, 10_000)
            .await?
            .into_iter()
            .filter(|row| row.entry.action == "extract.download")
            .collect::<Vec<_>>();
        assert_eq!(audit.len(), 3);
        assert_eq!(audit[0].entry.actor, format!("directory_key:{public_id}"));
        assert_eq!(audit[2].entry.details["format"], "rass");
        server.stop().await;
    }
    Ok(())
}

fn rppsplus(args: &[&str], database_url: &str) -> std::io::Result<Output> {
    Command::new(env!("CARGO_BIN_EXE_rppsplus"))
        .args(args)
        .env("RPPSPLUS_DATABASE_URL", database_url)
        .env("RPPSPLUS_LOG", "warn")
        .output()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apikey_commands_create_list_and_revoke_keys() -> TestResult {
    for db in databases().await? {
        let app = App::new(
            db.store.clone(),
            AppSettings::default(),
            Arc::new(SystemClock),
        );
        app.prepare().await.map_err(|e| format!("{e:?}"))?;

        let out = rppsplus(
            &[
                "apikey",
                "create",
                "ARS Bretagne",
                "--extracts",
                "--rate",
                "120/min",
            ],
            &db.url,
        )?;
        assert!(out.status.success(), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert_eq!(stdout.lines().count(), 1, "the key alone: {stdout}");
        let secret = stdout.trim();
        assert!(
            secret.starts_with("rppsdir_") && secret.len() == 72,
            "{secret}"
        );
        assert!(text(&out.stderr).contains("shown this once"));
        let stored = app
            .authenticate_directory_key(secret)
            .await
            .map_err(|e| format!("{e:?}"))?
            .ok_or("the printed key does not authenticate")?;
        assert_eq!(stored.record.name, "ARS Bretagne");
        assert!(stored.record.restricted_extracts);
        assert_eq!(stored.record.rate_per_minute, Some(120));

        let out = rppsplus(&["apikey", "create", "Logiciel GAM"], &db.url)?;
        assert!(out.status.success(), "{}", text(&out.stderr));
        let other = text(&out.stdout).trim().to_owned();
        assert_ne!(other, secret);

        let out = rppsplus(&["apikey", "list"], &db.url)?;
        assert!(out.status.success(), "{}", text(&out.stderr));
        let list = text(&out.stdout);
        let lines: Vec<&str> = list.lines().collect();
        assert_eq!(lines.len(), 3, "{list}");
        let id = stored.id.to_string();
        let first: Vec<&str> = lines[1].split('\t').collect();
        assert_eq!(first[0], id);
        assert_eq!(first[2..], ["-", "yes", "120", "ARS Bretagne"]);
        assert!(
            lines[2].ends_with("\t-\tno\tdefault\tLogiciel GAM"),
            "{list}"
        );
        assert!(!list.contains(secret) && !list.contains(&other));

        let out = rppsplus(&["apikey", "revoke", &id], &db.url)?;
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            app.authenticate_directory_key(secret)
                .await
                .map_err(|e| format!("{e:?}"))?
                .is_none()
        );
        assert!(
            app.authenticate_directory_key(&other)
                .await
                .map_err(|e| format!("{e:?}"))?
                .is_some()
        );
        let out = rppsplus(&["apikey", "list"], &db.url)?;
        let revoked: Vec<String> = text(&out.stdout)
            .lines()
            .nth(1)
            .map(|l| l.split('\t').map(str::to_owned).collect())
            .unwrap_or_default();
        assert_ne!(revoked.get(2).map(String::as_str), Some("-"));

        // Revoking twice, a bad name, a bad rate: refused, nothing stored.
        let out = rppsplus(&["apikey", "revoke", &id], &db.url)?;
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains("not_found"));
        let out = rppsplus(&["apikey", "create", "  "], &db.url)?;
        assert_eq!(out.status.code(), Some(2));
        assert!(text(&out.stderr).contains("invalid_name"));
        let out = rppsplus(&["apikey", "create", "X", "--rate", "0/min"], &db.url)?;
        assert_eq!(out.status.code(), Some(2));
        let keys = app
            .directory_keys(&Actor::Operator)
            .await
            .map_err(|e| format!("{e:?}"))?;
        assert_eq!(keys.len(), 2);
        // The operator's command is audited.
        let actions: Vec<String> = db
            .store
            .audit_rows(0, 1_000)
            .await?
            .into_iter()
            .map(|r| r.entry.action)
            .filter(|a| a.starts_with("directory_key."))
            .collect();
        assert_eq!(
            actions,
            [
                "directory_key.create",
                "directory_key.create",
                "directory_key.revoke"
            ]
        );
        app.store().close().await;
    }
    Ok(())
}

#[test]
fn serve_help_documents_the_directory_settings() -> TestResult {
    let out = Command::new(env!("CARGO_BIN_EXE_rppsplus"))
        .args(["serve", "--help"])
        .output()?;
    let help = text(&out.stdout);
    for word in [
        "--directory-anonymous",
        "RPPSPLUS_DIRECTORY_ANONYMOUS",
        "--directory-rate",
        "RPPSPLUS_DIRECTORY_RATE",
        "--directory-anonymous-rate",
        "RPPSPLUS_DIRECTORY_ANONYMOUS_RATE",
    ] {
        assert!(help.contains(word), "{word} missing from serve --help");
    }
    Ok(())
}
