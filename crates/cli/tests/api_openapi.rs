//! The OpenAPI document as served: valid JSON, without a token, listing exactly the routes the
//! server answers under `/api/v1` (each documented operation is routed: without a token it asks
//! for one instead of answering 404 or 405).

mod api_common;

use api_common::*;
use reqwest::Method;
use serde_json::Value;

/// Every operation of the API. A new endpoint is added here, in the router (`routes!`) and in
/// the committed document (`docs/api/openapi.json`).
const OPERATIONS: &[(&str, &str)] = &[
    ("get", "/api/v1/structures"),
    ("get", "/api/v1/structures/{finess}"),
    ("put", "/api/v1/structures/{finess}/legal-representative"),
    ("put", "/api/v1/structures/{finess}/management-mode"),
    ("get", "/api/v1/habilitations"),
    ("post", "/api/v1/habilitations"),
    ("delete", "/api/v1/habilitations/{id}"),
    ("post", "/api/v1/elearning"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/tokens"),
    ("post", "/api/v1/access/decisions"),
    ("post", "/api/v1/access/decisions:batch"),
    ("get", "/api/v1/ping"),
    ("get", "/api/v1/ping/authenticated"),
    ("post", "/api/v1/tokens"),
    ("delete", "/api/v1/tokens/{id}"),
    ("get", "/api/v1/openapi.json"),
    ("post", "/api/v1/registrations"),
    ("post", "/api/v1/professionals/search"),
    ("get", "/api/v1/professionals/{rpps}"),
    ("put", "/api/v1/professionals/{rpps}/identity"),
    ("put", "/api/v1/professionals/{rpps}/contact"),
    ("get", "/api/v1/structures/{finess}/professionals"),
    ("get", "/api/v1/situations/{id}"),
    ("patch", "/api/v1/situations/{id}"),
    ("post", "/api/v1/situations/{id}/close"),
    ("post", "/api/v1/situations/{id}/manager-departure"),
    ("post", "/api/v1/self-registrations"),
    ("get", "/api/v1/structures/{finess}/self-registrations"),
    ("post", "/api/v1/self-registrations/{id}/validate"),
    ("post", "/api/v1/self-registrations/{id}/reject"),
];

/// Operations open without a token.
const PUBLIC: &[&str] = &[
    "/api/v1/openapi.json",
    "/api/v1/self-registrations",
    "/api/v1/ping",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_lists_every_route_served() -> TestResult {
    for server in demo_servers().await? {
        let client = reqwest::Client::new();
        let r = client
            .get(server.url("/api/v1/openapi.json"))
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/json")
        );
        let doc: Value = serde_json::from_str(&r.text().await?)?;
        assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));

        let mut documented: Vec<(String, String)> = doc["paths"]
            .as_object()
            .ok_or("no paths")?
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .into_iter()
                    .flat_map(|ops| ops.keys())
                    .map(move |method| (method.clone(), path.clone()))
            })
            .collect();
        documented.sort();
        let mut expected: Vec<(String, String)> = OPERATIONS
            .iter()
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
            .collect();
        expected.sort();
        assert_eq!(documented, expected);

        for (method, path) in OPERATIONS {
            if PUBLIC.contains(path) {
                continue;
            }
            let concrete = path
                .replace("{finess}", EHPAD)
                .replace("{id}", "1")
                .replace("{rpps}", "10000000000");
            let method = Method::from_bytes(method.to_uppercase().as_bytes())?;
            let r = client
                .request(method.clone(), server.url(&concrete))
                .send()
                .await?;
            assert_eq!(r.status(), 401, "{method} {concrete} is not routed");
            let body: Value = serde_json::from_str(&r.text().await?)?;
            assert_eq!(
                body["error"]["code"], "unauthenticated",
                "{method} {concrete}"
            );
        }
        server.stop().await;
    }
    Ok(())
}
