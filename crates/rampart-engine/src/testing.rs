//! A recording fake of the transport, for the executor's unit tests ([`crate::remote`]).
//!
//! [`FakeNet`] is a [`Connect`]: it opens [`FakeRemote`]s to fake hosts and records every
//! connect, exec and close ([`Event`]). Each host answers the executor's protocol from a small
//! model ([`FakeHost`]): roles with work left to do, a host lock (held by a live or a dead run),
//! the dead-man switch (armed by an apply, disarmed by a confirm, fired on tokio's clock, so
//! tests run with `start_paused` and the engine's waits take no time), faults (a connect that
//! fails, a host that goes down or shuts fresh logins out after a role's apply, a dropped
//! connection), delays, and scripted one-shot replies by [`Kind`] that override the model.
//!
//! Roles are [`FakeRole`]s: one guarded command each (index 0 of the role's apply), whose guard
//! asks the fake whether the role's work is done (`fake-done ROLE`), and one check
//! (`fake-check ROLE`). The fake answers those by its model, and any command listed in
//! [`FakeHost::failing`] (a site's health command, say) with exit 1.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rampart_core::Risk;
use rampart_core::facts::FactRequest;
use rampart_core::resource::{Command, Resource};
use rampart_core::role::{Configured, HostContext, RoleError, RolePlan};
use rampart_core::secret::Redactor;
use rampart_core::template::Templates;
use rampart_core::verify::Check;
use rampart_ssh::{Output, SshError, Target};
use tokio::time::Instant;

use crate::host::{HostJob, RoleJob, RunOptions, Shared};
use crate::remote::{Connect, Probe, Remote, Step};

/// What a host was asked: a connect, a close, or which script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A connection was opened (or failed to be).
    Connect,
    /// A connection was closed.
    Close,
    /// `rampart ping`'s plain command.
    Ping,
    /// The staging probe.
    Probe,
    /// A role's facts read again before it runs.
    RoleFacts(String),
    /// The verify checks.
    Verify,
    /// A wave's health gate.
    Gate,
    /// Lock, (arm,) apply one role.
    Apply(String),
    /// The confirm's disarm.
    Disarm,
    /// Did the rollback run?
    Status,
    /// Release the lock.
    Unlock,
}

impl Kind {
    fn of(step: &Step<'_>) -> Kind {
        match step {
            Step::Probe { purpose, .. } => match purpose {
                Probe::Stage => Kind::Probe,
                Probe::Role(r) => Kind::RoleFacts((*r).to_owned()),
                Probe::Verify => Kind::Verify,
                Probe::Gate => Kind::Gate,
            },
            Step::Apply { role, .. } => Kind::Apply((*role).to_owned()),
            Step::Disarm { .. } => Kind::Disarm,
            Step::RollbackStatus { .. } => Kind::Status,
            Step::Unlock { .. } => Kind::Unlock,
        }
    }
}

/// One thing that happened, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The host (inventory name).
    pub host: String,
    /// The connection (1, 2, ...; 0 for a connect that failed).
    pub conn: u64,
    /// The port dialled (connects) or used.
    pub port: u16,
    /// What.
    pub kind: Kind,
    /// Whether it succeeded (a connect that failed, an exec on a lost connection: false).
    pub ok: bool,
}

/// A scripted answer, used once, instead of the model's.
#[derive(Clone, Debug)]
pub enum Reply {
    /// The script exits with this status and output.
    Exit {
        /// Exit status.
        code: u32,
        /// stdout.
        stdout: String,
        /// stderr.
        stderr: String,
    },
    /// The transport fails with this error (a connect refused, a command timeout).
    Fail(SshError),
    /// The connection drops: this exec and every later one on it fail.
    Drop,
}

/// What happens to a host right after a role's apply returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The host goes down for good: its connections drop, new ones time out.
    Die,
    /// The change shut fresh logins out (authentication fails) until the dead-man switch
    /// fires and restores the role's previous state.
    LockOut,
}

#[derive(Clone, Debug)]
pub(crate) struct Armed {
    role: String,
    at: Instant,
    fired: bool,
}

