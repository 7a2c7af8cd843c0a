//! `rampart audit`: the seeds' verification checklist, run on the whole fleet, read-only.
//!
//! Each host's controls are every check of every role the site assigns to it, plus the
//! built-in controls ([`controls`]) that no assigned role supersedes, all gathered in the
//! engine's single read-only probe (`Mode::Audit`). At the same time the controller probes every
//! host's TCP ports from outside ([`rampart_engine::portprobe`]), as the seeds' `nmap -p-` from
//! another machine: any open port but SSH fails `ports.only-ssh`.
//!
//! The result is a hosts x controls matrix on the terminal (or one JSON document), optionally
//! an HTML and a JUnit file and a comparison with an earlier audit. Exit codes: 0 every control
//! passes, 5 a control fails, 4 a host is unreachable, 3 a host failed, 2 bad input.
//!
//! **Invariant:** an audit writes nothing to any host. The engine's audit mode sends only the
//! fact probe and the checks (read-only by contract); the port probe only connects, and greets
//! an SSH server before closing so sshd logs a plain disconnect.

pub mod controls;
pub mod exposure;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use rampart_core::facts::FactRequest;
use rampart_core::report::{HostReport, Mode, Phase, RunReport};
use rampart_core::role::{Configured, HostContext, RoleError, RolePlan};
use rampart_core::template::Templates;
use rampart_core::verify::{Check, Verdict};
use rampart_engine::portprobe::{self, HostScan, ProbeOptions, ProbeTarget, Timing};
use rampart_engine::{HostJob, Reporter, RoleJob, RunOptions, Shared, VerifyPolicy, run_fleet};

use crate::args::{ConnArgs, RunArgs};
use crate::error::{CliError, Exit};
use crate::jobs;
use crate::registry;
use crate::report::scores::{self, TrendPoint};
use crate::report::{self, Extras, baseline};
use controls::ControlFilter;
use exposure::{HostExposure, PortMode, PortView};
use tokio::sync::{mpsc, oneshot};

/// The id of the external port probe's control.
pub const PORTS_CONTROL: &str = "ports.only-ssh";
/// The name under which built-in controls travel through the engine, like a role.
const BUILTIN_ROLE: &str = "audit";
/// The name under which the host's account of its exposure travels through the engine.
const EXPOSURE_ROLE: &str = "audit-exposure";

/// `rampart audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    /// Connection flags.
    pub conn: ConnArgs,

    /// The site: the checks of the roles it assigns are the controls. Without one (and no
    /// ./site.toml), the built-in controls from the seeds' checklist are audited.
    #[arg(value_name = "SITE")]
    pub site: Option<PathBuf>,

    /// Extra variables, as for check and apply (they can change a role's checks).
    #[arg(short = 'e', long = "extra-vars", value_name = "VARS")]
    pub extra_vars: Vec<String>,

    /// The age identity that decrypts the site's secrets.
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,

    /// The encrypted secrets file to use instead of the one the site names.
    #[arg(long, value_name = "FILE")]
    pub secrets: Option<PathBuf>,

    /// Write a self-contained HTML report (matrix, evidence, drift, timeline) to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Write JUnit XML (one test case per host and control) to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// An earlier `rampart audit --json` document: show what got worse (and better) since.
    /// Repeat it to give a history, oldest first: the last one is compared with this run, and
    /// the reports say the fleet's score over all of them.
    #[arg(long, value_name = "FILE")]
    pub baseline: Vec<PathBuf>,

    /// Waive these controls: comma-separated ids, `*` matches anything. A waived control
    /// still runs and shows its evidence, but counts as waived, not failed, in the scores and
    /// the exit code.
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    pub waive: Vec<String>,

    /// What makes the exit code 5: any failing control, or only a control that got worse since
    /// --baseline (for CI that tolerates known failures).
    #[arg(long, value_enum, default_value_t = FailOn::Any)]
    pub fail_on: FailOn,

    /// Only these controls: comma-separated ids, `*` matches anything (`ufw.*,ports.*`).
    #[arg(long = "control", value_name = "ID", value_delimiter = ',')]
    pub controls: Vec<String>,

    /// Not these controls: comma-separated ids, `*` matches anything (`sysctl.*`).
    #[arg(long = "skip-control", value_name = "ID", value_delimiter = ',')]
    pub skip_controls: Vec<String>,

    /// No built-in controls: only the checks of the site's roles (and the port probe).
    #[arg(long)]
    pub no_builtin: bool,

    /// Do not probe the hosts' ports from this machine.
    #[arg(long)]
    pub no_probe: bool,

    /// Ask every host afresh for `sshd -T`, its package states and the files the controls
    /// read, instead of reusing what the last run (check, apply or audit) remembered while the
    /// host reports those files unchanged (~/.cache/rampart/facts, or
    /// $RAMPART_CACHE_DIR/facts; RAMPART_CACHE_DIR= turns it off).
    #[arg(long)]
    pub no_fact_cache: bool,

    /// TCP ports the probe tries: `default` (every port the host says could be reachable:
    /// its listening sockets, forwarded and firewall-allowed ports; plus 1-1024 and common
    /// service ports), `all` (1-65535), or a list (`22,80,443`, `1-1024,8080`). The host's
    /// listening UDP sockets are probed in every case.
    #[arg(
        long = "ports",
        visible_alias = "probe-ports",
        value_name = "PORTS",
        default_value = "default"
    )]
    pub ports: String,

    /// Ports that may be open besides the SSH port rampart connects to (`443,8443`).
    #[arg(long, value_name = "PORTS")]
    pub probe_allow: Option<String>,

    /// Sockets the probe keeps in flight at once, over all hosts together (default: from the
    /// open-file limit, raised to its hard limit; `-v` says what was chosen).
    #[arg(long, value_name = "N")]
    pub probe_concurrency: Option<usize>,

    /// Milliseconds a connect may take before the port counts as filtered (default: measured
    /// per host, a few round-trip times, 100 ms to 2 s).
    #[arg(long, value_name = "MS")]
    pub probe_timeout: Option<u64>,

    /// Verbosity (global `-v`).
    #[arg(from_global)]
    pub verbose: u8,
}

