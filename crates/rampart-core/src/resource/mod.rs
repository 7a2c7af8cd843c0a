//! Resources: the closed set of things rampart converges, each planned purely from facts.
//!
//! A resource declares the facts it reads ([`Resource::facts`]) and turns them into a
//! [`Change`] ([`Resource::plan`]). [`Resource::simulate`] applies the desired state to a set
//! of facts the way the change's script would on the host; the property tests use it to prove
//! that a plan fed its own result plans nothing (idempotence without SSH).
//!
//! **Invariant:** the script of an `Apply` re-checks, on the host and right before acting, the
//! facts its plan relied on (a file's hash, a rule's presence), and fails with exit status
//! [`STALE_FACTS`] instead of acting on stale facts.

mod account;
mod apt;
mod command;
mod file;
mod perms;
mod service;
mod swap;
mod sysctl;
mod ufw;

use serde::Serialize;

pub use account::{Group, User};
pub use apt::{AptUpdate, PackageState as Pkg, Packages, refresh_script as apt_refresh_script};
pub use command::Command;
pub use file::{Content, Directory, Edit, EditKind, File, Symlink, Validate, put_file_script};
pub use perms::Perms;
pub use service::{Service, ServiceState};
pub use swap::Swapfile;
pub use sysctl::{Sysctl, in_network_namespace, settable_here};
pub use ufw::{Ufw, UfwAction, UfwPolicy, UfwRule, UfwState};

use crate::facts::{FactRequest, Facts};
use crate::plan::Change;

/// Exit status of a step that found the host changed since its facts were gathered.
pub const STALE_FACTS: i32 = 75;

/// One thing on a host that rampart converges.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Resource {
    /// A file with whole content.
    File(File),
    /// A directory.
    Directory(Directory),
    /// A symbolic link.
    Symlink(Symlink),
    /// A managed block or line inside a file the host owns.
    Edit(Edit),
    /// Mode and ownership of an existing path (content not managed).
    Perms(Perms),
    /// Debian packages.
    Packages(Packages),
    /// `apt-get update` when the lists are older than a window.
    AptUpdate(AptUpdate),
    /// A systemd unit's enablement and run state.
    Service(Service),
    /// A live kernel parameter.
    Sysctl(Sysctl),
    /// A local user.
    User(User),
    /// A local group.
    Group(Group),
    /// A swap file, formatted and enabled.
    Swapfile(Swapfile),
    /// ufw defaults, rules and state.
    Ufw(Ufw),
    /// A guarded command: the last resort.
    Command(Command),
}

/// A resource could not be planned.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The engine did not gather a fact the resource declared: a bug in rampart.
    #[error("fact `{0}` was not gathered (a bug in rampart: the resource did not declare it)")]
    MissingFact(String),
    /// The host is in a state the resource refuses to touch.
    #[error("{0}")]
    Refused(String),
}

impl Resource {
    /// A stable identifier, unique within a host's plan ("file:/etc/fail2ban/jail.local").
    pub fn id(&self) -> String {
        match self {
            Resource::File(r) => format!("file:{}", r.path),
            Resource::Directory(r) => format!("directory:{}", r.path),
            Resource::Symlink(r) => format!("symlink:{}", r.path),
            Resource::Edit(r) => format!("edit:{}#{}", r.path, r.name),
            Resource::Perms(r) => format!("perms:{}", r.path),
            Resource::Packages(r) => format!("packages:{}", r.names.join(",")),
            Resource::AptUpdate(_) => "apt-update".to_owned(),
            Resource::Service(r) => format!("service:{}", r.name),
            Resource::Sysctl(r) => format!("sysctl:{}", r.key),
            Resource::User(r) => format!("user:{}", r.name),
            Resource::Group(r) => format!("group:{}", r.name),
            Resource::Swapfile(r) => format!("swapfile:{}", r.path),
            Resource::Ufw(_) => "ufw".to_owned(),
            Resource::Command(r) => format!("command:{}", r.name),
        }
    }

    /// Adds the facts this resource reads.
    pub fn facts(&self, req: &mut FactRequest) {
        match self {
            Resource::File(r) => r.facts(req),
            Resource::Directory(r) => r.facts(req),
            Resource::Symlink(r) => r.facts(req),
            Resource::Edit(r) => r.facts(req),
            Resource::Perms(r) => r.facts(req),
            Resource::Packages(r) => r.facts(req),
            Resource::AptUpdate(r) => r.facts(req),
            Resource::Service(r) => r.facts(req),
            Resource::Sysctl(r) => r.facts(req),
            Resource::User(r) => r.facts(req),
            Resource::Group(r) => r.facts(req),
            Resource::Swapfile(r) => r.facts(req),
            Resource::Ufw(r) => r.facts(req),
            Resource::Command(r) => r.facts(req),
        }
    }

    /// Plans the resource against a host's facts.
    pub fn plan(&self, facts: &Facts) -> Result<Change, PlanError> {
        match self {
            Resource::File(r) => r.plan(facts),
            Resource::Directory(r) => r.plan(facts),
            Resource::Symlink(r) => r.plan(facts),
            Resource::Edit(r) => r.plan(facts),
            Resource::Perms(r) => r.plan(facts),
            Resource::Packages(r) => r.plan(facts),
            Resource::AptUpdate(r) => r.plan(facts),
            Resource::Service(r) => r.plan(facts),
            Resource::Sysctl(r) => r.plan(facts),
            Resource::User(r) => r.plan(facts),
            Resource::Group(r) => r.plan(facts),
            Resource::Swapfile(r) => r.plan(facts),
            Resource::Ufw(r) => r.plan(facts),
            Resource::Command(r) => r.plan(facts),
        }
    }

    /// Changes `facts` the way applying this resource changes the host.
    pub fn simulate(&self, facts: &mut Facts) {
        match self {
            Resource::File(r) => r.simulate(facts),
            Resource::Directory(r) => r.simulate(facts),
            Resource::Symlink(r) => r.simulate(facts),
            Resource::Edit(r) => r.simulate(facts),
            Resource::Perms(r) => r.simulate(facts),
            Resource::Packages(r) => r.simulate(facts),
            Resource::AptUpdate(r) => r.simulate(facts),
            Resource::Service(r) => r.simulate(facts),
            Resource::Sysctl(r) => r.simulate(facts),
            Resource::User(r) => r.simulate(facts),
            Resource::Group(r) => r.simulate(facts),
            Resource::Swapfile(r) => r.simulate(facts),
            Resource::Ufw(r) => r.simulate(facts),
            Resource::Command(r) => r.simulate(facts),
        }
    }
}

#[cfg(test)]
pub(crate) mod testkit;
