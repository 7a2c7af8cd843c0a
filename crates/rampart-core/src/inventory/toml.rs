//! rampart's TOML inventory format:
//!
//! ```toml
//! [defaults]            # connection settings of every host (also allowed in groups and hosts)
//! user = "root"
//! identity_file = "/var/tmp/rampart-lab/id_lab"   # a path or a list of paths
//! [vars]                # variables of the `all` group
//! timezone = "UTC"
//! [hosts.h1]
//! address = "10.213.1.2"
//! vars = { sshd = { port = 2222 } }
//! [groups.web]
//! hosts = ["h1", "h2"]  # ranges like "h[1:4]" work too
//! children = ["db"]
//! vars = { tier = "front" }
//! ```
//!
//! Every key is checked; an unknown one is an error at its position with a "did you mean".
//! Groups may only list hosts defined under `[hosts]` and groups defined under `[groups]`.

use std::path::Path;

use super::conn::{self, ConnSpec, RAMPART_KEYS};
use super::node::{self, Entry, Node, unknown_key};
use super::{ALL, Draft, check_group_name, check_host_name, range};
use crate::error::{InputError, Location, did_you_mean};
use crate::vars::Layer;

const TOP_KEYS: &[&str] = &["defaults", "vars", "hosts", "groups"];

pub(crate) fn parse(path: &Path, text: &str) -> Result<Draft, InputError> {
    let root = node::parse_toml(path, text)?;
    let base = super::base_dir(path);
    let mut d = Draft::new(&base);
    let file_at = Location::file(path);
    d.group_mut(ALL, &file_at);
    let mut warnings = Vec::new();

    let mut groups: Vec<&Entry> = Vec::new();
    for e in root.entries("the inventory")? {
        match e.key.as_str() {
            "defaults" => {
                let mut c = ConnSpec::default();
                for k in e.value.entries("[defaults]")? {
                    match conn::rampart_key(&k.key) {
                        Some(key) => apply(&mut c, key, k, &base, &mut warnings)?,
                        None => return Err(unknown_conn_key(k, "in [defaults]", RAMPART_KEYS)),
                    }
                }
                d.group_mut(ALL, &e.key_at).conn.overlay(&c);
            }
            "vars" => {
                let layer = Layer::from_node(&e.value, "[vars]")?;
                d.group_mut(ALL, &e.key_at).vars.merge(&layer);
            }
            "hosts" => {
                for h in e.value.entries("[hosts]")? {
                    let (c, vars) = scope(
                        &h.value,
                        &format!("in host `{}`", h.key),
                        &format!("host `{}`", h.key),
                        &[],
                        &base,
                        &mut warnings,
                    )?
                    .into();
                    for name in expand(&h.key, &h.key_at)? {
                        if d.has_host(&name) {
                            return Err(InputError::new(
                                h.key_at.clone(),
                                format!("host `{name}` is defined twice"),
                            )
                            .with_hint("a range overlaps another host; define each host once"));
                        }
                        let host = d.host_mut(&name, &h.key_at);
                        host.conn = c.clone();
                        host.vars = vars.clone();
                    }
                }
            }
            "groups" => groups.extend(e.value.entries("[groups]")?),
            _ => return Err(unknown_key(e, "at the top of the inventory", TOP_KEYS)),
        }
    }

    // Groups after hosts, whatever the order in the file: they refer to hosts by name.
    let group_names: Vec<&str> = groups.iter().map(|g| g.key.as_str()).collect();
    for g in &groups {
        let name = g.key.as_str();
        if name == ALL {
            return Err(InputError::new(
                g.key_at.clone(),
                "`all` cannot be defined under [groups]",
            )
            .with_hint("put its connection settings in [defaults] and its variables in [vars]"));
        }
        check_group_name(name, &g.key_at)?;
        let parts = scope(
            &g.value,
            &format!("in group `{name}`"),
            &format!("group `{name}`"),
            &["hosts", "children"],
            &base,
            &mut warnings,
        )?;
        {
            let group = d.group_mut(name, &g.key_at);
            group.conn = parts.conn;
            group.vars = parts.vars;
        }
        if let Some(hosts) = parts.hosts {
            for (pattern, at) in hosts.strict_str_list(&format!("`hosts` of group `{name}`"))? {
                for host in expand(&pattern, &at)? {
                    if !d.has_host(&host) {
                        let known: Vec<&str> = d.host_names().collect();
                        let e = InputError::new(
                            at.clone(),
                            format!("group `{name}` lists unknown host `{host}`"),
                        );
                        return Err(match did_you_mean(&host, known) {
                            Some(s) => e.with_hint(format!("did you mean `{s}`?")),
                            None => e.with_hint(format!("define it in a [hosts.{host}] table")),
                        });
                    }
                    d.add_member(name, &host, &at);
                }
            }
        }
        if let Some(children) = parts.children {
            for (child, at) in children.strict_str_list(&format!("`children` of group `{name}`"))? {
                if !group_names.contains(&child.as_str()) {
                    let e = InputError::new(
                        at.clone(),
                        format!("group `{name}` lists unknown child group `{child}`"),
                    );
                    return Err(match did_you_mean(&child, group_names.iter().copied()) {
                        Some(s) => e.with_hint(format!("did you mean `{s}`?")),
                        None => e.with_hint(format!("define it in a [groups.{child}] table")),
                    });
                }
                d.add_child(name, &child, &at);
            }
        }
    }
    d.warnings.extend(warnings);
    Ok(d)
}

