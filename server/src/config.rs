//! Command line and environment: every flag is also an environment variable.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use url::Url;

/// The whole command line.
#[derive(Debug, Parser)]
#[command(
    name = "parchment-server",
    version,
    about = "Parchment identity and federation server"
)]
pub struct Cli {
    /// Where the store lives.
    #[command(flatten)]
    pub db: DbArgs,
    /// What to do; `serve` when absent.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default).
    Serve(Box<ServeArgs>),
    /// Apply database migrations and exit.
    Migrate,
    /// Print a new base64 Ed25519 server key.
    Keygen,
    /// Print the generated OpenAPI document (JSON).
    Openapi {
        /// Print a self-contained HTML page (Swagger UI with the document embedded) instead.
        #[arg(long)]
        html: bool,
    },
    /// Administration of users and sessions.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// SQLite: write one consistent copy of the database and the server key to FILE while
    /// the server runs (PostgreSQL: says how to use pg_dump).
    Backup {
        /// The backup file to create (it must not exist); mode 0600.
        #[arg(long)]
        to: PathBuf,
        /// The server key file, if not `server.key` in the data directory.
        #[arg(long, env = "PARCHMENT_SERVER_KEY_FILE")]
        server_key_file: Option<PathBuf>,
    },
    /// SQLite: bring a backup back into a fresh data directory (database and server key),
    /// then migrate it.
    Restore {
        /// A file `parchment-server backup` wrote.
        #[arg(long)]
        from: PathBuf,
        /// Where to write the server key, if not `server.key` in the data directory.
        #[arg(long, env = "PARCHMENT_SERVER_KEY_FILE")]
        server_key_file: Option<PathBuf>,
    },
    /// Check the configuration (the same flags and environment as `serve`) and say what to
    /// fix; exits 1 when something will not work.
    Doctor(Box<DoctorArgs>),
}

/// `doctor`'s flags: `serve`'s, and a peer to compare clocks with.
#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    /// The configuration to check.
    #[command(flatten)]
    pub serve: ServeArgs,
    /// A peer server (host[:port]) whose clock to compare with ours.
    #[arg(long)]
    pub peer: Option<String>,
}

/// `admin` subcommands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a user and print it as JSON.
    CreateUser {
        /// The new user's email address.
        #[arg(long)]
        email: String,
        /// The new user's given name.
        #[arg(long)]
        first_name: String,
        /// The new user's family name.
        #[arg(long)]
        last_name: String,
        /// Role id (`admin`, `user`, `basic`, `premium`, `alpha`).
        #[arg(long, default_value = "user")]
        role: String,
    },
    /// Print a new bearer session token for a user.
    IssueToken {
        /// The user's email address.
        #[arg(long)]
        email: String,
        /// How many days the session lasts.
        #[arg(long, default_value_t = 30)]
        ttl_days: u32,
    },
    /// Federation administration.
    #[command(subcommand)]
    Federation(FederationCommand),
}

/// `admin federation` subcommands.
#[derive(Debug, Subcommand)]
pub enum FederationCommand {
    /// Forget the pinned key of a peer server, so its next manifest is pinned anew (accept
    /// a legitimate key rotation).
    Unpin {
        /// The peer's server id (host[:port]).
        #[arg(long)]
        domain: String,
    },
}

/// Where the store lives; shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Directory for the SQLite database and the server key.
    #[arg(
        long,
        env = "PARCHMENT_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; default: `parchment.db` in the data directory.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
}

impl DbArgs {
    /// The database URL: `--database-url`, or the SQLite file `parchment.db` in the data directory.
    pub fn url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("parchment.db").display()
            ),
        }
    }
}

