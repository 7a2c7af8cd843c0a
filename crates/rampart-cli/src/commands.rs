//! The commands: ping, check, apply, inventory, roles, init.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::Arc;

use rampart_core::report::{HostReport, Mode, RunReport};
use rampart_core::secret::Redactor;
use rampart_core::template::Templates;
use rampart_engine::journal::{Journal, Retry};
use rampart_engine::{HostJob, Rollout, RunOptions, Shared, VerifyPolicy, run_fleet, run_rollout};
use rampart_ssh::{ClientOptions, Connector, HostKeyPolicy};
use serde_json::json;

use crate::args::{
    ConnArgs, InitArgs, InventoryArgs, InventoryView, PingArgs, RolesArgs, RolloutArgs, RunArgs,
    SecretsAction, SecretsArgs,
};
use crate::error::{CliError, Exit};
use crate::jobs;
use crate::output::{self, Progress};
use crate::registry;

/// The connector of every command that logs in: check, apply and audit alike.
pub(crate) fn connector(conn: &ConnArgs) -> Connector {
    Connector::new(ClientOptions {
        host_key_policy: if conn.accept_new {
            HostKeyPolicy::AcceptNew
        } else {
            HostKeyPolicy::Strict
        },
        allow_tty_prompt: std::io::stdin().is_terminal(),
        // A host whose link dies mid-run is noticed within about 20 s (3 missed keepalives),
        // not after the 15 s x 3 + 60 s of the transport's defaults.
        keepalive: std::time::Duration::from_secs(5),
        ..ClientOptions::default()
    })
}

/// Where the run remembers costly probe answers: nowhere with `--no-fact-cache`.
pub(crate) fn fact_cache_dir(no_fact_cache: bool) -> Option<std::path::PathBuf> {
    if no_fact_cache {
        None
    } else {
        rampart_engine::factcache::default_dir()
    }
}

fn forks(conn: &ConnArgs, hosts: usize) -> usize {
    conn.forks.unwrap_or(hosts).max(1)
}

/// The exit code of a finished run.
fn exit_of(report: &RunReport) -> Exit {
    let failed = report
        .hosts
        .iter()
        .any(|h| !h.unreachable && h.is_failure());
    let unreachable = report.hosts.iter().any(|h| h.unreachable);
    let drift = report.hosts.iter().any(|h| h.changed > 0);
    if failed {
        Exit::HostFailed
    } else if unreachable {
        Exit::Unreachable
    } else if report.mode == Mode::Check && drift {
        Exit::Drift
    } else {
        Exit::Ok
    }
}

/// `rampart ping`.
pub async fn ping(a: PingArgs) -> Result<Exit, CliError> {
    let sel = jobs::select(&a.conn)?;
    let targets = jobs::targets(&sel, &a.conn)?;
    let jobs: Vec<HostJob> = targets
        .into_iter()
        .map(|(name, target, become_root)| HostJob {
            name,
            target,
            become_root,
            vars: json!({}),
            roles: Vec::new(),
        })
        .collect();
    let n = jobs.len();
    let shared = Arc::new(Shared::new(
        Templates::embedded(),
        BTreeMap::new(),
        Redactor::new(),
        RunOptions {
            mode: Mode::Ping,
            connect_attempts: 1,
            ..RunOptions::default()
        },
    ));
    let progress = Arc::new(Progress::new(n, Mode::Ping, a.conn.json));
    let report = run_fleet(
        jobs,
        shared,
        connector(&a.conn),
        forks(&a.conn, n),
        progress.clone(),
    )
    .await;
    progress.finish();
    if let Some(l) = crate::live::log() {
        l.run_done(&report);
    }
    if a.conn.json {
        let hosts: Vec<_> = report.hosts.iter().map(ping_json).collect();
        output::print_json(
            &json!({ "mode": "ping", "version": report.version, "seconds": report.seconds, "hosts": hosts }),
        );
    } else {
        print_ping(&report);
    }
    Ok(
        if report
            .hosts
            .iter()
            .any(|h| h.unreachable || h.error.is_some())
        {
            Exit::Unreachable
        } else {
            Exit::Ok
        },
    )
}

