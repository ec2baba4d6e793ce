//! `rppsplus import …`: loading national extracts into the registry.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;

use anyhow::Context;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use rppsplus_app::Actor;
use rppsplus_app::import::{FinessImportReport, ImportIssue};
use rppsplus_formats::finess::{EtalabReader, FinessItem, ReadError, read_structures_json};

use crate::{GlobalArgs, open_app};

/// The extracts `rppsplus import` loads.
#[derive(Debug, Subcommand)]
pub(crate) enum ImportCommand {
    /// Load a FINESS public extract: the etalab CSV (`structureet` establishment lines,
    /// `structureej` legal-entity lines; UTF-8 or Windows-1252) or the FINESS+ "Structures" JSON
    /// (uncompressed: gunzip it first). Unchanged structures are left
    /// untouched; new and changed ones are written and audited. Rejected lines are listed with
    /// their line numbers and do not stop the import (the exit code stays 0); a file that cannot
    /// be read exits non-zero.
    Finess(FinessArgs),
}

#[derive(Debug, Args)]
pub(crate) struct FinessArgs {
    /// The extract file, e.g. `etalab-cs1100502-stock-20260512-0339.csv` or
    /// `finess-structures-mensuel-202607.json`.
    file: PathBuf,

    /// The file is a whole extract: open establishments that are not in it are marked closed
    /// (never deleted).
    #[arg(long)]
    full: bool,
}

pub(crate) async fn run(g: &GlobalArgs, command: ImportCommand) -> anyhow::Result<ExitCode> {
    match command {
        ImportCommand::Finess(args) => finess(g, args).await,
    }
}

async fn finess(g: &GlobalArgs, args: FinessArgs) -> anyhow::Result<ExitCode> {
    let path = &args.file;
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let progress = progress_bar(size);
    let mut input = BufReader::with_capacity(64 * 1024, progress.wrap_read(file));
    let json =
        starts_like_json(&mut input).with_context(|| format!("reading {}", path.display()))?;
    let (outcome, about) = if json {
        let app = open_app(g, false).await?;
        let (tx, rx) = mpsc::sync_channel::<Result<FinessItem, ReadError>>(1024);
        // The JSON reader drives itself (one entry at a time): it runs on a thread of its own
        // and hands items over a bounded channel.
        let parser = std::thread::spawn(move || {
            let read = read_structures_json(input, |item| match tx.send(Ok(item)) {
                Ok(()) => ControlFlow::Continue(()),
                Err(_) => ControlFlow::Break(()),
            });
            match read {
                Ok(summary) => Some(summary),
                Err(e) => {
                    let _ = tx.send(Err(e));
                    None
                }
            }
        });
        let outcome = app
            .import_finess(&Actor::Operator, rx.iter(), args.full)
            .await;
        drop(rx);
        let summary = parser.join().ok().flatten();
        app.store().close().await;
        let mut about = "FINESS+ JSON".to_owned();
        if let Some(v) = summary.as_ref().and_then(|s| s.schema_version.as_deref()) {
            let _ = write!(about, ", schema {v}");
        }
        if let Some(at) = summary.as_ref().and_then(|s| s.generated_at.as_deref()) {
            let _ = write!(about, ", generated at {at}");
        }
        (outcome, about)
    } else {
        let mut reader =
            EtalabReader::new(input).with_context(|| format!("reading {}", path.display()))?;
        let app = open_app(g, false).await?;
        let outcome = app
            .import_finess(&Actor::Operator, reader.by_ref(), args.full)
            .await;
        app.store().close().await;
        let mut about = format!("etalab CSV, {}", reader.encoding());
        if let Some(date) = reader.header().and_then(|h| h.extracted_on) {
            let _ = write!(about, ", extracted on {date}");
        }
        (outcome, about)
    };
    progress.finish_and_clear();
    let report = outcome.context("writing to the database")?;
    print!("{}", summary(path, &about, &report, args.full));
    if report.interrupted.is_some() {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether the file starts with `{` (after a byte-order mark and blanks), without consuming it.
fn starts_like_json(input: &mut impl BufRead) -> std::io::Result<bool> {
    let head = input.fill_buf()?;
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    Ok(head
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{'))
}

/// A progress bar on stderr when it is a terminal, nothing otherwise.
fn progress_bar(bytes: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(bytes);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} importing [{bar:40}] {bytes}/{total_bytes} ({eta} left)",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// The report as printed at the end.
fn summary(path: &Path, about: &str, r: &FinessImportReport, full: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "FINESS import of {} ({about})", path.display());
    let _ = writeln!(out, "  records read  {:>7}", r.read);
    let _ = writeln!(
        out,
        "  inserted      {:>7}  (of which {} placeholder legal entities)",
        r.inserted, r.placeholders
    );
    let _ = writeln!(out, "  updated       {:>7}", r.updated);
    let _ = writeln!(out, "  unchanged     {:>7}", r.unchanged);
    if full {
        let _ = writeln!(out, "  closed        {:>7}", r.closed);
    }
    if r.ignored > 0 {
        let _ = writeln!(out, "  ignored       {:>7}  (geolocation lines)", r.ignored);
    }
    let _ = writeln!(out, "  rejected      {:>7}", r.rejected.len());
    let _ = writeln!(out, "  warnings      {:>7}", r.warnings.len());
    list(&mut out, "rejected (not imported)", &r.rejected);
    list(&mut out, "warnings (imported)", &r.warnings);
    if let Some(why) = &r.interrupted {
        let _ = writeln!(
            out,
            "IMPORT INCOMPLETE: {why}. The records before this point were imported; nothing was closed."
        );
    } else if let Some(why) = &r.closing_skipped {
        let _ = writeln!(out, "Missing establishments were NOT closed: {why}.");
    }
    if !r.rejected.is_empty() && r.interrupted.is_none() {
        let _ = writeln!(
            out,
            "Import done with {} rejected line(s), listed above: fix them and import the file again.",
            r.rejected.len()
        );
    }
    out
}

fn list(out: &mut String, title: &str, issues: &[ImportIssue]) {
    if issues.is_empty() {
        return;
    }
    let _ = writeln!(out, "{title}:");
    for i in issues {
        match &i.finess {
            Some(f) => {
                let _ = writeln!(out, "  {} ({f}): {}", i.at, i.message);
            }
            None => {
                let _ = writeln!(out, "  {}: {}", i.at, i.message);
            }
        }
    }
}
