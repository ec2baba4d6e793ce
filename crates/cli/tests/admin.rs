//! The operator commands `rppsplus token create`, `rppsplus rl set` and `rppsplus habilitation`,
//! run as the operator runs them, on SQLite and on PostgreSQL.

use std::error::Error;
use std::process::{Command, Output};
use std::sync::Arc;

use rppsplus_app::{Actor, App, AppSettings, SystemClock};
use rppsplus_domain::Finess;
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

async fn idnps_of(app: &App, name: &str) -> Result<String, Box<dyn Error>> {
    let summary = app
        .directory_summary()
        .await
        .map_err(|e| format!("{e:?}"))?;
    summary
        .people
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.idnps.clone())
        .ok_or_else(|| format!("{name} is not in the demo").into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_create_prints_a_working_token_for_each_kind_of_holder() -> TestResult {
    for (db, app) in demos().await? {
        let claire = idnps_of(&app, "Claire Martin").await?;
        let cases: [(&[&str], &str); 3] = [
            (&["--person", &claire, "--label", "Script RH"], "person"),
            (&["--system", "SI-DMP"], "system"),
            (&["--operator", "exploitation"], "operator"),
        ];
        for (flags, kind) in cases {
            let mut args = vec!["token", "create"];
            args.extend_from_slice(flags);
            let out = rppsplus(&args, &db.url)?;
            assert!(out.status.success(), "{kind}: {}", text(&out.stderr));
            let stdout = text(&out.stdout);
            let token = stdout.trim();
            assert_eq!(stdout.lines().count(), 1, "the token alone: {stdout}");
            assert!(token.starts_with("rpps_") && token.len() == 69, "{token}");
            assert!(text(&out.stderr).contains("shown this once"));
            let who = app
                .authenticate_token(token)
                .await
                .map_err(|e| format!("{e:?}"))?
                .ok_or("the printed token does not authenticate")?;
            match (kind, &who.actor) {
                ("person", Actor::Person { idnps, .. }) => assert_eq!(idnps.to_string(), claire),
                ("system", Actor::Client { name, .. }) => assert_eq!(name, "SI-DMP"),
                ("operator", Actor::Operator) => {}
                (kind, actor) => panic!("{kind} token acts as {actor:?}"),
            }
        }
        let idnps = rppsplus_domain::Idnps::parse(&claire)?;
        let mut tx = db.store.begin().await?;
        let person = tx
            .person_by_idnps(&idnps)
            .await?
            .ok_or("Claire is unknown")?;
        tx.rollback().await?;
        let tokens = app
            .my_tokens(&Actor::Person {
                id: person.id,
                idnps,
            })
            .await
            .map_err(|e| format!("{e:?}"))?;
        assert_eq!(tokens.len(), 1);
        assert_eq!(tokens[0].label, "Script RH");

        // Refusals: what is wrong, on standard error, and nothing printed on standard output.
        for (flags, needle, code) in [
            (vec!["--person", "123"], "invalid_idnps", 2),
            (vec!["--person", "810599999990"], "person", 2),
            (vec!["--system", "é/è"], "invalid_name", 2),
            (
                vec!["--system", "SI", "--label", "a\nb"],
                "invalid_label",
                2,
            ),
        ] {
            let mut args = vec!["token", "create"];
            args.extend(flags.iter().copied());
            let out = rppsplus(&args, &db.url)?;
            assert_eq!(out.status.code(), Some(code), "{flags:?}");
            assert!(
                text(&out.stderr).contains(needle),
                "{flags:?}: {}",
                text(&out.stderr)
            );
            assert!(out.stdout.is_empty());
        }
        // Exactly one holder.
        for flags in [vec![], vec!["--person", &claire, "--system", "SI"]] {
            let mut args = vec!["token", "create"];
            args.extend(flags.iter().copied());
            let out = rppsplus(&args, &db.url)?;
            assert_eq!(out.status.code(), Some(2), "{flags:?}");
            assert!(out.stdout.is_empty());
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rl_set_designates_the_legal_representative() -> TestResult {
    for (db, app) in demos().await? {
        let claire = idnps_of(&app, "Claire Martin").await?;
        let out = rppsplus(
            &[
                "rl",
                "set",
                "--structure",
                "690002019",
                "--person",
                &claire,
                "--card",
                "CPS",
            ],
            &db.url,
        )?;
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("690002019"));

        let mut tx = db.store.begin().await?;
        let pharmacy = tx
            .structure_by_finess(&Finess::parse("690002019")?)
            .await?
            .ok_or("no pharmacy")?;
        let rl = tx.legal_representative(pharmacy.id).await?.ok_or("no RL")?;
        let person = tx.person(rl.record.person).await?.ok_or("no person")?;
        assert_eq!(person.record.idnps.to_string(), claire);
        assert_eq!(rl.record.card, rppsplus_store::RepresentativeCard::Cps);
        tx.rollback().await?;
        let audit = db.store.audit_rows(0, 100_000).await?;
        let last = audit.last().ok_or("no audit row")?;
        assert_eq!(
            (last.entry.actor.as_str(), last.entry.action.as_str()),
            ("operator", "structure.legal_representative")
        );

        let counts = db.store.row_counts().await?;
        for (args, needle) in [
            (
                vec![
                    "rl",
                    "set",
                    "--structure",
                    "690009999",
                    "--person",
                    &claire,
                    "--card",
                    "CDE",
                ],
                "structure",
            ),
            (
                vec![
                    "rl",
                    "set",
                    "--structure",
                    "690002019",
                    "--person",
                    "8",
                    "--card",
                    "CDE",
                ],
                "invalid_idnps",
            ),
            (
                vec![
                    "rl",
                    "set",
                    "--structure",
                    "690002019",
                    "--person",
                    &claire,
                    "--card",
                    "CB",
                ],
                "CB",
            ),
        ] {
            let out = rppsplus(&args, &db.url)?;
            assert_eq!(out.status.code(), Some(2), "{args:?}");
            assert!(
                text(&out.stderr).contains(needle),
                "{args:?}: {}",
                text(&out.stderr)
            );
        }
        assert_eq!(db.store.row_counts().await?, counts);
    }
    Ok(())
}

#[test]
fn help_documents_the_operator_commands() -> TestResult {
    let out = rppsplus(&["token", "create", "--help"], "sqlite://unused.db")?;
    let help = text(&out.stdout);
    for needle in [
        "--person",
        "--system",
        "--operator",
        "--label",
        "shown this once",
    ] {
        assert!(
            help.contains(needle),
            "{needle} missing from token create --help"
        );
    }
    let out = rppsplus(&["rl", "set", "--help"], "sqlite://unused.db")?;
    let help = text(&out.stdout);
    for needle in ["--structure", "--person", "--card", "CDE", "CPS"] {
        assert!(help.contains(needle), "{needle} missing from rl set --help");
    }
    let out = rppsplus(&["habilitation", "list", "--help"], "sqlite://unused.db")?;
    let help = text(&out.stdout);
    for needle in ["--person", "--structure", "tab-separated"] {
        assert!(
            help.contains(needle),
            "{needle} missing from habilitation list --help"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn habilitation_list_and_revoke_let_the_operator_cut_off_a_manager() -> TestResult {
    for (db, app) in demos().await? {
        let sophie = idnps_of(&app, "Sophie Bernard").await?;
        let listed = |args: &[&str]| -> Result<Vec<Vec<String>>, Box<dyn Error>> {
            let out = rppsplus(args, &db.url)?;
            assert!(out.status.success(), "{}", text(&out.stderr));
            Ok(text(&out.stdout)
                .lines()
                .map(|l| l.split('\t').map(str::to_owned).collect())
                .collect())
        };
        let of_sophie = listed(&["habilitation", "list", "--person", &sophie])?;
        assert_eq!(of_sophie.len(), 1, "{of_sophie:?}");
        let line = &of_sophie[0];
        assert_eq!(
            (line[1].as_str(), line[2].as_str(), line[3].as_str()),
            ("manager", sophie.as_str(), "690001011"),
            "{line:?}"
        );
        // The same habilitation, listed by its structure.
        let on_association = listed(&["habilitation", "list", "--structure", "690001011"])?;
        assert!(on_association.contains(line), "{on_association:?}");

        let out = rppsplus(&["habilitation", "revoke", &line[0]], &db.url)?;
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(listed(&["habilitation", "list", "--person", &sophie])?.is_empty());
        let audit = db.store.audit_rows(0, 100_000).await?;
        let last = audit
            .iter()
            .rev()
            .find(|r| r.entry.action == "habilitation.revoke")
            .ok_or("no revocation in the audit log")?;
        assert_eq!(last.entry.actor, "operator");
        assert_eq!(last.entry.target, format!("habilitation:{}", line[0]));

        // Again: nothing left to revoke. A malformed identifier: exit 2, with the field named.
        let out = rppsplus(&["habilitation", "revoke", &line[0]], &db.url)?;
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        let out = rppsplus(&["habilitation", "list", "--person", "8"], &db.url)?;
        assert_eq!(out.status.code(), Some(2));
        assert!(
            text(&out.stderr).contains("person"),
            "{}",
            text(&out.stderr)
        );
        // One of --person and --structure is required.
        let out = rppsplus(&["habilitation", "list"], &db.url)?;
        assert!(!out.status.success());
    }
    Ok(())
}
