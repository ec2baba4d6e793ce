//! `rppsplus export …`: writing the registry out as national extract files.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use rppsplus_app::extracts::ExtractFormat;

use crate::{GlobalArgs, open_app};

/// The files `rppsplus export` writes.
#[derive(Debug, Subcommand)]
pub(crate) enum ExportCommand {
    /// Write a flat extract of the registry, `|`-separated with a header line, one line per
    /// situation d'exercice in force (a professional without one has the structure columns
    /// empty). `ps-libreacces` is the public extract (PS_LibreAcces Personne_activite columns:
    /// public data only); `rass` is the restricted Pro Santé Connect extract, which holds the
    /// civil identity, birth date and personal contact details: keep it to those allowed.
    /// The file is written under a temporary name and renamed when complete.
    Extract(ExtractArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    /// PS_LibreAcces Personne_activite (public).
    PsLibreacces,
    /// Pro Santé Connect (RASS) Personne_activite (restricted).
    Rass,
}

#[derive(Debug, Args)]
pub(crate) struct ExtractArgs {
    /// Which extract.
    #[arg(long, value_enum)]
    format: FormatArg,

    /// The file to write; replaced if it exists.
    #[arg(long)]
    out: PathBuf,
}

pub(crate) async fn run(g: &GlobalArgs, command: ExportCommand) -> anyhow::Result<ExitCode> {
    match command {
        ExportCommand::Extract(args) => extract(g, args).await,
    }
}

async fn extract(g: &GlobalArgs, args: ExtractArgs) -> anyhow::Result<ExitCode> {
    let format = match args.format {
        FormatArg::PsLibreacces => ExtractFormat::PsLibreAcces,
        FormatArg::Rass => ExtractFormat::Rass,
    };
    let app = open_app(g, false).await?;
    // The restricted extract is readable by its owner only.
    let (temp, file) = create_temp(&args.out, format == ExtractFormat::Rass)?;
    let progress = progress_spinner();
    let outcome = app
        .export_extract(
            format,
            BufWriter::with_capacity(256 * 1024, file),
            |persons| progress.set_position(persons),
        )
        .await;
    app.store().close().await;
    progress.finish_and_clear();
    let finished = outcome
        .map_err(anyhow::Error::from)
        .and_then(|(out, summary)| {
            let file = out.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            std::fs::rename(&temp, &args.out)?;
            Ok(summary)
        });
    let summary = match finished {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            return Err(e).with_context(|| format!("writing {}", args.out.display()));
        }
    };
    println!(
        "{} extract written to {}: {} lines for {} persons",
        format,
        args.out.display(),
        summary.rows,
        summary.persons
    );
    Ok(ExitCode::SUCCESS)
}

/// Creates a new temporary file next to `out` (same directory, so that the rename is atomic),
/// readable by its owner only when `private`.
fn create_temp(out: &Path, private: bool) -> anyhow::Result<(PathBuf, File)> {
    let name = out
        .file_name()
        .with_context(|| format!("{} is not a file name", out.display()))?
        .to_string_lossy()
        .into_owned();
    let temp = out.with_file_name(format!(".{name}.{}.part", std::process::id()));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let file = options
        .open(&temp)
        .with_context(|| format!("creating {}", temp.display()))?;
    Ok((temp, file))
}

/// A spinner counting persons on stderr when it is a terminal, nothing otherwise.
fn progress_spinner() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} exporting: {pos} persons read") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}
