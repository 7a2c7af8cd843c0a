//! Variables with provenance: every value knows the `file:line:col` that set it, through every
//! merge, so a role's configuration error points at the line to fix.
//!
//! A [`Layer`] is one source of variables (a file's `[vars]`, a group, a host, one `-e`): a JSON
//! object plus an origin map from dotted paths (`sshd.port`, `allow_users[1]`) to locations.
//! Layers deep-merge: objects merge key by key, recursively; anything else (scalars, lists)
//! replaces what was there, and the origins of the replaced subtree go with it.
//!
//! **Precedence**, lowest first (later layers win; the same list is in `docs/variables.md`):
//!
//! 1. role defaults: applied by the role itself through serde defaults, never merged here;
//! 2. the site's `[roles.NAME]` settings (as the variable `NAME`);
//! 3. inventory vars of the `all` group (`[vars]` in TOML, `[all:vars]`, `all: vars:`);
//! 4. group vars, groups sorted as Ansible does: by depth (parents before children), then by
//!    name (siblings alphabetically); inline inventory vars of every group come before the
//!    `group_vars/` files of every group, as in Ansible;
//! 5. host vars: inline in the inventory, then `host_vars/` files;
//! 6. extra vars (`-e`), in command-line order.
//!
//! Steps 3 to 5 are merged once when the inventory is built ([`crate::inventory::Host::vars`]);
//! [`resolve_host`] stacks the site below and the extra vars above.
//!
//! A variable named like a role (`sshd = { port = 2222 }`) is that role's configuration
//! override: [`role_config`] takes it from the resolved object, and [`config_error_to_input`]
//! turns the role's [`ConfigError`] into an [`InputError`] at the place the bad key was set.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{InputError, Location, did_you_mean};
use crate::inventory::Host;
use crate::inventory::node::{self, Kind, Node};
use crate::role::ConfigError;
use crate::site::Site;

/// One source of variables: an object and where each key in it (nested too) was set.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// Always a JSON object.
    pub value: Value,
    /// Dotted path (`a.b`, `list[0]`) to the location that set it. The empty path, when present,
    /// is the file the layer came from.
    pub origins: BTreeMap<String, Location>,
}

impl Default for Layer {
    fn default() -> Self {
        Layer {
            value: Value::Object(Map::new()),
            origins: BTreeMap::new(),
        }
    }
}

impl Layer {
    /// An empty layer.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when the layer sets nothing.
    pub fn is_empty(&self) -> bool {
        self.value.as_object().is_none_or(Map::is_empty)
    }

