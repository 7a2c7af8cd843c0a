//! Building POSIX shell code safely: quoting, commands from argv, here-documents.
//!
//! **Invariant:** no value that comes from the operator or a host is ever pasted into shell
//! code unquoted. Code that needs a value goes through [`quote`], [`Script::cmd`] or
//! [`Script::write_file`]; raw fragments passed to [`Script::raw`] are constants.

use std::borrow::Cow;
use std::fmt::Write as _;

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
pub const SAFE_PATH_FNS: &str = r#"rampart_cd() {
  cd -P / || return 1
  rampart_rest=${1#/}
  while [ -n "$rampart_rest" ]; do
    rampart_c=${rampart_rest%%/*}
    case $rampart_rest in */*) rampart_rest=${rampart_rest#*/} ;; *) rampart_rest= ;; esac
    if [ -L "$rampart_c" ]; then
      if [ ! -O . ]; then printf 'rampart: refusing %s: %s is a symbolic link in a directory a user other than root owns
' "$1" "${PWD%/}/$rampart_c" >&2; return 75; fi
      cd -P "./$rampart_c" || return 1
    else
      rampart_want=${PWD%/}/$rampart_c
      if [ -n "${2:-}" ] && [ ! -e "$rampart_c" ]; then mkdir "./$rampart_c" || return 1; fi
      cd -P "./$rampart_c" || return 1
      if [ "$PWD" != "$rampart_want" ]; then printf 'rampart: refusing %s: %s turned into a link while rampart entered it
' "$1" "$rampart_want" >&2; return 75; fi
    fi
  done
}
rampart_who() {
  rampart_user= rampart_group=
  if [ -O . ]; then return 0; fi
  if [ "$1" = root ]; then printf 'rampart: refusing to write a file of root'"'"'s into %s: a user other than root owns that directory
' "$PWD" >&2; return 1; fi
  rampart_user=$1 rampart_group=$2
}
rampart_as() {
  if [ -n "$rampart_user" ]; then setpriv --reuid="$rampart_user" --regid="$rampart_group" --init-groups -- "$@"; else "$@"; fi
}
rampart_put() {
  if [ -n "$rampart_user" ]; then rampart_as sh -c 'exec base64 -d > "$1"' sh "$1"; else base64 -d > "$1"; fi
}
"#;

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

    /// Appends a constant line of shell code.
    pub fn raw(&mut self, line: impl AsRef<str>) -> &mut Self {
        self.code.push_str(line.as_ref());
        self.code.push('\n');
        self
    }

    /// Appends a command built from an argv, every word quoted.
    pub fn cmd<I, S>(&mut self, argv: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let line = join(argv);
        self.raw(line)
    }

    /// Appends another script.
    pub fn extend(&mut self, other: &Script) -> &mut Self {
        self.code.push_str(&other.code);
        self
    }

    /// Appends code that writes `content` to the file named by the shell expression `dest`
    /// (for example `"$t"`), byte-exact, through a base64 here-document: no quoting of the
    /// content is ever needed and binary content survives.
    pub fn write_file(&mut self, dest_expr: &str, content: &[u8]) -> &mut Self {
        self.feed_base64(&format!("base64 -d > {dest_expr}"), content)
    }

    /// Appends `cmd` with `content`, base64-encoded, on its stdin through a quoted
    /// here-document (`rampart_put "$t"` of [`SAFE_PATH_FNS`]).
    pub fn feed_base64(&mut self, cmd: &str, content: &[u8]) -> &mut Self {
        let b64 = base64::engine::general_purpose::STANDARD.encode(content);
        let _ = writeln!(self.code, "{cmd} <<'RAMPART_EOF'");
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
