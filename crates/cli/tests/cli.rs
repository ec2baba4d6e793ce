//! The `rppsplus` binary as an operator runs it, on SQLite and on PostgreSQL.

use std::error::Error;
use std::process::{Command, Output};
use std::sync::Arc;

use rppsplus_app::{App, AppSettings, SystemClock};
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

async fn databases() -> Result<Vec<TestDb>, Box<dyn Error>> {
    let mut dbs = vec![TestDb::sqlite().await?];
    if let Some(pg) = TestDb::postgres().await? {
        dbs.push(pg);
    }
    Ok(dbs)
}

async fn with_demo(db: &TestDb) -> Result<App, Box<dyn Error>> {
    let app = App::new(
        db.store.clone(),
        AppSettings::default(),
        Arc::new(SystemClock),
    );
    app.prepare().await.map_err(|e| format!("{e:?}"))?;
    app.load_demo().await.map_err(|e| format!("{e:?}"))?;
    Ok(app)
}

#[test]
fn help_documents_every_setting_and_its_environment_variable() -> TestResult {
    let out = rppsplus(&["serve", "--help"], "sqlite://unused.db")?;
    assert!(out.status.success());
    let help = text(&out.stdout);
    for needle in [
        "--database-url",
        "RPPSPLUS_DATABASE_URL",
        "--listen",
        "RPPSPLUS_LISTEN",
        "--demo",
        "RPPSPLUS_DEMO",
        "--log",
        "RPPSPLUS_LOG",
        "--rpps-sequence-start",
        "RPPSPLUS_RPPS_SEQUENCE_START",
        "--database-pool-size",
        "RPPSPLUS_DATABASE_POOL_SIZE",
        "--decision-connections",
        "RPPSPLUS_DECISION_CONNECTIONS",
    ] {
        assert!(help.contains(needle), "{needle} missing from serve --help");
    }
    let out = rppsplus(&["--help"], "sqlite://unused.db")?;
    let help = text(&out.stdout);
    for cmd in ["serve", "migrate", "audit", "demo"] {
        assert!(help.contains(cmd), "{cmd} missing from --help");
    }
    Ok(())
}

#[tokio::test]
async fn audit_verify_passes_untouched_and_names_the_altered_row() -> TestResult {
    for db in databases().await? {
        with_demo(&db).await?;
        let out = rppsplus(&["audit", "verify"], &db.url)?;
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("audit log intact"));

        rppsplus_store_tests::raw::alter_audit_row_behind_the_triggers(&db, 7, "operator")
            .await
            .map_err(|e| format!("{e:?}"))?;
        let out = rppsplus(&["audit", "verify"], &db.url)?;
        assert_eq!(out.status.code(), Some(2));
        let err = text(&out.stderr);
        assert!(err.contains("BROKEN at row 7"), "{err}");
        assert!(err.contains("6 rows verified"), "{err}");
    }
    Ok(())
}

#[tokio::test]
async fn demo_info_lists_structures_and_people_as_json() -> TestResult {
    for db in databases().await? {
        with_demo(&db).await?;
        let out = rppsplus(&["demo", "info"], &db.url)?;
        assert!(out.status.success(), "{}", text(&out.stderr));
        let info: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        let structures = info["structures"].as_array().cloned().unwrap_or_default();
        assert_eq!(structures.len(), 7);
        assert!(structures.iter().any(|s| s["finess"] == "690001029"
            && s["setting"] == "ESMS"
            && s["name"] == "EHPAD Les Tilleuls"));
        let people = info["people"].as_array().cloned().unwrap_or_default();
        assert!(people.len() >= 50, "{}", people.len());
        let of_kind = |k: &str| people.iter().filter(|p| p["kind"] == k).count();
        assert_eq!(of_kind("legal_representative"), 3);
        assert_eq!(of_kind("manager"), 2);
        assert_eq!(of_kind("professional"), people.len() - 5);
        for p in &people {
            let idnps = p["idnps"].as_str().unwrap_or_default();
            assert!(rppsplus_domain::Idnps::parse(idnps).is_ok(), "{idnps}");
            assert!(
                !p["structures"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .is_empty()
            );
        }
        // The centralised manager of the association acts for both of its establishments.
        let sophie = people.iter().find(|p| p["name"] == "Sophie Bernard");
        let sites = sophie.map(|p| p["structures"].clone()).unwrap_or_default();
        assert_eq!(sites, serde_json::json!(["690001029", "690001037"]));
    }
    Ok(())
}

#[tokio::test]
async fn demo_info_on_an_empty_database_says_what_to_do() -> TestResult {
    let db = TestDb::sqlite().await?;
    let out = rppsplus(&["demo", "info"], &db.url)?;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("rppsplus serve --demo"));
    Ok(())
}

#[tokio::test]
async fn postgres_is_migrated_by_the_migrate_command_only() -> TestResult {
    let Some(db) = TestDb::postgres_unmigrated().await? else {
        return Ok(());
    };
    let out = rppsplus(&["serve", "--listen", "127.0.0.1:0"], &db.url)?;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("rppsplus migrate"),
        "{}",
        text(&out.stderr)
    );
    let out = rppsplus(&["migrate"], &db.url)?;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(db.store.is_migrated().await?);
    // Migrating again is a no-op.
    let out = rppsplus(&["migrate"], &db.url)?;
    assert!(out.status.success(), "{}", text(&out.stderr));
    Ok(())
}

#[test]
fn an_unknown_database_scheme_is_refused_clearly() -> TestResult {
    let out = rppsplus(&["migrate"], "mysql://localhost/x")?;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("unsupported database URL"));
    Ok(())
}
