//! How to reach a host: [`ConnSpec`], built from rampart's own keys (`address`, `port`, ...) and
//! from Ansible's connection variables (`ansible_host`, `ansible_port`, ...) wherever variables
//! are written, each field with the place it was set.
//!
//! Ansible variables understood: `ansible_host`/`ansible_ssh_host` → address,
//! `ansible_port`/`ansible_ssh_port` → port, `ansible_user`/`ansible_ssh_user` → user,
//! `ansible_ssh_private_key_file`/`ansible_private_key_file` → identity file,
//! `ansible_become` → become, `ansible_timeout`/`ansible_ssh_timeout` → connect timeout,
//! `ansible_ssh_common_args`/`ansible_ssh_extra_args` → bastion (`-J x`, `-o ProxyJump=x`,
//! `-o ProxyCommand="ssh -W %h:%p x"`), known hosts (`-o UserKnownHostsFile=x`), connect timeout
//! (`-o ConnectTimeout=n`) and identity (`-i x`). `ansible_connection` and
//! `ansible_python_interpreter` are ignored; password variables are ignored with a warning
//! (rampart authenticates with keys only). Understood variables are consumed: they are not
//! host variables any more.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{InputError, Location};
use crate::types::Port;
use crate::vars::Layer;

/// A value and the place it was set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Where it was set.
    pub location: Location,
}

impl<T> Located<T> {
    /// A value set at a location.
    pub fn new(value: T, location: Location) -> Self {
        Located { value, location }
    }
}

/// How to connect to a host. `None` (or empty) means "not set": the SSH layer applies its own
/// defaults (the host's inventory name as address, port 22, the local user, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnSpec {
    /// Address or DNS name to connect to.
    pub address: Option<Located<String>>,
    /// SSH port.
    pub port: Option<Located<u16>>,
    /// Login user.
    pub user: Option<Located<String>>,
    /// Private keys to offer, in order; absolute or starting with `~`.
    pub identity_files: Vec<Located<PathBuf>>,
    /// A ProxyJump chain: comma-separated inventory host names or `user@host:port`.
    pub bastion: Option<Located<String>>,
    /// Run as root through sudo.
    pub become_root: Option<Located<bool>>,
    /// known_hosts file to trust (and only that one).
    pub known_hosts: Option<Located<PathBuf>>,
    /// Seconds to wait for the TCP connection and the SSH handshake.
    pub connect_timeout: Option<Located<u64>>,
}

impl ConnSpec {
    /// Puts every field set in `over` on top of this one (identity files replace as a list).
    pub fn overlay(&mut self, over: &ConnSpec) {
        fn pick<T: Clone>(base: &mut Option<T>, over: &Option<T>) {
            if over.is_some() {
                base.clone_from(over);
            }
        }
        pick(&mut self.address, &over.address);
        pick(&mut self.port, &over.port);
        pick(&mut self.user, &over.user);
        if !over.identity_files.is_empty() {
            self.identity_files.clone_from(&over.identity_files);
        }
        pick(&mut self.bastion, &over.bastion);
        pick(&mut self.become_root, &over.become_root);
        pick(&mut self.known_hosts, &over.known_hosts);
        pick(&mut self.connect_timeout, &over.connect_timeout);
    }

    /// True when nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == ConnSpec::default()
    }

    /// The address, if set.
    pub fn address(&self) -> Option<&str> {
        self.address.as_ref().map(|a| a.value.as_str())
    }

    /// The port, if set.
    pub fn port(&self) -> Option<u16> {
        self.port.as_ref().map(|p| p.value)
    }

    /// The user, if set.
    pub fn user(&self) -> Option<&str> {
        self.user.as_ref().map(|u| u.value.as_str())
    }

    /// Whether to become root (false when not set).
    pub fn become_root(&self) -> bool {
        self.become_root.as_ref().is_some_and(|b| b.value)
    }

    /// The bastion chain, if set.
    pub fn bastion(&self) -> Option<&str> {
        self.bastion.as_ref().map(|b| b.value.as_str())
    }
}

/// One hop of a ProxyJump chain as written: `name`, `user@host` or `user@host:port`
/// (`[v6addr]:port` for IPv6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Jump {
    /// User for the hop, when written.
    pub user: Option<String>,
    /// An inventory host name or an address.
    pub host: String,
    /// Port for the hop, when written.
    pub port: Option<u16>,
}

