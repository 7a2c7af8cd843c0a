//! The external port probe: a TCP connect scan of each host from the controller, the way the
//! seeds ask for `nmap -p-` "from another machine". It finds what the Internet would find,
//! whatever the host itself claims, so a listener behind a firewall that was disabled by hand
//! shows up here even when every on-host control passes.
//!
//! **Scope:** only the addresses the caller passes (the inventory's), only TCP, only full
//! connects (no raw sockets, so no root is needed on the controller). One semaphore caps the
//! sockets in flight across *all* hosts, so a 64-host fleet does not exhaust the controller's
//! file descriptors; each connect has its own timeout.
//!
//! A port is *open* when the connect completes, *closed* when the host answers with a reset, and
//! *filtered* when nothing answers within the timeout (a firewall that drops). Open ports are
//! asked for a banner; an SSH server is sent an identification string before the socket closes,
//! because a bare connect-and-close makes sshd log `kex_exchange_identification` errors that
//! fail2ban's aggressive mode counts against the controller.

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;

/// How long a probe waits for an answer: from the measured round-trip time, within bounds.
///
/// Like nmap's adaptive timing: each answer (a SYN-ACK or a reset) is a round-trip sample,
/// smoothed as TCP does (RFC 6298); the timeout is `srtt + 4 * rttvar`, never below `floor`
/// nor above `ceiling`. Before the first answer the estimate is the host's hint (its SSH
/// connection time, a few round trips), or `initial` without one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timing {
    /// A fixed timeout instead of the measured one (`--probe-timeout`).
    pub fixed: Option<Duration>,
    /// The shortest timeout, whatever the measurements say.
    pub floor: Duration,
    /// The longest timeout.
    pub ceiling: Duration,
    /// The timeout before anything was measured.
    pub initial: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            fixed: None,
            floor: Duration::from_millis(100),
            ceiling: Duration::from_secs(2),
            initial: Duration::from_secs(1),
        }
    }
}

/// One host's round-trip estimate (seconds).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rtt {
    /// Smoothed round-trip time.
    pub srtt: f64,
    /// Its variation.
    pub rttvar: f64,
    /// Answers measured so far (0: `srtt` is the hint, or nothing).
    pub samples: u32,
    /// Whether `srtt` holds a hint or a sample at all.
    pub known: bool,
}

impl Rtt {
    /// The estimate from a hint: the time an SSH login took, which is about four round trips
    /// (TCP, key exchange, authentication, channel) plus the crypto, so an upper bound.
    pub fn from_hint(hint: Option<Duration>) -> Rtt {
        match hint {
            Some(h) => {
                let rtt = h.as_secs_f64() / 4.0;
                Rtt {
                    srtt: rtt,
                    rttvar: rtt / 2.0,
                    samples: 0,
                    known: true,
                }
            }
            None => Rtt::default(),
        }
    }

    /// The estimate a host's scan starts from: its handshake time when measured (a real round
    /// trip), else the hint.
    pub fn first_estimate(hint: Option<Duration>, sample: Option<Duration>) -> Rtt {
        let mut rtt = Rtt::from_hint(hint);
        if let Some(d) = sample {
            rtt.sample(d);
        }
        rtt
    }

    /// Takes one measured round trip into account (RFC 6298's smoothing; the first sample
    /// replaces the hint).
    pub fn sample(&mut self, r: Duration) {
        let r = r.as_secs_f64();
        if self.samples == 0 {
            self.srtt = r;
            self.rttvar = r / 2.0;
        } else {
            self.rttvar = 0.75 * self.rttvar + 0.25 * (self.srtt - r).abs();
            self.srtt = 0.875 * self.srtt + 0.125 * r;
        }
        self.samples += 1;
        self.known = true;
    }

    /// The timeout for the next probe.
    pub fn timeout(&self, t: &Timing) -> Duration {
        if let Some(f) = t.fixed {
            return f;
        }
        if !self.known {
            return t.initial.clamp(t.floor, t.ceiling);
        }
        let secs = self.srtt + 4.0 * self.rttvar;
        Duration::from_secs_f64(secs.max(0.0)).clamp(t.floor, t.ceiling)
    }
}

