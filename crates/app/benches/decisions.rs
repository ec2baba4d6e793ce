//! In-process cost of an access decision: the pure domain decision, and the use case reading a
//! professional's situations (one statement) then deciding, on SQLite and, when
//! `RPPSPLUS_TEST_DATABASE_URL` names a PostgreSQL server, on a throwaway database there.
//!
//! ```text
//! cargo bench -p rppsplus-app --bench decisions
//! RPPSPLUS_TEST_DATABASE_URL=postgres://USER@127.0.0.1:5432/postgres cargo bench -p rppsplus-app --bench decisions
//! ```
//!
//! See `docs/benchmarks.md` for the figures and the HTTP benchmark.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, OnceLock};

use divan::Bencher;
use jiff::Timestamp;
use jiff::civil::date;
use rppsplus_app::decisions::{Question, parse_professional};
use rppsplus_app::persons::{PersonInput, SituationInput};
use rppsplus_app::{Actor, App, AppSettings, SystemClock};
use rppsplus_domain::Finess;
use rppsplus_domain::decision::{SituationFacts, decide};
use rppsplus_store::{ApiTokenId, Store};
use rppsplus_store_postgres::PgStore;
use rppsplus_store_sqlite::SqliteStore;

const LOINC: &str = "http://loinc.org";
const EHPAD: &str = "690001029";

fn main() {
    divan::main();
    // The throwaway PostgreSQL database, if one was made, goes once the benchmarks are done.
    if let Some(Some(f)) = PG_FIXTURE.get() {
        f.runtime.block_on(async {
            f.app.store().close().await;
            if let (Some(server), Some(name)) = (postgres_server(), &f.database) {
                let admin = PgStore::connect(&server).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(admin.pool())
                .await
                .unwrap();
                admin.close().await;
            }
        });
    }
}

/// The PostgreSQL server to make a throwaway database on, if any.
fn postgres_server() -> Option<String> {
    std::env::var("RPPSPLUS_TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
}

fn situation(id: i64, structure: &str, role: &str) -> SituationFacts {
    SituationFacts {
        id,
        structure: structure.to_owned(),
        role_code: role.to_owned(),
        start_date: date(2020, 1, 6),
        end_date: None,
        closed_at: None,
    }
}

/// The pure decision: one active GENR11 situation, a type it opens (the last one of its list,
/// the worst case of the matrix scan).
#[divan::bench]
fn domain_permit_one_situation(bencher: Bencher) {
    let situations = [situation(1, EHPAD, "GENR11")];
    let at = Timestamp::now();
    bencher.bench(|| {
        decide(
            divan::black_box(LOINC),
            divan::black_box("75468-9"),
            Some(divan::black_box(&situations[..])),
            None,
            at,
        )
    });
}

/// The pure decision: three situations (one closed), a type none opens.
#[divan::bench]
fn domain_deny_three_situations(bencher: Bencher) {
    let mut closed = situation(1, "690001037", "GENR08");
    closed.end_date = Some(date(2024, 12, 31));
    let situations = [
        closed,
        situation(2, EHPAD, "GENR09"),
        situation(3, "690001037", "GENR12"),
    ];
    let at = Timestamp::now();
    bencher.bench(|| {
        decide(
            divan::black_box(LOINC),
            divan::black_box("11490-0"),
            Some(divan::black_box(&situations[..])),
            Some(EHPAD),
            at,
        )
    });
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    app: App,
    question: Question,
    /// The throwaway PostgreSQL database's name.
    database: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

static PG_FIXTURE: OnceLock<Option<Fixture>> = OnceLock::new();

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The demo data and one GENR11 professional at the demo's EHPAD, on `store`; the question
/// whether they may open a CR de consultation.
async fn registry(store: Arc<dyn Store>) -> (App, Question) {
    store.migrate().await.unwrap();
    let app = App::new(store, AppSettings::default(), Arc::new(SystemClock));
    app.prepare().await.unwrap();
    app.load_demo().await.unwrap();
    let actor = Actor::Operator;
    let person = app
        .create_person(
            &actor,
            PersonInput {
                civility: "MME".into(),
                sex: "F".into(),
                birth_name: "BENCH".into(),
                usage_name: None,
                first_names: vec!["Lucie".into()],
                birth_date: date(1980, 2, 3),
                birth_country: "99100".into(),
                birth_commune: Some("69123".into()),
                id_document: None,
                email: None,
                mobile: None,
            },
        )
        .await
        .unwrap();
    let structure = app
        .structure_view(&Finess::parse(EHPAD).unwrap())
        .await
        .unwrap()
        .structure
        .id;
    app.add_situation(
        &actor,
        person.id,
        SituationInput {
            structure,
            profession_code: "313".into(),
            exercise_last_name: "BENCH".into(),
            exercise_first_name: "Lucie".into(),
            role_code: "GENR11".into(),
            practice_mode: "S".into(),
            start_date: date(2020, 1, 6),
            end_date: None,
        },
    )
    .await
    .unwrap();
    let question = Question {
        professional: parse_professional(person.rpps.idnps().as_str()).unwrap(),
        system: LOINC.into(),
        code: "11488-4".into(),
        structure: None,
        at: None,
    };
    (app, question)
}

/// A SQLite registry in a temporary directory.
fn sqlite_fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = runtime();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let (app, question) = runtime.block_on(async {
            registry(Arc::new(SqliteStore::connect(&url, true).await.unwrap())).await
        });
        Fixture {
            runtime,
            app,
            question,
            database: None,
            _dir: Some(dir),
        }
    })
}

/// A PostgreSQL registry in a throwaway database, when a server is given.
fn postgres_fixture() -> Option<&'static Fixture> {
    PG_FIXTURE
        .get_or_init(|| {
            let server = postgres_server()?;
            let runtime = runtime();
            let name = format!("rppsplus_bench_{}", std::process::id());
            let (app, question) = runtime.block_on(async {
                let admin = PgStore::connect(&server).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(admin.pool())
                    .await
                    .unwrap();
                admin.close().await;
                let url = rppsplus_store_postgres::with_database(&server, &name);
                registry(Arc::new(PgStore::connect(&url).await.unwrap())).await
            });
            Some(Fixture {
                runtime,
                app,
                question,
                database: Some(name),
                _dir: None,
            })
        })
        .as_ref()
}

fn client() -> Actor {
    Actor::Client {
        token: ApiTokenId(1),
        name: "bench".into(),
    }
}

/// The use case: one read of the professional's situations and the registry version from
/// SQLite, then the decision.
#[divan::bench]
fn use_case_sqlite(bencher: Bencher) {
    let f = sqlite_fixture();
    let actor = client();
    bencher.bench(|| {
        f.runtime
            .block_on(f.app.decide_access(&actor, &f.question))
            .unwrap()
    });
}

/// The same on PostgreSQL (on the decisions' own connections): skipped without a server.
#[divan::bench]
fn use_case_postgres(bencher: Bencher) {
    let Some(f) = postgres_fixture() else {
        eprintln!("use_case_postgres skipped: RPPSPLUS_TEST_DATABASE_URL is not set");
        return;
    };
    let actor = client();
    bencher.bench(|| {
        f.runtime
            .block_on(f.app.decide_access(&actor, &f.question))
            .unwrap()
    });
}
