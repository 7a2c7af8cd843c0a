//! The site file: what to run where. Plays map host patterns to roles; `[roles.NAME]` tables
//! hold role settings (validated later by each role); `[rolling]` says how to roll out in
//! waves.
//!
//! ```toml
//! name = "fleetclaw"                 # optional
//! templates = "templates"            # optional directory of template overrides (relative)
//! secrets = "secrets.age"            # optional encrypted secrets file (relative)
//! [rolling]                          # optional
//! serial = [1, "10%", "50%", "100%"] # wave sizes; the last repeats until every host is done
//! max_fail = 0                       # failures tolerated: a count or "10%"
//! health = "systemctl is-system-running"
//! confirm_timeout = 120              # seconds (dead-man switch delay)
//! [[play]]
//! name = "harden"
//! hosts = "all"                      # a host pattern
//! roles = ["base", "sshd", "ufw"]
//! tags = ["security"]
//! baseline = "cis-l1-server"        # optional: this play's baseline profile ("none": off)
//! [roles.sshd]
//! allow_users = ["fleetclaw", "ubuntu"]
//! [baseline]                         # optional: the baseline role's site-wide settings
//! profile = "cis-l1-server"          # default profile of every play ("none": off)
//! deep = false                       # command controls' checks in every probe
//! vars = { banner = "Authorized use only." }
//! [[baseline.waiver]]
//! control = "net.ipv4.*"             # a control id or a glob
//! reason = "these hosts route"
//! expires = "2027-03-01"
//! by = "ops@example.com"
//! ```
//!
//! **Invariant:** a parsed [`Site`] names only known roles and valid patterns and amounts;
//! every unknown key is an error at its position with a "did you mean".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{InputError, Location, did_you_mean};
use crate::inventory::node::{self, Entry, Kind, Node, unknown_key};
use crate::inventory::{Host, HostPattern, Inventory, Located};
use crate::types::CountOrPercent;
use crate::vars::Layer;

const TOP_KEYS: &[&str] = &[
    "name",
    "templates",
    "secrets",
    "rolling",
    "play",
    "roles",
    "baseline",
];
const ROLLING_KEYS: &[&str] = &["serial", "max_fail", "health", "confirm_timeout"];
const PLAY_KEYS: &[&str] = &["name", "hosts", "roles", "tags", "baseline"];
const BASELINE_KEYS: &[&str] = &["profile", "vars", "waiver", "deep"];
const WAIVER_KEYS: &[&str] = &["control", "reason", "expires", "by"];
/// The name of the role the baseline runs as.
pub const BASELINE_ROLE: &str = "baseline";

/// A parsed site file.
#[derive(Clone, Debug, PartialEq)]
pub struct Site {
    /// The site file.
    pub source: PathBuf,
    /// The site's name, for reports.
    pub name: Option<String>,
    /// Directory of user template overrides, resolved against the site file's directory.
    pub templates: Option<Located<PathBuf>>,
    /// Encrypted secrets file, resolved against the site file's directory.
    pub secrets: Option<Located<PathBuf>>,
    /// How to roll out.
    pub rolling: Rolling,
    /// Plays, in order.
    pub plays: Vec<Play>,
    /// Settings per role name, from `[roles.NAME]`.
    pub roles: BTreeMap<String, RoleSettings>,
    /// The `[baseline]` table.
    pub baseline: Option<BaselineSettings>,
}

/// The site's `[baseline]` table, checked for shape here; the catalogue (profiles, variable
/// names and types, control ids) checks the rest before any host is contacted.
#[derive(Clone, Debug, PartialEq)]
pub struct BaselineSettings {
    /// Where `[baseline]` is.
    pub location: Location,
    /// The default profile of every play.
    pub profile: Option<Located<String>>,
    /// `vars`, as a value.
    pub vars: Layer,
    /// Each variable's name and where it was set.
    pub var_keys: Vec<(String, Location)>,
    /// `[[baseline.waiver]]`s.
    pub waivers: Vec<WaiverSettings>,
    /// Command controls' checks in every probe.
    pub deep: bool,
}

