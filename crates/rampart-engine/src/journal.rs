//! The run journal on the operator's laptop: every host's outcome, wave by wave, written after
//! each wave (atomically), so a stopped rollout can be resumed (`--resume`) or its failed hosts
//! retried (`--only-failed`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rampart_core::report::HostReport;
use serde::{Deserialize, Serialize};

/// What happened to one host in the journal's run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Not reached yet.
    Pending,
    /// Converged (changed or not) and passed its gate.
    Ok,
    /// Failed (a step, a handler, the preflight or the health gate).
    Failed,
    /// Could not be reached.
    Unreachable,
    /// Shut rampart out and rolled itself back.
    RolledBack,
}

/// Which hosts a run continued from a journal runs again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// `--resume`: every host the journal does not record as `ok`.
    Resume,
    /// `--only-failed`: the hosts that failed, were unreachable or rolled back.
    OnlyFailed,
}

/// One host's line in the journal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The outcome.
    pub outcome: Outcome,
    /// The wave it ran in (0-based), when it ran.
    pub wave: Option<usize>,
    /// Resources changed.
    pub changed: usize,
    /// The error, if any.
    pub error: Option<String>,
}

/// A run's journal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    /// The site file.
    pub site: PathBuf,
    /// The inventory.
    pub inventory: PathBuf,
    /// "running", "stopped" or "complete".
    pub status: String,
    /// Why it stopped.
    pub reason: Option<String>,
    /// The hosts of each wave as they ran.
    pub waves: Vec<Vec<String>>,
    /// Every host of the run.
    pub hosts: BTreeMap<String, Entry>,
    /// The run's log (`--log`), when it wrote one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<PathBuf>,
    #[serde(skip)]
    path: PathBuf,
}

impl Journal {
    /// Where the journal of a site lives: `.rampart/journal-<site>.json` beside the site file.
    pub fn path_for(site: &Path) -> PathBuf {
        let dir = site
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let stem = site
            .file_stem()
            .map_or("site".into(), |s| s.to_string_lossy().into_owned());
        dir.join(".rampart").join(format!("journal-{stem}.json"))
    }

    /// A new journal for these hosts, all pending.
    pub fn new(site: &Path, inventory: &Path, hosts: &[String]) -> Self {
        Journal {
            site: site.to_owned(),
            inventory: inventory.to_owned(),
            status: "running".into(),
            reason: None,
            waves: Vec::new(),
            hosts: hosts
                .iter()
                .map(|h| {
                    (
                        h.clone(),
                        Entry {
                            outcome: Outcome::Pending,
                            wave: None,
                            changed: 0,
                            error: None,
                        },
                    )
                })
                .collect(),
            log: None,
            path: Self::path_for(site),
        }
    }

    /// Loads the site's last journal, if any.
    pub fn load(site: &Path) -> Result<Option<Journal>, String> {
        let path = Self::path_for(site);
        match std::fs::read_to_string(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
            Ok(text) => {
                let mut j: Journal = serde_json::from_str(&text)
                    .map_err(|e| format!("{}: not a rampart journal: {e}", path.display()))?;
                j.path = path;
                Ok(Some(j))
            }
        }
    }

    /// Hosts a `--resume` still has to run: everything not `ok`.
    pub fn unfinished(&self) -> Vec<String> {
        self.hosts
            .iter()
            .filter(|(_, e)| e.outcome != Outcome::Ok)
            .map(|(h, _)| h.clone())
            .collect()
    }

    /// Hosts `--only-failed` retries.
    pub fn failed(&self) -> Vec<String> {
        self.hosts
            .iter()
            .filter(|(_, e)| {
                matches!(
                    e.outcome,
                    Outcome::Failed | Outcome::Unreachable | Outcome::RolledBack
                )
            })
            .map(|(h, _)| h.clone())
            .collect()
    }

    /// Narrows a run's jobs to the hosts a retry runs: every host not `ok` for `--resume`,
    /// the failed, unreachable and rolled-back ones for `--only-failed`.
    pub fn select(&self, jobs: &mut Vec<crate::host::HostJob>, retry: Retry) {
        let keep = match retry {
            Retry::Resume => self.unfinished(),
            Retry::OnlyFailed => self.failed(),
        };
        jobs.retain(|job| keep.contains(&job.name));
    }

    /// Carries over the hosts a continued run does not run again, as the previous journal
    /// left them: the `ok` ones, and with `--only-failed` also those never reached (still
    /// pending, so a later `--resume` runs them).
    pub fn carry_over(&mut self, previous: &Journal) {
        for (h, e) in &previous.hosts {
            if !self.hosts.contains_key(h) {
                self.hosts.insert(h.clone(), e.clone());
            }
        }
    }

    /// A wave starts.
    pub fn start_wave(&mut self, _index: usize, hosts: &[String]) {
        self.waves.push(hosts.to_vec());
        self.save_quietly();
    }

    /// A wave's reports.
    pub fn record(&mut self, wave: usize, reports: &[HostReport]) {
        for r in reports {
            let outcome = if r.rolled_back {
                Outcome::RolledBack
            } else if r.unreachable {
                Outcome::Unreachable
            } else if r.is_failure() {
                Outcome::Failed
            } else {
                Outcome::Ok
            };
            self.hosts.insert(
                r.host.clone(),
                Entry {
                    outcome,
                    wave: Some(wave),
                    changed: r.changed,
                    error: r.error.clone(),
                },
            );
        }
        self.save_quietly();
    }

    /// The run ended.
    pub fn finish(&mut self, stopped: Option<&str>) {
        self.status = if stopped.is_some() {
            "stopped".into()
        } else {
            "complete".into()
        };
        self.reason = stopped.map(str::to_owned);
        self.save_quietly();
    }

    /// Writes the journal atomically (temp file + rename).
    pub fn save(&self) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        crate::localfs::write_atomic(
            &self.path,
            &serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?,
            crate::localfs::Access::Shared,
        )
    }

    fn save_quietly(&self) {
        if let Err(e) = self.save() {
            tracing::warn!("cannot write the run journal {}: {e}", self.path.display());
        }
    }

    /// Where this journal is written.
    pub fn location(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_resumes_and_retries() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site.toml");
        let hosts: Vec<String> = ["h1", "h2", "h3"].iter().map(|s| (*s).to_owned()).collect();
        let mut j = Journal::new(&site, Path::new("inv.toml"), &hosts);
        j.start_wave(0, &hosts[..2]);
        let ok = HostReport {
            host: "h1".into(),
            ..HostReport::default()
        };
        let bad = HostReport {
            host: "h2".into(),
            error: Some("boom".into()),
            ..HostReport::default()
        };
        j.record(0, &[ok, bad]);
        j.finish(Some("stopped after wave 1"));
        let back = Journal::load(&site).unwrap().unwrap();
        assert_eq!(back.status, "stopped");
        assert_eq!(back.unfinished(), ["h2", "h3"]);
        assert_eq!(back.failed(), ["h2"]);
    }
}