/// `serve`'s flags.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "PARCHMENT_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// The origin users and peers reach (e.g. `https://maps.example.com`).
    #[arg(long, env = "PARCHMENT_PUBLIC_URL")]
    pub public_url: Option<Url>,
    /// Ed25519 server identity key file (created 0600 if absent).
    #[arg(long, env = "PARCHMENT_SERVER_KEY_FILE")]
    pub server_key_file: Option<PathBuf>,
    /// Base64 server key; wins over the key file.
    #[arg(long, env = "PARCHMENT_SERVER_KEY", hide_env_values = true)]
    pub server_key: Option<String>,
    /// Unknown emails get an account on their first sign-in code.
    #[arg(long, env = "PARCHMENT_OPEN_REGISTRATION", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub open_registration: bool,
    /// Built web app served at `/` (SPA fallback to index.html).
    #[arg(long, env = "PARCHMENT_WEB_DIR")]
    pub web_dir: Option<PathBuf>,
    /// SMTP server for outgoing mail, e.g. `smtps://user:password@mail.example.com`.
    #[arg(long, env = "PARCHMENT_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Sender address of outgoing mail (needed with an SMTP server).
    #[arg(long, env = "PARCHMENT_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// Write each mail as a file here instead of sending it (development, tests).
    #[arg(long, env = "PARCHMENT_MAIL_DIR")]
    pub mail_dir: Option<PathBuf>,
    /// Allow plain-HTTP federation peers and loopback addresses (local testing only: never on a
    /// server the internet reaches, it lets peers make this server fetch from localhost).
    #[arg(long, env = "PARCHMENT_FEDERATION_ALLOW_HTTP", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub federation_allow_http: bool,
    /// How long an outbound federation message is retried, and how long a received v2
    /// message's (from, nonce) is remembered (so an old, queued message is accepted once).
    #[arg(long, env = "PARCHMENT_FEDERATION_MAX_AGE_SECS", default_value_t = 24 * 3600)]
    pub federation_max_age_secs: u64,
    /// Run the outbound delivery worker in this process (default on).
    #[arg(long, env = "PARCHMENT_FEDERATION_WORKER", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub federation_worker: bool,
    /// `on` (default) or `off` (load benchmarks only).
    #[arg(long, env = "PARCHMENT_RATE_LIMITS", default_value = "on", value_parser = ["on", "off"])]
    pub rate_limits: String,
    /// Comma-separated proxy addresses whose `X-Forwarded-For` is trusted.
    #[arg(long, env = "PARCHMENT_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<IpAddr>,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "PARCHMENT_MAX_BODY_BYTES", default_value_t = 2 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// How long a process may reuse a session lookup, in milliseconds (0: every request
    /// asks the database). A sign-out on another replica takes effect here within this time.
    #[arg(long, env = "PARCHMENT_SESSION_CACHE_MS", default_value_t = 1000)]
    pub session_cache_ms: u64,
    /// MapLibre style URL for the web app's map (its origin is allowed in the app's
    /// Content-Security-Policy); without one the app draws a built-in style that needs no
    /// network.
    #[arg(long, env = "PARCHMENT_MAP_STYLE_URL")]
    pub map_style_url: Option<Url>,
    /// Comma-separated origins the style's tiles, glyphs and sprites come from when they
    /// are not the style URL's own (e.g. `https://tiles.example.org`); allowed in the app's
    /// Content-Security-Policy.
    #[arg(long, env = "PARCHMENT_MAP_ORIGINS", value_delimiter = ',')]
    pub map_origins: Vec<Url>,
    /// Serve Prometheus metrics at `GET /metrics` on this separate address (e.g.
    /// `127.0.0.1:9090`); off when unset. Never the public listener: the figures describe
    /// every user's activity in aggregate.
    #[arg(long, env = "PARCHMENT_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,
    /// Per-request time limit, in seconds.
    #[arg(long, env = "PARCHMENT_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
}

impl ServeArgs {
    /// Defaults for everything: what `serve` without flags means.
    pub fn defaults() -> Self {
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            serve: ServeArgs,
        }
        Only::parse_from(["parchment-server"]).serve
    }
}
