//! Mail: the settings of delivery, the worker `serve` runs in the background, and the
//! operators' `rppsplus mail …` commands.

use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use jiff::Timestamp;
use rppsplus_notify::{
    FileMailer, Mailer, RetryPolicy, SmtpMailer, SmtpSettings, Worker, WorkerSettings,
};
use rppsplus_store::{Backend, Store, StoreError};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{GlobalArgs, open_store, redacted};

/// An SMTP relay URL as given: its `Debug` never shows the password.
#[derive(Clone)]
pub struct SmtpUrl(String);

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match SmtpSettings::parse(&self.0) {
            Ok(s) => f.write_str(&s.redacted()),
            Err(_) => f.write_str("(invalid SMTP URL)"),
        }
    }
}

impl std::str::FromStr for SmtpUrl {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(SmtpUrl(s.to_owned()))
    }
}

/// How mail is delivered (shared by `serve` and `mail deliver`).
#[derive(Debug, Clone, Args)]
pub struct MailArgs {
    /// Folder where mail is written as `.eml` files (one per message, named after its
    /// Message-ID) when no SMTP relay is set. Default: `mail/` beside the SQLite database
    /// file; with PostgreSQL, `mail/` in the current directory.
    #[arg(long, env = "RPPSPLUS_MAIL_DIR")]
    pub mail_dir: Option<PathBuf>,

    /// SMTP relay to send mail through instead of files: `smtp://HOST[:25]` (no TLS: a local
    /// relay only), `smtp+starttls://USER:PASSWORD@HOST[:587]` (STARTTLS required) or
    /// `smtps://USER:PASSWORD@HOST[:465]` (TLS). Prefer the environment variable when the URL
    /// holds a password; it is never printed.
    #[arg(long, env = "RPPSPLUS_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<SmtpUrl>,

    /// Sender of every mail (`From`).
    #[arg(
        long,
        env = "RPPSPLUS_MAIL_FROM",
        default_value = "RPPS+ <ne-pas-repondre@rpps-plus.localhost>"
    )]
    pub mail_from: String,

    /// Seconds before retrying a mail that failed; doubled after each failure, up to an hour.
    #[arg(long, env = "RPPSPLUS_MAIL_RETRY_DELAY", default_value_t = 60)]
    pub mail_retry_delay: u64,

    /// Attempts after which a mail is given up on (parked, with its error: see
    /// `rppsplus mail pending`, and `rppsplus mail retry` to queue it again).
    #[arg(long, env = "RPPSPLUS_MAIL_MAX_ATTEMPTS", default_value_t = 10)]
    pub mail_max_attempts: u32,

    /// Seconds between two looks at the outbox when nothing is due (the server looks at once
    /// when it starts).
    #[arg(long, env = "RPPSPLUS_MAIL_POLL_INTERVAL", default_value_t = 5)]
    pub mail_poll_interval: u64,

    /// Seconds a mail being sent is reserved to the server sending it (at least 2). A server
    /// that dies while sending leaves its mail to be sent by another, or by itself restarted,
    /// once this has passed. SMTP exchanges time out at half of it (at most 60 s).
    #[arg(long, env = "RPPSPLUS_MAIL_LEASE", default_value_t = 300)]
    pub mail_lease: u64,
}

/// `rppsplus mail …`.
#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Deliver every mail due now, once, and exit (for operators and cron; safe next to
    /// running servers: each mail is claimed by one deliverer at a time). Exits with 3 when
    /// some mail could not be delivered.
    Deliver(MailArgs),
    /// List the mail not yet delivered (waiting, being sent, or parked with its error).
    Pending,
    /// Queue a parked mail again, by its outbox id (from `rppsplus mail pending`).
    Retry {
        /// The outbox id.
        id: i64,
    },
}

/// The mail folder when none is given: beside the SQLite file, else the current directory.
fn default_mail_dir(database_url: &str) -> PathBuf {
    if Backend::from_url(database_url) == Some(Backend::Sqlite) {
        let path = database_url
            .trim_start_matches("sqlite:")
            .trim_start_matches("//");
        let path = path.split('?').next().unwrap_or_default();
        if !path.is_empty() && !path.contains(":memory:") {
            let parent = std::path::Path::new(path)
                .parent()
                .map(PathBuf::from)
                .unwrap_or_default();
            return parent.join("mail");
        }
    }
    PathBuf::from("mail")
}

