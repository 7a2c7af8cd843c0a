//! Facts: what a host has, gathered in ONE round trip.
//!
//! Every resource adds what it reads to a [`FactRequest`]; the engine turns the union of all
//! requests of a host into one probe script ([`FactRequest::probe_script`]), runs it once, and
//! parses the output with [`Facts::parse`]. Sections of the output are framed by a marker line
//! carrying a per-run nonce, so no file content on the host can forge a section.
//!
//! **Architecture invariant:** the probe is read-only. It reads files and /proc, and asks
//! `systemctl show`, `dpkg-query`, `iptables-save` and `sshd -T`; it never runs a Python CLI
//! (`ufw status` alone costs 130 ms of host CPU) and never dumps everything (`sysctl -a`).
//!
//! The module is split by concern: `request` (what resources ask for), `probe` (the probe
//! script, whose shell code is in `probe/*.sh`), `parse` (reading its output back).

mod parse;
mod probe;
mod request;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

pub use parse::{is_loopback, normalize_sysctl, proc_addr, sha256_hex, split_at_end};
pub use request::{FILE_KEY, file_key};

/// Files larger than this are hashed on the host, not fetched.
pub const MAX_FETCHED_FILE: u64 = 1 << 20;

/// Fetched contents travel gzipped when their tar is over this many bytes. The tar (`-b 1`) is
/// counted as a 512-byte header per file plus the content rounded up to 512-byte blocks
/// (`probe/stats.sh`): many small files are mostly headers and padding (the baseline's 59
/// files: 36 KiB of text, a 92 KiB tar, 16 KiB gzipped).
pub const GZIP_ABOVE: u64 = 64 << 10;

/// The most file contents one probe may unpack (the tar, after gunzip, headers included). A
/// gzip bomb or a forged tar stops here: the host fails, the controller holds no more.
pub const MAX_FETCHED_TOTAL: u64 = 32 << 20;

/// Everything one host's roles will read. Built by resources, merged, then probed once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FactRequest {
    /// Paths to stat and (if small and regular) read.
    pub files: BTreeSet<String>,
    /// Paths to stat only: never read or hashed (swap files are gigabytes).
    pub stats: BTreeSet<String>,
    /// sysctl keys to read live from /proc/sys.
    pub sysctls: BTreeSet<String>,
    /// Debian packages to look up in dpkg's database.
    pub packages: BTreeSet<String>,
    /// systemd units to ask about.
    pub units: BTreeSet<String>,
    /// Properties of some of those units that checks judge beyond their state (unit ->
    /// `MainPID`, `NoNewPrivileges`...): the probe's one query of the units asks them of
    /// those units (systemctl, when it answers instead, prints every one for every unit).
    pub unit_props: BTreeMap<String, BTreeSet<String>>,
    /// Read /etc/passwd and /etc/group.
    pub accounts: bool,
    /// Read /proc/swaps.
    pub swaps: bool,
    /// The listening TCP sockets (`/proc/net/tcp`, `/proc/net/tcp6`).
    pub tcp_listeners: bool,
    /// `iptables-save` / `ip6tables-save` of a table: (ipv6, table).
    pub iptables: BTreeSet<(bool, String)>,
    /// Whether the ufw chains are loaded in the kernel right now.
    pub ufw_live: bool,
    /// Run `sshd -T` for the effective sshd configuration.
    pub sshd_effective: bool,
    /// Use a remembered `sshd -T` only when the host shows that its fingerprint covers every
    /// file sshd reads: no `Include` names a file outside /etc/ssh/sshd_config.d/ and none of
    /// the fingerprinted paths is a symbolic link (whose target the stat does not see). The
    /// audit's way past the fingerprint's blind spots; a check takes the remembered answer.
    pub sshd_exact: bool,
    /// The apt lists' age and whether a reboot is pending.
    pub apt: bool,
    /// Read-only checks by id: the command's exit status and stdout are the fact.
    pub commands: BTreeMap<String, String>,
    /// Paths whose whole content a resource declares, none of it secret: the site holds it
    /// anyway, so the controller may remember what the host has there whatever its mode.
    pub declared: BTreeSet<String>,
    /// Paths a resource marks secret: their content is never remembered.
    pub secret: BTreeSet<String>,
    /// What the controller remembers of this host's last probe. The costly sections (`sshd`,
    /// `packages`, `aptconf`): the probe answers `@cached` instead of running `sshd -T`,
    /// `dpkg-query` or `apt-config dump` when the stat fingerprint of everything their answer
    /// depends on is the same. Files'
    /// contents (`file:PATH`, [`file_key`]): the probe leaves a file out of its tar when find's
    /// record of it (size, mtime, ctime, inode, mode, owner) is the remembered one, and the
    /// parser takes the remembered content; see [`FactRequest::may_remember`] for which files.
    /// Set by the engine, never by roles.
    pub cached: BTreeMap<String, Cached>,
}

