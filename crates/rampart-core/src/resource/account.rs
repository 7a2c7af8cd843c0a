//! Local users and groups.

use std::collections::BTreeSet;

use serde::Serialize;

use super::PlanError;
use crate::facts::{Accounts, FactRequest, Facts, GroupEntry, UserEntry};
use crate::plan::{Apply, AttrChange, Change, Diff, Risk};
use crate::shell::Script;

/// A local user. Supplementary groups are added, never removed: a hardening tool must not
/// silently take a user out of a group someone else put it in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Login shell.
    pub shell: String,
    /// Supplementary groups the user must be in.
    pub groups: Vec<String>,
    /// A system account (no aging, low uid).
    pub system: bool,
}

impl User {
    fn home(&self, accounts: &Accounts) -> String {
        accounts
            .users
            .get(&self.name)
            .map_or_else(|| format!("/home/{}", self.name), |u| u.home.clone())
    }

    /// The home directory the user has (or will get).
    pub fn home_dir(&self, facts: &Facts) -> String {
        facts
            .accounts
            .as_ref()
            .map_or_else(|| format!("/home/{}", self.name), |a| self.home(a))
    }

    pub(super) fn facts(&self, req: &mut FactRequest) {
        req.accounts = true;
    }

    pub(super) fn plan(&self, facts: &Facts) -> Result<Change, PlanError> {
        let acc = facts
            .accounts
            .as_ref()
            .ok_or_else(|| PlanError::MissingFact("accounts".into()))?;
        for g in &self.groups {
            if !acc.groups.contains_key(g) {
                return Err(PlanError::Refused(format!(
                    "group `{g}` for user `{}` does not exist on the host (install what creates it, or add a group resource before the user)",
                    self.name
                )));
            }
        }
        let mut script = Script::new();
        let mut attrs = Vec::new();
        match acc.users.get(&self.name) {
            None => {
                let mut argv = vec![
                    "useradd".to_owned(),
                    "--create-home".into(),
                    "--shell".into(),
                    self.shell.clone(),
                ];
                if self.system {
                    argv.push("--system".into());
                }
                if !self.groups.is_empty() {
                    argv.push("--groups".into());
                    argv.push(self.groups.join(","));
                }
                argv.push("--".into());
                argv.push(self.name.clone());
                script.cmd(&argv);
                attrs.push(AttrChange::new("state", "absent", "present"));
            }
            Some(u) => {
                if u.shell != self.shell {
                    script.cmd([
                        "usermod",
                        "--shell",
                        self.shell.as_str(),
                        "--",
                        self.name.as_str(),
                    ]);
                    attrs.push(AttrChange::new("shell", &u.shell, &self.shell));
                }
                let have = acc.groups_of(&self.name);
                let missing: Vec<&str> = self
                    .groups
                    .iter()
                    .filter(|g| !have.contains(*g))
                    .map(String::as_str)
                    .collect();
                if !missing.is_empty() {
                    script.cmd([
                        "usermod",
                        "--append",
                        "--groups",
                        &missing.join(","),
                        "--",
                        self.name.as_str(),
                    ]);
                    attrs.push(AttrChange::new(
                        "groups",
                        "",
                        format!("+{}", missing.join(",+")),
                    ));
                }
            }
        }
        if attrs.is_empty() {
            return Ok(Change::noop("user matches"));
        }
        Ok(Change::Apply(Apply {
            summary: format!("user {}", self.name),
            diff: Diff::Attrs(attrs),
            script,
            notify: Vec::new(),
            risk: Risk::Low,
            touches: vec!["/etc/passwd".into(), "/etc/group".into()],
        }))
    }

    pub(super) fn simulate(&self, facts: &mut Facts) {
        let acc = facts.accounts.get_or_insert_with(Accounts::default);
        let next = acc.users.values().map(|u| u.uid).max().unwrap_or(999) + 1;
        let home = self.home(acc);
        let entry = acc.users.entry(self.name.clone()).or_insert(UserEntry {
            uid: next,
            gid: next,
            home,
            shell: String::new(),
        });
        entry.shell.clone_from(&self.shell);
        let gid = entry.gid;
        acc.groups.entry(self.name.clone()).or_insert(GroupEntry {
            gid,
            members: Vec::new(),
        });
        for g in &self.groups {
            let grp = acc.groups.entry(g.clone()).or_insert(GroupEntry {
                gid: 0,
                members: Vec::new(),
            });
            if !grp.members.contains(&self.name) {
                grp.members.push(self.name.clone());
            }
        }
    }
}

