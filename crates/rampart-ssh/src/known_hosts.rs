//! OpenSSH known_hosts files: parsing, checking a presented host key, and appending one line
//! for accept-new.
//!
//! We parse ourselves rather than use `russh::keys::known_hosts` because that parser splits on
//! single spaces, miscounts line numbers after comments (and a changed-key error must name the
//! right line), aborts the whole file on one bad key, and knows neither wildcards, negation nor
//! markers. This one follows sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT":
//!
//! - `#` comments and blank lines are skipped; fields are separated by spaces or tabs;
//! - an optional `@cert-authority` or `@revoked` marker comes first. CA lines are ignored (we
//!   do not negotiate host certificates); a `@revoked` line refuses that key for its hosts;
//! - host patterns are comma-separated, may use `*` and `?`, `!` negates, non-22 ports are
//!   written `[host]:port`, and a hashed entry is `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`;
//! - a malformed line is skipped (and logged), never fatal: one bad line must not lock out a
//!   fleet.
//!
//! **Invariant:** we only ever append to a known_hosts file; we never rewrite it.

use std::collections::HashMap;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use russh::keys::{HashAlg, PublicKey};

use crate::client::HostKeyPolicy;
use crate::error::SshError;

/// The marker at the start of a known_hosts line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    /// An ordinary host key line.
    None,
    /// `@cert-authority`: a CA for host certificates. Ignored by this crate.
    CertAuthority,
    /// `@revoked`: this key must never be accepted for the matching hosts.
    Revoked,
}

/// One parsed known_hosts line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line number in its file, counting every line (comments and blanks included).
    pub line: usize,
    /// The marker, if any.
    pub marker: Marker,
    /// The host pattern field as written (`a,b,[c]:2222` or a `|1|salt|hash` hashed name).
    pub hosts: String,
    /// Key type, e.g. `ssh-ed25519`.
    pub key_type: String,
    /// The base64 key blob as written.
    pub key_base64: String,
}

/// Parses a known_hosts file's text. Malformed lines are skipped.
pub fn parse(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split([' ', '\t']).filter(|f| !f.is_empty());
        let Some(mut first) = fields.next() else {
            continue;
        };
        let marker = match first {
            "@cert-authority" => Marker::CertAuthority,
            "@revoked" => Marker::Revoked,
            m if m.starts_with('@') => {
                tracing::debug!(
                    line = i + 1,
                    marker = m,
                    "known_hosts: unknown marker, line skipped"
                );
                continue;
            }
            _ => Marker::None,
        };
        if marker != Marker::None {
            match fields.next() {
                Some(f) => first = f,
                None => continue,
            }
        }
        let (Some(key_type), Some(key_base64)) = (fields.next(), fields.next()) else {
            tracing::debug!(
                line = i + 1,
                "known_hosts: line without key type and key, skipped"
            );
            continue;
        };
        out.push(Entry {
            line: i + 1,
            marker,
            hosts: first.to_owned(),
            key_type: key_type.to_owned(),
            key_base64: key_base64.to_owned(),
        });
    }
    out
}

