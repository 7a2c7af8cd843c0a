//! Preflight: refuse a plan that would cut the operator off, before anything changes.
//!
//! Hardening SSH and the firewall over SSH is the one job where a mistake locks the operator
//! out of the whole fleet. Before any change, the plan of a host is read the way the host will
//! read it: the sshd configuration rampart writes (over the effective one from `sshd -T`), the
//! ufw state it converges to, the fail2ban jail it writes. The operator's own way in, the user
//! rampart logs in as, from the address the host sees, on the port in use, with a key, must
//! survive all of it. Each cut names the setting, the path it cuts and the fix.

use std::net::IpAddr;

use serde::Serialize;

use crate::facts::Facts;
use crate::hostplan::PlannedRole;
use crate::plan::Change;
use crate::resource::{Content, Resource};
use crate::types::Cidr;

/// How rampart reaches this host right now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessPath {
    /// The login user.
    pub user: String,
    /// The controller's address as the host sees it (SSH_CONNECTION).
    pub client_ip: Option<String>,
    /// The port sshd accepted us on.
    pub port: u16,
}

/// One way a plan would cut the operator off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cut {
    /// The setting at fault ("sshd AllowUsers", "ufw").
    pub setting: String,
    /// What it would do to the operator.
    pub what: String,
    /// How to fix the site.
    pub fix: String,
}

impl std::fmt::Display for Cut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}\n  hint: {}", self.setting, self.what, self.fix)
    }
}

/// Checks a host's whole plan against the operator's access path.
pub fn check(planned: &[PlannedRole], facts: &Facts, path: &AccessPath) -> Vec<Cut> {
    let mut cuts = Vec::new();
    let changes = changes_of(planned);
    check_ufw(&changes, path, &mut cuts);
    check_sshd(&changes, facts, path, &mut cuts);
    if let Some(to) = moved_port(&changes, facts, path) {
        check_port_move(planned, facts, to, &mut cuts);
    }
    check_fail2ban(&changes, path, &mut cuts);
    check_keys(&changes, facts, path, &mut cuts);
    cuts
}

fn changes_of(planned: &[PlannedRole]) -> Vec<&Resource> {
    planned
        .iter()
        .flat_map(|r| r.items.iter())
        .filter(|p| matches!(p.change, Ok(Change::Apply(_))))
        .map(|p| &p.resource)
        .collect()
}

/// A move of sshd to another port in one run: the plan's sshd no longer listens on the port
/// rampart is connected on. `to` is where the engine confirms the change over a fresh login
/// (the dead-man switch restores the old port when that login fails).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortMove {
    /// The port rampart is connected on now.
    pub from: u16,
    /// The port sshd listens on after the change (the first of its new ports).
    pub to: u16,
}

/// The port move this plan makes, if any: sshd's planned ports leave out the port in use.
pub fn port_move(planned: &[PlannedRole], facts: &Facts, path: &AccessPath) -> Option<PortMove> {
    moved_port(&changes_of(planned), facts, path).map(|to| PortMove {
        from: path.port,
        to,
    })
}

fn moved_port(changes: &[&Resource], facts: &Facts, path: &AccessPath) -> Option<u16> {
    let view = sshd_view(changes, facts)?;
    let ports: Vec<u16> = view
        .iter()
        .filter(|(k, _)| k == "port")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    if ports.is_empty() || ports.contains(&path.port) {
        return None;
    }
    ports.first().copied()
}

