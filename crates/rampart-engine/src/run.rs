//! The fleet: every host at once (or `--forks` at a time), one task per host, results in
//! inventory order.

use std::sync::Arc;
use std::time::Instant;

use rampart_core::report::{HostReport, RunReport};
use rampart_ssh::Connector;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::host::{HostJob, Reporter, Shared, run_host};

/// Runs every job, at most `forks` at a time, and returns reports in the jobs' order.
///
/// A host's failure, or even a panic in its task, becomes that host's report; it never stops
/// the other hosts.
pub async fn run_fleet(
    jobs: Vec<HostJob>,
    shared: Arc<Shared>,
    connector: Connector,
    forks: usize,
    reporter: Arc<dyn Reporter>,
) -> RunReport {
    let run_start = Instant::now();
    let sem = Arc::new(Semaphore::new(forks.max(1)));
    let connector = Arc::new(connector);
    let mut set = JoinSet::new();
    let names: Vec<(String, String)> = jobs
        .iter()
        .map(|j| (j.name.clone(), j.target.host.clone()))
        .collect();
    for (i, job) in jobs.into_iter().enumerate() {
        let sem = sem.clone();
        let shared = shared.clone();
        let connector = connector.clone();
        let reporter = reporter.clone();
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            (
                i,
                run_host(&job, &shared, &connector, reporter.as_ref(), run_start).await,
            )
        });
    }
    let mut reports: Vec<Option<HostReport>> = vec![None; names.len()];
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, rep)) => reports[i] = Some(rep),
            Err(e) => tracing::error!("a host task ended abnormally: {e}"),
        }
    }
    connector.close().await;
    let hosts = reports
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
        .collect();
    RunReport {
        mode: shared.options.mode,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        seconds: run_start.elapsed().as_secs_f64(),
        hosts,
    }
}