/// The name known_hosts uses for an endpoint: `host` on port 22, else `[host]:port`.
/// Lowercased, as OpenSSH does before matching.
pub fn host_key_name(host: &str, port: u16) -> String {
    let host = host.to_ascii_lowercase();
    if port == 22 {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

impl Entry {
    /// True when this line's host field matches `name` (see [`host_key_name`]).
    pub fn matches(&self, name: &str) -> bool {
        if let Some(rest) = self.hosts.strip_prefix("|1|") {
            return hashed_matches(rest, name);
        }
        let mut positive = false;
        for pat in self.hosts.split(',') {
            let (negated, pat) = match pat.strip_prefix('!') {
                Some(p) => (true, p),
                None => (false, pat),
            };
            if glob_match(&pat.to_ascii_lowercase(), name) {
                if negated {
                    // A matching negation rejects the line whatever else matches (sshd(8)).
                    return false;
                }
                positive = true;
            }
        }
        positive
    }

    /// True when this line records exactly `key`.
    pub fn has_key(&self, key: &PublicKey) -> bool {
        if self.key_type != key.algorithm().as_str() {
            return false;
        }
        match (STANDARD.decode(&self.key_base64), key.to_bytes()) {
            (Ok(recorded), Ok(presented)) => recorded == presented,
            _ => false,
        }
    }
}

fn hashed_matches(rest: &str, name: &str) -> bool {
    let Some((salt, hash)) = rest.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (STANDARD.decode(salt), STANDARD.decode(hash)) else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &salt);
    ring::hmac::verify(&key, name.as_bytes(), &hash).is_ok()
}

/// `*` and `?` glob over bytes, as OpenSSH's `match_pattern`.
fn glob_match(pattern: &str, s: &str) -> bool {
    let (p, s) = (pattern.as_bytes(), s.as_bytes());
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, si));
                pi += 1;
            }
            Some(&c) if c == b'?' || c == s[si] => {
                pi += 1;
                si += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// What the known_hosts files say about a presented key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A line records this key for this host.
    Known {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
    },
    /// Lines record other keys for this host, none this key. A key of another type counts
    /// too (the host is known; a new type is not "new host"): the line is one of the same
    /// type when there is one, else the first line for the host.
    Changed {
        /// The file of that line.
        file: PathBuf,
        /// Its 1-based line.
        line: usize,
        /// The recorded key type.
        key_type: String,
    },
    /// A `@revoked` line matches this key and host.
    Revoked {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
    },
    /// No line of any type records a key for this host: only then may accept-new learn one.
    Unknown,
}

/// Checks `key` for `name` against parsed files, in order. Revocation wins over everything;
/// a matching line anywhere wins over a changed one (OpenSSH accepts if any line matches); a
/// host with any recorded key, of any type, is known: a key that no line records is a
/// changed key, never an unknown one.
pub fn check<'a>(
    files: impl IntoIterator<Item = (&'a Path, &'a [Entry])>,
    name: &str,
    key: &PublicKey,
) -> Verdict {
    let mut known = None;
    let mut changed = None;
    let mut other_type = None;
    for (path, entries) in files {
        for e in entries.iter().filter(|e| e.matches(name)) {
            match e.marker {
                Marker::CertAuthority => {}
                Marker::Revoked => {
                    if e.has_key(key) {
                        return Verdict::Revoked {
                            file: path.to_owned(),
                            line: e.line,
                        };
                    }
                }
                Marker::None => {
                    if e.has_key(key) {
                        known.get_or_insert_with(|| Verdict::Known {
                            file: path.to_owned(),
                            line: e.line,
                        });
                    } else if e.key_type == key.algorithm().as_str() {
                        changed.get_or_insert_with(|| Verdict::Changed {
                            file: path.to_owned(),
                            line: e.line,
                            key_type: e.key_type.clone(),
                        });
                    } else {
                        other_type.get_or_insert_with(|| Verdict::Changed {
                            file: path.to_owned(),
                            line: e.line,
                            key_type: e.key_type.clone(),
                        });
                    }
                }
            }
        }
    }
    known.or(changed).or(other_type).unwrap_or(Verdict::Unknown)
}

/// Key types recorded (unmarked lines) for `name`, in file order, without duplicates. Used to
/// ask the server for a host key we can check, as OpenSSH orders HostKeyAlgorithms.
pub fn recorded_types<'a>(
    files: impl IntoIterator<Item = (&'a Path, &'a [Entry])>,
    name: &str,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (_, entries) in files {
        for e in entries
            .iter()
            .filter(|e| e.marker == Marker::None && e.matches(name))
        {
            if !out.contains(&e.key_type) {
                out.push(e.key_type.clone());
            }
        }
    }
    out
}

/// `ssh-ed25519 SHA256:...`, the way ssh(1) shows a key.
pub fn fingerprint(key: &PublicKey) -> String {
    format!(
        "{} {}",
        key.algorithm().as_str(),
        key.fingerprint(HashAlg::Sha256)
    )
}

/// The known_hosts line we append for `name` (no comment, plain host name: the operator must be
/// able to read and `ssh-keygen -R` it).
pub fn line_for(name: &str, key: &PublicKey) -> io::Result<String> {
    let bytes = key.to_bytes().map_err(io::Error::other)?;
    Ok(format!(
        "{name} {} {}\n",
        key.algorithm().as_str(),
        STANDARD.encode(bytes)
    ))
}

