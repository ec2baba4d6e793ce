//! The OpenAPI document: committed, so that any change of the API shows in review.
//!
//! `docs/api/openapi.json` is the document as served. When the API changes on purpose,
//! regenerate it with `RPPSPLUS_UPDATE_SNAPSHOTS=1 cargo test -p rppsplus-web openapi` and
//! commit the result with the change.

use std::path::PathBuf;

use serde_json::Value;

use super::openapi;

fn snapshot_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/api/openapi.json")
}

#[test]
fn the_openapi_document_matches_the_committed_one() -> Result<(), Box<dyn std::error::Error>> {
    let served = format!("{}\n", openapi().to_pretty_json()?);
    let path = snapshot_path();
    if std::env::var_os("RPPSPLUS_UPDATE_SNAPSHOTS").is_some() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, &served)?;
        return Ok(());
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != served {
        let new = path.with_extension("json.new");
        std::fs::write(&new, &served)?;
        panic!(
            "the OpenAPI document changed: compare {} with {}, then regenerate with \
             RPPSPLUS_UPDATE_SNAPSHOTS=1 cargo test -p rppsplus-web openapi and commit it",
            path.display(),
            new.display()
        );
    }
    Ok(())
}

#[test]
fn every_operation_is_described_with_its_errors() -> Result<(), Box<dyn std::error::Error>> {
    let doc: Value = serde_json::from_str(&openapi().to_json()?)?;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    for name in ["ErrorBody", "ErrorDetail", "FieldErrorBody"] {
        assert!(doc["components"]["schemas"][name].is_object(), "{name}");
    }
    let paths = doc["paths"].as_object().ok_or("no paths")?;
    let mut operations = 0;
    for (path, item) in paths {
        assert!(path.starts_with("/api/v1/"), "{path}");
        for (method, op) in item.as_object().ok_or("no operations")? {
            operations += 1;
            let what = format!("{method} {path}");
            assert!(op["operationId"].is_string(), "{what}: operationId");
            assert!(op["summary"].is_string(), "{what}: summary");
            assert!(op["tags"].is_array(), "{what}: tags");
            // The document and the no-op baseline of the benchmarks need no token.
            if path == "/api/v1/openapi.json" || path == "/api/v1/ping" {
                assert_eq!(op["security"], serde_json::json!([{}]), "{what}");
                continue;
            }
            // A self-registration is submitted by a person who has no token yet.
            if path == "/api/v1/self-registrations" {
                assert_eq!(op["security"], serde_json::json!([{}]), "{what}");
            } else {
                let unauthorized = &op["responses"]["401"]["content"]["application/json"]["schema"];
                assert_eq!(
                    unauthorized["$ref"], "#/components/schemas/ErrorBody",
                    "{what}: 401"
                );
            }
            for (status, response) in op["responses"].as_object().ok_or("no responses")? {
                if status.starts_with('4') || status.starts_with('5') {
                    let schema = &response["content"]["application/json"]["schema"]["$ref"];
                    // A strong match is an error body with the candidates beside it.
                    let strong_match =
                        status == "409" && schema == "#/components/schemas/StrongMatchBody";
                    assert!(
                        strong_match || schema == "#/components/schemas/ErrorBody",
                        "{what}: {status}"
                    );
                }
            }
            if let Some(body) = op.get("requestBody") {
                assert_eq!(body["required"], true, "{what}: request body");
            }
        }
    }
    assert_eq!(operations, 13 + 14 + 4);
    Ok(())
}
