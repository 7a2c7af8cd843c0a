//! The controller's memory of the costly probe sections (`sshd -T`, `dpkg-query` and
//! `apt-config dump`) and of the files' contents (a text file's content with find's record of
//! it, while the record is the same the probe leaves the file out of its tar;
//! `FactRequest::may_remember` says which files may be kept).
//!
//! A host's answer to them only changes when one of the files they read changes, and the probe
//! already stats files: it prints a fingerprint of those files (find's records: size, mtime,
//! ctime and inode of each) with a fresh answer, and rampart keeps both here, one small JSON
//! file per host (`<dir>/<hash of its Identity>.json`, mode 0600: the inventory name, the
//! jump chain and the host key verified on each hop, see [`Identity`]). On the next run the probe
//! gets the fingerprint back and answers `@cached` while the files are the same, which saves
//! the host two processes (13 ms of its CPU, 15% of a no-change run). See
//! `FactRequest::cached` for what is fingerprinted.
//!
//! Best effort: an unreadable, missing or corrupt file only means a fresh answer. It is on the
//! controller; nothing is written to a host. The verify step and the re-probes after a change
//! never use it; `rampart audit` takes a remembered `sshd -T` only on exact terms
//! (`FactRequest::sshd_exact`), and `apt-config dump` is always held to those.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rampart_core::facts::Cached;
use sha2::{Digest, Sha256};

/// Whose answers a cache file holds: the host as the inventory names it, and how this run
/// reached it, every hop (`user@host:port`, bastions first, the target last) with the
/// fingerprint of the host key the transport verified on it for this connection.
///
/// An address alone names no host: two hosts with the same private address behind different
/// bastions would share answers, and a hostile one could plant a forged `sshd -T` answer that
/// the other then answers `@cached` to. With the name, the whole jump chain and the verified
/// host keys in the key, a host only ever reads back what it (the same name, reached the same
/// way, proving the same key) answered itself; a new host key or bastion starts afresh.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The inventory name.
    pub name: String,
    /// Each hop, first first: `user@host:port` and the verified host key's fingerprint.
    pub route: Vec<(String, String)>,
}

impl Identity {
    /// The identity of the host at the end of `session`, as the inventory names it.
    pub fn of(name: &str, session: &rampart_ssh::Session) -> Self {
        Identity {
            name: name.to_owned(),
            route: session.route(),
        }
    }

    /// The identity as JSON: hashed into the file name and kept inside the file, unambiguous
    /// whatever a name holds.
    fn json(&self) -> serde_json::Value {
        serde_json::json!({"name": self.name, "route": self.route})
    }

    /// Usable only with a verified host key for every hop.
    fn usable(&self) -> bool {
        !self.route.is_empty() && self.route.iter().all(|(_, k)| !k.is_empty())
    }
}

/// One cache file: the identity it belongs to, checked on every load, and the answers.
#[derive(serde::Serialize, serde::Deserialize)]
struct Entry {
    identity: serde_json::Value,
    answers: BTreeMap<String, Cached>,
}

fn file(dir: &Path, id: &Identity) -> PathBuf {
    let digest = Sha256::digest(id.json().to_string().as_bytes());
    dir.join(format!("{}.json", &hex::encode(digest)[..32]))
}

/// What the controller remembers of a host (empty when nothing or nothing usable, and when
/// the file belongs to another identity).
pub fn load(dir: &Path, id: &Identity) -> BTreeMap<String, Cached> {
    if !id.usable() {
        return BTreeMap::new();
    }
    std::fs::read(file(dir, id))
        .ok()
        .and_then(|b| serde_json::from_slice::<Entry>(&b).ok())
        .filter(|e| e.identity == id.json())
        .map(|e| e.answers)
        .unwrap_or_default()
}

/// [`load`] without the answers' outputs (each keeps its record or fingerprint and its
/// arguments): what the probe script needs. A file's content, `apt-config dump` (~15 KB) and
/// the rest stay on disk while the probe is out, so a thousand hosts' probes in flight do not
/// hold a thousand cache files.
pub fn load_records(dir: &Path, id: &Identity) -> BTreeMap<String, Cached> {
    let mut all = load(dir, id);
    for c in all.values_mut() {
        c.output = String::new();
    }
    all
}

/// Remembers fresh answers (merged over `old`). Written atomically: temp file, then rename.
pub fn store(
    dir: &Path,
    id: &Identity,
    old: &BTreeMap<String, Cached>,
    updates: &BTreeMap<String, Cached>,
) {
    if updates.is_empty() || !id.usable() {
        return;
    }
    let mut all = old.clone();
    all.extend(updates.iter().map(|(k, v)| (k.clone(), v.clone())));
    let entry = Entry {
        identity: id.json(),
        answers: all,
    };
    if let Err(e) = write(dir, &file(dir, id), &entry) {
        tracing::debug!(host = %id.name, error = %e, "cannot remember probe answers");
    }
}

