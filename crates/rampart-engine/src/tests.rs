//! The executor driven through the recording fake ([`crate::testing`]): the decisions the lab
//! tests (`tests/rolling.rs`, `tests/safety.rs`, `tests/faults.rs`) check on real hosts, made
//! here in milliseconds, on tokio's paused clock (the confirm's waits take no time).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rampart_core::Risk;
use rampart_core::report::{HostReport, Mode, RunReport};
use rampart_core::types::CountOrPercent;

use crate::host::{HostJob, RunOptions, Silent};
use crate::journal::{Journal, Outcome, Retry};
use crate::run::{Rollout, run_rollout};
use crate::testing::{FakeHost, FakeNet, Fault, Kind, Reply, job, role, shared};

const CONFIRM: Duration = Duration::from_secs(10);

fn apply_options() -> RunOptions {
    RunOptions {
        mode: Mode::Apply,
        confirm_timeout: CONFIRM,
        ..RunOptions::default()
    }
}

async fn apply(
    net: &FakeNet,
    jobs: Vec<HostJob>,
    options: RunOptions,
    rollout: Option<Rollout>,
    journal: Option<&mut Journal>,
) -> RunReport {
    let shared = shared(options);
    run_rollout(
        jobs,
        shared,
        net.clone(),
        4,
        Arc::new(Silent),
        rollout,
        journal,
    )
    .await
}

fn host<'a>(report: &'a RunReport, name: &str) -> &'a HostReport {
    report
        .hosts
        .iter()
        .find(|h| h.host == name)
        .unwrap_or_else(|| panic!("no report for {name}"))
}

fn error(report: &RunReport, name: &str) -> String {
    host(report, name).error.clone().unwrap_or_default()
}

fn only_read() -> Vec<Kind> {
    vec![Kind::Connect, Kind::Probe, Kind::Close]
}

fn names(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("h{i}")).collect()
}

