//! The `redis-acl` role: FleetClaw's per-asset Redis access control.
//!
//! One Redis user per fleet asset, each confined to its own keys and channels (asset `ex_001`
//! gets NOPERM on `GET fleet:inbox:DZ-001`), plus a fleet coordinator, a read-only monitoring
//! user, an administrator and rampart's own maintenance user; the `default` user is off.
//!
//! **Secrets:** every password comes from the run's decrypted secrets (`redis/<user>`) and
//! reaches the host only as a SHA-256 hash in the ACL file (`#<hex>`): no clear password is
//! ever written, shown in a diff or put on a command line. The one credential on the host is
//! the maintenance user's, derived from the admin secret, in a root-only file: it can only
//! `ACL LOAD` and `ACL DRYRUN`, which is what the handler and the verify checks need.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rampart_core::Risk;
use rampart_core::facts::{FactRequest, Facts, FileState, sha256_hex};
use rampart_core::resource::{Command, Directory, Edit, File, Resource, Validate};
use rampart_core::role::{
    ConfigError, Configured, Handler, HostContext, Role, RoleError, RolePlan, TypedRole,
};
use rampart_core::secret::Secret;
use rampart_core::shell::{Script, quote};
use rampart_core::verify::{Check, Expect, FactQuery, check_command};
use serde::{Deserialize, Serialize};

/// The template that renders the ACL file.
pub const TEMPLATE: &str = "redis-acl/users.acl.j2";
/// The handler that restarts Redis (the first time `aclfile` is configured).
pub const RESTART: &str = "restart redis";
/// The handler that makes the running Redis re-read the ACL file.
pub const LOAD: &str = "load redis ACL";
/// Passwords shorter than this are refused: they are the only thing between the fleet's
/// agents and each other's queues.
pub const MIN_PASSWORD_LEN: usize = 16;

/// Command rules of the fleet's client users (assets and coordinator): data commands on their
/// own keys, Pub/Sub and transactions; nothing that ignores key permissions (`FLUSHALL`,
/// `KEYS`, `SCAN`, `RANDOMKEY`, `PUBSUB CHANNELS`), no scripting, no administration.
pub const CLIENT_COMMANDS: &str = "-@all +@read +@write +@pubsub +@transaction +@connection -@dangerous -@admin -@scripting -@keyspace +del +unlink +exists +expire +pexpire +ttl +pttl +type -pubsub";

/// Command rules of the monitoring user: health and statistics, no keys, no `CONFIG GET`
/// (it returns `requirepass` in clear).
pub const MONITOR_COMMANDS: &str = "-@all +ping +info +client|list +dbsize +slowlog|get +slowlog|len +latency|latest +memory|stats";

/// Command rules of rampart's maintenance user.
/// `ACL USERS` shows user names only (no rules, no hashes).
const MAINTENANCE_COMMANDS: &str = "-@all +ping +acl|dryrun +acl|load +acl|users";

/// The command that reloads a live ACL that drifted from the file.
pub const RELOAD_DRIFTED: &str = "reload the live Redis ACL";
/// The live controls whose failure, with the files right, makes [`RELOAD_DRIFTED`] run.
const GUARD_CONTROLS: [&str; 2] = ["redis-acl.asset-isolation", "redis-acl.live-users"];

// The role's host scripts (`scripts/`): values reach them as positional parameters.
/// `redis_pw` and `redis_session`, which the scripts that talk to Redis start with.
const SESSION: &str = include_str!("scripts/session.sh");
/// DRYRUN probes in one session, judged by awk (a check).
const DRYRUN: &str = include_str!("scripts/dryrun.sh");
/// The live user names (a check).
const LIVE_USERS: &str = include_str!("scripts/live_users.sh");
/// The `load acl` handler.
const LOAD_SCRIPT: &str = include_str!("scripts/load.sh");
/// Validation of a new ACL file with a throwaway redis-server.
const VALIDATE: &str = include_str!("scripts/validate.sh");
/// The four live controls in one session, each answer on its tagged lines (the audit's and
/// verify's fact for those checks).
const CONTROLS: &str = include_str!("scripts/controls.sh");
/// No clear-text passwords in the ACL file (a check).
const NO_CLEAR_PASSWORDS: &str = include_str!("scripts/no_clear_passwords.sh");

/// A client user with key and channel patterns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientUser {
    /// The Redis user name; its password is the secret `<secret_prefix><user>`.
    pub user: String,
    /// Key patterns it may read and write (`fleet:*`); `%R~pattern` / `%W~pattern` limit a
    /// pattern to reads or writes.
    pub keys: Vec<String>,
    /// Pub/Sub channel patterns it may publish and subscribe to.
    pub channels: Vec<String>,
    /// Command rules (`+@read -flushall ...`), applied after `-@all`-style resets.
    pub commands: String,
}