/// Knobs of a scan.
#[derive(Clone, Debug)]
pub struct ProbeOptions {
    /// TCP ports to try on a target that names none of its own, in order.
    pub ports: Vec<u16>,
    /// Sockets in flight at once, over all hosts together.
    pub concurrency: usize,
    /// How long a probe waits for an answer.
    pub timing: Timing,
    /// How long an open port is given to send a banner.
    pub banner_timeout: Duration,
    /// Probe the ports that timed out once more (with the timeout of that moment).
    pub retry: bool,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            ports: (1..=u16::MAX).collect(),
            concurrency: 1024,
            timing: Timing::default(),
            banner_timeout: Duration::from_millis(800),
            retry: true,
        }
    }
}

/// What a host says about itself once its facts are in: more ports to probe from outside.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Later {
    /// TCP ports (listening sockets, forwarded ports, ports the firewall allows).
    pub tcp: Vec<u16>,
    /// UDP ports (listening sockets, forwarded ports).
    pub udp: Vec<u16>,
}

/// One host to scan.
#[derive(Debug)]
pub struct ProbeTarget {
    /// The inventory name.
    pub host: String,
    /// The inventory address (an IP or a DNS name, resolved once before the scan).
    pub address: String,
    /// Ports not to probe: the SSH port rampart is connected to (its session proves the port
    /// open, and a probe of it would only add a line to sshd's log).
    pub skip: Vec<u16>,
    /// The TCP ports to probe first; `None`: [`ProbeOptions::ports`].
    pub ports: Option<Vec<u16>>,
    /// The host's SSH login time, as a first round-trip estimate ([`Rtt::from_hint`]).
    pub rtt_hint: Option<Duration>,
    /// A measured round trip: the TCP handshake of the host's SSH connection. It replaces the
    /// hint, so a host whose firewall answers no probe (every port filtered, the hardened
    /// case) still gets timeouts from its real distance instead of from its login time.
    pub rtt_sample: Option<Duration>,
    /// More ports, known later (when the host's facts are in); probed after the first ones.
    pub later: Option<oneshot::Receiver<Later>>,
}

impl ProbeTarget {
    /// A target with the default ports and nothing more to come.
    pub fn new(host: &str, address: &str, skip: Vec<u16>) -> ProbeTarget {
        ProbeTarget {
            host: host.into(),
            address: address.into(),
            skip,
            ports: None,
            rtt_hint: None,
            rtt_sample: None,
            later: None,
        }
    }
}

/// An open port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OpenPort {
    /// The port number.
    pub port: u16,
    /// The first line the service sent by itself, printable ASCII, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub banner: Option<String>,
}

/// What a UDP probe of one port saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UdpState {
    /// The service answered.
    Open,
    /// The host answered "port unreachable".
    Closed,
    /// Nothing came back: a firewall drops it, or the service ignores the probe (UDP cannot
    /// tell these apart).
    #[serde(rename = "open|filtered")]
    OpenFiltered,
    /// The probe could not be sent.
    Error,
}

impl UdpState {
    /// As nmap spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            UdpState::Open => "open",
            UdpState::Closed => "closed",
            UdpState::OpenFiltered => "open|filtered",
            UdpState::Error => "error",
        }
    }
}

/// A probed UDP port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UdpPort {
    /// The port number.
    pub port: u16,
    /// What came back.
    pub state: UdpState,
    /// The protocol the probe spoke ("dns", "ntp", "wireguard", "empty").
    pub payload: &'static str,
}

/// What a scan found on one host.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HostScan {
    /// The inventory name.
    pub host: String,
    /// The IP address scanned.
    pub ip: String,
    /// Ports that accepted a connection, ascending.
    pub open: Vec<OpenPort>,
    /// Ports that answered with a reset.
    pub closed: usize,
    /// Ports that did not answer within the timeout (twice, with a retry).
    pub filtered: usize,
    /// Ports probed a second time because the first probe timed out.
    pub retried: usize,
    /// Ports left out on purpose ([`ProbeTarget::skip`]).
    pub skipped: Vec<u16>,
    /// Ports whose connect failed otherwise (host or network unreachable, ...).
    pub errors: usize,
    /// The first such error, for the report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// UDP ports probed, ascending.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub udp: Vec<UdpPort>,
    /// The scan could not run at all (the address did not resolve).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The smoothed round-trip time measured (milliseconds), if any answer came back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// The timeout the first probes used at the end (milliseconds).
    pub timeout_ms: f64,
    /// Seconds from the start of the whole scan to this host's first connect.
    pub start: f64,
    /// Seconds this host's scan took.
    pub seconds: f64,
}

impl HostScan {
    /// The TCP ports scanned.
    pub fn scanned(&self) -> usize {
        self.open.len() + self.closed + self.filtered + self.errors
    }

