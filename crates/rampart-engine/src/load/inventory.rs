//! Loading an inventory from disk: one file in any format, or a directory whose inventory files
//! are merged (as Ansible does), plus the `group_vars/` and `host_vars/` next to it.
//!
//! Files in a directory are read in name order; hidden files, backups and files that cannot be
//! inventories (`.md`, `.txt`, `.cfg`, scripts, ...) are skipped. `group_vars/NAME.yml` (or
//! `.yaml`, `.json`, `.toml`, or no extension) holds group `NAME`'s variables, as does every
//! file under `group_vars/NAME/`; `host_vars/` the same for hosts.

use std::fs;
use std::path::{Path, PathBuf};

use rampart_core::InputError;
use rampart_core::inventory::{self, Draft, Inventory};
use rampart_core::vars::{self, Layer};

use super::{io_error, read_text};

/// Directories nested deeper than this in a directory inventory are not read (a symlink loop
/// must not hang the run).
const MAX_DEPTH: usize = 8;

/// Extensions of files that are never inventories or variable files.
const SKIPPED_EXTENSIONS: &[&str] = &[
    "orig", "bak", "retry", "pyc", "pyo", "swp", "md", "txt", "cfg", "rst", "j2", "sh", "py",
    "age", "gpg",
];

/// Reads an inventory file or directory with its `group_vars/` and `host_vars/`.
pub fn load_inventory(path: &Path) -> Result<Inventory, InputError> {
    const HINT: &str = "pass an inventory file or directory with -i (e.g. -i inventory/prod.toml)";
    let meta = fs::metadata(path).map_err(|e| io_error(path, "inventory", &e).with_hint(HINT))?;
    let (mut draft, base) = if meta.is_dir() {
        let mut files = Vec::new();
        inventory_files(path, 0, &mut files)?;
        if files.is_empty() {
            return Err(InputError::in_file(
                path,
                "this inventory directory has no inventory files",
            )
            .with_hint(
                "add a .toml, .ini or .yml inventory to it, or pass the file itself with -i",
            ));
        }
        let mut draft = Draft::new(path);
        for f in files {
            let text = read_text(&f, "inventory", HINT)?;
            draft.merge(inventory::parse_draft(&f, &text)?);
        }
        (draft, path.to_path_buf())
    } else {
        let text = read_text(path, "inventory", HINT)?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        (inventory::parse_draft(path, &text)?, base)
    };
    for (name, layer) in vars_dir(&base.join("group_vars"))? {
        draft.add_group_vars(&name, layer);
    }
    for (name, layer) in vars_dir(&base.join("host_vars"))? {
        draft.add_host_vars(&name, layer);
    }
    draft.finish(path)
}

fn is_skipped(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return true;
    };
    if name.starts_with('.') || name.ends_with('~') || name.starts_with('#') {
        return true;
    }
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| SKIPPED_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Names in a directory, sorted, so loading is deterministic.
fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, InputError> {
    let read = fs::read_dir(dir).map_err(|e| io_error(dir, "directory", &e))?;
    let mut out = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| io_error(dir, "directory", &e))?;
        out.push(entry.path());
    }
    out.sort();
    Ok(out)
}

fn inventory_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), InputError> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    for p in sorted_entries(dir)? {
        if is_skipped(&p) {
            continue;
        }
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_dir() {
            if name != "group_vars" && name != "host_vars" {
                inventory_files(&p, depth + 1, out)?;
            }
        } else {
            out.push(p);
        }
    }
    Ok(())
}

/// True for files a `*_vars/` directory may hold.
fn is_vars_file(path: &Path) -> bool {
    match path.extension().and_then(|e| e.to_str()) {
        None => true,
        Some(e) => matches!(
            e.to_ascii_lowercase().as_str(),
            "yml" | "yaml" | "json" | "toml"
        ),
    }
}