    /// A top-level variable.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.value.as_object().and_then(|m| m.get(key))
    }

    /// Where a path was set, exactly (no fallback; see [`Resolved::locate`]).
    pub fn origin(&self, path: &str) -> Option<&Location> {
        self.origins.get(path)
    }

    /// Sets a value at a path of object keys, creating (or replacing non-object) parents, and
    /// records `at` as the origin of the path, its parents and everything inside the value.
    pub fn set(&mut self, path: &[&str], value: Value, at: Location) {
        if path.is_empty() {
            return;
        }
        let mut over = Layer::new();
        let mut nested = value;
        for (i, key) in path.iter().enumerate().rev() {
            let p = path[..=i].join(".");
            if i == path.len() - 1 {
                record_all(&nested, &p, &at, &mut over.origins);
            } else {
                over.origins.insert(p, at.clone());
            }
            let mut m = Map::new();
            m.insert((*key).to_owned(), nested);
            nested = Value::Object(m);
        }
        over.value = nested;
        self.merge(&over);
    }

    /// Removes a top-level variable with its origins, returning the value and where it was set.
    pub fn remove(&mut self, key: &str) -> Option<(Value, Option<Location>)> {
        let value = self.value.as_object_mut()?.remove(key)?;
        let at = self.origins.get(key).cloned();
        remove_subtree(&mut self.origins, key);
        Some((value, at))
    }

    /// Deep-merges `over` on top of this layer (see the module doc).
    pub fn merge(&mut self, over: &Layer) {
        if !self.value.is_object() {
            self.value = Value::Object(Map::new());
        }
        if let (Value::Object(base), Value::Object(top)) = (&mut self.value, &over.value) {
            merge_object(base, top, "", &mut self.origins, &over.origins);
        }
        // The root origin is the lowest layer's file: the fallback for errors nobody set.
        if !self.origins.contains_key("")
            && let Some(root) = over.origins.get("")
        {
            self.origins.insert(String::new(), root.clone());
        }
    }

    /// This layer nested under one key: `{key: self}`, origins prefixed.
    pub fn nested_under(&self, key: &str, at: Location) -> Layer {
        let mut m = Map::new();
        m.insert(key.to_owned(), self.value.clone());
        let mut origins: BTreeMap<String, Location> = self
            .origins
            .iter()
            .filter(|(p, _)| !p.is_empty())
            .map(|(p, l)| (join(key, p), l.clone()))
            .collect();
        origins.insert(key.to_owned(), at);
        if let Some(root) = self.origins.get("") {
            origins.insert(String::new(), root.clone());
        }
        Layer {
            value: Value::Object(m),
            origins,
        }
    }

    /// A layer from a parsed mapping; `~` or an empty document is an empty layer.
    pub(crate) fn from_node(n: &Node, what: &str) -> Result<Layer, InputError> {
        let entries = n.entries(what)?;
        let mut layer = Layer::new();
        let mut map = Map::new();
        for e in entries {
            let p = e.key.clone();
            record_node(&e.value, &p, &e.key_at, &mut layer.origins);
            map.insert(e.key.clone(), e.value.to_json());
        }
        layer.value = Value::Object(map);
        layer
            .origins
            .insert(String::new(), Location::file(n.at.file.clone()));
        Ok(layer)
    }
}

/// A path inside a value: `prefix.key`, or `key` at the root.
pub fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// The parent of a path (`a.b[2]` → `a.b` → `a` → ``), `None` for the root.
fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    let cut = path.rfind(['.', '[']).unwrap_or(0);
    Some(&path[..cut])
}

fn is_in_subtree(key: &str, root: &str) -> bool {
    key.strip_prefix(root)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.') || rest.starts_with('['))
}

fn subtree_keys(origins: &BTreeMap<String, Location>, root: &str) -> Vec<String> {
    origins
        .range::<str, _>((std::ops::Bound::Included(root), std::ops::Bound::Unbounded))
        .take_while(|(k, _)| k.starts_with(root))
        .filter(|(k, _)| is_in_subtree(k, root))
        .map(|(k, _)| k.clone())
        .collect()
}

fn remove_subtree(origins: &mut BTreeMap<String, Location>, root: &str) {
    for k in subtree_keys(origins, root) {
        origins.remove(&k);
    }
}

fn copy_subtree(
    from: &BTreeMap<String, Location>,
    root: &str,
    to: &mut BTreeMap<String, Location>,
) {
    for (k, l) in from
        .range::<str, _>((std::ops::Bound::Included(root), std::ops::Bound::Unbounded))
        .take_while(|(k, _)| k.starts_with(root))
    {
        if is_in_subtree(k, root) {
            to.insert(k.clone(), l.clone());
        }
    }
}

fn merge_object(
    base: &mut Map<String, Value>,
    over: &Map<String, Value>,
    path: &str,
    base_origins: &mut BTreeMap<String, Location>,
    over_origins: &BTreeMap<String, Location>,
) {
    for (k, ov) in over {
        let p = join(path, k);
        match (base.get_mut(k), ov) {
            (Some(Value::Object(b)), Value::Object(o)) => {
                if let Some(at) = over_origins.get(&p) {
                    base_origins.insert(p.clone(), at.clone());
                }
                merge_object(b, o, &p, base_origins, over_origins);
            }
            (slot, _) => {
                match slot {
                    Some(b) => *b = ov.clone(),
                    None => {
                        base.insert(k.clone(), ov.clone());
                    }
                }
                remove_subtree(base_origins, &p);
                copy_subtree(over_origins, &p, base_origins);
            }
        }
    }
}

/// Records origins for a parsed value at `path`: tables and lists by their key, scalars by the
/// value itself (a type error is best shown at the value; a table's at its name).
fn record_node(n: &Node, path: &str, key_at: &Location, origins: &mut BTreeMap<String, Location>) {
    match &n.kind {
        Kind::Map(entries) => {
            origins.insert(path.to_owned(), key_at.clone());
            for e in entries {
                record_node(&e.value, &join(path, &e.key), &e.key_at, origins);
            }
        }
        Kind::Seq(items) => {
            origins.insert(path.to_owned(), key_at.clone());
            for (i, item) in items.iter().enumerate() {
                record_node(item, &format!("{path}[{i}]"), &item.at, origins);
            }
        }
        _ => {
            origins.insert(path.to_owned(), n.at.clone());
        }
    }
}

/// Records one location for a value and everything inside it.
fn record_all(v: &Value, path: &str, at: &Location, origins: &mut BTreeMap<String, Location>) {
    origins.insert(path.to_owned(), at.clone());
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                record_all(v, &join(path, k), at, origins);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                record_all(v, &format!("{path}[{i}]"), at, origins);
            }
        }
        _ => {}
    }
}

