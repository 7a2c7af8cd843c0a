//! rampart-ssh against real OpenSSH: sshd, ssh-agent, ssh-keygen and `ssh -G` on 127.0.0.1.
//! No fakes except two deliberately broken listeners (silent, and closing before the banner).

mod harness;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::{Agent, Key, Sshd, keygen, known_hosts, opts, skip, whoami};
use rampart_ssh::{
    ClientOptions, Connector, ErrorKind, Exec, HostKeyPolicy, PutFile, ResolveOptions, SshError,
    Target, TargetOverrides, resolve,
};
use sha2::{Digest, Sha256};

async fn echo(session: &rampart_ssh::Session, text: &str) -> String {
    let out = session
        .exec(Exec::new(format!("echo {text}")))
        .await
        .expect("exec");
    assert!(out.success(), "echo failed: {out:?}");
    out.stdout_str().trim().to_owned()
}

/// One sshd that accepts `key`, and a known_hosts that knows it.
fn setup(kind: &str) -> (Sshd, Key, tempfile::TempDir, std::path::PathBuf) {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), &format!("id_{kind}"), kind, "");
    sshd.authorize(&key);
    let kh = known_hosts(dir.path(), &[&sshd]);
    (sshd, key, dir, kh)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_auth_ed25519_ecdsa_rsa() {
    if skip() {
        return;
    }
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let kh = known_hosts(dir.path(), &[&sshd]);
    let connector = Connector::new(opts());
    for kind in ["ed25519", "ecdsa", "rsa"] {
        let key = keygen(dir.path(), &format!("id_{kind}"), kind, "");
        sshd.authorize(&key);
        let session = connector
            .connect(&sshd.target(kind, &key, &kh))
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(echo(&session, kind).await, kind);
        assert_eq!(session.remote_user(), whoami());
        session.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsa_uses_sha2_signatures_only() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "id_rsa", "rsa", "");
    // Each server accepts exactly one RSA signature algorithm; ssh-rsa (SHA-1) is never allowed.
    for alg in ["rsa-sha2-512", "rsa-sha2-256"] {
        let sshd = Sshd::start_with(&format!("PubkeyAcceptedAlgorithms {alg}"));
        sshd.authorize(&key);
        let kh = known_hosts(dir.path(), &[&sshd]);
        let session = Connector::new(opts())
            .connect(&sshd.target(alg, &key, &kh))
            .await
            .unwrap_or_else(|e| panic!("{alg}: {e}\n{}", sshd.log()));
        assert_eq!(echo(&session, "ok").await, "ok");
    }
}

