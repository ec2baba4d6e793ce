//! The public directory's access: `rppsplus apikey …` (keys of the FHIR API and of the extracts
//! over HTTP) and the `serve` settings of anonymous reads and rate limits.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use rppsplus_app::Actor;
use rppsplus_app::directory_keys::DirectoryKeyView;
use rppsplus_store::DirectoryKeyId;
use rppsplus_web::DirectorySettings;

use crate::admin::refused;
use crate::{GlobalArgs, open_app};

/// `rppsplus apikey …`.
#[derive(Debug, Subcommand)]
pub(crate) enum ApikeyCommand {
    /// Issue a key for the public directory (FHIR API under /fhir/v2, extracts under
    /// /extracts/…) and print it on standard output, alone on its line: it is shown this once
    /// (only its hash is stored). The software sends it in the `ESANTE-API-KEY` header.
    Create(CreateArgs),
    /// List the keys (never their secret), revoked ones included: id, creation and revocation
    /// dates, extract right, rate, name. Tab-separated.
    List,
    /// Revoke a key: it stops working at its next request, on every server instance.
    Revoke(RevokeArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// Who the key is for: the consuming software or organisation.
    name: String,

    /// Also allow the restricted extract (`GET /extracts/rass`: civil identity, birth date,
    /// personal contact details). Every key may download the public extract
    /// (`GET /extracts/ps-libreacces`).
    #[arg(long)]
    extracts: bool,

    /// Requests per minute for this key (`N` or `N/min`) instead of the server's
    /// `--directory-rate`.
    #[arg(long, value_name = "N/min", value_parser = per_minute)]
    rate: Option<u32>,
}

#[derive(Debug, Args)]
pub(crate) struct RevokeArgs {
    /// The key's id, as `apikey create` and `apikey list` print it.
    id: i64,
}

/// The `serve` settings of the public directory.
#[derive(Debug, Args)]
pub(crate) struct DirectoryArgs {
    /// Let requests without a key read the FHIR API (`/fhir/v2`), rate-limited per client IP
    /// address; the extracts always need a key. On by default with `--demo`, off otherwise;
    /// `--directory-anonymous=false` turns it off in demo mode too.
    #[arg(
        long,
        env = "RPPSPLUS_DIRECTORY_ANONYMOUS",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    directory_anonymous: Option<bool>,

    /// Requests per minute of a directory key that has no rate of its own (`N` or `N/min`).
    /// Each server instance counts on its own.
    #[arg(
        long,
        env = "RPPSPLUS_DIRECTORY_RATE",
        value_name = "N/min",
        value_parser = per_minute,
        default_value = "600/min"
    )]
    directory_rate: u32,

    /// Requests per minute of one client IP address without a key (`N` or `N/min`); a wrong
    /// key counts too. Behind a reverse proxy, every client has the proxy's address.
    #[arg(
        long,
        env = "RPPSPLUS_DIRECTORY_ANONYMOUS_RATE",
        value_name = "N/min",
        value_parser = per_minute,
        default_value = "60/min"
    )]
    directory_anonymous_rate: u32,
}

impl DirectoryArgs {
    /// The web layer's settings.
    pub(crate) fn settings(&self) -> DirectorySettings {
        DirectorySettings {
            anonymous: self.directory_anonymous,
            rate_per_minute: self.directory_rate,
            anonymous_rate_per_minute: self.directory_anonymous_rate,
        }
    }
}

/// A rate: `N` or `N/min`, from 1 to 1,000,000.
fn per_minute(text: &str) -> Result<u32, String> {
    let number = text.trim().strip_suffix("/min").unwrap_or(text.trim());
    match number.parse::<u32>() {
        Ok(n) if (1..=rppsplus_app::directory_keys::MAX_RATE_PER_MINUTE).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a number of requests per minute from 1 to {}, e.g. 600/min",
            rppsplus_app::directory_keys::MAX_RATE_PER_MINUTE
        )),
    }
}

pub(crate) async fn apikey(g: &GlobalArgs, command: ApikeyCommand) -> anyhow::Result<ExitCode> {
    let app = open_app(g, false).await?;
    let outcome = match command {
        ApikeyCommand::Create(args) => app
            .create_directory_key(&Actor::Operator, &args.name, args.extracts, args.rate)
            .await
            .map(|issued| {
                eprintln!(
                    "directory key {} created for {:?}{}; it is shown this once:",
                    issued.view.id,
                    issued.view.name,
                    if issued.view.restricted_extracts {
                        ", allowed the restricted (RASS) extract"
                    } else {
                        ""
                    }
                );
                println!("{}", issued.secret);
            }),
        ApikeyCommand::List => app.directory_keys(&Actor::Operator).await.map(|keys| {
            println!("id\tcreated\trevoked\trass_extract\trate_per_minute\tname");
            for key in keys {
                println!("{}", line(&key));
            }
        }),
        ApikeyCommand::Revoke(args) => app
            .revoke_directory_key(&Actor::Operator, DirectoryKeyId(args.id))
            .await
            .map(|()| println!("directory key {} revoked", args.id)),
    };
    app.store().close().await;
    match outcome {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => refused(e),
    }
}

/// One key of `apikey list`.
fn line(key: &DirectoryKeyView) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}",
        key.id,
        key.created_at,
        key.revoked_at
            .map(|t| t.to_string())
            .unwrap_or_else(|| "-".into()),
        if key.restricted_extracts { "yes" } else { "no" },
        key.rate_per_minute
            .map(|r| r.to_string())
            .unwrap_or_else(|| "default".into()),
        key.name
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_read_per_minute() {
        assert_eq!(per_minute("600/min"), Ok(600));
        assert_eq!(per_minute("1"), Ok(1));
        assert_eq!(per_minute(" 30/min "), Ok(30));
        for bad in ["0", "0/min", "-1", "10/s", "abc", "", "1000001"] {
            assert!(per_minute(bad).is_err(), "{bad:?}");
        }
    }
}
