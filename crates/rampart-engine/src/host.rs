//! One host's run, in two stages so the fleet can stop between them:
//!
//! 1. [`stage`]: connect, gather every fact in one round trip, plan every role, run the
//!    preflight. Check, audit and ping end here.
//! 2. [`finish`]: apply role by role (risky roles under the dead-man switch), run handlers and
//!    verify checks, close.
//!
//! **Invariants:** a no-change run costs one connection and one exec (the probe); a host's
//! failure never touches another host; every text that reaches a report has been through the
//! run's secret redactor.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_core::facts::{FactRequest, Facts};
use rampart_core::hostplan::{self, PlannedRole};
use rampart_core::preflight::{self, AccessPath, Cut, PortMove};
use rampart_core::report::{HostReport, Mode, Phase, ResourceOutcome, Status};
use rampart_core::role::{Configured, HostContext};
use rampart_core::rollback;
use rampart_core::secret::{Redactor, Secret};
use rampart_core::template::Templates;
use rampart_core::verify::{Check, Verdict};
use rampart_core::{Change, Risk};
use rampart_ssh::{Output, SshError, Target};

use crate::factcache;
use crate::remote::{Connect, Probe, Remote, SshRemote, Step};

/// A role configured for one host.
#[derive(Debug, Clone)]
pub struct RoleJob {
    /// The role's name.
    pub name: String,
    /// Its validated configuration.
    pub configured: Arc<dyn Configured>,
}

/// Everything needed to run one host.
#[derive(Debug, Clone)]
pub struct HostJob {
    /// Inventory name.
    pub name: String,
    /// Where to connect.
    pub target: Target,
    /// Escalate with `sudo -n` when the login user is not root.
    pub become_root: bool,
    /// The host's resolved variables.
    pub vars: serde_json::Value,
    /// Roles in order.
    pub roles: Vec<RoleJob>,
}

/// When verify checks run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifyPolicy {
    /// After an apply that changed something (checks of the roles that changed).
    Changed,
    /// Always (every role's checks).
    Always,
    /// Never.
    Never,
}

/// Knobs of a run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// What kind of run.
    pub mode: Mode,
    /// When to verify.
    pub verify: VerifyPolicy,
    /// Timeout of one apply script.
    pub command_timeout: Duration,
    /// Timeout of the fact probe.
    pub probe_timeout: Duration,
    /// Connection attempts for retryable failures (timeouts, resets, penalties).
    pub connect_attempts: u32,
    /// Apply even when the preflight finds the plan would cut the operator off.
    pub skip_preflight: bool,
    /// When the preflight cuts some hosts, refuse only those (reported failed with the reason)
    /// and apply the others, instead of refusing the whole run.
    pub exclude_refused: bool,
    /// How long a risky change waits for confirmation over a fresh connection before the host
    /// rolls itself back.
    pub confirm_timeout: Duration,
    /// A command that must succeed on a host after it converged (rolling health gate).
    pub health: Option<String>,
    /// Where the controller remembers costly probe answers ([`crate::factcache`]); `None`:
    /// every probe asks afresh (`--no-fact-cache`, or no cache directory).
    pub fact_cache: Option<std::path::PathBuf>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            mode: Mode::Check,
            verify: VerifyPolicy::Changed,
            command_timeout: Duration::from_secs(900),
            probe_timeout: Duration::from_secs(120),
            connect_attempts: 3,
            skip_preflight: false,
            exclude_refused: false,
            confirm_timeout: Duration::from_secs(120),
            health: None,
            fact_cache: None,
        }
    }
}

/// What every host of a run shares.
#[derive(Debug)]
pub struct Shared {
    /// Templates, compiled once.
    pub templates: Templates,
    /// Decrypted secrets.
    pub secrets: BTreeMap<String, Secret>,
    /// Scrubs secrets from every text that leaves a host's run.
    pub redactor: Redactor,
    /// Run options.
    pub options: RunOptions,
    /// Set on Ctrl-C: hosts finish the step in flight and start nothing new.
    pub cancelled: Arc<std::sync::atomic::AtomicBool>,
    /// Identifies this run in host locks and journals.
    pub run_id: String,
}

impl Shared {
    /// A run's shared state with a fresh run id and no cancellation.
    pub fn new(
        templates: Templates,
        secrets: BTreeMap<String, Secret>,
        redactor: Redactor,
        options: RunOptions,
    ) -> Self {
        let pid = std::process::id();
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "controller".into());
        Shared {
            templates,
            secrets,
            redactor,
            options,
            cancelled: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            run_id: format!(
                "{}@{host} pid {pid} run {}",
                std::env::var("USER").unwrap_or_else(|_| "rampart".into()),
                nonce()
            ),
        }
    }

    /// True once the operator pressed Ctrl-C.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Progress events, for the terminal.