impl Default for ClientUser {
    fn default() -> Self {
        ClientUser {
            user: "coordinator".into(),
            keys: vec!["fleet:*".into()],
            channels: vec!["fleet:*".into()],
            commands: CLIENT_COMMANDS.into(),
        }
    }
}

/// The monitoring user: commands only, no key or channel access.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorUser {
    /// The Redis user name; its password is the secret `<secret_prefix><user>`.
    pub user: String,
    /// Command rules; the default is read-only health and statistics.
    pub commands: String,
}

impl Default for MonitorUser {
    fn default() -> Self {
        MonitorUser {
            user: "monitor".into(),
            commands: MONITOR_COMMANDS.into(),
        }
    }
}

/// The role's settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The fleet's asset ids, one Redis user each (`["ex_001", "DZ-001"]`): letters, digits,
    /// `_` and `-`. Required: there is no default fleet.
    pub assets: Vec<String>,
    /// Key patterns of each asset; `{asset}` is replaced by the asset id and must be in every
    /// pattern (that is what isolates the assets from each other).
    pub asset_keys: Vec<String>,
    /// Pub/Sub channel patterns of each asset, with `{asset}` like `asset_keys`.
    pub asset_channels: Vec<String>,
    /// Command rules of the asset users.
    pub asset_commands: String,
    /// The fleet coordinator: reaches every asset's keys and channels.
    pub coordinator: ClientUser,
    /// The read-only monitoring user.
    pub monitor: MonitorUser,
    /// The administrator: every key, channel and command.
    pub admin_user: String,
    /// rampart's own user: may only `ACL LOAD` and `ACL DRYRUN`. Its password is derived from
    /// the admin secret and kept on the host in `maintenance_auth_file`.
    pub maintenance_user: String,
    /// Root-only file holding the maintenance user's password (its directory is created 0700
    /// when missing).
    pub maintenance_auth_file: String,
    /// Secret names are `<secret_prefix><user>` (`redis/ex_001`).
    pub secret_prefix: String,
    /// The ACL file Redis loads.
    pub acl_file: String,
    /// Owner and group of the ACL file (Redis runs as this user).
    pub acl_owner: String,
    /// redis.conf, where `aclfile <acl_file>` is ensured.
    pub redis_conf: String,
    /// The systemd unit running Redis.
    pub service: String,
    /// The address redis-cli connects to on the host.
    pub host: String,
    /// The port redis-cli connects to.
    pub port: u16,
    /// Test a new ACL file with a throwaway `redis-server` (no TCP port, a private socket)
    /// before it replaces the old one: Redis refuses to start with an ACL error.
    pub validate: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            assets: Vec::new(),
            asset_keys: vec!["fleet:inbox:{asset}".into(), "fleet:outbox:{asset}".into()],
            asset_channels: vec!["fleet:events:{asset}".into()],
            asset_commands: CLIENT_COMMANDS.into(),
            coordinator: ClientUser::default(),
            monitor: MonitorUser::default(),
            admin_user: "admin".into(),
            maintenance_user: "rampart".into(),
            maintenance_auth_file: "/etc/rampart/redis-acl.auth".into(),
            secret_prefix: "redis/".into(),
            acl_file: "/etc/redis/users.acl".into(),
            acl_owner: "redis".into(),
            redis_conf: "/etc/redis/redis.conf".into(),
            service: "redis-server".into(),
            host: "127.0.0.1".into(),
            port: 6379,
            validate: true,
        }
    }
}

/// The role, for the registry.
pub fn role() -> Box<dyn Role> {
    TypedRole::<Config>::new(
        "redis-acl",
        "Redis ACL: one confined user per fleet asset, default user off, hashed passwords from secrets",
    )
    .validated(Config::validate)
    .boxed()
}

/// Redis user names and asset ids: no glob characters and no `:` (a key separator), so an
/// id substituted into `fleet:inbox:{asset}` can never widen another asset's pattern.
fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Characters allowed in key and channel patterns: no whitespace, no shell or ACL syntax
/// beyond what a pattern needs (`[`-classes are refused to keep patterns reviewable).
fn valid_pattern_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || ":_.*?/@#=,+{}-".contains(c)
}

