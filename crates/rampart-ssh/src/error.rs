//! Errors of the SSH transport: what went wrong with one host, and what the operator can do.
//!
//! **Invariant:** every message names the host (its inventory alias where one exists), says what
//! happened in one sentence and ends with a `hint:` line when there is something to do. No
//! secret ever reaches an error: passphrases and stdin bytes are never formatted here.
//!
//! [`SshError`] is `Clone` on purpose: one failed bastion is reported for every host behind it.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// The class of an [`SshError`], for reports and retry decisions. Stable across messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The TCP connection was refused: nothing listens on the port.
    Refused,
    /// Connect, handshake or authentication did not finish within the connect timeout.
    TimedOut,
    /// The host name does not resolve.
    NameNotResolved,
    /// No route to the host or its network.
    NoRoute,
    /// The server accepted none of our keys.
    AuthFailed,
    /// The host key is not in any known_hosts file (strict policy), or cannot be recorded.
    HostKeyUnknown,
    /// known_hosts records a different key of the same type for this host.
    HostKeyChanged,
    /// The host presented a key that known_hosts marks `@revoked`.
    HostKeyRevoked,
    /// The connection dropped after it was established.
    Disconnected,
    /// A remote command ran longer than its timeout.
    CommandTimedOut,
    /// A file transfer command (put_file / fetch_file) failed on the host.
    CommandFailed,
    /// The peer closed the connection before its SSH banner (penalty or MaxStartups).
    Penalised,
    /// The inventory or ssh config could not be turned into a target.
    Config,
    /// A local or remote I/O failure.
    Io,
    /// The peer spoke SSH in a way we could not agree with.
    Protocol,
    /// A command printed more than rampart holds for one command or one host.
    OutputTooLarge,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// A short lowercase name for reports and JSON, e.g. `host-key-changed`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Refused => "refused",
            ErrorKind::TimedOut => "timed-out",
            ErrorKind::NameNotResolved => "name-not-resolved",
            ErrorKind::NoRoute => "no-route",
            ErrorKind::AuthFailed => "auth-failed",
            ErrorKind::HostKeyUnknown => "host-key-unknown",
            ErrorKind::HostKeyChanged => "host-key-changed",
            ErrorKind::HostKeyRevoked => "host-key-revoked",
            ErrorKind::Disconnected => "disconnected",
            ErrorKind::CommandTimedOut => "command-timed-out",
            ErrorKind::CommandFailed => "command-failed",
            ErrorKind::Penalised => "penalised",
            ErrorKind::Config => "config",
            ErrorKind::Io => "io",
            ErrorKind::Protocol => "protocol",
            ErrorKind::OutputTooLarge => "output-too-large",
            ErrorKind::Other => "other",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can go wrong while reaching or using one host.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SshError {
    /// Nothing listens on the port (TCP RST).
    #[error(
        "cannot connect to {target} ({addr}): connection refused\n  hint: check that sshd runs on \
         that host and listens on this port"
    )]
    Refused {
        /// Inventory alias.
        target: String,
        /// `host:port` that refused.
        addr: String,
    },

    /// A connection stage did not finish in time.
    #[error(
        "cannot connect to {target} ({addr}): no answer within {after} during {stage}\n  hint: \
         check that the host is up and that no firewall drops the SSH port; raise connect_timeout \
         for slow links",
        after = fmt_duration(*after)
    )]
    TimedOut {
        /// Inventory alias.
        target: String,
        /// `host:port` that was dialled.
        addr: String,
        /// The stage that was running: TCP connect, SSH handshake or authentication.
        stage: String,
        /// The connect timeout that elapsed.
        after: Duration,
    },

    /// DNS (or /etc/hosts) does not know the name.
    #[error(
        "cannot connect to {target}: the name {host} does not resolve ({detail})\n  hint: check \
         the address in the inventory or the HostName in your ssh config"
    )]
    NameNotResolved {
        /// Inventory alias.
        target: String,
        /// The name that did not resolve.
        host: String,
        /// What the resolver said.
        detail: String,
    },

    /// The network says there is no route.
    #[error(
        "cannot connect to {target} ({addr}): {detail}\n  hint: check the address and the \
         controller's routes or VPN"
    )]
    NoRoute {
        /// Inventory alias.
        target: String,
        /// `host:port` that was dialled.
        addr: String,
        /// What the OS said.
        detail: String,
    },

    /// The server accepted none of the keys we offered.
    #[error("{}", auth_failed_message(target, user, tried, hint.as_deref()))]
    AuthFailed {
        /// Inventory alias.
        target: String,
        /// Remote user we tried to log in as.
        user: String,
        /// One line per key or source tried, with why it did not work.
        tried: Vec<String>,
        /// What to do, when we know more than "add a key".
        hint: Option<String>,
    },

    /// Strict policy and the key is not in any known_hosts file.
    #[error(
        "host key for {host} is not known: {known_hosts} has no entry for its key {fingerprint}\n  \
         hint: {hint}",
        known_hosts = known_hosts.display()
    )]
    HostKeyUnknown {
        /// `host` or `[host]:port`, as known_hosts spells it.
        host: String,
        /// Type and SHA256 fingerprint of the key the host presented.
        fingerprint: String,
        /// The first known_hosts file (where --accept-new would record the key).
        known_hosts: PathBuf,
        /// What to do.
        hint: String,
    },

    /// known_hosts has a different key of the same type for this host.
    #[error(
        "host key for {host} changed: known_hosts {file}:{line} has a different {key_type} key; \
         the host now presents {fingerprint}. This may be a man-in-the-middle attack\n  hint: if \
         the host was rebuilt, remove that line (ssh-keygen -R '{host}' -f {file}) and connect \
         again with --accept-new",
        file = file.display()
    )]
    HostKeyChanged {
        /// `host` or `[host]:port`, as known_hosts spells it.
        host: String,
        /// Type and SHA256 fingerprint of the key the host presented now.
        fingerprint: String,
        /// Key type of the recorded entry, e.g. `ssh-ed25519`.
        key_type: String,
        /// The known_hosts file holding the old key.
        file: PathBuf,
        /// 1-based line of the old key in `file`.
        line: usize,
    },

    /// The presented key is marked `@revoked`.
    #[error(
        "host key for {host} is revoked: {file}:{line} marks its key {fingerprint} @revoked\n  \
         hint: the host must get a new host key before rampart will talk to it",
        file = file.display()
    )]
    HostKeyRevoked {
        /// `host` or `[host]:port`.
        host: String,
        /// Type and SHA256 fingerprint of the revoked key.
        fingerprint: String,
        /// The known_hosts file with the `@revoked` line.
        file: PathBuf,
        /// 1-based line.
        line: usize,
    },

    /// The connection was lost after it was set up (or the handshake broke off).
    #[error(
        "connection to {target} was lost: {detail}\n  hint: the host may have rebooted or sshd \
         restarted; run again to retry"
    )]
    Disconnected {
        /// Inventory alias.
        target: String,
        /// What russh or the OS said.
        detail: String,
    },

    /// A remote command ran past its timeout; its channel was closed, the session lives on.
    #[error(
        "command `{command_summary}` did not finish within {after}; its channel was closed\n  \
         hint: raise the timeout if the command is legitimately slow",
        after = fmt_duration(*after)
    )]
    CommandTimedOut {
        /// The first line of the command, shortened.
        command_summary: String,
        /// The timeout that elapsed.
        after: Duration,
    },

    /// A transfer command (put_file / fetch_file) exited non-zero.
    #[error("{what} failed on {target} (exit {status}): {stderr}{}", hint_suffix(hint.as_deref()))]
    CommandFailed {
        /// Inventory alias.
        target: String,
        /// What we were doing, e.g. `writing /etc/ssh/sshd_config`.
        what: String,
        /// Exit status, or `signal X` / `unknown`.
        status: String,
        /// Remote stderr, trimmed.
        stderr: String,
        /// What to do, when recognisable (e.g. sudo wants a password).
        hint: Option<String>,
    },

    /// The peer closed the TCP connection before sending an SSH banner.
    #[error(
        "{target} ({addr}) closed the connection before its SSH banner\n  hint: sshd is probably \
         penalising this source address (OpenSSH PerSourcePenalties) or refusing new connections \
         (MaxStartups); wait a minute and retry with fewer parallel connections, or exempt the \
         controller with PerSourcePenaltyExemptList"
    )]
    Penalised {
        /// Inventory alias.
        target: String,
        /// `host:port` that was dialled.
        addr: String,
    },

    /// A jump host on the way failed; `source` says how.
    #[error("cannot reach {target} through jump host {hop}: {source}")]
    JumpFailed {
        /// Inventory alias of the final target.
        target: String,
        /// `user@host:port` of the hop that failed.
        hop: String,
        /// What went wrong with the hop.
        source: Box<SshError>,
    },

    /// The inventory or ssh config does not describe a usable target.
    #[error("{message}{}", hint_suffix(hint.as_deref()))]
    Config {
        /// What is wrong.
        message: String,
        /// What to do.
        hint: Option<String>,
    },

    /// Local or remote I/O failed.
    #[error("{target}: I/O error: {detail}")]
    Io {
        /// Inventory alias, or a file name for local I/O.
        target: String,
        /// What failed.
        detail: String,
    },

    /// The SSH protocol could not proceed.
    #[error("{target}: SSH protocol error: {detail}{}", hint_suffix(hint.as_deref()))]
    Protocol {
        /// Inventory alias.
        target: String,
        /// What failed.
        detail: String,
        /// What to do, when known.
        hint: Option<String>,
    },

    /// A command's output passed a cap: the channel was closed and nothing more is kept.
    #[error(
        "{target}: `{command_summary}` printed more than {limit}, so rampart stopped reading it \
         and gave up on this host\n  hint: {what}; a host that floods its output is broken or \
         hostile: look at it by hand",
        limit = fmt_bytes(*limit)
    )]
    OutputTooLarge {
        /// Inventory alias.
        target: String,
        /// The first line of the command, shortened.
        command_summary: String,
        /// The cap that was reached, in bytes.
        limit: u64,
        /// Which cap: one command's output, or everything this host sent.
        what: String,
    },

    /// Anything else.
    #[error("{target}: {detail}")]
    Other {
        /// Inventory alias.
        target: String,
        /// What failed.
        detail: String,
    },
}

