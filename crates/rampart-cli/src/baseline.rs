//! `rampart baseline`: the embedded CIS baseline catalogue, and how a site's `[baseline]`
//! table and the plays' `baseline = "..."` become the `baseline` role of each host (its
//! configuration, the waivers shown in check, apply and audit).

use std::io::Write;

use clap::{Args, Subcommand};
use rampart_core::InputError;
use rampart_core::error::Location;
use rampart_core::report::RunReport;
use rampart_core::site::Site;
use rampart_role_baseline::{Baseline, Config, Control, Date, Os, PROFILES, Profile, Waiver};

use crate::error::{CliError, Exit};

/// `rampart baseline`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  rampart baseline list --profile cis-l1-server --os ubuntu-24.04
  rampart baseline list --profile cis-l2-server --json
  rampart baseline list -v                # with rationale, kinds and the cost of command checks")]
pub struct BaselineArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: BaselineAction,
}

/// `rampart baseline` actions.
#[derive(Debug, Subcommand)]
pub enum BaselineAction {
    /// List the controls: id, levels, CIS numbers per release, section and title.
    List(ListArgs),
}

/// `rampart baseline list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only the controls of this profile (cis-l1-server, cis-l2-server).
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,

    /// Only the controls that apply to this release (ubuntu-24.04, debian-12, debian-13).
    #[arg(long, value_name = "OS")]
    pub os: Option<String>,

    /// One JSON document on stdout.
    #[arg(from_global)]
    pub json: bool,

    /// With -v: each control's rationale, desired-state kinds and the cost of its commands.
    #[arg(from_global)]
    pub verbose: u8,
}

fn bad(flag: &str, message: String, hint: String) -> CliError {
    InputError::new(Location::file(flag), message)
        .with_hint(hint)
        .into()
}

