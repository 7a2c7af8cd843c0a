//! From flags to a run: load inventory, site and extra vars, validate every role's settings for
//! every selected host, resolve SSH targets. All of it happens before any connection, so bad
//! input never touches a host.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rampart_core::InputError;
use rampart_core::error::Location;
use rampart_core::inventory::pattern::HostPattern;
use rampart_core::inventory::{Host, Inventory};
use rampart_core::role::{Configured, Role};
use rampart_core::site::Site;
use rampart_core::template::Templates;
use rampart_core::vars::{self, Layer};
use rampart_engine::{HostJob, RoleJob};
use rampart_ssh::{ResolveOptions, Resolver, Target, TargetOverrides};

use crate::args::{ConnArgs, RunArgs};
use crate::error::CliError;

/// The loaded inventory and the hosts `--limit` selects.
pub struct Selection {
    /// The whole inventory.
    pub inventory: Inventory,
    /// Selected host names, inventory order.
    pub hosts: Vec<String>,
}

/// Loads the inventory and applies `--limit`.
pub fn select(conn: &ConnArgs) -> Result<Selection, CliError> {
    let inventory = rampart_engine::load::load_inventory(&conn.inventory)?;
    let hosts: Vec<String> = match &conn.limit {
        None => inventory.hosts.iter().map(|h| h.name.clone()).collect(),
        Some(p) => {
            let pattern = HostPattern::parse(p, Location::file("--limit"))?;
            pattern.check(&inventory)?;
            pattern
                .select(&inventory)
                .into_iter()
                .map(|h| h.name.clone())
                .collect()
        }
    };
    if hosts.is_empty() {
        return Err(InputError::in_file(&conn.inventory, "no host selected")
            .with_hint("the inventory is empty, or --limit excludes every host")
            .into());
    }
    let mut hosts = hosts;
    if let Some(spec) = &conn.shard {
        let shard = Shard::parse(spec)
            .map_err(|e| CliError::from(InputError::new(Location::file("--shard"), e)))?;
        hosts.retain(|h| shard.selects(h));
        if hosts.is_empty() {
            return Err(InputError::in_file(
                &conn.inventory,
                format!("no host selected: shard {spec} of the selected hosts is empty"),
            )
            .with_hint("fewer shards than hosts: lower N in --shard I/N")
            .into());
        }
    }
    Ok(Selection { inventory, hosts })
}

/// One stable slice of a fleet: `--shard I/N`. A host belongs to slice
/// `fnv1a64(name) % N + 1`, so the same host lands in the same slice on every runner, in every
/// run, whatever the inventory's order or the other hosts (adding a host moves no other).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 1-based slice.
    pub index: u64,
    /// Slices in all.
    pub count: u64,
}

impl Shard {
    /// Parses `I/N`, 1 <= I <= N.
    pub fn parse(spec: &str) -> Result<Shard, String> {
        let bad = || format!("`{spec}` is not a shard: write I/N with 1 <= I <= N, e.g. 1/4");
        let (i, n) = spec.trim().split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse::<u64>().map_err(|_| bad())?,
            n.trim().parse::<u64>().map_err(|_| bad())?,
        );
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The slice a host name falls in (1-based).
    pub fn of(name: &str, count: u64) -> u64 {
        // FNV-1a, 64 bits: fixed by its definition, so runners of any platform and any
        // rampart version agree.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in name.as_bytes() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h % count.max(1) + 1
    }

    /// Whether this slice holds the host.
    pub fn selects(&self, name: &str) -> bool {
        Shard::of(name, self.count) == self.index
    }
}

