//! Every host-side script in the repository (`*.sh` tracked by git under crates/ and roles/)
//! passes `shellcheck -s sh`: they are POSIX sh run by dash on the hosts.

use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn every_host_script_passes_shellcheck() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new("git")
        .args(["ls-files", "-z", "--", "crates/*.sh", "roles/*.sh"])
        .current_dir(&root)
        .output();
    let files: Vec<PathBuf> = match out {
        Ok(out) if out.status.success() => out
            .stdout
            .split(|&b| b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| root.join(String::from_utf8_lossy(s).as_ref()))
            .collect(),
        _ => {
            eprintln!("SKIPPED: not a git checkout (git ls-files failed): no script list");
            return;
        }
    };
    match rampart_shtest::shellcheck(&files) {
        Ok(Some(())) => {}
        Ok(None) => eprintln!(
            "\n\n!!! SKIPPED: shellcheck is not installed (apt-get install shellcheck): {} host scripts NOT linted !!!\n",
            files.len()
        ),
        Err(report) => panic!("shellcheck found problems:\n{report}"),
    }
}
