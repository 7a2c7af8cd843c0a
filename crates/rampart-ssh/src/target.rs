//! Targets: what the inventory says about a host, merged with the operator's OpenSSH config,
//! resolved into a fully-specified [`Target`] (address, port, user, keys, known_hosts, jump
//! chain, timeout).
//!
//! **Resolution rule:** inventory values win; everything else comes from `ssh -G`, so `Host`,
//! `Match`, `Include` and tokens behave exactly as with OpenSSH. `ssh -G` is only spawned when
//! the operator has a config (`~/.ssh/config` exists or `-F` was given) and an `ssh` binary is
//! on `PATH`; otherwise built-in defaults apply. Spawning `ssh -G` costs a few milliseconds per
//! host, so at 1,000 hosts use one [`Resolver`] (it caches per name/port/user) and its
//! [`Resolver::resolve_async`], which runs the queries on the blocking pool in parallel.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::SshError;

/// Default connect timeout when neither inventory nor ssh config set one.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Jump chains deeper than this are refused (they are almost surely a ProxyJump loop).
const MAX_JUMP_DEPTH: usize = 8;

/// One fully-resolved endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The inventory name, used in errors.
    pub alias: String,
    /// Address or DNS name to dial.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Remote user.
    pub user: String,
    /// Private key files to offer after the agent's identities, in order.
    pub identity_files: Vec<PathBuf>,
    /// UserKnownHostsFile list; the first is where accept-new appends. Empty means none
    /// (`/dev/null`): every key is unknown and nothing can be recorded.
    pub known_hosts: Vec<PathBuf>,
    /// ProxyJump chain, first hop first.
    pub jump: Vec<Target>,
    /// Bounds TCP connect + SSH handshake + authentication, per hop.
    pub connect_timeout: Duration,
    /// Look the host key up as the host's key on this port instead of `port`: after rampart
    /// moved sshd to another port, the host must still present the key it has on its old one.
    pub host_key_port: Option<u16>,
}

impl Default for Target {
    fn default() -> Self {
        Target {
            alias: String::new(),
            host: String::new(),
            port: 22,
            user: String::new(),
            identity_files: Vec::new(),
            known_hosts: Vec::new(),
            jump: Vec::new(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            host_key_port: None,
        }
    }
}

/// What the inventory says about a host. Every field set here wins over the ssh config.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetOverrides {
    /// Address to dial (also the name `ssh -G` is asked about); default: the alias.
    pub address: Option<String>,
    /// Port.
    pub port: Option<u16>,
    /// Remote user.
    pub user: Option<String>,
    /// Identity files; when non-empty they replace the config's (and also apply to jump hops).
    pub identity_files: Vec<PathBuf>,
    /// ProxyJump spec, e.g. `bastion` or `user@host:port,host2`; `none` disables the config's.
    pub jump: Option<String>,
    /// Connect timeout (also applies to jump hops).
    pub connect_timeout: Option<Duration>,
    /// known_hosts files; when non-empty they replace the config's (and apply to jump hops).
    pub known_hosts: Vec<PathBuf>,
}

/// How to resolve.
#[derive(Clone, Debug)]
pub struct ResolveOptions {
    /// Ask OpenSSH (`ssh -G`) when the operator has a config. Default true.
    pub use_openssh: bool,
    /// An explicit ssh config (`ssh -F`).
    pub ssh_config: Option<PathBuf>,
    /// known_hosts files when neither inventory nor ssh config name any; empty means
    /// `~/.ssh/known_hosts` and `~/.ssh/known_hosts2`, as OpenSSH.
    pub default_known_hosts: Vec<PathBuf>,
    /// Connect timeout when neither inventory nor ssh config set one.
    pub default_connect_timeout: Duration,
    /// The `ssh` program; default: `ssh` found on `PATH`.
    pub ssh_program: Option<PathBuf>,
    /// Home directory for `~`; default: the process's.
    pub home: Option<PathBuf>,
    /// Local user name (default remote user); default: `$USER` / `$LOGNAME`.
    pub local_user: Option<String>,
}

impl Default for ResolveOptions {
    fn default() -> Self {
        ResolveOptions {
            use_openssh: true,
            ssh_config: None,
            default_known_hosts: Vec::new(),
            default_connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            ssh_program: None,
            home: None,
            local_user: None,
        }
    }
}

/// Resolves one host. Convenience over [`Resolver`]; for many hosts keep one resolver.
pub fn resolve(
    alias: &str,
    overrides: &TargetOverrides,
    cfg: &ResolveOptions,
) -> Result<Target, SshError> {
    Resolver::new(cfg.clone()).resolve(alias, overrides)
}

