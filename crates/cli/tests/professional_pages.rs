//! The pages of a structure's professionals and of one professional over real HTTP, on SQLite
//! and on PostgreSQL: the list with its filters and paging, kept to the structure's managers;
//! the CSV export; changes based on an outdated version refused without effect; closing today
//! (the next access decision denies) or on a future day (scheduled); identity corrections
//! needing a reason; forms refused without the form token or from another origin.

mod api_common;

use std::collections::BTreeMap;

use api_common::*;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, ORIGIN, SET_COOKIE};
use rppsplus_test_support::TestServer;
use serde_json::{Value, json};

const LOINC: &str = "http://loinc.org";

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

    /// The value of the first input named `name` after `after` in the page.
    fn input_after(&self, after: &str, name: &str) -> String {
        let start = self.body.find(after).unwrap_or(0);
        let marker = format!(r#"name="{name}" value=""#);
        self.body[start..]
            .find(&marker)
            .map(|i| &self.body[start + i + marker.len()..])
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_default()
            .to_owned()
    }

    fn csrf(&self) -> String {
        self.input_after("", "csrf")
    }

    /// The text of the page's `<main>` without tags, whitespace squashed.
    fn text(&self) -> String {
        let main = self
            .body
            .split_once("<main")
            .map(|(_, m)| m)
            .unwrap_or(&self.body);
        let mut out = String::new();
        let mut in_tag = false;
        for c in main.chars() {
            match c {
                '<' => {
                    in_tag = true;
                    out.push(' ');
                }
                '>' => in_tag = false,
                _ if !in_tag => out.push(c),
                _ => {}
            }
        }
        let mut text = out.split_whitespace().collect::<Vec<_>>().join(" ");
        for (entity, c) in [
            ("&#39;", "'"),
            ("&#34;", "\""),
            ("&quot;", "\""),
            ("&#60;", "<"),
            ("&lt;", "<"),
            ("&#62;", ">"),
            ("&gt;", ">"),
            ("&amp;", "&"),
        ] {
            text = text.replace(entity, c);
        }
        text
    }
}

