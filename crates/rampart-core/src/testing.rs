//! Helpers for testing roles without SSH: synthetic facts, planning with the invariant checks,
//! and the idempotence property (plan, simulate, plan again: nothing to do).
//!
//! Used by every role crate's unit tests; nothing here runs in production.

use std::collections::BTreeMap;

pub mod fixtures;

use crate::facts::{
    Accounts, AptState, FactRequest, Facts, FileState, GroupEntry, HostInfo, PackageState,
    SshConnection, SshdEffective, UnitState, UserEntry, sha256_hex,
};
use crate::hostplan::{self, PlannedRole};
use crate::plan::{Apply, Change};
use crate::role::{Configured, HostContext, RoleError, RolePlan};
use crate::secret::Secret;
use crate::template::Templates;

/// Host basics of a fresh lab host: Debian 12 in systemd-nspawn, eth0, no auth.log.
pub fn lab_host() -> HostInfo {
    HostInfo {
        os_id: "debian".into(),
        os_version_id: "12".into(),
        os_codename: "bookworm".into(),
        os_pretty: "Debian GNU/Linux 12 (bookworm)".into(),
        hostname: "h1".into(),
        kernel: "6.1.0".into(),
        arch: "x86_64".into(),
        virt: "systemd-nspawn".into(),
        default_iface: Some("eth0".into()),
        default_iface6: None,
        has_auth_log: false,
        systemd: true,
        ssh_connection: Some(SshConnection {
            client_ip: "10.213.1.1".into(),
            server_ip: "10.213.1.2".into(),
            server_port: 22,
        }),
    }
}

/// Facts answering every request with "nothing there yet": files absent, packages not
/// installed, units not found, sysctls "0", root and lab users only, ufw off, sshd defaults.
pub fn blank_facts(req: &FactRequest, host: HostInfo) -> Facts {
    let mut f = Facts {
        host,
        ..Facts::default()
    };
    for p in req.files.iter().chain(&req.stats) {
        f.files.insert(p.clone(), FileState::Absent);
    }
    for k in &req.sysctls {
        f.sysctls.insert(k.clone(), Some("0".into()));
    }
    for p in &req.packages {
        f.packages.insert(p.clone(), PackageState::absent());
    }
    for u in &req.units {
        f.units.insert(
            u.clone(),
            UnitState {
                load_state: "not-found".into(),
                active_state: "inactive".into(),
                ..UnitState::default()
            },
        );
    }
    if req.accounts {
        let mut a = Accounts::default();
        a.users.insert(
            "root".into(),
            UserEntry {
                uid: 0,
                gid: 0,
                home: "/root".into(),
                shell: "/bin/bash".into(),
            },
        );
        a.users.insert(
            "lab".into(),
            UserEntry {
                uid: 1000,
                gid: 1000,
                home: "/home/lab".into(),
                shell: "/bin/bash".into(),
            },
        );
        for (g, gid) in [
            ("root", 0),
            ("sudo", 27),
            ("lab", 1000),
            ("docker", 998),
            ("redis", 110),
        ] {
            a.groups.insert(
                g.into(),
                GroupEntry {
                    gid,
                    members: Vec::new(),
                },
            );
        }
        f.accounts = Some(a);
    }
    if req.swaps {
        f.swaps = Some(Vec::new());
    }
    if req.tcp_listeners {
        f.tcp_listeners = Some(vec![("0.0.0.0".into(), 22)]);
    }
    for (v6, table) in &req.iptables {
        f.iptables.insert(
            format!("{}/{table}", if *v6 { "v6" } else { "v4" }),
            Some(String::new()),
        );
    }
    if req.ufw_live {
        f.ufw_live = Some(false);
    }
    if req.sshd_effective {
        let mut values = BTreeMap::new();
        for (k, v) in [
            ("port", "22"),
            ("permitrootlogin", "without-password"),
            ("passwordauthentication", "yes"),
            ("pubkeyauthentication", "yes"),
            ("x11forwarding", "yes"),
        ] {
            values.insert(k.to_owned(), vec![v.to_owned()]);
        }
        f.sshd = Some(SshdEffective {
            ok: true,
            error: None,
            values,
        });
    }
    if req.apt {
        f.apt = Some(AptState {
            lists_age_secs: u64::MAX,
            ..AptState::default()
        });
    }
    for id in req.commands.keys() {
        f.commands.insert(
            id.clone(),
            crate::facts::CommandResult {
                rc: 1,
                output: String::new(),
            },
        );
    }
    f
}

/// The facts a role declares, answered as a fresh lab host would ([`blank_facts`] of
/// [`lab_host`] for the role's own request). Tests add what their host has on top.
pub fn fresh_lab_facts(configured: &dyn Configured) -> Facts {
    let mut req = FactRequest::new();
    configured.facts(&mut req);
    blank_facts(&req, lab_host())
}

