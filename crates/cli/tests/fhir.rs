//! The FHIR directory API under `/fhir/v2` over real HTTP, on SQLite and on PostgreSQL, as the
//! national Annuaire Santé API's users call it: searches by name followed page by page to the
//! end, identifiers with the IG's systems, situations with their establishment included,
//! registrations and closings visible at once, keyset pages that neither repeat nor miss rows
//! while others register, 400/404 as OperationOutcomes, and no private data in any answer.
//!
//! Every request goes through [`Fhir::send`], which carries the directory key.

mod api_common;

use std::collections::HashSet;

use api_common::*;
use reqwest::StatusCode;
use rppsplus_app::Actor;
use rppsplus_test_support::TestServer;
use serde_json::{Value, json};

/// Pages followed at most before a test gives up (a loop that never ends is a failure).
const MAX_PAGES: usize = 200;

/// A FHIR client of one server, with its directory key.
struct Fhir {
    http: reqwest::Client,
    base: String,
    key: Option<String>,
    /// Every body received, to look for private data at the end.
    bodies: std::sync::Mutex<Vec<String>>,
}

struct Reply {
    status: StatusCode,
    content_type: String,
    body: Value,
}

impl Fhir {
    async fn new(server: &TestServer) -> Fallible<Fhir> {
        let issued = server
            .app
            .create_directory_key(&Actor::Operator, "Tests FHIR", false, Some(1_000_000))
            .await
            .map_err(|e| format!("{e:?}"))?;
        Ok(Fhir {
            http: reqwest::Client::new(),
            base: server.url("/fhir/v2"),
            key: Some(issued.secret),
            bodies: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// The one place requests are sent (and the key added).
    async fn send(&self, req: reqwest::RequestBuilder) -> Fallible<Reply> {
        let req = match &self.key {
            Some(k) => req.header("ESANTE-API-KEY", k),
            None => req,
        };
        let r = req.send().await?;
        let status = r.status();
        let content_type = r
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = r.text().await?;
        if let Ok(mut b) = self.bodies.lock() {
            b.push(text.clone());
        }
        let body = serde_json::from_str(&text).map_err(|e| format!("{status}: {e}: {text}"))?;
        Ok(Reply {
            status,
            content_type,
            body,
        })
    }

    /// GET of a path below the base, or of an absolute URL (a `next` link).
    async fn get(&self, path_or_url: &str) -> Fallible<Reply> {
        let url = if path_or_url.starts_with("http") {
            path_or_url.to_owned()
        } else {
            format!("{}{path_or_url}", self.base)
        };
        self.send(self.http.get(url)).await
    }

    async fn post_search(&self, resource: &str, form: &[(&str, &str)]) -> Fallible<Reply> {
        self.send(
            self.http
                .post(format!("{}/{resource}/_search", self.base))
                .form(form),
        )
        .await
    }

    /// Every match of a search, following `next` to the end; also returns the pages' count.
    async fn all(&self, first: &str) -> Fallible<(Vec<Value>, usize)> {
        let mut url = first.to_owned();
        let mut matches = Vec::new();
        for pages in 1..=MAX_PAGES {
            let r = self.get(&url).await?;
            assert_eq!(r.status, StatusCode::OK, "{url}: {}", r.body);
            assert_eq!(r.body["type"], "searchset");
            matches.extend(matches_of(&r.body));
            match next_link(&r.body) {
                Some(next) => url = next,
                None => return Ok((matches, pages)),
            }
        }
        Err(format!("more than {MAX_PAGES} pages for {first}").into())
    }

    fn bodies(&self) -> Vec<String> {
        self.bodies.lock().map(|b| b.clone()).unwrap_or_default()
    }
}

fn matches_of(bundle: &Value) -> Vec<Value> {
    bundle["entry"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter(|e| e["search"]["mode"] == "match")
                .map(|e| e["resource"].clone())
                .collect()
        })
        .unwrap_or_default()
}

fn included_of(bundle: &Value) -> Vec<Value> {
    bundle["entry"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter(|e| e["search"]["mode"] == "include")
                .map(|e| e["resource"].clone())
                .collect()
        })
        .unwrap_or_default()
}

fn next_link(bundle: &Value) -> Option<String> {
    bundle["link"]
        .as_array()?
        .iter()
        .find_map(|l| (l["relation"] == "next").then(|| l["url"].as_str().map(str::to_owned))?)
}

fn id_of(resource: &Value) -> String {
    resource["id"].as_str().unwrap_or_default().to_owned()
}

fn identifier(resource: &Value, system: &str) -> Option<String> {
    resource["identifier"]
        .as_array()?
        .iter()
        .find_map(|i| (i["system"] == system).then(|| i["value"].as_str().map(str::to_owned))?)
}

const IDNPS: &str = "urn:oid:1.2.250.1.71.4.2.1";
const RPPS: &str = "https://rpps.esante.gouv.fr";
const FINESS: &str = "https://finess.esante.gouv.fr";

/// What a registration stores that must never be published.
struct Private {
    birth_name: &'static str,
    birth_date: &'static str,
    email: String,
    mobile: &'static str,
    id_number: &'static str,
}

/// A registration whose civil names differ from its exercise names.
fn registration(exercise_last: &str, exercise_first: &str, n: usize) -> (Value, Private) {
    let private = Private {
        birth_name: "Perrinault",
        birth_date: "1979-03-14",
        email: format!("joelle.perrinault.{n}@example.org"),
        mobile: "+33612345678",
        id_number: "ZX9876543",
    };
    let body = json!({
        "identity": {
            "civility": "MME",
            "sex": "F",
            "birth_name": private.birth_name,
            "usage_name": null,
            "first_names": ["Joëlle", &format!("N{}", "abcdefghijklmnopqrstuvwxyz".chars().nth(n % 26).unwrap_or('a'))],
            "birth_date": private.birth_date,
            "birth_country": "99100",
            "birth_commune": "69123",
            "id_document": {"type": "CNI", "number": private.id_number, "expires_on": "2032-01-31"}
        },
        "contact": {"email": private.email, "mobile": if n == 0 { json!(private.mobile) } else { Value::Null }},
        "exercise": {
            "exercise_last_name": exercise_last,
            "exercise_first_name": exercise_first,
            "establishment_finess": EHPAD,
            "start_date": "2025-01-06",
            "profession": "328",
            "role": "GENR12",
            "practice_mode": "S"
        },
        "existing_rpps": null,
        "confirm_new_person": true,
        "confirm_reason": "Homonyme distinct"
    });
    (body, private)
}

/// Registers through the JSON API as the EHPAD's manager; gives `(rpps, situation id)`.
async fn register(server: &TestServer, body: Value) -> Fallible<(String, String)> {
    let demo = Demo::of(server).await?;
    let token = person_token(server, &demo.idnps("Sophie Bernard")?).await?;
    let api = Api::new(server)?;
    let r = api.post("/registrations", &token, body).await?;
    assert_eq!(r.status, 201, "{}", r.body);
    Ok((
        r.body["rpps"].as_str().ok_or("rpps")?.to_owned(),
        r.body["situation_id"].to_string(),
    ))
}

/// `n` spelled with letters (names hold no digits): 12 → "bc".
fn letters(n: usize) -> String {
    n.to_string()
        .bytes()
        .map(|d| char::from(b'a' + (d - b'0')))
        .collect()
}

fn today_in_paris() -> String {
    rppsplus_domain::situation::paris_date(jiff::Timestamp::now()).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_national_api_client_reads_ours_unchanged() -> TestResult {
    for server in demo_servers().await? {
        let fhir = Fhir::new(&server).await?;

        let meta = fhir.get("/metadata").await?;
        assert_eq!(meta.status, StatusCode::OK);
        assert!(meta.content_type.starts_with("application/fhir+json"));
        assert_eq!(meta.body["resourceType"], "CapabilityStatement");

        let (body, private) = registration("Lefèvre-Marchal", "Élodie", 0);
        let (rpps, situation) = register(&server, body).await?;

        // The registration is found at once, by case- and accent-insensitive prefixes, one
        // match per page, following `next` to the end.
        let (found, pages) = fhir
            .all("/Practitioner?family=LEFEVRE-MAR&given=elo&_count=1")
            .await?;
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(pages >= 1);
        let p = &found[0];
        assert_eq!(p["resourceType"], "Practitioner");
        assert_eq!(identifier(p, RPPS), Some(rpps.clone()));
        assert_eq!(identifier(p, IDNPS), Some(format!("8{rpps}")));
        assert_eq!(p["name"][0]["family"], "Lefèvre-Marchal");
        assert_eq!(p["name"][0]["given"][0], "Élodie");
        assert_eq!(p["active"], true);
        let practitioner_id = id_of(p);

        // Every demo practitioner, two per page: each page's `next` is absolute, on the
        // public URL, and every practitioner comes with both identifiers.
        let (everyone, pages) = fhir.all("/Practitioner?_count=2").await?;
        assert!(pages > 2, "{pages} pages");
        for p in &everyone {
            assert!(identifier(p, IDNPS).is_some(), "{p}");
            assert!(identifier(p, RPPS).is_some(), "{p}");
        }
        let first = fhir.get("/Practitioner?_count=2").await?;
        let next = next_link(&first.body).ok_or("no next link")?;
        assert!(
            next.starts_with(&format!("{}/Practitioner?", fhir.base)),
            "{next}"
        );

        // The situation, with its establishment.
        let r = fhir
            .get(&format!(
                "/PractitionerRole?practitioner={practitioner_id}&_include=PractitionerRole:organization"
            ))
            .await?;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let roles = matches_of(&r.body);
        assert_eq!(roles.len(), 1);
        assert_eq!(id_of(&roles[0]), situation);
        assert_eq!(
            roles[0]["practitioner"]["reference"],
            format!("Practitioner/{practitioner_id}")
        );
        assert_eq!(roles[0]["code"][0]["coding"][0]["code"], "GENR12");
        let included = included_of(&r.body);
        assert_eq!(included.len(), 1);
        assert_eq!(included[0]["resourceType"], "Organization");
        assert_eq!(identifier(&included[0], FINESS), Some(EHPAD.to_owned()));
        assert_eq!(
            roles[0]["organization"]["reference"],
            format!("Organization/{}", id_of(&included[0]))
        );

        // The same search as a POST form, and a read.
        let posted = fhir
            .post_search(
                "PractitionerRole",
                &[
                    ("practitioner", &format!("Practitioner/{practitioner_id}")),
                    ("_include", "PractitionerRole:organization"),
                ],
            )
            .await?;
        assert_eq!(matches_of(&posted.body), roles);
        assert_eq!(included_of(&posted.body), included);
        let read = fhir
            .get(&format!("/Practitioner/{practitioner_id}"))
            .await?;
        assert_eq!(read.status, StatusCode::OK);
        assert!(read.content_type.starts_with("application/fhir+json"));
        assert_eq!(read.body, found[0]);

        // Identifier searches, as the national API's users write them.
        let (by_rpps, _) = fhir
            .all(&format!("/Practitioner?identifier={RPPS}|{rpps}"))
            .await?;
        assert_eq!(by_rpps.len(), 1);
        let (by_idnps, _) = fhir
            .all(&format!("/Practitioner?identifier=8{rpps}"))
            .await?;
        assert_eq!(by_idnps.len(), 1);
        let (establishment, _) = fhir
            .all(&format!("/Organization?identifier={FINESS}|{EHPAD}&_revinclude=PractitionerRole:organization"))
            .await?;
        assert_eq!(establishment.len(), 1);

        // `_total`, `_elements`.
        let r = fhir.get("/Practitioner?_total=accurate&_count=1").await?;
        assert_eq!(r.body["total"].as_u64(), Some(everyone.len() as u64));
        let r = fhir.get("/Practitioner?_count=1").await?;
        assert!(r.body.get("total").is_none(), "counted only on demand");
        let r = fhir
            .get(&format!(
                "/Practitioner?_id={practitioner_id}&_elements=identifier"
            ))
            .await?;
        let m = &matches_of(&r.body)[0];
        assert!(m.get("name").is_none());
        assert!(m.get("identifier").is_some());
        assert_eq!(m["meta"]["tag"][0]["code"], "SUBSETTED");

        assert_no_private_data(&fhir, &private);
    }
    Ok(())
}

fn assert_no_private_data(fhir: &Fhir, private: &Private) {
    for body in fhir.bodies() {
        for secret in [
            private.birth_name,
            private.birth_date,
            private.email.as_str(),
            private.mobile,
            private.id_number,
            "Joëlle",
        ] {
            assert!(!body.contains(secret), "{secret} published in {body}");
        }
        assert!(!body.contains("birthDate"), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_situation_turns_the_role_inactive_at_once() -> TestResult {
    for server in demo_servers().await? {
        let fhir = Fhir::new(&server).await?;
        let (body, private) = registration("Roussel", "Agathe", 1);
        let (rpps, situation) = register(&server, body).await?;
        let before_close = jiff::Timestamp::now();
        let role = fhir.get(&format!("/PractitionerRole/{situation}")).await?;
        assert_eq!(role.body["active"], true);
        let practitioner = role.body["practitioner"]["reference"]
            .as_str()
            .ok_or("reference")?
            .to_owned();

        let demo = Demo::of(&server).await?;
        let token = person_token(&server, &demo.idnps("Sophie Bernard")?).await?;
        let api = Api::new(&server)?;
        let closed = api
            .post(
                &format!("/situations/{situation}/close"),
                &token,
                json!({"end_date": today_in_paris(), "reason": "Fin de contrat"}),
            )
            .await?;
        assert_eq!(closed.status, 200, "{}", closed.body);

        let role = fhir.get(&format!("/PractitionerRole/{situation}")).await?;
        assert_eq!(role.body["active"], false, "{}", role.body);
        assert_eq!(role.body["period"]["end"], today_in_paris());
        let p = fhir.get(&format!("/{practitioner}")).await?;
        assert_eq!(p.body["active"], false, "no situation in force: {}", p.body);
        assert_eq!(identifier(&p.body, RPPS), Some(rpps.clone()));

        let (inactive, _) = fhir
            .all(&format!("/PractitionerRole?_id={situation}&active=false"))
            .await?;
        assert_eq!(inactive.len(), 1);
        let (active, _) = fhir
            .all(&format!("/PractitionerRole?_id={situation}&active=true"))
            .await?;
        assert!(active.is_empty());

        // The delta feed from just before the closing has the practitioner and the role.
        let since = format!("ge{}", before_close.strftime("%Y-%m-%dT%H:%M:%SZ"));
        let (changed, _) = fhir
            .all(&format!("/Practitioner?_lastUpdated={since}&_count=5"))
            .await?;
        assert!(
            changed
                .iter()
                .any(|p| identifier(p, RPPS).as_deref() == Some(rpps.as_str())),
            "{changed:?}"
        );
        let (changed_roles, _) = fhir
            .all(&format!("/PractitionerRole?_lastUpdated={since}"))
            .await?;
        assert!(changed_roles.iter().any(|r| id_of(r) == situation));
        let (old, _) = fhir.all("/Practitioner?_lastUpdated=lt2000-01-01").await?;
        assert!(old.is_empty());

        assert_no_private_data(&fhir, &private);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_through_everything_while_others_register_sees_each_row_once() -> TestResult {
    for server in demo_servers().await? {
        let fhir = Fhir::new(&server).await?;
        let (before, _) = fhir.all("/Practitioner?_count=500").await?;
        let existing: HashSet<String> = before.iter().map(id_of).collect();
        assert!(existing.len() > 4);

        let mut seen = Vec::new();
        let mut url = "/Practitioner?_count=3".to_owned();
        let mut finished = false;
        for n in 10..10 + MAX_PAGES {
            let r = fhir.get(&url).await?;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            seen.extend(matches_of(&r.body).iter().map(id_of));
            // Someone registers between two pages.
            let (body, _) = registration(&format!("Nouveau-{}", letters(n)), "Camille", n);
            register(&server, body).await?;
            match next_link(&r.body) {
                Some(next) => url = next,
                None => {
                    finished = true;
                    break;
                }
            }
        }
        assert!(finished, "the pages never ended");
        let unique: HashSet<String> = seen.iter().cloned().collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "a practitioner seen twice: {seen:?}"
        );
        for id in &existing {
            assert!(unique.contains(id), "Practitioner/{id} missed");
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_operation_outcomes() -> TestResult {
    for server in demo_servers().await? {
        let fhir = Fhir::new(&server).await?;
        for (path, status, names) in [
            ("/Practitioner?birthdate=1980-01-01", 400, "birthdate"),
            (
                "/Practitioner?family:phonetic=dupont",
                400,
                "family:phonetic",
            ),
            (
                "/PractitionerRole?_include=Organization:partof",
                400,
                "Organization:partof",
            ),
            ("/Practitioner?_lastUpdated=hier", 400, "hier"),
            ("/Practitioner?_format=xml", 400, "xml"),
            ("/Practitioner/999999999", 404, "Practitioner/999999999"),
            ("/Practitioner/abc", 404, "Practitioner/abc"),
            ("/PractitiXXXner?name=a", 404, "PractitiXXXner"),
        ] {
            let r = fhir.get(path).await?;
            assert_eq!(r.status.as_u16(), status, "{path}: {}", r.body);
            assert!(
                r.content_type.starts_with("application/fhir+json"),
                "{path}"
            );
            assert_eq!(r.body["resourceType"], "OperationOutcome", "{path}");
            let diagnostics = r.body["issue"][0]["diagnostics"]
                .as_str()
                .unwrap_or_default();
            assert!(diagnostics.contains(names), "{path}: {diagnostics}");
        }
        let r = fhir
            .post_search("Organization", &[("colour", "bleu")])
            .await?;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.body["issue"][0]["code"], "not-supported");
    }
    Ok(())
}