/// The merge of a stack of layers: the value every consumer reads, and where each part of it
/// came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    /// The merged object.
    pub value: Value,
    /// Dotted path to the location of the layer that set it last.
    pub origins: BTreeMap<String, Location>,
}

impl Resolved {
    /// Where a path was set, falling back to the nearest parent that was (and finally to the
    /// lowest layer's file).
    pub fn locate(&self, path: &str) -> Option<&Location> {
        let mut p = Some(path);
        while let Some(cur) = p {
            if let Some(at) = self.origins.get(cur) {
                return Some(at);
            }
            p = parent(cur);
        }
        None
    }

    /// A top-level variable.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.value.get(key)
    }
}

impl From<Layer> for Resolved {
    fn from(l: Layer) -> Self {
        Resolved {
            value: l.value,
            origins: l.origins,
        }
    }
}

/// Merges layers, lowest precedence first.
pub fn resolve<'a>(layers: impl IntoIterator<Item = &'a Layer>) -> Resolved {
    let mut acc = Layer::new();
    for l in layers {
        acc.merge(l);
    }
    acc.into()
}

/// A host's variables for a run: the site's role settings, then the host's inventory vars
/// (already all < groups < host), then the extra vars.
pub fn resolve_host(site: &Site, host: &Host, extra: &Layer) -> Resolved {
    let roles = site.roles_layer();
    resolve([&roles, &host.vars, extra])
}

/// The configuration value of `role` for a host: the resolved variable named like the role, or
/// an empty object (all defaults) when nothing sets it.
pub fn role_config(resolved: &Resolved, role: &str) -> Value {
    resolved
        .value
        .get(role)
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()))
}

/// Turns a role's configuration error into an error at the `file:line:col` where the offending
/// key (or its nearest parent) was set, with a "did you mean" or the accepted fields.
pub fn config_error_to_input(err: &ConfigError, role: &str, resolved: &Resolved) -> InputError {
    let path = if err.path.is_empty() {
        role.to_owned()
    } else {
        format!("{role}.{}", err.path)
    };
    let mut at_path = path.clone();
    if let Some(field) = &err.unknown_field {
        // serde_path_to_error may or may not put the unknown key in the path.
        if !path.ends_with(&format!(".{field}")) {
            at_path = join(&path, field);
        }
    }
    let at = resolved
        .locate(&at_path)
        .cloned()
        .unwrap_or_else(|| Location::file(format!("<settings of role {role}>")));
    match &err.unknown_field {
        Some(field) => {
            let within = parent(&at_path).unwrap_or(role);
            let e = InputError::new(at, format!("unknown setting `{field}` in `{within}`"));
            let accepted: Vec<&str> = err.expected.iter().map(String::as_str).collect();
            match did_you_mean(field, accepted.iter().copied()) {
                Some(s) => e.with_hint(format!("did you mean `{s}`?")),
                None if !accepted.is_empty() => {
                    e.with_hint(format!("`{within}` accepts: {}", accepted.join(", ")))
                }
                None => e,
            }
        }
        None => InputError::new(at, format!("invalid setting `{path}`: {}", err.message)),
    }
}

