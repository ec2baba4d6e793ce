//! Delivering the outbox through a real SMTP server on loopback (aiosmtpd) and into files, on
//! SQLite and on PostgreSQL. No sleeps: the queue is drained with `try_deliver_one`.

use std::collections::BTreeSet;
use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use rppsplus_notify::{
    FileMailer, Mailer, Outcome, RetryPolicy, SmtpMailer, SmtpSettings, Worker, WorkerSettings,
    message_id, message_id_hash,
};
use rppsplus_store::{NewOutboxMessage, OutboxClaim, Store};
use rppsplus_test_support::TestDb;
use rppsplus_test_support::smtp::SmtpServer;
use serde_json::json;

type TestResult = Result<(), Box<dyn Error>>;

async fn databases() -> Result<Vec<TestDb>, Box<dyn Error>> {
    let mut dbs = vec![TestDb::sqlite().await?];
    if let Some(pg) = TestDb::postgres().await? {
        dbs.push(pg);
    }
    Ok(dbs)
}

fn t0() -> Result<Timestamp, Box<dyn Error>> {
    Ok("2026-11-27T09:00:00Z".parse()?)
}

fn plus(t: Timestamp, secs: i64) -> Result<Timestamp, Box<dyn Error>> {
    Ok(t.checked_add(SignedDuration::from_secs(secs))?)
}

async fn enqueue(
    store: &dyn Store,
    key: &str,
    kind: &str,
    payload: serde_json::Value,
    at: Timestamp,
) -> Result<i64, Box<dyn Error>> {
    let mut tx = store.begin().await?;
    let id = tx
        .enqueue_outbox(&NewOutboxMessage {
            event_key: key.into(),
            kind: kind.into(),
            payload,
            not_before: at,
            at,
        })
        .await?;
    tx.commit().await?;
    Ok(id)
}

fn rpps_payload(n: u32) -> serde_json::Value {
    json!({"person_id": n, "rpps": "10000000017", "to": format!("zoe.{n}@example.org"),
           "first_name": "Zoé", "last_name": "Lefèvre-Dupré"})
}

fn settings(retry: RetryPolicy) -> Result<WorkerSettings, Box<dyn Error>> {
    let mut s = WorkerSettings::new("RPPS+ <ne-pas-repondre@rpps-plus.example>".parse()?);
    s.retry = retry;
    Ok(s)
}

fn smtp(server: &SmtpServer) -> Result<Arc<dyn Mailer>, Box<dyn Error>> {
    Ok(Arc::new(SmtpMailer::new(&SmtpSettings::parse(
        &server.url(),
    )?)?))
}

#[tokio::test]
async fn a_mail_reaches_a_real_smtp_server_with_its_headers_in_utf8() -> TestResult {
    for db in databases().await? {
        let Some(server) = SmtpServer::start(0)? else {
            return Ok(());
        };
        let now = t0()?;
        enqueue(
            db.store.as_ref(),
            "person:1:rpps",
            "mail.rpps_number",
            rpps_payload(1),
            now,
        )
        .await?;
        let worker = Worker::new(
            db.store.clone(),
            smtp(&server)?,
            settings(RetryPolicy::default())?,
        );
        assert_eq!(worker.try_deliver_one(now).await?, Outcome::Sent);
        assert_eq!(worker.try_deliver_one(now).await?, Outcome::Empty);

        let mails = server.wait_for(1, Duration::from_secs(10)).await?;
        assert_eq!(mails.len(), 1);
        let m = &mails[0];
        assert_eq!(m.field("message_id"), message_id("person:1:rpps"));
        assert_eq!(
            m.field("message_id"),
            format!("<{}@rpps-plus>", message_id_hash("person:1:rpps"))
        );
        assert_eq!(m.field("mail_from"), "ne-pas-repondre@rpps-plus.example");
        assert_eq!(m.parsed["rcpt_tos"], json!(["zoe.1@example.org"]));
        assert_eq!(m.field("from"), "RPPS+ <ne-pas-repondre@rpps-plus.example>");
        assert_eq!(m.field("to"), "zoe.1@example.org");
        assert_eq!(m.field("subject"), "Votre numéro RPPS");
        assert!(
            m.field("raw_subject").contains("=?utf-8?"),
            "non-ASCII subject sent encoded (RFC 2047): {}",
            m.field("raw_subject")
        );
        assert!(m.raw.contains("Content-Type: multipart/alternative"));
        assert!(
            m.raw.contains("Date: Fri, 27 Nov 2026 09:00:00"),
            "Date is when the mail was due"
        );
        let text = m.field("text");
        assert!(text.contains("Bonjour Zoé Lefèvre-Dupré,"), "{text}");
        assert!(text.contains("Votre numéro RPPS est : 10000000017"));
        assert!(text.contains("Annuaire Santé dans les 24 heures"));
        assert!(
            m.field("html")
                .contains("<strong style=\"font-size: 1.25em;\">10000000017</strong>")
        );

        let entry = db
            .store
            .outbox_entry("person:1:rpps")
            .await?
            .ok_or("row kept")?;
        assert_eq!(entry.sent_at, Some(now));
        assert_eq!((entry.attempts, entry.last_error), (1, None));
    }
    Ok(())
}

