//! One host's run: connect, gather facts in one round trip, plan, apply role by role, verify.
//!
//! **Invariants:** a no-change run costs one connection and one exec (the probe); a host's
//! failure never touches another host; every text that reaches a report has been through the
//! run's secret redactor.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_core::facts::{FactRequest, Facts};
use rampart_core::hostplan::{self, PlannedRole};
use rampart_core::report::{HostReport, Mode, Phase, ResourceOutcome, Status};
use rampart_core::role::{Configured, HostContext};
use rampart_core::secret::{Redactor, Secret};
use rampart_core::template::Templates;
use rampart_core::verify::Check;
use rampart_ssh::{Connector, SshError, Target};

use crate::remote::{Remote, SshRemote};

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
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            mode: Mode::Check,
            verify: VerifyPolicy::Changed,
            command_timeout: Duration::from_secs(900),
            probe_timeout: Duration::from_secs(120),
            connect_attempts: 3,
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
}

/// Progress events, for the terminal.
pub trait Reporter: Send + Sync {
    /// A host's run began.
    fn started(&self, _host: &str) {}
    /// A host entered a phase ("connect", "facts", "apply sshd").
    fn phase(&self, _host: &str, _phase: &str) {}
    /// A host's run ended.
    fn finished(&self, _report: &HostReport) {}
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

struct Timeline<'a> {
    run_start: Instant,
    phases: Vec<Phase>,
    current: Option<(String, Instant)>,
    host: &'a str,
    reporter: &'a dyn Reporter,
}