/// Parses `--profile`.
fn profile_arg(p: Option<&str>) -> Result<Option<Profile>, CliError> {
    p.map(|name| {
        Profile::named(name).ok_or_else(|| {
            bad(
                "--profile",
                format!("unknown baseline profile `{name}`"),
                format!(
                    "use {}",
                    PROFILES
                        .iter()
                        .map(|p| p.name)
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            )
        })
    })
    .transpose()
}

/// `rampart baseline ...`.
pub fn run(a: BaselineArgs) -> Result<Exit, CliError> {
    match a.action {
        BaselineAction::List(l) => list(&l),
    }
}

fn row_json(c: &Control) -> serde_json::Value {
    serde_json::json!({
        "id": c.id,
        "section": c.section,
        "title": c.title,
        "rationale": c.rationale,
        "levels": c.levels,
        "os": c.os,
        "cis": c.cis,
        "devsec": c.devsec,
        "kinds": c.kinds(),
        "commands": c.command.iter().map(|x| serde_json::json!({"cost": x.cost, "rerun": x.rerun, "fix": x.fix.is_some()})).collect::<Vec<_>>(),
    })
}

fn list(a: &ListArgs) -> Result<Exit, CliError> {
    let profile = profile_arg(a.profile.as_deref())?;
    let os =
        a.os.as_deref()
            .map(|o| {
                Os::parse(o).ok_or_else(|| {
                    bad(
                        "--os",
                        format!("unknown release `{o}`"),
                        format!("use {}", Os::ALL.map(Os::name).join(", ")),
                    )
                })
            })
            .transpose()?;
    let rows = rampart_role_baseline::list(profile, os);
    let mut out = std::io::stdout().lock();
    if a.json {
        let doc = serde_json::json!({
            "profile": profile.map(|p| p.name),
            "os": os.map(Os::name),
            "count": rows.len(),
            "controls": rows.iter().map(|c| row_json(c)).collect::<Vec<_>>(),
        });
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        );
        return Ok(Exit::Ok);
    }
    let width = rows.iter().map(|c| c.id.len()).max().unwrap_or(2).max(2);
    let _ = writeln!(
        out,
        "{:<width$}  {:<9}  {:<11}  {:<9}  {:<9}  {:<12}  TITLE",
        "ID", "LEVELS", "UBUNTU24.04", "DEBIAN12", "DEBIAN13", "SECTION"
    );
    for c in &rows {
        let levels = c
            .levels
            .iter()
            .map(|l| l.to_string().trim_end_matches("-server").to_owned())
            .collect::<Vec<_>>()
            .join(",");
        let cis = |o: Os| {
            if c.applies_to(o) {
                c.cis_for(o).unwrap_or("-").to_owned()
            } else {
                "n/a".to_owned()
            }
        };
        let _ = writeln!(
            out,
            "{:<width$}  {:<9}  {:<11}  {:<9}  {:<9}  {:<12}  {}",
            c.id,
            levels,
            cis(Os::Ubuntu2404),
            cis(Os::Debian12),
            cis(Os::Debian13),
            c.section,
            c.title
        );
        if a.verbose > 0 {
            let _ = writeln!(out, "    why:   {}", c.rationale);
            let _ = writeln!(out, "    kinds: {}", c.kinds().join(", "));
            if !c.devsec.is_empty() {
                let _ = writeln!(out, "    dev-sec: {}", c.devsec.join(", "));
            }
            for cmd in &c.command {
                let _ = writeln!(
                    out,
                    "    command: cost: {}; {}",
                    cmd.cost,
                    if cmd.rerun {
                        "checked in every probe"
                    } else {
                        "checked on the first apply, with [baseline] deep = true, and in audit"
                    }
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "\n{} controls{}{}.",
        rows.len(),
        profile
            .map(|p| format!(" in {}", p.name))
            .unwrap_or_default(),
        os.map(|o| format!(" for {o}")).unwrap_or_default()
    );
    Ok(Exit::Ok)
}

/// Today's date, UTC, from the controller's clock (core reads none).
pub fn today() -> Date {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Date::from_unix_days(i64::try_from(secs / 86_400).unwrap_or(0))
}

/// The `baseline` role's configuration for a profile, from the site's `[baseline]` table.
pub fn role_config(site: &Site, profile: &str) -> serde_json::Value {
    let b = site.baseline.as_ref();
    serde_json::json!({
        "profile": profile,
        "vars": b.map(|b| b.vars.value.clone()).unwrap_or(serde_json::json!({})),
        "waivers": b.map(|b| b.waivers.iter().map(|w| serde_json::json!({
            "control": w.control.value,
            "reason": w.reason,
            "expires": w.expires.value,
            "by": w.by,
        })).collect::<Vec<_>>()).unwrap_or_default(),
        "deep": b.is_some_and(|b| b.deep),
        "today": today().to_string(),
    })
}

/// The `[baseline]` table with every default, for `rampart roles baseline`.
pub fn site_defaults() -> String {
    let mut s = String::from(
        "# See docs/baseline.md; a play's `baseline = \"...\"` overrides the profile.\n[baseline]\nprofile = \"cis-l1-server\"    # or cis-l2-server\ndeep = false\n# [[baseline.waiver]]\n# control = \"net.ipv4.*\"\n# reason = \"why\"\n# expires = \"2027-03-01\"\n# by = \"who approved it\"\n\n[baseline.vars]\n",
    );
    s.push_str(rampart_role_baseline::catalogue::DEFAULTS);
    s
}

/// Checks the site's `[baseline]` against the catalogue: profile names, variables and
/// waivers, each error at its `file:line:col`. Nothing is sent to a host before this passes.
pub fn validate_site(site: &Site) -> Result<(), CliError> {
    let mut errors = Vec::new();
    let profile_err = |name: &str, at: &Location| {
        let names: Vec<&str> = PROFILES.iter().map(|p| p.name).chain(["none"]).collect();
        let e = InputError::new(at.clone(), format!("unknown baseline profile `{name}`"));
        match rampart_core::error::did_you_mean(name, names.iter().copied()) {
            Some(s) => e.with_hint(format!("did you mean `{s}`?")),
            None => e.with_hint(format!("use {}", names.join(", "))),
        }
    };
    let known = |n: &str| n == "none" || Profile::named(n).is_some();
    if let Some(r) = site.roles.get(rampart_role_baseline::NAME) {
        errors.push(
            InputError::new(
                r.location.clone(),
                "the baseline is set in the site's [baseline] table, not in [roles.baseline]",
            )
            .with_hint("move these settings to [baseline] (`rampart roles baseline` shows them)"),
        );
    }
    if let Some(b) = &site.baseline {
        if let Some(p) = &b.profile
            && !known(&p.value)
        {
            errors.push(profile_err(&p.value, &p.location));
        }
        let cat = rampart_role_baseline::catalogue();
        for (k, at) in &b.var_keys {
            let Some(d) = cat.defaults.get(k) else {
                let mut e = InputError::new(at.clone(), format!("unknown baseline variable `{k}`"));
                e = match rampart_core::error::did_you_mean(
                    k,
                    cat.defaults.keys().map(String::as_str),
                ) {
                    Some(s) => e.with_hint(format!("did you mean `{s}`?")),
                    None => e.with_hint(format!(
                        "known variables: {}",
                        cat.defaults.keys().cloned().collect::<Vec<_>>().join(", ")
                    )),
                };
                errors.push(e);
                continue;
            };
            let mut one = serde_json::Map::new();
            if let Some(v) = b.vars.value.get(k) {
                one.insert(k.clone(), v.clone());
            }
            if let Err(e) = rampart_role_baseline::merge_vars(&one) {
                errors.push(
                    InputError::new(at.clone(), e.message).with_hint(format!("the default is {d}")),
                );
            }
        }
        for w in &b.waivers {
            let waiver = Waiver {
                control: w.control.value.clone(),
                reason: w.reason.clone(),
                expires: w.expires.value.clone(),
                by: w.by.clone(),
            };
            if let Err((field, m)) = waiver.validate(cat) {
                let at = match field {
                    "control" => w.control.location.clone(),
                    "expires" => w.expires.location.clone(),
                    _ => w.location.clone(),
                };
                errors.push(InputError::new(at, m));
            }
        }
    }
    for p in &site.plays {
        if let Some(b) = &p.baseline
            && !known(&b.value)
        {
            errors.push(profile_err(&b.value, &b.location));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CliError::Input(errors))
    }
}

/// The waiver lines of a host's baseline (for notes and warnings), and whether one expired.
pub fn waiver_notes(b: &Baseline) -> (Vec<String>, bool) {
    let expired = b.config.waivers.iter().any(|w| b.expired(w));
    (rampart_role_baseline::waiver_lines(b), expired)
}

/// Adds the waivers to every host report that runs the baseline, as notes every output
/// format carries (terminal, --json, JUnit, HTML), and warns on stderr about expired ones.
/// Returns the waiver lines when a host ran the baseline (for the report files' notes).
pub fn annotate(run: &mut RunReport, site: &Site) -> Vec<String> {
    // A control that does not apply to a host's release leaves its cell empty, as built-ins do.
    let cat = rampart_role_baseline::catalogue();
    for h in &mut run.hosts {
        h.verify.retain(|v| {
            !(v.evidence.starts_with("not applicable ") && cat.control(&v.id).is_some())
        });
    }
    let Some(cfg) = site.baseline.as_ref() else {
        return Vec::new();
    };
    if cfg.waivers.is_empty() {
        return Vec::new();
    }
    let Ok(b) = Baseline::new(
        serde_json::from_value::<Config>(role_config(site, "cis-l2-server")).unwrap_or_default(),
    ) else {
        return Vec::new();
    };
    let (lines, expired) = waiver_notes(&b);
    let mut any = false;
    for h in &mut run.hosts {
        if h.resources
            .iter()
            .any(|r| r.role.starts_with(rampart_role_baseline::NAME))
            || h.verify.iter().any(|v| v.title.ends_with("[waived]"))
        {
            any = true;
            h.notes.extend(lines.iter().cloned());
        }
    }
    if any && expired {
        for l in lines.iter().filter(|l| l.contains("EXPIRED")) {
            eprintln!("warning: {l}: renew it or remove it (rampart audit fails on it)");
        }
    }
    if any { lines } else { Vec::new() }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const ROLES: &[&str] = &["base", "sshd", "baseline"];

    fn errors(site: &str) -> Result<(), String> {
        let s = rampart_core::site::parse_site(Path::new("site.toml"), site, ROLES)
            .map_err(|e| e.to_string())?;
        validate_site(&s).map_err(|e| match e {
            CliError::Input(v) => v
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
            other => format!("{other:?}"),
        })
    }

    const PLAY: &str = "[[play]]\nhosts = \"all\"\nroles = [\"base\"]\n";

    #[test]
    fn bad_baseline_input_is_an_error_at_its_place() {
        assert_eq!(
            errors(&format!(
                "{PLAY}[baseline]\nprofile = \"cis-l1-server\"\nvars = {{ banner = \"x\" }}\n[[baseline.waiver]]\ncontrol = \"net.ipv4.*\"\nreason = \"r\"\nexpires = \"2027-03-01\"\nby = \"me\"\n"
            )),
            Ok(())
        );
        for (site, want) in [
            (
                format!("{PLAY}[baseline]\nprofile = \"cis-l1-sever\"\n"),
                "site.toml:5:11: unknown baseline profile `cis-l1-sever`\n  hint: did you mean `cis-l1-server`?",
            ),
            (
                "[[play]]\nhosts = \"all\"\nroles = [\"base\"]\nbaseline = \"cis\"\n".to_owned(),
                "site.toml:4:12: unknown baseline profile `cis`\n  hint: use cis-l1-server, cis-l2-server, none",
            ),
            (
                format!("{PLAY}[baseline]\nvars = {{ pass_max_dayz = 90 }}\n"),
                "site.toml:5:10: unknown baseline variable `pass_max_dayz`\n  hint: did you mean `pass_max_days`?",
            ),
            (
                format!("{PLAY}[baseline]\nvars = {{ pass_max_days = \"90\" }}\n"),
                "site.toml:5:10: `pass_max_days` must be a number (like 365), not a string\n  hint: the default is 365",
            ),
            (
                format!(
                    "{PLAY}[[baseline.waiver]]\ncontrol = \"net.ipv4.send-redirect\"\nreason = \"r\"\nexpires = \"2027-03-01\"\nby = \"me\"\n"
                ),
                "site.toml:5:11: no baseline control matches `net.ipv4.send-redirect` (did you mean `net.ipv4.send-redirects`?): `rampart baseline list` shows the ids",
            ),
            (
                format!(
                    "{PLAY}[[baseline.waiver]]\ncontrol = \"net.*\"\nreason = \"r\"\nexpires = \"2027-3-1\"\nby = \"me\"\n"
                ),
                "site.toml:7:11: invalid date `2027-3-1`: write YYYY-MM-DD, like 2027-03-01",
            ),
            (
                format!(
                    "{PLAY}[[baseline.waiver]]\ncontrol = \"net.*\"\nreason = \"r\"\nby = \"me\"\n"
                ),
                "site.toml:4:1: this waiver has no `expires`\n  hint: a waiver names control, reason, expires (YYYY-MM-DD) and by (who approved it)",
            ),
            (
                format!("{PLAY}[roles.baseline]\nprofile = \"cis-l2-server\"\n"),
                "site.toml:4:8: the baseline is set in the site's [baseline] table, not in [roles.baseline]\n  hint: move these settings to [baseline] (`rampart roles baseline` shows them)",
            ),
            (
                format!("{PLAY}[baseline]\nprofiles = \"cis-l1-server\"\n"),
                "site.toml:5:1: unknown key `profiles` in [baseline]\n  hint: did you mean `profile`?",
            ),
        ] {
            assert_eq!(errors(&site), Err(want.to_owned()), "site:\n{site}");
        }
    }

    #[test]
    fn a_host_runs_the_strictest_profile_of_its_plays_and_none_turns_it_off() {
        let site = "[baseline]\nprofile = \"cis-l1-server\"\n[[play]]\nhosts = \"web\"\nroles = [\"base\"]\n[[play]]\nhosts = \"db\"\nroles = [\"sshd\"]\nbaseline = \"cis-l2-server\"\n[[play]]\nhosts = \"lab\"\nbaseline = \"none\"\nroles = [\"base\"]\n[[play]]\nhosts = \"bastion\"\nbaseline = \"cis-l1-server\"\n";
        let s = rampart_core::site::parse_site(Path::new("site.toml"), site, ROLES).unwrap();
        let inv = rampart_core::inventory::parse(
            Path::new("i.ini"),
            "[web]\nh1\nh2\n[db]\nh2\n[lab]\nh3\n[bastion]\nh4\n",
        )
        .unwrap();
        let host = |n: &str| inv.host(n).unwrap();
        assert_eq!(s.baseline_for(host("h1")), Some("cis-l1-server"));
        assert_eq!(s.baseline_for(host("h2")), Some("cis-l2-server"));
        assert_eq!(s.baseline_for(host("h3")), None);
        assert_eq!(s.roles_for(host("h3")), vec!["base"]);
        assert_eq!(s.roles_for(host("h2")), vec!["base", "sshd", "baseline"]);
        assert_eq!(s.roles_for(host("h4")), vec!["baseline"]);
        let cfg = role_config(&s, "cis-l2-server");
        assert_eq!(cfg["profile"], "cis-l2-server");
        assert!(rampart_role_baseline::role().configure(cfg).is_ok());
    }

    #[test]
    fn waivers_become_notes_of_the_hosts_that_run_the_baseline() {
        let site = "[baseline]\nprofile = \"cis-l1-server\"\n[[baseline.waiver]]\ncontrol = \"net.ipv4.rp-filter\"\nreason = \"asymmetric routing\"\nexpires = \"2000-01-01\"\nby = \"ops\"\n[[play]]\nhosts = \"all\"\nroles = [\"base\"]\n";
        let s = rampart_core::site::parse_site(Path::new("site.toml"), site, ROLES).unwrap();
        let mut run = RunReport {
            mode: rampart_core::report::Mode::Check,
            version: String::new(),
            seconds: 0.0,
            hosts: vec![rampart_core::report::HostReport {
                host: "h1".into(),
                resources: vec![rampart_core::report::ResourceOutcome {
                    role: "baseline".into(),
                    id: "file:/etc/sysctl.d/60-rampart-baseline.conf".into(),
                    status: rampart_core::report::Status::Unchanged,
                    summary: String::new(),
                    diff: String::new(),
                    risk: None,
                    error: None,
                }],
                ..Default::default()
            }],
        };
        let lines = annotate(&mut run, &s);
        assert_eq!(
            lines,
            vec![
                "baseline: EXPIRED waiver net.ipv4.rp-filter (1 control): asymmetric routing (by ops, expires 2000-01-01)"
            ]
        );
        assert_eq!(run.hosts[0].notes, lines);
    }
}