/// Resolves targets, caching `ssh -G` answers. Cheap to clone; clones share the cache.
#[derive(Clone, Debug)]
pub struct Resolver {
    inner: Arc<ResolverInner>,
}

#[derive(Debug)]
struct ResolverInner {
    opts: ResolveOptions,
    home: Option<PathBuf>,
    local_user: Option<String>,
    /// The ssh binary, when `ssh -G` is to be used at all.
    ssh: Option<PathBuf>,
    cache: Mutex<HashMap<SshGKey, Arc<SshG>>>,
}

/// What `ssh -G` is asked about: name, `-p`, `-l`.
type SshGKey = (String, Option<u16>, Option<String>);

/// The parts of `ssh -G` output we use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct SshG {
    hostname: Option<String>,
    user: Option<String>,
    port: Option<u16>,
    identity_files: Vec<String>,
    proxy_jump: Option<String>,
    connect_timeout: Option<Duration>,
    known_hosts: Option<Vec<String>>,
}

impl Resolver {
    /// A resolver. Decides once whether `ssh -G` will be used.
    pub fn new(opts: ResolveOptions) -> Self {
        let home = opts.home.clone().or_else(std::env::home_dir);
        let local_user = opts
            .local_user
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .or_else(|| std::env::var("LOGNAME").ok())
            .filter(|u| !u.is_empty());
        let has_config = opts.ssh_config.is_some()
            || home
                .as_ref()
                .is_some_and(|h| h.join(".ssh/config").is_file());
        let ssh = if opts.use_openssh && has_config {
            opts.ssh_program.clone().or_else(|| find_on_path("ssh"))
        } else {
            None
        };
        tracing::debug!(ssh = ?ssh, "target resolution");
        Resolver {
            inner: Arc::new(ResolverInner {
                opts,
                home,
                local_user,
                ssh,
                cache: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// True when this resolver consults `ssh -G`.
    pub fn uses_openssh(&self) -> bool {
        self.inner.ssh.is_some()
    }

    /// Resolves `alias` with the inventory's `overrides`, jump hops included.
    pub fn resolve(&self, alias: &str, overrides: &TargetOverrides) -> Result<Target, SshError> {
        self.resolve_depth(alias, overrides, 0, true)
    }

    /// [`Resolver::resolve`] on tokio's blocking pool, so many hosts resolve in parallel without
    /// blocking the runtime on `ssh -G`.
    pub async fn resolve_async(
        &self,
        alias: &str,
        overrides: &TargetOverrides,
    ) -> Result<Target, SshError> {
        let (me, owned, ov) = (self.clone(), alias.to_owned(), overrides.clone());
        tokio::task::spawn_blocking(move || me.resolve(&owned, &ov))
            .await
            .map_err(|e| SshError::Other {
                target: alias.to_owned(),
                detail: format!("resolver task failed: {e}"),
            })?
    }

    fn resolve_depth(
        &self,
        alias: &str,
        ov: &TargetOverrides,
        depth: usize,
        follow_config_jump: bool,
    ) -> Result<Target, SshError> {
        if depth > MAX_JUMP_DEPTH {
            return Err(SshError::config(
                format!("{alias}: ProxyJump chain is deeper than {MAX_JUMP_DEPTH} hops"),
                Some("check your ssh config for a ProxyJump loop"),
            ));
        }
        let name = ov.address.clone().unwrap_or_else(|| alias.to_owned());
        if name.is_empty() || name.starts_with('-') || name.contains(char::is_whitespace) {
            return Err(SshError::config(
                format!("{alias}: `{name}` is not a usable host name"),
                Some("set a plain address or DNS name"),
            ));
        }
        let g = match &self.inner.ssh {
            Some(ssh) => self.ssh_g(ssh, &name, ov.port, ov.user.as_deref())?,
            None => Arc::new(SshG::default()),
        };
        let host = ov
            .address
            .clone()
            .or_else(|| g.hostname.clone())
            .unwrap_or_else(|| alias.to_owned());
        let port = ov.port.or(g.port).unwrap_or(22);
        let user = match ov
            .user
            .clone()
            .or_else(|| g.user.clone())
            .or_else(|| self.inner.local_user.clone())
        {
            Some(u) => u,
            None => {
                return Err(SshError::config(
                    format!("{alias}: no remote user: the inventory sets none and $USER is unset"),
                    Some("set user in the inventory"),
                ));
            }
        };
        let identity_files = if !ov.identity_files.is_empty() {
            ov.identity_files
                .iter()
                .map(|p| self.expand_path(p))
                .collect()
        } else {
            self.config_identity_files(&g.identity_files, &host, port, &user)
        };
        let known_hosts = if !ov.known_hosts.is_empty() {
            ov.known_hosts
                .iter()
                .map(|p| self.expand_path(p))
                .filter(|p| p != Path::new("/dev/null"))
                .collect()
        } else if let Some(list) = &g.known_hosts {
            list.iter()
                .map(|s| self.expand(s))
                .filter(|p| p != Path::new("/dev/null"))
                .collect()
        } else if !self.inner.opts.default_known_hosts.is_empty() {
            self.inner.opts.default_known_hosts.clone()
        } else {
            // OpenSSH's default UserKnownHostsFile: both files are read, the first is written.
            self.inner
                .home
                .iter()
                .flat_map(|h| [h.join(".ssh/known_hosts"), h.join(".ssh/known_hosts2")])
                .collect()
        };
        let connect_timeout = ov
            .connect_timeout
            .or(g.connect_timeout)
            .unwrap_or(self.inner.opts.default_connect_timeout);
        let spec = match &ov.jump {
            Some(j) => Some(j.clone()),
            None if follow_config_jump => g.proxy_jump.clone(),
            None => None,
        };
        let jump = match spec.as_deref().map(str::trim) {
            None | Some("") | Some("none") => Vec::new(),
            Some(spec) => self.resolve_jumps(alias, spec, ov, depth)?,
        };
        Ok(Target {
            alias: alias.to_owned(),
            host,
            port,
            user,
            identity_files,
            known_hosts,
            jump,
            connect_timeout,
            host_key_port: None,
        })
    }

    /// ProxyJump `h1,h2`: h1 is resolved with its own config (its ProxyJump included), later
    /// hops are reached through the earlier ones, as OpenSSH's `-J` does. The result is flat.
    fn resolve_jumps(
        &self,
        alias: &str,
        spec: &str,
        ov: &TargetOverrides,
        depth: usize,
    ) -> Result<Vec<Target>, SshError> {
        let mut out = Vec::new();
        for (i, hop) in spec.split(',').map(str::trim).enumerate() {
            let (user, host, port) = parse_hop(hop).ok_or_else(|| {
                SshError::config(
                    format!("{alias}: cannot parse jump host `{hop}` in `{spec}`"),
                    Some("write jump hosts as [user@]host[:port], comma-separated"),
                )
            })?;
            let hop_ov = TargetOverrides {
                address: None,
                port,
                user,
                identity_files: ov.identity_files.clone(),
                jump: None,
                connect_timeout: ov.connect_timeout,
                known_hosts: ov.known_hosts.clone(),
            };
            let mut t = self.resolve_depth(&host, &hop_ov, depth + 1, i == 0)?;
            out.append(&mut t.jump);
            out.push(t);
        }
        Ok(out)
    }

    fn ssh_g(
        &self,
        ssh: &Path,
        name: &str,
        port: Option<u16>,
        user: Option<&str>,
    ) -> Result<Arc<SshG>, SshError> {
        let key = (name.to_owned(), port, user.map(str::to_owned));
        if let Some(g) = self
            .inner
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(g.clone());
        }
        let mut cmd = Command::new(ssh);
        cmd.arg("-G");
        if let Some(f) = &self.inner.opts.ssh_config {
            cmd.arg("-F").arg(f);
        }
        if let Some(p) = port {
            cmd.arg("-p").arg(p.to_string());
        }
        if let Some(u) = user {
            cmd.arg("-l").arg(u);
        }
        cmd.arg(name).stdin(Stdio::null());
        let out = cmd.output().map_err(|e| {
            SshError::config(
                format!("cannot run `{} -G {name}`: {e}", ssh.display()),
                Some("install the OpenSSH client, or turn off use_openssh"),
            )
        })?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(SshError::config(
                format!("`ssh -G {name}` failed: {}", stderr.trim()),
                Some("fix the ssh config (try `ssh -G` yourself), or pass another with -F"),
            ));
        }
        let g = Arc::new(parse_ssh_g(&String::from_utf8_lossy(&out.stdout)));
        self.inner
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, g.clone());
        Ok(g)
    }

    /// Identity files from the config, existing ones only. OpenSSH prints its whole default list
    /// when none is configured; then we use our own default order (ed25519, ecdsa, rsa).
    fn config_identity_files(
        &self,
        from_config: &[String],
        host: &str,
        port: u16,
        user: &str,
    ) -> Vec<PathBuf> {
        const OPENSSH_DEFAULTS: &[&str] = &[
            "~/.ssh/id_rsa",
            "~/.ssh/id_ecdsa",
            "~/.ssh/id_ecdsa_sk",
            "~/.ssh/id_ed25519",
            "~/.ssh/id_ed25519_sk",
            "~/.ssh/id_xmss",
            "~/.ssh/id_dsa",
        ];
        let configured = !from_config.is_empty()
            && !from_config
                .iter()
                .all(|f| OPENSSH_DEFAULTS.contains(&f.as_str()));
        let list: Vec<PathBuf> = if configured {
            from_config
                .iter()
                .map(|f| self.expand_tokens(f, host, port, user))
                .collect()
        } else {
            ["~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa"]
                .iter()
                .map(|f| self.expand(f))
                .collect()
        };
        list.into_iter().filter(|p| p.is_file()).collect()
    }

    fn expand_path(&self, p: &Path) -> PathBuf {
        match p.to_str() {
            Some(s) => self.expand(s),
            None => p.to_owned(),
        }
    }

    /// `~` and `~/...` to the home directory.
    fn expand(&self, s: &str) -> PathBuf {
        match (&self.inner.home, s.strip_prefix('~')) {
            (Some(h), Some("")) => h.clone(),
            (Some(h), Some(rest)) if rest.starts_with('/') => h.join(&rest[1..]),
            _ => PathBuf::from(s),
        }
    }

    /// ssh_config(5) TOKENS that `ssh -G` leaves unexpanded in IdentityFile.
    fn expand_tokens(&self, s: &str, host: &str, port: u16, user: &str) -> PathBuf {
        let home = self
            .inner
            .home
            .as_ref()
            .map(|h| h.display().to_string())
            .unwrap_or_default();
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('%') => out.push('%'),
                Some('d') => out.push_str(&home),
                Some('h') => out.push_str(host),
                Some('p') => out.push_str(&port.to_string()),
                Some('r') => out.push_str(user),
                Some('u') => out.push_str(self.inner.local_user.as_deref().unwrap_or("")),
                Some(other) => {
                    out.push('%');
                    out.push(other);
                }
                None => out.push('%'),
            }
        }
        self.expand(&out)
    }
}

