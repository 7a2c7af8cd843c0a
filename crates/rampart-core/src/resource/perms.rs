//! Mode and ownership of a path the host owns (its content is not managed): `/etc/shadow`
//! 0640 root:shadow, cron directories 0700. A missing path is not applicable. The mode is
//! exact, or a maximum (`max_mode`: "0640 or more restrictive" keeps a stricter 0600).

use serde::Serialize;

use super::PlanError;
use super::file::file_step;
use crate::facts::{FactRequest, Facts, FileState};
use crate::plan::{Apply, AttrChange, Change, Diff, Risk};
use crate::shell::Script;

/// The step: `perms/perms.sh`, values as positional parameters.
const PERMS_SH: &str = include_str!("perms/perms.sh");

/// Mode and ownership of an existing file or directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Perms {
    /// Absolute path.
    pub path: String,
    /// The exact mode.
    pub mode: Option<u32>,
    /// The most permissive mode allowed: bits outside it are removed, the rest kept.
    pub max_mode: Option<u32>,
    /// The owner (`None`: as it is).
    pub owner: Option<String>,
    /// The group (`None`: as it is).
    pub group: Option<String>,
}

impl Perms {
    pub(super) fn facts(&self, req: &mut FactRequest) {
        req.stats.insert(self.path.clone());
    }

    /// The mode the path must have, given its current mode.
    fn want_mode(&self, cur: u32) -> u32 {
        match (self.mode, self.max_mode) {
            (Some(m), _) => m,
            (None, Some(max)) => cur & max,
            (None, None) => cur,
        }
    }

    pub(super) fn plan(&self, facts: &Facts) -> Result<Change, PlanError> {
        let cur = facts
            .files
            .get(&self.path)
            .ok_or_else(|| PlanError::MissingFact(format!("file {}", self.path)))?;
        let (mode, owner, group, is_dir) = match cur {
            FileState::Absent => return Ok(Change::noop("absent: not applicable")),
            FileState::Link { target } => {
                return Ok(Change::noop(format!(
                    "a symbolic link to {target}: not followed"
                )));
            }
            FileState::Other => return Ok(Change::noop("not a file or directory")),
            FileState::File {
                mode, owner, group, ..
            } => (*mode, owner.as_str(), group.as_str(), false),
            FileState::Dir { mode, owner, group } => (*mode, owner.as_str(), group.as_str(), true),
        };
        let want_mode = self.want_mode(mode);
        let want_owner = self.owner.as_deref().unwrap_or(owner);
        let want_group = self.group.as_deref().unwrap_or(group);
        let mut attrs = Vec::new();
        let kind = if is_dir { "-d" } else { "-f" };
        let (mut set_owner, mut set_mode) = (String::new(), String::new());
        if (owner, group) != (want_owner, want_group) {
            attrs.push(AttrChange::new(
                "owner",
                format!("{owner}:{group}"),
                format!("{want_owner}:{want_group}"),
            ));
            set_owner = format!("{want_owner}:{want_group}");
        }
        if mode != want_mode {
            attrs.push(AttrChange::new(
                "mode",
                format!("{mode:04o}"),
                format!("{want_mode:04o}"),
            ));
            set_mode = format!("{want_mode:04o}");
        }
        if attrs.is_empty() {
            return Ok(Change::noop("mode and owner match"));
        }
        let mut script = Script::new();
        file_step(
            &mut script,
            PERMS_SH,
            &self.path,
            Some((want_owner, want_group)),
            false,
            &[kind, &set_owner, &set_mode],
        )?;
        attrs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Change::Apply(Apply {
            summary: format!(
                "set {} on {}",
                attrs
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" and "),
                self.path
            ),
            diff: Diff::Attrs(attrs),
            script,
            notify: Vec::new(),
            risk: Risk::Low,
            touches: vec![self.path.clone()],
        }))
    }

    pub(super) fn simulate(&self, facts: &mut Facts) {
        let Some(cur) = facts.files.get_mut(&self.path) else {
            return;
        };
        let want_mode = match cur {
            FileState::File { mode, .. } | FileState::Dir { mode, .. } => self.want_mode(*mode),
            _ => return,
        };
        match cur {
            FileState::File {
                mode, owner, group, ..
            }
            | FileState::Dir { mode, owner, group } => {
                *mode = want_mode;
                if let Some(o) = &self.owner {
                    owner.clone_from(o);
                }
                if let Some(g) = &self.group {
                    group.clone_from(g);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Resource;
    use super::super::testkit::{assert_idempotent, facts_with_file};
    use super::*;

    fn file(mode: u32, owner: &str, group: &str) -> FileState {
        FileState::File {
            mode,
            owner: owner.into(),
            group: group.into(),
            size: 10,
            content: None,
            sha256: String::new(),
        }
    }

    #[test]
    fn exact_and_maximum_modes_and_owners() {
        let p = Perms {
            path: "/etc/shadow".into(),
            mode: None,
            max_mode: Some(0o640),
            owner: Some("root".into()),
            group: Some("shadow".into()),
        };
        // Stricter than the maximum: kept.
        let ok = facts_with_file("/etc/shadow", file(0o600, "root", "shadow"));
        assert!(!p.plan(&ok).unwrap().is_apply());
        let bad = facts_with_file("/etc/shadow", file(0o664, "root", "root"));
        let Change::Apply(a) = p.plan(&bad).unwrap() else {
            panic!("expected a change")
        };
        assert_eq!(a.summary, "set mode and owner on /etc/shadow");
        // perms/perms.sh with the values as parameters: a file, owner root:shadow, mode 0640
        assert!(
            a.script
                .as_str()
                .contains("/etc/shadow shadow -f root:shadow 0640\n"),
            "{}",
            a.script.as_str()
        );
        assert!(a.script.as_str().contains("chown -h \"$2\" \"$b\""));
        assert_idempotent(&Resource::Perms(p.clone()), bad);
        // Missing: not applicable.
        let none = facts_with_file("/etc/shadow", FileState::Absent);
        assert!(!p.plan(&none).unwrap().is_apply());
        let exact = Perms {
            mode: Some(0o700),
            max_mode: None,
            owner: None,
            group: None,
            path: "/etc/cron.d".into(),
        };
        let dir = facts_with_file(
            "/etc/cron.d",
            FileState::Dir {
                mode: 0o755,
                owner: "root".into(),
                group: "root".into(),
            },
        );
        assert!(exact.plan(&dir).unwrap().is_apply());
        assert_idempotent(&Resource::Perms(exact), dir);
        let mut req = FactRequest::new();
        p.facts(&mut req);
        assert!(req.stats.contains("/etc/shadow") && req.files.is_empty());
    }
}
