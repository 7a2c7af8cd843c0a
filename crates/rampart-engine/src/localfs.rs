//! Files the controller writes on the operator's machine (the run journal, the fact cache,
//! reports): whole or not at all. The bytes go to a temporary file beside the target, which is
//! then renamed over it; on any failure the temporary file is removed and the target keeps its
//! old contents. Portable: nothing here is Linux-only.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Who may read the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// The mode the umask gives any new file: reports, the journal.
    Shared,
    /// Owner only (0600 on Unix): the fact cache, which holds host configuration.
    Private,
}

/// Writes `bytes` to `path` atomically (temporary file in the same directory, then rename).
/// The parent directory must exist.
pub fn write_atomic(path: &Path, bytes: &[u8], access: Access) -> std::io::Result<()> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    // Unique per process and per call: two runs (or two hosts of one run) never share one.
    let tmp = path.with_file_name(format!(
        ".{}.rampart-{}-{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        if access == Access::Private {
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Opens `path` for appending (created when missing, with `access`): every `write` of a whole
/// line lands at the end as one piece, whoever else appends (a run's log: JSON Lines).
pub fn open_append(path: &Path, access: Access) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.append(true).create(true);
    #[cfg(unix)]
    if access == Access::Private {
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    }
    #[cfg(not(unix))]
    let _ = access;
    opts.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[test]
    fn writes_and_replaces_whole_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("journal.json");
        write_atomic(&p, b"first, and longer", Access::Shared).expect("write");
        write_atomic(&p, b"second", Access::Shared).expect("replace");
        assert_eq!(std::fs::read(&p).expect("read"), b"second");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn a_failed_write_leaves_the_target_and_no_temporary_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A directory in the way: the rename fails after the temporary file was written.
        let p = dir.path().join("taken");
        std::fs::create_dir(&p).expect("mkdir");
        std::fs::write(p.join("inside"), "kept").expect("write");
        assert!(write_atomic(&p, b"new", Access::Shared).is_err());
        assert_eq!(
            std::fs::read_to_string(p.join("inside")).expect("read"),
            "kept"
        );
        assert!(
            leftovers(dir.path()).is_empty(),
            "{:?}",
            leftovers(dir.path())
        );
        assert!(write_atomic(Path::new("/"), b"x", Access::Shared).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_the_owners_alone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("cache.json");
        write_atomic(&p, b"{}", Access::Private).expect("write");
        let mode = std::fs::metadata(&p).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
