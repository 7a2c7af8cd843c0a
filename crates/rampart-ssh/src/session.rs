//! [`Session`]: one authenticated connection, shared by many tasks; runs commands with stdin,
//! writes files atomically and reads files back.
//!
//! **Invariants:**
//! - At most `max_channels` channels are open at once per session (sshd's MaxSessions is 10).
//! - Every channel is drained by its own spawned task until the server closes it, even after
//!   the caller gave up (timeout or drop): one undrained russh channel stalls the whole
//!   connection once its buffer fills.
//! - A command timeout closes that channel only; the session stays usable.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use russh::client::Msg;
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf, Sig};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::client::Conn;
use crate::error::SshError;
use crate::quote::{
    become_command, fetch_file_command, put_file_script, script_command, summarize,
};
use crate::target::Target;

/// How long a channel this side closed (cancelled, or over an output cap) keeps its slot:
/// sshd may count the session until the process has ended.
const CLOSE_GRACE: Duration = Duration::from_secs(10);

/// stdin goes out in pieces of this size, one at a time. russh encrypts what it is handed into
/// one send buffer per connection that keeps its largest size, and it takes every message
/// already queued before it writes to the socket: a fact probe (21 KiB with the CIS baseline)
/// queued at once, whole or in pieces, left about 48 KiB of buffer behind per connection,
/// 1.5 MiB at 32 hosts (heaptrack). Handing over one piece and yielding, so that russh writes
/// it out before the next, keeps the buffer near one piece. The pieces share the one
/// zeroed-on-drop buffer (no copy).
const STDIN_PIECE: usize = 4 * 1024;

/// The most one command may print, stdout and stderr together. A converged host's probe of
/// the full FleetClaw site prints about 140 KiB; a host past this is broken or hostile (`yes`
/// as its shell), and its channel is closed instead of filling the controller's memory.
pub const MAX_COMMAND_OUTPUT: u64 = 16 << 20;

/// The most one session (one host) may send in output over its whole life, all its commands
/// together: with [`MAX_COMMAND_OUTPUT`] per command it bounds what one host can make the
/// controller hold, whatever it does.
pub const MAX_HOST_OUTPUT: u64 = 64 << 20;

/// One command to run.
#[derive(Clone, Default)]
pub struct Exec {
    /// A shell command line (run by the remote user's login shell, as ssh(1) does).
    pub command: String,
    /// Bytes for the command's stdin; EOF follows. Secrets go here, never in `command`.
    pub stdin: Vec<u8>,
    /// Give up after this long: the channel is closed and [`SshError::CommandTimedOut`] returned.
    pub timeout: Option<Duration>,
    /// Run as root through `sudo -n` when the session user is not root.
    pub become_root: bool,
}

impl Exec {
    /// A command with no stdin, no timeout, as the session user.
    pub fn new(command: impl Into<String>) -> Self {
        Exec {
            command: command.into(),
            ..Exec::default()
        }
    }
}

impl fmt::Debug for Exec {
    // stdin may carry secrets: show its length only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exec")
            .field("command", &self.command)
            .field("stdin_len", &self.stdin.len())
            .field("timeout", &self.timeout)
            .field("become_root", &self.become_root)
            .finish()
    }
}

/// Called with each piece of a command's stdout as it arrives ([`Session::exec_watched`]).
pub type Watch = std::sync::Arc<dyn Fn(&[u8]) + Send + Sync>;

/// What a command did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// Exit status, when the command exited normally.
    pub exit_status: Option<u32>,
    /// Signal name (`TERM`, `KILL`, ...) when the command was killed by one.
    pub exit_signal: Option<String>,
    /// Everything written to stdout.
    pub stdout: Vec<u8>,
    /// Everything written to stderr.
    pub stderr: Vec<u8>,
}

impl Output {
    /// True when the command exited with status 0.
    pub fn success(&self) -> bool {
        self.exit_status == Some(0)
    }

    /// stdout as text (lossy).
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// stderr as text (lossy).
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    fn status_text(&self) -> String {
        match (&self.exit_status, &self.exit_signal) {
            (Some(s), _) => s.to_string(),
            (None, Some(sig)) => format!("signal {sig}"),
            (None, None) => "unknown".into(),
        }
    }
}