/// The variable files of a `group_vars/` or `host_vars/` directory, by group or host name, in
/// name order; nothing when the directory does not exist.
fn vars_dir(dir: &Path) -> Result<Vec<(String, Layer)>, InputError> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for p in sorted_entries(dir)? {
        if is_skipped(&p) {
            continue;
        }
        if p.is_dir() {
            let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let mut files = Vec::new();
            vars_files(&p, 0, &mut files)?;
            let mut layer = Layer::new();
            for f in files {
                layer.merge(&read_vars(&f)?);
            }
            out.push((name.to_owned(), layer));
        } else if is_vars_file(&p) {
            let Some(name) = p.file_stem().and_then(|n| n.to_str()) else {
                continue;
            };
            out.push((name.to_owned(), read_vars(&p)?));
        }
    }
    Ok(out)
}

fn vars_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), InputError> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    for p in sorted_entries(dir)? {
        if is_skipped(&p) {
            continue;
        }
        if p.is_dir() {
            vars_files(&p, depth + 1, out)?;
        } else if is_vars_file(&p) {
            out.push(p);
        }
    }
    Ok(())
}

fn read_vars(path: &Path) -> Result<Layer, InputError> {
    let text = read_text(
        path,
        "variables file",
        "group_vars/ and host_vars/ hold .yml, .yaml, .json or .toml files",
    )?;
    vars::parse_vars_file(path, &text)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use serde_json::json;

    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(p, text).unwrap();
    }

    #[test]
    fn directory_inventories_merge_every_file() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "10-hosts.ini",
            "[web]\nh1 ansible_host=10.0.0.1\n",
        );
        write(
            d.path(),
            "20-more.yml",
            "all:\n  children:\n    db:\n      hosts:\n        h2:\n",
        );
        write(
            d.path(),
            "30-extra.toml",
            "[hosts.h3]\naddress = \"10.0.0.3\"\n",
        );
        write(d.path(), "README.md", "not an inventory [\n");
        write(d.path(), ".hidden", "garbage [\n");
        write(d.path(), "hosts.ini~", "garbage [\n");
        write(d.path(), "group_vars/all.yml", "tz: UTC\n");
        write(d.path(), "group_vars/web/a.yml", "tier: front\nx: 1\n");
        write(d.path(), "group_vars/web/b.toml", "x = 2\n");
        write(d.path(), "host_vars/h2.json", "{\"ansible_port\": 2222}");
        let inv = load_inventory(d.path()).unwrap();
        let names: Vec<&str> = inv.host_names().collect();
        assert_eq!(names, ["h1", "h2", "h3"]);
        assert_eq!(
            inv.host("h1").unwrap().vars.value,
            json!({"tz": "UTC", "tier": "front", "x": 2})
        );
        assert_eq!(inv.host("h2").unwrap().conn.port(), Some(2222));
        assert_eq!(inv.host("h3").unwrap().address(), "10.0.0.3");
        assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);
    }

    #[test]
    fn errors_name_the_file() {
        let d = tempfile::tempdir().unwrap();
        let missing = d.path().join("nope.toml");
        let e = load_inventory(&missing).unwrap_err();
        assert_eq!(e.location.file, missing);
        assert!(e.message.contains("no such file or directory"), "{e}");
        assert!(e.hint.is_some());

        write(d.path(), "inv/hosts.ini", "[web]\nh1\n");
        write(d.path(), "inv/group_vars/web.yml", "tier: [front\n");
        let e = load_inventory(&d.path().join("inv/hosts.ini")).unwrap_err();
        assert_eq!(e.location.file, d.path().join("inv/group_vars/web.yml"));
        assert_eq!(e.location.line, Some(1), "{e}");

        let empty = d.path().join("empty");
        fs::create_dir_all(&empty).unwrap();
        let e = load_inventory(&empty).unwrap_err();
        assert!(e.message.contains("no inventory files"), "{e}");
    }
}
