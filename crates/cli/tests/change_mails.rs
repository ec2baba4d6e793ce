//! Every change is mailed to the professional, in the transaction of the change, over real
//! HTTP on SQLite and on PostgreSQL: a civil identity correction, a contact change (to the new
//! address, and a notice to the former one), a rejected self-registration (to whoever
//! submitted it, with the reason). The outbox rows are read back, then delivered as `.eml`
//! files by the real worker, which must render every one of them (none parked).

mod api_common;

use std::sync::Arc;

use api_common::*;
use jiff::Timestamp;
use reqwest::Method;
use rppsplus_notify::{FileMailer, Worker, WorkerSettings, message_id, message_id_hash};
use rppsplus_test_support::TestServer;
use serde_json::{Value, json};

fn registration(first: &str, last: &str, finess: &str, email: Option<&str>) -> Value {
    json!({
        "identity": {
            "civility": "MME",
            "sex": "F",
            "birth_name": last,
            "usage_name": null,
            "first_names": [first],
            "birth_date": "1987-09-23",
            "birth_country": "99100",
            "birth_commune": "69123",
            "id_document": {"type": "CNI", "number": "ZX9876543", "expires_on": "2033-05-31"}
        },
        "contact": {"email": email, "mobile": null},
        "exercise": {
            "exercise_last_name": null,
            "exercise_first_name": null,
            "establishment_finess": finess,
            "start_date": "2025-02-03",
            "profession": "371",
            "role": "GENR12",
            "practice_mode": "S"
        },
        "existing_rpps": null,
        "confirm_new_person": false
    })
}

type Row = (String, String, Value, i64);

async fn outbox(server: &TestServer) -> Fallible<Vec<Row>> {
    rppsplus_store_tests::raw::outbox_rows(&server.db)
        .await
        .map_err(|e| e.to_string().into())
}

/// The rows queued since `from`, as (event key, kind, payload).
async fn queued_since(server: &TestServer, from: usize) -> Fallible<Vec<(String, String, Value)>> {
    Ok(outbox(server)
        .await?
        .into_iter()
        .skip(from)
        .map(|(k, kind, payload, _)| (k, kind, payload))
        .collect())
}

/// Delivers every due mail into `dir` with the real worker; none may be parked (a payload the
/// templates cannot render would be).
async fn deliver(server: &TestServer, dir: &std::path::Path) -> Fallible<FileMailer> {
    let files = FileMailer::new(dir);
    let worker = Worker::new(
        server.app.store().clone(),
        Arc::new(files.clone()),
        WorkerSettings::new("RPPS+ <ne-pas-repondre@rpps-plus.example>".parse()?),
    );
    let report = worker.drain(Timestamp::now()).await?;
    assert_eq!((report.parked, report.retried), (0, 0), "{report:?}");
    Ok(files)
}

/// The `.eml` of an event: it exists, is addressed to `to` and carries the event's Message-ID.
fn eml(files: &FileMailer, key: &str, to: &str) -> Fallible<String> {
    let text = std::fs::read_to_string(files.path_of(&message_id_hash(key)))?;
    assert!(
        text.contains(&format!("Message-ID: {}", message_id(key))),
        "{text}"
    );
    assert!(text.contains(&format!("To: {to}")), "{text}");
    Ok(text)
}

