//! What a resource wants done: [`Change`], and the pieces an [`Apply`] carries.
//!
//! **Invariant:** a `Change` is computed purely from desired state and observed facts. It holds
//! shell code to run, but running it is the engine's business.

use serde::Serialize;

use crate::shell::Script;

/// The verdict of planning one resource against a host's facts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// The host already is as desired.
    Noop {
        /// Why nothing needs doing, for `-v` output ("content matches", "package installed").
        why: String,
    },
    /// The host differs; these steps converge it.
    Apply(Apply),
}

impl Change {
    /// A no-op with a reason.
    pub fn noop(why: impl Into<String>) -> Self {
        Change::Noop { why: why.into() }
    }

    /// True when something would change.
    pub fn is_apply(&self) -> bool {
        matches!(self, Change::Apply(_))
    }
}

/// A change to make: what it is, what it looks like, how to do it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Apply {
    /// One line for the recap ("write /etc/ssh/sshd_config.d/00-rampart.conf").
    pub summary: String,
    /// What changes, for `check --diff`.
    pub diff: Diff,
    /// Shell code that converges the resource. It runs as root under `set -e` in a subshell
    /// with stdin at EOF; it must check the facts it relies on right before acting.
    #[serde(skip)]
    pub script: Script,
    /// Handlers to run once at the end of the role when this change was made.
    pub notify: Vec<String>,
    /// How dangerous the change is to the operator's own access.
    pub risk: Risk,
    /// Paths the change may write, for the dead-man switch's snapshot.
    pub touches: Vec<String>,
}

/// How a change is shown to the operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Diff {
    /// The summary says it all.
    None,
    /// A text file; rendered as a unified diff.
    Text {
        /// The path shown in the diff header.
        path: String,
        /// The current content, `None` when the file does not exist.
        before: Option<String>,
        /// The desired content.
        after: String,
    },
    /// The content holds a secret: only the fact that it changes is shown.
    Redacted {
        /// The path whose content changes.
        path: String,
    },
    /// Attribute changes (mode, owner, state, value).
    Attrs(Vec<AttrChange>),
}

impl Diff {
    /// Renders the diff for a terminal or a report: unified for text, `name: a -> b` otherwise.
    pub fn render(&self) -> String {
        match self {
            Diff::None => String::new(),
            Diff::Redacted { path } => {
                format!("--- {path}\n+++ {path}\n(content holds secrets: diff redacted)\n")
            }
            Diff::Text {
                path,
                before,
                after,
            } => {
                let old = before.as_deref().unwrap_or("");
                let diff = similar::TextDiff::from_lines(old, after.as_str());
                let from = if before.is_some() {
                    format!("{path} (host)")
                } else {
                    "/dev/null".to_owned()
                };
                let text = diff
                    .unified_diff()
                    .context_radius(3)
                    .header(&from, &format!("{path} (rampart)"))
                    .to_string();
                mask_credential_lines(&text)
            }
            Diff::Attrs(attrs) => attrs
                .iter()
                .map(|a| format!("{}: {} -> {}\n", a.name, a.before, a.after))
                .collect(),
        }
    }
}

/// Keys whose value is a credential in the config files rampart diffs (redis.conf, INI and
/// env files): such a line shows its key and `<redacted>`. The host's side of a diff holds
/// values the run's redactor cannot know (an old `requirepass`), so they are masked by form.
const CREDENTIAL_KEYS: &[&str] = &[
    "requirepass",
    "masterauth",
    "password",
    "passwd",
    "pass",
    "secret",
    "token",
    "api_key",
    "apikey",
    "client_secret",
    "auth_pass",
    "private_key",
];

/// Masks credential values in the lines of a unified diff (context, removed and added lines
/// alike): `requirepass X`, `password = X`, `TOKEN: X`, and the `>password` / `#hash` of a
/// Redis ACL `user` line.
pub fn mask_credential_lines(diff: &str) -> String {
    let mut out = String::with_capacity(diff.len());
    for line in diff.split_inclusive('\n') {
        let header = line.starts_with("---") || line.starts_with("+++") || line.starts_with("@@");
        match line.chars().next() {
            Some(mark @ (' ' | '-' | '+')) if !header => {
                out.push(mark);
                out.push_str(&mask_credential(&line[1..]));
            }
            _ => out.push_str(line),
        }
    }
    out
}

