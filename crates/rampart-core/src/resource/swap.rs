//! A swap file: allocated, 0600, formatted, enabled, and listed once in /etc/fstab (the fstab
//! line is an [`Edit`](super::Edit) next to it).
//!
//! Inside a container `swapon` is refused by the kernel (and overlayfs cannot hold swap), so
//! there the file is prepared and the enable step is skipped with a reason.

use serde::Serialize;

use super::{Edit, PlanError, Resource};
use crate::facts::{FactRequest, Facts, FileState, SwapArea};
use crate::plan::{Apply, AttrChange, Change, Diff, Risk};
use crate::shell::Script;

const SWAP_SH: &str = include_str!("swap/swap.sh");

/// A swap file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Swapfile {
    /// Path ("/swapfile").
    pub path: String,
    /// Size in MiB.
    pub size_mib: u64,
}

impl Swapfile {
    /// The swap file and its single fstab line.
    pub fn with_fstab(path: &str, size_mib: u64) -> Vec<Resource> {
        let line = format!("{path} none swap sw 0 0");
        vec![
            Resource::Swapfile(Swapfile {
                path: path.into(),
                size_mib,
            }),
            Resource::Edit(Edit::line("/etc/fstab", "swap", &format!("{path} "), &line)),
        ]
    }

    pub(super) fn facts(&self, req: &mut FactRequest) {
        req.stats.insert(self.path.clone());
        req.swaps = true;
    }

    pub(super) fn plan(&self, facts: &Facts) -> Result<Change, PlanError> {
        let st = facts
            .files
            .get(&self.path)
            .ok_or_else(|| PlanError::MissingFact(format!("file {}", self.path)))?;
        let swaps = facts
            .swaps
            .as_ref()
            .ok_or_else(|| PlanError::MissingFact("swaps".into()))?;
        let active = swaps.iter().any(|s| s.path == self.path);
        let bytes = self.size_mib * 1024 * 1024;
        let mut script = Script::new();
        let mut action = "";
        let mut attrs = Vec::new();
        let size_ok = matches!(st, FileState::File { size, .. } if *size == bytes);
        let mode_ok = matches!(st, FileState::File { mode: 0o600, owner, .. } if owner == "root");
        if !size_ok {
            if active {
                // Resizing an active swap file needs swapoff, which can push memory pressure on
                // a busy host; rampart refuses rather than gamble.
                return Err(PlanError::Refused(format!(
                    "{} is active with a different size; run `swapoff {}` on the host first if the resize is wanted",
                    self.path, self.path
                )));
            }
            let before = match st {
                FileState::File { size, .. } => format!("{} MiB", size / 1024 / 1024),
                FileState::Absent => "(absent)".into(),
                _ => {
                    return Err(PlanError::Refused(format!(
                        "{} exists and is not a regular file",
                        self.path
                    )));
                }
            };
            attrs.push(AttrChange::new(
                "size",
                before,
                format!("{} MiB", self.size_mib),
            ));
            action = "create";
        } else if !mode_ok {
            attrs.push(AttrChange::new("mode", "other", "0600 root"));
            action = "attrs";
        }
        if !active && !facts.host.in_container() {
            attrs.push(AttrChange::new("active", false, true));
        }
        let on = !active && !facts.host.in_container();
        // Root's file, in a directory entered without following a user's link, by its name
        // there: `fallocate`, `dd` and `chmod` would follow a link planted at the path.
        super::file::file_step(
            &mut script,
            SWAP_SH,
            &self.path,
            Some(("root", "root")),
            false,
            &[
                action,
                &bytes.to_string(),
                &self.size_mib.to_string(),
                if on { "on" } else { "" },
            ],
        )?;
        if attrs.is_empty() {
            return Ok(Change::noop(if facts.host.in_container() {
                "prepared (swapon is refused in a container)"
            } else {
                "active"
            }));
        }
        Ok(Change::Apply(Apply {
            summary: format!("swap file {} ({} MiB)", self.path, self.size_mib),
            diff: Diff::Attrs(attrs),
            script,
            notify: Vec::new(),
            risk: Risk::Low,
            touches: Vec::new(),
        }))
    }