/// After sshd moved from port `from` to `to`: records the keys `host` has on `from` (plain
/// entries of every file in `files`) for `[host]:to` as well, in the first file, unless a file
/// already has them there. The caller has just verified, over a login on `to` checked against
/// the `from` keys, that the host presents one of them. Returns how many lines it appended.
pub fn record_port_move(files: &[PathBuf], host: &str, from: u16, to: u16) -> io::Result<usize> {
    let (old, new) = (host_key_name(host, from), host_key_name(host, to));
    let mut have: Vec<Entry> = Vec::new();
    let mut keys: Vec<Entry> = Vec::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        for e in parse(&text) {
            if e.marker != Marker::None {
                continue;
            }
            if e.matches(&new) {
                have.push(e.clone());
            }
            if e.matches(&old) {
                keys.push(e);
            }
        }
    }
    let Some(first) = files.first() else {
        return Ok(0);
    };
    let mut added = 0;
    for k in keys {
        if have
            .iter()
            .any(|h| h.key_type == k.key_type && h.key_base64 == k.key_base64)
        {
            continue;
        }
        append(first, &format!("{new} {} {}\n", k.key_type, k.key_base64))?;
        have.push(k);
        added += 1;
    }
    Ok(added)
}

/// Appends one line to `path`, creating the file (0600) and its directory (0700) when missing.
/// Adds a newline first when the file does not end with one. Never truncates or rewrites.
pub fn append(path: &Path, line: &str) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true).append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    let len = f.metadata()?.len();
    let mut text = String::with_capacity(line.len() + 1);
    if len > 0 {
        let mut last = [0u8; 1];
        f.seek(SeekFrom::Start(len - 1))?;
        f.read_exact(&mut last)?;
        if last[0] != b'\n' {
            text.push('\n');
        }
    }
    text.push_str(line);
    // One write call: with O_APPEND a short line lands whole even if another process appends.
    // No fsync, like ssh(1): at 1,000 new hosts serialised fsyncs would cost seconds, and a
    // lost line only means the key is learned again next run.
    f.write_all(text.as_bytes())
}

/// Parsed known_hosts files shared by every connection of a run, re-read when a file's size or
/// modification time changes. At 1,000 hosts this turns 1,000 parses into one. The mutex also
/// serialises accept-new appends within this process, so two connections to one new host add
/// one line, not two.
#[derive(Debug, Default)]
pub(crate) struct Store {
    files: Mutex<HashMap<PathBuf, Cached>>,
}

#[derive(Debug)]
struct Cached {
    stamp: Option<(SystemTime, u64)>,
    entries: Arc<Vec<Entry>>,
}

impl Store {
    /// The parsed entries of each file that exists; missing files count as empty.
    pub(crate) fn load(&self, paths: &[PathBuf]) -> Vec<(PathBuf, Arc<Vec<Entry>>)> {
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        paths
            .iter()
            .map(|p| (p.clone(), load_one(&mut files, p)))
            .collect()
    }

