//! The `docker` role: Docker Engine installed, its daemon hardened (fleetclaw §4 and §9), the
//! admin user in the `docker` group.
//!
//! - `source = "official"` (the seed): Docker's repository in DEB822 format
//!   (/etc/apt/sources.list.d/docker.sources, `Signed-By: /etc/apt/keyrings/docker.asc`) for
//!   the host's own codename, then docker-ce and its plugins. rampart downloads nothing
//!   itself: the key is either given as text in the configuration (`repo_key`, pinned) or
//!   fetched *on the host* with curl once (`repo_key_url`, the seed's way, guarded by the
//!   keyring's existence).
//! - `source = "distro"`: Debian's or Ubuntu's own `docker.io` (what the offline lab uses).
//! - /etc/docker/daemon.json: the seed's settings plus `userland-proxy: false` and
//!   `ip6tables: false` (the openclaw default), rendered by rampart as canonical JSON (sorted
//!   keys) and checked here, key by key, because `dockerd --validate` only exists from Docker
//!   23 (bookworm ships 20.10, which refuses to start on an unknown key). Where dockerd can
//!   validate, the new file is validated before it replaces the old one. Docker is restarted
//!   by a handler, only when the file changed.

pub mod openpgp;

use std::collections::BTreeMap;

use rampart_core::facts::{FactRequest, Facts};
use rampart_core::plan::Risk;
use rampart_core::resource::{
    AptUpdate, Command, Directory, File, Packages, Resource, Service, User, Validate,
};
use rampart_core::role::{
    ConfigError, Configured, Handler, HostContext, Role, RoleError, RolePlan, TypedRole,
};
use rampart_core::shell::Script;
use rampart_core::verify::{Check, Expect, FactQuery, check_command, script_with_args};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

const KEYRINGS: &str = "/etc/apt/keyrings";
const KEYRING: &str = "/etc/apt/keyrings/docker.asc";
/// The on-host download of the key (`scripts/fetch_key.sh`).
const FETCH_KEY: &str = include_str!("scripts/fetch_key.sh");
/// Users into a `docker` group created by this run (`scripts/add_to_new_group.sh`).
const ADD_TO_NEW_GROUP: &str = include_str!("scripts/add_to_new_group.sh");
/// `docker.config-loaded` (`scripts/config_loaded.sh`).
const CONFIG_LOADED: &str = include_str!("scripts/config_loaded.sh");
/// Installs the distribution's docker client where it did not come with docker.io.
const DISTRO_CLI_SH: &str = include_str!("scripts/distro_cli.sh");
/// The `docker.daemon-json` check: the file as it is on the host.
const DAEMON_JSON_SH: &str = include_str!("checks/daemon_json.sh");
/// `docker.logging-driver` and `docker.live-restore`: the running daemon's two settings, from
/// its API socket (one run for both checks).
pub(crate) const SETTINGS_SH: &str = include_str!("checks/settings.sh");

/// [`SETTINGS_SH`] after the `docker_api` function it calls: the settings checks' script.
pub(crate) fn settings_script() -> String {
    [rampart_core::verify::DOCKER_API_FN, SETTINGS_SH].concat()
}
const SOURCES: &str = "/etc/apt/sources.list.d/docker.sources";
const DAEMON_JSON: &str = "/etc/docker/daemon.json";
const RESTART: &str = "restart docker";
/// Docker's release signing key, as published at https://download.docker.com/linux/debian/gpg
/// (and .../ubuntu/gpg): the default `repo_key_fingerprint`, which a key given in the
/// configuration (checked on the controller) or fetched by the host (checked there with sh,
/// awk and coreutils) must have. Neither check needs gpg.
pub const DOCKER_KEY_FINGERPRINT: &str = "9DC858229FC7DD38854AE2D88D81803C0EBFCD88";
const OFFICIAL_PACKAGES: [&str; 5] = [
    "docker-ce",
    "docker-ce-cli",
    "containerd.io",
    "docker-buildx-plugin",
    "docker-compose-plugin",
];
const DISTRO_PACKAGES: [&str; 1] = ["docker.io"];
/// Debian 13's separate docker client package (see [`Config::distro_cli`]).
const DISTRO_CLI: &str = "docker-cli";
/// Where the docker client lives, whichever package brought it.
const DOCKER_BIN: &str = "/usr/bin/docker";