/// When a failing control makes the exit code 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Any failing control.
    Any,
    /// Only a control that got worse since --baseline.
    Worse,
}

/// Built-in checks travel to the engine as a role that plans nothing.
#[derive(Debug)]
struct BuiltinChecks(Vec<Check>);

impl Configured for BuiltinChecks {
    fn facts(&self, _req: &mut FactRequest) {}
    fn plan(&self, _ctx: &HostContext<'_>) -> Result<RolePlan, RoleError> {
        Ok(RolePlan::default())
    }
    fn checks(&self) -> Vec<Check> {
        self.0.clone()
    }
}

/// A role whose checks pass through `--control`/`--skip-control`; everything else delegates.
#[derive(Debug)]
struct Filtered {
    inner: Arc<dyn Configured>,
    filter: Arc<ControlFilter>,
}

impl Configured for Filtered {
    fn facts(&self, req: &mut FactRequest) {
        self.inner.facts(req);
    }
    fn plan(&self, ctx: &HostContext<'_>) -> Result<RolePlan, RoleError> {
        self.inner.plan(ctx)
    }
    fn checks(&self) -> Vec<Check> {
        self.inner
            .checks()
            .into_iter()
            .filter(|c| self.filter.selects(&c.id))
            .collect()
    }
}

/// Feeds the port probe as hosts come in: a host's scan starts once its SSH login is done
/// (the login's TCP handshake is the first round-trip sample, the login's time a rougher
/// hint) with the port list's ports, and gets the ports the host reported once its checks
/// are in.
struct ProbeFeed {
    tx: Mutex<Option<mpsc::UnboundedSender<ProbeTarget>>>,
    /// Hosts whose scan has not started: address and ports to skip.
    pending: Mutex<HashMap<String, (String, Vec<u16>)>>,
    /// Scans waiting for the host's side.
    later: Mutex<HashMap<String, oneshot::Sender<portprobe::Later>>>,
    connecting: Mutex<HashMap<String, Instant>>,
    sink: exposure::Sink,
    mode: PortMode,
}

impl ProbeFeed {
    /// `hint`: the host's login time; `sample`: its connection's TCP handshake time.
    fn start(&self, host: &str, hint: Option<Duration>, sample: Option<Duration>, more: bool) {
        let Some((address, skip)) = self.pending.lock().ok().and_then(|mut p| p.remove(host))
        else {
            return;
        };
        let mut t = ProbeTarget::new(host, &address, skip);
        t.ports = Some(self.mode.first_ports());
        t.rtt_hint = hint;
        t.rtt_sample = sample;
        if more {
            let (tx, rx) = oneshot::channel();
            t.later = Some(rx);
            if let Ok(mut l) = self.later.lock() {
                l.insert(host.to_owned(), tx);
            }
        }
        if let Ok(g) = self.tx.lock()
            && let Some(tx) = g.as_ref()
        {
            let _ = tx.send(t);
        }
    }

    /// Starts what has not started and closes the feed (the fleet run is over).
    fn close(&self) {
        let rest: Vec<String> = self
            .pending
            .lock()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        for h in rest {
            self.start(&h, None, None, false);
        }
        if let Ok(mut l) = self.later.lock() {
            l.clear();
        }
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
    }
}

