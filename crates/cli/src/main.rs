//! `rppsplus`: the RPPS+ registry server and its operator commands.
//!
//! This binary reads the configuration (flags and `RPPSPLUS_*` environment variables), picks the
//! storage backend from the database URL, and wires the use cases to the web layer.

mod admin;
mod directory;
mod export;
mod import;
mod mail;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use rppsplus_app::demo::DemoOutcome;
use rppsplus_app::{App, AppSettings, SystemClock};
use rppsplus_store::{Backend, Store};
use rppsplus_store_postgres::{DEFAULT_POOL_SIZE, PgSettings, PgStore};
use rppsplus_store_sqlite::SqliteStore;

/// RPPS+ — the national registry of health, social and medico-social professionals.
#[derive(Debug, Parser)]
#[command(name = "rppsplus", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Settings every command shares.
#[derive(Debug, Args)]
struct GlobalArgs {
    /// Database URL: `sqlite://FILE` (embedded default, created on first start) or
    /// `postgres://USER:PASSWORD@HOST:PORT/DB` (production).
    #[arg(
        long,
        env = "RPPSPLUS_DATABASE_URL",
        default_value = "sqlite://rppsplus.db",
        global = true
    )]
    database_url: String,

    /// Log filter, e.g. `info`, `rppsplus_web=debug,info`.
    #[arg(long, env = "RPPSPLUS_LOG", default_value = "info", global = true)]
    log: String,

    /// First value of the RPPS sequence: new numbers are `10` + this value (8 digits) + a Luhn
    /// key. The sequence only moves forward; a lower value than the current one is ignored.
    #[arg(long, env = "RPPSPLUS_RPPS_SEQUENCE_START", default_value_t = AppSettings::default().rpps_sequence_start, global = true)]
    rpps_sequence_start: u64,

    /// PostgreSQL: connections of this instance's pool (pages, writes, the directory, mail).
    /// Access decisions and token checks use their own (`--decision-connections`). Mind the
    /// server's `max_connections` across all instances. Not used with SQLite.
    #[arg(long, env = "RPPSPLUS_DATABASE_POOL_SIZE", default_value_t = DEFAULT_POOL_SIZE, value_parser = clap::value_parser!(u32).range(1..), global = true)]
    database_pool_size: u32,

    /// PostgreSQL: connections of this instance for access decisions and token checks, outside
    /// the pool, each serving one request at a time [default: two per worker thread]. Not used
    /// with SQLite.
    #[arg(long, env = "RPPSPLUS_DECISION_CONNECTIONS", value_parser = clap::value_parser!(u16).range(1..), global = true)]
    decision_connections: Option<u16>,
}

impl GlobalArgs {
    fn pg_settings(&self) -> PgSettings {
        PgSettings {
            pool_size: self.database_pool_size,
            decision_connections: self.decision_connections.map(usize::from),
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the web server (pages, API). Migrates a SQLite database itself; a PostgreSQL
    /// database must be migrated first with `rppsplus migrate`.
    Serve(ServeArgs),
    /// Apply the database migrations (required before `serve` on PostgreSQL).
    Migrate,
    /// Audit log commands.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Demo data commands.
    Demo {
        #[command(subcommand)]
        command: DemoCommand,
    },
    /// Import national extracts (FINESS structures).
    Import {
        #[command(subcommand)]
        command: import::ImportCommand,
    },
    /// Export the registry as national extract files (PS_LibreAcces, Pro Santé Connect).
    Export {
        #[command(subcommand)]
        command: export::ExportCommand,
    },
    /// API tokens (for software: scripts, HR tools, consuming systems).
    Token {
        #[command(subcommand)]
        command: admin::TokenCommand,
    },
    /// Keys of the public directory (FHIR API, extracts over HTTP).
    Apikey {
        #[command(subcommand)]
        command: directory::ApikeyCommand,
    },
    /// Legal representatives (représentants légaux) of structures.
    Rl {
        #[command(subcommand)]
        command: admin::RlCommand,
    },
    /// Habilitations (Gestionnaire RPPS+, mandataire): list those of a person or a structure,
    /// revoke one.
    Habilitation {
        #[command(subcommand)]
        command: admin::HabilitationCommand,
    },
    /// Mail: deliver the outbox now, list what waits, queue a parked mail again.
    Mail {
        #[command(subcommand)]
        command: mail::MailCommand,
    },
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "RPPSPLUS_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,

    /// Load the demo data set into an empty database and show the demo pages (turns on the
    /// local sign-in). Fictitious data only: never on a production database.
    #[arg(long, env = "RPPSPLUS_DEMO")]
    demo: bool,

    /// The URL users reach this server at. An `https://` URL turns on `Secure` cookies; it is
    /// also the base of the Pro Santé Connect redirect URI.
    #[arg(
        long,
        env = "RPPSPLUS_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    public_url: String,

    /// Turn on the local sign-in (anyone may sign in as anyone): demo and development only,
    /// never in production. On with `--demo`.
    #[arg(long, env = "RPPSPLUS_LOCAL_SIGN_IN")]
    local_sign_in: bool,

    /// Pro Santé Connect issuer URL (production:
    /// https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet). Sign-in through PSC is on
    /// when this is set.
    #[arg(long, env = "RPPSPLUS_PSC_ISSUER")]
    psc_issuer: Option<String>,

    /// Pro Santé Connect client id of this service.
    #[arg(long, env = "RPPSPLUS_PSC_CLIENT_ID", default_value = "")]
    psc_client_id: String,

    /// Pro Santé Connect client secret (prefer the environment variable to the flag).
    #[arg(
        long,
        env = "RPPSPLUS_PSC_CLIENT_SECRET",
        hide_env_values = true,
        default_value = ""
    )]
    psc_client_secret: String,