/// The French mail an outbox row renders to.
fn rendered(row: &(String, String, Value)) -> Fallible<rppsplus_notify::templates::RenderedMail> {
    Ok(rppsplus_notify::templates::render(&row.1, &row.2)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_and_contact_changes_are_mailed() -> TestResult {
    for server in demo_servers().await? {
        let api = Api::new(&server)?;
        let demo = Demo::of(&server).await?;
        let sophie = person_token(&server, &demo.idnps("Sophie Bernard")?).await?;
        let r = api
            .post(
                "/registrations",
                &sophie,
                registration(
                    "Maëlle",
                    "Rivière",
                    EHPAD,
                    Some("maelle.riviere@example.org"),
                ),
            )
            .await?;
        assert_eq!(r.status, 201, "{}", r.body);
        let person = r.body["person_id"].as_i64().ok_or("person_id")?;
        let rpps = r.body["rpps"].as_str().ok_or("rpps")?.to_owned();
        let path = format!("/professionals/{rpps}");
        let put = |sub: &str, version: &str, body: Value| {
            api.raw(Method::PUT, &format!("{path}/{sub}"))
                .bearer_auth(&sophie)
                .header("If-Match", version)
                .json(&body)
        };
        let from = outbox(&server).await?.len();

        // A correction: one mail, listing the corrected fields and the reason.
        let mut identity = registration("Maëlle", "Rivière", EHPAD, None)["identity"].clone();
        identity["birth_name"] = json!("Rivières");
        identity["first_names"] = json!(["Maëlle", "Rose"]);
        let a = api
            .answer(put(
                "identity",
                "\"1\"",
                json!({"identity": identity, "reason": "Acte de naissance fourni"}),
            ))
            .await?;
        assert_eq!(a.status, 200, "{}", a.body);
        // A refused change mails nothing.
        let a = api
            .answer(put("contact", "\"1\"", json!({"email": "x@example.org"})))
            .await?;
        assert_eq!(a.status, 412, "{}", a.body);
        // The e-mail and the mobile replaced: a mail to the new address, a notice to the old.
        let a = api
            .answer(put(
                "contact",
                "\"2\"",
                json!({"email": "maelle.r@example.net", "mobile": "06 98 76 54 32"}),
            ))
            .await?;
        assert_eq!(a.status, 200, "{}", a.body);
        // The mobile alone: one mail, to the address on record; no notice.
        let a = api
            .answer(put(
                "contact",
                "\"3\"",
                json!({"email": "maelle.r@example.net", "mobile": "06 45 22 33 44"}),
            ))
            .await?;
        assert_eq!(a.status, 200, "{}", a.body);
        // Nothing changed: no mail.
        let a = api
            .answer(put(
                "contact",
                "\"4\"",
                json!({"email": "maelle.r@example.net", "mobile": "06 45 22 33 44"}),
            ))
            .await?;
        assert_eq!(a.status, 200, "{}", a.body);

        let rows = queued_since(&server, from).await?;
        let keys: Vec<(&str, &str)> = rows
            .iter()
            .map(|(k, kind, _)| (k.as_str(), kind.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                (
                    format!("identity_corrected:{person}:2").as_str(),
                    "mail.identity_corrected"
                ),
                (
                    format!("contact_changed:{person}:3").as_str(),
                    "mail.contact_changed"
                ),
                (
                    format!("contact_changed_notice:{person}:3").as_str(),
                    "mail.contact_changed_notice"
                ),
                (
                    format!("contact_changed:{person}:4").as_str(),
                    "mail.contact_changed"
                ),
            ]
        );
        assert_eq!(
            rows[0].2,
            json!({
                "person_id": person,
                "to": "maelle.riviere@example.org",
                "first_name": "Maëlle",
                "last_name": "Rivières",
                "fields": ["birth_name", "first_names"],
                "reason": "Acte de naissance fourni",
            })
        );
        assert_eq!(rows[1].2["to"], "maelle.r@example.net");
        assert_eq!(rows[1].2["fields"], json!(["email", "mobile"]));
        assert_eq!(rows[2].2["to"], "maelle.riviere@example.org");
        assert_eq!(rows[3].2["to"], "maelle.r@example.net");
        assert_eq!(rows[3].2["fields"], json!(["mobile"]));

        let m = rendered(&rows[0])?;
        assert_eq!(m.subject, "Votre état civil a été corrigé");
        assert!(
            m.text
                .contains("Éléments corrigés : nom de naissance, prénoms."),
            "{}",
            m.text
        );
        assert!(
            m.text
                .contains("Motif de la correction : Acte de naissance fourni")
        );
        assert_eq!(
            rendered(&rows[1])?.subject,
            "Vos coordonnées ont été modifiées"
        );
        let notice = rendered(&rows[2])?;
        assert_eq!(notice.subject, "Votre adresse e-mail a été remplacée");
        assert!(!notice.text.contains("maelle.r@example.net"));

        let dir = tempfile::tempdir()?;
        let files = deliver(&server, dir.path()).await?;
        eml(
            &files,
            &format!("identity_corrected:{person}:2"),
            "maelle.riviere@example.org",
        )?;
        eml(
            &files,
            &format!("contact_changed:{person}:3"),
            "maelle.r@example.net",
        )?;
        let old = eml(
            &files,
            &format!("contact_changed_notice:{person}:3"),
            "maelle.riviere@example.org",
        )?;
        assert!(!old.contains("maelle.r@example.net"), "{old}");
        eml(
            &files,
            &format!("contact_changed:{person}:4"),
            "maelle.r@example.net",
        )?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_without_an_e_mail_gets_no_mail_and_a_removed_one_a_notice() -> TestResult {
    for server in demo_servers().await? {
        let api = Api::new(&server)?;
        let demo = Demo::of(&server).await?;
        let sophie = person_token(&server, &demo.idnps("Sophie Bernard")?).await?;
        let r = api
            .post(
                "/registrations",
                &sophie,
                registration("Inès", "Morel", EHPAD, None),
            )
            .await?;
        assert_eq!(r.status, 201, "{}", r.body);
        let person = r.body["person_id"].as_i64().ok_or("person_id")?;
        let rpps = r.body["rpps"].as_str().ok_or("rpps")?.to_owned();
        let path = format!("/professionals/{rpps}");
        let from = outbox(&server).await?.len();
        let mut identity = registration("Inès", "Morel", EHPAD, None)["identity"].clone();
        identity["usage_name"] = json!("Lambert");
        let a = api
            .answer(
                api.raw(Method::PUT, &format!("{path}/identity"))
                    .bearer_auth(&sophie)
                    .header("If-Match", "\"1\"")
                    .json(&json!({"identity": identity, "reason": "Mariage"})),
            )
            .await?;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(
            queued_since(&server, from).await?.is_empty(),
            "no address, no mail"
        );

        // An address given, then removed: the removal is told to the address removed.
        for (version, email) in [
            ("\"2\"", json!("ines.l@example.org")),
            ("\"3\"", Value::Null),
        ] {
            let a = api
                .answer(
                    api.raw(Method::PUT, &format!("{path}/contact"))
                        .bearer_auth(&sophie)
                        .header("If-Match", version)
                        .json(&json!({"email": email})),
                )
                .await?;
            assert_eq!(a.status, 200, "{}", a.body);
        }
        let rows = queued_since(&server, from).await?;
        let sent: Vec<(&str, &str)> = rows
            .iter()
            .map(|(k, _, p)| (k.as_str(), p["to"].as_str().unwrap_or_default()))
            .collect();
        assert_eq!(
            sent,
            [
                (
                    format!("contact_changed:{person}:3").as_str(),
                    "ines.l@example.org"
                ),
                (
                    format!("contact_changed_notice:{person}:4").as_str(),
                    "ines.l@example.org"
                ),
            ]
        );
        assert_eq!(
            rows[0].2["last_name"], "Lambert",
            "greeted by the name in use"
        );
        let dir = tempfile::tempdir()?;
        deliver(&server, dir.path()).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_self_registration_is_mailed_with_its_reason() -> TestResult {
    for server in demo_servers().await? {
        let api = Api::new(&server)?;
        let demo = Demo::of(&server).await?;
        let sophie = person_token(&server, &demo.idnps("Sophie Bernard")?).await?;
        let mut ids = Vec::new();
        for (first, last, email) in [
            ("Aminata", "Traoré", Some("aminata.t@example.org")),
            ("Lina", "Perrin", None),
        ] {
            let a = api
                .call(
                    Method::POST,
                    "/self-registrations",
                    None,
                    Some(registration(first, last, SSIAD, email)),
                )
                .await?;
            assert_eq!(a.status, 202, "{}", a.body);
            ids.push(a.body["id"].as_i64().ok_or("id")?);
        }
        let from = outbox(&server).await?.len();
        // Without a reason: refused, nothing queued.
        let a = api
            .post(
                &format!("/self-registrations/{}/reject", ids[0]),
                &sophie,
                json!({}),
            )
            .await?;
        assert_eq!(a.status, 422, "{}", a.body);
        assert!(queued_since(&server, from).await?.is_empty());
        for id in &ids {
            let a = api
                .post(
                    &format!("/self-registrations/{id}/reject"),
                    &sophie,
                    json!({"reason": "Vous ne faites pas partie du personnel du SSIAD."}),
                )
                .await?;
            assert_eq!(a.status, 200, "{}", a.body);
        }
        let rows = queued_since(&server, from).await?;
        assert_eq!(
            rows.len(),
            1,
            "only the submission with an address: {rows:?}"
        );
        let key = format!("self_registration_rejected:{}", ids[0]);
        assert_eq!(
            (rows[0].0.as_str(), rows[0].1.as_str()),
            (key.as_str(), "mail.self_registration_rejected")
        );
        assert_eq!(
            rows[0].2,
            json!({
                "pending_registration_id": ids[0],
                "to": "aminata.t@example.org",
                "first_name": "Aminata",
                "last_name": "Traoré",
                "structure_name": "SSIAD Les Tilleuls",
                "reason": "Vous ne faites pas partie du personnel du SSIAD.",
            })
        );
        let m = rendered(&rows[0])?;
        assert_eq!(
            m.subject,
            "Votre demande d'enregistrement RPPS+ n'a pas été acceptée"
        );
        assert!(
            m.text
                .contains("Motif du refus : Vous ne faites pas partie du personnel du SSIAD."),
            "{}",
            m.text
        );
        let dir = tempfile::tempdir()?;
        let files = deliver(&server, dir.path()).await?;
        eml(&files, &key, "aminata.t@example.org")?;
    }
    Ok(())
}
