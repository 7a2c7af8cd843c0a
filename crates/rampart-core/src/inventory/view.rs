//! Read-only views of an inventory for `rampart inventory`: [`list_json`] in the shape of
//! `ansible-inventory --list` (so Ansible tooling can read it), [`host_json`] for one host with
//! its connection, variables and where each came from, and [`graph`] like
//! `ansible-inventory --graph`.

use serde_json::{Map, Value, json};

use super::{ALL, ConnSpec, Host, Inventory};

/// The connection settings as the Ansible variables that mean the same.
fn conn_as_ansible_vars(c: &ConnSpec) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(a) = &c.address {
        m.insert("ansible_host".into(), json!(a.value));
    }
    if let Some(p) = &c.port {
        m.insert("ansible_port".into(), json!(p.value));
    }
    if let Some(u) = &c.user {
        m.insert("ansible_user".into(), json!(u.value));
    }
    // Ansible takes one key file; the first is the one ssh would try first.
    if let Some(k) = c.identity_files.first() {
        m.insert(
            "ansible_ssh_private_key_file".into(),
            json!(k.value.to_string_lossy()),
        );
    }
    if let Some(b) = &c.become_root {
        m.insert("ansible_become".into(), json!(b.value));
    }
    let mut args = Vec::new();
    if let Some(b) = &c.bastion {
        args.push(format!("-o ProxyJump={}", b.value));
    }
    if let Some(k) = &c.known_hosts {
        args.push(format!(
            "-o UserKnownHostsFile={}",
            k.value.to_string_lossy()
        ));
    }
    if !args.is_empty() {
        m.insert("ansible_ssh_common_args".into(), json!(args.join(" ")));
    }
    if let Some(t) = &c.connect_timeout {
        m.insert("ansible_timeout".into(), json!(t.value));
    }
    m
}

fn host_vars(h: &Host) -> Value {
    let mut m = h.vars.value.as_object().cloned().unwrap_or_default();
    m.extend(conn_as_ansible_vars(&h.conn));
    Value::Object(m)
}

/// The inventory as `ansible-inventory --list` prints it: `_meta.hostvars` with every host's
/// merged variables (connection settings as `ansible_*` variables), `all.children`, and for
/// each other group its direct `hosts` and `children` (empty lists left out, as Ansible does).
pub fn list_json(inv: &Inventory) -> Value {
    let mut out = Map::new();
    let hostvars: Map<String, Value> = inv
        .hosts
        .iter()
        .map(|h| (h.name.clone(), host_vars(h)))
        .collect();
    out.insert("_meta".into(), json!({ "hostvars": hostvars }));
    for g in inv.groups.values() {
        let mut entry = Map::new();
        if !g.hosts.is_empty() {
            entry.insert("hosts".into(), json!(g.hosts));
        }
        if !g.children.is_empty() {
            entry.insert("children".into(), json!(g.children));
        }
        if g.name == ALL || !entry.is_empty() {
            out.insert(g.name.clone(), Value::Object(entry));
        }
    }
    Value::Object(out)
}

/// One host: its groups, connection settings (rampart's names), merged variables, and the
/// `file:line:col` every connection setting and variable came from. `None` for an unknown host.
pub fn host_json(inv: &Inventory, name: &str) -> Option<Value> {
    let h = inv.host(name)?;
    let c = &h.conn;
    let mut conn = Map::new();
    let mut origins = Map::new();
    let mut put = |key: &str, value: Value, at: &crate::error::Location| {
        conn.insert(key.to_owned(), value);
        origins.insert(format!("connection.{key}"), json!(at.to_string()));
    };
    put(
        "address",
        json!(h.address()),
        c.address.as_ref().map_or(&h.location, |a| &a.location),
    );
    if let Some(p) = &c.port {
        put("port", json!(p.value), &p.location);
    }
    if let Some(u) = &c.user {
        put("user", json!(u.value), &u.location);
    }
    if let Some(first) = c.identity_files.first() {
        let files: Vec<String> = c
            .identity_files
            .iter()
            .map(|f| f.value.to_string_lossy().into_owned())
            .collect();
        put("identity_files", json!(files), &first.location);
    }
    if let Some(b) = &c.bastion {
        put("bastion", json!(b.value), &b.location);
    }
    if let Some(b) = &c.become_root {
        put("become", json!(b.value), &b.location);
    }
    if let Some(k) = &c.known_hosts {
        put("known_hosts", json!(k.value.to_string_lossy()), &k.location);
    }
    if let Some(t) = &c.connect_timeout {
        put("connect_timeout", json!(t.value), &t.location);
    }
    for (path, at) in &h.vars.origins {
        if !path.is_empty() {
            origins.insert(format!("vars.{path}"), json!(at.to_string()));
        }
    }
    Some(json!({
        "name": h.name,
        "groups": h.groups,
        "connection": conn,
        "vars": h.vars.value,
        "origins": origins,
    }))
}

