//! The [`Connector`]: dials targets (directly or through shared ProxyJump bastions), checks host
//! keys, authenticates, and hands back a [`Session`].
//!
//! **Invariants:**
//! - One connector serves a whole run. It owns the caches that make 1,000 hosts cheap: parsed
//!   known_hosts files, decrypted keys, and ONE connection per distinct bastion chain, shared by
//!   every target behind it.
//! - The connect timeout of a hop bounds its TCP connect, SSH handshake and authentication
//!   together; which stage was running is reported.
//! - There is no accept-all host key mode: only [`HostKeyPolicy::Strict`] and
//!   [`HostKeyPolicy::AcceptNew`], and a changed key is refused under both.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use russh::client::{Config, Handle, Handler};
use russh::keys::{Algorithm, PublicKeyOrCertificate};
use russh::{ChannelOpenFailure, Preferred, SshId, kex};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OnceCell;

use crate::auth::{self, AuthContext, KeyStore};
use crate::error::SshError;
use crate::known_hosts::{self, host_key_name};
use crate::session::Session;
use crate::target::Target;

/// What to do with a host key that no known_hosts file records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HostKeyPolicy {
    /// Refuse unknown keys ([`SshError::HostKeyUnknown`]). The default.
    #[default]
    Strict,
    /// Record an unknown key by appending one line to the first known_hosts file, then go on.
    /// A *changed* key is still refused.
    AcceptNew,
}

/// Options shared by every connection of a run.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Unknown host keys: refuse or learn.
    pub host_key_policy: HostKeyPolicy,
    /// Offer ssh-agent identities before identity files.
    pub use_agent: bool,
    /// The agent socket. `None` reads `SSH_AUTH_SOCK` once, in [`Connector::new`]. Tests and
    /// embedders pass it here instead of changing the process environment.
    pub agent_socket: Option<PathBuf>,
    /// Interval of SSH keepalives on an idle connection; zero turns keepalives off.
    pub keepalive: Duration,
    /// Channels (concurrent commands) per session. sshd's MaxSessions defaults to 10.
    pub max_channels: usize,
    /// Environment variable holding the passphrase of encrypted identity files.
    pub passphrase_env: Option<String>,
    /// Ask on `/dev/tty` (no echo) for a passphrase when the variable is not set.
    pub allow_tty_prompt: bool,
    /// The system-wide known_hosts files (OpenSSH's GlobalKnownHostsFile), read beside every
    /// target's own files and never written: a key they record is trusted, and a host they
    /// know is never "new" to `--accept-new`. Default: OpenSSH's,
    /// `/etc/ssh/ssh_known_hosts` and `/etc/ssh/ssh_known_hosts2`; missing files are empty.
    pub global_known_hosts: Vec<PathBuf>,
    /// Caps on what one command and one session's commands may print (see
    /// [`crate::session::MAX_COMMAND_OUTPUT`]).
    pub output_limits: crate::session::Limits,
}

/// OpenSSH's default GlobalKnownHostsFile.
pub const GLOBAL_KNOWN_HOSTS: [&str; 2] = ["/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"];

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            host_key_policy: HostKeyPolicy::Strict,
            use_agent: true,
            agent_socket: None,
            keepalive: Duration::from_secs(15),
            max_channels: 8,
            passphrase_env: Some("RAMPART_KEY_PASSPHRASE".to_owned()),
            allow_tty_prompt: false,
            global_known_hosts: GLOBAL_KNOWN_HOSTS.iter().map(PathBuf::from).collect(),
            output_limits: crate::session::Limits::default(),
        }
    }
}