/// A port move is safe when the new port is reachable when sshd moves (the firewall as it is,
/// or as a role before sshd leaves it) and stays reachable (every firewall the plan enables
/// allows it).
fn check_port_move(planned: &[PlannedRole], facts: &Facts, to: u16, cuts: &mut Vec<Cut>) {
    let fix = format!(
        "allow {to}/tcp in the ufw role (`ssh_ports = [{to}]`) and put ufw before sshd in the play, so the firewall lets the new port in before sshd moves"
    );
    let ufw_of = |r: &PlannedRole| -> Vec<crate::resource::Ufw> {
        r.items
            .iter()
            .filter(|p| matches!(p.change, Ok(Change::Apply(_))))
            .filter_map(|p| match &p.resource {
                Resource::Ufw(u) => Some(u.clone()),
                _ => None,
            })
            .collect()
    };
    let blocks = |u: &crate::resource::Ufw| u.enabled && !u.allows_tcp(to);
    for r in planned {
        if ufw_of(r).iter().any(blocks) {
            cuts.push(Cut {
                setting: "sshd Port".into(),
                what: format!("sshd moves to port {to}, but the firewall the plan enables does not allow {to}/tcp"),
                fix: fix.clone(),
            });
            return;
        }
    }
    // What the firewall is when sshd moves: the last ufw a role before sshd leaves, else the
    // host's own. A host whose firewall rampart does not read is left to the dead-man switch.
    let sshd_at = planned
        .iter()
        .position(|r| {
            r.items.iter().any(|p| {
                matches!(p.change, Ok(Change::Apply(_)))
                    && matches!(&p.resource, Resource::File(f) if f.path.starts_with("/etc/ssh/sshd_config"))
            })
        })
        .unwrap_or(planned.len());
    let before = planned[..sshd_at].iter().flat_map(ufw_of).last();
    let blocked = match before {
        Some(u) => blocks(&u),
        None => crate::resource::UfwState::from_facts(facts)
            .is_ok_and(|live| live.enabled() && !live.allows_tcp(to)),
    };
    if blocked {
        cuts.push(Cut {
            setting: "sshd Port".into(),
            what: format!("sshd moves to port {to}, but the firewall is on and does not allow {to}/tcp when sshd moves"),
            fix,
        });
    }
}

fn text_of(content: &Option<Content>) -> Option<&str> {
    match content {
        Some(Content::Text(t)) => Some(t),
        _ => None,
    }
}

fn check_ufw(changes: &[&Resource], path: &AccessPath, cuts: &mut Vec<Cut>) {
    for r in changes {
        let Resource::Ufw(u) = r else { continue };
        if !u.enabled {
            continue;
        }
        let from_anywhere = u.allows_tcp(path.port);
        let from_us = path
            .client_ip
            .as_deref()
            .and_then(|ip| ip.parse::<IpAddr>().ok())
            .is_some_and(|ip| {
                u.rules.iter().any(|rule| {
                    matches!(
                        rule.action,
                        crate::resource::UfwAction::Allow | crate::resource::UfwAction::Limit
                    ) && (rule.proto == "tcp" || rule.proto == "any")
                        && rule.port == path.port.to_string()
                        && rule.from.as_deref().is_some_and(|c| cidr_contains(c, ip))
                })
            });
        if !from_anywhere && !from_us {
            cuts.push(Cut {
                setting: "ufw".into(),
                what: format!("the firewall would be enabled without allowing {}/tcp, the SSH port rampart is connected on", path.port),
                fix: format!("allow {}/tcp in the ufw role's rules (it is added before ufw is enabled)", path.port),
            });
        }
    }
}

