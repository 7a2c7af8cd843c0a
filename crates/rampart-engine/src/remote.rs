//! The engine's view of a connected host: run a script as root, count round trips.
//!
//! [`Remote`] is the seam between the executor and the transport: the real one is
//! `rampart_ssh::Session`; tests of the executor can use a fake. Scripts always travel on
//! stdin (`sh -s`), never in argv, so nothing they carry shows up in `ps` or sudo's log.

use std::future::Future;
use std::time::Duration;

use rampart_ssh::{Exec, Output, Session, SshError};

/// A connected host.
pub trait Remote: Send + Sync {
    /// Runs `script` with `sh -s` as root (through `sudo -n` when the login user is not root
    /// and `become_root` is set), passing `args` as positional parameters.
    fn run_script(
        &self,
        script: String,
        args: &str,
        timeout: Option<Duration>,
    ) -> impl Future<Output = Result<Output, SshError>> + Send;

    /// [`Remote::run_script`], showing `watch` the stdout as it arrives (the live view reads
    /// the apply's step markers from it). A remote that cannot stream runs the script plainly.
    fn run_script_watched(
        &self,
        script: String,
        args: &str,
        timeout: Option<Duration>,
        watch: rampart_ssh::Watch,
    ) -> impl Future<Output = Result<Output, SshError>> + Send {
        let _ = watch;
        self.run_script(script, args, timeout)
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
        let sudo = if self.become_root && self.session.remote_user() != "root" {
            "sudo -n "
        } else {
            ""
        };
        if args.is_empty() {
            format!("{sudo}sh -s")
        } else {
            format!("{sudo}sh -s -- {args}")
        }
    }
}

impl Remote for SshRemote {
    async fn run_script(
        &self,
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
}
