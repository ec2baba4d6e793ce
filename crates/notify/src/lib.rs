//! Delivering the outbox's mail: French templates, two transports and a worker.
//!
//! - [`templates`]: the mail of each outbox kind, as plain text and HTML.
//! - [`Mailer`]: where mail goes — [`SmtpMailer`] (a relay, with STARTTLS, implicit TLS or
//!   none, through rustls) or [`FileMailer`] (`.eml` files in a folder, the default).
//! - [`Worker`]: claims due messages with a lease, renders, sends and marks them sent;
//!   [`Worker::try_deliver_one`] does one message, so that tests and `rppsplus mail deliver`
//!   drain the queue without sleeping; [`Worker::run`] is the server's background loop.
//!
//! **Exactly once.** A message leaves the outbox only when marked sent, after the transport
//! accepted it: a crash before that leaves it queued, and it is delivered after the lease
//! expires. Each mail's `Message-ID` is derived from the outbox event key
//! ([`message_id`]), and the file transport names the file after it, so a delivery repeated
//! after a crash between "accepted" and "marked sent" overwrites the same file. Over SMTP that
//! window (between the relay's final `250` and the commit of "sent") is at-least-once: the
//! relay may receive the same mail twice, with the same `Message-ID`, by which receivers and
//! mail stores deduplicate.

pub mod file;
pub mod mailer;
pub mod smtp;
pub mod templates;
pub mod worker;

pub use file::FileMailer;
pub use mailer::{Mailer, SendError, build_message, message_id, message_id_hash};
pub use smtp::{SmtpMailer, SmtpSecurity, SmtpSettings};
pub use worker::{Outcome, RetryPolicy, Worker, WorkerSettings};