/// One `[[baseline.waiver]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct WaiverSettings {
    /// A control id or glob.
    pub control: Located<String>,
    /// Why.
    pub reason: String,
    /// The last day it holds, as written.
    pub expires: Located<String>,
    /// Who approved it.
    pub by: String,
    /// Where the waiver starts.
    pub location: Location,
}

/// One `[roles.NAME]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct RoleSettings {
    /// Where `NAME` was written.
    pub location: Location,
    /// The table's content with origins.
    pub settings: Layer,
}

/// One `[[play]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Play {
    /// The play's name, for reports.
    pub name: Option<String>,
    /// Which hosts it runs on.
    pub hosts: HostPattern,
    /// Roles in order, each with the place it was named.
    pub roles: Vec<Located<String>>,
    /// Extra tags every role of the play answers to.
    pub tags: Vec<String>,
    /// The play's baseline profile (`"none"`: off), over `[baseline] profile`.
    pub baseline: Option<Located<String>>,
    /// Where the play starts.
    pub location: Location,
}

/// Rollout settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Rolling {
    /// Wave sizes; the last one repeats. Default: one wave of every host.
    pub serial: Vec<CountOrPercent>,
    /// Failed hosts tolerated before the rollout stops. Default: 0.
    pub max_fail: CountOrPercent,
    /// A command that must succeed on each host after it converged.
    pub health: Option<Located<String>>,
    /// Seconds to wait for confirmation before the dead-man switch rolls back.
    pub confirm_timeout: Option<Located<u64>>,
    /// Where `[rolling]` is, when written.
    pub location: Option<Location>,
}

impl Default for Rolling {
    fn default() -> Self {
        Rolling {
            serial: vec![CountOrPercent::Percent(100)],
            max_fail: CountOrPercent::Count(0),
            health: None,
            confirm_timeout: None,
            location: None,
        }
    }
}

impl Rolling {
    /// Wave sizes for `total` hosts, as Ansible computes `serial`: each entry in turn (a
    /// percentage of the total, rounded down but at least 1), the last repeated until every
    /// host is in a wave.
    pub fn batches(&self, total: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut left = total;
        let mut i = 0;
        while left > 0 {
            let entry = self
                .serial
                .get(i)
                .or(self.serial.last())
                .copied()
                .unwrap_or(CountOrPercent::Percent(100));
            let size = entry.of(total).max(1).min(left);
            out.push(size);
            left -= size;
            i += 1;
        }
        out
    }

    /// How many failed hosts are tolerated out of `total`.
    pub fn max_failures(&self, total: usize) -> usize {
        self.max_fail.of(total)
    }
}

impl Site {
    /// The roles a host runs, in play order, each once; the baseline role last when a play
    /// gives the host a baseline profile.
    pub fn roles_for(&self, host: &Host) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for play in self.plays.iter().filter(|p| p.hosts.matches(host)) {
            for r in &play.roles {
                if !out.contains(&r.value.as_str()) {
                    out.push(&r.value);
                }
            }
        }
        if self.baseline_for(host).is_some() && !out.contains(&BASELINE_ROLE) {
            out.push(BASELINE_ROLE);
        }
        out
    }

    /// The tags of the plays that run `role` on `host` (role names are tags too, added by
    /// the caller).
    pub fn tags_for(&self, host: &Host, role: &str) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for play in self
            .plays
            .iter()
            .filter(|p| p.hosts.matches(host) && p.roles.iter().any(|r| r.value == role))
        {
            for t in &play.tags {
                if !out.contains(&t.as_str()) {
                    out.push(t);
                }
            }
        }
        out
    }

    /// The baseline profile a host runs: its plays' `baseline` (or `[baseline] profile` for a
    /// play that names none), "none" left out; of several, the strictest (profile names sort
    /// by level: cis-l2-server over cis-l1-server). `None`: no baseline on this host.
    pub fn baseline_for(&self, host: &Host) -> Option<&str> {
        let default = self
            .baseline
            .as_ref()
            .and_then(|b| b.profile.as_ref())
            .map(|p| p.value.as_str());
        self.plays
            .iter()
            .filter(|p| p.hosts.matches(host))
            .filter_map(|p| p.baseline.as_ref().map(|b| b.value.as_str()).or(default))
            .filter(|p| *p != "none")
            .max()
    }

    /// Checks that every play's pattern matches something in `inv` (a typo would silently skip
    /// hosts).
    pub fn check_patterns(&self, inv: &Inventory) -> Result<(), InputError> {
        self.plays.iter().try_for_each(|p| p.hosts.check(inv))
    }

    /// The `[roles.NAME]` settings as one layer of variables `{NAME: {...}}`, the lowest
    /// precedence above role defaults.
    pub fn roles_layer(&self) -> Layer {
        let mut layer = Layer::new();
        for (name, r) in &self.roles {
            layer.merge(&r.settings.nested_under(name, r.location.clone()));
        }
        layer
            .origins
            .insert(String::new(), Location::file(&self.source));
        layer
    }
}

