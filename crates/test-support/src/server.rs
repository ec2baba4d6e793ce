//! The real application behind real HTTP on a free loopback port.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use rppsplus_app::{App, AppSettings, Clock};
use rppsplus_web::WebSettings;
use tokio::sync::oneshot;

use crate::db::{TestDb, TestDbError};

/// A clock tests move by hand, so that time-dependent behaviour is deterministic.
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: Timestamp) -> Self {
        ManualClock(Mutex::new(at))
    }

    /// Sets the time.
    pub fn set(&self, at: Timestamp) {
        if let Ok(mut t) = self.0.lock() {
            *t = at;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.0.lock().map(|t| *t).unwrap_or(Timestamp::UNIX_EPOCH)
    }
}

/// The server, running until dropped.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The use cases behind it, to arrange data and check effects.
    pub app: Arc<App>,
    /// Its database.
    pub db: TestDb,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// Starts the server on `db` with the system clock.
    pub async fn start(db: TestDb, web: WebSettings) -> Result<TestServer, TestDbError> {
        Self::start_with_clock(db, web, Arc::new(rppsplus_app::SystemClock)).await
    }

    /// Starts the server on `db` with the demo data loaded and demo mode on.
    pub async fn start_demo(db: TestDb) -> Result<TestServer, TestDbError> {
        let web = WebSettings {
            demo: true,
            local_sign_in: true,
            ..WebSettings::default()
        };
        let server = Self::start_configured(db, Arc::new(rppsplus_app::SystemClock), |base| {
            WebSettings {
                public_url: base.to_owned(),
                ..web
            }
        })
        .await?;
        server
            .app
            .load_demo()
            .await
            .map_err(|e| TestDbError::from_message(format!("loading the demo: {e:?}")))?;
        Ok(server)
    }

    /// Starts the server on `db` with a given clock.
    pub async fn start_with_clock(
        db: TestDb,
        web: WebSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<TestServer, TestDbError> {
        Self::start_configured(db, clock, |_| web).await
    }

    /// Starts the server with settings that depend on its own base URL (the public URL, the
    /// Pro Santé Connect redirect URI), known only once the port is bound.
    pub async fn start_configured(
        db: TestDb,
        clock: Arc<dyn Clock>,
        web: impl FnOnce(&str) -> WebSettings,
    ) -> Result<TestServer, TestDbError> {
        let app = Arc::new(App::new(db.store.clone(), AppSettings::default(), clock));
        app.prepare()
            .await
            .map_err(|e| TestDbError::from_message(format!("preparing the database: {e:?}")))?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| TestDbError::from_message(format!("binding 127.0.0.1:0: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| TestDbError::from_message(format!("reading the bound address: {e}")))?;
        let (tx, rx) = oneshot::channel();
        let base_url = format!("http://{addr}");
        let router = rppsplus_web::router(app.clone(), web(&base_url));
        let task = tokio::spawn(rppsplus_web::serve(listener, router, async move {
            let _ = rx.await;
        }));
        Ok(TestServer {
            addr,
            base_url,
            app,
            db,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// The absolute URL of a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
