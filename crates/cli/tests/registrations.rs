//! Registering professionals over real HTTP, on SQLite and on PostgreSQL: one RPPS number for
//! one person registered twice, every invalid field reported with nothing stored, strong
//! matches answered with masked candidates, `If-Match` conflicts, closing at once or on a
//! future day, and managers of other structures kept out.

mod api_common;

use std::sync::Arc;

use api_common::*;
use jiff::Timestamp;
use reqwest::Method;
use rppsplus_test_support::{ManualClock, TestDb, TestServer};
use rppsplus_web::WebSettings;
use serde_json::{Value, json};

/// Row counts and the length of the change feed, to prove that a refused call stored nothing.
async fn stored(server: &TestServer) -> Fallible<(rppsplus_store::RowCounts, usize)> {
    let store = server.app.store();
    Ok((
        store.row_counts().await?,
        store.changes_after(0, 100_000).await?.len(),
    ))
}

/// A complete, valid registration.
fn registration(
    first_names: &[&str],
    birth_name: &str,
    finess: &str,
    profession: &str,
    email: Option<&str>,
) -> Value {
    json!({
        "identity": {
            "civility": "MME",
            "sex": "F",
            "birth_name": birth_name,
            "usage_name": null,
            "first_names": first_names,
            "birth_date": "1985-04-12",
            "birth_country": "99100",
            "birth_commune": "69123",
            "id_document": {"type": "CNI", "number": "AB1234567", "expires_on": "2032-01-31"}
        },
        "contact": {"email": email, "mobile": null},
        "exercise": {
            "exercise_last_name": null,
            "exercise_first_name": null,
            "establishment_finess": finess,
            "start_date": "2025-01-06",
            "profession": profession,
            "role": "GENR12",
            "practice_mode": "S"
        },
        "existing_rpps": null,
        "confirm_new_person": false
    })
}

struct Managers {
    /// Sophie Bernard: manager on the association (EHPAD and SSIAD).
    sophie: String,
    /// Karim Haddad: manager on the hospital's site.
    karim: String,
    operator: String,
}

