//! The inventory: which hosts exist, which groups they are in, how to reach each one and which
//! variables it has, parsed from rampart TOML, Ansible INI or Ansible YAML.
//!
//! Parsing is two steps. A format parser ([`parse_toml`], [`parse_ini`], [`parse_yaml`], or
//! [`parse_draft`] choosing by [`Format::detect`]) turns one file into a [`Draft`]: hosts and
//! groups as written. The loader may merge several drafts (a directory inventory) and add
//! `group_vars/` and `host_vars/` files; then [`Draft::finish`] checks the whole (group cycles,
//! connection values), places every host in `all` and, when it has no other group, in
//! `ungrouped`, and computes each host's groups, connection and variables by precedence (see
//! [`crate::vars`]).
//!
//! **Invariant:** everything an [`Inventory`] holds knows where it was written; this module does
//! no IO: file contents come in as `(path, text)`.

pub mod conn;
pub(crate) mod ini;
pub(crate) mod node;
pub mod pattern;
pub(crate) mod range;
pub(crate) mod toml;
pub mod view;
pub(crate) mod yaml;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

pub use conn::{ConnSpec, Jump, Located, parse_jumps};
pub use pattern::HostPattern;
pub use view::{graph, host_json, list_json};

use crate::error::{InputError, Location, did_you_mean};
use crate::vars::Layer;

/// The name of the group every host is in.
pub const ALL: &str = "all";
/// The name of the group of hosts that are in no other group.
pub const UNGROUPED: &str = "ungrouped";

/// Hosts, groups, connection settings and variables, resolved and checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Inventory {
    /// Every host, in the order the inventory first names them.
    pub hosts: Vec<Host>,
    /// Every group by name, `all` and `ungrouped` included.
    pub groups: BTreeMap<String, Group>,
    /// The file or directory the inventory was read from.
    pub source: PathBuf,
    /// Things that are accepted but probably not what the operator meant (a `group_vars` file
    /// for a group that does not exist, a password variable).
    pub warnings: Vec<InputError>,
    index: HashMap<String, usize>,
}

/// One host with everything resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Host {
    /// The inventory name (what patterns, `host_vars/` and reports use).
    pub name: String,
    /// Every group the host is in, directly or through a child group, `all` included, sorted
    /// by precedence (parents before children, then by name): the order its group vars merge.
    pub groups: Vec<String>,
    /// How to reach it, merged by precedence.
    pub conn: ConnSpec,
    /// Its variables: `all` < groups < host (inventory and `*_vars/` files merged, connection
    /// variables taken out). Site role settings and extra vars are stacked by
    /// [`crate::vars::resolve_host`].
    pub vars: Layer,
    /// Where the host was first named.
    pub location: Location,
}

impl Host {
    /// The address to connect to: `address`/`ansible_host` when set, else the inventory name.
    pub fn address(&self) -> &str {
        self.conn.address().unwrap_or(&self.name)
    }

    /// True when the host is in `group`, directly or not.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

/// One group as written, with its own settings merged (inventory and `group_vars/`).
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// The group name.
    pub name: String,
    /// Hosts listed directly in this group, in inventory order.
    pub hosts: Vec<String>,
    /// Child groups, in the order written (`all`'s children are the top-level groups).
    pub children: Vec<String>,
    /// The group's own variables (connection variables taken out).
    pub vars: Layer,
    /// The group's own connection settings.
    pub conn: ConnSpec,
    /// Longest distance from `all` (0 for `all`): the first sort key of group precedence.
    pub depth: usize,
    /// Where the group was first named.
    pub location: Location,
}

impl Inventory {
    /// A host by inventory name.
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.index.get(name).and_then(|&i| self.hosts.get(i))
    }

    /// A group by name.
    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.get(name)
    }

    /// Every host in a group, through child groups too, in inventory order.
    pub fn group_hosts(&self, group: &str) -> Vec<&Host> {
        self.hosts.iter().filter(|h| h.in_group(group)).collect()
    }

    /// Host names in inventory order.
    pub fn host_names(&self) -> impl Iterator<Item = &str> {
        self.hosts.iter().map(|h| h.name.as_str())
    }

    /// The hosts a pattern selects, in inventory order.
    pub fn select(&self, pattern: &HostPattern) -> Vec<&Host> {
        pattern.select(self)
    }
}