#[tokio::test]
async fn refusals_are_retried_with_back_off_until_accepted() -> TestResult {
    for db in databases().await? {
        let Some(server) = SmtpServer::start(2)? else {
            return Ok(());
        };
        let now = t0()?;
        enqueue(
            db.store.as_ref(),
            "situation:4:created",
            "mail.situation_change",
            json!({"person_id": 1, "situation_id": 4, "to": "a@example.org", "first_name": "Anne",
                   "last_name": "Roy", "structure_name": "EHPAD Les Tilleuls", "change": "created",
                   "end_date": null}),
            now,
        )
        .await?;
        let retry = RetryPolicy {
            first_delay: Duration::from_secs(10),
            max_delay: Duration::from_secs(3600),
            max_attempts: 5,
        };
        let worker = Worker::new(db.store.clone(), smtp(&server)?, settings(retry)?);

        assert_eq!(
            worker.try_deliver_one(now).await?,
            Outcome::Failed { parked: false }
        );
        let e = db
            .store
            .outbox_entry("situation:4:created")
            .await?
            .ok_or("kept")?;
        assert_eq!(e.next_attempt_at, plus(now, 10)?, "first retry after 10 s");
        assert!(
            e.last_error.as_deref().unwrap_or_default().contains("451"),
            "{e:?}"
        );
        assert_eq!(worker.try_deliver_one(plus(now, 9)?).await?, Outcome::Empty);
        assert_eq!(
            worker.try_deliver_one(plus(now, 10)?).await?,
            Outcome::Failed { parked: false }
        );
        let e = db
            .store
            .outbox_entry("situation:4:created")
            .await?
            .ok_or("kept")?;
        assert_eq!(e.next_attempt_at, plus(now, 30)?, "then after 20 s more");
        assert_eq!(
            worker.try_deliver_one(plus(now, 29)?).await?,
            Outcome::Empty
        );
        assert_eq!(worker.try_deliver_one(plus(now, 30)?).await?, Outcome::Sent);
        let e = db
            .store
            .outbox_entry("situation:4:created")
            .await?
            .ok_or("kept")?;
        assert_eq!((e.attempts, e.sent_at), (3, Some(plus(now, 30)?)));
        let mails = server.wait_for(1, Duration::from_secs(10)).await?;
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0].field("subject"), "Votre exercice a été enregistré");
        assert!(mails[0].field("text").contains("« EHPAD Les Tilleuls »"));
    }
    Ok(())
}

#[tokio::test]
async fn a_message_is_parked_after_its_last_attempt_or_when_it_cannot_be_rendered() -> TestResult {
    for db in databases().await? {
        let Some(server) = SmtpServer::start(1000)? else {
            return Ok(());
        };
        let now = t0()?;
        enqueue(
            db.store.as_ref(),
            "k:refused",
            "mail.ecps_ready",
            rpps_payload(2),
            now,
        )
        .await?;
        enqueue(
            db.store.as_ref(),
            "k:unknown",
            "mail.horoscope",
            json!({"to": "x@example.org"}),
            now,
        )
        .await?;
        let retry = RetryPolicy {
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(1),
            max_attempts: 2,
        };
        let worker = Worker::new(db.store.clone(), smtp(&server)?, settings(retry)?);
        assert_eq!(
            worker.try_deliver_one(now).await?,
            Outcome::Failed { parked: false }
        );
        assert_eq!(
            worker.try_deliver_one(now).await?,
            Outcome::Failed { parked: true }
        );
        assert_eq!(
            worker.try_deliver_one(plus(now, 1)?).await?,
            Outcome::Failed { parked: true }
        );
        assert_eq!(
            worker.try_deliver_one(plus(now, 3600)?).await?,
            Outcome::Empty
        );

        let unknown = db.store.outbox_entry("k:unknown").await?.ok_or("kept")?;
        assert!(unknown.parked_at.is_some());
        assert_eq!(unknown.attempts, 1, "an unknown kind is not retried");
        assert!(
            unknown
                .last_error
                .as_deref()
                .unwrap_or_default()
                .contains("unknown outbox message kind")
        );
        let refused = db.store.outbox_entry("k:refused").await?.ok_or("kept")?;
        assert_eq!(
            (refused.attempts, refused.parked_at),
            (2, Some(plus(now, 1)?))
        );
        let error = refused.last_error.unwrap_or_default();
        assert!(error.contains("451"), "{error}");
        assert!(
            !error.contains("example.org"),
            "no address in errors: {error}"
        );
        let counts = db.store.outbox_counts(plus(now, 3600)?).await?;
        assert_eq!((counts.parked, counts.sent), (2, 0));
        assert!(server.received()?.is_empty());
    }
    Ok(())
}