/// Parses one `-e` argument that is not `@file`: `key=value`, `a.b.c=value` (nested objects) or
/// a JSON object. The value is a TOML value when it parses as one (`22`, `true`, `["a","b"]`,
/// `"quoted"`), else the text as a string. `index` is the 1-based position of the `-e`.
pub fn parse_extra(arg: &str, index: usize) -> Result<Layer, InputError> {
    let label = extra_label(index);
    let at = Location::file(&label);
    if arg.starts_with('@') {
        return Err(InputError::new(
            at,
            format!("`{arg}` names a file; files are read by the loader"),
        )
        .with_hint("use load_extra, which reads @file arguments"));
    }
    if arg.trim_start().starts_with('{') {
        let value: Value = serde_json::from_str(arg)
            .map_err(|e| InputError::new(at.clone(), format!("invalid JSON in -e: {e}")))?;
        let Value::Object(m) = value else {
            return Err(InputError::new(at, "-e JSON must be an object"));
        };
        let mut layer = Layer::new();
        for (k, v) in m {
            layer.set(&[k.as_str()], v, at.clone());
        }
        layer.origins.insert(String::new(), at);
        return Ok(layer);
    }
    let Some((key, text)) = arg.split_once('=') else {
        return Err(
            InputError::new(at, format!("`{arg}` is not key=value")).with_hint(
                "write -e key=value, -e sshd.port=2222, -e @vars.yml or -e '{\"key\": 1}'",
            ),
        );
    };
    let path: Vec<&str> = key.trim().split('.').collect();
    if path
        .iter()
        .any(|s| s.is_empty() || s.chars().any(char::is_whitespace))
    {
        return Err(
            InputError::new(at, format!("`{key}` is not a variable name"))
                .with_hint("names are dot-separated words, like sshd.port"),
        );
    }
    let value = node::parse_toml_value(Path::new(&label), text)
        .map_or_else(|| Value::String(text.to_owned()), |n| n.to_json());
    let mut layer = Layer::new();
    layer.set(&path, value, at.clone());
    layer.origins.insert(String::new(), at);
    Ok(layer)
}

/// The file name that `-e` number `index` has in error messages.
pub fn extra_label(index: usize) -> String {
    format!("<command line -e #{index}>")
}

