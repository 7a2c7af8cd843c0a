//! Test harness: real OpenSSH daemons and agents on 127.0.0.1, each in its own temp dir, killed
//! by PID when dropped (only processes this harness started).
//!
//! Works as root (CI) and as a normal user: sshd then only lets that same user in, which is
//! the user every test logs in as.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rampart_ssh::{ClientOptions, HostKeyPolicy, Target};
use tempfile::TempDir;

pub const SSHD: &str = "/usr/sbin/sshd";

/// True (and a note on stderr) when this machine cannot run the OpenSSH tests.
pub fn skip() -> bool {
    if !Path::new(SSHD).exists() {
        eprintln!("skipping: sshd not installed ({SSHD} missing)");
        return true;
    }
    false
}

/// The user the tests run as, and log in as.
pub fn whoami() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un runs");
    String::from_utf8(out.stdout)
        .expect("utf-8 user name")
        .trim()
        .to_owned()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

/// A key pair made with ssh-keygen.
#[derive(Debug, Clone)]
pub struct Key {
    pub private: PathBuf,
    pub public_line: String,
}

/// `ssh-keygen -t <kind>` into `dir`, optionally with a passphrase.
pub fn keygen(dir: &Path, name: &str, kind: &str, passphrase: &str) -> Key {
    let private = dir.join(name);
    let mut cmd = Command::new("ssh-keygen");
    cmd.args(["-q", "-t", kind, "-N", passphrase, "-C", name, "-f"])
        .arg(&private);
    if kind == "rsa" {
        cmd.args(["-b", "2048"]);
    }
    let st = cmd.stdin(Stdio::null()).status().expect("ssh-keygen runs");
    assert!(st.success(), "ssh-keygen -t {kind} failed");
    let public_line =
        std::fs::read_to_string(private.with_extension("pub")).expect("public key written");
    Key {
        private,
        public_line: public_line.trim().to_owned(),
    }
}

/// A running sshd.
#[derive(Debug)]
pub struct Sshd {
    pub port: u16,
    pub dir: TempDir,
    /// `ssh-ed25519 AAAA...` of the host key.
    pub host_key: String,
    child: Child,
}

impl Sshd {
    /// sshd with the default test config.
    pub fn start() -> Sshd {
        Sshd::start_with("")
    }

