//! Access decisions over HTTP on loopback, compared in the same run with no-op endpoints of the
//! same server: `GET /api/v1/ping` (no token), `GET /api/v1/ping/authenticated` (the same
//! bearer authentication as a decision, then nothing) and `POST /api/v1/access/decisions`.
//!
//! The load generator is `wrk` (Debian package `wrk`), bounded in time and connections, against
//! 127.0.0.1 only. The server is the real router on the real store (release build), with the demo
//! data, `RPPSPLUS_BENCH_PERSONS` more professionals (default 2 000) and one GENR11
//! professional; SQLite always, PostgreSQL when `RPPSPLUS_TEST_DATABASE_URL` is set (a
//! throwaway database is created and dropped).
//!
//! ```text
//! cargo bench -p rppsplus --bench http
//! RPPSPLUS_BENCH_DURATION=10s RPPSPLUS_BENCH_CONNECTIONS=16 cargo bench -p rppsplus --bench http
//! ```
//!
//! See `docs/benchmarks.md` and `scripts/bench`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::sync::Arc;

use rppsplus_app::Actor;
use rppsplus_app::persons::{PersonInput, SituationInput};
use rppsplus_domain::Finess;
use rppsplus_test_support::{TestDb, TestServer};

const EHPAD: &str = "690001029";

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// What `wrk --latency` reported.
#[derive(Debug, Default, Clone)]
struct Run {
    requests_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    requests: u64,
    non_2xx: u64,
    socket_errors: bool,
}

fn to_ms(v: &str) -> f64 {
    let (num, factor) = if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (v, 1.0)
    };
    num.parse::<f64>().unwrap_or(f64::NAN) * factor
}

fn parse(out: &str) -> Run {
    let mut run = Run::default();
    for line in out.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", v] => run.requests_per_sec = v.parse().unwrap_or(0.0),
            ["50%", v] => run.p50_ms = to_ms(v),
            ["99%", v] => run.p99_ms = to_ms(v),
            [n, "requests", "in", ..] => run.requests = n.parse().unwrap_or(0),
            ["Non-2xx", "or", "3xx", "responses:", n] => run.non_2xx = n.parse().unwrap_or(0),
            ["Socket", "errors:", ..] => run.socket_errors = true,
            _ => {}
        }
    }
    run
}