    /// Adds what another round over other ports of the same host found.
    fn absorb(&mut self, o: HostScan) {
        self.open.extend(o.open);
        self.closed += o.closed;
        self.filtered += o.filtered;
        self.retried += o.retried;
        for p in o.skipped {
            if !self.skipped.contains(&p) {
                self.skipped.push(p);
            }
        }
        self.errors += o.errors;
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
    }
}

/// Parses a port list: `22`, `1-1024`, `22,80,8000-8100`. Ports are 1..=65535; the result is
/// sorted and without duplicates.
pub fn parse_ports(spec: &str) -> Result<Vec<u16>, String> {
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let port = |s: &str| -> Result<u16, String> {
            match s.trim().parse::<u16>() {
                Ok(0) | Err(_) => Err(format!(
                    "`{s}` is not a port (1-65535) in the port list `{spec}`"
                )),
                Ok(p) => Ok(p),
            }
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (port(a)?, port(b)?);
                if a > b {
                    return Err(format!("the range `{part}` is backwards in `{spec}`"));
                }
                out.extend(a..=b);
            }
            None => out.push(port(part)?),
        }
    }
    if out.is_empty() {
        return Err(format!("the port list `{spec}` names no port"));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Raises this process's open-file soft limit as far as the hard limit allows (macOS refuses
/// more than `OPEN_MAX` whatever the hard limit says, so a refused raise is retried at 10240).
/// Returns the soft limit in force afterwards, or `None` where there is no such limit.
pub fn raise_nofile_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let cur = getrlimit(Resource::Nofile);
        let soft = cur.current;
        let hard = cur.maximum;
        let want = hard.unwrap_or(u64::MAX);
        if soft.is_some_and(|s| s < want) {
            for target in [want, 10_240.min(want)] {
                if soft.is_some_and(|s| s >= target) {
                    break;
                }
                let raised = Rlimit {
                    current: Some(target),
                    maximum: hard,
                };
                if setrlimit(Resource::Nofile, raised).is_ok() {
                    break;
                }
            }
        }
        getrlimit(Resource::Nofile).current.or(Some(u64::MAX))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Sockets the probe keeps in flight, from the open-file limit: what is left after `reserve`
/// descriptors (the SSH connections, the reports, the runtime), at most 8192, at least 16.
/// At 32 hosts the default probe's two rounds are ~68,000 connects, most of them waiting out
/// a timeout on a filtered port: 8192 in flight made the audit 1-3 s shorter than 4096 did
/// (BENCHMARKS.md), for ~1 KiB of the controller's memory a socket; 16384 saved no more.
pub fn sockets_for(limit: Option<u64>, reserve: u64) -> usize {
    const MAX: u64 = 8192;
    let free = limit.map_or(MAX, |l| l.saturating_sub(reserve));
    usize::try_from(free.clamp(16, MAX)).unwrap_or(16)
}

enum PortState {
    Open(Option<String>),
    Closed,
    Filtered,
    Error(String),
}

/// Called with each host's result as soon as its scan ends (for progress output).
pub type OnDone = Box<dyn Fn(&HostScan) + Send + Sync>;

/// Scans every target, all at once, with at most `opts.concurrency` sockets in flight in total.
/// Returns one result per target, in the targets' order.
pub async fn scan(targets: Vec<ProbeTarget>, opts: ProbeOptions) -> Vec<HostScan> {
    scan_with(targets, opts, Box::new(|_| {})).await
}

/// [`scan`], telling `on_done` about each host as it finishes.
pub async fn scan_with(
    targets: Vec<ProbeTarget>,
    opts: ProbeOptions,
    on_done: OnDone,
) -> Vec<HostScan> {
    let names: Vec<String> = targets.iter().map(|t| t.host.clone()).collect();
    let (tx, rx) = mpsc::unbounded_channel();
    for t in targets {
        let _ = tx.send(t);
    }
    drop(tx);
    let mut got = scan_stream(rx, opts, on_done).await;
    names
        .into_iter()
        .map(|n| match got.iter().position(|s| s.host == n) {
            Some(i) => got.swap_remove(i),
            None => HostScan {
                host: n,
                error: Some("the port probe of this host ended abnormally (a bug)".into()),
                ..HostScan::default()
            },
        })
        .collect()
}

/// Scans targets as they arrive (a host is probed as soon as the caller knows enough about it),
/// until the channel closes and every scan ended. One semaphore caps the sockets in flight over
/// all of them. Results come in the order the scans ended.
pub async fn scan_stream(
    mut targets: mpsc::UnboundedReceiver<ProbeTarget>,
    opts: ProbeOptions,
    on_done: OnDone,
) -> Vec<HostScan> {
    let t0 = Instant::now();
    let sem = Arc::new(Semaphore::new(
        opts.concurrency.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let opts = Arc::new(opts);
    let mut set: JoinSet<HostScan> = JoinSet::new();
    let mut out = Vec::new();
    let mut open = true;
    while open || !set.is_empty() {
        tokio::select! {
            t = targets.recv(), if open => match t {
                Some(t) => {
                    set.spawn(scan_host(t, sem.clone(), opts.clone(), t0));
                }
                None => open = false,
            },
            Some(joined) = set.join_next(), if !set.is_empty() => match joined {
                Ok(r) => {
                    on_done(&r);
                    out.push(r);
                }
                Err(e) => tracing::error!("a port probe task ended abnormally: {e}"),
            },
        }
    }
    out
}

/// Resolves an inventory address to the one IP the scan uses (the first the resolver gives,
/// IPv4 preferred, like most SSH clients end up dialling).
async fn resolve(address: &str) -> Result<IpAddr, String> {
    let bare = address.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(ip);
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare, 0))
        .await
        .map_err(|e| format!("cannot resolve `{address}`: {e}"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .map(SocketAddr::ip)
        .ok_or_else(|| format!("`{address}` resolves to no address"))
}

/// One host's probing context, shared by its port tasks.
struct HostCtx {
    ip: IpAddr,
    sem: Arc<Semaphore>,
    opts: Arc<ProbeOptions>,
    rtt: Mutex<Rtt>,
}

impl HostCtx {
    fn timeout(&self) -> Duration {
        self.rtt
            .lock()
            .map_or(self.opts.timing.initial, |r| r.timeout(&self.opts.timing))
    }
    fn sample(&self, d: Duration) {
        if let Ok(mut r) = self.rtt.lock() {
            r.sample(d);
        }
    }
}

async fn scan_host(
    mut t: ProbeTarget,
    sem: Arc<Semaphore>,
    opts: Arc<ProbeOptions>,
    t0: Instant,
) -> HostScan {
    let mut r = HostScan {
        host: t.host.clone(),
        ..HostScan::default()
    };
    let ip = match resolve(&t.address).await {
        Ok(ip) => ip,
        Err(e) => {
            r.error = Some(e);
            return r;
        }
    };
    r.ip = ip.to_string();
    let started = Instant::now();
    r.start = started.duration_since(t0).as_secs_f64();
    let ctx = Arc::new(HostCtx {
        ip,
        sem,
        rtt: Mutex::new(Rtt::first_estimate(t.rtt_hint, t.rtt_sample)),
        opts: opts.clone(),
    });
    let first = t.ports.take().unwrap_or_else(|| opts.ports.clone());
    let first_set: BTreeSet<u16> = first.iter().copied().collect();
    let later = t.later.take();
    // What the host says comes while its first ports are still out: its own ports go out
    // beside them, not after them, so its facts add no wait of their own to the scan's tail.
    let more = async {
        let Some(later) = later else {
            return (HostScan::default(), Vec::new());
        };
        // The sender is dropped when the host has nothing more to say (it was unreachable).
        let more = later.await.unwrap_or_default();
        let mut udp = more.udp;
        udp.sort_unstable();
        udp.dedup();
        let tcp: Vec<u16> = more
            .tcp
            .into_iter()
            .filter(|p| !first_set.contains(p))
            .collect();
        // TCP and UDP together too: the tail is the longer of the two (UDP's waits).
        tokio::join!(tcp_round(&ctx, &t.skip, tcp), udp_round(&ctx, udp))
    };
    let (a, (b, udp)) = tokio::join!(tcp_round(&ctx, &t.skip, first), more);
    r.absorb(a);
    r.absorb(b);
    r.udp = udp;
    r.open.sort_by_key(|o| o.port);
    let rtt = ctx.rtt.lock().map(|x| *x).unwrap_or_default();
    r.rtt_ms = (rtt.samples > 0).then_some(rtt.srtt * 1000.0);
    r.timeout_ms = ctx.timeout().as_secs_f64() * 1000.0;
    r.seconds = started.elapsed().as_secs_f64();
    r
}

/// Probes `ports` (but the skipped ones, and each port once): each port that times out is
/// probed once more at once, so no port waits for the others' first answers before its second
/// try. The second try waits what the first did, as nmap's retransmissions do: the estimate
/// already allows four times the round trip's variation and at least 100 ms, against the lab's
/// real round trip of 0.1 ms; twice that made every filtered port hold its socket 50 % longer
/// (a third more of a hardened fleet's probe) for an answer that would come in one round trip.
async fn tcp_round(ctx: &Arc<HostCtx>, skip: &[u16], ports: Vec<u16>) -> HostScan {
    let mut r = HostScan::default();
    let mut todo = Vec::new();
    let mut seen = BTreeSet::new();
    for p in ports {
        if skip.contains(&p) {
            if !r.skipped.contains(&p) {
                r.skipped.push(p);
            }
        } else if seen.insert(p) {
            todo.push(p);
        }
    }
    let mut set: JoinSet<(u16, PortState, bool)> = JoinSet::new();
    let take = |(port, state, retried): (u16, PortState, bool), r: &mut HostScan| {
        r.retried += usize::from(retried);
        record(r, port, state);
    };
    for port in todo {
        // The semaphore is never closed, so acquiring only fails if that changes: stop then.
        let Ok(permit) = ctx.sem.clone().acquire_owned().await else {
            break;
        };
        let ctx2 = ctx.clone();
        set.spawn(async move {
            let addr = SocketAddr::new(ctx2.ip, port);
            let mut state = probe_port(&ctx2, addr, ctx2.timeout()).await;
            let retried = ctx2.opts.retry && matches!(state, PortState::Filtered);
            if retried {
                state = probe_port(&ctx2, addr, ctx2.timeout()).await;
            }
            drop(permit);
            (port, state, retried)
        });
        // Drain what finished, so a 65535-port scan never holds 65535 results in the set.
        while let Some(done) = set.try_join_next() {
            if let Ok(d) = done {
                take(d, &mut r);
            }
        }
    }
    while let Some(done) = set.join_next().await {
        match done {
            Ok(d) => take(d, &mut r),
            Err(e) => record(&mut r, 0, PortState::Error(e.to_string())),
        }
    }
    r
}

fn record(r: &mut HostScan, port: u16, state: PortState) {
    match state {
        PortState::Open(banner) => r.open.push(OpenPort { port, banner }),
        PortState::Closed => r.closed += 1,
        PortState::Filtered => r.filtered += 1,
        PortState::Error(e) => {
            r.errors += 1;
            r.first_error.get_or_insert(format!("port {port}: {e}"));
        }
    }
}

/// True for errors that say the controller ran out of something, not that the port is shut:
/// those are retried after a pause instead of being counted.
fn is_local_exhaustion(e: &std::io::Error) -> bool {
    // ENFILE and EMFILE are 23 and 24 on Linux and macOS alike; EADDRNOTAVAIL (ephemeral ports
    // used up) has its own ErrorKind; ENOBUFS is 105 on Linux.
    matches!(e.raw_os_error(), Some(23 | 24 | 105))
        || e.kind() == ErrorKind::AddrNotAvailable
        || e.to_string().contains("Too many open files")
}

async fn probe_port(ctx: &HostCtx, addr: SocketAddr, wait: Duration) -> PortState {
    let mut pause = Duration::from_millis(20);
    for _attempt in 0..8 {
        let sent = Instant::now();
        match tokio::time::timeout(wait, TcpStream::connect(addr)).await {
            Err(_) => return PortState::Filtered,
            Ok(Ok(stream)) => {
                ctx.sample(sent.elapsed());
                // Boxed: only open ports read a banner, and its buffer would otherwise sit in
                // every probe in flight (thousands of them) for nothing.
                return PortState::Open(Box::pin(banner(stream, ctx.opts.banner_timeout)).await);
            }
            Ok(Err(e)) if e.kind() == ErrorKind::ConnectionRefused => {
                ctx.sample(sent.elapsed());
                return PortState::Closed;
            }
            Ok(Err(e)) if is_local_exhaustion(&e) => {
                tracing::debug!(%addr, error = %e, "controller out of sockets; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(500));
            }
            Ok(Err(e)) => return PortState::Error(e.to_string()),
        }
    }
    PortState::Error("the controller ran out of sockets (lower --probe-concurrency)".into())
}

/// Reads what an open port says by itself. An SSH server gets an identification string back
/// before the close, so it logs an ordinary disconnect instead of a protocol error.
async fn banner(mut stream: TcpStream, wait: Duration) -> Option<String> {
    let mut buf = [0u8; 256];
    let n = match tokio::time::timeout(wait, stream.read(&mut buf)).await {
        Ok(Ok(n)) if n > 0 => n,
        _ => return None,
    };
    let text = &buf[..n];
    if text.starts_with(b"SSH-") {
        let _ = stream.write_all(b"SSH-2.0-rampart_probe\r\n").await;
        let _ = stream.shutdown().await;
    }
    let line: String = text
        .split(|b| *b == b'\n' || *b == b'\r')
        .next()
        .unwrap_or_default()
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            }
        })
        .take(80)
        .collect();
    (!line.is_empty()).then_some(line)
}

/// The datagram a UDP probe sends to a port, and the protocol's name: a question the service
/// answers where one is known (a DNS query for the root's NS records, an NTP client request),
/// a WireGuard handshake initiation (WireGuard answers only peers that know its key, so
/// silence is all an outsider gets), else an empty line.
pub fn udp_payload(port: u16) -> (&'static str, Vec<u8>) {
    match port {
        53 | 5353 | 5355 => (
            "dns",
            vec![
                0x72, 0x70, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                0x02, 0x00, 0x01,
            ],
        ),
        123 => {
            let mut p = vec![0u8; 48];
            p[0] = 0x23; // LI 0, version 4, mode 3 (client)
            ("ntp", p)
        }
        51820 | 41641 => {
            let mut p = vec![0u8; 148];
            p[0] = 1; // handshake initiation
            ("wireguard", p)
        }
        _ => ("empty", b"\n".to_vec()),
    }
}

async fn udp_round(ctx: &Arc<HostCtx>, ports: Vec<u16>) -> Vec<UdpPort> {
    let mut set: JoinSet<UdpPort> = JoinSet::new();
    for port in ports {
        let Ok(permit) = ctx.sem.clone().acquire_owned().await else {
            break;
        };
        let ctx = ctx.clone();
        set.spawn(async move {
            let (payload, bytes) = udp_payload(port);
            // UDP services may take longer than a handshake: twice the TCP timeout, then once
            // more with four times.
            let mut state = UdpState::OpenFiltered;
            for factor in [2, 4] {
                let wait = (ctx.timeout() * factor).max(Duration::from_millis(200));
                state = udp_probe(SocketAddr::new(ctx.ip, port), &bytes, wait).await;
                if state != UdpState::OpenFiltered {
                    break;
                }
            }
            drop(permit);
            UdpPort {
                port,
                state,
                payload,
            }
        });
    }
    let mut out = Vec::new();
    while let Some(done) = set.join_next().await {
        if let Ok(p) = done {
            out.push(p);
        }
    }
    out.sort_by_key(|p| p.port);
    out
}

async fn udp_probe(addr: SocketAddr, payload: &[u8], wait: Duration) -> UdpState {
    let local: SocketAddr = match addr {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let Ok(sock) = UdpSocket::bind(local).await else {
        return UdpState::Error;
    };
    if sock.connect(addr).await.is_err() {
        return UdpState::Error;
    }
    match sock.send(payload).await {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => return UdpState::Closed,
        Err(_) => return UdpState::Error,
    }
    let mut buf = [0u8; 512];
    match tokio::time::timeout(wait, sock.recv(&mut buf)).await {
        Err(_) => UdpState::OpenFiltered,
        Ok(Ok(_)) => UdpState::Open,
        // A connected UDP socket reports the host's ICMP port unreachable as a refusal.
        Ok(Err(e)) if e.kind() == ErrorKind::ConnectionRefused => UdpState::Closed,
        Ok(Err(_)) => UdpState::Error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[test]
    fn parses_port_lists() {
        assert_eq!(parse_ports("22"), Ok(vec![22]));
        assert_eq!(parse_ports("80, 22,22,20-21"), Ok(vec![20, 21, 22, 80]));
        assert_eq!(parse_ports("1-65535").map(|p| p.len()), Ok(65535));
        assert!(parse_ports("0").is_err());
        assert!(parse_ports("70000").is_err());
        assert!(parse_ports("9-3").is_err());
        assert!(parse_ports(",").is_err());
        assert!(parse_ports("ssh").is_err());
    }

    /// Listeners on loopback: one silent (like an HTTP server), one that speaks SSH first and
    /// records what the probe answers. The scan of a range around them finds exactly them.
    #[tokio::test]
    async fn finds_open_ports_on_loopback_and_greets_ssh() {
        let silent = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let ssh = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let (p1, p2) = (
            silent.local_addr().expect("addr").port(),
            ssh.local_addr().expect("addr").port(),
        );
        let greeted = tokio::spawn(async move {
            let (mut s, _) = ssh.accept().await.expect("accept");
            s.write_all(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
                .await
                .expect("write");
            let mut got = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut got)).await;
            String::from_utf8_lossy(&got).into_owned()
        });
        let keep = tokio::spawn(async move {
            // Accept and hold, saying nothing.
            let _c = silent.accept().await;
            tokio::time::sleep(Duration::from_secs(3)).await;
        });
        // A small closed neighbourhood around both ports, plus the ports themselves.
        let mut ports: Vec<u16> = vec![p1, p2];
        for p in [p1, p2] {
            ports.extend((p.saturating_sub(3)..=p.saturating_add(3)).filter(|x| *x > 0));
        }
        ports.sort_unstable();
        ports.dedup();
        let n = ports.len();
        let res = scan(
            vec![ProbeTarget::new("lo", "127.0.0.1", vec![])],
            ProbeOptions {
                ports,
                concurrency: 4,
                timing: Timing {
                    fixed: Some(Duration::from_secs(2)),
                    ..Timing::default()
                },
                banner_timeout: Duration::from_millis(300),
                retry: true,
            },
        )
        .await;
        let r = &res[0];
        assert_eq!(r.error, None);
        assert_eq!(r.scanned(), n);
        let open: Vec<u16> = r.open.iter().map(|o| o.port).collect();
        let mut want = vec![p1, p2];
        want.sort_unstable();
        assert_eq!(open, want, "{r:?}");
        let ssh_port = r.open.iter().find(|o| o.port == p2).expect("ssh port");
        assert_eq!(
            ssh_port.banner.as_deref(),
            Some("SSH-2.0-OpenSSH_9.2p1 Debian-2")
        );
        let http_port = r.open.iter().find(|o| o.port == p1).expect("silent port");
        assert_eq!(http_port.banner, None);
        assert_eq!(r.closed, n - 2);
        let answer = greeted.await.expect("join");
        assert!(answer.starts_with("SSH-2.0-rampart_probe"), "{answer:?}");
        keep.abort();
    }

    #[tokio::test]
    async fn skipped_ports_are_not_touched() {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = l.local_addr().expect("addr").port();
        let res = scan(
            vec![ProbeTarget::new("lo", "127.0.0.1", vec![port])],
            ProbeOptions {
                ports: vec![port],
                ..ProbeOptions::default()
            },
        )
        .await;
        assert_eq!(res[0].scanned(), 0);
        assert_eq!(res[0].skipped, [port]);
        // Nothing connected: the listener has no pending connection.
        let pending = tokio::time::timeout(Duration::from_millis(200), l.accept()).await;
        assert!(pending.is_err(), "the skipped port was connected to");
    }

    #[tokio::test]
    async fn literal_addresses_resolve_without_dns() {
        assert_eq!(resolve("127.0.0.1").await, Ok(IpAddr::from([127, 0, 0, 1])));
        assert_eq!(
            resolve("[::1]").await,
            Ok("::1".parse::<IpAddr>().expect("ip"))
        );
    }

    #[test]
    fn timeouts_follow_the_measured_round_trip_within_bounds() {
        let t = Timing::default();
        // Nothing known: the initial timeout.
        assert_eq!(Rtt::default().timeout(&t), Duration::from_secs(1));
        // A 40 ms SSH login: 10 ms a round trip, 5 ms variation: 30 ms, raised to the floor.
        let hinted = Rtt::from_hint(Some(Duration::from_millis(40)));
        assert_eq!(hinted.timeout(&t), t.floor);
        // A 2 s login over a satellite link: 0.5 s + 4 * 0.25 s = 1.5 s.
        let slow = Rtt::from_hint(Some(Duration::from_secs(2)));
        assert_eq!(slow.timeout(&t), Duration::from_millis(1500));
        // An 8 s login: capped.
        let worse = Rtt::from_hint(Some(Duration::from_secs(8)));
        assert_eq!(worse.timeout(&t), t.ceiling);
        // The first answer replaces the hint; steady answers shrink the variation.
        let mut r = Rtt::from_hint(Some(Duration::from_secs(2)));
        r.sample(Duration::from_millis(200));
        assert_eq!(r.samples, 1);
        assert!((r.srtt - 0.2).abs() < 1e-9 && (r.rttvar - 0.1).abs() < 1e-9);
        assert_eq!(r.timeout(&t), Duration::from_millis(600));
        for _ in 0..50 {
            r.sample(Duration::from_millis(200));
        }
        let steady = r.timeout(&t);
        assert!(
            steady >= Duration::from_millis(200) && steady < Duration::from_millis(210),
            "{steady:?}"
        );
        // A fixed timeout wins over everything.
        let fixed = Timing {
            fixed: Some(Duration::from_millis(300)),
            ..t
        };
        assert_eq!(r.timeout(&fixed), Duration::from_millis(300));
    }

    #[test]
    fn a_measured_handshake_wins_over_the_login_time() {
        let t = Timing::default();
        // A 2.4 s login on a loaded controller (32 logins at once) would make every filtered
        // port wait 1.8 s; the handshake says the host is 0.2 ms away: the floor.
        let login = Some(Duration::from_millis(2400));
        assert_eq!(
            Rtt::first_estimate(login, None).timeout(&t),
            Duration::from_millis(1800)
        );
        let near = Rtt::first_estimate(login, Some(Duration::from_micros(200)));
        assert_eq!(near.timeout(&t), t.floor);
        assert_eq!(near.samples, 1);
        // A distant host: three round trips.
        let far = Rtt::first_estimate(login, Some(Duration::from_millis(80)));
        assert_eq!(far.timeout(&t), Duration::from_millis(240));
    }

    #[test]
    fn socket_budget_comes_from_the_file_limit() {
        assert_eq!(sockets_for(Some(20_000), 200), 8192);
        assert_eq!(sockets_for(Some(1024), 200), 824);
        assert_eq!(sockets_for(Some(100), 200), 16);
        assert_eq!(sockets_for(None, 200), 8192);
        let raised = raise_nofile_limit();
        if cfg!(unix) {
            assert!(raised.is_some_and(|l| l >= 16));
        }
    }

    #[test]
    fn udp_payloads_speak_the_protocol() {
        assert_eq!(udp_payload(53).0, "dns");
        assert_eq!(udp_payload(53).1.len(), 17);
        let (name, ntp) = udp_payload(123);
        assert_eq!((name, ntp.len(), ntp[0] & 0x07), ("ntp", 48, 3));
        assert_eq!(udp_payload(51820).0, "wireguard");
        assert_eq!(udp_payload(9999).0, "empty");
    }

    /// A closed and a silent port time out / refuse, an echoing one answers: open, closed and
    /// open|filtered are told apart on loopback. Ports that come later are probed after the
    /// first ones, and the RTT of the answers is measured.
    #[tokio::test]
    async fn later_ports_and_udp_are_probed() {
        let echo = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let silent = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let closed = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let (pe, ps, pc) = (
            echo.local_addr().expect("a").port(),
            silent.local_addr().expect("a").port(),
            closed.local_addr().expect("a").port(),
        );
        drop(closed);
        let answer = tokio::spawn(async move {
            let mut buf = [0u8; 64];
            for _ in 0..2 {
                if let Ok((n, from)) = echo.recv_from(&mut buf).await {
                    let _ = echo.send_to(&buf[..n], from).await;
                }
            }
        });
        let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let pt = tcp.local_addr().expect("a").port();
        let (tx, rx) = oneshot::channel();
        let mut target = ProbeTarget::new("lo", "127.0.0.1", vec![]);
        target.ports = Some(vec![]);
        target.later = Some(rx);
        let scanning = tokio::spawn(scan(
            vec![target],
            ProbeOptions {
                timing: Timing {
                    floor: Duration::from_millis(100),
                    ..Timing::default()
                },
                ..ProbeOptions::default()
            },
        ));
        tx.send(Later {
            tcp: vec![pt],
            udp: vec![pe, ps, pc],
        })
        .expect("send");
        let r = scanning.await.expect("join").remove(0);
        assert_eq!(r.open.iter().map(|o| o.port).collect::<Vec<_>>(), [pt]);
        let state = |p: u16| r.udp.iter().find(|u| u.port == p).map(|u| u.state);
        assert_eq!(state(pe), Some(UdpState::Open), "{r:?}");
        assert_eq!(state(ps), Some(UdpState::OpenFiltered), "{r:?}");
        assert_eq!(state(pc), Some(UdpState::Closed), "{r:?}");
        assert!(r.rtt_ms.is_some());
        answer.abort();
        drop(silent);
    }
}
