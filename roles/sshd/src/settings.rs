//! The directives the role writes, in order, with what `sshd -T` must print for each.
//!
//! One list is the single source for the drop-in's content, the lockout check, the verify
//! checks and the "something overrides us" diagnosis, so the four can never disagree.

use std::collections::BTreeMap;

use rampart_core::role::ConfigError;
use serde::{Deserialize, Serialize};

use crate::Config;

/// `PermitRootLogin`'s values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PermitRootLogin {
    /// Root cannot log in at all (the seed).
    No,
    /// Root logs in with a key only.
    ProhibitPassword,
    /// Root logs in only with keys that carry a `command=` option.
    ForcedCommandsOnly,
    /// Root logs in with anything.
    Yes,
}

impl PermitRootLogin {
    /// The word written to sshd_config.
    pub fn word(self) -> &'static str {
        match self {
            PermitRootLogin::No => "no",
            PermitRootLogin::ProhibitPassword => "prohibit-password",
            PermitRootLogin::ForcedCommandsOnly => "forced-commands-only",
            PermitRootLogin::Yes => "yes",
        }
    }

    /// The word `sshd -T` prints: it shows `prohibit-password` by its older alias.
    pub fn effective(self) -> &'static str {
        match self {
            PermitRootLogin::ProhibitPassword => "without-password",
            other => other.word(),
        }
    }
}

/// One directive of the drop-in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Setting {
    /// The keyword as written ("PermitRootLogin").
    pub key: String,
    /// The value as written ("no", "fleetclaw ubuntu").
    pub value: String,
    /// What `sshd -T` prints for it (lower-case keyword, value), when rampart knows how sshd
    /// normalises it. `None` for `extra` directives: their effective form is not checked.
    #[serde(skip)]
    pub effective: Option<(String, String)>,
    /// Why it is there, for the verify check's title.
    #[serde(skip)]
    pub title: String,
}

impl Setting {
    fn new(key: &str, value: impl Into<String>, title: &str) -> Self {
        let value = value.into();
        Setting {
            key: key.to_owned(),
            effective: Some((key.to_ascii_lowercase(), value.clone())),
            value,
            title: title.to_owned(),
        }
    }

