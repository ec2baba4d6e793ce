//! Access to the public directory: the FHIR API under `/fhir/v2` and the extracts over HTTP.
//!
//! **Keys.** Callers send a key issued by the operator (`rppsplus apikey create`) in the
//! `ESANTE-API-KEY` header, as with the national Annuaire Santé API. The key is read from the
//! database on every request ([`App::authenticate_directory_key`], one statement, no cache): a
//! revoked key stops working at the next request. A missing key is `401` unless the operator
//! allows anonymous reads; a key that is wrong, unknown or revoked is always `401`. Errors are
//! FHIR `OperationOutcome`s (`application/fhir+json`). `GET /fhir/v2/metadata` stays public:
//! FHIR clients read it before anything else.
//!
//! **Rate limit.** A token bucket per key (the key's own rate, or the server's default), and one
//! per client IP address for anonymous reads and for requests with a wrong key: a bucket holds
//! a minute's worth of requests and refills continuously; an empty bucket answers `429` with
//! `Retry-After` (seconds). Buckets live **in the memory of each server instance**: with `n`
//! instances behind a load balancer, a key may make up to `n` times its rate. Time comes from
//! the application's clock, so tests move it by hand instead of sleeping.
//!
//! **Extracts.** `GET /extracts/ps-libreacces` (public data: any valid key) and
//! `GET /extracts/rass` (civil identity and personal contact details: only keys the operator
//! allowed, `apikey create --extracts`), streamed as they are written, in constant memory.

use std::future::Future;
use std::io::{self, Write};
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::{SignedDuration, Timestamp};
use rppsplus_app::extracts::ExtractFormat;
use rppsplus_app::{App, AppError};
use rppsplus_store::{DirectoryKey, DirectoryKeyId};
use serde_json::json;
use tokio::sync::{Notify, futures::OwnedNotified};

use crate::client_ip::{TrustedProxies, client_ip};
use crate::rate_limit::{Buckets, client_address};

/// The header that carries the key (HTTP header names are case-insensitive).
pub const KEY_HEADER: &str = "esante-api-key";

/// The FHIR JSON media type.
const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

/// Bytes gathered before a chunk of an extract is sent.
const CHUNK: usize = 64 * 1024;

/// Chunks waiting to be sent: with [`CHUNK`], what one download holds in memory at most.
const CHUNKS_IN_FLIGHT: usize = 4;

/// Who may read the directory, and how fast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectorySettings {
    /// Whether requests without a key may read the FHIR API (not the extracts). `None`: only
    /// in demo mode.
    pub anonymous: Option<bool>,
    /// Requests per minute of a key that has no rate of its own.
    pub rate_per_minute: u32,
    /// Requests per minute of one client IP address without a key.
    pub anonymous_rate_per_minute: u32,
}

impl Default for DirectorySettings {
    fn default() -> Self {
        DirectorySettings {
            anonymous: None,
            rate_per_minute: 600,
            anonymous_rate_per_minute: 60,
        }
    }
}

/// Who is reading.
#[derive(Debug, Clone)]
pub enum DirectoryCaller {
    /// Nobody in particular (anonymous reads are allowed).
    Anonymous,
    /// The holder of this key.
    Key(DirectoryKey),
}

/// What a bucket belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum BucketOf {
    Key(DirectoryKeyId),
    Address(Option<IpAddr>),
}

/// The gate in front of the directory: authentication and rate limits.
#[derive(Clone)]
pub(crate) struct Gate {
    app: Arc<App>,
    settings: DirectorySettings,
    anonymous: bool,
    buckets: Arc<Mutex<Buckets<BucketOf>>>,
    proxies: TrustedProxies,
}

impl Gate {
    /// The gate of a server; `demo` decides anonymous reads when the settings leave it open.
    pub(crate) fn new(
        app: Arc<App>,
        settings: DirectorySettings,
        demo: bool,
        proxies: TrustedProxies,
    ) -> Gate {
        let anonymous = settings.anonymous.unwrap_or(demo);
        Gate {
            app,
            settings,
            anonymous,
            buckets: Arc::new(Mutex::new(Buckets::new(
                SignedDuration::from_secs(60),
                |of| matches!(of, BucketOf::Address(_)),
            ))),
            proxies,
        }
    }

