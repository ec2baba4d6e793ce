//! Imports of national extracts. FINESS: legal entities (EJ) and establishments (EG).
//!
//! The caller reads the file (see `rppsplus_formats::finess`) and hands the items over; this
//! module writes them in transactions of [`BATCH_SIZE`] records, each structure with its audit
//! row and change-feed row, and reports what happened:
//!
//! - a record whose stored data is the same is left untouched (no write, no audit row);
//! - a new or changed record is written and audited (`structure.create` / `structure.update`);
//! - an establishment whose legal entity is not in the registry brings a placeholder legal
//!   entity named after its FINESS number (`Entité juridique 010780054`): the etalab
//!   establishment extract carries the EJ number but not its name. Importing the legal-entity
//!   extract (`structureej` lines, or the FINESS+ JSON) fills it in; importing establishments
//!   again never overwrites an existing legal entity;
//! - with a full extract, open establishments that are not in it are closed, never deleted
//!   (`structure.close`, dated today): after the last batch, and only if the whole file was read
//!   and it held at least one establishment. Establishments of rejected lines whose FINESS
//!   number could be read count as present.

use std::collections::{HashMap, HashSet};
use std::fmt::Display;

use jiff::Timestamp;
use jiff::civil::Date;
use rppsplus_domain::Finess;
use rppsplus_domain::reference::{cog, tables};
use rppsplus_formats::finess::{
    Establishment, FinessItem, FinessRecord, LegalEntity, Location, Rejection,
};
use rppsplus_store::{Structure, StructureKind, StructureRecord, Tx, Upsert};
use serde::Serialize;
use serde_json::json;

use crate::{Actor, App, AppError, AppResult, journal};

/// Records written per transaction: small enough not to hold the database for long, large
/// enough not to pay a commit per row.
pub const BATCH_SIZE: usize = 500;

/// What a FINESS import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FinessImportReport {
    /// Records read from the file (legal entities and establishments, rejected ones excluded).
    pub read: u64,
    /// Structures created (placeholder legal entities included).
    pub inserted: u64,
    /// Of which placeholder legal entities, for establishments whose EJ was not known.
    pub placeholders: u64,
    /// Structures whose data changed.
    pub updated: u64,
    /// Structures whose data was already the same.
    pub unchanged: u64,
    /// Establishments closed because a full extract did not have them.
    pub closed: u64,
    /// Lines of sections the registry does not use (geolocation).
    pub ignored: u64,
    /// Records refused, in file order.
    pub rejected: Vec<ImportIssue>,
    /// Records imported with a remark (bad check key, unknown category…), in file order.
    pub warnings: Vec<ImportIssue>,
    /// Why missing establishments were not closed, for a full extract that could not be
    /// trusted to be complete.
    pub closing_skipped: Option<String>,
    /// The error that stopped reading the file: what was read before it is imported, nothing
    /// is closed.
    pub interrupted: Option<String>,
}

/// A rejection or a warning, with its place in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportIssue {
    /// Where it is (`line 12`).
    pub at: String,
    /// The FINESS number concerned, when known.
    pub finess: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// Where an item's data comes from, for the audit log.
const SOURCE: &str = "finess_import";

