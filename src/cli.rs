//! The command line. Doc comments here are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  a check failed: a `run` assertion, drift at `diff --fail-on`, a client off the scenario or
     unused exchanges under `serve --scenario`/`--strict`, `fmt --check`
  2  bad usage, or a scenario, cassette or certificate that cannot be read or understood
  3  a network or TLS failure
  130  stopped with Ctrl-C before it was done (crawl: what was answered is on tape)";

/// Record-and-replay contract testing for the Veeam Backup Enterprise Manager REST API (and the
/// Backup & Replication REST API: --api vbr, --release vbr-1.3-rev1).
#[derive(Debug, Parser)]
#[command(name = "emtape", version, propagate_version = true, max_term_width = 100, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario (the VM restore flow) against a server, checking the contract at each step
    Run(RunArgs),
    /// Serve cassettes as a mock Enterprise Manager (or VBR REST server) that any client can run the restore flow against
    Serve(ServeArgs),
    /// Record a client's exchanges with a real EM (or VBR server) into a cassette, through a reverse proxy
    Record(RecordArgs),
    /// Compare two recordings (cassettes, or two XML or JSON bodies) for contract drift
    Diff(DiffArgs),
    /// Rewrite cassettes in canonical form, or check that they are
    Fmt(FmtArgs),
    /// Check cassettes are closed (every link served answers) and clean (no secret, every body parses)
    Lint(LintArgs),
    /// Pack a large cassette: serve reads its response bodies from the file as it answers, instead of holding them in memory
    Pack(PackArgs),
    /// Record a release's whole read surface: follow every link a client may GET, breadth-first, GET only
    Crawl(CrawlArgs),
    /// Check a scenario or a client (--client) against every release on tape, or show what changed (--diff)
    Matrix(MatrixArgs),
    /// Make a cassette of a HAR file (browsers, mitmproxy, Fiddler, Charles, Postman), redacted as record redacts
    Import(ImportArgs),
    /// Write a cassette as a HAR 1.2 file, for HAR viewers
    Export(ExportArgs),
    /// Print a shell completion script: emtape completions bash > /etc/bash_completion.d/emtape
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): emtape man > emtape.1, emtape man run > emtape-run.1
    Man {
        /// A subcommand's page instead of the main one
        #[arg(value_name = "SUBCOMMAND")]
        subcommand: Option<String>,
        /// Write every page (emtape.1, emtape-run.1, …) into this folder instead
        #[arg(long, value_name = "DIR", conflicts_with = "subcommand")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct MatrixArgs {
    /// Scenario file [default: the built-in scenarios/vm-restore.yaml]
    #[arg(value_name = "SCENARIO")]
    pub scenario: Option<PathBuf>,

    /// Releases to run against, comma-separated [default: every release on tape: 9.5,10,11,12,13]
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub releases: Vec<String>,

    /// Representations to run in
    #[arg(long, value_enum, default_value_t = CrawlRepr::Both)]
    pub repr: CrawlRepr,

    /// Set a scenario variable, like --var vm=sql01 (repeatable)
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,

    /// A release known not to work: its failures are expected and do not fail the run (repeatable)
    #[arg(long, value_name = "RELEASE")]
    pub expect_fail: Vec<String>,

    /// Write the matrix as JSON to FILE
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Write the matrix as a Markdown table to FILE
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,

    /// Write the matrix as JUnit XML to FILE: a test case per release and check
    #[arg(long, value_name = "FILE", conflicts_with = "diff")]
    pub junit: Option<PathBuf>,

    /// Write a self-contained HTML report to FILE (it loads nothing; open it in any browser)
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Check a client instead: run CMD against each release's mock ({url}, {ca}, {release} are
    /// replaced; EMTAPE_URL, EMTAPE_CA, EMTAPE_RELEASE are set) and check what it did against the scenario
    #[arg(long, value_name = "CMD")]
    pub client: Option<String>,

    /// Serve each release over HTTPS with one minted certificate ({ca}, EMTAPE_CA: its PEM file)
    #[arg(long, requires = "client")]
    pub tls: bool,

    /// Stop a client command that runs longer than this
    #[arg(long, value_name = "DURATION", default_value = "60s", requires = "client")]
    pub client_timeout: String,

    /// Releases checked at once [default: one per core]
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub jobs: Option<usize>,

    /// Show what changed from each release to the next (the diff engine), as a compatibility changelog
    #[arg(long, conflicts_with_all = ["client", "scenario"])]
    pub diff: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The HAR file to import
    #[arg(value_name = "FILE.har")]
    pub har: PathBuf,

    /// The cassette to write
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,

    /// The EM's scheme://host:port in the HAR [default: the one most /api/ entries went to]
    #[arg(long, value_name = "URL")]
    pub origin: Option<String>,

    /// Extra redactions (YAML: headers, xml, json, regex lists)
    #[arg(long, value_name = "FILE")]
    pub redact: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The cassette to export
    #[arg(value_name = "CASSETTE")]
    pub cassette: PathBuf,

    /// The HAR file to write
    #[arg(long, value_name = "FILE")]
    pub har: PathBuf,

    /// The server's address in the HAR's URLs and bodies (the cassette's {{origin}})
    /// [default: https://em.example:9398, or https://vbr.example:9419 for a VBR REST cassette]
    #[arg(long, value_name = "URL")]
    pub origin: Option<String>,
}

