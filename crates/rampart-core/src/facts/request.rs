//! What resources ask for: building and merging a [`FactRequest`].

use std::collections::{BTreeMap, BTreeSet};

use super::{APT_CONFIG_DUMP, Cached, FactRequest};

/// The command behind [`APT_CONFIG_DUMP`].
pub(super) const APT_CONFIG_COMMAND: &str = "apt-config dump";
/// The cache key of its remembered answer.
pub(super) const APT_CONFIG_KEY: &str = "aptconf";

impl FactRequest {
    /// The package list as dpkg-query is asked it (the cache key of the `packages` section).
    pub fn packages_args(&self) -> String {
        self.packages.iter().cloned().collect::<Vec<_>>().join(" ")
    }

    /// Whether the controller may keep the content of `path`, as find's `record` of it
    /// (`type|mode|owner|group|size|mtime|ctime|inode|path`) shows it: a regular file no
    /// resource marks secret, that every user of the host may read or whose whole content a
    /// resource declares (so the site holds it anyway). A file only root may read, that the
    /// site does not write whole (`redis.conf` with its `requirepass`), travels every time.
    pub fn may_remember(&self, path: &str, record: &str) -> bool {
        if self.secret.contains(path) {
            return false;
        }
        let f: Vec<&str> = record.splitn(9, '|').collect();
        let [kind, mode, _, _, _, _, _, _, p] = f.as_slice() else {
            return false;
        };
        *kind == "f"
            && *p == path
            && (self.declared.contains(path)
                || u32::from_str_radix(mode, 8).is_ok_and(|m| m & 0o004 != 0))
    }

    /// The files whose remembered content the probe may use instead of reading them: those it
    /// reads (the tar's files and apt's sources) that [`FactRequest::may_remember`].
    pub(super) fn remembered_files(&self) -> BTreeMap<&str, &Cached> {
        self.cached
            .iter()
            .filter_map(|(k, c)| Some((k.strip_prefix(FILE_KEY)?, c)))
            .filter(|(p, c)| batchable(p) && self.carries(p) && self.may_remember(p, &c.fp))
            .collect()
    }

    /// Whether a remembered answer still belongs to what this request asks: the engine keeps
    /// only those, so a file no role reads any more is forgotten.
    pub fn still_asks(&self, key: &str) -> bool {
        match key {
            "sshd" => self.sshd_effective,
            "packages" => !self.packages.is_empty(),
            APT_CONFIG_KEY => self.asks_apt_config(),
            _ => key.strip_prefix(FILE_KEY).is_some_and(|p| self.carries(p)),
        }
    }

    /// The section's remembered answer when it may be used for this request.
    pub(super) fn cache_hit(&self, kind: &str) -> Option<&Cached> {
        let c = self.cached.get(kind)?;
        let args_match = kind != "packages" || c.args == self.packages_args();
        (args_match && !c.fp.is_empty()).then_some(c)
    }
}

impl FactRequest {
    /// Whether a check asks for `apt-config dump`, whose answer the probe may remember.
    pub fn asks_apt_config(&self) -> bool {
        self.commands
            .get(APT_CONFIG_DUMP)
            .is_some_and(|c| c == APT_CONFIG_COMMAND)
    }

    /// An empty request.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks for a file.
    pub fn file(&mut self, path: impl Into<String>) -> &mut Self {
        self.files.insert(path.into());
        self
    }

    /// Merges another request into this one.
    pub fn merge(&mut self, other: &FactRequest) {
        self.files.extend(other.files.iter().cloned());
        self.stats.extend(other.stats.iter().cloned());
        self.declared.extend(other.declared.iter().cloned());
        self.secret.extend(other.secret.iter().cloned());
        self.sysctls.extend(other.sysctls.iter().cloned());
        self.packages.extend(other.packages.iter().cloned());
        self.units.extend(other.units.iter().cloned());
        for (unit, props) in &other.unit_props {
            let mine = self.unit_props.entry(unit.clone()).or_default();
            mine.extend(props.iter().cloned());
        }
        self.accounts |= other.accounts;
        self.swaps |= other.swaps;
        self.tcp_listeners |= other.tcp_listeners;
        self.iptables.extend(other.iptables.iter().cloned());
        self.ufw_live |= other.ufw_live;
        self.sshd_effective |= other.sshd_effective;
        self.sshd_exact |= other.sshd_exact;
        self.apt |= other.apt;
        for (k, v) in &other.commands {
            self.commands.insert(k.clone(), v.clone());
        }
    }
}

/// The prefix of a file's key in [`FactRequest::cached`].
pub const FILE_KEY: &str = "file:";

/// The key a file's remembered content is kept under in [`FactRequest::cached`].
pub fn file_key(path: &str) -> String {
    format!("{FILE_KEY}{path}")
}

/// Whether a path can be probed in the batched `find`/`tar` pass: absolute (so `find` cannot
/// take it for an expression) and one line (so its output can be framed by lines).
pub(super) fn batchable(path: &str) -> bool {
    path.starts_with('/') && !path.contains('\n')
}

pub(super) const APT_LISTS: &str = "/var/lib/apt/lists";
pub(super) const APT_STAMP: &str = "/var/lib/apt/periodic/update-success-stamp";
#[cfg(test)]
pub(super) use crate::aptsources::SOURCE_DIR as APT_SOURCE_DIR;
pub(super) use crate::aptsources::{
    SOURCE_LIST as APT_SOURCE_LIST, is_source_path as is_apt_source,
};
pub(super) const PASSWD: &str = "/etc/passwd";
pub(super) const GROUP: &str = "/etc/group";

impl FactRequest {
    /// The paths whose content the probe reads: the files asked for, and the account
    /// databases when accounts are asked for.
    pub(super) fn read_set(&self) -> BTreeSet<&String> {
        let mut read: BTreeSet<&String> = self.files.iter().collect();
        if self.accounts {
            read.extend(ACCOUNT_FILES.iter());
        }
        read
    }

    /// Whether the probe reads this path's content (it is in [`FactRequest::read_set`]).
    fn reads(&self, path: &str) -> bool {
        self.files.contains(path) || (self.accounts && (path == PASSWD || path == GROUP))
    }

    /// Whether the probe's tar may carry this path's content: a file it reads, or one of apt's
    /// sources (the files whose content may be remembered).
    pub(super) fn carries(&self, path: &str) -> bool {
        self.reads(path) || (self.apt && is_apt_source(path))
    }
}

static ACCOUNT_FILES: std::sync::LazyLock<[String; 2]> =
    std::sync::LazyLock::new(|| [PASSWD.to_owned(), GROUP.to_owned()]);

/// Where a sysctl key lives under /proc/sys.
pub(super) fn sysctl_path(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}