/// sshd directives a plan writes (first value wins, as sshd reads them), over the effective
/// configuration the host has now.
fn sshd_view(changes: &[&Resource], facts: &Facts) -> Option<Vec<(String, String)>> {
    let mut written: Vec<(String, String)> = Vec::new();
    let mut any = false;
    // Drop-ins are read in lexical order before the main file's own lines.
    let mut files: Vec<(&str, &str)> = changes
        .iter()
        .filter_map(|r| match r {
            Resource::File(f) if f.path.starts_with("/etc/ssh/sshd_config") => {
                text_of(&f.content).map(|t| (f.path.as_str(), t))
            }
            _ => None,
        })
        .collect();
    files.sort_by_key(|(p, _)| (*p == "/etc/ssh/sshd_config", *p));
    for (_, text) in files {
        any = true;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty()
                || line.starts_with('#')
                || line.to_ascii_lowercase().starts_with("match ")
            {
                if line.to_ascii_lowercase().starts_with("match ") {
                    break;
                }
                continue;
            }
            let mut parts = line.splitn(2, char::is_whitespace);
            let key = parts.next().unwrap_or_default().to_ascii_lowercase();
            let value = parts.next().unwrap_or_default().trim().to_owned();
            written.push((key, value));
        }
    }
    if !any {
        return None;
    }
    let mut view: Vec<(String, String)> = Vec::new();
    let first =
        |k: &str, w: &[(String, String)]| w.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
    let multi = [
        "allowusers",
        "allowgroups",
        "denyusers",
        "denygroups",
        "port",
    ];
    for key in [
        "permitrootlogin",
        "pubkeyauthentication",
        "allowusers",
        "allowgroups",
        "denyusers",
        "denygroups",
        "port",
        "authorizedkeysfile",
    ] {
        if multi.contains(&key) && written.iter().any(|(k, _)| k == key) {
            // These accumulate across lines in sshd; the written ones replace the effective ones
            // because the role's drop-in is read first.
            for (k, v) in written.iter().filter(|(k, _)| k == key) {
                for word in v.split_whitespace() {
                    view.push((k.clone(), word.to_owned()));
                }
            }
            continue;
        }
        if let Some(v) = first(key, &written) {
            view.push((key.to_owned(), v));
        } else if let Some(eff) = &facts.sshd {
            for v in eff.all(key) {
                for word in v.split_whitespace() {
                    view.push((key.to_owned(), word.to_owned()));
                }
            }
        }
    }
    Some(view)
}

fn check_sshd(changes: &[&Resource], facts: &Facts, path: &AccessPath, cuts: &mut Vec<Cut>) {
    let Some(view) = sshd_view(changes, facts) else {
        return;
    };
    let values = |k: &str| {
        view.iter()
            .filter(|(x, _)| x == k)
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
    };
    let user = path.user.as_str();
    let groups: Vec<String> = facts
        .accounts
        .as_ref()
        .map(|a| a.groups_of(user).into_iter().collect())
        .unwrap_or_default();
    if user == "root"
        && let Some(v) = values("permitrootlogin").first()
        && (v.eq_ignore_ascii_case("no") || v.eq_ignore_ascii_case("forced-commands-only"))
    {
        cuts.push(Cut {
                    setting: "sshd PermitRootLogin".into(),
                    what: format!("`PermitRootLogin {v}` would refuse root, and rampart logs in to this host as root"),
                    fix: "connect as an admin user with `become = true` (sudo), or set PermitRootLogin prohibit-password".into(),
                });
    }
    if values("pubkeyauthentication")
        .first()
        .is_some_and(|v| v.eq_ignore_ascii_case("no"))
    {
        cuts.push(Cut {
            setting: "sshd PubkeyAuthentication".into(),
            what: "`PubkeyAuthentication no` would refuse the key rampart logs in with".into(),
            fix: "keep PubkeyAuthentication yes".into(),
        });
    }
    let client: Option<IpAddr> = path.client_ip.as_deref().and_then(|c| c.parse().ok());
    let allow = values("allowusers");
    if !allow.is_empty()
        && !allow
            .iter()
            .any(|p| user_entry_matches(p, user, client) == Some(true))
    {
        cuts.push(Cut {
            setting: "sshd AllowUsers".into(),
            what: format!("`AllowUsers {}` does not include `{user}`, the user rampart logs in as", allow.join(" ")),
            fix: format!("add `{user}` to the sshd role's allow_users, or connect as one of the allowed users"),
        });
    }
    let allow_groups = values("allowgroups");
    if !allow_groups.is_empty()
        && !allow_groups
            .iter()
            .any(|p| groups.iter().any(|g| wildcard(p, g)))
    {
        cuts.push(Cut {
            setting: "sshd AllowGroups".into(),
            what: format!(
                "`AllowGroups {}` matches none of `{user}`'s groups ({})",
                allow_groups.join(" "),
                groups.join(", ")
            ),
            fix: format!("add one of `{user}`'s groups to allow_groups"),
        });
    }
    if let Some(p) = values("denyusers")
        .iter()
        .find(|p| user_entry_matches(p, user, client) != Some(false))
    {
        cuts.push(Cut {
            setting: "sshd DenyUsers".into(),
            what: format!(
                "`DenyUsers` pattern `{p}` matches `{user}`, the user rampart logs in as"
            ),
            fix: "remove the pattern".into(),
        });
    }
    // A Port that leaves out the port in use is a move, not a cut: `check_port_move`.
}

