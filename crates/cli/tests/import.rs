//! `rppsplus import finess` as an operator runs it, on SQLite and on PostgreSQL.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rppsplus_domain::Finess;
use rppsplus_store::{AuditRow, ChangeRow, RowCounts, Store, Structure};
use rppsplus_test_support::TestDb;

type TestResult = Result<(), Box<dyn Error>>;

const SAMPLE: &str =
    include_str!("../../../data/samples/finess_etalab-cs1100502-stock-20260512-0339_excerpt.csv");

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

/// Runs `import finess FILE [extra…]` and returns stdout, failing on a non-zero exit.
fn import(db: &TestDb, file: &Path, extra: &[&str]) -> Result<String, Box<dyn Error>> {
    let file = file.to_str().ok_or("non-UTF-8 path")?;
    let mut args = vec!["import", "finess", file];
    args.extend(extra);
    let out = rppsplus(&args, &db.url)?;
    if !out.status.success() {
        return Err(format!(
            "import failed ({}):\n{}\n{}",
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        )
        .into());
    }
    Ok(text(&out.stdout))
}

async fn databases() -> Result<Vec<TestDb>, Box<dyn Error>> {
    let mut dbs = vec![TestDb::sqlite().await?];
    if let Some(pg) = TestDb::postgres().await? {
        dbs.push(pg);
    }
    Ok(dbs)
}

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Result<Self, Box<dyn Error>> {
        Ok(Files {
            dir: tempfile::tempdir()?,
        })
    }

    fn write(&self, name: &str, content: &[u8]) -> Result<PathBuf, Box<dyn Error>> {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content)?;
        Ok(path)
    }
}

/// Everything that says whether something was written.
#[derive(Debug, PartialEq)]
struct Snapshot {
    counts: RowCounts,
    audit: Vec<AuditRow>,
    changes: Vec<ChangeRow>,
    structures: Vec<Structure>,
}

async fn snapshot(store: &dyn Store) -> Result<Snapshot, Box<dyn Error>> {
    let mut tx = store.begin().await?;
    let structures = tx.list_structures().await?;
    tx.rollback().await?;
    Ok(Snapshot {
        counts: store.row_counts().await?,
        audit: store.audit_rows(0, 10_000).await?,
        changes: store.changes_after(0, 10_000).await?,
        structures,
    })
}

async fn structure(store: &dyn Store, finess: &str) -> Result<Structure, Box<dyn Error>> {
    let finess = Finess::read(finess)?.finess;
    let mut tx = store.begin().await?;
    let s = tx.structure_by_finess(&finess).await?;
    tx.rollback().await?;
    Ok(s.ok_or(format!("{finess} not stored"))?)
}

fn line_of(summary: &str, label: &str) -> Option<String> {
    summary
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
}