/// A file to write atomically.
#[derive(Clone)]
pub struct PutFile {
    /// Absolute remote path.
    pub path: String,
    /// The new content (streamed on stdin).
    pub content: Vec<u8>,
    /// Permission bits, e.g. `0o640`.
    pub mode: u32,
    /// New owner, when it should change.
    pub owner: Option<String>,
    /// New group, when it should change.
    pub group: Option<String>,
    /// Write as root through `sudo -n`.
    pub become_root: bool,
}

impl fmt::Debug for PutFile {
    // Content may be a secret (a key, a password file): show its length only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PutFile")
            .field("path", &self.path)
            .field("content_len", &self.content.len())
            .field("mode", &format_args!("{:o}", self.mode))
            .field("owner", &self.owner)
            .field("group", &self.group)
            .field("become_root", &self.become_root)
            .finish()
    }
}

/// Counters for reports and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// SSH connections opened to reach this target, counting jump hops this connect opened
    /// (a bastion already open and shared counts for the target that opened it).
    pub connections: u32,
    /// Commands run (each exec, put_file and fetch_file is one).
    pub round_trips: u32,
}

/// An authenticated connection to one target. Clones share the connection.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Arc<Conn>,
    alias: String,
    user: String,
    channels: Arc<Semaphore>,
    connections: u32,
    round_trips: AtomicU32,
    /// Output bytes received on every channel so far (see [`MAX_HOST_OUTPUT`]).
    received: Arc<AtomicU64>,
    /// Caps: one command's output, and all of this session's.
    limits: Limits,
}