/// Where Docker comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// download.docker.com: docker-ce, docker-ce-cli, containerd.io, buildx and compose plugins.
    #[default]
    Official,
    /// The distribution's `docker.io`.
    Distro,
}

/// A soft and hard limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ulimit {
    /// Soft limit.
    pub soft: u64,
    /// Hard limit (at least `soft`).
    pub hard: u64,
}

/// The daemon's settings (/etc/docker/daemon.json).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Daemon {
    /// `log-driver`.
    pub log_driver: String,
    /// `log-opts.max-size` (json-file and local drivers only).
    pub log_max_size: String,
    /// `log-opts.max-file` (json-file and local drivers only).
    pub log_max_file: u32,
    /// `live-restore`: containers keep running while dockerd restarts or upgrades.
    pub live_restore: bool,
    /// `default-ulimits.nofile` for containers; `null` leaves Docker's default. The seed's
    /// 65536 is more than some hosts allow (the lab's hard limit is 20000: `docker run` then
    /// fails while dockerd starts fine).
    pub nofile: Option<Ulimit>,
    /// `no-new-privileges`: no setuid escalation inside containers.
    pub no_new_privileges: bool,
    /// `userland-proxy`: false makes published ports pure iptables DNAT, which the DOCKER-USER
    /// chain filters, instead of a docker-proxy process per port.
    pub userland_proxy: bool,
    /// `ip6tables`: Docker managing IPv6 NAT/filter rules (openclaw: false).
    pub ip6tables: bool,
    /// More daemon.json keys, checked against the keys dockerd knows.
    pub extra: Map<String, Value>,
}

impl Default for Daemon {
    fn default() -> Self {
        Daemon {
            log_driver: "json-file".into(),
            log_max_size: "10m".into(),
            log_max_file: 3,
            live_restore: true,
            nofile: Some(Ulimit {
                soft: 65536,
                hard: 65536,
            }),
            no_new_privileges: true,
            userland_proxy: false,
            ip6tables: false,
            extra: Map::new(),
        }
    }
}

/// The role's settings. Defaults are the seed's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `official` (download.docker.com, the seed) or `distro` (`docker.io`).
    pub source: Source,
    /// The official repository's base URL (a mirror); default
    /// `https://download.docker.com/linux/<debian|ubuntu>`.
    pub repo_url: Option<String>,
    /// The suite; default the host's codename (`bookworm`, `noble`).
    pub suite: Option<String>,
    /// Docker's ASCII-armored public key, written to /etc/apt/keyrings/docker.asc (pinned: the
    /// host downloads nothing). Takes precedence over `repo_key_url`.
    pub repo_key: Option<String>,
    /// Where the host fetches the key with curl when `repo_key` is not given, once (only while
    /// the keyring is missing); default `<repo_url>/gpg`.
    pub repo_key_url: Option<String>,
    /// The fingerprint the key must have (Docker's by default): `repo_key` is checked on the
    /// controller, a fetched key on the host before it is installed; neither needs gpg.
    pub repo_key_fingerprint: String,
    /// Users added to the `docker` group (root-equivalent: the seed's choice). Created if
    /// missing (`useradd --create-home`), otherwise only the group is appended.
    pub users: Vec<String>,
    /// apt lists younger than this many seconds are not refreshed.
    pub apt_cache_valid_time: u64,
    /// /etc/docker/daemon.json.
    pub daemon: Daemon,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            source: Source::Official,
            repo_url: None,
            suite: None,
            repo_key: None,
            repo_key_url: None,
            repo_key_fingerprint: DOCKER_KEY_FINGERPRINT.into(),
            users: vec!["fleetclaw".into()],
            apt_cache_valid_time: 3600,
            daemon: Daemon::default(),
        }
    }
}