/// Resolves every selected host's SSH target.
pub fn targets(sel: &Selection, conn: &ConnArgs) -> Result<Vec<(String, Target, bool)>, CliError> {
    let resolver = Resolver::new(ResolveOptions {
        use_openssh: !conn.no_ssh_config,
        ssh_config: conn.ssh_config.clone(),
        default_connect_timeout: Duration::from_secs(conn.connect_timeout),
        ..ResolveOptions::default()
    });
    let mut out = Vec::with_capacity(sel.hosts.len());
    let mut keys_seen: std::collections::HashSet<&Path> = std::collections::HashSet::new();
    let mut errors = Vec::new();
    for name in &sel.hosts {
        let host = sel
            .inventory
            .host(name)
            .ok_or_else(|| CliError::internal(format!("selected host {name} vanished")))?;
        // A key file the inventory names must be readable now, not fail at every host's login.
        for key in &host.conn.identity_files {
            if !keys_seen.insert(&key.value) {
                continue;
            }
            if let Err(e) = std::fs::File::open(&key.value) {
                errors.push(
                    InputError::new(
                        key.location.clone(),
                        format!("cannot read identity_file {}: {e}", key.value.display()),
                    )
                    .with_hint("fix the path (it is relative to the inventory file), or remove identity_file to use ssh-agent and ~/.ssh/config"),
                );
            }
        }
        let overrides = overrides(host, &sel.inventory);
        let target = resolver.resolve(&host.name, &overrides).map_err(|e| {
            CliError::Input(vec![InputError::new(
                host.location.clone(),
                format!("cannot resolve how to reach `{}`: {e}", host.name),
            )])
        })?;
        out.push((host.name.clone(), target, host.conn.become_root()));
    }
    if !errors.is_empty() {
        return Err(CliError::Input(errors));
    }
    Ok(out)
}