/// One fake host: its state and what goes wrong on it.
#[derive(Clone, Debug, Default)]
pub struct FakeHost {
    /// Roles whose work is not done on the host yet.
    pub todo: BTreeSet<String>,
    /// Commands (checks, health) that exit 1.
    pub failing: BTreeSet<String>,
    /// The host lock: the run holding it and whether any of its processes still lives.
    pub lock: Option<(String, bool)>,
    /// Roles whose apply fails (the command exits 1).
    pub fail_apply: BTreeSet<String>,
    /// What happens after a role's apply.
    pub after_apply: BTreeMap<String, Fault>,
    /// So many next connects time out.
    pub failed_connects: u32,
    /// How long each exec takes.
    pub delay: Duration,
    /// How long the first exec of a kind takes instead (a slow confirm, say).
    pub slow: Vec<(Kind, Duration)>,
    /// Scripted one-shot replies, by what is asked (`Kind::Connect` included).
    pub replies: Vec<(Kind, Reply)>,
    /// Down until then (`Fault::Die`: for good).
    pub(crate) down_until: Option<Instant>,
    /// Fresh logins fail until then (`Fault::LockOut`).
    pub(crate) locked_out_until: Option<Instant>,
    /// Armed rollbacks by id.
    pub(crate) armed: BTreeMap<String, Armed>,
    /// The dead-man switch restored this host.
    pub rolled_back: bool,
}

impl FakeHost {
    /// A host on which these roles have work to do.
    pub fn with_todo(roles: &[&str]) -> Self {
        FakeHost {
            todo: roles.iter().map(|r| (*r).to_owned()).collect(),
            ..FakeHost::default()
        }
    }

    /// Fires every armed, unconfirmed rollback whose time has come.
    fn tick(&mut self, now: Instant, after: Duration) {
        for a in self.armed.values_mut() {
            if !a.fired && now >= a.at + after {
                a.fired = true;
                self.todo.insert(a.role.clone());
                self.locked_out_until = None;
                self.rolled_back = true;
            }
        }
    }

    fn is_down(&self, now: Instant) -> bool {
        self.down_until.is_some_and(|t| now < t)
    }

    fn take_reply(&mut self, kind: &Kind) -> Option<Reply> {
        let i = self.replies.iter().position(|(k, _)| k == kind)?;
        Some(self.replies.remove(i).1)
    }

    fn rc(&self, command: &str) -> i32 {
        let role_done = |r: &str| !self.todo.contains(r);
        let pass = !self.failing.contains(command)
            && match command.split_once(' ') {
                Some(("fake-done" | "fake-check", role)) => role_done(role),
                _ => true,
            };
        i32::from(!pass)
    }
}

#[derive(Debug, Default)]
struct Net {
    hosts: BTreeMap<String, FakeHost>,
    log: Vec<Event>,
    next_conn: u64,
    dead: BTreeSet<u64>,
    rollback_after: Duration,
    cancel_on: Option<(Kind, Arc<AtomicBool>)>,
}

/// The fake fleet: a [`Connect`] that records everything (cheap to clone, shared state).
#[derive(Clone, Debug, Default)]
pub struct FakeNet {
    net: Arc<Mutex<Net>>,
}

fn output(code: u32, stdout: String, stderr: String) -> Output {
    Output {
        exit_status: Some(code),
        exit_signal: None,
        stdout: stdout.into_bytes(),
        stderr: stderr.into_bytes(),
    }
}

fn lost(host: &str) -> SshError {
    SshError::Disconnected {
        target: host.to_owned(),
        detail: "connection reset by peer".into(),
    }
}

fn timed_out(host: &str, port: u16) -> SshError {
    SshError::TimedOut {
        target: host.to_owned(),
        addr: format!("{host}:{port}"),
        stage: "TCP connect".into(),
        after: Duration::from_secs(10),
    }
}

