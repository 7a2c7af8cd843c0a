//! `--log FILE`: the full record of a run, one JSON object a line (JSON Lines), appended and
//! flushed line by line so a run cut short still leaves every event up to the cut.
//!
//! Every event carries `ts` (Unix time, seconds) and `t` (seconds since the log was opened).
//! Steps carry their script kind, exit status, duration and output: the output the engine
//! hands over has already been through the run's redactor and is capped per step
//! ([`rampart_engine::host::STEP_OUTPUT_CAP`]); the log redacts every line once more with the
//! run's redactor when it has one, so a secret never reaches the file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use rampart_core::report::{HostReport, RunReport};
use rampart_core::secret::Redactor;
use rampart_engine::StepEvent;
use rampart_engine::localfs::{Access, open_append};
use serde_json::{Value, json};

/// An open run log.
pub struct RunLog {
    path: PathBuf,
    out: Mutex<Box<dyn Write + Send>>,
    t0: Instant,
    redactor: Mutex<Option<Redactor>>,
}

impl std::fmt::Debug for RunLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunLog").field("path", &self.path).finish()
    }
}

impl RunLog {
    /// Opens (or creates, owner-only: step output shows host configuration) `path` for appending.
    pub fn open(path: &Path) -> std::io::Result<RunLog> {
        let file = open_append(path, Access::Private)?;
        Ok(Self::to(path, Box::new(file)))
    }

    fn to(path: &Path, out: Box<dyn Write + Send>) -> RunLog {
        RunLog {
            path: path.to_owned(),
            out: Mutex::new(out),
            t0: Instant::now(),
            redactor: Mutex::new(None),
        }
    }

    /// Where the log is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Scrubs every later line with the run's redactor too.
    pub fn set_redactor(&self, r: Redactor) {
        if let Ok(mut g) = self.redactor.lock() {
            *g = Some(r);
        }
    }

    /// Appends one event: `{"ts", "t", "event", ...fields}` on one line, written whole and flushed.
    pub fn event(&self, event: &str, fields: Value) {
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let mut obj = serde_json::Map::new();
        obj.insert("ts".into(), json!((ts * 1000.0).round() / 1000.0));
        obj.insert(
            "t".into(),
            json!((self.t0.elapsed().as_secs_f64() * 1000.0).round() / 1000.0),
        );
        obj.insert("event".into(), json!(event));
        if let Value::Object(m) = fields {
            obj.extend(m);
        }
        let mut line = Value::Object(obj).to_string();
        if let Ok(g) = self.redactor.lock()
            && let Some(r) = g.as_ref()
        {
            line = r.redact(&line);
        }
        line.push('\n');
        if let Ok(mut out) = self.out.lock() {
            // One write of the whole line on an O_APPEND file: lines never interleave.
            let _ = out.write_all(line.as_bytes());
            let _ = out.flush();
        }
    }

    /// A run began.
    pub fn run_started(&self, mode: &str, hosts: usize) {
        self.event(
            "run_start",
            json!({ "mode": mode, "hosts": hosts, "version": env!("CARGO_PKG_VERSION") }),
        );
    }

    /// A host entered a phase.
    pub fn phase(&self, host: &str, phase: &str) {
        self.event("phase", json!({ "host": host, "phase": phase }));
    }

    /// A step began (seen live in the apply's output).
    pub fn step_started(&self, host: &str, role: &str, step: &str) {
        self.event(
            "step_start",
            json!({ "host": host, "role": role, "step": step }),
        );
    }

    /// A step ended.
    pub fn step_done(&self, host: &str, s: &StepEvent<'_>) {
        self.event(
            "step",
            json!({
                "host": host,
                "role": s.role,
                "step": s.step,
                "script": s.script,
                "exit": s.exit,
                "seconds": s.seconds,
                "output": s.output,
            }),
        );
    }

    /// A host's run ended.
    pub fn host_done(&self, r: &HostReport) {
        self.event(
            "host",
            json!({
                "host": r.host,
                "address": r.address,
                "ok": r.ok,
                "changed": r.changed,
                "failed": r.failed,
                "skipped": r.skipped,
                "unreachable": r.unreachable,
                "rolled_back": r.rolled_back,
                "error": r.error,
                "error_kind": r.error_kind,
                "seconds": r.seconds,
                "failures": r.resources.iter().filter(|o| o.error.is_some()).map(|o| json!({"role": o.role, "id": o.id, "error": o.error})).collect::<Vec<_>>(),
                "time": r.time,
            }),
        );
    }

    /// The run ended.
    pub fn run_done(&self, r: &RunReport) {
        let (ok, changed, failed, skipped, unreachable) = r.totals();
        self.event(
            "run_end",
            json!({
                "seconds": r.seconds,
                "hosts": r.hosts.len(),
                "ok": ok, "changed": changed, "failed": failed, "skipped": skipped,
                "unreachable": unreachable,
            }),
        );
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Arc;

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    pub struct Buf(pub Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_is_one_json_event_and_secrets_never_reach_it() {
        let canary = "CANARY-s3cr3t-7f3a";
        let buf = Buf::default();
        let log = RunLog::to(Path::new("mem"), Box::new(buf.clone()));
        let mut r = Redactor::new();
        r.add(&rampart_core::secret::Secret::new(canary.into()));
        log.set_redactor(r);
        log.run_started("apply", 1);
        log.phase("h1", "apply base");
        log.step_done(
            "h1",
            &StepEvent {
                role: "base",
                step: "file:/etc/x",
                script: "file",
                exit: 2,
                seconds: Some(1.25),
                output: &format!("E: cannot write /etc/x\npassword={canary}\n"),
            },
        );
        let text = String::from_utf8(buf.0.lock().expect("lock").clone()).expect("utf8");
        assert!(!text.contains(canary), "{text}");
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[2]["event"], "step");
        assert_eq!(lines[2]["exit"], 2);
        assert_eq!(lines[2]["seconds"], 1.25);
        assert!(
            lines[2]["output"]
                .as_str()
                .unwrap_or_default()
                .contains("E: cannot write /etc/x")
        );
        assert!(lines.iter().all(|l| l["ts"].as_f64().is_some()));
    }

    #[test]
    fn the_log_file_is_appended_and_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("run.jsonl");
        std::fs::write(&p, "{\"event\":\"earlier\"}\n").expect("write");
        let log = RunLog::open(&p).expect("open");
        log.phase("h1", "connect");
        let text = std::fs::read_to_string(&p).expect("read");
        assert!(text.starts_with("{\"event\":\"earlier\"}\n"));
        assert_eq!(text.lines().count(), 2);
    }
}
