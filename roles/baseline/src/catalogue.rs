//! The control catalogue: `controls/NN-SECTION.toml`, embedded at build time, parsed and
//! validated once. The format is documented in roles/baseline/README.md.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::OnceLock;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

include!(concat!(env!("OUT_DIR"), "/sections.rs"));

/// The site variables and their defaults.
pub const DEFAULTS: &str = include_str!("../defaults.toml");

/// A benchmark level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Level {
    /// CIS Level 1, server.
    #[serde(rename = "l1-server")]
    L1Server,
    /// CIS Level 2, server.
    #[serde(rename = "l2-server")]
    L2Server,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::L1Server => "l1-server",
            Level::L2Server => "l2-server",
        })
    }
}

/// An operating system release the catalogue knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Os {
    /// Ubuntu 24.04 LTS.
    #[serde(rename = "ubuntu-24.04")]
    Ubuntu2404,
    /// Debian 12 (bookworm).
    #[serde(rename = "debian-12")]
    Debian12,
    /// Debian 13 (trixie).
    #[serde(rename = "debian-13")]
    Debian13,
}

impl Os {
    /// Every release, in the order lists show them.
    pub const ALL: [Os; 3] = [Os::Ubuntu2404, Os::Debian12, Os::Debian13];

    /// The name used in the catalogue and on the command line ("debian-12").
    pub fn name(self) -> &'static str {
        match self {
            Os::Ubuntu2404 => "ubuntu-24.04",
            Os::Debian12 => "debian-12",
            Os::Debian13 => "debian-13",
        }
    }

    /// The key of the control's `cis` table for this release ("debian12").
    pub fn cis_key(self) -> &'static str {
        match self {
            Os::Ubuntu2404 => "ubuntu2404",
            Os::Debian12 => "debian12",
            Os::Debian13 => "debian13",
        }
    }

    /// From os-release's ID and VERSION_ID ("debian", "12"; "ubuntu", "24.04").
    pub fn from_release(id: &str, version_id: &str) -> Option<Os> {
        let major = version_id.split('.').next().unwrap_or_default();
        match (id, version_id, major) {
            ("ubuntu", "24.04", _) => Some(Os::Ubuntu2404),
            ("debian", _, "12") => Some(Os::Debian12),
            ("debian", _, "13") => Some(Os::Debian13),
            _ => None,
        }
    }

    /// Parses a name ("ubuntu-24.04").
    pub fn parse(s: &str) -> Option<Os> {
        Os::ALL.into_iter().find(|o| o.name() == s)
    }
}

impl fmt::Display for Os {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A profile a site names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Profile {
    /// "cis-l1-server".
    pub name: &'static str,
    /// The levels it includes.
    pub levels: &'static [Level],
}

/// Every profile.
pub const PROFILES: &[Profile] = &[
    Profile {
        name: "cis-l1-server",
        levels: &[Level::L1Server],
    },
    Profile {
        name: "cis-l2-server",
        levels: &[Level::L1Server, Level::L2Server],
    },
];

impl Profile {
    /// The profile of this name.
    pub fn named(name: &str) -> Option<Profile> {
        PROFILES.iter().copied().find(|p| p.name == name)
    }

    /// Whether a control belongs to it.
    pub fn includes(&self, c: &Control) -> bool {
        c.levels.iter().any(|l| self.levels.contains(l))
    }
}

/// A value written as a TOML string, integer or boolean; kept as text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match toml::Value::deserialize(d)? {
            toml::Value::String(s) => Ok(Text(s)),
            toml::Value::Integer(i) => Ok(Text(i.to_string())),
            toml::Value::Boolean(b) => Ok(Text(if b { "yes" } else { "no" }.into())),
            other => Err(de::Error::custom(format!(
                "expected a string, number or boolean, not {}",
                other.type_str()
            ))),
        }
    }
}

/// `key = value` tables, written once or as an array of tables.
fn one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany<T> {
        Many(Vec<T>),
        One(T),
    }
    Ok(match OneOrMany::<T>::deserialize(d)? {
        OneOrMany::Many(v) => v,
        OneOrMany::One(t) => vec![t],
    })
}

