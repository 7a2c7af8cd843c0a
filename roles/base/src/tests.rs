//! Planning the base role against synthetic hosts: fresh, converged, drifted, refused.

use std::collections::BTreeMap;

use pretty_assertions::assert_eq;
use rampart_core::Change;
use rampart_core::facts::{AptState, CommandResult, FileState, PackageState, UserEntry};
use rampart_core::hostplan::PlannedRole;
use rampart_core::template::Templates;
use rampart_core::testing::{applies, assert_converges, fresh_lab_facts, plan_checked, text_file};
use serde_json::json;

use super::*;

const KEY_A: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBk0Yc4UQdCszPZUTJMbA6vNshSc2Xb7nWE9Aw4Xb5Kd alice@laptop";
const KEY_B: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH3Jp0Nq8lVQb5WcYt2pQm6kZ8xS1oR4dE7fG9hJ2kLm bob@desk";
/// A fresh lab host's /etc/hosts (nspawn, Debian 12).
const HOSTS: &str = "127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n";

fn configure(v: serde_json::Value) -> Config {
    let c: Config = rampart_core::role::configure_typed(v).expect("valid config");
    validate::config(&c).expect("valid config");
    c
}

fn site_config() -> Config {
    configure(json!({"hostname": "fleetclaw-prod", "admin": {"authorized_keys": [KEY_A, KEY_B]}}))
}

/// A fresh lab host: nothing installed or configured, tz data on disk.
fn fresh(c: &Config) -> Facts {
    let mut f = fresh_lab_facts(c);
    f.files
        .insert("/etc/hosts".into(), text_file(HOSTS, 0o644, "root"));
    f.files.insert(
        "/usr/share/zoneinfo/UTC".into(),
        text_file("TZif2", 0o644, "root"),
    );
    f
}

/// A change made to a host behind rampart's back.
type Drift = Box<dyn Fn(&mut Facts)>;

fn secrets() -> BTreeMap<String, rampart_core::Secret> {
    BTreeMap::new()
}

fn changes(p: &PlannedRole) -> Vec<String> {
    applies(p).into_iter().map(|(id, _)| id).collect()
}

fn plan_err(c: &Config, facts: &Facts, user: &str) -> String {
    let templates = Templates::embedded();
    let vars = json!({});
    let secrets = secrets();
    let ctx = HostContext {
        host: "h5",
        facts,
        vars: &vars,
        templates: &templates,
        secrets: &secrets,
        connect_user: user,
    };
    c.plan(&ctx).expect_err("the plan must be refused").0
}