/// A probe section as the controller remembers it (see [`FactRequest::cached`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cached {
    /// The fingerprint the host printed: find's stat records (type, mode, owner, group, size,
    /// mtime, ctime, inode, path) of every file the answer depends on.
    pub fp: String,
    /// What the section's command was asked (dpkg-query's package list), so a cached answer is
    /// only used for the same question.
    pub args: String,
    /// The section's output (a file's content, which is remembered only when it is text).
    pub output: String,
}

/// A file's content is remembered only when its find record is at least this many seconds
/// older than the probe's clock: a later write within the same tick of the file system's clock
/// (and of the same size) would leave the record as it is, so a record that young could hide
/// a change (git's "racy clean" problem). Counted in whole seconds of the record's ctime and the
/// clock, so the record is at least a second older than the probe: hundreds of ticks.
pub const REMEMBER_AFTER_SECS: u64 = 2;

/// The files `sshd -T` reads (binary, config, drop-ins, host keys): any change to any of them
/// changes their stat records. Unquoted: the shell expands the globs. Spelled out in
/// `probe/stats.sh` (a test checks they agree).
#[cfg(test)]
const SSHD_INPUTS: &str = "/usr/sbin/sshd /etc/ssh/sshd_config /etc/ssh/sshd_config.d /etc/ssh/sshd_config.d/* /etc/ssh/ssh_host_*";
/// dpkg's database: rewritten (a new inode) by every package operation. In `probe/stats.sh`.
#[cfg(test)]
const DPKG_STATUS: &str = "/var/lib/dpkg/status";
/// What `apt-config dump`'s answer depends on: the binary, libapt-pkg (its compiled defaults;
/// the library file itself, not its links) and the configuration. In `probe/stats.sh`.
#[cfg(test)]
const APT_CONFIG_INPUTS: &str = "/usr/bin/apt-config /usr/lib/*/libapt-pkg.so.*.*.* /etc/apt/apt.conf /etc/apt/apt.conf.d /etc/apt/apt.conf.d/*";

/// The fact id of the shared command `apt-config dump` (the unattended-upgrades controls
/// read their lines from one run of it): the probe remembers its answer as it does
/// `sshd -T`'s, under the cache key `aptconf`.
pub const APT_CONFIG_DUMP: &str = "shared:apt-config dump";

/// A check command's output is cut to this many bytes.
pub const MAX_CHECK_OUTPUT: usize = 65536;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Facts {
    /// Always present after a probe.
    pub host: HostInfo,
    /// By path.
    pub files: BTreeMap<String, FileState>,
    /// Live values by key, whitespace normalised to single spaces; `None` when the key does not
    /// exist on this kernel.
    pub sysctls: BTreeMap<String, Option<String>>,
    /// By package name; a requested package dpkg does not know is [`PackageState::absent`].
    pub packages: BTreeMap<String, PackageState>,
    /// By unit name.
    pub units: BTreeMap<String, UnitState>,
    /// /etc/passwd and /etc/group, when requested.
    pub accounts: Option<Accounts>,
    /// Active swap areas, when requested.
    pub swaps: Option<Vec<SwapArea>>,
    /// The listening TCP sockets' local addresses (address, port), when requested.
    pub tcp_listeners: Option<Vec<(String, u16)>>,
    /// `iptables-save` output by "v4/filter"; `None` when the tool is missing.
    pub iptables: BTreeMap<String, Option<String>>,
    /// Whether ufw's chains are loaded, when requested.
    pub ufw_live: Option<bool>,
    /// The effective sshd configuration, when requested.
    pub sshd: Option<SshdEffective>,
    /// apt state, when requested.
    pub apt: Option<AptState>,
    /// The modification time (whole seconds since the epoch) of each requested path `find`
    /// printed.
    pub mtimes: BTreeMap<String, i64>,
    /// Read-only checks by id.
    pub commands: BTreeMap<String, CommandResult>,
    /// Fresh answers of cacheable sections, for the engine to remember (see
    /// [`FactRequest::cached`]).
    #[serde(skip)]
    pub cache_updates: BTreeMap<String, Cached>,
}

