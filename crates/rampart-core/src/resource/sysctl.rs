//! Live kernel parameters. Persistence is a file under /etc/sysctl.d written by a [`File`]
//! resource next to these; see [`Sysctl::persisted`].
//!
//! [`File`]: super::File

use serde::Serialize;

use super::{File, PlanError, Resource};
use crate::facts::{FactRequest, Facts, normalize_sysctl};
use crate::plan::{Apply, AttrChange, Change, Diff, Risk};
use crate::shell::Script;

/// One live kernel parameter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Sysctl {
    /// Dotted key ("vm.swappiness").
    pub key: String,
    /// Desired value, whitespace-normalised when compared.
    pub value: String,
}

impl Sysctl {
    /// The persisted file plus one live resource per key: the usual way to manage sysctls.
    pub fn persisted(path: &str, header: &str, entries: &[(String, String)]) -> Vec<Resource> {
        let mut text = String::new();
        for line in header.lines() {
            text.push_str(&format!("# {line}\n"));
        }
        for (k, v) in entries {
            text.push_str(&format!("{k} = {v}\n"));
        }
        let mut out = vec![Resource::File(File::new(path, text, 0o644))];
        out.extend(entries.iter().map(|(k, v)| {
            Resource::Sysctl(Sysctl {
                key: k.clone(),
                value: v.clone(),
            })
        }));
        out
    }

    pub(super) fn facts(&self, req: &mut FactRequest) {
        req.sysctls.insert(self.key.clone());
    }

    pub(super) fn plan(&self, facts: &Facts) -> Result<Change, PlanError> {
        if !settable_here(&self.key, facts) {
            return Ok(Change::noop(format!(
                "{}: persisted only (in a container ({}) it is the machine's kernel, shared by every container on it)",
                self.key, facts.host.virt
            )));
        }
        let cur = facts
            .sysctls
            .get(&self.key)
            .ok_or_else(|| PlanError::MissingFact(format!("sysctl {}", self.key)))?;
        let Some(cur) = cur else {
            return Err(PlanError::Refused(format!(
                "kernel parameter {} does not exist on this host",
                self.key
            )));
        };
        let want = normalize_sysctl(&self.value);
        if *cur == want {
            return Ok(Change::noop(format!("{} = {want}", self.key)));
        }
        let mut script = Script::new();
        let path = format!("/proc/sys/{}", self.key.replace('.', "/"));
        // Write /proc directly rather than `sysctl -w`: one fewer process, same effect.
        script.call(SET_SH, [path.as_str(), want.as_str()]);
        Ok(Change::Apply(Apply {
            summary: format!("set {} = {want}", self.key),
            diff: Diff::Attrs(vec![AttrChange::new(&self.key, cur, &want)]),
            script,
            notify: Vec::new(),
            risk: Risk::Low,
            touches: Vec::new(),
        }))
    }

    pub(super) fn simulate(&self, facts: &mut Facts) {
        facts
            .sysctls
            .insert(self.key.clone(), Some(normalize_sysctl(&self.value)));
    }
}

/// Whether this host may set kernel parameter `key` live. Inside a container only the network
/// namespace's parameters (`net.*`) are its own: the others belong to the machine's one
/// kernel, which every container on it shares (and most runtimes mount that part of /proc/sys
/// read-only). A role persists those in its file and leaves the live value alone, so that
/// one container's run never changes its neighbours' kernel (the baseline and swap-sysctl
/// roles, and the lab, whose hosts are containers on one machine).
pub fn settable_here(key: &str, facts: &Facts) -> bool {
    !facts.host.in_container() || in_network_namespace(key)
}

/// Whether kernel parameter `key` belongs to the network namespace (`net.*`): a container's
/// own, where every other key is the machine's kernel's ([`settable_here`]).
pub fn in_network_namespace(key: &str) -> bool {
    key.starts_with("net.")
}

/// Writes a sysctl's live value: see `sysctl/set.sh`.
const SET_SH: &str = include_str!("sysctl/set.sh");

#[cfg(test)]
mod tests {
    use super::super::testkit::assert_idempotent;
    use super::*;

    #[test]
    fn compares_normalised_and_writes_proc() {
        let mut facts = Facts::default();
        facts.sysctls.insert(
            "net.ipv4.tcp_rmem".into(),
            Some("4096 131072 6291456".into()),
        );
        facts
            .sysctls
            .insert("vm.swappiness".into(), Some("60".into()));
        let same = Sysctl {
            key: "net.ipv4.tcp_rmem".into(),
            value: "4096\t131072  6291456".into(),
        };
        assert!(!same.plan(&facts).unwrap().is_apply());
        let s = Sysctl {
            key: "vm.swappiness".into(),
            value: "10".into(),
        };
        let Change::Apply(a) = s.plan(&facts).unwrap() else {
            panic!()
        };
        assert!(
            a.script
                .as_str()
                .starts_with("set -- /proc/sys/vm/swappiness 10\n")
        );
        assert_idempotent(&Resource::Sysctl(s), facts);
    }

    #[test]
    fn the_set_script_writes_the_value_under_dash() {
        let Some(sh) = rampart_shtest::Sh::new() else {
            return;
        };
        let p = sh.write("swappiness", "60\n");
        let out = sh.run(&format!("set -e\n{SET_SH}"), &[&p, "4096\t$(x) 1"]);
        assert!(out.ok(), "{out:?}");
        assert_eq!(sh.read("swappiness").unwrap(), "4096\t$(x) 1\n");
        // A write the kernel refuses fails the step.
        let out = sh.run(
            &format!("set -e\n{SET_SH}echo after\n"),
            &[&sh.path("no/such"), "1"],
        );
        assert!(!out.ok() && !out.stdout_str().contains("after"), "{out:?}");
    }

    #[test]
    fn in_a_container_only_net_keys_are_set_live() {
        let mut facts = Facts::default();
        facts.host.virt = "systemd-nspawn".into();
        for (k, v) in [("vm.swappiness", "60"), ("net.core.somaxconn", "4096")] {
            facts.sysctls.insert(k.into(), Some(v.into()));
        }
        let vm = Sysctl {
            key: "vm.swappiness".into(),
            value: "10".into(),
        };
        let Change::Noop { why } = vm.plan(&facts).unwrap() else {
            panic!("a kernel-wide key is not set live in a container")
        };
        assert!(why.contains("persisted only"), "{why}");
        let net = Sysctl {
            key: "net.core.somaxconn".into(),
            value: "1024".into(),
        };
        assert!(net.plan(&facts).unwrap().is_apply());
        facts.host.virt = "none".into();
        assert!(vm.plan(&facts).unwrap().is_apply());
    }

    #[test]
    fn persisted_writes_one_file_and_live_values() {
        let r = Sysctl::persisted(
            "/etc/sysctl.d/99-x.conf",
            "managed",
            &[("vm.swappiness".into(), "10".into())],
        );
        assert_eq!(r.len(), 2);
        let Resource::File(f) = &r[0] else { panic!() };
        assert_eq!(
            f.content,
            Some(super::super::Content::Text(
                "# managed\nvm.swappiness = 10\n".into()
            ))
        );
    }
}
