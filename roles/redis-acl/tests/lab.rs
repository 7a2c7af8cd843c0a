//! The redis-acl role against a real lab host (Debian 12, Redis 7.0), through the real binary
//! with an age-encrypted secrets file: the ACL file is written, validated and loaded; the
//! seed's own test passes for real (asset `ex_001` gets NOPERM on `GET fleet:inbox:DZ-001`);
//! no clear password lands on the host; a second apply changes nothing and check writes
//! nothing; a hand-edited file and a live `ACL SETUSER` are reported and repaired; a rotated
//! admin secret is loaded; a missing secret stops the role with its name.
//! Host: h9 (tests/util/HOSTS.md).

use crate::util;

use std::path::PathBuf;

use serde_json::Value;
use util::{Lab, changed, changed_ids, failed_checks, host, rampart, rampart_json};

const H: &str = "h9";
const ACL: &str = "/etc/redis/users.acl";

fn pw(user: &str, generation: u32) -> String {
    format!("lab-{user}-password-{generation}-8c1f2e")
}

/// A site with the redis-acl role and an encrypted secrets file, in a temporary directory.
struct Site {
    dir: tempfile::TempDir,
    inv: PathBuf,
    site: PathBuf,
    key: PathBuf,
}

impl Site {
    fn new(lab: &Lab, assets: &[&str]) -> Site {
        let dir = tempfile::tempdir().expect("tempdir");
        let inv = lab.inventory(dir.path(), &[H], "root");
        let key = dir.path().join("age.key");
        let out = rampart(&["secrets", "keygen", "-o", key.to_str().expect("utf-8")]);
        assert!(
            out.status.success(),
            "keygen: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let site = dir.path().join("site.toml");
        let list = assets
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(", ");
        std::fs::write(
            &site,
            format!("secrets = \"secrets.age\"\n\n[[play]]\nhosts = \"lab\"\nroles = [\"redis-acl\"]\n\n[roles.redis-acl]\nassets = [{list}]\n"),
        )
        .expect("write site");
        let s = Site {
            dir,
            inv,
            site,
            key,
        };
        s.secrets(&["admin", "monitor", "coordinator", "ex_001", "DZ-001"], 1);
        s
    }

    /// Writes the encrypted secrets file: `redis/<user>` for each user, of a generation.
    fn secrets(&self, users: &[&str], admin_generation: u32) {
        let mut toml = String::from("[redis]\n");
        for u in users {
            let g = if *u == "admin" { admin_generation } else { 1 };
            toml.push_str(&format!("\"{u}\" = \"{}\"\n", pw(u, g)));
        }
        let plain = self.dir.path().join("secrets.toml");
        std::fs::write(&plain, toml).expect("write secrets");
        let enc = self.dir.path().join("secrets.age");
        let out = rampart(&[
            "secrets",
            "--identity",
            self.key.to_str().expect("utf-8"),
            "encrypt",
            plain.to_str().expect("utf-8"),
            "-o",
            enc.to_str().expect("utf-8"),
        ]);
        assert!(
            out.status.success(),
            "encrypt: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::remove_file(plain).expect("remove plaintext");
    }

    fn run(&self, cmd: &str, extra: &[&str]) -> (i32, Value) {
        let mut args = vec![
            cmd,
            "-i",
            self.inv.to_str().expect("utf-8"),
            self.site.to_str().expect("utf-8"),
            "--identity",
            self.key.to_str().expect("utf-8"),
        ];
        args.extend_from_slice(extra);
        rampart_json(&args)
    }
}

/// Runs redis commands on the host as a user, the password through stdin.
fn redis_as(lab: &Lab, user: &str, password: &str, commands: &str) -> String {
    lab.sh(
        H,
        &format!("printf 'AUTH {user} {password}\\n{commands}' | redis-cli"),
    )
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn redis_acl_isolates_assets_on_h9() {
    let lab = Lab::get();
    lab.reset(&[H]);
    let s = Site::new(&lab, &["ex_001", "DZ-001"]);

    // First apply: credential, ACL file, aclfile line; Redis restarted, then the ACL loaded.
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(
        changed_ids(&doc, H),
        [
            "directory:/etc/rampart",
            "file:/etc/rampart/redis-acl.auth",
            "file:/etc/redis/users.acl",
            "edit:/etc/redis/redis.conf#aclfile"
        ],
        "{doc}"
    );
    assert_eq!(
        host(&doc, H)["handlers"],
        serde_json::json!(["redis-acl: restart redis", "redis-acl: load redis ACL"]),
        "{doc}"
    );
    assert_eq!(failed_checks(&doc, H), Vec::<String>::new(), "{doc}");
    assert_eq!(
        lab.sh(
            H,
            "stat -c '%a %U:%G' /etc/redis/users.acl /etc/rampart/redis-acl.auth /etc/rampart"
        ),
        "600 redis:redis\n600 root:root\n700 root:root\n"
    );

    // The seed's own test, for real, with the asset's password.
    let out = redis_as(
        &lab,
        "ex_001",
        &pw("ex_001", 1),
        "GET fleet:inbox:DZ-001\\nRPUSH fleet:outbox:ex_001 report\\nFLUSHALL\\nKEYS *\\n",
    );
    assert!(out.starts_with("OK\nNOPERM"), "{out}");
    assert!(out.contains("\n1\n"), "its own outbox works: {out}");
    assert_eq!(out.matches("NOPERM").count(), 3, "{out}");
    let out = redis_as(
        &lab,
        "coordinator",
        &pw("coordinator", 1),
        "LPUSH fleet:inbox:DZ-001 job\\nLPOP fleet:outbox:ex_001\\n",
    );
    assert_eq!(out, "OK\n1\nreport\n");
    let out = redis_as(
        &lab,
        "DZ-001",
        &pw("DZ-001", 1),
        "RPOP fleet:inbox:DZ-001\\nGET fleet:inbox:ex_001\\n",
    );
    assert!(out.starts_with("OK\njob\nNOPERM"), "{out}");
    let out = redis_as(
        &lab,
        "monitor",
        &pw("monitor", 1),
        "PING\\nGET fleet:inbox:ex_001\\nCONFIG GET requirepass\\n",
    );
    assert!(
        out.starts_with("OK\nPONG\nNOPERM") && out.matches("NOPERM").count() == 2,
        "{out}"
    );
    assert!(
        lab.sh(H, "redis-cli PING").starts_with("NOAUTH"),
        "the default user is off"
    );

    // No clear password anywhere on the host.
    for u in ["admin", "monitor", "coordinator", "ex_001", "DZ-001"] {
        let (rc, found) = lab.exec(
            H,
            &format!(
                "grep -rlsF '{}' /etc /var/log /var/lib/redis /root /run /tmp",
                pw(u, 1)
            ),
        );
        assert_eq!(rc, 1, "the password of {u} is on the host: {found}");
    }

    // Converged: nothing to do; check writes nothing and every control holds.
    let (code, doc) = s.run("apply", &[]);
    assert_eq!((code, changed(&doc, H)), (0, 0), "{doc}");
    let before = lab.state_hash(H);
    let (code, doc) = s.run("check", &["--verify"]);
    assert_eq!((code, changed(&doc, H)), (0, 0), "{doc}");
    assert_eq!(failed_checks(&doc, H), Vec::<String>::new());
    assert!(
        host(&doc, H)["verify"].as_array().map_or(0, Vec::len) >= 7,
        "{doc}"
    );
    assert_eq!(lab.state_hash(H), before, "check wrote to the host");

    // The ACL file edited by hand (not loaded): reported, rewritten and reloaded.
    lab.sh(H, "echo 'user intruder on nopass ~* &* +@all' >> /etc/redis/users.acl; chmod 644 /etc/redis/users.acl");
    let (code, doc) = s.run("check", &[]);
    assert_eq!(code, 5, "{doc}");
    assert_eq!(changed_ids(&doc, H), [format!("file:{ACL}")]);
    let (code, doc) = s.run("check", &["--verify"]);
    assert_eq!(code, 3, "{doc}");
    assert!(
        failed_checks(&doc, H)
            .iter()
            .any(|f| f.contains("no-clear-passwords") && f.contains("intruder")),
        "{doc}"
    );
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(
        host(&doc, H)["handlers"],
        serde_json::json!(["redis-acl: load redis ACL"]),
        "{doc}"
    );
    assert_eq!(failed_checks(&doc, H), Vec::<String>::new(), "{doc}");

    // The live ACL widened by hand, the file untouched: verify names the broken isolation,
    // and apply reloads the file.
    let out = redis_as(&lab, "admin", &pw("admin", 1), "ACL SETUSER ex_001 ~*\\n");
    assert_eq!(out, "OK\nOK\n");
    let (code, doc) = s.run("check", &["--verify"]);
    assert_eq!(code, 3, "{doc}");
    let failed = failed_checks(&doc, H);
    assert!(
        failed.iter().any(|f| f.contains("asset-isolation")
            && f.contains("allowed but must be denied: ex_001 GET fleet:inbox:DZ-001")),
        "{failed:?}"
    );
    assert_eq!(
        changed_ids(&doc, H),
        ["command:reload the live Redis ACL"],
        "{doc}"
    );
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(failed_checks(&doc, H), Vec::<String>::new(), "{doc}");
    assert!(
        redis_as(
            &lab,
            "ex_001",
            &pw("ex_001", 1),
            "GET fleet:inbox:DZ-001\\n"
        )
        .contains("NOPERM")
    );

    // A rotated admin secret: the maintenance credential changes with it, the running Redis
    // does not know it yet, so the handler restarts Redis to load the new file.
    s.secrets(&["admin", "monitor", "coordinator", "ex_001", "DZ-001"], 2);
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(
        changed_ids(&doc, H),
        [
            "file:/etc/rampart/redis-acl.auth",
            format!("file:{ACL}").as_str()
        ],
        "{doc}"
    );
    assert_eq!(failed_checks(&doc, H), Vec::<String>::new(), "{doc}");
    assert!(redis_as(&lab, "admin", &pw("admin", 2), "PING\\n").starts_with("OK\nPONG"));
    assert!(redis_as(&lab, "admin", &pw("admin", 1), "PING\\n").starts_with("WRONGPASS"));

    // A new asset without its secret: refused before anything is sent, the secret named.
    let more = Site::new(&lab, &["ex_001", "DZ-001", "ex_002"]);
    more.secrets(&["admin", "monitor", "coordinator", "ex_001", "DZ-001"], 2);
    let before = lab.state_hash(H);
    let (code, doc) = more.run("apply", &[]);
    assert_ne!(code, 0, "{doc}");
    let text = doc.to_string();
    assert!(
        text.contains("missing secret redis/ex_002") && text.contains("rampart secrets edit"),
        "{text}"
    );
    assert!(
        !text.contains("lab-admin-password"),
        "a secret leaked into the report"
    );
    assert_eq!(lab.state_hash(H), before);
}
