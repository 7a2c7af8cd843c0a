//! The `base` role: the seed's initial system setup (section 1), idempotent.
//!
//! - apt lists refreshed when older than a window (`AptUpdate`), an optional full upgrade
//!   guarded by a dry run, the seed's package list.
//! - Time zone: the `/etc/localtime` link and `/etc/timezone`, what `timedatectl set-timezone`
//!   and tzdata maintain (tzdata is installed with it, so the link never dangles).
//! - Hostname (only when configured): `/etc/hostname`, the live hostname, and exactly ONE
//!   `/etc/hosts` line for it. The seed's `echo ... | tee -a /etc/hosts` appends a duplicate on
//!   every run and maps the name to 127.0.0.1; the role maps it to 127.0.1.1, Debian's
//!   convention (see the README).
//! - The admin user (`fleetclaw`, /bin/bash) with `~/.ssh` 0700 and `authorized_keys` 0600,
//!   owned by the user, holding exactly the configured keys.

use rampart_core::Risk;
use rampart_core::facts::{FactRequest, Facts, FileState};
use rampart_core::resource::{
    AptUpdate, Command, Directory, Edit, File, Packages, Resource, Symlink, User,
};
use rampart_core::role::{Configured, HostContext, Role, RoleError, RolePlan, TypedRole};
use rampart_core::verify::{Check, Expect, FactQuery, check_command, script_with_args};
use serde::{Deserialize, Serialize};

mod validate;

/// Where the kernel's hostname is read from: `hostname(1)` may be missing on minimal images.
const KERNEL_HOSTNAME: &str = "/proc/sys/kernel/hostname";
/// Sets the live hostname (`$1`).
const HOSTNAME_SH: &str = include_str!("scripts/hostname.sh");
/// Whether the live hostname is `$1`.
const HOSTNAME_OK_SH: &str = include_str!("scripts/hostname_ok.sh");
/// The `base.packages` check.
const PACKAGES_CHECK_SH: &str = include_str!("checks/packages.sh");
/// The `base.hostname` check.
const HOSTNAME_CHECK_SH: &str = include_str!("checks/hostname.sh");
/// The `base.admin-user` check.
const ADMIN_USER_CHECK_SH: &str = include_str!("checks/admin_user.sh");
/// The `base.admin-ssh` check.
const ADMIN_SSH_CHECK_SH: &str = include_str!("checks/admin_ssh.sh");
/// Debian's address for the host's own name (see the README).
const HOSTS_ADDR: &str = "127.0.1.1";
const ZONEINFO: &str = "/usr/share/zoneinfo";

/// The role's settings; the defaults are the seed's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Refresh the apt package lists when they are older than this many seconds (Ansible's
    /// `cache_valid_time`). Default 3600.
    pub apt_cache_valid_secs: u64,
    /// Upgrade every package (`apt-get full-upgrade`, keeping local configuration files) when
    /// a dry run finds upgrades pending. Default false: upgrades are unattended-upgrades' job,
    /// and a fleet-wide upgrade is a decision, not a side effect of a hardening run.
    pub upgrade: bool,
    /// Packages to install (the seed's list).
    pub packages: Vec<String>,
    /// Time zone from the tz database ("UTC", "Europe/Paris"); "" leaves it alone. Default UTC.
    pub timezone: String,
    /// The host name ("fleetclaw-prod", or a fully qualified one). Unset (default): the host
    /// keeps its name; a site sets it per host (`[hosts.web1.vars]`-style) or leaves it.
    pub hostname: Option<String>,
    /// The admin user.
    pub admin: Admin,
}

