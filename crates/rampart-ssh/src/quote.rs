//! Shell quoting and the few shell scripts this crate sends: `sudo` wrapping, the atomic
//! put-file script and the fetch command.
//!
//! **Invariant:** every value that ends up in a remote command line passes through
//! [`shell_quote`]. Secrets never do: callers stream them on stdin.

use crate::error::SshError;

/// Quotes `s` for a POSIX shell as one word. Words made only of characters that are never
/// special are returned as they are, everything else is wrapped in single quotes, with each
/// `'` written as `'\''`.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./:=@%+,".contains(&b));
    if plain {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// The command line to send: as is when no privilege change is needed, else wrapped so that
/// `sudo` runs it through `sh -c` without asking for a password (`-n`: a prompt would hang the
/// channel; sudo fails fast with "a password is required" instead).
pub fn become_command(command: &str, remote_user: &str, become_root: bool) -> String {
    if become_root && remote_user != "root" {
        format!("sudo -n -- sh -c {}", shell_quote(command))
    } else {
        command.to_owned()
    }
}

/// The one-line script that writes stdin to `path` atomically: a temp file in the same
/// directory (so `mv` is a rename), mode and owner set before the rename, and the temp file
/// removed on any failure so the target is never half-written.
pub fn put_file_script(
    path: &str,
    mode: u32,
    owner: Option<&str>,
    group: Option<&str>,
) -> Result<String, SshError> {
    let (dir, base) = split_path(path)?;
    let temp = format!("{dir}/.{base}.rampart.XXXXXX");
    let qpath = shell_quote(path);
    let mut s = format!(
        "umask 077; if [ -d {qpath} ]; then echo {msg} >&2; exit 1; fi; \
         t=$(mktemp {temp}) && cat > \"$t\" && chmod {mode:o} \"$t\"",
        msg = shell_quote(&format!("{path} is a directory")),
        temp = shell_quote(&temp),
        mode = mode & 0o7777,
    );
    match (owner, group) {
        (Some(o), Some(g)) => s.push_str(&format!(
            " && chown {} \"$t\"",
            shell_quote(&format!("{o}:{g}"))
        )),
        (Some(o), None) => s.push_str(&format!(" && chown {} \"$t\"", shell_quote(o))),
        (None, Some(g)) => s.push_str(&format!(" && chgrp {} \"$t\"", shell_quote(g))),
        (None, None) => {}
    }
    s.push_str(&format!(
        " && mv -f \"$t\" {qpath} || {{ rm -f \"$t\"; exit 1; }}"
    ));
    Ok(s)
}

/// `cat -- <path>`, quoted.
pub fn fetch_file_command(path: &str) -> String {
    format!("cat -- {}", shell_quote(path))
}

/// The first line of a command, at most 80 characters, for error messages and logs.
pub fn summarize(command: &str) -> String {
    let first = command.lines().next().unwrap_or("");
    let mut s: String = first.chars().take(80).collect();
    if s.len() < first.len() || command.lines().nth(1).is_some() {
        s.push('…');
    }
    s
}

fn split_path(path: &str) -> Result<(&str, &str), SshError> {
    let bad = |why: &str| {
        SshError::config(
            format!("cannot write remote file `{path}`: {why}"),
            Some("give an absolute path to a file, e.g. /etc/ssh/sshd_config.d/50-rampart.conf"),
        )
    };
    if path.is_empty() || path.ends_with('/') {
        return Err(bad("it names a directory"));
    }
    if path.contains('\0') || path.contains('\n') {
        return Err(bad("it contains a NUL or newline"));
    }
    match path.rfind('/') {
        Some(0) => Ok(("", &path[1..])),
        Some(i) => Ok((&path[..i], &path[i + 1..])),
        None => Ok((".", path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(shell_quote("abc-1.2/x:y"), "abc-1.2/x:y");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(shell_quote("a\nb"), "'a\nb'");
        assert_eq!(shell_quote("*"), "'*'");
    }

    #[test]
    fn quoting_survives_a_real_shell() {
        for s in [
            "it's",
            "a b  c",
            "$HOME `id` \\ \"q\"",
            "'",
            "''",
            "x'y'z",
            "ünï",
        ] {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf %s {}", shell_quote(s)))
                .output()
                .expect("sh runs");
            assert_eq!(String::from_utf8_lossy(&out.stdout), s);
        }
    }

    #[test]
    fn become_wraps_only_non_root() {
        assert_eq!(become_command("id -u", "root", true), "id -u");
        assert_eq!(become_command("id -u", "admin", false), "id -u");
        assert_eq!(
            become_command("echo 'x'", "admin", true),
            "sudo -n -- sh -c 'echo '\\''x'\\'''"
        );
    }

    #[test]
    fn put_script_is_atomic_and_quoted() {
        let s = put_file_script("/etc/my file", 0o640, Some("root"), Some("adm")).unwrap();
        assert!(s.starts_with("umask 077; if [ -d '/etc/my file' ]"), "{s}");
        assert!(
            s.contains("t=$(mktemp '/etc/.my file.rampart.XXXXXX')"),
            "{s}"
        );
        assert!(
            s.contains("chmod 640 \"$t\" && chown root:adm \"$t\" && mv -f \"$t\" '/etc/my file'"),
            "{s}"
        );
        assert!(s.ends_with("|| { rm -f \"$t\"; exit 1; }"), "{s}");
        let root = put_file_script("/x", 0o600, None, Some("g")).unwrap();
        assert!(
            root.contains("mktemp /.x.rampart.XXXXXX") && root.contains("chgrp g"),
            "{root}"
        );
        assert!(put_file_script("/etc/", 0o600, None, None).is_err());
        assert!(put_file_script("", 0o600, None, None).is_err());
    }

    #[test]
    fn summaries_are_short() {
        assert_eq!(summarize("echo hi"), "echo hi");
        assert_eq!(summarize("a\nb"), "a…");
        assert_eq!(summarize(&"x".repeat(100)).chars().count(), 81);
    }
}
