//! `rppsplus export extract` as an operator runs it, on the demo data, on SQLite and on
//! PostgreSQL: both extracts are written, read back with the extract reader, have the expected
//! lines, and the public one holds none of the private data of any demo person.

use std::error::Error;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use rppsplus_app::{App, AppSettings, SystemClock};
use rppsplus_formats::extract::{
    ExtractFormat, ExtractItem, ExtractReader, ExtractRow, Layout, format_date,
};
use rppsplus_store::{Person, PersonId, Store};
use rppsplus_test_support::TestDb;

type TestResult = Result<(), Box<dyn Error>>;

fn rppsplus(args: &[&str], database_url: &str) -> std::io::Result<Output> {
    Command::new(env!("CARGO_BIN_EXE_rppsplus"))
        .args(args)
        .env("RPPSPLUS_DATABASE_URL", database_url)
        .env("RPPSPLUS_LOG", "warn")
        .output()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn demos() -> Result<Vec<(TestDb, App)>, Box<dyn Error>> {
    let mut dbs = vec![TestDb::sqlite().await?];
    if let Some(pg) = TestDb::postgres().await? {
        dbs.push(pg);
    }
    let mut out = Vec::new();
    for db in dbs {
        let app = App::new(
            db.store.clone(),
            AppSettings::default(),
            Arc::new(SystemClock),
        );
        app.prepare().await.map_err(|e| format!("{e:?}"))?;
        app.load_demo().await.map_err(|e| format!("{e:?}"))?;
        out.push((db, app));
    }
    Ok(out)
}

async fn all_persons(store: &Arc<dyn Store>) -> Result<Vec<Person>, Box<dyn Error>> {
    let mut tx = store.begin().await?;
    let persons = tx.list_persons(PersonId(0), 10_000).await?;
    tx.rollback().await?;
    Ok(persons)
}

/// Runs the export and returns the file's bytes.
fn export(db: &TestDb, format: &str, out: &Path) -> Result<Vec<u8>, Box<dyn Error>> {
    let path = out.to_str().ok_or("non-UTF-8 path")?;
    let run = rppsplus(
        &["export", "extract", "--format", format, "--out", path],
        &db.url,
    )?;
    if !run.status.success() {
        return Err(format!(
            "export failed ({}):\n{}\n{}",
            run.status,
            text(&run.stdout),
            text(&run.stderr)
        )
        .into());
    }
    assert!(
        text(&run.stdout).contains("lines for 55 persons"),
        "{}",
        text(&run.stdout)
    );
    Ok(std::fs::read(out)?)
}

fn read_back(bytes: &[u8], layout: Layout) -> Result<Vec<ExtractRow>, Box<dyn Error>> {
    let mut reader = ExtractReader::new(bytes)?;
    assert_eq!(reader.layout(), Some(layout));
    let mut rows = Vec::new();
    for item in reader.by_ref() {
        match item? {
            ExtractItem::Row { row, .. } => rows.push(row),
            ExtractItem::Rejected(r) => return Err(format!("rejected: {r:?}").into()),
        }
    }
    Ok(rows)
}

// The demo: 55 persons; 52 situations of which 4 ended on 2025-12-31; 3 legal representatives
// without any exercise. Lines: 48 situations in force, 4 professionals without activity, 3
// persons without exercise.
const LINES: usize = 55;
const WITH_STRUCTURE: usize = 48;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_extracts_are_written_and_read_back() -> TestResult {
    for (db, app) in demos().await? {
        let dir = tempfile::tempdir()?;
        let persons = all_persons(app.store()).await?;
        assert_eq!(persons.len(), 55);

        let public = export(&db, "ps-libreacces", &dir.path().join("ps.txt"))?;
        let rows = read_back(&public, Layout::PsLibreAcces)?;
        assert_eq!(rows.len(), LINES);
        assert_eq!(
            rows.iter().filter(|r| r.finess_site.is_some()).count(),
            WITH_STRUCTURE
        );
        assert!(public.starts_with(b"Type d'identifiant PP|Identifiant PP|"));
        assert!(public.ends_with(b"|\n"));
        for p in &persons {
            assert!(
                rows.iter()
                    .any(|r| r.idnps.as_deref() == Some(p.record.idnps.as_str())),
                "{} is missing",
                p.record.idnps
            );
        }
        let ehpad = rows
            .iter()
            .find(|r| r.finess_site.as_deref() == Some("690001029"))
            .ok_or("no line at the EHPAD")?;
        assert_eq!(ehpad.finess_legal_entity.as_deref(), Some("690001011"));
        assert_eq!(ehpad.site_name.as_deref(), Some("EHPAD Les Tilleuls"));
        assert_eq!(ehpad.profession_code.as_deref(), Some("99"));
        assert!(ehpad.role_code.is_some() && ehpad.role_label.is_some());
        assert!(
            ehpad
                .activity_kind_code
                .as_deref()
                .is_some_and(|g| g.starts_with("GENR"))
        );

        let restricted = export(&db, "rass", &dir.path().join("rass.txt"))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("rass.txt"))?
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the RASS extract is readable by others");
        }
        let rass = read_back(&restricted, Layout::Rass)?;
        assert_eq!(rass.len(), LINES);
        assert_eq!(
            rass.iter().filter(|r| r.finess_site.is_some()).count(),
            WITH_STRUCTURE
        );
        for p in &persons {
            let row = rass
                .iter()
                .find(|r| r.idnps.as_deref() == Some(p.record.idnps.as_str()))
                .ok_or("person missing from the RASS extract")?;
            assert_eq!(row.birth_date, Some(p.record.birth_date));
            assert_eq!(row.personal_email, p.record.email);
            assert_eq!(row.personal_phone, p.record.mobile);
            assert_eq!(
                row.given_names().collect::<Vec<_>>(),
                p.record
                    .first_names
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
            );
        }
        // The same lines in both, in the same order.
        let ids = |rows: &[ExtractRow]| -> Vec<(Option<String>, Option<String>)> {
            rows.iter()
                .map(|r| (r.idnps.clone(), r.finess_site.clone()))
                .collect()
        };
        assert_eq!(ids(&rows), ids(&rass));
        assert_eq!(
            ExtractReader::new(restricted.as_slice())?.format(),
            ExtractFormat::Rass
        );

        // No file left behind but the two extracts.
        let mut names: Vec<String> = std::fs::read_dir(dir.path())?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<_, _>>()?;
        names.sort();
        assert_eq!(names, vec!["ps.txt", "rass.txt"]);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_extract_holds_no_private_data() -> TestResult {
    for (db, app) in demos().await? {
        let dir = tempfile::tempdir()?;
        let public = text(&export(&db, "ps-libreacces", &dir.path().join("ps.txt"))?);
        let restricted = text(&export(&db, "rass", &dir.path().join("rass.txt"))?);
        let lower = public.to_lowercase();
        for p in all_persons(app.store()).await? {
            let r = &p.record;
            let mut secrets = vec![
                format_date(r.birth_date),
                r.birth_date.to_string(),
                r.birth_date.strftime("%Y%m%d").to_string(),
            ];
            secrets.extend(r.email.clone());
            if let Some(m) = &r.mobile {
                secrets.push(m.clone());
                // The national form too: +336… → 06….
                if let Some(rest) = m.strip_prefix("+33") {
                    secrets.push(format!("0{rest}"));
                }
            }
            if let Some(doc) = &r.id_document {
                secrets.push(doc.number.clone());
            }
            for s in &secrets {
                assert!(
                    !lower.contains(&s.to_lowercase()),
                    "{s} of {} is in the public extract",
                    r.idnps
                );
            }
            // The restricted extract does hold them: the check above looks for the right text.
            assert!(restricted.contains(&format_date(r.birth_date)));
            if let Some(e) = &r.email {
                assert!(restricted.contains(e.as_str()));
            }
        }
        // No column of the public file is about birth, sex or personal contact details.
        let header = public.lines().next().unwrap_or_default().to_lowercase();
        for word in [
            "naissance",
            "prénoms",
            "sexe",
            "correspondance",
            "nom de famille",
        ] {
            assert!(!header.contains(word), "{word} in the public header");
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_export_leaves_no_file() -> TestResult {
    let db = TestDb::sqlite().await?;
    let dir = tempfile::tempdir()?;
    let target = dir.path().join("missing-dir").join("ps.txt");
    let path = target.to_str().ok_or("non-UTF-8 path")?;
    // A database that is not initialised.
    let out = rppsplus(
        &["export", "extract", "--format", "rass", "--out", path],
        &format!("sqlite://{}", dir.path().join("none.db").display()),
    )?;
    assert!(!out.status.success());
    // A directory that does not exist.
    let out = rppsplus(
        &[
            "export",
            "extract",
            "--format",
            "ps-libreacces",
            "--out",
            path,
        ],
        &db.url,
    )?;
    assert!(!out.status.success(), "{}", text(&out.stdout));
    assert!(!target.exists());
    let names: Vec<_> = std::fs::read_dir(dir.path())?.collect();
    assert!(names.len() <= 1, "{names:?}");
    Ok(())
}