/// A `line` entry: exactly one line starting with `match`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LineSpec {
    /// The file.
    pub path: String,
    /// Lines starting with this are the same line.
    #[serde(rename = "match")]
    pub matches: String,
    /// The line (a template).
    pub line: String,
    /// Mode if the file must be created ("0644").
    #[serde(default)]
    pub create_mode: Option<String>,
    /// Shell code run once at the end of the role when this changed (a handler).
    #[serde(default)]
    pub reload: Option<String>,
}

/// A `block` entry: a marked block in a file.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BlockSpec {
    /// The file.
    pub path: String,
    /// The block's marker name.
    pub name: String,
    /// Its lines (a template).
    pub body: String,
    /// Mode if the file must be created ("0644").
    #[serde(default)]
    pub create_mode: Option<String>,
    /// Shell code run once at the end of the role when this changed (a handler).
    #[serde(default)]
    pub reload: Option<String>,
}

/// A `file` entry: a whole file (or its absence).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// The file.
    pub path: String,
    /// Its content (a template); absent with `absent = true`.
    #[serde(default)]
    pub content: Option<String>,
    /// The file must not exist.
    #[serde(default)]
    pub absent: bool,
    /// "0644".
    #[serde(default)]
    pub mode: Option<String>,
    /// Owner (root).
    #[serde(default)]
    pub owner: Option<String>,
    /// Group (root).
    #[serde(default)]
    pub group: Option<String>,
    /// A validation command run on the temporary file, `%s` is its path.
    #[serde(default)]
    pub validate: Option<String>,
    /// Shell code run once at the end of the role when this changed (a handler).
    #[serde(default)]
    pub reload: Option<String>,
}

/// A `perms` entry: mode and ownership of an existing path.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PermsSpec {
    /// The path (file or directory); a missing one is not applicable.
    pub path: String,
    /// The exact mode ("0640").
    #[serde(default)]
    pub mode: Option<String>,
    /// The most permissive mode allowed: bits beyond it are removed.
    #[serde(default)]
    pub max_mode: Option<String>,
    /// The owner.
    #[serde(default)]
    pub owner: Option<String>,
    /// The group.
    #[serde(default)]
    pub group: Option<String>,
}

/// `packages`: present and absent lists.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PackagesSpec {
    /// Installed.
    #[serde(default)]
    pub present: Vec<String>,
    /// Removed (purged of nothing: `apt-get remove`).
    #[serde(default)]
    pub absent: Vec<String>,
}

/// A `service` entry.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// The unit ("auditd"; ".service" is implied).
    pub name: String,
    /// Enabled at boot.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Running now.
    #[serde(default)]
    pub running: Option<bool>,
    /// Masked.
    #[serde(default)]
    pub masked: Option<bool>,
}

/// A `command` entry: a guarded check, with an optional fix.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    /// Read-only shell code that exits 0 when the host complies.
    pub check: String,
    /// Shell code that makes it comply (run as root, only when the check failed).
    #[serde(default)]
    pub fix: Option<String>,
    /// What the check costs on a host (mandatory, shown by `baseline list -v`).
    pub cost: String,
    /// Run the check in every probe (default false: first apply, `deep`, and audit only).
    #[serde(default)]
    pub rerun: bool,
}