/// Used when a target's connect timeout is zero: never wait forever on one host.
const FALLBACK_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Key exchange preference. curve25519 is the benchmark floor (what OpenSSH uses with
/// `-o KexAlgorithms=curve25519-sha256`); the post-quantum hybrid is offered last because it
/// costs too much at 1,000 hosts. The `ext-info-c` and strict-kex markers must stay: the first
/// gets us `server-sig-algs` (RSA SHA-2), the second is the Terrapin fix.
const KEX_ORDER: &[kex::Name] = &[
    kex::CURVE25519,
    kex::CURVE25519_PRE_RFC_8731,
    kex::ECDH_SHA2_NISTP256,
    kex::ECDH_SHA2_NISTP384,
    kex::ECDH_SHA2_NISTP521,
    kex::DH_GEX_SHA256,
    kex::DH_G16_SHA512,
    kex::DH_G14_SHA256,
    kex::MLKEM768X25519_SHA256,
    kex::EXTENSION_SUPPORT_AS_CLIENT,
    kex::EXTENSION_OPENSSH_STRICT_KEX_AS_CLIENT,
];

/// Dials targets. Cheap to clone; clones share every cache.
#[derive(Clone, Debug)]
pub struct Connector {
    inner: Arc<Inner>,
}

/// One bastion attempt, shared by every caller that arrives while it runs.
type BastionCell = Arc<OnceCell<Result<Arc<Conn>, SshError>>>;

struct Inner {
    opts: ClientOptions,
    agent_socket: Option<PathBuf>,
    keys: KeyStore,
    known_hosts: Arc<known_hosts::Store>,
    /// Bastion connections by chain key (`user@host:port>` per hop, first hop first).
    bastions: std::sync::Mutex<HashMap<String, BastionCell>>,
    opened: AtomicU32,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("opts", &self.opts)
            .field("agent_socket", &self.agent_socket)
            .field("connections_opened", &self.opened.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// One authenticated SSH connection. Holds the connection it was tunnelled through, so a
/// bastion lives at least as long as every connection behind it.
pub(crate) struct Conn {
    pub(crate) handle: Handle<ClientHandler>,
    pub(crate) label: String,
    /// Type and SHA256 fingerprint of the host key this connection's handshake verified.
    pub(crate) host_key: String,
    pub(crate) via: Option<Arc<Conn>>,
    /// How long the TCP handshake to the host took (one round trip, plus scheduling), when
    /// this connection dialled it directly (not through a jump host).
    pub(crate) tcp_rtt: Option<Duration>,
}

impl Conn {
    /// Every hop of this connection, first hop first: `user@host:port` and the fingerprint of
    /// the host key verified on it.
    pub(crate) fn route(&self) -> Vec<(String, String)> {
        let mut hops = self.via.as_ref().map(|v| v.route()).unwrap_or_default();
        hops.push((self.label.clone(), self.host_key.clone()));
        hops
    }
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// A connector for one run. Reads `SSH_AUTH_SOCK` here (once) when `use_agent` is on and no
    /// socket was given.
    pub fn new(opts: ClientOptions) -> Self {
        let agent_socket = if opts.use_agent {
            opts.agent_socket
                .clone()
                .or_else(|| std::env::var_os("SSH_AUTH_SOCK").map(PathBuf::from))
        } else {
            None
        };
        Connector {
            inner: Arc::new(Inner {
                keys: KeyStore::new(opts.passphrase_env.clone(), opts.allow_tty_prompt),
                agent_socket,
                known_hosts: Arc::new(known_hosts::Store::default()),
                bastions: std::sync::Mutex::new(HashMap::new()),
                opened: AtomicU32::new(0),
                opts,
            }),
        }
    }

    /// The options this connector was made with.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.opts
    }

    /// SSH connections this connector has opened so far, bastions included.
    pub fn connections_opened(&self) -> u32 {
        self.inner.opened.load(Ordering::Relaxed)
    }

    /// Connects to `target`, through its jump chain when it has one, and authenticates.
    pub async fn connect(&self, target: &Target) -> Result<Session, SshError> {
        let chain = flatten_jumps(&target.jump);
        let mut via: Option<Arc<Conn>> = None;
        let mut chain_key = String::new();
        let mut opened = 0u32;
        for hop in &chain {
            chain_key.push_str(&hop_label(hop));
            chain_key.push('>');
            let (conn, fresh) = self
                .bastion(&chain_key, hop, via.clone())
                .await
                .map_err(|e| SshError::JumpFailed {
                    target: target.alias.clone(),
                    hop: hop_label(hop),
                    source: Box::new(e),
                })?;
            if fresh {
                opened += 1;
            }
            via = Some(conn);
        }
        let conn = self.establish(target, via).await?;
        opened += 1;
        Ok(Session::new(
            Arc::new(conn),
            target,
            opened,
            self.inner.opts.max_channels,
            self.inner.opts.output_limits,
        ))
    }

    /// Disconnects every cached bastion connection. Sessions still open through them break.
    pub async fn close(&self) {
        let cells: Vec<_> = {
            let mut map = self
                .inner
                .bastions
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            map.drain().map(|(_, c)| c).collect()
        };
        for cell in cells {
            if let Some(Ok(conn)) = cell.get() {
                let _ = conn
                    .handle
                    .disconnect(russh::Disconnect::ByApplication, "", "en")
                    .await;
            }
        }
    }

    /// The shared connection to a bastion, and whether this call opened it.
    ///
    /// Concurrent callers share one attempt, success or failure: 1,000 targets behind a dead
    /// bastion fail together after one connect timeout, not one after another. A failed or
    /// dead entry is evicted, so a later call (a retry) dials again.
    async fn bastion(
        &self,
        key: &str,
        hop: &Target,
        via: Option<Arc<Conn>>,
    ) -> Result<(Arc<Conn>, bool), SshError> {
        for _ in 0..2 {
            let cell = self.bastion_cell(key);
            let mut fresh = false;
            let res = cell
                .get_or_init(|| {
                    fresh = true;
                    let via = via.clone();
                    async move { self.establish(hop, via).await.map(Arc::new) }
                })
                .await
                .clone();
            match res {
                Ok(conn) if !conn.handle.is_closed() => return Ok((conn, fresh)),
                Ok(conn) => {
                    tracing::debug!(bastion = %conn.label, "cached bastion connection is closed; reconnecting");
                    self.evict_bastion(key, &cell);
                }
                Err(e) => {
                    self.evict_bastion(key, &cell);
                    return Err(e);
                }
            }
        }
        Err(SshError::Disconnected {
            target: hop.alias.clone(),
            detail: "the jump host closed the connection right after it was opened".into(),
        })
    }

    fn bastion_cell(&self, key: &str) -> BastionCell {
        let mut map = self
            .inner
            .bastions
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        map.entry(key.to_owned()).or_default().clone()
    }

    fn evict_bastion(&self, key: &str, cell: &BastionCell) {
        let mut map = self
            .inner
            .bastions
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if map.get(key).is_some_and(|c| Arc::ptr_eq(c, cell)) {
            map.remove(key);
        }
    }

    /// TCP (or direct-tcpip through `via`) + handshake + auth, under the target's timeout.
    async fn establish(&self, t: &Target, via: Option<Arc<Conn>>) -> Result<Conn, SshError> {
        let after = if t.connect_timeout.is_zero() {
            FALLBACK_CONNECT_TIMEOUT
        } else {
            t.connect_timeout
        };
        let mut stage = "TCP connect";
        let res = tokio::time::timeout(after, self.establish_inner(t, via, &mut stage)).await;
        match res {
            Ok(r) => r,
            Err(_) => Err(SshError::TimedOut {
                target: t.alias.clone(),
                addr: fmt_addr(&t.host, t.port),
                stage: stage.to_owned(),
                after,
            }),
        }
    }

    async fn establish_inner(
        &self,
        t: &Target,
        via: Option<Arc<Conn>>,
        stage: &mut &'static str,
    ) -> Result<Conn, SshError> {
        let config = self.client_config(t);
        let verified = Arc::new(std::sync::OnceLock::new());
        let handler = ClientHandler {
            host: t.host.clone(),
            port: t.host_key_port.unwrap_or(t.port),
            known_hosts: t.known_hosts.clone(),
            global_known_hosts: self.inner.opts.global_known_hosts.clone(),
            policy: self.inner.opts.host_key_policy,
            store: self.inner.known_hosts.clone(),
            verified: verified.clone(),
        };
        let seen = Arc::new(AtomicBool::new(false));
        let mut tcp_rtt = None;
        let handshake = match &via {
            None => {
                let dialled = Instant::now();
                let tcp = connect_tcp(t).await?;
                tcp_rtt = Some(dialled.elapsed());
                *stage = "SSH handshake";
                russh::client::connect_stream(config, Watched::new(tcp, seen.clone()), handler)
                    .await
            }
            Some(bastion) => {
                *stage = "tunnel through the jump host";
                let ch = bastion
                    .handle
                    .channel_open_direct_tcpip(t.host.as_str(), u32::from(t.port), "127.0.0.1", 0)
                    .await
                    .map_err(|e| direct_tcpip_error(e, t, &bastion.label))?;
                *stage = "SSH handshake";
                russh::client::connect_stream(
                    config,
                    Watched::new(ch.into_stream(), seen.clone()),
                    handler,
                )
                .await
            }
        };
        let mut handle =
            handshake.map_err(|e| handshake_error(e, t, seen.load(Ordering::Relaxed)))?;
        self.inner.opened.fetch_add(1, Ordering::Relaxed);
        *stage = "authentication";
        let cx = AuthContext {
            target: &t.alias,
            user: &t.user,
            agent_socket: self.inner.agent_socket.as_deref().filter(|p| p.exists()),
            identity_files: &t.identity_files,
            keys: &self.inner.keys,
            passphrase_env: self.inner.opts.passphrase_env.as_deref(),
        };
        auth::authenticate(&mut handle, &cx).await?;
        tracing::debug!(target = %t.alias, endpoint = %hop_label(t), via = via.as_ref().map(|v| v.label.as_str()), "connected");
        // check_server_key ran during the handshake, which succeeded: it accepted a key.
        let host_key = verified.get().cloned().ok_or_else(|| SshError::Protocol {
            target: t.alias.clone(),
            detail: "the handshake ended without a verified host key".into(),
            hint: None,
        })?;
        Ok(Conn {
            handle,
            label: hop_label(t),
            host_key,
            via,
            tcp_rtt,
        })
    }

    fn client_config(&self, t: &Target) -> Arc<Config> {
        // Ask first for host key types that known_hosts records for this host, as OpenSSH does:
        // otherwise a host known by its ECDSA key would present ed25519 and look unknown.
        let name = host_key_name(&t.host, t.port);
        let mut paths = t.known_hosts.clone();
        paths.extend(self.inner.opts.global_known_hosts.iter().cloned());
        let files = self.inner.known_hosts.load(&paths);
        let recorded = known_hosts::recorded_types(
            files.iter().map(|(p, e)| (p.as_path(), e.as_slice())),
            &name,
        );
        let mut keys: Vec<Algorithm> = Preferred::DEFAULT.key.to_vec();
        keys.sort_by_key(|a| {
            !recorded
                .iter()
                .any(|r| r == a.as_str() || (r == "ssh-rsa" && a.clone().is_rsa()))
        });
        let keepalive = self.inner.opts.keepalive;
        let (keepalive_interval, inactivity_timeout) = if keepalive.is_zero() {
            // No keepalives: an idle session between plays must not be garbage-collected.
            (None, None)
        } else {
            // Keepalive replies reset the inactivity timer, so it only fires on a peer that has
            // gone silent; keepalive_max usually catches that first.
            (
                Some(keepalive),
                Some((keepalive * 6).max(Duration::from_secs(60))),
            )
        };
        Arc::new(Config {
            client_id: SshId::Standard(Cow::Borrowed(concat!(
                "SSH-2.0-rampart_",
                env!("CARGO_PKG_VERSION")
            ))),
            preferred: Preferred {
                kex: Cow::Borrowed(KEX_ORDER),
                key: Cow::Owned(keys),
                ..Preferred::DEFAULT
            },
            keepalive_interval,
            keepalive_max: 3,
            inactivity_timeout,
            nodelay: true,
            // The host's packets are read into one buffer per connection that grows to the
            // largest packet: 8 KiB instead of russh's 32 KiB keeps 32 connections' buffers at
            // a quarter of a MiB (the probe's answer is tens of KiB, a few packets either way).
            maximum_packet_size: 8 * 1024,
            ..Config::default()
        })
    }
}

/// `user@host:port`, the name of a hop in errors and cache keys.
pub(crate) fn hop_label(t: &Target) -> String {
    format!("{}@{}", t.user, fmt_addr(&t.host, t.port))
}

/// `host:port`, bracketing IPv6 literals.
pub(crate) fn fmt_addr(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The hops to dial, first first: each hop's own jump chain comes before the hop itself.
fn flatten_jumps(jumps: &[Target]) -> Vec<Target> {
    let mut out = Vec::new();
    for j in jumps {
        out.extend(flatten_jumps(&j.jump));
        out.push(Target {
            jump: Vec::new(),
            ..j.clone()
        });
    }
    out
}

async fn connect_tcp(t: &Target) -> Result<TcpStream, SshError> {
    let addrs: Vec<_> = match tokio::net::lookup_host((t.host.as_str(), t.port)).await {
        Ok(a) => a.collect(),
        Err(e) => {
            return Err(SshError::NameNotResolved {
                target: t.alias.clone(),
                host: t.host.clone(),
                detail: e.to_string(),
            });
        }
    };
    let mut last: Option<io::Error> = None;
    // Every address in turn, as ssh(1) does; the overall timeout still bounds the loop.
    for addr in &addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                if let Err(e) = s.set_nodelay(true) {
                    tracing::debug!(error = %e, "set_nodelay failed");
                }
                return Ok(s);
            }
            Err(e) => {
                tracing::debug!(%addr, error = %e, "TCP connect failed");
                last = Some(e);
            }
        }
    }
    let addr = fmt_addr(&t.host, t.port);
    let target = t.alias.clone();
    Err(match last {
        None => SshError::NameNotResolved {
            target,
            host: t.host.clone(),
            detail: "no addresses".into(),
        },
        Some(e) => match e.kind() {
            io::ErrorKind::ConnectionRefused => SshError::Refused { target, addr },
            io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
                SshError::NoRoute {
                    target,
                    addr,
                    detail: e.to_string(),
                }
            }
            io::ErrorKind::TimedOut => SshError::TimedOut {
                target,
                addr,
                stage: "TCP connect".into(),
                after: t.connect_timeout,
            },
            _ => SshError::io(&target, format!("TCP connect to {addr}: {e}")),
        },
    })
}

