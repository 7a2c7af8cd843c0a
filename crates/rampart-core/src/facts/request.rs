//! What resources ask for: building and merging a [`FactRequest`].

use std::collections::BTreeSet;

use super::{Cached, FactRequest};

impl FactRequest {
    /// The package list as dpkg-query is asked it (the cache key of the `packages` section).
    pub fn packages_args(&self) -> String {
        self.packages.iter().cloned().collect::<Vec<_>>().join(" ")
    }

    /// The section's remembered answer when it may be used for this request.
    pub(super) fn cache_hit(&self, kind: &str) -> Option<&Cached> {
        let c = self.cached.get(kind)?;
        let args_match = kind != "packages" || c.args == self.packages_args();
        (args_match && !c.fp.is_empty()).then_some(c)
    }
}

impl FactRequest {
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
        self.sysctls.extend(other.sysctls.iter().cloned());
        self.packages.extend(other.packages.iter().cloned());
        self.units.extend(other.units.iter().cloned());
        self.accounts |= other.accounts;
        self.swaps |= other.swaps;
        self.iptables.extend(other.iptables.iter().cloned());
        self.ufw_live |= other.ufw_live;
        self.sshd_effective |= other.sshd_effective;
        self.apt |= other.apt;
        for (k, v) in &other.commands {
            self.commands.insert(k.clone(), v.clone());
        }
    }
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
}

static ACCOUNT_FILES: std::sync::LazyLock<[String; 2]> =
    std::sync::LazyLock::new(|| [PASSWD.to_owned(), GROUP.to_owned()]);

/// Where a sysctl key lives under /proc/sys.
pub(super) fn sysctl_path(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}