/// Splits a ProxyJump chain into hops, checking each hop's syntax.
pub fn parse_jumps(spec: &str) -> Result<Vec<Jump>, String> {
    let mut hops = Vec::new();
    for raw in spec.split(',') {
        let hop = raw.trim();
        if hop.is_empty() {
            return Err(format!("empty hop in bastion `{spec}`"));
        }
        let hop = hop.strip_prefix("ssh://").unwrap_or(hop);
        let (user, rest) = match hop.rsplit_once('@') {
            Some((u, r)) if !u.is_empty() => (Some(u.to_owned()), r),
            Some(_) => return Err(format!("empty user in bastion hop `{hop}`")),
            None => (None, hop),
        };
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let Some((addr, tail)) = v6.split_once(']') else {
                return Err(format!("unclosed `[` in bastion hop `{hop}`"));
            };
            match tail.strip_prefix(':') {
                Some(p) => (addr, Some(p)),
                None if tail.is_empty() => (addr, None),
                None => return Err(format!("unexpected `{tail}` in bastion hop `{hop}`")),
            }
        } else if rest.matches(':').count() == 1 {
            let (h, p) = rest.split_once(':').unwrap_or((rest, ""));
            (h, Some(p))
        } else {
            (rest, None)
        };
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '/') {
            return Err(format!(
                "`{host}` is not a host name in bastion hop `{hop}`"
            ));
        }
        let port = match port {
            Some(p) => Some(
                p.parse::<Port>()
                    .map_err(|e| format!("{e} in bastion hop `{hop}`"))?
                    .get(),
            ),
            None => None,
        };
        hops.push(Jump {
            user,
            host: host.to_owned(),
            port,
        });
    }
    Ok(hops)
}

/// A connection setting, whatever it is called in the source format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConnKey {
    Address,
    Port,
    User,
    IdentityFile,
    KnownHosts,
    Become,
    ConnectTimeout,
    Bastion,
    /// `ansible_ssh_common_args` and friends: ssh command-line options.
    SshArgs,
    /// Understood and deliberately ignored.
    Ignored,
    /// Password variables: ignored, with a warning.
    Password,
}

/// rampart's own connection keys (TOML `[defaults]`, groups and hosts).
pub(crate) const RAMPART_KEYS: &[&str] = &[
    "address",
    "port",
    "user",
    "identity_file",
    "known_hosts",
    "become",
    "connect_timeout",
    "bastion",
];

/// The setting a rampart key names.
pub(crate) fn rampart_key(key: &str) -> Option<ConnKey> {
    Some(match key {
        "address" => ConnKey::Address,
        "port" => ConnKey::Port,
        "user" => ConnKey::User,
        "identity_file" => ConnKey::IdentityFile,
        "known_hosts" => ConnKey::KnownHosts,
        "become" => ConnKey::Become,
        "connect_timeout" => ConnKey::ConnectTimeout,
        "bastion" => ConnKey::Bastion,
        _ => return None,
    })
}

/// The setting an Ansible variable names.
pub(crate) fn ansible_key(key: &str) -> Option<ConnKey> {
    Some(match key {
        "ansible_host" | "ansible_ssh_host" => ConnKey::Address,
        "ansible_port" | "ansible_ssh_port" => ConnKey::Port,
        "ansible_user" | "ansible_ssh_user" => ConnKey::User,
        "ansible_ssh_private_key_file" | "ansible_private_key_file" => ConnKey::IdentityFile,
        "ansible_become" => ConnKey::Become,
        "ansible_timeout" | "ansible_ssh_timeout" => ConnKey::ConnectTimeout,
        "ansible_ssh_common_args" | "ansible_ssh_extra_args" => ConnKey::SshArgs,
        "ansible_connection" | "ansible_python_interpreter" => ConnKey::Ignored,
        "ansible_password"
        | "ansible_ssh_pass"
        | "ansible_ssh_password"
        | "ansible_become_password"
        | "ansible_become_pass" => ConnKey::Password,
        _ => return None,
    })
}

