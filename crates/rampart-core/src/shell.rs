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
        let b64 = base64::engine::general_purpose::STANDARD.encode(content);
        let _ = writeln!(self.code, "base64 -d > {dest_expr} <<'RAMPART_EOF'");
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