/// One control.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Control {
    /// Stable rampart id.
    pub id: String,
    /// What holds when it passes.
    pub title: String,
    /// Why, in one line.
    pub rationale: String,
    /// Levels.
    pub levels: Vec<Level>,
    /// Releases it applies to (default: all).
    #[serde(default = "all_os")]
    pub os: Vec<Os>,
    /// CIS recommendation numbers by release key (ubuntu2404, debian12, debian13).
    #[serde(default)]
    pub cis: BTreeMap<String, String>,
    /// dev-sec ids.
    #[serde(default)]
    pub devsec: Vec<String>,
    /// Applies inside a container (default true). `false`: the control is about what a
    /// container shares with its host or cannot have (auditd, AppArmor, mounts, kernel-wide
    /// settings): not planned there, and its audit check says "not applicable".
    #[serde(default = "yes")]
    pub container: bool,
    /// Applies only where these packages are installed (a fact of the same probe: dpkg).
    #[serde(default)]
    pub if_installed: Vec<String>,
    /// Applies only where these paths exist (a fact of the same probe: the one `find`).
    #[serde(default)]
    pub if_exists: Vec<String>,
    /// The section id (filled in by the loader).
    #[serde(skip_deserializing)]
    pub section: String,
    /// Kernel parameters.
    #[serde(default, deserialize_with = "one_or_many")]
    pub sysctl: Vec<BTreeMap<String, Text>>,
    /// Kernel modules that must not load.
    #[serde(default)]
    pub modprobe: Vec<String>,
    /// sshd keywords.
    #[serde(default, deserialize_with = "one_or_many")]
    pub sshd: Vec<BTreeMap<String, Text>>,
    /// Single lines.
    #[serde(default, deserialize_with = "one_or_many")]
    pub line: Vec<LineSpec>,
    /// Blocks.
    #[serde(default, deserialize_with = "one_or_many")]
    pub block: Vec<BlockSpec>,
    /// Whole files.
    #[serde(default, deserialize_with = "one_or_many")]
    pub file: Vec<FileSpec>,
    /// Modes and owners.
    #[serde(default, deserialize_with = "one_or_many")]
    pub perms: Vec<PermsSpec>,
    /// Packages.
    #[serde(default, deserialize_with = "one_or_many")]
    pub packages: Vec<PackagesSpec>,
    /// Services.
    #[serde(default, deserialize_with = "one_or_many")]
    pub service: Vec<ServiceSpec>,
    /// Guarded commands.
    #[serde(default, deserialize_with = "one_or_many")]
    pub command: Vec<CommandSpec>,
}

fn yes() -> bool {
    true
}

fn all_os() -> Vec<Os> {
    Os::ALL.to_vec()
}

impl Control {
    /// The kinds of desired state it uses, for `baseline list -v`.
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut k = Vec::new();
        for (has, name) in [
            (!self.sysctl.is_empty(), "sysctl"),
            (!self.modprobe.is_empty(), "modprobe"),
            (!self.sshd.is_empty(), "sshd"),
            (!self.line.is_empty(), "line"),
            (!self.block.is_empty(), "block"),
            (!self.file.is_empty(), "file"),
            (!self.perms.is_empty(), "perms"),
            (!self.packages.is_empty(), "packages"),
            (!self.service.is_empty(), "service"),
            (!self.command.is_empty(), "command"),
        ] {
            if has {
                k.push(name);
            }
        }
        k
    }

    /// The sysctl entries, merged.
    pub fn sysctls(&self) -> impl Iterator<Item = (&String, &Text)> {
        self.sysctl.iter().flat_map(|m| m.iter())
    }

    /// The sshd entries, merged.
    pub fn sshd_settings(&self) -> impl Iterator<Item = (&String, &Text)> {
        self.sshd.iter().flat_map(|m| m.iter())
    }

    /// Whether its conditions hold on a host (`None`: unknown, no facts yet). A path that is
    /// present in any form counts as existing.
    pub fn conditions_hold(&self, facts: &rampart_core::facts::Facts) -> bool {
        self.if_installed
            .iter()
            .all(|p| facts.packages.get(p).is_some_and(|s| s.installed))
            && self.if_exists.iter().all(|p| {
                facts
                    .files
                    .get(p)
                    .is_some_and(|f| *f != rampart_core::facts::FileState::Absent)
            })
    }

    /// Whether it applies to a release.
    pub fn applies_to(&self, os: Os) -> bool {
        self.os.contains(&os)
    }

    /// Its CIS number for a release, if any.
    pub fn cis_for(&self, os: Os) -> Option<&str> {
        self.cis.get(os.cis_key()).map(String::as_str)
    }
}

/// A section's header.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// rampart's section id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// CIS chapter(s), informational.
    #[serde(default)]
    pub cis: Option<String>,
    /// The file it came from (filled in by the loader).
    #[serde(skip_deserializing)]
    pub file: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SectionFile {
    section: Section,
    #[serde(default)]
    control: Vec<Control>,
}

/// The whole catalogue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Catalogue {
    /// Sections in file order.
    pub sections: Vec<Section>,
    /// Controls in file order.
    pub controls: Vec<Control>,
    /// Site variables and their defaults.
    pub defaults: BTreeMap<String, serde_json::Value>,
}