/// Parses a site file. `known_roles` are the registry's role names.
pub fn parse_site(path: &Path, text: &str, known_roles: &[&str]) -> Result<Site, InputError> {
    let root = node::parse_toml(path, text)?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut site = Site {
        source: path.to_path_buf(),
        name: None,
        templates: None,
        secrets: None,
        rolling: Rolling::default(),
        plays: Vec::new(),
        roles: BTreeMap::new(),
        baseline: None,
    };
    let mut saw_play = false;
    for e in root.entries("the site file")? {
        match e.key.as_str() {
            "name" => site.name = Some(non_empty(&e.value, "`name`")?.to_owned()),
            "templates" => site.templates = Some(relative_path(&e.value, "`templates`", &base)?),
            "secrets" => site.secrets = Some(relative_path(&e.value, "`secrets`", &base)?),
            "rolling" => site.rolling = rolling(e)?,
            "play" => {
                saw_play = true;
                let Kind::Seq(items) = &e.value.kind else {
                    return Err(e
                        .value
                        .wrong_type("`play`", "a list of tables")
                        .with_hint("write each play as [[play]]"));
                };
                for item in items {
                    site.plays.push(play(item, known_roles)?);
                }
            }
            "roles" => {
                for r in e.value.entries("[roles]")? {
                    check_role(&r.key, &r.key_at, known_roles)?;
                    let settings = Layer::from_node(&r.value, &format!("[roles.{}]", r.key))?;
                    site.roles.insert(
                        r.key.clone(),
                        RoleSettings {
                            location: r.key_at.clone(),
                            settings,
                        },
                    );
                }
            }
            "baseline" => site.baseline = Some(baseline(e)?),
            _ => return Err(unknown_key(e, "in the site file", TOP_KEYS)),
        }
    }
    if !saw_play || site.plays.is_empty() {
        return Err(InputError::in_file(path, "the site file has no [[play]]")
            .with_hint("add one: [[play]] hosts = \"all\" roles = [\"base\"]"));
    }
    Ok(site)
}

fn non_empty<'a>(n: &'a Node, what: &str) -> Result<&'a str, InputError> {
    let s = n.as_str(what)?;
    if s.trim().is_empty() {
        return Err(InputError::new(n.at.clone(), format!("{what} is empty")));
    }
    Ok(s)
}

