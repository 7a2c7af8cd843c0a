//! One audit control per catalogue control (id = the control's id): a read-only shell check
//! that holds exactly when the control's resources would plan nothing on the host (the same
//! comparisons: the live value and the line in the aggregated file, a file's hash and
//! attributes, a package's state, a unit's state), or, for command controls, its check.
//! Waived controls pass with the waiver as evidence; an expired waiver fails.

use rampart_core::shell::quote;
use rampart_core::verify::{Check, Expect};

use crate::build::{MODPROBE_FILE, Options, SSHD_FILE, SYSCTL_FILE, render};
use crate::catalogue::{Control, Os, catalogue, parse_mode};
use crate::{Baseline, Waiver};

/// The checks of a configured baseline: every control of its profile, on every release
/// (each check says "not applicable" on a release the control does not cover).
pub fn checks(b: &Baseline, o: &Options<'_>) -> Vec<Check> {
    catalogue()
        .select(b.profile, None)
        .into_iter()
        .map(|c| match b.waiver_for(&c.id) {
            Some(w) => waived_check(c, w, b.expired(w)),
            None => check(c, o),
        })
        .collect()
}

fn waived_check(c: &Control, w: &Waiver, expired: bool) -> Check {
    let text = format!("waived: {} (by {}, expires {})", w.reason, w.by, w.expires);
    let command = if expired {
        format!(
            "echo {}; exit 1",
            quote(&format!(
                "waiver EXPIRED on {}: {} (by {})",
                w.expires, w.reason, w.by
            ))
        )
    } else {
        format!("echo {}", quote(&text))
    };
    Check {
        id: c.id.clone(),
        title: format!("{} [waived]", c.title),
        command,
        expect: Expect::Success,
    }
}

