//! The fleet. A plain run stages every host (connect, probe, plan, preflight). A host with
//! nothing to change is finished as soon as it is staged (it is reported converged even when the
//! run is refused: it had nothing to apply); the others wait at the barrier, which refuses the
//! whole run if the preflight cuts any host (apply only; with `--exclude-refused` it refuses
//! only the cut hosts), and are then finished.
//!
//! A rolling apply stages the whole fleet the same way first, read-only, so the preflight
//! barrier covers the fleet before the canary is touched. Hosts with nothing to change are done
//! there and then (no wave, no gate: one connection and one round trip, as in a plain run).
//! Only hosts with changes (or that failed to stage) go into waves, in inventory order; each
//! wave is applied on its already-open connections and then gated on health, all of the wave's
//! hosts at once.
//!
//! **Invariants:** a preflight cut on any host means no host changes (with `--exclude-refused`:
//! no cut host changes, and no host changes before every host was preflighted); a failed gate stops the
//! rollout and no later host is changed (later hosts were only read).

use std::sync::Arc;
use std::time::Instant;

use rampart_core::report::{HostReport, Mode, RunReport};
use rampart_core::types::CountOrPercent;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::host::{HostJob, Reporter, Shared, Staged, finish, health_gate, stage};
use crate::journal::Journal;
use crate::remote::{Connect, Remote};

/// How a rolling apply proceeds.
#[derive(Debug, Clone)]
pub struct Rollout {
    /// Wave sizes, in order (they sum to the number of hosts).
    pub waves: Vec<usize>,
    /// Failed plus unreachable hosts tolerated per wave: a count or a percentage of the wave.
    pub max_fail: CountOrPercent,
}

/// Runs every job as one wave, at most `forks` hosts at a time.
pub async fn run_fleet<C: Connect>(
    jobs: Vec<HostJob>,
    shared: Arc<Shared>,
    connector: C,
    forks: usize,
    reporter: Arc<dyn Reporter>,
) -> RunReport {
    run_rollout(jobs, shared, connector, forks, reporter, None, None).await
}

/// Runs the jobs: in waves when `rollout` is given (apply only), else as one wave.
pub async fn run_rollout<C: Connect>(
    jobs: Vec<HostJob>,
    shared: Arc<Shared>,
    connector: C,
    forks: usize,
    reporter: Arc<dyn Reporter>,
    rollout: Option<Rollout>,
    mut journal: Option<&mut Journal>,
) -> RunReport {
    let run_start = Instant::now();
    let connector = Arc::new(connector);
    let ctx = Ctx {
        shared: &shared,
        connector: &connector,
        sem: Arc::new(Semaphore::new(forks.max(1))),
        reporter: &reporter,
        run_start,
    };
    let mut stopped: Option<String> = None;
    let hosts = match rollout {
        Some(r) if shared.options.mode == Mode::Apply => {
            rolling(jobs, &ctx, &r, journal.as_deref_mut(), &mut stopped).await
        }
        _ => {
            let names: Vec<String> = jobs.iter().map(|j| j.name.clone()).collect();
            if let Some(j) = journal.as_deref_mut() {
                j.start_wave(0, &names);
            }
            let staged = stage_all(jobs, &ctx).await;
            let reports = finish_all(preflight(staged, &shared).0, &ctx).await;
            let reports = complete(reports);
            if let Some(j) = journal.as_deref_mut() {
                j.record(0, &reports);
            }
            reports
        }
    };
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

/// What every phase of a run shares.
struct Ctx<'a, C> {
    shared: &'a Arc<Shared>,
    connector: &'a Arc<C>,
    sem: Arc<Semaphore>,
    reporter: &'a Arc<dyn Reporter>,
    run_start: Instant,
}

/// A host after staging: still to be finished (apply), or already reported (check, audit).
enum Slot<R: Remote> {
    Staged(Box<Staged<R>>, Option<String>),
    Done(Box<HostReport>),
    /// The host's task ended abnormally; the name and address are kept for the report.
    Lost(String, String),
}

/// Stages every job, at most `forks` at a time. A host with nothing to apply (every host of a
/// check or audit, and a converged host of an apply) is finished at once, so a large run never
/// holds every connection open; only hosts with changes (or that failed) wait at the barrier.
async fn stage_all<C: Connect>(jobs: Vec<HostJob>, ctx: &Ctx<'_, C>) -> Vec<Slot<C::Remote>> {
    let apply = ctx.shared.options.mode == Mode::Apply;
    let mut slots: Vec<Slot<C::Remote>> = jobs
        .iter()
        .map(|j| Slot::Lost(j.name.clone(), j.target.host.clone()))
        .collect();
    let mut set = JoinSet::new();
    for (i, job) in jobs.into_iter().enumerate() {
        let (sem, shared, connector, reporter) = (
            ctx.sem.clone(),
            ctx.shared.clone(),
            ctx.connector.clone(),
            ctx.reporter.clone(),
        );
        let run_start = ctx.run_start;
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            let mut st = stage(job, &shared, &*connector, reporter, run_start).await;
            if apply && (st.is_failed() || st.has_changes() || !st.cuts.is_empty()) {
                st.enter_phase("wait"); // for the fleet's preflight barrier
                (i, Slot::Staged(Box::new(st), None))
            } else {
                // Nothing to wait for: check and audit end here, and so does an apply's host
                // that is already converged, whatever the barrier decides for the others. Its
                // connection and plan are let go now instead of being held until the slowest
                // host has been probed.
                (
                    i,
                    Slot::Done(Box::new(finish(st, &shared, &*connector, None).await)),
                )
            }
        });
    }
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, slot)) => slots[i] = slot,
            Err(e) => tracing::error!("a host task ended abnormally: {e}"),
        }
    }
    slots
}