    /// `router` (the FHIR API) behind the gate, its `/metadata` excepted.
    pub(crate) fn protect<S>(&self, router: Router<S>) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        router.layer(axum::middleware::from_fn_with_state(
            self.clone(),
            fhir_gate,
        ))
    }

    /// The extract downloads, behind the gate.
    pub(crate) fn extracts<S>(&self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        Router::new()
            .route("/extracts/{name}", get(download))
            .with_state(self.clone())
    }

    /// Admits a request or answers the refusal. `anonymous_here` says whether this route may
    /// be read without a key at all.
    async fn admit(
        &self,
        headers: &HeaderMap,
        address: Option<IpAddr>,
        anonymous_here: bool,
    ) -> Result<DirectoryCaller, Refusal> {
        let presented = headers.get(KEY_HEADER);
        let key = match presented {
            None => None,
            Some(value) => {
                let found = match value.to_str() {
                    Ok(text) => self
                        .app
                        .authenticate_directory_key(text.trim())
                        .await
                        .map_err(|e| {
                            tracing::error!(error = %e, "reading a directory key failed");
                            Refusal::Failure
                        })?,
                    Err(_) => None,
                };
                match found {
                    Some(key) => Some(key),
                    None => {
                        // Wrong keys draw from the address's bucket: guessing costs time.
                        self.limit(
                            BucketOf::Address(address),
                            self.settings.anonymous_rate_per_minute,
                        )?;
                        return Err(Refusal::WrongKey);
                    }
                }
            }
        };
        match key {
            Some(key) => {
                let rate = key
                    .record
                    .rate_per_minute
                    .unwrap_or(self.settings.rate_per_minute);
                self.limit(BucketOf::Key(key.id), rate)?;
                Ok(DirectoryCaller::Key(key))
            }
            None if self.anonymous && anonymous_here => {
                self.limit(
                    BucketOf::Address(address),
                    self.settings.anonymous_rate_per_minute,
                )?;
                Ok(DirectoryCaller::Anonymous)
            }
            None => Err(Refusal::NoKey),
        }
    }

    fn limit(&self, of: BucketOf, rate_per_minute: u32) -> Result<(), Refusal> {
        let now = self.app.now();
        let taken = match self.buckets.lock() {
            Ok(mut buckets) => buckets.take(of, rate_per_minute, now),
            // A panic while the lock was held cannot leave a bucket half-written: serve on.
            Err(poisoned) => poisoned.into_inner().take(of, rate_per_minute, now),
        };
        taken.map_err(|retry_after| Refusal::Throttled { retry_after })
    }
}

/// Why the gate turned a request away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// No key, where one is needed.
    NoKey,
    /// A key that is not one, unknown or revoked.
    WrongKey,
    /// The bucket is empty: come back in this many seconds.
    Throttled { retry_after: u64 },
    /// The key could not be read.
    Failure,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::NoKey => outcome(
                StatusCode::UNAUTHORIZED,
                "login",
                "Une clé d'API est requise : envoyez-la dans l'en-tête ESANTE-API-KEY.",
            ),
            Refusal::WrongKey => outcome(
                StatusCode::UNAUTHORIZED,
                "login",
                "Clé d'API inconnue ou révoquée (en-tête ESANTE-API-KEY).",
            ),
            Refusal::Throttled { retry_after } => {
                let mut response = outcome(
                    StatusCode::TOO_MANY_REQUESTS,
                    "throttled",
                    &format!(
                        "Trop de requêtes : réessayez dans {retry_after} seconde{}.",
                        if retry_after > 1 { "s" } else { "" }
                    ),
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                response
            }
            Refusal::Failure => outcome(
                StatusCode::INTERNAL_SERVER_ERROR,
                "exception",
                "Erreur interne : réessayez plus tard.",
            ),
        }
    }
}

/// An `OperationOutcome` with one issue, `code` from the FHIR IssueType value set.
fn outcome(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({
        "resourceType": "OperationOutcome",
        "issue": [{
            "severity": "error",
            "code": code,
            "diagnostics": message,
        }],
    });
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON))],
        body.to_string(),
    )
        .into_response()
}

/// The client's address (behind trusted proxies, the one they name), when the server was
/// started with it. An IPv6 client counts by its /64, what one subscriber usually gets.
fn address_of(req: &Request, proxies: &TrustedProxies) -> Option<IpAddr> {
    client_ip(req.extensions(), req.headers(), proxies).map(client_address)
}