fn direct_tcpip_error(e: russh::Error, t: &Target, bastion: &str) -> SshError {
    let addr = fmt_addr(&t.host, t.port);
    match e {
        russh::Error::ChannelOpenFailure(ChannelOpenFailure::AdministrativelyProhibited) => {
            SshError::Protocol {
                target: t.alias.clone(),
                detail: format!("jump host {bastion} refused to forward to {addr}"),
                hint: Some(
                    "allow TCP forwarding for this user on the jump host (AllowTcpForwarding yes)"
                        .into(),
                ),
            }
        }
        // sshd says only "connect failed" whether the target refused, timed out or did not
        // resolve; refused is by far the most common, and is retryable like the direct case.
        russh::Error::ChannelOpenFailure(_) => SshError::Refused {
            target: t.alias.clone(),
            addr: format!("{addr} as seen from jump host {bastion}"),
        },
        other => SshError::Disconnected {
            target: t.alias.clone(),
            detail: format!("jump host {bastion} connection failed: {other}"),
        },
    }
}

fn handshake_error(e: HandlerError, t: &Target, seen_bytes: bool) -> SshError {
    let target = t.alias.clone();
    let e = match e {
        HandlerError::Ssh(e) => return *e,
        HandlerError::Russh(e) => e,
    };
    let closed = match &e {
        russh::Error::Disconnect | russh::Error::HUP => true,
        russh::Error::IO(io) => matches!(
            io.kind(),
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::UnexpectedEof
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::ConnectionAborted
        ),
        _ => false,
    };
    if closed && !seen_bytes {
        return SshError::Penalised {
            target,
            addr: fmt_addr(&t.host, t.port),
        };
    }
    match e {
        russh::Error::Version => SshError::Protocol {
            target,
            detail: format!(
                "{} did not answer with an SSH banner",
                fmt_addr(&t.host, t.port)
            ),
            hint: Some("check the port: something other than sshd listens there".into()),
        },
        russh::Error::NoCommonAlgo { kind, ours, theirs } => SshError::Protocol {
            target,
            detail: format!(
                "no common {kind:?} algorithm: we offer {}, the server offers {}",
                ours.join(","),
                theirs.join(",")
            ),
            hint: Some(
                "the server's sshd is configured with algorithms rampart does not implement".into(),
            ),
        },
        e if closed => SshError::Disconnected {
            target,
            detail: format!("closed during the handshake ({e})"),
        },
        russh::Error::IO(io) => SshError::Disconnected {
            target,
            detail: io.to_string(),
        },
        russh::Error::KeepaliveTimeout | russh::Error::InactivityTimeout => {
            SshError::Disconnected {
                target,
                detail: "the server stopped answering".into(),
            }
        }
        other => SshError::Protocol {
            target,
            detail: other.to_string(),
            hint: None,
        },
    }
}