fn mask_credential(line: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    let body = line.trim_start();
    let indent = &line[..line.len() - body.len()];
    let nl = if body.ends_with('\n') { "\n" } else { "" };
    let body = body.trim_end_matches('\n');
    // A Redis ACL user: `user NAME on >plaintext #sha256 ~keys +@cmds`.
    if body.starts_with("user ") && body.split_whitespace().any(|w| w.starts_with('>')) {
        let masked = format!(">{}", crate::secret::REDACTED);
        let words: Vec<&str> = body
            .split_whitespace()
            .map(|w| {
                if w.starts_with('>') {
                    masked.as_str()
                } else {
                    w
                }
            })
            .collect();
        return Cow::Owned(format!("{indent}{}{nl}", words.join(" ")));
    }
    let end = body
        .find(|c: char| c.is_whitespace() || c == '=' || c == ':')
        .unwrap_or(body.len());
    let key = body[..end].trim_matches(|c| c == '"' || c == '\'');
    let rest = &body[end..];
    let value = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '=' || c == ':');
    if value.is_empty() || !CREDENTIAL_KEYS.contains(&key.to_ascii_lowercase().as_str()) {
        return Cow::Borrowed(line);
    }
    let sep = &rest[..rest.len() - value.len()];
    Cow::Owned(format!(
        "{indent}{}{sep}{}{nl}",
        &body[..end],
        crate::secret::REDACTED
    ))
}

/// One attribute that changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AttrChange {
    /// Attribute name ("mode", "state", "value").
    pub name: String,
    /// Current value, or "(absent)".
    pub before: String,
    /// Desired value.
    pub after: String,
}

impl AttrChange {
    /// An attribute change from displayable values.
    pub fn new(name: &str, before: impl std::fmt::Display, after: impl std::fmt::Display) -> Self {
        AttrChange {
            name: name.to_owned(),
            before: before.to_string(),
            after: after.to_string(),
        }
    }
}

/// How much a change can hurt the operator's own way into the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    /// Ordinary configuration: no service restart, no access path touched.
    Low,
    /// Restarts or reloads a service the operator does not reach the host through.
    Service,
    /// Touches the operator's way in (sshd, the firewall, sudoers): guarded by the preflight
    /// check and the dead-man switch.
    Access,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_side_credentials_in_diff_context_are_masked() {
        let before = "port 6379\nrequirepass HOSTSIDE-old-pw\nmasterauth=HOSTSIDE-m\nuser app on >HOSTSIDE-acl ~* +@all\nPasswordAuthentication no\nbind 127.0.0.1\n";
        let after = "port 6380\nrequirepass HOSTSIDE-old-pw\nmasterauth=HOSTSIDE-m\nuser app on >HOSTSIDE-acl ~* +@all\nPasswordAuthentication no\nbind 127.0.0.1\n";
        let d = Diff::Text {
            path: "/etc/redis/redis.conf".into(),
            before: Some(before.into()),
            after: after.into(),
        }
        .render();
        assert!(!d.contains("HOSTSIDE"), "{d}");
        assert!(d.contains(" requirepass <redacted>\n"), "{d}");
        assert!(d.contains(" masterauth=<redacted>\n"), "{d}");
        assert!(d.contains(" user app on ><redacted> ~* +@all\n"), "{d}");
        assert!(d.contains("-port 6379\n+port 6380\n"), "{d}");
        for plain in [
            "PasswordAuthentication no",
            "passwords_dir /x",
            "token",
            "# password: see vault",
        ] {
            assert_eq!(mask_credential(plain), plain);
        }
    }

    #[test]
    fn text_diff_is_unified() {
        let d = Diff::Text {
            path: "/etc/x".into(),
            before: Some("a\nb\n".into()),
            after: "a\nc\n".into(),
        };
        let r = d.render();
        assert!(r.contains("--- /etc/x (host)"), "{r}");
        assert!(r.contains("-b\n+c\n"), "{r}");
    }

    #[test]
    fn new_file_diffs_against_dev_null() {
        let d = Diff::Text {
            path: "/etc/x".into(),
            before: None,
            after: "a\n".into(),
        };
        assert!(d.render().starts_with("--- /dev/null"));
    }
}