/// The role, for the registry.
pub fn role() -> Box<dyn Role> {
    TypedRole::<Config>::new(
        "docker",
        "Docker Engine (official repo or docker.io), hardened daemon.json, admin user in the docker group",
    )
    .validated(Config::validate)
    .builtin_checks(controls::builtin)
    .boxed()
}

/// Every key dockerd reads from daemon.json (Docker 20.10 to 28), for `daemon.extra`.
const KNOWN_KEYS: &[&str] = &[
    "allow-nondistributable-artifacts",
    "api-cors-header",
    "authorization-plugins",
    "bip",
    "bip6",
    "bridge",
    "builder",
    "cdi-spec-dirs",
    "cgroup-parent",
    "containerd-namespace",
    "containerd-plugin-namespace",
    "data-root",
    "debug",
    "default-address-pools",
    "default-cgroupns-mode",
    "default-gateway",
    "default-gateway-v6",
    "default-ipc-mode",
    "default-network-opts",
    "default-runtime",
    "default-shm-size",
    "dns",
    "dns-opts",
    "dns-search",
    "exec-opts",
    "exec-root",
    "experimental",
    "features",
    "fixed-cidr",
    "fixed-cidr-v6",
    "group",
    "host-gateway-ip",
    "icc",
    "init",
    "init-path",
    "insecure-registries",
    "ip",
    "ip-forward",
    "ip-forward-no-drop",
    "ip-masq",
    "iptables",
    "ipv6",
    "labels",
    "log-format",
    "log-level",
    "max-concurrent-downloads",
    "max-concurrent-uploads",
    "max-download-attempts",
    "metrics-addr",
    "mtu",
    "node-generic-resources",
    "oom-score-adjust",
    "pidfile",
    "proxies",
    "raw-logs",
    "registry-mirrors",
    "runtimes",
    "seccomp-profile",
    "selinux-enabled",
    "shutdown-timeout",
    "storage-driver",
    "storage-opts",
    "swarm-default-advertise-addr",
    "tls",
    "tlscacert",
    "tlscert",
    "tlskey",
    "tlsverify",
    "userland-proxy-path",
    "userns-remap",
];

/// Keys the typed settings own.
const TYPED_KEYS: &[(&str, &str)] = &[
    ("log-driver", "daemon.log_driver"),
    ("log-opts", "daemon.log_max_size / daemon.log_max_file"),
    ("live-restore", "daemon.live_restore"),
    ("default-ulimits", "daemon.nofile"),
    ("no-new-privileges", "daemon.no_new_privileges"),
    ("userland-proxy", "daemon.userland_proxy"),
    ("ip6tables", "daemon.ip6tables"),
];

/// Keys the packaged docker.service already passes as flags: dockerd refuses to start when a
/// setting is both a flag and in daemon.json.
const FLAG_KEYS: &[(&str, &str)] = &[
    ("hosts", "-H fd://"),
    ("containerd", "--containerd=/run/containerd/containerd.sock"),
];

/// Rebuilds maps with sorted keys, whatever serde_json's map order is in this build.
fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let sorted: BTreeMap<&String, Value> =
                m.iter().map(|(k, v)| (k, canonical(v))).collect();
            let mut out = Map::new();
            for (k, v) in sorted {
                out.insert(k.clone(), v);
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

fn valid_size(s: &str) -> bool {
    let digits = s.trim_end_matches(['k', 'm', 'g']);
    !digits.is_empty()
        && digits.len() + 1 >= s.len()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

fn valid_user(u: &str) -> bool {
    let mut b = u.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_lowercase() || c == b'_')
        && u.len() <= 32
        && u.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"_-".contains(&c))
}

fn valid_url(u: &str) -> bool {
    u.starts_with("https://")
        && u.len() > 8
        && !u
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b == b'\'' || b == b'"')
}