    /// Checks the key a host presented against the user files `paths` and the global files
    /// `global` (OpenSSH's GlobalKnownHostsFile, read-only) and applies `policy`. Under
    /// accept-new a key of a host that no line of any file records is appended to the first
    /// user file, with the lock held from check to append.
    pub(crate) fn verify(
        &self,
        paths: &[PathBuf],
        global: &[PathBuf],
        host: &str,
        port: u16,
        key: &PublicKey,
        policy: HostKeyPolicy,
    ) -> Result<(), SshError> {
        let name = host_key_name(host, port);
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        let loaded: Vec<(&Path, Arc<Vec<Entry>>)> = paths
            .iter()
            .chain(global)
            .map(|p| (p.as_path(), load_one(&mut files, p)))
            .collect();
        let verdict = check(loaded.iter().map(|(p, e)| (*p, e.as_slice())), &name, key);
        let first = paths.first();
        match verdict {
            Verdict::Known { file, line } => {
                tracing::debug!(host = %name, file = %file.display(), line, "host key known");
                Ok(())
            }
            Verdict::Changed {
                file,
                line,
                key_type,
            } => Err(SshError::HostKeyChanged {
                host: name,
                fingerprint: fingerprint(key),
                key_type,
                file,
                line,
            }),
            Verdict::Revoked { file, line } => Err(SshError::HostKeyRevoked {
                host: name,
                fingerprint: fingerprint(key),
                file,
                line,
            }),
            Verdict::Unknown => {
                let Some(first) = first else {
                    // UserKnownHostsFile /dev/null: nothing can be known and nothing recorded.
                    // Accepting anyway would be an accept-all mode, which rampart does not have.
                    return Err(SshError::HostKeyUnknown {
                        host: name,
                        fingerprint: fingerprint(key),
                        known_hosts: PathBuf::from("/dev/null"),
                        hint: "no known_hosts file is configured (UserKnownHostsFile /dev/null?); \
                               point known_hosts at a real file so the key can be checked or \
                               recorded with --accept-new"
                            .into(),
                    });
                };
                match policy {
                    HostKeyPolicy::Strict => {
                        // Only reached for a host no file knows at all, so --accept-new is
                        // the right advice here and nowhere else.
                        Err(SshError::HostKeyUnknown {
                            host: name,
                            fingerprint: fingerprint(key),
                            known_hosts: first.clone(),
                            hint: "check the fingerprint out of band, then run again with \
                                   --accept-new to record it (or add it with ssh-keyscan)"
                                .into(),
                        })
                    }
                    HostKeyPolicy::AcceptNew => {
                        let line = line_for(&name, key).map_err(|e| SshError::io(&name, e))?;
                        append(first, &line).map_err(|e| {
                            SshError::io(
                                &first.display().to_string(),
                                format!("cannot record the host key of {name}: {e}"),
                            )
                        })?;
                        tracing::info!(host = %name, file = %first.display(), key = %fingerprint(key), "accept-new: recorded host key");
                        // Drop the stale cache entry so the next check sees the new line.
                        files.remove(first);
                        Ok(())
                    }
                }
            }
        }
    }
}

