//! File modes as operators write them: `"0644"`, `"644"`, `"0o644"` or the integer `644`.
//!
//! An integer is read like `chmod` reads its argument: its decimal digits are the octal
//! digits (`644` is rw-r--r--). TOML's own octal literal `0o644` arrives as the integer 420,
//! which would silently become 0420; every such literal of a common mode either has an 8 or
//! a 9 in it or gives the group or others a permission the owner lacks, so those integers
//! are refused with a hint to quote the mode.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Permission bits, at most 0o7777.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mode(u32);

impl Mode {
    /// The bits.
    pub fn get(self) -> u32 {
        self.0
    }

    /// 0644, the default of files.
    pub fn file_default() -> Self {
        Mode(0o644)
    }

    /// 0755, the default of directories.
    pub fn dir_default() -> Self {
        Mode(0o755)
    }

    /// Parses an octal string: `"0644"`, `"644"`, `"0o644"`, `"2775"`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let digits = t.strip_prefix("0o").unwrap_or(t);
        if digits.is_empty()
            || digits.len() > 5
            || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b))
        {
            return Err(format!(
                "invalid mode `{s}`: write octal digits, like \"0644\" or \"0750\""
            ));
        }
        let v = u32::from_str_radix(digits, 8).map_err(|e| format!("invalid mode `{s}`: {e}"))?;
        if v > 0o7777 {
            return Err(format!("invalid mode `{s}`: modes go up to 07777"));
        }
        Ok(Mode(v))
    }

    /// Reads an integer as octal digits (`644` is 0644), refusing what is most likely TOML's
    /// `0o644` seen as 420.
    pub fn from_int(n: u64) -> Result<Self, String> {
        let hint = "quote the mode (mode = \"0644\"): TOML's 0o644 is the number 420";
        let text = n.to_string();
        if !text.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return Err(format!("invalid mode {n}: not octal digits; {hint}"));
        }
        let m = Mode::parse(&text)?;
        let (u, g, o) = ((m.0 >> 6) & 7, (m.0 >> 3) & 7, m.0 & 7);
        if (g | o) & !u != 0 {
            return Err(format!(
                "suspicious mode {n} ({:04o}): the group or others would get a permission the owner lacks; {hint}",
                m.0
            ));
        }
        Ok(m)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04o}", self.0)
    }
}

impl Serialize for Mode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Mode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a file mode like \"0644\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Mode, E> {
                Mode::parse(s).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Mode, E> {
                Mode::from_int(n).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Mode, E> {
                u64::try_from(n)
                    .map_err(|_| E::custom(format!("invalid mode {n}")))
                    .and_then(|n| Mode::from_int(n).map_err(E::custom))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_octal() {
        for (s, want) in [
            ("0644", 0o644),
            ("644", 0o644),
            ("0o600", 0o600),
            ("2775", 0o2775),
            ("0", 0),
            (" 0440 ", 0o440),
        ] {
            assert_eq!(Mode::parse(s), Ok(Mode(want)), "{s}");
        }
        for s in ["", "rw-r--r--", "0o", "0999", "17777", "u=rw", "0x1a4"] {
            assert!(Mode::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn integers_are_octal_digits_and_toml_octal_is_caught() {
        for (n, want) in [
            (644, 0o644),
            (600, 0o600),
            (755, 0o755),
            (440, 0o440),
            (2775, 0o2775),
            (0, 0),
        ] {
            assert_eq!(Mode::from_int(n), Ok(Mode(want)), "{n}");
        }
        // TOML 0o644, 0o600, 0o755, 0o640, 0o440, 0o750, 0o664, 0o700 as integers.
        for n in [420, 384, 493, 416, 288, 488, 436, 448] {
            let e = Mode::from_int(n).expect_err(&n.to_string());
            assert!(e.contains("quote the mode"), "{n}: {e}");
        }
        assert!(Mode::from_int(77777).is_err());
    }

    #[test]
    fn serde_round_trip_is_a_string() {
        let m: Mode = serde_json::from_value(serde_json::json!("0640")).unwrap_or(Mode(0));
        assert_eq!(
            serde_json::to_value(m).ok(),
            Some(serde_json::json!("0640"))
        );
        let m: Mode = serde_json::from_value(serde_json::json!(750)).unwrap_or(Mode(0));
        assert_eq!(m, Mode(0o750));
    }
}
