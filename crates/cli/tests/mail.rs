//! Mail delivery by the real binary: killing the server between the commit of a change and the
//! delivery of its mail, then starting it again, delivers the mail exactly once; `mail deliver`
//! and `mail pending` for operators. On SQLite and on PostgreSQL.
//!
//! Waiting is bounded polling for an observable state (a row's columns, a mail's arrival),
//! never a fixed sleep.

use std::error::Error;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use rppsplus_notify::message_id;
use rppsplus_store::{NewOutboxMessage, OutboxEntry, Store};
use rppsplus_test_support::TestDb;
use rppsplus_test_support::smtp::{self, SmtpServer};
use serde_json::json;

type TestResult = Result<(), Box<dyn Error>>;

async fn databases() -> Result<Vec<TestDb>, Box<dyn Error>> {
    let mut dbs = vec![TestDb::sqlite().await?];
    if let Some(pg) = TestDb::postgres().await? {
        dbs.push(pg);
    }
    Ok(dbs)
}

/// What a registration commits along with the new person: the RPPS-number mail, due now.
async fn commit_a_change_with_its_mail(store: &dyn Store, key: &str) -> TestResult {
    let mut tx = store.begin().await?;
    tx.enqueue_outbox(&NewOutboxMessage {
        event_key: key.into(),
        kind: "mail.rpps_number".into(),
        payload: json!({"person_id": 1, "rpps": "10000000017", "to": "camille@example.org",
                        "first_name": "Camille", "last_name": "Béranger"}),
        not_before: Timestamp::now(),
        at: Timestamp::now(),
    })
    .await?;
    tx.commit().await?;
    Ok(())
}

/// `rppsplus serve` on a free port, delivering through `smtp_url`; killed when dropped.
struct Server(Child);