/// The group tree as `ansible-inventory --graph` draws it: `@group:` lines, child groups
/// alphabetically then the group's direct hosts in inventory order, each level indented by
/// `  |`.
pub fn graph(inv: &Inventory) -> String {
    let mut out = String::new();
    draw(inv, ALL, 0, &mut out, &mut Vec::new());
    out
}

fn draw<'a>(
    inv: &'a Inventory,
    group: &'a str,
    depth: usize,
    out: &mut String,
    path: &mut Vec<&'a str>,
) {
    let Some(g) = inv.group(group) else { return };
    out.push_str(&indent(depth));
    out.push('@');
    out.push_str(group);
    out.push_str(":\n");
    // Groups are acyclic once an inventory is built; the path check is belt and braces.
    if path.contains(&group) {
        return;
    }
    path.push(group);
    let mut children: Vec<&String> = g.children.iter().collect();
    children.sort();
    for c in children {
        draw(inv, c, depth + 1, out, path);
    }
    if group != ALL {
        let order = |n: &str| {
            inv.hosts
                .iter()
                .position(|h| h.name == n)
                .unwrap_or(usize::MAX)
        };
        let mut hosts: Vec<&String> = g.hosts.iter().collect();
        hosts.sort_by_key(|h| order(h));
        for h in hosts {
            out.push_str(&indent(depth + 1));
            out.push_str(h);
            out.push('\n');
        }
    }
    path.pop();
}

fn indent(depth: usize) -> String {
    if depth == 0 {
        String::new()
    } else {
        format!("{}--", "  |".repeat(depth))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use pretty_assertions::assert_eq;

    use super::*;
    use crate::inventory::parse;

    fn inv() -> Inventory {
        parse(
            Path::new("inv/prod.toml"),
            "[defaults]\nuser = \"root\"\n[vars]\ntz = \"UTC\"\n[hosts.h1]\naddress = \"10.0.0.1\"\nvars = { rack = 1 }\n[hosts.h2]\n[hosts.h3]\n[groups.lab]\nhosts = [\"h1\", \"h2\"]\nchildren = [\"web\"]\n[groups.web]\nhosts = [\"h2\"]\nbastion = \"h3\"\n",
        )
        .unwrap()
    }

    #[test]
    fn graph_like_ansible() {
        assert_eq!(
            graph(&inv()),
            "@all:\n  |--@lab:\n  |  |--@web:\n  |  |  |--h2\n  |  |--h1\n  |  |--h2\n  |--@ungrouped:\n  |  |--h3\n"
        );
    }

    #[test]
    fn list_like_ansible() {
        assert_eq!(
            list_json(&inv()),
            json!({
                "_meta": {"hostvars": {
                    "h1": {"tz": "UTC", "rack": 1, "ansible_host": "10.0.0.1", "ansible_user": "root"},
                    "h2": {"tz": "UTC", "ansible_user": "root", "ansible_ssh_common_args": "-o ProxyJump=h3"},
                    "h3": {"tz": "UTC", "ansible_user": "root"},
                }},
                "all": {"children": ["ungrouped", "lab"]},
                "lab": {"hosts": ["h1", "h2"], "children": ["web"]},
                "web": {"hosts": ["h2"]},
                "ungrouped": {"hosts": ["h3"]},
            })
        );
    }

    #[test]
    fn one_host_with_origins() {
        let j = host_json(&inv(), "h1").unwrap();
        assert_eq!(
            j["connection"],
            json!({"address": "10.0.0.1", "user": "root"})
        );
        assert_eq!(j["groups"], json!(["all", "lab"]));
        assert_eq!(j["vars"], json!({"tz": "UTC", "rack": 1}));
        assert_eq!(j["origins"]["connection.user"], json!("inv/prod.toml:2:8"));
        assert_eq!(j["origins"]["vars.rack"], json!("inv/prod.toml:7:17"));
        assert!(host_json(&inv(), "nope").is_none());
    }
}
