//! The command lines this crate sends: the one `sudo` wrapper, the atomic put-file command
//! and the fetch command. Quoting is rampart-core's `shell::quote` (the one quoter); the
//! atomic write is rampart-core's (`resource::put_file_script`, the one atomic-write script).
//!
//! **Invariant:** every value that ends up in a remote command line passes through
//! [`shell_quote`]. Secrets never do: callers stream them on stdin.

use crate::error::SshError;

use rampart_core::shell::join;
pub use rampart_core::shell::quote as shell_quote;

/// The one sudo wrapper: what goes before a command line that must run as root. `-n`: a
/// prompt would hang the channel; sudo fails fast with "a password is required" instead.
fn sudo(remote_user: &str, become_root: bool) -> &'static str {
    if become_root && remote_user != "root" {
        "sudo -n -- "
    } else {
        ""
    }
}

/// The command line to send: as is when no privilege change is needed, else wrapped so that
/// `sudo` runs it through `sh -c`.
pub fn become_command(command: &str, remote_user: &str, become_root: bool) -> String {
    match sudo(remote_user, become_root) {
        "" => command.to_owned(),
        prefix => format!("{prefix}sh -c {}", shell_quote(command)),
    }
}

/// The command line that runs a script read from stdin (`sh -s`), as root through the same
/// wrapper when needed. `args` is shell code that expands on the host before sudo (so
/// `"$SSH_CONNECTION"` reaches the script as `$1`, although sudo resets the environment).
pub fn script_command(args: &str, remote_user: &str, become_root: bool) -> String {
    let sudo = sudo(remote_user, become_root);
    if args.is_empty() {
        format!("{sudo}sh -s")
    } else {
        format!("{sudo}sh -s -- {args}")
    }
}

/// The script that writes `content` to `path` atomically (rampart-core's, sent on stdin with
/// [`script_command`]): a temp file in the same directory (so `mv` is a rename), mode and
/// owner set before the rename, and the temp file removed on any failure so the target is
/// never half-written.
pub fn put_file_script(
    path: &str,
    content: &[u8],
    mode: u32,
    owner: Option<&str>,
    group: Option<&str>,
) -> Result<String, SshError> {
    check_path(path)?;
    let chown = match (owner, group) {
        (Some(o), Some(g)) => format!("{o}:{g}"),
        (Some(o), None) => o.to_owned(),
        (None, Some(g)) => format!(":{g}"),
        (None, None) => String::new(),
    };
    rampart_core::resource::put_file_script(path, content, mode, &chown)
        .map(|s| s.as_str().to_owned())
        .map_err(|e| bad_path(path, &e.to_string()))
}

/// `cat -- <path>`, quoted.
pub fn fetch_file_command(path: &str) -> String {
    join(["cat", "--", path])
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

fn bad_path(path: &str, why: &str) -> SshError {
    SshError::config(
        format!("cannot write remote file `{path}`: {why}"),
        Some("give an absolute path to a file, e.g. /etc/ssh/sshd_config.d/50-rampart.conf"),
    )
}

fn check_path(path: &str) -> Result<(), SshError> {
    if path.is_empty() || path.ends_with('/') {
        return Err(bad_path(path, "it names a directory"));
    }
    if path.contains('\0') || path.contains('\n') {
        return Err(bad_path(path, "it contains a NUL or newline"));
    }
    Ok(())
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
    fn one_wrapper_for_commands_and_scripts() {
        assert_eq!(script_command("", "root", true), "sh -s");
        assert_eq!(script_command("", "admin", false), "sh -s");
        assert_eq!(
            script_command("\"$SSH_CONNECTION\"", "admin", true),
            "sudo -n -- sh -s -- \"$SSH_CONNECTION\""
        );
    }

    /// The put-file script under dash: content byte-exact, mode set, the target untouched and
    /// no temp file left when chown fails, a directory never replaced.
    #[test]
    fn put_script_is_atomic_under_dash() {
        let Some(sh) = rampart_shtest::Sh::new() else {
            return;
        };
        let path = sh.write("etc/my file's.conf", "old\n");
        let content = b"new\n\0bin\xff".to_vec();
        let s = put_file_script(&path, &content, 0o640, None, None).unwrap();
        let out = sh.run(&s, &[]);
        assert!(out.ok(), "{out:?}");
        assert_eq!(std::fs::read(&path).unwrap(), content);
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777,
            0o640
        );
        assert_eq!(sh.ls("etc"), ["my file's.conf"]);
        let s =
            put_file_script(&path, b"never", 0o640, Some("no-such-user-rampart"), None).unwrap();
        assert!(!sh.run(&s, &[]).ok());
        assert_eq!(std::fs::read(&path).unwrap(), content);
        assert_eq!(sh.ls("etc"), ["my file's.conf"]);
        let s = put_file_script(&sh.path("etc"), b"x", 0o600, None, None).unwrap();
        let out = sh.run(&s, &[]);
        assert!(
            !out.ok() && out.stderr.contains("is a directory"),
            "{out:?}"
        );
        assert!(put_file_script("/etc/", b"", 0o600, None, None).is_err());
        assert!(put_file_script("", b"", 0o600, None, None).is_err());
        assert!(put_file_script("relative", b"", 0o600, None, None).is_err());
    }

    #[test]
    fn summaries_are_short() {
        assert_eq!(summarize("echo hi"), "echo hi");
        assert_eq!(summarize("a\nb"), "a…");
        assert_eq!(summarize(&"x".repeat(100)).chars().count(), 81);
    }
}