fn ping_json(h: &HostReport) -> serde_json::Value {
    let os = h.resources.first().map(|r| r.summary.clone());
    let reachable = !h.unreachable && h.error.is_none();
    json!({
        "host": h.host,
        "address": h.address,
        "reachable": reachable,
        "auth_ok": reachable,
        "host_key": if reachable { "verified" } else { match h.error_kind.as_deref() {
            Some("host-key-unknown") => "unknown",
            Some("host-key-changed") => "changed",
            Some("host-key-revoked") => "revoked",
            _ => "not checked",
        }},
        "os": os,
        "error": h.error,
        "error_kind": h.error_kind,
        "connections": h.connections,
        "round_trips": h.round_trips,
        "seconds": h.seconds,
    })
}

fn print_ping(report: &RunReport) {
    use comfy_table::{Cell, Table, presets};
    let report = &report.for_terminal();
    let mut t = Table::new();
    t.load_style(presets::UTF8_BORDERS_ONLY);
    t.set_header(vec![
        "host",
        "address",
        "reachable",
        "host key",
        "os",
        "time",
    ]);
    for h in &report.hosts {
        let j = ping_json(h);
        t.add_row(vec![
            Cell::new(&h.host),
            Cell::new(&h.address),
            Cell::new(if j["reachable"] == true {
                "yes".to_owned()
            } else {
                format!("no ({})", h.error_kind.as_deref().unwrap_or("error"))
            }),
            Cell::new(j["host_key"].as_str().unwrap_or_default()),
            Cell::new(j["os"].as_str().unwrap_or("-")),
            Cell::new(format!("{:.2}s", h.seconds)),
        ]);
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{t}");
    let up = report
        .hosts
        .iter()
        .filter(|h| !h.unreachable && h.error.is_none())
        .count();
    let _ = writeln!(
        out,
        "{up}/{} hosts reachable in {:.2}s",
        report.hosts.len(),
        report.seconds
    );
    for h in report.hosts.iter().filter(|h| h.error.is_some()) {
        let _ = writeln!(
            out,
            "error: {}: {}",
            h.host,
            h.error.as_deref().unwrap_or_default()
        );
    }
}

/// `rampart check` and `rampart apply`.
pub async fn run(a: RunArgs, rollout: Option<RolloutArgs>) -> Result<Exit, CliError> {
    let apply = rollout.is_some();
    let ro = rollout.unwrap_or_default();
    let registry = registry::roles();
    let mut prepared = jobs::prepare(&a, &registry)?;
    // --resume / --only-failed narrow the hosts to what the site's last journal left undone.
    let previous = if ro.resume || ro.only_failed {
        let j = Journal::load(&a.site).map_err(CliError::internal)?.ok_or_else(|| {
            CliError::from(
                rampart_core::InputError::in_file(&Journal::path_for(&a.site), "no journal of an earlier run of this site")
                    .with_hint("--resume and --only-failed continue a run that was started before from this site file"),
            )
        })?;
        j.select(
            &mut prepared.jobs,
            if ro.resume {
                Retry::Resume
            } else {
                Retry::OnlyFailed
            },
        );
        if prepared.jobs.is_empty() {
            eprintln!(
                "nothing to do: the journal {} records every host as done",
                Journal::path_for(&a.site).display()
            );
            return Ok(Exit::Ok);
        }
        Some(j)
    } else {
        None
    };
    let templates = jobs::load_templates(&prepared)?;
    let site = prepared.site.clone();
    let mode = if apply { Mode::Apply } else { Mode::Check };
    let secrets_file = a
        .secrets
        .clone()
        .or_else(|| prepared.site.secrets.as_ref().map(|p| p.value.clone()));
    let secrets = match &secrets_file {
        Some(path) => crate::secrets::load(path, a.identity.as_deref())?,
        None => BTreeMap::new(),
    };
    let redactor = jobs::redactor(&secrets, &prepared.jobs);
    if let Some(l) = crate::live::log() {
        l.set_redactor(redactor.clone());
    }
    let shared = Arc::new(Shared::new(
        templates,
        secrets,
        redactor,
        RunOptions {
            mode,
            verify: if a.verify {
                VerifyPolicy::Always
            } else {
                VerifyPolicy::Changed
            },
            skip_preflight: ro.skip_preflight,
            exclude_refused: ro.exclude_refused,
            confirm_timeout: std::time::Duration::from_secs(
                ro.confirm_timeout
                    .or(prepared
                        .site
                        .rolling
                        .confirm_timeout
                        .as_ref()
                        .map(|c| c.value))
                    .unwrap_or(120),
            ),
            health: prepared
                .site
                .rolling
                .health
                .as_ref()
                .map(|h| h.value.clone()),
            fact_cache: fact_cache_dir(a.no_fact_cache),
            ..RunOptions::default()
        },
    ));
    watch_ctrl_c(&shared);
    let n = prepared.jobs.len();
    if !prepared.idle.is_empty() && !a.conn.json {
        eprintln!(
            "note: no role applies to {} selected host(s): {}",
            prepared.idle.len(),
            prepared.idle.join(", ")
        );
    }
    let progress = Arc::new(Progress::new(n, mode, a.conn.json));
    // A rolling apply: the site's serial waves (a canary of 1, then 10%, 50%, 100% when the
    // site says nothing) with a health gate after each.
    let rolling = apply && (ro.rolling || prepared.site.rolling.location.is_some());
    let plan = rolling.then(|| {
        let mut r = prepared.site.rolling.clone();
        if r.location.is_none() {
            use rampart_core::types::CountOrPercent as C;
            r.serial = vec![C::Count(1), C::Percent(10), C::Percent(50), C::Percent(100)];
        }
        Rollout {
            waves: r.batches(n),
            max_fail: r.max_fail,
        }
    });
    let report = if apply {
        let names: Vec<String> = prepared.jobs.iter().map(|j| j.name.clone()).collect();
        let mut journal = Journal::new(&a.site, &a.conn.inventory, &names);
        if let Some(prev) = &previous {
            journal.carry_over(prev);
        }
        journal.log = crate::live::log()
            .map(|l| std::path::absolute(l.path()).unwrap_or_else(|_| l.path().to_owned()));
        let report = run_rollout(
            prepared.jobs,
            shared,
            connector(&a.conn),
            forks(&a.conn, n),
            progress.clone(),
            plan,
            Some(&mut journal),
        )
        .await;
        if !a.conn.json && report.hosts.iter().any(|h| h.is_failure()) {
            eprintln!(
                "journal: {} (retry with --resume or --only-failed)",
                journal.location().display()
            );
        }
        report
    } else {
        run_fleet(
            prepared.jobs,
            shared,
            connector(&a.conn),
            forks(&a.conn, n),
            progress.clone(),
        )
        .await
    };
    progress.finish();
    let mut report = report;
    let waivers = crate::baseline::annotate(&mut report, &site);
    if let Some(l) = crate::live::log() {
        l.run_done(&report);
    }
    if a.conn.json {
        output::print_json(&report);
    } else {
        output::print_changes(&report, a.diff, false);
        output::print_recap(&report);
    }
    let extras = crate::report::Extras {
        generated: Some(crate::report::now_utc()),
        notes: waivers,
        ..crate::report::Extras::default()
    };
    crate::report::write_files(&report, a.html.as_deref(), a.junit.as_deref(), &extras)?;
    if shared_cancelled(&report) {
        return Ok(Exit::Interrupted);
    }
    Ok(exit_of(&report))
}

fn shared_cancelled(report: &RunReport) -> bool {
    report.hosts.iter().any(|h| {
        h.error
            .as_deref()
            .is_some_and(|e| e.contains("interrupted (Ctrl-C)"))
            || h.resources
                .iter()
                .any(|r| r.summary.contains("interrupted (Ctrl-C)"))
    })
}

/// The first Ctrl-C lets every host finish the step in flight and start nothing new, so the
/// recap and the journal are still written and no file is left half-written; a second one
/// exits at once.
fn watch_ctrl_c(shared: &Arc<Shared>) {
    let flag = shared.cancelled.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, std::sync::atomic::Ordering::Relaxed);
            crate::live::say(
                "interrupted: finishing the steps in flight, starting nothing new (Ctrl-C again to abort)",
            );
            if tokio::signal::ctrl_c().await.is_ok() {
                crate::live::clear_screen();
                eprintln!("aborted");
                std::process::exit(130);
            }
        }
    });
}