/// Progress on stderr: one line per host when its checks are in, one per port probe.
struct AuditProgress {
    quiet: bool,
    feed: Option<ProbeFeed>,
}

impl Reporter for AuditProgress {
    fn phase(&self, host: &str, phase: &str) {
        let Some(feed) = &self.feed else { return };
        if phase == "connect"
            && let Ok(mut c) = feed.connecting.lock()
        {
            c.insert(host.to_owned(), Instant::now());
        }
    }

    fn connected(&self, host: &str, tcp_rtt: Option<Duration>) {
        let Some(feed) = &self.feed else { return };
        let hint = feed
            .connecting
            .lock()
            .ok()
            .and_then(|mut c| c.remove(host))
            .map(|t| t.elapsed());
        feed.start(host, hint, tcp_rtt, true);
    }

    fn finished(&self, r: &HostReport) {
        if let Some(feed) = &self.feed {
            // Unreachable, or failed before its facts: the port list only.
            feed.start(&r.host, None, None, false);
            let tx = feed.later.lock().ok().and_then(|mut l| l.remove(&r.host));
            let e = feed.sink.lock().ok().and_then(|s| s.get(&r.host).cloned());
            if let (Some(tx), Some(e)) = (tx, e) {
                let _ = tx.send(feed.mode.later(&e));
            }
        }
        if self.quiet {
            return;
        }
        let r = &r.for_terminal();
        let line = if r.unreachable {
            format!(
                "{:<16} UNREACHABLE {}",
                r.host,
                r.error
                    .as_deref()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("")
            )
        } else if let Some(e) = &r.error {
            format!("{:<16} FAILED {}", r.host, e.lines().next().unwrap_or(""))
        } else {
            let ran: Vec<&Verdict> = r
                .verify
                .iter()
                .filter(|v| !controls::not_applicable(&v.evidence))
                .collect();
            let failing = ran.iter().filter(|v| !v.pass).count();
            format!(
                "{:<16} {} controls checked, {failing} failing  {:.2}s",
                r.host,
                ran.len(),
                r.seconds
            )
        };
        let _ = writeln!(std::io::stderr(), "{line}");
    }
}

fn input_error(what: &str, message: String) -> CliError {
    rampart_core::InputError::new(rampart_core::Location::file(what), message).into()
}

/// Everything the engine needs from the site: jobs with the roles' checks, templates, secrets.
struct Planned {
    /// The site's name (else its file), for merging shard reports.
    site: Option<String>,
    /// Each host's position in the unsharded selection.
    positions: HashMap<String, usize>,
    jobs: Vec<HostJob>,
    templates: Templates,
    secrets: BTreeMap<String, rampart_core::secret::Secret>,
    /// The site, when there is one (its baseline waivers go into the notes).
    site_def: Option<rampart_core::site::Site>,
}

