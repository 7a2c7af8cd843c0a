//! The fleet: hosts in waves (one wave of every host unless rolling), each wave staged on all
//! its hosts, preflighted as a whole, applied, and (when rolling) gated on health before the
//! next wave may start.
//!
//! **Invariants:** a preflight cut on any host of a wave means no host of that wave changes; a
//! failed gate stops the rollout and no later host is even connected to.

use std::sync::Arc;
use std::time::Instant;

use rampart_core::report::{HostReport, Mode, RunReport};
use rampart_core::types::CountOrPercent;
use rampart_ssh::Connector;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::host::{HostJob, Reporter, Shared, Staged, finish, health_gate, stage};
use crate::journal::Journal;

/// How a rolling apply proceeds.
#[derive(Debug, Clone)]
pub struct Rollout {
    /// Wave sizes, in order (they sum to the number of hosts).
    pub waves: Vec<usize>,
    /// Failed plus unreachable hosts tolerated per wave: a count or a percentage of the wave.
    pub max_fail: CountOrPercent,
}

/// Runs every job as one wave, at most `forks` hosts at a time.
pub async fn run_fleet(
    jobs: Vec<HostJob>,
    shared: Arc<Shared>,
    connector: Connector,
    forks: usize,
    reporter: Arc<dyn Reporter>,
) -> RunReport {
    run_rollout(jobs, shared, connector, forks, reporter, None, None).await
}

/// Runs the jobs in waves. Without a rollout: one wave, no health gate.
pub async fn run_rollout(
    jobs: Vec<HostJob>,
    shared: Arc<Shared>,
    connector: Connector,
    forks: usize,
    reporter: Arc<dyn Reporter>,
    rollout: Option<Rollout>,
    mut journal: Option<&mut Journal>,
) -> RunReport {
    let run_start = Instant::now();
    let connector = Arc::new(connector);
    let sizes = rollout
        .as_ref()
        .map_or_else(|| vec![jobs.len()], |r| r.waves.clone());
    let mut pending: std::collections::VecDeque<HostJob> = jobs.into();
    let mut hosts = Vec::new();
    let mut stopped: Option<String> = None;
    for (w, size) in sizes.iter().enumerate() {
        if pending.is_empty() {
            break;
        }
        if shared.is_cancelled() {
            stopped = Some("interrupted (Ctrl-C) before this host's wave".into());
            break;
        }
        let wave: Vec<HostJob> = pending.drain(..(*size).min(pending.len())).collect();
        let names: Vec<String> = wave.iter().map(|j| j.name.clone()).collect();
        if let Some(j) = journal.as_deref_mut() {
            j.start_wave(w, &names);
        }
        let gate_jobs: Vec<HostJob> = if rollout.is_some() {
            wave.clone()
        } else {
            Vec::new()
        };
        let mut reports = run_wave(wave, &shared, &connector, forks, &reporter, run_start).await;
        if rollout.is_some() && shared.options.mode == Mode::Apply {
            for (rep, job) in reports.iter_mut().zip(&gate_jobs) {
                if rep.is_failure() {
                    continue;
                }
                let verdicts = health_gate(job, &shared, &connector).await;
                rep.round_trips += 1;
                rep.connections += 1;
                let failed: Vec<String> = verdicts
                    .iter()
                    .filter(|v| !v.pass)
                    .map(|v| {
                        format!(
                            "{} ({})",
                            v.id,
                            v.evidence.lines().next().unwrap_or_default()
                        )
                    })
                    .collect();
                rep.verify = verdicts;
                if !failed.is_empty() {
                    rep.error = Some(format!(
                        "health gate failed after wave {}: {}",
                        w + 1,
                        failed.join("; ")
                    ));
                    rep.error_kind = Some("health-gate".into());
                }
            }
        }
        let failures = reports.iter().filter(|r| r.is_failure()).count();
        if let Some(j) = journal.as_deref_mut() {
            j.record(w, &reports);
        }
        hosts.extend(reports);
        if let Some(r) = &rollout {
            let allowed = r.max_fail.of(*size);
            if failures > allowed && !pending.is_empty() {
                stopped = Some(format!(
                    "the rollout stopped after wave {} of {}: {failures} host(s) failed or were unreachable, max_fail allows {allowed}",
                    w + 1,
                    sizes.len()
                ));
                break;
            }
        }
    }
    if let Some(why) = &stopped {
        for job in pending {
            hosts.push(HostReport {
                host: job.name.clone(),
                address: job.target.host.clone(),
                error: Some(format!("not run: {why}")),
                error_kind: Some("not-run".into()),
                ..HostReport::default()
            });
        }
    }
    if let Some(j) = &mut journal {
        j.finish(stopped.as_deref());
    }
    connector.close().await;
    RunReport {
        mode: shared.options.mode,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        seconds: run_start.elapsed().as_secs_f64(),
        hosts,
    }
}