/// The error type of our russh handler: russh's own, or a verdict of ours (host key).
#[derive(Debug)]
pub(crate) enum HandlerError {
    Russh(russh::Error),
    Ssh(Box<SshError>),
}

impl From<russh::Error> for HandlerError {
    fn from(e: russh::Error) -> Self {
        HandlerError::Russh(e)
    }
}

/// The russh callback object of one connection: checks the host key, ignores the rest.
pub(crate) struct ClientHandler {
    host: String,
    port: u16,
    known_hosts: Vec<PathBuf>,
    global_known_hosts: Vec<PathBuf>,
    policy: HostKeyPolicy,
    store: Arc<known_hosts::Store>,
    /// The fingerprint of the first key this handler accepted (the connection's host key).
    verified: Arc<std::sync::OnceLock<String>>,
}

impl Handler for ClientHandler {
    type Error = HandlerError;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => {
                self.store
                    .verify(
                        &self.known_hosts,
                        &self.global_known_hosts,
                        &self.host,
                        self.port,
                        key,
                        self.policy,
                    )
                    .map_err(|e| HandlerError::Ssh(Box::new(e)))?;
                let _ = self.verified.set(known_hosts::fingerprint(key));
                Ok(true)
            }
            // We never advertise certificate host key algorithms, so this is unexpected.
            PublicKeyOrCertificate::Certificate(_) => {
                Err(HandlerError::Ssh(Box::new(SshError::Protocol {
                    target: self.host.clone(),
                    detail: "the host presented a host certificate, which rampart does not verify"
                        .into(),
                    hint: None,
                })))
            }
        }
    }
}

