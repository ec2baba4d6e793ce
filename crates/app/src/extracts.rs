//! The registry as flat extracts: PS_LibreAcces `Personne_activite` (public) and the
//! Pro Santé Connect (RASS) extract (restricted), in the layouts of `rppsplus_formats::extract`.
//!
//! **Rows.** One row per situation d'exercice in force on the day of the export (started, and
//! not ended before that day), in person order then situation order. An exercise whose
//! situations have all ended (or not started yet) gives one row with the exercise columns and
//! the structure columns empty, as the national files list a professional without activity; a
//! person without any exercise (a legal representative who is not a registered professional)
//! gives one row with the person columns only. Both formats have the same rows; only their
//! columns differ.
//!
//! **Public data only in PS_LibreAcces.** The public row is built from the identifiers, the
//! civility, the exercise (names d'exercice, profession), the situation and the structure; the
//! civil identity (birth name, first names, birth date and place, sex) and the personal contact
//! details are added for the RASS extract only, and the PS_LibreAcces layout has no column that
//! could hold them. Identity documents are in neither.
//!
//! **Streaming.** Persons are read by pages of [`PAGE`] ids with their situations (one query)
//! and the structures these name, each page in a transaction of its own that is rolled back
//! once read (no lock is held while the file is written), so memory stays bounded by one page
//! whatever the size of the registry.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use jiff::Timestamp;
use rppsplus_domain::reference::{Cog, Tables};
use rppsplus_domain::situation::situation_in_force;
use rppsplus_formats::extract::{ExtractRow, ExtractWriter};
use rppsplus_store::{Person, PersonId, Situation, Structure, StructureId};

pub use rppsplus_formats::extract::{ExtractFormat, Layout};

use crate::{App, AppError};

/// Persons read per transaction.
pub const PAGE: u32 = 500;

