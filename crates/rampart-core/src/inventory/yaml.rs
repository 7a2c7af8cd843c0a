//! Ansible's YAML inventory format:
//!
//! ```yaml
//! all:
//!   hosts:
//!     h1: {ansible_host: 10.213.1.2}
//!   vars: {timezone: UTC}
//!   children:
//!     web:
//!       hosts: {h1: ~}
//!       vars: {tier: front}
//!       children: {...}
//! ```
//!
//! Top-level keys are groups (normally just `all`). Host names may be ranges (`web[01:03]`) or
//! `name:port`. A key other than `hosts`, `vars` and `children` in a group is an error at its
//! position with a "did you mean" (Ansible only warns, and so hides typos).

use std::path::Path;

use super::node::{self, Kind, Node, unknown_key};
use super::{ALL, Draft, check_group_name, check_host_name, range};
use crate::error::{InputError, Location};
use crate::vars::Layer;

const GROUP_KEYS: &[&str] = &["hosts", "vars", "children"];

pub(crate) fn parse(path: &Path, text: &str) -> Result<Draft, InputError> {
    let root = node::parse_yaml(path, text)?;
    let mut d = Draft::new(super::base_dir(path));
    let top = root.entries("a YAML inventory").map_err(|e| {
        e.with_hint("a YAML inventory is a mapping of groups: all: {hosts: {...}, children: {...}}")
    })?;
    for e in top {
        group(&mut d, &e.key, &e.key_at, &e.value, None)?;
    }
    Ok(d)
}

fn group(
    d: &mut Draft,
    name: &str,
    at: &Location,
    def: &Node,
    parent: Option<&str>,
) -> Result<(), InputError> {
    check_group_name(name, at)?;
    match parent {
        Some(p) => d.add_child(p, name, at),
        None => {
            d.group_mut(name, at);
        }
    }
    let what = format!("group `{name}`");
    for e in def.entries(&what)? {
        match e.key.as_str() {
            "hosts" => {
                let hosts = match &e.value.kind {
                    Kind::Seq(_) | Kind::Str(_) => {
                        return Err(e.value.wrong_type(&format!("`hosts` of {what}"), "a mapping of host names").with_hint(
                            "write hosts as keys: `hosts: {h1: {ansible_host: 10.0.0.1}, h2: ~}`",
                        ));
                    }
                    _ => e.value.entries(&format!("`hosts` of {what}"))?,
                };
                for h in hosts {
                    let (pattern, port) = range::split_port(&h.key);
                    let names =
                        range::expand(pattern).map_err(|m| InputError::new(h.key_at.clone(), m))?;
                    let mut vars = Layer::from_node(&h.value, &format!("host `{}`", h.key))?;
                    if let Some(p) = port {
                        let port_value = p
                            .parse::<i64>()
                            .map_or_else(|_| p.into(), serde_json::Value::from);
                        vars.set(&["ansible_port"], port_value, h.key_at.clone());
                    }
                    for n in names {
                        check_host_name(&n, &h.key_at)?;
                        d.add_member(name, &n, &h.key_at);
                        d.host_mut(&n, &h.key_at).vars.merge(&vars);
                    }
                }
            }
            "vars" => {
                let layer = Layer::from_node(&e.value, &format!("`vars` of {what}"))?;
                d.group_mut(name, at).vars.merge(&layer);
            }
            "children" => {
                for c in e.value.entries(&format!("`children` of {what}"))? {
                    if c.key == ALL {
                        return Err(InputError::new(
                            c.key_at.clone(),
                            format!("group `{name}` lists `all` as a child"),
                        )
                        .with_hint("every group is already inside `all`"));
                    }
                    group(d, &c.key, &c.key_at, &c.value, Some(name))?;
                }
            }
            _ => return Err(unknown_key(e, &format!("in {what}"), GROUP_KEYS)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::parse;

    /// Parses and resolves `input`; `expected` is `Ok(summary)` (one line per host: name,
    /// groups, address, port, vars) or `Err(error text)`.
    fn check(input: &str, expected: Result<&str, &str>) {
        let got = parse(Path::new("inv/hosts.yml"), input)
            .map(|inv| {
                inv.hosts
                    .iter()
                    .map(|h| {
                        format!(
                            "{} [{}] {} {} {}",
                            h.name,
                            h.groups.join(","),
                            h.address(),
                            h.conn.port().map_or("-".into(), |p| p.to_string()),
                            h.vars.value
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .map_err(|e| e.to_string());
        assert_eq!(
            got.as_deref().map_err(String::as_str),
            expected,
            "input:\n{input}"
        );
    }

    #[test]
    fn yaml_inventories() {
        for (input, expected) in [
            (
                "all:\n  hosts:\n    h1:\n      ansible_host: 10.0.0.1\n    h2:\n  vars:\n    tz: UTC\n  children:\n    web:\n      hosts:\n        h2: {ansible_port: 2222}\n      vars: {tier: front}\n",
                Ok(
                    "h1 [all,ungrouped] 10.0.0.1 - {\"tz\":\"UTC\"}\nh2 [all,web] h2 2222 {\"tier\":\"front\",\"tz\":\"UTC\"}",
                ),
            ),
            (
                "web:\n  hosts:\n    web[01:02]:2200:\n",
                Ok("web01 [all,web] web01 2200 {}\nweb02 [all,web] web02 2200 {}"),
            ),
            (
                "all:\n  children:\n    lab:\n      children:\n        web:\n          hosts: {h1: ~}\n    web:\n      vars: {x: 1}\n",
                Ok("h1 [all,lab,web] h1 - {\"x\":1}"),
            ),
            ("", Ok("")),
            (
                "all:\n  host:\n    h1:\n",
                Err(
                    "inv/hosts.yml:2:3: unknown key `host` in group `all`\n  hint: did you mean `hosts`?",
                ),
            ),
            (
                "all:\n  children:\n    web:\n      hosts:\n        - h1\n",
                Err(
                    "inv/hosts.yml:5:9: `hosts` of group `web` must be a mapping of host names, not a list\n  hint: write hosts as keys: `hosts: {h1: {ansible_host: 10.0.0.1}, h2: ~}`",
                ),
            ),
            (
                "all:\n  hosts:\n    h1:\n      ansible_port: 70000\n",
                Err("inv/hosts.yml:4:21: invalid port 70000: ports are 1 to 65535"),
            ),
            (
                "- h1\n",
                Err(
                    "inv/hosts.yml:1:1: a YAML inventory must be a table, not a list\n  hint: a YAML inventory is a mapping of groups: all: {hosts: {...}, children: {...}}",
                ),
            ),
            (
                "all:\n  hosts:\n    h1:\n    h1:\n",
                Err(
                    "inv/hosts.yml:4:5: invalid YAML: duplicate mapping key: h1\n  hint: each key may appear once per mapping; merge the two definitions",
                ),
            ),
            (
                "all:\n  children:\n    all:\n",
                Err(
                    "inv/hosts.yml:3:5: group `all` lists `all` as a child\n  hint: every group is already inside `all`",
                ),
            ),
        ] {
            check(input, expected);
        }
    }
}