/// A transport wrapper that notes whether the peer ever sent a byte, so a close before the
/// banner (OpenSSH penalties, MaxStartups) can be told from a close mid-handshake.
struct Watched<S> {
    inner: S,
    seen: Arc<AtomicBool>,
}

impl<S> Watched<S> {
    fn new(inner: S, seen: Arc<AtomicBool>) -> Self {
        Watched { inner, seen }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.seen.store(true, Ordering::Relaxed);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(alias: &str, jump: Vec<Target>) -> Target {
        Target {
            alias: alias.into(),
            host: alias.into(),
            jump,
            ..Target::default()
        }
    }

    #[test]
    fn jump_chains_flatten_first_hop_first() {
        let h1 = t("h1", vec![]);
        let h2 = t("h2", vec![h1]);
        let chain = flatten_jumps(&[h2, t("h3", vec![])]);
        let names: Vec<_> = chain.iter().map(|h| h.alias.as_str()).collect();
        assert_eq!(names, ["h1", "h2", "h3"]);
        assert!(chain.iter().all(|h| h.jump.is_empty()));
    }

    #[test]
    fn handles_can_be_shared_across_tasks() {
        fn shared<T: Send + Sync + Clone + 'static>() {}
        shared::<Connector>();
        shared::<Session>();
        shared::<SshError>();
    }

    #[test]
    fn addresses_bracket_ipv6() {
        assert_eq!(fmt_addr("::1", 22), "[::1]:22");
        assert_eq!(fmt_addr("10.0.0.1", 2222), "10.0.0.1:2222");
    }

    #[test]
    fn known_types_are_asked_for_first() {
        let dir = tempfile::tempdir().unwrap();
        let kh = dir.path().join("kh");
        std::fs::write(&kh, "[h]:2222 ecdsa-sha2-nistp256 AAAA\n").unwrap();
        let c = Connector::new(ClientOptions {
            use_agent: false,
            ..ClientOptions::default()
        });
        let target = Target {
            host: "h".into(),
            port: 2222,
            known_hosts: vec![kh],
            ..Target::default()
        };
        let cfg = c.client_config(&target);
        assert_eq!(cfg.preferred.key[0].as_str(), "ecdsa-sha2-nistp256");
        assert_eq!(cfg.preferred.kex[0].as_ref(), "curve25519-sha256");
    }
}
