//! The SMTP transport: a relay reached with STARTTLS, implicit TLS or, for a relay on the same
//! host or network, no TLS; TLS is rustls with the webpki roots.
//!
//! The relay is named by a URL:
//!
//! | URL | connection | default port |
//! |---|---|---|
//! | `smtp://host` | plain (a local relay) | 25 |
//! | `smtp+starttls://host` | STARTTLS, required | 587 |
//! | `smtps://host` | implicit TLS | 465 |
//!
//! with optional credentials (`smtps://user:password@host:465`, percent-encoded). The password
//! is shown nowhere: [`SmtpSettings`]' `Debug` and [`SmtpSettings::redacted`] hide it.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::mailer::{Mailer, SendError};

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// No TLS: only for a relay on the same host or a trusted network.
    None,
    /// Plain connection upgraded with STARTTLS, which the relay must offer.
    StartTls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

/// Where and how to reach the relay.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    /// Host name or address of the relay.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// TLS mode.
    pub security: SmtpSecurity,
    /// User name and password, when the relay wants them.
    pub credentials: Option<(String, String)>,
    /// How long one SMTP exchange may take (shorter than the worker's lease).
    pub timeout: Duration,
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Why an SMTP URL was refused (the message never quotes the password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid SMTP URL: {0}")]
pub struct SmtpUrlError(String);

fn percent_decode(s: &str) -> Result<String, SmtpUrlError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| SmtpUrlError("bad percent-encoding in the credentials".into()))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| SmtpUrlError("credentials are not UTF-8".into()))
}

impl SmtpSettings {
    /// Reads a relay URL (see the module documentation).
    pub fn parse(url: &str) -> Result<SmtpSettings, SmtpUrlError> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| SmtpUrlError("expected smtp://, smtp+starttls:// or smtps://".into()))?;
        let (security, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "smtp" => (SmtpSecurity::None, 25),
            "smtp+starttls" => (SmtpSecurity::StartTls, 587),
            "smtps" => (SmtpSecurity::Tls, 465),
            _ => {
                return Err(SmtpUrlError(
                    "expected smtp://, smtp+starttls:// or smtps://".into(),
                ));
            }
        };
        let authority = rest.trim_end_matches('/');
        if authority.contains(['/', '?', '#']) {
            return Err(SmtpUrlError("a relay URL has no path or query".into()));
        }
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let credentials = match userinfo {
            None => None,
            Some(u) => {
                let (user, password) = u.split_once(':').unwrap_or((u, ""));
                Some((percent_decode(user)?, percent_decode(password)?))
            }
        };
        let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
            // [IPv6]:port
            let (h, p) = bracketed
                .split_once(']')
                .ok_or_else(|| SmtpUrlError("unclosed [ in the host".into()))?;
            (h.to_owned(), p.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (hostport.to_owned(), None),
            }
        };
        if host.is_empty() {
            return Err(SmtpUrlError("the host is missing".into()));
        }
        let port = match port {
            None => default_port,
            Some(p) => p
                .parse()
                .map_err(|_| SmtpUrlError("the port is not a number".into()))?,
        };
        Ok(SmtpSettings {
            host,
            port,
            security,
            credentials,
            timeout: Duration::from_secs(60),
        })
    }

    /// The relay as a URL fit for logs: the password is replaced by `***`.
    pub fn redacted(&self) -> String {
        let scheme = match self.security {
            SmtpSecurity::None => "smtp",
            SmtpSecurity::StartTls => "smtp+starttls",
            SmtpSecurity::Tls => "smtps",
        };
        let user = match &self.credentials {
            Some((user, _)) => format!("{user}:***@"),
            None => String::new(),
        };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{scheme}://{user}{host}:{}", self.port)
    }
}

/// Sends mail through an SMTP relay.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    described: String,
}

impl SmtpMailer {
    /// A transport to the relay. Connects only when sending.
    pub fn new(settings: &SmtpSettings) -> Result<SmtpMailer, SendError> {
        let tls_error = |e: lettre::transport::smtp::Error| {
            SendError::Permanent(format!("cannot set up TLS for the relay: {e}"))
        };
        let mut builder = match settings.security {
            SmtpSecurity::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            }
            SmtpSecurity::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host)
                    .map_err(tls_error)?
            }
            SmtpSecurity::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host).map_err(tls_error)?
            }
        }
        .port(settings.port)
        .timeout(Some(settings.timeout));
        if let Some((user, password)) = &settings.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(SmtpMailer {
            transport: builder.build(),
            described: format!("SMTP relay {}", settings.redacted()),
        })
    }
}

/// An SMTP error for logs and the outbox: the relay's answer may quote the recipient, so every
/// word holding an `@` is blanked.
fn describe_smtp_error(e: &lettre::transport::smtp::Error) -> String {
    // lettre's message already includes its source's.
    e.to_string()
        .split_whitespace()
        .map(|w| if w.contains('@') { "[adresse]" } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, _id_hash: &str, message: &Message) -> Result<(), SendError> {
        match self.transport.send(message.clone()).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(SendError::Permanent(describe_smtp_error(&e))),
            Err(e) => Err(SendError::Transient(describe_smtp_error(&e))),
        }
    }

    fn describe(&self) -> String {
        self.described.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_urls_give_their_mode_port_and_credentials() -> Result<(), SmtpUrlError> {
        let s = SmtpSettings::parse("smtp://relay")?;
        assert_eq!(
            (s.host.as_str(), s.port, s.security),
            ("relay", 25, SmtpSecurity::None)
        );
        assert_eq!(s.credentials, None);
        let s = SmtpSettings::parse("smtps://user%40x:p%3Ass@mail.example.org:4650")?;
        assert_eq!(s.security, SmtpSecurity::Tls);
        assert_eq!(s.port, 4650);
        assert_eq!(s.credentials, Some(("user@x".into(), "p:ss".into())));
        assert_eq!(s.redacted(), "smtps://user@x:***@mail.example.org:4650");
        assert!(!format!("{s:?}").contains("p:ss"));
        let s = SmtpSettings::parse("smtp+starttls://u:secret@[::1]")?;
        assert_eq!((s.host.as_str(), s.port), ("::1", 587));
        assert_eq!(s.security, SmtpSecurity::StartTls);
        assert_eq!(s.redacted(), "smtp+starttls://u:***@[::1]:587");
        Ok(())
    }

    #[test]
    fn bad_relay_urls_are_refused_without_quoting_the_password() {
        for url in [
            "http://relay",
            "relay:25",
            "smtp://",
            "smtp://relay:port",
            "smtp://relay/path",
            "smtps://u:%zzsecret@relay",
        ] {
            let e = SmtpSettings::parse(url);
            assert!(e.is_err(), "{url}");
            assert!(!format!("{e:?}").contains("secret"));
        }
    }
}