/// Splits a key pattern into its ACL prefix (`~`, `%R~`, `%W~`, `%RW~`) and its glob.
fn key_prefix(p: &str) -> Option<(&'static str, &str)> {
    for prefix in ["%RW~", "%WR~", "%R~", "%W~", "~"] {
        if let Some(rest) = p.strip_prefix(prefix) {
            let canonical = match prefix {
                "%WR~" => "%RW~",
                other => other,
            };
            return Some((canonical, rest));
        }
    }
    if p.starts_with('%') {
        None
    } else {
        Some(("~", p))
    }
}

fn check_pattern(path: &str, p: &str, per_asset: bool, channel: bool) -> Result<(), ConfigError> {
    let glob = if channel {
        Some(p.strip_prefix('&').unwrap_or(p))
    } else {
        key_prefix(p).map(|(_, g)| g)
    };
    let Some(glob) = glob else {
        return Err(ConfigError::at(
            path,
            format!("`{p}`: a key permission prefix is `%R~`, `%W~` or `%RW~`"),
        ));
    };
    if glob.is_empty() || !glob.chars().all(valid_pattern_char) {
        return Err(ConfigError::at(
            path,
            format!(
                "`{p}`: patterns use letters, digits, `:_.*?/@#=,+-` and `{{asset}}` (no spaces, quotes or `[` classes)"
            ),
        ));
    }
    let braces_ok = glob
        .replace("{asset}", "")
        .chars()
        .all(|c| c != '{' && c != '}');
    if !braces_ok {
        return Err(ConfigError::at(
            path,
            format!("`{p}`: the only placeholder is `{{asset}}`"),
        ));
    }
    if per_asset {
        if !glob.contains("{asset}") {
            return Err(ConfigError::at(
                path,
                format!(
                    "`{p}` has no `{{asset}}`: every asset would share it, which breaks asset isolation"
                ),
            ));
        }
        for (i, _) in glob.match_indices("{asset}") {
            if matches!(glob[i + "{asset}".len()..].chars().next(), Some('*' | '?')) {
                return Err(ConfigError::at(
                    path,
                    format!(
                        "`{p}`: a wildcard right after `{{asset}}` lets asset `ex_0` reach `ex_001`'s keys; put a separator first (`{{asset}}:*`)"
                    ),
                ));
            }
        }
    } else if glob.contains("{asset}") {
        return Err(ConfigError::at(
            path,
            format!("`{p}`: `{{asset}}` only means something in asset_keys and asset_channels"),
        ));
    }
    Ok(())
}

fn check_commands(path: &str, rules: &str) -> Result<(), ConfigError> {
    if rules.split_whitespace().next().is_none() {
        return Err(ConfigError::at(
            path,
            "no command rules: write at least `-@all`",
        ));
    }
    for tok in rules.split_whitespace() {
        let ok = (tok.starts_with('+') || tok.starts_with('-'))
            && tok.len() > 1
            && tok[1..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"@|_-".contains(&b));
        if !ok {
            return Err(ConfigError::at(
                path,
                format!(
                    "`{tok}` is not a command rule: use `+command`, `-command`, `+@category` or `+command|subcommand` (passwords, keys and `on`/`off` are managed by the role)"
                ),
            ));
        }
    }
    Ok(())
}

fn check_abs(path: &str, p: &str) -> Result<(), ConfigError> {
    let ok = p.starts_with('/')
        && p.len() > 1
        && !p.ends_with('/')
        && !p.split('/').any(|c| c == "..")
        && p.chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\'' && c != '\\');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::at(
            path,
            format!("`{p}` must be an absolute file path without spaces, quotes or `..`"),
        ))
    }
}

