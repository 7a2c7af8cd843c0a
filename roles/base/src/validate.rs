//! What serde cannot check: names, paths and keys. Every value here ends up in a file or a
//! command line on the host, so anything that could change the file's structure (a newline in
//! a key) is refused with the field's path.

use rampart_core::role::ConfigError;

use crate::Config;

/// Validates the whole configuration.
pub fn config(c: &Config) -> Result<(), ConfigError> {
    for (i, p) in c.packages.iter().enumerate() {
        if !is_package(p) {
            return Err(ConfigError::at(
                format!("packages[{i}]"),
                format!("`{p}` is not a Debian package name (lower-case letters, digits, + - .)"),
            ));
        }
    }
    if !c.timezone.is_empty() && !is_timezone(&c.timezone) {
        return Err(ConfigError::at(
            "timezone",
            format!(
                "`{}` is not a tz database name (\"UTC\", \"Europe/Paris\")",
                c.timezone
            ),
        ));
    }
    if let Some(h) = &c.hostname
        && !is_hostname(h)
    {
        return Err(ConfigError::at(
            "hostname",
            format!(
                "`{h}` is not a host name: labels of letters, digits and inner hyphens, 63 characters at most, dot-separated"
            ),
        ));
    }
    let a = &c.admin;
    if !is_user(&a.name) {
        return Err(ConfigError::at(
            "admin.name",
            format!(
                "`{}` is not a user name (lower-case letter first, then letters, digits, - _)",
                a.name
            ),
        ));
    }
    if !is_abs_path(&a.shell) {
        return Err(ConfigError::at(
            "admin.shell",
            format!("`{}` is not an absolute path", a.shell),
        ));
    }
    if let Some(h) = &a.home
        && !is_abs_path(h)
    {
        return Err(ConfigError::at(
            "admin.home",
            format!("`{h}` is not an absolute path"),
        ));
    }
    for (i, g) in a.groups.iter().enumerate() {
        if !is_user(g) {
            return Err(ConfigError::at(
                format!("admin.groups[{i}]"),
                format!("`{g}` is not a group name"),
            ));
        }
    }
    for (i, k) in a.authorized_keys.iter().enumerate() {
        if k.contains(['\n', '\r', '\0']) {
            return Err(ConfigError::at(
                format!("admin.authorized_keys[{i}]"),
                "one key per entry: a key is one line",
            ));
        }
        if key_blob(k).is_none() {
            return Err(ConfigError::at(
                format!("admin.authorized_keys[{i}]"),
                format!(
                    "`{}` is not an OpenSSH public key (\"ssh-ed25519 AAAA... comment\")",
                    describe_key(k)
                ),
            ));
        }
    }
    Ok(())
}

fn is_package(p: &str) -> bool {
    let (name, arch) = p.split_once(':').unwrap_or((p, "x"));
    let mut chars = name.chars();
    name.len() >= 2
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c))
        && !arch.is_empty()
        && arch
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_timezone(t: &str) -> bool {
    !t.starts_with('/')
        && t.split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c))
}

fn is_hostname(h: &str) -> bool {
    h.len() <= 253
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn is_user(u: &str) -> bool {
    let mut chars = u.chars();
    u.len() <= 32
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn is_abs_path(p: &str) -> bool {
    p.starts_with('/') && !p.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Key types sshd accepts in authorized_keys.
const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-dss",
];

/// The base64 key blob of an authorized_keys line (options allowed before the type), or
/// `None` when the line is not a key.
pub fn key_blob(line: &str) -> Option<&str> {
    let t = line.trim();
    if t.starts_with('#') {
        return None;
    }
    let words: Vec<&str> = t.split_whitespace().collect();
    let at = words.iter().position(|w| KEY_TYPES.contains(w))?;
    let blob = words.get(at + 1)?;
    let b64 = blob.len() >= 16
        && blob
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c));
    b64.then_some(*blob)
}

/// A short, safe description of a key for messages: type, blob tail and comment.
pub fn describe_key(line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.iter().position(|w| KEY_TYPES.contains(w)) {
        Some(at) => {
            let blob = words.get(at + 1).copied().unwrap_or_default();
            let tail: String = blob
                .chars()
                .rev()
                .take(8)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            let comment = words.get(at + 2..).map(|c| c.join(" ")).unwrap_or_default();
            format!("{} ...{tail} {comment}", words[at])
                .trim_end()
                .to_owned()
        }
        None => line.chars().take(24).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(
            is_package("curl")
                && is_package("libc6:amd64")
                && is_package("g++")
                && !is_package("Curl")
                && !is_package("a b")
        );
        assert!(!is_package("curl=7.88"));
        assert!(
            is_timezone("UTC")
                && is_timezone("America/Argentina/Buenos_Aires")
                && is_timezone("Etc/GMT+3")
        );
        assert!(
            !is_timezone("../etc/passwd") && !is_timezone("/UTC") && !is_timezone("Europe//Paris")
        );
        assert!(is_hostname("fleetclaw-prod") && is_hostname("web1.example.com"));
        assert!(
            !is_hostname("-x") && !is_hostname("a_b") && !is_hostname("a..b") && !is_hostname("x.")
        );
        assert!(is_user("fleetclaw") && !is_user("Fleet") && !is_user("1x"));
    }

    #[test]
    fn keys() {
        let k = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBk0Yc4UQdCszPZUTJMbA6vNshSc2Xb7nWE9Aw4Xb5Kd me@laptop";
        assert_eq!(
            key_blob(k),
            Some("AAAAC3NzaC1lZDI1NTE5AAAAIBk0Yc4UQdCszPZUTJMbA6vNshSc2Xb7nWE9Aw4Xb5Kd")
        );
        assert!(key_blob(&format!("from=\"10.0.0.0/8\" {k}")).is_some());
        assert_eq!(key_blob("# ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA"), None);
        assert_eq!(key_blob("ssh-ed25519"), None);
        assert_eq!(describe_key(k), "ssh-ed25519 ...Aw4Xb5Kd me@laptop");
    }
}