/// A local group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Group {
    /// Group name.
    pub name: String,
    /// A system group.
    pub system: bool,
}

impl Group {
    pub(super) fn facts(&self, req: &mut FactRequest) {
        req.accounts = true;
    }

    pub(super) fn plan(&self, facts: &Facts) -> Result<Change, PlanError> {
        let acc = facts
            .accounts
            .as_ref()
            .ok_or_else(|| PlanError::MissingFact("accounts".into()))?;
        if acc.groups.contains_key(&self.name) {
            return Ok(Change::noop("group exists"));
        }
        let mut script = Script::new();
        if self.system {
            script.cmd(["groupadd", "--system", "--", self.name.as_str()]);
        } else {
            script.cmd(["groupadd", "--", self.name.as_str()]);
        }
        Ok(Change::Apply(Apply {
            summary: format!("group {}", self.name),
            diff: Diff::Attrs(vec![AttrChange::new("state", "absent", "present")]),
            script,
            notify: Vec::new(),
            risk: Risk::Low,
            touches: vec!["/etc/group".into()],
        }))
    }

    pub(super) fn simulate(&self, facts: &mut Facts) {
        let acc = facts.accounts.get_or_insert_with(Accounts::default);
        let used: BTreeSet<u32> = acc.groups.values().map(|g| g.gid).collect();
        let gid = (900..).find(|g| !used.contains(g)).unwrap_or(65000);
        acc.groups.entry(self.name.clone()).or_insert(GroupEntry {
            gid,
            members: Vec::new(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::Resource;
    use super::super::testkit::assert_idempotent;
    use super::*;

    fn accounts() -> Facts {
        let mut f = Facts::default();
        let mut a = Accounts::default();
        a.users.insert(
            "lab".into(),
            UserEntry {
                uid: 1000,
                gid: 1000,
                home: "/home/lab".into(),
                shell: "/bin/bash".into(),
            },
        );
        a.groups.insert(
            "lab".into(),
            GroupEntry {
                gid: 1000,
                members: vec![],
            },
        );
        a.groups.insert(
            "docker".into(),
            GroupEntry {
                gid: 998,
                members: vec![],
            },
        );
        f.accounts = Some(a);
        f
    }

    #[test]
    fn creates_and_appends_groups() {
        let u = User {
            name: "fleetclaw".into(),
            shell: "/bin/bash".into(),
            groups: vec!["docker".into()],
            system: false,
        };
        let Change::Apply(a) = u.plan(&accounts()).unwrap() else {
            panic!()
        };
        assert_eq!(
            a.script.as_str(),
            "useradd --create-home --shell /bin/bash --groups docker -- fleetclaw\n"
        );
        let lab = User {
            name: "lab".into(),
            shell: "/bin/bash".into(),
            groups: vec!["docker".into()],
            system: false,
        };
        let Change::Apply(a) = lab.plan(&accounts()).unwrap() else {
            panic!()
        };
        assert_eq!(
            a.script.as_str(),
            "usermod --append --groups docker -- lab\n"
        );
        assert_idempotent(&Resource::User(u), accounts());
        assert_idempotent(&Resource::User(lab), accounts());
        assert_idempotent(
            &Resource::Group(Group {
                name: "redis".into(),
                system: true,
            }),
            accounts(),
        );
    }

    #[test]
    fn missing_group_is_refused_with_a_hint() {
        let u = User {
            name: "x".into(),
            shell: "/bin/sh".into(),
            groups: vec!["nope".into()],
            system: false,
        };
        assert!(
            u.plan(&accounts())
                .unwrap_err()
                .to_string()
                .contains("does not exist")
        );
    }
}