/// The fleet preflight barrier: when any staged host's plan would cut rampart off it (and
/// `--skip-preflight` is not given), every staged host is marked refused, each with one line
/// that names every cut host and why. With `--exclude-refused` only the cut hosts are refused
/// (reported failed with their reason) and the others go on. Returns whether the whole run was
/// refused.
fn preflight<R: Remote>(mut slots: Vec<Slot<R>>, shared: &Shared) -> (Vec<Slot<R>>, bool) {
    let cut: Vec<(String, String)> = slots
        .iter()
        .filter_map(|s| match s {
            Slot::Staged(st, _) if !st.cuts.is_empty() => Some((
                st.host().to_owned(),
                st.cuts
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n"),
            )),
            _ => None,
        })
        .collect();
    if cut.is_empty() || shared.options.skip_preflight {
        return (slots, false);
    }
    let exclude = shared.options.exclude_refused;
    // One line: every cut host with the first line (setting: what) of its first cut.
    let summary = cut
        .iter()
        .map(|(h, why)| format!("{h} ({})", why.lines().next().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join("; ");
    for slot in &mut slots {
        if let Slot::Staged(st, refused) = slot {
            *refused = match cut.iter().find(|(h, _)| h == st.host()) {
                Some((_, why)) if exclude => Some(format!(
                    "preflight refused the plan, it would cut rampart off this host: {why}\n  (excluded by --exclude-refused: nothing was changed on this host, the other hosts were applied)"
                )),
                Some((_, why)) => Some(format!(
                    "preflight refused the plan, it would cut rampart off this host: {why}\n  (nothing was changed on any host; fix the site, or --exclude-refused applies the other hosts; --skip-preflight overrides, and the dead-man switch still guards the change)"
                )),
                None if exclude => None,
                None => Some(format!(
                    "not applied: the preflight would cut rampart off {summary}; nothing was changed on any host (fix the site, or --exclude-refused to apply the other hosts)"
                )),
            };
        }
    }
    (slots, !exclude)
}

/// Finishes every staged host (at most `forks` at a time); reports come back in slot order.
async fn finish_all<C: Connect>(
    slots: Vec<Slot<C::Remote>>,
    ctx: &Ctx<'_, C>,
) -> Vec<Slot<C::Remote>> {
    let mut out: Vec<Slot<C::Remote>> = Vec::with_capacity(slots.len());
    let mut set = JoinSet::new();
    for (i, slot) in slots.into_iter().enumerate() {
        match slot {
            Slot::Staged(st, refused) => {
                out.push(Slot::Lost(st.host().to_owned(), st.address().to_owned()));
                let (sem, shared, connector) =
                    (ctx.sem.clone(), ctx.shared.clone(), ctx.connector.clone());
                set.spawn(async move {
                    let _permit = sem.acquire_owned().await;
                    (i, finish(*st, &shared, &*connector, refused).await)
                });
            }
            other => out.push(other),
        }
    }
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, rep)) => out[i] = Slot::Done(Box::new(rep)),
            Err(e) => tracing::error!("a host task ended abnormally: {e}"),
        }
    }
    out
}

/// The reports of finished slots; a lost task becomes a failed host, never a missing one.
fn complete<R: Remote>(slots: Vec<Slot<R>>) -> Vec<HostReport> {
    slots
        .into_iter()
        .map(|slot| match slot {
            Slot::Done(rep) => *rep,
            Slot::Staged(st, _) => HostReport {
                host: st.host().to_owned(),
                address: st.address().to_owned(),
                error: Some("rampart left this host unfinished (a bug: please report it)".into()),
                ..HostReport::default()
            },
            Slot::Lost(host, address) => HostReport {
                host,
                address,
                error: Some(
                    "rampart's task for this host ended abnormally (a bug: please report it)"
                        .into(),
                ),
                ..HostReport::default()
            },
        })
        .collect()
}