fn check_fail2ban(changes: &[&Resource], path: &AccessPath, cuts: &mut Vec<Cut>) {
    let Some(ip) = path
        .client_ip
        .as_deref()
        .and_then(|i| i.parse::<IpAddr>().ok())
    else {
        return;
    };
    for r in changes {
        let Resource::File(f) = r else { continue };
        if !(f.path == "/etc/fail2ban/jail.local" || f.path.starts_with("/etc/fail2ban/jail.d/")) {
            continue;
        }
        let Some(text) = text_of(&f.content) else {
            continue;
        };
        let lists: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("ignoreip"))
            .filter_map(|l| l.trim_start().strip_prefix('='))
            .collect();
        if lists.is_empty() {
            continue;
        }
        if !lists.iter().all(|l| {
            l.split([' ', ','])
                .filter(|w| !w.is_empty())
                .any(|w| cidr_contains(w, ip))
        }) {
            cuts.push(Cut {
                setting: "fail2ban ignoreip".into(),
                what: format!("{} sets ignoreip without {ip}, the controller's address: a few failed logins would ban rampart", f.path),
                fix: format!("add {ip} (or its network) to the fail2ban role's ignoreip"),
            });
        }
    }
}

fn check_keys(changes: &[&Resource], facts: &Facts, path: &AccessPath, cuts: &mut Vec<Cut>) {
    let home = facts
        .accounts
        .as_ref()
        .and_then(|a| a.users.get(&path.user))
        .map(|u| u.home.clone());
    let Some(home) = home else { return };
    let ak = format!("{home}/.ssh/authorized_keys");
    for r in changes {
        let Resource::File(f) = r else { continue };
        if f.path != ak {
            continue;
        }
        let empty = match &f.content {
            None => true,
            Some(Content::Text(t)) => !t
                .lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')),
            Some(Content::Sensitive(_)) => false,
        };
        if empty {
            cuts.push(Cut {
                setting: "authorized_keys".into(),
                what: format!(
                    "{ak} would be left without a key, and rampart logs in as `{}` with a key",
                    path.user
                ),
                fix: "list the operator's public key in the role's authorized_keys".into(),
            });
        }
    }
}

/// sshd's `*` / `?` wildcard match (`match_pattern` in OpenSSH), case-sensitive. The sshd
/// role's own lockout refusals use it too, so the role and the preflight judge alike.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some(('?', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    go(&p, &t)
}

/// Does an `AllowUsers`/`DenyUsers` entry (`user` or `user@host`, the host a wildcard, an
/// address or a CIDR) match this login? `None` when it depends on what rampart cannot see: a
/// host name pattern (sshd matches it against the client's reverse DNS), or an unknown client
/// address. Callers treat `None` as the unsafe answer (no match for Allow, a match for Deny).
pub fn user_entry_matches(entry: &str, user: &str, client: Option<IpAddr>) -> Option<bool> {
    let Some((u, h)) = entry.split_once('@') else {
        return Some(wildcard(entry, user));
    };
    if !wildcard(u, user) {
        return Some(false);
    }
    let ip = client?;
    if let Ok(net) = h.parse::<Cidr>() {
        return Some(net.contains(ip));
    }
    if wildcard(h, &ip.to_string()) {
        return Some(true);
    }
    None
}

