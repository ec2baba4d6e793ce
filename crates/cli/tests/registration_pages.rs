//! The registration wizard's pages over real HTTP, on SQLite and on PostgreSQL, as a browser
//! without JavaScript uses them: search before create, the three steps with their server-side
//! draft, the scan of the identity document, the confirmation and the RPPS number; every
//! invalid field of every step reported on its own with nothing stored; drafts resumed and
//! deleted; other managers kept out; forms without their token refused.

use std::collections::BTreeMap;
use std::error::Error;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, ORIGIN, SET_COOKIE};
use rppsplus_app::Actor;
use rppsplus_store::{DraftId, RowCounts};
use rppsplus_test_support::{TestDb, TestServer};

type TestResult = Result<(), Box<dyn Error>>;
type Fallible<T> = Result<T, Box<dyn Error>>;

const EHPAD: &str = "690001029";
const HOSPITAL: &str = "690003025";

/// A browser without JavaScript: keeps cookies, does not follow redirects, sends `Origin` on
/// POST like a real one.
struct Browser {
    base: String,
    client: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
    bytes: Vec<u8>,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The form token in the page.
    fn csrf(&self) -> String {
        let marker = r#"name="csrf" value=""#;
        self.body
            .find(marker)
            .map(|i| &self.body[i + marker.len()..])
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_default()
            .to_owned()
    }

    /// The error summary's links, in order: the ids of the fields in error.
    fn summary_links(&self) -> Vec<String> {
        let Some(start) = self.body.find(r#"class="error-summary""#) else {
            return Vec::new();
        };
        let summary = &self.body[start..];
        let summary = &summary[..summary.find("</div>").unwrap_or(summary.len())];
        summary
            .split(r##"<a href="#"##)
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .map(str::to_owned)
            .collect()
    }

    /// The opening tag of the element with this id.
    fn element(&self, id: &str) -> Option<&str> {
        let marker = format!(r#"id="{id}""#);
        let at = self.body.find(&marker)?;
        let start = self.body[..at].rfind('<')?;
        let end = at + self.body[at..].find('>')?;
        Some(&self.body[start..=end])
    }
}

/// One part of a `multipart/form-data` body.
enum Part<'a> {
    Text(&'a str, &'a str),
    File {
        name: &'a str,
        file_name: &'a str,
        content_type: &'a str,
        bytes: &'a [u8],
    },
}

const BOUNDARY: &str = "----rppsplus-test-boundary-7MA4YWxkTrZu0gW";

fn multipart_body(parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for p in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match p {
            Part::Text(name, value) => {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                        .as_bytes(),
                );
            }
            Part::File {
                name,
                file_name,
                content_type,
                bytes,
            } => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(bytes);
                body.extend_from_slice(b"\r\n");
            }
        }
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

impl Browser {
    fn new(base: &str) -> Result<Browser, reqwest::Error> {
        Ok(Browser {
            base: base.to_owned(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            cookies: BTreeMap::new(),
        })
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn keep(&mut self, r: reqwest::Response) -> Result<Page, reqwest::Error> {
        for c in r.headers().get_all(SET_COOKIE) {
            let Ok(c) = c.to_str() else { continue };
            let Some((pair, _)) = c.split_once(';') else {
                continue;
            };
            if let Some((k, v)) = pair.split_once('=') {
                if v.is_empty() || c.contains("Max-Age=0") {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_owned(), v.to_owned());
                }
            }
        }
        let status = r.status();
        let headers = r.headers().clone();
        let bytes = r.bytes().await?.to_vec();
        Ok(Page {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
        })
    }

    async fn get(&mut self, path: &str) -> Result<Page, reqwest::Error> {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await?;
        self.keep(r).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Result<Page, reqwest::Error> {
        self.post_from(path, form, &self.base.clone()).await
    }

    async fn post_from(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        origin: &str,
    ) -> Result<Page, reqwest::Error> {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header(ORIGIN, origin)
            .form(form)
            .send()
            .await?;
        self.keep(r).await
    }

    async fn post_multipart(
        &mut self,
        path: &str,
        parts: &[Part<'_>],
    ) -> Result<Page, reqwest::Error> {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header(ORIGIN, self.base.clone())
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(multipart_body(parts))
            .send()
            .await?;
        self.keep(r).await
    }

    async fn sign_in(server: &TestServer, name: &str) -> Fallible<Browser> {
        let mut b = Browser::new(&server.base_url)?;
        let idnps = idnps_of(server, name).await?;
        let p = b
            .post("/connexion/locale", &[("idnps", idnps.as_str())])
            .await?;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
        Ok(b)
    }

    async fn csrf(&mut self) -> Fallible<String> {
        let token = self.get("/enregistrements").await?.csrf();
        assert_eq!(token.len(), 64);
        Ok(token)
    }
}

async fn demo_servers() -> Fallible<Vec<TestServer>> {
    let mut servers = vec![TestServer::start_demo(TestDb::sqlite().await?).await?];
    if let Some(pg) = TestDb::postgres().await? {
        servers.push(TestServer::start_demo(pg).await?);
    }
    Ok(servers)
}

async fn idnps_of(server: &TestServer, name: &str) -> Fallible<String> {
    let summary = server
        .app
        .directory_summary()
        .await
        .map_err(|e| format!("{e:?}"))?;
    summary
        .people
        .into_iter()
        .find(|p| p.name == name)
        .map(|p| p.idnps)
        .ok_or_else(|| format!("no demo person {name}").into())
}

async fn actor_of(server: &TestServer, name: &str) -> Fallible<Actor> {
    let idnps = rppsplus_domain::Idnps::parse(&idnps_of(server, name).await?)?;
    let mut tx = server.app.store().begin().await?;
    let p = tx.person_by_idnps(&idnps).await?.ok_or("unknown person")?;
    tx.rollback().await?;
    Ok(Actor::Person { id: p.id, idnps })
}

/// Row counts and the length of the change feed, to prove that a refused form stored nothing.
async fn stored(server: &TestServer) -> Fallible<(RowCounts, usize)> {
    let store = server.app.store();
    Ok((
        store.row_counts().await?,
        store.changes_after(0, 100_000).await?.len(),
    ))
}

/// The draft as stored (payload, step, last save) and the number of audit rows.
async fn draft_state(
    server: &TestServer,
    id: i64,
) -> Fallible<Option<(serde_json::Value, i16, jiff::Timestamp)>> {
    let mut tx = server.app.store().begin().await?;
    let d = tx.draft(DraftId(id)).await?;
    tx.rollback().await?;
    Ok(d.map(|d| (d.payload, d.step, d.updated_at)))
}

/// The draft id in a step URL.
fn draft_id(location: &str) -> Fallible<i64> {
    Ok(location
        .trim_start_matches("/enregistrements/")
        .split('/')
        .next()
        .ok_or("draft id")?
        .parse()?)
}

const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

/// The état-civil fields of a valid identity, by form name.
fn identity_fields() -> Vec<(&'static str, &'static str)> {
    vec![
        ("civility", "MME"),
        ("sex", "F"),
        ("birth_name", "Lemoine-Durand"),
        ("usage_name", ""),
        ("first_names", "Anaïs"),
        ("first_names", "Marie"),
        ("first_names", ""),
        ("first_names", ""),
        ("birth_date", "1988-02-14"),
        ("birth_country", "99100"),
        ("birth_commune", "Lyon"),
        ("id_type", "CNI"),
        ("id_number", "X4RTBPFW4"),
        ("id_expiry", "2033-05-31"),
    ]
}

fn with<'a>(fields: &[(&'a str, &'a str)], name: &str, value: &'a str) -> Vec<(&'a str, &'a str)> {
    fields
        .iter()
        .map(|(k, v)| if *k == name { (*k, value) } else { (*k, *v) })
        .collect()
}

fn parts<'a>(csrf: &'a str, fields: &[(&'a str, &'a str)]) -> Vec<Part<'a>> {
    let mut out = vec![Part::Text("csrf", csrf)];
    out.extend(fields.iter().map(|(k, v)| Part::Text(k, v)));
    out
}