/// The embedded catalogue. Its validity is a unit test (`the_embedded_catalogue_is_valid`).
pub fn catalogue() -> &'static Catalogue {
    static CAT: OnceLock<Catalogue> = OnceLock::new();
    CAT.get_or_init(|| match load(SECTIONS, DEFAULTS) {
        Ok(c) => c,
        Err(errors) => panic!(
            "the embedded baseline catalogue is invalid (cargo test -p rampart-role-baseline says why):\n{}",
            errors.join("\n")
        ),
    })
}

impl Catalogue {
    /// The control with this id.
    pub fn control(&self, id: &str) -> Option<&Control> {
        self.controls.iter().find(|c| c.id == id)
    }

    /// The controls a profile selects for a release (every release with `None`).
    pub fn select(&self, profile: Profile, os: Option<Os>) -> Vec<&Control> {
        self.controls
            .iter()
            .filter(|c| profile.includes(c) && os.is_none_or(|o| c.applies_to(o)))
            .collect()
    }

    /// The section of a control.
    pub fn section(&self, id: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.id == id)
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with(['.', '-'])
        && !id.ends_with(['.', '-'])
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
}

fn valid_sysctl_key(k: &str) -> bool {
    let parts: Vec<&str> = k.split('.').collect();
    parts.len() >= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b))
        })
}

fn valid_module(m: &str) -> bool {
    !m.is_empty()
        && m.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-".contains(&b))
}

fn valid_path(p: &str) -> bool {
    rampart_core::shell::canonical_absolute(p) && !p.contains(['\n', '\0'])
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b))
}

/// Parses "0640" (octal, up to 07777).
pub fn parse_mode(s: &str) -> Option<u32> {
    let t = s.strip_prefix("0o").unwrap_or(s);
    if t.is_empty() || t.len() > 4 {
        return None;
    }
    u32::from_str_radix(t, 8).ok().filter(|m| *m <= 0o7777)
}

/// The variables a template string uses (`{{ name }}`, `{{ name | f }}`, `{% if name %}`):
/// identifiers outside string literals that are not minijinja keywords, tests or filters.
pub fn template_vars(s: &str) -> BTreeSet<String> {
    const WORDS: &[&str] = &[
        "if", "else", "elif", "endif", "for", "in", "endfor", "not", "and", "or", "is", "true",
        "false", "none", "defined", "join", "length", "upper", "lower", "default", "loop", "set",
        "trim", "replace", "first", "last", "string", "int", "sort", "unique", "map", "select",
        "reject", "indent", "safe", "e", "escape", "abs", "round", "list", "items", "tojson",
    ];
    let mut out = BTreeSet::new();
    let mut rest = s;
    while let Some(start) = rest.find(['{']) {
        let tail = &rest[start..];
        let close = if tail.starts_with("{{") {
            "}}"
        } else if tail.starts_with("{%") {
            "%}"
        } else {
            rest = &tail[1..];
            continue;
        };
        let Some(end) = tail.find(close) else { break };
        let expr = &tail[2..end];
        let mut in_str: Option<char> = None;
        let mut word = String::new();
        let mut prev_dot = false;
        for ch in expr.chars().chain([' ']) {
            if let Some(q) = in_str {
                if ch == q {
                    in_str = None;
                }
                continue;
            }
            if ch.is_ascii_alphanumeric() || ch == '_' {
                word.push(ch);
                continue;
            }
            if !word.is_empty() {
                let first = word.chars().next().unwrap_or('0');
                if !first.is_ascii_digit() && !prev_dot && !WORDS.contains(&word.as_str()) {
                    out.insert(word.clone());
                }
                word.clear();
            }
            prev_dot = ch == '.' || ch == '|';
            if ch == '\'' || ch == '"' {
                in_str = Some(ch);
            }
        }
        rest = &tail[end + 2..];
    }
    out
}

/// Every template string of a control, with where it is.
pub fn template_strings(c: &Control) -> Vec<(String, &str)> {
    let mut out: Vec<(String, &str)> = Vec::new();
    for (k, v) in c.sysctls() {
        out.push((format!("sysctl.{k}"), &v.0));
    }
    for (k, v) in c.sshd_settings() {
        out.push((format!("sshd.{k}"), &v.0));
    }
    for (i, l) in c.line.iter().enumerate() {
        out.push((format!("line[{i}].line"), &l.line));
    }
    for (i, b) in c.block.iter().enumerate() {
        out.push((format!("block[{i}].body"), &b.body));
    }
    for (i, f) in c.file.iter().enumerate() {
        if let Some(t) = &f.content {
            out.push((format!("file[{i}].content"), t));
        }
    }
    out
}