impl Server {
    fn start(db: &TestDb, smtp_url: &str) -> Result<Server, Box<dyn Error>> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rppsplus"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("RPPSPLUS_DATABASE_URL", &db.url)
            .env("RPPSPLUS_SMTP_URL", smtp_url)
            .env("RPPSPLUS_MAIL_RETRY_DELAY", "1")
            .env("RPPSPLUS_MAIL_POLL_INTERVAL", "1")
            .env("RPPSPLUS_MAIL_LEASE", "4")
            .env("RPPSPLUS_MAIL_MAX_ATTEMPTS", "1000")
            // Failed attempts are expected here: only errors are worth showing.
            .env("RPPSPLUS_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()?;
        // Started once it listens.
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            BufReader::new(out).read_line(&mut line)?;
        }
        if !line.contains("listening on") {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("the server did not start: {line:?}").into());
        }
        Ok(Server(child))
    }

    /// SIGKILL: no chance to finish anything.
    fn kill(mut self) -> TestResult {
        self.0.kill()?;
        self.0.wait()?;
        Ok(())
    }

    /// SIGTERM, then waits for a clean exit.
    fn stop(mut self) -> TestResult {
        let status = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()?;
        assert!(status.success());
        let code = self.0.wait()?;
        assert!(code.success(), "graceful shutdown: {code}");
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls the outbox row until `done` holds (at most 30 s).
async fn wait_for_row(
    store: &dyn Store,
    key: &str,
    what: &str,
    done: impl Fn(&OutboxEntry) -> bool,
) -> Result<OutboxEntry, Box<dyn Error>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let row = store
            .outbox_entry(key)
            .await?
            .ok_or("the outbox row is kept")?;
        if done(&row) {
            return Ok(row);
        }
        if Instant::now() > deadline {
            return Err(format!("{what}: still {row:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A port nothing listens on (yet): a relay that is down.
fn free_port() -> Result<u16, Box<dyn Error>> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// After restart with a working relay: the mail arrives once and the row is marked sent.
/// Started once more with a second mail queued, the server delivers that one only: the first
/// never comes twice.
async fn restarted_server_delivers_once(db: &TestDb, relay: &SmtpServer, key: &str) -> TestResult {
    let server = Server::start(db, &relay.url())?;
    let mails = relay.wait_for(1, Duration::from_secs(30)).await?;
    let row = wait_for_row(db.store.as_ref(), key, "marked sent", |r| {
        r.sent_at.is_some()
    })
    .await?;
    server.stop()?;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].field("message_id"), message_id(key));
    assert_eq!(mails[0].field("subject"), "Votre numéro RPPS");
    assert!(mails[0].field("text").contains("Bonjour Camille Béranger,"));
    assert_eq!(row.last_error, None);

    let probe = format!("{key}:probe");
    commit_a_change_with_its_mail(db.store.as_ref(), &probe).await?;
    let server = Server::start(db, &relay.url())?;
    relay.wait_for(2, Duration::from_secs(30)).await?;
    wait_for_row(db.store.as_ref(), &probe, "probe sent", |r| {
        r.sent_at.is_some()
    })
    .await?;
    server.stop()?;
    let all = relay.received()?;
    let ids: Vec<&str> = all.iter().map(|m| m.field("message_id")).collect();
    assert_eq!(
        ids,
        [message_id(key), message_id(&probe)],
        "exactly one mail for {key}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_the_relay_is_down_then_restarted_delivers_exactly_once() -> TestResult {
    if !smtp::available()? {
        return Ok(());
    }
    for db in databases().await? {
        let key = "person:1:rpps_number";
        commit_a_change_with_its_mail(db.store.as_ref(), key).await?;
        let port = free_port()?;
        let server = Server::start(&db, &format!("smtp://127.0.0.1:{port}"))?;
        wait_for_row(db.store.as_ref(), key, "a failed attempt", |r| {
            r.attempts >= 1 && r.last_error.is_some()
        })
        .await?;
        server.kill()?;
        let row = db.store.outbox_entry(key).await?.ok_or("kept")?;
        assert_eq!(row.sent_at, None, "not delivered, not lost");

        let Some(relay) = SmtpServer::start_on(port, 0)? else {
            return Ok(());
        };
        restarted_server_delivers_once(&db, &relay, key).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_in_the_middle_of_sending_then_restarted_delivers_exactly_once() -> TestResult {
    if !smtp::available()? {
        return Ok(());
    }
    for db in databases().await? {
        let key = "person:2:rpps_number";
        commit_a_change_with_its_mail(db.store.as_ref(), key).await?;
        // A relay that accepts the connection and never answers: the server is stuck in the
        // middle of the delivery, holding the mail's lease, when it is killed.
        let stalled = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let stalled_url = format!("smtp://{}", stalled.local_addr()?);
        let accept = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = stalled.accept().await {
                held.push(socket);
            }
        });
        let server = Server::start(&db, &stalled_url)?;
        let leased = wait_for_row(db.store.as_ref(), key, "a claim", |r| {
            r.attempts == 1 && r.leased_until.is_some()
        })
        .await?;
        server.kill()?;
        accept.abort();
        assert_eq!(
            (leased.sent_at, leased.last_error),
            (None, None),
            "killed while sending"
        );

        let Some(relay) = SmtpServer::start(0)? else {
            return Ok(());
        };
        restarted_server_delivers_once(&db, &relay, key).await?;
    }
    Ok(())
}

#[tokio::test]
async fn operators_list_and_deliver_the_outbox_from_the_command_line() -> TestResult {
    for db in databases().await? {
        commit_a_change_with_its_mail(db.store.as_ref(), "person:3:rpps_number").await?;
        let dir = tempfile::tempdir()?;
        let run = |args: &[&str]| {
            Command::new(env!("CARGO_BIN_EXE_rppsplus"))
                .args(args)
                .env("RPPSPLUS_DATABASE_URL", &db.url)
                .env("RPPSPLUS_MAIL_DIR", dir.path())
                .env("RPPSPLUS_LOG", "warn")
                .output()
        };
        let out = run(&["mail", "pending"])?;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("1 due, 0 scheduled, 0 being sent, 0 parked, 0 sent"),
            "{text}"
        );
        assert!(
            text.contains("mail.rpps_number\tperson:3:rpps_number\tattempts 0"),
            "{text}"
        );
        assert!(!text.contains("camille"), "no address listed: {text}");

        let out = run(&["mail", "deliver"])?;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with("1 sent, 0 to retry later, 0 parked")
        );
        let file = dir.path().join(format!(
            "{}.eml",
            rppsplus_notify::message_id_hash("person:3:rpps_number")
        ));
        assert!(std::fs::read_to_string(&file)?.contains("Message-ID: "));

        let out = run(&["mail", "deliver"])?;
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("0 sent"));
        assert_eq!(std::fs::read_dir(dir.path())?.count(), 1);
        let out = run(&["mail", "pending"])?;
        assert!(
            String::from_utf8_lossy(&out.stdout)
                .contains("0 due, 0 scheduled, 0 being sent, 0 parked, 1 sent")
        );
        let out = run(&["mail", "retry", "1"])?;
        assert!(!out.status.success(), "a sent mail is not parked");
    }
    Ok(())
}

#[test]
fn serve_help_documents_the_mail_settings() -> TestResult {
    let out = Command::new(env!("CARGO_BIN_EXE_rppsplus"))
        .args(["serve", "--help"])
        .output()?;
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--mail-dir",
        "RPPSPLUS_MAIL_DIR",
        "--smtp-url",
        "RPPSPLUS_SMTP_URL",
        "--mail-from",
        "RPPSPLUS_MAIL_FROM",
        "RPPSPLUS_MAIL_RETRY_DELAY",
        "RPPSPLUS_MAIL_MAX_ATTEMPTS",
        "RPPSPLUS_MAIL_LEASE",
    ] {
        assert!(help.contains(needle), "{needle} missing from serve --help");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_rppsplus"))
        .args(["serve", "--help"])
        .env("RPPSPLUS_SMTP_URL", "smtps://u:hunter2@relay.example")
        .output()?;
    assert!(!String::from_utf8_lossy(&out.stdout).contains("hunter2"));
    Ok(())
}