    #[command(flatten)]
    mail: mail::MailArgs,

    #[command(flatten)]
    directory: directory::DirectoryArgs,

    /// The secret signing the tokens of the forms filled without signing in (the public
    /// self-registration page). Give every instance behind one load balancer the same value
    /// (prefer the environment variable); without it each process draws its own, and a form
    /// opened before a restart or on another instance must be sent twice.
    #[arg(long, env = "RPPSPLUS_FORM_SECRET", hide_env_values = true)]
    form_secret: Option<String>,

    /// The reverse proxies or load balancers in front of this server, as addresses or networks
    /// (`10.0.0.0/8,2001:db8::/32`). For a connection from one of them, the limits counted per
    /// client address (anonymous directory reads, self-registrations) read the client from
    /// `X-Forwarded-For`, skipping these proxies from the right. Without it the header is
    /// ignored and every client behind a proxy shares the proxy's allowance.
    #[arg(
        long,
        env = "RPPSPLUS_TRUSTED_PROXIES",
        value_name = "NETWORK,…",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<rppsplus_web::ProxyNetwork>,

    /// Self-registrations (`POST /api/v1/self-registrations`, the API call that needs no
    /// token) one client IP address may submit per hour. A token bucket per address holds an
    /// hour's worth and refills continuously; beyond it the API answers 429
    /// `too_many_requests` with `Retry-After`. Every submission counts, invalid ones included.
    /// Kept in each instance's memory: with n instances, n times this rate.
    #[arg(
        long,
        env = "RPPSPLUS_SELF_REGISTRATIONS_PER_HOUR",
        default_value_t = rppsplus_web::DEFAULT_SELF_REGISTRATIONS_PER_HOUR,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    self_registrations_per_hour: u32,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Walk the audit log's hash chain; exits with a non-zero code naming the first altered row.
    Verify,
}