fn load_one(files: &mut HashMap<PathBuf, Cached>, path: &Path) -> Arc<Vec<Entry>> {
    // Blocking file I/O inside async code: a stat per connection, and a read only when the file
    // changed. Small enough not to matter next to an SSH handshake.
    let stamp = std::fs::metadata(path)
        .ok()
        .and_then(|m| Some((m.modified().ok()?, m.len())));
    if let Some(c) = files.get(path)
        && c.stamp == stamp
        && stamp.is_some()
    {
        return c.entries.clone();
    }
    let entries = Arc::new(match std::fs::read(path) {
        Ok(bytes) => parse(&String::from_utf8_lossy(&bytes)),
        Err(_) => Vec::new(),
    });
    files.insert(
        path.to_owned(),
        Cached {
            stamp,
            entries: entries.clone(),
        },
    );
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED_A: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ";

    fn key(b64: &str) -> PublicKey {
        russh::keys::parse_public_key_base64(b64).unwrap()
    }

    fn other_ed25519() -> PublicKey {
        use russh::keys::ssh_key::private::{Ed25519Keypair, KeypairData};
        let kp = Ed25519Keypair::from_seed(&[7u8; 32]);
        let private = russh::keys::PrivateKey::new(KeypairData::Ed25519(kp), "").unwrap();
        private.public_key().clone()
    }

    fn check_text(text: &str, name: &str, k: &PublicKey) -> Verdict {
        let entries = parse(text);
        check([(Path::new("kh"), entries.as_slice())], name, k)
    }

    #[test]
    fn parses_plain_lines_with_comments_blanks_and_tabs() {
        let text = format!(
            "# comment\n\nexample.com,10.0.0.1 ssh-ed25519 {ED_A} me@x\n\t[h]:2222\tssh-ed25519\t{ED_A}\n"
        );
        let e = parse(&text);
        assert_eq!(e.len(), 2);
        assert_eq!(
            e[0].line, 3,
            "comments and blank lines still count as lines"
        );
        assert_eq!(e[0].hosts, "example.com,10.0.0.1");
        assert_eq!(e[1].line, 4);
        assert_eq!(e[1].hosts, "[h]:2222");
    }

    #[test]
    fn malformed_and_unknown_marker_lines_are_skipped() {
        let text = format!(
            "justonefield\n@weird h ssh-ed25519 {ED_A}\nh ssh-ed25519\n@revoked\nh ssh-ed25519 {ED_A}\n"
        );
        let e = parse(&text);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].line, 5);
    }

    #[test]
    fn plain_host_on_port_22_and_bracketed_port() {
        let k = key(ED_A);
        let text = format!("example.com ssh-ed25519 {ED_A}\n[127.0.0.1]:2222 ssh-ed25519 {ED_A}\n");
        assert!(matches!(
            check_text(&text, &host_key_name("Example.COM", 22), &k),
            Verdict::Known { line: 1, .. }
        ));
        assert!(matches!(
            check_text(&text, &host_key_name("127.0.0.1", 2222), &k),
            Verdict::Known { line: 2, .. }
        ));
        // The port matters: the same address on 22 is not known.
        assert!(matches!(
            check_text(&text, &host_key_name("127.0.0.1", 22), &k),
            Verdict::Unknown
        ));
    }

    #[test]
    fn hashed_entries_match_by_hmac() {
        // The entry ssh-keygen -H would write for [127.0.0.1]:2222 with this (fixed) salt.
        let salt = [1u8; 20];
        let name = host_key_name("127.0.0.1", 2222);
        let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &salt);
        let tag = ring::hmac::sign(&k, name.as_bytes());
        let hosts = format!(
            "|1|{}|{}",
            STANDARD.encode(salt),
            STANDARD.encode(tag.as_ref())
        );
        let text = format!("{hosts} ssh-ed25519 {ED_A}\n");
        assert!(matches!(
            check_text(&text, &name, &key(ED_A)),
            Verdict::Known { line: 1, .. }
        ));
        assert!(matches!(
            check_text(&text, "[127.0.0.1]:2223", &key(ED_A)),
            Verdict::Unknown
        ));
        // Garbage after |1| never matches and never panics.
        assert!(!parse(&format!("|1|###|### ssh-ed25519 {ED_A}"))[0].matches(&name));
        assert!(!parse(&format!("|1|nosep ssh-ed25519 {ED_A}"))[0].matches(&name));
    }

    #[test]
    fn wildcards_and_negation() {
        let k = key(ED_A);
        let text = format!(
            "*.example.com,!bad.example.com ssh-ed25519 {ED_A}\n10.0.0.? ssh-ed25519 {ED_A}\n"
        );
        assert!(matches!(
            check_text(&text, "web.example.com", &k),
            Verdict::Known { .. }
        ));
        assert!(matches!(
            check_text(&text, "bad.example.com", &k),
            Verdict::Unknown
        ));
        assert!(matches!(
            check_text(&text, "10.0.0.7", &k),
            Verdict::Known { line: 2, .. }
        ));
        assert!(matches!(
            check_text(&text, "10.0.0.17", &k),
            Verdict::Unknown
        ));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
        assert!(glob_match("*", ""));
    }

    #[test]
    fn changed_key_names_the_line_and_a_match_elsewhere_wins() {
        let other = other_ed25519();
        let text = format!("# one\n# two\n[h]:2222 ssh-ed25519 {ED_A}\n");
        assert_eq!(
            check_text(&text, "[h]:2222", &other),
            Verdict::Changed {
                file: "kh".into(),
                line: 3,
                key_type: "ssh-ed25519".into()
            }
        );
        let other_line = line_for("[h]:2222", &other).unwrap();
        let both = format!("{text}{other_line}");
        assert!(matches!(
            check_text(&both, "[h]:2222", &other),
            Verdict::Known { line: 4, .. }
        ));
    }

    #[test]
    fn a_key_of_another_type_for_a_known_host_is_a_changed_key() {
        // Recorded: only an ECDSA key. Presented: ed25519. The host is known, so this is a
        // changed key (naming the line), never an unknown one that accept-new would learn.
        let text = format!(
            "# fleet\nother ssh-ed25519 {ED_A}\nh ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBA==\n"
        );
        assert_eq!(
            check_text(&text, "h", &key(ED_A)),
            Verdict::Changed {
                file: "kh".into(),
                line: 3,
                key_type: "ecdsa-sha2-nistp256".into()
            }
        );
        assert_eq!(
            recorded_types([(Path::new("kh"), parse(&text).as_slice())], "h"),
            vec!["ecdsa-sha2-nistp256"]
        );
        // A same-type line is named first when there is one, whatever the order.
        let other = other_ed25519();
        let both = format!("{text}h ssh-ed25519 {ED_A}\n");
        assert!(matches!(
            check_text(&both, "h", &other),
            Verdict::Changed { line: 4, .. }
        ));
        // A line in a later (global) file counts like one in the first.
        let empty = parse("");
        let global = parse(&text);
        assert!(matches!(
            check(
                [
                    (Path::new("user"), empty.as_slice()),
                    (Path::new("/etc/ssh/ssh_known_hosts"), global.as_slice())
                ],
                "h",
                &key(ED_A)
            ),
            Verdict::Changed { line: 3, ref file, .. } if file == Path::new("/etc/ssh/ssh_known_hosts")
        ));
    }

    #[test]
    fn markers_are_handled_safely() {
        let k = key(ED_A);
        // A CA line neither trusts nor distrusts the key.
        let ca = format!("@cert-authority * ssh-ed25519 {ED_A}\n");
        assert!(matches!(check_text(&ca, "h", &k), Verdict::Unknown));
        // A revoked key is refused even when another line trusts it.
        let revoked = format!("h ssh-ed25519 {ED_A}\n@revoked * ssh-ed25519 {ED_A}\n");
        assert_eq!(
            check_text(&revoked, "h", &k),
            Verdict::Revoked {
                file: "kh".into(),
                line: 2
            }
        );
        // Revoking another key does not affect this one.
        let other = format!(
            "@revoked * {}",
            line_for("x", &other_ed25519())
                .unwrap()
                .split_once(' ')
                .unwrap()
                .1
        );
        assert!(matches!(
            check_text(&format!("{other}h ssh-ed25519 {ED_A}\n"), "h", &k),
            Verdict::Known { .. }
        ));
    }

    #[test]
    fn a_port_move_records_the_old_ports_keys_for_the_new_port_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let user = dir.path().join("known_hosts");
        let other = dir.path().join("other");
        std::fs::write(
            &user,
            "10.0.0.5 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey1\n@revoked 10.0.0.5 ssh-rsa AAAArevoked\n10.0.0.6 ssh-ed25519 AAAAother\n",
        )
        .expect("write");
        let files = vec![user.clone(), other];
        assert_eq!(
            record_port_move(&files, "10.0.0.5", 22, 2222).expect("record"),
            1
        );
        let text = std::fs::read_to_string(&user).expect("read");
        assert!(
            text.ends_with("[10.0.0.5]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey1\n"),
            "{text}"
        );
        // Idempotent, and back to 22 finds the key already there.
        assert_eq!(
            record_port_move(&files, "10.0.0.5", 22, 2222).expect("again"),
            0
        );
        assert_eq!(
            record_port_move(&files, "10.0.0.5", 2222, 22).expect("back"),
            0
        );
        assert!(!text.contains("AAAArevoked\n[") && !text.contains("2222 ssh-rsa"));
    }

    #[test]
    fn append_creates_private_file_and_adds_missing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/known_hosts");
        append(&path, "a ssh-ed25519 AAAA\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
            assert_eq!(
                std::fs::metadata(path.parent().unwrap())
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777,
                0o700
            );
        }
        std::fs::write(&path, "x ssh-ed25519 AAAA").unwrap();
        append(&path, "b ssh-ed25519 BBBB\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "x ssh-ed25519 AAAA\nb ssh-ed25519 BBBB\n"
        );
    }

    #[test]
    fn store_rereads_a_changed_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kh");
        let store = Store::default();
        assert!(store.load(std::slice::from_ref(&path))[0].1.is_empty());
        std::fs::write(&path, format!("h ssh-ed25519 {ED_A}\n")).unwrap();
        assert_eq!(store.load(std::slice::from_ref(&path))[0].1.len(), 1);
    }
}