fn relative_path(n: &Node, what: &str, base: &Path) -> Result<Located<PathBuf>, InputError> {
    let s = non_empty(n, what)?;
    let p = Path::new(s);
    let path = if p.is_absolute() || s.starts_with('~') {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    Ok(Located::new(path, n.at.clone()))
}

fn check_role(name: &str, at: &Location, known: &[&str]) -> Result<(), InputError> {
    if known.contains(&name) {
        return Ok(());
    }
    let e = InputError::new(at.clone(), format!("unknown role `{name}`"));
    Err(match did_you_mean(name, known.iter().copied()) {
        Some(s) => e.with_hint(format!("did you mean `{s}`?")),
        None => e.with_hint(format!("known roles: {}", known.join(", "))),
    })
}

fn amount(n: &Node, what: &str) -> Result<CountOrPercent, InputError> {
    match &n.kind {
        Kind::Int(i) if *i >= 0 => Ok(CountOrPercent::Count(i.unsigned_abs())),
        Kind::Int(i) => Err(InputError::new(
            n.at.clone(),
            format!("{what} must be 0 or more, not {i}"),
        )),
        Kind::Str(s) => s
            .parse()
            .map_err(|e: crate::types::ValueError| InputError::new(n.at.clone(), e.0)),
        _ => Err(n.wrong_type(what, "a count or a percentage like \"10%\"")),
    }
}

fn rolling(e: &Entry) -> Result<Rolling, InputError> {
    let mut r = Rolling {
        location: Some(e.key_at.clone()),
        ..Rolling::default()
    };
    for k in e.value.entries("[rolling]")? {
        match k.key.as_str() {
            "serial" => {
                let items: Vec<&Node> = match &k.value.kind {
                    Kind::Seq(items) => items.iter().collect(),
                    _ => vec![&k.value],
                };
                if items.is_empty() {
                    return Err(InputError::new(k.value.at.clone(), "`serial` is empty")
                        .with_hint("give wave sizes like [1, \"10%\", \"100%\"]"));
                }
                r.serial = items
                    .into_iter()
                    .map(|n| {
                        let a = amount(n, "a `serial` entry")?;
                        if a.is_zero() {
                            return Err(InputError::new(
                                n.at.clone(),
                                format!("a wave of {a} hosts never ends"),
                            )
                            .with_hint("wave sizes are at least 1 (or 1%)"));
                        }
                        Ok(a)
                    })
                    .collect::<Result<_, _>>()?;
            }
            "max_fail" => r.max_fail = amount(&k.value, "`max_fail`")?,
            "health" => {
                r.health = Some(Located::new(
                    non_empty(&k.value, "`health`")?.to_owned(),
                    k.value.at.clone(),
                ))
            }
            "confirm_timeout" => match k.value.kind {
                Kind::Int(n) if n > 0 => {
                    r.confirm_timeout = Some(Located::new(n.unsigned_abs(), k.value.at.clone()))
                }
                Kind::Int(n) => {
                    return Err(InputError::new(
                        k.value.at.clone(),
                        format!("`confirm_timeout` must be above 0 seconds, not {n}"),
                    ));
                }
                _ => {
                    return Err(k
                        .value
                        .wrong_type("`confirm_timeout`", "a number of seconds"));
                }
            },
            _ => return Err(unknown_key(k, "in [rolling]", ROLLING_KEYS)),
        }
    }
    Ok(r)
}

fn baseline(e: &Entry) -> Result<BaselineSettings, InputError> {
    let mut b = BaselineSettings {
        location: e.key_at.clone(),
        profile: None,
        vars: Layer::new(),
        var_keys: Vec::new(),
        waivers: Vec::new(),
        deep: false,
    };
    for k in e.value.entries("[baseline]")? {
        match k.key.as_str() {
            "profile" => {
                b.profile = Some(Located::new(
                    non_empty(&k.value, "`profile`")?.to_owned(),
                    k.value.at.clone(),
                ))
            }
            "deep" => match k.value.kind {
                Kind::Bool(v) => b.deep = v,
                _ => return Err(k.value.wrong_type("`deep`", "true or false")),
            },
            "vars" => {
                for v in k.value.entries("[baseline.vars]")? {
                    b.var_keys.push((v.key.clone(), v.key_at.clone()));
                }
                b.vars = Layer::from_node(&k.value, "[baseline.vars]")?;
            }
            "waiver" => {
                let Kind::Seq(items) = &k.value.kind else {
                    return Err(k
                        .value
                        .wrong_type("`waiver`", "a list of tables")
                        .with_hint("write each waiver as [[baseline.waiver]]"));
                };
                for item in items {
                    b.waivers.push(waiver(item)?);
                }
            }
            _ => return Err(unknown_key(k, "in [baseline]", BASELINE_KEYS)),
        }
    }
    Ok(b)
}

fn waiver(n: &Node) -> Result<WaiverSettings, InputError> {
    let mut control = None;
    let mut reason = None;
    let mut expires = None;
    let mut by = None;
    for k in n.entries("a [[baseline.waiver]]")? {
        let text = || -> Result<Located<String>, InputError> {
            Ok(Located::new(
                non_empty(&k.value, &format!("`{}`", k.key))?.to_owned(),
                k.value.at.clone(),
            ))
        };
        match k.key.as_str() {
            "control" => control = Some(text()?),
            "reason" => reason = Some(text()?.value),
            "expires" => expires = Some(text()?),
            "by" => by = Some(text()?.value),
            _ => return Err(unknown_key(k, "in a [[baseline.waiver]]", WAIVER_KEYS)),
        }
    }
    let missing = |what: &str| {
        InputError::new(n.at.clone(), format!("this waiver has no `{what}`")).with_hint(
            "a waiver names control, reason, expires (YYYY-MM-DD) and by (who approved it)",
        )
    };
    Ok(WaiverSettings {
        control: control.ok_or_else(|| missing("control"))?,
        reason: reason.ok_or_else(|| missing("reason"))?,
        expires: expires.ok_or_else(|| missing("expires"))?,
        by: by.ok_or_else(|| missing("by"))?,
        location: n.at.clone(),
    })
}

fn play(n: &Node, known_roles: &[&str]) -> Result<Play, InputError> {
    let mut name = None;
    let mut baseline = None;
    let mut hosts = None;
    let mut roles = None;
    let mut tags = Vec::new();
    for k in n.entries("a [[play]]")? {
        match k.key.as_str() {
            "name" => name = Some(non_empty(&k.value, "`name`")?.to_owned()),
            "hosts" => {
                let text = k.value.as_str("`hosts`")?;
                // The pattern's text starts after the opening quote.
                let at = match (k.value.at.line, k.value.at.col) {
                    (Some(l), Some(c)) => Location::at(k.value.at.file.clone(), l, c + 1),
                    _ => k.value.at.clone(),
                };
                hosts = Some(HostPattern::parse(text, at)?);
            }
            "roles" => {
                let list = k.value.strict_str_list("`roles`")?;
                for (r, at) in &list {
                    check_role(r, at, known_roles)?;
                }
                roles = Some(
                    list.into_iter()
                        .map(|(r, at)| Located::new(r, at))
                        .collect::<Vec<_>>(),
                );
            }
            "tags" => {
                tags = k
                    .value
                    .str_list("`tags`")?
                    .into_iter()
                    .map(|(t, _)| t)
                    .collect()
            }
            "baseline" => {
                baseline = Some(Located::new(
                    non_empty(&k.value, "`baseline`")?.to_owned(),
                    k.value.at.clone(),
                ))
            }
            _ => return Err(unknown_key(k, "in a [[play]]", PLAY_KEYS)),
        }
    }
    let hosts = hosts.ok_or_else(|| {
        InputError::new(n.at.clone(), "this play has no `hosts`")
            .with_hint("add hosts = \"all\" (or a group or pattern)")
    })?;
    let roles = match roles {
        Some(r) if !r.is_empty() => r,
        // A play may run the baseline alone.
        _ if baseline.as_ref().is_some_and(|b| b.value != "none") => Vec::new(),
        _ => {
            return Err(InputError::new(n.at.clone(), "this play has no `roles`")
                .with_hint("add roles = [\"base\", ...]"));
        }
    };
    Ok(Play {
        name,
        hosts,
        roles,
        tags,
        baseline,
        location: n.at.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::parse;

    const ROLES: &[&str] = &["base", "sshd", "ufw", "unattended"];

    /// `expected` is a summary (name, serial, max_fail, plays as `hosts=roles`) or the error.
    fn check(input: &str, expected: Result<&str, &str>) {
        let got = parse_site(Path::new("site/site.toml"), input, ROLES)
            .map(|s| {
                let plays: Vec<String> = s
                    .plays
                    .iter()
                    .map(|p| {
                        format!(
                            "{}={}",
                            p.hosts.as_str(),
                            p.roles
                                .iter()
                                .map(|r| r.value.as_str())
                                .collect::<Vec<_>>()
                                .join("+")
                        )
                    })
                    .collect();
                let serial: Vec<String> =
                    s.rolling.serial.iter().map(ToString::to_string).collect();
                format!(
                    "{} [{}] {} {}",
                    s.name.as_deref().unwrap_or("-"),
                    serial.join(","),
                    s.rolling.max_fail,
                    plays.join(" ")
                )
            })
            .map_err(|e| e.to_string());
        assert_eq!(
            got.as_deref().map_err(String::as_str),
            expected,
            "input:\n{input}"
        );
    }

    const FULL: &str = "name = \"fleetclaw\"\ntemplates = \"templates\"\nsecrets = \"secrets.age\"\n[rolling]\nserial = [1, \"10%\", \"50%\", \"100%\"]\nmax_fail = \"10%\"\nhealth = \"systemctl is-system-running\"\nconfirm_timeout = 120\n[[play]]\nname = \"harden\"\nhosts = \"all\"\nroles = [\"base\", \"sshd\", \"ufw\"]\ntags = [\"security\"]\n[[play]]\nhosts = \"web:!db\"\nroles = [\"unattended\", \"sshd\"]\n[roles.sshd]\nallow_users = [\"fleetclaw\", \"ubuntu\"]\n";

    #[test]
    fn site_files() {
        for (input, expected) in [
            (
                FULL,
                Ok("fleetclaw [1,10%,50%,100%] 10% all=base+sshd+ufw web:!db=unattended+sshd"),
            ),
            (
                "[[play]]\nhosts = \"web\"\nroles = [\"base\"]\n",
                Ok("- [100%] 0 web=base"),
            ),
            (
                "[rolling]\nserial = 2\n[[play]]\nhosts = \"all\"\nroles = [\"base\"]\n",
                Ok("- [2] 0 all=base"),
            ),
            (
                "[[play]]\nhosts = \"all\"\nroles = [\"shd\"]\n",
                Err("site/site.toml:3:10: unknown role `shd`\n  hint: did you mean `sshd`?"),
            ),
            (
                "[[play]]\nhosts = \"all\"\nroles = [\"nginx\"]\n",
                Err(
                    "site/site.toml:3:10: unknown role `nginx`\n  hint: known roles: base, sshd, ufw, unattended",
                ),
            ),
            (
                "[[play]]\nhosts = \"all\"\nroles = [\"base\"]\n[roles.ufww]\n",
                Err("site/site.toml:4:8: unknown role `ufww`\n  hint: did you mean `ufw`?"),
            ),
            (
                "[[plays]]\nhosts = \"all\"\n",
                Err(
                    "site/site.toml:1:3: unknown key `plays` in the site file\n  hint: did you mean `play`?",
                ),
            ),
            (
                "[play]\nhosts = \"all\"\nroles = [\"base\"]\n",
                Err(
                    "site/site.toml:1:1: `play` must be a list of tables, not a table\n  hint: write each play as [[play]]",
                ),
            ),
            (
                "[[play]]\nhost = \"all\"\nroles = [\"base\"]\n",
                Err(
                    "site/site.toml:2:1: unknown key `host` in a [[play]]\n  hint: did you mean `hosts`?",
                ),
            ),
            (
                "[[play]]\nroles = [\"base\"]\n",
                Err(
                    "site/site.toml:1:1: this play has no `hosts`\n  hint: add hosts = \"all\" (or a group or pattern)",
                ),
            ),
            (
                "[[play]]\nhosts = \"web:!\"\nroles = [\"base\"]\n",
                Err("site/site.toml:2:14: `!` has no host or group after it"),
            ),
            (
                "[rolling]\nserial = [1, 0]\n[[play]]\nhosts = \"all\"\nroles = [\"base\"]\n",
                Err(
                    "site/site.toml:2:14: a wave of 0 hosts never ends\n  hint: wave sizes are at least 1 (or 1%)",
                ),
            ),
            (
                "[rolling]\nserial = [\"150%\"]\n[[play]]\nhosts = \"all\"\nroles = [\"base\"]\n",
                Err("site/site.toml:2:11: invalid percentage `150%`: use 0% to 100%"),
            ),
            (
                "[rolling]\nmax_fails = 1\n",
                Err(
                    "site/site.toml:2:1: unknown key `max_fails` in [rolling]\n  hint: did you mean `max_fail`?",
                ),
            ),
            (
                "[rolling]\nconfirm_timeout = \"2m\"\n",
                Err(
                    "site/site.toml:2:19: `confirm_timeout` must be a number of seconds, not a string",
                ),
            ),
            (
                "name = \"x\"\n",
                Err(
                    "site/site.toml: the site file has no [[play]]\n  hint: add one: [[play]] hosts = \"all\" roles = [\"base\"]",
                ),
            ),
        ] {
            check(input, expected);
        }
    }

    #[test]
    fn paths_and_role_settings() {
        let s = parse_site(Path::new("site/site.toml"), FULL, ROLES).unwrap();
        assert_eq!(
            s.templates.as_ref().unwrap().value,
            Path::new("site/templates")
        );
        assert_eq!(
            s.secrets.as_ref().unwrap().value,
            Path::new("site/secrets.age")
        );
        let layer = s.roles_layer();
        assert_eq!(
            layer.value,
            serde_json::json!({"sshd": {"allow_users": ["fleetclaw", "ubuntu"]}})
        );
        assert_eq!(
            layer.origin("sshd.allow_users").unwrap().to_string(),
            "site/site.toml:18:1"
        );
        assert_eq!(s.rolling.confirm_timeout.as_ref().unwrap().value, 120);
    }

    #[test]
    fn roles_for_hosts_in_play_order_without_duplicates() {
        let s = parse_site(Path::new("site/site.toml"), FULL, ROLES).unwrap();
        let inv = parse(
            Path::new("i.ini"),
            "[web]\nh1\n[db]\nh2\n[web:children]\ndb\n",
        )
        .unwrap();
        assert_eq!(
            s.roles_for(inv.host("h1").unwrap()),
            vec!["base", "sshd", "ufw", "unattended"]
        );
        assert_eq!(
            s.roles_for(inv.host("h2").unwrap()),
            vec!["base", "sshd", "ufw"]
        );
        assert_eq!(
            s.tags_for(inv.host("h1").unwrap(), "sshd"),
            vec!["security"]
        );
        assert_eq!(
            s.tags_for(inv.host("h1").unwrap(), "unattended"),
            Vec::<&str>::new()
        );
        assert!(s.check_patterns(&inv).is_ok());
    }

    #[test]
    fn batches_like_ansible_serial() {
        let r = |serial: Vec<CountOrPercent>| Rolling {
            serial,
            ..Rolling::default()
        };
        use CountOrPercent::{Count, Percent};
        assert_eq!(r(vec![Percent(100)]).batches(5), vec![5]);
        assert_eq!(
            r(vec![Count(1), Percent(10), Percent(50), Percent(100)]).batches(20),
            vec![1, 2, 10, 7]
        );
        assert_eq!(r(vec![Count(2)]).batches(5), vec![2, 2, 1]);
        assert_eq!(r(vec![Percent(10)]).batches(3), vec![1, 1, 1]);
        assert_eq!(r(vec![Count(1)]).batches(0), Vec::<usize>::new());
        assert_eq!(
            Rolling {
                max_fail: Percent(10),
                ..Rolling::default()
            }
            .max_failures(25),
            2
        );
    }
}
