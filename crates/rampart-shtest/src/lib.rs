//! A dev-only harness for the host-side shell scripts rampart sends: it runs a script under
//! `dash` (the `/bin/sh` of Debian and Ubuntu hosts) in a temporary root, with fake commands
//! first on `PATH`.
//!
//! A fake (a "stub") is a small sh script that appends its name and argv to a log and exits
//! with a chosen status, optionally printing something first or running a body of its own, so
//! a test can make `systemctl`, `iptables-save`, `sshd -t`, `visudo`, `apt-get` or even `mv`
//! fail exactly where it wants and then read which commands the script ran.
//!
//! ```no_run
//! let Some(sh) = rampart_shtest::Sh::new() else { return }; // no dash: skipped, loudly
//! sh.stub("systemctl", 0);
//! let out = sh.run("systemctl restart ssh\n", &[]);
//! assert!(out.ok());
//! assert_eq!(sh.calls(), ["systemctl restart ssh"]);
//! ```
//!
//! Tests that need dash call [`Sh::new`], which prints a clear "skipped" line and returns
//! `None` when dash is absent.

use std::fmt;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where dash is, if this machine has it.
pub fn dash() -> Option<PathBuf> {
    ["/usr/bin/dash", "/bin/dash"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Whether perl runs here: the host-side clients of daemons' sockets are perl (perl-base is
/// Essential on the hosts), and their tests skip, saying so, on a machine without it.
pub fn perl() -> bool {
    let ok = Command::new("perl")
        .arg("-e1")
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIPPED: perl is not installed (perl-base is Essential on the hosts)");
    }
    ok
}

/// A temporary root with a `bin/` of stubs, a call log, and dash to run scripts.
#[derive(Debug)]
pub struct Sh {
    dir: tempfile::TempDir,
    dash: PathBuf,
    env: Vec<(String, String)>,
}

/// What a script run produced.
#[derive(Clone, PartialEq, Eq)]
pub struct Out {
    /// Exit status (`-1` when killed by a signal).
    pub status: i32,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error, as text.
    pub stderr: String,
}

impl Out {
    /// Exit status 0.
    pub fn ok(&self) -> bool {
        self.status == 0
    }

    /// Standard output as text.
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

impl fmt::Debug for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.status,
            String::from_utf8_lossy(&self.stdout),
            self.stderr
        )
    }
}