async fn managers(server: &TestServer) -> Fallible<Managers> {
    let demo = Demo::of(server).await?;
    Ok(Managers {
        sophie: person_token(server, &demo.idnps("Sophie Bernard")?).await?,
        karim: person_token(server, &demo.idnps("Karim Haddad")?).await?,
        operator: operator_token(server).await?,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_person_twice_gets_one_rpps_number_and_two_situations() -> TestResult {
    for server in demo_servers().await? {
        let api = Api::new(&server)?;
        let m = managers(&server).await?;
        let before = stored(&server).await?;

        let first = api
            .post(
                "/registrations",
                &m.sophie,
                registration(
                    &["Élodie", "Marie"],
                    "Lefèvre-Durand",
                    EHPAD,
                    "328",
                    Some("elodie.lefevre@example.org"),
                ),
            )
            .await?;
        assert_eq!(first.status, 201, "{}", first.body);
        assert_eq!(first.body["person_created"], true);
        let rpps = first.body["rpps"].as_str().ok_or("rpps")?.to_owned();
        assert_eq!(first.body["idnps"], format!("8{rpps}"));
        let after_first = stored(&server).await?;
        assert_eq!(after_first.0.persons, before.0.persons + 1);
        assert_eq!(after_first.0.situations, before.0.situations + 1);
        // The RPPS-number mail, the e-CPS mail and the situation mail.
        assert_eq!(after_first.0.outbox, before.0.outbox + 3);
        assert!(after_first.1 > before.1);

        // Another manager, elsewhere, with accent, case, hyphen and first-name order variations:
        // a strong match, shown masked.
        let variant = registration(
            &["MARIE", "elodie"],
            "LEFEVRE DURAND",
            HOSPITAL,
            "329",
            None,
        );
        let conflict = api
            .post("/registrations", &m.karim, variant.clone())
            .await?;
        assert_eq!(conflict.status, 409, "{}", conflict.body);
        assert_eq!(conflict.code(), "strong_match");
        let candidates = conflict.body["candidates"].as_array().ok_or("candidates")?;
        assert_eq!(candidates.len(), 1);
        let c = &candidates[0];
        assert_eq!(c["masked"], true);
        assert_eq!(c["last_name"], format!("L{}", "•".repeat(12)));
        assert_eq!(c["first_names"], json!(["E."]));
        assert_eq!(c["birth_year"], 1985);
        assert!(c["birth_date"].is_null());
        let masked = c["rpps"].as_str().ok_or("masked rpps")?;
        assert_eq!(masked.chars().count(), 11);
        assert!(masked.ends_with(&rpps[9..]) && masked.contains('•'));
        assert_eq!(stored(&server).await?, after_first, "a 409 stores nothing");

        // With the number the professional gives: the same person, a second situation.
        let mut reuse = variant.clone();
        reuse["existing_rpps"] = json!(rpps);
        let second = api.post("/registrations", &m.karim, reuse).await?;
        assert_eq!(second.status, 201, "{}", second.body);
        assert_eq!(second.body["rpps"], rpps.as_str());
        assert_eq!(second.body["person_created"], false);
        assert_eq!(second.body["person_id"], first.body["person_id"]);
        let after_second = stored(&server).await?;
        assert_eq!(after_second.0.persons, after_first.0.persons);
        assert_eq!(after_second.0.situations, after_first.0.situations + 1);

        // Each manager sees their own situation; the operator sees both.
        let seen = api
            .get(&format!("/professionals/{rpps}"), &m.sophie)
            .await?;
        assert_eq!(seen.status, 200, "{}", seen.body);
        assert_eq!(seen.body["situations"].as_array().map(Vec::len), Some(1));
        assert_eq!(seen.body["situations"][0]["establishment_finess"], EHPAD);
        let seen = api.get(&format!("/professionals/{rpps}"), &m.karim).await?;
        assert_eq!(seen.body["situations"][0]["establishment_finess"], HOSPITAL);
        let seen = api
            .get(&format!("/professionals/{rpps}"), &m.operator)
            .await?;
        assert_eq!(seen.body["situations"].as_array().map(Vec::len), Some(2));

        // Search before create: one typo, accents, case; full in scope, masked outside.
        let query =
            json!({"name": "lefevre-durant", "first_name": "ELODIE", "birth_date": "1985-04-12"});
        let found = api
            .post("/professionals/search", &m.sophie, query.clone())
            .await?;
        assert_eq!(found.status, 200, "{}", found.body);
        assert_eq!(found.body["candidates"][0]["masked"], false);
        assert_eq!(found.body["candidates"][0]["rpps"], rpps.as_str());
        let by_number = api
            .post("/professionals/search", &m.sophie, json!({"rpps": rpps}))
            .await?;
        assert_eq!(
            by_number.body["candidates"].as_array().map(Vec::len),
            Some(1)
        );

        // Creating anyway needs a reason.
        let mut anyway = registration(&["Elodie"], "Lefevre Durand", SSIAD, "371", None);
        anyway["confirm_new_person"] = json!(true);
        let refused = api
            .post("/registrations", &m.sophie, anyway.clone())
            .await?;
        assert_eq!(refused.status, 422, "{}", refused.body);
        assert_eq!(
            refused.fields(),
            [("confirm_reason".to_owned(), "required".to_owned())]
        );
        anyway["confirm_reason"] = json!("Homonyme : autre personne, vérifié sur pièce.");
        let created = api.post("/registrations", &m.sophie, anyway).await?;
        assert_eq!(created.status, 201, "{}", created.body);
        assert_eq!(created.body["person_created"], true);
        assert_ne!(created.body["rpps"], rpps.as_str());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_invalid_field_is_reported_and_nothing_is_stored() -> TestResult {
    for server in demo_servers().await? {
        let api = Api::new(&server)?;
        let m = managers(&server).await?;
        let before = stored(&server).await?;
        let expect = |a: &Answer, wanted: &[(&str, &str)]| {
            assert_eq!(a.status, 422, "{}", a.body);
            assert_eq!(a.code(), "invalid_input");
            let fields = a.fields();
            for (field, code) in wanted {
                assert!(
                    fields.iter().any(|(f, c)| f == field && c == code),
                    "{field} {code} missing in {fields:?}"
                );
            }
            let messages = a.body["error"]["fields"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            assert!(
                messages
                    .iter()
                    .all(|f| f["message"].as_str().is_some_and(|m| !m.is_empty()))
            );
        };

        // Step 1: état civil, every field wrong at once.
        let mut body = registration(&["Élodie"], "Durand", EHPAD, "328", None);
        body["identity"] = json!({
            "civility": "XX",
            "sex": "Z",
            "birth_name": "",
            "first_names": [],
            "birth_date": "31/02/1985",
            "birth_country": "99999",
            "id_document": {"type": "CARTE", "number": "", "expires_on": "demain"}
        });
        let a = api.post("/registrations", &m.sophie, body).await?;
        expect(
            &a,
            &[
                ("identity.civility", "unknown_code"),
                ("identity.sex", "unknown_code"),
                ("identity.birth_name", "required"),
                ("identity.birth_date", "invalid_format"),
                ("identity.birth_country", "unknown_country"),
            ],
        );
        assert!(a.fields().iter().any(|(f, _)| f == "identity.first_names"));
        assert!(
            a.fields()
                .iter()
                .any(|(f, _)| f.starts_with("identity.id_document."))
        );

        // Step 2: contact, malformed and already used by someone else.
        let mut body = registration(&["Élodie"], "Durand", EHPAD, "328", Some("pas une adresse"));
        body["contact"]["mobile"] = json!("0123");
        let a = api.post("/registrations", &m.sophie, body).await?;
        expect(&a, &[("contact.email", "invalid_format")]);
        assert!(a.fields().iter().any(|(f, _)| f == "contact.mobile"));
        let taken = server
            .app
            .store()
            .begin()
            .await?
            .list_persons(rppsplus_store::PersonId(0), 1)
            .await?
            .first()
            .and_then(|p| Some((p.record.email.clone()?, p.record.mobile.clone()?)))
            .ok_or("a demo person with contact")?;
        let mut body = registration(
            &["Élodie"],
            "Durand",
            EHPAD,
            "328",
            Some(&taken.0.to_uppercase()),
        );
        body["contact"]["mobile"] = json!(taken.1);
        let a = api.post("/registrations", &m.sophie, body).await?;
        expect(
            &a,
            &[
                ("contact.email", "email_taken"),
                ("contact.mobile", "mobile_taken"),
            ],
        );

        // Step 3: exercise, every field wrong at once; a retired code comes with its guidance.
        let mut body = registration(&["Élodie"], "Durand", EHPAD, "323", None);
        body["exercise"]["start_date"] = json!("hier");
        body["exercise"]["role"] = json!("GENR01");
        body["exercise"]["practice_mode"] = json!("X");
        body["exercise"]["exercise_last_name"] = json!("D1R4ND");
        let a = api.post("/registrations", &m.sophie, body).await?;
        expect(
            &a,
            &[
                ("exercise.profession", "retired_code"),
                ("exercise.start_date", "invalid_date"),
                ("exercise.role", "unknown_code"),
                ("exercise.practice_mode", "unknown_code"),
                ("exercise.exercise_last_name", "invalid_characters"),
            ],
        );
        let guidance = a.body["error"]["fields"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["field"] == "exercise.profession"))
            .and_then(|f| f["message"].as_str())
            .ok_or("profession message")?
            .to_owned();
        assert!(guidance.contains("328"), "{guidance}");
        // A profession not open in that setting, an unknown establishment, an EJ.
        let a = api
            .post(
                "/registrations",
                &m.sophie,
                registration(&["Élodie"], "Durand", EHPAD, "317", None),
            )
            .await?;
        expect(&a, &[("exercise.profession", "not_eligible_here")]);
        let a = api
            .post(
                "/registrations",
                &m.sophie,
                registration(&["Élodie"], "Durand", "690009999", "328", None),
            )
            .await?;
        assert_eq!(a.status, 422, "{}", a.body);
        assert!(
            a.fields()
                .iter()
                .any(|(f, _)| f == "exercise.establishment_finess")
        );
        let a = api
            .post(
                "/registrations",
                &m.sophie,
                registration(&["Élodie"], "Durand", ASSOCIATION, "328", None),
            )
            .await?;
        expect(
            &a,
            &[("exercise.establishment_finess", "not_an_establishment")],
        );

        assert_eq!(stored(&server).await?, before, "nothing stored");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outdated_version_changes_nothing() -> TestResult {
    for server in demo_servers().await? {
        let api = Api::new(&server)?;
        let m = managers(&server).await?;
        let r = api
            .post(
                "/registrations",
                &m.sophie,
                registration(&["Inès"], "Benali", EHPAD, "328", None),
            )
            .await?;
        assert_eq!(r.status, 201, "{}", r.body);
        let path = format!("/situations/{}", r.body["situation_id"]);
        let read = api.get(&path, &m.sophie).await?;
        assert_eq!(read.status, 200, "{}", read.body);
        assert_eq!(
            read.headers.get("etag").and_then(|v| v.to_str().ok()),
            Some("\"1\"")
        );

        let patch = |version: Option<&str>, body: Value| {
            let mut req = api
                .raw(Method::PATCH, &path)
                .bearer_auth(&m.sophie)
                .json(&body);
            if let Some(v) = version {
                req = req.header("If-Match", v);
            }
            req
        };
        let a = api.answer(patch(None, json!({"role": "GENR10"}))).await?;
        assert_eq!(a.status, 428, "{}", a.body);
        let a = api
            .answer(patch(
                Some("\"1\""),
                json!({"role": "GENR10", "exercise_last_name": "BENALI-ROY", "profession": "313"}),
            ))
            .await?;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.body["role"], "GENR10");
        assert_eq!(a.body["profession"], "313");
        assert_eq!(a.body["version"], 2);
        assert_eq!(
            a.headers.get("etag").and_then(|v| v.to_str().ok()),
            Some("\"2\"")
        );

        let before = stored(&server).await?;
        let a = api
            .answer(patch(Some("\"1\""), json!({"role": "GENR08"})))
            .await?;
        assert_eq!(a.status, 412, "{}", a.body);
        assert_eq!(a.code(), "stale_version");
        assert_eq!(stored(&server).await?, before);
        let read = api.get(&path, &m.sophie).await?;
        assert_eq!(read.body["role"], "GENR10");
        assert_eq!(read.body["version"], 2);

        // Invalid fields: 422, nothing changed.
        let a = api
            .answer(patch(
                Some("\"2\""),
                json!({"role": "GENR99", "profession": "317"}),
            ))
            .await?;
        assert_eq!(a.status, 422, "{}", a.body);
        assert_eq!(stored(&server).await?, before);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_today_is_at_once_and_a_future_day_when_it_ends() -> TestResult {
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
        let m = managers(&server).await?;

        let today = api
            .post(
                "/registrations",
                &m.sophie,
                registration(
                    &["Anaïs"],
                    "Colin",
                    EHPAD,
                    "328",
                    Some("anais.colin@example.org"),
                ),
            )
            .await?;
        assert_eq!(today.status, 201, "{}", today.body);
        let rpps = today.body["rpps"].as_str().ok_or("rpps")?.to_owned();
        let path = format!("/situations/{}/close", today.body["situation_id"]);
        let missing = api.post(&path, &m.sophie, json!({})).await?;
        assert_eq!(missing.status, 422);
        assert_eq!(missing.fields().len(), 2);
        let before = stored(&server).await?;
        let closed = api
            .post(
                &path,
                &m.sophie,
                json!({"end_date": "2026-11-27", "reason": "Fin de contrat"}),
            )
            .await?;
        assert_eq!(closed.status, 200, "{}", closed.body);
        assert_eq!(closed.body["status"], "closed");
        assert_eq!(closed.body["end_date"], "2026-11-27");
        assert_eq!(closed.body["end_reason"], "Fin de contrat");
        assert_eq!(
            closed.body["active"], false,
            "closing with today's date ends the situation at once: {}",
            closed.body
        );
        let after = stored(&server).await?;
        assert_eq!(after.0.outbox, before.0.outbox + 1, "the closure is mailed");
        let again = api
            .post(
                &path,
                &m.sophie,
                json!({"end_date": "2026-11-27", "reason": "Encore"}),
            )
            .await?;
        assert_eq!(
            again.status, 200,
            "closing on the same day again moves nothing forward: {}",
            again.body
        );
        // The person stays, with their number, inactive once the day is over.
        clock.set("2026-11-28T08:00:00Z".parse()?);
        let person = api
            .get(&format!("/professionals/{rpps}"), &m.sophie)
            .await?;
        assert_eq!(person.status, 200, "{}", person.body);
        assert_eq!(person.body["active"], false);
        let gone = api
            .post(
                &path,
                &m.sophie,
                json!({"end_date": "2026-11-28", "reason": "Encore"}),
            )
            .await?;
        assert_eq!(gone.status, 409);
        assert_eq!(gone.code(), "already_closed");

        // A future last day: still active until that day ends in Paris.
        clock.set("2026-11-27T09:00:00Z".parse()?);
        let later = api
            .post(
                "/registrations",
                &m.sophie,
                registration(&["Zoé"], "Perrot", SSIAD, "371", None),
            )
            .await?;
        assert_eq!(later.status, 201, "{}", later.body);
        let id = later.body["situation_id"].clone();
        let scheduled = api
            .post(
                &format!("/situations/{id}/close"),
                &m.sophie,
                json!({"end_date": "2026-11-30", "reason": "Démission"}),
            )
            .await?;
        assert_eq!(scheduled.status, 200, "{}", scheduled.body);
        assert_eq!(scheduled.body["status"], "scheduled_closure");
        assert_eq!(scheduled.body["active"], true);
        clock.set("2026-11-30T22:59:59Z".parse()?);
        let a = api.get(&format!("/situations/{id}"), &m.sophie).await?;
        assert_eq!(a.body["active"], true, "{}", a.body);
        clock.set("2026-11-30T23:00:00Z".parse()?);
        let a = api.get(&format!("/situations/{id}"), &m.sophie).await?;
        assert_eq!(a.body["active"], false, "{}", a.body);
        assert_eq!(a.body["status"], "closed");
        let list = api
            .get(&format!("/structures/{SSIAD}/professionals"), &m.sophie)
            .await?;
        assert_eq!(list.status, 200, "{}", list.body);
        assert!(list.body["professionals"].as_array().is_some_and(|l| {
            l.iter()
                .any(|p| p["situation"]["id"] == id && p["situation"]["status"] == "closed")
        }));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_of_another_structure_changes_nothing() -> TestResult {
    for server in demo_servers().await? {
        let api = Api::new(&server)?;
        let m = managers(&server).await?;
        let r = api
            .post(
                "/registrations",
                &m.sophie,
                registration(&["Léa"], "Morvan", EHPAD, "328", None),
            )
            .await?;
        assert_eq!(r.status, 201, "{}", r.body);
        let rpps = r.body["rpps"].as_str().ok_or("rpps")?.to_owned();
        let situation = format!("/situations/{}", r.body["situation_id"]);
        let before = stored(&server).await?;

        let a = api.get(&situation, &m.karim).await?;
        assert_eq!(a.status, 404);
        let a = api
            .answer(
                api.raw(Method::PATCH, &situation)
                    .bearer_auth(&m.karim)
                    .header("If-Match", "\"1\"")
                    .json(&json!({"role": "GENR08"})),
            )
            .await?;
        assert_eq!(a.status, 404);
        let a = api
            .post(
                &format!("{situation}/close"),
                &m.karim,
                json!({"end_date": "2026-01-01", "reason": "x"}),
            )
            .await?;
        assert_eq!(a.status, 404);
        let a = api.get(&format!("/professionals/{rpps}"), &m.karim).await?;
        assert_eq!(a.status, 404);
        let a = api
            .get(&format!("/structures/{EHPAD}/professionals"), &m.karim)
            .await?;
        assert_eq!(a.status, 403);
        let a = api
            .post(
                "/registrations",
                &m.karim,
                registration(&["Paul"], "Vidal", EHPAD, "328", None),
            )
            .await?;
        assert_eq!(a.status, 403, "{}", a.body);
        // Moving a situation to an establishment out of scope is refused too.
        let a = api
            .answer(
                api.raw(Method::PATCH, &situation)
                    .bearer_auth(&m.sophie)
                    .header("If-Match", "\"1\"")
                    .json(&json!({"establishment_finess": HOSPITAL})),
            )
            .await?;
        assert_eq!(a.status, 403, "{}", a.body);
        assert_eq!(stored(&server).await?, before);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_and_contact_changes_are_versioned() -> TestResult {
    for server in demo_servers().await? {
        let api = Api::new(&server)?;
        let m = managers(&server).await?;
        let r = api
            .post(
                "/registrations",
                &m.sophie,
                registration(
                    &["Nadia"],
                    "Haddou",
                    EHPAD,
                    "328",
                    Some("nadia.haddou@example.org"),
                ),
            )
            .await?;
        assert_eq!(r.status, 201, "{}", r.body);
        let rpps = r.body["rpps"].as_str().ok_or("rpps")?.to_owned();
        let path = format!("/professionals/{rpps}");
        let read = api.get(&path, &m.sophie).await?;
        assert_eq!(
            read.headers.get("etag").and_then(|v| v.to_str().ok()),
            Some("\"1\"")
        );

        let put = |sub: &str, version: &str, body: Value| {
            api.raw(Method::PUT, &format!("{path}/{sub}"))
                .bearer_auth(&m.sophie)
                .header("If-Match", version)
                .json(&body)
        };
        let mut identity =
            registration(&["Nadia", "Leïla"], "Haddou", EHPAD, "328", None)["identity"].clone();
        identity["usage_name"] = json!("Benali");
        // A reason is required; nothing changes without it.
        let before = stored(&server).await?;
        let a = api
            .answer(put("identity", "\"1\"", json!({"identity": identity})))
            .await?;
        assert_eq!(a.status, 422, "{}", a.body);
        assert_eq!(a.fields(), [("reason".to_owned(), "required".to_owned())]);
        assert_eq!(stored(&server).await?, before);
        let a = api
            .answer(put(
                "identity",
                "\"1\"",
                json!({"identity": identity, "reason": "Mariage, acte fourni"}),
            ))
            .await?;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.body["version"], 2);
        let read = api.get(&path, &m.sophie).await?;
        assert_eq!(read.body["usage_name"], "Benali");
        assert_eq!(read.body["first_names"], json!(["Nadia", "Leïla"]));
        assert_eq!(read.body["rpps"], rpps.as_str());

        // An outdated version changes nothing.
        let before = stored(&server).await?;
        let a = api
            .answer(put(
                "contact",
                "\"1\"",
                json!({"email": "autre@example.org"}),
            ))
            .await?;
        assert_eq!(a.status, 412, "{}", a.body);
        assert_eq!(stored(&server).await?, before);
        // Someone else's address is refused.
        let taken = api
            .post(
                "/registrations",
                &m.sophie,
                registration(
                    &["Julie"],
                    "Roux",
                    EHPAD,
                    "328",
                    Some("julie.roux@example.org"),
                ),
            )
            .await?;
        assert_eq!(taken.status, 201, "{}", taken.body);
        let a = api
            .answer(put(
                "contact",
                "\"2\"",
                json!({"email": "Julie.Roux@Example.org"}),
            ))
            .await?;
        assert_eq!(a.status, 422, "{}", a.body);
        assert_eq!(
            a.fields(),
            [("contact.email".to_owned(), "email_taken".to_owned())]
        );
        let a = api
            .answer(put(
                "contact",
                "\"2\"",
                json!({"email": "Nadia.Benali@Example.org", "mobile": "06 12 34 56 78"}),
            ))
            .await?;
        assert_eq!(a.status, 200, "{}", a.body);
        let read = api.get(&path, &m.sophie).await?;
        assert_eq!(read.body["email"], "nadia.benali@example.org");
        assert_eq!(read.body["mobile"], "+33612345678");
        assert_eq!(
            read.headers.get("etag").and_then(|v| v.to_str().ok()),
            Some("\"3\"")
        );
        // Out of scope: not found.
        let a = api
            .answer(
                api.raw(Method::PUT, &format!("{path}/contact"))
                    .bearer_auth(&m.karim)
                    .header("If-Match", "\"3\"")
                    .json(&json!({"email": null})),
            )
            .await?;
        assert_eq!(a.status, 404);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_managers_departure_closes_and_revokes_at_once() -> TestResult {
    for server in demo_servers().await? {
        let api = Api::new(&server)?;
        let m = managers(&server).await?;
        let demo = Demo::of(&server).await?;
        let claire = person_token(&server, &demo.idnps("Claire Martin")?).await?;
        let sophie_rpps = demo.idnps("Sophie Bernard")?[1..].to_owned();
        let sophie = api
            .get(&format!("/professionals/{sophie_rpps}"), &claire)
            .await?;
        assert_eq!(sophie.status, 200, "{}", sophie.body);
        let situation = sophie.body["situations"][0]["id"].clone();
        let path = format!("/situations/{situation}/manager-departure");

        // Not by a manager of another structure, nor by the manager herself.
        let body = json!({"end_date": "2025-12-31", "reason": "Départ de la structure"});
        let a = api.post(&path, &m.karim, body.clone()).await?;
        assert_eq!(a.status, 404, "{}", a.body);
        let a = api.post(&path, &m.sophie, body.clone()).await?;
        assert_eq!(a.status, 404, "{}", a.body);

        let a = api.post(&path, &claire, body).await?;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.body["revoked_habilitations"], 1);
        assert_eq!(a.body["situation"]["status"], "closed");
        // She no longer manages anything, from the very next request.
        let a = api
            .post(
                "/registrations",
                &m.sophie,
                registration(&["Paul"], "Vidal", EHPAD, "328", None),
            )
            .await?;
        assert_eq!(a.status, 403, "{}", a.body);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_registrations_wait_for_a_manager() -> TestResult {
    for server in demo_servers().await? {
        let api = Api::new(&server)?;
        let m = managers(&server).await?;

        // Invalid: 422, nothing stored.
        let before = stored(&server).await?;
        let mut bad = registration(&["Fatou"], "Diallo", SSIAD, "318", None);
        bad["identity"]["birth_name"] = json!("");
        let a = api
            .call(Method::POST, "/self-registrations", None, Some(bad))
            .await?;
        assert_eq!(a.status, 422, "{}", a.body);
        assert!(
            a.fields()
                .contains(&("identity.birth_name".to_owned(), "required".to_owned()))
        );
        assert!(
            a.fields()
                .contains(&("exercise.profession".to_owned(), "retired_code".to_owned()))
        );
        assert_eq!(stored(&server).await?, before);

        // Two submissions, without a token.
        let mut ids = Vec::new();
        for (first, last) in [("Fatou", "Diallo"), ("Awa", "Konaté")] {
            let a = api
                .call(
                    Method::POST,
                    "/self-registrations",
                    None,
                    Some(registration(&[first], last, SSIAD, "371", None)),
                )
                .await?;
            assert_eq!(a.status, 202, "{}", a.body);
            assert_eq!(a.body["status"], "pending");
            ids.push(a.body["id"].clone());
        }
        let after = stored(&server).await?;
        assert_eq!(after.0.persons, before.0.persons, "nobody registered yet");

        // Only the establishment's managers see and decide them.
        let list = format!("/structures/{SSIAD}/self-registrations");
        let a = api.get(&list, &m.karim).await?;
        assert_eq!(a.status, 403);
        let a = api
            .post(
                &format!("/self-registrations/{}/validate", ids[0]),
                &m.karim,
                json!({}),
            )
            .await?;
        assert_eq!(a.status, 404);
        let a = api.get(&list, &m.sophie).await?;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.body["registrations"].as_array().map(Vec::len), Some(2));
        assert_eq!(a.body["registrations"][0]["birth_name"], "Diallo");

        let a = api
            .post(
                &format!("/self-registrations/{}/validate", ids[0]),
                &m.sophie,
                json!({}),
            )
            .await?;
        assert_eq!(a.status, 201, "{}", a.body);
        assert_eq!(a.body["person_created"], true);
        let again = api
            .post(
                &format!("/self-registrations/{}/validate", ids[0]),
                &m.sophie,
                json!({}),
            )
            .await?;
        assert_eq!(again.status, 409);
        assert_eq!(again.code(), "already_decided");

        let a = api
            .post(
                &format!("/self-registrations/{}/reject", ids[1]),
                &m.sophie,
                json!({}),
            )
            .await?;
        assert_eq!(a.status, 422);
        let a = api
            .post(
                &format!("/self-registrations/{}/reject", ids[1]),
                &m.sophie,
                json!({"reason": "Inconnue de l'établissement"}),
            )
            .await?;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.body["status"], "rejected");
        let a = api.get(&list, &m.sophie).await?;
        assert_eq!(a.body["registrations"].as_array().map(Vec::len), Some(0));
        assert_eq!(stored(&server).await?.0.persons, before.0.persons + 1);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mails_are_queued_with_the_change_they_describe() -> TestResult {
    for server in demo_servers().await? {
        let api = Api::new(&server)?;
        let m = managers(&server).await?;
        let before = rppsplus_store_tests::raw::outbox_rows(&server.db)
            .await
            .map_err(|e| e.to_string())?
            .len();
        let r = api
            .post(
                "/registrations",
                &m.sophie,
                registration(
                    &["Océane"],
                    "Girard-Lebrun",
                    EHPAD,
                    "328",
                    Some("oceane.gl@example.org"),
                ),
            )
            .await?;
        assert_eq!(r.status, 201, "{}", r.body);
        let person = r.body["person_id"].as_i64().ok_or("person_id")?;
        let situation = r.body["situation_id"].as_i64().ok_or("situation_id")?;
        let rpps = r.body["rpps"].as_str().ok_or("rpps")?.to_owned();
        let path = format!("/situations/{situation}");
        let a = api
            .answer(
                api.raw(Method::PATCH, &path)
                    .bearer_auth(&m.sophie)
                    .header("If-Match", "1")
                    .json(&json!({"role": "GENR11"})),
            )
            .await?;
        assert_eq!(a.status, 200, "{}", a.body);
        let a = api
            .post(
                &format!("{path}/close"),
                &m.sophie,
                json!({"end_date": "2099-06-30", "reason": "Départ prévu"}),
            )
            .await?;
        assert_eq!(a.status, 200, "{}", a.body);
        // Registered without an e-mail: no mail at all.
        let silent = api
            .post(
                "/registrations",
                &m.sophie,
                registration(&["Yanis"], "Ferrand", EHPAD, "328", None),
            )
            .await?;
        assert_eq!(silent.status, 201, "{}", silent.body);

        let rows = rppsplus_store_tests::raw::outbox_rows(&server.db)
            .await
            .map_err(|e| e.to_string())?;
        let rows = &rows[before..];
        let keys: Vec<(&str, &str)> = rows
            .iter()
            .map(|(k, kind, _, _)| (k.as_str(), kind.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                (format!("rpps_number:{person}").as_str(), "mail.rpps_number"),
                (format!("ecps_ready:{person}").as_str(), "mail.ecps_ready"),
                (
                    format!("situation_change:{situation}:1").as_str(),
                    "mail.situation_change"
                ),
                (
                    format!("situation_change:{situation}:2").as_str(),
                    "mail.situation_change"
                ),
                (
                    format!("situation_change:{situation}:3").as_str(),
                    "mail.situation_change"
                ),
            ]
        );
        let expected = json!({
            "person_id": person,
            "rpps": rpps,
            "to": "oceane.gl@example.org",
            "first_name": "Océane",
            "last_name": "Girard-Lebrun",
        });
        assert_eq!(rows[0].2, expected);
        assert_eq!(rows[0].3, 0, "the RPPS-number mail is due at once");
        assert_eq!(rows[1].2, expected);
        assert_eq!(
            rows[1].3,
            48 * 3600 * 1_000_000,
            "the e-CPS mail is due 48 h later"
        );
        let change = |c: &str, end: Value| {
            json!({
                "person_id": person,
                "situation_id": situation,
                "to": "oceane.gl@example.org",
                "first_name": "Océane",
                "last_name": "Girard-Lebrun",
                "structure_name": "EHPAD Les Tilleuls",
                "change": c,
                "end_date": end,
            })
        };
        assert_eq!(rows[2].2, change("created", Value::Null));
        assert_eq!(rows[3].2, change("modified", Value::Null));
        assert_eq!(rows[4].2, change("scheduled_closure", json!("2099-06-30")));
    }
    Ok(())
}