fn write(dir: &Path, path: &Path, entry: &Entry) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    crate::localfs::write_atomic(
        path,
        &serde_json::to_vec(entry).map_err(std::io::Error::other)?,
        crate::localfs::Access::Private,
    )
}

/// Where the controller keeps it: `$RAMPART_CACHE_DIR/facts` (an empty value turns it off),
/// else `$XDG_CACHE_HOME/rampart/facts`, else `~/.cache/rampart/facts`.
pub fn default_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("RAMPART_CACHE_DIR") {
        return (!d.is_empty()).then(|| PathBuf::from(d).join("facts"));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("rampart").join("facts"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str, route: &[(&str, &str)]) -> Identity {
        Identity {
            name: name.into(),
            route: route
                .iter()
                .map(|(h, k)| ((*h).to_owned(), (*k).to_owned()))
                .collect(),
        }
    }

    fn cached(fp: &str, output: &str) -> Cached {
        Cached {
            fp: fp.into(),
            args: String::new(),
            output: output.into(),
        }
    }

    #[test]
    fn remembers_per_host_and_merges_updates() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("facts");
        let web = id("web", &[("root@10.0.0.1:22", "SHA256:web")]);
        assert!(load(&d, &web).is_empty());
        let one = BTreeMap::from([("sshd".to_owned(), cached("a", "port 22"))]);
        store(&d, &web, &BTreeMap::new(), &one);
        assert_eq!(load(&d, &web), one);
        assert!(
            load(&d, &id("web", &[("root@10.0.0.1:2222", "SHA256:web")])).is_empty(),
            "another port, another host"
        );
        let two = BTreeMap::from([("packages".to_owned(), cached("b", "p"))]);
        store(&d, &web, &one, &two);
        assert_eq!(load(&d, &web).len(), 2);
        // What the probe needs: every fingerprint, no output.
        let records = load_records(&d, &web);
        assert_eq!(
            records
                .iter()
                .map(|(k, c)| (k.as_str(), c.fp.as_str(), c.output.as_str()))
                .collect::<Vec<_>>(),
            [("packages", "b", ""), ("sshd", "a", "")]
        );
        std::fs::write(file(&d, &web), "{not json").unwrap();
        assert!(load(&d, &web).is_empty(), "corrupt: a fresh answer");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            store(&d, &web, &BTreeMap::new(), &one);
            let mode = std::fs::metadata(file(&d, &web))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    /// Finding 4 of issue 18: two hosts with the same private address behind different
    /// bastions. The hostile one answers with the victim's fingerprint and a forged `sshd -T`;
    /// the victim must never be sent (and so never answer `@cached` to) that forged answer.
    #[test]
    fn a_host_never_reads_answers_another_host_planted() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("facts");
        let victim = id(
            "db",
            &[
                ("ops@bastion-a:22", "SHA256:bastionA"),
                ("root@10.0.0.5:22", "SHA256:victim"),
            ],
        );
        let genuine = BTreeMap::from([("sshd".to_owned(), cached("FP", "permitrootlogin no"))]);
        store(&d, &victim, &BTreeMap::new(), &genuine);
        // Same address and port, another bastion, another name, another key.
        let hostile = id(
            "evil",
            &[
                ("ops@bastion-b:22", "SHA256:bastionB"),
                ("root@10.0.0.5:22", "SHA256:evil"),
            ],
        );
        assert!(load(&d, &hostile).is_empty(), "the victim's answers leak");
        let forged = BTreeMap::from([(
            "sshd".to_owned(),
            cached("FP", "permitrootlogin yes\nallowusers nobody"),
        )]);
        store(&d, &hostile, &BTreeMap::new(), &forged);
        assert_eq!(
            load(&d, &victim),
            genuine,
            "the forged answer reached the victim"
        );
        // Each part of the identity counts on its own.
        for other in [
            id(
                "db",
                &[
                    ("ops@bastion-b:22", "SHA256:bastionB"),
                    ("root@10.0.0.5:22", "SHA256:victim"),
                ],
            ),
            id(
                "db",
                &[
                    ("ops@bastion-a:22", "SHA256:bastionA"),
                    ("root@10.0.0.5:22", "SHA256:evil"),
                ],
            ),
            id(
                "db2",
                &[
                    ("ops@bastion-a:22", "SHA256:bastionA"),
                    ("root@10.0.0.5:22", "SHA256:victim"),
                ],
            ),
            id("db", &[("root@10.0.0.5:22", "SHA256:victim")]),
        ] {
            store(&d, &other, &BTreeMap::new(), &forged);
            assert_eq!(load(&d, &victim), genuine, "{other:?}");
            assert_eq!(load(&d, &other), forged, "{other:?}");
        }
        // A file renamed into the victim's place is refused: it names another identity.
        std::fs::copy(file(&d, &hostile), file(&d, &victim)).unwrap();
        assert!(load(&d, &victim).is_empty());
        // No verified key, no cache.
        let unverified = id("db", &[("root@10.0.0.5:22", "")]);
        store(&d, &unverified, &BTreeMap::new(), &forged);
        assert!(load(&d, &unverified).is_empty());
    }
}