/// Sets one connection field from a value written at `at`. Relative paths resolve against
/// `base_dir`; `~` paths are left for the SSH layer to expand.
pub(crate) fn apply(
    conn: &mut ConnSpec,
    key: ConnKey,
    name: &str,
    value: &Value,
    at: &Location,
    base_dir: &Path,
    warnings: &mut Vec<InputError>,
) -> Result<(), InputError> {
    let bad = |what: &str| {
        InputError::new(
            at.clone(),
            format!("`{name}` must be {what}, not {}", json_type(value)),
        )
    };
    match key {
        ConnKey::Address => {
            let s = text(value, name, at, "an address or host name")?;
            if s.chars().any(char::is_whitespace) {
                return Err(InputError::new(at.clone(), format!("`{name}` has a space in it: `{s}`")));
            }
            conn.address = Some(Located::new(s.to_owned(), at.clone()));
        }
        ConnKey::Port => {
            let port = match value {
                Value::Number(n) => match n.as_i64() {
                    Some(i) => Port::try_from(i),
                    None => return Err(bad("a port number")),
                },
                Value::String(s) => s.parse::<Port>(),
                _ => return Err(bad("a port number")),
            }
            .map_err(|e| InputError::new(at.clone(), e.0))?;
            conn.port = Some(Located::new(port.get(), at.clone()));
        }
        ConnKey::User => {
            let s = text(value, name, at, "a user name")?;
            conn.user = Some(Located::new(s.to_owned(), at.clone()));
        }
        ConnKey::IdentityFile => {
            let files = match value {
                Value::String(s) => vec![s.as_str()],
                Value::Array(items) => {
                    items.iter().map(|i| i.as_str().ok_or_else(|| bad("a path or a list of paths"))).collect::<Result<_, _>>()?
                }
                _ => return Err(bad("a path or a list of paths")),
            };
            if files.iter().any(|f| f.is_empty()) {
                return Err(InputError::new(at.clone(), format!("`{name}` has an empty path")));
            }
            conn.identity_files = files.into_iter().map(|f| Located::new(resolve_path(base_dir, f), at.clone())).collect();
        }
        ConnKey::KnownHosts => {
            let s = text(value, name, at, "a path")?;
            conn.known_hosts = Some(Located::new(resolve_path(base_dir, s), at.clone()));
        }
        ConnKey::Become => {
            let b = parse_bool(value).ok_or_else(|| {
                InputError::new(at.clone(), format!("`{name}` must be true or false, not `{}`", plain(value)))
                    .with_hint("use true/false (yes/no, 1/0 and on/off also work)")
            })?;
            conn.become_root = Some(Located::new(b, at.clone()));
        }
        ConnKey::ConnectTimeout => {
            let n = match value {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.trim().parse::<u64>().ok(),
                _ => None,
            };
            match n {
                Some(n) if n > 0 => conn.connect_timeout = Some(Located::new(n, at.clone())),
                _ => {
                    return Err(InputError::new(
                        at.clone(),
                        format!("`{name}` must be a number of seconds above 0, not `{}`", plain(value)),
                    ));
                }
            }
        }
        ConnKey::Bastion => {
            let s = text(value, name, at, "a host name or user@host:port")?;
            parse_jumps(s).map_err(|e| InputError::new(at.clone(), e))?;
            conn.bastion = Some(Located::new(s.trim().to_owned(), at.clone()));
        }
        ConnKey::SshArgs => {
            let Value::String(s) = value else {
                return Err(bad("a string of ssh options"));
            };
            apply_ssh_args(conn, name, s, at, base_dir)?;
        }
        ConnKey::Ignored => {}
        ConnKey::Password => warnings.push(
            InputError::new(at.clone(), format!("`{name}` is ignored: rampart logs in with SSH keys only"))
                .with_hint("set an identity file (identity_file or ansible_ssh_private_key_file) and remove the password"),
        ),
    }
    Ok(())
}