impl Timeline<'_> {
    fn enter(&mut self, name: &str) {
        self.close();
        self.reporter.phase(self.host, name);
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

/// Connects with retries for transient failures, backing off so a penalty (OpenSSH's
/// PerSourcePenalties) is not earned by a tight loop.
pub async fn connect(
    connector: &Connector,
    target: &Target,
    attempts: u32,
) -> Result<rampart_ssh::Session, SshError> {
    let mut delay = Duration::from_millis(500);
    let mut attempt = 1;
    loop {
        match connector.connect(target).await {
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

/// Runs one host from connect to report.
pub async fn run_host(
    job: &HostJob,
    shared: &Shared,
    connector: &Connector,
    reporter: &dyn Reporter,
    run_start: Instant,
) -> HostReport {
    let t0 = Instant::now();
    reporter.started(&job.name);
    let mut rep = HostReport {
        host: job.name.clone(),
        address: job.target.host.clone(),
        ..HostReport::default()
    };
    let mut tl = Timeline {
        run_start,
        phases: Vec::new(),
        current: None,
        host: &job.name,
        reporter,
    };
    tl.enter("connect");
    match connect(connector, &job.target, shared.options.connect_attempts).await {
        Err(e) => {
            rep.unreachable = true;
            rep.error = Some(shared.redactor.redact(&e.to_string()));
            rep.error_kind = Some(e.kind().as_str().to_owned());
            rep.connections = 0;
        }
        Ok(session) => {
            let remote = SshRemote {
                session: session.clone(),
                become_root: job.become_root,
            };
            let result = converge(&remote, job, shared, &mut rep, &mut tl).await;
            if let Err(e) = result {
                if let HostError::Ssh(ssh) = &e {
                    rep.error_kind = Some(ssh.kind().as_str().to_owned());
                    // A host that drops off mid-run is unreachable, not failed: its state is
                    // unknown and a retry is the right next step.
                    rep.unreachable = ssh.is_unreachable();
                }
                rep.error = Some(shared.redactor.redact(&e.to_string()));
            }
            let (c, r) = remote.counters();
            rep.connections = c;
            rep.round_trips = r;
            session.close().await;
        }
    }
    tl.close();
    rep.timeline = tl.phases;
    rep.tally();
    rep.seconds = t0.elapsed().as_secs_f64();
    reporter.finished(&rep);
    rep
}

fn nonce() -> String {
    let bytes: [u8; 12] = rand::random();
    hex::encode(bytes)
}

/// Gathers facts (and check results) in one round trip.
async fn gather<R: Remote>(
    remote: &R,
    req: &FactRequest,
    timeout: Duration,
) -> Result<Facts, HostError> {
    let n = nonce();
    let out = remote
        .run_script(req.probe_script(&n), "\"$SSH_CONNECTION\"", Some(timeout))
        .await?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.success() && !stdout.contains(&format!("@@{n} end")) {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let mut msg = format!(
            "the fact probe failed (exit {}): {}",
            out.exit_status.map_or("?".into(), |s| s.to_string()),
            stderr.trim()
        );
        if stderr.contains("sudo")
            && (stderr.contains("password is required") || stderr.contains("not in the sudoers"))
        {
            msg.push_str(&format!(
                "\n  hint: rampart escalates with `sudo -n`; give `{}` passwordless sudo, or connect as root",
                remote.user()
            ));
        }
        return Err(HostError::Remote(msg));
    }
    Facts::parse(req, &n, &stdout).map_err(|e| HostError::Remote(e.to_string()))
}

async fn converge<R: Remote>(
    remote: &R,
    job: &HostJob,
    shared: &Shared,
    rep: &mut HostReport,
    tl: &mut Timeline<'_>,
) -> Result<(), HostError> {
    let opts = &shared.options;
    let instances: Vec<hostplan::RoleInstance<'_>> = job
        .roles
        .iter()
        .map(|r| hostplan::RoleInstance {
            name: &r.name,
            configured: r.configured.as_ref(),
        })
        .collect();
    let checks: Vec<(String, Check)> = job
        .roles
        .iter()
        .flat_map(|r| {
            r.configured
                .checks()
                .into_iter()
                .map(|c| (r.name.clone(), c))
        })
        .collect();
    if opts.mode == Mode::Ping {
        tl.enter("ping");
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
        rep.resources.push(ResourceOutcome {
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
    let mut req = hostplan::fact_request(&instances);
    let audit_like = opts.mode == Mode::Audit
        || (opts.mode == Mode::Check && opts.verify == VerifyPolicy::Always);
    if audit_like {
        hostplan::add_checks(
            &mut req,
            &checks.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>(),
        );
    }
    tl.enter("facts");
    let facts = gather(remote, &req, opts.probe_timeout).await?;
    let plan_all = |facts: &Facts| -> Vec<PlannedRole> {
        let ctx = HostContext {
            host: &job.name,
            facts,
            vars: &job.vars,
            templates: &shared.templates,
            secrets: &shared.secrets,
            connect_user: remote.user(),
        };
        instances
            .iter()
            .map(|r| hostplan::plan_role(r.name, r.configured, &ctx))
            .collect()
    };
    tl.enter("plan");
    let mut planned = plan_all(&facts);
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
    if opts.mode != Mode::Apply {
        for p in &planned {
            rep.resources.extend(p.outcomes(&shared.redactor));
        }
        if audit_like {
            rep.verify = checks
                .iter()
                .map(|(_, c)| c.judge(facts.commands.get(&c.fact_id())))
                .collect();
        }
        return Ok(());
    }
    let mut changed_roles: Vec<String> = Vec::new();
    let mut stopped = false;
    for (i, inst) in instances.iter().enumerate() {
        let mut role = std::mem::take(&mut planned[i]);
        if stopped {
            for mut o in role.outcomes(&shared.redactor) {
                o.status = Status::Skipped;
                o.summary = "skipped: an earlier role failed on this host".into();
                o.diff.clear();
                rep.resources.push(o);
            }
            continue;
        }
        if !changed_roles.is_empty() {
            // Earlier roles changed the host in this run (installed ufw, wrote a unit): what this
            // role planned against may be stale, so its facts are read again right before it
            // runs. Runs that change nothing never pay for this.
            tl.enter(&format!("facts {}", inst.name));
            let role_req = hostplan::fact_request(std::slice::from_ref(inst));
            let fresh = gather(remote, &role_req, opts.probe_timeout).await?;
            let ctx = HostContext {
                host: &job.name,
                facts: &fresh,
                vars: &job.vars,
                templates: &shared.templates,
                secrets: &shared.secrets,
                connect_user: remote.user(),
            };
            role = hostplan::plan_role(inst.name, inst.configured, &ctx);
        }
        if role.has_errors() || !role.has_changes() {
            stopped |= role.has_errors();
            rep.resources.extend(role.outcomes(&shared.redactor));
            continue;
        }
        tl.enter(&format!("apply {}", inst.name));
        let n = nonce();
        let out = match remote
            .run_script(
                hostplan::apply_script(&role, &n),
                "",
                Some(opts.command_timeout),
            )
            .await
        {
            Ok(o) => o,
            Err(e) => {
                let res = hostplan::ApplyResult::default();
                rep.resources
                    .extend(hostplan::apply_outcomes(&role, &res, &shared.redactor));
                return Err(e.into());
            }
        };
        let res = hostplan::parse_apply_output(&n, &String::from_utf8_lossy(&out.stdout));
        let outcomes = hostplan::apply_outcomes(&role, &res, &shared.redactor);
        stopped |= outcomes.iter().any(|o| o.status == Status::Failed);
        rep.resources.extend(outcomes);
        for (name, result) in hostplan::handler_results(&role, &res, &shared.redactor) {
            match result {
                Ok(()) => rep.handlers.push(format!("{}: {name}", inst.name)),
                Err(e) => {
                    stopped = true;
                    rep.resources.push(ResourceOutcome {
                        role: inst.name.to_owned(),
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
        if !res.complete && !out.success() {
            let stderr = shared
                .redactor
                .redact(String::from_utf8_lossy(&out.stderr).trim());
            return Err(HostError::Remote(format!(
                "the apply script of role `{}` did not finish: {stderr}",
                inst.name
            )));
        }
        changed_roles.push(inst.name.to_owned());
    }
    let verify_roles: Vec<&(String, Check)> = match opts.verify {
        VerifyPolicy::Never => Vec::new(),
        VerifyPolicy::Always => checks.iter().collect(),
        VerifyPolicy::Changed => checks
            .iter()
            .filter(|(r, _)| changed_roles.contains(r))
            .collect(),
    };
    if !verify_roles.is_empty() && !stopped {
        tl.enter("verify");
        let mut vreq = FactRequest::new();
        hostplan::add_checks(
            &mut vreq,
            &verify_roles
                .iter()
                .map(|(_, c)| c.clone())
                .collect::<Vec<_>>(),
        );
        let vf = gather(remote, &vreq, opts.probe_timeout).await?;
        rep.verify = verify_roles
            .iter()
            .map(|(_, c)| {
                let mut v = c.judge(vf.commands.get(&c.fact_id()));
                v.evidence = shared.redactor.redact(&v.evidence);
                v
            })
            .collect();
    }
    Ok(())
}