/// The dedicated admin user of the seed (section 1, "Create Dedicated User").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Admin {
    /// Manage the user at all (default true).
    pub manage: bool,
    /// Login name (default "fleetclaw").
    pub name: String,
    /// Login shell (default /bin/bash).
    pub shell: String,
    /// Supplementary groups it must be in (default none, like the seed: the docker role adds
    /// `docker`; add "sudo" for full sudo). Groups are added, never removed.
    pub groups: Vec<String>,
    /// Its home directory (default /home/NAME). An existing user must already have it.
    pub home: Option<String>,
    /// OpenSSH public keys ("ssh-ed25519 AAAA... me@laptop") that make up
    /// `~/.ssh/authorized_keys` exactly. Empty (default): the file is left as it is.
    pub authorized_keys: Vec<String>,
    /// Allow removing keys from `authorized_keys` while rampart itself logs in as this user
    /// (default false: the key rampart uses may be among them).
    pub allow_lockout: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            apt_cache_valid_secs: 3600,
            upgrade: false,
            packages: [
                "curl", "wget", "git", "unzip", "htop", "tmux", "ufw", "fail2ban",
            ]
            .iter()
            .map(|p| (*p).to_owned())
            .collect(),
            timezone: "UTC".into(),
            hostname: None,
            admin: Admin::default(),
        }
    }
}

impl Default for Admin {
    fn default() -> Self {
        Admin {
            manage: true,
            name: "fleetclaw".into(),
            shell: "/bin/bash".into(),
            groups: Vec::new(),
            home: None,
            authorized_keys: Vec::new(),
            allow_lockout: false,
        }
    }
}

impl Admin {
    /// The home directory the role manages `.ssh` in.
    pub fn home(&self) -> String {
        self.home.clone().unwrap_or_else(|| {
            if self.name == "root" {
                "/root".into()
            } else {
                format!("/home/{}", self.name)
            }
        })
    }
    fn ssh_dir(&self) -> String {
        format!("{}/.ssh", self.home())
    }
    fn authorized_keys_path(&self) -> String {
        format!("{}/.ssh/authorized_keys", self.home())
    }
}

impl Config {
    /// Every package the role installs: the list, plus tzdata when it sets a time zone.
    fn all_packages(&self) -> Vec<String> {
        let mut p = self.packages.clone();
        if !self.timezone.is_empty() && !p.iter().any(|x| x == "tzdata") {
            p.push("tzdata".into());
        }
        p
    }

    fn zone_path(&self) -> String {
        format!("{ZONEINFO}/{}", self.timezone)
    }

    /// The `/etc/hosts` names: "fqdn short" for a dotted name, else the name.
    fn hosts_names(name: &str) -> String {
        match name.split_once('.') {
            Some((short, _)) => format!("{name} {short}"),
            None => name.to_owned(),
        }
    }

    fn upgrade_command() -> Command {
        Command {
            name: "apt full-upgrade".into(),
            run: "DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -o DPkg::Lock::Timeout=120 full-upgrade".into(),
            // A dry run (read-only, no lock) that finds something to install or upgrade.
            unless: Some("! apt-get -s -o Debug::NoLocking=1 full-upgrade 2>/dev/null | grep -q '^Inst '".into()),
            creates: None,
            satisfied: None,
            notify: Vec::new(),
            risk: Risk::Service,
        }
    }

    fn hostname_command(name: &str) -> Command {
        Command::unless(
            "set the live hostname",
            &script_with_args(HOSTNAME_SH, &[name]),
            &script_with_args(HOSTNAME_OK_SH, &[name]),
        )
    }
}

/// The role, for the registry.
pub fn role() -> Box<dyn Role> {
    TypedRole::<Config>::new(
        "base",
        "apt refresh, base packages, time zone, hostname with one /etc/hosts entry, the admin user and its keys",
    )
    .validated(validate::config)
    .boxed()
}

impl Configured for Config {
    fn facts(&self, req: &mut FactRequest) {
        req.apt = true;
        req.packages.extend(self.all_packages());
        if self.upgrade {
            Resource::Command(Config::upgrade_command()).facts(req);
        }
        if !self.timezone.is_empty() {
            req.file("/etc/localtime");
            req.file("/etc/timezone");
            req.stats.insert(self.zone_path());
        }
        if let Some(name) = &self.hostname {
            req.file("/etc/hostname");
            req.file("/etc/hosts");
            Resource::Command(Config::hostname_command(name)).facts(req);
        }
        if self.admin.manage {
            req.accounts = true;
            req.file(self.admin.ssh_dir());
            req.file(self.admin.authorized_keys_path());
        }
    }

