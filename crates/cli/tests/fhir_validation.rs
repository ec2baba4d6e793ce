//! Every body the FHIR API returns validates as FHIR R4 with an independent model: SMART on
//! FHIR's `fhirclient` (R4 4.0.1 classes, strict) driven by `scripts/fhir-validate.py`, never
//! our own types. Against the demo server on SQLite and on PostgreSQL: the capability
//! statement, reads and searches of Practitioner, PractitionerRole and Organization (every page
//! of a search, `_include`, `_revinclude`, `POST _search`), and the `OperationOutcome`s of a
//! 400, a 401 and a 404.
//!
//! The validator is checked first: it accepts the IG's own examples (`crates/fhir/tests/data/`) and
//! rejects a resource we break on purpose, so a validator that accepts everything cannot make
//! this test pass. Without Python and fhirclient the test is skipped with a note, except with
//! `CI=true`, where it fails (`scripts/test` installs fhirclient in its venv;
//! `RPPSPLUS_TEST_PYTHON` names the interpreter).

use std::error::Error;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use rppsplus_test_support::{TestDb, TestServer};
use serde_json::Value;

type TestResult = Result<(), Box<dyn Error>>;

/// The variable naming the Python interpreter that has fhirclient (default `python3`).
const PYTHON_VAR: &str = "RPPSPLUS_TEST_PYTHON";

/// Pages of a search followed at most (the demo has a few dozen practitioners).
const MAX_PAGES: usize = 50;

struct Validator {
    python: String,
    script: PathBuf,
}

impl Validator {
    /// The validator, `None` (skip) when fhirclient is missing outside CI, an error in CI.
    fn find() -> Result<Option<Validator>, Box<dyn Error>> {
        let python = std::env::var(PYTHON_VAR).unwrap_or_else(|_| "python3".into());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/fhir-validate.py");
        let found = Command::new(&python)
            .args([
                "-c",
                "import fhirclient; assert fhirclient.__version__.startswith('4.')",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if found {
            return Ok(Some(Validator { python, script }));
        }
        if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
            return Err(format!(
                "{python} cannot import fhirclient 4.x, and CI=true: the FHIR R4 validation must \
                 run in CI (pip install fhirclient==4.4.0, or set {PYTHON_VAR})"
            )
            .into());
        }
        let _ = writeln!(
            std::io::stderr(),
            "note: skipping the FHIR R4 validation: {python} cannot import fhirclient 4.x \
             (pip install fhirclient==4.4.0)"
        );
        Ok(None)
    }

    /// Validates documents in one run; `Err` names every error and the document it is in.
    fn check(&self, docs: &[(String, Value)]) -> Result<(), String> {
        let batch = Value::Array(docs.iter().map(|(_, d)| d.clone()).collect());
        let mut child = Command::new(&self.python)
            .arg(&self.script)
            .arg("doc")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting the validator: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(batch.to_string().as_bytes())
                .map_err(|e| format!("feeding the validator: {e}"))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("running the validator: {e}"))?;
        if out.status.success() {
            return Ok(());
        }
        let names: Vec<String> = docs
            .iter()
            .enumerate()
            .map(|(i, (label, _))| format!("  doc[{i}] = {label}"))
            .collect();
        Err(format!(
            "not valid FHIR R4 (exit {:?}):\n{}\nwhere\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr),
            names.join("\n")
        ))
    }
}

/// The IG examples copied into the repository.
fn ig_examples() -> Result<Vec<(String, Value)>, Box<dyn Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fhir/tests/data");
    let mut docs = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            let doc: Value = serde_json::from_slice(&std::fs::read(&path)?)?;
            docs.push((path.display().to_string(), doc));
        }
    }
    docs.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(docs)
}