#[derive(Debug, Args)]
pub struct CrawlArgs {
    /// The EM to crawl, like https://em.example:9398 (or a VBR server with --api vbr)
    #[arg(long, value_name = "URL")]
    pub target: String,

    /// The API crawled: em (following links) or vbr (Backup & Replication REST: every GET of
    /// --spec, or those the newest revision on tape answers; lists, then each listed id)
    #[arg(long, value_name = "API", value_parser = api_arg)]
    pub api: Option<crate::vbr::Api>,

    /// VBR: the OpenAPI document whose GET operations are crawled (the install's swagger.json)
    #[arg(long, value_name = "FILE")]
    pub spec: Option<PathBuf>,

    /// VBR: the x-api-version every request sends [default: the --spec's version, else 1.3-rev1]
    #[arg(long, value_name = "REVISION")]
    pub api_version: Option<String>,

    /// User to log on as
    #[arg(long, value_name = "NAME")]
    pub user: String,

    /// Environment variable that holds the password; the password is never printed or written
    #[arg(long, value_name = "VAR")]
    pub password_env: String,

    /// The cassette to write
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,

    /// Trust this CA certificate (PEM) for the target (repeatable)
    #[arg(long = "ca", value_name = "FILE")]
    pub ca: Vec<PathBuf>,

    /// Accept any certificate from the target (prints a warning)
    #[arg(long)]
    pub insecure: bool,

    /// Representations to crawl
    #[arg(long, value_enum, default_value_t = CrawlRepr::Both)]
    pub repr: CrawlRepr,

    /// Stop after this many requests, the logons included (each session's logout comes on top)
    #[arg(long, value_name = "N", value_parser = at_least_one, default_value_t = 2000)]
    pub max_requests: usize,

    /// Follow links at most this many hops from the LogonSession
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub depth: usize,

    /// Items opened per list (a 50,000-point EM gives a bounded cassette the mock derives the rest from)
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub sample: usize,

    /// Requests in flight at once
    #[arg(long, value_name = "N", value_parser = at_least_one, default_value_t = 4)]
    pub concurrency: usize,

    /// At most this many requests per second (be gentle to production EMs)
    #[arg(long, value_name = "N", value_parser = positive_rate)]
    pub rate: Option<f64>,

    /// Only links whose Type or path contains this (repeatable)
    #[arg(long, value_name = "TEXT")]
    pub include: Vec<String>,

    /// Never links whose Type or path contains this (repeatable)
    #[arg(long, value_name = "TEXT")]
    pub exclude: Vec<String>,

