//! Refusing configurations that would shut rampart out of the host it is configuring.
//!
//! Everything here looks at the FINAL directives (after `extra`) and at how rampart is
//! connected right now: the login user, its groups, the controller's address and the port.
//! A refusal names the directive, why it locks rampart out, and the fix.

use std::net::IpAddr;

use rampart_core::facts::Facts;
use rampart_core::preflight::{user_entry_matches, wildcard};

use crate::Config;
use crate::settings::Setting;

/// How rampart reaches the host now.
#[derive(Debug)]
pub struct Connection<'a> {
    /// The inventory name.
    pub host: &'a str,
    /// The login user.
    pub user: &'a str,
    /// The host's facts (accounts, the SSH connection).
    pub facts: &'a Facts,
}

fn values(settings: &[Setting], lkey: &str) -> Option<Vec<String>> {
    Config::final_value(settings, lkey).map(|v| v.split_whitespace().map(str::to_owned).collect())
}

/// Every way the settings would lock rampart out, as sentences with the fix.
pub fn problems(settings: &[Setting], conn: &Connection<'_>) -> Vec<String> {
    let mut out = Vec::new();
    let host = conn.host;
    let user = conn.user;
    let client: Option<IpAddr> = conn
        .facts
        .host
        .ssh_connection
        .as_ref()
        .and_then(|c| c.client_ip.parse().ok());
    let allow_users = values(settings, "allowusers").unwrap_or_default();
    // A non-root user the operator could switch to: the first plain name in AllowUsers.
    let alternative = allow_users
        .iter()
        .find(|u| *u != "root" && !u.contains(['*', '?', '@']))
        .cloned();

    if user == "root"
        && let Some(v) = values(settings, "permitrootlogin").and_then(|v| v.first().cloned())
        && (v == "no" || v == "forced-commands-only")
    {
        let via = alternative.as_deref().unwrap_or("an admin user");
        out.push(format!(
            "PermitRootLogin {v} would lock rampart out: it connects to {host} as root. Connect as `{via}` with \
             become = true (it needs passwordless sudo and a key), or set sshd.permit_root_login = \"prohibit-password\""
        ));
    }
    if values(settings, "pubkeyauthentication")
        .is_some_and(|v| v.first().is_some_and(|w| w == "no"))
    {
        out.push(format!(
            "PubkeyAuthentication no would lock rampart out of {host}: rampart logs in with a key"
        ));
    }
    if let Some(methods) = values(settings, "authenticationmethods") {
        // Each argument is one acceptable chain of methods; rampart can complete `publickey` alone.
        if !methods.iter().any(|m| m == "any" || m == "publickey") {
            out.push(format!(
                "AuthenticationMethods {} would lock rampart out of {host}: rampart completes `publickey` and nothing else; add `publickey` as an alternative",
                methods.join(" ")
            ));
        }
    }
    if !allow_users.is_empty() {
        let verdicts: Vec<Option<bool>> = allow_users
            .iter()
            .map(|e| user_entry_matches(e, user, client))
            .collect();
        if !verdicts.contains(&Some(true)) {
            let unsure = verdicts.contains(&None);
            out.push(format!(
                "AllowUsers {} would lock rampart out: it connects to {host} as `{user}`{}. Add `{user}` to sshd.allow_users, or connect as one of the listed users with become = true",
                allow_users.join(" "),
                if unsure { " (an entry with a host name may match, but rampart cannot tell)" } else { "" }
            ));
        }
    }
    if let Some(deny) = values(settings, "denyusers")
        && let Some(hit) = deny
            .iter()
            .find(|e| user_entry_matches(e, user, client) != Some(false))
    {
        out.push(format!(
            "DenyUsers {hit} would lock rampart out: it connects to {host} as `{user}`"
        ));
    }
    let groups = conn
        .facts
        .accounts
        .as_ref()
        .map(|a| a.groups_of(user))
        .unwrap_or_default();
    if let Some(allow) = values(settings, "allowgroups")
        && !allow.iter().any(|p| groups.iter().any(|g| wildcard(p, g)))
    {
        let have = if groups.is_empty() {
            "none rampart can see in /etc/group".to_owned()
        } else {
            groups.iter().cloned().collect::<Vec<_>>().join(", ")
        };
        out.push(format!(
            "AllowGroups {} would lock rampart out: `{user}`, the user it connects to {host} as, is in none of them (its groups: {have}). Add one of its groups to sshd.allow_groups",
            allow.join(" ")
        ));
    }
    if let Some(deny) = values(settings, "denygroups")
        && let Some(hit) = deny.iter().find(|p| groups.iter().any(|g| wildcard(p, g)))
    {
        out.push(format!("DenyGroups {hit} would lock rampart out: `{user}`, the user it connects to {host} as, is in that group"));
    }
    // A Port that leaves out the port in use is a move, made in one run: the engine's
    // preflight checks the firewall lets the new port in (`preflight::port_move`), and the
    // change is confirmed by a fresh login on the new port or rolled back.
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_are_sshds() {
        assert!(wildcard("fleet*", "fleetclaw"));
        assert!(wildcard("l?b", "lab"));
        assert!(!wildcard("l?b", "laab"));
        assert!(wildcard("*", ""));
        assert!(!wildcard("root", "roots"));
    }

    #[test]
    fn user_at_host_entries_match_the_controller_address() {
        let ip: IpAddr = "10.213.5.1".parse().unwrap();
        assert_eq!(
            user_entry_matches("lab@10.213.0.0/16", "lab", Some(ip)),
            Some(true)
        );
        assert_eq!(
            user_entry_matches("lab@10.213.5.*", "lab", Some(ip)),
            Some(true)
        );
        assert_eq!(
            user_entry_matches("lab@192.0.2.0/24", "lab", Some(ip)),
            Some(false)
        );
        assert_eq!(
            user_entry_matches("lab@bastion.example", "lab", Some(ip)),
            None
        );
        assert_eq!(user_entry_matches("lab@10.213.5.1", "lab", None), None);
        assert_eq!(user_entry_matches("other@*", "lab", Some(ip)), Some(false));
    }
}