/// The settings of one host or group table.
struct Scope<'a> {
    conn: ConnSpec,
    vars: Layer,
    hosts: Option<&'a Node>,
    children: Option<&'a Node>,
}

impl From<Scope<'_>> for (ConnSpec, Layer) {
    fn from(s: Scope<'_>) -> Self {
        (s.conn, s.vars)
    }
}

fn scope<'a>(
    n: &'a Node,
    context: &str,
    what: &str,
    extra_keys: &[&str],
    base: &Path,
    warnings: &mut Vec<InputError>,
) -> Result<Scope<'a>, InputError> {
    let mut s = Scope {
        conn: ConnSpec::default(),
        vars: Layer::new(),
        hosts: None,
        children: None,
    };
    let allowed: Vec<&str> = RAMPART_KEYS
        .iter()
        .copied()
        .chain(["vars"])
        .chain(extra_keys.iter().copied())
        .collect();
    for k in n.entries(what)? {
        match (k.key.as_str(), conn::rampart_key(&k.key)) {
            (_, Some(key)) => apply(&mut s.conn, key, k, base, warnings)?,
            ("vars", _) => s.vars = Layer::from_node(&k.value, &format!("`vars` of {what}"))?,
            ("hosts", _) if extra_keys.contains(&"hosts") => s.hosts = Some(&k.value),
            ("children", _) if extra_keys.contains(&"children") => s.children = Some(&k.value),
            _ => return Err(unknown_conn_key(k, context, &allowed)),
        }
    }
    Ok(s)
}

fn apply(
    c: &mut ConnSpec,
    key: conn::ConnKey,
    k: &Entry,
    base: &Path,
    warnings: &mut Vec<InputError>,
) -> Result<(), InputError> {
    conn::apply(
        c,
        key,
        &k.key,
        &k.value.to_json(),
        &k.value.at,
        base,
        warnings,
    )
}

fn unknown_conn_key(k: &Entry, context: &str, allowed: &[&str]) -> InputError {
    let e = unknown_key(k, context, allowed);
    if k.key.starts_with("ansible_") && did_you_mean(&k.key, allowed.iter().copied()).is_none() {
        return e.with_hint(format!(
            "Ansible variables go in `vars = {{ {} = ... }}`, or use rampart's keys: {}",
            k.key,
            RAMPART_KEYS.join(", ")
        ));
    }
    e
}

