//! The public self-registration page (`/inscription`) over real HTTP, on SQLite and on
//! PostgreSQL, as a browser without JavaScript uses it: the establishment found by name, a
//! request sent and seen, validated and mailed by a manager of that establishment; every invalid
//! field reported on its own with nothing stored; forms without a valid token or from another
//! origin refused; the per-address rate limit answered with a French page, `429` and
//! `Retry-After`, on the server's hand-moved clock.

use std::collections::BTreeMap;
use std::error::Error;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use rppsplus_app::Actor;
use rppsplus_store::RowCounts;
use rppsplus_test_support::{ManualClock, TestDb, TestServer};
use rppsplus_web::WebSettings;

type TestResult = Result<(), Box<dyn Error>>;
type Fallible<T> = Result<T, Box<dyn Error>>;

const ASSOCIATION: &str = "690001011";
const SSIAD: &str = "690001037";

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

    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect()
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
        let body = r.text().await?;
        Ok(Page {
            status,
            headers,
            body,
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
        let origin = self.base.clone();
        self.post_with(path, form, &[("origin", origin.as_str())])
            .await
    }

    async fn post_with(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Result<Page, reqwest::Error> {
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.form(form).send().await?;
        self.keep(r).await
    }

    /// The form's token, from a fresh display of the page.
    async fn csrf(&mut self) -> Fallible<String> {
        let p = self.get("/inscription").await?;
        assert_eq!(p.status, StatusCode::OK, "{}", p.body);
        let token = p.csrf();
        assert_eq!(token.len(), 64, "{}", p.body);
        Ok(token)
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
}

/// Demo servers on each backend available, on one hand-moved clock.
async fn servers(per_hour: u32, clock: Arc<ManualClock>) -> Fallible<Vec<TestServer>> {
    let mut dbs = vec![TestDb::sqlite().await?];
    if let Some(pg) = TestDb::postgres().await? {
        dbs.push(pg);
    }
    let mut out = Vec::new();
    for db in dbs {
        let server = TestServer::start_configured(db, clock.clone(), |base| WebSettings {
            demo: true,
            local_sign_in: true,
            public_url: base.to_owned(),
            self_registrations_per_hour: per_hour,
            ..WebSettings::default()
        })
        .await?;
        server.app.load_demo().await.map_err(|e| format!("{e:?}"))?;
        out.push(server);
    }
    Ok(out)
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

/// Row counts, the length of the change feed and the requests waiting at the SSIAD: what a
/// refused form must leave as it was.
async fn stored(server: &TestServer) -> Fallible<(RowCounts, usize, usize)> {
    let store = server.app.store();
    let pending = server
        .app
        .pending_self_registrations(&Actor::Operator, SSIAD)
        .await
        .map_err(|e| format!("{e:?}"))?
        .len();
    Ok((
        store.row_counts().await?,
        store.changes_after(0, 100_000).await?.len(),
        pending,
    ))
}

/// A valid request, by form name.
fn valid_fields() -> Vec<(&'static str, &'static str)> {
    vec![
        ("civility", "MME"),
        ("sex", "F"),
        ("birth_name", "Fontaine"),
        ("usage_name", ""),
        ("first_names", "Léa"),
        ("first_names", "Camille"),
        ("first_names", ""),
        ("first_names", ""),
        ("birth_date", "1991-03-14"),
        ("birth_country", "99100"),
        ("birth_commune", "Lyon"),
        ("id_type", "CNI"),
        ("id_number", "QR1234567"),
        ("id_expiry", "2034-01-31"),
        ("email", "lea.fontaine@example.org"),
        ("mobile", "06 11 22 33 44"),
        ("establishment_finess", SSIAD),
        ("start_date", "2025-03-03"),
        ("profession", "371"),
        ("role", "GENR12"),
        ("practice_mode", "S"),
        ("exercise_last_name", ""),
        ("exercise_first_name", ""),
    ]
}

fn with<'a>(fields: &[(&'a str, &'a str)], name: &str, value: &'a str) -> Vec<(&'a str, &'a str)> {
    fields
        .iter()
        .map(|(k, v)| if *k == name { (*k, value) } else { (*k, *v) })
        .collect()
}

fn form<'a>(csrf: &'a str, fields: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut out = vec![("csrf", csrf)];
    out.extend_from_slice(fields);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_waits_for_a_manager_of_the_establishment_who_validates_it() -> TestResult {
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    for server in servers(20, clock.clone()).await? {
        let mut b = Browser::new(&server.base_url)?;
        // Linked from the home page and the sign-in page.
        for path in ["/", "/connexion"] {
            let p = b.get(path).await?;
            assert!(p.body.contains(r#"href="/inscription""#), "{path}");
            assert!(
                p.body
                    .contains("Vous êtes un professionnel sans numéro RPPS ?")
            );
        }

        // The establishment is found by a word of its name, without accents or capitals.
        let ssiad = server
            .app
            .structure_view(&rppsplus_domain::Finess::parse(SSIAD)?)
            .await
            .map_err(|e| format!("{e:?}"))?
            .structure
            .record
            .name;
        let word = ssiad
            .split_whitespace()
            .max_by_key(|w| w.chars().count())
            .ok_or("a word")?
            .to_lowercase();
        let p = b
            .get(&format!("/inscription?q={}", urlencode(&word)))
            .await?;
        assert_eq!(p.status, StatusCode::OK, "{}", p.body);
        let choice = format!("/inscription?etablissement={SSIAD}");
        assert!(p.body.contains(&choice), "{}", p.body);
        // Legal entities are not offered: one registers at an establishment.
        assert!(!p.body.contains(&format!("etablissement={ASSOCIATION}")));
        // A search too short: its message, linked from the summary.
        let p = b.get("/inscription?q=a").await?;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(p.summary_links(), ["q"]);

        // Chosen: the page names it and fills its number in.
        let p = b.get(&choice).await?;
        assert_eq!(p.status, StatusCode::OK);
        assert!(p.body.contains(&ssiad), "{}", p.body);
        let input = p
            .element("exercise-establishment_finess")
            .ok_or("finess input")?;
        assert!(input.contains(&format!(r#"value="{SSIAD}""#)), "{input}");
        assert_eq!(p.header("cache-control"), "no-store");
        let cookie = p
            .set_cookies()
            .into_iter()
            .find(|c| c.starts_with("rppsplus_inscription="))
            .ok_or("form cookie")?;
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(cookie.contains(attribute), "{cookie}");
        }
        assert!(!cookie.contains("Secure"), "plain http: {cookie}");
        let csrf = p.csrf();

        let before = stored(&server).await?;
        let sent = b
            .post("/inscription", &form(&csrf, &valid_fields()))
            .await?;
        assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
        assert_eq!(
            sent.location(),
            format!("/inscription/envoyee?etablissement={SSIAD}&courriel=oui")
        );
        let after = stored(&server).await?;
        assert_eq!(after.2, before.2 + 1, "one request waiting");
        assert_eq!(after.0.persons, before.0.persons, "nobody registered yet");
        assert_eq!(after.0.outbox, before.0.outbox, "no mail yet");

        // The confirmation: waiting for a manager of the SSIAD, the mail to come, nothing
        // personal.
        let done = b.get(sent.location()).await?;
        assert_eq!(done.status, StatusCode::OK);
        assert!(
            done.body
                .contains("attend la validation d'un gestionnaire RPPS+")
        );
        assert!(done.body.contains(&ssiad));
        assert!(
            done.body
                .contains("numéro RPPS vous est envoyé par courriel")
        );
        for personal in ["Fontaine", "Léa", "lea.fontaine", "1991", "QR1234567"] {
            assert!(!done.body.contains(personal), "{personal} on the page");
        }

        // The manager of the establishment sees it on the list and validates it.
        let mut sophie = Browser::sign_in(&server, "Sophie Bernard").await?;
        let list_path = format!("/structures/{SSIAD}/professionnels");
        let list = sophie.get(&list_path).await?;
        let button = "Valider la demande de Léa Camille Fontaine";
        let at = list.body.find(button).ok_or("the request on the list")?;
        let id = list.body[..at]
            .rsplit("/demandes/")
            .next()
            .and_then(|s| s.split('/').next())
            .ok_or("request id")?
            .to_owned();
        let csrf = list.csrf();
        let p = sophie
            .post(
                &format!("/structures/{SSIAD}/demandes/{id}/validation"),
                &[("csrf", &csrf)],
            )
            .await?;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
        let list = sophie.get(&list_path).await?;
        assert!(!list.body.contains(button), "no longer waiting");
        assert_eq!(stored(&server).await?.0.persons, before.0.persons + 1);

        // The RPPS number is mailed to the address given.
        let rows = rppsplus_store_tests::raw::outbox_rows(&server.db)
            .await
            .map_err(|e| e.to_string())?;
        let mail = rows
            .iter()
            .find(|(_, kind, payload, _)| {
                kind == "mail.rpps_number"
                    && payload.to_string().contains("lea.fontaine@example.org")
            })
            .ok_or("the RPPS number's mail")?;
        assert!(mail.0.starts_with("rpps_number:"), "{}", mail.0);
    }
    Ok(())
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_invalid_field_gets_its_own_message_and_nothing_is_stored() -> TestResult {
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    for server in servers(1000, clock.clone()).await? {
        let mut b = Browser::new(&server.base_url)?;
        let csrf = b.csrf().await?;
        let before = stored(&server).await?;
        let valid = valid_fields();
        let sophie_idnps =
            rppsplus_domain::Idnps::parse(&idnps_of(&server, "Sophie Bernard").await?)?;
        let mut tx = server.app.store().begin().await?;
        let sophie = tx.person_by_idnps(&sophie_idnps).await?.ok_or("Sophie")?;
        tx.rollback().await?;
        let taken_email = sophie.record.email.clone().ok_or("demo e-mail")?;
        // One invalid value per field: (form name, value, id of the field in error, value kept).
        let cases = [
            ("civility", "", "identity-civility", false),
            ("sex", "X", "identity-sex", false),
            ("birth_name", "F0ntaine", "identity-birth_name", true),
            ("usage_name", "Du@rand", "identity-usage_name", true),
            ("birth_date", "31/02/1991", "identity-birth_date", true),
            ("birth_country", "99999", "identity-birth_country", false),
            ("birth_commune", "Lyonville", "identity-birth_commune", true),
            (
                "birth_commune",
                "Saint-Denis",
                "identity-birth_commune",
                true,
            ),
            ("birth_commune", "99999", "identity-birth_commune", true),
            ("id_type", "PERMIS", "identity-id_document-type", false),
            ("id_number", "", "identity-id_document-number", false),
            (
                "id_expiry",
                "2020-01-01",
                "identity-id_document-expires_on",
                true,
            ),
            ("email", "lea@", "contact-email", true),
            ("email", taken_email.as_str(), "contact-email", true),
            ("mobile", "01 45 12 34 56", "contact-mobile", true),
            (
                "establishment_finess",
                "",
                "exercise-establishment_finess",
                false,
            ),
            (
                "establishment_finess",
                "690001012",
                "exercise-establishment_finess",
                true,
            ),
            (
                "establishment_finess",
                ASSOCIATION,
                "exercise-establishment_finess",
                true,
            ),
            ("start_date", "1980-01-01", "exercise-start_date", true),
            ("profession", "999", "exercise-profession", false),
            ("role", "GENR01", "exercise-role", false),
            ("practice_mode", "Z", "exercise-practice_mode", false),
            (
                "exercise_last_name",
                "F0ntaine",
                "exercise-exercise_last_name",
                true,
            ),
        ];
        for (name, value, field_id, kept) in cases {
            let sent = b
                .post("/inscription", &form(&csrf, &with(&valid, name, value)))
                .await?;
            assert_eq!(
                sent.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{name}={value}: {}",
                sent.body
            );
            assert_eq!(sent.summary_links(), [field_id], "{name}={value}");
            let input = sent
                .element(field_id)
                .ok_or(format!("no element {field_id}"))?;
            assert!(
                input.contains(r#"aria-invalid="true""#),
                "{field_id}: {input}"
            );
            assert!(sent.body.contains(&format!("{field_id}-error")));
            if kept {
                assert!(
                    sent.body.contains(&format!(r#"value="{value}""#)),
                    "{field_id} keeps {value}"
                );
            }
            // The other values are kept too, and the form can be sent again as it is.
            assert!(sent.body.contains(r#"value="QR1234567""#) || name == "id_number");
            assert_eq!(sent.csrf(), csrf, "the same token");
            assert_eq!(
                stored(&server).await?,
                before,
                "{name}={value}: nothing stored"
            );
        }
        // A commune typed by its name gets the name's message.
        let sent = b
            .post(
                "/inscription",
                &form(&csrf, &with(&valid, "birth_commune", "Lyonville")),
            )
            .await?;
        assert!(sent.body.contains("appelle « Lyonville »"), "{}", sent.body);
        // The first prénom missing.
        let mut no_first = valid.clone();
        no_first.retain(|(k, _)| *k != "first_names");
        let sent = b.post("/inscription", &form(&csrf, &no_first)).await?;
        assert_eq!(sent.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(sent.summary_links(), ["identity-first_names"]);
        // A second prénom invalid, the first one kept.
        let mut bad_second = valid.clone();
        if let Some(f) = bad_second
            .iter_mut()
            .filter(|(k, _)| *k == "first_names")
            .nth(1)
        {
            f.1 = "C4mille";
        }
        let sent = b.post("/inscription", &form(&csrf, &bad_second)).await?;
        assert_eq!(sent.summary_links(), ["identity-first_names-1"]);
        assert!(sent.body.contains(r#"value="C4mille""#));
        assert!(sent.body.contains(r#"value="Léa""#));
        // Everything wrong at once: every message, in the order of the form.
        let sent = b.post("/inscription", &form(&csrf, &[])).await?;
        assert_eq!(sent.status, StatusCode::UNPROCESSABLE_ENTITY);
        let links = sent.summary_links();
        assert!(links.len() >= 8, "{links:?}");
        assert_eq!(links.first().map(String::as_str), Some("identity-civility"));
        assert!(links.contains(&"exercise-establishment_finess".to_owned()));
        assert!(sent.body.contains("Indiquez le numéro FINESS de l"));
        assert_eq!(stored(&server).await?, before, "nothing stored");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_without_a_valid_token_or_from_elsewhere_are_refused() -> TestResult {
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    for server in servers(1000, clock.clone()).await? {
        let before = stored(&server).await?;
        let valid = valid_fields();

        // No cookie and no token.
        let mut stranger = Browser::new(&server.base_url)?;
        let p = stranger.post("/inscription", &valid).await?;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);
        assert!(
            p.body.contains("pas été envoyée : le formulaire a expiré"),
            "{}",
            p.body
        );

        // The cookie, but a forged token, or none.
        let mut b = Browser::new(&server.base_url)?;
        let csrf = b.csrf().await?;
        let forged = "0".repeat(64);
        for token in [forged.as_str(), ""] {
            let p = b.post("/inscription", &form(token, &valid)).await?;
            assert_eq!(p.status, StatusCode::FORBIDDEN, "{token:?}");
        }
        // A token valid for another browser's cookie: tokens are bound to their cookie.
        let p = stranger.post("/inscription", &form(&csrf, &valid)).await?;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
        // The right token, but sent from another site.
        let p = b
            .post_with(
                "/inscription",
                &form(&csrf, &valid),
                &[("origin", "https://evil.example")],
            )
            .await?;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
        let p = b
            .post_with(
                "/inscription",
                &form(&csrf, &valid),
                &[("sec-fetch-site", "cross-site")],
            )
            .await?;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
        assert_eq!(stored(&server).await?, before, "nothing stored");

        // A refused form comes back with its values and a token that holds: sent again, it
        // goes through (so the refusals above were about the token and the origin alone).
        let p = b.post("/inscription", &form(&forged, &valid)).await?;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
        assert!(p.body.contains(r#"value="QR1234567""#));
        let again = p.csrf();
        assert_eq!(again, csrf);
        let p = b.post("/inscription", &form(&again, &valid)).await?;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
        assert_eq!(stored(&server).await?.2, before.2 + 1);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_https_the_cookie_is_host_prefixed_and_secure() -> TestResult {
    let server = TestServer::start(
        TestDb::sqlite().await?,
        WebSettings {
            public_url: "https://rpps-plus.example".to_owned(),
            ..WebSettings::default()
        },
    )
    .await?;
    let mut b = Browser::new(&server.base_url)?;
    let p = b.get("/inscription").await?;
    assert_eq!(p.status, StatusCode::OK);
    let cookie = p
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-rppsplus_inscription="))
        .ok_or("the __Host- cookie")?;
    for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Domain="), "{cookie}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_are_limited_per_address_without_sleeping() -> TestResult {
    let start = Timestamp::now();
    let clock = Arc::new(ManualClock::new(start));
    for server in servers(2, clock.clone()).await? {
        clock.set(start);
        let mut b = Browser::new(&server.base_url)?;
        let csrf = b.csrf().await?;
        let valid = valid_fields();
        // Two an hour: the first two pass (an invalid one counts as well).
        let p = b.post("/inscription", &form(&csrf, &valid)).await?;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
        let other = with(
            &with(&valid, "email", "zoe.garnier@example.org"),
            "birth_name",
            "Garnier",
        );
        let invalid = with(&other, "profession", "999");
        let p = b.post("/inscription", &form(&csrf, &invalid)).await?;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);

        // The third is refused with a French page, 429 and Retry-After, and stores nothing.
        let before = stored(&server).await?;
        let p = b.post("/inscription", &form(&csrf, &other)).await?;
        assert_eq!(p.status, StatusCode::TOO_MANY_REQUESTS, "{}", p.body);
        assert_eq!(p.header("retry-after"), "1800", "one every 30 minutes");
        assert!(p.body.contains("réessayez dans 30 minutes"), "{}", p.body);
        assert!(p.body.contains(r#"<html lang="fr">"#));
        assert_eq!(stored(&server).await?, before, "nothing stored");

        // The API's submissions draw on the same allowance.
        clock.set(start + SignedDuration::from_secs(1800));
        let api = reqwest::Client::new()
            .post(server.url("/api/v1/self-registrations"))
            .json(&serde_json::json!({}))
            .send()
            .await?;
        assert_eq!(
            api.status().as_u16(),
            422,
            "one more allowed after 30 minutes"
        );
        let p = b.post("/inscription", &form(&csrf, &other)).await?;
        assert_eq!(
            p.status,
            StatusCode::TOO_MANY_REQUESTS,
            "taken by the API call"
        );
        assert_eq!(p.header("retry-after"), "1800");

        // A second before the refill: one second to wait; then accepted.
        clock.set(start + SignedDuration::from_secs(3599));
        let p = b.post("/inscription", &form(&csrf, &other)).await?;
        assert_eq!(
            (p.status, p.header("retry-after")),
            (StatusCode::TOO_MANY_REQUESTS, "1")
        );
        clock.set(start + SignedDuration::from_secs(3600));
        let p = b.post("/inscription", &form(&csrf, &other)).await?;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
        assert_eq!(stored(&server).await?.2, before.2 + 1);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_sharing_the_form_secret_accept_each_others_forms() -> TestResult {
    let db = TestDb::sqlite().await?;
    let sharing = db.another_handle().await?;
    let alone = db.another_handle().await?;
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let settings = |base: &str, secret: Option<&str>| WebSettings {
        demo: true,
        public_url: base.to_owned(),
        form_secret: secret.map(str::to_owned),
        ..WebSettings::default()
    };
    let a = TestServer::start_configured(db, clock.clone(), |base| {
        settings(base, Some("un secret partagé par les instances"))
    })
    .await?;
    a.app.load_demo().await.map_err(|e| format!("{e:?}"))?;
    let b = TestServer::start_configured(sharing, clock.clone(), |base| {
        settings(base, Some("un secret partagé par les instances"))
    })
    .await?;
    let c = TestServer::start_configured(alone, clock.clone(), |base| settings(base, None)).await?;

    // A form opened on one instance is sent to another that draws its own key: refused,
    // nothing stored, and a fresh token offered.
    let mut browser = Browser::new(&a.base_url)?;
    let csrf = browser.csrf().await?;
    let before = stored(&a).await?;
    browser.base = c.base_url.clone();
    let p = browser
        .post("/inscription", &form(&csrf, &valid_fields()))
        .await?;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);
    assert_eq!(stored(&a).await?, before, "nothing stored");

    // Sent to an instance sharing the secret, the same form goes through.
    browser.base = b.base_url.clone();
    let p = browser
        .post("/inscription", &form(&csrf, &valid_fields()))
        .await?;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(stored(&a).await?.2, before.2 + 1);
    Ok(())
}
