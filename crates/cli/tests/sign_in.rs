//! Sign-in (local and Pro Santé Connect), sessions, CSRF and "Mes habilitations" over real
//! HTTP, on SQLite and on PostgreSQL.

use std::collections::BTreeMap;
use std::error::Error;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, ORIGIN, SET_COOKIE};
use rppsplus_app::directory::PersonKind;
use rppsplus_test_support::oidc::{Misbehaviour, TestIssuer, TestIssuerOptions};
use rppsplus_test_support::{ManualClock, TestDb, TestServer};
use rppsplus_web::WebSettings;

type TestResult = Result<(), Box<dyn Error>>;

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
        Ok(Page {
            status: r.status(),
            headers: r.headers().clone(),
            body: r.text().await?,
        })
    }

    async fn get(&mut self, path_or_url: &str) -> Result<Page, reqwest::Error> {
        let url = if path_or_url.starts_with("http") {
            path_or_url.to_owned()
        } else {
            format!("{}{path_or_url}", self.base)
        };
        let r = self
            .client
            .get(url)
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

    async fn sign_in_locally(&mut self, idnps: &str) -> Result<Page, reqwest::Error> {
        self.post("/connexion/locale", &[("idnps", idnps)]).await
    }
}

/// IDNPS of demo people by name.
async fn idnps_of(server: &TestServer, name: &str) -> Result<String, Box<dyn Error>> {
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

async fn a_professional_of(server: &TestServer, finess: &str) -> Result<String, Box<dyn Error>> {
    let summary = server
        .app
        .directory_summary()
        .await
        .map_err(|e| format!("{e:?}"))?;
    summary
        .people
        .into_iter()
        .find(|p| p.kind == PersonKind::Professional && p.structures == [finess.to_owned()])
        .map(|p| p.idnps)
        .ok_or_else(|| format!("no professional at {finess}").into())
}

async fn demo_servers() -> Result<Vec<TestServer>, Box<dyn Error>> {
    let mut servers = vec![TestServer::start_demo(TestDb::sqlite().await?).await?];
    if let Some(pg) = TestDb::postgres().await? {
        servers.push(TestServer::start_demo(pg).await?);
    }
    Ok(servers)
}

#[tokio::test]
async fn the_legal_representative_grants_a_manager_who_loses_the_right_when_revoked() -> TestResult
{
    for server in demo_servers().await? {
        let claire = idnps_of(&server, "Claire Martin").await?;
        let newcomer = a_professional_of(&server, "690001029").await?;
        let mut rl = Browser::new(&server.base_url)?;
        let mut manager = Browser::new(&server.base_url)?;

        // Signing in lands on "Mes structures".
        let p = rl.sign_in_locally(&claire).await?;
        assert_eq!(p.status, StatusCode::SEE_OTHER);
        assert_eq!(p.location(), "/mes-structures");
        let p = rl.get("/mes-structures").await?;
        assert!(
            p.body.contains("Association Les Tilleuls") && p.body.contains("Représentant légal")
        );
        assert!(p.body.contains("Connecté : <strong>Claire Martin</strong>"));

        // The newcomer is not a manager yet: nothing to see.
        manager.sign_in_locally(&newcomer).await?;
        let p = manager.get("/mes-structures").await?;
        assert!(p.body.contains("aucune habilitation sur une structure"));
        assert_eq!(
            manager.get("/mes-habilitations").await?.status,
            StatusCode::FORBIDDEN
        );

        // Without e-learning, an ESMS grant is refused with a message that says what to do.
        let page = rl.get("/mes-habilitations").await?;
        let csrf = page.csrf();
        let grant = [
            ("csrf", csrf.as_str()),
            ("person", newcomer.as_str()),
            ("scope", "690001011"),
            ("kind", "manager"),
        ];
        let before = server.app.store().row_counts().await?;
        let p = rl.post("/mes-habilitations", &grant).await?;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            p.body.contains("obligatoire depuis le 01/04/2025"),
            "{}",
            p.body
        );
        assert!(p.body.contains(r##"<a href="#grant-person">"##));
        assert_eq!(server.app.store().row_counts().await?, before);

        // The e-learning is recorded, then the grant goes through.
        let p = rl
            .post(
                "/mes-habilitations/e-learning",
                &[
                    ("csrf", csrf.as_str()),
                    ("person", newcomer.as_str()),
                    ("completed_on", "02/06/2025"),
                    ("certificate_ref", "CERT-2025-0042"),
                ],
            )
            .await?;
        assert_eq!(p.location(), "/mes-habilitations?ok=elearning");
        let p = rl.post("/mes-habilitations", &grant).await?;
        assert_eq!(p.location(), "/mes-habilitations?ok=accordee", "{}", p.body);
        let p = rl.get("/mes-habilitations?ok=accordee").await?;
        assert!(p.body.contains("habilitation a été accordée."));
        assert!(p.body.contains(&newcomer));

        // The manager now acts for both establishments of the association.
        let p = manager.get("/mes-structures").await?;
        assert!(p.body.contains("Gestionnaire RPPS+"));
        assert!(p.body.contains("690001029") && p.body.contains("690001037"));

        // Revoked: the very next request shows no right.
        let habilitations = server
            .app
            .manageable_habilitations(&actor_of(&server, &claire).await?)
            .await
            .map_err(|e| format!("{e:?}"))?;
        let id = habilitations
            .iter()
            .find(|h| h.person_idnps == newcomer)
            .map(|h| h.id.0)
            .ok_or("granted habilitation not listed")?;
        let p = rl
            .post(
                &format!("/mes-habilitations/{id}/retrait"),
                &[("csrf", csrf.as_str())],
            )
            .await?;
        assert_eq!(p.location(), "/mes-habilitations?ok=retiree");
        let p = manager.get("/mes-structures").await?;
        assert!(p.body.contains("aucune habilitation sur une structure"));
        server.stop().await;
    }
    Ok(())
}

async fn actor_of(server: &TestServer, idnps: &str) -> Result<rppsplus_app::Actor, Box<dyn Error>> {
    let idnps = rppsplus_domain::Idnps::parse(idnps)?;
    let mut tx = server.app.store().begin().await?;
    let p = tx.person_by_idnps(&idnps).await?.ok_or("unknown person")?;
    tx.rollback().await?;
    Ok(rppsplus_app::Actor::Person { id: p.id, idnps })
}

#[tokio::test]
async fn unsafe_requests_need_the_form_token_and_our_origin() -> TestResult {
    for server in demo_servers().await? {
        let claire = idnps_of(&server, "Claire Martin").await?;
        let newcomer = a_professional_of(&server, "690001037").await?;
        let mut rl = Browser::new(&server.base_url)?;
        rl.sign_in_locally(&claire).await?;
        let csrf = rl.get("/mes-habilitations").await?.csrf();
        assert_eq!(csrf.len(), 64);
        let before = server.app.store().row_counts().await?;
        let form = |token: &'static str| {
            [
                ("csrf", token),
                ("person", ""),
                ("completed_on", "01/01/2025"),
                ("certificate_ref", "X"),
            ]
        };
        // No token, a wrong token, and the right token from another site: all refused.
        let mut with_person = form("");
        with_person[1].1 = &newcomer;
        assert_eq!(
            rl.post("/mes-habilitations/e-learning", &with_person)
                .await?
                .status,
            StatusCode::FORBIDDEN
        );
        with_person[0].1 = "0000";
        assert_eq!(
            rl.post("/mes-habilitations/e-learning", &with_person)
                .await?
                .status,
            StatusCode::FORBIDDEN
        );
        let mut right = with_person;
        right[0].1 = &csrf;
        let p = rl
            .post_from(
                "/mes-habilitations/e-learning",
                &right,
                "https://evil.example",
            )
            .await?;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
        // A cross-site sign-in form is refused too (login CSRF).
        let mut other = Browser::new(&server.base_url)?;
        let p = other
            .post_from(
                "/connexion/locale",
                &[("idnps", claire.as_str())],
                "https://evil.example",
            )
            .await?;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
        assert!(other.cookies.is_empty());
        assert_eq!(server.app.store().row_counts().await?, before);
        // Signing out needs the token, then ends the session for good.
        assert_eq!(
            rl.post("/deconnexion", &[("csrf", "nope")]).await?.status,
            StatusCode::FORBIDDEN
        );
        let stolen = rl.cookies.clone();
        let p = rl.post("/deconnexion", &[("csrf", csrf.as_str())]).await?;
        assert_eq!(p.location(), "/");
        assert!(rl.cookies.is_empty());
        let mut replay = Browser::new(&server.base_url)?;
        replay.cookies = stolen;
        let p = replay.get("/mes-structures").await?;
        assert_eq!(p.location(), "/connexion");
        server.stop().await;
    }
    Ok(())
}

#[tokio::test]
async fn sign_in_explains_unknown_people_and_bad_input() -> TestResult {
    for server in demo_servers().await? {
        let mut b = Browser::new(&server.base_url)?;
        let p = b.get("/connexion").await?;
        assert!(p.body.contains("jamais en production"));
        assert!(p.body.contains("Claire Martin"));
        let p = b.sign_in_locally("12").await?;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(p.body.contains(r##"<a href="#idnps">"##));
        // A valid IDNPS nobody has.
        let p = b.sign_in_locally("810000001916").await?;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
        assert!(p.body.contains("pas enregistré dans le RPPS+"));
        assert!(b.cookies.is_empty());
        // Pages that need a session send anonymous visitors to the sign-in page.
        for path in ["/mes-structures", "/mes-habilitations"] {
            assert_eq!(b.get(path).await?.location(), "/connexion", "{path}");
        }
        server.stop().await;
    }
    // Without --demo or --local-sign-in, there is no local sign-in at all.
    let plain = TestServer::start(TestDb::sqlite().await?, WebSettings::default()).await?;
    let mut b = Browser::new(&plain.base_url)?;
    assert!(!b.get("/connexion").await?.body.contains("Connexion locale"));
    assert_eq!(
        b.sign_in_locally("810000001916").await?.status,
        StatusCode::NOT_FOUND
    );
    plain.stop().await;
    Ok(())
}

#[tokio::test]
async fn session_cookies_are_protected_and_expire_when_idle() -> TestResult {
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let settings = WebSettings {
        demo: true,
        local_sign_in: true,
        public_url: "https://rpps.example".to_owned(),
        psc: None,
        ..WebSettings::default()
    };
    let server =
        TestServer::start_with_clock(TestDb::sqlite().await?, settings, clock.clone()).await?;
    server.app.load_demo().await.map_err(|e| format!("{e:?}"))?;
    let claire = idnps_of(&server, "Claire Martin").await?;
    let mut b = Browser::new(&server.base_url)?;
    let p = b
        .post_from(
            "/connexion/locale",
            &[("idnps", claire.as_str())],
            "https://rpps.example",
        )
        .await?;
    let set_cookie = p
        .headers
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        set_cookie.starts_with("__Host-rppsplus_session="),
        "{set_cookie}"
    );
    for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(
            set_cookie.contains(attribute),
            "{attribute} missing: {set_cookie}"
        );
    }
    assert!(
        b.get("/mes-structures")
            .await?
            .body
            .contains("Claire Martin")
    );
    // 29 minutes of inactivity are fine, 31 more end the session.
    clock.set(Timestamp::now() + SignedDuration::from_mins(29));
    assert!(
        b.get("/mes-structures")
            .await?
            .body
            .contains("Claire Martin")
    );
    clock.set(Timestamp::now() + SignedDuration::from_mins(61));
    assert_eq!(b.get("/mes-structures").await?.location(), "/connexion");
    server.stop().await;
    Ok(())
}

#[tokio::test]
async fn pro_sante_connect_sign_in_end_to_end_and_refusals() -> TestResult {
    let issuer = TestIssuer::start(TestIssuerOptions::default()).await?;
    let mut dbs = vec![TestDb::sqlite().await?];
    if let Some(pg) = TestDb::postgres().await? {
        dbs.push(pg);
    }
    for db in dbs {
        let (id, secret, issuer_url) = (
            issuer.client_id().to_owned(),
            issuer.client_secret().to_owned(),
            issuer.issuer_url.clone(),
        );
        let server =
            TestServer::start_configured(db, Arc::new(rppsplus_app::SystemClock), |base| {
                WebSettings {
                    demo: true,
                    local_sign_in: false,
                    public_url: base.to_owned(),
                    psc: Some(rppsplus_psc::PscConfig::new(
                        issuer_url,
                        id,
                        secret,
                        format!("{base}{}", rppsplus_web::PSC_CALLBACK_PATH),
                    )),
                    ..WebSettings::default()
                }
            })
            .await?;
        server.app.load_demo().await.map_err(|e| format!("{e:?}"))?;
        let claire = idnps_of(&server, "Claire Martin").await?;

        // The whole flow: our redirect, the provider's, our callback.
        let mut b = Browser::new(&server.base_url)?;
        issuer.set_next_subject(&claire, "Claire", "Martin");
        let start = b.get("/connexion/psc").await?;
        assert_eq!(start.status, StatusCode::SEE_OTHER);
        let back = issuer.authorize(start.location()).await?;
        let p = b.get(&back.location).await?;
        assert_eq!(p.location(), "/mes-structures", "{}", p.body);
        assert!(
            b.get("/mes-structures")
                .await?
                .body
                .contains("Association Les Tilleuls")
        );

        // The same callback again (a replayed state) is refused.
        let again = b.get(&back.location).await?;
        assert_eq!(again.status, StatusCode::BAD_REQUEST);

        // A callback in another browser than the one that started is refused.
        let mut other = Browser::new(&server.base_url)?;
        let start = b.get("/connexion/psc").await?;
        let back = issuer.authorize(start.location()).await?;
        assert_eq!(
            other.get(&back.location).await?.status,
            StatusCode::BAD_REQUEST
        );
        assert!(!other.cookies.keys().any(|k| k.contains("session")));

        // A token with a wrong nonce is refused; no session is opened.
        let mut fresh = Browser::new(&server.base_url)?;
        issuer.misbehave_next(Misbehaviour::WrongNonce);
        let start = fresh.get("/connexion/psc").await?;
        let back = issuer.authorize(start.location()).await?;
        let p = fresh.get(&back.location).await?;
        assert_eq!(p.status, StatusCode::BAD_GATEWAY);
        assert!(p.body.contains("Pro Santé Connect a échoué"));
        assert!(!fresh.cookies.keys().any(|k| k.contains("session")));

        // Someone PSC knows but the registry does not: a clear page, no session.
        let mut stranger = Browser::new(&server.base_url)?;
        issuer.set_next_subject("810000001916", "Inconnu", "Inconnu");
        let start = stranger.get("/connexion/psc").await?;
        let back = issuer.authorize(start.location()).await?;
        let p = stranger.get(&back.location).await?;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
        assert!(p.body.contains("pas enregistré dans le RPPS+"));
        server.stop().await;
    }
    issuer.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_signed_in_person_creates_uses_and_revokes_an_api_token() -> TestResult {
    for server in demo_servers().await? {
        let claire = idnps_of(&server, "Claire Martin").await?;
        let mut b = Browser::new(&server.base_url)?;
        b.sign_in_locally(&claire).await?;
        let page = b.get("/mes-jetons").await?;
        assert!(page.body.contains("aucun jeton"));
        let csrf = page.csrf();
        let created = b
            .post(
                "/mes-jetons",
                &[("csrf", csrf.as_str()), ("label", "Logiciel RH")],
            )
            .await?;
        assert_eq!(created.status, StatusCode::CREATED);
        assert_eq!(
            created.headers.get("cache-control").map(|v| v.as_bytes()),
            Some(&b"no-store"[..])
        );
        let marker = r#"id="issued-token" value=""#;
        let secret = created
            .body
            .find(marker)
            .map(|i| &created.body[i + marker.len()..])
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_default()
            .to_owned();
        assert!(
            secret.starts_with("rpps_") && secret.len() == 69,
            "{secret}"
        );
        assert!(created.body.contains("Logiciel RH"));

        // The token acts as Claire on the API.
        let api = reqwest::Client::new();
        let me = api
            .get(format!("{}/api/v1/me", server.base_url))
            .bearer_auth(&secret)
            .send()
            .await?;
        assert_eq!(me.status(), StatusCode::OK);
        assert!(me.text().await?.contains(&claire));
        // Shown once: the list never shows it again.
        let list = b.get("/mes-jetons").await?;
        assert!(!list.body.contains(&secret));
        assert!(list.body.contains("Logiciel RH"));

        let tokens = server
            .app
            .my_tokens(&actor_of(&server, &claire).await?)
            .await
            .map_err(|e| format!("{e:?}"))?;
        let id = tokens.first().map(|t| t.id.0).ok_or("no token")?;
        let p = b
            .post(
                &format!("/mes-jetons/{id}/revocation"),
                &[("csrf", csrf.as_str())],
            )
            .await?;
        assert_eq!(p.location(), "/mes-jetons?ok=revoque");
        let me = api
            .get(format!("{}/api/v1/me", server.base_url))
            .bearer_auth(&secret)
            .send()
            .await?;
        assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
        server.stop().await;
    }
    Ok(())
}

/// The pages' side of the authorization matrix: people of other structures, signed in with a
/// valid session and form token, cannot change anything of the association.
#[tokio::test]
async fn pages_refuse_actors_of_other_structures_and_change_nothing() -> TestResult {
    for server in demo_servers().await? {
        let claire = idnps_of(&server, "Claire Martin").await?;
        let sophie = idnps_of(&server, "Sophie Bernard").await?;
        let newcomer = a_professional_of(&server, "690001029").await?;
        let sophie_habilitation = server
            .app
            .manageable_habilitations(&actor_of(&server, &claire).await?)
            .await
            .map_err(|e| format!("{e:?}"))?
            .iter()
            .find(|h| h.person_idnps == sophie)
            .map(|h| h.id.0)
            .ok_or("Sophie's habilitation not found")?;
        let outsiders = [
            idnps_of(&server, "Paul Girard").await?, // RL of the pharmacy
            idnps_of(&server, "Hélène Roche-Valette").await?, // RL of the hospital
            idnps_of(&server, "Karim Haddad").await?, // manager at the hospital
            sophie.clone(),                          // manager, not RL, of the association
            a_professional_of(&server, "690002027").await?, // pharmacy professional
        ];
        let before_counts = server.app.store().row_counts().await?;
        let before_feed = server.app.store().changes_after(0, 100_000).await?;
        for outsider in &outsiders {
            let mut b = Browser::new(&server.base_url)?;
            b.sign_in_locally(outsider).await?;
            let csrf = b.get("/mes-structures").await?.csrf();
            let grant = b
                .post(
                    "/mes-habilitations",
                    &[
                        ("csrf", csrf.as_str()),
                        ("person", newcomer.as_str()),
                        ("scope", "690001011"),
                        ("kind", "manager"),
                    ],
                )
                .await?;
            assert!(
                matches!(grant.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
                "{outsider}: grant answered {}",
                grant.status
            );
            let revoke = b
                .post(
                    &format!("/mes-habilitations/{sophie_habilitation}/retrait"),
                    &[("csrf", csrf.as_str())],
                )
                .await?;
            assert!(
                matches!(revoke.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
                "{outsider}: revoke answered {}",
                revoke.status
            );
            let page = b.get("/mes-habilitations").await?;
            assert!(
                !page.body.contains(&sophie),
                "{outsider} sees the association's managers"
            );
        }
        // Signing in is audited; nothing else may have changed.
        let after_counts = server.app.store().row_counts().await?;
        assert_eq!(
            rppsplus_store::RowCounts {
                audit: before_counts.audit,
                ..after_counts.clone()
            },
            before_counts
        );
        assert_eq!(
            server.app.store().changes_after(0, 100_000).await?,
            before_feed
        );
        server.stop().await;
    }
    Ok(())
}

#[tokio::test]
async fn the_legal_representative_chooses_the_management_mode() -> TestResult {
    for server in demo_servers().await? {
        let claire = idnps_of(&server, "Claire Martin").await?;
        let sophie = idnps_of(&server, "Sophie Bernard").await?;
        let mut rl = Browser::new(&server.base_url)?;
        rl.sign_in_locally(&claire).await?;
        let page = rl.get("/mes-structures").await?;
        assert!(page.body.contains(r#"value="centralised" checked"#));
        let csrf = page.csrf();
        let form = [
            ("csrf", csrf.as_str()),
            ("finess", "690001011"),
            ("mode", "per_site"),
        ];
        let p = rl.post("/mes-structures/mode-de-gestion", &form).await?;
        assert_eq!(p.location(), "/mes-structures?ok=mode");
        let page = rl.get("/mes-structures?ok=mode").await?;
        assert!(page.body.contains(r#"value="per_site" checked"#));
        assert!(page.body.contains("mode de gestion a été enregistré"));
        // A manager, even of that entity, may not change it.
        let mut manager = Browser::new(&server.base_url)?;
        manager.sign_in_locally(&sophie).await?;
        let page = manager.get("/mes-structures").await?;
        assert!(!page.body.contains("mode-de-gestion"));
        let csrf = page.csrf();
        let form = [
            ("csrf", csrf.as_str()),
            ("finess", "690001011"),
            ("mode", "centralised"),
        ];
        let p = manager
            .post("/mes-structures/mode-de-gestion", &form)
            .await?;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
        assert!(
            rl.get("/mes-structures")
                .await?
                .body
                .contains(r#"value="per_site" checked"#)
        );
        server.stop().await;
    }
    Ok(())
}