fn no_file() -> Part<'static> {
    Part::File {
        name: "scan",
        file_name: "",
        content_type: "application/octet-stream",
        bytes: b"",
    }
}

fn exercise_fields(finess: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("exercise_last_name", "Lemoine-Durand"),
        ("exercise_first_name", "Anaïs"),
        ("establishment_finess", finess),
        ("start_date", "2025-09-01"),
        ("profession", "328"),
        ("role", "GENR12"),
        ("practice_mode", "S"),
    ]
}

/// Starts a new person's draft from a search that finds nobody; returns the draft id.
async fn start_draft(b: &mut Browser, csrf: &str) -> Fallible<i64> {
    let search = b
        .get("/enregistrements/recherche?name=Lemoine-Durand&first_name=Ana%C3%AFs&birth_date=1988-02-14")
        .await?;
    assert_eq!(search.status, StatusCode::OK, "{}", search.body);
    assert!(
        search.body.contains("Personne ne correspond"),
        "{}",
        search.body
    );
    let started = b
        .post(
            "/enregistrements/nouveau",
            &[
                ("csrf", csrf),
                ("name", "Lemoine-Durand"),
                ("first_name", "Anaïs"),
                ("birth_date", "1988-02-14"),
            ],
        )
        .await?;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    assert!(
        started.location().ends_with("/etat-civil"),
        "{}",
        started.location()
    );
    draft_id(started.location())
}