/// `rampart inventory`.
pub fn inventory(a: InventoryArgs) -> Result<Exit, CliError> {
    let inv = rampart_engine::load::load_inventory(&a.inventory)?;
    for w in &inv.warnings {
        eprintln!("warning: {w}");
    }
    match a.view {
        InventoryView::List => output::print_json(&rampart_core::inventory::list_json(&inv)),
        InventoryView::Host { name } => match rampart_core::inventory::host_json(&inv, &name) {
            Some(v) => output::print_json(&v),
            None => {
                let mut e = rampart_core::InputError::in_file(
                    &a.inventory,
                    format!("no host `{name}` in the inventory"),
                );
                if let Some(s) = rampart_core::error::did_you_mean(
                    &name,
                    inv.hosts.iter().map(|h| h.name.as_str()),
                ) {
                    e = e.with_hint(format!("did you mean `{s}`?"));
                }
                return Err(e.into());
            }
        },
        InventoryView::Graph => {
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "{}", rampart_core::inventory::graph(&inv));
        }
    }
    Ok(Exit::Ok)
}

/// `rampart roles`.
pub fn roles(a: RolesArgs) -> Result<Exit, CliError> {
    let registry = registry::roles();
    let mut out = std::io::stdout().lock();
    match a.name {
        None => {
            for r in &registry {
                let _ = writeln!(out, "{:<22} {}", r.name(), r.summary());
            }
            let _ = writeln!(
                out,
                "\n`rampart roles NAME` prints a role's default settings."
            );
        }
        Some(name) => {
            let Some(r) = registry.iter().find(|r| r.name() == name) else {
                let mut e = rampart_core::InputError::new(
                    rampart_core::Location::file("rampart roles"),
                    format!("no role `{name}`"),
                );
                if let Some(s) =
                    rampart_core::error::did_you_mean(&name, registry.iter().map(|r| r.name()))
                {
                    e = e.with_hint(format!("did you mean `{s}`?"));
                }
                return Err(e.into());
            };
            let _ = writeln!(out, "# {}", r.summary());
            if r.name() == rampart_role_baseline::NAME {
                // Set in the site's own [baseline] table, not under [roles.baseline].
                let _ = write!(out, "{}", crate::baseline::site_defaults());
                return Ok(Exit::Ok);
            }
            let defaults = r.defaults();
            // Wrapped in `roles.NAME` so nested tables print as `[roles.NAME.sub]`, ready to paste.
            let wrapped = serde_json::json!({ "roles": { r.name(): defaults } });
            let text = match json_to_toml(&wrapped) {
                Some(toml::Value::Table(t)) => {
                    toml::to_string(&t).unwrap_or_else(|_| defaults.to_string())
                }
                _ => defaults.to_string(),
            };
            let _ = write!(out, "{text}");
        }
    }
    Ok(Exit::Ok)
}