/// An inventory file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// rampart's TOML (`[defaults]`, `[hosts.NAME]`, `[groups.NAME]`).
    Toml,
    /// Ansible's YAML inventory (`all: hosts: ... children: ...`).
    Yaml,
    /// Ansible's INI inventory.
    Ini,
}

impl Format {
    /// The format of an inventory file: by extension (`.toml`; `.yml`, `.yaml`, `.json`;
    /// `.ini`), else by content (a YAML document start or a top-level `key:` line is YAML; a
    /// `[defaults]`, `[hosts.x]` or `[groups.x]` table is TOML), else INI.
    pub fn detect(path: &Path, text: &str) -> Format {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("toml") => return Format::Toml,
            Some("yml" | "yaml" | "json") => return Format::Yaml,
            Some("ini") => return Format::Ini,
            _ => {}
        }
        let first = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
            .unwrap_or("");
        if first == "---"
            || first.starts_with('{')
            || (!first.starts_with('[') && first.ends_with(':'))
        {
            return Format::Yaml;
        }
        let is_toml_table = |l: &str| {
            l == "[defaults]"
                || l == "[vars]"
                || l.starts_with("[hosts.")
                || l.starts_with("[groups.")
        };
        if text.lines().map(str::trim).any(is_toml_table) {
            return Format::Toml;
        }
        Format::Ini
    }
}

/// Parses one inventory file of any format into a draft.
pub fn parse_draft(path: &Path, text: &str) -> Result<Draft, InputError> {
    match Format::detect(path, text) {
        Format::Toml => parse_toml(path, text),
        Format::Yaml => parse_yaml(path, text),
        Format::Ini => parse_ini(path, text),
    }
}

/// Parses one inventory file (without `group_vars/` or `host_vars/`) into an inventory.
pub fn parse(path: &Path, text: &str) -> Result<Inventory, InputError> {
    parse_draft(path, text)?.finish(path)
}

/// Parses rampart's TOML inventory format.
pub fn parse_toml(path: &Path, text: &str) -> Result<Draft, InputError> {
    toml::parse(path, text)
}

/// Parses Ansible's INI inventory format.
pub fn parse_ini(path: &Path, text: &str) -> Result<Draft, InputError> {
    ini::parse(path, text)
}

/// Parses Ansible's YAML inventory format.
pub fn parse_yaml(path: &Path, text: &str) -> Result<Draft, InputError> {
    yaml::parse(path, text)
}