    fn plan(&self, ctx: &HostContext<'_>) -> Result<RolePlan, RoleError> {
        let facts = ctx.facts;
        let mut r = vec![Resource::AptUpdate(AptUpdate {
            valid_secs: self.apt_cache_valid_secs,
        })];
        if self.upgrade {
            r.push(Resource::Command(Config::upgrade_command()));
        }
        let packages = self.all_packages();
        if !packages.is_empty() {
            r.push(Resource::Packages(Packages::present(&packages)));
        }
        if !self.timezone.is_empty() {
            let zone = self.zone_path();
            let tzdata = facts.packages.get("tzdata").is_some_and(|p| p.installed);
            if tzdata
                && facts
                    .files
                    .get(&zone)
                    .is_none_or(|f| *f == FileState::Absent)
            {
                return Err(RoleError(format!(
                    "time zone `{}` does not exist on {} ({zone} is missing): see `timedatectl list-timezones`",
                    self.timezone, ctx.host
                )));
            }
            r.push(Resource::Symlink(Symlink {
                path: "/etc/localtime".into(),
                target: zone,
            }));
            r.push(Resource::File(File::new(
                "/etc/timezone",
                format!("{}\n", self.timezone),
                0o644,
            )));
        }
        if let Some(name) = &self.hostname {
            r.push(Resource::File(File::new(
                "/etc/hostname",
                format!("{name}\n"),
                0o644,
            )));
            r.push(Resource::Command(Config::hostname_command(name)));
            r.push(Resource::Edit(hosts_edit(facts, name)));
        }
        if self.admin.manage {
            self.plan_admin(ctx, &mut r)?;
        }
        Ok(RolePlan {
            resources: r,
            handlers: Vec::new(),
        })
    }

    fn checks(&self) -> Vec<Check> {
        let mut out = Vec::new();
        let packages = self.all_packages();
        if !packages.is_empty() {
            // Judged from the package facts the probe gathers (and caches) for this role's
            // own package resource: no dpkg-query of its own.
            out.push(Check::from_fact(
                "base.packages",
                &format!("base packages are installed ({})", packages.join(", ")),
                &check_command(
                    PACKAGES_CHECK_SH,
                    &packages.iter().map(String::as_str).collect::<Vec<_>>(),
                ),
                FactQuery::Packages(packages.clone()),
                Expect::Lacks(vec!["missing:".into()]),
            ));
        }
        if !self.timezone.is_empty() {
            out.push(Check {
                fact: None,
                id: "base.timezone".into(),
                title: format!("the time zone is {}", self.timezone),
                command: "[ -e /etc/localtime ] && readlink /etc/localtime".into(),
                expect: Expect::Equals(self.zone_path()),
            });
        }
        if let Some(name) = &self.hostname {
            out.push(Check {
                fact: None,
                id: "base.hostname".into(),
                title: format!("the hostname is {name}"),
                command: check_command(HOSTNAME_CHECK_SH, &[KERNEL_HOSTNAME, "/etc/hostname"]),
                expect: Expect::Equals(format!("{name}\n{name}")),
            });
            out.push(Check {
                fact: None,
                id: "base.hosts-entry".into(),
                title: format!("/etc/hosts maps {name} to {HOSTS_ADDR} exactly once"),
                command: "grep -E '^127\\.0\\.1\\.1[[:space:]]' /etc/hosts | tr -s ' \\t' ' '"
                    .into(),
                expect: Expect::Equals(format!("{HOSTS_ADDR} {}", Config::hosts_names(name))),
            });
        }
        if self.admin.manage {
            let a = &self.admin;
            out.push(Check::from_fact(
                "base.admin-user",
                &format!("the admin user {} exists with {}", a.name, a.shell),
                &check_command(ADMIN_USER_CHECK_SH, &[&a.name]),
                FactQuery::Shell(a.name.clone()),
                Expect::Equals(a.shell.clone()),
            ));
            let mut paths = vec![a.ssh_dir()];
            let mut want = vec![format!("700 {} {}", a.name, a.ssh_dir())];
            if !a.authorized_keys.is_empty() {
                paths.push(a.authorized_keys_path());
                want.push(format!("600 {} {}", a.name, a.authorized_keys_path()));
            }
            out.push(Check::from_fact(
                "base.admin-ssh",
                &format!(
                    "{}'s ~/.ssh is 0700 and authorized_keys 0600, owned by it",
                    a.name
                ),
                &check_command(
                    ADMIN_SSH_CHECK_SH,
                    &paths.iter().map(String::as_str).collect::<Vec<_>>(),
                ),
                FactQuery::Stat {
                    paths: paths.clone(),
                    format: "%a %U %n".into(),
                },
                Expect::Equals(want.join("\n")),
            ));
        }
        out
    }
}

