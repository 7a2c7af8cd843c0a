//! Reading the operator's files: inventories (a file or a directory of them, with
//! `group_vars/` and `host_vars/`), the site file, and `-e` extra vars (`@file` included).
//!
//! **Invariant:** this is the only place input files are read; parsing is `rampart-core`'s,
//! which gets `(path, text)`. Every failure, a missing file included, is an [`InputError`]
//! naming the file, with a hint.

mod inventory;

use std::io;
use std::path::Path;

use rampart_core::InputError;
use rampart_core::site::{Site, parse_site};
use rampart_core::vars::{self, Layer};

pub use inventory::load_inventory;

/// Reads and parses the site file.
pub fn load_site(path: &Path, known_roles: &[&str]) -> Result<Site, InputError> {
    let text = read_text(
        path,
        "site file",
        "pass the site file with --site FILE (default site.toml)",
    )?;
    parse_site(path, &text, known_roles)
}

/// Parses every `-e` argument, in order, into one layer (later arguments win). `@FILE` reads
/// a `.toml`, `.yml`/`.yaml` or `.json` file; anything else is `key=value` (see
/// [`vars::parse_extra`]).
pub fn load_extra(args: &[String]) -> Result<Layer, InputError> {
    let mut layer = Layer::new();
    for (i, arg) in args.iter().enumerate() {
        let one = match arg.strip_prefix('@') {
            Some(file) => {
                let path = Path::new(file);
                let text = read_text(
                    path,
                    "extra vars file",
                    "-e @FILE takes a path to a .toml, .yml, .yaml or .json file of variables",
                )?;
                vars::parse_vars_file(path, &text)?
            }
            None => vars::parse_extra(arg, i + 1)?,
        };
        layer.merge(&one);
    }
    Ok(layer)
}

/// Reads a UTF-8 text file, or says which file could not be read, why, and what to do.
pub(crate) fn read_text(path: &Path, what: &str, hint: &str) -> Result<String, InputError> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|e| {
            let at = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(e.as_bytes());
            InputError::new(
                rampart_core::Location::from_offset(path, &text, at),
                format!("the {what} is not UTF-8 text"),
            )
            .with_hint("save it as UTF-8")
        }),
        Err(e) => Err(io_error(path, what, &e).with_hint(hint)),
    }
}

/// An IO failure as an input error about `path`.
pub(crate) fn io_error(path: &Path, what: &str, e: &io::Error) -> InputError {
    let why = match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        io::ErrorKind::IsADirectory => "it is a directory".to_owned(),
        _ => e.to_string(),
    };
    InputError::in_file(path, format!("cannot read the {what}: {why}"))
}

#[cfg(test)]
mod tests {
    use std::fs;

    use serde_json::json;

    use super::*;

    #[test]
    fn extra_vars_in_order_with_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("more.yml");
        fs::write(&file, "sshd:\n  port: 2200\n  x: 1\n").unwrap();
        let args = vec![
            "sshd.port=2222".to_owned(),
            format!("@{}", file.display()),
            "tz=UTC".to_owned(),
        ];
        let l = load_extra(&args).unwrap();
        assert_eq!(
            l.value,
            json!({"sshd": {"port": 2200, "x": 1}, "tz": "UTC"})
        );
        assert_eq!(
            l.origin("sshd.port").unwrap().to_string(),
            format!("{}:2:9", file.display())
        );
        assert_eq!(l.origin("tz").unwrap().to_string(), "<command line -e #3>");
    }

    #[test]
    fn missing_files_name_the_file() {
        let e = load_extra(&["@/nonexistent/vars.yml".to_owned()]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/nonexistent/vars.yml: cannot read the extra vars file: no such file or directory\n  hint: -e @FILE takes a path to a .toml, .yml, .yaml or .json file of variables"
        );
        let e = load_site(Path::new("/nonexistent/site.toml"), &[]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/nonexistent/site.toml: cannot read the site file: no such file"),
            "{e}"
        );
        assert!(e.hint.is_some());
    }

    #[test]
    fn non_utf8_is_an_error_at_the_byte() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("site.toml");
        fs::write(&file, b"name = \"a\"\nx = \"\xff\"\n").unwrap();
        let e = load_site(&file, &[]).unwrap_err();
        assert_eq!(e.location.line, Some(2), "{e}");
        assert!(e.message.contains("not UTF-8"), "{e}");
    }

    #[test]
    fn site_loads() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("site.toml");
        fs::write(&file, "[[play]]\nhosts = \"all\"\nroles = [\"base\"]\n").unwrap();
        let s = load_site(&file, &["base"]).unwrap();
        assert_eq!(s.plays.len(), 1);
    }
}