/// The inventory's connection settings for a host, bastion names mapped to their addresses.
fn overrides(host: &Host, inv: &Inventory) -> TargetOverrides {
    let c = &host.conn;
    let jump = c.bastion().map(|spec| {
        spec.split(',')
            .map(|hop| {
                let hop = hop.trim();
                match inv.host(hop) {
                    // A bastion named by its inventory name is reached with its own settings.
                    Some(b) => {
                        let user = b.conn.user().map(|u| format!("{u}@")).unwrap_or_default();
                        let port = b.conn.port().map(|p| format!(":{p}")).unwrap_or_default();
                        format!("{user}{}{port}", b.address())
                    }
                    None => hop.to_owned(),
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    });
    TargetOverrides {
        address: Some(host.address().to_owned()),
        port: c.port(),
        user: c.user().map(str::to_owned),
        identity_files: c.identity_files.iter().map(|f| f.value.clone()).collect(),
        jump,
        connect_timeout: c
            .connect_timeout
            .as_ref()
            .map(|t| Duration::from_secs(t.value)),
        known_hosts: c.known_hosts.iter().map(|k| k.value.clone()).collect(),
    }
}

/// Everything a check/apply run needs, validated.
pub struct Prepared {
    /// The site.
    pub site: Site,
    /// One job per selected host that has at least one role.
    pub jobs: Vec<HostJob>,
    /// Hosts selected but given no role by the site.
    pub idle: Vec<String>,
    /// Where user templates come from, if the site names a directory.
    pub templates_dir: Option<PathBuf>,
}

/// Loads the site and extra vars, and configures every role for every selected host.
pub fn prepare(run: &RunArgs, registry: &[Box<dyn Role>]) -> Result<Prepared, CliError> {
    let sel = select(&run.conn)?;
    let names: Vec<&str> = registry.iter().map(|r| r.name()).collect();
    let site = rampart_engine::load::load_site(&run.site, &names)?;
    crate::baseline::validate_site(&site)?;
    site.check_patterns(&sel.inventory)?;
    let extra: Layer = rampart_engine::load::load_extra(&run.extra_vars)?;
    for t in run.tags.iter().chain(&run.skip_tags) {
        if !names.contains(&t.as_str()) && !site.plays.iter().any(|p| p.tags.iter().any(|x| x == t))
        {
            let mut e = InputError::new(
                Location::file("--tags"),
                format!("unknown role or tag `{t}`"),
            );
            if let Some(s) = rampart_core::error::did_you_mean(t, names.iter().copied()) {
                e = e.with_hint(format!("did you mean `{s}`?"));
            }
            return Err(e.into());
        }
    }
    let targets = targets(&sel, &run.conn)?;
    let mut errors = Vec::new();
    let mut jobs = Vec::new();
    let mut idle = Vec::new();
    // Hosts with identical settings for a role share one configured instance.
    let mut cache: HashMap<(String, String), Arc<dyn Configured>> = HashMap::new();
    for (name, target, become_root) in targets {
        let Some(host) = sel.inventory.host(&name) else {
            continue;
        };
        let resolved = vars::resolve_host(&site, host, &extra);
        let mut roles = Vec::new();
        for role_name in site.roles_for(host) {
            let tags = site.tags_for(host, role_name);
            let selected = run.tags.is_empty()
                || run
                    .tags
                    .iter()
                    .any(|t| t == role_name || tags.contains(&t.as_str()));
            let skipped = run
                .skip_tags
                .iter()
                .any(|t| t == role_name || tags.contains(&t.as_str()));
            if !selected || skipped {
                continue;
            }
            let Some(role) = registry.iter().find(|r| r.name() == role_name) else {
                continue;
            };
            // The role's jobs: one, or for the baseline two, the access part (sshd, PAM, sudo)
            // after the rest, so the dead-man switch's window holds only those changes (see
            // `rampart_role_baseline::Part`).
            let parts: Vec<(&str, serde_json::Value)> =
                if role_name == rampart_core::site::BASELINE_ROLE {
                    let profile = site.baseline_for(host).or_else(|| {
                        site.baseline
                            .as_ref()
                            .and_then(|b| b.profile.as_ref())
                            .map(|p| p.value.as_str())
                    });
                    [
                        (rampart_role_baseline::NAME, "main"),
                        (rampart_role_baseline::ACCESS_NAME, "access"),
                    ]
                    .into_iter()
                    .map(|(name, part)| {
                        let mut value =
                            crate::baseline::role_config(&site, profile.unwrap_or("cis-l1-server"));
                        value["part"] = serde_json::json!(part);
                        (name, value)
                    })
                    .collect()
                } else {
                    vec![(role_name, vars::role_config(&resolved, role_name))]
                };
            for (name, value) in parts {
                let key = (name.to_owned(), value.to_string());
                let configured = match cache.get(&key) {
                    Some(c) => c.clone(),
                    None => match role.configure(value) {
                        Ok(c) => {
                            let c: Arc<dyn Configured> = Arc::from(c);
                            cache.insert(key, c.clone());
                            c
                        }
                        Err(e) => {
                            let err = vars::config_error_to_input(&e, role_name, &resolved);
                            if !errors.contains(&err) {
                                errors.push(err);
                            }
                            continue;
                        }
                    },
                };
                roles.push(RoleJob {
                    name: name.to_owned(),
                    configured,
                });
            }
        }
        if roles.is_empty() {
            idle.push(name);
            continue;
        }
        jobs.push(HostJob {
            name,
            target,
            become_root,
            vars: resolved.value.clone(),
            roles,
        });
    }
    if !errors.is_empty() {
        return Err(CliError::Input(errors));
    }
    let templates_dir = site.templates.as_ref().map(|l| l.value.clone());
    Ok(Prepared {
        site,
        jobs,
        idle,
        templates_dir,
    })
}

/// The run's templates: the embedded ones and the site's own. Every template a role will
/// render is checked against every host it renders for: a variable that neither the role nor
/// the host's inventory variables define is refused here, before any connection.
pub fn load_templates(prepared: &Prepared) -> Result<Templates, CliError> {
    let mut templates = Templates::embedded();
    if let Some(dir) = &prepared.templates_dir {
        for (name, src, file) in user_templates(dir)? {
            templates.add_user(&name, src, &file).map_err(|e| {
                CliError::Input(vec![InputError::new(
                    Location {
                        file: file.clone().into(),
                        line: e.line,
                        col: None,
                    },
                    e.message,
                )])
            })?;
        }
    }
    let mut errors: Vec<InputError> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for job in &prepared.jobs {
        let host_vars: std::collections::BTreeSet<String> = job
            .vars
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        for role in &job.roles {
            for u in role.configured.templates() {
                let mut provided = u.provided.clone();
                provided.extend(host_vars.iter().cloned());
                for (var, line) in templates.missing_variables(&u.template, &provided) {
                    if !seen.insert((u.template.clone(), var.clone())) {
                        continue;
                    }
                    errors.push(
                        InputError::new(
                            Location {
                                file: templates.shown(&u.template).into(),
                                line,
                                col: None,
                            },
                            format!(
                                "template `{}` ({}) uses `{var}`, which is not defined for host {}",
                                u.template, u.at, job.name
                            ),
                        )
                        .with_hint(format!(
                            "define `{var}` in the inventory (host or group vars) or in the file's `vars`, or guard it: {{% if {var} is defined %}}"
                        )),
                    );
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(CliError::Input(errors));
    }
    Ok(templates)
}

/// Reads every file of a user template directory (relative names are template names).
pub fn user_templates(dir: &Path) -> Result<Vec<(String, String, String)>, CliError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| {
            InputError::in_file(&d, format!("cannot read the template directory: {e}"))
                .with_hint("fix `templates` in the site file, or create the directory")
        })?;
        for entry in entries.flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(src) = std::fs::read_to_string(&p) {
                let name = p
                    .strip_prefix(dir)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((name, src, p.display().to_string()));
            }
        }
    }
    Ok(out)
}

/// The run's redactor: every secret of the site and every secret a selected host's roles
/// derive from them (the redis-acl maintenance password), in all their encoded forms.
pub fn redactor(
    secrets: &std::collections::BTreeMap<String, rampart_core::secret::Secret>,
    jobs: &[HostJob],
) -> rampart_core::secret::Redactor {
    let mut redactor = rampart_core::secret::Redactor::new();
    for s in secrets.values() {
        redactor.add(s);
    }
    for role in jobs.iter().flat_map(|j| &j.roles) {
        for s in role.configured.derived_secrets(secrets) {
            redactor.add(&s);
        }
    }
    redactor
}

#[cfg(test)]
mod tests {
    use super::Shard;

    #[test]
    fn shards_parse_and_refuse_nonsense() {
        assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 2, count: 4 }));
        for bad in ["0/4", "5/4", "1/0", "4", "a/b", "1/4/2", ""] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_host_is_in_exactly_one_stable_slice() {
        let names: Vec<String> = (0..1000).map(|i| format!("web{i:04}")).collect();
        let mut sizes = [0usize; 4];
        for n in &names {
            let shards: Vec<u64> = (1..=4)
                .filter(|i| {
                    Shard {
                        index: *i,
                        count: 4,
                    }
                    .selects(n)
                })
                .collect();
            assert_eq!(shards.len(), 1, "{n}");
            sizes[(shards[0] - 1) as usize] += 1;
        }
        // Roughly even: each slice within 20% of a quarter.
        assert!(sizes.iter().all(|s| (200..=300).contains(s)), "{sizes:?}");
        // Stable: fixed by FNV-1a, not by the process, the platform or the other hosts.
        assert_eq!(Shard::of("web0001", 4), Shard::of("web0001", 4));
        assert_eq!(Shard::of("", 7), 0xcbf2_9ce4_8422_2325 % 7 + 1);
        // Pinned: FNV-1a of "h1" is 0x08ba8707b55f07d2.
        assert_eq!(Shard::of("h1", 4), 0x08ba_8707_b55f_07d2 % 4 + 1);
        assert_eq!(Shard::of("h1", 4), 3);
    }
}