/// A rolling apply: stage the fleet, finish the hosts with nothing to do, then apply the rest
/// in waves with a health gate after each.
async fn rolling<C: Connect>(
    jobs: Vec<HostJob>,
    ctx: &Ctx<'_, C>,
    rollout: &Rollout,
    mut journal: Option<&mut Journal>,
    stopped: &mut Option<String>,
) -> Vec<HostReport> {
    let order: Vec<String> = jobs.iter().map(|j| j.name.clone()).collect();
    let (slots, refused) = preflight(stage_all(jobs, ctx).await, ctx.shared);
    // Hosts with nothing to change are finished now; the rest (changes, or a failure to
    // stage, which must count against its wave's max_fail) wait for their wave.
    let (mut now, mut todo): (Vec<_>, Vec<_>) = (Vec::new(), Vec::new());
    for slot in slots {
        match &slot {
            Slot::Staged(st, None) if st.is_failed() || st.has_changes() => todo.push(slot),
            _ => now.push(slot),
        }
    }
    if refused {
        // The barrier refused the run: nothing is applied anywhere, so no waves either.
        now.append(&mut todo);
    }
    let mut hosts: Vec<HostReport> = Vec::new();
    if !now.is_empty() {
        let reports = complete(finish_all(now, ctx).await);
        if let Some(j) = journal.as_deref_mut() {
            j.start_wave(
                0,
                &reports.iter().map(|r| r.host.clone()).collect::<Vec<_>>(),
            );
            j.record(0, &reports);
        }
        hosts.extend(reports);
    }
    let mut pending: std::collections::VecDeque<Slot<C::Remote>> = todo.into();
    let mut wave_of = rollout
        .waves
        .iter()
        .enumerate()
        .flat_map(|(w, n)| std::iter::repeat_n(w + 1, *n));
    for slot in &mut pending {
        if let (Slot::Staged(st, _), Some(w)) = (slot, wave_of.next()) {
            st.enter_phase(&format!("wait wave {w}"));
        }
    }
    let waves = rollout.waves.len();
    for (w, size) in rollout.waves.iter().enumerate() {
        if pending.is_empty() {
            break;
        }
        if ctx.shared.is_cancelled() {
            *stopped = Some("interrupted (Ctrl-C) before this host's wave".into());
            break;
        }
        let wave: Vec<Slot<C::Remote>> = pending.drain(..(*size).min(pending.len())).collect();
        let jobs: Vec<Option<HostJob>> = wave
            .iter()
            .map(|s| match s {
                Slot::Staged(st, _) => Some(st.job().clone()),
                _ => None,
            })
            .collect();
        if let Some(j) = journal.as_deref_mut() {
            j.start_wave(w + 1, &wave_names(&wave));
        }
        let mut reports = complete(finish_all(wave, ctx).await);
        gate(&mut reports, &jobs, w, ctx).await;
        if let Some(j) = journal.as_deref_mut() {
            j.record(w + 1, &reports);
        }
        let failures = reports.iter().filter(|r| r.is_failure()).count();
        hosts.extend(reports);
        let allowed = rollout.max_fail.of(*size);
        if failures > allowed && !pending.is_empty() {
            *stopped = Some(format!(
                "the rollout stopped after wave {} of {waves}: {failures} host(s) failed or were unreachable, max_fail allows {allowed}",
                w + 1,
            ));
            break;
        }
    }
    if !pending.is_empty() {
        // Stopped (or out of waves): the rest were only read; close their connections.
        let why = stopped
            .clone()
            .unwrap_or_else(|| "the rollout's waves did not cover this host".into());
        let rest: Vec<Slot<C::Remote>> = pending
            .into_iter()
            .map(|s| match s {
                Slot::Staged(st, _) => Slot::Staged(st, Some(format!("not run: {why}"))),
                other => other,
            })
            .collect();
        for mut rep in complete(finish_all(rest, ctx).await) {
            rep.error_kind = Some("not-run".into());
            hosts.push(rep);
        }
    }
    // The report lists hosts in inventory order, whatever wave they ran in.
    let rank: std::collections::HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    hosts.sort_by_key(|r| rank.get(r.host.as_str()).copied());
    hosts
}

fn wave_names<R: Remote>(wave: &[Slot<R>]) -> Vec<String> {
    wave.iter()
        .map(|s| match s {
            Slot::Staged(st, _) => st.host().to_owned(),
            Slot::Done(r) => r.host.clone(),
            Slot::Lost(h, _) => h.clone(),
        })
        .collect()
}

/// The health gate after a wave, on every host of it that changed, all at once: a fresh
/// login, the roles' checks and the site's health command.
async fn gate<C: Connect>(
    reports: &mut [HostReport],
    jobs: &[Option<HostJob>],
    w: usize,
    ctx: &Ctx<'_, C>,
) {
    let mut set = JoinSet::new();
    for (i, (rep, job)) in reports.iter().zip(jobs).enumerate() {
        let Some(job) = job.clone() else { continue };
        if rep.is_failure() || rep.changed == 0 {
            continue;
        }
        let (sem, shared, connector) = (ctx.sem.clone(), ctx.shared.clone(), ctx.connector.clone());
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            (i, health_gate(&job, &shared, &*connector).await)
        });
    }
    while let Some(joined) = set.join_next().await {
        let Ok((i, verdicts)) = joined else { continue };
        let rep = &mut reports[i];
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