impl App {
    /// Imports FINESS legal entities and establishments (see the [module](self) documentation).
    ///
    /// `items` is pulled on the caller's task, one batch at a time; an `Err` item (the file
    /// could not be read further) stops the import: batches already written stay, the report
    /// says so in `interrupted`, and nothing is closed. `full` says that the items are a whole
    /// extract, so that open establishments missing from it are closed.
    pub async fn import_finess<I, E>(
        &self,
        actor: &Actor,
        items: I,
        full: bool,
    ) -> AppResult<FinessImportReport>
    where
        I: IntoIterator<Item = Result<FinessItem, E>>,
        E: Display,
    {
        let categories = &tables()
            .map_err(|e| reference_unavailable(&e.to_string()))?
            .finess_categories;
        let cog = cog().map_err(|e| reference_unavailable(&e.to_string()))?;

        let mut tx = self.store.begin().await?;
        let existing: HashMap<Finess, Structure> = tx
            .list_structures()
            .await?
            .into_iter()
            .map(|s| (s.record.finess.clone(), s))
            .collect();
        tx.rollback().await?;

        let mut run = Run {
            report: FinessImportReport::default(),
            known: existing.keys().cloned().collect(),
            existing,
            seen: HashMap::new(),
            establishments_read: 0,
        };
        let mut batch: Vec<StructureRecord> = Vec::with_capacity(BATCH_SIZE);
        for item in items {
            let item = match item {
                Ok(item) => item,
                Err(e) => {
                    run.report.interrupted = Some(e.to_string());
                    break;
                }
            };
            match item {
                FinessItem::Ignored { .. } => run.report.ignored += 1,
                FinessItem::Rejected(r) => run.reject(r),
                FinessItem::Record {
                    at,
                    record,
                    warnings,
                } => {
                    let finess = record.finess().clone();
                    if let Some(first) = run.seen.get(&finess) {
                        let reason = format!("FINESS number {finess} already read at {first}");
                        run.reject(Rejection {
                            at,
                            finess: Some(finess),
                            reason,
                        });
                        continue;
                    }
                    run.seen.insert(finess.clone(), at);
                    run.report.read += 1;
                    let mut warnings = warnings;
                    let record = match &record {
                        FinessRecord::Establishment(e) => {
                            run.establishments_read += 1;
                            establishment_record(e, categories, &mut warnings)
                        }
                        FinessRecord::LegalEntity(e) => legal_entity_record(e),
                    };
                    if let Some(code) = &record.commune_code
                        && cog.current_commune(code).is_none()
                    {
                        warnings.push(format!("commune code {code} is not in the COG"));
                    }
                    for message in warnings {
                        run.report.warnings.push(ImportIssue {
                            at: at.to_string(),
                            finess: Some(finess.to_string()),
                            message,
                        });
                    }
                    batch.push(record);
                    if batch.len() >= BATCH_SIZE {
                        self.write_batch(actor, &mut run, std::mem::take(&mut batch))
                            .await?;
                    }
                }
            }
        }
        if !batch.is_empty() {
            self.write_batch(actor, &mut run, batch).await?;
        }

        if full {
            if let Some(why) = &run.report.interrupted {
                run.report.closing_skipped =
                    Some(format!("the file was not read to its end: {why}"));
            } else if run.establishments_read == 0 {
                run.report.closing_skipped = Some("the file holds no establishment".to_owned());
            } else {
                self.close_missing(actor, &mut run).await?;
            }
        }
        Ok(run.report)
    }