/// The check of one control.
pub fn check(c: &Control, o: &Options<'_>) -> Check {
    let mut s = String::from("f=0\n");
    if c.os.len() < Os::ALL.len() {
        let pats: Vec<String> =
            c.os.iter()
                .map(|os| match os {
                    Os::Ubuntu2404 => "ubuntu-24.04".to_owned(),
                    Os::Debian12 => "debian-12*".to_owned(),
                    Os::Debian13 => "debian-13*".to_owned(),
                })
                .collect();
        s.push_str(&format!(
            ". /etc/os-release; case \"$ID-$VERSION_ID\" in {}) ;; *) echo \"not applicable on $ID $VERSION_ID\"; echo ok; exit 0 ;; esac\n",
            pats.join("|")
        ));
    }
    if !c.container {
        s.push_str("if v=$(systemd-detect-virt -c 2>/dev/null); then echo \"not applicable in a container ($v)\"; echo ok; exit 0; fi\n");
    }
    for p in &c.if_installed {
        s.push_str(&format!(
            "dpkg-query -W -f='${{db:Status-Abbrev}}' {q} 2>/dev/null | grep -q '^.i' || {{ echo {}; echo ok; exit 0; }}\n",
            quote(&format!("not applicable: {p} is not installed")),
            q = quote(p)
        ));
    }
    for p in &c.if_exists {
        s.push_str(&format!(
            "[ -e {q} ] || [ -L {q} ] || {{ echo {}; echo ok; exit 0; }}\n",
            quote(&format!("not applicable: {p} does not exist")),
            q = quote(p)
        ));
    }
    let fail = |what: &str| format!("{{ echo {}; f=1; }}", quote(&format!("FAIL: {what}")));
    let allowed: Vec<String> = o
        .vars
        .get("allowed_modules")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for (k, v) in c.sysctls() {
        let v = render(&v.0, o).unwrap_or_else(|e| e);
        let v = v.split_whitespace().collect::<Vec<_>>().join(" ");
        let proc_path = format!("/proc/sys/{}", k.replace('.', "/"));
        // As the build decides: inside a container only net.* is the host's own (a lab host's
        // /proc/sys is not mounted read-only, but writes to kernel-wide keys are refused).
        let shared = if k.starts_with("net.") {
            ""
        } else {
            "systemd-detect-virt -cq || "
        };
        s.push_str(&format!(
            "if ! {{ {shared}! [ -w {p} ]; }}; then v=$(cat {p}); v=$(echo $v); [ \"$v\" = {q} ] || {{ echo \"FAIL: {k} is $v, not \"{q}; f=1; }}; else echo 'note: {k} is missing or read-only here (a container): the file only'; fi\n",
            p = quote(&proc_path),
            q = quote(&v),
        ));
        s.push_str(&format!(
            "grep -qxF -- {} {} || {}\n",
            quote(&format!("{k} = {v}")),
            SYSCTL_FILE,
            fail(&format!("{SYSCTL_FILE} does not set {k} = {v}"))
        ));
    }
    for m in c.modprobe.iter().filter(|m| !allowed.contains(m)) {
        s.push_str(&format!(
            "grep -qxF {} {f} && grep -qxF {} {f} || {}\n",
            quote(&format!("install {m} /bin/false")),
            quote(&format!("blacklist {m}")),
            fail(&format!("{MODPROBE_FILE} does not blacklist {m}")),
            f = MODPROBE_FILE
        ));
    }
    let sshd: Vec<(String, String)> = c
        .sshd_settings()
        .map(|(k, v)| (k.clone(), render(&v.0, o).unwrap_or_else(|e| e)))
        .collect();
    if !sshd.is_empty() {
        s.push_str("t=$(sshd -T 2>/dev/null)\n");
        for (k, v) in &sshd {
            s.push_str(&format!(
                "grep -qxF -- {} {SSHD_FILE} || {}\n",
                quote(&format!("{k} {v}")),
                fail(&format!("{SSHD_FILE} does not set {k} {v}"))
            ));
            if let Some(removed) = v.strip_prefix('-') {
                // A removal list ("-a,b"): sshd -T offers none of them.
                for a in removed.split(',') {
                    s.push_str(&format!(
                        "if printf '%s\\n' \"$t\" | grep -i '^{lk} ' | tr ' ,' '\\n\\n' | grep -qixF -- {}; then echo \"FAIL: sshd -T still offers {a}\"; f=1; fi\n",
                        quote(a),
                        lk = k.to_ascii_lowercase()
                    ));
                }
                continue;
            }
            s.push_str(&format!(
                "printf '%s\\n' \"$t\" | grep -qixF -- {} || {{ echo \"FAIL: sshd -T says: $(printf '%s\\n' \"$t\" | grep -i '^{lk} ')\"; f=1; }}\n",
                quote(&format!("{} {v}", k.to_ascii_lowercase())),
                lk = k.to_ascii_lowercase()
            ));
        }
    }
    for l in &c.line {
        let line = render(&l.line, o).unwrap_or_else(|e| e);
        s.push_str(&format!(
            "awk -v m={m} -v l={l} 'index($0, m) == 1 {{ n++; if ($0 != l) bad++ }} END {{ exit !(n == 1 && !bad) }}' {p} 2>/dev/null || {}\n",
            fail(&format!("{} does not have exactly one line {line}", l.path)),
            m = quote(&l.matches),
            l = quote(&line),
            p = quote(&l.path)
        ));
    }
    for b in &c.block {
        let body = render(&b.body, o).unwrap_or_else(|e| e);
        s.push_str(&format!(
            "grep -qxF {} {p} 2>/dev/null || {}\n",
            quote(&format!("# BEGIN rampart {}", b.name)),
            fail(&format!("{} has no block {}", b.path, b.name)),
            p = quote(&b.path)
        ));
        for line in body.lines().filter(|l| !l.is_empty()) {
            s.push_str(&format!(
                "grep -qxF -- {} {p} 2>/dev/null || {}\n",
                quote(line),
                fail(&format!("{} lacks {line}", b.path)),
                p = quote(&b.path)
            ));
        }
    }
    for f in &c.file {
        let p = quote(&f.path).into_owned();
        match &f.content {
            None => s.push_str(&format!(
                "if [ -e {p} ] || [ -L {p} ]; then {}; fi\n",
                fail(&format!("{} exists", f.path))
            )),
            Some(t) => {
                let text = render(t, o).unwrap_or_else(|e| e);
                let sha = rampart_core::facts::sha256_hex(text.as_bytes());
                let mode = f.mode.as_deref().and_then(parse_mode).unwrap_or(0o644);
                let want = format!(
                    "{mode:o} {} {}",
                    f.owner.as_deref().unwrap_or("root"),
                    f.group.as_deref().unwrap_or("root")
                );
                s.push_str(&format!(
                    "[ ! -L {p} ] && printf '%s  %s\\n' {sha} {p} | sha256sum -c --status 2>/dev/null || {}\n",
                    fail(&format!("{} is not the file rampart writes", f.path))
                ));
                s.push_str(&format!(
                    "a=$(stat -c '%a %U %G' {p} 2>/dev/null); [ \"$a\" = {} ] || {{ echo \"FAIL: {} is $a, not {want}\"; f=1; }}\n",
                    quote(&want),
                    f.path
                ));
            }
        }
    }
    for pm in &c.perms {
        let p = quote(&pm.path).into_owned();
        let mut tests = Vec::new();
        if let Some(m) = pm.mode.as_deref().and_then(parse_mode) {
            tests.push(format!("[ \"$1\" = {m:o} ]"));
        }
        if let Some(m) = pm.max_mode.as_deref().and_then(parse_mode) {
            tests.push(format!("[ $(( 0$1 & ~0{m:o} )) -eq 0 ]"));
        }
        if let Some(o) = &pm.owner {
            tests.push(format!("[ \"$2\" = {} ]", quote(o)));
        }
        if let Some(g) = &pm.group {
            tests.push(format!("[ \"$3\" = {} ]", quote(g)));
        }
        s.push_str(&format!(
            "if [ -e {p} ] && [ ! -L {p} ]; then set -- $(stat -c '%a %U %G' {p}); {} || {{ echo \"FAIL: {} is $1 $2:$3\"; f=1; }}; fi\n",
            tests.join(" && "),
            pm.path
        ));
    }
    for pk in &c.packages {
        for n in &pk.present {
            s.push_str(&format!(
                "dpkg-query -W -f='${{db:Status-Abbrev}}' {} 2>/dev/null | grep -q '^.i' || {}\n",
                quote(n),
                fail(&format!("package {n} is not installed"))
            ));
        }
        for n in &pk.absent {
            s.push_str(&format!(
                "if dpkg-query -W -f='${{db:Status-Abbrev}}' {} 2>/dev/null | grep -q '^.i'; then {}; fi\n",
                quote(n),
                fail(&format!("package {n} is installed"))
            ));
        }
    }
    for sv in &c.service {
        let u = quote(&sv.name).into_owned();
        if let Some(m) = sv.masked {
            let test = if m { "=" } else { "!=" };
            s.push_str(&format!(
                "[ \"$(systemctl is-enabled {u} 2>/dev/null)\" {test} masked ] || {}\n",
                fail(&format!(
                    "{} is {}masked",
                    sv.name,
                    if m { "not " } else { "" }
                ))
            ));
        }
        if let Some(e) = sv.enabled {
            let test = if e { "=" } else { "!=" };
            s.push_str(&format!(
                "[ \"$(systemctl is-enabled {u} 2>/dev/null)\" {test} enabled ] || {}\n",
                fail(&format!(
                    "{} is {}enabled",
                    sv.name,
                    if e { "not " } else { "" }
                ))
            ));
        }
        if let Some(r) = sv.running {
            let neg = if r { "" } else { "! " };
            s.push_str(&format!(
                "{neg}systemctl is-active --quiet {u} || {}\n",
                fail(&format!(
                    "{} is {}running",
                    sv.name,
                    if r { "not " } else { "" }
                ))
            ));
        }
    }
    for cmd in &c.command {
        s.push_str(&format!(
            "( {} ) >/dev/null 2>&1 || {}\n",
            cmd.check,
            fail("its check fails")
        ));
    }
    s.push_str("[ \"$f\" = 0 ] && echo ok\n");
    Check {
        id: c.id.clone(),
        title: c.title.clone(),
        command: s,
        expect: Expect::Line("ok".into()),
    }
}