/// Output caps of a session. Tests lower them to reach them quickly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes one command may print (stdout and stderr together).
    pub command: u64,
    /// Bytes every command of the session may print in all.
    pub host: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            command: MAX_COMMAND_OUTPUT,
            host: MAX_HOST_OUTPUT,
        }
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("target", &self.inner.alias)
            .field("endpoint", &self.inner.conn.label)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Session {
    pub(crate) fn new(
        conn: Arc<Conn>,
        target: &Target,
        connections: u32,
        max_channels: usize,
        limits: Limits,
    ) -> Self {
        Session {
            inner: Arc::new(Inner {
                conn,
                alias: target.alias.clone(),
                user: target.user.clone(),
                channels: Arc::new(Semaphore::new(max_channels.max(1))),
                connections,
                round_trips: AtomicU32::new(0),
                received: Arc::new(AtomicU64::new(0)),
                limits,
            }),
        }
    }

    /// The user this session is logged in as.
    pub fn remote_user(&self) -> &str {
        &self.inner.user
    }

    /// The inventory alias of the target.
    pub fn alias(&self) -> &str {
        &self.inner.alias
    }

    /// The host key this session's handshake checked against known_hosts and accepted, as its
    /// type and SHA256 fingerprint (`ssh-ed25519 SHA256:...`): the identity of the host at the
    /// other end.
    pub fn host_key_fingerprint(&self) -> &str {
        &self.inner.conn.host_key
    }

    /// How this session reaches its host, first hop first: each hop's `user@host:port` and the
    /// fingerprint of the host key verified on it (the last hop is the target itself).
    pub fn route(&self) -> Vec<(String, String)> {
        self.inner.conn.route()
    }

    /// How long the TCP handshake of this session's connection took: about one network round
    /// trip (the port probe's first estimate). `None` through a jump host.
    pub fn tcp_rtt(&self) -> Option<Duration> {
        self.inner.conn.tcp_rtt
    }

    /// Connections opened and commands run so far.
    pub fn stats(&self) -> SessionStats {
        SessionStats {
            connections: self.inner.connections,
            round_trips: self.inner.round_trips.load(Ordering::Relaxed),
        }
    }

    /// True when the underlying connection has ended.
    pub fn is_closed(&self) -> bool {
        self.inner.conn.handle.is_closed()
    }

    /// Runs one command: opens a channel (waiting for a free one past `max_channels`), streams
    /// stdin in window-sized chunks, and collects stdout, stderr and the exit status.
    pub async fn exec(&self, req: Exec) -> Result<Output, SshError> {
        self.exec_watched(req, None).await
    }

    /// [`Session::exec`], calling `watch` with each piece of stdout as it arrives (a live view
    /// of a long script); the output is collected as usual.
    pub async fn exec_watched(&self, req: Exec, watch: Option<Watch>) -> Result<Output, SshError> {
        let Exec {
            command,
            stdin,
            timeout,
            become_root,
        } = req;
        let summary = summarize(&command);
        let command = become_command(&command, &self.inner.user, become_root);
        let permit = self
            .inner
            .channels
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| SshError::Other {
                target: self.inner.alias.clone(),
                detail: "session is closing".into(),
            })?;
        self.inner.round_trips.fetch_add(1, Ordering::Relaxed);
        // The timeout starts once we hold a channel slot: queueing behind other commands of
        // this session is not the command being slow.
        let run = self.run(summary.clone(), command, stdin, permit, watch);
        match timeout {
            None => run.await,
            Some(after) => match tokio::time::timeout(after, run).await {
                Ok(r) => r,
                // Dropping `run` drops the cancel sender: the channel task closes the channel
                // and keeps draining it in the background.
                Err(_) => Err(SshError::CommandTimedOut {
                    command_summary: summary,
                    after,
                }),
            },
        }
    }

    async fn run(
        &self,
        summary: String,
        command: String,
        stdin: Vec<u8>,
        permit: OwnedSemaphorePermit,
        watch: Option<Watch>,
    ) -> Result<Output, SshError> {
        let (cancel_tx, cancel_rx) = oneshot::channel::<()>();
        let conn = self.inner.conn.clone();
        let budget = Budget {
            received: self.inner.received.clone(),
            limits: self.inner.limits,
            this: 0,
        };
        // The channel is opened inside the task too: if the caller gives up while the open is
        // in flight, the task still gets the channel and closes it instead of leaking it.
        let task = tokio::spawn(async move {
            // sshd counts a session until it has processed the channel's close, which can come
            // after this side released the slot: a refused open (MaxSessions reached for a
            // moment) is retried a few times, briefly, before it counts as lost.
            let mut pause = Duration::from_millis(20);
            let mut attempt = 0;
            let channel = loop {
                match conn.handle.channel_open_session().await {
                    Ok(c) => break c,
                    Err(russh::Error::ChannelOpenFailure(_)) if attempt < 5 => {
                        attempt += 1;
                        tokio::time::sleep(pause).await;
                        pause *= 2;
                    }
                    Err(e) => return Err(ChannelEnd::Lost(format!("cannot open a channel: {e}"))),
                }
            };
            let (rx, tx) = channel.split();
            drive_channel(rx, tx, command, stdin, cancel_rx, permit, budget, watch).await
        });
        let res = task.await;
        drop(cancel_tx);
        let target = self.inner.alias.clone();
        match res {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(ChannelEnd::TooLarge { limit, host })) => Err(SshError::OutputTooLarge {
                target,
                command_summary: summary,
                limit,
                what: if host {
                    "that is all the output rampart holds for one host over a run".into()
                } else {
                    "that is the most rampart holds for one command".into()
                },
            }),
            Ok(Err(ChannelEnd::Lost(detail))) => Err(SshError::Disconnected { target, detail }),
            Ok(Err(ChannelEnd::Cancelled)) => Err(SshError::Other {
                target,
                detail: "command cancelled".into(),
            }),
            Err(e) => Err(SshError::Other {
                target,
                detail: format!("channel task failed: {e}"),
            }),
        }
    }

    /// Writes a file atomically in one command: a temp file in the same directory, mode and
    /// owner set, then renamed over the target. On any failure the temp file is removed and
    /// the target is untouched.
    pub async fn put_file(&self, put: PutFile) -> Result<(), SshError> {
        let script = put_file_script(
            &put.path,
            &put.content,
            put.mode,
            put.owner.as_deref(),
            put.group.as_deref(),
        )?;
        let out = self
            .exec(Exec {
                command: script_command("", &self.inner.user, put.become_root),
                stdin: script.into_bytes(),
                timeout: None,
                become_root: false,
            })
            .await?;
        self.check(&out, || format!("writing {}", put.path))
    }

    /// Reads a whole remote file.
    pub async fn fetch_file(&self, path: &str, become_root: bool) -> Result<Vec<u8>, SshError> {
        let out = self
            .exec(Exec {
                command: fetch_file_command(path),
                stdin: Vec::new(),
                timeout: None,
                become_root,
            })
            .await?;
        self.check(&out, || format!("reading {path}"))?;
        Ok(out.stdout)
    }

    fn check(&self, out: &Output, what: impl FnOnce() -> String) -> Result<(), SshError> {
        if out.success() {
            return Ok(());
        }
        let stderr = out.stderr_str().trim().to_owned();
        let hint = if stderr.contains("a password is required")
            || stderr.contains("a terminal is required")
        {
            Some(format!(
                "{} needs passwordless sudo (NOPASSWD in sudoers) for rampart to act as root",
                self.inner.user
            ))
        } else {
            None
        };
        Err(SshError::CommandFailed {
            target: self.inner.alias.clone(),
            what: what(),
            status: out.status_text(),
            stderr,
            hint,
        })
    }

    /// Disconnects. Other clones of this session fail from then on. A shared bastion stays
    /// open for other targets (see [`crate::Connector::close`]).
    pub async fn close(self) {
        let _ = self
            .inner
            .conn
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }
}