/// Parses and validates section files and the defaults. Every problem is reported, one line
/// each, as `FILE: control ID: what`.
pub fn load(files: &[(&str, &str)], defaults: &str) -> Result<Catalogue, Vec<String>> {
    let mut errors = Vec::new();
    let defaults: BTreeMap<String, serde_json::Value> =
        match toml::from_str::<BTreeMap<String, toml::Value>>(defaults) {
            Ok(m) => m
                .into_iter()
                .map(|(k, v)| (k, serde_json::to_value(v).unwrap_or_default()))
                .collect(),
            Err(e) => {
                errors.push(format!("defaults.toml: {e}"));
                BTreeMap::new()
            }
        };
    let mut cat = Catalogue {
        defaults,
        ..Catalogue::default()
    };
    let mut seen_ids: BTreeMap<String, String> = BTreeMap::new();
    // Values of aggregated keys, so two controls cannot disagree on one line of one file.
    let mut sysctl_owner: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut sshd_owner: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (file, text) in files {
        let parsed: SectionFile = match toml::from_str(text) {
            Ok(p) => p,
            Err(e) => {
                errors.push(format!("{file}: {}", e.to_string().trim_end()));
                continue;
            }
        };
        let mut section = parsed.section;
        section.file = (*file).to_owned();
        if !valid_id(&section.id) {
            errors.push(format!(
                "{file}: section id `{}` must be lowercase letters, digits, `.` and `-`",
                section.id
            ));
        }
        if cat.sections.iter().any(|s| s.id == section.id) {
            errors.push(format!("{file}: section id `{}` is used twice", section.id));
        }
        for mut c in parsed.control {
            c.section = section.id.clone();
            let mut err = |m: String| errors.push(format!("{file}: control {}: {m}", c.id));
            if !valid_id(&c.id) {
                err("the id must be lowercase letters, digits, `.` and `-`".into());
            }
            if let Some(other) = seen_ids.insert(c.id.clone(), (*file).to_owned()) {
                err(format!("the id is also used in {other}"));
            }
            if c.title.trim().is_empty() || c.title.contains('\n') {
                err("the title must be one non-empty line".into());
            }
            if c.rationale.trim().is_empty() || c.rationale.contains('\n') {
                err("the rationale must be one non-empty line".into());
            }
            if c.levels.is_empty() {
                err("`levels` is empty: write [\"l1-server\"] or [\"l2-server\"]".into());
            }
            if c.os.is_empty() {
                err("`os` is empty: leave it out for every release".into());
            }
            for k in c.cis.keys() {
                if !Os::ALL.iter().any(|o| o.cis_key() == k) {
                    err(format!(
                        "unknown `cis` key `{k}`: use ubuntu2404, debian12 or debian13"
                    ));
                }
            }
            if c.kinds().is_empty() {
                err("no desired state: give sysctl, modprobe, sshd, line, block, file, perms, packages, service or command".into());
            }
            for (k, v) in c.sysctls() {
                if !valid_sysctl_key(k) {
                    err(format!("invalid kernel parameter `{k}`"));
                }
                if let Some((other, val)) =
                    sysctl_owner.insert(k.clone(), (c.id.clone(), v.0.clone()))
                    && val != v.0
                {
                    err(format!(
                        "sets {k} = {}, but control {other} sets {val}",
                        v.0
                    ));
                }
            }
            for m in &c.modprobe {
                if !valid_module(m) {
                    err(format!("invalid module name `{m}`"));
                }
            }
            for (k, v) in c.sshd_settings() {
                if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    err(format!("invalid sshd keyword `{k}`"));
                }
                if v.0.contains('\n') {
                    err(format!("sshd {k}: the value must be one line"));
                }
                let lk = k.to_ascii_lowercase();
                if let Some((other, val)) = sshd_owner.insert(lk, (c.id.clone(), v.0.clone()))
                    && val != v.0
                {
                    err(format!(
                        "sets sshd {k} {}, but control {other} sets {val}",
                        v.0
                    ));
                }
            }
            let mut paths: Vec<&str> = Vec::new();
            for l in &c.line {
                paths.push(&l.path);
                if l.matches.is_empty() {
                    err(format!("line in {}: `match` is empty", l.path));
                }
                if l.line.contains('\n') {
                    err(format!("line in {}: `line` must be one line", l.path));
                }
                if l.create_mode
                    .as_deref()
                    .is_some_and(|m| parse_mode(m).is_none())
                {
                    err(format!("line in {}: invalid create_mode", l.path));
                }
            }
            for b in &c.block {
                paths.push(&b.path);
                if !valid_name(&b.name) {
                    err(format!("block in {}: invalid name `{}`", b.path, b.name));
                }
                if b.create_mode
                    .as_deref()
                    .is_some_and(|m| parse_mode(m).is_none())
                {
                    err(format!("block in {}: invalid create_mode", b.path));
                }
            }
            for f in &c.file {
                paths.push(&f.path);
                if f.absent == f.content.is_some() {
                    err(format!(
                        "file {}: give `content`, or `absent = true`, not both",
                        f.path
                    ));
                }
                if f.mode.as_deref().is_some_and(|m| parse_mode(m).is_none()) {
                    err(format!("file {}: invalid mode", f.path));
                }
                for n in f.owner.iter().chain(&f.group) {
                    if !valid_name(n) {
                        err(format!("file {}: invalid owner or group `{n}`", f.path));
                    }
                }
                if f.validate.as_deref().is_some_and(|v| !v.contains("%s")) {
                    err(format!("file {}: `validate` must contain %s", f.path));
                }
            }
            for p in &c.perms {
                paths.push(&p.path);
                if p.mode.is_some() && p.max_mode.is_some() {
                    err(format!(
                        "perms {}: give `mode` or `max_mode`, not both",
                        p.path
                    ));
                }
                for m in p.mode.iter().chain(&p.max_mode) {
                    if parse_mode(m).is_none() {
                        err(format!("perms {}: invalid mode `{m}`", p.path));
                    }
                }
                if p.mode.is_none()
                    && p.max_mode.is_none()
                    && p.owner.is_none()
                    && p.group.is_none()
                {
                    err(format!("perms {}: nothing to check", p.path));
                }
                for n in p.owner.iter().chain(&p.group) {
                    if !valid_name(n) {
                        err(format!("perms {}: invalid owner or group `{n}`", p.path));
                    }
                }
            }
            for p in &paths {
                if !valid_path(p) {
                    err(format!("`{p}` is not a canonical absolute path"));
                }
            }
            for n in &c.if_installed {
                if !valid_name(n) || n.contains('@') {
                    err(format!("if_installed: invalid package name `{n}`"));
                }
            }
            for p in &c.if_exists {
                if !valid_path(p) {
                    err(format!("if_exists: `{p}` is not a canonical absolute path"));
                }
            }
            for pk in &c.packages {
                for n in pk.present.iter().chain(&pk.absent) {
                    if !valid_name(n) || n.contains('@') {
                        err(format!("invalid package name `{n}`"));
                    }
                }
            }
            for s in &c.service {
                if !valid_name(&s.name) {
                    err(format!("invalid unit name `{}`", s.name));
                }
                if s.enabled.is_none() && s.running.is_none() && s.masked.is_none() {
                    err(format!("service {}: nothing to ensure", s.name));
                }
            }
            for cmd in &c.command {
                if cmd.check.trim().is_empty() {
                    err("command: `check` is empty".into());
                }
                if cmd.cost.trim().is_empty() {
                    err("command: `cost` is mandatory (what the check costs a host)".into());
                }
            }
            for (at, s) in template_strings(&c) {
                for v in template_vars(s) {
                    if !cat.defaults.contains_key(&v) {
                        err(format!(
                            "{at} uses `{{{{ {v} }}}}`, which defaults.toml does not define"
                        ));
                    }
                }
            }
            cat.controls.push(c);
        }
        cat.sections.push(section);
    }
    if errors.is_empty() {
        Ok(cat)
    } else {
        Err(errors)
    }
}