/// Host basics, always gathered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HostInfo {
    /// `ID` from os-release ("debian", "ubuntu").
    pub os_id: String,
    /// `VERSION_ID` ("12", "24.04").
    pub os_version_id: String,
    /// `VERSION_CODENAME` ("bookworm", "noble").
    pub os_codename: String,
    /// `PRETTY_NAME`.
    pub os_pretty: String,
    /// The kernel's hostname.
    pub hostname: String,
    /// `uname -r`.
    pub kernel: String,
    /// `uname -m`.
    pub arch: String,
    /// Container type from `systemd-detect-virt -c`, "none" on a VM or metal.
    pub virt: String,
    /// The interface of the IPv4 default route, if any.
    pub default_iface: Option<String>,
    /// The interface of the IPv6 default route, if any.
    pub default_iface6: Option<String>,
    /// Whether /var/log/auth.log exists (fail2ban needs the systemd backend if not).
    pub has_auth_log: bool,
    /// Whether systemd is PID 1.
    pub systemd: bool,
    /// `SSH_CONNECTION` as the host saw our connection: client ip, client port, server ip,
    /// server port.
    pub ssh_connection: Option<SshConnection>,
}

impl HostInfo {
    /// True when the host runs inside a container (swapon is refused there).
    pub fn in_container(&self) -> bool {
        !self.virt.is_empty() && self.virt != "none"
    }
}

/// The operator's connection as the host sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SshConnection {
    /// The controller's address as seen by the host (after any NAT or bastion).
    pub client_ip: String,
    /// The server address the client connected to.
    pub server_ip: String,
    /// The port sshd accepted us on: the port the firewall must keep open.
    pub server_port: u16,
}

impl SshConnection {
    /// Parses `SSH_CONNECTION` ("client_ip client_port server_ip server_port").
    pub fn parse(value: &str) -> Option<Self> {
        let parts: Vec<&str> = value.split_whitespace().collect();
        match parts.as_slice() {
            [cip, _cport, sip, sport] => Some(SshConnection {
                client_ip: (*cip).to_owned(),
                server_ip: (*sip).to_owned(),
                server_port: sport.parse().ok()?,
            }),
            _ => None,
        }
    }
}

/// A path on the host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FileState {
    /// Nothing at that path.
    Absent,
    /// A regular file.
    File {
        /// Permission bits.
        mode: u32,
        /// Owner name.
        owner: String,
        /// Group name.
        group: String,
        /// Size in bytes.
        size: u64,
        /// The content, for files up to [`MAX_FETCHED_FILE`].
        #[serde(skip)]
        content: Option<Vec<u8>>,
        /// Hex SHA-256 of the content; empty when only stat was asked for (or the file is huge).
        sha256: String,
    },
    /// A directory.
    Dir {
        /// Permission bits.
        mode: u32,
        /// Owner name.
        owner: String,
        /// Group name.
        group: String,
    },
    /// A symbolic link (not followed).
    Link {
        /// Where it points.
        target: String,
    },
    /// A socket, device or fifo.
    Other,
}

impl FileState {
    /// The content as text, if fetched and valid UTF-8.
    pub fn text(&self) -> Option<&str> {
        match self {
            FileState::File {
                content: Some(c), ..
            } => std::str::from_utf8(c).ok(),
            _ => None,
        }
    }

    /// The content's SHA-256, for regular files.
    pub fn sha256(&self) -> Option<&str> {
        match self {
            FileState::File { sha256, .. } => Some(sha256),
            _ => None,
        }
    }
}

/// A package as dpkg knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PackageState {
    /// Installed and configured ("ii").
    pub installed: bool,
    /// The installed version, empty when not installed.
    pub version: String,
    /// dpkg's two-letter status ("ii", "rc", "un").
    pub status: String,
}

impl PackageState {
    /// A package dpkg has never heard of.
    pub fn absent() -> Self {
        PackageState {
            installed: false,
            version: String::new(),
            status: "un".into(),
        }
    }
}

/// A systemd unit's state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UnitState {
    /// "loaded", "not-found", "masked".
    pub load_state: String,
    /// "active", "inactive", "failed", "activating".
    pub active_state: String,
    /// "running", "exited", "dead".
    pub sub_state: String,
    /// "enabled", "disabled", "static", "masked", "" when not found.
    pub unit_file_state: String,
    /// systemd has an older version of the unit file loaded.
    pub need_daemon_reload: bool,
    /// The [`FactRequest::unit_props`] asked of this unit, as `systemctl show` prints them.
    pub props: BTreeMap<String, String>,
}

