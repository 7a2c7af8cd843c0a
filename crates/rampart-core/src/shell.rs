//! Building POSIX shell code safely: quoting, commands from argv, here-documents.
//!
//! **Invariant:** no value is ever pasted into shell code by formatting. Script text is
//! constant (`&'static str`: the `.sh` files next to the Rust that uses them, through
//! `include_str!`); values reach it as positional parameters written by [`Script::call`]
//! (`set -- 'quoted' 'words'`), as quoted words of [`Script::cmd`], or as the content of a
//! base64 here-document ([`Script::feed_base64`]). [`quote`] is the one quoter: rampart-ssh
//! uses it too. `tests/script_sources.rs` fails on script text built with `format!`.

use std::borrow::Cow;

use base64::Engine as _;
use serde::Serialize;

/// Quotes a word for a POSIX shell. Words made only of safe characters stay as they are.
pub fn quote(word: &str) -> Cow<'_, str> {
    let safe = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@%+=:,./-_".contains(&b));
    if safe {
        Cow::Borrowed(word)
    } else {
        Cow::Owned(format!("'{}'", word.replace('\'', r"'\''")))
    }
}

/// Shell functions for acting on a path without following a link that a user other than
/// root could have planted (a non-root user can swap any entry of a directory they own for a
/// link at any moment, so root must never resolve such an entry by name).
///
/// - `rampart_cd DIR [create]` makes the absolute, canonical `DIR` the working directory one
///   component at a time: a link is followed only where it sits in a directory root owns;
///   any other component must be a real directory, checked after entering it (the physical
///   `$PWD` must be the expected one, so a swap between the test and the `cd` is caught).
///   Missing components are created (as root) with `create`. Exit status 75 (stale facts)
///   on a link it refuses. From then on the step works on names relative to the pinned
///   directory, which no later swap of an ancestor can move.
/// - `rampart_who OWNER GROUP` decides who acts in the pinned directory: root where root owns
///   it; where another user does, `OWNER` (the file is theirs; the kernel then refuses to
///   follow a link of theirs anywhere they could not write themselves), and a root-owned
///   file there is refused.
/// - `rampart_as CMD...` runs a command as that actor (`setpriv`, util-linux).
/// - `rampart_put FILE` writes stdin's base64, decoded, to `FILE` as that actor.
/// - `rampart_enter DIR CREATE OWNER GROUP`: `rampart_cd DIR CREATE`, then `rampart_who` when
///   `OWNER` is not empty (how every file step starts).
/// - `rampart_stale PATH` says PATH changed since the facts were gathered and exits 75.
pub const SAFE_PATH_FNS: &str = include_str!("shell/safe_path.sh");

/// Code that [`Script::raw`] accepts: a constant (`&'static str`), never text built at run
/// time; `tests/script_sources.rs` checks the callers too.
pub trait Code {
    /// The text.
    fn text(&self) -> &str;
}

impl Code for &'static str {
    fn text(&self) -> &str {
        self
    }
}