impl Config {
    /// Checks everything serde cannot: names, patterns, rules, paths, collisions.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.assets.is_empty() {
            return Err(ConfigError::at(
                "assets",
                "no assets: list the fleet's asset ids, e.g. assets = [\"ex_001\", \"DZ-001\"]",
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, a) in self.assets.iter().enumerate() {
            if !valid_name(a) {
                return Err(ConfigError::at(
                    format!("assets[{i}]"),
                    format!("`{a}`: asset ids are 1-64 letters, digits, `_` or `-`"),
                ));
            }
            if !seen.insert(a.as_str()) {
                return Err(ConfigError::at(
                    format!("assets[{i}]"),
                    format!("asset `{a}` is listed twice"),
                ));
            }
        }
        let named = [
            ("coordinator.user", self.coordinator.user.as_str()),
            ("monitor.user", self.monitor.user.as_str()),
            ("admin_user", self.admin_user.as_str()),
            ("maintenance_user", self.maintenance_user.as_str()),
        ];
        for (path, name) in named {
            if !valid_name(name) {
                return Err(ConfigError::at(
                    path,
                    format!("`{name}`: user names are 1-64 letters, digits, `_` or `-`"),
                ));
            }
            if name == "default" {
                return Err(ConfigError::at(
                    path,
                    "`default` is Redis's anonymous user; the role always turns it off",
                ));
            }
            if !seen.insert(name) {
                return Err(ConfigError::at(
                    path,
                    format!("`{name}` is already an asset or another user"),
                ));
            }
        }
        if self.asset_keys.is_empty() {
            return Err(ConfigError::at(
                "asset_keys",
                "assets need at least one key pattern, e.g. \"fleet:inbox:{asset}\"",
            ));
        }
        for (i, p) in self.asset_keys.iter().enumerate() {
            check_pattern(&format!("asset_keys[{i}]"), p, true, false)?;
        }
        for (i, p) in self.asset_channels.iter().enumerate() {
            check_pattern(&format!("asset_channels[{i}]"), p, true, true)?;
        }
        for (i, p) in self.coordinator.keys.iter().enumerate() {
            check_pattern(&format!("coordinator.keys[{i}]"), p, false, false)?;
        }
        for (i, p) in self.coordinator.channels.iter().enumerate() {
            check_pattern(&format!("coordinator.channels[{i}]"), p, false, true)?;
        }
        check_commands("asset_commands", &self.asset_commands)?;
        check_commands("coordinator.commands", &self.coordinator.commands)?;
        check_commands("monitor.commands", &self.monitor.commands)?;
        check_abs("acl_file", &self.acl_file)?;
        check_abs("redis_conf", &self.redis_conf)?;
        check_abs("maintenance_auth_file", &self.maintenance_auth_file)?;
        if self.maintenance_auth_file == self.acl_file {
            return Err(ConfigError::at(
                "maintenance_auth_file",
                "must not be the ACL file",
            ));
        }
        if !valid_name(&self.acl_owner) {
            return Err(ConfigError::at(
                "acl_owner",
                format!("`{}` is not a user name", self.acl_owner),
            ));
        }
        if self.service.is_empty()
            || !self
                .service
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"@_.-".contains(&b))
        {
            return Err(ConfigError::at(
                "service",
                format!("`{}` is not a systemd unit name", self.service),
            ));
        }
        if self.host.is_empty()
            || !self
                .host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".:-".contains(&b))
        {
            return Err(ConfigError::at(
                "host",
                format!("`{}` is not a host name or address", self.host),
            ));
        }
        if self.port == 0 {
            return Err(ConfigError::at(
                "port",
                "invalid port 0: ports are 1 to 65535",
            ));
        }
        if self.secret_prefix.chars().any(char::is_whitespace) {
            return Err(ConfigError::at(
                "secret_prefix",
                "secret names cannot contain spaces",
            ));
        }
        Ok(())
    }

    /// The secret holding `user`'s password.
    pub fn secret_name(&self, user: &str) -> String {
        format!("{}{user}", self.secret_prefix)
    }

    /// The users that need a password from the secrets, in ACL file order.
    fn secret_users(&self) -> Vec<&str> {
        let mut v = vec![
            self.admin_user.as_str(),
            self.monitor.user.as_str(),
            self.coordinator.user.as_str(),
        ];
        v.extend(self.assets.iter().map(String::as_str));
        v
    }

    /// The parent directory of the maintenance credential.
    fn auth_dir(&self) -> String {
        Path::new(&self.maintenance_auth_file)
            .parent()
            .map_or_else(|| "/".to_owned(), |p| p.display().to_string())
    }

    /// The values every Redis session script starts with: the auth file, the maintenance
    /// user, host and port (see `scripts/session.sh`).
    fn session_args(&self) -> [String; 4] {
        [
            self.maintenance_auth_file.clone(),
            self.maintenance_user.clone(),
            self.host.clone(),
            self.port.to_string(),
        ]
    }
}

/// A concrete key matching a pattern, for `ACL DRYRUN` probes.
fn sample(glob: &str, asset: &str) -> String {
    glob.replace("{asset}", asset)
        .replace('*', "probe")
        .replace('?', "p")
}

/// The DRYRUN probe of a key pattern: GET for readable patterns, SET for write-only ones.
fn key_probe(user: &str, pattern: &str, asset: &str) -> String {
    let (prefix, glob) = key_prefix(pattern).unwrap_or(("~", pattern));
    let key = sample(glob, asset);
    if prefix == "%W~" {
        format!("ACL DRYRUN {user} SET {key} x")
    } else {
        format!("ACL DRYRUN {user} GET {key}")
    }
}