impl SshError {
    /// The class of this error. For [`SshError::JumpFailed`] it is the class of the hop's error,
    /// so a refused bastion is reported as refused.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SshError::Refused { .. } => ErrorKind::Refused,
            SshError::TimedOut { .. } => ErrorKind::TimedOut,
            SshError::NameNotResolved { .. } => ErrorKind::NameNotResolved,
            SshError::NoRoute { .. } => ErrorKind::NoRoute,
            SshError::AuthFailed { .. } => ErrorKind::AuthFailed,
            SshError::HostKeyUnknown { .. } => ErrorKind::HostKeyUnknown,
            SshError::HostKeyChanged { .. } => ErrorKind::HostKeyChanged,
            SshError::HostKeyRevoked { .. } => ErrorKind::HostKeyRevoked,
            SshError::Disconnected { .. } => ErrorKind::Disconnected,
            SshError::CommandTimedOut { .. } => ErrorKind::CommandTimedOut,
            SshError::CommandFailed { .. } => ErrorKind::CommandFailed,
            SshError::Penalised { .. } => ErrorKind::Penalised,
            SshError::JumpFailed { source, .. } => source.kind(),
            SshError::Config { .. } => ErrorKind::Config,
            SshError::Io { .. } => ErrorKind::Io,
            SshError::Protocol { .. } => ErrorKind::Protocol,
            SshError::OutputTooLarge { .. } => ErrorKind::OutputTooLarge,
            SshError::Other { .. } => ErrorKind::Other,
        }
    }

    /// True when the host could not be reached or the connection was lost: the network-level
    /// failures that Ansible reports as UNREACHABLE. Authentication and host-key refusals are
    /// not "unreachable": the host answered, and the operator has to fix trust or keys.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::Refused
                | ErrorKind::TimedOut
                | ErrorKind::NameNotResolved
                | ErrorKind::NoRoute
                | ErrorKind::Disconnected
                | ErrorKind::Penalised
        )
    }

    /// True when trying the *connection* again later can succeed without the operator changing
    /// anything: timeouts, drops, penalties, and refusals (sshd restarting after a config change
    /// refuses for a moment). Never true for a command timeout: the command may have had effects.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::Refused
                | ErrorKind::TimedOut
                | ErrorKind::Disconnected
                | ErrorKind::Penalised
        )
    }

    pub(crate) fn io(target: &str, detail: impl fmt::Display) -> Self {
        SshError::Io {
            target: target.to_owned(),
            detail: detail.to_string(),
        }
    }

    pub(crate) fn config(message: impl Into<String>, hint: Option<&str>) -> Self {
        SshError::Config {
            message: message.into(),
            hint: hint.map(str::to_owned),
        }
    }
}