impl FakeNet {
    /// A fleet of these hosts; armed rollbacks fire after `rollback_after` (set it to the
    /// run's confirm timeout).
    pub fn new(hosts: Vec<(&str, FakeHost)>, rollback_after: Duration) -> Self {
        let net = Net {
            hosts: hosts.into_iter().map(|(n, h)| (n.to_owned(), h)).collect(),
            rollback_after,
            ..Net::default()
        };
        FakeNet {
            net: Arc::new(Mutex::new(net)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Net> {
        self.net
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sets `flag` (the run's Ctrl-C) when the first script of this kind starts, on any host.
    pub fn cancel_on(&self, kind: Kind, flag: Arc<AtomicBool>) {
        self.lock().cancel_on = Some((kind, flag));
    }

    /// A host's state now.
    pub fn host(&self, name: &str) -> FakeHost {
        self.lock().hosts[name].clone()
    }

    /// Changes a host.
    pub fn edit(&self, name: &str, f: impl FnOnce(&mut FakeHost)) {
        f(self.lock().hosts.get_mut(name).expect("a fake host"));
    }

    /// Everything that happened, in order.
    pub fn log(&self) -> Vec<Event> {
        self.lock().log.clone()
    }

    /// What one host was asked, in order.
    pub fn kinds(&self, host: &str) -> Vec<Kind> {
        self.log()
            .into_iter()
            .filter(|e| e.host == host)
            .map(|e| e.kind)
            .collect()
    }

    /// Connects made to a host (successful or not).
    pub fn connects(&self, host: &str) -> usize {
        self.kinds(host)
            .iter()
            .filter(|k| **k == Kind::Connect)
            .count()
    }

    /// Scripts and commands sent to a host.
    pub fn execs(&self, host: &str) -> usize {
        self.kinds(host)
            .iter()
            .filter(|k| !matches!(k, Kind::Connect | Kind::Close))
            .count()
    }

    /// Hosts that were connected to at all, sorted by name.
    pub fn contacted(&self) -> Vec<String> {
        let set: BTreeSet<String> = self.log().into_iter().map(|e| e.host).collect();
        set.into_iter().collect()
    }

    /// Forgets the log (between two runs of one test).
    pub fn clear_log(&self) {
        self.lock().log.clear();
    }

    fn answer(&self, remote: &FakeRemote, step: &Step<'_>) -> Result<Output, SshError> {
        let mut guard = self.lock();
        let net = &mut *guard;
        let now = Instant::now();
        let after = net.rollback_after;
        let dead = net.dead.contains(&remote.conn);
        let host = &remote.host;
        let h = net.hosts.get_mut(host).expect("a fake host");
        h.tick(now, after);
        if dead || h.is_down(now) {
            return Err(lost(host));
        }
        match h.take_reply(&Kind::of(step)) {
            Some(Reply::Exit {
                code,
                stdout,
                stderr,
            }) => return Ok(output(code, stdout, stderr)),
            Some(Reply::Fail(e)) => return Err(e),
            Some(Reply::Drop) => {
                net.dead.insert(remote.conn);
                return Err(lost(host));
            }
            None => {}
        }
        let out = match *step {
            Step::Probe { nonce, request, .. } => {
                output(0, probe_answer(h, nonce, request), String::new())
            }
            Step::Apply {
                role,
                nonce,
                owner,
                armed,
            } => {
                let mut stderr = String::new();
                match &h.lock {
                    Some((o, _)) if o == owner => {}
                    Some((o, true)) => {
                        return Ok(output(
                            73,
                            String::new(),
                            format!(
                                "rampart: this host is locked by another rampart run ({o}, last active 3 s ago, still running on the host); wait for it to finish\n"
                            ),
                        ));
                    }
                    Some((o, false)) => {
                        stderr = format!(
                            "rampart: took over the host lock of an interrupted run ({o}): none of its processes runs any more\n"
                        );
                    }
                    None => {}
                }
                h.lock = Some((owner.to_owned(), true));
                let mut out = String::new();
                if let Some(id) = armed {
                    h.armed.insert(
                        id.to_owned(),
                        Armed {
                            role: role.to_owned(),
                            at: now,
                            fired: false,
                        },
                    );
                    out.push_str(&format!("@@{nonce} armed\n"));
                }
                let rc = i32::from(h.fail_apply.contains(role));
                out.push_str(&format!(
                    "@@{nonce} start 0\n{}\n@@{nonce} rc 0 {rc}\n@@{nonce} end\n",
                    if rc == 0 {
                        "done"
                    } else {
                        "fake-apply: it failed"
                    }
                ));
                if rc == 0 {
                    h.todo.remove(role);
                }
                match h.after_apply.remove(role) {
                    Some(Fault::Die) => h.down_until = Some(now + Duration::from_secs(1 << 30)),
                    Some(Fault::LockOut) => h.locked_out_until = Some(now + after),
                    None => {}
                }
                output(0, out, stderr)
            }
            Step::Disarm { id, marker } => {
                let line = match h.armed.get(id) {
                    Some(a) if a.fired => "too-late",
                    _ => {
                        h.armed.remove(id);
                        "disarmed"
                    }
                };
                output(0, format!("@@{marker} {line}\n"), String::new())
            }
            Step::RollbackStatus { id, marker } => {
                let line = match h.armed.get(id) {
                    Some(a) if a.fired => "rolled-back 2026-12-02T10:00:00Z",
                    _ => "pending",
                };
                output(0, format!("@@{marker} {line}\n"), String::new())
            }
            Step::Unlock { owner } => {
                if h.lock.as_ref().is_some_and(|(o, _)| o == owner) {
                    h.lock = None;
                }
                output(0, String::new(), String::new())
            }
        };
        Ok(out)
    }

    fn record(&self, host: &str, conn: u64, port: u16, kind: Kind, ok: bool) {
        let mut net = self.lock();
        if let Some((k, flag)) = &net.cancel_on
            && *k == kind
        {
            flag.store(true, Ordering::Relaxed);
            net.cancel_on = None;
        }
        net.log.push(Event {
            host: host.to_owned(),
            conn,
            port,
            kind,
            ok,
        });
    }
}

/// A probe's answer: the host section, one `cmd` section per check, the end marker.
fn probe_answer(h: &FakeHost, nonce: &str, req: &FactRequest) -> String {
    let mut s = format!(
        "@@{nonce} host -\nos_id=debian\nos_version_id=12\nhostname=fake\nsystemd=1\nssh_connection=10.213.0.1 50000 10.213.0.2 22\n"
    );
    // Every file asked for is absent (an empty stat section).
    s.push_str(&format!("@@{nonce} stats -\n"));
    for (id, command) in &req.commands {
        s.push_str(&format!("@@{nonce} cmd {id}\n@rc {}\n", h.rc(command)));
    }
    s.push_str(&format!("@@{nonce} end -\n"));
    s
}

impl Connect for FakeNet {
    type Remote = FakeRemote;

    async fn open(&self, target: &Target, _become_root: bool) -> Result<FakeRemote, SshError> {
        let host = target.alias.clone();
        let result = {
            let mut guard = self.lock();
            let net = &mut *guard;
            let now = Instant::now();
            let after = net.rollback_after;
            net.next_conn += 1;
            let conn = net.next_conn;
            let h = net.hosts.get_mut(&host).expect("a fake host");
            h.tick(now, after);
            match h.take_reply(&Kind::Connect) {
                Some(Reply::Fail(e)) => Err(e),
                Some(_) => Err(lost(&host)),
                None if h.failed_connects > 0 => {
                    h.failed_connects -= 1;
                    Err(timed_out(&host, target.port))
                }
                None if h.is_down(now) => Err(timed_out(&host, target.port)),
                None if h.locked_out_until.is_some_and(|t| now < t) => Err(SshError::AuthFailed {
                    target: host.clone(),
                    user: target.user.clone(),
                    tried: vec!["agent key: refused".into()],
                    hint: None,
                }),
                None => Ok(conn),
            }
        };
        self.record(
            &host,
            *result.as_ref().unwrap_or(&0),
            target.port,
            Kind::Connect,
            result.is_ok(),
        );
        let conn = result?;
        Ok(FakeRemote {
            net: self.clone(),
            host,
            conn,
            port: target.port,
            user: target.user.clone(),
            execs: Arc::new(AtomicU32::new(0)),
        })
    }

    async fn close(&self) {}
}

/// A connection to a fake host.
#[derive(Clone, Debug)]
pub struct FakeRemote {
    net: FakeNet,
    host: String,
    conn: u64,
    port: u16,
    user: String,
    execs: Arc<AtomicU32>,
}

impl Remote for FakeRemote {
    async fn run_script(
        &self,
        step: Step<'_>,
        _script: String,
        _args: &str,
        _timeout: Option<Duration>,
    ) -> Result<Output, SshError> {
        self.execs.fetch_add(1, Ordering::Relaxed);
        let kind = Kind::of(&step);
        self.net
            .record(&self.host, self.conn, self.port, kind.clone(), true);
        let delay = {
            let mut net = self.net.lock();
            let h = net.hosts.get_mut(&self.host).expect("a fake host");
            match h.slow.iter().position(|(k, _)| *k == kind) {
                Some(i) => h.slow.remove(i).1,
                None => h.delay,
            }
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let out = self.net.answer(self, &step);
        if out.is_err() {
            // This exec's event: the connection's last one (an exec runs alone on it here).
            let mut net = self.net.lock();
            if let Some(e) = net.log.iter_mut().rev().find(|e| e.conn == self.conn) {
                e.ok = false;
            }
        }
        out
    }

    async fn run_plain(
        &self,
        _command: &str,
        _timeout: Option<Duration>,
    ) -> Result<Output, SshError> {
        self.execs.fetch_add(1, Ordering::Relaxed);
        self.net
            .record(&self.host, self.conn, self.port, Kind::Ping, true);
        Ok(output(
            0,
            "Linux 6.1.0\nDebian GNU/Linux 12 (bookworm)\n".into(),
            String::new(),
        ))
    }

    fn user(&self) -> &str {
        &self.user
    }

    fn counters(&self) -> (u32, u32) {
        (1, self.execs.load(Ordering::Relaxed))
    }

    fn route(&self) -> Vec<(String, String)> {
        vec![(
            format!("{}@{}:{}", self.user, self.host, self.port),
            "SHA256:fake".into(),
        )]
    }

    async fn close(self) {
        self.net
            .record(&self.host, self.conn, self.port, Kind::Close, true);
    }
}

/// A role of one guarded command: it has work to do while the fake host lists it in `todo`.
/// A role named `firewall` plans instead to enable ufw without allowing SSH, which the
/// preflight cuts.
#[derive(Debug)]
pub struct FakeRole {
    name: String,
    risk: Risk,
}

/// ufw enabled, denying incoming, no rule: the preflight refuses it.
fn closed_firewall() -> Resource {
    Resource::Ufw(rampart_core::resource::Ufw {
        incoming: rampart_core::resource::UfwPolicy::Deny,
        outgoing: rampart_core::resource::UfwPolicy::Allow,
        routed: rampart_core::resource::UfwPolicy::Deny,
        rules: Vec::new(),
        ipv6: true,
        logging: "low".into(),
        enabled: true,
    })
}

impl FakeRole {
    fn resource(&self) -> Resource {
        if self.name == "firewall" {
            closed_firewall()
        } else {
            Resource::Command(self.command())
        }
    }

    fn command(&self) -> Command {
        let mut c = Command::unless(
            &format!("{} change", self.name),
            &format!("fake-apply {}", self.name),
            &format!("fake-done {}", self.name),
        );
        c.risk = self.risk;
        c
    }
}

impl Configured for FakeRole {
    fn facts(&self, req: &mut FactRequest) {
        self.resource().facts(req);
    }

    fn plan(&self, _ctx: &HostContext<'_>) -> Result<RolePlan, RoleError> {
        Ok(RolePlan {
            resources: vec![self.resource()],
            handlers: Vec::new(),
        })
    }

    fn checks(&self) -> Vec<Check> {
        vec![Check::success(
            &format!("{}.done", self.name),
            "the role's work is done",
            &format!("fake-check {}", self.name),
        )]
    }
}

/// A role for [`HostJob::roles`]; `risk` [`Risk::Access`] runs it under the dead-man switch.
pub fn role(name: &str, risk: Risk) -> RoleJob {
    RoleJob {
        name: name.to_owned(),
        configured: Arc::new(FakeRole {
            name: name.to_owned(),
            risk,
        }),
    }
}

/// A job for fake host `name` with these roles.
pub fn job(name: &str, roles: &[RoleJob]) -> HostJob {
    HostJob {
        name: name.to_owned(),
        target: Target {
            alias: name.to_owned(),
            host: format!("{name}.fake"),
            user: "root".into(),
            ..Target::default()
        },
        become_root: true,
        vars: serde_json::json!({}),
        roles: roles.to_vec(),
    }
}

/// A run's shared state with these options (no secrets, embedded templates).
pub fn shared(options: RunOptions) -> Arc<Shared> {
    Arc::new(Shared::new(
        Templates::embedded(),
        BTreeMap::new(),
        Redactor::new(),
        options,
    ))
}
