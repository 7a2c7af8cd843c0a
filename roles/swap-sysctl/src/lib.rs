//! The `swap-sysctl` role: the seed's swap file and kernel parameters (fleetclaw's "OVH
//! specific notes").
//!
//! - A swap file (4 GiB by default): allocated, 0600 root, formatted, enabled, and listed in
//!   /etc/fstab exactly once. The seed's `echo ... | tee -a /etc/fstab` appends a duplicate
//!   line on every run; core's `Swapfile::with_fstab` keeps one line and removes duplicates.
//!   Inside a container the kernel refuses `swapon`: the file and the fstab line are still
//!   managed and enabling is skipped with a reason (the resource decides from the facts).
//! - /etc/sysctl.d/99-fleetclaw.conf with the seed's four parameters, also applied live (the
//!   seed's `sysctl -p` step), each compared and set on its own, so drift of one value is
//!   reported and repaired without touching the others.

use std::collections::BTreeMap;
use std::fmt;

use rampart_core::facts::FactRequest;
use rampart_core::resource::{Content, Resource, Swapfile, Sysctl};
use rampart_core::role::{
    ConfigError, Configured, HostContext, Role, RoleError, RolePlan, TypedRole,
};
use rampart_core::verify::{Check, Expect, FactQuery, check_command};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// The file systemd-sysctl reads after every `99-*.conf` drop-in named before `99-sysctl.conf`
/// (Debian and Ubuntu link it as /etc/sysctl.d/99-sysctl.conf).
const SYSCTL_CONF: &str = "/etc/sysctl.conf";
/// The comment at the top of the drop-in.
const HEADER: &str = "Managed by rampart (role swap-sysctl): local changes are overwritten.";

/// A size in MiB, written `"4G"`, `"512M"` or as a number of MiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    mib: u64,
}

impl Size {
    /// This many MiB.
    pub fn mib(mib: u64) -> Self {
        Size { mib }
    }

    /// The size in MiB.
    pub fn get(self) -> u64 {
        self.mib
    }

    fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let bad =
            || format!("invalid size `{s}`: write a number of MiB or GiB, like \"4G\" or \"512M\"");
        let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
        let n: u64 = num.parse().map_err(|_| bad())?;
        let mib = match unit.trim() {
            "" | "M" | "MiB" | "m" => n,
            "G" | "GiB" | "g" => n.checked_mul(1024).ok_or_else(bad)?,
            _ => return Err(bad()),
        };
        Size::checked(mib)
    }

    fn checked(mib: u64) -> Result<Self, String> {
        // mkswap needs at least 40 KiB; below 16 MiB a swap file is a mistake, above 1 TiB a typo.
        if (16..=1 << 20).contains(&mib) {
            Ok(Size { mib })
        } else {
            Err(format!(
                "invalid swap size {mib} MiB: it must be 16M to 1024G"
            ))
        }
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mib.is_multiple_of(1024) {
            write!(f, "{}G", self.mib / 1024)
        } else {
            write!(f, "{}M", self.mib)
        }
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size like \"4G\" or \"512M\", or a number of MiB")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Size, E> {
                Size::checked(n).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Size, E> {
                Size::checked(u64::try_from(n).map_err(|_| E::custom("a size cannot be negative"))?)
                    .map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Size, E> {
                Size::parse(s).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A sysctl value: a number or a string (`"4096 131072 6291456"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysctlValue(String);

impl SysctlValue {
    /// The value as written to /proc/sys.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Serialize for SysctlValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.parse::<i64>() {
            Ok(n) if n.to_string() == self.0 => s.serialize_i64(n),
            _ => s.serialize_str(&self.0),
        }
    }
}

impl<'de> Deserialize<'de> for SysctlValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SysctlValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<SysctlValue, E> {
                Ok(SysctlValue(n.to_string()))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<SysctlValue, E> {
                Ok(SysctlValue(n.to_string()))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<SysctlValue, E> {
                if s.contains(['\n', '\r']) {
                    return Err(E::custom(format!(
                        "invalid sysctl value {s:?}: use printable ASCII on one line"
                    )));
                }
                let v = s.split_whitespace().collect::<Vec<_>>().join(" ");
                if v.is_empty() || !v.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
                    return Err(E::custom(format!(
                        "invalid sysctl value {s:?}: use printable ASCII on one line"
                    )));
                }
                Ok(SysctlValue(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// The role's settings. Defaults are the seed's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Manage a swap file.
    pub swap: bool,
    /// Its path.
    pub swapfile: String,
    /// Its size (`"4G"`: the seed's "light use, ~20 concurrent agents"; `"8G"` for all 64).
    pub swap_size: Size,
    /// The drop-in holding the parameters.
    pub sysctl_file: String,
    /// Kernel parameters, written to `sysctl_file` and applied live. Setting this replaces the
    /// whole default set.
    pub sysctls: BTreeMap<String, SysctlValue>,
}

impl Default for Config {
    fn default() -> Self {
        let sysctls = [
            ("vm.swappiness", "10"),
            ("net.core.somaxconn", "1024"),
            ("net.ipv4.tcp_max_syn_backlog", "1024"),
            ("fs.file-max", "100000"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), SysctlValue(v.to_owned())))
        .collect();
        Config {
            swap: true,
            swapfile: "/swapfile".into(),
            swap_size: Size::mib(4096),
            sysctl_file: "/etc/sysctl.d/99-fleetclaw.conf".into(),
            sysctls,
        }
    }
}

/// The role, for the registry.
pub fn role() -> Box<dyn Role> {
    TypedRole::<Config>::new(
        "swap-sysctl",
        "swap file (one fstab line) and the seed's kernel parameters, persisted and live",
    )
    .validated(Config::validate)
    .builtin_checks(controls::builtin)
    .boxed()
}

/// A path that is safe in /etc/fstab (no whitespace) and in shell code.
fn plain_path(p: &str) -> bool {
    p.starts_with('/')
        && p.len() > 1
        && !p.ends_with('/')
        && !p.contains("//")
        && !p.split('/').any(|s| s == "..")
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b))
}

fn valid_key(k: &str) -> bool {
    let parts: Vec<&str> = k.split('.').collect();
    parts.len() >= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b))
        })
}

impl Config {
    /// Checks paths and keys.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !plain_path(&self.swapfile)
            || self.swapfile.starts_with("/proc/")
            || self.swapfile.starts_with("/dev/")
        {
            return Err(ConfigError::at(
                "swapfile",
                format!(
                    "invalid swap file path `{}`: an absolute file path of letters, digits and /._-",
                    self.swapfile
                ),
            ));
        }
        if !plain_path(&self.sysctl_file)
            || !self.sysctl_file.starts_with("/etc/sysctl.d/")
            || !self.sysctl_file.ends_with(".conf")
        {
            return Err(ConfigError::at(
                "sysctl_file",
                format!(
                    "invalid sysctl file `{}`: systemd-sysctl reads /etc/sysctl.d/*.conf",
                    self.sysctl_file
                ),
            ));
        }
        for k in self.sysctls.keys() {
            if !valid_key(k) {
                return Err(ConfigError::at(
                    format!("sysctls.{k}"),
                    format!("invalid kernel parameter `{k}`: dotted names like `vm.swappiness`"),
                ));
            }
        }
        Ok(())
    }

    fn entries(&self) -> Vec<(String, String)> {
        self.sysctls
            .iter()
            .map(|(k, v)| (k.clone(), v.0.clone()))
            .collect()
    }

    fn resources(&self) -> Vec<Resource> {
        let mut out = Vec::new();
        if self.swap {
            out.extend(Swapfile::with_fstab(&self.swapfile, self.swap_size.get()));
        }
        if !self.sysctls.is_empty() {
            out.extend(Sysctl::persisted(
                &self.sysctl_file,
                HEADER,
                &self.entries(),
            ));
        }
        out
    }
}

/// The last value /etc/sysctl.conf gives a key, if any.
fn sysctl_conf_value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with(';'))
        .filter_map(|l| l.trim_start_matches('-').split_once('='))
        .filter(|(k, _)| k.trim().replace('/', ".") == key)
        .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .next_back()
}

impl Configured for Config {
    fn facts(&self, req: &mut FactRequest) {
        for r in self.resources() {
            r.facts(req);
        }
        if !self.sysctls.is_empty() {
            req.file(SYSCTL_CONF);
        }
    }

    fn plan(&self, ctx: &HostContext<'_>) -> Result<RolePlan, RoleError> {
        // /etc/sysctl.conf is read at boot after every 99-*.conf sorting before "99-sysctl":
        // a different value there would silently win at the next boot.
        if let Some(text) = ctx.facts.files.get(SYSCTL_CONF).and_then(|f| f.text()) {
            for (k, v) in &self.sysctls {
                if let Some(other) = sysctl_conf_value(text, k) {
                    let base = self.sysctl_file.rsplit('/').next().unwrap_or_default();
                    if base < "99-sysctl.conf" && other != v.0 {
                        return Err(RoleError(format!(
                            "swap-sysctl: {SYSCTL_CONF} sets {k} = {other}, and at boot it is read after {} (which sets {}), so \
                             the setting would not survive a reboot. Fix: remove {k} from {SYSCTL_CONF}, or set the same value",
                            self.sysctl_file, v.0
                        )));
                    }
                }
            }
        }
        Ok(RolePlan {
            resources: self.resources(),
            handlers: Vec::new(),
        })
    }

    fn checks(&self) -> Vec<Check> {
        let mut out = Vec::new();
        if self.swap {
            let p = self.swapfile.as_str();
            // All three from facts the role's own resources gather anyway (the file's stat,
            // /etc/fstab, /proc/swaps): no command.
            out.push(Check::from_fact(
                "swap.file",
                &format!(
                    "{} is a {} swap file, mode 0600, owned by root",
                    self.swapfile, self.swap_size
                ),
                &check_command("stat -c '%a %U %s' \"$2\"\n", &[p]),
                FactQuery::Stat {
                    paths: vec![p.to_owned()],
                    format: "%a %U %s".into(),
                },
                Expect::Equals(format!("600 root {}", self.swap_size.get() * 1024 * 1024)),
            ));
            out.push(Check::from_fact(
                "swap.fstab",
                &format!("/etc/fstab lists {} exactly once", self.swapfile),
                &check_command("awk -v p=\"$2\" '$1 == p' /etc/fstab\n", &[p]),
                FactQuery::FileLines {
                    path: "/etc/fstab".into(),
                    prefixes: vec![format!("{p} "), format!("{p}\t")],
                },
                Expect::Equals(format!("{} none swap sw 0 0", self.swapfile)),
            ));
            out.push(Check::from_fact(
                "swap.active",
                &format!("{} is in use as swap", self.swapfile),
                &check_command(controls::SWAP_FILE_ACTIVE, &[p]),
                FactQuery::SwapFileActive(p.to_owned()),
                Expect::Line("ok".into()),
            ));
        }
        for (k, v) in &self.sysctls {
            // From the sysctl fact the role's own resources gather anyway: no command. In a
            // container a key outside net.* passes as the machine's (persisted only).
            out.push(Check::from_fact(
                &format!("sysctl.{k}"),
                &format!("kernel parameter {k} is {}", v.0),
                &check_command(controls::SYSCTL_IS, &[k, &v.0]),
                FactQuery::SysctlIs {
                    key: k.clone(),
                    want: v.0.clone(),
                },
                Expect::Line("ok".into()),
            ));
        }
        let persisted = self.resources().into_iter().find_map(|r| match r {
            Resource::File(f) if f.path == self.sysctl_file => match f.content {
                Some(Content::Text(t)) => Some(t),
                _ => None,
            },
            _ => None,
        });
        if let Some(text) = persisted {
            out.push(Check::from_fact(
                "sysctl.persisted",
                &format!(
                    "{} persists the parameters across reboots",
                    self.sysctl_file
                ),
                &check_command("cat \"$2\"\n", &[&self.sysctl_file]),
                FactQuery::FileContent(self.sysctl_file.clone()),
                Expect::Equals(text),
            ));
        }
        out
    }
}

pub mod controls;

#[cfg(test)]
mod tests;