fn parse_ssh_g(text: &str) -> SshG {
    let mut g = SshG::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(' ') else {
            continue;
        };
        let value = value.trim();
        match key {
            "hostname" => g.hostname = Some(value.to_owned()),
            "user" => g.user = Some(value.to_owned()),
            "port" => g.port = value.parse().ok(),
            "identityfile" => g.identity_files.push(value.to_owned()),
            "proxyjump" if value != "none" => g.proxy_jump = Some(value.to_owned()),
            "connecttimeout" => {
                g.connect_timeout = value
                    .parse::<u64>()
                    .ok()
                    .filter(|s| *s > 0)
                    .map(Duration::from_secs)
            }
            "userknownhostsfile" => {
                g.known_hosts = Some(value.split_whitespace().map(str::to_owned).collect())
            }
            _ => {}
        }
    }
    g
}

/// `[user@]host[:port]`, `[user@][v6addr][:port]` or `ssh://[user@]host[:port]`.
fn parse_hop(hop: &str) -> Option<(Option<String>, String, Option<u16>)> {
    let hop = hop.strip_prefix("ssh://").unwrap_or(hop);
    let (user, rest) = match hop.rsplit_once('@') {
        Some((u, r)) if !u.is_empty() => (Some(u.to_owned()), r),
        Some(_) => return None,
        None => (None, hop),
    };
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        match after.strip_prefix(':') {
            Some(p) => (h, Some(p.parse().ok()?)),
            None if after.is_empty() => (h, None),
            None => return None,
        }
    } else {
        match rest.split_once(':') {
            Some((h, p)) => (h, Some(p.parse().ok()?)),
            None => (rest, None),
        }
    };
    if host.is_empty() || host.starts_with('-') {
        return None;
    }
    Some((user, host.to_owned(), port))
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(home: &Path) -> ResolveOptions {
        ResolveOptions {
            use_openssh: false,
            home: Some(home.to_owned()),
            local_user: Some("me".into()),
            ..ResolveOptions::default()
        }
    }

    #[test]
    fn hops_parse() {
        assert_eq!(parse_hop("bastion"), Some((None, "bastion".into(), None)));
        assert_eq!(
            parse_hop("u@h:2222"),
            Some((Some("u".into()), "h".into(), Some(2222)))
        );
        assert_eq!(
            parse_hop("ssh://u@h:22"),
            Some((Some("u".into()), "h".into(), Some(22)))
        );
        assert_eq!(
            parse_hop("[::1]:2200"),
            Some((None, "::1".into(), Some(2200)))
        );
        assert_eq!(
            parse_hop("u@[fe80::1]"),
            Some((Some("u".into()), "fe80::1".into(), None))
        );
        assert_eq!(parse_hop("h:notaport"), None);
        assert_eq!(parse_hop("@h"), None);
        assert_eq!(parse_hop("-oProxyCommand=x"), None);
    }

    #[test]
    fn ssh_g_output_parses() {
        let g = parse_ssh_g(
            "user bob\nhostname 10.1.1.1\nport 2200\nidentityfile ~/.ssh/id_foo\nidentityfile %d/k\n\
             userknownhostsfile /root/.ssh/kh1 /tmp/kh2\nconnecttimeout none\nproxyjump jumpy\n",
        );
        assert_eq!(g.user.as_deref(), Some("bob"));
        assert_eq!(g.hostname.as_deref(), Some("10.1.1.1"));
        assert_eq!(g.port, Some(2200));
        assert_eq!(g.identity_files, ["~/.ssh/id_foo", "%d/k"]);
        assert_eq!(
            g.known_hosts,
            Some(vec!["/root/.ssh/kh1".to_owned(), "/tmp/kh2".to_owned()])
        );
        assert_eq!(g.connect_timeout, None);
        assert_eq!(g.proxy_jump.as_deref(), Some("jumpy"));
        assert_eq!(
            parse_ssh_g("connecttimeout 7\n").connect_timeout,
            Some(Duration::from_secs(7))
        );
    }

    #[test]
    fn defaults_without_openssh() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".ssh")).unwrap();
        std::fs::write(home.path().join(".ssh/id_rsa"), "x").unwrap();
        std::fs::write(home.path().join(".ssh/id_ed25519"), "x").unwrap();
        let t = resolve("web1", &TargetOverrides::default(), &opts(home.path())).unwrap();
        assert_eq!(t.host, "web1");
        assert_eq!(t.port, 22);
        assert_eq!(t.user, "me");
        assert_eq!(
            t.identity_files,
            [
                home.path().join(".ssh/id_ed25519"),
                home.path().join(".ssh/id_rsa")
            ]
        );
        assert_eq!(
            t.known_hosts,
            [
                home.path().join(".ssh/known_hosts"),
                home.path().join(".ssh/known_hosts2")
            ]
        );
        assert_eq!(t.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
        assert!(t.jump.is_empty());
    }

    #[test]
    fn inventory_values_and_jump_spec() {
        let home = tempfile::tempdir().unwrap();
        let ov = TargetOverrides {
            address: Some("10.0.0.5".into()),
            port: Some(2222),
            user: Some("admin".into()),
            identity_files: vec!["~/k".into()],
            jump: Some("ops@b1:2200,b2".into()),
            connect_timeout: Some(Duration::from_secs(3)),
            known_hosts: vec!["/dev/null".into()],
        };
        let t = resolve("web1", &ov, &opts(home.path())).unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.user.as_str()),
            ("10.0.0.5", 2222, "admin")
        );
        assert_eq!(t.identity_files, [home.path().join("k")]);
        assert!(t.known_hosts.is_empty(), "/dev/null means no known_hosts");
        let hops: Vec<_> = t
            .jump
            .iter()
            .map(|h| (h.user.as_str(), h.host.as_str(), h.port))
            .collect();
        assert_eq!(hops, [("ops", "b1", 2200), ("me", "b2", 22)]);
        assert_eq!(t.jump[0].connect_timeout, Duration::from_secs(3));
        let none = resolve(
            "web1",
            &TargetOverrides {
                jump: Some("none".into()),
                ..TargetOverrides::default()
            },
            &opts(home.path()),
        )
        .unwrap();
        assert!(none.jump.is_empty());
    }

    #[test]
    fn tokens_expand() {
        let home = tempfile::tempdir().unwrap();
        let r = Resolver::new(opts(home.path()));
        assert_eq!(
            r.expand_tokens("%d/.ssh/k_%r@%h:%p%%", "h", 22, "u"),
            home.path().join(".ssh/k_u@h:22%")
        );
        assert_eq!(r.expand("~/x"), home.path().join("x"));
        assert_eq!(r.expand("/abs"), PathBuf::from("/abs"));
    }
}