/// JSON to TOML for printing defaults: TOML has no null, so unset options are left out.
fn json_to_toml(v: &serde_json::Value) -> Option<toml::Value> {
    use serde_json::Value as J;
    Some(match v {
        J::Null => return None,
        J::Bool(b) => toml::Value::Boolean(*b),
        J::Number(n) => n
            .as_i64()
            .map(toml::Value::Integer)
            .or_else(|| n.as_f64().map(toml::Value::Float))?,
        J::String(s) => toml::Value::String(s.clone()),
        J::Array(a) => toml::Value::Array(a.iter().filter_map(json_to_toml).collect()),
        J::Object(o) => toml::Value::Table(
            o.iter()
                .filter_map(|(k, v)| json_to_toml(v).map(|t| (k.clone(), t)))
                .collect(),
        ),
    })
}

const INIT_INVENTORY: &str = r#"# rampart inventory: hosts, groups, connection settings and variables.
# `rampart inventory graph -i inventory/hosts.toml` shows what this resolves to.

[defaults]
user = "fleetclaw"          # log in as an unprivileged admin...
become = true               # ...and escalate with `sudo -n`
# identity_file = "~/.ssh/id_ed25519"

[hosts.web1]
address = "203.0.113.10"

[groups.fleet]
hosts = ["web1"]
"#;

const INIT_SITE: &str = r#"# rampart site: which roles apply to which hosts, with which settings.
# `rampart check -i inventory/hosts.toml site.toml --diff` previews; `rampart apply` converges.
# `rampart roles` lists the roles; `rampart roles sshd` prints a role's defaults.