#[test]
fn the_validator_accepts_the_ig_examples_and_rejects_what_is_not_r4() -> TestResult {
    let Some(validator) = Validator::find()? else {
        return Ok(());
    };
    let examples = ig_examples()?;
    assert!(examples.len() >= 10, "{} examples", examples.len());
    validator.check(&examples)?;

    let practitioner = examples
        .iter()
        .find(|(_, d)| d["resourceType"] == "Practitioner")
        .map(|(_, d)| d.clone())
        .ok_or("no Practitioner example")?;
    type Breakage = (&'static str, fn(&mut Value));
    let broken: [Breakage; 6] = [
        ("an element R4 does not have", |d| {
            d["birthPlace"] = "Lyon".into()
        }),
        ("a wrong type", |d| d["active"] = "true".into()),
        (
            "a missing required element",
            |d| *d = serde_json::json!({ "resourceType": "Bundle", "total": 0 }),
        ),
        ("a code outside its required value set", |d| {
            d["name"][0]["use"] = "work".into()
        }),
        ("an empty array", |d| {
            d["identifier"] = Value::Array(Vec::new())
        }),
        ("a resource type R4 does not have", |d| {
            d["resourceType"] = "SubscriptionTopic".into()
        }),
    ];
    for (what, breaking) in broken {
        let mut doc = practitioner.clone();
        breaking(&mut doc);
        let refused = validator.check(&[(what.to_owned(), doc)]);
        assert!(refused.is_err(), "the validator accepted {what}");
    }
    Ok(())
}

/// Fetches `path` and keeps its body for validation, checking status and content type.
async fn fetch(
    http: &reqwest::Client,
    server: &TestServer,
    path: &str,
    expected: StatusCode,
    docs: &mut Vec<(String, Value)>,
) -> Result<Value, Box<dyn Error>> {
    let url = if path.starts_with("http") {
        path.to_owned()
    } else {
        server.url(path)
    };
    let r = http.get(&url).send().await?;
    keep(r, path, expected, docs).await
}

async fn keep(
    r: reqwest::Response,
    label: &str,
    expected: StatusCode,
    docs: &mut Vec<(String, Value)>,
) -> Result<Value, Box<dyn Error>> {
    assert_eq!(r.status(), expected, "{label}");
    let content_type = r
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/fhir+json"),
        "{label}: {content_type}"
    );
    let body: Value = r.json().await?;
    docs.push((label.to_owned(), body.clone()));
    Ok(body)
}

/// The `next` link of a Bundle.
fn next_link(bundle: &Value) -> Option<String> {
    bundle["link"].as_array()?.iter().find_map(|l| {
        (l["relation"] == "next")
            .then(|| l["url"].as_str().map(str::to_owned))
            .flatten()
    })
}

/// The resources of a Bundle's entries of a type, and of a search mode (`match`, `include`).
fn entries<'a>(bundle: &'a Value, resource_type: &str, mode: &str) -> Vec<&'a Value> {
    bundle["entry"]
        .as_array()
        .map(|es| {
            es.iter()
                .filter(|e| e["search"]["mode"] == mode)
                .map(|e| &e["resource"])
                .filter(|r| r["resourceType"] == resource_type)
                .collect()
        })
        .unwrap_or_default()
}

fn id_of(resource: Option<&&Value>) -> Result<String, Box<dyn Error>> {
    resource
        .and_then(|r| r["id"].as_str())
        .map(str::to_owned)
        .ok_or_else(|| "no resource with an id".into())
}

/// Every page of a search, kept; the resources matched.
async fn every_page(
    http: &reqwest::Client,
    server: &TestServer,
    first: &str,
    docs: &mut Vec<(String, Value)>,
) -> Result<usize, Box<dyn Error>> {
    let mut url = first.to_owned();
    let mut matched = 0;
    for page in 0..MAX_PAGES {
        let bundle = fetch(http, server, &url, StatusCode::OK, docs).await?;
        assert_eq!(bundle["resourceType"], "Bundle");
        matched += bundle["entry"].as_array().map_or(0, Vec::len);
        match next_link(&bundle) {
            Some(next) => url = next,
            None => return Ok(matched),
        }
        assert!(page + 1 < MAX_PAGES, "{first}: more than {MAX_PAGES} pages");
    }
    Ok(matched)
}

