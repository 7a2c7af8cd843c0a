//! The engine's view of the transport: a connected host that runs a script as root
//! ([`Remote`]), and a way to open one for a target ([`Connect`]).
//!
//! This is the seam between the executor and SSH. The production pair is [`SshRemote`] over a
//! `rampart_ssh::Session` and `rampart_ssh::Connector`; the executor's unit tests drive the same
//! host phases and fleet driver through a recording fake (`crate::testing`), so the lock
//! takeover, the dead-man switch's decisions, waves and `max_fail` are tested without a host.
//! Every script carries a [`Step`]: what the executor asks of the host, which is how a fake
//! answers it and how a trace names it; the real transport sends the script text only.
//! Scripts always travel on stdin (`sh -s`), never in argv, so nothing they carry shows up in
//! `ps` or sudo's log.

use std::future::Future;
use std::time::Duration;

use rampart_core::facts::FactRequest;
use rampart_ssh::{Connector, Exec, Output, Session, SshError, Target};

/// What a script sent to a host is for, with the values the host's answer is framed by.
#[derive(Clone, Copy, Debug)]
pub enum Step<'a> {
    /// A fact probe: every fact of the host's roles (stage), one role's facts again before it
    /// runs, the checks of a verify or of a health gate. Answered in `@@<nonce>` sections.
    Probe {
        /// Why it is sent.
        purpose: Probe<'a>,
        /// The probe's section marker.
        nonce: &'a str,
        /// What it asks.
        request: &'a FactRequest,
    },
    /// Take the host lock (for `owner`), arm the dead-man switch (when `armed` is its id) and
    /// apply one role's changes. Answered with `@@<nonce>` lines (`armed`, `rc I N`, `end`).
    Apply {
        /// The role.
        role: &'a str,
        /// The apply script's marker.
        nonce: &'a str,
        /// The run that takes the lock.
        owner: &'a str,
        /// The rollback's id when the role runs under the dead-man switch.
        armed: Option<&'a str>,
    },
    /// Confirm a risky change (over a brand-new connection): disarm rollback `id`.
    Disarm {
        /// The rollback's id.
        id: &'a str,
        /// The answer's marker.
        marker: &'a str,
    },
    /// Ask whether rollback `id` ran.
    RollbackStatus {
        /// The rollback's id.
        id: &'a str,
        /// The answer's marker.
        marker: &'a str,
    },
    /// Release the host lock of run `owner`.
    Unlock {
        /// The run.
        owner: &'a str,
    },
}

/// Why a fact probe is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe<'a> {
    /// Staging: every fact of the host's roles.
    Stage,
    /// A role's facts again, after earlier roles changed the host.
    Role(&'a str),
    /// The verify checks after the apply.
    Verify,
    /// A rolling wave's health gate (over a fresh connection).
    Gate,
}

/// A connected host.
pub trait Remote: Clone + Send + Sync + 'static {
    /// Runs `script` with `sh -s` as root (through `sudo -n` when the login user is not root
    /// and `become_root` is set), passing `args` as positional parameters. `step` says what
    /// the script is for.
    fn run_script(
        &self,
        step: Step<'_>,
        script: String,
        args: &str,
        timeout: Option<Duration>,
    ) -> impl Future<Output = Result<Output, SshError>> + Send;

    /// [`Remote::run_script`], showing `watch` the stdout as it arrives (the live view reads
    /// the apply's step markers from it). A remote that cannot stream runs the script plainly.
    fn run_script_watched(
        &self,
        step: Step<'_>,
        script: String,
        args: &str,
        timeout: Option<Duration>,
        watch: rampart_ssh::Watch,
    ) -> impl Future<Output = Result<Output, SshError>> + Send {
        let _ = watch;
        self.run_script(step, script, args, timeout)
    }

    /// Runs a plain command as the login user.
    fn run_plain(
        &self,
        command: &str,
        timeout: Option<Duration>,
    ) -> impl Future<Output = Result<Output, SshError>> + Send;

    /// The login user.
    fn user(&self) -> &str;

    /// (connections, round trips) so far.
    fn counters(&self) -> (u32, u32);

    /// How this connection reached the host: each hop (`user@host:port`, bastions first) with
    /// the fingerprint of the host key verified on it (the fact cache's key).
    fn route(&self) -> Vec<(String, String)>;

    /// How long the connection's TCP handshake took (about one round trip to the host), when
    /// it dialled the host itself: the audit's port probe starts its timeouts from it.
    fn tcp_rtt(&self) -> Option<Duration> {
        None
    }

    /// Closes the connection.
    fn close(self) -> impl Future<Output = ()> + Send;
}

