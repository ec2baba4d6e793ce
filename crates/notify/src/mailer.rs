//! The transport seam and the message builder.

use std::time::SystemTime;

use async_trait::async_trait;
use jiff::Timestamp;
use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use sha2::{Digest, Sha256};

use crate::templates::RenderedMail;

/// Why a mail was not delivered. Messages carry no address or name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later (relay down, `4xx`, timeout, full disk…).
    #[error("{0}")]
    Transient(String),
    /// Trying again will not help (`5xx`, invalid address…): the message is parked.
    #[error("{0}")]
    Permanent(String),
}

impl SendError {
    /// Whether retrying cannot help.
    pub fn is_permanent(&self) -> bool {
        matches!(self, SendError::Permanent(_))
    }
}

/// Where mail goes.
#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// Delivers one message whose `Message-ID` hash is `id_hash` (see [`message_id_hash`]).
    /// Returns once the transport has accepted it: the relay answered `250` to the data, or
    /// the file is durably in place.
    async fn send(&self, id_hash: &str, message: &Message) -> Result<(), SendError>;

    /// A description for logs and `rppsplus mail pending` (never a password).
    fn describe(&self) -> String;
}

/// The hex SHA-256 of an event key: the stable part of its `Message-ID` and of its file name.
pub fn message_id_hash(event_key: &str) -> String {
    hex::encode(Sha256::digest(event_key.as_bytes()))
}

/// The `Message-ID` of the mail of an outbox event: `<sha256(event_key)@rpps-plus>`. The same
/// event always gives the same identifier, whichever server instance sends it and however often.
pub fn message_id(event_key: &str) -> String {
    format!("<{}@rpps-plus>", message_id_hash(event_key))
}

/// Builds the message of an outbox event: `Message-ID` from the event key, `Date` from when the
/// event's mail was due (so that a repeated delivery is the same mail), UTF-8 subject and bodies
/// as `multipart/alternative`.
pub fn build_message(
    event_key: &str,
    dated: Timestamp,
    from: &Mailbox,
    mail: &RenderedMail,
) -> Result<Message, SendError> {
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|_| SendError::Permanent("the recipient's address is invalid".into()))?;
    Message::builder()
        .message_id(Some(message_id(event_key)))
        .date(SystemTime::from(dated))
        .from(from.clone())
        .to(to)
        .subject(mail.subject.clone())
        .multipart(MultiPart::alternative_plain_html(
            mail.text.clone(),
            mail.html.clone(),
        ))
        .map_err(|e| SendError::Permanent(format!("cannot build the message: {e}")))
}
