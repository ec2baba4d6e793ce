//! A real SMTP server on loopback for the mail tests: Python's aiosmtpd, run by
//! `smtp_server.py` beside this crate's manifest.
//!
//! Without aiosmtpd (`python3 -c 'import aiosmtpd'` fails), [`SmtpServer::start`] answers
//! `None` and the test skips itself with a message on stderr, except in CI (`CI=true`), where
//! that is an error: `scripts/test` installs it. [`PYTHON_VAR`] names another interpreter.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use crate::db::TestDbError;

/// The variable naming the Python interpreter that has aiosmtpd (default `python3`).
pub const PYTHON_VAR: &str = "RPPSPLUS_TEST_PYTHON";

/// One message the server accepted.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// Envelope and decoded headers and bodies, as Python's `email` parser read them:
    /// `mail_from`, `rcpt_tos`, `message_id`, `from`, `to`, `subject`, `raw_subject` (the
    /// header as sent), `content_type`, `text`, `html`.
    pub parsed: serde_json::Value,
    /// The bytes received, as text.
    pub raw: String,
}

impl ReceivedMail {
    /// A string field of [`ReceivedMail::parsed`] (empty when absent).
    pub fn field(&self, name: &str) -> &str {
        self.parsed
            .get(name)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
    }
}

/// A running aiosmtpd server, stopped when dropped.
pub struct SmtpServer {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: tempfile::TempDir,
}

fn python() -> String {
    std::env::var(PYTHON_VAR).unwrap_or_else(|_| "python3".into())
}

/// Whether the SMTP server can run here; `Err` in CI when it cannot.
pub fn available() -> Result<bool, TestDbError> {
    let ok = Command::new(python())
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Ok(true);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        return Err(TestDbError::from_message(format!(
            "{} cannot import aiosmtpd, and CI=true: the SMTP tests must run in CI \
             (pip install aiosmtpd, or set {PYTHON_VAR})",
            python()
        )));
    }
    static SKIP_NOTICE: Once = Once::new();
    SKIP_NOTICE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "note: skipping SMTP tests: {} cannot import aiosmtpd (pip install aiosmtpd)",
            python()
        );
    });
    Ok(false)
}

impl SmtpServer {
    /// Starts a server on a free port that refuses the first `refuse` messages with a `451`;
    /// `None` when aiosmtpd is missing outside CI.
    pub fn start(refuse: u32) -> Result<Option<SmtpServer>, TestDbError> {
        Self::start_on(0, refuse)
    }

    /// The same on a given port (0: any).
    pub fn start_on(port: u16, refuse: u32) -> Result<Option<SmtpServer>, TestDbError> {
        if !available()? {
            return Ok(None);
        }
        let dir = tempfile::Builder::new()
            .prefix("rppsplus-smtp-")
            .tempdir()
            .map_err(|e| TestDbError::from_message(format!("temporary directory: {e}")))?;
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("smtp_server.py");
        let mut child = Command::new(python())
            .arg(&script)
            .arg("--dir")
            .arg(dir.path())
            .args(["--port", &port.to_string(), "--refuse", &refuse.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| TestDbError::from_message(format!("starting the SMTP server: {e}")))?;
        let mut line = String::new();
        let read = match child.stdout.take() {
            Some(out) => BufReader::new(out).read_line(&mut line),
            None => Ok(0),
        };
        let port = match read.ok().and_then(|_| line.trim().parse().ok()) {
            Some(port) => port,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(TestDbError::from_message(format!(
                    "the SMTP server did not start (printed {line:?})"
                )));
            }
        };
        Ok(Some(SmtpServer { child, port, dir }))
    }

    /// `smtp://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The messages accepted so far, in order.
    pub fn received(&self) -> Result<Vec<ReceivedMail>, TestDbError> {
        let err = |e: std::io::Error| TestDbError::from_message(format!("reading mail: {e}"));
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .map_err(err)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        let mut out = Vec::new();
        for json in names {
            let parsed = serde_json::from_slice(&std::fs::read(&json).map_err(err)?)
                .map_err(|e| TestDbError::from_message(format!("mail summary: {e}")))?;
            let raw =
                String::from_utf8_lossy(&std::fs::read(json.with_extension("eml")).map_err(err)?)
                    .into_owned();
            out.push(ReceivedMail { parsed, raw });
        }
        Ok(out)
    }

    /// Waits (polling, at most `timeout`) until at least `n` messages arrived; returns them all.
    pub async fn wait_for(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<ReceivedMail>, TestDbError> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.received()?;
            if got.len() >= n {
                return Ok(got);
            }
            if Instant::now() > deadline {
                return Err(TestDbError::from_message(format!(
                    "{} message(s) received after {timeout:?}, expected {n}",
                    got.len()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