pub trait Reporter: Send + Sync {
    /// A host's run began.
    fn started(&self, _host: &str) {}
    /// A host entered a phase ("connect", "facts", "apply sshd").
    fn phase(&self, _host: &str, _phase: &str) {}
    /// A host's connection is up: how long its TCP handshake took, when it dialled directly.
    fn connected(&self, _host: &str, _tcp_rtt: Option<Duration>) {}
    /// A host's run ended.
    fn finished(&self, _report: &HostReport) {}
    /// A step of a role's apply began on the host (read live from the apply's output).
    fn step(&self, _host: &str, _role: &str, _step: &str) {}
    /// A step (or handler) of a role's apply ended: for the run's log.
    fn step_done(&self, _host: &str, _step: &StepEvent<'_>) {}
}

/// A finished step of an apply, as the run's log records it.
#[derive(Debug)]
pub struct StepEvent<'a> {
    /// The role.
    pub role: &'a str,
    /// The resource id, or `handler:NAME`.
    pub step: &'a str,
    /// The step's kind of script (`file`, `packages`, `handler`, ...).
    pub script: &'a str,
    /// Its exit status.
    pub exit: i32,
    /// Seconds it took on the host, when known.
    pub seconds: Option<f64>,
    /// Its output (stdout and stderr), redacted and capped at [`STEP_OUTPUT_CAP`].
    pub output: &'a str,
}

/// The most of one step's output a [`StepEvent`] carries (its tail is kept).
pub const STEP_OUTPUT_CAP: usize = 16 * 1024;

/// The last `cap` bytes of `text` (on a character boundary), marked when cut.
fn tail_capped(text: &str, cap: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= cap {
        return text.into();
    }
    let mut from = text.len() - cap;
    while !text.is_char_boundary(from) {
        from += 1;
    }
    format!("[{} bytes cut]\n{}", from, &text[from..]).into()
}

/// A watch of an apply's stdout that tells the reporter when each step starts.
fn step_watch(
    reporter: &Arc<dyn Reporter>,
    host: &str,
    role: &PlannedRole,
    nonce: &str,
) -> rampart_ssh::Watch {
    let ids: Vec<String> = role.items.iter().map(|p| p.resource.id()).collect();
    let (reporter, host, name, nonce) = (
        reporter.clone(),
        host.to_owned(),
        role.role.clone(),
        nonce.to_owned(),
    );
    // The unfinished last line, and whether it is a long one (step output) being skipped.
    let partial = std::sync::Mutex::new((Vec::<u8>::new(), false));
    Arc::new(move |data: &[u8]| {
        let Ok(mut guard) = partial.lock() else {
            return;
        };
        let (buf, skipping) = &mut *guard;
        let mut rest = data;
        while let Some(nl) = rest.iter().position(|b| *b == b'\n') {
            if !*skipping {
                buf.extend_from_slice(&rest[..nl]);
                if let Some(i) = hostplan::step_started(&nonce, &String::from_utf8_lossy(buf))
                    && let Some(id) = ids.get(i)
                {
                    reporter.step(&host, &name, id);
                }
            }
            rest = &rest[nl + 1..];
            buf.clear();
            *skipping = false;
        }
        // Markers are short lines: a long unfinished line is step output, skipped to its end.
        if !*skipping {
            if buf.len() + rest.len() <= 256 {
                buf.extend_from_slice(rest);
            } else {
                buf.clear();
                *skipping = true;
            }
        }
    })
}

/// Records the timed steps of an applied role and tells the reporter (the run's log).
fn record_steps<R: Remote>(
    st: &mut Staged<R>,
    role: &PlannedRole,
    res: &hostplan::ApplyResult,
    redactor: &Redactor,
) {
    let mut done = |step: String, script: &str, (rc, out): &(i32, String), seconds: Option<f64>| {
        let output = redactor.redact(out);
        st.tl.reporter.step_done(
            &st.job.name,
            &StepEvent {
                role: &role.role,
                step: &step,
                script,
                exit: *rc,
                seconds,
                output: &tail_capped(&output, STEP_OUTPUT_CAP),
            },
        );
        st.rep.steps.push(rampart_core::report::StepTime {
            role: role.role.clone(),
            step,
            seconds: seconds.unwrap_or(0.0),
            exit: *rc,
        });
    };
    for (i, r) in &res.resources {
        let Some(p) = role.items.get(*i) else {
            continue;
        };
        let id = p.resource.id();
        let kind = id.split(':').next().unwrap_or_default().to_owned();
        done(id, &kind, r, res.seconds.get(i).copied());
    }
    for (i, r) in &res.handlers {
        let Some(h) = role.handlers.get(*i) else {
            continue;
        };
        done(
            format!("handler:{}", h.name),
            "handler",
            r,
            res.handler_seconds.get(i).copied(),
        );
    }
}

/// A reporter that reports nothing.
#[derive(Debug, Default)]
pub struct Silent;
impl Reporter for Silent {}

/// Why a host's run stopped early.
#[derive(Debug, thiserror::Error)]
enum HostError {
    #[error(transparent)]
    Ssh(#[from] SshError),
    #[error("{0}")]
    Remote(String),
}

struct Timeline {
    run_start: Instant,
    phases: Vec<Phase>,
    current: Option<(String, Instant)>,
    host: String,
    reporter: Arc<dyn Reporter>,
}

impl Timeline {
    fn enter(&mut self, name: &str) {
        self.close();
        self.reporter.phase(&self.host, name);
        self.current = Some((name.to_owned(), Instant::now()));
    }

