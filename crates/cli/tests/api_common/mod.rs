//! Shared by the API tests: demo servers on both backends, tokens for the demo's people, and a
//! small JSON client.

#![allow(dead_code)]

use std::error::Error;

use reqwest::{Method, StatusCode};
use rppsplus_app::Actor;
use rppsplus_app::directory::{DirectorySummary, PersonKind};
use rppsplus_test_support::{TestDb, TestServer};
use serde_json::Value;

pub type TestResult = Result<(), Box<dyn Error>>;
pub type Fallible<T> = Result<T, Box<dyn Error>>;

/// The demo's structures.
pub const ASSOCIATION: &str = "690001011";
pub const EHPAD: &str = "690001029";
pub const SSIAD: &str = "690001037";
pub const PHARMACY_EJ: &str = "690002019";
pub const PHARMACY: &str = "690002027";
pub const HOSPITAL_EJ: &str = "690003017";
pub const HOSPITAL: &str = "690003025";

/// A demo server on each backend available (PostgreSQL is skipped outside CI when unset).
pub async fn demo_servers() -> Fallible<Vec<TestServer>> {
    let mut servers = vec![TestServer::start_demo(TestDb::sqlite().await?).await?];
    if let Some(pg) = TestDb::postgres().await? {
        servers.push(TestServer::start_demo(pg).await?);
    }
    Ok(servers)
}

/// Who is who in the demo.
pub struct Demo {
    pub summary: DirectorySummary,
}

impl Demo {
    pub async fn of(server: &TestServer) -> Fallible<Demo> {
        let summary = server
            .app
            .directory_summary()
            .await
            .map_err(|e| format!("{e:?}"))?;
        Ok(Demo { summary })
    }

    /// The IDNPS of the person with this name ("Claire Martin").
    pub fn idnps(&self, name: &str) -> Fallible<String> {
        self.summary
            .people
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.idnps.clone())
            .ok_or_else(|| format!("{name} is not in the demo").into())
    }

    /// Professionals (no capacity) working at an establishment, in directory order.
    pub fn professionals_at(&self, finess: &str) -> Vec<String> {
        self.summary
            .people
            .iter()
            .filter(|p| {
                p.kind == PersonKind::Professional && p.structures.iter().any(|s| s == finess)
            })
            .map(|p| p.idnps.clone())
            .collect()
    }
}

/// A new token for the person with this IDNPS, as the operator's command makes it.
pub async fn person_token(server: &TestServer, idnps: &str) -> Fallible<String> {
    Ok(server
        .app
        .create_person_token(&Actor::Operator, idnps, Some("tests"))
        .await
        .map_err(|e| format!("{e:?}"))?
        .secret)
}

/// A new token for a consuming system.
pub async fn system_token(server: &TestServer, name: &str) -> Fallible<String> {
    Ok(server
        .app
        .create_system_token(&Actor::Operator, name, None)
        .await
        .map_err(|e| format!("{e:?}"))?
        .secret)
}

/// A new operator token.
pub async fn operator_token(server: &TestServer) -> Fallible<String> {
    Ok(server
        .app
        .create_operator_token(&Actor::Operator, "exploitation", None)
        .await
        .map_err(|e| format!("{e:?}"))?
        .secret)
}

/// An answer: status, headers and JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// `error.code` of an error answer.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    /// `(field, code)` of each invalid field.
    pub fn fields(&self) -> Vec<(String, String)> {
        self.body["error"]["fields"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|f| {
                        (
                            f["field"].as_str().unwrap_or_default().to_owned(),
                            f["code"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A client of one server's API.
pub struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    pub fn new(server: &TestServer) -> Fallible<Api> {
        Ok(Api {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            base: server.url("/api/v1"),
        })
    }

    /// Sends a request; `body` as JSON when given.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Fallible<Answer> {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        self.answer(req).await
    }

    /// Sends a prepared request (raw bodies, odd headers).
    pub async fn answer(&self, req: reqwest::RequestBuilder) -> Fallible<Answer> {
        let r = req.send().await?;
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await?;
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).map_err(|e| format!("{status}: not JSON ({e}): {text}"))?
        };
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// A request builder for raw calls.
    pub fn raw(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    pub async fn get(&self, path: &str, token: &str) -> Fallible<Answer> {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Fallible<Answer> {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Fallible<Answer> {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Fallible<Answer> {
        self.call(Method::DELETE, path, Some(token), None).await
    }
}
