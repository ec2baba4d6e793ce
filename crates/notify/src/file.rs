//! The file transport: each mail becomes `<sha256(event key)>.eml` in a folder.
//!
//! The file is written under a temporary name in the same folder, flushed to disk, then renamed
//! into place, and the folder is flushed: a reader never sees half a mail, and a mail delivered
//! again (after a crash between the write and "marked sent") replaces the same file rather than
//! adding a second one.

use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use lettre::Message;

use crate::mailer::{Mailer, SendError};

/// Writes mail as `.eml` files into a folder (created when missing).
#[derive(Debug, Clone)]
pub struct FileMailer {
    dir: PathBuf,
}

impl FileMailer {
    /// A transport writing into `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileMailer { dir: dir.into() }
    }

    /// The folder mail is written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file a message with this `Message-ID` hash is written to.
    pub fn path_of(&self, id_hash: &str) -> PathBuf {
        self.dir.join(format!("{id_hash}.eml"))
    }
}

fn write_atomically(dir: &Path, target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(|e| std::io::Error::other(e.to_string()))?;
    let tmp = dir.join(format!(".tmp-{}", hex::encode(suffix)));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, target)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    // The rename is durable once the folder itself is flushed (not possible everywhere).
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[async_trait]
impl Mailer for FileMailer {
    async fn send(&self, id_hash: &str, message: &Message) -> Result<(), SendError> {
        if id_hash.is_empty() || !id_hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SendError::Permanent("invalid message id hash".into()));
        }
        let dir = self.dir.clone();
        let target = self.path_of(id_hash);
        let bytes = message.formatted();
        tokio::task::spawn_blocking(move || write_atomically(&dir, &target, &bytes))
            .await
            .map_err(|e| SendError::Transient(format!("mail file writer stopped: {e}")))?
            .map_err(|e| SendError::Transient(format!("cannot write the mail file: {e}")))
    }

    fn describe(&self) -> String {
        format!("files in {}", self.dir.display())
    }
}