impl Daemon {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.log_driver.is_empty()
            || !self
                .log_driver
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./:".contains(&b))
        {
            return Err(ConfigError::at(
                "daemon.log_driver",
                format!("invalid log driver `{}`", self.log_driver),
            ));
        }
        if !valid_size(&self.log_max_size) {
            return Err(ConfigError::at(
                "daemon.log_max_size",
                format!(
                    "invalid size `{}`: a number with an optional k, m or g, like \"10m\"",
                    self.log_max_size
                ),
            ));
        }
        if self.log_max_file == 0 {
            return Err(ConfigError::at("daemon.log_max_file", "must be at least 1"));
        }
        if let Some(u) = self.nofile
            && (u.soft == 0 || u.soft > u.hard)
        {
            return Err(ConfigError::at(
                "daemon.nofile",
                format!("soft ({}) must be 1 to hard ({})", u.soft, u.hard),
            ));
        }
        for k in self.extra.keys() {
            let path = format!("daemon.extra.{k}");
            if let Some((_, field)) = TYPED_KEYS.iter().find(|(key, _)| key == k) {
                return Err(ConfigError::at(
                    &path,
                    format!("`{k}` has its own setting: use {field}"),
                ));
            }
            if let Some((_, flag)) = FLAG_KEYS.iter().find(|(key, _)| key == k) {
                return Err(ConfigError::at(
                    &path,
                    format!(
                        "`{k}` is already given to dockerd as `{flag}` by docker.service; dockerd refuses to start when both are set"
                    ),
                ));
            }
            if !KNOWN_KEYS.contains(&k.as_str()) {
                let nearest = KNOWN_KEYS
                    .iter()
                    .chain(TYPED_KEYS.iter().map(|(key, _)| key))
                    .map(|known| (strsim::levenshtein(k, known), *known))
                    .min();
                let hint = match nearest {
                    Some((d, s)) if d <= 3 => match TYPED_KEYS.iter().find(|(key, _)| *key == s) {
                        Some((_, field)) => format!(" (did you mean `{s}`? set it with {field})"),
                        None => format!(" (did you mean `{s}`?)"),
                    },
                    _ => String::new(),
                };
                return Err(ConfigError::at(
                    &path,
                    format!(
                        "unknown daemon.json key `{k}`{hint}: dockerd refuses to start on unknown keys"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// daemon.json as canonical JSON: sorted keys, two-space indent, a final newline.
    pub fn render(&self) -> String {
        let mut m = self.extra.clone();
        m.insert("log-driver".into(), json!(self.log_driver));
        if matches!(self.log_driver.as_str(), "json-file" | "local") {
            m.insert(
                "log-opts".into(),
                json!({"max-file": self.log_max_file.to_string(), "max-size": self.log_max_size}),
            );
        }
        m.insert("live-restore".into(), json!(self.live_restore));
        if let Some(u) = self.nofile {
            m.insert(
                "default-ulimits".into(),
                json!({"nofile": {"Hard": u.hard, "Name": "nofile", "Soft": u.soft}}),
            );
        }
        m.insert("no-new-privileges".into(), json!(self.no_new_privileges));
        m.insert("userland-proxy".into(), json!(self.userland_proxy));
        m.insert("ip6tables".into(), json!(self.ip6tables));
        let mut text =
            serde_json::to_string_pretty(&canonical(&Value::Object(m))).unwrap_or_default();
        text.push('\n');
        text
    }
}

impl Config {
    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.daemon.validate()?;
        for (i, u) in self.users.iter().enumerate() {
            if !valid_user(u) {
                return Err(ConfigError::at(
                    format!("users[{i}]"),
                    format!("invalid user name `{u}`"),
                ));
            }
        }
        if let Some(k) = &self.repo_key {
            let t = k.trim();
            if !t.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----")
                || !t.ends_with("-----END PGP PUBLIC KEY BLOCK-----")
            {
                return Err(ConfigError::at(
                    "repo_key",
                    "not an ASCII-armored public key (-----BEGIN PGP PUBLIC KEY BLOCK----- ... -----END PGP PUBLIC KEY BLOCK-----)",
                ));
            }
        }
        for (path, url) in [
            ("repo_url", &self.repo_url),
            ("repo_key_url", &self.repo_key_url),
        ] {
            if let Some(u) = url {
                if u.get(..7)
                    .is_some_and(|p| p.eq_ignore_ascii_case("http://"))
                {
                    return Err(ConfigError::at(
                        path,
                        format!(
                            "`{u}` is plain http: anyone on the path could swap the repository's key or answers. \
                             Fix: use its https:// address (Docker's is https://download.docker.com/linux/<debian|ubuntu>; \
                             a mirror must serve https), or set `source = \"distro\"`"
                        ),
                    ));
                }
                if !valid_url(u) {
                    return Err(ConfigError::at(
                        path,
                        format!(
                            "invalid URL `{u}`: an https:// URL without quotes, spaces or control characters"
                        ),
                    ));
                }
            }
        }
        if let Some(s) = &self.suite
            && (s.is_empty()
                || !s
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)))
        {
            return Err(ConfigError::at("suite", format!("invalid suite `{s}`")));
        }
        let fpr = self.fingerprint();
        if fpr.len() != 40 || !fpr.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ConfigError::at(
                "repo_key_fingerprint",
                "a 40-digit hexadecimal fingerprint",
            ));
        }
        if let Some(k) = &self.repo_key {
            // Checked here, on the controller, so no host needs gpg for it.
            let got = openpgp::armored_fingerprint(k).map_err(|e| {
                ConfigError::at("repo_key", format!("not a usable OpenPGP public key: {e}"))
            })?;
            if got != fpr {
                return Err(ConfigError::at(
                    "repo_key",
                    format!(
                        "the key's fingerprint is {got}, but repo_key_fingerprint is {fpr}. Fix: paste the key \
                         whose fingerprint you checked out of band, or, for another repository's key, set \
                         repo_key_fingerprint to its fingerprint"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The expected key fingerprint: 40 uppercase hex digits.
    fn fingerprint(&self) -> String {
        self.repo_key_fingerprint
            .replace(' ', "")
            .to_ascii_uppercase()
    }

    fn packages(&self) -> &'static [&'static str] {
        match self.source {
            Source::Official => &OFFICIAL_PACKAGES,
            Source::Distro => &DISTRO_PACKAGES,
        }
    }

    fn repo_url(&self, facts: &Facts) -> Result<String, RoleError> {
        if let Some(u) = &self.repo_url {
            return Ok(u.trim_end_matches('/').to_owned());
        }
        match facts.host.os_id.as_str() {
            os @ ("debian" | "ubuntu") => Ok(format!("https://download.docker.com/linux/{os}")),
            other => Err(RoleError(format!(
                "docker: Docker's official repository has no `{other}` flavour known to rampart. Fix: set `repo_url` \
                 (e.g. https://download.docker.com/linux/debian) or `source = \"distro\"`"
            ))),
        }
    }

    /// The on-host, once-only download of the key: the seed's curl (https only, redirects
    /// included), into a temp file in the keyring directory, its fingerprint computed with sh,
    /// awk and coreutils ([`openpgp::fingerprint_script`]: no gpg needed) and compared with
    /// `repo_key_fingerprint`, then renamed.
    fn fetch_key(&self, url: &str) -> Command {
        let fpr = self.fingerprint();
        let script = [
            "openpgp_fingerprint() {\n",
            openpgp::fingerprint_script(),
            "\n}\n",
            FETCH_KEY,
        ]
        .concat();
        let run = script_with_args(&script, &[url, &fpr, KEYRINGS, KEYRING]);
        Command {
            name: "fetch Docker's apt key".into(),
            run,
            creates: Some(KEYRING.into()),
            unless: None,
            satisfied: None,
            notify: Vec::new(),
            risk: Risk::Low,
        }
    }

    /// The docker client of a distribution's Docker: part of `docker.io` up to Debian 12 and on
    /// Ubuntu 24.04, its own package `docker-cli` from Debian 13 on (docker.io only recommends
    /// it). Guarded by the client's path, so it runs once, and installs only where the client
    /// did not come with docker.io.
    fn distro_cli() -> Command {
        Command {
            name: "the docker client".into(),
            run: script_with_args(DISTRO_CLI_SH, &[DISTRO_CLI]),
            creates: Some(DOCKER_BIN.into()),
            unless: None,
            satisfied: None,
            notify: Vec::new(),
            risk: Risk::Low,
        }
    }

    /// The commands that put users in a `docker` group created by this very run's install
    /// (the `User` resource needs the group to exist when the facts are gathered). Planned only
    /// when the probe found no `docker` group, so nobody can be in it yet: no guard to probe.
    fn add_to_new_group(&self, user: &str) -> Command {
        Command::decided(
            &format!("add {user} to the docker group"),
            &script_with_args(ADD_TO_NEW_GROUP, &[user]),
            None,
        )
    }

    fn resources(&self, ctx: &HostContext<'_>) -> Result<Vec<Resource>, RoleError> {
        let f = ctx.facts;
        let mut out = vec![Resource::AptUpdate(AptUpdate {
            valid_secs: self.apt_cache_valid_time,
        })];
        match self.source {
            Source::Official => {
                let base = self.repo_url(f)?;
                let suite = match &self.suite {
                    Some(s) => s.clone(),
                    None if !f.host.os_codename.is_empty() => f.host.os_codename.clone(),
                    None => return Err(RoleError(
                        "docker: the host's os-release has no VERSION_CODENAME. Fix: set `suite`"
                            .into(),
                    )),
                };
                let prereq: &[&str] = if self.repo_key.is_some() {
                    &["ca-certificates"]
                } else {
                    &["ca-certificates", "curl"]
                };
                out.push(Resource::Packages(Packages::present(prereq)));
                out.push(Resource::Directory(Directory::new(
                    KEYRINGS, 0o755, "root", "root",
                )));
                match &self.repo_key {
                    Some(key) => {
                        let mut text = key.trim().to_owned();
                        text.push('\n');
                        out.push(Resource::File(File::new(KEYRING, text, 0o644)));
                    }
                    None => {
                        let url = self
                            .repo_key_url
                            .clone()
                            .unwrap_or_else(|| format!("{base}/gpg"));
                        out.push(Resource::Command(self.fetch_key(&url)));
                    }
                }
                let text = ctx
                    .templates
                    .render(
                        "docker/docker.sources.j2",
                        json!({"uri": base, "suite": suite, "keyring": KEYRING}),
                    )
                    .map_err(|e| RoleError(e.to_string()))?;
                // A new or changed source refreshes the lists right after it is written
                // (`File` does that for every apt source): the install below comes from it in
                // the same run, and this run's probe could not see the source yet.
                out.push(Resource::File(File::new(SOURCES, text, 0o644)));
            }
            Source::Distro => out.push(Resource::File(File::absent(SOURCES))),
        }
        out.push(Resource::Packages(Packages::present(self.packages())));
        if self.source == Source::Distro {
            out.push(Resource::Command(Self::distro_cli()));
        }
        out.push(Resource::File(
            File::new(DAEMON_JSON, self.daemon.render(), 0o644)
                .validated(Validate::Temp("if dockerd --help 2>/dev/null | grep -q -- --validate; then dockerd --validate --config-file %s ; fi".into()))
                .notifies(RESTART)
                .risk(Risk::Service),
        ));
        out.push(Resource::Service(Service::running("docker")));
        let accounts = f.accounts.as_ref();
        let group_exists = accounts.is_some_and(|a| a.groups.contains_key("docker"));
        for u in &self.users {
            if group_exists {
                let shell = accounts
                    .and_then(|a| a.users.get(u))
                    .map_or_else(|| "/bin/bash".to_owned(), |e| e.shell.clone());
                out.push(Resource::User(User {
                    name: u.clone(),
                    shell,
                    groups: vec!["docker".into()],
                    system: false,
                }));
            } else {
                out.push(Resource::Command(self.add_to_new_group(u)));
            }
        }
        Ok(out)
    }

    /// Refuses to mix Docker's packages with the distribution's: they conflict, and apt would
    /// silently swap one for the other.
    fn check_conflicts(&self, f: &Facts) -> Result<(), RoleError> {
        let installed = |names: &[&str]| {
            names
                .iter()
                .filter(|n| f.packages.get(**n).is_some_and(|p| p.installed))
                .map(|n| (*n).to_owned())
                .collect::<Vec<_>>()
        };
        let (other, fix) = match self.source {
            Source::Official => (
                installed(&DISTRO_PACKAGES),
                "remove it first (`apt-get remove docker.io`), or set `source = \"distro\"`",
            ),
            Source::Distro => (
                installed(&OFFICIAL_PACKAGES),
                "remove them first (`apt-get remove docker-ce docker-ce-cli containerd.io`), or set `source = \"official\"`",
            ),
        };
        if other.is_empty() {
            return Ok(());
        }
        Err(RoleError(format!(
            "docker: `source = \"{}\"` but {} installed on the host. Fix: {fix}",
            match self.source {
                Source::Official => "official",
                Source::Distro => "distro",
            },
            other.join(", ")
        )))
    }
}

impl Configured for Config {
    fn facts(&self, req: &mut FactRequest) {
        for p in OFFICIAL_PACKAGES
            .iter()
            .chain(&DISTRO_PACKAGES)
            .chain(&["ca-certificates", "curl"])
        {
            req.packages.insert((*p).to_owned());
        }
        for p in [KEYRINGS, KEYRING, SOURCES, DAEMON_JSON] {
            req.file(p);
        }
        req.units.insert("docker".into());
        req.accounts = true;
        req.apt = true;
        let dummy = self.fetch_key("https://example.invalid/gpg");
        Resource::Command(dummy).facts(req);
        Resource::Command(Self::distro_cli()).facts(req);
    }

    fn plan(&self, ctx: &HostContext<'_>) -> Result<RolePlan, RoleError> {
        self.check_conflicts(ctx.facts)?;
        let resources = self.resources(ctx)?;
        let mut restart = Script::new();
        restart.raw("systemctl restart docker.service || { journalctl -u docker.service -n 30 --no-pager; exit 1; }");
        Ok(RolePlan {
            resources,
            handlers: vec![Handler {
                name: RESTART.into(),
                script: restart,
            }],
        })
    }

    fn checks(&self) -> Vec<Check> {
        let d = &self.daemon;
        let mut out = vec![
            Check::unit_active(
                "docker.service",
                "the Docker daemon is running",
                "docker.service",
            ),
            Check::from_fact(
                "docker.daemon-json",
                "/etc/docker/daemon.json holds the hardened settings",
                &check_command(DAEMON_JSON_SH, &[DAEMON_JSON]),
                FactQuery::FileContent(DAEMON_JSON.into()),
                Expect::Equals(d.render()),
            ),
            Check {
                fact: None,
                id: "docker.logging-driver".into(),
                title: format!("containers log through {}", d.log_driver),
                command: check_command(&settings_script(), &[]),
                expect: Expect::Line(format!("Logging Driver: {}", d.log_driver)),
            },
        ];
        if d.live_restore {
            out.push(Check {
                fact: None,
                id: "docker.live-restore".into(),
                title: "containers survive a daemon restart (live restore)".into(),
                command: check_command(&settings_script(), &[]),
                expect: Expect::Line("Live Restore Enabled: true".into()),
            });
        }
        // The daemon's API does not show no-new-privileges (nor userland-proxy): the settings
        // are proven by the file's content above plus this: the running dockerd started after
        // the file last changed, so it runs with it. (`ps -o etimes` rounds down, so the start
        // computed here is never earlier than the real one: no false failure.)
        // Judged from the unit's main process start (the probe's one `systemctl show`) and
        // the file's modification time (its `find`).
        out.push(Check::from_fact(
            "docker.config-loaded",
            "the running dockerd has loaded the current daemon.json (no-new-privileges, userland-proxy, ulimits)",
            &check_command(CONFIG_LOADED, &[DAEMON_JSON]),
            FactQuery::StartedAfter {
                unit: "docker.service".into(),
                daemon: "dockerd".into(),
                file: DAEMON_JSON.into(),
            },
            Expect::Line("ok".into()),
        ));
        for u in &self.users {
            out.push(Check::from_fact(
                &format!("docker.group.{u}"),
                &format!("{u} is in the docker group"),
                &check_command("id -nG \"$2\" | tr ' ' '\\n'\n", &[u]),
                FactQuery::Groups(u.clone()),
                Expect::Line("docker".into()),
            ));
        }
        out
    }
}

pub mod controls;

#[cfg(test)]
mod tests;