#[derive(Debug, Subcommand)]
enum DemoCommand {
    /// Print the demo structures and people as JSON (whom to sign in as).
    Info,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.global.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rppsplus: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rppsplus: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let g = &cli.global;
    match cli.command {
        Command::Serve(args) => serve(g, args).await,
        Command::Migrate => {
            let store = open_store(g, true).await?;
            store.migrate().await.context("applying migrations")?;
            store.close().await;
            println!("migrations applied");
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let app = open_app(g, false).await?;
            let report = app.verify_audit().await.context("reading the audit log")?;
            app.store().close().await;
            match report.first_break {
                None => {
                    println!("audit log intact: {} rows verified", report.verified);
                    Ok(ExitCode::SUCCESS)
                }
                Some(b) => {
                    eprintln!(
                        "audit log BROKEN at row {}: {b} ({} rows verified before it)",
                        b.seq(),
                        report.verified
                    );
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Import { command } => import::run(g, command).await,
        Command::Export { command } => export::run(g, command).await,
        Command::Token { command } => admin::token(g, command).await,
        Command::Rl { command } => admin::rl(g, command).await,
        Command::Habilitation { command } => admin::habilitation(g, command).await,
        Command::Apikey { command } => directory::apikey(g, command).await,
        Command::Mail { command } => mail::run(g, command).await,
        Command::Demo {
            command: DemoCommand::Info,
        } => {
            let app = open_app(g, false).await?;
            let summary = app
                .directory_summary()
                .await
                .context("reading the registry")?;
            app.store().close().await;
            if summary.structures.is_empty() && summary.people.is_empty() {
                bail!(
                    "the database {} holds no data: start the demo first with `rppsplus serve --demo`",
                    redacted(&g.database_url)
                );
            }
            println!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn serve(g: &GlobalArgs, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let store = open_store(g, true).await?;
    match store.backend() {
        Backend::Sqlite => store
            .migrate()
            .await
            .context("migrating the SQLite database")?,
        Backend::Postgres => {
            if !store.is_migrated().await? {
                bail!("the PostgreSQL database is not migrated: run `rppsplus migrate` first");
            }
        }
    }
    let app = Arc::new(App::new(store, settings(g), Arc::new(SystemClock)));
    app.prepare().await.context("preparing the database")?;
    if args.demo {
        match app.load_demo().await.context("loading the demo data")? {
            DemoOutcome::Loaded {
                persons,
                structures,
            } => tracing::info!(persons, structures, "demo data loaded"),
            DemoOutcome::NotEmpty => tracing::info!("database not empty: demo data not reloaded"),
        }
    }
    let public_url = args.public_url.trim_end_matches('/').to_owned();
    let psc = match &args.psc_issuer {
        Some(issuer) => {
            if args.psc_client_id.is_empty() || args.psc_client_secret.is_empty() {
                bail!("--psc-issuer needs --psc-client-id and RPPSPLUS_PSC_CLIENT_SECRET");
            }
            Some(rppsplus_psc::PscConfig::new(
                issuer.clone(),
                args.psc_client_id.clone(),
                args.psc_client_secret.clone(),
                format!("{public_url}{}", rppsplus_web::PSC_CALLBACK_PATH),
            ))
        }
        None => None,
    };
    let local_sign_in = args.local_sign_in || args.demo;
    if local_sign_in {
        tracing::warn!("local sign-in is ON: anyone may sign in as anyone (demo only)");
    }
    let mail_worker = mail::worker(&g.database_url, &args.mail, app.store().clone())?;
    let router = rppsplus_web::router(
        app.clone(),
        rppsplus_web::WebSettings {
            demo: args.demo,
            local_sign_in,
            public_url,
            psc,
            directory: args.directory.settings(),
            self_registrations_per_hour: args.self_registrations_per_hour,
            form_secret: args.form_secret.clone(),
            trusted_proxies: rppsplus_web::TrustedProxies::new(args.trusted_proxies.clone()),
        },
    );
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let shutdown = shutdown_signal();
    tracing::info!(%addr, demo = args.demo, "rpps-plus listening");
    println!("rpps-plus listening on http://{addr}");
    let mail = mail::Background::start(mail_worker);
    let served = rppsplus_web::serve(listener, router, shutdown).await;
    mail.stop().await;
    served?;
    app.store().close().await;
    Ok(ExitCode::SUCCESS)
}

fn settings(g: &GlobalArgs) -> AppSettings {
    AppSettings {
        rpps_sequence_start: g.rpps_sequence_start,
        ..AppSettings::default()
    }
}

async fn open_app(g: &GlobalArgs, create: bool) -> anyhow::Result<App> {
    let store = open_store(g, create).await?;
    if !store.is_migrated().await? {
        bail!(
            "the database {} is not initialised: run `rppsplus serve` (SQLite) or `rppsplus migrate` first",
            redacted(&g.database_url)
        );
    }
    Ok(App::new(store, settings(g), Arc::new(SystemClock)))
}

async fn open_store(g: &GlobalArgs, create_sqlite: bool) -> anyhow::Result<Arc<dyn Store>> {
    let url = g.database_url.as_str();
    match Backend::from_url(url) {
        Some(Backend::Sqlite) => Ok(Arc::new(
            SqliteStore::connect(url, create_sqlite)
                .await
                .with_context(|| format!("opening the SQLite database {}", redacted(url)))?,
        )),
        Some(Backend::Postgres) => Ok(Arc::new(
            PgStore::connect_with(url, g.pg_settings())
                .await
                .context("connecting to PostgreSQL")?,
        )),
        None => bail!("unsupported database URL (expected sqlite://… or postgres://…)"),
    }
}

/// A database URL fit for messages: the password is never printed.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// The future that completes on Ctrl-C or SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled: a signal that arrives right after the server
/// says it listens must not kill the process without a clean shutdown.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let installed = {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(int), Ok(term)) => Some((int, term)),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "cannot listen for SIGINT/SIGTERM");
                None
            }
        }
    };
    async move {
        #[cfg(unix)]
        match installed {
            Some((mut int, mut term)) => {
                tokio::select! {
                    _ = int.recv() => {},
                    _ = term.recv() => {},
                }
            }
            None => std::future::pending::<()>().await,
        }
        #[cfg(not(unix))]
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
        tracing::info!("shutting down");
    }
}
