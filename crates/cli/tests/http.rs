//! The web shell over real HTTP, on SQLite and on PostgreSQL.

use std::error::Error;

use rppsplus_test_support::{TestDb, TestServer};

type TestResult = Result<(), Box<dyn Error>>;

/// A demo server on each backend available (PostgreSQL is skipped outside CI when unset).
async fn demo_servers() -> Result<Vec<TestServer>, Box<dyn Error>> {
    let mut servers = vec![TestServer::start_demo(TestDb::sqlite().await?).await?];
    if let Some(pg) = TestDb::postgres().await? {
        servers.push(TestServer::start_demo(pg).await?);
    }
    Ok(servers)
}

fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

#[tokio::test]
async fn health_and_readiness_answer() -> TestResult {
    let c = client()?;
    for s in demo_servers().await? {
        let r = c.get(s.url("/healthz")).send().await?;
        assert_eq!(r.status(), 200);
        let r = c.get(s.url("/readyz")).send().await?;
        assert_eq!(r.status(), 200);
        // Once the database is gone, the instance is no longer ready but still alive.
        s.app.store().close().await;
        let r = c.get(s.url("/readyz")).send().await?;
        assert_eq!(r.status(), 503);
        let r = c.get(s.url("/healthz")).send().await?;
        assert_eq!(r.status(), 200);
        s.stop().await;
    }
    Ok(())
}

#[tokio::test]
async fn pages_are_french_and_carry_security_headers() -> TestResult {
    let c = client()?;
    for s in demo_servers().await? {
        for path in ["/", "/structures", "/demo", "/nulle-part"] {
            let r = c.get(s.url(path)).send().await?;
            let h = r.headers().clone();
            let csp = h
                .get("content-security-policy")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
            assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
            assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
            assert_eq!(
                h.get("x-content-type-options").map(|v| v.as_bytes()),
                Some(&b"nosniff"[..])
            );
            assert_eq!(
                h.get("x-frame-options").map(|v| v.as_bytes()),
                Some(&b"DENY"[..])
            );
            let body = r.text().await?;
            assert!(body.contains(r#"<html lang="fr">"#), "{path}");
            assert!(body.contains(r##"href="#contenu""##), "{path}");
            assert!(body.contains(r#"<main id="contenu""#), "{path}");
            assert!(
                body.contains(r#"aria-label="Navigation principale""#),
                "{path}"
            );
            // No inline script or style: the CSP would block them.
            assert!(
                !body.contains("<script>") && !body.contains("style="),
                "{path}"
            );
        }
        let r = c.get(s.url("/nulle-part")).send().await?;
        assert_eq!(r.status(), 404);
        assert!(r.text().await?.contains("Page introuvable"));
        let r = c.get(s.url("/static/app.css")).send().await?;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers().get("content-type").map(|v| v.as_bytes()),
            Some(&b"text/css; charset=utf-8"[..])
        );
        s.stop().await;
    }
    Ok(())
}

#[tokio::test]
async fn structure_search_ignores_case_and_accents_and_reports_field_errors() -> TestResult {
    let c = client()?;
    for s in demo_servers().await? {
        // "hopital" finds nothing, but "villefranche" without accent or case finds the hospital;
        // "TILLEULS" finds the association and its two establishments.
        let body = c
            .get(s.url("/structures?q=TILLEULS"))
            .send()
            .await?
            .text()
            .await?;
        for finess in ["690001011", "690001029", "690001037"] {
            assert!(body.contains(finess), "{finess} missing");
        }
        assert!(!body.contains("690002027"));
        let body = c
            .get(s.url("/structures?q=centre%20hospitalier%20villefranche%20saone"))
            .send()
            .await?
            .text()
            .await?;
        assert!(body.contains("690003025"));
        // By FINESS prefix.
        let body = c
            .get(s.url("/structures?q=6900020"))
            .send()
            .await?
            .text()
            .await?;
        assert!(body.contains("Pharmacie du Parc"));

        // Too short: the accessible error pattern, status 422.
        let r = c.get(s.url("/structures?q=a")).send().await?;
        assert_eq!(r.status(), 422);
        let body = r.text().await?;
        assert!(body.contains(r#"class="error-summary" role="alert""#));
        assert!(body.contains(r##"<a href="#q">Saisissez au moins 2 caractères"##));
        assert!(body.contains(r#"aria-invalid="true" aria-describedby="q-hint q-error""#));
        assert!(body.contains(r#"id="q-error""#));
        // What was typed is kept, escaped.
        let body = c
            .get(s.url("/structures?q=%3Cscript%3E"))
            .send()
            .await?
            .text()
            .await?;
        assert!(!body.contains("<script>"));
        assert!(body.contains("&#60;script&#62;") || body.contains("&lt;script&gt;"));
        s.stop().await;
    }
    Ok(())
}

#[tokio::test]
async fn structure_page_shows_its_legal_entity_and_sister_sites() -> TestResult {
    let c = client()?;
    for s in demo_servers().await? {
        let body = c
            .get(s.url("/structures/690001029"))
            .send()
            .await?
            .text()
            .await?;
        assert!(body.contains("EHPAD Les Tilleuls"));
        assert!(body.contains("Association Les Tilleuls"), "legal entity");
        assert!(body.contains("SSIAD Les Tilleuls"), "sister site");
        assert!(body.contains("Social et médico-social"));
        let body = c
            .get(s.url("/structures/690001011"))
            .send()
            .await?
            .text()
            .await?;
        assert!(body.contains("Centralisée"));
        assert!(body.contains("690001029") && body.contains("690001037"));
        // Unknown but well-formed, and malformed numbers: the French not-found page.
        for path in ["/structures/010780054", "/structures/abc"] {
            let r = c.get(s.url(path)).send().await?;
            assert_eq!(r.status(), 404, "{path}");
        }
        s.stop().await;
    }
    Ok(())
}

#[tokio::test]
async fn demo_page_lists_whom_to_sign_in_as_and_is_absent_outside_demo() -> TestResult {
    let c = client()?;
    for s in demo_servers().await? {
        let body = c.get(s.url("/demo")).send().await?.text().await?;
        assert!(body.contains("Représentant légal"));
        assert!(body.contains("Gestionnaire RPPS+"));
        assert!(body.contains("Claire Martin"));
        s.stop().await;
    }
    let plain = TestServer::start(TestDb::sqlite().await?, Default::default()).await?;
    let r = c.get(plain.url("/demo")).send().await?;
    assert_eq!(r.status(), 404);
    let body = c.get(plain.url("/")).send().await?.text().await?;
    assert!(!body.contains("Démonstration"));
    plain.stop().await;
    Ok(())
}

#[tokio::test]
async fn the_access_page_shows_the_five_roles_and_their_87_document_types() -> TestResult {
    let c = client()?;
    let s = TestServer::start(TestDb::sqlite().await?, Default::default()).await?;
    let r = c.get(s.url("/acces")).send().await?;
    assert_eq!(r.status(), 200);
    let body = r.text().await?;
    for (role, count) in [
        ("GENR08", 34),
        ("GENR09", 5),
        ("GENR10", 9),
        ("GENR11", 26),
        ("GENR12", 13),
    ] {
        assert!(body.contains(&format!(r#"id="{role}""#)), "{role}");
        assert!(
            body.contains(&format!("({count} types de documents)")),
            "{role}: {count}"
        );
    }
    assert_eq!(body.matches("<tr><td>").count(), 87);
    assert!(body.contains("<code>11488-4</code>"));
    s.stop().await;
    Ok(())
}
