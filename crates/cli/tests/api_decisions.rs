//! Access decisions over HTTP, on SQLite and on PostgreSQL: the walk-through (GENR11
//! permitted a consultation report, refused a discharge letter, refused everything once its
//! situation is closed), every cell of the role × document-type matrix, the complement, the
//! batch form, who may ask, and the revocation race on two server instances sharing a database.

mod api_common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use api_common::*;
use jiff::ToSpan;
use reqwest::{Method, StatusCode};
use rppsplus_app::Actor;
use rppsplus_app::persons::{PersonInput, SituationInput};
use rppsplus_domain::Finess;
use rppsplus_domain::reference::tables;
use rppsplus_store::SituationId;
use rppsplus_test_support::{TestDb, TestServer};
use rppsplus_web::WebSettings;
use serde_json::{Value, json};

const LOINC: &str = "http://loinc.org";

/// A professional created for a test, with one situation.
struct Professional {
    idnps: String,
    rpps: String,
    situation: SituationId,
}

/// Creates a professional with one situation at an establishment of the demo, as the operator.
async fn professional(
    server: &TestServer,
    n: usize,
    finess: &str,
    role: &str,
    end_date: Option<jiff::civil::Date>,
) -> Fallible<Professional> {
    let actor = Actor::Operator;
    let created = server
        .app
        .create_person(
            &actor,
            PersonInput {
                civility: "MME".into(),
                sex: "F".into(),
                birth_name: format!("DECISION{}", (b'A' + n as u8) as char),
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
        .map_err(|e| format!("{e:?}"))?;
    let structure = server
        .app
        .structure_view(&Finess::parse(finess)?)
        .await
        .map_err(|e| format!("{e:?}"))?
        .structure
        .id;
    let situation = server
        .app
        .add_situation(
            &actor,
            created.id,
            SituationInput {
                structure,
                profession_code: "313".into(),
                exercise_last_name: "DECISION".into(),
                exercise_first_name: "Lucie".into(),
                role_code: role.into(),
                practice_mode: "S".into(),
                start_date: jiff::civil::date(2020, 1, 6),
                end_date,
            },
        )
        .await
        .map_err(|e| format!("{e:?}"))?;
    Ok(Professional {
        idnps: created.rpps.idnps().as_str().to_owned(),
        rpps: created.rpps.as_str().to_owned(),
        situation,
    })
}

fn question(professional: &str, system: &str, code: &str) -> Value {
    json!({ "professional": professional, "document_type": { "system": system, "code": code } })
}

/// A valid IDNPS that no one has (beyond the registry's sequence start).
fn nobody() -> String {
    rppsplus_domain::Rpps::from_sequence(99_000_000)
        .map(|r| r.idnps().as_str().to_owned())
        .unwrap_or_default()
}

fn version_header(a: &Answer) -> Option<i64> {
    a.headers
        .get("x-registry-version")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn genr11_is_permitted_its_types_until_its_situation_is_closed() -> TestResult {
    for server in demo_servers().await? {
        let api = Api::new(&server)?;
        let system = system_token(&server, "DMP").await?;
        let p = professional(&server, 0, EHPAD, "GENR11", None).await?;

        let a = api
            .post(
                "/access/decisions",
                &system,
                question(&p.idnps, LOINC, "11488-4"),
            )
            .await?;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        assert_eq!(a.body["decision"], "permit");
        assert_eq!(a.body["reason"], "permitted_by_role");
        assert_eq!(
            a.body["granted_by"],
            json!([{ "situation_id": p.situation.0, "structure": EHPAD, "role": "GENR11" }])
        );
        let seen = a.body["registry_version"].as_i64().ok_or("no version")?;
        assert_eq!(version_header(&a), Some(seen));
        assert_eq!(
            a.headers.get("cache-control").and_then(|v| v.to_str().ok()),
            Some("no-store")
        );

        // By RPPS number too, and at the establishment.
        let mut by_rpps = question(&p.rpps, LOINC, "11488-4");
        by_rpps["structure"] = json!(EHPAD);
        let a = api.post("/access/decisions", &system, by_rpps).await?;
        assert_eq!(a.body["decision"], "permit", "{:?}", a.body);

        // A type outside GENR11's list: the discharge letter of a care establishment.
        let a = api
            .post(
                "/access/decisions",
                &system,
                question(&p.idnps, LOINC, "11490-0"),
            )
            .await?;
        assert_eq!(
            (&a.body["decision"], &a.body["reason"]),
            (&json!("deny"), &json!("role_does_not_cover_document_type"))
        );
        assert_eq!(a.body["granted_by"], json!([]));

        let mut elsewhere = question(&p.idnps, LOINC, "11488-4");
        elsewhere["structure"] = json!(SSIAD);
        let a = api.post("/access/decisions", &system, elsewhere).await?;
        assert_eq!(a.body["reason"], "structure_mismatch");

        let a = api
            .post(
                "/access/decisions",
                &system,
                question(&p.idnps, LOINC, "00000-0"),
            )
            .await?;
        assert_eq!(a.body["reason"], "unknown_document_type");
        let a = api
            .post(
                "/access/decisions",
                &system,
                question(&nobody(), LOINC, "11488-4"),
            )
            .await?;
        assert_eq!(a.body["reason"], "unknown_professional");

        // Closed with today's date: the closing takes effect at once, and the very next
        // decision denies.
        let today = server.app.today();
        let closed_at = server
            .app
            .close_situation(&Actor::Operator, p.situation, 1, today, "Départ")
            .await
            .map_err(|e| format!("{e:?}"))?;
        assert!(closed_at > seen);
        let a = api
            .post(
                "/access/decisions",
                &system,
                question(&p.idnps, LOINC, "11488-4"),
            )
            .await?;
        assert_eq!(
            (&a.body["decision"], &a.body["reason"]),
            (&json!("deny"), &json!("no_active_situation"))
        );
        assert!(a.body["registry_version"].as_i64().ok_or("no version")? >= closed_at);
        // Asked about an instant before the close, the answer is still a permit.
        let mut past = question(&p.idnps, LOINC, "11488-4");
        past["at"] = json!("2024-06-01T10:00:00+02:00");
        let a = api.post("/access/decisions", &system, past).await?;
        assert_eq!(a.body["decision"], "permit");
        assert_eq!(a.body["at"], "2024-06-01T08:00:00Z");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_end_date_ends_access_when_its_day_ends() -> TestResult {
    for server in demo_servers().await? {
        let api = Api::new(&server)?;
        let system = system_token(&server, "DMP").await?;
        let today = server.app.today();
        let p = professional(&server, 1, EHPAD, "GENR11", Some(today)).await?;
        let ask = |at: Option<String>| {
            let mut q = question(&p.idnps, LOINC, "11488-4");
            if let Some(at) = at {
                q["at"] = json!(at);
            }
            q
        };
        let a = api.post("/access/decisions", &system, ask(None)).await?;
        assert_eq!(a.body["decision"], "permit", "{:?}", a.body);
        let last_minute = format!("{today}T23:59:00+01:00");
        let next_day = format!("{}T00:00:00+01:00", today.checked_add(1.day())?);
        let tz = jiff::tz::TimeZone::get("Europe/Paris")?;
        let offset = |s: &str| -> Fallible<String> {
            // The same wall-clock time in Paris, whatever the season.
            let civil: jiff::civil::DateTime = s[..19].parse()?;
            Ok(civil.to_zoned(tz.clone())?.timestamp().to_string())
        };
        let a = api
            .post(
                "/access/decisions",
                &system,
                ask(Some(offset(&last_minute)?)),
            )
            .await?;
        assert_eq!(a.body["decision"], "permit");
        let a = api
            .post("/access/decisions", &system, ask(Some(offset(&next_day)?)))
            .await?;
        assert_eq!(a.body["reason"], "no_active_situation");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cell_of_the_matrix_permits_and_the_complement_denies() -> TestResult {
    let matrix = &tables().map_err(|e| e.to_string())?.documents;
    let roles = ["GENR08", "GENR09", "GENR10", "GENR11", "GENR12"];
    for server in demo_servers().await? {
        let api = Api::new(&server)?;
        let system = system_token(&server, "DMP").await?;
        let mut by_role = Vec::new();
        for (n, role) in roles.iter().enumerate() {
            by_role.push((*role, professional(&server, n, EHPAD, role, None).await?));
        }
        let of = |role: &str| {
            by_role
                .iter()
                .find(|(r, _)| *r == role)
                .map(|(_, p)| p.idnps.clone())
                .ok_or("role without professional")
        };

        // Every cell, one call each.
        let mut permits = 0;
        for cell in matrix.cells() {
            let a = api
                .post(
                    "/access/decisions",
                    &system,
                    question(
                        &of(&cell.role_code)?,
                        &cell.document.system,
                        &cell.document.code,
                    ),
                )
                .await?;
            assert_eq!(
                (&a.body["decision"], &a.body["reason"]),
                (&json!("permit"), &json!("permitted_by_role")),
                "{} × {}",
                cell.role_code,
                cell.document.code
            );
            assert_eq!(a.body["granted_by"][0]["role"], cell.role_code.as_str());
            permits += 1;
        }
        assert_eq!(permits, 87);

        // The complement (every known type a role does not open), in one batch.
        let mut complement = Vec::new();
        for t in matrix.types() {
            for role in roles {
                if !matrix.role_permits(role, &t.key.system, &t.key.code) {
                    complement.push((role, question(&of(role)?, &t.key.system, &t.key.code)));
                }
            }
        }
        assert!(complement.len() > 90, "{}", complement.len());
        let a = api
            .post(
                "/access/decisions:batch",
                &system,
                json!({ "questions": complement.iter().map(|(_, q)| q.clone()).collect::<Vec<_>>() }),
            )
            .await?;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        let decisions = a.body["decisions"].as_array().ok_or("no decisions")?;
        assert_eq!(decisions.len(), complement.len());
        for (d, (role, q)) in decisions.iter().zip(&complement) {
            assert_eq!(
                (&d["decision"], &d["reason"]),
                (&json!("deny"), &json!("role_does_not_cover_document_type")),
                "{role} × {}",
                q["document_type"]["code"]
            );
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_answer_in_order_and_are_bounded() -> TestResult {
    for server in demo_servers().await? {
        let api = Api::new(&server)?;
        let system = system_token(&server, "DMP").await?;
        let genr11 = professional(&server, 0, EHPAD, "GENR11", None).await?;
        let genr09 = professional(&server, 1, SSIAD, "GENR09", None).await?;
        let questions = json!({ "questions": [
            question(&genr11.idnps, LOINC, "11488-4"),
            question(&genr09.idnps, LOINC, "11488-4"),
            question(&genr09.rpps, LOINC, "83981-1"),
            question(&nobody(), LOINC, "11488-4"),
            question(&genr11.idnps, LOINC, "nope"),
        ]});
        let a = api
            .post("/access/decisions:batch", &system, questions)
            .await?;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        let reasons: Vec<&str> = a.body["decisions"]
            .as_array()
            .ok_or("no decisions")?
            .iter()
            .map(|d| d["reason"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(
            reasons,
            [
                "permitted_by_role",
                "role_does_not_cover_document_type",
                "permitted_by_role",
                "unknown_professional",
                "unknown_document_type"
            ]
        );
        assert!(version_header(&a).is_some());

        let full: Vec<Value> = (0..1000)
            .map(|_| question(&genr11.idnps, LOINC, "11488-4"))
            .collect();
        let a = api
            .post(
                "/access/decisions:batch",
                &system,
                json!({ "questions": full }),
            )
            .await?;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.body["decisions"].as_array().map(Vec::len), Some(1000));
        let too_many: Vec<Value> = (0..1001)
            .map(|_| question(&genr11.idnps, LOINC, "11488-4"))
            .collect();
        let a = api
            .post(
                "/access/decisions:batch",
                &system,
                json!({ "questions": too_many }),
            )
            .await?;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            a.fields(),
            [("questions".to_owned(), "too_many".to_owned())]
        );

        let a = api
            .post(
                "/access/decisions:batch",
                &system,
                json!({ "questions": [question(&genr11.idnps, LOINC, "11488-4"), { "professional": 12 }] }),
            )
            .await?;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            a.fields(),
            [
                (
                    "questions[1].professional".to_owned(),
                    "invalid_type".to_owned()
                ),
                (
                    "questions[1].document_type.system".to_owned(),
                    "required".to_owned()
                ),
                (
                    "questions[1].document_type.code".to_owned(),
                    "required".to_owned()
                ),
            ]
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_systems_and_the_operator_may_ask_and_input_is_checked() -> TestResult {
    for server in demo_servers().await? {
        let api = Api::new(&server)?;
        let demo = Demo::of(&server).await?;
        let p = professional(&server, 0, EHPAD, "GENR11", None).await?;
        let q = question(&p.idnps, LOINC, "11488-4");

        let a = api
            .call(Method::POST, "/access/decisions", None, Some(q.clone()))
            .await?;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        let claire = person_token(&server, &demo.idnps("Claire Martin")?).await?;
        let a = api.post("/access/decisions", &claire, q.clone()).await?;
        assert_eq!((a.status, a.code()), (StatusCode::FORBIDDEN, "forbidden"));
        let a = api
            .post(
                "/access/decisions:batch",
                &claire,
                json!({ "questions": [q.clone()] }),
            )
            .await?;
        assert_eq!(a.status, StatusCode::FORBIDDEN);
        let unknown = format!("rpps_{}", "0".repeat(64));
        let a = api.post("/access/decisions", &unknown, q.clone()).await?;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::UNAUTHORIZED, "invalid_token")
        );
        // An unknown token is reported before the fields.
        let a = api
            .post("/access/decisions", &unknown, json!({ "professional": 1 }))
            .await?;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::UNAUTHORIZED, "invalid_token")
        );
        let operator = operator_token(&server).await?;
        let a = api.post("/access/decisions", &operator, q.clone()).await?;
        assert_eq!(a.body["decision"], "permit");

        let system = system_token(&server, "DMP").await?;
        let a = api
            .post(
                "/access/decisions",
                &system,
                json!({
                    "professional": "123",
                    "document_type": "11488-4",
                    "structure": "ABC",
                    "at": "tomorrow"
                }),
            )
            .await?;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input")
        );
        assert_eq!(
            a.fields(),
            [
                ("document_type".to_owned(), "invalid_type".to_owned()),
                ("professional".to_owned(), "invalid_identifier".to_owned()),
                ("structure".to_owned(), "invalid_finess".to_owned()),
                ("at".to_owned(), "invalid_instant".to_owned()),
            ]
        );
        let a = api
            .answer(
                api.raw(Method::POST, "/access/decisions")
                    .bearer_auth(&system)
                    .body("{"),
            )
            .await?;
        assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

        let a = api.call(Method::GET, "/ping", None, None).await?;
        assert_eq!(a.status, StatusCode::NO_CONTENT);
        let a = api
            .call(Method::GET, "/ping/authenticated", None, None)
            .await?;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        let a = api.get("/ping/authenticated", &system).await?;
        assert_eq!(a.status, StatusCode::NO_CONTENT);
    }
    Ok(())
}

/// One decision seen by a looping client.
struct Seen {
    /// The request was sent after the close had returned (committed).
    after_close: bool,
    permit: bool,
    reason: String,
    version: i64,
}

/// Asks the same question in a tight loop until `after_close` answers have been seen after the
/// close (or `max` in all), reporting progress once `warm_up` answers are in.
async fn hammer(
    api: Api,
    token: String,
    q: Value,
    closed: Arc<AtomicBool>,
    warmed: tokio::sync::mpsc::Sender<()>,
) -> Result<Vec<Seen>, String> {
    const WARM_UP: usize = 10;
    const AFTER_CLOSE: usize = 25;
    const MAX: usize = 5_000;
    let mut seen = Vec::new();
    let mut after = 0;
    for i in 0..MAX {
        let after_close = closed.load(Ordering::SeqCst);
        let a = api
            .post("/access/decisions", &token, q.clone())
            .await
            .map_err(|e| e.to_string())?;
        if a.status != StatusCode::OK {
            return Err(format!("{}: {:?}", a.status, a.body));
        }
        let version = a.body["registry_version"].as_i64().ok_or("no version")?;
        if version_header(&a) != Some(version) {
            return Err("the header and the body disagree".into());
        }
        seen.push(Seen {
            after_close,
            permit: a.body["decision"] == "permit",
            reason: a.body["reason"].as_str().unwrap_or_default().to_owned(),
            version,
        });
        if i + 1 == WARM_UP {
            let _ = warmed.send(()).await;
        }
        if after_close {
            after += 1;
            if after == AFTER_CLOSE {
                break;
            }
        }
    }
    Ok(seen)
}

/// Two server instances on one database answer decisions in tight loops while the situation is
/// closed through a third handle: no permit carries a version at or past the close's, and every
/// request sent after the close returned is denied, on both instances.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_denies_at_the_next_decision_on_every_instance() -> TestResult {
    let mut dbs = vec![TestDb::sqlite().await?];
    if let Some(pg) = TestDb::postgres().await? {
        dbs.push(pg);
    }
    for db in dbs {
        let second = db.another_handle().await?;
        let a = TestServer::start_demo(db).await?;
        let b = TestServer::start(second, WebSettings::default()).await?;
        let p = professional(&a, 0, EHPAD, "GENR11", None).await?;
        let token = system_token(&a, "DMP").await?;
        let q = question(&p.idnps, LOINC, "11488-4");
        let closed = Arc::new(AtomicBool::new(false));
        let (warmed_tx, mut warmed) = tokio::sync::mpsc::channel(2);
        let loops = [&a, &b].map(|server| {
            Api::new(server).map(|api| {
                tokio::spawn(hammer(
                    api,
                    token.clone(),
                    q.clone(),
                    closed.clone(),
                    warmed_tx.clone(),
                ))
            })
        });
        drop(warmed_tx);
        let [la, lb] = loops;
        let (la, lb) = (la?, lb?);
        // Both loops are running and have been answered permits.
        for _ in 0..2 {
            warmed
                .recv()
                .await
                .ok_or("a loop ended before warming up")?;
        }
        // Closed with today's date: at once, not at midnight.
        let today = a.app.today();
        let committed = a
            .app
            .close_situation(&Actor::Operator, p.situation, 1, today, "Départ")
            .await
            .map_err(|e| format!("{e:?}"))?;
        closed.store(true, Ordering::SeqCst);
        for (name, handle) in [("first", la), ("second", lb)] {
            let seen = handle.await??;
            let before = seen.iter().filter(|s| !s.after_close).count();
            assert!(before >= 10, "{name}: {before} answers before the close");
            assert!(
                seen.iter().take(10).all(|s| s.permit),
                "{name}: warm-up permits"
            );
            for s in &seen {
                if s.permit {
                    assert!(
                        s.version < committed,
                        "{name}: a permit at version {} >= the close's {committed}",
                        s.version
                    );
                } else {
                    assert!(s.version >= committed, "{name}: a deny before the close");
                    assert_eq!(s.reason, "no_active_situation");
                }
                if s.after_close {
                    assert!(
                        !s.permit,
                        "{name}: a permit for a request sent after the close"
                    );
                    assert!(s.version >= committed);
                }
            }
            assert_eq!(seen.iter().filter(|s| s.after_close).count(), 25, "{name}");
        }
        b.stop().await;
        a.stop().await;
    }
    Ok(())
}