fn hint_suffix(hint: Option<&str>) -> String {
    hint.map(|h| format!("\n  hint: {h}")).unwrap_or_default()
}

fn auth_failed_message(target: &str, user: &str, tried: &[String], hint: Option<&str>) -> String {
    let mut s = format!("authentication as {user} on {target} failed");
    if tried.is_empty() {
        s.push_str(": no key to offer (no agent identity and no identity file)");
    } else {
        s.push_str("; tried:");
        for t in tried {
            s.push_str("\n    - ");
            s.push_str(t);
        }
    }
    let hint = hint.unwrap_or(
        "add one of these keys to the user's authorized_keys on the host, or set identity_file \
         in the inventory",
    );
    s.push_str("\n  hint: ");
    s.push_str(hint);
    s
}

/// `1.5s`, `10s`, `250ms`: short and exact enough for error messages.
pub(crate) fn fmt_duration(d: Duration) -> String {
    if d.as_millis() < 1000 {
        format!("{}ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// `64 MiB`, `1 KiB`, `12 bytes`.
pub(crate) fn fmt_bytes(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jump_failure_takes_the_kind_of_the_hop() {
        let e = SshError::JumpFailed {
            target: "web1".into(),
            hop: "admin@bastion:22".into(),
            source: Box::new(SshError::Refused {
                target: "bastion".into(),
                addr: "10.0.0.1:22".into(),
            }),
        };
        assert_eq!(e.kind(), ErrorKind::Refused);
        assert!(e.is_unreachable());
        assert!(e.is_retryable());
        assert!(e.to_string().contains("through jump host admin@bastion:22"));
    }

    #[test]
    fn host_key_changed_names_file_line_and_what_to_do() {
        let e = SshError::HostKeyChanged {
            host: "10.213.1.2".into(),
            fingerprint: "ssh-ed25519 SHA256:abc".into(),
            key_type: "ssh-ed25519".into(),
            file: "/root/.ssh/known_hosts".into(),
            line: 12,
        };
        let m = e.to_string();
        assert!(m.contains("known_hosts /root/.ssh/known_hosts:12"), "{m}");
        assert!(m.contains("ssh-keygen -R '10.213.1.2'"), "{m}");
        assert!(m.contains("--accept-new"), "{m}");
        assert!(!e.is_unreachable());
        assert!(!e.is_retryable());
    }

    #[test]
    fn auth_failed_lists_what_was_tried() {
        let e = SshError::AuthFailed {
            target: "web1".into(),
            user: "admin".into(),
            tried: vec![
                "agent: ssh-ed25519 SHA256:x".into(),
                "/k/id_rsa (rsa-sha2-512)".into(),
            ],
            hint: None,
        };
        let m = e.to_string();
        assert!(
            m.starts_with("authentication as admin on web1 failed; tried:"),
            "{m}"
        );
        assert!(m.contains("\n    - /k/id_rsa (rsa-sha2-512)"), "{m}");
        assert!(m.contains("hint:"), "{m}");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(fmt_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(fmt_duration(Duration::from_secs(10)), "10s");
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.5s");
    }
}