    /// Writes one batch of records in one transaction.
    async fn write_batch(
        &self,
        actor: &Actor,
        run: &mut Run,
        batch: Vec<StructureRecord>,
    ) -> AppResult<()> {
        let at = self.now();
        let mut counts = Counts::default();
        // FINESS numbers stored by this batch: known once it commits.
        let mut stored: HashSet<Finess> = HashSet::new();
        let mut tx = self.store.begin().await?;
        for mut record in batch {
            record.at = at;
            if let Some(ej) = &record.ej_finess
                && !run.known.contains(ej)
                && !stored.contains(ej)
            {
                // Never over an existing structure: a placeholder only fills a gap.
                if tx.structure_by_finess(ej).await?.is_none() {
                    let placeholder = placeholder_legal_entity(ej, at);
                    let outcome = tx.upsert_structure(&placeholder).await?;
                    journal(
                        &mut tx,
                        actor,
                        at,
                        "structure.create",
                        ("structure", outcome.id().0),
                        json!({ "finess": ej, "kind": "EJ", "open": true, "source": SOURCE,
                                "placeholder": true }),
                        "created",
                    )
                    .await?;
                    counts.inserted += 1;
                    counts.placeholders += 1;
                }
                stored.insert(ej.clone());
            }
            stored.insert(record.finess.clone());
            let before = run.existing.get(&record.finess);
            if before.is_some_and(|s| same_data(&s.record, &record)) {
                counts.unchanged += 1;
                continue;
            }
            let outcome = tx.upsert_structure(&record).await?;
            let (action, op, changed) = match outcome {
                Upsert::Inserted(_) => ("structure.create", "created", None),
                Upsert::Updated(_) => (
                    "structure.update",
                    "updated",
                    before.map(|s| changed_fields(&s.record, &record)),
                ),
                Upsert::Unchanged(_) => {
                    counts.unchanged += 1;
                    continue;
                }
            };
            let mut details = json!({
                "finess": record.finess,
                "kind": record.kind.as_str(),
                "open": record.open,
                "source": SOURCE,
            });
            if let (Some(changed), Some(map)) = (changed, details.as_object_mut()) {
                map.insert("changed".to_owned(), json!(changed));
            }
            journal(
                &mut tx,
                actor,
                at,
                action,
                ("structure", outcome.id().0),
                details,
                op,
            )
            .await?;
            match outcome {
                Upsert::Inserted(_) => counts.inserted += 1,
                _ => counts.updated += 1,
            }
        }
        tx.commit().await?;
        run.known.extend(stored);
        run.report.inserted += counts.inserted;
        run.report.placeholders += counts.placeholders;
        run.report.updated += counts.updated;
        run.report.unchanged += counts.unchanged;
        Ok(())
    }

    /// Closes the open establishments a full extract did not have, in batches.
    async fn close_missing(&self, actor: &Actor, run: &mut Run) -> AppResult<()> {
        let mut missing: Vec<Finess> = run
            .existing
            .values()
            .filter(|s| {
                s.record.kind == StructureKind::Eg
                    && s.record.open
                    && !run.seen.contains_key(&s.record.finess)
            })
            .map(|s| s.record.finess.clone())
            .collect();
        missing.sort();
        let today = self.today();
        for chunk in missing.chunks(BATCH_SIZE) {
            let at = self.now();
            let mut closed = 0;
            let mut tx = self.store.begin().await?;
            for finess in chunk {
                closed += u64::from(close_in(&mut tx, actor, at, today, finess).await?);
            }
            tx.commit().await?;
            run.report.closed += closed;
        }
        Ok(())
    }
}

/// Closes one establishment if it is still open; tells whether it did.
async fn close_in(
    tx: &mut Box<dyn Tx>,
    actor: &Actor,
    at: Timestamp,
    today: Date,
    finess: &Finess,
) -> AppResult<bool> {
    let Some(current) = tx.structure_by_finess(finess).await? else {
        return Ok(false);
    };
    if !current.record.open {
        return Ok(false);
    }
    let record = StructureRecord {
        open: false,
        closed_on: Some(today),
        at,
        ..current.record
    };
    let outcome = tx.upsert_structure(&record).await?;
    if !matches!(outcome, Upsert::Updated(_)) {
        return Ok(false);
    }
    journal(
        tx,
        actor,
        at,
        "structure.close",
        ("structure", outcome.id().0),
        json!({ "finess": finess, "kind": record.kind.as_str(), "closed_on": today,
                "source": SOURCE, "reason": "missing_from_full_extract" }),
        "closed",
    )
    .await?;
    Ok(true)
}

/// The state of one import.
struct Run {
    report: FinessImportReport,
    /// The structures stored when the import started, by FINESS number.
    existing: HashMap<Finess, Structure>,
    /// FINESS numbers known to be stored (legal entities need no placeholder).
    known: HashSet<Finess>,
    /// FINESS numbers met in the file (records and readable rejections), with where first.
    seen: HashMap<Finess, Location>,
    /// Establishment records read.
    establishments_read: u64,
}