    /// Seconds one request may take
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub timeout: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CrawlRepr {
    Xml,
    Json,
    Both,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Cassettes, linted together as `serve` would serve them, or folders (each folder in them
    /// linted as one set, as a release is served)
    #[arg(value_name = "CASSETTE", required = true)]
    pub cassettes: Vec<PathBuf>,

    /// Report format on stdout
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,

    /// Accept a kind of finding on purpose: dangling-link, secret, unparsable-body, not-a-placeholder, shadowed, cassette-warning (repeatable)
    #[arg(long = "allow", value_name = "KIND")]
    pub allow: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LintFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The recording of the old version (a cassette, or an XML or JSON body)
    #[arg(value_name = "OLD")]
    pub old: PathBuf,

    /// The recording of the new version, of the same kind
    #[arg(value_name = "NEW")]
    pub new: PathBuf,

    /// Report format on stdout
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,

    /// Exit 1 when there is drift this severe (or worse)
    #[arg(long, value_enum, default_value_t = FailOn::Breaking)]
    pub fail_on: FailOn,

    /// Leave out drift at this path and below (/EntityReferences/Ref/Description, //Description or Description), a header (header Location), or exchanges ('GET /api/logonSessions/*') (repeatable)
    #[arg(long = "ignore", value_name = "PATH")]
    pub ignore: Vec<String>,

    /// Also write a JUnit XML report to FILE (a failure per drifting exchange)
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Write a self-contained HTML report to FILE (it loads nothing; open it in any browser)
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Write every drift found to FILE as a baseline: the drift accepted today
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,

    /// Leave out the drift a baseline (from --write-baseline) accepts; say which entries no longer occur
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// Raise or lower kinds of drift: a YAML map from drift id to severity, like `enum-value-added: breaking`
    #[arg(long, value_name = "FILE")]
    pub severity: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    Breaking,
    Additive,
    /// Any drift, cosmetic included
    Any,
    /// Any drift, and exchanges only one recording holds
    Coverage,
    Never,
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// The EM to record, like https://em.example:9398 (or a VBR server, https://vbr:9419)
    #[arg(long, value_name = "URL", required_unless_present = "forward", conflicts_with = "forward")]
    pub upstream: Option<String>,

    /// The API recorded: em or vbr (Backup & Replication REST) [default: what the traffic says:
    /// x-api-version, /api/oauth2/ or /api/v1/ make it vbr]
    #[arg(long, value_name = "API", value_parser = api_arg)]
    pub api: Option<crate::vbr::Api>,

    /// Check every exchange against this OpenAPI 3 document as it is recorded (the install's
    /// swagger.json): each violation said on stderr by its JSON pointer
    #[arg(long, value_name = "FILE")]
    pub spec: Option<PathBuf>,

    /// Be a forward proxy instead, for clients that take a proxy (HTTPS_PROXY, HTTP_PROXY, curl -x):
    /// the EM named by --only is recorded, other hosts are passed through untouched
    #[arg(long, requires = "only")]
    pub forward: bool,

    /// With --forward: the EM to record, host[:port] (HTTPS, through CONNECT; 443 when left out),
    /// or http://host:port for a plain-HTTP EM (9.5 and older on 9399)
    #[arg(long, value_name = "HOST[:PORT]", requires = "forward")]
    pub only: Option<String>,

    /// With --forward: write the minted CA certificate (PEM) here for clients to trust, and its
    /// key beside it (FILE.key) so that a later --ca-key reuses the CA
    #[arg(long, value_name = "FILE", requires = "forward")]
    pub ca_out: Option<PathBuf>,

    /// With --forward: sign with this CA's private key (PEM): with --ca-cert, any CA (your
    /// company's, already trusted by clients); alone, the one an earlier --ca-out wrote (FILE.key)
    #[arg(long, value_name = "FILE", requires = "forward")]
    pub ca_key: Option<PathBuf>,

    /// With --forward and --ca-key: the CA certificate (PEM) the key belongs to
    #[arg(long, value_name = "FILE", requires = "ca_key", conflicts_with = "ca_out")]
    pub ca_cert: Option<PathBuf>,

    /// The cassette to write
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,

    /// Address the proxy listens on; port 0 picks a free port
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9399", value_parser = listen_addr)]
    pub listen: String,

    #[command(flatten)]
    pub tls: ListenTls,

    /// Trust this CA certificate (PEM) for the upstream, such as EM's self-signed one (repeatable)
    #[arg(long = "upstream-ca", value_name = "FILE")]
    pub upstream_ca: Vec<PathBuf>,

    /// Accept any certificate from the upstream (prints a warning)
    #[arg(long, conflicts_with = "upstream_ca")]
    pub insecure_upstream: bool,

    /// Extra redactions (YAML: headers, xml, json, regex lists)
    #[arg(long, value_name = "FILE")]
    pub redact: Option<PathBuf>,

    /// new: record everything into a new cassette; append: answer what the cassette has and add
    /// the rest; replay-only: never touch the upstream
    #[arg(long, value_enum, default_value_t = RecordMode::New)]
    pub mode: RecordMode,

    /// Seconds the upstream may take to answer (and between chunks of a body)
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub timeout: u64,

    /// Responses larger than this stream through instead of being held, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = 8 << 20)]
    pub max_buffer: usize,

    /// Largest request body accepted, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    pub max_body: usize,

    /// Worker threads [default: one per available core]
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub threads: Option<usize>,

    /// Compare every exchange, as it is recorded, with this cassette's answer to the same
    /// request, by diff's rules: what drifted is said on stderr at once, and reported when stopped
    #[arg(long, value_name = "CASSETTE", conflicts_with = "forward")]
    pub compare: Option<PathBuf>,

    /// With --compare: exit 1 when drift of this severity or worse was seen
    #[arg(long, value_enum, default_value_t = FailOn::Breaking, requires = "compare")]
    pub fail_on: FailOn,

    /// With --compare: write the drift as JSON (diff's format) when stopped
    #[arg(long, value_name = "FILE", requires = "compare")]
    pub json: Option<PathBuf>,

    /// With --compare: write the drift as JUnit XML when stopped
    #[arg(long, value_name = "FILE", requires = "compare")]
    pub junit: Option<PathBuf>,

    /// With --compare: write the drift as one self-contained HTML page when stopped
    #[arg(long, value_name = "FILE", requires = "compare")]
    pub html: Option<PathBuf>,

    /// Print one line per request on stderr
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RecordMode {
    New,
    Append,
    ReplayOnly,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario file [default: the built-in scenarios/vm-restore.yaml]
    #[arg(value_name = "SCENARIO")]
    pub scenario: Option<PathBuf>,

    /// Server to run against, like https://em.example:9398 [default: a built-in mock on a free loopback port]
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,

    /// Cassette the built-in mock serves instead of the reference ones (repeatable)
    #[arg(long = "cassette", value_name = "FILE", conflicts_with = "target")]
    pub cassettes: Vec<PathBuf>,

    /// The built-in mock is this release on tape: 9.5, 10, 11, 12 or 13 (= reference), or VBR REST
    /// vbr-1.1-rev0, vbr-1.2-rev1, vbr-1.3-rev1
    #[arg(long, value_name = "NAME", conflicts_with_all = ["target", "cassettes"])]
    pub release: Option<String>,

    /// Check every JSON body sent and answered against this OpenAPI 3 document (the swagger.json
    /// of a VBR install): a step fails naming each violation by its JSON pointer
    #[arg(long, value_name = "FILE")]
    pub spec: Option<PathBuf>,

    /// Set a scenario variable, like --var vm=sql01 or --var accept=application/json (repeatable)
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,

    /// User to log on as (with --password-env)
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// Environment variable that holds the password; the password is never printed or written
    #[arg(long, value_name = "VAR", requires = "user")]
    pub password_env: Option<String>,

    /// Trust this CA certificate (PEM) for the target, such as EM's self-signed one (repeatable)
    #[arg(long = "ca", value_name = "FILE")]
    pub ca: Vec<PathBuf>,

    /// Accept any certificate from the target (prints a warning)
    #[arg(long, conflicts_with = "ca")]
    pub insecure: bool,

    /// Write a JUnit XML report to FILE
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Write a self-contained HTML report to FILE (it loads nothing; open it in any browser)
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Write a JSON report to FILE
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Record the run's exchanges as a cassette at FILE (secrets redacted)
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,

    /// Extra redactions for --record (YAML: headers, xml, json, regex)
    #[arg(long, value_name = "FILE", requires = "record")]
    pub redact: Option<PathBuf>,

    /// Seconds one request may take
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub timeout: u64,

    /// With the built-in mock: what the run exercised of what the cassettes serve
    #[command(flatten)]
    pub coverage: CoverageArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Cassettes to serve [default: the built-in reference cassettes, XML and JSON]
    #[arg(value_name = "CASSETTE")]
    pub cassettes: Vec<PathBuf>,

    /// Serve this release on tape instead: EM 9.5, 10, 11, 12 or 13 (= reference); VBR REST
    /// vbr-1.1-rev0, vbr-1.2-rev1 or vbr-1.3-rev1
    #[arg(long, value_name = "NAME", conflicts_with = "cassettes")]
    pub release: Option<String>,

    /// The API the cassettes hold: em (Enterprise Manager) or vbr (Backup & Replication REST)
    /// [default: what the cassettes say, else em]
    #[arg(long, value_name = "API", value_parser = api_arg)]
    pub api: Option<crate::vbr::Api>,

    /// Address to listen on; port 0 picks a free port
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9398", value_parser = listen_addr)]
    pub listen: String,

    /// VBR REST: check request bodies against this OpenAPI 3 document (a body that breaks it gets
    /// 400 naming the JSON pointer) and warn of answers that break it
    #[arg(long, value_name = "FILE")]
    pub spec: Option<PathBuf>,

    #[command(flatten)]
    pub tls: ListenTls,

    /// When stopped (SIGINT/SIGTERM), list recorded exchanges no request used, and exit 1 if any
    #[arg(long)]
    pub strict: bool,

    /// Seconds a logon session may sit idle before its token stops working
    #[arg(long, value_name = "SECS", default_value_t = 900)]
    pub session_timeout: u64,

    /// Live logon sessions at most; past it a logon gets EM's 503 Error, unless the oldest idle session (a minute or more) gives way
    #[arg(long, value_name = "N", value_parser = at_least_one, default_value_t = 10_000)]
    pub max_sessions: usize,

    /// Largest request body accepted, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    pub max_body: usize,

    /// Worker threads [default: one per available core]
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub threads: Option<usize>,

    /// Only this user may log on (repeatable): a wrong password is EM's 401, the LogonSession
    /// names the user, and a role (Portal Administrator, the default; Portal User; Restore
    /// Operator) with a restore scope (VMs, comma-separated) limits what the session may do,
    /// with EM's 403. Without --user or --users, any credentials log on
    #[arg(long = "user", value_name = "NAME:PASSWORD[:ROLE[:VM,VM]]", value_parser = user_arg)]
    pub users: Vec<crate::mock::User>,

    /// Read the users from a YAML file: a list of {name, password, role, restore_scope}
    #[arg(long = "users", value_name = "FILE")]
    pub users_file: Option<PathBuf>,

    #[command(flatten)]
    pub coverage: CoverageArgs,

    /// Print one line per request on stderr
    #[arg(short, long)]
    pub verbose: bool,

    #[command(flatten)]
    pub check: CheckArgs,
}

fn api_arg(text: &str) -> Result<crate::vbr::Api, String> {
    crate::vbr::Api::parse(text).ok_or_else(|| format!("`{text}` is not an API emtape knows: em or vbr"))
}

fn user_arg(text: &str) -> Result<crate::mock::User, String> {
    crate::mock::User::parse_arg(text)
}

/// What the clients exercised of the served surface (`serve`, `run`).
#[derive(Debug, Args, Default, Clone)]
pub struct CoverageArgs {
    /// When done, say what the requests exercised of what the cassettes serve: resource types,
    /// links followed, actions, query types, representations, statuses, with counts and shares
    #[arg(long)]
    pub coverage: bool,

    /// Write the coverage as JSON
    #[arg(long, value_name = "FILE")]
    pub coverage_json: Option<PathBuf>,

    /// Write the coverage as one self-contained HTML page (the surface, its used parts marked)
    #[arg(long, value_name = "FILE")]
    pub coverage_html: Option<PathBuf>,
}

impl CoverageArgs {
    /// Whether coverage is asked for at all.
    pub fn wanted(&self) -> bool {
        self.coverage || self.coverage_json.is_some() || self.coverage_html.is_some()
    }
}

/// Checking clients against a scenario (`emtape serve --scenario`).
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Watch every client session against this scenario and report whether it met the contract (`vm-restore` is the built-in one)
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,

    /// Inject a fault: task-failed, session-expired, http-500, http-503 or drop-connection,
    /// at its usual step or at NAME@STEP, in the first session that gets there (:once, the
    /// default), session N (:session=N) or every session (:every) (repeatable)
    #[arg(long = "fault", value_name = "NAME[@STEP][:SCOPE]", requires = "scenario")]
    pub faults: Vec<crate::scenario::Fault>,

    /// Let the Task answer Running this many times before Finished
    #[arg(long, value_name = "N")]
    pub running_polls: Option<u32>,

    /// Wait this long before every answer, like 200ms
    #[arg(long, value_name = "DURATION")]
    pub latency: Option<String>,

    /// Polls closer together than this are too fast [default: the scenario's, or 200ms]
    #[arg(long, value_name = "DURATION", requires = "scenario")]
    pub poll_min_interval: Option<String>,

    /// A client session without requests this long has ended (without logging out); one polling
    /// its Task may wait three times its pace if that is longer
    #[arg(long, value_name = "DURATION", default_value = "30s", requires = "scenario")]
    pub idle: String,

    /// Stop after N client sessions have ended; exit 0 only if N sessions ended and every one met the contract
    #[arg(long, value_name = "N", value_parser = at_least_one, requires = "scenario")]
    pub until_complete: Option<usize>,

    /// Give up waiting for clients after this long (a failure naming what was missing), like 5m
    #[arg(long, value_name = "DURATION", requires = "scenario")]
    pub deadline: Option<String>,

    /// After the last expected session ends, keep answering this long so a client's final requests are served and judged
    #[arg(long, value_name = "DURATION", default_value = "1s", requires = "until_complete")]
    pub grace: String,

    /// Set a scenario variable, like --var vm=sql01 (repeatable)
    #[arg(long = "var", value_name = "NAME=VALUE", requires = "scenario")]
    pub vars: Vec<String>,

    /// Write the client report as JUnit XML to FILE
    #[arg(long, value_name = "FILE", requires = "scenario")]
    pub junit: Option<PathBuf>,

    /// Write a self-contained HTML report to FILE (it loads nothing; open it in any browser)
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Write the client report as JSON to FILE
    #[arg(long, value_name = "FILE", requires = "scenario")]
    pub json: Option<PathBuf>,
}

/// TLS on the listening side.
#[derive(Debug, Args)]
pub struct ListenTls {
    /// Serve HTTPS with a certificate minted at start for 127.0.0.1 and localhost
    #[arg(long)]
    pub tls: bool,

    /// Write the minted certificate (PEM) to FILE so a client can trust it
    #[arg(long, value_name = "FILE", requires = "tls", conflicts_with = "tls_cert")]
    pub tls_cert_out: Option<PathBuf>,

    /// Serve HTTPS with this certificate chain (PEM) instead of a minted one
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The private key (PEM) for --tls-cert
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PackArgs {
    /// The cassette to pack (a recorded YAML cassette, or a pack to write again)
    #[arg(value_name = "CASSETTE")]
    pub cassette: PathBuf,

    /// Where to write the pack [default: the cassette's path ending in .emtape]
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Cassette files to rewrite
    #[arg(value_name = "CASSETTE", required = true)]
    pub cassettes: Vec<PathBuf>,

    /// Change nothing; exit 1 if a file is not in canonical form
    #[arg(long)]
    pub check: bool,
}

/// A count that must be 1 or more (0 connections, threads or sessions would do nothing, or hang).
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be 1 or more".to_owned()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// An address to listen on, `host:port` (`127.0.0.1:9398`, `localhost:0`, `[::1]:9398`): a bad
/// one is bad usage, caught before anything starts, not a network failure at bind time.
fn listen_addr(text: &str) -> Result<String, String> {
    const WANTED: &str = "expected HOST:PORT, like 127.0.0.1:9398 or [::1]:9398 (port 0 picks a free port)";
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(format!("no port; {WANTED}"));
    };
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => {
            !host.is_empty()
                && host
                    .split('.')
                    .all(|label| !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        }
    };
    if !host_ok {
        return Err(format!("`{host}` is not a host name or IP address; {WANTED}"));
    }
    if port.parse::<u16>().is_err() {
        return Err(format!("port `{port}` is not a number from 0 to 65535; {WANTED}"));
    }
    Ok(text.to_owned())
}

/// Requests per second: more than 0.
fn positive_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(r) if r > 0.0 && r.is_finite() => Ok(r),
        Ok(_) => Err("must be more than 0".to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::listen_addr;

    #[test]
    fn a_listen_address_is_a_host_or_ip_and_a_port() {
        for good in ["127.0.0.1:9398", "localhost:0", "[::1]:9398", "0.0.0.0:65535", "em-mock.lab:80"] {
            assert_eq!(listen_addr(good).as_deref(), Ok(good));
        }
        for bad in ["notanaddr", "127.0.0.1:99999", "127.0.0.1:", ":9398", "::1:9398", "[::1]", "a b:80", "127.0.0.1:x"]
        {
            assert!(listen_addr(bad).unwrap_err().contains("expected HOST:PORT"), "{bad}");
        }
    }
}