/// Opens connections: one per host for its run, and the brand-new ones that confirm a risky
/// change and gate a wave.
pub trait Connect: Send + Sync + 'static {
    /// The connected host.
    type Remote: Remote;

    /// Connects to `target`; `become_root`: scripts escalate with `sudo -n` when the login
    /// user is not root.
    fn open(
        &self,
        target: &Target,
        become_root: bool,
    ) -> impl Future<Output = Result<Self::Remote, SshError>> + Send;

    /// The run is over: closes what the connector shares between hosts (bastions).
    fn close(&self) -> impl Future<Output = ()> + Send;
}

impl Connect for Connector {
    type Remote = SshRemote;

    async fn open(&self, target: &Target, become_root: bool) -> Result<SshRemote, SshError> {
        let session = self.connect(target).await?;
        Ok(SshRemote {
            session,
            become_root,
        })
    }

    async fn close(&self) {
        Connector::close(self).await;
    }
}

/// A transport session plus whether rampart should escalate with sudo.
#[derive(Debug, Clone)]
pub struct SshRemote {
    /// The session.
    pub session: Session,
    /// Escalate with `sudo -n` when not logged in as root.
    pub become_root: bool,
}

impl SshRemote {
    /// The command line that starts a script read from stdin. `args` is shell code that
    /// expands on the host before sudo (so `"$SSH_CONNECTION"` reaches the script as `$1`,
    /// although sudo resets the environment).
    fn command(&self, args: &str) -> String {
        rampart_ssh::script_command(args, self.session.remote_user(), self.become_root)
    }
}

impl Remote for SshRemote {
    async fn run_script(
        &self,
        _step: Step<'_>,
        script: String,
        args: &str,
        timeout: Option<Duration>,
    ) -> Result<Output, SshError> {
        let exec = Exec {
            command: self.command(args),
            stdin: script.into_bytes(),
            timeout,
            become_root: false,
        };
        self.session.exec(exec).await
    }

    async fn run_script_watched(
        &self,
        _step: Step<'_>,
        script: String,
        args: &str,
        timeout: Option<Duration>,
        watch: rampart_ssh::Watch,
    ) -> Result<Output, SshError> {
        let exec = Exec {
            command: self.command(args),
            stdin: script.into_bytes(),
            timeout,
            become_root: false,
        };
        self.session.exec_watched(exec, Some(watch)).await
    }

    async fn run_plain(
        &self,
        command: &str,
        timeout: Option<Duration>,
    ) -> Result<Output, SshError> {
        let exec = Exec {
            command: command.to_owned(),
            stdin: Vec::new(),
            timeout,
            become_root: false,
        };
        self.session.exec(exec).await
    }

    fn user(&self) -> &str {
        self.session.remote_user()
    }

    fn counters(&self) -> (u32, u32) {
        let s = self.session.stats();
        (s.connections, s.round_trips)
    }

    fn route(&self) -> Vec<(String, String)> {
        self.session.route()
    }

    fn tcp_rtt(&self) -> Option<Duration> {
        self.session.tcp_rtt()
    }

    async fn close(self) {
        self.session.close().await;
    }
}