enum ChannelEnd {
    /// The connection went away before the channel closed.
    Lost(String),
    /// The caller stopped waiting (timeout or drop); the channel was closed.
    Cancelled,
    /// The output passed a cap (`host`: the session's, else the command's); the channel was
    /// closed and drained without keeping anything.
    TooLarge {
        /// The cap, in bytes.
        limit: u64,
        /// Whether it was the session's cap.
        host: bool,
    },
}

/// A buffer zeroed when dropped: the owner behind the stdin bytes handed to russh.
struct ZeroOnDrop(Vec<u8>);

impl AsRef<[u8]> for ZeroOnDrop {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for ZeroOnDrop {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// What one channel may still keep.
struct Budget {
    received: Arc<AtomicU64>,
    limits: Limits,
    this: u64,
}

impl Budget {
    /// Counts `n` more bytes; the cap passed, if one is.
    fn take(&mut self, n: usize) -> Option<ChannelEnd> {
        let n = n as u64;
        self.this += n;
        let all = self.received.fetch_add(n, Ordering::Relaxed) + n;
        if self.this > self.limits.command {
            Some(ChannelEnd::TooLarge {
                limit: self.limits.command,
                host: false,
            })
        } else if all > self.limits.host {
            Some(ChannelEnd::TooLarge {
                limit: self.limits.host,
                host: true,
            })
        } else {
            None
        }
    }
}

/// Owns one channel from exec request to close. Runs in its own task so the channel is always
/// drained, whatever the caller does.
#[allow(clippy::too_many_arguments)] // the channel's halves, what to send, its limits, the watch
async fn drive_channel(
    mut rx: ChannelReadHalf,
    tx: ChannelWriteHalf<Msg>,
    command: String,
    stdin: Vec<u8>,
    mut cancel: oneshot::Receiver<()>,
    permit: OwnedSemaphorePermit,
    mut budget: Budget,
    watch: Option<Watch>,
) -> Result<Output, ChannelEnd> {
    let mut out = Output::default();
    let mut end = ChannelEnd::Cancelled;
    // want_reply: a refused exec shows up as ChannelMsg::Failure followed by a close.
    if let Err(e) = tx.exec(true, command).await {
        return Err(ChannelEnd::Lost(format!("exec request failed: {e}")));
    }
    // Stream stdin while reading: a command that writes before reading all its input would
    // otherwise deadlock on full windows. data_bytes chunks by window and packet size without
    // copying the buffer.
    let writer = async {
        // The script may carry secrets (a credential file's content): its only buffer is
        // handed over without a copy and zeroed when russh has sent it.
        let all = bytes::Bytes::from_owner(ZeroOnDrop(stdin));
        let mut at = 0;
        while at < all.len() {
            let end = (at + STDIN_PIECE).min(all.len());
            if let Err(e) = tx.data_bytes(all.slice(at..end)).await {
                // The command may exit without reading all of stdin; that is its business.
                tracing::debug!(error = %e, "stdin not fully sent");
                return;
            }
            at = end;
            // Let the connection's task write this piece out before the next is queued.
            tokio::task::yield_now().await;
        }
        drop(all);
        let _ = tx.eof().await;
    };
    tokio::pin!(writer);
    let mut writer_done = false;
    loop {
        tokio::select! {
            () = &mut writer, if !writer_done => writer_done = true,
            _ = &mut cancel => {
                // Ask the process to stop, then close. sshd honours "signal" for ordinary users;
                // for root logins it refuses ("requires privilege separation"), so a timed-out
                // root command may run on until it ends by itself.
                let _ = tx.signal(Sig::TERM).await;
                let _ = tx.close().await;
                break;
            }
            msg = rx.wait() => match msg {
                Some(ChannelMsg::Data { ref data }) | Some(ChannelMsg::ExtendedData { ref data, ext: 1 }) => {
                    let to = if matches!(msg, Some(ChannelMsg::Data { .. })) {
                        &mut out.stdout
                    } else {
                        &mut out.stderr
                    };
                    if let Some(over) = budget.take(data.len()) {
                        end = over;
                    } else if append(to, data) {
                        if let (Some(w), Some(ChannelMsg::Data { .. })) = (&watch, &msg) {
                            w(data);
                        }
                        continue;
                    } else {
                        // The allocator said no: fail this host, never abort the controller.
                        end = ChannelEnd::TooLarge { limit: budget.this, host: false };
                    }
                    // Over a cap: keep nothing more, free what was kept, stop the command.
                    out = Output::default();
                    let _ = tx.signal(Sig::TERM).await;
                    let _ = tx.close().await;
                    break;
                }
                Some(ChannelMsg::ExitStatus { exit_status }) => out.exit_status = Some(exit_status),
                Some(ChannelMsg::ExitSignal { signal_name, .. }) => out.exit_signal = Some(sig_name(&signal_name)),
                Some(ChannelMsg::Close) => {
                    drop(permit);
                    return Ok(out);
                }
                Some(ChannelMsg::Failure) => {
                    out.stderr.extend_from_slice(b"the server refused to run the command");
                }
                Some(_) => {}
                None => {
                    drop(permit);
                    return Err(ChannelEnd::Lost("the connection closed while a command ran".into()));
                }
            },
        }
    }
    // This side closed the channel (cancelled, or over a cap) and the caller gets its error at
    // once. sshd counts the session until the process has ended and it has processed the
    // close, so the slot (the permit) stays taken for a grace period, in the background.
    // Meanwhile `rx` is drained, so that russh never blocks on this channel's full queue and
    // stalls the connection. russh 0.65 forgets a channel once this side has sent its close:
    // the server's close does not reach `rx`, and the grace is always spent whole. Waited for
    // here, it cost the caller 10 s per capped or timed-out command.
    drop(out);
    tokio::spawn(async move {
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            while let Some(msg) = rx.wait().await {
                if matches!(msg, ChannelMsg::Close) {
                    break;
                }
            }
        })
        .await;
        drop(permit);
    });
    Err(end)
}