/// Jobs for every selected host: the site's roles (if any) plus the built-ins.
fn plan_jobs(a: &AuditArgs, filter: &Arc<ControlFilter>) -> Result<Planned, CliError> {
    let site = match &a.site {
        Some(s) => Some(s.clone()),
        None => {
            let default = PathBuf::from("site.toml");
            default.exists().then(|| {
                eprintln!("note: auditing the roles of ./site.toml (name a SITE to use another)");
                default
            })
        }
    };
    let sel = jobs::select(&a.conn)?;
    let order: Vec<String> = sel.hosts.clone();
    // Positions in the whole selection, so merged shard reports keep the fleet's order.
    let positions: HashMap<String, usize> = if a.conn.shard.is_some() {
        let mut whole = a.conn.clone();
        whole.shard = None;
        jobs::select(&whole)?
            .hosts
            .into_iter()
            .enumerate()
            .map(|(i, h)| (h, i))
            .collect()
    } else {
        order
            .iter()
            .enumerate()
            .map(|(i, h)| (h.clone(), i))
            .collect()
    };
    let mut site_label = None;
    let mut by_name: HashMap<String, HostJob> = HashMap::new();
    let mut templates = Templates::embedded();
    let mut secrets = BTreeMap::new();
    let mut idle: Vec<String> = order.clone();
    let mut the_site = None;
    if let Some(site) = site {
        let run = RunArgs {
            conn: a.conn.clone(),
            site,
            extra_vars: a.extra_vars.clone(),
            tags: Vec::new(),
            skip_tags: Vec::new(),
            diff: false,
            verify: false,
            identity: a.identity.clone(),
            secrets: a.secrets.clone(),
            html: None,
            junit: None,
            no_fact_cache: true,
        };
        let registry = registry::roles();
        let prepared = jobs::prepare(&run, &registry)?;
        site_label = Some(
            prepared
                .site
                .name
                .clone()
                .unwrap_or_else(|| prepared.site.source.display().to_string()),
        );
        templates = jobs::load_templates(&prepared)?;
        let file = a
            .secrets
            .clone()
            .or_else(|| prepared.site.secrets.as_ref().map(|p| p.value.clone()));
        if let Some(file) = &file {
            secrets = crate::secrets::load(file, a.identity.as_deref())?;
        }
        idle = prepared.idle;
        the_site = Some(prepared.site);
        for j in prepared.jobs {
            by_name.insert(j.name.clone(), j);
        }
    }
    if !idle.is_empty() {
        // Hosts the site gives no role (or every host, without a site) are still audited: the
        // built-in controls and the port probe apply to every host.
        let sel = jobs::Selection {
            inventory: sel.inventory,
            hosts: idle,
        };
        for (name, target, become_root) in jobs::targets(&sel, &a.conn)? {
            by_name.insert(
                name.clone(),
                HostJob {
                    name,
                    target,
                    become_root,
                    vars: serde_json::json!({}),
                    roles: Vec::new(),
                },
            );
        }
    }
    let mut out = Vec::with_capacity(order.len());
    for name in order {
        let Some(mut job) = by_name.remove(&name) else {
            continue;
        };
        let assigned: Vec<&str> = job.roles.iter().map(|r| r.name.as_str()).collect();
        let builtins: Vec<Check> = if a.no_builtin {
            Vec::new()
        } else {
            controls::for_host(&assigned)
                .into_iter()
                .filter(|c| filter.selects(&c.id))
                .collect()
        };
        for r in &mut job.roles {
            r.configured = Arc::new(Filtered {
                inner: r.configured.clone(),
                filter: filter.clone(),
            });
        }
        if !builtins.is_empty() {
            job.roles.push(RoleJob {
                name: BUILTIN_ROLE.into(),
                configured: Arc::new(BuiltinChecks(builtins)),
            });
        }
        out.push(job);
    }
    Ok(Planned {
        site: site_label,
        site_def: the_site,
        positions,
        jobs: out,
        templates,
        secrets,
    })
}