/// One session of DRYRUN probes judged by awk (`scripts/dryrun.sh`): `+` must be `OK`, `-`
/// must not be. Prints `ok` or each probe that went the wrong way.
fn dryrun_check(cfg: &Config, probes: &[(String, bool)]) -> String {
    check_command(
        &[SESSION, DRYRUN].concat(),
        &strs(&cfg.probe_args(probes, None)),
    )
}

/// A check's command whose every output line is tagged as the shared session tags it.
fn tagged(command: &str, tag: &str) -> String {
    ["{\n", command, "\n} | sed 's/^/", tag, ": /'\n"].concat()
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// What the awk judges of DRYRUN probes get: the commands, `+`/`-` per probe (must be
/// allowed / denied), and the probes' labels joined by `|`.
fn dryrun_parts(probes: &[(String, bool)]) -> (Vec<String>, String, String) {
    let commands = probes.iter().map(|(c, _)| c.clone()).collect();
    let want = probes
        .iter()
        .map(|(_, allow)| if *allow { '+' } else { '-' })
        .collect();
    let labels: Vec<&str> = probes
        .iter()
        .map(|(c, _)| c.trim_start_matches("ACL DRYRUN "))
        .collect();
    (commands, want, labels.join("|"))
}

/// One user line's parts, as the template renders them.
#[derive(Debug, Serialize)]
struct AclUser {
    name: String,
    state: &'static str,
    hashes: Vec<String>,
    keys: Vec<String>,
    channels: Vec<String>,
    commands: String,
}

fn key_rules(patterns: &[String], asset: Option<&str>) -> Vec<String> {
    patterns
        .iter()
        .map(|p| {
            let (prefix, glob) = key_prefix(p).unwrap_or(("~", p));
            let glob = asset.map_or_else(|| glob.to_owned(), |a| glob.replace("{asset}", a));
            format!("{prefix}{glob}")
        })
        .collect()
}

fn channel_rules(patterns: &[String], asset: Option<&str>) -> Vec<String> {
    patterns
        .iter()
        .map(|p| {
            let glob = p.strip_prefix('&').unwrap_or(p);
            let glob = asset.map_or_else(|| glob.to_owned(), |a| glob.replace("{asset}", a));
            format!("&{glob}")
        })
        .collect()
}

/// The maintenance password: derived from the admin secret, so it needs no secret of its own
/// and rotates with it; knowing it reveals nothing of the admin password.
fn maintenance_password(admin: &Secret) -> Secret {
    let material = Secret::new(format!(
        "rampart redis-acl maintenance v1\n{}",
        admin.expose()
    ));
    Secret::new(sha256_hex(material.expose().as_bytes()))
}

impl Config {
    /// The passwords of every user, or an error naming every missing or weak secret.
    fn passwords<'a>(
        &self,
        secrets: &'a BTreeMap<String, Secret>,
    ) -> Result<BTreeMap<String, &'a Secret>, RoleError> {
        let mut missing = Vec::new();
        let mut weak = Vec::new();
        let mut out = BTreeMap::new();
        for user in self.secret_users() {
            let name = self.secret_name(user);
            match secrets.get(&name) {
                None => missing.push(name),
                Some(s) if s.expose().chars().count() < MIN_PASSWORD_LEN => weak.push(name),
                Some(s) => {
                    out.insert(user.to_owned(), s);
                }
            }
        }
        if !missing.is_empty() {
            return Err(RoleError(format!(
                "redis-acl: missing secret{} {}: add one entry per Redis user with `rampart secrets edit` (names are `{}<user>`, see roles/redis-acl/README.md)",
                if missing.len() > 1 { "s" } else { "" },
                missing.join(", "),
                self.secret_prefix
            )));
        }
        if !weak.is_empty() {
            let (noun, verb) = if weak.len() > 1 {
                ("secrets", "are")
            } else {
                ("secret", "is")
            };
            return Err(RoleError(format!(
                "redis-acl: {noun} {} {verb} shorter than {MIN_PASSWORD_LEN} characters: set longer passwords with `rampart secrets edit`",
                weak.join(", ")
            )));
        }
        Ok(out)
    }

    fn acl_users(&self, pw: &BTreeMap<String, &Secret>, maintenance: &Secret) -> Vec<AclUser> {
        let hash = |user: &str| {
            pw.get(user)
                .map(|s| vec![sha256_hex(s.expose().as_bytes())])
                .unwrap_or_default()
        };
        let mut users = vec![
            AclUser {
                name: "default".into(),
                state: "off",
                hashes: vec![],
                keys: vec![],
                channels: vec![],
                commands: "-@all".into(),
            },
            AclUser {
                name: self.admin_user.clone(),
                state: "on",
                hashes: hash(&self.admin_user),
                keys: vec!["~*".into()],
                channels: vec!["&*".into()],
                commands: "+@all".into(),
            },
            AclUser {
                name: self.maintenance_user.clone(),
                state: "on",
                hashes: vec![sha256_hex(maintenance.expose().as_bytes())],
                keys: vec![],
                channels: vec![],
                commands: MAINTENANCE_COMMANDS.into(),
            },
            AclUser {
                name: self.monitor.user.clone(),
                state: "on",
                hashes: hash(&self.monitor.user),
                keys: vec![],
                channels: vec![],
                commands: normalize(&self.monitor.commands),
            },
            AclUser {
                name: self.coordinator.user.clone(),
                state: "on",
                hashes: hash(&self.coordinator.user),
                keys: key_rules(&self.coordinator.keys, None),
                channels: channel_rules(&self.coordinator.channels, None),
                commands: normalize(&self.coordinator.commands),
            },
        ];
        for a in &self.assets {
            users.push(AclUser {
                name: a.clone(),
                state: "on",
                hashes: hash(a),
                keys: key_rules(&self.asset_keys, Some(a)),
                channels: channel_rules(&self.asset_channels, Some(a)),
                commands: normalize(&self.asset_commands),
            });
        }
        users
    }

    /// Validation of a new ACL file: start a throwaway redis-server on it with no TCP port, a
    /// private unix socket and no persistence; an ACL error makes it exit at once, a good
    /// file makes it listen (then it is stopped).
    fn validator(&self) -> String {
        ["sh -c ", &quote(VALIDATE), " redis-acl-validate %s"].concat()
    }

    /// DRYRUN probes proving asset isolation: own key and channel allowed, the next asset's
    /// denied, `FLUSHALL` and `CONFIG GET` denied.
    fn isolation_probes(&self) -> Vec<(String, bool)> {
        let mut isolation = Vec::new();
        let n = self.assets.len();
        for (i, a) in self.assets.iter().enumerate() {
            let other = if n > 1 {
                self.assets[(i + 1) % n].clone()
            } else {
                format!("{a}-rampart-probe")
            };
            if let Some(k) = self.asset_keys.first() {
                isolation.push((key_probe(a, k, a), true));
                isolation.push((key_probe(a, k, &other), false));
            }
            if let Some(c) = self.asset_channels.first() {
                let glob = c.strip_prefix('&').unwrap_or(c);
                isolation.push((
                    format!("ACL DRYRUN {a} SUBSCRIBE {}", sample(glob, a)),
                    true,
                ));
                isolation.push((
                    format!("ACL DRYRUN {a} PUBLISH {} x", sample(glob, &other)),
                    false,
                ));
            }
            isolation.push((format!("ACL DRYRUN {a} FLUSHALL"), false));
            isolation.push((format!("ACL DRYRUN {a} CONFIG GET requirepass"), false));
        }
        isolation
    }

    /// DRYRUN probes proving the monitoring user is read-only.
    fn monitor_probes(&self) -> Vec<(String, bool)> {
        let m = &self.monitor.user;
        let first = self.assets.first().map_or("x", String::as_str);
        let key = self.asset_keys.first().map_or_else(
            || "fleet:x".to_owned(),
            |k| sample(key_prefix(k).map_or(k, |(_, g)| g), first),
        );
        vec![
            (format!("ACL DRYRUN {m} PING"), true),
            (format!("ACL DRYRUN {m} INFO"), true),
            (format!("ACL DRYRUN {m} GET {key}"), false),
            (format!("ACL DRYRUN {m} SET {key} x"), false),
            (format!("ACL DRYRUN {m} CONFIG GET requirepass"), false),
            (format!("ACL DRYRUN {m} FLUSHALL"), false),
        ]
    }

    /// The user names the running Redis has, sorted, on one line.
    fn live_users(&self) -> String {
        check_command(&[SESSION, LIVE_USERS].concat(), &strs(&self.session_args()))
    }

    /// The four live controls' one session (`scripts/controls.sh`): PING unauthenticated,
    /// then as the maintenance user the isolation and monitor DRYRUN probes and `ACL USERS`.
    fn live_controls(&self) -> String {
        let iso = self.isolation_probes();
        let niso = iso.len().to_string();
        let probes: Vec<(String, bool)> = iso.into_iter().chain(self.monitor_probes()).collect();
        check_command(CONTROLS, &strs(&self.probe_args(&probes, Some(&niso))))
    }

    /// The arguments of the scripts that run DRYRUN probes in one session: the session's
    /// values, `+`/`-` per probe, the probes' labels joined by `|`, the script's own value
    /// (`extra`), then the probes.
    fn probe_args(&self, probes: &[(String, bool)], extra: Option<&str>) -> Vec<String> {
        let (commands, want, labels) = dryrun_parts(probes);
        let mut args: Vec<String> = self.session_args().into();
        args.extend([want, labels]);
        args.extend(extra.map(str::to_owned));
        args.extend(commands);
        args
    }

    /// The live controls the drift guard goes by: the assets' isolation and the live users,
    /// read from the live controls' one session ([`Config::live_controls`]), so a probe that
    /// asks for the guard and the controls runs one redis-cli, not two.
    fn guard_controls(&self) -> Vec<Check> {
        self.checks()
            .into_iter()
            .filter(|c| GUARD_CONTROLS.contains(&c.id.as_str()))
            .collect()
    }

    /// The configured user names, sorted as `sort` does under `LC_ALL=C`.
    fn expected_users(&self) -> String {
        let mut names: Vec<&str> = vec![
            "default",
            &self.admin_user,
            &self.maintenance_user,
            &self.monitor.user,
            &self.coordinator.user,
        ];
        names.extend(self.assets.iter().map(String::as_str));
        names.sort_unstable();
        names.join(" ")
    }

    /// A command that reloads the ACL file when the running Redis disagrees with it (someone
    /// ran `ACL SETUSER` or `ACL DELUSER` live) although the file itself is right: it runs
    /// unless `redis-acl.asset-isolation` and `redis-acl.live-users` pass on the facts.
    fn reload_drifted(&self, facts: &Facts) -> Command {
        let satisfied = self
            .guard_controls()
            .iter()
            .all(|c| c.judge_facts(facts).pass)
            .then(|| "the live ACL is the file's".to_owned());
        let mut c = Command::decided(RELOAD_DRIFTED, self.load_handler().as_str(), satisfied);
        c.risk = Risk::Service;
        c
    }

    /// The `load acl` handler (`scripts/load.sh`).
    fn load_handler(&self) -> Script {
        let port = self.port.to_string();
        let mut s = Script::new();
        // The session's functions, then the load, with the values as their parameters.
        s.call(
            SESSION,
            [
                self.service.as_str(),
                &self.acl_file,
                &self.host,
                &port,
                &self.maintenance_auth_file,
                &self.maintenance_user,
            ],
        )
        .source(LOAD_SCRIPT);
        s
    }
}