/// A non-empty string value, trimmed, or an error saying it must be `what`.
fn text<'a>(
    value: &'a Value,
    name: &str,
    at: &Location,
    what: &str,
) -> Result<&'a str, InputError> {
    match value {
        Value::String(s) if s.trim().is_empty() => {
            Err(InputError::new(at.clone(), format!("`{name}` is empty")))
        }
        Value::String(s) => Ok(s.trim()),
        _ => Err(InputError::new(
            at.clone(),
            format!("`{name}` must be {what}, not {}", json_type(value)),
        )),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Ansible's boolean spellings.
fn parse_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "yes" | "true" | "1" | "on" | "y" | "t" => Some(true),
            "no" | "false" | "0" | "off" | "n" | "f" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A path as written, relative ones joined to the inventory's directory.
pub(crate) fn resolve_path(base_dir: &Path, p: &str) -> PathBuf {
    let path = Path::new(p);
    if path.is_absolute() || p.starts_with('~') {
        path.to_path_buf()
    } else {
        base_dir.join(path)
    }
}

/// Reads the ssh options rampart understands out of `ansible_ssh_common_args`.
fn apply_ssh_args(
    conn: &mut ConnSpec,
    name: &str,
    args: &str,
    at: &Location,
    base_dir: &Path,
) -> Result<(), InputError> {
    let words = split_words(args)
        .map_err(|e| InputError::new(at.clone(), format!("cannot split `{name}`: {e}")))?;
    let mut i = 0;
    let err = |m: String| InputError::new(at.clone(), m);
    let next = |i: usize, flag: &str| {
        words
            .get(i + 1)
            .cloned()
            .ok_or_else(|| err(format!("`{flag}` needs a value in `{name}`")))
    };
    while i < words.len() {
        let w = &words[i];
        let (flag, value) = if let Some(rest) = w.strip_prefix("-J").filter(|_| w.len() > 2) {
            ("-J", rest.to_owned())
        } else if let Some(rest) = w.strip_prefix("-o").filter(|_| w.len() > 2) {
            ("-o", rest.to_owned())
        } else if let Some(rest) = w.strip_prefix("-i").filter(|_| w.len() > 2) {
            ("-i", rest.to_owned())
        } else if w == "-J" || w == "-o" || w == "-i" {
            let v = next(i, w)?;
            i += 1;
            (w.as_str(), v)
        } else {
            i += 1;
            continue;
        };
        i += 1;
        match flag {
            "-J" => set_bastion(conn, &value, at)?,
            "-i" => conn
                .identity_files
                .push(Located::new(resolve_path(base_dir, &value), at.clone())),
            _ => {
                let (opt, v) = match value.split_once('=') {
                    Some((o, v)) => (o.trim().to_owned(), v.trim().to_owned()),
                    None => match value.split_once(char::is_whitespace) {
                        Some((o, v)) => (o.trim().to_owned(), v.trim().to_owned()),
                        None => (value.clone(), String::new()),
                    },
                };
                match opt.to_ascii_lowercase().as_str() {
                    "proxyjump" => set_bastion(conn, &v, at)?,
                    "proxycommand" => {
                        if let Some(hop) = proxy_command_hop(&v) {
                            set_bastion(conn, &hop, at)?;
                        }
                    }
                    "userknownhostsfile" => {
                        let first = v.split_whitespace().next().unwrap_or("");
                        if !first.is_empty() {
                            conn.known_hosts =
                                Some(Located::new(resolve_path(base_dir, first), at.clone()));
                        }
                    }
                    "connecttimeout" => {
                        let n = v.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                            err(format!(
                                "ConnectTimeout must be a number of seconds above 0, not `{v}`"
                            ))
                        })?;
                        conn.connect_timeout = Some(Located::new(n, at.clone()));
                    }
                    "identityfile" => conn
                        .identity_files
                        .push(Located::new(resolve_path(base_dir, &v), at.clone())),
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

fn set_bastion(conn: &mut ConnSpec, spec: &str, at: &Location) -> Result<(), InputError> {
    if spec.eq_ignore_ascii_case("none") {
        conn.bastion = None;
        return Ok(());
    }
    parse_jumps(spec).map_err(|e| InputError::new(at.clone(), e))?;
    conn.bastion = Some(Located::new(spec.to_owned(), at.clone()));
    Ok(())
}

/// The jump host of the classic `ProxyCommand="ssh -W %h:%p [-p port] [user@]bastion"`.
fn proxy_command_hop(cmd: &str) -> Option<String> {
    let words = split_words(cmd).ok()?;
    if words.first().map(|w| w.rsplit('/').next().unwrap_or(w)) != Some("ssh")
        || !words.iter().any(|w| w == "-W")
    {
        return None;
    }
    let (mut port, mut user, mut host) = (None, None, None);
    let mut i = 1;
    while i < words.len() {
        let w = words[i].as_str();
        match w {
            "-p" => {
                port = words.get(i + 1).cloned();
                i += 1;
            }
            "-l" => {
                user = words.get(i + 1).cloned();
                i += 1;
            }
            // Options that take a value: skip it.
            "-W" | "-i" | "-o" | "-F" | "-J" | "-b" | "-c" | "-m" | "-E" | "-S" => i += 1,
            _ if w.starts_with('-') => {}
            _ => host = Some(w.to_owned()),
        }
        i += 1;
    }
    let host = host?;
    let mut hop = match user {
        Some(u) if !host.contains('@') => format!("{u}@{host}"),
        _ => host,
    };
    if let Some(p) = port {
        hop = format!("{hop}:{p}");
    }
    Some(hop)
}

/// Splits a command line as a POSIX shell would (quotes and backslashes), without expansion.
pub(crate) fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("unclosed single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => cur.push(c),
                            Some(c) => {
                                cur.push('\\');
                                cur.push(c);
                            }
                            None => return Err("unclosed double quote".into()),
                        },
                        Some(c) => cur.push(c),
                        None => return Err("unclosed double quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    cur.push(c);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Splits Ansible's connection variables (`ansible_host`, `ansible_user`, ...) out of a layer
/// of variables, such as the extra vars of `-e ansible_user=lab`: the settings they mean (to
/// [`ConnSpec::overlay`] on a host's), the remaining variables, and warnings. Relative paths
/// resolve against `base_dir`.
pub fn split_conn_vars(
    layer: &Layer,
    base_dir: &Path,
) -> Result<(ConnSpec, Layer, Vec<InputError>), InputError> {
    let mut warnings = Vec::new();
    let (conn, rest) = extract(layer, base_dir, &mut warnings)?;
    Ok((conn, rest, warnings))
}

/// Takes the connection variables out of a layer into a [`ConnSpec`]; the rest stays vars.
pub(crate) fn extract(
    layer: &Layer,
    base_dir: &Path,
    warnings: &mut Vec<InputError>,
) -> Result<(ConnSpec, Layer), InputError> {
    let mut rest = layer.clone();
    let mut conn = ConnSpec::default();
    let keys: Vec<String> = layer
        .value
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    // Process in a fixed order so a later, more specific key wins deterministically:
    // the ssh args first, then the dedicated variables.
    let mut found: Vec<(ConnKey, String)> = keys
        .into_iter()
        .filter_map(|k| ansible_key(&k).map(|c| (c, k)))
        .collect();
    found.sort_by_key(|(c, k)| (*c != ConnKey::SshArgs, k.clone()));
    for (key, name) in found {
        let Some((value, at)) = rest.remove(&name) else {
            continue;
        };
        let at = at
            .or_else(|| layer.origin("").cloned())
            .unwrap_or_else(|| Location::file("<vars>"));
        apply(&mut conn, key, &name, &value, &at, base_dir, warnings)?;
    }
    Ok((conn, rest))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn conn_of(vars: Value) -> Result<ConnSpec, String> {
        let mut layer = Layer::new();
        if let Value::Object(m) = vars {
            for (k, v) in m {
                layer.set(&[k.as_str()], v, Location::at("inv", 1, 1));
            }
        }
        let mut w = Vec::new();
        extract(&layer, Path::new("/inv"), &mut w)
            .map(|(c, _)| c)
            .map_err(|e| e.message)
    }

    #[test]
    fn ansible_vars() {
        let c = conn_of(json!({
            "ansible_host": "10.0.0.1", "ansible_port": "2222", "ansible_user": "lab",
            "ansible_ssh_private_key_file": "keys/id", "ansible_become": "yes",
            "ansible_python_interpreter": "/usr/bin/python3", "ansible_connection": "ssh",
        }))
        .unwrap();
        assert_eq!(c.address(), Some("10.0.0.1"));
        assert_eq!(c.port(), Some(2222));
        assert_eq!(c.user(), Some("lab"));
        assert_eq!(c.identity_files[0].value, PathBuf::from("/inv/keys/id"));
        assert!(c.become_root());
    }

    #[test]
    fn ssh_args() {
        for (args, bastion, known_hosts) in [
            ("-J jump1", Some("jump1"), None),
            ("-Jops@jump1:2222", Some("ops@jump1:2222"), None),
            ("-o ProxyJump=jump1,jump2", Some("jump1,jump2"), None),
            ("-oProxyJump=jump1", Some("jump1"), None),
            ("-o 'ProxyJump jump1'", Some("jump1"), None),
            (
                "-o ProxyCommand=\"ssh -W %h:%p -q ops@bastion.example\"",
                Some("ops@bastion.example"),
                None,
            ),
            (
                "-o ProxyCommand='ssh -W %h:%p -p 2200 -l ops bh'",
                Some("ops@bh:2200"),
                None,
            ),
            (
                "-o UserKnownHostsFile=/lab/known_hosts -o StrictHostKeyChecking=yes",
                None,
                Some("/lab/known_hosts"),
            ),
            ("-o UserKnownHostsFile=kh", None, Some("/inv/kh")),
        ] {
            let c = conn_of(json!({"ansible_ssh_common_args": args})).unwrap();
            assert_eq!(c.bastion(), bastion, "{args}");
            assert_eq!(
                c.known_hosts.map(|k| k.value),
                known_hosts.map(PathBuf::from),
                "{args}"
            );
        }
        let c = conn_of(json!({"ansible_ssh_extra_args": "-o ConnectTimeout=7"})).unwrap();
        assert_eq!(c.connect_timeout.map(|t| t.value), Some(7));
    }

    #[test]
    fn bad_values() {
        for (vars, expected) in [
            (
                json!({"ansible_port": 70000}),
                "invalid port 70000: ports are 1 to 65535",
            ),
            (
                json!({"ansible_port": "x"}),
                "invalid port `x`: ports are numbers from 1 to 65535",
            ),
            (
                json!({"ansible_become": "maybe"}),
                "`ansible_become` must be true or false, not `maybe`",
            ),
            (json!({"ansible_host": ""}), "`ansible_host` is empty"),
            (
                json!({"ansible_host": 3}),
                "`ansible_host` must be an address or host name, not a number",
            ),
            (
                json!({"ansible_ssh_common_args": "-J"}),
                "`-J` needs a value in `ansible_ssh_common_args`",
            ),
            (
                json!({"ansible_ssh_common_args": "-J 'a"}),
                "cannot split `ansible_ssh_common_args`: unclosed single quote",
            ),
            (
                json!({"ansible_ssh_common_args": "-J a:99999"}),
                "invalid port 99999: ports are 1 to 65535 in bastion hop `a:99999`",
            ),
        ] {
            assert_eq!(conn_of(vars.clone()), Err(expected.to_owned()), "{vars}");
        }
    }

    #[test]
    fn extra_vars_can_carry_connection_settings() {
        let extra = crate::vars::parse_extra("ansible_user=lab", 1).unwrap();
        let (c, rest, warnings) = split_conn_vars(&extra, Path::new("/")).unwrap();
        assert_eq!(c.user(), Some("lab"));
        assert_eq!(c.user.unwrap().location.to_string(), "<command line -e #1>");
        assert!(rest.is_empty() && warnings.is_empty());
    }

    #[test]
    fn jumps() {
        assert_eq!(
            parse_jumps("jump1, ops@10.0.0.1:2222,[2001:db8::1]:22").unwrap(),
            vec![
                Jump {
                    user: None,
                    host: "jump1".into(),
                    port: None
                },
                Jump {
                    user: Some("ops".into()),
                    host: "10.0.0.1".into(),
                    port: Some(2222)
                },
                Jump {
                    user: None,
                    host: "2001:db8::1".into(),
                    port: Some(22)
                },
            ]
        );
        assert!(parse_jumps("a,,b").is_err());
        assert!(parse_jumps("@h").is_err());
        assert!(parse_jumps("h:0").is_err());
    }

    #[test]
    fn overlay_replaces_set_fields_only() {
        let mut base = conn_of(json!({"ansible_user": "root", "ansible_port": 22})).unwrap();
        let over = conn_of(json!({"ansible_user": "lab"})).unwrap();
        base.overlay(&over);
        assert_eq!((base.user(), base.port()), (Some("lab"), Some(22)));
    }
}