/// The `ports.only-ssh` verdict of one host's scan, with the host's account of each port
/// ([`exposure::views`]).
pub fn probe_verdict(
    scan: &HostScan,
    ssh_port: u16,
    allowed: &BTreeSet<u16>,
    views: &[PortView],
) -> Verdict {
    let mut others: Vec<String> = allowed
        .iter()
        .filter(|p| **p != ssh_port)
        .map(ToString::to_string)
        .collect();
    let title = if others.is_empty() {
        format!("from the controller, only SSH (port {ssh_port}) accepts TCP connections")
    } else {
        others.sort();
        format!(
            "from the controller, only SSH (port {ssh_port}) and {} accept TCP connections",
            others.join(", ")
        )
    };
    let view = |proto: &str, port: u16| views.iter().find(|v| v.proto == proto && v.port == port);
    let account = |proto: &str, port: u16| -> String {
        match view(proto, port) {
            Some(v) if v.unexplained => {
                " — UNEXPLAINED: nothing on the host listens on or forwards it".to_owned()
            }
            Some(v) => {
                let mut s = String::new();
                if let Some(o) = &v.owner {
                    s.push_str(&format!(" — {o}"));
                }
                if !v.found.is_empty() {
                    s.push_str(&format!(" [{}]", v.found.join("; ")));
                }
                s
            }
            None => String::new(),
        }
    };
    let describe = |p: &portprobe::OpenPort| {
        let banner = match &p.banner {
            Some(b) => format!("{} ({b})", p.port),
            None => format!("{} (no banner)", p.port),
        };
        format!("{banner}{}", account("tcp", p.port))
    };
    let mut lines = Vec::new();
    if let Some(e) = &scan.error {
        lines.push(format!("FAIL: the port probe could not run: {e}"));
    }
    let unexpected: Vec<&portprobe::OpenPort> = scan
        .open
        .iter()
        .filter(|p| p.port != ssh_port && !allowed.contains(&p.port))
        .collect();
    for p in unexpected.iter().take(20) {
        lines.push(format!("unexpected open port {}", describe(p)));
    }
    if unexpected.len() > 20 {
        lines.push(format!(
            "… and {} more unexpected open ports",
            unexpected.len() - 20
        ));
    }
    let udp_open: Vec<&portprobe::UdpPort> = scan
        .udp
        .iter()
        .filter(|u| exposure::udp_reachable(u.state) && !allowed.contains(&u.port))
        .collect();
    for u in &udp_open {
        lines.push(format!(
            "unexpected open port {}/udp (it answered the {} probe){}",
            u.port,
            u.payload,
            account("udp", u.port)
        ));
    }
    if scan.errors > 0 {
        lines.push(format!(
            "FAIL: {} ports could not be probed ({})",
            scan.errors,
            scan.first_error.as_deref().unwrap_or("?")
        ));
    }
    let mut expected: Vec<String> = scan
        .open
        .iter()
        .filter(|p| p.port == ssh_port || allowed.contains(&p.port))
        .map(describe)
        .collect();
    if scan.skipped.contains(&ssh_port) {
        expected.insert(
            0,
            format!("{ssh_port} (SSH: rampart's own connection; not probed)"),
        );
    }
    if !expected.is_empty() {
        lines.push(format!("open as allowed: {}", expected.join(", ")));
    }
    // What the host listens on or forwards that the outside cannot reach (or can only guess).
    let shut: Vec<String> = views
        .iter()
        .filter(|v| v.outside != "open" && !(v.proto == "tcp" && v.port == ssh_port))
        .map(|v| {
            format!(
                "{}/{} {}{}",
                v.port,
                v.proto,
                v.outside,
                v.owner
                    .as_ref()
                    .map(|o| format!(" ({o})"))
                    .unwrap_or_default()
            )
        })
        .collect();
    if !shut.is_empty() {
        lines.push(format!(
            "listening on the host but not reachable from here: {}",
            shut.join(", ")
        ));
    }
    if scan.error.is_none() {
        let udp = if scan.udp.is_empty() {
            String::new()
        } else {
            format!(" and {} UDP ports", scan.udp.len())
        };
        let rtt = scan
            .rtt_ms
            .map(|r| format!("RTT {r:.1} ms, "))
            .unwrap_or_default();
        lines.push(format!(
            "probed {} TCP ports{udp} of {} in {:.1}s ({rtt}timeout {:.0} ms, {} re-probed): {} open, {} closed, {} filtered",
            scan.scanned(),
            scan.ip,
            scan.seconds,
            scan.timeout_ms,
            scan.retried,
            scan.open.len(),
            scan.closed,
            scan.filtered
        ));
    }
    Verdict {
        id: PORTS_CONTROL.into(),
        title,
        pass: scan.error.is_none()
            && scan.errors == 0
            && unexpected.is_empty()
            && udp_open.is_empty(),
        evidence: lines.join("\n"),
    }
}

/// The exit code of an audit.
pub(crate) fn exit_of(
    run: &RunReport,
    fail_on: FailOn,
    diff: Option<&baseline::BaselineDiff>,
    waived: &BTreeSet<(String, String)>,
) -> Exit {
    if run
        .hosts
        .iter()
        .any(|h| !h.unreachable && h.error.is_some())
    {
        return Exit::HostFailed;
    }
    if run.hosts.iter().any(|h| h.unreachable) {
        return Exit::Unreachable;
    }
    let failing = match (fail_on, diff) {
        (FailOn::Worse, Some(d)) => d.worse(),
        _ => run.hosts.iter().any(|h| {
            h.verify
                .iter()
                .any(|v| !v.pass && !waived.contains(&(h.host.clone(), v.id.clone())))
        }),
    };
    if failing { Exit::Drift } else { Exit::Ok }
}