/// Whether `cidr` (an address or address/prefix) contains `ip`; false when it is not one.
pub fn cidr_contains(cidr: &str, ip: IpAddr) -> bool {
    cidr.parse::<Cidr>().is_ok_and(|c| c.contains(ip))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{FileState, SshdEffective};
    use crate::hostplan::Planned;
    use crate::resource::{File, Ufw, UfwAction, UfwPolicy, UfwRule};

    fn role(resources: Vec<Resource>, facts: &Facts) -> PlannedRole {
        PlannedRole {
            role: "r".into(),
            items: resources
                .into_iter()
                .map(|r| Planned {
                    change: r.plan(facts),
                    resource: r,
                })
                .collect(),
            ..PlannedRole::default()
        }
    }

    fn facts() -> Facts {
        let mut f = Facts::default();
        for p in [
            "/etc/ssh/sshd_config.d/00-rampart.conf",
            "/etc/fail2ban/jail.local",
            "/etc/default/ufw",
            "/etc/ufw/ufw.conf",
            "/etc/ufw/user.rules",
            "/etc/ufw/user6.rules",
        ] {
            f.files.insert(p.into(), FileState::Absent);
        }
        f.ufw_live = Some(false);
        let mut values = std::collections::BTreeMap::new();
        values.insert("port".to_owned(), vec!["22".to_owned()]);
        values.insert(
            "permitrootlogin".to_owned(),
            vec!["without-password".to_owned()],
        );
        f.sshd = Some(SshdEffective {
            ok: true,
            error: None,
            values,
        });
        f
    }

    fn path(user: &str) -> AccessPath {
        AccessPath {
            user: user.into(),
            client_ip: Some("10.213.1.1".into()),
            port: 22,
        }
    }

    fn sshd(text: &str) -> Resource {
        Resource::File(File::new(
            "/etc/ssh/sshd_config.d/00-rampart.conf",
            text,
            0o644,
        ))
    }

    #[test]
    fn allow_users_without_the_connecting_user_is_a_cut() {
        let f = facts();
        let plan = [role(vec![sshd("AllowUsers fleetclaw ubuntu\n")], &f)];
        let cuts = check(&plan, &f, &path("lab"));
        assert_eq!(cuts.len(), 1, "{cuts:?}");
        assert_eq!(cuts[0].setting, "sshd AllowUsers");
        assert!(cuts[0].to_string().contains("add `lab`"));
        assert!(check(&plan, &f, &path("fleetclaw")).is_empty());
        let plan = [role(vec![sshd("AllowUsers lab@10.213.*\n")], &f)];
        assert!(check(&plan, &f, &path("lab")).is_empty());
    }

    #[test]
    fn root_login_off_while_connected_as_root_is_a_cut() {
        let f = facts();
        let plan = [role(vec![sshd("PermitRootLogin no\n")], &f)];
        assert_eq!(
            check(&plan, &f, &path("root"))[0].setting,
            "sshd PermitRootLogin"
        );
        assert!(check(&plan, &f, &path("lab")).is_empty());
        let plan = [role(vec![sshd("PermitRootLogin prohibit-password\n")], &f)];
        assert!(check(&plan, &f, &path("root")).is_empty());
    }

    fn ufw(ports: &[&str]) -> Resource {
        Resource::Ufw(Ufw {
            incoming: UfwPolicy::Deny,
            outgoing: UfwPolicy::Allow,
            routed: UfwPolicy::Deny,
            rules: ports
                .iter()
                .map(|p| UfwRule::new(UfwAction::Allow, *p, "tcp", None))
                .collect(),
            ipv6: true,
            logging: "low".into(),
            enabled: true,
        })
    }

    #[test]
    fn a_port_move_is_a_move_when_the_new_port_is_let_in_first() {
        let f = facts();
        // No firewall rampart reads: the move is made, and the dead-man switch is the net.
        let plan = [role(vec![sshd("Port 2222\n")], &f)];
        assert!(check(&plan, &f, &path("lab")).is_empty());
        assert_eq!(
            port_move(&plan, &f, &path("lab")),
            Some(PortMove { from: 22, to: 2222 })
        );
        // Listening on both is no move.
        let plan = [role(vec![sshd("Port 22\nPort 2222\n")], &f)];
        assert!(check(&plan, &f, &path("lab")).is_empty());
        assert_eq!(port_move(&plan, &f, &path("lab")), None);
        // ufw before sshd, letting the new port in: a move.
        let plan = [
            role(vec![ufw(&["22", "2222"])], &f),
            role(vec![sshd("Port 2222\n")], &f),
        ];
        assert!(check(&plan, &f, &path("lab")).is_empty());
        // A firewall that would shut the new port: a cut, whatever the order.
        for plan in [
            [
                role(vec![ufw(&["22"])], &f),
                role(vec![sshd("Port 2222\n")], &f),
            ],
            [
                role(vec![sshd("Port 2222\n")], &f),
                role(vec![ufw(&["22"])], &f),
            ],
        ] {
            let cuts = check(&plan, &f, &path("lab"));
            assert_eq!(cuts.len(), 1, "{cuts:?}");
            assert_eq!(cuts[0].setting, "sshd Port");
            assert!(cuts[0].fix.contains("ssh_ports = [2222]"), "{}", cuts[0]);
        }
    }

    #[test]
    fn ufw_without_the_ssh_port_is_a_cut() {
        let f = facts();
        let mut u = Ufw {
            incoming: UfwPolicy::Deny,
            outgoing: UfwPolicy::Allow,
            routed: UfwPolicy::Deny,
            rules: vec![UfwRule::new(UfwAction::Allow, "2222", "tcp", None)],
            ipv6: true,
            logging: "low".into(),
            enabled: true,
        };
        let plan = [role(vec![Resource::Ufw(u.clone())], &f)];
        assert_eq!(check(&plan, &f, &path("lab"))[0].setting, "ufw");
        u.rules.push(UfwRule {
            from: Some("10.213.0.0/16".into()),
            ..UfwRule::new(UfwAction::Allow, "22", "tcp", None)
        });
        let plan = [role(vec![Resource::Ufw(u)], &f)];
        assert!(check(&plan, &f, &path("lab")).is_empty());
    }

    #[test]
    fn fail2ban_must_ignore_the_controller() {
        let f = facts();
        let jail = |t: &str| Resource::File(File::new("/etc/fail2ban/jail.local", t, 0o644));
        let plan = [role(
            vec![jail("[DEFAULT]\nignoreip = 127.0.0.1/8 ::1\n")],
            &f,
        )];
        assert_eq!(
            check(&plan, &f, &path("lab"))[0].setting,
            "fail2ban ignoreip"
        );
        let plan = [role(
            vec![jail(
                "[DEFAULT]\nignoreip = 127.0.0.1/8 ::1 10.213.0.0/16\n",
            )],
            &f,
        )];
        assert!(check(&plan, &f, &path("lab")).is_empty());
    }

    #[test]
    fn cidrs_and_globs() {
        let ip: IpAddr = "10.213.4.1".parse().unwrap();
        assert!(cidr_contains("10.213.0.0/16", ip));
        assert!(cidr_contains("10.213.4.1", ip));
        assert!(!cidr_contains("10.214.0.0/16", ip));
        assert!(cidr_contains("0.0.0.0/0", ip));
        assert!(
            wildcard("fleet*", "fleetclaw") && wildcard("?ab", "lab") && !wildcard("lab", "labs")
        );
        let ip: Option<IpAddr> = "10.213.4.1".parse().ok();
        assert_eq!(user_entry_matches("lab", "lab", None), Some(true));
        assert_eq!(
            user_entry_matches("lab@10.213.0.0/16", "lab", ip),
            Some(true)
        );
        assert_eq!(user_entry_matches("lab@10.213.*", "lab", ip), Some(true));
        assert_eq!(
            user_entry_matches("lab@10.214.0.0/16", "lab", ip),
            Some(false)
        );
        assert_eq!(user_entry_matches("lab@bastion.example", "lab", ip), None);
        assert_eq!(user_entry_matches("ops@10.213.*", "lab", ip), Some(false));
        assert_eq!(user_entry_matches("lab@10.213.*", "lab", None), None);
    }
}