/// TRE_R291 `99`, "Acteur participant au système de santé caractérisé par rôle": the profession
/// of a professional registered with a TRE_R85 rôle de prise en charge, which goes to the
/// `Code rôle` column.
const ROLE_BASED_PROFESSION: &str = "99";

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportSummary {
    /// The layout written.
    pub layout: Layout,
    /// Persons read.
    pub persons: u64,
    /// Data lines written (the header not counted).
    pub rows: u64,
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the registry failed.
    #[error(transparent)]
    App(#[from] AppError),
    /// Writing the file failed.
    #[error("cannot write the extract: {0}")]
    Io(#[from] std::io::Error),
}

impl From<rppsplus_store::StoreError> for ExportError {
    fn from(e: rppsplus_store::StoreError) -> Self {
        ExportError::App(e.into())
    }
}

impl App {
    /// Writes the whole registry as an extract of `format` to `out` (header first) and hands
    /// `out` back. `progress` is called after each page with the number of persons read so far.
    /// An operator's action: the caller decides who may have the restricted RASS extract.
    pub async fn export_extract<W: Write + Send>(
        &self,
        format: ExtractFormat,
        out: W,
        progress: impl FnMut(u64) + Send,
    ) -> Result<(W, ExportSummary), ExportError> {
        self.export_extract_paged(format, out, progress, PAGE).await
    }

    async fn export_extract_paged<W: Write + Send>(
        &self,
        format: ExtractFormat,
        out: W,
        mut progress: impl FnMut(u64) + Send,
        page_size: u32,
    ) -> Result<(W, ExportSummary), ExportError> {
        // One instant for the whole file: a situation closed at once is out of it from the
        // instant of its closing, as for decisions and the directory.
        let at = self.now();
        let layout = format.current_layout();
        let tables = rppsplus_domain::reference::tables().ok();
        let cog = rppsplus_domain::reference::cog().ok();
        let labels = Labels { tables, cog };
        let mut writer = ExtractWriter::new(out, layout)?;
        let mut after = PersonId(0);
        let mut persons = 0u64;
        loop {
            let mut tx = self.store.begin().await?;
            let page = tx.list_persons(after, page_size).await?;
            let Some(last) = page.last() else {
                tx.rollback().await?;
                break;
            };
            let up_to = last.id;
            let situations = tx.situations_of_persons(after, up_to).await?;
            after = up_to;
            let mut structures: HashMap<StructureId, Structure> = HashMap::new();
            for s in &situations {
                let id = s.record.structure;
                if !structures.contains_key(&id)
                    && let Some(st) = tx.structure(id).await?
                {
                    structures.insert(id, st);
                }
            }
            tx.rollback().await?;
            let mut of_person: HashMap<PersonId, Vec<Situation>> = HashMap::new();
            for s in situations {
                of_person.entry(s.record.person).or_default().push(s);
            }
            let batch: Vec<(Person, Vec<Situation>)> = page
                .into_iter()
                .map(|p| {
                    let situations = of_person.remove(&p.id).unwrap_or_default();
                    (p, situations)
                })
                .collect();
            for (person, situations) in &batch {
                for row in rows_of_person(format, person, situations, &structures, at, &labels) {
                    writer.write_row(&row)?;
                }
            }
            persons += batch.len() as u64;
            progress(persons);
        }
        let rows = writer.rows();
        let out = writer.finish()?;
        Ok((
            out,
            ExportSummary {
                layout,
                persons,
                rows,
            },
        ))
    }
}

/// The reference tables labels come from (labels stay empty if they cannot be loaded).
struct Labels {
    tables: Option<&'static Tables>,
    cog: Option<&'static Cog>,
}

/// Whether a situation is in force at `at`, by the decisions' own rule.
fn in_force(s: &Situation, at: Timestamp) -> bool {
    situation_in_force(s.record.start_date, s.record.end_date, s.closed_at, at)
}

/// The rows of one person (see the module documentation).
fn rows_of_person(
    format: ExtractFormat,
    person: &Person,
    situations: &[Situation],
    structures: &HashMap<StructureId, Structure>,
    at: Timestamp,
    labels: &Labels,
) -> Vec<ExtractRow> {
    let base = public_person(person, labels);
    let mut rows = Vec::new();
    for s in situations.iter().filter(|s| in_force(s, at)) {
        let mut row = base.clone();
        exercise_columns(&mut row, s, labels);
        situation_columns(&mut row, s, structures.get(&s.record.structure), labels);
        rows.push(row);
    }
    // Exercises without a situation in force: one row each, without structure. Exercises are
    // told apart by what the file shows of them.
    let mut idle = BTreeMap::new();
    for s in situations {
        let mut row = base.clone();
        exercise_columns(&mut row, s, labels);
        if !rows.iter().any(|r| same_exercise(r, &row)) {
            idle.entry(exercise_key(&row)).or_insert(row);
        }
    }
    rows.extend(idle.into_values());
    if rows.is_empty() {
        rows.push(base);
    }
    if format == ExtractFormat::Rass {
        for row in &mut rows {
            private_columns(row, person, labels);
        }
    }
    rows
}

fn exercise_key(r: &ExtractRow) -> [Option<String>; 5] {
    [
        r.profession_code.clone(),
        r.role_code.clone(),
        r.exercise_civility_code.clone(),
        r.exercise_last_name.clone(),
        r.exercise_first_name.clone(),
    ]
}

fn same_exercise(a: &ExtractRow, b: &ExtractRow) -> bool {
    exercise_key(a) == exercise_key(b)
}

fn some(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// Identifiers and civility: the columns of a person every row has.
fn public_person(person: &Person, labels: &Labels) -> ExtractRow {
    let p = &person.record;
    let idnps = p.idnps.as_str();
    let civility = some(&p.civility);
    ExtractRow {
        id_type: idnps.get(..1).and_then(some),
        id: idnps.get(1..).and_then(some),
        idnps: some(idnps),
        civility_label: labels
            .tables
            .and_then(|t| t.civilities.label(&p.civility))
            .map(str::to_owned),
        civility_code: civility,
        ..ExtractRow::default()
    }
}

/// The exercise: names d'exercice, profession and rôle.
fn exercise_columns(row: &mut ExtractRow, s: &Situation, labels: &Labels) {
    let e = &s.exercise;
    let t = labels.tables;
    row.exercise_civility_code = e.exercise_civility.clone();
    row.exercise_civility_label = e
        .exercise_civility
        .as_deref()
        .and_then(|c| t.and_then(|t| t.exercise_civilities.label(c)))
        .map(str::to_owned);
    row.exercise_last_name = some(&e.exercise_last_name);
    row.exercise_first_name = some(&e.exercise_first_name);
    let code = e.profession_code.as_str();
    let r85 = t.and_then(|t| t.professions.r85(code));
    let g15 = t.and_then(|t| t.professions.g15(code));
    let role_based = r85.is_some() || (g15.is_none() && code.len() == 3 && code.starts_with('3'));
    if role_based {
        row.profession_code = some(ROLE_BASED_PROFESSION);
        row.profession_label = t
            .and_then(|t| {
                t.professions.get(
                    rppsplus_domain::reference::TableId::R291,
                    ROLE_BASED_PROFESSION,
                )
            })
            .map(|p| p.label.clone());
        row.role_code = some(code);
        row.role_label = r85.map(|p| p.label.clone());
    } else {
        row.profession_code = some(code);
        row.profession_label = g15.map(|p| p.label.clone());
    }
}

/// The situation and its establishment.
fn situation_columns(
    row: &mut ExtractRow,
    s: &Situation,
    structure: Option<&Structure>,
    labels: &Labels,
) {
    let t = labels.tables;
    let r = &s.record;
    row.practice_mode_code = some(&r.practice_mode);
    row.practice_mode_label = t
        .and_then(|t| t.exercise_modes.label(&r.practice_mode))
        .map(str::to_owned);
    row.activity_kind_code = some(&r.role_code);
    row.activity_kind_label = t
        .and_then(|t| t.roles.get(&r.role_code))
        .map(|role| role.label.clone());
    let Some(st) = structure else { return };
    let st = &st.record;
    let finess = st.finess.as_str();
    row.siret = st.siret.as_ref().map(|s| s.as_str().to_owned());
    row.siren = st.siret.as_ref().map(|s| s.siren().to_owned());
    row.finess_site = some(finess);
    row.finess_legal_entity = st.ej_finess.as_ref().map(|f| f.as_str().to_owned());
    row.structure_technical_id = Some(format!("F{finess}"));
    row.former_structure_id = Some(format!("1{finess}"));
    row.site_name = some(&st.name);
    row.street_name = st.address.clone();
    row.postcode = st.postcode.clone();
    row.cedex_office = match (&st.postcode, &st.city) {
        (Some(p), Some(c)) => Some(format!("{p} {}", c.to_uppercase())),
        _ => None,
    };
    if let Some(code) = st.commune_code.as_deref() {
        row.commune_code = some(code);
        let commune = labels
            .cog
            .and_then(|cog| cog.communes_with_code(code).first());
        row.commune_label = commune.map(|c| c.name.clone()).or_else(|| st.city.clone());
        row.department_code = commune
            .map(|c| c.department.clone())
            .or_else(|| department_of(code));
        row.country_code = some("99100");
        row.country_label = labels
            .cog
            .and_then(|cog| cog.country("99100"))
            .map(|c| c.label.clone());
    }
}

/// The département of a commune code: three characters overseas (`971`…), two otherwise.
fn department_of(commune: &str) -> Option<String> {
    let n = if commune.starts_with("97") || commune.starts_with("98") {
        3
    } else {
        2
    };
    commune.get(..n).map(str::to_owned)
}

/// The civil identity and personal contact details: the RASS extract only.
fn private_columns(row: &mut ExtractRow, person: &Person, labels: &Labels) {
    let p = &person.record;
    row.birth_name = some(&p.birth_name);
    // The national extract has three first-name slots, each followed by `'`; kept when there
    // are more.
    let mut names = p.first_names.clone();
    while names.len() < 3 {
        names.push(String::new());
    }
    row.first_names = names;
    row.birth_date = Some(p.birth_date);
    row.birth_commune_code = p.birth_commune.clone();
    row.birth_country_code = some(&p.birth_country);
    row.birth_place = match p.birth_commune.as_deref() {
        Some(code) => labels
            .cog
            .and_then(|cog| cog.communes_with_code(code).first())
            .map(|c| c.name.clone()),
        None => labels
            .cog
            .and_then(|cog| cog.country(&p.birth_country))
            .map(|c| c.label.clone()),
    };
    row.sex_code = some(&p.sex);
    row.personal_phone = p.mobile.clone();
    row.personal_email = p.email.clone();
    let origin = if p.idnps.as_str().starts_with('0') {
        "ADELI"
    } else {
        "RPPS"
    };
    row.other_identifiers = Some(format!("{},{origin},1", p.idnps.as_str()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::{Date, date};
    use rppsplus_domain::{Finess, Rpps};
    use rppsplus_store::Store as _;
    use rppsplus_store::{
        ExerciseId, IdDocumentRecord, ManagementMode, NewExercise, NewPerson, NewSituation,
        SituationId, StructureKind, StructureRecord,
    };

    fn labels() -> Labels {
        Labels {
            tables: rppsplus_domain::reference::tables().ok(),
            cog: rppsplus_domain::reference::cog().ok(),
        }
    }

    fn person() -> Result<Person, Box<dyn std::error::Error>> {
        Ok(Person {
            id: PersonId(7),
            record: NewPerson {
                rpps: None,
                adeli: None,
                idnps: Rpps::from_sequence(50_000_001)?.idnps(),
                civility: "MME".into(),
                sex: "F".into(),
                birth_name: "Durand".into(),
                usage_name: Some("Martin".into()),
                first_names: vec!["Léa".into(), "Marie".into()],
                birth_date: date(1980, 5, 17),
                birth_country: "99100".into(),
                birth_commune: Some("69123".into()),
                id_document: Some(IdDocumentRecord {
                    kind: "CNI".into(),
                    number: "X1234567".into(),
                    expires_on: date(2030, 1, 1),
                }),
                email: Some("lea.durand@example.test".into()),
                mobile: Some("+33612345678".into()),
                birth_name_key: String::new(),
                usage_name_key: None,
                first_names_key: String::new(),
                at: Timestamp::UNIX_EPOCH,
            },
            version: 1,
            updated_at: Timestamp::UNIX_EPOCH,
        })
    }

    /// Midday of 2026-11-27 in Paris.
    fn noon() -> Result<Timestamp, jiff::Error> {
        "2026-11-27T11:00:00Z".parse()
    }

    fn situation(id: i64, profession: &str, end: Option<Date>) -> Situation {
        Situation {
            id: SituationId(id),
            record: NewSituation {
                exercise: ExerciseId(id),
                person: PersonId(7),
                structure: StructureId(1),
                role_code: "GENR11".into(),
                practice_mode: "S".into(),
                start_date: date(2020, 1, 1),
                end_date: end,
                created_by: None,
                at: Timestamp::UNIX_EPOCH,
            },
            exercise: NewExercise {
                person: PersonId(7),
                profession_code: profession.into(),
                exercise_civility: None,
                exercise_last_name: "MARTIN".into(),
                exercise_first_name: "Léa".into(),
                at: Timestamp::UNIX_EPOCH,
            },
            end_reason: None,
            closed_at: None,
            version: 1,
            updated_at: Timestamp::UNIX_EPOCH,
        }
    }

    fn structures() -> Result<HashMap<StructureId, Structure>, Box<dyn std::error::Error>> {
        let record = StructureRecord {
            finess: Finess::parse("690001029")?,
            kind: StructureKind::Eg,
            ej_finess: Some(Finess::parse("690001011")?),
            name: "EHPAD Les Tilleuls".into(),
            siret: None,
            category_code: Some("500".into()),
            setting: Some("ESMS".into()),
            address: Some("12 rue des Tilleuls".into()),
            postcode: Some("69100".into()),
            commune_code: Some("69266".into()),
            city: Some("Villeurbanne".into()),
            open: true,
            closed_on: None,
            at: Timestamp::UNIX_EPOCH,
        };
        Ok(HashMap::from([(
            StructureId(1),
            Structure {
                id: StructureId(1),
                record,
                management_mode: ManagementMode::Centralised,
                created_at: Timestamp::UNIX_EPOCH,
                updated_at: Timestamp::UNIX_EPOCH,
            },
        )]))
    }

    #[tokio::test]
    async fn pages_of_any_size_give_the_same_file() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("x.db").display());
        let store = rppsplus_store_sqlite::SqliteStore::connect(&url, true).await?;
        store.migrate().await?;
        let app = App::new(
            std::sync::Arc::new(store),
            crate::AppSettings::default(),
            std::sync::Arc::new(crate::SystemClock),
        );
        app.load_demo().await?;
        for format in [ExtractFormat::PsLibreAcces, ExtractFormat::Rass] {
            let (whole, summary) = app.export_extract(format, Vec::new(), |_| {}).await?;
            assert_eq!((summary.persons, summary.rows), (55, 55));
            let mut seen = Vec::new();
            let (paged, _) = app
                .export_extract_paged(format, Vec::new(), |n| seen.push(n), 7)
                .await?;
            assert_eq!(paged, whole);
            assert_eq!(seen, vec![7, 14, 21, 28, 35, 42, 49, 55]);
        }
        Ok(())
    }

    #[test]
    fn a_situation_in_force_gives_a_full_public_row() -> Result<(), Box<dyn std::error::Error>> {
        let p = person()?;
        let rows = rows_of_person(
            ExtractFormat::PsLibreAcces,
            &p,
            &[situation(1, "313", None)],
            &structures()?,
            noon()?,
            &labels(),
        );
        let [row] = rows.as_slice() else {
            return Err(format!("{rows:?}").into());
        };
        assert_eq!(row.id_type.as_deref(), Some("8"));
        assert_eq!(row.idnps.as_deref(), Some(p.record.idnps.as_str()));
        assert_eq!(row.civility_code.as_deref(), Some("MME"));
        assert_eq!(row.exercise_last_name.as_deref(), Some("MARTIN"));
        assert_eq!(row.profession_code.as_deref(), Some("99"));
        assert_eq!(row.role_code.as_deref(), Some("313"));
        assert!(row.role_label.is_some());
        assert_eq!(row.activity_kind_code.as_deref(), Some("GENR11"));
        assert_eq!(row.practice_mode_label.as_deref(), Some("Salarié"));
        assert_eq!(row.finess_site.as_deref(), Some("690001029"));
        assert_eq!(row.finess_legal_entity.as_deref(), Some("690001011"));
        assert_eq!(row.structure_technical_id.as_deref(), Some("F690001029"));
        assert_eq!(row.former_structure_id.as_deref(), Some("1690001029"));
        assert_eq!(row.commune_label.as_deref(), Some("Villeurbanne"));
        assert_eq!(row.department_code.as_deref(), Some("69"));
        assert_eq!(row.cedex_office.as_deref(), Some("69100 VILLEURBANNE"));
        // Nothing of the civil identity or personal contact.
        assert_eq!(row.birth_name, None);
        assert!(row.first_names.is_empty());
        assert_eq!(row.birth_date, None);
        assert_eq!(row.birth_commune_code, None);
        assert_eq!(row.personal_email, None);
        assert_eq!(row.personal_phone, None);
        assert_eq!(row.sex_code, None);
        assert_eq!(row.other_identifiers, None);
        Ok(())
    }

    #[test]
    fn a_situation_closed_at_once_leaves_the_extract_from_its_closing()
    -> Result<(), Box<dyn std::error::Error>> {
        let p = person()?;
        let mut closed = situation(1, "313", Some(date(2026, 11, 27)));
        closed.end_reason = Some("départ".into());
        closed.closed_at = Some("2026-11-27T09:00:00Z".parse()?);
        let in_force = |at: Timestamp| {
            rows_of_person(
                ExtractFormat::PsLibreAcces,
                &p,
                std::slice::from_ref(&closed),
                &structures()?,
                at,
                &labels(),
            )
            .first()
            .map(|r| r.finess_site.is_some())
            .ok_or_else(|| Box::<dyn std::error::Error>::from("no row"))
        };
        // Before the closing the situation is in the file; after it, on the same day, only
        // the exercise remains (its last day has not ended, but the closing was at once).
        assert!(in_force("2026-11-27T08:00:00Z".parse()?)?);
        assert!(!in_force(noon()?)?);
        Ok(())
    }

    #[test]
    fn the_rass_row_adds_the_civil_identity() -> Result<(), Box<dyn std::error::Error>> {
        let rows = rows_of_person(
            ExtractFormat::Rass,
            &person()?,
            &[situation(1, "10", None)],
            &structures()?,
            noon()?,
            &labels(),
        );
        let [row] = rows.as_slice() else {
            return Err(format!("{rows:?}").into());
        };
        assert_eq!(row.profession_code.as_deref(), Some("10"));
        assert_eq!(row.role_code, None);
        assert_eq!(row.birth_name.as_deref(), Some("Durand"));
        assert_eq!(row.first_names, vec!["Léa", "Marie", ""]);
        assert_eq!(row.birth_date, Some(date(1980, 5, 17)));
        assert_eq!(row.birth_place.as_deref(), Some("Lyon"));
        assert_eq!(
            row.personal_email.as_deref(),
            Some("lea.durand@example.test")
        );
        assert_eq!(row.personal_phone.as_deref(), Some("+33612345678"));
        assert!(
            row.other_identifiers
                .as_deref()
                .is_some_and(|o| o.ends_with(",RPPS,1"))
        );
        Ok(())
    }

    #[test]
    fn ended_situations_leave_one_row_per_exercise_without_structure()
    -> Result<(), Box<dyn std::error::Error>> {
        let p = person()?;
        let today = noon()?;
        let ended = Some(date(2025, 12, 31));
        let rows = rows_of_person(
            ExtractFormat::PsLibreAcces,
            &p,
            &[
                situation(1, "313", ended),
                situation(2, "313", ended),
                situation(3, "328", ended),
            ],
            &structures()?,
            today,
            &labels(),
        );
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert!(rows.iter().all(|r| r.finess_site.is_none()
            && r.practice_mode_code.is_none()
            && r.activity_kind_code.is_none()));
        // An exercise in force hides the ended situations of the same exercise.
        let rows = rows_of_person(
            ExtractFormat::PsLibreAcces,
            &p,
            &[situation(1, "313", ended), situation(2, "313", None)],
            &structures()?,
            today,
            &labels(),
        );
        assert_eq!(rows.len(), 1);
        assert!(rows[0].finess_site.is_some());
        // A person without any exercise: identifiers and civility only.
        let rows = rows_of_person(
            ExtractFormat::PsLibreAcces,
            &p,
            &[],
            &structures()?,
            today,
            &labels(),
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].exercise_last_name, None);
        assert_eq!(rows[0].idnps.as_deref(), Some(p.record.idnps.as_str()));
        Ok(())
    }
}