/// The directory relative paths in an inventory file are relative to.
pub(crate) fn base_dir(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// An inventory as written, before it is checked and resolved. Built by the format parsers;
/// the loader adds `*_vars/` files and merges directory inventories.
#[derive(Clone, Debug, Default)]
pub struct Draft {
    base_dir: PathBuf,
    hosts: Vec<DraftHost>,
    host_index: HashMap<String, usize>,
    groups: Vec<DraftGroup>,
    group_index: HashMap<String, usize>,
    warnings: Vec<InputError>,
}

#[derive(Clone, Debug)]
pub(crate) struct DraftHost {
    pub name: String,
    pub at: Location,
    pub conn: ConnSpec,
    pub vars: Layer,
    pub file_vars: Layer,
}

#[derive(Clone, Debug)]
pub(crate) struct DraftGroup {
    pub name: String,
    pub at: Location,
    pub hosts: Vec<(String, Location)>,
    pub children: Vec<(String, Location)>,
    pub conn: ConnSpec,
    pub vars: Layer,
    pub file_vars: Layer,
}

impl Draft {
    /// An empty draft whose relative paths resolve against `base_dir`.
    pub fn new(base_dir: impl Into<PathBuf>) -> Self {
        Draft {
            base_dir: base_dir.into(),
            ..Draft::default()
        }
    }

    /// True when a host of that name was written.
    pub fn has_host(&self, name: &str) -> bool {
        self.host_index.contains_key(name)
    }

    /// True when a group of that name was written (`all` and `ungrouped` always exist).
    pub fn has_group(&self, name: &str) -> bool {
        name == ALL || name == UNGROUPED || self.group_index.contains_key(name)
    }

    /// Host names in order.
    pub fn host_names(&self) -> impl Iterator<Item = &str> {
        self.hosts.iter().map(|h| h.name.as_str())
    }

    /// Group names in order of first mention.
    pub fn group_names(&self) -> impl Iterator<Item = &str> {
        self.groups.iter().map(|g| g.name.as_str())
    }

    /// The host, created at `at` when new.
    pub(crate) fn host_mut(&mut self, name: &str, at: &Location) -> &mut DraftHost {
        let i = match self.host_index.get(name) {
            Some(&i) => i,
            None => {
                self.hosts.push(DraftHost {
                    name: name.to_owned(),
                    at: at.clone(),
                    conn: ConnSpec::default(),
                    vars: Layer::new(),
                    file_vars: Layer::new(),
                });
                self.host_index
                    .insert(name.to_owned(), self.hosts.len() - 1);
                self.hosts.len() - 1
            }
        };
        &mut self.hosts[i]
    }

    /// The group, created at `at` when new.
    pub(crate) fn group_mut(&mut self, name: &str, at: &Location) -> &mut DraftGroup {
        let i = match self.group_index.get(name) {
            Some(&i) => i,
            None => {
                self.groups.push(DraftGroup {
                    name: name.to_owned(),
                    at: at.clone(),
                    hosts: Vec::new(),
                    children: Vec::new(),
                    conn: ConnSpec::default(),
                    vars: Layer::new(),
                    file_vars: Layer::new(),
                });
                self.group_index
                    .insert(name.to_owned(), self.groups.len() - 1);
                self.groups.len() - 1
            }
        };
        &mut self.groups[i]
    }

    /// Puts a host (created if new) in a group (created if new).
    pub(crate) fn add_member(&mut self, group: &str, host: &str, at: &Location) {
        self.host_mut(host, at);
        let g = self.group_mut(group, at);
        if !g.hosts.iter().any(|(h, _)| h == host) {
            g.hosts.push((host.to_owned(), at.clone()));
        }
    }

    /// Makes `child` (created if new) a child group of `parent` (created if new).
    pub(crate) fn add_child(&mut self, parent: &str, child: &str, at: &Location) {
        self.group_mut(child, at);
        let g = self.group_mut(parent, at);
        if !g.children.iter().any(|(c, _)| c == child) {
            g.children.push((child.to_owned(), at.clone()));
        }
    }

    /// Adds another file's draft (directory inventories): hosts and groups are united,
    /// settings and variables of the later draft win.
    pub fn merge(&mut self, other: Draft) {
        if self.hosts.is_empty() && self.groups.is_empty() && self.base_dir.as_os_str().is_empty() {
            self.base_dir = other.base_dir.clone();
        }
        for h in other.hosts {
            let mine = self.host_mut(&h.name, &h.at);
            mine.conn.overlay(&h.conn);
            mine.vars.merge(&h.vars);
            mine.file_vars.merge(&h.file_vars);
        }
        for g in other.groups {
            let name = g.name.clone();
            {
                let mine = self.group_mut(&name, &g.at);
                mine.conn.overlay(&g.conn);
                mine.vars.merge(&g.vars);
                mine.file_vars.merge(&g.file_vars);
            }
            for (h, at) in &g.hosts {
                self.add_member(&name, h, at);
            }
            for (c, at) in &g.children {
                self.add_child(&name, c, at);
            }
        }
        self.warnings.extend(other.warnings);
    }

    /// Adds a `group_vars/` file's variables to a group. Files for groups the inventory does
    /// not have are kept out, with a warning: Ansible shares `group_vars/` between inventories.
    pub fn add_group_vars(&mut self, group: &str, vars: Layer) {
        if !self.has_group(group) {
            let at = vars
                .origin("")
                .cloned()
                .unwrap_or_else(|| Location::file("group_vars"));
            let names: Vec<&str> = self.group_names().collect();
            let mut w = InputError::new(
                at,
                format!(
                    "group_vars for `{group}`, which is not a group of this inventory; ignored"
                ),
            );
            if let Some(s) = did_you_mean(group, names) {
                w = w.with_hint(format!("did you mean `{s}`?"));
            }
            self.warnings.push(w);
            return;
        }
        let at = vars
            .origin("")
            .cloned()
            .unwrap_or_else(|| Location::file("group_vars"));
        self.group_mut(group, &at).file_vars.merge(&vars);
    }

    /// Adds a `host_vars/` file's variables to a host; files for unknown hosts are kept out,
    /// with a warning.
    pub fn add_host_vars(&mut self, host: &str, vars: Layer) {
        let at = vars
            .origin("")
            .cloned()
            .unwrap_or_else(|| Location::file("host_vars"));
        let Some(&i) = self.host_index.get(host) else {
            let names: Vec<&str> = self.host_names().collect();
            let mut w = InputError::new(
                at,
                format!("host_vars for `{host}`, which is not a host of this inventory; ignored"),
            );
            if let Some(s) = did_you_mean(host, names) {
                w = w.with_hint(format!("did you mean `{s}`?"));
            }
            self.warnings.push(w);
            return;
        };
        self.hosts[i].file_vars.merge(&vars);
    }

    /// Checks the draft and resolves every host's groups, connection and variables.
    pub fn finish(mut self, source: impl Into<PathBuf>) -> Result<Inventory, InputError> {
        let source = source.into();
        let root_at = Location::file(&source);
        self.group_mut(ALL, &root_at);
        self.group_mut(UNGROUPED, &root_at);

        let mut warnings = std::mem::take(&mut self.warnings);
        let base = self.base_dir.clone();

        // Children: `all` is nobody's child; cycles are errors.
        for g in &self.groups {
            if let Some((_, at)) = g.children.iter().find(|(c, _)| c == ALL) {
                return Err(InputError::new(
                    at.clone(),
                    format!("group `{}` lists `all` as a child", g.name),
                )
                .with_hint("every group is already inside `all`"));
            }
        }
        check_cycles(&self.groups, &self.group_index)?;

        // Top-level groups become children of `all`.
        let mut parents: HashMap<&str, Vec<&str>> = HashMap::new();
        for g in &self.groups {
            for (c, _) in &g.children {
                parents.entry(c.as_str()).or_default().push(g.name.as_str());
            }
        }
        // `ungrouped` first, as Ansible lists it.
        let mut top: Vec<String> = vec![UNGROUPED.to_owned()];
        top.extend(
            self.groups
                .iter()
                .filter(|g| g.name != ALL && g.name != UNGROUPED)
                // Listed under `all` (YAML's `all: children:`) or under nothing: top level.
                .filter(|g| {
                    parents
                        .get(g.name.as_str())
                        .is_none_or(|ps| ps.iter().all(|p| *p == ALL))
                })
                .map(|g| g.name.clone()),
        );
        let mut depth: HashMap<String, usize> = HashMap::new();
        for g in &self.groups {
            group_depth(&g.name, &parents, &mut depth);
        }

        // Direct memberships, then `ungrouped` for hosts in no real group.
        let mut direct: HashMap<&str, Vec<&str>> = HashMap::new();
        for g in &self.groups {
            if g.name == ALL {
                continue;
            }
            for (h, _) in &g.hosts {
                direct.entry(h.as_str()).or_default().push(g.name.as_str());
            }
        }
        let mut ungrouped: Vec<String> = Vec::new();
        for h in &self.hosts {
            let real = direct
                .get(h.name.as_str())
                .is_some_and(|gs| gs.iter().any(|g| *g != UNGROUPED));
            if !real {
                ungrouped.push(h.name.clone());
            }
        }

        // Connection settings and vars of each scope, connection variables taken out.
        let mut group_parts: HashMap<String, ScopeParts> = HashMap::new();
        for g in &self.groups {
            group_parts.insert(
                g.name.clone(),
                ScopeParts::new(&g.conn, &g.vars, &g.file_vars, &base, &mut warnings)?,
            );
        }

        let mut groups = BTreeMap::new();
        for g in &self.groups {
            let parts = &group_parts[&g.name];
            let hosts: Vec<String> = if g.name == UNGROUPED {
                ungrouped.clone()
            } else if g.name == ALL {
                Vec::new()
            } else {
                g.hosts.iter().map(|(h, _)| h.clone()).collect()
            };
            let children: Vec<String> = if g.name == ALL {
                top.clone()
            } else {
                g.children.iter().map(|(c, _)| c.clone()).collect()
            };
            let mut vars = parts.vars.clone();
            vars.merge(&parts.file_vars);
            let mut conn = parts.conn.clone();
            conn.overlay(&parts.file_conn);
            groups.insert(
                g.name.clone(),
                Group {
                    name: g.name.clone(),
                    hosts,
                    children,
                    vars,
                    conn,
                    depth: depth.get(&g.name).copied().unwrap_or(0),
                    location: g.at.clone(),
                },
            );
        }

        let ungrouped_set: std::collections::HashSet<&str> =
            ungrouped.iter().map(String::as_str).collect();
        let mut hosts = Vec::with_capacity(self.hosts.len());
        let mut index = HashMap::new();
        for h in &self.hosts {
            let mut member: Vec<&str> = vec![ALL];
            let mut stack: Vec<&str> = direct.get(h.name.as_str()).cloned().unwrap_or_default();
            let is_ungrouped = ungrouped_set.contains(h.name.as_str());
            if is_ungrouped {
                stack.push(UNGROUPED);
            }
            while let Some(g) = stack.pop() {
                if g == UNGROUPED && !is_ungrouped {
                    continue;
                }
                if !member.contains(&g) {
                    member.push(g);
                    if let Some(ps) = parents.get(g) {
                        stack.extend(ps.iter().copied());
                    }
                }
            }
            member.sort_by_key(|g| (depth.get(*g).copied().unwrap_or(0), *g));

            let own = ScopeParts::new(&h.conn, &h.vars, &h.file_vars, &base, &mut warnings)?;
            let mut conn = ConnSpec::default();
            let mut vars = Layer::new();
            for g in &member {
                let p = &group_parts[*g];
                conn.overlay(&p.conn);
                vars.merge(&p.vars);
            }
            for g in &member {
                let p = &group_parts[*g];
                conn.overlay(&p.file_conn);
                vars.merge(&p.file_vars);
            }
            conn.overlay(&own.conn);
            vars.merge(&own.vars);
            conn.overlay(&own.file_conn);
            vars.merge(&own.file_vars);

            if let Some(b) = &conn.bastion {
                let hops =
                    parse_jumps(&b.value).map_err(|e| InputError::new(b.location.clone(), e))?;
                if hops.iter().any(|j| j.host == h.name) {
                    return Err(InputError::new(
                        b.location.clone(),
                        format!("host `{}` has itself as its bastion `{}`", h.name, b.value),
                    )
                    .with_hint(
                        "set the bastion on the group of hosts behind it, not on the bastion host",
                    ));
                }
            }

            index.insert(h.name.clone(), hosts.len());
            hosts.push(Host {
                name: h.name.clone(),
                groups: member.into_iter().map(str::to_owned).collect(),
                conn,
                vars,
                location: h.at.clone(),
            });
        }

        Ok(Inventory {
            hosts,
            groups,
            source,
            warnings,
            index,
        })
    }
}

/// One scope's (group's or host's) settings split into connection and variables, for the
/// inventory file and for its `*_vars/` files separately (they sit at different precedences).
struct ScopeParts {
    conn: ConnSpec,
    vars: Layer,
    file_conn: ConnSpec,
    file_vars: Layer,
}

impl ScopeParts {
    fn new(
        explicit: &ConnSpec,
        vars: &Layer,
        file_vars: &Layer,
        base: &Path,
        warnings: &mut Vec<InputError>,
    ) -> Result<Self, InputError> {
        let (inline_conn, vars) = conn::extract(vars, base, warnings)?;
        let (file_conn, file_vars) = conn::extract(file_vars, base, warnings)?;
        let mut conn = explicit.clone();
        conn.overlay(&inline_conn);
        Ok(ScopeParts {
            conn,
            vars,
            file_conn,
            file_vars,
        })
    }
}

fn check_cycles(groups: &[DraftGroup], index: &HashMap<String, usize>) -> Result<(), InputError> {
    // 0 = unvisited, 1 = on the current path, 2 = done.
    fn visit(
        i: usize,
        groups: &[DraftGroup],
        index: &HashMap<String, usize>,
        state: &mut [u8],
        path: &mut Vec<usize>,
    ) -> Result<(), InputError> {
        state[i] = 1;
        path.push(i);
        for (child, at) in &groups[i].children {
            let Some(&c) = index.get(child) else { continue };
            match state[c] {
                1 => {
                    let start = path.iter().position(|&p| p == c).unwrap_or(0);
                    let mut names: Vec<&str> = path[start..]
                        .iter()
                        .map(|&p| groups[p].name.as_str())
                        .collect();
                    names.push(child);
                    return Err(InputError::new(
                        at.clone(),
                        format!("group `{}` is inside itself: {}", child, names.join(" > ")),
                    )
                    .with_hint("remove one of these child links"));
                }
                0 => visit(c, groups, index, state, path)?,
                _ => {}
            }
        }
        path.pop();
        state[i] = 2;
        Ok(())
    }
    let mut state = vec![0u8; groups.len()];
    for i in 0..groups.len() {
        if state[i] == 0 {
            visit(i, groups, index, &mut state, &mut Vec::new())?;
        }
    }
    Ok(())
}

/// Longest distance from `all`; the graph has no cycles by now.
fn group_depth(
    name: &str,
    parents: &HashMap<&str, Vec<&str>>,
    memo: &mut HashMap<String, usize>,
) -> usize {
    if name == ALL {
        return 0;
    }
    if let Some(&d) = memo.get(name) {
        return d;
    }
    let d = match parents.get(name) {
        Some(ps) => {
            1 + ps
                .iter()
                .map(|p| group_depth(p, parents, memo))
                .max()
                .unwrap_or(0)
        }
        None => 1,
    };
    memo.insert(name.to_owned(), d);
    d
}

/// Checks a host name as written (after range expansion).
pub(crate) fn check_host_name(name: &str, at: &Location) -> Result<(), InputError> {
    let bad = name.is_empty()
        || name.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(c, ',' | '*' | '?' | '[' | ']' | '=' | '#')
        })
        || name.starts_with(['!', '&', '~', '@']);
    if bad {
        return Err(
            InputError::new(at.clone(), format!("`{name}` is not a valid host name")).with_hint(
                "host names may not contain spaces or any of , * ? [ ] = # nor start with ! & ~ @",
            ),
        );
    }
    Ok(())
}

