//! Just enough OpenPGP (RFC 9580, version 4 keys) to tell the fingerprint of an ASCII-armored
//! public key, so the Docker repository's key is checked without gpg: here on the controller
//! for a key given in the configuration (`repo_key`), and by [`fingerprint_script`] (the same
//! computation in POSIX shell, awk and coreutils) on the host for a key it downloads.
//!
//! A v4 fingerprint is the SHA-1 of `0x99`, the two-byte length of the primary key packet's
//! body, and that body. Only the first packet counts: a keyring that starts with anything but
//! a v4 public key packet is refused.

use base64::Engine as _;
use sha1::{Digest, Sha1};

const BEGIN: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
const END: &str = "-----END PGP PUBLIC KEY BLOCK-----";

/// The bytes of an ASCII-armored public key block (the first one), with its CRC-24 checked
/// when the armor carries one.
pub fn dearmor(text: &str) -> Result<Vec<u8>, String> {
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r'));
    lines
        .by_ref()
        .find(|l| l.trim_end() == BEGIN)
        .ok_or("no `-----BEGIN PGP PUBLIC KEY BLOCK-----` line")?;
    // Armor headers (`Key: value`) end at the first blank line.
    for l in lines.by_ref() {
        if l.trim().is_empty() {
            break;
        }
    }
    let mut data = String::new();
    let mut crc = None;
    let mut ended = false;
    for l in lines {
        let l = l.trim();
        if l == END {
            ended = true;
            break;
        }
        if let Some(c) = l.strip_prefix('=') {
            crc = Some(c.to_owned());
        } else {
            data.push_str(l);
        }
    }
    if !ended {
        return Err("no `-----END PGP PUBLIC KEY BLOCK-----` line".into());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.as_bytes())
        .map_err(|e| format!("the armored data is not base64: {e}"))?;
    if let Some(c) = crc {
        let want = base64::engine::general_purpose::STANDARD
            .decode(c.as_bytes())
            .map_err(|e| format!("the armor checksum is not base64: {e}"))?;
        let got = crc24(&bytes).to_be_bytes();
        if want.as_slice() != &got[1..] {
            return Err("the armor checksum does not match: the key is damaged".into());
        }
    }
    Ok(bytes)
}

/// CRC-24 of RFC 9580 section 6.1.
fn crc24(data: &[u8]) -> u32 {
    let mut crc: u32 = 0x00B7_04CE;
    for &b in data {
        crc ^= u32::from(b) << 16;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x0100_0000 != 0 {
                crc ^= 0x0186_4CFB;
            }
        }
    }
    crc & 0x00FF_FFFF
}

/// The fingerprint (40 uppercase hex digits) of the primary key of a binary keyring.
pub fn fingerprint(bytes: &[u8]) -> Result<String, String> {
    let byte = |i: usize| -> Result<usize, String> {
        bytes
            .get(i)
            .map(|b| usize::from(*b))
            .ok_or_else(|| "the key ends inside its first packet's header".to_owned())
    };
    let b0 = byte(0)?;
    if b0 & 0x80 == 0 {
        return Err("not an OpenPGP packet".into());
    }
    let (tag, head, len): (usize, usize, usize) = if b0 & 0x40 != 0 {
        let o1 = byte(1)?;
        match o1 {
            0..=191 => (b0 & 0x3f, 2, o1),
            192..=223 => (b0 & 0x3f, 3, ((o1 - 192) << 8) + byte(2)? + 192),
            255 => (
                b0 & 0x3f,
                6,
                (byte(2)? << 24) | (byte(3)? << 16) | (byte(4)? << 8) | byte(5)?,
            ),
            _ => return Err("a key packet with a partial length".into()),
        }
    } else {
        let tag = (b0 >> 2) & 0x0f;
        match b0 & 3 {
            0 => (tag, 2, byte(1)?),
            1 => (tag, 3, (byte(1)? << 8) | byte(2)?),
            2 => (
                tag,
                5,
                (byte(1)? << 24) | (byte(2)? << 16) | (byte(3)? << 8) | byte(4)?,
            ),
            _ => return Err("a key packet of indeterminate length".into()),
        }
    };
    if tag != 6 {
        return Err(format!("the first packet is not a public key (tag {tag})"));
    }
    let body = bytes
        .get(head..head.saturating_add(len))
        .ok_or("the key is shorter than its first packet says")?;
    if body.first() != Some(&4) {
        return Err(format!(
            "a version {} key: only version 4 keys are checked",
            body.first().copied().unwrap_or(0)
        ));
    }
    let len16 = u16::try_from(len).map_err(|_| "a version 4 key packet over 64 KiB")?;
    let mut h = Sha1::new();
    h.update([0x99]);
    h.update(len16.to_be_bytes());
    h.update(body);
    Ok(hex::encode_upper(h.finalize()))
}