impl Browser {
    fn new(server: &TestServer) -> Fallible<Browser> {
        Ok(Browser {
            base: server.base_url.clone(),
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

    async fn keep(&mut self, r: reqwest::Response) -> Fallible<Page> {
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
        Ok(Page {
            status: r.status(),
            headers: r.headers().clone(),
            body: r.text().await?,
        })
    }

    async fn get(&mut self, path: &str) -> Fallible<Page> {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await?;
        self.keep(r).await
    }

    async fn bytes(&mut self, path: &str) -> Fallible<(StatusCode, HeaderMap, Vec<u8>)> {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await?;
        let status = r.status();
        let headers = r.headers().clone();
        Ok((status, headers, r.bytes().await?.to_vec()))
    }

    async fn post_from(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        origin: &str,
    ) -> Fallible<Page> {
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

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Fallible<Page> {
        let origin = self.base.clone();
        self.post_from(path, form, &origin).await
    }

    async fn sign_in(server: &TestServer, name: &str) -> Fallible<Browser> {
        let idnps = Demo::of(server).await?.idnps(name)?;
        let mut b = Browser::new(server)?;
        let p = b.post("/connexion/locale", &[("idnps", &idnps)]).await?;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "signing in {name}");
        Ok(b)
    }
}

/// A professional registered for a test through the API, by Sophie Bernard.
struct Registered {
    rpps: String,
    situation: i64,
}

async fn register(
    server: &TestServer,
    last: &str,
    first: &str,
    born: &str,
    finess: &str,
    role: &str,
) -> Fallible<Registered> {
    register_as(server, (last, first), (last, first), born, finess, role).await
}

/// [`register`] with exercise names other than the civil ones.
async fn register_as(
    server: &TestServer,
    (last, first): (&str, &str),
    (exercise_last, exercise_first): (&str, &str),
    born: &str,
    finess: &str,
    role: &str,
) -> Fallible<Registered> {
    let api = Api::new(server)?;
    let sophie = person_token(server, &Demo::of(server).await?.idnps("Sophie Bernard")?).await?;
    let body = json!({
        "identity": {
            "civility": "MME", "sex": "F", "birth_name": last, "usage_name": null,
            "first_names": [first], "birth_date": born, "birth_country": "99100",
            "birth_commune": "69123",
            "id_document": {"type": "CNI", "number": "AB1234567", "expires_on": "2032-01-31"}
        },
        "contact": {"email": null, "mobile": null},
        "exercise": {
            "exercise_last_name": exercise_last, "exercise_first_name": exercise_first,
            "establishment_finess": finess, "start_date": "2024-03-04",
            "profession": "313", "role": role, "practice_mode": "S"
        },
        "existing_rpps": null, "confirm_new_person": true,
        "confirm_reason": "Personne distincte, vérifiée sur pièce."
    });
    let a = api.post("/registrations", &sophie, body).await?;
    assert_eq!(a.status, 201, "{}", a.body);
    Ok(Registered {
        rpps: a.body["rpps"].as_str().ok_or("rpps")?.to_owned(),
        situation: a.body["situation_id"].as_i64().ok_or("situation")?,
    })
}

/// What the registry holds of a professional, as the operator reads it (reading stores
/// nothing: the token is made beforehand, with [`operator_token`]).
async fn read(server: &TestServer, op: &str, rpps: &str) -> Fallible<Value> {
    let api = Api::new(server)?;
    let a = api.get(&format!("/professionals/{rpps}"), op).await?;
    assert_eq!(a.status, 200, "{}", a.body);
    Ok(a.body)
}

async fn stored(server: &TestServer) -> Fallible<(rppsplus_store::RowCounts, usize)> {
    let store = server.app.store();
    Ok((
        store.row_counts().await?,
        store.changes_after(0, 100_000).await?.len(),
    ))
}

async fn decide(server: &TestServer, system: &str, rpps: &str, code: &str) -> Fallible<Value> {
    let api = Api::new(server)?;
    let a = api
        .post(
            "/access/decisions",
            system,
            json!({ "professional": rpps, "document_type": { "system": LOINC, "code": code } }),
        )
        .await?;
    assert_eq!(a.status, 200, "{}", a.body);
    Ok(a.body)
}

fn today_fr() -> String {
    let d = rppsplus_domain::situation::paris_date(jiff::Timestamp::now());
    format!("{:02}/{:02}/{:04}", d.day(), d.month(), d.year())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_filters_pages_and_is_kept_to_the_structures_managers() -> TestResult {
    for server in demo_servers().await? {
        let a = register(&server, "Zéphyrin", "Albane", "1990-02-03", SSIAD, "GENR09").await?;
        let mut sophie = Browser::sign_in(&server, "Sophie Bernard").await?;

        // The legal entity: every establishment, an establishment column and filter.
        let p = sophie
            .get(&format!("/structures/{ASSOCIATION}/professionnels"))
            .await?;
        assert_eq!(p.status, 200);
        let text = p.text();
        assert!(
            text.contains("Professionnels de Association Les Tilleuls"),
            "{text}"
        );
        assert!(text.contains("EHPAD Les Tilleuls") && text.contains("SSIAD Les Tilleuls"));
        assert!(p.body.contains(r#"<th scope="col">Établissement</th>"#));
        assert!(
            p.body
                .contains(&format!(r#"href="/professionnels/{}""#, a.rpps))
        );
        assert!(p.body.contains("<caption>"));
        // Sorted by exercise name: Zéphyrin comes last of the page.
        let rows: Vec<&str> = p.body.split(r#"<th scope="row">"#).skip(1).collect();
        assert!(rows.len() > 1);
        let names: Vec<String> = rows
            .iter()
            .filter_map(|r| r.split_once("\">").and_then(|(_, n)| n.split('<').next()))
            .map(rppsplus_domain::matching_key)
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "sorted by name");

        // Filters: establishment, status, role, name (accents and case ignored).
        let p = sophie
            .get(&format!(
                "/structures/{ASSOCIATION}/professionnels?etablissement={SSIAD}&role=GENR09&nom=ZEPHYRIN"
            ))
            .await?;
        assert_eq!(p.status, 200);
        assert_eq!(
            p.body.matches(r#"<th scope="row">"#).count(),
            1,
            "{}",
            p.text()
        );
        assert!(p.body.contains(&a.rpps));
        assert!(p.text().contains("1 situation sur"));
        let p = sophie
            .get(&format!(
                "/structures/{ASSOCIATION}/professionnels?etablissement={EHPAD}&nom=zephyrin"
            ))
            .await?;
        assert!(!p.body.contains(&a.rpps));
        assert!(p.text().contains("Aucun professionnel ne correspond"));
        let closed = sophie
            .get(&format!(
                "/structures/{ASSOCIATION}/professionnels?statut=closed"
            ))
            .await?;
        assert_eq!(closed.status, 200);
        assert!(!closed.body.contains(&a.rpps));
        let statuses: Vec<&str> = closed
            .body
            .split("class=\"tag status-")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .collect();
        assert!(!statuses.is_empty(), "the demo has professionals who left");
        assert!(statuses.iter().all(|s| *s == "closed"), "{statuses:?}");
        // By RPPS number.
        let p = sophie
            .get(&format!(
                "/structures/{SSIAD}/professionnels?nom={}",
                &a.rpps[..9]
            ))
            .await?;
        assert!(p.body.contains(&a.rpps));
        // An establishment: no establishment column.
        let p = sophie
            .get(&format!("/structures/{SSIAD}/professionnels"))
            .await?;
        assert_eq!(p.status, 200);
        assert!(!p.body.contains(r#"<th scope="col">Établissement</th>"#));

        // Paging: 50 rows a page, links keep the filters.
        for i in 0..51 {
            register(
                &server,
                "Pagination",
                &format!("Prénom{}", letters(i)),
                "1991-05-06",
                EHPAD,
                "GENR10",
            )
            .await?;
        }
        let p = sophie
            .get(&format!(
                "/structures/{ASSOCIATION}/professionnels?nom=pagination"
            ))
            .await?;
        assert_eq!(p.body.matches(r#"<th scope="row">"#).count(), 50);
        assert!(p.text().contains("page 1 sur 2"), "{}", p.text());
        let next = p
            .body
            .split(r#"rel="next""#)
            .next()
            .and_then(|before| before.rsplit("href=\"").next())
            .and_then(|href| href.split('"').next())
            .unwrap_or_default()
            .replace("&#38;", "&")
            .replace("&amp;", "&");
        assert_eq!(
            next,
            format!("/structures/{ASSOCIATION}/professionnels?nom=pagination&page=2"),
            "the link keeps the filters"
        );
        let p2 = sophie
            .get(&format!(
                "/structures/{ASSOCIATION}/professionnels?nom=pagination&page=2"
            ))
            .await?;
        assert_eq!(p2.body.matches(r#"<th scope="row">"#).count(), 1);

        // The structure page and "Mes structures" link to the list.
        let p = sophie.get(&format!("/structures/{EHPAD}")).await?;
        assert!(
            p.body
                .contains(&format!("/structures/{EHPAD}/professionnels"))
        );
        let p = sophie.get("/mes-structures").await?;
        assert!(
            p.body
                .contains(&format!("/structures/{ASSOCIATION}/professionnels"))
        );

        // A manager of another structure: refused, for the list, the export and the page.
        let mut karim = Browser::sign_in(&server, "Karim Haddad").await?;
        for path in [
            format!("/structures/{ASSOCIATION}/professionnels"),
            format!("/structures/{EHPAD}/professionnels"),
            format!("/structures/{EHPAD}/professionnels.csv"),
        ] {
            let p = karim.get(&path).await?;
            assert_eq!(p.status, StatusCode::FORBIDDEN, "{path}");
            assert!(p.text().contains("Accès refusé"), "{path}");
            assert!(!p.body.contains(&a.rpps));
        }
        let p = karim.get(&format!("/professionnels/{}", a.rpps)).await?;
        assert_eq!(p.status, StatusCode::NOT_FOUND);
        assert!(!p.body.contains("Zéphyrin"));
        // A professional without any right, and nobody signed in.
        let nobody = Demo::of(&server).await?.professionals_at(SSIAD);
        let mut pro = Browser::new(&server)?;
        pro.post("/connexion/locale", &[("idnps", &nobody[0])])
            .await?;
        let p = pro
            .get(&format!("/structures/{SSIAD}/professionnels"))
            .await?;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
        let p = Browser::new(&server)?
            .get(&format!("/structures/{SSIAD}/professionnels"))
            .await?;
        assert_eq!(p.status, StatusCode::SEE_OTHER);
        assert_eq!(p.location(), "/connexion");
        server.stop().await;
    }
    Ok(())
}

/// `a`, `b`, … `z`, `ba`…: distinct first names without digits.
fn letters(mut i: usize) -> String {
    let mut out = String::new();
    loop {
        out.insert(0, char::from(b'a' + (i % 26) as u8));
        i /= 26;
        if i == 0 {
            return out;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csv_export_is_for_french_spreadsheets_and_neutralises_formulas() -> TestResult {
    for server in demo_servers().await? {
        let evil = register_as(
            &server,
            ("Formule", "Lucie"),
            ("=Cmd", "@Lucie"),
            "1987-07-08",
            SSIAD,
            "GENR11",
        )
        .await?;
        let plain = register(
            &server,
            "N'Diaye-Exporte",
            "Awa",
            "1988-08-09",
            SSIAD,
            "GENR12",
        )
        .await?;
        let mut sophie = Browser::sign_in(&server, "Sophie Bernard").await?;
        let (status, headers, bytes) = sophie
            .bytes(&format!("/structures/{SSIAD}/professionnels.csv"))
            .await?;
        assert_eq!(status, 200);
        assert_eq!(
            headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("text/csv; charset=utf-8")
        );
        assert!(
            headers
                .get("content-disposition")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("attachment;") && v.contains(".csv"))
        );
        assert_eq!(
            headers.get("cache-control").and_then(|v| v.to_str().ok()),
            Some("no-store")
        );
        assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "UTF-8 byte-order mark");
        let text = String::from_utf8(bytes[3..].to_vec())?;
        let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(
            lines[0],
            "RPPS;Nom d'exercice;Prénom d'exercice;Profession (code);Profession;Rôle RPPS+ (code);Rôle RPPS+;FINESS de l'établissement;Établissement;Mode d'exercice;Début;Fin;Statut"
        );
        let row = lines
            .iter()
            .find(|l| l.starts_with(&evil.rpps))
            .ok_or("the registered professional is exported")?;
        let cells: Vec<&str> = row.split(';').collect();
        assert_eq!(cells.len(), 13, "{row}");
        assert_eq!(cells[1], "'=Cmd", "a formula is neutralised");
        assert_eq!(cells[2], "'@Lucie");
        assert_eq!(cells[3], "313");
        assert_eq!(cells[5], "GENR11");
        assert_eq!(cells[7], SSIAD);
        assert_eq!(cells[8], "SSIAD Les Tilleuls");
        assert_eq!(cells[9], "Salarié");
        assert_eq!(cells[10], "04/03/2024");
        assert_eq!(cells[11], "");
        assert_eq!(cells[12], "Active");
        let row = lines
            .iter()
            .find(|l| l.starts_with(&plain.rpps))
            .ok_or("second professional")?;
        assert!(row.contains(";N'Diaye-Exporte;Awa;"), "{row}");
        // The export follows the filters; a label holding a `;` or a quote would be quoted.
        let (_, _, bytes) = sophie
            .bytes(&format!(
                "/structures/{SSIAD}/professionnels.csv?role=GENR12&nom=exporte"
            ))
            .await?;
        let text = String::from_utf8(bytes)?;
        let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[1].starts_with(&plain.rpps));
        // The list page links to the export of its filters.
        let p = sophie
            .get(&format!("/structures/{SSIAD}/professionnels?role=GENR12"))
            .await?;
        assert!(p.body.contains(&format!(
            "/structures/{SSIAD}/professionnels.csv?role=GENR12"
        )));
        server.stop().await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_based_on_an_outdated_version_changes_nothing() -> TestResult {
    for server in demo_servers().await? {
        let r = register(&server, "Versionnée", "Inès", "1989-09-10", EHPAD, "GENR11").await?;
        let op = operator_token(&server).await?;
        let page_path = format!("/professionnels/{}", r.rpps);
        let action = format!("/professionnels/{}/situations/{}", r.rpps, r.situation);
        let mut sophie = Browser::sign_in(&server, "Sophie Bernard").await?;
        let page = sophie.get(&page_path).await?;
        assert_eq!(page.status, 200);
        let csrf = page.csrf();
        let version = page.input_after(&format!(r#"action="{action}""#), "version");
        assert_eq!(version, "1");
        let form = |role: &'static str, version: String| {
            vec![
                ("csrf", csrf.clone()),
                ("version", version),
                ("exercise_last_name", "Versionnée".to_owned()),
                ("exercise_first_name", "Inès".to_owned()),
                ("start_date", "04/03/2024".to_owned()),
                ("establishment_finess", EHPAD.to_owned()),
                ("profession", "313".to_owned()),
                ("role", role.to_owned()),
                ("practice_mode", "S".to_owned()),
            ]
        };

        // A first change, based on version 1: accepted, 303 to the page with a message.
        let f = form("GENR12", version.clone());
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let p = sophie.post(&action, &pairs).await?;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.text());
        assert!(
            p.location()
                .starts_with(&format!("{page_path}?ok=modifiee"))
        );
        let p = sophie.get(p.location()).await?;
        assert!(p.text().contains("La situation d'exercice a été modifiée"));
        assert!(
            p.text().contains("Encadrement et organisation"),
            "the new role is shown"
        );
        assert_eq!(
            read(&server, &op, &r.rpps).await?["situations"][0]["role"],
            "GENR12"
        );

        // Another form still based on version 1: refused, nothing changes.
        let before = stored(&server).await?;
        let f = form("GENR08", version);
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let p = sophie.post(&action, &pairs).await?;
        assert_eq!(p.status, StatusCode::CONFLICT);
        assert!(
            p.text()
                .contains("modifiée entre-temps par quelqu'un d'autre"),
            "{}",
            p.text()
        );
        assert!(p.body.contains(r#"role="alert""#));
        // The page shows the current data, with the current version to base a new change on.
        assert_eq!(
            p.input_after(&format!(r#"action="{action}""#), "version"),
            "2"
        );
        assert_eq!(stored(&server).await?, before, "nothing stored");
        assert_eq!(
            read(&server, &op, &r.rpps).await?["situations"][0]["role"],
            "GENR12"
        );

        // An invalid field: its message next to it and in the summary, values kept.
        let mut f = form("GENR08", "2".to_owned());
        f[2].1 = "Dupont 3".to_owned();
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let p = sophie.post(&action, &pairs).await?;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
        let id = format!("modifier-{}-exercise_last_name", r.situation);
        assert!(
            p.body.contains(&format!(r##"<a href="#{id}">"##)),
            "error summary"
        );
        assert!(p.body.contains(&format!(r#"id="{id}-error""#)));
        assert!(
            p.body.contains(r#"value="Dupont 3""#),
            "the value typed is kept"
        );
        assert_eq!(stored(&server).await?, before);

        // A blank exercise first name is refused, not taken as "unchanged".
        let mut f = form("GENR08", "2".to_owned());
        f[3].1 = " ".to_owned();
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let p = sophie.post(&action, &pairs).await?;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            p.text().contains("Indiquez le prénom d'exercice"),
            "{}",
            p.text()
        );
        assert!(p.body.contains(&format!(
            r##"<a href="#modifier-{}-exercise_first_name">"##,
            r.situation
        )));
        assert_eq!(stored(&server).await?, before);
        server.stop().await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_today_removes_access_at_once_and_a_future_date_schedules_it() -> TestResult {
    for server in demo_servers().await? {
        let system = system_token(&server, "DMP").await?;
        let today = register(
            &server,
            "Closaujourdhui",
            "Léa",
            "1986-01-02",
            EHPAD,
            "GENR11",
        )
        .await?;
        let later = register(
            &server,
            "Closplustard",
            "Noé",
            "1986-03-04",
            EHPAD,
            "GENR11",
        )
        .await?;
        let mut sophie = Browser::sign_in(&server, "Sophie Bernard").await?;

        // Before: the effective access is listed, and the decision API permits.
        let page = sophie
            .get(&format!("/professionnels/{}", today.rpps))
            .await?;
        assert_eq!(page.status, 200);
        let text = page.text();
        assert!(text.contains("Accès effectifs aux documents du patient"));
        assert!(
            page.body.contains("<code>11488-4</code>"),
            "GENR11 opens the consultation report"
        );
        assert!(text.contains("Active"));
        assert_eq!(
            decide(&server, &system, &today.rpps, "11488-4").await?["decision"],
            "permit"
        );

        // Closed with today's date.
        let csrf = page.csrf();
        let action = format!(
            "/professionnels/{}/situations/{}/cloture",
            today.rpps, today.situation
        );
        let version = page.input_after(&format!(r#"action="{action}""#), "version");
        let date = today_fr();
        let p = sophie
            .post(
                &action,
                &[
                    ("csrf", &csrf),
                    ("version", &version),
                    ("end_date", &date),
                    ("reason", "Fin de contrat"),
                ],
            )
            .await?;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.text());
        let p = sophie.get(p.location()).await?;
        let text = p.text();
        assert!(
            text.contains("les accès qu'elle ouvrait sont retirés dès maintenant"),
            "{text}"
        );
        assert!(p.body.contains(&format!(
            r#"id="situation-{}-status">Close<"#,
            today.situation
        )));
        assert!(!p.body.contains("<code>11488-4</code>"), "no access left");
        assert!(text.contains("Aucun accès : la situation est close"));
        assert!(text.contains("Sans situation active"));
        assert!(
            !p.body.contains(&action),
            "a closed situation has no closing form"
        );
        // The history, in French, with its author and reason, and no raw JSON.
        assert!(text.contains("Situation d'exercice close"), "{text}");
        assert!(text.contains("Motif : Fin de contrat"));
        assert!(text.contains("Sophie Bernard"));
        assert!(text.contains("Situation d'exercice créée"));
        let history = p
            .body
            .split("id=\"historique-title\"")
            .nth(1)
            .unwrap_or_default();
        assert!(!history.contains('{') && !history.contains("situation.close"));
        // The decision API denies at once, as the page says.
        let d = decide(&server, &system, &today.rpps, "11488-4").await?;
        assert_eq!(
            (d["decision"].as_str(), d["reason"].as_str()),
            (Some("deny"), Some("no_active_situation"))
        );

        // A future last day: scheduled, the access stays until then.
        let page = sophie
            .get(&format!("/professionnels/{}", later.rpps))
            .await?;
        let action = format!(
            "/professionnels/{}/situations/{}/cloture",
            later.rpps, later.situation
        );
        let end = rppsplus_domain::situation::paris_date(jiff::Timestamp::now())
            .checked_add(jiff::Span::new().days(30))?;
        let end_fr = format!("{:02}/{:02}/{:04}", end.day(), end.month(), end.year());
        let p = sophie
            .post(
                &action,
                &[
                    ("csrf", &page.csrf()),
                    ("version", "1"),
                    ("end_date", &end_fr),
                    ("reason", "Départ à la retraite"),
                ],
            )
            .await?;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.text());
        assert!(p.location().contains("ok=programmee"));
        let p = sophie.get(p.location()).await?;
        let text = p.text();
        assert!(p.body.contains(&format!(
            r#"id="situation-{}-status">Départ programmé<"#,
            later.situation
        )));
        assert!(text.contains(&format!(
            "Accès ouverts jusqu'à la fin du dernier jour d'activité, le {end_fr}"
        )));
        assert!(p.body.contains("<code>11488-4</code>"));
        assert!(text.contains(&format!(
            "Départ programmé : dernier jour d'activité le {end_fr}"
        )));
        assert_eq!(
            decide(&server, &system, &later.rpps, "11488-4").await?["decision"],
            "permit"
        );

        // Refused: no reason, a date before the start; nothing stored.
        let before = stored(&server).await?;
        let page = sophie
            .get(&format!("/professionnels/{}", later.rpps))
            .await?;
        let p = sophie
            .post(
                &action,
                &[
                    ("csrf", &page.csrf()),
                    ("version", "2"),
                    ("end_date", "01/01/2020"),
                    ("reason", " "),
                ],
            )
            .await?;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
        let c = format!("cloturer-{}", later.situation);
        assert!(p.body.contains(&format!(r##"<a href="#{c}-reason">"##)));
        assert!(p.body.contains(&format!(r##"<a href="#{c}-end_date">"##)));
        assert!(p.body.contains(r#"value="01/01/2020""#));
        assert_eq!(stored(&server).await?, before);
        server.stop().await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_correction_needs_a_reason_and_contact_changes_are_checked() -> TestResult {
    for server in demo_servers().await? {
        let r = register(&server, "Corrigee", "Maëlle", "1992-10-11", EHPAD, "GENR10").await?;
        let op = operator_token(&server).await?;
        let path = format!("/professionnels/{}", r.rpps);
        let mut sophie = Browser::sign_in(&server, "Sophie Bernard").await?;
        let page = sophie.get(&path).await?;
        let text = page.text();
        assert!(text.contains("Nom de naissance Corrigee"), "{text}");
        assert!(text.contains("Lyon (69123)"));
        let csrf = page.csrf();
        let action = format!("{path}/identite");
        let version = page.input_after(&format!(r#"action="{action}""#), "version");
        let mut form = vec![
            ("csrf", csrf.as_str()),
            ("version", version.as_str()),
            ("civility", "MME"),
            ("sex", "F"),
            ("birth_name", "Corrigée"),
            ("usage_name", ""),
            ("first_name_1", "Maëlle"),
            ("first_name_2", "Rose"),
            ("first_name_3", ""),
            ("birth_date", "11/10/1992"),
            ("birth_country", "99100"),
            ("birth_commune", "69123"),
            ("id_document_type", "CNI"),
            ("id_document_number", "AB1234567"),
            ("id_document_expires_on", "31/01/2032"),
            ("reason", ""),
        ];
        let before = stored(&server).await?;
        let p = sophie.post(&action, &form).await?;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            p.body.contains(r##"<a href="#identite-reason">"##),
            "{}",
            p.text()
        );
        assert!(p.body.contains(r#"id="identite-reason-error""#));
        assert!(p.body.contains(r#"value="Corrigée""#), "values kept");
        assert!(p.body.contains(r#"value="Rose""#));
        assert_eq!(stored(&server).await?, before, "nothing stored");
        assert_eq!(read(&server, &op, &r.rpps).await?["birth_name"], "Corrigee");

        // A field of the identity itself: its own message.
        form[10].1 = "99999";
        form[15].1 = "Erreur de saisie";
        let p = sophie.post(&action, &form).await?;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            p.body.contains(r##"<a href="#identite-birth_country">"##),
            "{}",
            p.text()
        );
        assert_eq!(stored(&server).await?, before);

        form[10].1 = "99100";
        form[15].1 = "Accent oublié, vérifié sur la carte d'identité";
        let p = sophie.post(&action, &form).await?;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.text());
        let p = sophie.get(p.location()).await?;
        let text = p.text();
        assert!(text.contains("L'état civil a été corrigé"));
        assert!(text.contains("État civil corrigé"));
        assert!(
            text.contains("Champs corrigés : nom de naissance, prénoms"),
            "{text}"
        );
        assert!(text.contains("Motif : Accent oublié, vérifié sur la carte d'identité"));
        let body = read(&server, &op, &r.rpps).await?;
        assert_eq!(body["birth_name"], "Corrigée");
        assert_eq!(body["first_names"], json!(["Maëlle", "Rose"]));

        // The contact: formats checked, then changed.
        let csrf = p.csrf();
        let action = format!("{path}/contact");
        let version = p.input_after(&format!(r#"action="{action}""#), "version");
        let bad = sophie
            .post(
                &action,
                &[
                    ("csrf", &csrf),
                    ("version", &version),
                    ("email", "pas-une-adresse"),
                    ("mobile", "01 23"),
                ],
            )
            .await?;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            bad.body.contains(r##"<a href="#contact-email">"##),
            "{}",
            bad.text()
        );
        assert!(bad.body.contains(r##"<a href="#contact-mobile">"##));
        let ok = sophie
            .post(
                &action,
                &[
                    ("csrf", &csrf),
                    ("version", &version),
                    ("email", "maelle.corrigee@example.org"),
                    ("mobile", "06 12 34 56 78"),
                ],
            )
            .await?;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text());
        let body = read(&server, &op, &r.rpps).await?;
        assert_eq!(body["email"], "maelle.corrigee@example.org");
        assert_eq!(body["mobile"], "+33612345678");
        let p = sophie.get(&path).await?;
        assert!(p.text().contains("Mobile 06 12 34 56 78"), "{}", p.text());
        // The same form again: its version is outdated now.
        let stale = sophie
            .post(
                &action,
                &[
                    ("csrf", &csrf),
                    ("version", &version),
                    ("email", ""),
                    ("mobile", ""),
                ],
            )
            .await?;
        assert_eq!(stale.status, StatusCode::CONFLICT);
        assert!(
            stale
                .text()
                .contains("modifiée entre-temps par quelqu'un d'autre")
        );
        assert_eq!(
            read(&server, &op, &r.rpps).await?["email"],
            "maelle.corrigee@example.org"
        );
        server.stop().await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_without_the_form_token_or_from_elsewhere_are_refused() -> TestResult {
    for server in demo_servers().await? {
        let r = register(&server, "Protegee", "Anna", "1993-11-12", EHPAD, "GENR11").await?;
        let op = operator_token(&server).await?;
        let mut sophie = Browser::sign_in(&server, "Sophie Bernard").await?;
        let page = sophie.get(&format!("/professionnels/{}", r.rpps)).await?;
        let csrf = page.csrf();
        assert_eq!(csrf.len(), 64);
        let before = stored(&server).await?;
        let close = format!(
            "/professionnels/{}/situations/{}/cloture",
            r.rpps, r.situation
        );
        let modify = format!("/professionnels/{}/situations/{}", r.rpps, r.situation);
        let identity = format!("/professionnels/{}/identite", r.rpps);
        let contact = format!("/professionnels/{}/contact", r.rpps);
        let end = today_fr();
        for path in [&close, &modify, &identity, &contact] {
            for token in ["", "0000", &"a".repeat(64)] {
                let p = sophie
                    .post(
                        path,
                        &[
                            ("csrf", token),
                            ("version", "1"),
                            ("end_date", &end),
                            ("reason", "x"),
                            ("role", "GENR08"),
                        ],
                    )
                    .await?;
                assert_eq!(p.status, StatusCode::FORBIDDEN, "{path} with {token:?}");
            }
            // The right token from another site.
            let p = sophie
                .post_from(
                    path,
                    &[
                        ("csrf", &csrf),
                        ("version", "1"),
                        ("end_date", &end),
                        ("reason", "x"),
                        ("role", "GENR08"),
                    ],
                    "https://evil.example",
                )
                .await?;
            assert_eq!(p.status, StatusCode::FORBIDDEN, "{path} cross-origin");
        }
        let p = sophie
            .post(
                &format!("/structures/{EHPAD}/demandes/1/refus"),
                &[("csrf", ""), ("reason", "x")],
            )
            .await?;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
        assert_eq!(stored(&server).await?, before, "nothing stored");
        assert_eq!(
            read(&server, &op, &r.rpps).await?["situations"][0]["status"],
            "active"
        );
        server.stop().await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_registrations_are_validated_or_rejected_from_the_list() -> TestResult {
    for server in demo_servers().await? {
        let api = Api::new(&server)?;
        let submit = |last: &str, first: &str| {
            json!({
                "identity": {
                    "civility": "M", "sex": "M", "birth_name": last, "usage_name": null,
                    "first_names": [first], "birth_date": "1980-06-07", "birth_country": "99100",
                    "birth_commune": "69123",
                    "id_document": {"type": "CNI", "number": "CD7654321", "expires_on": "2031-06-30"}
                },
                "contact": {"email": null, "mobile": null},
                "exercise": {
                    "establishment_finess": SSIAD, "start_date": "2025-02-03",
                    "profession": "313", "role": "GENR11", "practice_mode": "S"
                }
            })
        };
        for (last, first) in [("Autonome", "Théo"), ("Refusable", "Hugo")] {
            let a = api
                .call(
                    reqwest::Method::POST,
                    "/self-registrations",
                    None,
                    Some(submit(last, first)),
                )
                .await?;
            assert_eq!(a.status, 202, "{}", a.body);
        }
        let mut sophie = Browser::sign_in(&server, "Sophie Bernard").await?;
        let p = sophie
            .get(&format!("/structures/{ASSOCIATION}/professionnels"))
            .await?;
        let text = p.text();
        assert!(text.contains("Demandes d'enregistrement en attente"));
        assert!(
            text.contains("Théo Autonome") && text.contains("Hugo Refusable"),
            "{text}"
        );
        let id_of = |name: &str| -> Option<String> {
            let at = p.body.find(&format!("Valider la demande de {name}"))?;
            let before = &p.body[..at];
            let start = before.rfind("/demandes/")? + "/demandes/".len();
            Some(before[start..].split('/').next()?.to_owned())
        };
        let theo = id_of("Théo Autonome").ok_or("validate form")?;
        let hugo = id_of("Hugo Refusable").ok_or("reject form")?;
        let csrf = p.csrf();

        // A refusal needs a reason.
        let reject = format!("/structures/{ASSOCIATION}/demandes/{hugo}/refus");
        let p = sophie
            .post(&reject, &[("csrf", &csrf), ("reason", "")])
            .await?;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            p.body
                .contains(&format!(r##"<a href="#demande-{hugo}-reason">"##)),
            "{}",
            p.text()
        );
        let p = sophie
            .post(
                &reject,
                &[
                    ("csrf", &csrf),
                    ("reason", "Ne travaille pas dans notre structure"),
                ],
            )
            .await?;
        assert_eq!(p.status, StatusCode::SEE_OTHER);
        let validate = format!("/structures/{ASSOCIATION}/demandes/{theo}/validation");
        let p = sophie.post(&validate, &[("csrf", &csrf)]).await?;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.text());
        let p = sophie.get(p.location()).await?;
        let text = p.text();
        assert!(text.contains("La demande d'enregistrement a été validée"));
        assert!(text.contains("Aucune demande en attente"), "{text}");
        assert!(text.contains("Autonome Théo"), "now in the list");
        // A request from someone already registered elsewhere, out of Sophie's scope: the
        // candidates are masked, and creating a new person needs a reason.
        let karim_token =
            person_token(&server, &Demo::of(&server).await?.idnps("Karim Haddad")?).await?;
        let mut elsewhere = submit("Homonyme", "Jules");
        elsewhere["exercise"]["establishment_finess"] = json!(HOSPITAL);
        elsewhere["exercise"]["profession"] = json!("329");
        elsewhere["existing_rpps"] = json!(null);
        elsewhere["confirm_new_person"] = json!(false);
        let a = api.post("/registrations", &karim_token, elsewhere).await?;
        assert_eq!(a.status, 201, "{}", a.body);
        let existing = a.body["rpps"].as_str().ok_or("rpps")?.to_owned();
        let a = api
            .call(
                reqwest::Method::POST,
                "/self-registrations",
                None,
                Some(submit("HOMONYME", "jules")),
            )
            .await?;
        assert_eq!(a.status, 202, "{}", a.body);
        let p = sophie
            .get(&format!("/structures/{SSIAD}/professionnels"))
            .await?;
        let at = p
            .body
            .find("Valider la demande de jules")
            .ok_or("pending form")?;
        let jules = p.body[..at]
            .rsplit("/demandes/")
            .next()
            .and_then(|rest| rest.split('/').next())
            .ok_or("pending id")?
            .to_owned();
        let validate = format!("/structures/{SSIAD}/demandes/{jules}/validation");
        let p = sophie.post(&validate, &[("csrf", &csrf)]).await?;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            p.text()
                .contains("Des personnes très proches sont déjà enregistrées")
        );
        assert!(p.text().contains("H••••••• J. 1980"), "{}", p.text());
        assert!(!p.body.contains(&existing), "the RPPS number is masked");
        assert!(p.body.contains(&format!("10•••••••{}", &existing[9..])));
        let p = sophie
            .post(
                &validate,
                &[
                    ("csrf", &csrf),
                    ("confirm_new_person", "oui"),
                    ("confirm_reason", ""),
                ],
            )
            .await?;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            p.body
                .contains(&format!(r##"<a href="#demande-{jules}-confirm_reason">"##))
        );
        let p = sophie
            .post(
                &validate,
                &[
                    ("csrf", &csrf),
                    ("confirm_new_person", "oui"),
                    (
                        "confirm_reason",
                        "Autre personne : lieu de naissance différent",
                    ),
                ],
            )
            .await?;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.text());

        // Another manager cannot decide them.
        let mut karim = Browser::sign_in(&server, "Karim Haddad").await?;
        let page = karim.get("/mes-structures").await?;
        let p = karim
            .post(&reject, &[("csrf", &page.csrf()), ("reason", "x")])
            .await?;
        assert_ne!(p.status, StatusCode::SEE_OTHER);
        server.stop().await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_manager_sees_only_the_situations_and_history_of_their_structures() -> TestResult {
    for server in demo_servers().await? {
        let r = register(
            &server,
            "Partagee",
            "Yasmine",
            "1984-04-05",
            EHPAD,
            "GENR11",
        )
        .await?;
        // The same person also works at the hospital, registered there by its manager.
        let api = Api::new(&server)?;
        let karim = person_token(&server, &Demo::of(&server).await?.idnps("Karim Haddad")?).await?;
        let a = api
            .post(
                "/registrations",
                &karim,
                json!({
                    "identity": {
                        "civility": "MME", "sex": "F", "birth_name": "Partagee",
                        "first_names": ["Yasmine"], "birth_date": "1984-04-05",
                        "birth_country": "99100", "birth_commune": "69123",
                        "id_document": {"type": "CNI", "number": "AB1234567", "expires_on": "2032-01-31"}
                    },
                    "exercise": {
                        "establishment_finess": HOSPITAL, "start_date": "2025-01-06",
                        "profession": "329", "role": "GENR08", "practice_mode": "L"
                    },
                    "existing_rpps": r.rpps
                }),
            )
            .await?;
        assert_eq!(a.status, 201, "{}", a.body);
        let hospital_situation = a.body["situation_id"].as_i64().ok_or("situation")?;

        let mut sophie = Browser::sign_in(&server, "Sophie Bernard").await?;
        let p = sophie.get(&format!("/professionnels/{}", r.rpps)).await?;
        assert_eq!(p.status, 200);
        let text = p.text();
        assert!(
            p.body
                .contains(&format!(r#"id="situation-{}""#, r.situation))
        );
        assert!(!p.body.contains(&format!("situation-{hospital_situation}")));
        assert!(!text.contains("Centre hospitalier"), "{text}");
        assert!(
            !text.contains("Rôle RPPS+ : Coordination et orientation")
                && !text.contains("Profession : Conseiller en génétique"),
            "nor the history of the other situation: {text}"
        );
        assert!(text.contains("Rôle RPPS+ : Accompagnement social/médico-social au soin"));
        assert!(!p.body.contains(HOSPITAL));

        let mut karim_browser = Browser::sign_in(&server, "Karim Haddad").await?;
        let p = karim_browser
            .get(&format!("/professionnels/{}", r.rpps))
            .await?;
        assert_eq!(p.status, 200);
        assert!(
            p.body
                .contains(&format!(r#"id="situation-{hospital_situation}""#))
        );
        assert!(
            !p.body
                .contains(&format!(r#"id="situation-{}""#, r.situation))
        );
        assert!(!p.text().contains("EHPAD"), "{}", p.text());
        // Karim may not close Sophie's situation, even with a good form token.
        let before = stored(&server).await?;
        let p = karim_browser
            .post(
                &format!(
                    "/professionnels/{}/situations/{}/cloture",
                    r.rpps, r.situation
                ),
                &[
                    ("csrf", &p.csrf()),
                    ("version", "1"),
                    ("end_date", &today_fr()),
                    ("reason", "x"),
                ],
            )
            .await?;
        assert_eq!(p.status, StatusCode::NOT_FOUND);
        assert_eq!(stored(&server).await?, before);
        server.stop().await;
    }
    Ok(())
}