/// Runs `f` with the context every role test plans in: host `h1`, no variables, the embedded
/// templates, these secrets and this connecting user.
fn in_lab_context<R>(
    facts: &Facts,
    secrets: &BTreeMap<String, Secret>,
    user: &str,
    f: impl FnOnce(&HostContext<'_>) -> R,
) -> R {
    let templates = Templates::embedded();
    let vars = serde_json::json!({});
    f(&HostContext {
        host: "h1",
        facts,
        vars: &vars,
        templates: &templates,
        secrets,
        connect_user: user,
    })
}

/// The role's own plan on host `h1`, refusals included and no invariant checked: for the tests
/// that expect a role to refuse (see [`plan_checked`] for the others).
pub fn try_plan(
    configured: &dyn Configured,
    facts: &Facts,
    secrets: &BTreeMap<String, Secret>,
    user: &str,
) -> Result<RolePlan, RoleError> {
    in_lab_context(facts, secrets, user, |ctx| configured.plan(ctx))
}

/// Every change a planned role would make, in order: the resource's id and the change.
pub fn applies(p: &PlannedRole) -> Vec<(String, &Apply)> {
    p.items
        .iter()
        .filter_map(|i| match &i.change {
            Ok(Change::Apply(a)) => Some((i.resource.id(), a)),
            _ => None,
        })
        .collect()
}

/// A regular file's state with this text.
pub fn text_file(text: &str, mode: u32, owner: &str) -> FileState {
    FileState::File {
        mode,
        owner: owner.into(),
        group: owner.into(),
        size: text.len() as u64,
        content: Some(text.as_bytes().to_vec()),
        sha256: sha256_hex(text.as_bytes()),
    }
}

/// Plans a configured role against facts, with embedded templates, the given secrets and
/// connecting user, and fails the test if a resource reads a fact the role did not declare.
pub fn plan_checked(
    configured: &dyn Configured,
    facts: &Facts,
    secrets: &BTreeMap<String, Secret>,
    user: &str,
) -> PlannedRole {
    let planned = in_lab_context(facts, secrets, user, |ctx| {
        hostplan::plan_role("role", configured, ctx)
    });
    let mut req = FactRequest::new();
    configured.facts(&mut req);
    let missing = hostplan::undeclared_facts(&planned, &req);
    assert!(
        missing.is_empty(),
        "resources read facts the role did not declare: {missing:?}"
    );
    if let Some(e) = &planned.error {
        panic!("role failed to plan: {e}");
    }
    for p in &planned.items {
        if let Err(e) = &p.change {
            panic!("{} failed to plan: {e}", p.resource.id());
        }
    }
    planned
}

/// The idempotence property for a whole role: plan against `facts`, apply every change to the
/// facts as the host would, plan again and expect nothing to do. Returns the converged facts.
pub fn assert_converges(
    configured: &dyn Configured,
    facts: Facts,
    secrets: &BTreeMap<String, Secret>,
    user: &str,
) -> Facts {
    let first = plan_checked(configured, &facts, secrets, user);
    let after = hostplan::predicted(&first, &facts);
    let second = plan_checked(configured, &after, secrets, user);
    let pending: Vec<String> = second
        .items
        .iter()
        .filter_map(|p| match &p.change {
            Ok(Change::Apply(a)) => Some(format!("{}: {}", p.resource.id(), a.summary)),
            _ => None,
        })
        .collect();
    assert!(
        pending.is_empty(),
        "not idempotent; the second plan still changes: {pending:#?}"
    );
    after
}

/// Whether a check passes on what its command printed and exited with (the audit's verdict).
pub fn judged(check: &crate::verify::Check, status: i32, output: &str) -> bool {
    check
        .judge(Some(&crate::facts::CommandResult {
            rc: status,
            output: output.to_owned(),
        }))
        .pass
}

/// Asserts that a check judged from facts answers what its shell equivalent printed on the
/// same host (`shell_stdout`, its trailing newline aside), with exit status 0.
pub fn assert_answers_as_shell(check: &crate::verify::Check, facts: &Facts, shell_stdout: &str) {
    let answer = check
        .fact
        .as_ref()
        .unwrap_or_else(|| panic!("{} is not judged from facts", check.id))
        .answer(facts)
        .unwrap_or_else(|| panic!("{}: the facts were not gathered", check.id));
    assert_eq!(
        (answer.rc, answer.output.as_str()),
        (0, shell_stdout.trim_end()),
        "{}",
        check.id
    );
}

/// The check `id` among `checks` (a role's built-ins); panics naming it when it is missing.
pub fn check_by_id(checks: Vec<crate::verify::Check>, id: &str) -> crate::verify::Check {
    checks
        .into_iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no check {id}"))
}