    /// The lower-case keyword.
    pub fn lkey(&self) -> String {
        self.key.to_ascii_lowercase()
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// The strict profile: idle sessions are dropped, every kind of forwarding is off, logins are
/// logged with key fingerprints, and unauthenticated connection floods are shed early.
const STRICT: &[(&str, &str, &str)] = &[
    (
        "ClientAliveInterval",
        "300",
        "idle sessions are probed every 5 minutes",
    ),
    (
        "ClientAliveCountMax",
        "2",
        "unresponsive sessions are dropped after 2 probes",
    ),
    ("AllowTcpForwarding", "no", "SSH TCP forwarding is off"),
    ("AllowAgentForwarding", "no", "SSH agent forwarding is off"),
    (
        "AllowStreamLocalForwarding",
        "no",
        "SSH unix-socket forwarding is off",
    ),
    (
        "GatewayPorts",
        "no",
        "forwarded ports never bind to public addresses",
    ),
    ("PermitTunnel", "no", "SSH tun/tap tunnels are off"),
    (
        "PermitUserEnvironment",
        "no",
        "users cannot set sshd's environment",
    ),
    (
        "LogLevel",
        "VERBOSE",
        "logins are logged with the key fingerprint",
    ),
    (
        "MaxStartups",
        "10:30:60",
        "unauthenticated connection floods are shed",
    ),
];

/// Keywords `extra` may not set: they change the file's structure, not a value.
const STRUCTURAL: &[&str] = &["match", "include"];

impl Config {
    /// Every directive of the drop-in, in the order written. `extra` entries replace a
    /// directive with the same keyword (case-insensitively) in place, or are appended.
    pub fn settings(&self) -> Vec<Setting> {
        let mut s = vec![
            Setting {
                effective: Some((
                    "permitrootlogin".into(),
                    self.permit_root_login.effective().into(),
                )),
                ..Setting::new(
                    "PermitRootLogin",
                    self.permit_root_login.word(),
                    match self.permit_root_login {
                        PermitRootLogin::No => "root cannot log in over SSH",
                        PermitRootLogin::ProhibitPassword => {
                            "root logs in over SSH with a key only"
                        }
                        PermitRootLogin::ForcedCommandsOnly => {
                            "root logs in over SSH only for forced commands"
                        }
                        PermitRootLogin::Yes => "root may log in over SSH",
                    },
                )
            },
            Setting::new(
                "PasswordAuthentication",
                yes_no(self.password_authentication),
                if self.password_authentication {
                    "SSH accepts passwords"
                } else {
                    "SSH refuses passwords"
                },
            ),
            Setting::new(
                "PubkeyAuthentication",
                yes_no(self.pubkey_authentication),
                "SSH accepts keys",
            ),
            Setting::new(
                "KbdInteractiveAuthentication",
                yes_no(self.kbd_interactive_authentication),
                "SSH refuses keyboard-interactive (PAM password) logins",
            ),
        ];
        if !self.allow_users.is_empty() {
            // sshd prints one `allowusers` line per user; the check compares the sorted set.
            let mut st = Setting::new(
                "AllowUsers",
                self.allow_users.join(" "),
                "only the listed users may log in over SSH",
            );
            st.effective = None;
            s.push(st);
        }
        if !self.allow_groups.is_empty() {
            let mut st = Setting::new(
                "AllowGroups",
                self.allow_groups.join(" "),
                "only the listed groups may log in over SSH",
            );
            st.effective = None;
            s.push(st);
        }
        s.extend([
            Setting::new(
                "PermitEmptyPasswords",
                yes_no(self.permit_empty_passwords),
                "accounts with empty passwords cannot log in",
            ),
            Setting::new(
                "X11Forwarding",
                yes_no(self.x11_forwarding),
                "X11 forwarding is off",
            ),
            Setting::new(
                "LoginGraceTime",
                self.login_grace_time.to_string(),
                "unauthenticated connections are dropped quickly",
            ),
            Setting::new(
                "MaxAuthTries",
                self.max_auth_tries.to_string(),
                "few authentication attempts per connection",
            ),
        ]);
        // sshd adds up Port lines (it listens on all of them): checked as a whole, like
        // AllowUsers, so no single line has an effective form of its own.
        for p in std::iter::once(self.port()).chain(self.extra_ports.iter().map(|p| p.get())) {
            let mut port = Setting::new(
                "Port",
                p.to_string(),
                "sshd listens on the configured ports",
            );
            port.effective = None;
            s.push(port);
        }
        if self.strict {
            s.extend(STRICT.iter().map(|(k, v, t)| Setting::new(k, *v, t)));
        }
        for (key, value) in &self.extra {
            let lkey = key.to_ascii_lowercase();
            let new = Setting {
                key: key.clone(),
                value: value.trim().to_owned(),
                effective: None,
                title: String::new(),
            };
            match s.iter_mut().find(|x| x.lkey() == lkey) {
                Some(existing) => {
                    *existing = Setting {
                        title: existing.title.clone(),
                        ..new
                    }
                }
                None => s.push(new),
            }
        }
        s
    }

    /// The final value of a keyword (lower-case), after `extra`: the values of every line
    /// with that keyword, space-separated (`Port` may repeat).
    pub fn final_value(settings: &[Setting], lkey: &str) -> Option<String> {
        let all: Vec<&str> = settings
            .iter()
            .filter(|s| s.lkey() == lkey)
            .map(|s| s.value.as_str())
            .collect();
        (!all.is_empty()).then(|| all.join(" "))
    }

    /// Checks what serde cannot: names, numbers and the `extra` directives.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (i, u) in self.allow_users.iter().enumerate() {
            check_word(u)
                .map_err(|m| ConfigError::at(format!("allow_users[{i}]"), format!("`{u}`: {m}")))?;
        }
        for (i, g) in self.allow_groups.iter().enumerate() {
            check_word(g).map_err(|m| {
                ConfigError::at(format!("allow_groups[{i}]"), format!("`{g}`: {m}"))
            })?;
        }
        if self.max_auth_tries == 0 {
            return Err(ConfigError::at(
                "max_auth_tries",
                "0 would refuse every login; the seed uses 3",
            ));
        }
        validate_extra(&self.extra)
    }
}

fn validate_extra(extra: &BTreeMap<String, String>) -> Result<(), ConfigError> {
    for (key, value) in extra {
        let path = format!("extra.{key}");
        let mut chars = key.chars();
        let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric());
        if !ok {
            return Err(ConfigError::at(
                &path,
                "an sshd keyword is letters and digits (\"ClientAliveInterval\")",
            ));
        }
        if STRUCTURAL.contains(&key.to_ascii_lowercase().as_str()) {
            return Err(ConfigError::at(
                &path,
                "Match and Include change the file's structure; put them in sshd_config or your own drop-in",
            ));
        }
        if value.trim().is_empty() || value.contains(['\n', '\r', '\0']) {
            return Err(ConfigError::at(
                &path,
                "the value must be one non-empty line",
            ));
        }
    }
    Ok(())
}

fn check_word(w: &str) -> Result<(), &'static str> {
    if w.is_empty()
        || w.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"')
    {
        Err("names and patterns are non-empty, without spaces or quotes")
    } else {
        Ok(())
    }
}