/// Runs `rampart audit`.
pub async fn run(a: AuditArgs) -> Result<Exit, CliError> {
    // Every flag is checked before any host is touched.
    let mode = PortMode::parse(&a.ports).map_err(|e| input_error("--ports", e))?;
    let allowed: BTreeSet<u16> = match &a.probe_allow {
        Some(spec) => portprobe::parse_ports(spec)
            .map_err(|e| input_error("--probe-allow", e))?
            .into_iter()
            .collect(),
        None => BTreeSet::new(),
    };
    if a.probe_concurrency == Some(0) {
        return Err(input_error(
            "--probe-concurrency",
            "must be at least 1".into(),
        ));
    }
    if a.probe_timeout == Some(0) {
        return Err(input_error(
            "--probe-timeout",
            "must be at least 1 ms".into(),
        ));
    }
    if a.fail_on == FailOn::Worse && a.baseline.is_empty() {
        return Err(rampart_core::InputError::new(
            rampart_core::Location::file("--fail-on"),
            "`--fail-on worse` compares with a baseline, and none was given".to_owned(),
        )
        .with_hint("add --baseline FILE (an earlier `rampart audit --json` document)")
        .into());
    }
    // Every baseline is read (and scored, for the trend); the last one is compared.
    let mut history: Vec<TrendPoint> = Vec::new();
    let mut base = None;
    for p in &a.baseline {
        let text = std::fs::read_to_string(p).map_err(|e| {
            CliError::from(rampart_core::InputError::in_file(
                p,
                format!("cannot read the baseline: {e}"),
            ))
        })?;
        let parsed = baseline::parse(&text).map_err(|e| {
            CliError::from(
                rampart_core::InputError::in_file(p, format!("not an audit document: {e}"))
                    .with_hint("a baseline is what `rampart audit --json` printed earlier"),
            )
        })?;
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        history.push(TrendPoint::of(
            &p.display().to_string(),
            doc["generated"].as_str().map(str::to_owned),
            &scores::of_doc(&doc),
        ));
        base = Some(parsed);
    }
    let filter = Arc::new(ControlFilter {
        only: a.controls.clone(),
        skip: a.skip_controls.clone(),
    });
    let planned = plan_jobs(&a, &filter)?;
    let generated = report::now_utc();
    let redactor = crate::jobs::redactor(&planned.secrets, &planned.jobs);
    let site = planned.site_def.clone();
    // Which ids each host got from the built-ins: only those may be "not applicable".
    let builtin_ids: HashMap<String, BTreeSet<String>> = planned
        .jobs
        .iter()
        .map(|j| {
            let ids = j
                .roles
                .iter()
                .filter(|r| r.name == BUILTIN_ROLE)
                .flat_map(|r| r.configured.checks())
                .map(|c| c.id)
                .collect();
            (j.name.clone(), ids)
        })
        .collect();
    let probe_on = !a.no_probe && filter.selects(PORTS_CONTROL);
    let mut notes = Vec::new();
    let mut planned = planned;
    let site_label = planned.site.take();
    let positions = std::mem::take(&mut planned.positions);
    let sink: exposure::Sink = Arc::default();
    let mut pending: HashMap<String, (String, Vec<u16>)> = HashMap::new();
    if probe_on {
        for j in &mut planned.jobs {
            if j.target.jump.is_empty() {
                pending.insert(j.name.clone(), (j.target.host.clone(), vec![j.target.port]));
                // The host's account of what could be reachable rides in the same probe.
                j.roles.push(RoleJob {
                    name: EXPOSURE_ROLE.into(),
                    configured: Arc::new(exposure::ExposureFacts(sink.clone())),
                });
            } else {
                notes.push(format!(
                    "{}: reached through a bastion, so this machine cannot probe its ports ({PORTS_CONTROL} not run)",
                    j.name
                ));
            }
        }
    }
    let ssh_ports: HashMap<String, u16> = planned
        .jobs
        .iter()
        .map(|j| (j.name.clone(), j.target.port))
        .collect();
    let n = planned.jobs.len();
    let quiet = a.conn.json && !std::io::stderr().is_terminal();
    // Sockets in flight: what the open-file limit leaves after a descriptor per SSH connection
    // (a jump host or two included) and some for the runtime and the reports.
    let limit = portprobe::raise_nofile_limit();
    let forks = a.conn.forks.unwrap_or(n).max(1);
    let reserve = 128 + 3 * forks.min(n) as u64;
    let sockets = a
        .probe_concurrency
        .unwrap_or_else(|| portprobe::sockets_for(limit, reserve));
    let timing = Timing {
        fixed: a.probe_timeout.map(Duration::from_millis),
        ..Timing::default()
    };
    if !pending.is_empty() && !quiet {
        let what = match &mode {
            PortMode::Default => format!(
                "1-1024, {} common ports and what each host says could be reachable",
                exposure::COMMON_PORTS.len()
            ),
            PortMode::All => "all 65535 TCP ports".to_owned(),
            PortMode::List(l) => format!("{} TCP ports", l.len()),
        };
        let wait = match timing.fixed {
            Some(t) => format!("{} ms timeout", t.as_millis()),
            None => format!(
                "timeouts from each host's round-trip time, {}-{} ms, timed-out ports probed twice",
                timing.floor.as_millis(),
                timing.ceiling.as_millis()
            ),
        };
        eprintln!(
            "probing {what} on {} hosts from this machine ({sockets} sockets at once, {wait})",
            pending.len(),
        );
        if a.verbose > 0 {
            eprintln!(
                "port probe: open-file limit {} (soft, raised to the hard limit), {reserve} kept for SSH and the run, so {sockets} sockets in flight",
                limit.map_or("none".to_owned(), |l| l.to_string())
            );
        }
    }
    let shared = Arc::new(Shared::new(
        planned.templates,
        planned.secrets,
        redactor,
        RunOptions {
            mode: Mode::Audit,
            verify: VerifyPolicy::Always,
            // The same answers a check would reuse, on the same terms: only while the host
            // reports the files they came from unchanged.
            fact_cache: crate::commands::fact_cache_dir(a.no_fact_cache),
            ..RunOptions::default()
        },
    ));
    let on_done: portprobe::OnDone = if quiet {
        Box::new(|_| {})
    } else {
        Box::new(|s: &HostScan| {
            let mut open: Vec<String> = s.open.iter().map(|o| o.port.to_string()).collect();
            open.extend(
                s.udp
                    .iter()
                    .filter(|u| exposure::udp_reachable(u.state))
                    .map(|u| format!("{}/udp", u.port)),
            );
            let what = match (&s.error, open.is_empty()) {
                (Some(e), _) => format!("could not run: {e}"),
                (None, true) => "no open port".to_owned(),
                (None, false) => format!("open: {}", open.join(", ")),
            };
            eprintln!(
                "{:<16} port probe: {what} ({} ports in {:.1}s, timeout {:.0} ms)",
                s.host,
                s.scanned() + s.udp.len(),
                s.seconds,
                s.timeout_ms
            );
        })
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let probing = !pending.is_empty();
    let progress = Arc::new(AuditProgress {
        quiet,
        feed: probing.then(|| ProbeFeed {
            tx: Mutex::new(Some(tx)),
            pending: Mutex::new(pending),
            later: Mutex::default(),
            connecting: Mutex::default(),
            sink: sink.clone(),
            mode: mode.clone(),
        }),
    });
    let fleet = {
        let progress = progress.clone();
        let connector = crate::commands::connector(&a.conn);
        async move {
            let run = run_fleet(planned.jobs, shared, connector, forks, progress.clone()).await;
            if let Some(feed) = &progress.feed {
                feed.close();
            }
            run
        }
    };
    let (mut run, scans) = tokio::join!(
        fleet,
        portprobe::scan_stream(
            rx,
            ProbeOptions {
                ports: mode.first_ports(),
                concurrency: sockets,
                timing,
                ..ProbeOptions::default()
            },
            on_done,
        )
    );
    drop(progress);
    let hosts_side: HashMap<String, HostExposure> =
        sink.lock().map(|s| s.clone()).unwrap_or_default();
    let scans: HashMap<String, HostScan> = scans.into_iter().map(|s| (s.host.clone(), s)).collect();
    for h in &mut run.hosts {
        let ids = builtin_ids.get(&h.host);
        // A built-in that says "n/a" did not apply to this host: its cell stays empty.
        h.verify.retain(|v| {
            !(ids.is_some_and(|ids| ids.contains(&v.id)) && controls::not_applicable(&v.evidence))
        });
        for v in &mut h.verify {
            // A passing built-in ends its output with its own `ok` verdict line: the reader
            // needs only what it saw.
            if v.pass
                && ids.is_some_and(|ids| ids.contains(&v.id))
                && let Some(rest) = v.evidence.strip_suffix("\nok")
            {
                v.evidence = rest.to_owned();
            }
        }
        if let Some(scan) = scans.get(&h.host) {
            let port = ssh_ports.get(&h.host).copied().unwrap_or(22);
            let views = exposure::views(scan, hosts_side.get(&h.host), &mode);
            h.verify.push(probe_verdict(scan, port, &allowed, &views));
            h.timeline.push(Phase {
                name: "port probe".into(),
                start: scan.start,
                seconds: scan.seconds,
            });
        }
    }
    if let Some(site) = &site {
        notes.extend(crate::baseline::annotate(&mut run, site));
    }
    // The probe may outlast the SSH side: the run's wall time covers both.
    run.seconds = run.seconds.max(
        scans
            .values()
            .map(|s| s.start + s.seconds)
            .fold(0.0, f64::max),
    );
    let diff = base.as_ref().map(|b| {
        baseline::compare(
            b,
            &run,
            &a.baseline
                .last()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        )
    });
    let waive = ControlFilter {
        only: a.waive.clone(),
        skip: Vec::new(),
    };
    let waived: BTreeSet<(String, String)> = if a.waive.is_empty() {
        BTreeSet::new()
    } else {
        run.hosts
            .iter()
            .flat_map(|h| {
                h.verify
                    .iter()
                    .filter(|v| !v.pass && waive.selects(&v.id))
                    .map(|v| (h.host.clone(), v.id.clone()))
            })
            .collect()
    };
    let mut extras = Extras {
        generated: Some(generated),
        baseline: diff.as_ref(),
        notes,
        site: site_label,
        shard: a.conn.shard.clone(),
        waived,
        positions,
        ..Extras::default()
    };
    let mut doc = report::audit_json(&run, &extras);
    let scored = scores::of_doc(&doc);
    if !history.is_empty() {
        history.push(TrendPoint::of(
            "this run",
            extras.generated.clone(),
            &scored,
        ));
        doc["trend"] = serde_json::to_value(&history).unwrap_or_default();
        extras.trend = history;
    }
    let waived_all = scored.waived.clone();
    extras.scores = Some(&scored);
    if a.conn.json {
        if let Some(hosts) = doc["hosts"].as_array_mut() {
            for h in hosts {
                let name = h["host"].as_str().unwrap_or_default().to_owned();
                if let Some(s) = scans.get(&name) {
                    h["probe"] = serde_json::to_value(s).unwrap_or_default();
                    let views = exposure::views(s, hosts_side.get(&name), &mode);
                    h["probe"]["ports"] = serde_json::to_value(views).unwrap_or_default();
                }
            }
        }
        crate::output::print_json(&doc);
    } else {
        let width = console::Term::stdout()
            .size_checked()
            .map(|(_, w)| usize::from(w));
        let text = report::matrix::render(
            &run,
            &extras,
            report::matrix::Options {
                colors: console::colors_enabled(),
                width,
            },
        );
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
    }
    report::write_files(&run, a.html.as_deref(), a.junit.as_deref(), &extras)?;
    Ok(exit_of(&run, a.fail_on, diff.as_ref(), &waived_all))
}

#[cfg(test)]
mod tests {
    use super::*;
    use portprobe::OpenPort;

    fn scan(open: &[(u16, Option<&str>)]) -> HostScan {
        HostScan {
            host: "h".into(),
            ip: "10.0.0.1".into(),
            open: open
                .iter()
                .map(|(p, b)| OpenPort {
                    port: *p,
                    banner: b.map(str::to_owned),
                })
                .collect(),
            closed: 65535 - open.len(),
            seconds: 1.0,
            ..HostScan::default()
        }
    }

    #[test]
    fn only_ssh_open_passes() {
        let v = probe_verdict(
            &scan(&[(22, Some("SSH-2.0-OpenSSH_9.2"))]),
            22,
            &BTreeSet::new(),
            &[],
        );
        assert!(v.pass, "{v:?}");
        assert_eq!(v.id, "ports.only-ssh");
        assert!(
            v.evidence
                .contains("open as allowed: 22 (SSH-2.0-OpenSSH_9.2)")
        );
        assert!(v.evidence.contains("probed 65535 TCP ports of 10.0.0.1"));
    }

    #[test]
    fn another_open_port_fails_and_is_named() {
        let v = probe_verdict(
            &scan(&[(22, None), (8080, None)]),
            22,
            &BTreeSet::new(),
            &[],
        );
        assert!(!v.pass);
        assert!(
            v.evidence
                .starts_with("unexpected open port 8080 (no banner)"),
            "{}",
            v.evidence
        );
        let allowed: BTreeSet<u16> = [8080].into();
        let v = probe_verdict(&scan(&[(22, None), (8080, None)]), 22, &allowed, &[]);
        assert!(v.pass);
        assert!(v.title.contains("and 8080"));
    }

    #[test]
    fn a_probe_that_could_not_run_fails() {
        let mut s = scan(&[]);
        s.error = Some("cannot resolve".into());
        assert!(!probe_verdict(&s, 22, &BTreeSet::new(), &[]).pass);
        let mut s = scan(&[(22, None)]);
        s.errors = 3;
        s.first_error = Some("port 1: No route to host".into());
        let v = probe_verdict(&s, 22, &BTreeSet::new(), &[]);
        assert!(!v.pass && v.evidence.contains("No route to host"));
    }

    #[test]
    fn exit_codes() {
        let mut run = crate::report::testdata::fleet();
        assert_eq!(
            exit_of(&run, FailOn::Any, None, &BTreeSet::new()),
            Exit::Unreachable
        );
        run.hosts.pop();
        assert_eq!(
            exit_of(&run, FailOn::Any, None, &BTreeSet::new()),
            Exit::Drift
        );
        let quiet = baseline::BaselineDiff::default();
        assert_eq!(
            exit_of(&run, FailOn::Worse, Some(&quiet), &BTreeSet::new()),
            Exit::Ok
        );
        for h in &mut run.hosts {
            for v in &mut h.verify {
                v.pass = true;
            }
        }
        assert_eq!(exit_of(&run, FailOn::Any, None, &BTreeSet::new()), Exit::Ok);
        run.hosts[0].error = Some("the fact probe failed".into());
        assert_eq!(
            exit_of(&run, FailOn::Any, None, &BTreeSet::new()),
            Exit::HostFailed
        );
    }
}