/// Checks a group name: names that patterns could not select are refused.
pub(crate) fn check_group_name(name: &str, at: &Location) -> Result<(), InputError> {
    let bad = name.is_empty()
        || name.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(
                    c,
                    ',' | ':' | '*' | '?' | '[' | ']' | '=' | '#' | '!' | '&' | '~' | '@' | '/'
                )
        })
        || name.starts_with(['!', '&', '~', '@']);
    if bad {
        return Err(
            InputError::new(at.clone(), format!("`{name}` is not a valid group name"))
                .with_hint("use letters, digits, `_` and `-`, like web_servers"),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats() {
        for (path, text, expected) in [
            ("inv.toml", "", Format::Toml),
            ("hosts.yml", "", Format::Yaml),
            ("hosts.yaml", "", Format::Yaml),
            ("hosts.ini", "[defaults]\n", Format::Ini),
            ("hosts", "# c\n---\nall:\n", Format::Yaml),
            ("hosts", "all:\n  hosts:\n", Format::Yaml),
            ("hosts", "[defaults]\nuser = \"root\"\n", Format::Toml),
            ("hosts", "[web]\nh1\n", Format::Ini),
            ("hosts", "h1 ansible_host=x\n", Format::Ini),
        ] {
            assert_eq!(
                Format::detect(Path::new(path), text),
                expected,
                "{path} {text:?}"
            );
        }
    }

    #[test]
    fn groups_sort_by_depth_then_name() {
        let inv = parse(
            Path::new("inv.ini"),
            "[zeta]\nh1\n[alpha]\nh1\n[lab:children]\nzeta\n[web:children]\nlab\n[other]\nh2\n",
        )
        .unwrap();
        let h1 = inv.host("h1").unwrap();
        assert_eq!(
            h1.groups,
            ["all", "alpha", "web", "lab", "zeta"]
                .map(String::from)
                .to_vec()
        );
        assert_eq!(
            inv.host("h2").unwrap().groups,
            ["all", "other"].map(String::from).to_vec()
        );
        assert_eq!(
            inv.group("all").unwrap().children,
            ["ungrouped", "alpha", "web", "other"]
                .map(String::from)
                .to_vec()
        );
        assert_eq!(inv.group("zeta").unwrap().depth, 3);
    }

    #[test]
    fn yaml_children_of_all_are_top_level() {
        let inv = parse(Path::new("i.yml"), "all:\n  children:\n    lab:\n      children:\n        web:\n          hosts: {h1: ~}\n").unwrap();
        assert_eq!(inv.group("all").unwrap().children, vec!["ungrouped", "lab"]);
        assert_eq!(inv.group("lab").unwrap().depth, 1);
        assert_eq!(inv.host("h1").unwrap().groups, vec!["all", "lab", "web"]);
    }

    #[test]
    fn cycles_are_errors() {
        let e = parse(
            Path::new("inv.ini"),
            "[a:children]\nb\n[b:children]\nc\n[c:children]\na\n",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "inv.ini:6:1: group `a` is inside itself: a > b > c > a\n  hint: remove one of these child links"
        );
    }

    #[test]
    fn hosts_in_no_group_are_ungrouped() {
        let inv = parse(Path::new("i.ini"), "h0\n[web]\nh1\n[ungrouped]\nh1\nh2\n").unwrap();
        assert_eq!(inv.group(UNGROUPED).unwrap().hosts, vec!["h0", "h2"]);
        assert_eq!(inv.host("h1").unwrap().groups, vec!["all", "web"]);
        assert_eq!(inv.host("h2").unwrap().groups, vec!["all", "ungrouped"]);
    }

    #[test]
    fn precedence_inline_groups_then_group_files_then_host() {
        let mut d = parse_ini(
            Path::new("inv/hosts.ini"),
            "[web]\nh1 x=host\n[web:vars]\nx=web\ny=web\nz=web\n[all:vars]\nx=all\ny=all\nw=all\n",
        )
        .unwrap();
        d.add_group_vars(
            "all",
            crate::vars::parse_vars_file(Path::new("inv/group_vars/all.yml"), "z: allfile\n")
                .unwrap(),
        );
        let inv = d.finish("inv/hosts.ini").unwrap();
        let v = &inv.host("h1").unwrap().vars;
        assert_eq!(
            v.value,
            serde_json::json!({"x": "host", "y": "web", "z": "allfile", "w": "all"})
        );
        assert_eq!(
            v.origin("z").unwrap().to_string(),
            "inv/group_vars/all.yml:1:4"
        );
    }

    #[test]
    fn bastion_may_not_be_the_host_itself() {
        let e = parse(
            Path::new("i.toml"),
            "[defaults]\nbastion = \"j\"\n[hosts.j]\n[hosts.h]\n",
        )
        .unwrap_err();
        assert_eq!(e.location.to_string(), "i.toml:2:11");
        assert!(e.message.contains("has itself as its bastion"), "{e}");
    }

    #[test]
    fn unknown_vars_files_are_warnings() {
        let mut d = parse_ini(Path::new("i.ini"), "[web]\nh1\n").unwrap();
        d.add_group_vars("wbe", crate::vars::Layer::new());
        d.add_host_vars("h9", crate::vars::Layer::new());
        let inv = d.finish("i.ini").unwrap();
        assert_eq!(inv.warnings.len(), 2);
        assert_eq!(inv.warnings[0].hint.as_deref(), Some("did you mean `web`?"));
    }
}