/// Whether a path is absolute and canonical (no empty, `.` or `..` component, no trailing
/// `/`): what [`SAFE_PATH_FNS`]'s `rampart_cd` can walk and compare with `$PWD`.
pub fn canonical_absolute(path: &str) -> bool {
    path.len() > 1
        && path.starts_with('/')
        && path[1..]
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

/// Joins an argv into one shell command line, each word quoted.
pub fn join<I, S>(argv: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    argv.into_iter()
        .map(|w| quote(w.as_ref()).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A piece of shell code, built line by line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Script {
    code: String,
}

impl Script {
    /// An empty script.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a constant line (or file) of shell code.
    pub fn raw(&mut self, code: impl Code) -> &mut Self {
        self.code.push_str(code.text());
        if !self.code.ends_with('\n') {
            self.code.push('\n');
        }
        self
    }

    /// Appends shell code written as code, never built from values: what the operator wrote
    /// (a `command` resource's `run`) or the baseline catalogue's data (its commands and
    /// `reload`s, embedded in the binary). It runs as written.
    pub fn operator_code(&mut self, code: &str) -> &mut Self {
        self.code.push_str(code);
        if !self.code.ends_with('\n') {
            self.code.push('\n');
        }
        self
    }

    /// Appends `code` (a constant: a `.sh` file's text) run with `args` as its positional
    /// parameters: `set -- 'quoted' 'args'`, then the code. This is how a value reaches
    /// shell code. The parameters stay set for the code that follows in the same script.
    pub fn call<I, S>(&mut self, code: &'static str, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let words = join(args);
        self.code.push_str("set --");
        if !words.is_empty() {
            self.code.push(' ');
            self.code.push_str(&words);
        }
        self.code.push('\n');
        self.source(code)
    }

    /// Appends a constant file of shell code (a `.sh` file's text) without its comment lines:
    /// they document the file; a host need not receive them (a third of the probe's bytes).
    pub fn source(&mut self, code: &'static str) -> &mut Self {
        for line in code.lines() {
            let t = line.trim_start();
            if t.starts_with('#') && !t.starts_with("#!") {
                continue;
            }
            self.code.push_str(line);
            self.code.push('\n');
        }
        self
    }

    /// Appends a command built from an argv, every word quoted.
    pub fn cmd<I, S>(&mut self, argv: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        // As `raw` does, without taking the built line for code `raw` would accept.
        self.code.push_str(&join(argv));
        if !self.code.ends_with('\n') {
            self.code.push('\n');
        }
        self
    }

    /// Appends another script.
    pub fn extend(&mut self, other: &Script) -> &mut Self {
        self.code.push_str(&other.code);
        self
    }

    /// Appends code that writes `content` to the file named by the shell expression `dest`
    /// (for example `"$t"`), byte-exact, through a base64 here-document: no quoting of the
    /// content is ever needed and binary content survives.
    pub fn write_file(&mut self, dest_expr: &'static str, content: &[u8]) -> &mut Self {
        self.code.push_str("base64 -d > ");
        self.code.push_str(dest_expr);
        self.here_base64(content)
    }

    /// Appends `cmd` with `content`, base64-encoded, on its stdin through a quoted
    /// here-document (`rampart_put "$t"` of [`SAFE_PATH_FNS`]).
    pub fn feed_base64(&mut self, cmd: &'static str, content: &[u8]) -> &mut Self {
        self.code.push_str(cmd);
        self.here_base64(content)
    }

    /// Appends ` <<'RAMPART_EOF'`, `content` in base64, and the end marker: the command
    /// already written on the current line reads the content on stdin.
    fn here_base64(&mut self, content: &[u8]) -> &mut Self {
        let b64 = base64::engine::general_purpose::STANDARD.encode(content);
        self.code.push_str(" <<'RAMPART_EOF'\n");
        for chunk in b64.as_bytes().chunks(76) {
            // base64 output is ASCII, so every chunk is valid UTF-8.
            self.code
                .push_str(std::str::from_utf8(chunk).unwrap_or_default());
            self.code.push('\n');
        }
        self.code.push_str("RAMPART_EOF\n");
        self
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.code
    }

    /// True when the script has no code.
    pub fn is_empty(&self) -> bool {
        self.code.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(quote("/etc/ssh/sshd_config"), "/etc/ssh/sshd_config");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("$(reboot)"), "'$(reboot)'");
    }

    #[test]
    fn a_file_goes_without_its_comments_and_values_as_parameters() {
        let mut s = Script::new();
        s.call(
            "# shellcheck shell=sh\n# what it does\n  # indented\nprintf '%s\\n' \"$1\" # kept\n",
            ["a b", "$(x)"],
        );
        assert_eq!(
            s.as_str(),
            "set -- 'a b' '$(x)'\nprintf '%s\\n' \"$1\" # kept\n"
        );
    }

    #[test]
    fn cmd_joins_quoted_words() {
        let mut s = Script::new();
        s.cmd(["systemctl", "restart", "my unit"]);
        assert_eq!(s.as_str(), "systemctl restart 'my unit'\n");
    }

    #[test]
    fn write_file_uses_a_quoted_heredoc() {
        let mut s = Script::new();
        s.write_file("\"$t\"", b"RAMPART_EOF\n$HOME");
        assert!(
            s.as_str()
                .starts_with("base64 -d > \"$t\" <<'RAMPART_EOF'\n")
        );
        assert!(!s.as_str().contains("$HOME"));
    }
}