#[tokio::test(start_paused = true)]
async fn a_converged_host_costs_one_connection_and_one_exec_rolling_or_not() {
    for rolling in [false, true] {
        let net = FakeNet::new(
            vec![("h1", FakeHost::default()), ("h2", FakeHost::default())],
            CONFIRM,
        );
        let roles = [role("sshd", Risk::Access), role("base", Risk::Low)];
        let jobs = vec![job("h1", &roles), job("h2", &roles)];
        let rollout = rolling.then(|| Rollout {
            waves: vec![1, 1],
            max_fail: CountOrPercent::Count(0),
        });
        let r = apply(&net, jobs, apply_options(), rollout, None).await;
        for h in ["h1", "h2"] {
            assert_eq!(net.kinds(h), only_read(), "rolling: {rolling}");
            let rep = host(&r, h);
            assert_eq!((rep.connections, rep.round_trips), (1, 1), "{rep:?}");
            assert!(rep.error.is_none() && rep.changed == 0, "{rep:?}");
            assert!(rep.verify.is_empty(), "no verify, no gate: {rep:?}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_stale_lock_is_taken_over_and_a_live_holder_refuses_the_run() {
    let other = "other@laptop pid 1 run x".to_owned();
    let net = FakeNet::new(
        vec![
            (
                "stale",
                FakeHost {
                    lock: Some((other.clone(), false)),
                    ..FakeHost::with_todo(&["ufw", "base"])
                },
            ),
            (
                "live",
                FakeHost {
                    lock: Some((other.clone(), true)),
                    ..FakeHost::with_todo(&["ufw", "base"])
                },
            ),
        ],
        CONFIRM,
    );
    let roles = [role("ufw", Risk::Low), role("base", Risk::Low)];
    let r = apply(
        &net,
        vec![job("stale", &roles), job("live", &roles)],
        apply_options(),
        None,
        None,
    )
    .await;

    // Nothing of the interrupted run lives: the lock is taken over, the host converges, and
    // the lock is given back at the end.
    let stale = host(&r, "stale");
    assert!(stale.error.is_none(), "{stale:?}");
    assert_eq!(stale.changed, 2);
    assert!(net.host("stale").todo.is_empty());
    assert_eq!(net.host("stale").lock, None, "released at the end");
    assert!(net.kinds("stale").contains(&Kind::Unlock));

    // A holder still runs: refused with its name, nothing changed, the lock left alone.
    let live = host(&r, "live");
    let err = error(&r, "live");
    assert!(
        err.contains("locked by another rampart run") && err.contains("other@laptop"),
        "{err}"
    );
    assert_eq!(live.error_kind.as_deref(), Some("locked"));
    assert_eq!(live.changed, 0, "{live:?}");
    assert_eq!(net.host("live").todo.len(), 2, "nothing was applied");
    assert_eq!(net.host("live").lock, Some((other, true)));
    let kinds = net.kinds("live");
    assert!(
        !kinds.contains(&Kind::Unlock),
        "not ours to release: {kinds:?}"
    );
    assert!(!kinds.contains(&Kind::Apply("base".into())), "{kinds:?}");
}

#[tokio::test(start_paused = true)]
async fn a_risky_change_is_confirmed_over_a_fresh_connection() {
    let net = FakeNet::new(vec![("h1", FakeHost::with_todo(&["sshd"]))], CONFIRM);
    let r = apply(
        &net,
        vec![job("h1", &[role("sshd", Risk::Access)])],
        apply_options(),
        None,
        None,
    )
    .await;
    let rep = host(&r, "h1");
    assert!(rep.error.is_none() && !rep.rolled_back, "{rep:?}");
    let log = net.log();
    let conn_of = |k: &Kind| log.iter().find(|e| &e.kind == k).map(|e| e.conn);
    assert_ne!(
        conn_of(&Kind::Apply("sshd".into())),
        conn_of(&Kind::Disarm),
        "the confirm uses a brand-new connection: {log:?}"
    );
    assert_eq!(net.connects("h1"), 2);
    // After the confirm's disarm nothing fires, however long the host lives on.
    tokio::time::sleep(CONFIRM * 3).await;
    let h = net.host("h1");
    assert!(!h.rolled_back && h.todo.is_empty(), "{h:?}");
    // Counted: the run's connection (probe, apply, verify, unlock) and the confirm's.
    assert_eq!((rep.connections, rep.round_trips), (2, 5), "{rep:?}");
}

#[tokio::test(start_paused = true)]
async fn a_change_that_shuts_fresh_logins_out_is_rolled_back_by_the_host() {
    let net = FakeNet::new(
        vec![(
            "h1",
            FakeHost {
                after_apply: [("sshd".to_owned(), Fault::LockOut)].into(),
                ..FakeHost::with_todo(&["sshd", "base"])
            },
        )],
        CONFIRM,
    );
    let started = tokio::time::Instant::now();
    let r = apply(
        &net,
        vec![job(
            "h1",
            &[role("sshd", Risk::Access), role("base", Risk::Low)],
        )],
        apply_options(),
        None,
        None,
    )
    .await;
    let rep = host(&r, "h1");
    let err = error(&r, "h1");
    assert!(rep.rolled_back, "{rep:?}");
    assert!(
        err.starts_with("rolled back: a fresh SSH login failed")
            && err.contains("restored its previous configuration"),
        "{err}"
    );
    assert!(started.elapsed() >= CONFIRM, "waited for the host's timer");
    let h = net.host("h1");
    assert!(h.rolled_back && h.todo.contains("sshd"), "restored: {h:?}");
    assert!(
        h.todo.contains("base"),
        "later roles are not applied: {h:?}"
    );
    let kinds = net.kinds("h1");
    assert!(
        !kinds.contains(&Kind::Disarm),
        "no login, no disarm: {kinds:?}"
    );
    assert!(kinds.contains(&Kind::Status), "{kinds:?}");
    assert!(!kinds.contains(&Kind::Apply("base".into())), "{kinds:?}");
    assert_eq!(h.lock, None, "the lock is released over the old connection");
}

#[tokio::test(start_paused = true)]
async fn a_confirm_whose_sudo_fails_is_rolled_back_too() {
    let net = FakeNet::new(
        vec![(
            "h1",
            FakeHost {
                replies: vec![(
                    Kind::Disarm,
                    Reply::Exit {
                        code: 1,
                        stdout: String::new(),
                        stderr: "sudo: a password is required".into(),
                    },
                )],
                ..FakeHost::with_todo(&["sshd"])
            },
        )],
        CONFIRM,
    );
    let err = sshd_rolled_back(&net).await;
    assert!(
        err.contains("a fresh login worked but `sudo -n` did not: sudo: a password is required"),
        "{err}"
    );
    assert!(net.host("h1").todo.contains("sshd"), "restored");
}

/// Applies a risky `sshd` role to h1 alone, asserts the host rolled itself back, and returns
/// its error.
async fn sshd_rolled_back(net: &FakeNet) -> String {
    let r = apply(
        net,
        vec![job("h1", &[role("sshd", Risk::Access)])],
        apply_options(),
        None,
        None,
    )
    .await;
    let err = error(&r, "h1");
    assert!(host(&r, "h1").rolled_back, "{err}");
    err
}

#[tokio::test(start_paused = true)]
async fn a_host_that_dies_between_apply_and_confirm_fails_alone() {
    let net = FakeNet::new(
        vec![
            (
                "dies",
                FakeHost {
                    after_apply: [("sshd".to_owned(), Fault::Die)].into(),
                    ..FakeHost::with_todo(&["sshd"])
                },
            ),
            ("lives", FakeHost::with_todo(&["sshd"])),
            (
                "drops",
                FakeHost {
                    replies: vec![(Kind::Apply("sshd".into()), Reply::Drop)],
                    ..FakeHost::with_todo(&["sshd"])
                },
            ),
        ],
        CONFIRM,
    );
    let roles = [role("sshd", Risk::Access)];
    let r = apply(
        &net,
        vec![
            job("dies", &roles),
            job("lives", &roles),
            job("drops", &roles),
        ],
        apply_options(),
        None,
        None,
    )
    .await;
    let err = error(&r, "dies");
    assert!(
        err.starts_with("a fresh SSH login failed")
            && err
                .contains("the rollback did not report back in time (the last fresh login failed:"),
        "the error says what the last try saw: {err}"
    );
    assert!(!host(&r, "dies").rolled_back, "nobody saw it roll back");
    // It was asked for the rollback's status again and again, never reached.
    let log = net.log();
    assert!(
        log.iter()
            .filter(|e| e.host == "dies" && e.kind == Kind::Connect)
            .skip(1)
            .all(|e| !e.ok),
        "{log:?}"
    );
    // A connection lost mid-apply: unreachable (state unknown, a retry is the next step).
    let drops = host(&r, "drops");
    assert!(drops.unreachable, "{drops:?}");
    assert!(!net.kinds("drops").contains(&Kind::Disarm));
    // The others are not its problem.
    let lives = host(&r, "lives");
    assert!(lives.error.is_none() && lives.changed == 1, "{lives:?}");
}

/// Six hosts with changes in waves of 1, 2 and 3; h3's health command fails.
async fn stopped_rollout(dir: &Path) -> (FakeNet, RunReport, Vec<HostJob>) {
    let hosts = names(6);
    let mut fakes: Vec<(&str, FakeHost)> = hosts
        .iter()
        .map(|h| (h.as_str(), FakeHost::with_todo(&["ufw"])))
        .collect();
    fakes[2].1.failing.insert("fake-healthy".into());
    let net = FakeNet::new(fakes, CONFIRM);
    let jobs: Vec<HostJob> = hosts
        .iter()
        .map(|h| job(h, &[role("ufw", Risk::Access)]))
        .collect();
    let mut journal = Journal::new(&dir.join("site.toml"), Path::new("inv.toml"), &hosts);
    let r = apply(
        &net,
        jobs.clone(),
        RunOptions {
            health: Some("fake-healthy".into()),
            ..apply_options()
        },
        Some(Rollout {
            waves: vec![1, 2, 3],
            max_fail: CountOrPercent::Count(0),
        }),
        Some(&mut journal),
    )
    .await;
    (net, r, jobs)
}

#[tokio::test(start_paused = true)]
async fn a_rolling_apply_stops_on_max_fail_and_later_waves_are_only_read() {
    let dir = tempfile::tempdir().unwrap();
    let (net, r, _) = stopped_rollout(dir.path()).await;
    let order: Vec<&str> = r.hosts.iter().map(|h| h.host.as_str()).collect();
    assert_eq!(order, names(6), "inventory order, whatever the wave");
    for h in ["h1", "h2"] {
        let rep = host(&r, h);
        assert!(rep.error.is_none() && rep.changed == 1, "{rep:?}");
        assert!(
            !rep.verify.is_empty() && rep.verify.iter().all(|v| v.pass),
            "gated: {rep:?}"
        );
        assert!(net.kinds(h).contains(&Kind::Gate));
    }
    let err = error(&r, "h3");
    assert!(err.contains("health gate failed after wave 2"), "{err}");
    for h in ["h4", "h5", "h6"] {
        let rep = host(&r, h);
        assert!(
            error(&r, h).starts_with("not run: the rollout stopped after wave 2 of 3"),
            "{rep:?}"
        );
        assert_eq!(rep.error_kind.as_deref(), Some("not-run"));
        assert_eq!(
            net.kinds(h),
            only_read(),
            "staged for the barrier, never applied"
        );
        assert!(net.host(h).todo.contains("ufw"), "untouched");
    }
    let j = Journal::load(&dir.path().join("site.toml"))
        .unwrap()
        .unwrap();
    assert_eq!(j.status, "stopped");
    assert!(
        j.reason
            .as_deref()
            .unwrap_or_default()
            .contains("max_fail allows 0")
    );
    assert_eq!(j.hosts["h1"].outcome, Outcome::Ok);
    assert_eq!(j.hosts["h3"].outcome, Outcome::Failed);
    assert_eq!(j.hosts["h6"].outcome, Outcome::Pending);
    assert_eq!(j.waves, [vec!["h1"], vec!["h2", "h3"]]);
}

#[tokio::test(start_paused = true)]
async fn resume_and_only_failed_run_what_the_journal_left_undone() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site.toml");
    let (net, _, jobs) = stopped_rollout(dir.path()).await;
    let previous = Journal::load(&site).unwrap().unwrap();

    let mut failed = jobs.clone();
    previous.select(&mut failed, Retry::OnlyFailed);
    assert_eq!(
        failed.iter().map(|j| j.name.as_str()).collect::<Vec<_>>(),
        ["h3"]
    );

    // --resume after the fix: the failed host and the hosts never run, nothing else.
    let mut resumed = jobs.clone();
    previous.select(&mut resumed, Retry::Resume);
    let run: Vec<String> = resumed.iter().map(|j| j.name.clone()).collect();
    assert_eq!(run, ["h3", "h4", "h5", "h6"]);
    net.edit("h3", |h| h.failing.clear());
    net.clear_log();
    let mut journal = Journal::new(&site, Path::new("inv.toml"), &run);
    journal.carry_over(&previous);
    let r = apply(
        &net,
        resumed,
        RunOptions {
            health: Some("fake-healthy".into()),
            ..apply_options()
        },
        Some(Rollout {
            waves: vec![1, 3],
            max_fail: CountOrPercent::Count(0),
        }),
        Some(&mut journal),
    )
    .await;
    assert_eq!(net.contacted(), run, "only the unfinished hosts");
    assert!(r.hosts.iter().all(|h| !h.is_failure()), "{:?}", r.hosts);
    let j = Journal::load(&site).unwrap().unwrap();
    assert_eq!(j.status, "complete");
    assert!(j.hosts.values().all(|e| e.outcome == Outcome::Ok), "{j:?}");
    let mut again = jobs;
    j.select(&mut again, Retry::Resume);
    assert!(again.is_empty(), "nothing left to resume");
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_finishes_the_step_in_flight_and_starts_nothing_new() {
    let hosts = names(3);
    let net = FakeNet::new(
        hosts
            .iter()
            .map(|h| {
                (
                    h.as_str(),
                    FakeHost {
                        delay: Duration::from_secs(3),
                        ..FakeHost::with_todo(&["slow"])
                    },
                )
            })
            .collect(),
        CONFIRM,
    );
    let shared = shared(apply_options());
    net.cancel_on(Kind::Apply("slow".into()), shared.cancelled.clone());
    let dir = tempfile::tempdir().unwrap();
    let mut journal = Journal::new(&dir.path().join("site.toml"), Path::new("inv.toml"), &hosts);
    let jobs: Vec<HostJob> = hosts
        .iter()
        .map(|h| job(h, &[role("slow", Risk::Low)]))
        .collect();
    let r = run_rollout(
        jobs,
        shared,
        net.clone(),
        1,
        Arc::new(Silent),
        None,
        Some(&mut journal),
    )
    .await;
    assert_eq!(r.hosts.len(), 3, "every host is reported");
    let applied: Vec<&str> = hosts
        .iter()
        .filter(|h| net.kinds(h).contains(&Kind::Apply("slow".into())))
        .map(String::as_str)
        .collect();
    assert_eq!(applied.len(), 1, "one step was in flight: {applied:?}");
    let first = applied[0];
    let rep = host(&r, first);
    assert!(
        rep.error.is_none() && rep.changed == 1,
        "it finished: {rep:?}"
    );
    assert!(net.host(first).todo.is_empty());
    let j = Journal::load(&dir.path().join("site.toml"))
        .unwrap()
        .unwrap();
    assert_eq!(j.hosts[first].outcome, Outcome::Ok);
    for h in hosts.iter().filter(|h| h.as_str() != first) {
        let err = error(&r, h);
        assert!(err.starts_with("interrupted (Ctrl-C)"), "{err}");
        assert_eq!(host(&r, h).changed, 0);
        assert!(net.host(h).todo.contains("slow"), "not started");
        assert_eq!(j.hosts[h].outcome, Outcome::Failed, "--only-failed runs it");
    }
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_in_a_rolling_apply_runs_no_later_wave() {
    let hosts = names(3);
    let net = FakeNet::new(
        hosts
            .iter()
            .map(|h| (h.as_str(), FakeHost::with_todo(&["ufw"])))
            .collect(),
        CONFIRM,
    );
    let shared = shared(apply_options());
    net.cancel_on(Kind::Apply("ufw".into()), shared.cancelled.clone());
    let dir = tempfile::tempdir().unwrap();
    let mut journal = Journal::new(&dir.path().join("site.toml"), Path::new("inv.toml"), &hosts);
    let jobs: Vec<HostJob> = hosts
        .iter()
        .map(|h| job(h, &[role("ufw", Risk::Low)]))
        .collect();
    let r = run_rollout(
        jobs,
        shared,
        net.clone(),
        4,
        Arc::new(Silent),
        Some(Rollout {
            waves: vec![1, 1, 1],
            max_fail: CountOrPercent::Count(0),
        }),
        Some(&mut journal),
    )
    .await;
    let h1 = host(&r, "h1");
    assert!(
        h1.error.is_none() && h1.changed == 1,
        "the canary finished: {h1:?}"
    );
    for h in ["h2", "h3"] {
        let err = error(&r, h);
        assert!(
            err.starts_with("not run: interrupted (Ctrl-C) before this host's wave"),
            "{err}"
        );
        assert_eq!(net.kinds(h), only_read());
    }
    let j = Journal::load(&dir.path().join("site.toml"))
        .unwrap()
        .unwrap();
    assert_eq!(j.status, "stopped");
    assert_eq!(j.hosts["h1"].outcome, Outcome::Ok);
    assert_eq!(j.hosts["h3"].outcome, Outcome::Pending);
}

#[tokio::test(start_paused = true)]
async fn a_connect_that_times_out_is_retried_and_a_refused_login_is_not() {
    let net = FakeNet::new(
        vec![
            (
                "slow",
                FakeHost {
                    failed_connects: 2,
                    ..FakeHost::default()
                },
            ),
            (
                "refused",
                FakeHost {
                    replies: vec![(
                        Kind::Connect,
                        Reply::Fail(rampart_ssh::SshError::AuthFailed {
                            target: "refused".into(),
                            user: "root".into(),
                            tried: vec!["agent key: refused".into()],
                            hint: None,
                        }),
                    )],
                    ..FakeHost::default()
                },
            ),
        ],
        CONFIRM,
    );
    let roles = [role("base", Risk::Low)];
    let r = apply(
        &net,
        vec![job("slow", &roles), job("refused", &roles)],
        apply_options(),
        None,
        None,
    )
    .await;
    let slow = host(&r, "slow");
    assert!(slow.error.is_none(), "{slow:?}");
    assert_eq!((net.connects("slow"), net.execs("slow")), (3, 1));
    let refused = host(&r, "refused");
    assert_eq!(
        refused.error_kind.as_deref(),
        Some("auth-failed"),
        "{refused:?}"
    );
    assert!(!refused.unreachable, "the host answered: {refused:?}");
    assert_eq!((net.connects("refused"), net.execs("refused")), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn only_failed_keeps_the_hosts_never_run_for_a_later_resume() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site.toml");
    let (net, _, jobs) = stopped_rollout(dir.path()).await;
    let previous = Journal::load(&site).unwrap().unwrap();
    let mut failed = jobs.clone();
    previous.select(&mut failed, Retry::OnlyFailed);
    let run: Vec<String> = failed.iter().map(|j| j.name.clone()).collect();
    net.edit("h3", |h| h.failing.clear());
    let mut journal = Journal::new(&site, Path::new("inv.toml"), &run);
    journal.carry_over(&previous);
    let options = RunOptions {
        health: Some("fake-healthy".into()),
        ..apply_options()
    };
    let r = apply(&net, failed, options, None, Some(&mut journal)).await;
    assert!(!host(&r, "h3").is_failure(), "{:?}", r.hosts);
    // The hosts the stopped rollout never reached are still to do.
    let j = Journal::load(&site).unwrap().unwrap();
    let mut resumed = jobs;
    j.select(&mut resumed, Retry::Resume);
    let left: Vec<&str> = resumed.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(left, ["h4", "h5", "h6"], "{j:?}");
}

#[tokio::test(start_paused = true)]
async fn a_preflight_cut_refuses_every_host_or_with_exclude_refused_only_the_cut_one() {
    for exclude in [false, true] {
        let net = FakeNet::new(
            vec![
                ("h1", FakeHost::with_todo(&["base"])),
                ("h2", FakeHost::with_todo(&["base"])),
                ("h3", FakeHost::default()),
            ],
            CONFIRM,
        );
        let jobs = vec![
            job("h1", &[role("base", Risk::Low)]),
            job(
                "h2",
                &[role("base", Risk::Low), role("firewall", Risk::Access)],
            ),
            job("h3", &[role("base", Risk::Low)]),
        ];
        let options = RunOptions {
            exclude_refused: exclude,
            ..apply_options()
        };
        let r = apply(&net, jobs, options, None, None).await;
        let cut = error(&r, "h2");
        assert!(
            cut.starts_with("preflight refused the plan, it would cut rampart off this host")
                && cut.contains("ufw"),
            "{cut}"
        );
        assert_eq!(host(&r, "h2").error_kind.as_deref(), Some("preflight"));
        assert_eq!(
            net.kinds("h2"),
            only_read(),
            "the cut host is never changed"
        );
        // A converged host is done whatever the barrier decides.
        let h3 = host(&r, "h3");
        assert!(h3.error.is_none(), "{h3:?}");
        let h1 = host(&r, "h1");
        if exclude {
            assert!(h1.error.is_none() && h1.changed == 1, "{h1:?}");
        } else {
            assert!(
                error(&r, "h1").starts_with("not applied: the preflight would cut rampart off h2"),
                "{h1:?}"
            );
            assert_eq!(net.kinds("h1"), only_read(), "nothing changes on any host");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_confirm_that_comes_after_the_rollback_fired_reports_the_rollback() {
    let net = FakeNet::new(
        vec![(
            "h1",
            FakeHost {
                slow: vec![(Kind::Disarm, CONFIRM * 2)],
                ..FakeHost::with_todo(&["sshd"])
            },
        )],
        CONFIRM,
    );
    let err = sshd_rolled_back(&net).await;
    assert!(
        err.starts_with("rolled back: the change was confirmed too late"),
        "{err}"
    );
    assert!(net.host("h1").todo.contains("sshd"), "restored");
}

#[tokio::test(start_paused = true)]
async fn a_failed_step_stops_its_host_and_a_failed_verify_fails_it() {
    let net = FakeNet::new(
        vec![
            (
                "step",
                FakeHost {
                    fail_apply: ["base".to_owned()].into(),
                    ..FakeHost::with_todo(&["base", "ufw"])
                },
            ),
            (
                "verify",
                FakeHost {
                    failing: ["fake-check ufw".to_owned()].into(),
                    ..FakeHost::with_todo(&["base", "ufw"])
                },
            ),
        ],
        CONFIRM,
    );
    let roles = [role("base", Risk::Low), role("ufw", Risk::Low)];
    let r = apply(
        &net,
        vec![job("step", &roles), job("verify", &roles)],
        apply_options(),
        None,
        None,
    )
    .await;
    let step = host(&r, "step");
    assert_eq!((step.failed, step.changed), (1, 0), "{step:?}");
    assert!(
        step.resources
            .iter()
            .any(|o| o.role == "ufw" && o.summary.contains("an earlier role failed")),
        "{step:?}"
    );
    let kinds = net.kinds("step");
    assert!(!kinds.contains(&Kind::Apply("ufw".into())), "{kinds:?}");
    assert!(
        !kinds.contains(&Kind::Verify),
        "no verify after a failure: {kinds:?}"
    );
    assert_eq!(net.host("step").lock, None, "released");
    // The second role re-read its facts (the first changed the host) before it ran.
    let kinds = net.kinds("verify");
    assert!(kinds.contains(&Kind::RoleFacts("ufw".into())), "{kinds:?}");
    let verify = host(&r, "verify");
    assert_eq!(verify.changed, 2, "{verify:?}");
    assert!(
        verify.is_failure(),
        "a failed check fails the host: {verify:?}"
    );
    assert!(
        verify.verify.iter().any(|v| v.id == "ufw.done" && !v.pass),
        "{verify:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_check_only_reads_and_verify_always_costs_one_more_exec() {
    let net = FakeNet::new(
        vec![
            ("todo", FakeHost::with_todo(&["sshd"])),
            ("done", FakeHost::default()),
        ],
        CONFIRM,
    );
    let roles = [role("sshd", Risk::Access)];
    let jobs = vec![job("todo", &roles), job("done", &roles)];
    let check = RunOptions {
        mode: Mode::Check,
        ..apply_options()
    };
    let r = apply(&net, jobs.clone(), check, None, None).await;
    assert_eq!(
        net.kinds("todo"),
        only_read(),
        "a check never locks or applies"
    );
    assert_eq!(host(&r, "todo").changed, 1, "it reports what would change");
    assert!(net.host("todo").lock.is_none() && net.host("todo").todo.contains("sshd"));

    net.clear_log();
    let always = RunOptions {
        verify: crate::host::VerifyPolicy::Always,
        ..apply_options()
    };
    let r = apply(&net, vec![jobs[1].clone()], always, None, None).await;
    assert_eq!(
        net.kinds("done"),
        [Kind::Connect, Kind::Probe, Kind::Verify, Kind::Close]
    );
    let done = host(&r, "done");
    assert_eq!((done.connections, done.round_trips), (1, 2), "{done:?}");
    assert!(done.verify.iter().all(|v| v.pass) && !done.verify.is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_host_counts_against_its_waves_max_fail() {
    let hosts = names(4);
    let mut fakes: Vec<(&str, FakeHost)> = hosts
        .iter()
        .map(|h| (h.as_str(), FakeHost::with_todo(&["ufw"])))
        .collect();
    fakes[0].1.failed_connects = 99;
    let net = FakeNet::new(fakes, CONFIRM);
    let jobs: Vec<HostJob> = hosts
        .iter()
        .map(|h| job(h, &[role("ufw", Risk::Low)]))
        .collect();
    let r = apply(
        &net,
        jobs,
        apply_options(),
        Some(Rollout {
            waves: vec![1, 3],
            max_fail: CountOrPercent::Count(0),
        }),
        None,
    )
    .await;
    let h1 = host(&r, "h1");
    assert!(h1.unreachable, "{h1:?}");
    assert_eq!(net.connects("h1"), 3, "the connect attempts, then given up");
    for h in ["h2", "h3", "h4"] {
        assert!(
            error(&r, h).starts_with("not run: the rollout stopped after wave 1 of 2"),
            "{:?}",
            host(&r, h)
        );
        assert_eq!(net.kinds(h), only_read());
    }
}

#[tokio::test(start_paused = true)]
async fn a_gate_whose_fresh_login_fails_stops_the_rollout() {
    let hosts = names(3);
    let mut fakes: Vec<(&str, FakeHost)> = hosts
        .iter()
        .map(|h| (h.as_str(), FakeHost::with_todo(&["base"])))
        .collect();
    fakes[0].1.after_apply.insert("base".into(), Fault::Die);
    let net = FakeNet::new(fakes, CONFIRM);
    let jobs: Vec<HostJob> = hosts
        .iter()
        .map(|h| job(h, &[role("base", Risk::Low)]))
        .collect();
    let options = RunOptions {
        verify: crate::host::VerifyPolicy::Never,
        ..apply_options()
    };
    let rollout = Rollout {
        waves: vec![1, 2],
        max_fail: CountOrPercent::Count(0),
    };
    let r = apply(&net, jobs, options, Some(rollout), None).await;
    let h1 = host(&r, "h1");
    assert_eq!(h1.changed, 1, "{h1:?}");
    assert!(
        error(&r, "h1").starts_with("health gate failed after wave 1: health.login"),
        "{h1:?}"
    );
    assert_eq!(h1.error_kind.as_deref(), Some("health-gate"));
    for h in ["h2", "h3"] {
        assert_eq!(net.kinds(h), only_read());
    }
}

#[tokio::test(start_paused = true)]
async fn ping_is_one_plain_command() {
    let net = FakeNet::new(vec![("h1", FakeHost::default())], CONFIRM);
    let ping = RunOptions {
        mode: Mode::Ping,
        ..RunOptions::default()
    };
    let r = apply(&net, vec![job("h1", &[])], ping, None, None).await;
    assert_eq!(net.kinds("h1"), [Kind::Connect, Kind::Ping, Kind::Close]);
    let h1 = host(&r, "h1");
    assert_eq!(
        h1.resources[0].summary,
        "Debian GNU/Linux 12 (bookworm) (Linux 6.1.0)"
    );
}
