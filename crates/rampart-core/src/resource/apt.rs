//! Debian packages and the apt cache.

use serde::Serialize;

use super::PlanError;
use crate::facts::{AptState, FactRequest, Facts, PackageState as Dpkg};
use crate::plan::{Apply, AttrChange, Change, Diff, Risk};
use crate::shell::{Script, join};

/// The state packages should be in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageState {
    /// Installed, any version.
    Present,
    /// Not installed (configuration files may stay, as `apt-get remove`).
    Absent,
}

/// A set of Debian packages, installed or removed in one apt call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Packages {
    /// Package names.
    pub names: Vec<String>,
    /// Desired state.
    pub state: PackageState,
}

/// The non-interactive apt invocation every step uses: no prompts, keep local config files.
const APT: &str = "DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold";

impl Packages {
    /// These packages installed.
    pub fn present<S: AsRef<str>>(names: &[S]) -> Self {
        Packages {
            names: names.iter().map(|n| n.as_ref().to_owned()).collect(),
            state: PackageState::Present,
        }
    }

    /// These packages removed.
    pub fn absent<S: AsRef<str>>(names: &[S]) -> Self {
        Packages {
            state: PackageState::Absent,
            ..Packages::present(names)
        }
    }

    pub(super) fn facts(&self, req: &mut FactRequest) {
        req.packages.extend(self.names.iter().cloned());
    }

    pub(super) fn plan(&self, facts: &Facts) -> Result<Change, PlanError> {
        let mut todo = Vec::new();
        for n in &self.names {
            let p = facts
                .packages
                .get(n)
                .ok_or_else(|| PlanError::MissingFact(format!("package {n}")))?;
            if p.installed != (self.state == PackageState::Present) {
                todo.push(n.as_str());
            }
        }
        if todo.is_empty() {
            return Ok(Change::noop(match self.state {
                PackageState::Present => "installed",
                PackageState::Absent => "not installed",
            }));
        }
        let (verb, before, after) = match self.state {
            PackageState::Present => ("install", "absent", "installed"),
            PackageState::Absent => ("remove", "installed", "absent"),
        };
        let mut script = Script::new();
        // A dpkg interrupted by a lost connection leaves the database locked for repair; the
        // lock timeout waits for unattended-upgrades instead of failing at once.
        script.raw(format!(
            "{APT} -o DPkg::Lock::Timeout=120 {verb} {}",
            join(&todo)
        ));
        Ok(Change::Apply(Apply {
            summary: format!("{verb} {}", todo.join(" ")),
            diff: Diff::Attrs(
                todo.iter()
                    .map(|n| AttrChange::new(n, before, after))
                    .collect(),
            ),
            script,
            notify: Vec::new(),
            risk: Risk::Low,
            touches: Vec::new(),
        }))
    }

    pub(super) fn simulate(&self, facts: &mut Facts) {
        for n in &self.names {
            let state = match self.state {
                PackageState::Present => Dpkg {
                    installed: true,
                    version: "1".into(),
                    status: "ii".into(),
                },
                PackageState::Absent => Dpkg::absent(),
            };
            facts.packages.insert(n.clone(), state);
        }
    }
}

/// Refreshes the package lists when they are older than `valid_secs` (Ansible's
/// `cache_valid_time`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AptUpdate {
    /// How old the lists may be before they are refreshed.
    pub valid_secs: u64,
}

impl AptUpdate {
    pub(super) fn facts(&self, req: &mut FactRequest) {
        req.apt = true;
    }

    pub(super) fn plan(&self, facts: &Facts) -> Result<Change, PlanError> {
        let apt = facts
            .apt
            .as_ref()
            .ok_or_else(|| PlanError::MissingFact("apt".into()))?;
        if apt.lists_age_secs <= self.valid_secs {
            return Ok(Change::noop(format!(
                "lists are {} s old (window {} s)",
                apt.lists_age_secs, self.valid_secs
            )));
        }
        let mut script = Script::new();
        script.raw(format!("{APT} -o DPkg::Lock::Timeout=120 update"));
        // Ubuntu's update-notifier touches this stamp after every update; Debian has no such
        // hook, so the window would otherwise never close on a host whose lists did not change.
        script.raw(
            "mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/update-success-stamp",
        );
        let age = if apt.lists_age_secs == u64::MAX {
            "never".to_owned()
        } else {
            format!("{} s ago", apt.lists_age_secs)
        };
        Ok(Change::Apply(Apply {
            summary: "refresh apt package lists".into(),
            diff: Diff::Attrs(vec![AttrChange::new("lists updated", age, "now")]),
            script,
            notify: Vec::new(),
            risk: Risk::Low,
            touches: Vec::new(),
        }))
    }

    pub(super) fn simulate(&self, facts: &mut Facts) {
        let reboot_required = facts.apt.as_ref().is_some_and(|a| a.reboot_required);
        facts.apt = Some(AptState {
            lists_age_secs: 0,
            reboot_required,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::Resource;
    use super::super::testkit::assert_idempotent;
    use super::*;

    #[test]
    fn installs_only_what_is_missing() {
        let mut facts = Facts::default();
        facts.packages.insert(
            "ufw".into(),
            Dpkg {
                installed: true,
                version: "0.36".into(),
                status: "ii".into(),
            },
        );
        facts.packages.insert("fail2ban".into(), Dpkg::absent());
        let Change::Apply(a) = Packages::present(&["ufw", "fail2ban"])
            .plan(&facts)
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(a.summary, "install fail2ban");
        assert!(a.script.as_str().contains(" install fail2ban\n"));
        assert!(
            !Packages::absent(&["fail2ban"])
                .plan(&facts)
                .unwrap()
                .is_apply()
        );
        assert_idempotent(
            &Resource::Packages(Packages::absent(&["ufw"])),
            facts.clone(),
        );
        assert_idempotent(&Resource::Packages(Packages::present(&["fail2ban"])), facts);
    }

    #[test]
    fn refreshes_stale_lists_only() {
        let mut facts = Facts {
            apt: Some(AptState {
                lists_age_secs: 100,
                reboot_required: false,
            }),
            ..Facts::default()
        };
        assert!(
            !AptUpdate { valid_secs: 3600 }
                .plan(&facts)
                .unwrap()
                .is_apply()
        );
        facts.apt = Some(AptState {
            lists_age_secs: u64::MAX,
            reboot_required: false,
        });
        assert_idempotent(&Resource::AptUpdate(AptUpdate { valid_secs: 3600 }), facts);
    }
}
