//! Debian packages and the apt cache.

use serde::Serialize;

use super::PlanError;
use crate::facts::{AptState, FactRequest, Facts, PackageState as Dpkg};
use crate::plan::{Apply, AttrChange, Change, Diff, Risk};
use crate::shell::Script;

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

const APT_GET_SH: &str = include_str!("apt/apt-get.sh");

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
        let mut args = vec![verb];
        args.extend(todo.iter().copied());
        script.call(APT_GET_SH, args);
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

/// Refreshes the package lists as apt itself would need them: whatever their age when a source
/// file changed since the last refresh or names a repository without lists that no refresh has
/// tried since (see [`AptState`]); otherwise when they are older than `valid_secs` (Ansible's
/// `cache_valid_time`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AptUpdate {
    /// How old the lists may be before they are refreshed.
    pub valid_secs: u64,
}

/// `apt-get update`, then the stamp that dates the refresh: Ubuntu's update-notifier touches
/// it after every update; Debian has no such hook, so the window would otherwise never close
/// on a host whose lists did not change, and a source file would stay "newer than the lists".
/// Also what a role runs right after writing a source it installs from in the same run.
pub fn refresh_script() -> Script {
    let mut script = Script::new();
    script.call(APT_GET_SH, ["update"]);
    script
        .raw("mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/update-success-stamp");
    script
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
        let sources = apt.stale_sources();
        if apt.lists_age_secs <= self.valid_secs && sources.is_none() {
            return Ok(Change::noop(format!(
                "lists are {} s old (window {} s) and cover every source",
                apt.lists_age_secs, self.valid_secs
            )));
        }
        let age = if apt.lists_age_secs == u64::MAX {
            "never".to_owned()
        } else {
            format!("{} s ago", apt.lists_age_secs)
        };
        let mut diff = vec![AttrChange::new("lists updated", age, "now")];
        if !apt.unindexed.is_empty() {
            diff.push(AttrChange::new(
                "sources without lists",
                apt.unindexed.join(", "),
                "none",
            ));
        }
        if !apt.changed_sources.is_empty() {
            diff.push(AttrChange::new(
                "sources changed since",
                apt.changed_sources.join(", "),
                "none",
            ));
        }
        Ok(Change::Apply(Apply {
            summary: match sources {
                Some(why) => format!("refresh apt package lists: {why}"),
                None => "refresh apt package lists".into(),
            },
            diff: Diff::Attrs(diff),
            script: refresh_script(),
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
            unindexed: Vec::new(),
            changed_sources: Vec::new(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::Resource;
    use super::super::testkit::assert_idempotent;
    use super::*;

    #[test]
    fn apt_get_runs_non_interactive_and_its_failure_fails_the_step_under_dash() {
        let Some(sh) = rampart_shtest::Sh::new() else {
            return;
        };
        sh.stub_body("apt-get", "echo \"frontend=$DEBIAN_FRONTEND\"; exit 100");
        let mut s = Script::new();
        s.call(APT_GET_SH, ["install", "nginx", "-o=x; reboot"]);
        let out = sh.run(&format!("(\nset -e\n{}echo after\n)", s.as_str()), &[]);
        assert_eq!(out.status, 100, "{out:?}");
        assert_eq!(out.stdout_str(), "frontend=noninteractive\n");
        assert_eq!(
            sh.calls(),
            [
                "apt-get -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -o DPkg::Lock::Timeout=120 install nginx -o=x; reboot"
            ]
        );
    }

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
                ..AptState::default()
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
            ..AptState::default()
        });
        assert_idempotent(&Resource::AptUpdate(AptUpdate { valid_secs: 3600 }), facts);
    }

    #[test]
    fn young_lists_are_refreshed_when_a_source_has_none_or_changed_since() {
        let update = Resource::AptUpdate(AptUpdate { valid_secs: 3600 });
        let young = |unindexed: &[&str], changed: &[&str]| Facts {
            apt: Some(AptState {
                lists_age_secs: 60,
                reboot_required: true,
                unindexed: unindexed.iter().map(|s| (*s).to_owned()).collect(),
                changed_sources: changed.iter().map(|s| (*s).to_owned()).collect(),
            }),
            ..Facts::default()
        };
        let Change::Apply(a) = update
            .plan(&young(&["deb file:/srv/lab-repo/ ./"], &[]))
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(
            a.summary,
            "refresh apt package lists: no lists for deb file:/srv/lab-repo/ ./"
        );
        assert!(
            a.script.as_str().contains(" update\n"),
            "{}",
            a.script.as_str()
        );
        assert!(a.diff.render().contains("sources without lists"));
        let Change::Apply(a) = update
            .plan(&young(
                &[],
                &["/etc/apt/sources.list.d/x.list", "/etc/apt/sources.list"],
            ))
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(
            a.summary,
            "refresh apt package lists: /etc/apt/sources.list.d/x.list (and 1 more) changed since"
        );
        assert_idempotent(
            &update,
            young(&["deb http://a/ b", "deb http://c/ d"], &["/x.list"]),
        );
        let mut after = young(&["deb http://a/ b"], &[]);
        update.simulate(&mut after);
        assert!(after.apt.as_ref().unwrap().reboot_required, "kept");
        assert!(!update.plan(&young(&[], &[])).unwrap().is_apply());
    }
}