#[tokio::test]
async fn files_are_named_after_the_message_id_and_a_redelivery_overwrites() -> TestResult {
    for db in databases().await? {
        let dir = tempfile::tempdir()?;
        let mail_dir = dir.path().join("mail");
        let files = FileMailer::new(&mail_dir);
        let now = t0()?;
        enqueue(
            db.store.as_ref(),
            "person:9:rpps",
            "mail.rpps_number",
            rpps_payload(9),
            now,
        )
        .await?;
        let worker = Worker::new(
            db.store.clone(),
            Arc::new(files.clone()),
            settings(RetryPolicy::default())?,
        );

        // A first server instance claims the message, writes the file, and dies before it can
        // mark it sent: the row stays, leased.
        let lease_until = plus(now, 300)?;
        let claimed = db
            .store
            .claim_outbox(&OutboxClaim {
                now,
                lease_until,
                token: "dead".into(),
            })
            .await?
            .ok_or("due")?;
        let mail = rppsplus_notify::templates::render(&claimed.kind, &claimed.payload)?;
        let built = rppsplus_notify::build_message(
            &claimed.event_key,
            claimed.not_before,
            &"RPPS+ <ne-pas-repondre@rpps-plus.example>".parse()?,
            &mail,
        )?;
        files
            .send(&message_id_hash("person:9:rpps"), &built)
            .await?;

        // While the lease runs, nobody delivers it again; after, it is delivered once more,
        // into the same file.
        assert_eq!(
            worker.try_deliver_one(plus(now, 299)?).await?,
            Outcome::Empty
        );
        assert_eq!(worker.try_deliver_one(lease_until).await?, Outcome::Sent);
        assert_eq!(
            worker.try_deliver_one(plus(now, 3600)?).await?,
            Outcome::Empty
        );

        let names: Vec<String> = std::fs::read_dir(&mail_dir)?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<_, _>>()?;
        assert_eq!(names, [format!("{}.eml", message_id_hash("person:9:rpps"))]);
        let eml = std::fs::read_to_string(files.path_of(&message_id_hash("person:9:rpps")))?;
        assert!(eml.contains(&format!("Message-ID: {}", message_id("person:9:rpps"))));
        assert!(
            eml.contains("To: zoe.9@example.org") || eml.contains("To: =?utf-8?"),
            "{eml}"
        );
        let e = db
            .store
            .outbox_entry("person:9:rpps")
            .await?
            .ok_or("kept")?;
        assert_eq!((e.attempts, e.sent_at), (2, Some(lease_until)));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_never_send_the_same_message() -> TestResult {
    const MESSAGES: u32 = 24;
    for db in databases().await? {
        let Some(server) = SmtpServer::start(0)? else {
            return Ok(());
        };
        let now = t0()?;
        for n in 0..MESSAGES {
            enqueue(
                db.store.as_ref(),
                &format!("person:{n}:rpps"),
                "mail.rpps_number",
                rpps_payload(n),
                now,
            )
            .await?;
        }
        // Two stores on the same database, as two server instances would have.
        let other = rppsplus_test_support::db::connect(&db.url).await?.store();
        let mut tasks = Vec::new();
        for store in [db.store.clone(), other] {
            let worker = Worker::new(store, smtp(&server)?, settings(RetryPolicy::default())?);
            tasks.push(tokio::spawn(async move {
                let mut sent = 0u32;
                loop {
                    match worker.try_deliver_one(now).await? {
                        Outcome::Sent => sent += 1,
                        Outcome::Empty => return Ok::<_, rppsplus_store::StoreError>(sent),
                        Outcome::Failed { .. } => {
                            return Err(rppsplus_store::StoreError::Backend(
                                "a delivery failed".into(),
                            ));
                        }
                    }
                }
            }));
        }
        let mut sent = 0;
        for t in tasks {
            sent += t.await??;
        }
        // SKIP LOCKED may make a worker see nothing while the other claims: finish the queue.
        let last = Worker::new(
            db.store.clone(),
            smtp(&server)?,
            settings(RetryPolicy::default())?,
        );
        sent += u32::try_from(last.drain(now).await?.sent)?;
        assert_eq!(sent, MESSAGES);
        let mails = server
            .wait_for(MESSAGES as usize, Duration::from_secs(20))
            .await?;
        let ids: BTreeSet<&str> = mails.iter().map(|m| m.field("message_id")).collect();
        assert_eq!(
            (mails.len(), ids.len()),
            (MESSAGES as usize, MESSAGES as usize)
        );
        assert_eq!(db.store.outbox_counts(now).await?.sent, i64::from(MESSAGES));
    }
    Ok(())
}
