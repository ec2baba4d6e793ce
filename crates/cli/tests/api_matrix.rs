//! The API's authorization matrix on the demo data, on SQLite and on PostgreSQL: every mutating
//! endpoint, called on the association's resources by actors of other structures (and by actors
//! of the association without the needed capacity), is refused with 403 or 404, and nothing at
//! all changes in the database (row counts and change feed compared before and after). Reads of
//! non-public data show them nothing of the association.

mod api_common;

use api_common::*;
use reqwest::Method;
use rppsplus_test_support::TestServer;
use serde_json::{Value, json};

/// Everything a refused call must leave as it was.
async fn snapshot(server: &TestServer) -> Fallible<Value> {
    let store = server.app.store();
    let counts = store.row_counts().await?;
    let changes = store.changes_after(0, 100_000).await?;
    Ok(json!({
        "counts": serde_json::to_value(&counts)?,
        "changes": changes.iter().map(|c| json!([c.seq, c.change.entity, c.change.entity_id, c.change.op])).collect::<Vec<_>>(),
    }))
}

/// One call of the matrix.
struct Call {
    method: Method,
    path: String,
    body: Option<Value>,
}

impl Call {
    fn new(method: Method, path: impl Into<String>, body: Option<Value>) -> Self {
        Call {
            method,
            path: path.into(),
            body,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actors_of_other_structures_change_nothing() -> TestResult {
    for server in demo_servers().await? {
        let api = Api::new(&server)?;
        let demo = Demo::of(&server).await?;
        let claire = demo.idnps("Claire Martin")?; // RL of the association
        let sophie = demo.idnps("Sophie Bernard")?; // manager on the association
        let paul = demo.idnps("Paul Girard")?; // RL of the pharmacy
        let helene = demo.idnps("Hélène Roche-Valette")?; // RL of the hospital
        let karim = demo.idnps("Karim Haddad")?; // manager on the hospital's site
        let ehpad_staff = demo.professionals_at(EHPAD);
        let professional = ehpad_staff.first().ok_or("no EHPAD professional")?.clone();
        let pharmacist = demo
            .professionals_at(PHARMACY)
            .first()
            .ok_or("no pharmacy professional")?
            .clone();

        // Resources of the association the calls aim at.
        let claire_token = person_token(&server, &claire).await?;
        let managed = api.get("/habilitations", &claire_token).await?;
        let sophie_habilitation = managed.body["habilitations"]
            .as_array()
            .and_then(|a| a.iter().find(|h| h["person"]["idnps"] == sophie.as_str()))
            .and_then(|h| h["id"].as_i64())
            .ok_or("Sophie's habilitation is not listed for Claire")?;
        let claire_tokens = api.get("/tokens", &claire_token).await?;
        let claire_token_id = claire_tokens.body["tokens"][0]["id"]
            .as_i64()
            .ok_or("Claire's token is not listed")?;

        let outsiders = [
            ("RL of the pharmacy", person_token(&server, &paul).await?),
            ("RL of the hospital", person_token(&server, &helene).await?),
            (
                "manager of the hospital",
                person_token(&server, &karim).await?,
            ),
            (
                "pharmacy professional",
                person_token(&server, &pharmacist).await?,
            ),
            ("consuming system", system_token(&server, "SI-DMP").await?),
        ];
        let sophie_token = person_token(&server, &sophie).await?;

        let grant = |scope: &str, kind: &str| {
            Some(json!({ "person": professional, "scope": scope, "kind": kind }))
        };
        // Calls every outsider is refused, on every association scope.
        let mut calls = vec![
            Call::new(
                Method::POST,
                "/habilitations",
                grant(ASSOCIATION, "manager"),
            ),
            Call::new(
                Method::POST,
                "/habilitations",
                grant(ASSOCIATION, "mandatary"),
            ),
            Call::new(Method::POST, "/habilitations", grant(EHPAD, "manager")),
            Call::new(Method::POST, "/habilitations", grant(SSIAD, "mandatary")),
            Call::new(
                Method::DELETE,
                format!("/habilitations/{sophie_habilitation}"),
                None,
            ),
            Call::new(
                Method::PUT,
                format!("/structures/{ASSOCIATION}/management-mode"),
                Some(json!({ "mode": "per_site" })),
            ),
            Call::new(
                Method::PUT,
                format!("/structures/{EHPAD}/management-mode"),
                Some(json!({ "mode": "per_site" })),
            ),
            Call::new(
                Method::PUT,
                format!("/structures/{ASSOCIATION}/legal-representative"),
                Some(json!({ "person": paul, "card": "CDE" })),
            ),
            Call::new(
                Method::PUT,
                format!("/structures/{EHPAD}/legal-representative"),
                Some(json!({ "person": karim, "card": "CPS" })),
            ),
            Call::new(Method::DELETE, format!("/tokens/{claire_token_id}"), None),
        ];
        let before = snapshot(&server).await?;
        for (who, token) in &outsiders {
            for call in &calls {
                let answer = api
                    .call(
                        call.method.clone(),
                        &call.path,
                        Some(token),
                        call.body.clone(),
                    )
                    .await?;
                assert!(
                    matches!(answer.status.as_u16(), 403 | 404),
                    "{who}: {} {} answered {}: {}",
                    call.method,
                    call.path,
                    answer.status,
                    answer.body
                );
                assert!(
                    matches!(answer.code(), "forbidden" | "not_found"),
                    "{who}: {} {}: {}",
                    call.method,
                    call.path,
                    answer.body
                );
            }
        }
        // E-learning: only the person themselves, a legal representative or a mandataire
        // records one (a legal representative vouches for a future manager, of any structure);
        // managers and systems are refused.
        let elearning = Call::new(
            Method::POST,
            "/elearning",
            Some(
                json!({ "person": professional, "completed_on": "2025-06-02", "certificate_ref": "X-1" }),
            ),
        );
        // A manager of the association itself may not grant, set the mode or designate either.
        calls.push(elearning);
        let insufficient = [
            ("manager of the hospital", outsiders[2].1.clone()),
            ("pharmacy professional", outsiders[3].1.clone()),
            ("consuming system", outsiders[4].1.clone()),
            ("manager of the association", sophie_token.clone()),
        ];
        for (who, token) in &insufficient {
            for call in calls.iter().filter(|c| !c.path.starts_with("/tokens/")) {
                let answer = api
                    .call(
                        call.method.clone(),
                        &call.path,
                        Some(token),
                        call.body.clone(),
                    )
                    .await?;
                assert!(
                    matches!(answer.status.as_u16(), 403 | 404),
                    "{who}: {} {} answered {}: {}",
                    call.method,
                    call.path,
                    answer.status,
                    answer.body
                );
            }
        }
        // Claire (RL of the association) may not designate legal representatives: the operator
        // does.
        let answer = api
            .put(
                &format!("/structures/{ASSOCIATION}/legal-representative"),
                &claire_token,
                json!({ "person": paul, "card": "CDE" }),
            )
            .await?;
        assert_eq!(answer.status, 403, "{}", answer.body);
        // Systems and the operator create no token through the API.
        let answer = api.post("/tokens", &outsiders[4].1, json!({})).await?;
        assert_eq!(answer.status, 403, "{}", answer.body);

        assert_eq!(
            snapshot(&server).await?,
            before,
            "a refused call changed the database"
        );

        // Reads of non-public data show outsiders nothing of the association.
        for (who, token) in outsiders
            .iter()
            .chain([&("manager of the association", sophie_token.clone())])
        {
            let listed = api.get("/habilitations", token).await?;
            assert_eq!(listed.status, 200);
            let text = listed.body.to_string();
            for secret in [ASSOCIATION, EHPAD, SSIAD, sophie.as_str()] {
                assert!(!text.contains(secret), "{who} sees {secret} in {text}");
            }
            let me = api.get("/me", token).await?;
            assert_eq!(me.status, 200);
            if *who != "manager of the association" {
                let text = me.body["structures"].to_string();
                for secret in [ASSOCIATION, EHPAD, SSIAD] {
                    assert!(!text.contains(secret), "{who} sees {secret} in {text}");
                }
            }
            let tokens = api.get("/tokens", token).await?;
            assert_eq!(tokens.status, 200);
            assert!(
                tokens.body["tokens"]
                    .as_array()
                    .is_some_and(|t| t.iter().all(|t| t["id"] != claire_token_id)),
                "{who} sees Claire's token"
            );
        }

        // The same calls by Claire do work: the refusals above were about rights, not about
        // malformed requests.
        let answer = api
            .post(
                "/elearning",
                &claire_token,
                json!({ "person": professional, "completed_on": "2025-06-02", "certificate_ref": "X-1" }),
            )
            .await?;
        assert_eq!(answer.status, 204, "{}", answer.body);
        let answer = api
            .post(
                "/habilitations",
                &claire_token,
                json!({ "person": professional, "scope": ASSOCIATION, "kind": "manager" }),
            )
            .await?;
        assert_eq!(answer.status, 201, "{}", answer.body);
        let answer = api
            .delete(
                &format!("/habilitations/{sophie_habilitation}"),
                &claire_token,
            )
            .await?;
        assert_eq!(answer.status, 204, "{}", answer.body);
        let answer = api
            .put(
                &format!("/structures/{ASSOCIATION}/management-mode"),
                &claire_token,
                json!({ "mode": "per_site" }),
            )
            .await?;
        assert_eq!(answer.status, 204, "{}", answer.body);
        let answer = api
            .put(
                &format!("/structures/{ASSOCIATION}/legal-representative"),
                &operator_token(&server).await?,
                json!({ "person": paul, "card": "CDE" }),
            )
            .await?;
        assert_eq!(answer.status, 204, "{}", answer.body);
        let answer = api
            .delete(&format!("/tokens/{claire_token_id}"), &claire_token)
            .await?;
        assert_eq!(answer.status, 204, "{}", answer.body);
        assert_ne!(snapshot(&server).await?, before);
        server.stop().await;
    }
    Ok(())
}

/// A revoked habilitation stops working at the next request; a revoked token at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rights_are_recomputed_at_every_request() -> TestResult {
    for server in demo_servers().await? {
        let api = Api::new(&server)?;
        let demo = Demo::of(&server).await?;
        let claire = person_token(&server, &demo.idnps("Claire Martin")?).await?;
        let sophie_idnps = demo.idnps("Sophie Bernard")?;
        let sophie = person_token(&server, &sophie_idnps).await?;
        let me = api.get("/me", &sophie).await?;
        assert_eq!(me.body["structures"][0]["structure"]["finess"], ASSOCIATION);
        assert_eq!(me.body["structures"][0]["capacity"], "manager");

        let listed = api.get("/habilitations", &claire).await?;
        let id = listed.body["habilitations"]
            .as_array()
            .and_then(|a| {
                a.iter()
                    .find(|h| h["person"]["idnps"] == sophie_idnps.as_str())
            })
            .and_then(|h| h["id"].as_i64())
            .ok_or("Sophie's habilitation is not listed")?;
        let answer = api.delete(&format!("/habilitations/{id}"), &claire).await?;
        assert_eq!(answer.status, 204);
        let me = api.get("/me", &sophie).await?;
        assert_eq!(me.status, 200);
        assert_eq!(me.body["structures"], json!([]));

        // Claire revokes the token she is using: the very next request is refused.
        let mine = api.get("/tokens", &claire).await?;
        let id = mine.body["tokens"][0]["id"].as_i64().ok_or("no token")?;
        let answer = api.delete(&format!("/tokens/{id}"), &claire).await?;
        assert_eq!(answer.status, 204);
        let answer = api.get("/me", &claire).await?;
        assert_eq!(answer.status, 401);
        assert_eq!(answer.code(), "invalid_token");
        server.stop().await;
    }
    Ok(())
}