/// Walks the steps 1 and 2 with valid values; returns the draft id, at step 3.
async fn draft_at_exercise(b: &mut Browser, csrf: &str) -> Fallible<i64> {
    let id = start_draft(b, csrf).await?;
    let mut p = parts(csrf, &identity_fields());
    p.push(no_file());
    let saved = b
        .post_multipart(&format!("/enregistrements/{id}/etat-civil"), &p)
        .await?;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let saved = b
        .post(
            &format!("/enregistrements/{id}/contact"),
            &[
                ("csrf", csrf),
                ("email", "anais.lemoine@example.org"),
                ("mobile", "06 45 12 34 56"),
            ],
        )
        .await?;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(saved.location(), format!("/enregistrements/{id}/exercice"));
    Ok(id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_registers_a_professional_through_the_three_steps() -> TestResult {
    for server in demo_servers().await? {
        let mut b = Browser::sign_in(&server, "Sophie Bernard").await?;
        let home = b.get("/mes-structures").await?;
        assert!(
            home.body.contains(r#"href="/enregistrements""#),
            "the navigation links the wizard"
        );
        let csrf = b.csrf().await?;
        let before = stored(&server).await?;

        let id = start_draft(&mut b, &csrf).await?;
        let step1 = b.get(&format!("/enregistrements/{id}/etat-civil")).await?;
        assert_eq!(step1.status, StatusCode::OK);
        assert!(step1.body.contains(r#"enctype="multipart/form-data""#));
        assert!(
            step1.body.contains(r#"value="Lemoine-Durand""#),
            "prefilled from the search"
        );
        assert!(step1.body.contains("Étape 1 sur 4"));
        // Later steps are not reachable before the earlier ones are done.
        let early = b
            .get(&format!("/enregistrements/{id}/confirmation"))
            .await?;
        assert_eq!(early.status, StatusCode::SEE_OTHER);
        assert_eq!(
            early.location(),
            format!("/enregistrements/{id}/etat-civil")
        );

        // Step 1 with a PNG scan (declared as a PDF: the content decides).
        let png: Vec<u8> = [
            &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A][..],
            &[7u8; 3000],
        ]
        .concat();
        let mut p = parts(&csrf, &identity_fields());
        p.push(Part::File {
            name: "scan",
            file_name: "cni.pdf",
            content_type: "application/pdf",
            bytes: &png,
        });
        let saved = b
            .post_multipart(&format!("/enregistrements/{id}/etat-civil"), &p)
            .await?;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        assert_eq!(saved.location(), format!("/enregistrements/{id}/contact"));
        let scan = b.get(&format!("/enregistrements/{id}/piece")).await?;
        assert_eq!(scan.status, StatusCode::OK);
        assert_eq!(scan.bytes, png);
        assert_eq!(scan.header("content-type"), "image/png");
        assert!(
            scan.header("content-disposition")
                .starts_with("attachment;")
        );
        assert_eq!(scan.header("x-content-type-options"), "nosniff");

        let saved = b
            .post(
                &format!("/enregistrements/{id}/contact"),
                &[
                    ("csrf", &csrf),
                    ("email", "anais.lemoine@example.org"),
                    ("mobile", "06 45 12 34 56"),
                ],
            )
            .await?;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        let step3 = b.get(saved.location()).await?;
        assert_eq!(step3.status, StatusCode::OK);
        // Exercise names prefilled from the état civil; the five roles with their documents.
        assert!(
            step3
                .body
                .contains(r#"name="exercise_last_name" value="Lemoine-Durand""#),
            "{}",
            step3.body
        );
        assert!(
            step3
                .body
                .contains(r#"name="exercise_first_name" value="Anaïs""#)
        );
        for role in ["GENR08", "GENR09", "GENR10", "GENR11", "GENR12"] {
            assert!(step3.body.contains(&format!(r#"value="{role}""#)), "{role}");
        }
        assert!(step3.body.contains("types de documents"));
        // Only the establishments the manager may manage.
        assert!(step3.body.contains(EHPAD));
        assert!(!step3.body.contains(&format!(r#"value="{HOSPITAL}""#)));

        let saved = b
            .post(
                &format!("/enregistrements/{id}/exercice"),
                &parts_form(&csrf, &exercise_fields(EHPAD)),
            )
            .await?;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        assert_eq!(
            saved.location(),
            format!("/enregistrements/{id}/confirmation")
        );
        let recap = b
            .get(&format!("/enregistrements/{id}/confirmation"))
            .await?;
        assert_eq!(recap.status, StatusCode::OK);
        for shown in [
            "Lemoine-Durand",
            "Anaïs, Marie",
            "14/02/1988",
            "anais.lemoine@example.org",
            "GENR12",
            "Lyon (69123)",
            "image PNG",
        ] {
            assert!(recap.body.contains(shown), "{shown}: {}", recap.body);
        }
        assert_eq!(
            stored(&server).await?.0.persons,
            before.0.persons,
            "nothing registered yet"
        );

        let done = b
            .post(
                &format!("/enregistrements/{id}/confirmation"),
                &[("csrf", &csrf)],
            )
            .await?;
        assert_eq!(done.status, StatusCode::OK, "{}", done.body);
        let marker = r#"<strong id="rpps-number">"#;
        let rpps: String = done
            .body
            .split(marker)
            .nth(1)
            .and_then(|s| s.split('<').next())
            .ok_or("RPPS number shown")?
            .to_owned();
        let number = rppsplus_domain::Rpps::parse(&rpps)?;
        assert!(
            done.body
                .contains(&format!(r#"href="/professionnels/{rpps}""#))
        );
        let after = stored(&server).await?;
        assert_eq!(after.0.persons, before.0.persons + 1);
        assert_eq!(after.0.situations, before.0.situations + 1);
        assert!(after.1 > before.1, "the change feed moved");

        // The scan now belongs to the person; the draft is gone.
        assert_eq!(draft_state(&server, id).await?, None);
        let mut tx = server.app.store().begin().await?;
        let person = tx.person_by_rpps(&number).await?.ok_or("registered")?;
        assert_eq!(person.record.first_names, ["Anaïs", "Marie"]);
        // Typed by its name, the commune is stored by its COG code.
        assert_eq!(person.record.birth_commune.as_deref(), Some("69123"));
        assert_eq!(
            person.record.email.as_deref(),
            Some("anais.lemoine@example.org")
        );
        let docs = tx.documents_of_person(person.id).await?;
        tx.rollback().await?;
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].media_type, "image/png");
        let link = format!("/pieces-identite/{}", docs[0].id.0);
        assert!(done.body.contains(&link));
        let back = b.get(&link).await?;
        assert_eq!(back.status, StatusCode::OK);
        assert_eq!(back.bytes, png);
        assert_eq!(back.header("x-content-type-options"), "nosniff");
        assert!(
            back.header("content-disposition")
                .starts_with("attachment;")
        );
        let drafts = b.get("/enregistrements").await?;
        assert!(drafts.body.contains("aucun enregistrement en cours"));
        // The audit log names the scan by id, never its content or the person's name.
        let audit = server.app.store().audit_rows(0, 100_000).await?;
        let actions: Vec<&str> = audit.iter().map(|r| r.entry.action.as_str()).collect();
        assert!(actions.contains(&"identity_document.upload"));
        assert!(actions.contains(&"identity_document.attach"));
        assert!(
            !audit
                .iter()
                .any(|r| r.entry.details.to_string().contains("Lemoine"))
        );
    }
    Ok(())
}

fn parts_form<'a>(csrf: &'a str, fields: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut out = vec![("csrf", csrf)];
    out.extend_from_slice(fields);
    out
}

/// Sends one invalid value and checks: 422, one error linked to its own field (with
/// `aria-invalid` and the value kept), nothing stored, the draft unchanged.
#[allow(clippy::too_many_arguments)]
async fn refused_alone(
    server: &TestServer,
    id: i64,
    step: &str,
    sent: Page,
    field_id: &str,
    kept: &str,
    draft_before: &Option<(serde_json::Value, i16, jiff::Timestamp)>,
    before: &(RowCounts, usize),
) -> TestResult {
    assert_eq!(
        sent.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{step} {field_id}: {}",
        sent.body
    );
    assert_eq!(sent.summary_links(), [field_id], "{step}: {}", sent.body);
    let input = sent
        .element(field_id)
        .ok_or(format!("no element {field_id}"))?;
    assert!(
        input.contains(r#"aria-invalid="true""#),
        "{field_id}: {input}"
    );
    if !kept.is_empty() {
        assert!(
            sent.body.contains(&format!(r#"value="{kept}""#)),
            "{field_id} keeps {kept}"
        );
    }
    assert!(sent.body.contains(&format!(r#"{field_id}-error"#)));
    assert_eq!(&stored(server).await?, before, "{field_id}: nothing stored");
    assert_eq!(
        &draft_state(server, id).await?,
        draft_before,
        "{field_id}: draft unchanged"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_invalid_field_of_each_step_gets_its_own_message_and_nothing_is_stored() -> TestResult
{
    for server in demo_servers().await? {
        let mut b = Browser::sign_in(&server, "Sophie Bernard").await?;
        let csrf = b.csrf().await?;
        let id = start_draft(&mut b, &csrf).await?;
        let before = stored(&server).await?;
        let draft = draft_state(&server, id).await?;
        let valid = identity_fields();
        let step1 = format!("/enregistrements/{id}/etat-civil");
        // One invalid value per field: (form name, value, id of the field in error).
        let cases = [
            ("civility", "", "identity-civility"),
            ("sex", "X", "identity-sex"),
            ("birth_name", "L3moine", "identity-birth_name"),
            ("usage_name", "Du@rand", "identity-usage_name"),
            ("birth_date", "31/02/1988", "identity-birth_date"),
            ("birth_country", "99999", "identity-birth_country"),
            ("birth_commune", "99999", "identity-birth_commune"),
            ("birth_commune", "Saint-Denis", "identity-birth_commune"),
            ("birth_commune", "Lyonville", "identity-birth_commune"),
            ("id_type", "PERMIS", "identity-id_document-type"),
            ("id_number", "", "identity-id_document-number"),
            ("id_expiry", "2020-01-01", "identity-id_document-expires_on"),
        ];
        for (name, value, field_id) in cases {
            let mut p = parts(&csrf, &with(&valid, name, value));
            p.push(no_file());
            let sent = b.post_multipart(&step1, &p).await?;
            let kept = if name == "sex"
                || name == "civility"
                || name == "birth_country"
                || name == "id_type"
            {
                ""
            } else {
                value
            };
            refused_alone(
                &server,
                id,
                "état civil",
                sent,
                field_id,
                kept,
                &draft,
                &before,
            )
            .await?;
        }
        // The first prénom missing; a second one invalid.
        let mut no_first = valid.clone();
        no_first.retain(|(k, _)| *k != "first_names");
        let mut p = parts(&csrf, &no_first);
        p.push(no_file());
        let sent = b.post_multipart(&step1, &p).await?;
        assert_eq!(sent.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            sent.summary_links(),
            ["identity-first_names"],
            "{}",
            sent.body
        );
        let mut bad_second = valid.clone();
        if let Some(f) = bad_second
            .iter_mut()
            .filter(|(k, _)| *k == "first_names")
            .nth(1)
        {
            f.1 = "M4rie";
        }
        let mut p = parts(&csrf, &bad_second);
        p.push(no_file());
        let sent = b.post_multipart(&step1, &p).await?;
        refused_alone(
            &server,
            id,
            "état civil",
            sent,
            "identity-first_names-1",
            "M4rie",
            &draft,
            &before,
        )
        .await?;

        // Step 2, once step 1 is saved.
        let mut p = parts(&csrf, &valid);
        p.push(no_file());
        assert_eq!(
            b.post_multipart(&step1, &p).await?.status,
            StatusCode::SEE_OTHER
        );
        let draft = draft_state(&server, id).await?;
        let before = stored(&server).await?;
        let step2 = format!("/enregistrements/{id}/contact");
        let idnps = rppsplus_domain::Idnps::parse(&idnps_of(&server, "Sophie Bernard").await?)?;
        let mut tx = server.app.store().begin().await?;
        let sophie = tx.person_by_idnps(&idnps).await?.ok_or("Sophie")?;
        tx.rollback().await?;
        let someone_email = sophie.record.email.clone().ok_or("demo e-mail")?;
        let someone_mobile = sophie.record.mobile.clone().ok_or("demo mobile")?;
        for (email, mobile, field_id) in [
            ("anais@", "", "contact-email"),
            (someone_email.as_str(), "", "contact-email"),
            ("", "01 45 12 34 56", "contact-mobile"),
            ("", someone_mobile.as_str(), "contact-mobile"),
        ] {
            let sent = b
                .post(
                    &step2,
                    &[("csrf", &csrf), ("email", email), ("mobile", mobile)],
                )
                .await?;
            let kept = if email.is_empty() { mobile } else { email };
            refused_alone(
                &server, id, "contact", sent, field_id, kept, &draft, &before,
            )
            .await?;
        }
        let sent = b
            .post(
                &step2,
                &[("csrf", &csrf), ("email", someone_email.as_str())],
            )
            .await?;
        assert!(sent.body.contains("déjà utilisée par une autre personne"));

        // Step 3.
        let ok = b
            .post(
                &step2,
                &[
                    ("csrf", &csrf),
                    ("email", "anais.lemoine@example.org"),
                    ("mobile", ""),
                ],
            )
            .await?;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
        let draft = draft_state(&server, id).await?;
        let before = stored(&server).await?;
        let step3 = format!("/enregistrements/{id}/exercice");
        let valid = exercise_fields(EHPAD);
        for (name, value, field_id) in [
            (
                "exercise_last_name",
                "Dur4nd",
                "exercise-exercise_last_name",
            ),
            ("exercise_first_name", "4na", "exercise-exercise_first_name"),
            (
                "establishment_finess",
                HOSPITAL,
                "exercise-establishment_finess",
            ),
            ("start_date", "1980-01-01", "exercise-start_date"),
            ("profession", "999", "exercise-profession"),
            ("role", "GENR01", "exercise-role"),
            ("practice_mode", "Z", "exercise-practice_mode"),
        ] {
            let sent = b
                .post(&step3, &parts_form(&csrf, &with(&valid, name, value)))
                .await?;
            let kept = match name {
                "exercise_last_name" => "Dur4nd",
                "exercise_first_name" | "start_date" => value,
                _ => "",
            };
            refused_alone(
                &server, id, "exercice", sent, field_id, kept, &draft, &before,
            )
            .await?;
        }
        // A retired profession code: refused with the reference data's guidance.
        let sent = b
            .post(
                &step3,
                &parts_form(&csrf, &with(&valid, "profession", "323")),
            )
            .await?;
        assert_eq!(sent.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(sent.summary_links(), ["exercise-profession"]);
        assert!(
            sent.body.contains("328"),
            "the guidance names the code to use"
        );
        assert_eq!(stored(&server).await?, before);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_is_resumed_later_and_deleted() -> TestResult {
    for server in demo_servers().await? {
        let mut b = Browser::sign_in(&server, "Sophie Bernard").await?;
        let csrf = b.csrf().await?;
        let id = draft_at_exercise(&mut b, &csrf).await?;

        // Another day, signed in again: the draft is listed and resumes at the step reached.
        let mut again = Browser::sign_in(&server, "Sophie Bernard").await?;
        let list = again.get("/enregistrements").await?;
        assert_eq!(list.status, StatusCode::OK);
        assert!(list.body.contains("Anaïs Lemoine-Durand"), "{}", list.body);
        let resume = format!("/enregistrements/{id}/exercice");
        assert!(list.body.contains(&format!(r#"href="{resume}""#)));
        let page = again.get(&resume).await?;
        assert_eq!(page.status, StatusCode::OK);
        // Going back shows what was typed.
        let contact = again.get(&format!("/enregistrements/{id}/contact")).await?;
        assert!(
            contact
                .body
                .contains(r#"value="anais.lemoine@example.org""#)
        );

        let csrf = again.csrf().await?;
        let gone = again
            .post(
                &format!("/enregistrements/{id}/suppression"),
                &[("csrf", &csrf)],
            )
            .await?;
        assert_eq!(gone.status, StatusCode::SEE_OTHER);
        assert_eq!(draft_state(&server, id).await?, None);
        let list = again.get("/enregistrements?ok=supprime").await?;
        assert!(list.body.contains("Le brouillon a été supprimé"));
        assert!(!list.body.contains(&resume));
        assert_eq!(again.get(&resume).await?.status, StatusCode::NOT_FOUND);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_are_accepted_by_content_and_refused_when_too_large() -> TestResult {
    for server in demo_servers().await? {
        let mut b = Browser::sign_in(&server, "Sophie Bernard").await?;
        let csrf = b.csrf().await?;
        let id = start_draft(&mut b, &csrf).await?;
        let step1 = format!("/enregistrements/{id}/etat-civil");
        let draft = draft_state(&server, id).await?;
        let before = stored(&server).await?;
        let valid = identity_fields();
        let send = |bytes: &'static [u8], file_name: &'static str, content_type: &'static str| {
            let mut p = parts(&csrf, &valid);
            p.push(Part::File {
                name: "scan",
                file_name,
                content_type,
                bytes,
            });
            p
        };

        // An HTML page named and declared as a PDF: refused by its content.
        let html: &'static [u8] = b"<html><script>alert(1)</script></html>";
        let sent = b
            .post_multipart(&step1, &send(html, "cni.pdf", "application/pdf"))
            .await?;
        assert_eq!(sent.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(sent.summary_links(), ["identity-scan"]);
        assert!(
            sent.body
                .contains("ni un PDF, ni une image JPEG, ni une image PNG")
        );
        assert!(
            sent.body.contains("choisissez-le à nouveau"),
            "the file must be chosen again"
        );
        // The other fields keep their values.
        assert!(sent.body.contains(r#"value="Lemoine-Durand""#));
        assert_eq!(stored(&server).await?, before);
        assert_eq!(draft_state(&server, id).await?, draft);

        // Just over 5 Mo (under the server's general limit), then far over it.
        for size in [5 * 1024 * 1024 + 1, 9 * 1024 * 1024] {
            let mut big = b"%PDF-1.7\n".to_vec();
            big.resize(size, b'0');
            let big: &'static [u8] = Box::leak(big.into_boxed_slice());
            let sent = b
                .post_multipart(&step1, &send(big, "scan.pdf", "application/pdf"))
                .await?;
            assert!(
                sent.status == StatusCode::UNPROCESSABLE_ENTITY,
                "{size}: {} {}",
                sent.status,
                sent.body
            );
            assert!(
                sent.body.contains("Le fichier dépasse 5 Mo"),
                "{size}: {}",
                sent.body
            );
            assert!(
                sent.body.contains("<html"),
                "a French page, not a bare status"
            );
            assert_eq!(stored(&server).await?, before);
            assert_eq!(draft_state(&server, id).await?, draft);
        }

        // Exactly 5 Mo of JPEG is accepted, then replaced by a PDF.
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0];
        jpeg.resize(5 * 1024 * 1024, 1);
        let jpeg: &'static [u8] = Box::leak(jpeg.into_boxed_slice());
        let sent = b
            .post_multipart(&step1, &send(jpeg, "photo.png", "image/png"))
            .await?;
        assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
        let got = b.get(&format!("/enregistrements/{id}/piece")).await?;
        assert_eq!(got.header("content-type"), "image/jpeg");
        assert_eq!(got.bytes.len(), jpeg.len());
        let page = b.get(&step1).await?;
        assert!(page.body.contains("image JPEG, 5,0 Mo"), "{}", page.body);
        let sent = b
            .post_multipart(&step1, &send(PDF, "cni.pdf", "application/pdf"))
            .await?;
        assert_eq!(sent.status, StatusCode::SEE_OTHER);
        let got = b.get(&format!("/enregistrements/{id}/piece")).await?;
        assert_eq!(got.bytes, PDF);
        assert_eq!(got.header("content-type"), "application/pdf");
        // Saving the step again without a file keeps the scan.
        let mut p = parts(&csrf, &valid);
        p.push(no_file());
        assert_eq!(
            b.post_multipart(&step1, &p).await?.status,
            StatusCode::SEE_OTHER
        );
        assert_eq!(
            b.get(&format!("/enregistrements/{id}/piece")).await?.bytes,
            PDF
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_manager_reaches_neither_your_draft_nor_its_scan() -> TestResult {
    for server in demo_servers().await? {
        let mut sophie = Browser::sign_in(&server, "Sophie Bernard").await?;
        let csrf = sophie.csrf().await?;
        let id = start_draft(&mut sophie, &csrf).await?;
        let mut p = parts(&csrf, &identity_fields());
        p.push(Part::File {
            name: "scan",
            file_name: "cni.pdf",
            content_type: "application/pdf",
            bytes: PDF,
        });
        assert_eq!(
            sophie
                .post_multipart(&format!("/enregistrements/{id}/etat-civil"), &p)
                .await?
                .status,
            StatusCode::SEE_OTHER
        );
        let draft = draft_state(&server, id).await?;

        let mut karim = Browser::sign_in(&server, "Karim Haddad").await?;
        let k_csrf = karim.csrf().await?;
        for path in ["etat-civil", "contact", "exercice", "confirmation", "piece"] {
            let page = karim.get(&format!("/enregistrements/{id}/{path}")).await?;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
            assert!(!page.body.contains("Lemoine"), "{path}");
            assert!(!page.bytes.starts_with(b"%PDF"));
        }
        assert!(
            !karim
                .get("/enregistrements")
                .await?
                .body
                .contains("Lemoine")
        );
        let before = stored(&server).await?;
        for (path, form) in [
            (
                "contact",
                vec![("csrf", k_csrf.as_str()), ("email", "x@example.org")],
            ),
            ("confirmation", vec![("csrf", k_csrf.as_str())]),
            ("suppression", vec![("csrf", k_csrf.as_str())]),
        ] {
            let sent = karim
                .post(&format!("/enregistrements/{id}/{path}"), &form)
                .await?;
            assert_eq!(sent.status, StatusCode::NOT_FOUND, "{path}");
        }
        let mut p = parts(&k_csrf, &identity_fields());
        p.push(no_file());
        let sent = karim
            .post_multipart(&format!("/enregistrements/{id}/etat-civil"), &p)
            .await?;
        assert_eq!(sent.status, StatusCode::NOT_FOUND);
        assert_eq!(stored(&server).await?, before);
        assert_eq!(draft_state(&server, id).await?, draft);

        // Once registered, the scan is the person's: their managers only.
        assert_eq!(
            sophie
                .post(
                    &format!("/enregistrements/{id}/contact"),
                    &[("csrf", &csrf), ("email", ""), ("mobile", "")]
                )
                .await?
                .status,
            StatusCode::SEE_OTHER
        );
        assert_eq!(
            sophie
                .post(
                    &format!("/enregistrements/{id}/exercice"),
                    &parts_form(&csrf, &exercise_fields(EHPAD))
                )
                .await?
                .status,
            StatusCode::SEE_OTHER
        );
        let done = sophie
            .post(
                &format!("/enregistrements/{id}/confirmation"),
                &[("csrf", &csrf)],
            )
            .await?;
        assert_eq!(done.status, StatusCode::OK, "{}", done.body);
        let link = done
            .body
            .split(r#"href="/pieces-identite/"#)
            .nth(1)
            .and_then(|s| s.split('"').next())
            .ok_or("scan link")?
            .to_owned();
        let link = format!("/pieces-identite/{link}");
        assert_eq!(sophie.get(&link).await?.bytes, PDF);
        let refused = karim.get(&link).await?;
        assert_eq!(refused.status, StatusCode::NOT_FOUND);
        assert!(!refused.bytes.starts_with(b"%PDF"));
        // And nobody signed out.
        let mut anonymous = Browser::new(&server.base_url)?;
        assert_eq!(anonymous.get(&link).await?.status, StatusCode::SEE_OTHER);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_without_the_token_or_from_elsewhere_are_refused() -> TestResult {
    for server in demo_servers().await? {
        let mut b = Browser::sign_in(&server, "Sophie Bernard").await?;
        let csrf = b.csrf().await?;
        let id = draft_at_exercise(&mut b, &csrf).await?;
        let draft = draft_state(&server, id).await?;
        let before = stored(&server).await?;
        let new = [
            ("name", "Lemoine"),
            ("first_name", "Anaïs"),
            ("birth_date", "1988-02-14"),
        ];
        let sent = b
            .post("/enregistrements/nouveau", &parts_form("nope", &new))
            .await?;
        assert_eq!(sent.status, StatusCode::FORBIDDEN);
        let sent = b
            .post_from(
                "/enregistrements/nouveau",
                &parts_form(&csrf, &new),
                "https://evil.example",
            )
            .await?;
        assert_eq!(sent.status, StatusCode::FORBIDDEN);
        let sent = b
            .post(
                &format!("/enregistrements/{id}/exercice"),
                &parts_form("", &exercise_fields(EHPAD)),
            )
            .await?;
        assert_eq!(sent.status, StatusCode::FORBIDDEN);
        let sent = b
            .post(
                &format!("/enregistrements/{id}/confirmation"),
                &[("csrf", "0")],
            )
            .await?;
        assert_eq!(sent.status, StatusCode::FORBIDDEN);
        let sent = b
            .post(&format!("/enregistrements/{id}/suppression"), &[])
            .await?;
        assert_eq!(sent.status, StatusCode::FORBIDDEN);
        let mut p = parts("wrong", &identity_fields());
        p.push(Part::File {
            name: "scan",
            file_name: "cni.pdf",
            content_type: "application/pdf",
            bytes: PDF,
        });
        let sent = b
            .post_multipart(&format!("/enregistrements/{id}/etat-civil"), &p)
            .await?;
        assert_eq!(sent.status, StatusCode::FORBIDDEN);
        assert_eq!(stored(&server).await?, before);
        assert_eq!(draft_state(&server, id).await?, draft);
        let mine = server
            .app
            .my_drafts(&actor_of(&server, "Sophie Bernard").await?)
            .await
            .map_err(|e| format!("{e:?}"))?;
        assert_eq!(mine.len(), 1, "no draft started");
        assert!(mine[0].scan.is_none(), "no scan stored");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_people_are_reused_and_near_twins_need_a_reason() -> TestResult {
    for server in demo_servers().await? {
        let mut b = Browser::sign_in(&server, "Sophie Bernard").await?;
        let csrf = b.csrf().await?;
        // A professional of the hospital, outside Sophie's scope: found masked.
        let idnps = rppsplus_domain::Idnps::parse(&idnps_of(&server, "Karim Haddad").await?)?;
        let mut tx = server.app.store().begin().await?;
        let karim = tx.person_by_idnps(&idnps).await?.ok_or("Karim")?;
        tx.rollback().await?;
        let r = &karim.record;
        let rpps = r.rpps.clone().ok_or("rpps")?;
        let search = format!(
            "/enregistrements/recherche?name={}&first_name={}&birth_date={}",
            r.birth_name.to_uppercase(),
            r.first_names[0].to_lowercase(),
            r.birth_date
        );
        let found = b.get(&search).await?;
        assert_eq!(found.status, StatusCode::OK);
        assert!(found.body.contains("masqué"));
        assert!(!found.body.contains(rpps.as_str()), "the number is masked");
        assert!(!found.body.contains(&r.birth_name), "the name is masked");

        // Creating a new person needs the confirmation and a reason.
        let new = [
            ("name", r.birth_name.as_str()),
            ("first_name", r.first_names[0].as_str()),
            ("birth_date", &r.birth_date.to_string()),
        ]
        .map(|(k, v)| (k, v.to_owned()));
        let form: Vec<(&str, &str)> = new.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let before = stored(&server).await?;
        let sent = b
            .post("/enregistrements/nouveau", &parts_form(&csrf, &form))
            .await?;
        assert_eq!(sent.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            sent.summary_links(),
            ["confirm_new_person", "confirm_reason"]
        );
        assert_eq!(stored(&server).await?, before);

        // Reusing the masked person with the number the professional gives: the identity step
        // (typed, must match), then the exercise.
        let sent = b
            .post(
                "/enregistrements/reprise",
                &[("csrf", &csrf), ("rpps", "10000000000")],
            )
            .await?;
        assert_eq!(sent.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(sent.summary_links(), ["reuse-rpps"]);
        let field = sent.element("reuse-rpps").ok_or("the number's field")?;
        assert!(field.contains(r#"aria-invalid="true""#));
        assert!(field.contains(r#"value="10000000000""#));
        let sent = b
            .post(
                "/enregistrements/reprise",
                &[("csrf", &csrf), ("rpps", rpps.as_str())],
            )
            .await?;
        assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
        assert!(sent.location().ends_with("/etat-civil"));
        let id = draft_id(sent.location())?;
        let date = r.birth_date.to_string();
        let commune = r.birth_commune.clone().unwrap_or_default();
        let doc = r.id_document.clone().ok_or("id document")?;
        let expiry = doc.expires_on.to_string();
        let identity = vec![
            ("civility", r.civility.as_str()),
            ("sex", r.sex.as_str()),
            ("birth_name", r.birth_name.as_str()),
            ("usage_name", ""),
            ("first_names", r.first_names[0].as_str()),
            ("birth_date", date.as_str()),
            ("birth_country", r.birth_country.as_str()),
            ("birth_commune", commune.as_str()),
            ("id_type", doc.kind.as_str()),
            ("id_number", doc.number.as_str()),
            ("id_expiry", expiry.as_str()),
        ];
        let mut p = parts(&csrf, &with(&identity, "birth_date", "1950-01-01"));
        p.push(no_file());
        let sent = b
            .post_multipart(&format!("/enregistrements/{id}/etat-civil"), &p)
            .await?;
        assert_eq!(sent.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            sent.body
                .contains("ne correspond pas à la personne qui porte ce numéro RPPS"),
            "{}",
            sent.body
        );
        let mut p = parts(&csrf, &identity);
        p.push(no_file());
        let sent = b
            .post_multipart(&format!("/enregistrements/{id}/etat-civil"), &p)
            .await?;
        assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
        assert_eq!(
            sent.location(),
            format!("/enregistrements/{id}/exercice"),
            "no contact step for a known person"
        );
        let sent = b
            .post(
                &format!("/enregistrements/{id}/exercice"),
                &parts_form(&csrf, &exercise_fields(EHPAD)),
            )
            .await?;
        assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
        let done = b
            .post(
                &format!("/enregistrements/{id}/confirmation"),
                &[("csrf", &csrf)],
            )
            .await?;
        assert_eq!(done.status, StatusCode::OK, "{}", done.body);
        assert!(done.body.contains(&format!(
            r#"<strong id="rpps-number">{}</strong>"#,
            rpps.as_str()
        )));
        let after = stored(&server).await?;
        assert_eq!(after.0.persons, before.0.persons, "the same person");
        assert_eq!(after.0.situations, before.0.situations + 1);

        // Now in Sophie's scope, Karim is reused straight to the exercise step.
        let sent = b
            .post(
                "/enregistrements/reprise",
                &[("csrf", &csrf), ("rpps", rpps.as_str())],
            )
            .await?;
        assert!(
            sent.location().ends_with("/exercice"),
            "{}",
            sent.location()
        );
        let id = draft_id(sent.location())?;
        let page = b.get(&format!("/enregistrements/{id}/exercice")).await?;
        assert!(page.body.contains("personne déjà enregistrée"));
        assert!(page.body.contains(&r.birth_name));
        b.post(
            &format!("/enregistrements/{id}/suppression"),
            &[("csrf", &csrf)],
        )
        .await?;

        // A near twin typed through the steps: confirmed with a reason at the end, audited.
        let reason = "Homonyme né à une autre date de l'état civil";
        let new_form: Vec<(&str, &str)> = form
            .iter()
            .copied()
            .chain([("confirm_new_person", "1"), ("confirm_reason", reason)])
            .collect();
        let sent = b
            .post("/enregistrements/nouveau", &parts_form(&csrf, &new_form))
            .await?;
        assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
        let id = draft_id(sent.location())?;
        let twin = with(
            &with(&identity, "id_number", "TWIN12345"),
            "first_names",
            r.first_names[0].as_str(),
        );
        let mut p = parts(&csrf, &twin);
        p.push(no_file());
        assert_eq!(
            b.post_multipart(&format!("/enregistrements/{id}/etat-civil"), &p)
                .await?
                .status,
            StatusCode::SEE_OTHER
        );
        assert_eq!(
            b.post(
                &format!("/enregistrements/{id}/contact"),
                &[("csrf", &csrf), ("email", "twin@example.org")]
            )
            .await?
            .status,
            StatusCode::SEE_OTHER
        );
        assert_eq!(
            b.post(
                &format!("/enregistrements/{id}/exercice"),
                &parts_form(&csrf, &exercise_fields(EHPAD))
            )
            .await?
            .status,
            StatusCode::SEE_OTHER
        );
        // Meanwhile someone else registers with that e-mail: back to the contact step.
        let other = rppsplus_app::registrations::RegistrationInput {
            identity: rppsplus_domain::RawCivilIdentity {
                civility: Some("M".into()),
                sex: Some("M".into()),
                birth_name: Some("Autre".into()),
                first_names: vec!["Jean".into()],
                birth_date: Some("1970-01-01".into()),
                birth_country: Some("99100".into()),
                birth_commune: Some("69123".into()),
                id_document: rppsplus_domain::identity::RawIdDocument {
                    kind: Some("CNI".into()),
                    number: Some("OTHER1234".into()),
                    expiry_date: Some("2034-01-01".into()),
                },
                ..Default::default()
            },
            email: Some("twin@example.org".into()),
            exercise: rppsplus_app::registrations::RawExercise {
                establishment_finess: Some(EHPAD.into()),
                start_date: Some("2025-01-01".into()),
                profession: Some("328".into()),
                role: Some("GENR12".into()),
                practice_mode: Some("S".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        server
            .app
            .register(&actor_of(&server, "Sophie Bernard").await?, other)
            .await
            .map_err(|e| format!("{e:?}"))?;
        let before = stored(&server).await?;
        let sent = b
            .post(
                &format!("/enregistrements/{id}/confirmation"),
                &[("csrf", &csrf)],
            )
            .await?;
        assert_eq!(
            sent.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            sent.body
        );
        assert_eq!(sent.summary_links(), ["contact-email"]);
        assert!(sent.body.contains("Étape 2 sur 4"));
        assert!(sent.body.contains("déjà utilisée par une autre personne"));
        assert_eq!(stored(&server).await?, before);
        assert_eq!(
            b.post(
                &format!("/enregistrements/{id}/contact"),
                &[("csrf", &csrf), ("email", "")]
            )
            .await?
            .status,
            StatusCode::SEE_OTHER
        );
        let done = b
            .post(
                &format!("/enregistrements/{id}/confirmation"),
                &[("csrf", &csrf)],
            )
            .await?;
        assert_eq!(done.status, StatusCode::OK, "{}", done.body);
        let audit = server.app.store().audit_rows(0, 100_000).await?;
        let despite = audit
            .iter()
            .find(|r| r.entry.action == "person.create_despite_match")
            .ok_or("audited")?;
        assert_eq!(despite.entry.details["reason"], reason);
        assert_eq!(
            despite.entry.details["candidates"],
            serde_json::json!([karim.id])
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_without_a_manager_right_do_not_reach_the_wizard() -> TestResult {
    for server in demo_servers().await? {
        let summary = server
            .app
            .directory_summary()
            .await
            .map_err(|e| format!("{e:?}"))?;
        let professional = summary
            .people
            .iter()
            .find(|p| p.kind == rppsplus_app::directory::PersonKind::Professional)
            .ok_or("a professional")?
            .name
            .clone();
        let mut b = Browser::sign_in(&server, &professional).await?;
        assert_eq!(
            b.get("/enregistrements").await?.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            b.get("/enregistrements/recherche?rpps=10000000008")
                .await?
                .status,
            StatusCode::FORBIDDEN
        );
        let mut anonymous = Browser::new(&server.base_url)?;
        let page = anonymous.get("/enregistrements").await?;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert_eq!(page.location(), "/connexion");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drafts_left_for_thirty_days_are_purged() -> TestResult {
    let mut dbs = vec![TestDb::sqlite().await?];
    if let Some(pg) = TestDb::postgres().await? {
        dbs.push(pg);
    }
    for db in dbs {
        let start = jiff::Timestamp::now();
        let clock = std::sync::Arc::new(rppsplus_test_support::ManualClock::new(start));
        let server =
            TestServer::start_configured(db, clock.clone(), |base| rppsplus_web::WebSettings {
                demo: true,
                local_sign_in: true,
                public_url: base.to_owned(),
                ..rppsplus_web::WebSettings::default()
            })
            .await?;
        server.app.load_demo().await.map_err(|e| format!("{e:?}"))?;
        let mut b = Browser::sign_in(&server, "Sophie Bernard").await?;
        let csrf = b.csrf().await?;
        let old = start_draft(&mut b, &csrf).await?;
        clock.set(start + jiff::SignedDuration::from_hours(24 * 20));
        let mut b = Browser::sign_in(&server, "Sophie Bernard").await?;
        let csrf = b.csrf().await?;
        let recent = start_draft(&mut b, &csrf).await?;

        // 29 days after the first: both kept.
        clock.set(start + jiff::SignedDuration::from_hours(24 * 29));
        let mut b = Browser::sign_in(&server, "Sophie Bernard").await?;
        let list = b.get("/enregistrements").await?;
        assert!(list.body.contains(&format!("/enregistrements/{old}/")));
        assert!(list.body.contains(&format!("/enregistrements/{recent}/")));

        // 31 days after the first: it is gone, pages included; the recent one stays.
        clock.set(start + jiff::SignedDuration::from_hours(24 * 31));
        let mut b = Browser::sign_in(&server, "Sophie Bernard").await?;
        assert_eq!(
            b.get(&format!("/enregistrements/{old}/etat-civil"))
                .await?
                .status,
            StatusCode::NOT_FOUND,
            "expired, even before the purge"
        );
        let list = b.get("/enregistrements").await?;
        assert!(!list.body.contains(&format!("/enregistrements/{old}/")));
        assert!(list.body.contains(&format!("/enregistrements/{recent}/")));
        assert_eq!(draft_state(&server, old).await?, None, "purged");
        assert!(draft_state(&server, recent).await?.is_some());
    }
    Ok(())
}