/// The middleware of the FHIR API.
async fn fhir_gate(State(gate): State<Gate>, mut req: Request, next: Next) -> Response {
    // Nested under /fhir/v2, the path seen here is the part after it.
    if req.uri().path() == "/metadata" {
        return next.run(req).await;
    }
    let address = address_of(&req, &gate.proxies);
    match gate.admit(req.headers(), address, true).await {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(refusal) => refusal.into_response(),
    }
}

/// `GET /extracts/{name}`: the whole registry as a flat extract file.
async fn download(State(gate): State<Gate>, Path(name): Path<String>, req: Request) -> Response {
    let format = match name.as_str() {
        "ps-libreacces" => ExtractFormat::PsLibreAcces,
        "rass" => ExtractFormat::Rass,
        _ => {
            return outcome(
                StatusCode::NOT_FOUND,
                "not-found",
                "Extraction inconnue : ps-libreacces (publique) ou rass (restreinte).",
            );
        }
    };
    let key = match gate
        .admit(req.headers(), address_of(&req, &gate.proxies), false)
        .await
    {
        Ok(DirectoryCaller::Key(key)) => key,
        // Not reached (anonymous reads are not offered here), but never a download without a key.
        Ok(DirectoryCaller::Anonymous) => return Refusal::NoKey.into_response(),
        Err(refusal) => return refusal.into_response(),
    };
    match gate.app.start_extract_download(&key, format).await {
        Ok(()) => {}
        Err(AppError::Forbidden) => {
            return outcome(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Cette clé n'est pas autorisée à télécharger l'extraction restreinte (RASS).",
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "starting an extract download failed");
            return Refusal::Failure.into_response();
        }
    }
    tracing::info!(key = %key.id, format = %name, "extract download");
    let file_name = file_name(format, gate.app.now());
    let body = stream_extract(gate.app.clone(), format);
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The national file name of an extract made at `at`, dated in Paris time.
fn file_name(format: ExtractFormat, at: Timestamp) -> String {
    let stamp = match jiff::tz::TimeZone::get("Europe/Paris") {
        Ok(tz) => at.to_zoned(tz).strftime("%Y%m%d%H%M").to_string(),
        Err(_) => at.strftime("%Y%m%d%H%M").to_string(),
    };
    match format {
        ExtractFormat::PsLibreAcces => format!("PS_LibreAcces_Personne_activite_{stamp}.txt"),
        ExtractFormat::Rass => {
            format!("Extraction_ProSanteConnect_Personne_activite_{stamp}.txt")
        }
    }
}

/// The extract as a body written while it is sent. The writer is synchronous and the export
/// reads the database between pages, so both run on a blocking thread; chunks cross a bounded
/// channel, so a slow client slows the export down instead of filling memory. A failure
/// mid-way ends the body with an error: the client sees a broken transfer rather than a
/// complete-looking, truncated file.
fn stream_extract(app: Arc<App>, format: ExtractFormat) -> Body {
    // A std channel: its sender may block the writer's thread (tokio's refuses to block inside
    // the runtime the export runs on). The body learns of new chunks through `ready`.
    let (tx, rx) = sync_channel(CHUNKS_IN_FLIGHT);
    let ready = Arc::new(Notify::new());
    let notify = ready.clone();
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let failed = tx.clone();
        let writer = ChunkWriter {
            tx,
            ready: notify.clone(),
            buf: Vec::with_capacity(CHUNK),
        };
        let done = runtime
            .block_on(app.export_extract(format, writer, |_| {}))
            .map_err(|e| e.to_string())
            .and_then(|(mut writer, summary)| {
                writer.flush().map_err(|e| e.to_string())?;
                Ok(summary)
            });
        match done {
            Ok(summary) => tracing::info!(rows = summary.rows, "extract sent"),
            Err(e) => {
                tracing::warn!(error = %e, "extract download stopped");
                let _ = failed.send(Err(io::Error::other("the extract could not be written")));
            }
        }
        // Every sender is gone once this thread ends: the body ends after the last chunk.
        drop(failed);
        notify.notify_one();
    });
    Body::new(ChunkBody {
        rx,
        ready,
        waiting: None,
    })
}