fn sig_name(sig: &Sig) -> String {
    match sig {
        Sig::ABRT => "ABRT",
        Sig::ALRM => "ALRM",
        Sig::FPE => "FPE",
        Sig::HUP => "HUP",
        Sig::ILL => "ILL",
        Sig::INT => "INT",
        Sig::KILL => "KILL",
        Sig::PIPE => "PIPE",
        Sig::QUIT => "QUIT",
        Sig::SEGV => "SEGV",
        Sig::TERM => "TERM",
        Sig::USR1 => "USR1",
        Sig::Custom(c) => c.as_str(),
    }
    .to_owned()
}

/// Appends a chunk of a command's output, growing the buffer by a quarter instead of doubling
/// it: a fact probe's output stays in memory until it is parsed, for every host at once, and
/// doubling left up to half of it unused (1.4 MiB of 4.3 at 32 hosts).
/// Allocation is fallible: false when the memory could not be had (the host fails, the
/// controller lives on).
fn append(buf: &mut Vec<u8>, data: &[u8]) -> bool {
    let free = buf.capacity() - buf.len();
    if free < data.len()
        && buf
            .try_reserve_exact(data.len().max(buf.len() / 4))
            .is_err()
        && buf.try_reserve_exact(data.len()).is_err()
    {
        return false;
    }
    buf.extend_from_slice(data);
    true
}