#[test]
fn passphrase_key_via_env() {
    if skip() {
        return;
    }
    // The passphrase must come from the environment, and the process environment must not be
    // changed under parallel tests: run the real check in a child test process that has it.
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([
            "--ignored",
            "--exact",
            "passphrase_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("RAMPART_TEST_KEY_PASSPHRASE", "correct horse battery")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "child failed:\n{text}");
    assert!(text.contains("1 passed"), "child did not run:\n{text}");
    assert!(
        text.contains("passphrase child ran"),
        "child skipped:\n{text}"
    );
}

/// Run by `passphrase_key_via_env` with RAMPART_TEST_KEY_PASSPHRASE set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by passphrase_key_via_env in a child process"]
async fn passphrase_child() {
    let Ok(pass) = std::env::var("RAMPART_TEST_KEY_PASSPHRASE") else {
        eprintln!("skipping: RAMPART_TEST_KEY_PASSPHRASE not set (run via passphrase_key_via_env)");
        return;
    };
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "id_locked", "ed25519", &pass);
    sshd.authorize(&key);
    let kh = known_hosts(dir.path(), &[&sshd]);
    let target = sshd.target("locked", &key, &kh);

    let with_env = Connector::new(ClientOptions {
        passphrase_env: Some("RAMPART_TEST_KEY_PASSPHRASE".into()),
        ..opts()
    });
    let session = with_env
        .connect(&target)
        .await
        .expect("passphrase from env unlocks the key");
    assert_eq!(echo(&session, "unlocked").await, "unlocked");
    // The decrypted key is cached: a second connection does not decrypt again (and works).
    with_env.connect(&target).await.expect("second connect");

    let missing = Connector::new(ClientOptions {
        passphrase_env: Some("RAMPART_TEST_NO_SUCH_VAR".into()),
        allow_tty_prompt: false,
        ..opts()
    });
    let err = missing
        .connect(&target)
        .await
        .expect_err("no passphrase, no login");
    assert_eq!(err.kind(), ErrorKind::AuthFailed);
    let msg = err.to_string();
    assert!(
        msg.contains("$RAMPART_TEST_NO_SUCH_VAR"),
        "hint names the variable: {msg}"
    );
    assert!(msg.contains("id_locked: encrypted"), "{msg}");
    assert!(!msg.contains(&pass), "never leak the passphrase");
    eprintln!("passphrase child ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_failure_lists_what_was_tried() {
    if skip() {
        return;
    }
    let (sshd, _key, dir, kh) = setup("ed25519");
    let stranger = keygen(dir.path(), "id_stranger", "ed25519", "");
    let err = Connector::new(opts())
        .connect(&sshd.target("web1", &stranger, &kh))
        .await
        .expect_err("not authorized");
    assert_eq!(err.kind(), ErrorKind::AuthFailed);
    assert!(!err.is_unreachable());
    let msg = err.to_string();
    assert!(
        msg.contains("authentication as") && msg.contains("id_stranger (ssh-ed25519): rejected"),
        "{msg}"
    );
}

/// Like ssh(1), a private key file that group or others may read is not used, and the
/// error says why and what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_key_readable_by_others_is_refused() {
    if skip() {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let (sshd, key, _dir, kh) = setup("ed25519");
    for mode in [0o640, 0o604] {
        std::fs::set_permissions(&key.private, std::fs::Permissions::from_mode(mode)).unwrap();
        let err = Connector::new(opts())
            .connect(&sshd.target("web1", &key, &kh))
            .await
            .expect_err("an unprotected key is not used");
        assert_eq!(err.kind(), ErrorKind::AuthFailed);
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("permissions {mode:04o} are too open"))
                && msg.contains("chmod 600"),
            "{msg}"
        );
    }
    std::fs::set_permissions(&key.private, std::fs::Permissions::from_mode(0o600)).unwrap();
    let session = Connector::new(opts())
        .connect(&sshd.target("web1", &key, &kh))
        .await
        .expect("0600 is fine");
    assert_eq!(echo(&session, "ok").await, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_auth_with_explicit_socket() {
    if skip() {
        return;
    }
    let sshd = Sshd::start_with("PubkeyAcceptedAlgorithms ssh-ed25519,rsa-sha2-512,rsa-sha2-256");
    let dir = tempfile::tempdir().unwrap();
    let kh = known_hosts(dir.path(), &[&sshd]);
    let agent = Agent::start();
    let rsa = keygen(dir.path(), "agent_rsa", "rsa", "");
    let ed = keygen(dir.path(), "agent_ed", "ed25519", "");
    agent.add(&rsa);
    agent.add(&ed);
    // Only the RSA key is authorized: the agent must sign with rsa-sha2-*.
    sshd.authorize(&rsa);
    let mut target = sshd.target("agent", &rsa, &kh);
    target.identity_files.clear();
    let connector = Connector::new(ClientOptions {
        use_agent: true,
        agent_socket: Some(agent.socket.clone()),
        ..opts()
    });
    let session = connector
        .connect(&target)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", sshd.log()));
    assert_eq!(echo(&session, "agent").await, "agent");

    // Without the agent and without identity files there is nothing to offer.
    let err = Connector::new(opts())
        .connect(&target)
        .await
        .expect_err("no keys");
    assert_eq!(err.kind(), ErrorKind::AuthFailed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_host_key_is_refused_under_strict() {
    if skip() {
        return;
    }
    let (sshd, key, dir, _kh) = setup("ed25519");
    let empty = dir.path().join("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    let err = Connector::new(opts())
        .connect(&sshd.target("new", &key, &empty))
        .await
        .expect_err("unknown key");
    match &err {
        SshError::HostKeyUnknown {
            host,
            fingerprint,
            known_hosts,
            ..
        } => {
            assert_eq!(host, &format!("[127.0.0.1]:{}", sshd.port));
            assert!(
                fingerprint.starts_with("ssh-ed25519 SHA256:"),
                "{fingerprint}"
            );
            assert_eq!(known_hosts, &empty);
        }
        other => panic!("expected HostKeyUnknown, got {other:?}"),
    }
    assert!(err.to_string().contains("--accept-new"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&empty).unwrap(),
        "",
        "strict never writes"
    );

    // No known_hosts at all (UserKnownHostsFile /dev/null) refuses even with accept-new.
    let mut target = sshd.target("devnull", &key, &empty);
    target.known_hosts.clear();
    let accept = Connector::new(ClientOptions {
        host_key_policy: HostKeyPolicy::AcceptNew,
        ..opts()
    });
    let err = accept
        .connect(&target)
        .await
        .expect_err("nothing to record into");
    assert_eq!(err.kind(), ErrorKind::HostKeyUnknown);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_host_key_names_file_and_line_under_both_policies() {
    if skip() {
        return;
    }
    let (sshd, key, dir, _) = setup("ed25519");
    let impostor = keygen(dir.path(), "impostor", "ed25519", "");
    let impostor_key = impostor
        .public_line
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let kh = dir.path().join("changed_known_hosts");
    let text = format!(
        "# rebuilt hosts below\nother.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ\n[127.0.0.1]:{} {impostor_key}\n",
        sshd.port
    );
    std::fs::write(&kh, &text).unwrap();
    for policy in [HostKeyPolicy::Strict, HostKeyPolicy::AcceptNew] {
        let c = Connector::new(ClientOptions {
            host_key_policy: policy,
            ..opts()
        });
        let err = c
            .connect(&sshd.target("rebuilt", &key, &kh))
            .await
            .expect_err("changed key");
        match &err {
            SshError::HostKeyChanged {
                file,
                line,
                key_type,
                ..
            } => {
                assert_eq!(file, &kh);
                assert_eq!(*line, 3);
                assert_eq!(key_type, "ssh-ed25519");
            }
            other => panic!("{policy:?}: expected HostKeyChanged, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains(&format!("{}:3", kh.display())), "{msg}");
        assert!(msg.contains("ssh-keygen -R"), "{msg}");
    }
    assert_eq!(
        std::fs::read_to_string(&kh).unwrap(),
        text,
        "the file is never rewritten"
    );
}

/// The host is known by a key of another type (RSA recorded, the host presents only
/// ed25519): accept-new must refuse it like a changed key, naming the file and line, and
/// never append; strict must not advise --accept-new.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_new_refuses_a_new_key_type_for_a_known_host() {
    if skip() {
        return;
    }
    let (sshd, key, dir, _) = setup("ed25519");
    let rsa = keygen(dir.path(), "old_rsa_host_key", "rsa", "");
    let rsa_key = rsa
        .public_line
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let kh = dir.path().join("typed_known_hosts");
    let text = format!("# fleet\n[127.0.0.1]:{} {rsa_key}\n", sshd.port);
    std::fs::write(&kh, &text).unwrap();
    for policy in [HostKeyPolicy::AcceptNew, HostKeyPolicy::Strict] {
        let err = Connector::new(ClientOptions {
            host_key_policy: policy,
            ..opts()
        })
        .connect(&sshd.target("retyped", &key, &kh))
        .await
        .expect_err("a new key type for a known host is refused");
        match &err {
            SshError::HostKeyChanged {
                file,
                line,
                key_type,
                fingerprint,
                ..
            } => {
                assert_eq!(file, &kh);
                assert_eq!(*line, 2);
                assert_eq!(key_type, "ssh-rsa");
                assert!(fingerprint.starts_with("ssh-ed25519 "), "{fingerprint}");
            }
            other => panic!("{policy:?}: expected HostKeyChanged, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains(&format!("{}:2", kh.display())), "{msg}");
        assert!(!msg.contains("run again with --accept-new"), "{msg}");
        assert_eq!(
            std::fs::read_to_string(&kh).unwrap(),
            text,
            "{policy:?}: nothing learned"
        );
    }
}

/// A host recorded only in the global file (OpenSSH's GlobalKnownHostsFile) is known: its key
/// is trusted there, and a different key is refused under accept-new, naming the global file,
/// with nothing appended to the user's file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_known_hosts_file_is_read_and_never_bypassed_by_accept_new() {
    if skip() {
        return;
    }
    let (sshd, key, dir, _) = setup("ed25519");
    let user = dir.path().join("user_known_hosts");
    std::fs::write(&user, "").unwrap();
    let global = dir.path().join("ssh_known_hosts");
    std::fs::write(&global, sshd.known_hosts_line()).unwrap();
    let with_global = |policy| {
        Connector::new(ClientOptions {
            host_key_policy: policy,
            global_known_hosts: vec![dir.path().join("missing_known_hosts2"), global.clone()],
            ..opts()
        })
    };
    let session = with_global(HostKeyPolicy::Strict)
        .connect(&sshd.target("global", &key, &user))
        .await
        .expect("a key in the global file is trusted");
    assert_eq!(echo(&session, "global").await, "global");

    let impostor = keygen(dir.path(), "impostor", "ecdsa", "");
    let impostor_key = impostor
        .public_line
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    std::fs::write(
        &global,
        format!("[127.0.0.1]:{} {impostor_key}\n", sshd.port),
    )
    .unwrap();
    let err = with_global(HostKeyPolicy::AcceptNew)
        .connect(&sshd.target("global", &key, &user))
        .await
        .expect_err("known in the global file by another key");
    match &err {
        SshError::HostKeyChanged { file, line, .. } => {
            assert_eq!(file, &global);
            assert_eq!(*line, 1);
        }
        other => panic!("expected HostKeyChanged, got {other:?}"),
    }
    assert_eq!(
        std::fs::read_to_string(&user).unwrap(),
        "",
        "nothing learned"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_new_appends_one_line_then_strict_passes() {
    if skip() {
        return;
    }
    let (sshd, key, dir, _) = setup("ed25519");
    let kh = dir.path().join("new_dir/known_hosts");
    let target = sshd.target("fresh", &key, &kh);
    let accept = Connector::new(ClientOptions {
        host_key_policy: HostKeyPolicy::AcceptNew,
        ..opts()
    });
    // Two parallel first connections to the same new host record it once.
    let (a, b) = tokio::join!(accept.connect(&target), accept.connect(&target));
    a.expect("accept-new connects");
    b.expect("accept-new connects");
    let text = std::fs::read_to_string(&kh).unwrap();
    assert_eq!(text.lines().count(), 1, "exactly one line: {text}");
    assert_eq!(text, sshd.known_hosts_line());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&kh).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(kh.parent().unwrap())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
    }
    let strict = Connector::new(opts());
    let session = strict
        .connect(&target)
        .await
        .expect("strict now knows the host");
    assert_eq!(echo(&session, "known").await, "known");
    accept
        .connect(&target)
        .await
        .expect("known host, accept-new");
    assert_eq!(
        std::fs::read_to_string(&kh).unwrap(),
        text,
        "nothing appended for a known host"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashed_known_hosts_entry_is_accepted() {
    if skip() {
        return;
    }
    let (sshd, key, dir, _) = setup("ed25519");
    let kh = dir.path().join("hashed_known_hosts");
    std::fs::write(&kh, sshd.known_hosts_line()).unwrap();
    let st = Command::new("ssh-keygen")
        .arg("-q")
        .arg("-H")
        .arg("-f")
        .arg(&kh)
        .output()
        .unwrap();
    assert!(st.status.success());
    let text = std::fs::read_to_string(&kh).unwrap();
    assert!(
        text.starts_with("|1|") && !text.contains("127.0.0.1"),
        "hashed: {text}"
    );
    let session = Connector::new(opts())
        .connect(&sshd.target("hashed", &key, &kh))
        .await
        .expect("hashed entry");
    assert_eq!(echo(&session, "hashed").await, "hashed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_jump_one_hop_shares_the_bastion() {
    if skip() {
        return;
    }
    let bastion = Sshd::start();
    let inner = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "id_ed25519", "ed25519", "");
    bastion.authorize(&key);
    inner.authorize(&key);
    let kh = known_hosts(dir.path(), &[&bastion, &inner]);
    let mut target = inner.target("inner", &key, &kh);
    target.jump = vec![bastion.target("bastion", &key, &kh)];
    let connector = Connector::new(opts());

    let first = connector
        .connect(&target)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", bastion.log()));
    assert_eq!(echo(&first, "through").await, "through");
    assert_eq!(first.stats().connections, 2, "bastion + target");

    // More targets behind the same bastion reuse its connection.
    let (second, third) = tokio::join!(connector.connect(&target), connector.connect(&target));
    let (second, third) = (second.expect("second"), third.expect("third"));
    assert_eq!(
        second.stats().connections + third.stats().connections,
        2,
        "no new bastion connection"
    );
    assert_eq!(connector.connections_opened(), 4);
    assert_eq!(echo(&third, "again").await, "again");
    // The inner sshd sees the bastion's loopback address, not ours: it was tunnelled.
    assert!(
        inner.log().contains("Accepted publickey"),
        "{}",
        inner.log()
    );
    connector.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_jump_two_hop_chain() {
    if skip() {
        return;
    }
    let h1 = Sshd::start();
    let h2 = Sshd::start();
    let h3 = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "id_ed25519", "ed25519", "");
    for s in [&h1, &h2, &h3] {
        s.authorize(&key);
    }
    let kh = known_hosts(dir.path(), &[&h1, &h2, &h3]);
    let mut target = h3.target("h3", &key, &kh);
    target.jump = vec![h1.target("h1", &key, &kh), h2.target("h2", &key, &kh)];
    let connector = Connector::new(opts());
    let session = connector.connect(&target).await.expect("h1 -> h2 -> h3");
    assert_eq!(echo(&session, "deep").await, "deep");
    assert_eq!(session.stats().connections, 3);
    // The route names every hop with the host key verified on it (what the fact cache keys on).
    let fingerprint = |s: &Sshd| {
        let f = dir.path().join(format!("hk{}.pub", s.port));
        std::fs::write(&f, format!("{}\n", s.host_key)).unwrap();
        let out = std::process::Command::new("ssh-keygen")
            .args(["-E", "sha256", "-lf"])
            .arg(&f)
            .output()
            .expect("ssh-keygen -l");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        format!(
            "ssh-ed25519 {}",
            text.split_whitespace().nth(1).unwrap_or_default()
        )
    };
    let route = session.route();
    let want: Vec<(String, String)> = [&h1, &h2, &h3]
        .iter()
        .map(|s| (format!("{}@127.0.0.1:{}", whoami(), s.port), fingerprint(s)))
        .collect();
    assert_eq!(route, want);
    assert!(
        want.iter()
            .all(|(_, k)| k.starts_with("ssh-ed25519 SHA256:")),
        "{want:?}"
    );
    assert_eq!(session.host_key_fingerprint(), want[2].1);

    // A bastion that refuses: the error names the hop and keeps the hop's kind.
    let mut broken = target.clone();
    broken.jump[0].port = harness::free_port();
    let err = connector
        .connect(&broken)
        .await
        .expect_err("dead first hop");
    assert_eq!(err.kind(), ErrorKind::Refused);
    assert!(err.to_string().contains("through jump host"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_commands_share_one_session() {
    if skip() {
        return;
    }
    let (sshd, key, _dir, kh) = setup("ed25519");
    let session = Connector::new(opts())
        .connect(&sshd.target("par", &key, &kh))
        .await
        .expect("connect");
    // Eight commands on eight channels at once. Concurrency is proven by the commands
    // themselves, not by wall time (which depends on the machine's load): each one waits
    // until all eight have started (a marker file each), so none can finish unless all ran
    // at the same time on the one connection.
    session.exec(Exec::new("true")).await.expect("warm up");
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().display().to_string();
    let runs = (0..8).map(|i| {
        let s = session.clone();
        let d = d.clone();
        tokio::spawn(async move {
            let cmd = format!(
                "touch {d}/started.{i}; n=0; while [ $(ls {d} | grep -c '^started') -lt 8 ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n+1)); done; [ $n -lt 600 ] && echo {i}"
            );
            s.exec(Exec::new(cmd)).await
        })
    });
    let outs = futures_join(runs).await;
    for (i, out) in outs.into_iter().enumerate() {
        assert_eq!(
            out.stdout_str().trim(),
            i.to_string(),
            "command {i} never saw all 8 running at once"
        );
    }

    // More commands than channels (and than sshd's MaxSessions 10) still all complete.
    let runs = (0..20).map(|i| {
        let s = session.clone();
        tokio::spawn(async move { s.exec(Exec::new(format!("sleep 0.05; echo {i}"))).await })
    });
    assert_eq!(futures_join(runs).await.len(), 20);
    assert_eq!(session.stats().round_trips, 29);
    assert_eq!(session.stats().connections, 1);
}

async fn futures_join(
    handles: impl Iterator<Item = tokio::task::JoinHandle<Result<rampart_ssh::Output, SshError>>>,
) -> Vec<rampart_ssh::Output> {
    let mut out = Vec::new();
    for h in handles.collect::<Vec<_>>() {
        let o = h.await.expect("task").expect("exec");
        assert!(o.success(), "{o:?}");
        out.push(o);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_mib_of_stdin_round_trips_byte_exact() {
    if skip() {
        return;
    }
    let (sshd, key, _dir, kh) = setup("ed25519");
    let session = Connector::new(opts())
        .connect(&sshd.target("big", &key, &kh))
        .await
        .expect("connect");
    let data = pseudo_random(10 * 1024 * 1024 + 17);
    let want = hex::encode(Sha256::digest(&data));
    let out = session
        .exec(Exec {
            command: "cat".into(),
            stdin: data,
            ..Exec::default()
        })
        .await
        .expect("cat");
    assert!(out.success());
    assert_eq!(out.stdout.len(), 10 * 1024 * 1024 + 17);
    assert_eq!(hex::encode(Sha256::digest(&out.stdout)), want);
    // And the remote side saw the same bytes.
    let data = pseudo_random(10 * 1024 * 1024);
    let want = hex::encode(Sha256::digest(&data));
    let out = session
        .exec(Exec {
            command: "if command -v sha256sum >/dev/null; then sha256sum; else shasum -a 256; fi"
                .into(),
            stdin: data,
            ..Exec::default()
        })
        .await
        .expect("sha256sum");
    assert!(out.stdout_str().starts_with(&want), "{}", out.stdout_str());
}

/// xorshift64*: incompressible enough for a transport test, no RNG dependency.
fn pseudo_random(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A host that floods its output (`yes`, on stdout and stderr) cannot make the controller
/// hold more than the per-command cap: the channel is closed, the command fails with
/// `OutputTooLarge`, and the session's total cap stops a host that floods many commands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flooding_output_is_capped_per_command_and_per_host() {
    if skip() {
        return;
    }
    let (sshd, key, _dir, kh) = setup("ed25519");
    let session = Connector::new(opts())
        .connect(&sshd.target("flood", &key, &kh))
        .await
        .expect("connect");
    for command in ["yes", "yes >&2"] {
        let start = Instant::now();
        let err = session.exec(Exec::new(command)).await.expect_err("capped");
        assert_eq!(err.kind(), ErrorKind::OutputTooLarge, "{err}");
        assert!(
            matches!(&err, SshError::OutputTooLarge { limit, .. } if *limit == rampart_ssh::MAX_COMMAND_OUTPUT),
            "{err:?}"
        );
        assert!(err.to_string().contains("16 MiB"), "{err}");
        // The error comes at once: the channel's slot is held for the close grace (10 s) in
        // the background, not by the caller.
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "{:?}",
            start.elapsed()
        );
    }

    let small = Connector::new(ClientOptions {
        output_limits: rampart_ssh::OutputLimits {
            command: 1 << 20,
            host: 2 << 20,
        },
        ..opts()
    });
    let session = small
        .connect(&sshd.target("flood", &key, &kh))
        .await
        .expect("connect");
    let out = session
        .exec(Exec::new("head -c 1000000 /dev/zero"))
        .await
        .expect("under the command cap");
    assert_eq!(out.stdout.len(), 1_000_000);
    session
        .exec(Exec::new("head -c 1000000 /dev/zero"))
        .await
        .expect("under the host cap");
    let err = session
        .exec(Exec::new("head -c 1000000 /dev/zero"))
        .await
        .expect_err("past the host's total");
    assert!(
        matches!(&err, SshError::OutputTooLarge { limit, .. } if *limit == 2 << 20),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_timeout_keeps_the_session_usable() {
    if skip() {
        return;
    }
    let (sshd, key, _dir, kh) = setup("ed25519");
    let session = Connector::new(opts())
        .connect(&sshd.target("slow", &key, &kh))
        .await
        .expect("connect");
    let start = Instant::now();
    let err = session
        .exec(Exec {
            command: "sleep 30".into(),
            timeout: Some(Duration::from_secs(1)),
            ..Exec::default()
        })
        .await
        .expect_err("times out");
    let elapsed = start.elapsed();
    assert_eq!(err.kind(), ErrorKind::CommandTimedOut);
    assert!(
        matches!(&err, SshError::CommandTimedOut { command_summary, after } if command_summary == "sleep 30" && *after == Duration::from_secs(1))
    );
    // Far below the 30 s the command would take: the timeout, not the command, ended it.
    assert!(elapsed < Duration::from_secs(15), "{elapsed:?}");
    assert!(!err.is_retryable());
    assert_eq!(echo(&session, "ok").await, "ok");
    let out = session.exec(Exec::new("exit 3")).await.expect("exit 3");
    assert_eq!(out.exit_status, Some(3));
    let out = session
        .exec(Exec::new("kill -TERM $$"))
        .await
        .expect("killed");
    assert_eq!(
        (out.exit_status, out.exit_signal.as_deref()),
        (None, Some("TERM"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_endpoints_fail_fast_and_alone() {
    if skip() {
        return;
    }
    let (sshd, key, _dir, kh) = setup("ed25519");
    // Accepts TCP, never speaks.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let silent_task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    // Accepts TCP and closes at once, like sshd penalising a source address.
    let closer = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closer_port = closer.local_addr().unwrap().port();
    let closer_task = tokio::spawn(async move {
        while let Ok((s, _)) = closer.accept().await {
            drop(s);
        }
    });
    let connector = Connector::new(opts());
    let good = sshd.target("good", &key, &kh);
    let mut refused = good.clone();
    refused.alias = "closed".into();
    refused.port = harness::free_port();
    let mut hung = good.clone();
    hung.alias = "silent".into();
    hung.port = silent_port;
    hung.connect_timeout = Duration::from_secs(2);
    let mut penalised = good.clone();
    penalised.alias = "penalised".into();
    penalised.port = closer_port;

    let start = Instant::now();
    let timed = |t: Target| {
        let c = connector.clone();
        async move {
            let r = c.connect(&t).await;
            (r, start.elapsed())
        }
    };
    let ((good_r, good_t), (refused_r, _), (hung_r, hung_t), (pen_r, _)) =
        tokio::join!(timed(good), timed(refused), timed(hung), timed(penalised));
    let session = good_r.expect("good host connects");
    assert!(
        good_t < hung_t,
        "good host waited for the bad ones: {good_t:?} (silent one failed after {hung_t:?})"
    );
    assert_eq!(echo(&session, "fine").await, "fine");

    let refused = refused_r.expect_err("closed port");
    assert_eq!(refused.kind(), ErrorKind::Refused, "{refused}");
    assert!(refused.is_unreachable() && refused.is_retryable());

    let hung = hung_r.expect_err("silent port");
    assert_eq!(hung.kind(), ErrorKind::TimedOut, "{hung}");
    assert!(
        matches!(&hung, SshError::TimedOut { stage, .. } if stage == "SSH handshake"),
        "{hung:?}"
    );
    assert!(
        hung_t >= Duration::from_secs(2) && hung_t < Duration::from_secs(4),
        "{hung_t:?}"
    );

    let pen = pen_r.expect_err("closed before banner");
    assert_eq!(pen.kind(), ErrorKind::Penalised, "{pen}");
    assert!(pen.to_string().contains("PerSourcePenalties"), "{pen}");

    silent_task.abort();
    closer_task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_file_is_atomic_and_fetch_file_reads_it_back() {
    if skip() {
        return;
    }
    let (sshd, key, dir, kh) = setup("ed25519");
    let session = Connector::new(opts())
        .connect(&sshd.target("files", &key, &kh))
        .await
        .expect("connect");
    let remote_dir = dir.path().join("etc");
    std::fs::create_dir(&remote_dir).unwrap();
    let path = remote_dir.join("it's a file.conf");
    let path_str = path.to_str().unwrap().to_owned();
    std::fs::write(&path, "old\n").unwrap();
    let content: Vec<u8> = b"new content\n\0binary\xff tail".to_vec();
    session
        .put_file(PutFile {
            path: path_str.clone(),
            content: content.clone(),
            mode: 0o640,
            owner: Some(whoami()),
            group: None,
            become_root: false,
        })
        .await
        .expect("put_file");
    assert_eq!(std::fs::read(&path).unwrap(), content);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777,
            0o640
        );
    }
    assert_eq!(
        leftovers(&remote_dir),
        Vec::<String>::new(),
        "temp file removed"
    );
    assert_eq!(
        session.fetch_file(&path_str, false).await.expect("fetch"),
        content
    );

    // A failing write leaves the target untouched and no temp file behind.
    let err = session
        .put_file(PutFile {
            path: path_str.clone(),
            content: b"never".to_vec(),
            mode: 0o640,
            owner: Some("no-such-user-rampart".into()),
            group: None,
            become_root: false,
        })
        .await
        .expect_err("chown to a missing user fails");
    assert_eq!(err.kind(), ErrorKind::CommandFailed);
    assert!(err.to_string().contains("writing"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), content);
    assert_eq!(leftovers(&remote_dir), Vec::<String>::new());

    // A directory is never replaced.
    let err = session
        .put_file(PutFile {
            path: remote_dir.to_str().unwrap().to_owned(),
            content: b"x".to_vec(),
            mode: 0o600,
            owner: None,
            group: None,
            become_root: false,
        })
        .await
        .expect_err("directory");
    assert!(err.to_string().contains("is a directory"), "{err}");
    assert!(remote_dir.is_dir());

    let missing = session
        .fetch_file("/nonexistent/rampart", false)
        .await
        .expect_err("missing file");
    assert_eq!(missing.kind(), ErrorKind::CommandFailed);
    assert_eq!(session.stats().round_trips, 5);
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".rampart."))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn become_root_runs_as_root() {
    if skip() {
        return;
    }
    let (sshd, key, _dir, kh) = setup("ed25519");
    let session = Connector::new(opts())
        .connect(&sshd.target("root", &key, &kh))
        .await
        .expect("connect");
    let out = session
        .exec(Exec {
            command: "id -u; cat".into(),
            stdin: b"via stdin".to_vec(),
            become_root: true,
            ..Exec::default()
        })
        .await
        .expect("exec");
    if whoami() == "root" {
        // Already root: the command runs as is.
        assert_eq!(out.stdout_str(), "0\nvia stdin");
    } else {
        // A normal user: the command went through `sudo -n`, which either works (NOPASSWD) or
        // fails without prompting; it never hangs.
        assert!(
            out.success() && out.stdout_str().starts_with("0\n") || !out.success(),
            "{out:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_honours_ssh_config_via_ssh_g() {
    if skip() {
        return;
    }
    if which("ssh").is_none() {
        eprintln!("skipping: no ssh client on PATH");
        return;
    }
    let bastion = Sshd::start();
    let inner = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "id_cfg", "ed25519", "");
    bastion.authorize(&key);
    inner.authorize(&key);
    let kh = known_hosts(dir.path(), &[&bastion, &inner]);
    let me = whoami();
    let config = dir.path().join("ssh_config");
    std::fs::write(
        &config,
        format!(
            "Host web-alias\n  HostName 127.0.0.1\n  User {me}\n  Port {inner}\n  IdentityFile {key}\n  \
             ProxyJump jump-alias\n  UserKnownHostsFile {kh}\n  ConnectTimeout 7\n\n\
             Host jump-alias\n  HostName 127.0.0.1\n  Port {bastion}\n  User {me}\n  IdentityFile {key}\n  \
             UserKnownHostsFile {kh}\n",
            inner = inner.port,
            bastion = bastion.port,
            key = key.private.display(),
            kh = kh.display(),
        ),
    )
    .unwrap();
    let ropts = ResolveOptions {
        ssh_config: Some(config.clone()),
        ..ResolveOptions::default()
    };
    let t = resolve("web-alias", &TargetOverrides::default(), &ropts).expect("resolve");
    assert_eq!(t.alias, "web-alias");
    assert_eq!(
        (t.host.as_str(), t.port, t.user.as_str()),
        ("127.0.0.1", inner.port, me.as_str())
    );
    assert_eq!(t.identity_files, std::slice::from_ref(&key.private));
    assert_eq!(t.known_hosts, std::slice::from_ref(&kh));
    assert_eq!(t.connect_timeout, Duration::from_secs(7));
    assert_eq!(t.jump.len(), 1);
    assert_eq!(
        (t.jump[0].alias.as_str(), t.jump[0].port),
        ("jump-alias", bastion.port)
    );

    // The resolved target works end to end, through the configured jump host.
    let connector = Connector::new(opts());
    let session = connector.connect(&t).await.expect("connect via config");
    assert_eq!(echo(&session, "configured").await, "configured");
    assert_eq!(session.stats().connections, 2);

    // Inventory values win over the config.
    let ov = TargetOverrides {
        port: Some(2022),
        user: Some("inventory-user".into()),
        jump: Some("none".into()),
        ..TargetOverrides::default()
    };
    let t = resolve("web-alias", &ov, &ropts).expect("resolve with overrides");
    assert_eq!((t.port, t.user.as_str()), (2022, "inventory-user"));
    assert!(t.jump.is_empty());

    // Parallel async resolution shares one resolver.
    let resolver = Arc::new(rampart_ssh::Resolver::new(ropts));
    assert!(resolver.uses_openssh());
    let none = TargetOverrides::default();
    let (a, b) = tokio::join!(
        resolver.resolve_async("web-alias", &none),
        resolver.resolve_async("jump-alias", &none)
    );
    assert_eq!(a.expect("a").port, inner.port);
    assert_eq!(b.expect("b").port, bastion.port);
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_bastion_is_dialled_once_for_all_targets_behind_it() {
    if skip() {
        return;
    }
    let (sshd, key, _dir, kh) = setup("ed25519");
    // A bastion that accepts TCP and never speaks; count how often it is dialled.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let accepts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepts.clone();
    let silent_task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(s);
        }
    });
    let mut bastion = sshd.target("dead-bastion", &key, &kh);
    bastion.port = silent_port;
    bastion.connect_timeout = Duration::from_secs(1);
    let mut target = sshd.target("behind", &key, &kh);
    target.jump = vec![bastion];
    let connector = Connector::new(opts());

    let start = Instant::now();
    let results = futures_all((0..4).map(|_| {
        let (c, t) = (connector.clone(), target.clone());
        tokio::spawn(async move { c.connect(&t).await })
    }))
    .await;
    let elapsed = start.elapsed();
    for r in results {
        let err = r.expect_err("dead bastion");
        assert!(
            matches!(&err, SshError::JumpFailed { source, .. } if source.kind() == ErrorKind::TimedOut),
            "{err:?}"
        );
        assert!(err.is_unreachable() && err.is_retryable());
    }
    assert_eq!(
        accepts.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one shared attempt"
    );
    assert!(
        elapsed < Duration::from_millis(1900),
        "targets waited one after another: {elapsed:?}"
    );

    // The failure is not cached: the next connect dials again.
    connector.connect(&target).await.expect_err("still dead");
    assert_eq!(accepts.load(std::sync::atomic::Ordering::SeqCst), 2);
    silent_task.abort();
}

async fn futures_all<T>(handles: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for h in handles.collect::<Vec<_>>() {
        out.push(h.await.expect("task"));
    }
    out
}