fn expand(pattern: &str, at: &Location) -> Result<Vec<String>, InputError> {
    let names = range::expand(pattern).map_err(|m| InputError::new(at.clone(), m))?;
    for n in &names {
        check_host_name(n, at)?;
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::parse;

    /// Parses and resolves `input`; `expected` is `Ok(summary)` (one line per host: name,
    /// groups, address, port, user) or `Err(error text)`.
    fn check(input: &str, expected: Result<&str, &str>) {
        let got = parse(Path::new("inv/prod.toml"), input)
            .map(|inv| summary(&inv))
            .map_err(|e| e.to_string());
        assert_eq!(
            got.as_deref().map_err(String::as_str),
            expected,
            "input:\n{input}"
        );
    }

    fn summary(inv: &crate::inventory::Inventory) -> String {
        inv.hosts
            .iter()
            .map(|h| {
                format!(
                    "{} [{}] {} {} {} {}",
                    h.name,
                    h.groups.join(","),
                    h.address(),
                    h.conn.port().map_or("-".into(), |p| p.to_string()),
                    h.conn.user().unwrap_or("-"),
                    h.vars.value
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn toml_inventories() {
        for (input, expected) in [
            (
                "[defaults]\nuser = \"root\"\nport = 22\n[vars]\ntz = \"UTC\"\n[hosts.h2]\naddress = \"10.0.0.2\"\n[hosts.h1]\naddress = \"10.0.0.1\"\nport = 2222\nvars = { sshd = { port = 2222 } }\n[groups.web]\nhosts = [\"h1\"]\nuser = \"lab\"\nvars = { tier = \"front\" }\n",
                Ok(
                    "h2 [all,ungrouped] 10.0.0.2 22 root {\"tz\":\"UTC\"}\nh1 [all,web] 10.0.0.1 2222 lab {\"sshd\":{\"port\":2222},\"tier\":\"front\",\"tz\":\"UTC\"}",
                ),
            ),
            (
                "[hosts.\"h[1:2]\"]\n[groups.lab]\nhosts = [\"h[1:2]\"]\nchildren = [\"web\"]\n[groups.web]\nhosts = [\"h2\"]\n",
                Ok("h1 [all,lab] h1 - - {}\nh2 [all,lab,web] h2 - - {}"),
            ),
            (
                "[hosts.h1]\nvars = { ansible_host = \"10.1.1.1\", ansible_port = 2200, x = 1 }\n",
                Ok("h1 [all,ungrouped] 10.1.1.1 2200 - {\"x\":1}"),
            ),
            ("", Ok("")),
            (
                "[hosts.h1]\nadress = \"10.0.0.1\"\n",
                Err(
                    "inv/prod.toml:2:1: unknown key `adress` in host `h1`\n  hint: did you mean `address`?",
                ),
            ),
            (
                "[hosts.h1]\nansible_host = \"x\"\n",
                Err(
                    "inv/prod.toml:2:1: unknown key `ansible_host` in host `h1`\n  hint: Ansible variables go in `vars = { ansible_host = ... }`, or use rampart's keys: address, port, user, identity_file, known_hosts, become, connect_timeout, bastion",
                ),
            ),
            (
                "[defaults]\nprot = 22\n",
                Err(
                    "inv/prod.toml:2:1: unknown key `prot` in [defaults]\n  hint: did you mean `port`?",
                ),
            ),
            (
                "[default]\nport = 22\n",
                Err(
                    "inv/prod.toml:1:2: unknown key `default` at the top of the inventory\n  hint: did you mean `defaults`?",
                ),
            ),
            (
                "[hosts.h1]\n[hosts.h2]\n[groups.web]\nhosts = [\"h1\", \"h9\"]\n",
                Err(
                    "inv/prod.toml:4:16: group `web` lists unknown host `h9`\n  hint: did you mean `h1`?",
                ),
            ),
            (
                "[hosts.h1]\n[groups.web]\nhosts = [\"db1\"]\n",
                Err(
                    "inv/prod.toml:3:10: group `web` lists unknown host `db1`\n  hint: define it in a [hosts.db1] table",
                ),
            ),
            (
                "[hosts.h1]\n[groups.web]\nchildren = [\"dbb\"]\n[groups.db]\n",
                Err(
                    "inv/prod.toml:3:13: group `web` lists unknown child group `dbb`\n  hint: did you mean `db`?",
                ),
            ),
            (
                "[hosts.h1]\n[hosts.h1]\n",
                Err(
                    "inv/prod.toml:2:8: invalid TOML: duplicate key\n  hint: each key may appear once per table; merge the two definitions",
                ),
            ),
            (
                "[hosts.h1]\nport = 70000\n",
                Err("inv/prod.toml:2:8: invalid port 70000: ports are 1 to 65535"),
            ),
            (
                "[hosts.h1]\nport = \"ssh\"\n",
                Err("inv/prod.toml:2:8: invalid port `ssh`: ports are numbers from 1 to 65535"),
            ),
            (
                "[hosts.h1]\nbecome = \"maybe\"\n",
                Err(
                    "inv/prod.toml:2:10: `become` must be true or false, not `maybe`\n  hint: use true/false (yes/no, 1/0 and on/off also work)",
                ),
            ),
            (
                "[hosts.h1]\nuser = 3\n",
                Err("inv/prod.toml:2:8: `user` must be a user name, not a number"),
            ),
            (
                "[hosts]\nh1 = 3\n",
                Err("inv/prod.toml:2:6: host `h1` must be a table, not an integer"),
            ),
            (
                "[groups.web]\nhosts = \"h1\"\n",
                Err(
                    "inv/prod.toml:2:9: `hosts` of group `web` must be a list of strings, not a string",
                ),
            ),
            (
                "[groups.all]\n",
                Err(
                    "inv/prod.toml:1:9: `all` cannot be defined under [groups]\n  hint: put its connection settings in [defaults] and its variables in [vars]",
                ),
            ),
            (
                "[hosts.\"h[1:2]\"]\n[hosts.h2]\n",
                Err(
                    "inv/prod.toml:2:8: host `h2` is defined twice\n  hint: a range overlaps another host; define each host once",
                ),
            ),
            (
                "[hosts.\"a b\"]\n",
                Err(
                    "inv/prod.toml:1:8: `a b` is not a valid host name\n  hint: host names may not contain spaces or any of , * ? [ ] = # nor start with ! & ~ @",
                ),
            ),
        ] {
            check(input, expected);
        }
    }

    #[test]
    fn paths_resolve_against_the_inventory_directory() {
        let inv = parse(
            Path::new("inv/prod.toml"),
            "[defaults]\nidentity_file = [\"keys/a\", \"/abs/b\", \"~/c\"]\nknown_hosts = \"kh\"\n[hosts.h1]\n",
        )
        .unwrap();
        let c = &inv.host("h1").unwrap().conn;
        let files: Vec<_> = c
            .identity_files
            .iter()
            .map(|f| f.value.to_string_lossy().into_owned())
            .collect();
        assert_eq!(files, ["inv/keys/a", "/abs/b", "~/c"]);
        assert_eq!(c.known_hosts.as_ref().unwrap().value, Path::new("inv/kh"));
        assert_eq!(
            c.identity_files[0].location.to_string(),
            "inv/prod.toml:2:17"
        );
    }
}