/// The delivery worker for these settings.
pub fn worker(
    database_url: &str,
    args: &MailArgs,
    store: Arc<dyn Store>,
) -> anyhow::Result<Arc<Worker>> {
    let from = args
        .mail_from
        .parse()
        .map_err(|_| anyhow::anyhow!("--mail-from is not a valid mailbox"))?;
    let lease = Duration::from_secs(args.mail_lease.max(2));
    let mailer: Arc<dyn Mailer> = match &args.smtp_url {
        Some(url) => {
            let mut settings = SmtpSettings::parse(&url.0).map_err(|e| anyhow::anyhow!("{e}"))?;
            // An exchange must end well within the lease, or a second server could claim the
            // mail while the first is still sending it.
            settings.timeout = (lease / 2).min(Duration::from_secs(60));
            Arc::new(SmtpMailer::new(&settings).map_err(|e| anyhow::anyhow!("{e}"))?)
        }
        None => Arc::new(FileMailer::new(
            args.mail_dir
                .clone()
                .unwrap_or_else(|| default_mail_dir(database_url)),
        )),
    };
    if args.mail_max_attempts == 0 {
        bail!("--mail-max-attempts must be at least 1");
    }
    let mut settings = WorkerSettings::new(from);
    settings.retry = RetryPolicy {
        first_delay: Duration::from_secs(args.mail_retry_delay),
        max_attempts: args.mail_max_attempts,
        ..RetryPolicy::default()
    };
    settings.poll_interval = Duration::from_secs(args.mail_poll_interval.max(1));
    settings.lease = lease;
    Ok(Arc::new(Worker::new(store, mailer, settings)))
}

/// The worker running in the background of `serve`.
pub struct Background {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Background {
    /// Starts delivering in the background.
    pub fn start(worker: Arc<Worker>) -> Background {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(worker.run(stopped));
        Background { stop, task }
    }

    /// Asks the worker to stop and waits for it (it finishes the mail it is sending).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::warn!(error = %e, "the mail worker ended abnormally");
        }
    }
}

/// Runs `rppsplus mail …`.
pub async fn run(g: &GlobalArgs, command: MailCommand) -> anyhow::Result<ExitCode> {
    let store = open_store(g, false).await?;
    if !store.is_migrated().await? {
        bail!(
            "the database {} is not initialised: run `rppsplus serve` (SQLite) or `rppsplus migrate` first",
            redacted(&g.database_url)
        );
    }
    let outcome = match command {
        MailCommand::Deliver(args) => deliver(g, &args, store.clone()).await,
        MailCommand::Pending => pending(store.as_ref()).await,
        MailCommand::Retry { id } => match store.requeue_outbox(id, Timestamp::now()).await {
            Ok(()) => {
                println!("mail {id} queued again");
                Ok(ExitCode::SUCCESS)
            }
            Err(StoreError::NotFound) => bail!("no parked mail has the id {id}"),
            Err(e) => Err(e).context("queueing the mail again"),
        },
    };
    store.close().await;
    outcome
}

async fn deliver(
    g: &GlobalArgs,
    args: &MailArgs,
    store: Arc<dyn Store>,
) -> anyhow::Result<ExitCode> {
    let worker = worker(&g.database_url, args, store)?;
    let report = worker
        .drain(Timestamp::now())
        .await
        .context("delivering the outbox")?;
    println!(
        "{} sent, {} to retry later, {} parked ({})",
        report.sent,
        report.retried,
        report.parked,
        worker.describe()
    );
    Ok(if report.retried + report.parked > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

async fn pending(store: &dyn Store) -> anyhow::Result<ExitCode> {
    let now = Timestamp::now();
    let counts = store
        .outbox_counts(now)
        .await
        .context("counting the outbox")?;
    println!(
        "{} due, {} scheduled, {} being sent, {} parked, {} sent",
        counts.due, counts.scheduled, counts.leased, counts.parked, counts.sent
    );
    let mut after = 0;
    loop {
        let page = store
            .outbox_pending(after, 500)
            .await
            .context("listing the outbox")?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for e in &page {
            let state = if e.parked_at.is_some() {
                "parked".to_owned()
            } else if e.leased_until.is_some_and(|l| l > now) {
                "sending".to_owned()
            } else {
                format!("next {}", e.next_attempt_at.max(e.not_before))
            };
            println!(
                "{}\t{}\t{}\tattempts {}\t{}\t{}",
                e.id,
                e.kind,
                e.event_key,
                e.attempts,
                state,
                e.last_error.as_deref().unwrap_or("-")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mail_folder_defaults_beside_the_sqlite_file() {
        assert_eq!(
            default_mail_dir("sqlite:///var/lib/rppsplus/registry.db"),
            PathBuf::from("/var/lib/rppsplus/mail")
        );
        assert_eq!(
            default_mail_dir("sqlite://rppsplus.db"),
            PathBuf::from("mail")
        );
        assert_eq!(
            default_mail_dir("sqlite:data/r.db?mode=rwc"),
            PathBuf::from("data/mail")
        );
        assert_eq!(default_mail_dir("sqlite::memory:"), PathBuf::from("mail"));
        assert_eq!(default_mail_dir("postgres://u@h/db"), PathBuf::from("mail"));
    }

    #[test]
    fn an_smtp_url_never_shows_its_password() {
        let url = SmtpUrl("smtps://user:hunter2@relay.example:465".into());
        assert_eq!(format!("{url:?}"), "smtps://user:***@relay.example:465");
        assert!(!format!("{:?}", SmtpUrl("smtps://u:hunter2@".into())).contains("hunter2"));
    }
}