async fn validate_server_answers(validator: &Validator, db: TestDb) -> TestResult {
    let server = TestServer::start_demo(db).await?;
    let http = reqwest::Client::new();
    let mut docs = Vec::new();

    let metadata = fetch(
        &http,
        &server,
        "/fhir/v2/metadata",
        StatusCode::OK,
        &mut docs,
    )
    .await?;
    assert_eq!(metadata["resourceType"], "CapabilityStatement");

    // Practitioner: every page of a search, a read, the roles of a few.
    let matched = every_page(&http, &server, "/fhir/v2/Practitioner?_count=7", &mut docs).await?;
    assert!(matched > 7, "the demo spans several pages ({matched})");
    let search = fetch(
        &http,
        &server,
        "/fhir/v2/Practitioner?_count=3&_total=accurate",
        StatusCode::OK,
        &mut docs,
    )
    .await?;
    let practitioner = id_of(entries(&search, "Practitioner", "match").first())?;
    fetch(
        &http,
        &server,
        &format!("/fhir/v2/Practitioner/{practitioner}"),
        StatusCode::OK,
        &mut docs,
    )
    .await?;
    let with_roles = fetch(
        &http,
        &server,
        "/fhir/v2/Practitioner?_count=3&_revinclude=PractitionerRole:practitioner",
        StatusCode::OK,
        &mut docs,
    )
    .await?;
    assert!(!entries(&with_roles, "PractitionerRole", "include").is_empty());

    // PractitionerRole: search, read, the establishment and the practitioner included.
    every_page(
        &http,
        &server,
        "/fhir/v2/PractitionerRole?_count=10",
        &mut docs,
    )
    .await?;
    let roles = fetch(
        &http,
        &server,
        &format!(
            "/fhir/v2/PractitionerRole?practitioner=Practitioner/{practitioner}\
             &_include=PractitionerRole:organization&_include=PractitionerRole:practitioner"
        ),
        StatusCode::OK,
        &mut docs,
    )
    .await?;
    let role = id_of(entries(&roles, "PractitionerRole", "match").first())?;
    assert!(!entries(&roles, "Organization", "include").is_empty());
    fetch(
        &http,
        &server,
        &format!("/fhir/v2/PractitionerRole/{role}"),
        StatusCode::OK,
        &mut docs,
    )
    .await?;

    // Organization: search, read, the roles at a few.
    every_page(&http, &server, "/fhir/v2/Organization?_count=10", &mut docs).await?;
    let orgs = fetch(
        &http,
        &server,
        "/fhir/v2/Organization?_count=5&_revinclude=PractitionerRole:organization",
        StatusCode::OK,
        &mut docs,
    )
    .await?;
    let org = id_of(entries(&orgs, "Organization", "match").first())?;
    fetch(
        &http,
        &server,
        &format!("/fhir/v2/Organization/{org}"),
        StatusCode::OK,
        &mut docs,
    )
    .await?;

    // POST _search, as clients do for long queries.
    let r = http
        .post(server.url("/fhir/v2/Practitioner/_search"))
        .form(&[("_count", "2"), ("active", "true")])
        .send()
        .await?;
    keep(r, "POST Practitioner/_search", StatusCode::OK, &mut docs).await?;

    // The errors are OperationOutcomes too.
    let bad = fetch(
        &http,
        &server,
        "/fhir/v2/Practitioner?couleur=bleu",
        StatusCode::BAD_REQUEST,
        &mut docs,
    )
    .await?;
    assert_eq!(bad["resourceType"], "OperationOutcome");
    fetch(
        &http,
        &server,
        "/fhir/v2/Practitioner/inconnu",
        StatusCode::NOT_FOUND,
        &mut docs,
    )
    .await?;
    let r = http
        .get(server.url("/fhir/v2/Practitioner"))
        .header("ESANTE-API-KEY", "rppsdir_faux")
        .send()
        .await?;
    let unauthorized = keep(r, "wrong key", StatusCode::UNAUTHORIZED, &mut docs).await?;
    assert_eq!(unauthorized["resourceType"], "OperationOutcome");

    validator.check(&docs)?;
    // And the check could have failed: the same answers, one of them broken, are refused.
    if let Some((label, doc)) = docs.iter_mut().find(|(_, d)| d["resourceType"] == "Bundle") {
        doc["unexpected"] = Value::Bool(true);
        *label = format!("{label} (broken on purpose)");
    }
    assert!(
        validator.check(&docs).is_err(),
        "a broken Bundle was accepted"
    );
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fhir_answer_validates_as_r4_on_sqlite() -> TestResult {
    let Some(validator) = Validator::find()? else {
        return Ok(());
    };
    validate_server_answers(&validator, TestDb::sqlite().await?).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fhir_answer_validates_as_r4_on_postgres() -> TestResult {
    let Some(validator) = Validator::find()? else {
        return Ok(());
    };
    let Some(db) = TestDb::postgres().await? else {
        return Ok(());
    };
    validate_server_answers(&validator, db).await
}