impl Sh {
    /// A fresh root, or `None` (after an `eprintln!` saying the test is skipped) when dash is
    /// not installed.
    pub fn new() -> Option<Self> {
        let Some(dash) = dash() else {
            eprintln!(
                "SKIPPED: dash is not installed (apt-get install dash); this test runs host scripts under dash"
            );
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("rampart-shtest.")
            .tempdir()
            .expect("a temporary directory");
        std::fs::create_dir(dir.path().join("bin")).expect("bin/");
        std::fs::create_dir(dir.path().join("root")).expect("root/");
        std::fs::write(dir.path().join("calls.log"), b"").expect("calls.log");
        Some(Self {
            dir,
            dash,
            env: Vec::new(),
        })
    }

    /// The temporary root the script works in (its working directory): `path("etc/x")` is a
    /// file in it. Scripts get absolute paths below it as arguments.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// The directory of the stubs (for a script that sets its own `PATH`).
    pub fn bin(&self) -> String {
        self.dir.path().join("bin").display().to_string()
    }

    /// An absolute path below [`Sh::root`], as a string (scripts take paths as text).
    pub fn path(&self, rel: &str) -> String {
        let p = self.root().join(rel.trim_start_matches('/'));
        p.to_str().expect("temporary paths are UTF-8").to_owned()
    }

    /// Writes a file below the root, creating its parent directories.
    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> String {
        let p = self.path(rel);
        if let Some(parent) = Path::new(&p).parent() {
            std::fs::create_dir_all(parent).expect("parent directories");
        }
        std::fs::write(&p, content).expect("write a file below the root");
        p
    }

    /// Reads a file below the root; `None` when it does not exist.
    pub fn read(&self, rel: &str) -> Option<String> {
        std::fs::read(self.path(rel))
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// The names in a directory below the root, sorted.
    pub fn ls(&self, rel: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.path(rel))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Only the stubs and /usr/bin, /bin on PATH: a command not stubbed there is not installed.
    pub fn bare_path(&mut self) -> &mut Self {
        let bin = self.dir.path().join("bin");
        self.env("PATH", &format!("{}:/usr/bin:/bin", bin.display()))
    }

    /// Runs an audit check's command as the probe does: `$1` is the connection's
    /// `SSH_CONNECTION` (client 10.213.1.1, server port 22).
    pub fn run_check(&self, command: &str) -> Out {
        self.run(command, &["10.213.1.1 50000 10.213.1.2 22"])
    }

    /// Sets an environment variable for the scripts this harness runs.
    pub fn env(&mut self, key: &str, value: &str) -> &mut Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// A fake `name` on PATH that logs its argv and exits with `status`.
    pub fn stub(&self, name: &str, status: i32) -> &Self {
        self.stub_body(name, &format!("exit {status}"))
    }

    /// A fake `name` that logs its argv, prints `stdout` and exits with `status`.
    pub fn stub_output(&self, name: &str, status: i32, stdout: &str) -> &Self {
        let p = self.dir.path().join(format!("bin/{name}.out"));
        std::fs::write(&p, stdout).expect("stub output");
        self.stub_body(
            name,
            &format!(
                "cat '{}'\nexit {status}",
                p.display().to_string().replace('\'', "")
            ),
        )
    }

    /// A fake `name` that logs its argv and then runs `body` (sh code; `"$@"` is its argv).
    pub fn stub_body(&self, name: &str, body: &str) -> &Self {
        let log = self.dir.path().join("calls.log");
        let script = format!(
            "#!{dash}\n{{ printf '%s' {name}; for a in \"$@\"; do printf ' %s' \"$a\"; done; echo; }} >> '{log}'\n{body}\n",
            dash = self.dash.display(),
            name = name,
            log = log.display(),
        );
        let p = self.dir.path().join("bin").join(name);
        std::fs::write(&p, script).expect("write a stub");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        self
    }

    /// A fake `name` that logs its argv and then runs the real command found on the system
    /// PATH (so a test can see a call without changing it).
    pub fn spy(&self, name: &str) -> &Self {
        let real = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
            .iter()
            .map(|d| Path::new(d).join(name))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("no real {name} to spy on"));
        self.stub_body(name, &format!("exec '{}' \"$@\"", real.display()))
    }

    /// The stubs' calls so far, one line each: the name, then each argument after a space.
    pub fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Forgets the calls logged so far.
    pub fn clear_calls(&self) {
        std::fs::write(self.dir.path().join("calls.log"), b"").expect("calls.log");
    }

    /// Runs `script` with `dash -s -- ARGS` (the script on stdin, as rampart sends it) in the
    /// root, stubs first on PATH. Use [`Sh::run_with_stdin`] for a script that reads data on
    /// stdin (`dash -c SCRIPT sh ARGS`).
    pub fn run(&self, script: &str, args: &[&str]) -> Out {
        self.spawn(&["-s", "--"], args, script.as_bytes())
    }

    /// Runs `script` with `dash -c SCRIPT sh ARGS` and `stdin` as its input (how a script that
    /// reads data on stdin, like an atomic file write, runs).
    pub fn run_with_stdin(&self, script: &str, args: &[&str], stdin: &[u8]) -> Out {
        self.spawn(&["-c", script, "sh"], args, stdin)
    }

    fn spawn(&self, pre: &[&str], args: &[&str], stdin: &[u8]) -> Out {
        let path = format!(
            "{}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            self.dir.path().join("bin").display()
        );
        let mut cmd = Command::new(&self.dash);
        cmd.args(pre)
            .args(args)
            .current_dir(self.root())
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.root())
            .env("LC_ALL", "C")
            .env("TMPDIR", self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("dash starts");
        let mut input = child.stdin.take().expect("stdin");
        let data = stdin.to_vec();
        let writer = std::thread::spawn(move || {
            // A script may exit without reading all of its input: a broken pipe is fine.
            let _ = input.write_all(&data);
        });
        let out = child.wait_with_output().expect("dash runs");
        let _ = writer.join();
        Out {
            status: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Runs `shellcheck -s sh` on `files`; `Ok(None)` when shellcheck is not installed (the
/// caller says so loudly), `Err(report)` when it finds anything.
pub fn shellcheck(files: &[PathBuf]) -> Result<Option<()>, String> {
    if files.is_empty() {
        return Ok(Some(()));
    }
    let out = match Command::new("shellcheck")
        .args(["-s", "sh", "-x", "--"])
        .args(files)
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot run shellcheck: {e}")),
    };
    if out.status.success() {
        Ok(Some(()))
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stubs_log_their_argv_and_exit_with_their_status() {
        let Some(sh) = Sh::new() else { return };
        sh.stub("systemctl", 0).stub("visudo", 1);
        let out = sh.run(
            "systemctl restart 'a b'\nvisudo -cf x || { echo bad >&2; exit 3; }\n",
            &[],
        );
        assert_eq!(out.status, 3, "{out:?}");
        assert_eq!(out.stderr, "bad\n");
        assert_eq!(sh.calls(), ["systemctl restart a b", "visudo -cf x"]);
    }

    #[test]
    fn scripts_get_positional_arguments_and_run_in_the_root() {
        let Some(sh) = Sh::new() else { return };
        let f = sh.write("etc/x.conf", "hi\n");
        let out = sh.run("cat \"$1\"; pwd", &[&f]);
        assert!(out.ok(), "{out:?}");
        assert_eq!(
            out.stdout_str(),
            format!("hi\n{}\n", sh.root().canonicalize().unwrap().display())
        );
    }

    #[test]
    fn stdin_reaches_a_c_script_and_stubs_can_print() {
        let Some(sh) = Sh::new() else { return };
        sh.stub_output("iptables-save", 0, "*filter\nCOMMIT\n");
        let out = sh.run_with_stdin("cat > \"$1\"; iptables-save", &["got"], b"data");
        assert!(out.ok(), "{out:?}");
        assert_eq!(sh.read("got").as_deref(), Some("data"));
        assert_eq!(out.stdout_str(), "*filter\nCOMMIT\n");
    }
}