#[tokio::test]
async fn the_sample_imports_and_a_second_import_changes_nothing() -> TestResult {
    let files = Files::new()?;
    let utf8 = files.write("utf8.csv", SAMPLE.as_bytes())?;
    // The same extract as older releases were published: Windows-1252, CRLF line ends.
    let latin: Vec<u8> = SAMPLE
        .replace('\n', "\r\n")
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect();
    let latin = files.write("latin1.csv", &latin)?;
    for db in databases().await? {
        let store = db.store.as_ref();
        let out = import(&db, &utf8, &[])?;
        assert!(
            out.contains("etalab CSV, UTF-8, extracted on 2026-05-12"),
            "{out}"
        );
        assert_eq!(
            line_of(&out, "records read").as_deref(),
            Some("records read 14")
        );
        // 14 establishments and 13 legal entities (two establishments share one in Cayenne).
        assert_eq!(
            line_of(&out, "inserted").as_deref(),
            Some("inserted 27 (of which 13 placeholder legal entities)")
        );
        assert_eq!(line_of(&out, "rejected").as_deref(), Some("rejected 0"));
        assert_eq!(line_of(&out, "warnings").as_deref(), Some("warnings 0"));

        let first = snapshot(store).await?;
        assert_eq!(first.counts.structures, 27);
        assert_eq!(first.counts.audit, 27, "one audit row per structure");
        assert_eq!(
            first.counts.changes, 27,
            "one change-feed row per structure"
        );

        let eg = structure(store, "010000024").await?;
        assert_eq!(
            eg.record.name,
            "CENTRE HOSPITALIER DE BOURG-EN-BRESSE FLEYRIAT"
        );
        assert_eq!(
            eg.record.ej_finess.as_ref().map(Finess::as_str),
            Some("010780054")
        );
        assert_eq!(eg.record.category_code.as_deref(), Some("355"));
        assert_eq!(
            eg.record.setting.as_deref(),
            Some("etablissement_sanitaire")
        );
        assert_eq!(eg.record.address.as_deref(), Some("900 RTE DE PARIS"));
        assert_eq!(eg.record.postcode.as_deref(), Some("01440"));
        assert_eq!(eg.record.commune_code.as_deref(), Some("01451"));
        assert_eq!(eg.record.city.as_deref(), Some("VIRIAT"));
        assert_eq!(
            eg.record.siret.as_ref().map(|s| s.as_str()),
            Some("26010004500012")
        );
        assert!(eg.record.open);
        let ehpad = structure(store, "970302287").await?;
        assert_eq!(ehpad.record.setting.as_deref(), Some("ESMS"));
        assert_eq!(ehpad.record.commune_code.as_deref(), Some("97302"));
        let st_barth = structure(store, "970102018").await?;
        assert_eq!(st_barth.record.commune_code.as_deref(), Some("97701"));
        let ej = structure(store, "010780054").await?;
        assert_eq!(ej.record.name, "Entité juridique 010780054");
        assert!(ej.record.ej_finess.is_none());
        let create = first
            .audit
            .iter()
            .find(|a| a.entry.target == format!("structure:{}", eg.id))
            .ok_or("no audit row for the establishment")?;
        assert_eq!(create.entry.action, "structure.create");
        assert_eq!(create.entry.actor, "operator");

        // Again, in UTF-8 then in Windows-1252: nothing written.
        for file in [&utf8, &latin] {
            let out = import(&db, file, &[])?;
            assert_eq!(
                line_of(&out, "unchanged").as_deref(),
                Some("unchanged 14"),
                "{out}"
            );
            assert_eq!(
                line_of(&out, "inserted").as_deref(),
                Some("inserted 0 (of which 0 placeholder legal entities)")
            );
            assert_eq!(snapshot(store).await?, first, "a re-import wrote something");
        }
        let out = import(&db, &latin, &[])?;
        assert!(out.contains("etalab CSV, Windows-1252"), "{out}");

        let out = rppsplus(&["audit", "verify"], &db.url)?;
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    Ok(())
}

#[tokio::test]
async fn one_changed_row_changes_exactly_one_structure() -> TestResult {
    let files = Files::new()?;
    let original = files.write("original.csv", SAMPLE.as_bytes())?;
    let changed = SAMPLE.replace(
        "CENTRE HOSPITALIER DE BOURG-EN-BRESSE FLEYRIAT;;;900;RTE;DE PARIS",
        "CENTRE HOSPITALIER DE BOURG-EN-BRESSE FLEYRIAT;;;910;RTE;DE PARIS",
    );
    assert_ne!(changed, SAMPLE);
    let changed = files.write("changed.csv", changed.as_bytes())?;
    for db in databases().await? {
        let store = db.store.as_ref();
        import(&db, &original, &[])?;
        let before = snapshot(store).await?;

        let out = import(&db, &changed, &[])?;
        assert_eq!(
            line_of(&out, "updated").as_deref(),
            Some("updated 1"),
            "{out}"
        );
        assert_eq!(line_of(&out, "unchanged").as_deref(), Some("unchanged 13"));
        let after = snapshot(store).await?;
        assert_eq!(after.counts.structures, before.counts.structures);
        assert_eq!(after.counts.audit, before.counts.audit + 1, "one audit row");
        assert_eq!(
            after.counts.changes,
            before.counts.changes + 1,
            "one change-feed row"
        );

        let eg = structure(store, "010000024").await?;
        assert_eq!(eg.record.address.as_deref(), Some("910 RTE DE PARIS"));
        let audit = after.audit.last().ok_or("no audit row")?;
        assert_eq!(audit.entry.action, "structure.update");
        assert_eq!(audit.entry.target, format!("structure:{}", eg.id));
        assert_eq!(
            audit.entry.details["changed"],
            serde_json::json!(["address"])
        );
        let change = after.changes.last().ok_or("no change row")?;
        assert_eq!(
            (
                change.change.entity.as_str(),
                change.change.entity_id,
                change.change.op.as_str()
            ),
            ("structure", eg.id.0, "updated")
        );
        // Every other structure is as it was.
        let others = |s: &Snapshot| -> Vec<Structure> {
            s.structures
                .iter()
                .filter(|x| x.id != eg.id)
                .cloned()
                .collect()
        };
        assert_eq!(others(&after), others(&before));
    }
    Ok(())
}

#[tokio::test]
async fn a_full_extract_closes_what_it_no_longer_has() -> TestResult {
    let files = Files::new()?;
    let all = files.write("all.csv", SAMPLE.as_bytes())?;
    let without: String = SAMPLE
        .lines()
        .filter(|l| !l.starts_with("structureet;970102059;"))
        .map(|l| format!("{l}\n"))
        .collect();
    let without = files.write("without.csv", without.as_bytes())?;
    let header_only = files.write("empty.csv", b"finess;etalab;111;2026-05-12\n")?;
    for db in databases().await? {
        let store = db.store.as_ref();
        import(&db, &all, &[])?;

        // Not a full extract: nothing is closed.
        let before = snapshot(store).await?;
        let out = import(&db, &without, &[])?;
        assert!(!out.contains("closed"), "{out}");
        assert_eq!(snapshot(store).await?, before);

        // A full extract with no establishment at all is not trusted.
        let out = import(&db, &header_only, &["--full"])?;
        assert!(
            out.contains(
                "Missing establishments were NOT closed: the file holds no establishment."
            ),
            "{out}"
        );
        assert_eq!(snapshot(store).await?, before);

        let out = import(&db, &without, &["--full"])?;
        assert_eq!(
            line_of(&out, "closed").as_deref(),
            Some("closed 1"),
            "{out}"
        );
        let after = snapshot(store).await?;
        assert_eq!(
            after.counts.structures, before.counts.structures,
            "never deleted"
        );
        assert_eq!(after.counts.audit, before.counts.audit + 1);
        assert_eq!(after.counts.changes, before.counts.changes + 1);
        let gone = structure(store, "970102059").await?;
        assert!(!gone.record.open);
        assert!(gone.record.closed_on.is_some());
        let audit = after.audit.last().ok_or("no audit row")?;
        assert_eq!(audit.entry.action, "structure.close");
        assert_eq!(audit.entry.target, format!("structure:{}", gone.id));
        let change = after.changes.last().ok_or("no change row")?;
        assert_eq!(change.change.op, "closed");

        // Closing is done once; the establishment reopens when it comes back.
        let out = import(&db, &without, &["--full"])?;
        assert_eq!(
            line_of(&out, "closed").as_deref(),
            Some("closed 0"),
            "{out}"
        );
        let out = import(&db, &all, &["--full"])?;
        assert_eq!(
            line_of(&out, "updated").as_deref(),
            Some("updated 1"),
            "{out}"
        );
        let back = structure(store, "970102059").await?;
        assert!(back.record.open);
        assert_eq!(back.record.closed_on, None);
    }
    Ok(())
}

#[tokio::test]
async fn rejected_lines_are_listed_and_the_rest_imports() -> TestResult {
    let files = Files::new()?;
    let mut lines: Vec<String> = SAMPLE.lines().map(str::to_owned).collect();
    lines[3] = lines[3].replace(";355;", ";35;"); // line 4: bad category
    lines[4] = "structureet;970102059;970112611;TRUNCATED".to_owned(); // line 5
    lines.push("bogus;line".to_owned()); // line 16
    let bad = files.write("bad.csv", format!("{}\n", lines.join("\n")).as_bytes())?;
    for db in databases().await? {
        let store = db.store.as_ref();
        // Stored before, then missing from a full extract through rejected lines: kept open.
        import(&db, &files.write("all.csv", SAMPLE.as_bytes())?, &[])?;
        let out = import(&db, &bad, &["--full"])?;
        assert_eq!(
            line_of(&out, "rejected").as_deref(),
            Some("rejected 3"),
            "{out}"
        );
        assert!(
            out.contains("  line 4 (970100400): categetab \"35\": expected 3 digits"),
            "{out}"
        );
        assert!(
            out.contains("  line 5 (970102059): structureet: expected 31 or 32 cells, found 4"),
            "{out}"
        );
        assert!(
            out.contains("  line 16: unknown section \"bogus\""),
            "{out}"
        );
        assert!(out.contains("Import done with 3 rejected line(s)"), "{out}");
        assert_eq!(
            line_of(&out, "closed").as_deref(),
            Some("closed 0"),
            "{out}"
        );
        assert!(structure(store, "970100400").await?.record.open);
        assert!(structure(store, "970102059").await?.record.open);
    }
    Ok(())
}

#[tokio::test]
async fn a_file_that_cannot_be_read_fails_and_writes_nothing() -> TestResult {
    let files = Files::new()?;
    let json = files.write("x.json", b"[1, 2, 3]")?;
    for db in databases().await? {
        let before = snapshot(db.store.as_ref()).await?;
        for path in [files.dir.path().join("missing.csv"), json.clone()] {
            let p = path.to_str().ok_or("path")?;
            let out = rppsplus(&["import", "finess", p], &db.url)?;
            assert!(!out.status.success(), "{p} accepted");
            assert!(
                text(&out.stderr).contains("rppsplus: "),
                "{}",
                text(&out.stderr)
            );
        }
        assert_eq!(snapshot(db.store.as_ref()).await?, before);
    }
    Ok(())
}

#[tokio::test]
async fn the_json_sample_imports_with_its_legal_entities() -> TestResult {
    let files = Files::new()?;
    let json = files.write(
        "structures.json",
        include_bytes!("../../../data/samples/finess-structures-journalier-20260813_excerpt.json"),
    )?;
    let csv = files.write("etalab.csv", SAMPLE.as_bytes())?;
    for db in databases().await? {
        let store = db.store.as_ref();
        let out = import(&db, &json, &[])?;
        assert!(out.contains("FINESS+ JSON, schema v1.0.0"), "{out}");
        assert_eq!(
            line_of(&out, "inserted").as_deref(),
            Some("inserted 5 (of which 0 placeholder legal entities)"),
            "{out}"
        );
        let first = snapshot(store).await?;
        let out = import(&db, &json, &[])?;
        assert_eq!(
            line_of(&out, "unchanged").as_deref(),
            Some("unchanged 5"),
            "{out}"
        );
        assert_eq!(snapshot(store).await?, first, "a re-import wrote something");

        let ej = structure(store, "010000339").await?;
        assert_eq!(ej.record.name, "RESIDENCE FONTELUNE");
        let eg = structure(store, "010780906").await?;
        assert_eq!(
            eg.record.ej_finess.as_ref().map(Finess::as_str),
            Some("010000339")
        );
        assert_eq!(eg.record.setting.as_deref(), Some("ESMS"));
        assert_eq!(eg.record.commune_code.as_deref(), Some("01004"));
        let pharmacy = structure(store, "010002285").await?;
        assert_eq!(pharmacy.record.setting.as_deref(), Some("officine"));

        // The etalab extract then leaves the named legal entities alone.
        import(&db, &csv, &[])?;
        assert_eq!(structure(store, "010000339").await?, ej);
    }
    Ok(())
}
