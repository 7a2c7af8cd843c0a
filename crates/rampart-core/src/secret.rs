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

    /// Learns one more secret value, with the forms it takes in other texts: JSON-escaped
    /// (as `--json` and the journal write it, and with non-ASCII as `\\u` escapes), hex (lower
    /// and upper case) and base64 (standard and URL-safe, at each of the three alignments it
    /// can have inside a longer base64 text, so a secret in an encoded file is found too).
    pub fn add(&mut self, secret: &Secret) {
        if secret.expose().len() < 4 {
            return;
        }
        for form in forms(secret.expose()) {
            if form.expose().len() >= 4 && !self.needles.contains(&form) {
                self.needles.push(form);
            }
        }
        // Longest first, so a secret that contains another is scrubbed whole.
        self.needles
            .sort_by_key(|s| std::cmp::Reverse(s.expose().len()));
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

/// The forms a secret value takes in text: itself, JSON-escaped, hex and base64.
fn forms(value: &str) -> Vec<Secret> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let bytes = value.as_bytes();
    let mut out = vec![Secret::new(value.to_owned())];
    if let Ok(json) = serde_json::to_string(value).map(zeroize::Zeroizing::new) {
        out.push(Secret::new(json[1..json.len() - 1].to_owned()));
    }
    let mut ascii = String::new();
    for c in value.chars() {
        if c.is_ascii() {
            let esc = serde_json::to_string(&c.to_string()).unwrap_or_default();
            ascii.push_str(esc.get(1..esc.len().saturating_sub(1)).unwrap_or_default());
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                ascii.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out.push(Secret::new(ascii));
    out.push(Secret::new(hex::encode(bytes)));
    out.push(Secret::new(hex::encode_upper(bytes)));
    for engine in [STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
        for k in 0..3usize {
            // Behind k other bytes, the characters that depend on the secret's bits alone.
            let mut buf = zeroize::Zeroizing::new(vec![0u8; k]);
            buf.extend_from_slice(bytes);
            let enc = zeroize::Zeroizing::new(engine.encode(buf.as_slice()));
            let from = (8 * k).div_ceil(6);
            let to = (8 * (k + bytes.len())) / 6;
            if to > from {
                out.push(Secret::new(enc[from..to].to_owned()));
            }
        }
    }
    out
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

    #[test]
    fn redactor_scrubs_encoded_forms() {
        use base64::Engine as _;
        use base64::engine::general_purpose::{STANDARD, URL_SAFE};
        let canary = "CANARY\"q\\é\n?>~";
        let mut r = Redactor::new();
        r.add(&Secret::new(canary.into()));
        let json = serde_json::to_string(&serde_json::json!({ "x": canary })).unwrap();
        let mut texts = vec![
            json,
            format!("\"{}\"", "CANARY\\\"q\\\\\\u00e9\\n?>~"),
            hex::encode(canary),
            hex::encode_upper(canary),
        ];
        // Inside a longer base64 text, at every alignment, in both alphabets.
        for prefix in ["", "a", "ab", "abc"] {
            let blob = format!("{prefix}{canary} and more");
            texts.push(STANDARD.encode(&blob));
            texts.push(URL_SAFE.encode(&blob));
        }
        for t in texts {
            assert!(r.leaks(&t), "{t}");
            assert!(!r.leaks(&r.redact(&t)), "{t} -> {}", r.redact(&t));
        }
    }
}
