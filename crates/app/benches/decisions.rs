//! In-process cost of an access decision: the pure domain decision, and the use case reading a
//! professional's situations from SQLite (one statement on the read pool) then deciding.
//!
//! ```text
//! cargo bench -p rppsplus-app --bench decisions
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
use rppsplus_store_sqlite::SqliteStore;

const LOINC: &str = "http://loinc.org";
const EHPAD: &str = "690001029";

fn main() {
    divan::main();
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
    _dir: tempfile::TempDir,
}

/// A SQLite registry with the demo data and one GENR11 professional at the demo's EHPAD.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let (app, question) = runtime.block_on(async {
            let store = SqliteStore::connect(&url, true).await.unwrap();
            store.migrate().await.unwrap();
            let store: Arc<dyn Store> = Arc::new(store);
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
        });
        Fixture {
            runtime,
            app,
            question,
            _dir: dir,
        }
    })
}

/// The use case: one read of the professional's situations and the registry version from
/// SQLite, then the decision.
#[divan::bench]
fn use_case_sqlite(bencher: Bencher) {
    let f = fixture();
    let actor = Actor::Client {
        token: ApiTokenId(1),
        name: "bench".into(),
    };
    bencher.bench(|| {
        f.runtime
            .block_on(f.app.decide_access(&actor, &f.question))
            .unwrap()
    });
}