    /// sshd with extra config lines appended (e.g. `PubkeyAcceptedAlgorithms rsa-sha2-256`).
    pub fn start_with(extra: &str) -> Sshd {
        if is_root() && !Path::new("/run/sshd").exists() {
            // sshd's privilege separation directory; the openssh-server service normally makes
            // it at start, containers often lack it.
            let _ = std::fs::create_dir_all("/run/sshd");
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let host_key_path = dir.path().join("host_ed25519");
        let st = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&host_key_path)
            .stdin(Stdio::null())
            .status()
            .expect("ssh-keygen runs");
        assert!(st.success());
        let host_key =
            std::fs::read_to_string(host_key_path.with_extension("pub")).expect("host key");
        let host_key = host_key
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        std::fs::write(dir.path().join("authorized_keys"), "").expect("authorized_keys");
        let penalties = if sshd_accepts(&dir, "PerSourcePenalties no") {
            "PerSourcePenalties no\n"
        } else {
            ""
        };
        // A port picked by the kernel can be taken again before sshd binds it: retry.
        for _ in 0..10 {
            let port = free_port();
            let config = format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {hk}\nPidFile none\nUsePAM no\n\
                 StrictModes no\nPermitRootLogin yes\nAuthorizedKeysFile {ak}\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
                 AllowTcpForwarding yes\nMaxSessions 10\nMaxStartups 200\nLogLevel VERBOSE\n\
                 PermitUserEnvironment HOME\n{penalties}{extra}\n",
                hk = host_key_path.display(),
                ak = dir.path().join("authorized_keys").display(),
            );
            let cfg_path = dir.path().join("sshd_config");
            std::fs::write(&cfg_path, config).expect("sshd_config");
            let log = std::fs::File::create(dir.path().join("sshd.log")).expect("log");
            let child = Command::new(SSHD)
                .args(["-D", "-e", "-f"])
                .arg(&cfg_path)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("sshd starts");
            let mut child = child;
            if wait_ready(&mut child, port) {
                return Sshd {
                    port,
                    dir,
                    host_key,
                    child,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(dir.path().join("sshd.log")).unwrap_or_default();
            if !log.contains("Address already in use") && !log.contains("Bind to port") {
                panic!("sshd did not start:\n{log}");
            }
        }
        panic!("no free port for sshd after 10 tries");
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Lets `key` log in.
    pub fn authorize(&self, key: &Key) {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.path().join("authorized_keys"))
            .expect("authorized_keys");
        // The login's shell starts in an empty home: the test user's own startup files (a
        // `.bashrc` that runs pyenv or conda costs each login tens of milliseconds, and bash
        // reads it for every command sshd runs) are not what these tests measure or test.
        let home = self.dir.path().join("home");
        let _ = std::fs::create_dir_all(&home);
        writeln!(
            f,
            "environment=\"HOME={}\" {}",
            home.display(),
            key.public_line
        )
        .expect("write authorized_keys");
    }

    /// This server's line for a known_hosts file.
    pub fn known_hosts_line(&self) -> String {
        format!("[127.0.0.1]:{} {}\n", self.port, self.host_key)
    }

    /// The sshd log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// A target for this server, as the current user.
    pub fn target(&self, alias: &str, key: &Key, known_hosts: &Path) -> Target {
        Target {
            alias: alias.to_owned(),
            host: "127.0.0.1".to_owned(),
            port: self.port,
            user: whoami(),
            identity_files: vec![key.private.clone()],
            known_hosts: vec![known_hosts.to_owned()],
            jump: Vec::new(),
            connect_timeout: Duration::from_secs(10),
            host_key_port: None,
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill();
    }
}

fn wait_ready(child: &mut Child, port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 8];
            if s.read_exact(&mut buf).is_ok() && &buf == b"SSH-2.0-" {
                let _ = s.write_all(b"SSH-2.0-probe\r\n");
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn sshd_accepts(dir: &TempDir, line: &str) -> bool {
    let cfg = dir.path().join("probe_config");
    let hk = dir.path().join("host_ed25519");
    let _ = std::fs::write(
        &cfg,
        format!(
            "HostKey {}\nPidFile none\nUsePAM no\n{line}\n",
            hk.display()
        ),
    );
    Command::new(SSHD)
        .args(["-t", "-f"])
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A running `ssh-agent -D -a <sock>`.
#[derive(Debug)]
pub struct Agent {
    pub socket: PathBuf,
    _dir: TempDir,
    child: Child,
}

impl Agent {
    pub fn start() -> Agent {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ssh-agent starts");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "ssh-agent socket did not appear");
            std::thread::sleep(Duration::from_millis(10));
        }
        Agent {
            socket,
            _dir: dir,
            child,
        }
    }

    /// `ssh-add` with SSH_AUTH_SOCK set for that child only.
    pub fn add(&self, key: &Key) {
        let st = Command::new("ssh-add")
            .arg("-q")
            .arg(&key.private)
            .env("SSH_AUTH_SOCK", &self.socket)
            .stdin(Stdio::null())
            .status()
            .expect("ssh-add runs");
        assert!(st.success(), "ssh-add failed");
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Client options for tests: no ambient agent, strict host keys, no system-wide known_hosts
/// (this machine's /etc/ssh/ssh_known_hosts must not decide a test).
pub fn opts() -> ClientOptions {
    ClientOptions {
        use_agent: false,
        agent_socket: None,
        host_key_policy: HostKeyPolicy::Strict,
        global_known_hosts: Vec::new(),
        ..ClientOptions::default()
    }
}

/// A known_hosts file in `dir` holding these servers' keys.
pub fn known_hosts(dir: &Path, servers: &[&Sshd]) -> PathBuf {
    let path = dir.join("known_hosts");
    let text: String = servers.iter().map(|s| s.known_hosts_line()).collect();
    std::fs::write(&path, text).expect("known_hosts");
    path
}