/// Command rules with single spaces.
fn normalize(rules: &str) -> String {
    rules.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Configured for Config {
    fn derived_secrets(&self, secrets: &BTreeMap<String, Secret>) -> Vec<Secret> {
        secrets
            .get(&self.secret_name(&self.admin_user))
            .map(maintenance_password)
            .into_iter()
            .collect()
    }

    fn facts(&self, req: &mut FactRequest) {
        for p in [
            &self.redis_conf,
            &self.acl_file,
            &self.maintenance_auth_file,
        ] {
            req.file(p.clone());
        }
        req.file(self.auth_dir());
        for c in self.guard_controls() {
            c.request(req);
        }
    }

    fn plan(&self, ctx: &HostContext<'_>) -> Result<RolePlan, RoleError> {
        let conf = ctx.facts.files.get(&self.redis_conf);
        let conf_text = match conf {
            Some(FileState::File { .. }) => conf.and_then(FileState::text).unwrap_or_default(),
            _ => {
                return Err(RoleError(format!(
                    "redis-acl: {} does not exist on {}: install redis-server first (this role configures an installed Redis; set `redis_conf` if it lives elsewhere)",
                    self.redis_conf, ctx.host
                )));
            }
        };
        if let Some(line) = conf_text
            .lines()
            .find(|l| l.trim_start().starts_with("user "))
        {
            let user = line.split_whitespace().nth(1).unwrap_or("?");
            return Err(RoleError(format!(
                "redis-acl: {} defines user `{user}` with a `user` directive; Redis refuses users in redis.conf together with an ACL file: remove the `user` lines (and list the users in this role's config)",
                self.redis_conf
            )));
        }
        let pw = self.passwords(ctx.secrets)?;
        let admin = pw
            .get(&self.admin_user)
            .copied()
            .ok_or_else(|| RoleError("redis-acl: no admin password".into()))?;
        let maintenance = maintenance_password(admin);
        let users = self.acl_users(&pw, &maintenance);
        let acl = ctx
            .templates
            .render(TEMPLATE, serde_json::json!({ "users": users }))
            .map_err(|e| RoleError(format!("redis-acl: {e}")))?;

        let mut resources = Vec::new();
        let dir = self.auth_dir();
        if matches!(ctx.facts.files.get(&dir), Some(FileState::Absent)) {
            resources.push(Resource::Directory(Directory::new(
                dir, 0o700, "root", "root",
            )));
        }
        let auth = format!("{}\n", maintenance.expose());
        resources.push(Resource::File(
            File::new(&self.maintenance_auth_file, auth, 0o600).sensitive(),
        ));
        let mut acl_file = File::new(&self.acl_file, acl, 0o600)
            .owned_by(&self.acl_owner, &self.acl_owner)
            .sensitive()
            .notifies(LOAD)
            .risk(Risk::Service);
        if self.validate {
            acl_file = acl_file.validated(Validate::Temp(self.validator()));
        }
        resources.push(Resource::File(acl_file));
        let mut edit = Edit::line(
            &self.redis_conf,
            "aclfile",
            "aclfile ",
            &format!("aclfile {}", self.acl_file),
        );
        edit.notify.push(RESTART.into());
        edit.risk = Risk::Service;
        resources.push(Resource::Edit(edit));
        // With the files already right no handler will run: a live ACL that drifted from the
        // file (ACL SETUSER by hand) is only put back by reloading it.
        let files_right = resources
            .iter()
            .all(|r| matches!(r.plan(ctx.facts), Ok(c) if !c.is_apply()));
        if files_right {
            resources.push(Resource::Command(self.reload_drifted(ctx.facts)));
        }

        let mut restart = Script::new();
        restart.cmd(["systemctl", "restart", self.service.as_str()]);
        let handlers = vec![
            Handler {
                name: RESTART.into(),
                script: restart,
            },
            Handler {
                name: LOAD.into(),
                script: self.load_handler(),
            },
        ];
        Ok(RolePlan {
            resources,
            handlers,
        })
    }

    fn checks(&self) -> Vec<Check> {
        let port = self.port.to_string();
        // The four live controls read their lines of one session (`scripts/controls.sh`):
        // one redis-cli and one awk per probe instead of four sessions. Each check's own
        // command is the shell equivalent of its lines.
        let shared = self.live_controls();
        let live = |id: &str, title: &str, command: String, tag: &str, expect: Expect| {
            Check::from_fact(
                id,
                title,
                &tagged(&command, tag),
                FactQuery::SharedLines {
                    command: shared.clone(),
                    prefixes: vec![format!("{tag}: ")],
                },
                expect,
            )
        };
        vec![
            live(
                "redis-acl.default-user-off",
                "Redis refuses unauthenticated clients (the default user is off)",
                check_command(
                    "redis-cli -h \"$2\" -p \"$3\" PING 2>&1\n",
                    &[&self.host, &port],
                ),
                "ping",
                Expect::Contains("NOAUTH".into()),
            ),
            live(
                "redis-acl.asset-isolation",
                "each asset reaches only its own keys and channels (e.g. NOPERM on another asset's inbox), and cannot flush or reconfigure Redis",
                dryrun_check(self, &self.isolation_probes()),
                "isolation",
                Expect::Equals("isolation: ok".into()),
            ),
            live(
                "redis-acl.monitor-read-only",
                "the monitoring user can read health and statistics only",
                dryrun_check(self, &self.monitor_probes()),
                "monitor",
                Expect::Equals("monitor: ok".into()),
            ),
            live(
                "redis-acl.live-users",
                "the running Redis has exactly the configured users",
                self.live_users(),
                "users",
                Expect::Equals(format!("users: {}", self.expected_users())),
            ),
            Check::from_fact(
                "redis-acl.acl-file-mode",
                &format!("the ACL file is readable by {} only", self.acl_owner),
                &check_command("stat -c '%a %U:%G' \"$2\" 2>&1\n", &[&self.acl_file]),
                FactQuery::Stat {
                    paths: vec![self.acl_file.clone()],
                    format: "%a %U:%G".into(),
                },
                Expect::Equals(format!("600 {0}:{0}", self.acl_owner)),
            ),
            Check {
                fact: None,
                id: "redis-acl.no-clear-passwords".into(),
                title: "no Redis user has a clear-text password or no password (nopass)".into(),
                command: check_command(NO_CLEAR_PASSWORDS, &[&self.acl_file]),
                expect: Expect::Equals("ok".into()),
            },
            // redis.conf's `aclfile` lines, from the content the probe fetches for this
            // role's own line resource: no command.
            Check::file_lines(
                "redis-acl.aclfile-configured",
                "redis.conf loads the managed ACL file",
                &self.redis_conf,
                &["aclfile"],
                Expect::Line(format!("aclfile {}", self.acl_file)),
            ),
        ]
    }
}

#[cfg(test)]
mod tests;
