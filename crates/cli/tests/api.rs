//! The JSON API over real HTTP, on SQLite and on PostgreSQL: each endpoint's success and error
//! paths, bearer authentication and the one error shape.

mod api_common;

use api_common::*;
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use rppsplus_test_support::TestServer;
use serde_json::json;

/// Row counts and the change feed, to prove that a refused call stored nothing.
async fn stored(server: &TestServer) -> Fallible<(rppsplus_store::RowCounts, usize)> {
    let store = server.app.store();
    Ok((
        store.row_counts().await?,
        store.changes_after(0, 100_000).await?.len(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_authentication() -> TestResult {
    for server in demo_servers().await? {
        let api = Api::new(&server)?;
        let demo = Demo::of(&server).await?;
        let token = person_token(&server, &demo.idnps("Claire Martin")?).await?;

        // Without credentials, or with another scheme.
        for req in [
            api.raw(Method::GET, "/me"),
            api.raw(Method::GET, "/me")
                .header("Authorization", "Basic dXNlcjpwYXNz"),
            api.raw(Method::GET, "/me")
                .header("Authorization", "Bearer"),
        ] {
            let a = api.answer(req).await?;
            assert_eq!(a.status, 401, "{}", a.body);
            assert_eq!(a.code(), "unauthenticated");
            assert_eq!(
                a.headers
                    .get(WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok()),
                Some("Bearer realm=\"rpps-plus\"")
            );
            assert!(
                a.body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("jeton"))
            );
        }
        // Malformed, unknown (well formed) and tampered tokens.
        let unknown = format!("rpps_{}", "0".repeat(64));
        let last = if token.ends_with('0') { '1' } else { '0' };
        let tampered = format!("{}{last}", &token[..token.len() - 1]);
        for bad in [
            "rpps_",
            "n'importe quoi",
            unknown.as_str(),
            tampered.as_str(),
        ] {
            let a = api.call(Method::GET, "/me", Some(bad), None).await?;
            assert_eq!(a.status, 401, "{bad}: {}", a.body);
            assert_eq!(a.code(), "invalid_token");
            assert!(
                a.headers
                    .get(WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("Bearer ") && v.contains("invalid_token"))
            );
        }
        // The scheme is case-insensitive.
        let a = api
            .answer(
                api.raw(Method::GET, "/me")
                    .header("Authorization", format!("bearer {token}")),
            )
            .await?;
        assert_eq!(a.status, 200);
        // Every response is JSON and not cached.
        assert_eq!(
            a.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()),
            Some("application/json")
        );
        assert_eq!(
            a.headers.get("cache-control").and_then(|v| v.to_str().ok()),
            Some("no-store")
        );
        // Authentication comes first: without a token, even a bad body is a 401.
        let a = api
            .answer(api.raw(Method::POST, "/habilitations").body("{"))
            .await?;
        assert_eq!(a.status, 401);
        server.stop().await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_methods_and_bodies_answer_in_the_error_shape() -> TestResult {
    for server in demo_servers().await? {
        let api = Api::new(&server)?;
        let demo = Demo::of(&server).await?;
        let token = person_token(&server, &demo.idnps("Claire Martin")?).await?;
        let before = stored(&server).await?;

        let a = api.get("/nulle-part", &token).await?;
        assert_eq!(
            (a.status.as_u16(), a.code()),
            (404, "not_found"),
            "{}",
            a.body
        );
        let a = api.call(Method::GET, "", None, None).await?;
        assert_eq!((a.status.as_u16(), a.code()), (404, "not_found"));
        let a = api
            .call(Method::PATCH, "/tokens", Some(&token), None)
            .await?;
        assert_eq!(
            (a.status.as_u16(), a.code()),
            (405, "method_not_allowed"),
            "{}",
            a.body
        );
        let a = api.delete("/habilitations/abc", &token).await?;
        assert_eq!((a.status.as_u16(), a.code()), (404, "not_found"));
        let a = api.delete("/habilitations/-1", &token).await?;
        assert_eq!((a.status.as_u16(), a.code()), (404, "not_found"));

        // Bodies: not JSON, not an object, not declared as JSON.
        for (body, content_type, status, code) in [
            ("{", "application/json", 400, "malformed_json"),
            ("", "application/json", 400, "malformed_json"),
            ("[1, 2]", "application/json", 400, "malformed_json"),
            ("\"texte\"", "application/json", 400, "malformed_json"),
            (
                r#"{"person": "1"}"#,
                "text/plain",
                415,
                "unsupported_media_type",
            ),
        ] {
            let a = api
                .answer(
                    api.raw(Method::POST, "/habilitations")
                        .bearer_auth(&token)
                        .header(CONTENT_TYPE, content_type)
                        .body(body),
                )
                .await?;
            assert_eq!(
                (a.status.as_u16(), a.code()),
                (status, code),
                "{body:?}: {}",
                a.body
            );
            assert!(
                a.body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty())
            );
        }
        // A body past the API's limit (2 MiB).
        let big = format!("{{\"label\": \"{}\"}}", "x".repeat(3 * 1024 * 1024));
        // The server answers 413 before the client has sent the whole body and closes the
        // connection: `Connection: close` keeps the client from reusing it for the next
        // request. On a loaded machine the client may even see the reset before the answer;
        // the answer itself is what is tested, so a reset is retried (a few times at most).
        let mut attempts = 0;
        let a = loop {
            attempts += 1;
            let sent = api
                .answer(
                    api.raw(Method::POST, "/tokens")
                        .bearer_auth(&token)
                        .header(CONTENT_TYPE, "application/json")
                        .header(reqwest::header::CONNECTION, "close")
                        .body(big.clone()),
                )
                .await;
            match sent {
                Ok(a) => break a,
                Err(_) if attempts < 5 => continue,
                Err(e) => return Err(e),
            }
        };
        assert_eq!(
            (a.status.as_u16(), a.code()),
            (413, "payload_too_large"),
            "{}",
            a.body
        );
        // Fields: missing, of the wrong type, outside the allowed values.
        let a = api.post("/habilitations", &token, json!({})).await?;
        assert_eq!((a.status.as_u16(), a.code()), (422, "invalid_input"));
        assert_eq!(
            a.fields(),
            vec![
                ("person".to_owned(), "required".to_owned()),
                ("scope".to_owned(), "required".to_owned()),
                ("kind".to_owned(), "required".to_owned()),
            ]
        );
        let a = api
            .post(
                "/habilitations",
                &token,
                json!({ "person": 12, "scope": ["x"], "kind": "chef" }),
            )
            .await?;
        assert_eq!(
            a.fields(),
            vec![
                ("person".to_owned(), "invalid_type".to_owned()),
                ("scope".to_owned(), "invalid_type".to_owned()),
                ("kind".to_owned(), "invalid_value".to_owned()),
            ]
        );
        assert_eq!(
            stored(&server).await?,
            before,
            "a refused call stored something"
        );
        server.stop().await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn structures_search_and_read() -> TestResult {
    for server in demo_servers().await? {
        let api = Api::new(&server)?;
        let token = system_token(&server, "annuaire").await?;

        let a = api.get("/structures?q=tilleuls", &token).await?;
        assert_eq!(a.status, 200, "{}", a.body);
        let found: Vec<&str> = a.body["structures"]
            .as_array()
            .map(|s| s.iter().filter_map(|s| s["finess"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(found, vec![ASSOCIATION, EHPAD, SSIAD]);
        assert_eq!(a.body["structures"][0]["kind"], "EJ");
        assert_eq!(a.body["structures"][0]["management_mode"], "centralised");
        assert_eq!(a.body["structures"][1]["kind"], "EG");
        assert_eq!(a.body["structures"][1]["legal_entity_finess"], ASSOCIATION);
        assert_eq!(a.body["structures"][1]["management_mode"], json!(null));

        let a = api.get("/structures?q=6900&limit=2", &token).await?;
        assert_eq!(a.body["structures"].as_array().map(Vec::len), Some(2));
        let a = api
            .get("/structures?q=%C3%A9tablissement%20inexistant", &token)
            .await?;
        assert_eq!(a.body["structures"], json!([]));

        for query in ["", "?q=a", "?q=%20"] {
            let a = api.get(&format!("/structures{query}"), &token).await?;
            assert_eq!(a.status, 422, "{query}");
            assert_eq!(a.fields(), vec![("q".to_owned(), "too_short".to_owned())]);
        }
        for limit in ["0", "101", "beaucoup"] {
            let a = api
                .get(&format!("/structures?q=tilleuls&limit={limit}"), &token)
                .await?;
            assert_eq!(
                a.fields(),
                vec![("limit".to_owned(), "invalid_value".to_owned())]
            );
        }

        let a = api.get(&format!("/structures/{EHPAD}"), &token).await?;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.body["structure"]["finess"], EHPAD);
        assert_eq!(a.body["structure"]["setting"], "ESMS");
        assert_eq!(a.body["legal_entity"]["finess"], ASSOCIATION);
        assert_eq!(a.body["related_establishments"][0]["finess"], SSIAD);
        let a = api
            .get(&format!("/structures/{ASSOCIATION}"), &token)
            .await?;
        assert_eq!(a.body["legal_entity"], json!(null));
        assert_eq!(
            a.body["related_establishments"].as_array().map(Vec::len),
            Some(2)
        );
        // Public data only: no legal representative, no staff.
        assert!(!a.body.to_string().contains("Martin"));
        for missing in ["123", "690001045", "abcdefghi"] {
            let a = api.get(&format!("/structures/{missing}"), &token).await?;
            assert_eq!(
                (a.status.as_u16(), a.code()),
                (404, "not_found"),
                "{missing}"
            );
        }
        server.stop().await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn me_tells_who_the_token_acts_for() -> TestResult {
    for server in demo_servers().await? {
        let api = Api::new(&server)?;
        let demo = Demo::of(&server).await?;
        let claire = demo.idnps("Claire Martin")?;
        let a = api
            .get("/me", &person_token(&server, &claire).await?)
            .await?;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.body["kind"], "person");
        assert_eq!(a.body["idnps"], claire.as_str());
        assert_eq!(a.body["system"], json!(null));
        assert_eq!(a.body["structures"][0]["structure"]["finess"], ASSOCIATION);
        assert_eq!(a.body["structures"][0]["capacity"], "legal_representative");
        assert_eq!(
            a.body["structures"][0]["establishments"]
                .as_array()
                .map(Vec::len),
            Some(2)
        );
        assert!(a.body["token_id"].as_i64().is_some());

        let karim = demo.idnps("Karim Haddad")?;
        let a = api
            .get("/me", &person_token(&server, &karim).await?)
            .await?;
        assert_eq!(a.body["structures"][0]["structure"]["finess"], HOSPITAL);
        assert_eq!(a.body["structures"][0]["capacity"], "manager");

        let a = api
            .get("/me", &system_token(&server, "SI-DMP").await?)
            .await?;
        assert_eq!(a.body["kind"], "system");
        assert_eq!(a.body["system"], "SI-DMP");
        assert_eq!(a.body["idnps"], json!(null));
        assert_eq!(a.body["structures"], json!([]));

        let a = api.get("/me", &operator_token(&server).await?).await?;
        assert_eq!(a.body["kind"], "operator");
        server.stop().await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_created_listed_and_revoked() -> TestResult {
    for server in demo_servers().await? {
        let api = Api::new(&server)?;
        let demo = Demo::of(&server).await?;
        let first = person_token(&server, &demo.idnps("Karim Haddad")?).await?;

        let a = api
            .post("/tokens", &first, json!({ "label": "  Export SI-RH " }))
            .await?;
        assert_eq!(a.status, 201, "{}", a.body);
        assert_eq!(
            a.headers.get("cache-control").and_then(|v| v.to_str().ok()),
            Some("no-store")
        );
        let second = a.body["token"].as_str().ok_or("no token")?.to_owned();
        assert!(
            second.starts_with("rpps_") && second.len() == 69,
            "{second}"
        );
        assert_eq!(a.body["label"], "Export SI-RH");
        let second_id = a.body["id"].as_i64().ok_or("no id")?;
        // The new token acts for the same person.
        let me = api.get("/me", &second).await?;
        assert_eq!(me.body["structures"][0]["structure"]["finess"], HOSPITAL);
        assert_eq!(me.body["token_id"], second_id);

        let a = api
            .post("/tokens", &first, json!({ "label": null }))
            .await?;
        assert_eq!(a.status, 201);
        assert_eq!(a.body["label"], "Jeton d'API");

        let listed = api.get("/tokens", &second).await?;
        assert_eq!(listed.status, 200);
        let tokens = listed.body["tokens"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(tokens.len(), 3, "{}", listed.body);
        assert!(
            tokens
                .iter()
                .all(|t| t.get("token").is_none() && t.get("hash").is_none())
        );
        assert!(
            tokens
                .iter()
                .any(|t| t["id"] == second_id && t["last_used_at"].is_string())
        );

        for (body, field, code) in [
            (
                json!({ "label": "x".repeat(101) }),
                "label",
                "invalid_label",
            ),
            (json!({ "label": "a\nb" }), "label", "invalid_label"),
            (json!({ "label": 3 }), "label", "invalid_type"),
        ] {
            let a = api.post("/tokens", &first, body).await?;
            assert_eq!(a.status, 422);
            assert_eq!(a.fields(), vec![(field.to_owned(), code.to_owned())]);
        }

        let a = api.delete(&format!("/tokens/{second_id}"), &first).await?;
        assert_eq!(a.status, 204);
        assert_eq!(a.body, json!(null));
        let a = api.get("/me", &second).await?;
        assert_eq!((a.status.as_u16(), a.code()), (401, "invalid_token"));
        let a = api.delete(&format!("/tokens/{second_id}"), &first).await?;
        assert_eq!((a.status.as_u16(), a.code()), (404, "not_found"));
        let a = api.delete("/tokens/999999", &first).await?;
        assert_eq!(a.status, 404);

        // A person holds at most 20 tokens in force.
        let mut count = api.get("/tokens", &first).await?.body["tokens"]
            .as_array()
            .map_or(0, Vec::len);
        while count < 20 {
            assert_eq!(api.post("/tokens", &first, json!({})).await?.status, 201);
            count += 1;
        }
        let a = api.post("/tokens", &first, json!({})).await?;
        assert_eq!(
            (a.status.as_u16(), a.code()),
            (409, "too_many_tokens"),
            "{}",
            a.body
        );

        // A system has no tokens of its own and creates none.
        let system = system_token(&server, "SI-RH").await?;
        let a = api.get("/tokens", &system).await?;
        assert_eq!(a.body["tokens"], json!([]));
        let a = api.post("/tokens", &system, json!({})).await?;
        assert_eq!((a.status.as_u16(), a.code()), (403, "forbidden"));

        // The audit log names tokens by id, never their secret or label.
        let audit = server.app.store().audit_rows(0, 100_000).await?;
        let created: Vec<_> = audit
            .iter()
            .filter(|r| r.entry.action.starts_with("token."))
            .collect();
        assert!(created.len() >= 20);
        let text = format!("{created:?}");
        assert!(
            !text.contains(&second) && !text.contains(&second[5..]) && !text.contains("Export")
        );
        server.stop().await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn habilitations_are_listed_granted_and_revoked() -> TestResult {
    for server in demo_servers().await? {
        let api = Api::new(&server)?;
        let demo = Demo::of(&server).await?;
        let claire_idnps = demo.idnps("Claire Martin")?;
        let claire = person_token(&server, &claire_idnps).await?;
        let sophie = demo.idnps("Sophie Bernard")?;
        let staff = demo.professionals_at(EHPAD);
        let (newcomer, other) = match staff.as_slice() {
            [a, b, ..] => (a.clone(), b.clone()),
            _ => return Err("too few EHPAD professionals".into()),
        };

        let a = api.get("/habilitations", &claire).await?;
        assert_eq!(a.status, 200, "{}", a.body);
        let list = a.body["habilitations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(list.len(), 1, "{}", a.body);
        assert_eq!(list[0]["person"]["idnps"], sophie.as_str());
        assert_eq!(list[0]["person"]["name"], "Sophie Bernard");
        assert_eq!(list[0]["kind"], "manager");
        assert_eq!(list[0]["scope"]["finess"], ASSOCIATION);
        assert_eq!(list[0]["elearning_completed_on"], "2025-03-14");
        assert!(list[0]["granted_at"].is_string());

        // Refusals that store nothing.
        let before = stored(&server).await?;
        let grant = |person: &str, scope: &str, kind: &str| json!({ "person": person, "scope": scope, "kind": kind });
        for (body, field, code) in [
            (
                grant(&newcomer, ASSOCIATION, "manager"),
                "person",
                "elearning_missing",
            ),
            (
                grant("123", ASSOCIATION, "manager"),
                "person",
                "invalid_idnps",
            ),
            (
                grant(&newcomer, "12345", "manager"),
                "scope",
                "invalid_finess",
            ),
            (
                grant(&newcomer, "690001045", "manager"),
                "scope",
                "unknown_structure",
            ),
            (
                grant(&sophie, EHPAD, "manager"),
                "scope",
                "centralised_management",
            ),
        ] {
            let a = api.post("/habilitations", &claire, body.clone()).await?;
            assert_eq!(a.status, 422, "{body}: {}", a.body);
            assert_eq!(a.code(), "invalid_input");
            assert!(
                a.fields().contains(&(field.to_owned(), code.to_owned())),
                "{body}: {}",
                a.body
            );
        }
        let a = api
            .post(
                "/habilitations",
                &claire,
                grant(&sophie, ASSOCIATION, "manager"),
            )
            .await?;
        assert_eq!((a.status.as_u16(), a.code()), (409, "already_granted"));
        let a = api
            .post(
                "/habilitations",
                &claire,
                grant(&claire_idnps, ASSOCIATION, "mandatary"),
            )
            .await?;
        assert_eq!(
            (a.status.as_u16(), a.code()),
            (409, "already_legal_representative")
        );
        assert_eq!(stored(&server).await?, before);

        // E-learning first, then the grant.
        for (body, field, code) in [
            (
                json!({ "person": newcomer, "completed_on": "2099-01-01", "certificate_ref": "C" }),
                "completed_on",
                "in_future",
            ),
            (
                json!({ "person": newcomer, "completed_on": "hier", "certificate_ref": "C" }),
                "completed_on",
                "invalid_date",
            ),
            (
                json!({ "person": newcomer, "completed_on": "2025-06-02", "certificate_ref": " " }),
                "certificate_ref",
                "required",
            ),
            (
                json!({ "person": newcomer, "completed_on": "2025-06-02" }),
                "certificate_ref",
                "required",
            ),
            (
                json!({ "person": "8", "completed_on": "2025-06-02", "certificate_ref": "C" }),
                "person",
                "invalid_idnps",
            ),
        ] {
            let a = api.post("/elearning", &claire, body.clone()).await?;
            assert_eq!(a.status, 422, "{body}: {}", a.body);
            assert!(
                a.fields().contains(&(field.to_owned(), code.to_owned())),
                "{body}: {}",
                a.body
            );
        }
        assert_eq!(stored(&server).await?, before);
        let a = api
            .post(
                "/elearning",
                &claire,
                json!({ "person": newcomer, "completed_on": "2025-06-02", "certificate_ref": "ELEARN-2025-0042" }),
            )
            .await?;
        assert_eq!(a.status, 204, "{}", a.body);
        // A professional records their own completion.
        let own = person_token(&server, &other).await?;
        let a = api
            .post(
                "/elearning",
                &own,
                json!({ "person": other, "completed_on": "02/06/2025", "certificate_ref": "ELEARN-2025-0043" }),
            )
            .await?;
        assert_eq!(a.status, 204, "{}", a.body);

        let a = api
            .post(
                "/habilitations",
                &claire,
                grant(&newcomer, ASSOCIATION, "manager"),
            )
            .await?;
        assert_eq!(a.status, 201, "{}", a.body);
        let id = a.body["id"].as_i64().ok_or("no id")?;
        assert_eq!(a.body["kind"], "manager");
        assert_eq!(a.body["scope"], ASSOCIATION);
        let a = api
            .post(
                "/habilitations",
                &claire,
                grant(&other, ASSOCIATION, "mandatary"),
            )
            .await?;
        assert_eq!(a.status, 201, "{}", a.body);
        let mandatary_id = a.body["id"].as_i64().ok_or("no id")?;
        // The newcomer now acts for the association.
        let newcomer_token = person_token(&server, &newcomer).await?;
        let me = api.get("/me", &newcomer_token).await?;
        assert_eq!(me.body["structures"][0]["structure"]["finess"], ASSOCIATION);
        // The mandataire sees and manages the association's managers.
        let mandatary = person_token(&server, &other).await?;
        let a = api.get("/habilitations", &mandatary).await?;
        assert_eq!(
            a.body["habilitations"].as_array().map(Vec::len),
            Some(3),
            "{}",
            a.body
        );

        let a = api
            .delete(&format!("/habilitations/{id}"), &mandatary)
            .await?;
        assert_eq!(a.status, 204, "{}", a.body);
        let a = api.delete(&format!("/habilitations/{id}"), &claire).await?;
        assert_eq!((a.status.as_u16(), a.code()), (404, "not_found"));
        let a = api.get("/me", &newcomer_token).await?;
        assert_eq!(a.body["structures"], json!([]));
        // The registry operator revokes too: the mandataire no longer sees the habilitations,
        // and the audit log names the operator.
        let a = api
            .delete(
                &format!("/habilitations/{mandatary_id}"),
                &operator_token(&server).await?,
            )
            .await?;
        assert_eq!(a.status, 204, "{}", a.body);
        let a = api.get("/habilitations", &mandatary).await?;
        assert_eq!(a.body["habilitations"], json!([]), "{}", a.body);
        let a = api
            .delete(&format!("/habilitations/{mandatary_id}"), &claire)
            .await?;
        assert_eq!((a.status.as_u16(), a.code()), (404, "not_found"));
        let revocations: Vec<_> = server
            .app
            .store()
            .audit_rows(0, 1000)
            .await
            .map_err(|e| format!("{e:?}"))?
            .into_iter()
            .filter(|r| r.entry.action == "habilitation.revoke")
            .map(|r| (r.entry.actor, r.entry.target))
            .collect();
        assert!(
            revocations.contains(&(
                "operator".to_owned(),
                format!("habilitation:{mandatary_id}")
            )),
            "{revocations:?}"
        );
        server.stop().await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn management_mode_and_legal_representative() -> TestResult {
    for server in demo_servers().await? {
        let api = Api::new(&server)?;
        let demo = Demo::of(&server).await?;
        let helene = person_token(&server, &demo.idnps("Hélène Roche-Valette")?).await?;
        let operator = operator_token(&server).await?;
        let paul = demo.idnps("Paul Girard")?;
        let mode = |m: &str| json!({ "mode": m });

        let a = api
            .put(
                &format!("/structures/{HOSPITAL_EJ}/management-mode"),
                &helene,
                mode("centralised"),
            )
            .await?;
        assert_eq!(a.status, 204, "{}", a.body);
        let a = api
            .get(&format!("/structures/{HOSPITAL_EJ}"), &helene)
            .await?;
        assert_eq!(a.body["structure"]["management_mode"], "centralised");

        let before = stored(&server).await?;
        for (path, body, status, field) in [
            (
                HOSPITAL,
                mode("per_site"),
                422,
                Some(("structure", "not_a_legal_entity")),
            ),
            (
                HOSPITAL_EJ,
                mode("partout"),
                422,
                Some(("mode", "invalid_value")),
            ),
            (HOSPITAL_EJ, json!({}), 422, Some(("mode", "required"))),
            ("690009999", mode("per_site"), 404, None),
            ("nimporte", mode("per_site"), 404, None),
        ] {
            let a = api
                .put(
                    &format!("/structures/{path}/management-mode"),
                    &helene,
                    body.clone(),
                )
                .await?;
            assert_eq!(a.status.as_u16(), status, "{path} {body}: {}", a.body);
            if let Some((f, c)) = field {
                assert_eq!(a.fields(), vec![(f.to_owned(), c.to_owned())]);
            }
        }

        let rl = |person: &str, card: &str| json!({ "person": person, "card": card });
        let nobody = rppsplus_domain::Rpps::from_sequence(99_999_998)?
            .idnps()
            .to_string();
        let path = format!("/structures/{PHARMACY_EJ}/legal-representative");
        for (body, field, code) in [
            (rl(&paul, "CB"), "card", "invalid_value"),
            (rl("8", "CDE"), "person", "invalid_idnps"),
            (rl(&nobody, "CDE"), "person", "unknown_person"),
            (json!({ "card": "CPS" }), "person", "required"),
        ] {
            let a = api.put(&path, &operator, body.clone()).await?;
            assert_eq!(a.status, 422, "{body}: {}", a.body);
            assert!(
                a.fields().contains(&(field.to_owned(), code.to_owned())),
                "{body}: {}",
                a.body
            );
        }
        let a = api
            .put(
                "/structures/690009999/legal-representative",
                &operator,
                rl(&paul, "CDE"),
            )
            .await?;
        assert_eq!(
            (a.status.as_u16(), a.code()),
            (404, "not_found"),
            "{}",
            a.body
        );
        let a = api.put(&path, &helene, rl(&paul, "CDE")).await?;
        assert_eq!((a.status.as_u16(), a.code()), (403, "forbidden"));
        assert_eq!(stored(&server).await?, before);

        let a = api.put(&path, &operator, rl(&paul, "CDE")).await?;
        assert_eq!(a.status, 204, "{}", a.body);
        // The operator's change is audited as the operator's.
        let audit = server.app.store().audit_rows(0, 100_000).await?;
        let last = audit.last().ok_or("no audit row")?;
        assert_eq!(last.entry.action, "structure.legal_representative");
        assert_eq!(last.entry.actor, "operator");
        server.stop().await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_failure_is_an_internal_error_without_details() -> TestResult {
    for server in demo_servers().await? {
        let api = Api::new(&server)?;
        let token = system_token(&server, "SI").await?;
        server.app.store().close().await;
        let a = api.get("/structures?q=tilleuls", &token).await?;
        assert_eq!(
            (a.status.as_u16(), a.code()),
            (500, "internal_error"),
            "{}",
            a.body
        );
        let text = a.body.to_string().to_lowercase();
        assert!(!text.contains("pool") && !text.contains("sql") && !text.contains("closed"));
        server.stop().await;
    }
    Ok(())
}