[[play]]
hosts = "fleet"
roles = ["base", "sshd", "ufw", "fail2ban", "unattended-upgrades"]

[roles.base]
# The admin user; list its keys to make authorized_keys exactly these (empty: left as is).
admin = { name = "fleetclaw", authorized_keys = [] }

[roles.sshd]
allow_users = ["fleetclaw"]
"#;

/// `rampart init`.
pub fn init(a: InitArgs) -> Result<Exit, CliError> {
    let files = [
        ("inventory/hosts.toml", INIT_INVENTORY),
        ("site.toml", INIT_SITE),
        (
            "secrets/README.md",
            "Encrypted secrets (age) live here: `rampart secrets edit secrets/secrets.age`.\n",
        ),
    ];
    for (rel, _) in &files {
        let p = a.dir.join(rel);
        if p.exists() && !a.force {
            return Err(rampart_core::InputError::in_file(&p, "already exists")
                .with_hint("use --force to overwrite, or pick an empty directory")
                .into());
        }
    }
    for (rel, text) in &files {
        let p = a.dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                CliError::internal(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        std::fs::write(&p, text)
            .map_err(|e| CliError::internal(format!("cannot write {}: {e}", p.display())))?;
        println!("created {}", p.display());
    }
    println!(
        "\nnext: edit inventory/hosts.toml, then `rampart ping -i {}`",
        a.dir.join("inventory/hosts.toml").display()
    );
    Ok(Exit::Ok)
}

/// `rampart secrets`.
pub fn secrets(a: SecretsArgs) -> Result<Exit, CliError> {
    let id = a.identity.as_deref();
    match a.action {
        SecretsAction::Keygen { output } => crate::secrets::keygen(output.as_deref())?,
        SecretsAction::Encrypt {
            input,
            output,
            recipient,
            recipients_file,
        } => {
            crate::secrets::encrypt(&input, &output, &recipient, &recipients_file, id)?;
        }
        SecretsAction::Decrypt { file } => crate::secrets::decrypt(&file, id)?,
        SecretsAction::Edit { file } => crate::secrets::edit(&file, id)?,
    }
    Ok(Exit::Ok)
}

/// `rampart report merge`: shard reports into one fleet report.
pub fn report(a: crate::args::ReportArgs) -> Result<Exit, CliError> {
    use crate::report::merge;
    let crate::args::ReportAction::Merge(m) = a.action;
    let mut inputs = Vec::with_capacity(m.reports.len());
    for p in &m.reports {
        let text = std::fs::read_to_string(p).map_err(|e| {
            CliError::from(rampart_core::InputError::in_file(
                p,
                format!("cannot read the report: {e}"),
            ))
        })?;
        let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            CliError::from(
                rampart_core::InputError::in_file(p, format!("not JSON: {e}"))
                    .with_hint("shard reports are what `rampart audit --shard I/N --json` printed"),
            )
        })?;
        inputs.push(merge::Input {
            label: p.display().to_string(),
            doc,
        });
    }
    let doc = merge::merge(&inputs).map_err(|e| {
        CliError::from(rampart_core::InputError::new(
            rampart_core::Location::file("rampart report merge"),
            e,
        ))
    })?;
    let run = crate::report::run_of_doc(&doc);
    let scores = crate::report::scores::of_doc(&doc);
    let extras = crate::report::Extras {
        generated: doc["generated"].as_str().map(str::to_owned),
        notes: doc["notes"]
            .as_array()
            .map(|n| {
                n.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        site: doc["site"].as_str().map(str::to_owned),
        waived: scores.waived.clone(),
        scores: Some(&scores),
        ..crate::report::Extras::default()
    };
    if m.json {
        crate::output::print_json(&doc);
    } else {
        let width = console::Term::stdout()
            .size_checked()
            .map(|(_, w)| usize::from(w));
        let text = crate::report::matrix::render(
            &run,
            &extras,
            crate::report::matrix::Options {
                colors: console::colors_enabled(),
                width,
            },
        );
        let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
    }
    crate::report::write_files(&run, m.html.as_deref(), m.junit.as_deref(), &extras)?;
    Ok(crate::audit::exit_of(
        &run,
        crate::audit::FailOn::Any,
        None,
        &scores.waived,
    ))
}