/// Exactly one `127.0.1.1` line, naming the host. The line keeps the separator the file
/// already uses after 127.0.1.1 (Debian's installer writes a tab, cloud-init a space), so an
/// existing line is replaced in place rather than joined by a second one.
fn hosts_edit(facts: &Facts, name: &str) -> Edit {
    let text = facts
        .files
        .get("/etc/hosts")
        .and_then(FileState::text)
        .unwrap_or_default();
    let has = |sep: &str| {
        text.lines()
            .any(|l| l.starts_with(&format!("{HOSTS_ADDR}{sep}")))
    };
    let sep = if has("\t") && !has(" ") { "\t" } else { " " };
    Edit::line(
        "/etc/hosts",
        "hostname",
        &format!("{HOSTS_ADDR}{sep}"),
        &format!("{HOSTS_ADDR}{sep}{}", Config::hosts_names(name)),
    )
}

impl Config {
    fn plan_admin(&self, ctx: &HostContext<'_>, r: &mut Vec<Resource>) -> Result<(), RoleError> {
        let a = &self.admin;
        let acc = ctx.facts.accounts.as_ref().ok_or_else(|| {
            RoleError("accounts were not gathered (a bug in the base role)".into())
        })?;
        let home = a.home();
        let group = match acc.users.get(&a.name) {
            Some(u) => {
                if u.home != home {
                    return Err(RoleError(format!(
                        "user `{}` exists on {} with home {}, not {home}: set base.admin.home = \"{}\"",
                        a.name, ctx.host, u.home, u.home
                    )));
                }
                acc.groups
                    .iter()
                    .find(|(_, g)| g.gid == u.gid)
                    .map_or_else(|| u.gid.to_string(), |(n, _)| n.clone())
            }
            None => {
                // useradd --create-home puts the home under /home (and root's is /root).
                if a.home.is_some() && home != format!("/home/{}", a.name) {
                    return Err(RoleError(format!(
                        "user `{}` does not exist on {} yet and rampart creates users with their home under /home: create it with home {home} first, or leave base.admin.home unset",
                        a.name, ctx.host
                    )));
                }
                // Debian and Ubuntu give every new user a group of its own name (USERGROUPS_ENAB).
                a.name.clone()
            }
        };
        r.push(Resource::User(User {
            name: a.name.clone(),
            shell: a.shell.clone(),
            groups: a.groups.clone(),
            system: false,
        }));
        r.push(Resource::Directory(Directory::new(
            a.ssh_dir(),
            0o700,
            &a.name,
            &group,
        )));
        if !a.authorized_keys.is_empty() {
            if ctx.connect_user == a.name && !a.allow_lockout {
                let current = ctx
                    .facts
                    .files
                    .get(&a.authorized_keys_path())
                    .and_then(FileState::text)
                    .unwrap_or_default();
                let keep: Vec<&str> = a
                    .authorized_keys
                    .iter()
                    .filter_map(|k| validate::key_blob(k))
                    .collect();
                let removed: Vec<&str> = current
                    .lines()
                    .filter(|l| validate::key_blob(l).is_some_and(|b| !keep.contains(&b)))
                    .collect();
                if !removed.is_empty() {
                    return Err(RoleError(format!(
                        "rampart logs in to {} as `{}` and base.admin.authorized_keys would remove {} of its keys ({}): if rampart's key is one of them, the next run is locked out. Add rampart's key to the list, or set base.admin.allow_lockout = true",
                        ctx.host,
                        a.name,
                        removed.len(),
                        removed
                            .iter()
                            .map(|l| validate::describe_key(l))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
            let mut keys = a
                .authorized_keys
                .iter()
                .map(|k| k.trim())
                .collect::<Vec<_>>()
                .join("\n");
            keys.push('\n');
            r.push(Resource::File(
                File::new(a.authorized_keys_path(), keys, 0o600)
                    .owned_by(&a.name, &group)
                    .risk(Risk::Access),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