/// The fingerprint of an ASCII-armored public key.
pub fn armored_fingerprint(text: &str) -> Result<String, String> {
    fingerprint(&dearmor(text)?)
}

/// POSIX shell (with coreutils' `base64`, `od`, `sha1sum` and awk: no gpg) that sets `$f` to
/// the fingerprint of the armored key in the file `"$t"`, or to the empty string when the file
/// holds no version 4 public key. Uses the scratch file `"$b"`.
pub fn fingerprint_script() -> &'static str {
    r#"awk '/^-----BEGIN PGP PUBLIC KEY BLOCK-----/ { a = 1; h = 1; next }
/^-----END PGP PUBLIC KEY BLOCK-----/ { exit }
a && h { if ($0 ~ /^[ \t\r]*$/) h = 0; next }
a && !/^=/ { print }' "$t" | tr -d ' \t\r' | base64 -d >"$b" 2>/dev/null || : >"$b"
set -- $(od -An -tu1 -N6 "$b") 0 0 0 0 0 0
n= h=
case $1 in
  152) h=2 n=$2 ;;
  153) h=3 n=$(( $2 * 256 + $3 )) ;;
  154) h=5 n=$(( (($2 * 256 + $3) * 256 + $4) * 256 + $5 )) ;;
  198) if [ "$2" -lt 192 ]; then h=2 n=$2; elif [ "$2" -lt 224 ]; then h=3 n=$(( ($2 - 192) * 256 + $3 + 192 )); elif [ "$2" -eq 255 ]; then h=6 n=$(( (($3 * 256 + $4) * 256 + $5) * 256 + $6 )); fi ;;
esac
f=
if [ -n "$n" ] && [ "$n" -lt 65536 ] && [ "$(od -An -tu1 -j "$h" -N1 "$b" | tr -d ' ')" = 4 ]; then
  f=$({ printf "\231\\$(printf %o $(( n / 256 )))\\$(printf %o $(( n % 256 )))"; tail -c +$(( h + 1 )) "$b" | head -c "$n"; } | sha1sum | tr a-f A-F)
  f=${f%% *}