/// Parses a variables file (`group_vars/web.yml`, `-e @vars.toml`) by its extension: `.toml`,
/// `.json`, anything else YAML. The document must be a mapping.
pub fn parse_vars_file(path: &Path, text: &str) -> Result<Layer, InputError> {
    if text.trim_start().starts_with("$ANSIBLE_VAULT") {
        return Err(InputError::in_file(path, "this file is encrypted with ansible-vault, which rampart cannot read")
            .with_hint("decrypt it (ansible-vault decrypt) and keep secrets in the site's age-encrypted secrets file"));
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let n = match ext.as_str() {
        "toml" => node::parse_toml(path, text)?,
        "json" => node::parse_json(path, text)?,
        _ => node::parse_yaml(path, text)?,
    };
    Layer::from_node(&n, "a variables file")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn layer(file: &str, toml: &str) -> Layer {
        parse_vars_file(Path::new(file), toml).unwrap()
    }

    #[test]
    fn deep_merge_and_origins() {
        let mut base = layer(
            "a.toml",
            "tz = \"UTC\"\n[sshd]\nport = 22\nallow_users = [\"a\"]\n",
        );
        let over = layer(
            "b.toml",
            "[sshd]\nallow_users = [\"b\", \"c\"]\npassword = false\n",
        );
        base.merge(&over);
        assert_eq!(
            base.value,
            json!({"tz": "UTC", "sshd": {"port": 22, "allow_users": ["b", "c"], "password": false}})
        );
        let r = Resolved::from(base);
        assert_eq!(r.locate("sshd.port").unwrap().to_string(), "a.toml:3:8");
        assert_eq!(
            r.locate("sshd.allow_users").unwrap().to_string(),
            "b.toml:2:1"
        );
        assert_eq!(
            r.locate("sshd.allow_users[1]").unwrap().to_string(),
            "b.toml:2:21"
        );
        assert_eq!(
            r.locate("sshd.password").unwrap().to_string(),
            "b.toml:3:12"
        );
        // Unknown paths fall back to their nearest parent, then to the lowest file.
        assert_eq!(r.locate("sshd.prot").unwrap().to_string(), "b.toml:1:2");
        assert_eq!(r.locate("nothing").unwrap().to_string(), "a.toml");
    }

    #[test]
    fn scalars_replace_objects_and_drop_their_origins() {
        let mut base = layer("a.toml", "[x]\ny = 1\n");
        base.merge(&layer("b.toml", "x = 5\n"));
        assert_eq!(base.value, json!({"x": 5}));
        assert!(!base.origins.contains_key("x.y"));
        base.merge(&layer("c.toml", "[x]\nz = 2\n"));
        assert_eq!(base.value, json!({"x": {"z": 2}}));
    }

    #[test]
    fn set_creates_nested_objects() {
        let mut l = layer("a.toml", "[sshd]\nport = 22\nx = 1\n");
        l.set(&["sshd", "port"], json!(2222), Location::file("cli"));
        assert_eq!(l.value, json!({"sshd": {"port": 2222, "x": 1}}));
        assert_eq!(l.origin("sshd.port").unwrap().to_string(), "cli");
        assert_eq!(l.origin("sshd.x").unwrap().to_string(), "a.toml:3:5");
    }

    fn check(input: &str, expected: Result<Value, &str>) {
        let got = parse_extra(input, 1)
            .map(|l| l.value)
            .map_err(|e| e.to_string());
        match expected {
            Ok(v) => assert_eq!(got, Ok(v), "input {input:?}"),
            Err(prefix) => {
                let e = got.expect_err(input);
                assert!(e.starts_with(prefix), "input {input:?}: {e}");
            }
        }
    }

    #[test]
    fn extra_vars() {
        for (input, expected) in [
            ("port=22", Ok(json!({"port": 22}))),
            ("sshd.port=2222", Ok(json!({"sshd": {"port": 2222}}))),
            ("flag=true", Ok(json!({"flag": true}))),
            ("users=[\"a\",\"b\"]", Ok(json!({"users": ["a", "b"]}))),
            ("q=\"22\"", Ok(json!({"q": "22"}))),
            ("tz=Europe/Paris", Ok(json!({"tz": "Europe/Paris"}))),
            ("net=10.0.0.0/8", Ok(json!({"net": "10.0.0.0/8"}))),
            ("msg=hello world", Ok(json!({"msg": "hello world"}))),
            ("empty=", Ok(json!({"empty": ""}))),
            ("eq=a=b", Ok(json!({"eq": "a=b"}))),
            ("t={ a = 1 }", Ok(json!({"t": {"a": 1}}))),
            ("{\"a\": {\"b\": 1}}", Ok(json!({"a": {"b": 1}}))),
            (
                "noequals",
                Err("<command line -e #1>: `noequals` is not key=value"),
            ),
            (
                "a..b=1",
                Err("<command line -e #1>: `a..b` is not a variable name"),
            ),
            ("=1", Err("<command line -e #1>: `` is not a variable name")),
            ("[1]", Err("<command line -e #1>: `[1]` is not key=value")),
            ("{\"a\": ", Err("<command line -e #1>: invalid JSON in -e")),
            (
                "@vars.yml",
                Err("<command line -e #1>: `@vars.yml` names a file"),
            ),
        ] {
            check(input, expected);
        }
        let l = parse_extra("sshd.port=2222", 3).unwrap();
        assert_eq!(
            l.origin("sshd.port").unwrap().to_string(),
            "<command line -e #3>"
        );
    }

    #[test]
    fn extra_vars_override_only_their_key() {
        let base = layer("inv.toml", "[sshd]\nport = 22\nallow_users = [\"a\"]\n");
        let extra = parse_extra("sshd.port=2222", 1).unwrap();
        let r = resolve([&base, &extra]);
        assert_eq!(
            r.value,
            json!({"sshd": {"port": 2222, "allow_users": ["a"]}})
        );
        assert_eq!(
            r.locate("sshd.port").unwrap().to_string(),
            "<command line -e #1>"
        );
        assert_eq!(
            r.locate("sshd.allow_users").unwrap().to_string(),
            "inv.toml:3:1"
        );
    }

    #[test]
    fn vars_files_by_extension() {
        let y =
            parse_vars_file(Path::new("g/web.yml"), "tier: front\nsshd:\n  port: 2222\n").unwrap();
        assert_eq!(y.value, json!({"tier": "front", "sshd": {"port": 2222}}));
        assert_eq!(y.origin("sshd.port").unwrap().to_string(), "g/web.yml:3:9");
        let j = parse_vars_file(Path::new("g/web.json"), "{\"tier\": \"front\"}").unwrap();
        assert_eq!(j.value, json!({"tier": "front"}));
        let empty = parse_vars_file(Path::new("g/web.yml"), "---\n").unwrap();
        assert!(empty.is_empty());
        let e = parse_vars_file(Path::new("g/web.yml"), "- a\n- b\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "g/web.yml:1:1: a variables file must be a table, not a list"
        );
        let e = parse_vars_file(Path::new("g/web.yml"), "$ANSIBLE_VAULT;1.1;AES256\n6162\n")
            .unwrap_err();
        assert!(e.message.contains("ansible-vault"), "{e}");
    }

    fn sshd_config_error(value: Value) -> ConfigError {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Sshd {
            #[serde(default)]
            port: u16,
            #[serde(default)]
            allow_users: Vec<String>,
        }
        crate::role::configure_typed::<Sshd>(value).unwrap_err()
    }

    #[test]
    fn config_errors_point_at_the_key() {
        let site = layer("site.toml", "[sshd]\nallow_users = [\"a\"]\n")
            .nested_under("sshd", Location::at("site.toml", 1, 1));
        let host = layer("host_vars/h1.yml", "sshd:\n  prot: 2222\n");
        let r = resolve([&site, &host]);
        let err = sshd_config_error(role_config(&r, "sshd"));
        let e = config_error_to_input(&err, "sshd", &r);
        assert_eq!(
            e.to_string(),
            "host_vars/h1.yml:2:9: unknown setting `prot` in `sshd`\n  hint: did you mean `port`?"
        );

        let host = layer("host_vars/h1.yml", "sshd:\n  port: \"x\"\n");
        let r = resolve([&site, &host]);
        let err = sshd_config_error(role_config(&r, "sshd"));
        let e = config_error_to_input(&err, "sshd", &r);
        assert!(
            e.to_string()
                .starts_with("host_vars/h1.yml:2:9: invalid setting `sshd.port`: invalid type"),
            "{e}"
        );

        let host = layer("host_vars/h1.yml", "sshd:\n  allow_users: [a, 3]\n");
        let r = resolve([&site, &host]);
        let err = sshd_config_error(role_config(&r, "sshd"));
        let e = config_error_to_input(&err, "sshd", &r);
        assert!(
            e.to_string()
                .starts_with("host_vars/h1.yml:2:20: invalid setting `sshd.allow_users[1]`"),
            "{e}"
        );

        let host = layer("host_vars/h1.yml", "sshd:\n  zzzzzzzzzz: 1\n");
        let r = resolve([&site, &host]);
        let err = sshd_config_error(role_config(&r, "sshd"));
        let e = config_error_to_input(&err, "sshd", &r);
        assert_eq!(e.hint.as_deref(), Some("`sshd` accepts: port, allow_users"));
    }
}