impl Run {
    fn reject(&mut self, r: Rejection) {
        if let Some(f) = &r.finess {
            self.seen.entry(f.clone()).or_insert(r.at);
        }
        self.report.rejected.push(ImportIssue {
            at: r.at.to_string(),
            finess: r.finess.map(|f| f.to_string()),
            message: r.reason,
        });
    }
}

#[derive(Default)]
struct Counts {
    inserted: u64,
    placeholders: u64,
    updated: u64,
    unchanged: u64,
}

fn reference_unavailable(why: &str) -> AppError {
    tracing::error!(error = why, "reference data unavailable");
    AppError::Conflict {
        code: "reference_data_unavailable",
        message:
            "Les tables de référence (catégories FINESS, COG) sont illisibles : import impossible."
                .to_owned(),
    }
}

/// The stored form of an establishment. `at` is set when the batch is written.
fn establishment_record(
    e: &Establishment,
    categories: &rppsplus_domain::reference::FinessCategories,
    warnings: &mut Vec<String>,
) -> StructureRecord {
    let setting = categories.setting(&e.category_code);
    if setting.is_none() {
        warnings.push(format!(
            "category {} is not in TRE_R397: setting left empty",
            e.category_code
        ));
    }
    StructureRecord {
        finess: e.finess.clone(),
        kind: StructureKind::Eg,
        ej_finess: Some(e.legal_entity.clone()),
        name: e.display_name().to_owned(),
        siret: e.siret.clone(),
        category_code: Some(e.category_code.clone()),
        setting: setting.map(|s| s.code().to_owned()),
        address: e.address.one_line(),
        postcode: e.address.postcode.clone(),
        commune_code: e.address.commune_code.clone(),
        city: e.address.city.clone(),
        open: e.open,
        closed_on: if e.open { None } else { e.closed_on },
        at: Timestamp::UNIX_EPOCH,
    }
}

/// The stored form of a legal entity.
fn legal_entity_record(e: &LegalEntity) -> StructureRecord {
    StructureRecord {
        finess: e.finess.clone(),
        kind: StructureKind::Ej,
        ej_finess: None,
        name: e.display_name().to_owned(),
        siret: None,
        category_code: None,
        setting: None,
        address: e.address.one_line(),
        postcode: e.address.postcode.clone(),
        commune_code: e.address.commune_code.clone(),
        city: e.address.city.clone(),
        open: e.open,
        closed_on: if e.open { None } else { e.closed_on },
        at: Timestamp::UNIX_EPOCH,
    }
}

/// The legal entity written for an establishment whose EJ is not in the registry.
fn placeholder_legal_entity(finess: &Finess, at: Timestamp) -> StructureRecord {
    StructureRecord {
        finess: finess.clone(),
        kind: StructureKind::Ej,
        ej_finess: None,
        name: format!("Entité juridique {finess}"),
        siret: None,
        category_code: None,
        setting: None,
        address: None,
        postcode: None,
        commune_code: None,
        city: None,
        open: true,
        closed_on: None,
        at,
    }
}

/// Whether two versions hold the same data (the time they were written aside), as the store
/// decides it.
fn same_data(stored: &StructureRecord, incoming: &StructureRecord) -> bool {
    *stored
        == StructureRecord {
            at: stored.at,
            ..incoming.clone()
        }
}

/// The names of the fields that differ, for the audit log (names only, never values).
fn changed_fields(a: &StructureRecord, b: &StructureRecord) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut check = |name, differs: bool| {
        if differs {
            out.push(name);
        }
    };
    check("kind", a.kind != b.kind);
    check("ej_finess", a.ej_finess != b.ej_finess);
    check("name", a.name != b.name);
    check("siret", a.siret != b.siret);
    check("category_code", a.category_code != b.category_code);
    check("setting", a.setting != b.setting);
    check("address", a.address != b.address);
    check("postcode", a.postcode != b.postcode);
    check("commune_code", a.commune_code != b.commune_code);
    check("city", a.city != b.city);
    check("open", a.open != b.open);
    check("closed_on", a.closed_on != b.closed_on);
    out
}