fn text(f: &Facts, path: &str) -> String {
    f.files
        .get(path)
        .and_then(FileState::text)
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn fresh_host_gets_everything() {
    let c = site_config();
    let p = plan_checked(&c, &fresh(&c), &secrets(), "root");
    assert_eq!(
        changes(&p),
        [
            "apt-update",
            "packages:curl,wget,git,unzip,htop,tmux,ufw,fail2ban,tzdata",
            "symlink:/etc/localtime",
            "file:/etc/timezone",
            "file:/etc/hostname",
            "command:set the live hostname",
            "edit:/etc/hosts#hostname",
            "user:fleetclaw",
            "directory:/home/fleetclaw/.ssh",
            "file:/home/fleetclaw/.ssh/authorized_keys",
        ]
    );
    let after = assert_converges(&c, fresh(&c), &secrets(), "root");
    assert_eq!(
        after.files["/etc/localtime"],
        FileState::Link {
            target: "/usr/share/zoneinfo/UTC".into()
        }
    );
    assert_eq!(text(&after, "/etc/timezone"), "UTC\n");
    assert_eq!(text(&after, "/etc/hostname"), "fleetclaw-prod\n");
    assert_eq!(
        text(&after, "/etc/hosts"),
        format!("{HOSTS}127.0.1.1 fleetclaw-prod\n")
    );
    assert_eq!(
        after.files["/home/fleetclaw/.ssh"],
        FileState::Dir {
            mode: 0o700,
            owner: "fleetclaw".into(),
            group: "fleetclaw".into()
        }
    );
    assert_eq!(
        text(&after, "/home/fleetclaw/.ssh/authorized_keys"),
        format!("{KEY_A}\n{KEY_B}\n")
    );
    assert!(
        matches!(&after.files["/home/fleetclaw/.ssh/authorized_keys"], FileState::File { mode: 0o600, owner, .. } if owner == "fleetclaw")
    );
    let u = &after
        .accounts
        .as_ref()
        .map(|a| a.users["fleetclaw"].clone());
    assert_eq!(u.as_ref().map(|u| u.shell.as_str()), Some("/bin/bash"));
}

#[test]
fn steps_are_safe_and_guarded() {
    let c = site_config();
    let p = plan_checked(&c, &fresh(&c), &secrets(), "root");
    let script = |id: &str| {
        p.items
            .iter()
            .find(|i| i.resource.id() == id)
            .and_then(|i| match &i.change {
                Ok(Change::Apply(a)) => Some(a.script.as_str().to_owned()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{id} does not change"))
    };
    assert!(script("command:set the live hostname").contains("set -- fleetclaw-prod\n"));
    assert!(
        script("user:fleetclaw").contains("useradd --create-home --shell /bin/bash -- fleetclaw")
    );
    assert!(
        script("packages:curl,wget,git,unzip,htop,tmux,ufw,fail2ban,tzdata")
            .contains("DEBIAN_FRONTEND=noninteractive")
    );
    let mut req = FactRequest::new();
    c.facts(&mut req);
    let guard = &req.commands["unless:set the live hostname"];
    assert!(
        guard.starts_with("set -- fleetclaw-prod\n")
            && guard.contains("[ \"$(cat /proc/sys/kernel/hostname)\" = \"$1\" ]"),
        "{guard}"
    );
}

#[test]
fn defaults_keep_the_hostname_and_leave_keys_alone() {
    let c = Config::default();
    let p = plan_checked(&c, &fresh(&c), &secrets(), "root");
    let ids = changes(&p);
    assert!(
        !ids.iter().any(|i| i.contains("hostname")
            || i.contains("hosts")
            || i.contains("authorized_keys")),
        "{ids:?}"
    );
    assert!(ids.contains(&"user:fleetclaw".to_owned()));
    assert_converges(&c, fresh(&c), &secrets(), "root");
}

#[test]
fn the_seeds_duplicate_hosts_lines_become_one_and_debians_tab_line_is_replaced_in_place() {
    let c = site_config();
    let mut f = fresh(&c);
    // What running the seed three times (with 127.0.1.1) leaves behind.
    f.files.insert(
        "/etc/hosts".into(),
        text_file(&format!("{HOSTS}127.0.1.1 fleetclaw-prod\n127.0.1.1 fleetclaw-prod\n127.0.1.1 fleetclaw-prod\n"), 0o644, "root"),
    );
    let after = assert_converges(&c, f, &secrets(), "root");
    assert_eq!(
        text(&after, "/etc/hosts").matches("fleetclaw-prod").count(),
        1
    );
    // Debian's installer: "127.0.1.1<TAB>debian" right after localhost.
    let mut f = fresh(&c);
    f.files.insert(
        "/etc/hosts".into(),
        text_file(
            "127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n::1\tlocalhost\n",
            0o644,
            "root",
        ),
    );
    let after = assert_converges(&c, f, &secrets(), "root");
    assert_eq!(
        text(&after, "/etc/hosts"),
        "127.0.0.1\tlocalhost\n127.0.1.1\tfleetclaw-prod\n::1\tlocalhost\n"
    );
    // A fully qualified name also maps its short name.
    let c = configure(json!({"hostname": "web1.example.com"}));
    let after = assert_converges(&c, fresh(&c), &secrets(), "root");
    assert!(text(&after, "/etc/hosts").ends_with("127.0.1.1 web1.example.com web1\n"));
}

#[test]
fn drifts_are_repaired() {
    let c = site_config();
    let converged = assert_converges(&c, fresh(&c), &secrets(), "root");
    let keys = "/home/fleetclaw/.ssh/authorized_keys";
    let drifts: Vec<(&str, Drift, &str)> = vec![
        (
            "key file mode",
            Box::new(|f| {
                f.files.insert(
                    keys.into(),
                    text_file(&format!("{KEY_A}\n{KEY_B}\n"), 0o644, "fleetclaw"),
                );
            }),
            "file:/home/fleetclaw/.ssh/authorized_keys",
        ),
        (
            "a key added by hand",
            Box::new(|f| {
                f.files.insert(
                    keys.into(),
                    text_file(
                        &format!(
                            "{KEY_A}\n{KEY_B}\nssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 mallory\n"
                        ),
                        0o600,
                        "fleetclaw",
                    ),
                );
            }),
            "file:/home/fleetclaw/.ssh/authorized_keys",
        ),
        (
            "~/.ssh mode",
            Box::new(|f| {
                f.files.insert(
                    "/home/fleetclaw/.ssh".into(),
                    FileState::Dir {
                        mode: 0o755,
                        owner: "fleetclaw".into(),
                        group: "fleetclaw".into(),
                    },
                );
            }),
            "directory:/home/fleetclaw/.ssh",
        ),
        (
            "shell",
            Box::new(|f| {
                if let Some(u) = f
                    .accounts
                    .as_mut()
                    .and_then(|a| a.users.get_mut("fleetclaw"))
                {
                    u.shell = "/bin/sh".into();
                }
            }),
            "user:fleetclaw",
        ),
        (
            "time zone",
            Box::new(|f| {
                f.files.insert(
                    "/etc/localtime".into(),
                    FileState::Link {
                        target: "/usr/share/zoneinfo/Europe/Paris".into(),
                    },
                );
            }),
            "symlink:/etc/localtime",
        ),
        (
            "localtime copied as a file",
            Box::new(|f| {
                f.files
                    .insert("/etc/localtime".into(), text_file("TZif2", 0o644, "root"));
            }),
            "symlink:/etc/localtime",
        ),
        (
            "live hostname",
            Box::new(|f| {
                f.commands.insert(
                    "unless:set the live hostname".into(),
                    CommandResult {
                        rc: 1,
                        output: String::new(),
                    },
                );
            }),
            "command:set the live hostname",
        ),
        (
            "hosts line",
            Box::new(|f| {
                f.files.insert(
                    "/etc/hosts".into(),
                    text_file(&format!("{HOSTS}127.0.1.1 old-name\n"), 0o644, "root"),
                );
            }),
            "edit:/etc/hosts#hostname",
        ),
        (
            "package removed",
            Box::new(|f| {
                f.packages.insert("tmux".into(), PackageState::absent());
            }),
            "packages:curl,wget,git,unzip,htop,tmux,ufw,fail2ban,tzdata",
        ),
        (
            "stale apt lists",
            Box::new(|f| {
                f.apt = Some(AptState {
                    lists_age_secs: 7200,
                    ..AptState::default()
                });
            }),
            "apt-update",
        ),
    ];
    for (what, drift, want) in drifts {
        let mut f = converged.clone();
        drift(&mut f);
        let p = plan_checked(&c, &f, &secrets(), "root");
        assert_eq!(changes(&p), [want], "{what}");
        assert_converges(&c, f, &secrets(), "root");
    }
}

#[test]
fn upgrade_is_a_guarded_full_upgrade() {
    let c = configure(json!({"upgrade": true}));
    let mut req = FactRequest::new();
    c.facts(&mut req);
    assert!(
        req.commands["unless:apt full-upgrade"]
            .contains("apt-get -s -o Debug::NoLocking=1 full-upgrade")
    );
    let p = plan_checked(&c, &fresh(&c), &secrets(), "root");
    let item = p
        .items
        .iter()
        .find(|i| i.resource.id() == "command:apt full-upgrade")
        .expect("the upgrade step");
    let Ok(Change::Apply(a)) = &item.change else {
        panic!("pending upgrades are applied")
    };
    assert!(
        a.script.as_str().contains("--force-confold") && a.script.as_str().contains("full-upgrade")
    );
    assert_eq!(a.risk, Risk::Service);
    assert_converges(&c, fresh(&c), &secrets(), "root");
    // Nothing pending: nothing to do.
    let mut f = fresh(&c);
    f.commands.insert(
        "unless:apt full-upgrade".into(),
        CommandResult {
            rc: 0,
            output: String::new(),
        },
    );
    let p = plan_checked(&c, &f, &secrets(), "root");
    assert!(!changes(&p).contains(&"command:apt full-upgrade".to_owned()));
}

#[test]
fn an_unknown_time_zone_is_refused_once_tzdata_is_there() {
    let c = configure(json!({"timezone": "Europe/Pariss"}));
    let mut f = fresh(&c);
    // tzdata missing: it gets installed, the zone cannot be checked yet.
    plan_checked(&c, &f, &secrets(), "root");
    f.packages.insert(
        "tzdata".into(),
        PackageState {
            installed: true,
            version: "2025b".into(),
            status: "ii".into(),
        },
    );
    assert!(plan_err(&c, &f, "root").contains("time zone `Europe/Pariss` does not exist on h5"));
    let c = configure(json!({"timezone": ""}));
    let p = plan_checked(&c, &fresh(&c), &secrets(), "root");
    assert!(
        !changes(&p)
            .iter()
            .any(|i| i.contains("localtime") || i.contains("tzdata"))
    );
}

#[test]
fn an_existing_admin_keeps_its_home_and_groups() {
    let c = site_config();
    let mut f = fresh(&c);
    if let Some(a) = f.accounts.as_mut() {
        a.users.insert(
            "fleetclaw".into(),
            UserEntry {
                uid: 1001,
                gid: 1001,
                home: "/srv/fleetclaw".into(),
                shell: "/bin/bash".into(),
            },
        );
    }
    let e = plan_err(&c, &f, "root");
    assert!(
        e.contains("exists on h5 with home /srv/fleetclaw")
            && e.contains("base.admin.home = \"/srv/fleetclaw\""),
        "{e}"
    );
    let c = configure(json!({"admin": {"home": "/srv/fleetclaw", "groups": ["sudo"]}}));
    let mut f = fresh(&c);
    if let Some(a) = f.accounts.as_mut() {
        a.users.insert(
            "fleetclaw".into(),
            UserEntry {
                uid: 1001,
                gid: 1001,
                home: "/srv/fleetclaw".into(),
                shell: "/bin/bash".into(),
            },
        );
        a.groups.insert(
            "fleet".into(),
            rampart_core::facts::GroupEntry {
                gid: 1001,
                members: Vec::new(),
            },
        );
    }
    let p = plan_checked(&c, &f, &secrets(), "root");
    assert!(changes(&p).contains(&"directory:/srv/fleetclaw/.ssh".to_owned()));
    let after = assert_converges(&c, f, &secrets(), "root");
    // Files belong to the user's primary group, whatever its name.
    assert_eq!(
        after.files["/srv/fleetclaw/.ssh"],
        FileState::Dir {
            mode: 0o700,
            owner: "fleetclaw".into(),
            group: "fleet".into()
        }
    );
    // A new user with a home outside /home cannot be created by the User resource.
    let c = configure(json!({"admin": {"home": "/srv/fleetclaw"}}));
    assert!(plan_err(&c, &fresh(&c), "root").contains("leave base.admin.home unset"));
}

#[test]
fn removing_keys_while_logged_in_as_the_admin_is_refused() {
    let c = configure(json!({"admin": {"authorized_keys": [KEY_A]}}));
    let mut f = fresh(&c);
    if let Some(a) = f.accounts.as_mut() {
        a.users.insert(
            "fleetclaw".into(),
            UserEntry {
                uid: 1001,
                gid: 1001,
                home: "/home/fleetclaw".into(),
                shell: "/bin/bash".into(),
            },
        );
    }
    f.files.insert(
        "/home/fleetclaw/.ssh/authorized_keys".into(),
        text_file(&format!("{KEY_A}\n{KEY_B}\n"), 0o600, "fleetclaw"),
    );
    let e = plan_err(&c, &f, "fleetclaw");
    assert!(
        e.contains("would remove 1 of its keys (ssh-ed25519 ...") && e.contains("bob@desk"),
        "{e}"
    );
    // As root, or with allow_lockout, it plans.
    plan_checked(&c, &f, &secrets(), "root");
    let c = configure(json!({"admin": {"authorized_keys": [KEY_A], "allow_lockout": true}}));
    plan_checked(&c, &f, &secrets(), "fleetclaw");
    // Adding a key is always fine.
    let c = configure(json!({"admin": {"authorized_keys": [KEY_A, KEY_B]}}));
    f.files.insert(
        "/home/fleetclaw/.ssh/authorized_keys".into(),
        text_file(&format!("{KEY_A}\n"), 0o600, "fleetclaw"),
    );
    plan_checked(&c, &f, &secrets(), "fleetclaw");
}

#[test]
fn checks_are_the_seeds_controls() {
    let checks = site_config().checks();
    let ids: Vec<&str> = checks.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "base.packages",
            "base.timezone",
            "base.hostname",
            "base.hosts-entry",
            "base.admin-user",
            "base.admin-ssh"
        ]
    );
    let get = |id: &str| {
        checks
            .iter()
            .find(|c| c.id == id)
            .map(|c| (c.command.clone(), c.expect.clone()))
            .unwrap_or_else(|| panic!("no check {id}"))
    };
    assert_eq!(
        get("base.hosts-entry").1,
        Expect::Equals("127.0.1.1 fleetclaw-prod".into())
    );
    assert_eq!(
        get("base.timezone").1,
        Expect::Equals("/usr/share/zoneinfo/UTC".into())
    );
    assert_eq!(
        get("base.admin-ssh"),
        (
            "set -- \"$1\" /home/fleetclaw/.ssh /home/fleetclaw/.ssh/authorized_keys\nshift\nstat -c '%a %U %n' \"$@\"\n".into(),
            Expect::Equals("700 fleetclaw /home/fleetclaw/.ssh\n600 fleetclaw /home/fleetclaw/.ssh/authorized_keys".into())
        )
    );
    let r = rampart_core::facts::CommandResult {
        rc: 0,
        output: "missing: tmux\n".into(),
    };
    assert!(!checks[0].judge(Some(&r)).pass);
}

#[test]
fn config_errors_have_paths() {
    let r = role();
    for (v, path) in [
        (json!({"packages": ["curl", "Bad Name"]}), "packages[1]"),
        (json!({"timezone": "../../etc/shadow"}), "timezone"),
        (json!({"hostname": "bad_host"}), "hostname"),
        (json!({"admin": {"name": "Root User"}}), "admin.name"),
        (json!({"admin": {"shell": "bash"}}), "admin.shell"),
        (
            json!({"admin": {"authorized_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA x\nssh-rsa AAAA evil"]}}),
            "admin.authorized_keys[0]",
        ),
        (
            json!({"admin": {"authorized_keys": ["not a key"]}}),
            "admin.authorized_keys[0]",
        ),
        (json!({"admin": {"nmae": "x"}}), "admin.nmae"),
        (json!({"apt_cache_valid_secs": -1}), "apt_cache_valid_secs"),
    ] {
        let e = r.configure(v.clone()).map(|_| ()).unwrap_err();
        assert_eq!(e.path, path, "{v}: {e}");
    }
    let e = r
        .configure(json!({"upgrde": true}))
        .map(|_| ())
        .unwrap_err();
    assert_eq!(e.unknown_field.as_deref(), Some("upgrde"));
    assert_eq!(
        r.defaults()["packages"],
        json!([
            "curl", "wget", "git", "unzip", "htop", "tmux", "ufw", "fail2ban"
        ])
    );
    assert_eq!(r.defaults()["admin"]["name"], json!("fleetclaw"));
}

/// The checks' scripts (`checks/*.sh`) under dash with fake commands: each branch.
mod check_scripts {
    use super::*;
    use pretty_assertions::assert_eq;
    use rampart_shtest::Sh;

    fn run(sh: &Sh, k: &Check) -> (bool, String, i32) {
        let out = sh.run_check(&k.command);
        let text = out.stdout_str();
        let r = rampart_core::facts::CommandResult {
            rc: out.status,
            output: text.clone(),
        };
        (k.judge(Some(&r)).pass, text, out.status)
    }

    fn check(id: &str) -> Check {
        site_config()
            .checks()
            .into_iter()
            .find(|c| c.id == id)
            .expect(id)
    }

    #[test]
    fn packages_names_each_missing_one() {
        let Some(sh) = Sh::new() else { return };
        let k = check("base.packages");
        // Installed: dpkg-query says ii for every package.
        sh.stub_output("dpkg-query", 0, "ii ");
        let (pass, out, rc) = run(&sh, &k);
        assert!(pass && rc == 0 && out.is_empty(), "{out}");
        // dpkg-query fails (unknown package) or says rc (removed): missing.
        sh.stub_body(
            "dpkg-query",
            "case $3 in tmux) exit 1 ;; curl) printf 'rc ' ;; *) printf 'ii ' ;; esac",
        );
        let (pass, out, rc) = run(&sh, &k);
        assert!(!pass && rc == 0, "{out}");
        assert!(
            out.contains("missing: tmux\n") && out.contains("missing: curl\n"),
            "{out}"
        );
        assert_eq!(out.lines().count(), 2, "{out}");
        // One dpkg-query answers every installed package; only the one missing is asked alone.
        sh.clear_calls();
        sh.stub_body(
            "dpkg-query",
            "shift 2; for p do [ \"$p\" = htop ] || printf 'ii %s\\n' \"$p\"; done",
        );
        let (pass, out, _) = run(&sh, &k);
        assert!(!pass && out == "missing: htop\n", "{out}");
        assert_eq!(sh.calls().len(), 2, "{:?}", sh.calls());
    }

    #[test]
    fn hostname_reads_both_files() {
        let Some(sh) = Sh::new() else { return };
        let k = check("base.hostname");
        let k = Check {
            fact: None,
            command: k
                .command
                .replace("/proc/sys/kernel/hostname", &sh.path("proc/hostname"))
                .replace(" /etc/hostname", &format!(" {}", sh.path("etc/hostname"))),
            ..k
        };
        sh.write("proc/hostname", "fleetclaw-prod\n");
        sh.write("etc/hostname", "fleetclaw-prod\n");
        assert!(run(&sh, &k).0);
        sh.write("etc/hostname", "debian\n");
        assert!(!run(&sh, &k).0);
        // /etc/hostname missing: cat's failure is the check's.
        std::fs::remove_file(sh.path("etc/hostname")).expect("rm");
        let (pass, out, rc) = run(&sh, &k);
        assert!(!pass && rc != 0 && out == "fleetclaw-prod\n", "{out}");
    }

    #[test]
    fn admin_user_prints_the_shell_or_nothing() {
        let Some(sh) = Sh::new() else { return };
        let k = check("base.admin-user");
        sh.stub_output(
            "getent",
            0,
            "fleetclaw:x:1000:1000::/home/fleetclaw:/bin/bash\n",
        );
        let (pass, out, _) = run(&sh, &k);
        assert!(pass && out == "/bin/bash\n", "{out}");
        assert_eq!(sh.calls(), ["getent passwd fleetclaw"]);
        // No such user: no output, the check fails.
        sh.stub("getent", 2);
        let (pass, out, _) = run(&sh, &k);
        assert!(!pass && out.is_empty(), "{out}");
    }

    #[test]
    fn admin_ssh_stats_each_path() {
        let Some(sh) = Sh::new() else { return };
        let k = check("base.admin-ssh");
        sh.stub_body(
            "stat",
            "shift 2; for p do case $p in *keys) echo \"600 fleetclaw $p\" ;; *) echo \"700 fleetclaw $p\" ;; esac; done",
        );
        let (pass, out, _) = run(&sh, &k);
        assert!(pass, "{out}");
        // A wrong mode, or stat failing on a missing file.
        sh.stub_body(
            "stat",
            "shift 2; echo \"755 fleetclaw $1\"; echo \"stat: cannot statx '$2': No such file or directory\" >&2; exit 1",
        );
        let (pass, out, rc) = run(&sh, &k);
        assert!(!pass && rc == 1, "{out}");
    }
}
