//! A situation closed at once stays closed from the instant of its closing, over HTTP on
//! SQLite and on PostgreSQL: a later correction of the situation does not move that instant
//! (a decision asked about the time in between denies), and moving the end date into the
//! future reopens it until then.

mod api_common;

use std::sync::Arc;

use api_common::*;
use jiff::Timestamp;
use reqwest::Method;
use rppsplus_app::Actor;
use rppsplus_app::persons::{PersonInput, SituationInput};
use rppsplus_domain::Finess;
use rppsplus_test_support::{ManualClock, TestDb, TestServer};
use rppsplus_web::WebSettings;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_after_a_closing_at_once_does_not_reopen_the_time_between() -> TestResult {
    let mut dbs = vec![TestDb::sqlite().await?];
    if let Some(pg) = TestDb::postgres().await? {
        dbs.push(pg);
    }
    for db in dbs {
        // 27 November 2026, 10:00 in Paris (UTC+1).
        let clock = Arc::new(ManualClock::new(
            "2026-11-27T09:00:00Z".parse::<Timestamp>()?,
        ));
        let server =
            TestServer::start_with_clock(db, WebSettings::default(), clock.clone()).await?;
        server.app.load_demo().await.map_err(|e| format!("{e:?}"))?;
        let api = Api::new(&server)?;
        let operator = operator_token(&server).await?;
        let system = system_token(&server, "DMP").await?;

        let person = server
            .app
            .create_person(
                &Actor::Operator,
                PersonInput {
                    civility: "MME".into(),
                    sex: "F".into(),
                    birth_name: "CLOTURE".into(),
                    usage_name: None,
                    first_names: vec!["Maud".into()],
                    birth_date: jiff::civil::date(1981, 4, 5),
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
            .structure_view(&Finess::parse(EHPAD)?)
            .await
            .map_err(|e| format!("{e:?}"))?
            .structure
            .id;
        let situation = server
            .app
            .add_situation(
                &Actor::Operator,
                person.id,
                SituationInput {
                    structure,
                    profession_code: "313".into(),
                    exercise_last_name: "CLOTURE".into(),
                    exercise_first_name: "Maud".into(),
                    role_code: "GENR11".into(),
                    practice_mode: "S".into(),
                    start_date: jiff::civil::date(2020, 1, 6),
                    end_date: None,
                },
            )
            .await
            .map_err(|e| format!("{e:?}"))?;
        let idnps = person.rpps.idnps().as_str().to_owned();
        let ask = |at: Option<&str>| {
            let mut q = json!({
                "professional": idnps,
                "document_type": { "system": "http://loinc.org", "code": "11488-4" },
            });
            if let Some(at) = at {
                q["at"] = json!(at);
            }
            q
        };
        let path = format!("/situations/{}", situation.0);
        let patch = |version: &str, body: Value| {
            api.raw(Method::PATCH, &path)
                .bearer_auth(&operator)
                .header("If-Match", version)
                .json(&body)
        };

        // 10:00: closed with today's date, so at once.
        let closed = api
            .post(
                &format!("{path}/close"),
                &operator,
                json!({"end_date": "2026-11-27", "reason": "Fin de contrat"}),
            )
            .await?;
        assert_eq!(closed.status, 200, "{}", closed.body);
        assert_eq!(closed.body["active"], false, "{}", closed.body);
        assert_eq!(
            closed.body["closed_at"], "2026-11-27T09:00:00Z",
            "{}",
            closed.body
        );

        // 15:00: the exercise name is corrected; the situation stays closed.
        clock.set("2026-11-27T14:00:00Z".parse()?);
        let edited = api
            .answer(patch("\"2\"", json!({"exercise_last_name": "CLOTURE-ROY"})))
            .await?;
        assert_eq!(edited.status, 200, "{}", edited.body);
        assert_eq!(edited.body["exercise_last_name"], "CLOTURE-ROY");
        assert_eq!(edited.body["active"], false, "{}", edited.body);
        // The closing keeps its instant through the correction.
        assert_eq!(
            edited.body["closed_at"], "2026-11-27T09:00:00Z",
            "{}",
            edited.body
        );

        // Asked about 12:00, between the closing and the correction: closed already.
        for (at, expected) in [
            (Some("2026-11-27T09:59:59+01:00"), "permitted_by_role"),
            (Some("2026-11-27T10:00:00+01:00"), "no_active_situation"),
            (Some("2026-11-27T12:00:00+01:00"), "no_active_situation"),
            (Some("2026-11-27T15:30:00+01:00"), "no_active_situation"),
            (None, "no_active_situation"),
        ] {
            let a = api.post("/access/decisions", &system, ask(at)).await?;
            assert_eq!(a.status, 200, "{}", a.body);
            assert_eq!(a.body["reason"], expected, "at {at:?}: {}", a.body);
        }

        // 16:00: the end date moves to the end of the year: in force again until then.
        clock.set("2026-11-27T15:00:00Z".parse()?);
        let reopened = api
            .answer(patch("\"3\"", json!({"end_date": "2026-12-31"})))
            .await?;
        assert_eq!(reopened.status, 200, "{}", reopened.body);
        assert_eq!(reopened.body["active"], true, "{}", reopened.body);
        assert_eq!(reopened.body["closed_at"], Value::Null, "{}", reopened.body);
        let a = api.post("/access/decisions", &system, ask(None)).await?;
        assert_eq!(a.body["decision"], "permit", "{}", a.body);
        let a = api
            .post(
                "/access/decisions",
                &system,
                ask(Some("2027-01-01T00:00:00+01:00")),
            )
            .await?;
        assert_eq!(a.body["reason"], "no_active_situation", "{}", a.body);
    }
    Ok(())
}