    fn close(&mut self) {
        if let Some((name, t)) = self.current.take() {
            self.phases.push(Phase {
                name,
                start: t.duration_since(self.run_start).as_secs_f64(),
                seconds: t.elapsed().as_secs_f64(),
            });
        }
    }
}

/// A host after [`stage`]: planned, preflighted, connection still open.
pub struct Staged<R: Remote = SshRemote> {
    job: HostJob,
    rep: HostReport,
    tl: Timeline,
    t0: Instant,
    remote: Option<R>,
    planned: Vec<PlannedRole>,
    /// Ways this host's plan would cut the operator off.
    pub cuts: Vec<Cut>,
    /// sshd moves to another port in this run: risky changes made after sshd's are confirmed
    /// on the new port.
    port_move: Option<PortMove>,
    /// sshd's change of port has been applied: fresh logins go to the new port.
    port_moved: bool,
}

/// Every check of a job's roles, with the role it belongs to.
fn role_checks(job: &HostJob) -> Vec<(String, Check)> {
    job.roles
        .iter()
        .flat_map(|r| {
            r.configured
                .checks()
                .into_iter()
                .map(|c| (r.name.clone(), c))
        })
        .collect()
}

/// A job's roles with their configurations, as planning takes them.
fn role_instances(job: &HostJob) -> Vec<hostplan::RoleInstance<'_>> {
    job.roles
        .iter()
        .map(|r| hostplan::RoleInstance {
            name: &r.name,
            configured: r.configured.as_ref(),
        })
        .collect()
}

impl<R: Remote> std::fmt::Debug for Staged<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staged")
            .field("host", &self.job.name)
            .field("cuts", &self.cuts)
            .finish()
    }
}

impl<R: Remote> Staged<R> {
    /// The roles' checks, built when a run needs them (verify, audit): a host keeps none while
    /// the fleet is staged (they are long shell texts: 15 KiB a host for FleetClaw).
    fn checks(&self) -> Vec<(String, Check)> {
        role_checks(&self.job)
    }

    /// The host's inventory name.
    pub fn host(&self) -> &str {
        &self.job.name
    }

    /// The host's address (for reports).
    pub fn address(&self) -> &str {
        &self.job.target.host
    }

    /// The job this host was staged from.
    pub fn job(&self) -> &HostJob {
        &self.job
    }

    /// True when staging failed (unreachable, probe error): there is nothing to apply.
    pub fn is_failed(&self) -> bool {
        self.rep.error.is_some()
    }

    /// True when the host has changes to apply.
    pub fn has_changes(&self) -> bool {
        self.planned.iter().any(PlannedRole::has_changes)
    }

    /// Starts a timed phase while the fleet holds the host ("wait", "wait wave 2").
    pub fn enter_phase(&mut self, name: &str) {
        self.tl.enter(name);
    }
}