fi"#
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA: &str = include_str!("../testdata/rsa2048.asc");
    const RSA_FPR: &str = "900EBB8E9583D51587287703E832B19B3349C818";
    const ED: &str = include_str!("../testdata/ed25519.asc");
    const ED_FPR: &str = "50A69C1162CA85F1706E39BC17A4D598D78D1A0E";

    /// The same key with its first packet's header rewritten in the new format (`0xC6`).
    fn new_format(old: &[u8]) -> Vec<u8> {
        assert_eq!(old[0], 0x99);
        let len = (usize::from(old[1]) << 8) | usize::from(old[2]);
        let mut out = vec![0xC6];
        if len < 192 {
            out.push(u8::try_from(len).unwrap());
        } else if len < 8384 {
            let l = len - 192;
            out.push(u8::try_from((l >> 8) + 192).unwrap());
            out.push(u8::try_from(l & 0xff).unwrap());
        }
        out.extend_from_slice(&old[3..]);
        out
    }

    fn armor(bytes: &[u8]) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
        let mut s = format!("{BEGIN}\nComment: test\n\n");
        for chunk in b64.as_bytes().chunks(64) {
            s.push_str(std::str::from_utf8(chunk).unwrap());
            s.push('\n');
        }
        s.push_str(END);
        s.push('\n');
        s
    }

    #[test]
    fn fingerprints_of_keys_gpg_made() {
        assert_eq!(armored_fingerprint(RSA).unwrap(), RSA_FPR);
        assert_eq!(armored_fingerprint(ED).unwrap(), ED_FPR);
        let nf = new_format(&dearmor(RSA).unwrap());
        assert_eq!(fingerprint(&nf).unwrap(), RSA_FPR, "new-format header");
        assert_eq!(
            armored_fingerprint(&armor(&nf)).unwrap(),
            RSA_FPR,
            "armor headers"
        );
    }

    #[test]
    fn refuses_what_is_not_a_v4_public_key() {
        let mut damaged = RSA.replacen("mQENBGsQ", "mQENBGsR", 1);
        assert!(
            armored_fingerprint(&damaged)
                .unwrap_err()
                .contains("checksum")
        );
        damaged = RSA.replace("-----END PGP PUBLIC KEY BLOCK-----", "");
        assert!(armored_fingerprint(&damaged).is_err());
        let mut bytes = dearmor(RSA).unwrap();
        bytes[3] = 5;
        assert!(fingerprint(&bytes).unwrap_err().contains("version 5"));
        bytes[0] = 0xB4; // old format, tag 13 (a user id)
        assert!(fingerprint(&bytes).unwrap_err().contains("tag 13"));
        assert!(
            fingerprint(&dearmor(RSA).unwrap()[..100]).is_err(),
            "truncated"
        );
        assert!(fingerprint(&[]).is_err());
        assert!(armored_fingerprint("hello").is_err());
    }

    #[test]
    fn never_panics_on_cut_or_mangled_keys() {
        let good = dearmor(RSA).unwrap();
        for n in 0..good.len() {
            let _ = fingerprint(&good[..n]);
        }
        for i in 0..8 {
            for v in 0..=255u8 {
                let mut b = good.clone();
                b[i] = v;
                let _ = fingerprint(&b);
                let _ = armored_fingerprint(&armor(&b));
            }
        }
        for n in 0..RSA.len() {
            let _ = armored_fingerprint(&RSA[..n]);
        }
    }

    /// The shell version computes the same as the Rust one, with only sh and coreutils.
    #[cfg(unix)]
    #[test]
    fn the_host_side_script_agrees_without_gpg() {
        let dir = tempfile::tempdir().unwrap();
        let nf = armor(&new_format(&dearmor(RSA).unwrap()));
        let crlf = ED.replace('\n', "\r\n");
        let cases: [(&str, &str, &str); 5] = [
            ("rsa", RSA, RSA_FPR),
            ("ed", ED, ED_FPR),
            ("new", &nf, RSA_FPR),
            ("crlf", &crlf, ED_FPR),
            ("html", "<html>not a key</html>\n", ""),
        ];
        for (name, text, want) in cases {
            let t = dir.path().join(name);
            std::fs::write(&t, text).unwrap();
            for shell in ["sh", "dash", "bash"] {
                let Ok(out) = std::process::Command::new(shell)
                    .arg("-c")
                    .arg(format!("{}\nprintf '%s' \"$f\"", fingerprint_script()))
                    .env("t", &t)
                    .env("b", dir.path().join("scratch"))
                    .env("PATH", "/usr/bin:/bin")
                    .output()
                else {
                    continue;
                };
                assert_eq!(
                    String::from_utf8_lossy(&out.stdout),
                    want,
                    "{shell} on {name}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}