/// Runs wrk with a Lua script setting the method, headers and body.
fn wrk(url: &str, script: &str, duration: &str, connections: &str, threads: &str) -> Run {
    assert!(
        url.starts_with("http://127.0.0.1:"),
        "load only against the loopback"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("request.lua");
    std::fs::write(&path, script).unwrap();
    let out = Command::new("wrk")
        .args([
            "-t",
            threads,
            "-c",
            connections,
            "-d",
            duration,
            "--latency",
            "-s",
        ])
        .arg(&path)
        .arg(url)
        .output()
        .expect("wrk must be installed (Debian: apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "wrk failed: {text}");
    parse(&text)
}

fn lua(method: &str, token: Option<&str>, body: Option<&str>) -> String {
    let mut s = format!("wrk.method = \"{method}\"\n");
    if let Some(t) = token {
        s.push_str(&format!(
            "wrk.headers[\"Authorization\"] = \"Bearer {t}\"\n"
        ));
    }
    if let Some(b) = body {
        s.push_str("wrk.headers[\"Content-Type\"] = \"application/json\"\n");
        s.push_str(&format!("wrk.body = [[{b}]]\n"));
    }
    s
}

/// A name made of letters only, distinct for each `n`.
fn letters(mut n: usize) -> String {
    let mut s = String::new();
    loop {
        s.push(char::from(b'A' + (n % 26) as u8));
        n /= 26;
        if n == 0 {
            return s;
        }
    }
}

/// `count` more professionals, each with one situation at the EHPAD, so that the tables a
/// decision reads have the size at which PostgreSQL plans them as it would in production
/// (index scans); on a few dozen rows it plans sequential scans and hash joins instead, which
/// cost more per call and would measure something no real registry runs.
async fn populate(server: &TestServer, structure: rppsplus_store::StructureId, count: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    let workers = 4;
    for w in 0..workers {
        let app = server.app.clone();
        tasks.spawn(async move {
            for i in (w..count).step_by(workers) {
                let name = format!("POP{}", letters(i));
                let person = app
                    .create_person(
                        &Actor::Operator,
                        PersonInput {
                            civility: "M".into(),
                            sex: "M".into(),
                            birth_name: name.clone(),
                            usage_name: None,
                            first_names: vec!["Paul".into()],
                            birth_date: jiff::civil::date(
                                1960 + (i % 40) as i16,
                                1 + (i % 12) as i8,
                                1 + (i % 28) as i8,
                            ),
                            birth_country: "99100".into(),
                            birth_commune: Some("69123".into()),
                            id_document: None,
                            email: None,
                            mobile: None,
                        },
                    )
                    .await
                    .unwrap();
                app.add_situation(
                    &Actor::Operator,
                    person.id,
                    SituationInput {
                        structure,
                        profession_code: "313".into(),
                        exercise_last_name: name,
                        exercise_first_name: "Paul".into(),
                        role_code: ["GENR08", "GENR09", "GENR10", "GENR11", "GENR12"][i % 5].into(),
                        practice_mode: "S".into(),
                        start_date: jiff::civil::date(2020, 1, 6),
                        end_date: None,
                    },
                )
                .await
                .unwrap();
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
}

async fn prepared(db: TestDb, population: usize) -> (TestServer, String, String) {
    let server = TestServer::start_demo(db).await.unwrap();
    let actor = Actor::Operator;
    let person = server
        .app
        .create_person(
            &actor,
            PersonInput {
                civility: "MME".into(),
                sex: "F".into(),
                birth_name: "BENCH".into(),
                usage_name: None,
                first_names: vec!["Lucie".into()],
                birth_date: jiff::civil::date(1980, 2, 3),
                birth_country: "99100".into(),
                birth_commune: Some("69123".into()),
                id_document: None,
                email: None,
                mobile: None,
            },
        )
        .await
        .unwrap();
    let structure = server
        .app
        .structure_view(&Finess::parse(EHPAD).unwrap())
        .await
        .unwrap()
        .structure
        .id;
    populate(&server, structure, population).await;
    server
        .app
        .add_situation(
            &actor,
            person.id,
            SituationInput {
                structure,
                profession_code: "313".into(),
                exercise_last_name: "BENCH".into(),
                exercise_first_name: "Lucie".into(),
                role_code: "GENR11".into(),
                practice_mode: "S".into(),
                start_date: jiff::civil::date(2020, 1, 6),
                end_date: None,
            },
        )
        .await
        .unwrap();
    let token = server
        .app
        .create_system_token(&actor, "bench", None)
        .await
        .unwrap()
        .secret;
    let body = format!(
        r#"{{"professional":"{}","document_type":{{"system":"http://loinc.org","code":"11488-4"}}}}"#,
        person.rpps.idnps().as_str()
    );
    (server, token, body)
}

fn main() {
    // The server's own log (errors behind a non-2xx answer), to stderr, when asked for.
    if let Ok(filter) = std::env::var("RPPSPLUS_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .init();
    }
    // `cargo bench` passes `--bench`; a filter argument selects nothing here.
    let duration = env_or("RPPSPLUS_BENCH_DURATION", "10s");
    let connections = env_or("RPPSPLUS_BENCH_CONNECTIONS", "16");
    let threads = env_or("RPPSPLUS_BENCH_THREADS", "2");
    let population: usize = env_or("RPPSPLUS_BENCH_PERSONS", "2000")
        .parse()
        .expect("RPPSPLUS_BENCH_PERSONS is a number");
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap(),
    );
    let mut backends: Vec<(&str, TestDb)> =
        vec![("sqlite", runtime.block_on(TestDb::sqlite()).unwrap())];
    if let Some(pg) = runtime.block_on(TestDb::postgres()).unwrap() {
        backends.push(("postgres", pg));
    }
    println!(
        "wrk -t{threads} -c{connections} -d{duration} --latency, server and wrk on this machine ({} CPUs), demo data + {population} professionals",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    println!(
        "| backend | endpoint | requests/s | p50 ms | p99 ms | vs ping | vs authenticated ping | non-2xx |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for (name, db) in backends {
        let (server, token, body) = runtime.block_on(prepared(db, population));
        let endpoints = [
            (
                "GET /api/v1/ping",
                server.url("/api/v1/ping"),
                lua("GET", None, None),
            ),
            (
                "GET /api/v1/ping/authenticated",
                server.url("/api/v1/ping/authenticated"),
                lua("GET", Some(&token), None),
            ),
            (
                "POST /api/v1/access/decisions",
                server.url("/api/v1/access/decisions"),
                lua("POST", Some(&token), Some(&body)),
            ),
        ];
        let mut runs: Vec<Run> = Vec::new();
        for (_, url, script) in &endpoints {
            // Warm-up (connections, caches, the token's last-use stamp), not recorded.
            wrk(url, script, "2s", &connections, &threads);
            runs.push(wrk(url, script, &duration, &connections, &threads));
        }
        for ((label, _, _), run) in endpoints.iter().zip(&runs) {
            println!(
                "| {name} | `{label}` | {:.0} | {:.2} | {:.2} | {:.0} % | {:.0} % | {}{} |",
                run.requests_per_sec,
                run.p50_ms,
                run.p99_ms,
                100.0 * run.requests_per_sec / runs[0].requests_per_sec,
                100.0 * run.requests_per_sec / runs[1].requests_per_sec,
                run.non_2xx,
                if run.socket_errors {
                    " (socket errors)"
                } else {
                    ""
                },
            );
            assert!(run.requests > 0, "{label}: no request answered");
        }
        runtime.block_on(server.stop());
    }
}