    pub(super) fn simulate(&self, facts: &mut Facts) {
        facts.files.insert(
            self.path.clone(),
            FileState::File {
                mode: 0o600,
                owner: "root".into(),
                group: "root".into(),
                size: self.size_mib * 1024 * 1024,
                content: None,
                sha256: String::new(),
            },
        );
        if !facts.host.in_container() {
            let swaps = facts.swaps.get_or_insert_with(Vec::new);
            if !swaps.iter().any(|s| s.path == self.path) {
                swaps.push(SwapArea {
                    path: self.path.clone(),
                    size_kib: self.size_mib * 1024,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{assert_idempotent, facts_with_file};
    use super::*;

    #[test]
    fn creates_formats_and_enables_outside_containers() {
        let mut facts = facts_with_file("/swapfile", FileState::Absent);
        facts.swaps = Some(vec![]);
        let s = Swapfile {
            path: "/swapfile".into(),
            size_mib: 4096,
        };
        let Change::Apply(a) = s.plan(&facts).unwrap() else {
            panic!()
        };
        assert!(
            a.script
                .as_str()
                .contains("\nset -- / '' root root /swapfile swapfile create 4294967296 4096 on\n"),
            "{}",
            a.script.as_str()
        );
        assert_idempotent(&Resource::Swapfile(s.clone()), facts.clone());
        facts.host.virt = "systemd-nspawn".into();
        let Change::Apply(a) = s.plan(&facts).unwrap() else {
            panic!()
        };
        assert!(a.script.as_str().contains("create 4294967296 4096 ''\n"));
        assert_idempotent(&Resource::Swapfile(s), facts);
    }

    #[test]
    fn the_swap_script_makes_the_file_and_turns_it_on_under_dash() {
        let Some(sh) = rampart_shtest::Sh::new() else {
            return;
        };
        for cmd in ["mkswap", "swapon", "chown"] {
            sh.stub(cmd, 0);
        }
        sh.stub_body("fallocate", ": > \"$3\"");
        let path = sh.path("swapfile");
        let mut facts = facts_with_file(&path, FileState::Absent);
        facts.swaps = Some(vec![]);
        let s = Swapfile {
            path: path.clone(),
            size_mib: 1,
        };
        let Change::Apply(a) = s.plan(&facts).unwrap() else {
            panic!()
        };
        let out = sh.run(&format!("(\nset -e\n{})\n", a.script.as_str()), &[]);
        assert!(out.ok(), "{out:?}");
        assert_eq!(
            sh.calls(),
            [
                "fallocate -l 1048576 ./swapfile",
                "mkswap ./swapfile",
                "swapon ./swapfile"
            ]
        );
        // fallocate refused (a filesystem without it): dd writes it instead.
        sh.clear_calls();
        sh.stub("fallocate", 1);
        assert!(
            sh.run(&format!("(\nset -e\n{})\n", a.script.as_str()), &[])
                .ok()
        );
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 1 << 20);
        // Replaced by a link since the probe, the fix-the-mode step refuses.
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", &path).unwrap();
        let mut facts = facts_with_file(
            &path,
            FileState::File {
                mode: 0o644,
                owner: "root".into(),
                group: "root".into(),
                size: 1 << 20,
                sha256: String::new(),
                content: None,
            },
        );
        facts.swaps = Some(vec![SwapArea {
            path: path.clone(),
            size_kib: 1024,
        }]);
        let Change::Apply(a) = s.plan(&facts).unwrap() else {
            panic!()
        };
        let out = sh.run(&format!("(\nset -e\n{})\n", a.script.as_str()), &[]);
        assert_eq!(out.status, 75, "{out:?}");
    }

    #[test]
    fn fstab_line_is_single() {
        let r = Swapfile::with_fstab("/swapfile", 1024);
        let Resource::Edit(e) = &r[1] else { panic!() };
        assert_eq!(
            e.apply_to("/swapfile none swap sw 0 0\n/swapfile none swap sw 0 0\n"),
            "/swapfile none swap sw 0 0\n"
        );
    }
}