/// Connects with retries for transient failures, backing off so a penalty (OpenSSH's
/// PerSourcePenalties) is not earned by a tight loop.
pub async fn connect<C: Connect>(
    connector: &C,
    target: &Target,
    become_root: bool,
    attempts: u32,
) -> Result<C::Remote, SshError> {
    let mut delay = Duration::from_millis(500);
    let mut attempt = 1;
    loop {
        match connector.open(target, become_root).await {
            Ok(s) => return Ok(s),
            Err(e) if attempt < attempts && e.is_retryable() => {
                tracing::debug!(host = %target.alias, attempt, error = %e, "retrying connect");
                tokio::time::sleep(delay).await;
                delay = (delay * 3).min(Duration::from_secs(10));
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

fn nonce() -> String {
    let bytes: [u8; 12] = rand::random();
    hex::encode(bytes)
}

fn record_error(rep: &mut HostReport, e: &HostError, redactor: &Redactor) {
    if let HostError::Ssh(ssh) = e {
        rep.error_kind = Some(ssh.kind().as_str().to_owned());
        // A host that drops off mid-run is unreachable, not failed: its state is unknown and
        // a retry is the right next step.
        rep.unreachable = ssh.is_unreachable();
    }
    rep.error = Some(redactor.redact(&e.to_string()));
}

/// Runs one host from connect to report (both stages, no fleet barrier).
pub async fn run_host<C: Connect>(
    job: &HostJob,
    shared: &Shared,
    connector: &C,
    reporter: Arc<dyn Reporter>,
    run_start: Instant,
) -> HostReport {
    let staged = stage(job.clone(), shared, connector, reporter, run_start).await;
    finish(staged, shared, connector, None).await
}

/// Stage 1: connect, probe, plan, preflight. For check, audit and ping this is the whole run.
pub async fn stage<C: Connect>(
    job: HostJob,
    shared: &Shared,
    connector: &C,
    reporter: Arc<dyn Reporter>,
    run_start: Instant,
) -> Staged<C::Remote> {
    reporter.started(&job.name);
    let rep = HostReport {
        host: job.name.clone(),
        address: job.target.host.clone(),
        ..HostReport::default()
    };
    let tl = Timeline {
        run_start,
        phases: Vec::new(),
        current: None,
        host: job.name.clone(),
        reporter,
    };
    let mut st = Staged {
        job,
        rep,
        tl,
        t0: Instant::now(),
        remote: None,
        planned: Vec::new(),
        cuts: Vec::new(),
        port_move: None,
        port_moved: false,
    };
    st.tl.enter("connect");
    match connect(
        connector,
        &st.job.target,
        st.job.become_root,
        shared.options.connect_attempts,
    )
    .await
    {
        Err(e) => record_error(&mut st.rep, &HostError::Ssh(e), &shared.redactor),
        Ok(remote) => {
            st.tl.reporter.connected(&st.tl.host, remote.tcp_rtt());
            st.remote = Some(remote);
            if let Err(e) = probe_and_plan(&mut st, shared).await {
                record_error(&mut st.rep, &e, &shared.redactor);
            }
        }
    }
    st
}

async fn probe_and_plan<R: Remote>(st: &mut Staged<R>, shared: &Shared) -> Result<(), HostError> {
    let opts = &shared.options;
    let Some(remote) = st.remote.clone() else {
        return Ok(());
    };
    if opts.mode == Mode::Ping {
        st.tl.enter("ping");
        let out = remote
            .run_plain(
                "uname -sr; . /etc/os-release 2>/dev/null; echo \"${PRETTY_NAME:-unknown}\"",
                Some(opts.probe_timeout),
            )
            .await?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        let kernel = lines.next().unwrap_or_default().to_owned();
        let os = lines.next().unwrap_or_default().to_owned();
        st.rep.resources.push(ResourceOutcome {
            role: "ping".into(),
            id: "os".into(),
            status: Status::Unchanged,
            summary: format!("{os} ({kernel})"),
            diff: String::new(),
            risk: None,
            error: None,
        });
        return Ok(());
    }
    let instances = role_instances(&st.job);
    let mut req = hostplan::fact_request(&instances);
    req.accounts = true; // the preflight needs the login user's groups and home
    let audit_like = opts.mode == Mode::Audit
        || (opts.mode == Mode::Check && opts.verify == VerifyPolicy::Always);
    let checks = if audit_like { st.checks() } else { Vec::new() };
    if audit_like {
        hostplan::add_checks(
            &mut req,
            &checks.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>(),
        );
    }
    st.tl.enter("facts");
    let who = factcache::Identity {
        name: st.job.name.clone(),
        route: remote.route(),
    };
    if let Some(dir) = &opts.fact_cache {
        // Remembered outputs and files' contents stay on disk while the probe is out (every
        // host's at once would be ~40-60 KiB each): the probe needs their records and
        // fingerprints only, the parser reads them again.
        req.cached = factcache::load_records(dir, &who);
        req.sshd_exact = opts.mode == Mode::Audit;
    }
    let remembered = opts.fact_cache.as_deref().map(|d| (d, &who));
    let facts = gather_remembered(
        &remote,
        Probe::Stage,
        &mut req,
        opts.probe_timeout,
        remembered,
    )
    .await?;
    // `req.cached` now holds the whole cache file (contents included), read once.
    let mut old = std::mem::take(&mut req.cached);
    if let Some(dir) = &opts.fact_cache
        && !facts.cache_updates.is_empty()
    {
        // What no role asks for any more is forgotten with the update.
        old.retain(|k, _| req.still_asks(k));
        factcache::store(dir, &who, &old, &facts.cache_updates);
    }
    drop(old);
    st.tl.enter("plan");
    let ctx = HostContext {
        host: &st.job.name,
        facts: &facts,
        vars: &st.job.vars,
        templates: &shared.templates,
        secrets: &shared.secrets,
        connect_user: remote.user(),
    };
    let mut planned: Vec<PlannedRole> = instances
        .iter()
        .map(|r| hostplan::plan_role(r.name, r.configured, &ctx))
        .collect();
    for p in &mut planned {
        let missing = hostplan::undeclared_facts(p, &req);
        if !missing.is_empty() {
            p.error = Some(format!(
                "rampart bug: role `{}` reads facts it did not declare ({})",
                p.role,
                missing.join(", ")
            ));
        }
    }
    let path = AccessPath {
        user: remote.user().to_owned(),
        client_ip: facts
            .host
            .ssh_connection
            .as_ref()
            .map(|c| c.client_ip.clone()),
        port: facts
            .host
            .ssh_connection
            .as_ref()
            .map_or(st.job.target.port, |c| c.server_port),
    };
    st.cuts = preflight::check(&planned, &facts, &path);
    st.port_move = preflight::port_move(&planned, &facts, &path);
    if opts.mode != Mode::Apply {
        for p in &planned {
            st.rep.resources.extend(p.outcomes(&shared.redactor));
        }
        if audit_like {
            st.rep.verify = checks
                .iter()
                .map(|(_, c)| judge(c, &facts, &shared.redactor))
                .collect();
        }
    }
    st.planned = planned;
    Ok(())
}

fn judge(c: &Check, facts: &Facts, redactor: &Redactor) -> Verdict {
    let mut v = c.judge_facts(facts);
    v.evidence = redactor.redact(&v.evidence);
    v
}

/// Gathers facts (and check results) in one round trip.
async fn gather<R: Remote>(
    remote: &R,
    purpose: Probe<'_>,
    req: &FactRequest,
    timeout: Duration,
) -> Result<Facts, HostError> {
    let out = probe(remote, purpose, req, timeout).await?;
    parse_probe(req, out)
}

/// [`gather`], with the remembered files' contents read from the fact cache (`remembered`) only
/// once the probe's answer is in: before, `req.cached` holds their records
/// ([`factcache::load_records`]); after, the whole cache file ([`factcache::load`]).
async fn gather_remembered<R: Remote>(
    remote: &R,
    purpose: Probe<'_>,
    req: &mut FactRequest,
    timeout: Duration,
    remembered: Option<(&std::path::Path, &factcache::Identity)>,
) -> Result<Facts, HostError> {
    let out = probe(remote, purpose, req, timeout).await?;
    if let Some((dir, who)) = remembered {
        req.cached = factcache::load(dir, who);
    }
    parse_probe(req, out)
}

fn parse_probe(req: &FactRequest, (n, out): (String, Output)) -> Result<Facts, HostError> {
    Facts::parse_output(req, &n, &out.stdout).map_err(|e| HostError::Remote(e.to_string()))
}

/// Runs the probe of `req`: its nonce and the host's answer (through its end).
async fn probe<R: Remote>(
    remote: &R,
    purpose: Probe<'_>,
    req: &FactRequest,
    timeout: Duration,
) -> Result<(String, Output), HostError> {
    let n = nonce();
    let script = req.probe_script(&n);
    // The probe holds no secret (checks read credentials on the host): safe to show at trace
    // level, e.g. `RAMPART_LOG=rampart_engine::probe=trace`, to time its parts by hand.
    tracing::trace!(target: "rampart_engine::probe", "fact probe:\n{script}");
    let out = remote
        .run_script(
            Step::Probe {
                purpose,
                nonce: &n,
                request: req,
            },
            script,
            "\"$SSH_CONNECTION\"",
            Some(timeout),
        )
        .await?;
    if !out.success() && rampart_core::facts::split_at_end(&out.stdout, &n).is_none() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let mut msg = format!(
            "the fact probe failed (exit {}): {}",
            out.exit_status.map_or("?".into(), |s| s.to_string()),
            stderr.trim()
        );
        if stderr.contains("sudo")
            && (stderr.contains("password is required") || stderr.contains("not in the sudoers"))
        {
            msg.push_str(&format!("\n  hint: rampart escalates with `sudo -n`; give `{}` passwordless sudo, or connect as root", remote.user()));
        }
        return Err(HostError::Remote(msg));
    }
    Ok((n, out))
}

/// Stage 2: apply (when the mode and `refused` allow), verify, close, report.
///
/// `refused` is set when the fleet's preflight refused the run or this host (`--exclude-refused`):
/// nothing is applied and the reason is the host's error.
pub async fn finish<C: Connect>(
    mut st: Staged<C::Remote>,
    shared: &Shared,
    connector: &C,
    refused: Option<String>,
) -> HostReport {
    if shared.options.mode == Mode::Apply && st.rep.error.is_none() {
        if let Some(why) = refused {
            for p in &st.planned {
                for mut o in p.outcomes(&shared.redactor) {
                    if o.status == Status::Changed {
                        o.status = Status::Skipped;
                        o.summary = format!("not applied: {}", o.summary);
                    }
                    st.rep.resources.push(o);
                }
            }
            st.rep.error = Some(why);
            st.rep.error_kind = Some("preflight".into());
        } else if let Some(remote) = st.remote.clone() {
            let result = apply_all(&mut st, &remote, shared, connector).await;
            if let Err(e) = result {
                record_error(&mut st.rep, &e, &shared.redactor);
            }
        }
    }
    if let Some(remote) = st.remote.take() {
        let (c, r) = remote.counters();
        st.rep.connections += c;
        st.rep.round_trips += r;
        remote.close().await;
    }
    st.tl.close();
    st.rep.timeline = std::mem::take(&mut st.tl.phases);
    st.rep.time = rampart_core::report::account(&st.rep.timeline, &st.rep.steps);
    st.rep.tally();
    st.rep.seconds = st.t0.elapsed().as_secs_f64();
    st.tl.reporter.finished(&st.rep);
    st.rep
}

async fn apply_all<C: Connect>(
    st: &mut Staged<C::Remote>,
    remote: &C::Remote,
    shared: &Shared,
    connector: &C,
) -> Result<(), HostError> {
    let opts = &shared.options;
    let mut planned = std::mem::take(&mut st.planned);
    let mut changed_roles: Vec<String> = Vec::new();
    let mut stopped = false;
    let mut locked = false;
    let mut cut_short = false;
    let roles = st.job.roles.clone();
    let result = async {
    for (i, rj) in roles.iter().enumerate() {
        let mut role = std::mem::take(&mut planned[i]);
        let interrupted = shared.is_cancelled() && role.has_changes();
        if stopped || interrupted {
            for mut o in role.outcomes(&shared.redactor) {
                o.status = Status::Skipped;
                o.summary = if interrupted && !stopped { "skipped: interrupted (Ctrl-C)".into() } else { "skipped: an earlier role failed on this host".into() };
                o.diff.clear();
                st.rep.resources.push(o);
            }
            stopped |= interrupted;
            cut_short |= interrupted;
            continue;
        }
        if !changed_roles.is_empty() {
            // Earlier roles changed the host in this run (installed ufw, wrote a unit): what this
            // role planned against may be stale, so its facts are read again right before it
            // runs. Runs that change nothing never pay for this.
            st.tl.enter(&format!("facts {}", rj.name));
            let inst = hostplan::RoleInstance {
                name: &rj.name,
                configured: rj.configured.as_ref(),
            };
            let mut role_req = hostplan::fact_request(std::slice::from_ref(&inst));
            role_req.accounts = true;
            let fresh = gather(remote, Probe::Role(&rj.name), &role_req, opts.probe_timeout).await?;
            let ctx = HostContext {
                host: &st.job.name,
                facts: &fresh,
                vars: &st.job.vars,
                templates: &shared.templates,
                secrets: &shared.secrets,
                connect_user: remote.user(),
            };
            role = hostplan::plan_role(&rj.name, rj.configured.as_ref(), &ctx);
        }
        if role.has_errors() || !role.has_changes() {
            stopped |= role.has_errors();
            st.rep.resources.extend(role.outcomes(&shared.redactor));
            continue;
        }
        st.tl.enter(&format!("apply {}", rj.name));
        let guarded = role.risk() == Risk::Access;
        let n = nonce();
        let rollback_id = n.clone();
        let mut script = String::new();
        // The host lock: taken by the first change of the run, so a second run refuses instead
        // of interleaving its writes with ours. Runs that change nothing never take it.
        script.push_str(&rollback::lock_script(&shared.run_id));
        locked = true;
        if guarded {
            script.push_str(&rollback::arm_script(
                &rollback_id,
                &role.touches(),
                opts.confirm_timeout.as_secs().max(5),
                &n,
            ));
        }
        script.push_str(&hostplan::apply_script(&role, &n));
        let step = Step::Apply {
            role: &rj.name,
            nonce: &n,
            owner: &shared.run_id,
            armed: guarded.then_some(rollback_id.as_str()),
        };
        let watch = step_watch(&st.tl.reporter, &st.job.name, &role, &n);
        let out = match remote
            .run_script_watched(step, script, "", Some(opts.command_timeout), watch)
            .await
        {
            Ok(o) => o,
            Err(e) => {
                st.rep.resources.extend(hostplan::apply_outcomes(
                    &role,
                    &hostplan::ApplyResult::default(),
                    &shared.redactor,
                ));
                return Err(e.into());
            }
        };
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.exit_status == Some(73) && !stdout.contains(&format!("@@{n} ")) {
            locked = false;
            st.rep.error_kind = Some("locked".into());
            return Err(HostError::Remote(shared.redactor.redact(String::from_utf8_lossy(&out.stderr).trim())));
        }
        if guarded && !stdout.contains(&format!("@@{n} armed")) {
            let why = shared.redactor.redact(&format!(
                "{}{}",
                stdout
                    .lines()
                    .filter(|l| !l.starts_with("@@"))
                    .collect::<Vec<_>>()
                    .join("\n"),
                String::from_utf8_lossy(&out.stderr)
            ));
            return Err(HostError::Remote(format!(
                "could not arm the rollback before changing role `{}`, so nothing was changed: {}",
                rj.name,
                why.trim()
            )));
        }
        let res = hostplan::parse_apply_output(&n, &stdout);
        record_steps(st, &role, &res, &shared.redactor);
        let outcomes = hostplan::apply_outcomes(&role, &res, &shared.redactor);
        stopped |= outcomes.iter().any(|o| o.status == Status::Failed);
        st.rep.resources.extend(outcomes);
        for (name, result) in hostplan::handler_results(&role, &res, &shared.redactor) {
            match result {
                Ok(()) => st.rep.handlers.push(format!("{}: {name}", rj.name)),
                Err(e) => {
                    stopped = true;
                    st.rep.resources.push(ResourceOutcome {
                        role: rj.name.clone(),
                        id: format!("handler:{name}"),
                        status: Status::Failed,
                        summary: e.clone(),
                        diff: String::new(),
                        risk: None,
                        error: Some(e),
                    });
                }
            }
        }
        if guarded {
            if st.port_move.is_some()
                && role
                    .touches()
                    .iter()
                    .any(|p| p.starts_with("/etc/ssh/sshd_config"))
            {
                st.port_moved = true;
            }
            st.tl.enter(&format!("confirm {}", rj.name));
            confirm(st, shared, connector, &rollback_id).await?;
        }
        if !res.complete && !out.success() {
            let stderr = shared
                .redactor
                .redact(String::from_utf8_lossy(&out.stderr).trim());
            return Err(HostError::Remote(format!(
                "the apply script of role `{}` did not finish: {stderr}",
                rj.name
            )));
        }
        changed_roles.push(rj.name.clone());
    }
    Ok::<(), HostError>(())
    }
    .await;
    if locked {
        // Best effort: a lock left behind by a lost connection is taken over by the next run
        // as soon as none of its holders (this connection's sshd, our scripts) lives.
        let _ = remote
            .run_script(
                Step::Unlock {
                    owner: &shared.run_id,
                },
                rollback::unlock_script(&shared.run_id),
                "",
                Some(Duration::from_secs(30)),
            )
            .await;
    }
    result?;
    if cut_short {
        // Not done: the journal must not record this host as converged, so --resume runs it.
        return Err(HostError::Remote(
            "interrupted (Ctrl-C): the steps in flight finished, the rest of this host's changes were not applied; run again (or --resume) to finish".into(),
        ));
    }
    let verify: Vec<(String, Check)> = match opts.verify {
        VerifyPolicy::Never => Vec::new(),
        VerifyPolicy::Always => st.checks(),
        VerifyPolicy::Changed => st
            .checks()
            .into_iter()
            .filter(|(r, _)| changed_roles.contains(r))
            .collect(),
    };
    if !verify.is_empty() && !stopped {
        st.tl.enter("verify");
        let mut vreq = FactRequest::new();
        hostplan::add_checks(
            &mut vreq,
            &verify.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>(),
        );
        if opts.fact_cache.is_some() {
            // Fresh answers (`vreq.cached` is empty) of the host as the change left it, so the
            // next run finds them remembered.
            // Added to what the checks ask (`sshd -T` for ufw's, packages for others).
            let probed = hostplan::fact_request(&role_instances(&st.job));
            vreq.sshd_effective |= probed.sshd_effective;
            vreq.packages.extend(probed.packages);
        }
        let vf = gather(remote, Probe::Verify, &vreq, opts.probe_timeout).await?;
        if let Some(dir) = &opts.fact_cache {
            let who = factcache::Identity {
                name: st.job.name.clone(),
                route: remote.route(),
            };
            let old = factcache::load(dir, &who);
            factcache::store(dir, &who, &old, &vf.cache_updates);
        }
        st.rep.verify = verify
            .iter()
            .map(|(_, c)| judge(c, &vf, &shared.redactor))
            .collect();
    }
    Ok(())
}

/// Confirms a risky change over a brand-new connection (never the existing one) with
/// `sudo -n`, and disarms the rollback over it. When that fails, waits for the host to roll
/// itself back and says so.
async fn confirm<C: Connect>(
    st: &mut Staged<C::Remote>,
    shared: &Shared,
    connector: &C,
    id: &str,
) -> Result<(), HostError> {
    let marker = nonce();
    // After sshd moved, the fresh login that confirms goes to the new port: the proof that the
    // operator can still get in is a login where sshd now listens.
    let mut target = st.job.target.clone();
    let moved = st.port_move.filter(|_| st.port_moved);
    if let Some(m) = moved {
        target.port = m.to;
        // The same host on its new port: it must present the key it has on the old one.
        target.host_key_port = Some(st.job.target.host_key_port.unwrap_or(m.from));
    }
    let attempt = async {
        // `systemctl reload ssh` returns while sshd may still be re-binding: a refused or reset
        // connection in the first seconds is not a lockout yet.
        let mut tries = 0;
        let fresh = loop {
            match connector.open(&target, st.job.become_root).await {
                Ok(s) => break s,
                Err(e)
                    if tries < 5
                        && matches!(
                            e.kind(),
                            rampart_ssh::ErrorKind::Refused
                                | rampart_ssh::ErrorKind::Disconnected
                                | rampart_ssh::ErrorKind::Penalised
                        ) =>
                {
                    tries += 1;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => return Err(e),
            }
        };
        let out = fresh
            .run_script(
                Step::Disarm {
                    id,
                    marker: &marker,
                },
                rollback::disarm_script(id, &marker),
                "",
                Some(Duration::from_secs(30)),
            )
            .await;
        let (c, r) = fresh.counters();
        fresh.close().await;
        Ok::<_, SshError>((out?, c, r))
    };
    let failure = match attempt.await {
        Ok((out, c, r)) => {
            st.rep.connections += c;
            st.rep.round_trips += r;
            let text = String::from_utf8_lossy(&out.stdout);
            if text.contains(&format!("@@{marker} disarmed")) {
                if let Some(m) = moved
                    && st.job.target.port != m.to
                {
                    // Later logins of this run go to the new port, checked against the same key;
                    // known_hosts learns that key for the new port, so the next run, with the
                    // inventory's port updated, verifies it strictly.
                    let key_note = match rampart_ssh::known_hosts::record_port_move(
                        &st.job.target.known_hosts,
                        &st.job.target.host,
                        st.job.target.host_key_port.unwrap_or(m.from),
                        m.to,
                    ) {
                        Ok(0) => String::new(),
                        Ok(_) => format!(
                            "; its host key is now also recorded for {} in {}",
                            rampart_ssh::known_hosts::host_key_name(&st.job.target.host, m.to),
                            st.job.target.known_hosts[0].display()
                        ),
                        Err(e) => format!(
                            "; recording its host key for port {} failed ({e}): add it to known_hosts before the next run",
                            m.to
                        ),
                    };
                    st.job.target.host_key_port = Some(target.host_key_port.unwrap_or(m.from));
                    st.job.target.port = m.to;
                    st.rep.notes.push(format!(
                        "sshd moved from port {} to {} (confirmed by a fresh login on {}): set `port = {}` for {} in the inventory; the next run lets the firewall drop port {}{key_note}",
                        m.from, m.to, m.to, m.to, st.job.name, m.from
                    ));
                }
                return Ok(());
            }
            if text.contains(&format!("@@{marker} too-late")) {
                st.rep.rolled_back = true;
                return Err(HostError::Remote(format!(
                    "rolled back: the change was confirmed too late (after {} s) and the host restored its previous configuration; raise the confirm timeout",
                    shared.options.confirm_timeout.as_secs()
                )));
            }
            format!(
                "a fresh login worked but `sudo -n` did not: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )
        }
        Err(e) => format!("a fresh SSH login failed: {e}"),
    };
    // The change shut the operator out. The host restores itself when its timer fires; wait
    // for that and prove it with another fresh login.
    st.tl.enter("rollback"); // the host restores itself; the live view says so
    let wait = shared.options.confirm_timeout + Duration::from_secs(3);
    tracing::warn!(host = %st.job.name, "change not confirmed ({failure}); waiting {wait:?} for the host to roll back");
    tokio::time::sleep(wait).await;
    let mut restored = None;
    // What the last try saw, for the error when no try sees the rollback.
    let mut last = String::new();
    for _ in 0..10 {
        match connector.open(&st.job.target, st.job.become_root).await {
            Ok(fresh) => {
                match fresh
                    .run_script(
                        Step::RollbackStatus {
                            id,
                            marker: &marker,
                        },
                        rollback::status_script(id, &marker),
                        "",
                        Some(Duration::from_secs(30)),
                    )
                    .await
                {
                    Ok(out) => {
                        let text = String::from_utf8_lossy(&out.stdout).into_owned();
                        let (c, r) = fresh.counters();
                        st.rep.connections += c;
                        st.rep.round_trips += r;
                        fresh.close().await;
                        if let Some(line) = text
                            .lines()
                            .find(|l| l.starts_with(&format!("@@{marker} rolled-back")))
                        {
                            restored = Some(line.rsplit(' ').next().unwrap_or_default().to_owned());
                            break;
                        }
                        last = "a fresh login worked but the rollback had not run".into();
                    }
                    Err(e) => {
                        fresh.close().await;
                        last =
                            format!("a fresh login worked but asking for the rollback failed: {e}");
                    }
                }
            }
            Err(e) => last = format!("the last fresh login failed: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    st.rep.rolled_back = restored.is_some();
    Err(HostError::Remote(match restored {
        Some(at) => format!(
            "rolled back: {failure}. The host restored its previous configuration at {at}; a fresh login works again"
        ),
        None => format!(
            "{failure}; the rollback did not report back in time ({last}): the host may be unreachable until it restores itself"
        ),
    }))
}

/// The health gate of a rolling wave: a brand-new connection, the roles' verify checks and the
/// user's health command, in one round trip. Returns the verdicts (a failed login is one).
pub async fn health_gate<C: Connect>(
    job: &HostJob,
    shared: &Shared,
    connector: &C,
) -> Vec<Verdict> {
    let mut checks: Vec<Check> = role_checks(job).into_iter().map(|(_, c)| c).collect();
    if let Some(h) = &shared.options.health {
        checks.push(Check::success(
            "health.command",
            "the site's health command succeeds",
            h,
        ));
    }
    let remote = match connector.open(&job.target, job.become_root).await {
        Ok(s) => s,
        Err(e) => {
            return vec![Verdict {
                id: "health.login".into(),
                title: "a fresh SSH login works".into(),
                pass: false,
                evidence: shared.redactor.redact(&e.to_string()),
            }];
        }
    };
    let mut req = FactRequest::new();
    hostplan::add_checks(&mut req, &checks);
    let out = gather(&remote, Probe::Gate, &req, shared.options.probe_timeout).await;
    remote.close().await;
    let mut verdicts = vec![Verdict {
        id: "health.login".into(),
        title: "a fresh SSH login works".into(),
        pass: true,
        evidence: String::new(),
    }];
    match out {
        Ok(f) => verdicts.extend(checks.iter().map(|c| judge(c, &f, &shared.redactor))),
        Err(e) => verdicts.push(Verdict {
            id: "health.sudo".into(),
            title: "sudo -n works".into(),
            pass: false,
            evidence: shared.redactor.redact(&e.to_string()),
        }),
    }
    verdicts
}

/// True when any planned change of any role is an `Access` risk (used by reports).
pub fn risky(planned: &[PlannedRole]) -> bool {
    planned.iter().any(|p| {
        p.items
            .iter()
            .any(|i| matches!(&i.change, Ok(Change::Apply(a)) if a.risk == Risk::Access))
    })
}

#[cfg(test)]
mod live_tests {
    use super::*;
    use rampart_core::hostplan::Planned;
    use rampart_core::resource::{File, Resource};

    #[derive(Default)]
    struct Steps(std::sync::Mutex<Vec<String>>);
    impl Reporter for Steps {
        fn step(&self, host: &str, role: &str, step: &str) {
            self.0
                .lock()
                .expect("lock")
                .push(format!("{host} {role} {step}"));
        }
    }

    #[test]
    fn the_watch_reads_step_starts_across_chunks_and_ignores_step_output() {
        let facts = rampart_core::facts::Facts::default();
        let items = ["/etc/a", "/etc/b"]
            .iter()
            .map(|p| {
                let resource = Resource::File(File::new(*p, "x\n", 0o644));
                Planned {
                    change: resource.plan(&facts),
                    resource,
                }
            })
            .collect();
        let role = PlannedRole {
            role: "base".into(),
            items,
            ..PlannedRole::default()
        };
        let seen = Arc::new(Steps::default());
        let reporter: Arc<dyn Reporter> = seen.clone();
        let watch = step_watch(&reporter, "h1", &role, "N");
        // Markers split across reads, step output between them, a forged index out of range.
        for chunk in [
            "@@N st".as_bytes(),
            b"art 0 12.5\nwriting\n@@N rc 0 0 13.0\n@@N start 1",
            b" 13.0\n",
            b"@@N start 9 1.0\n@@M start 0 1.0\n",
            "x".repeat(1000).as_bytes(),
            b"@@N start 0 1.0\n",
        ] {
            watch(chunk);
        }
        assert_eq!(
            *seen.0.lock().expect("lock"),
            ["h1 base file:/etc/a", "h1 base file:/etc/b"]
        );
        assert_eq!(tail_capped("abcdef", 10), "abcdef");
        assert_eq!(tail_capped("abcdef", 2), "[4 bytes cut]\nef");
        assert_eq!(tail_capped("aé€", 3), "[3 bytes cut]\n€");
    }
}