/// One wave: stage every host, refuse the whole wave if the preflight cuts any host (apply
/// only), then finish every host. Reports come back in the jobs' order.
async fn run_wave(
    jobs: Vec<HostJob>,
    shared: &Arc<Shared>,
    connector: &Arc<Connector>,
    forks: usize,
    reporter: &Arc<dyn Reporter>,
    run_start: Instant,
) -> Vec<HostReport> {
    let n = jobs.len();
    let sem = Arc::new(Semaphore::new(forks.max(1)));
    let names: Vec<(String, String)> = jobs
        .iter()
        .map(|j| (j.name.clone(), j.target.host.clone()))
        .collect();
    let apply = shared.options.mode == Mode::Apply;
    let mut staged: Vec<Option<Staged>> = (0..n).map(|_| None).collect();
    let mut reports: Vec<Option<HostReport>> = vec![None; n];
    {
        let mut set = JoinSet::new();
        for (i, job) in jobs.into_iter().enumerate() {
            let (sem, shared, connector, reporter) = (
                sem.clone(),
                shared.clone(),
                connector.clone(),
                reporter.clone(),
            );
            set.spawn(async move {
                let _permit = sem.acquire_owned().await;
                let st = stage(job, &shared, &connector, reporter, run_start).await;
                // Without an apply there is nothing to wait for: finish at once, so a large
                // check never holds every connection open at the same time.
                if apply {
                    (i, Err(st))
                } else {
                    (i, Ok(finish(st, &shared, &connector, None).await))
                }
            });
        }
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((i, Ok(rep))) => reports[i] = Some(rep),
                Ok((i, Err(st))) => staged[i] = Some(st),
                Err(e) => tracing::error!("a host task ended abnormally: {e}"),
            }
        }
    }
    if apply {
        let cut: Vec<(String, String)> = staged
            .iter()
            .flatten()
            .filter(|s| !s.cuts.is_empty())
            .map(|s| {
                (
                    s.host().to_owned(),
                    s.cuts
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("\n"),
                )
            })
            .collect();
        let refuse = !cut.is_empty() && !shared.options.skip_preflight;
        let mut set = JoinSet::new();
        for (i, st) in staged.into_iter().enumerate() {
            let Some(st) = st else { continue };
            let refused = refuse.then(|| match cut.iter().find(|(h, _)| h == st.host()) {
                Some((_, why)) => format!("preflight refused the plan: it would cut rampart off this host.\n{why}\n  (nothing was changed on any host; --skip-preflight overrides, and the dead-man switch still guards the change)"),
                None => format!(
                    "not applied: the preflight refused this run because of {} ({}); nothing was changed on any host",
                    cut.iter().map(|(h, _)| h.as_str()).collect::<Vec<_>>().join(", "),
                    cut.first().map(|(_, w)| w.lines().next().unwrap_or_default()).unwrap_or_default()
                ),
            });
            let (sem, shared, connector) = (sem.clone(), shared.clone(), connector.clone());
            set.spawn(async move {
                let _permit = sem.acquire_owned().await;
                (i, finish(st, &shared, &connector, refused).await)
            });
        }
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((i, rep)) => reports[i] = Some(rep),
                Err(e) => tracing::error!("a host task ended abnormally: {e}"),
            }
        }
    }
    reports
        .into_iter()
        .zip(names)
        .map(|(r, (host, address))| {
            r.unwrap_or_else(|| HostReport {
                host,
                address,
                error: Some(
                    "rampart's task for this host ended abnormally (a bug: please report it)"
                        .into(),
                ),
                ..HostReport::default()
            })
        })
        .collect()
}