/// Gathers the extract's bytes into chunks for the body.
struct ChunkWriter {
    tx: SyncSender<io::Result<Bytes>>,
    ready: Arc<Notify>,
    buf: Vec<u8>,
}

impl ChunkWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))?;
        self.ready.notify_one();
        Ok(())
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// The receiving end, as an HTTP body.
struct ChunkBody {
    rx: Receiver<io::Result<Bytes>>,
    ready: Arc<Notify>,
    waiting: Option<Pin<Box<OwnedNotified>>>,
}

impl http_body::Body for ChunkBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        loop {
            match this.rx.try_recv() {
                Ok(chunk) => return Poll::Ready(Some(chunk.map(http_body::Frame::data))),
                Err(TryRecvError::Disconnected) => return Poll::Ready(None),
                Err(TryRecvError::Empty) => {}
            }
            // A chunk sent between `try_recv` and here left a permit: this is then ready at
            // once, and the loop reads it.
            let ready = this.ready.clone();
            let waiting = this
                .waiting
                .get_or_insert_with(|| Box::pin(ready.notified_owned()));
            match waiting.as_mut().poll(cx) {
                Poll::Ready(()) => this.waiting = None,
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer thread feeding `data` to a body, as `stream_extract` does.
    fn pipe(data: Vec<u8>) -> (std::thread::JoinHandle<io::Result<()>>, ChunkBody) {
        let (tx, rx) = sync_channel(CHUNKS_IN_FLIGHT);
        let ready = Arc::new(Notify::new());
        let notify = ready.clone();
        let writer = std::thread::spawn(move || {
            let mut w = ChunkWriter {
                tx,
                ready: notify.clone(),
                buf: Vec::new(),
            };
            let written = data.chunks(1000).try_for_each(|piece| w.write_all(piece));
            let flushed = written.and_then(|()| w.flush());
            drop(w);
            notify.notify_one();
            flushed
        });
        let body = ChunkBody {
            rx,
            ready,
            waiting: None,
        };
        (writer, body)
    }

    async fn next_chunk(body: &mut ChunkBody) -> Option<io::Result<Bytes>> {
        use http_body::Body as _;
        let frame = std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await?;
        Some(frame.map(|f| f.into_data().unwrap_or_default()))
    }

    #[tokio::test]
    async fn the_body_carries_every_byte_in_order_in_bounded_chunks() -> io::Result<()> {
        let data: Vec<u8> = (0..CHUNK * 10 + 123).map(|i| (i % 251) as u8).collect();
        let (writer, mut body) = pipe(data.clone());
        let mut received = Vec::new();
        let mut chunks = 0;
        while let Some(chunk) = next_chunk(&mut body).await {
            let chunk = chunk?;
            assert!(chunk.len() <= CHUNK + 1000, "{} bytes", chunk.len());
            received.extend_from_slice(&chunk);
            chunks += 1;
        }
        assert!(
            received == data,
            "{} of {} bytes",
            received.len(),
            data.len()
        );
        // Writes of 1,000 bytes: a chunk leaves at 66,000 bytes, the rest at the flush.
        assert_eq!(chunks, data.len().div_ceil(66_000));
        writer
            .join()
            .map_err(|_| io::Error::other("writer panicked"))?
    }

    #[tokio::test]
    async fn a_client_gone_stops_the_writer() -> io::Result<()> {
        let (writer, mut body) = pipe(vec![b'x'; CHUNK * (CHUNKS_IN_FLIGHT + 20)]);
        assert!(next_chunk(&mut body).await.is_some());
        drop(body);
        let outcome = writer
            .join()
            .map_err(|_| io::Error::other("writer panicked"))?;
        assert_eq!(
            outcome.map_err(|e| e.kind()),
            Err(io::ErrorKind::BrokenPipe)
        );
        Ok(())
    }

    #[test]
    fn extract_files_are_named_and_dated_like_the_national_ones() {
        let t: Timestamp = "2026-11-27T08:58:00Z"
            .parse()
            .unwrap_or(Timestamp::UNIX_EPOCH);
        assert_eq!(
            file_name(ExtractFormat::PsLibreAcces, t),
            "PS_LibreAcces_Personne_activite_202611270958.txt"
        );
        assert_eq!(
            file_name(ExtractFormat::Rass, t),
            "Extraction_ProSanteConnect_Personne_activite_202611270958.txt"
        );
    }
}