impl UnitState {
    /// The unit exists.
    pub fn exists(&self) -> bool {
        self.load_state != "not-found" && !self.load_state.is_empty()
    }
    /// The unit is running (or activating).
    pub fn is_active(&self) -> bool {
        matches!(
            self.active_state.as_str(),
            "active" | "activating" | "reloading"
        )
    }
    /// The unit starts at boot.
    pub fn is_enabled(&self) -> bool {
        matches!(
            self.unit_file_state.as_str(),
            "enabled" | "enabled-runtime" | "alias"
        )
    }
    /// The unit is masked.
    pub fn is_masked(&self) -> bool {
        self.unit_file_state.starts_with("masked") || self.load_state == "masked"
    }
}

/// Users and groups from /etc/passwd and /etc/group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Accounts {
    /// By user name.
    pub users: BTreeMap<String, UserEntry>,
    /// By group name.
    pub groups: BTreeMap<String, GroupEntry>,
}

impl Accounts {
    /// The groups a user is in: its primary group and every group listing it.
    pub fn groups_of(&self, user: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        if let Some(u) = self.users.get(user)
            && let Some((name, _)) = self.groups.iter().find(|(_, g)| g.gid == u.gid)
        {
            out.insert(name.clone());
        }
        for (name, g) in &self.groups {
            if g.members.iter().any(|m| m == user) {
                out.insert(name.clone());
            }
        }
        out
    }
}

/// One /etc/passwd line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UserEntry {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Home directory.
    pub home: String,
    /// Login shell.
    pub shell: String,
}

/// One /etc/group line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupEntry {
    /// Group id.
    pub gid: u32,
    /// Supplementary members.
    pub members: Vec<String>,
}

/// One active swap area from /proc/swaps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SwapArea {
    /// The file or device.
    pub path: String,
    /// Size in KiB.
    pub size_kib: u64,
}

/// The effective sshd configuration from `sshd -T`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SshdEffective {
    /// `sshd -T` succeeded.
    pub ok: bool,
    /// Its error output when it did not.
    pub error: Option<String>,
    /// Lower-case keyword -> values, in order (keywords like `port` can repeat).
    pub values: BTreeMap<String, Vec<String>>,
}

impl SshdEffective {
    /// The first value of a keyword (lower-case).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .and_then(|v| v.first())
            .map(String::as_str)
    }
    /// Every value of a keyword.
    pub fn all(&self, key: &str) -> &[String] {
        self.values.get(key).map_or(&[], Vec::as_slice)
    }
}

/// apt's state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AptState {
    /// Seconds since the package lists were last refreshed (u64::MAX when never): the newer of
    /// the lists directory's and apt's update-success stamp's mtimes.
    pub lists_age_secs: u64,
    /// /var/run/reboot-required exists.
    pub reboot_required: bool,
    /// The repositories the sources name that have no lists in /var/lib/apt/lists (never
    /// indexed: apt cannot find their packages), as `deb URI SUITE`; empty when a refresh
    /// already tried them since the sources and the lists last changed (an unreachable
    /// repository then waits for the age window instead of refreshing on every run).
    pub unindexed: Vec<String>,
    /// The source files changed (ctime, or a newer mtime, not in the host's future) after the
    /// lists were last refreshed.
    pub changed_sources: Vec<String>,
}

impl AptState {
    /// Why the lists must be refreshed whatever their age, if they must.
    pub fn stale_sources(&self) -> Option<String> {
        if let Some(first) = self.unindexed.first() {
            let more = self.unindexed.len() - 1;
            return Some(if more == 0 {
                format!("no lists for {first}")
            } else {
                format!("no lists for {first} (and {more} more)")
            });
        }
        let first = self.changed_sources.first()?;
        let more = self.changed_sources.len() - 1;
        Some(if more == 0 {
            format!("{first} changed since")
        } else {
            format!("{first} (and {more} more) changed since")
        })
    }
}

/// The result of a read-only check command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CommandResult {
    /// Exit status.
    pub rc: i32,
    /// Combined output (capped at 64 KiB).
    pub output: String,
}

/// The probe's output could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot read the fact probe's output: {0}")]
pub struct ParseError(pub String);
