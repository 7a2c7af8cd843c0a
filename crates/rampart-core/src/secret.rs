//! Secrets: a value that can be used but never printed, logged or serialised in clear.
//!
//! **Invariant:** no `Display`, a redacting `Debug` and `Serialize`, zeroed on drop. The only way
//! to the bytes is [`Secret::expose`], which is greppable and used where a secret is streamed to a
//! host over stdin. [`Redactor`] scrubs known secret values from any text that leaves the process
//! (diffs, errors, reports) as a second line of defence.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

/// What every redacted secret looks like in output.
pub const REDACTED: &str = "<redacted>";

/// A secret string. Cloning copies the secret into another zeroed-on-drop buffer.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a value; the caller's `String` moves in and is zeroed when the secret drops.
    pub fn new(value: String) -> Self {
        Secret(Zeroizing::new(value))
    }

    /// The clear value. Call it only to hand the secret to a host over stdin or to hash it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

/// Replaces every known secret value in a text with [`REDACTED`].
///
/// Values shorter than four bytes are not scrubbed: they would redact ordinary words and give
/// away that a short secret exists. Secrets that short are refused where secrets are loaded.
#[derive(Clone, Default, Debug)]
pub struct Redactor {
    needles: Vec<Secret>,
}

impl Redactor {
    /// A redactor that knows no secret yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Learns one more secret value.
    pub fn add(&mut self, secret: &Secret) {
        if secret.expose().len() >= 4 && !self.needles.contains(secret) {
            self.needles.push(secret.clone());
            // Longest first, so a secret that contains another is scrubbed whole.
            self.needles
                .sort_by_key(|s| std::cmp::Reverse(s.expose().len()));
        }
    }

    /// The text with every known secret replaced.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for needle in &self.needles {
            if out.contains(needle.expose()) {
                out = out.replace(needle.expose(), REDACTED);
            }
        }
        out
    }

    /// True when the text contains a known secret.
    pub fn leaks(&self, text: &str) -> bool {
        self.needles.iter().any(|n| text.contains(n.expose()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_serialize_never_show_the_value() {
        let s = Secret::new("hunter2-canary".into());
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"<redacted>\"");
        assert_eq!(s.expose(), "hunter2-canary");
    }

    #[test]
    fn redactor_scrubs_longest_first() {
        let mut r = Redactor::new();
        r.add(&Secret::new("abcd".into()));
        r.add(&Secret::new("abcdefgh".into()));
        r.add(&Secret::new("xy".into()));
        assert_eq!(
            r.redact("p=abcdefgh q=abcd xy"),
            "p=<redacted> q=<redacted> xy"
        );
        assert!(r.leaks("..abcd.."));
        assert!(!r.leaks("xy"));
    }
}
