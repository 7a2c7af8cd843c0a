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

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Knobs of a scan.
#[derive(Clone, Debug)]
pub struct ProbeOptions {
    /// Ports to try, in order.
    pub ports: Vec<u16>,
    /// Sockets in flight at once, over all hosts together.
    pub concurrency: usize,
    /// How long one connect may take before the port counts as filtered.
    pub timeout: Duration,
    /// How long an open port is given to send a banner.
    pub banner_timeout: Duration,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            ports: (1..=u16::MAX).collect(),
            concurrency: 1024,
            timeout: Duration::from_millis(300),
            banner_timeout: Duration::from_millis(800),
        }
    }
}

/// One host to scan.
#[derive(Clone, Debug)]
pub struct ProbeTarget {
    /// The inventory name.
    pub host: String,
    /// The inventory address (an IP or a DNS name, resolved once before the scan).
    pub address: String,
    /// Ports not to probe: the SSH port rampart is connected to (its session proves the port
    /// open, and a probe of it would only add a line to sshd's log).
    pub skip: Vec<u16>,
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
    /// Ports that did not answer within the timeout.
    pub filtered: usize,
    /// Ports left out on purpose ([`ProbeTarget::skip`]).
    pub skipped: Vec<u16>,
    /// Ports whose connect failed otherwise (host or network unreachable, ...).
    pub errors: usize,
    /// The first such error, for the report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// The scan could not run at all (the address did not resolve).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Seconds from the start of the whole scan to this host's first connect.
    pub start: f64,
    /// Seconds this host's scan took.
    pub seconds: f64,
}

impl HostScan {
    /// The ports scanned.
    pub fn scanned(&self) -> usize {
        self.open.len() + self.closed + self.filtered + self.errors
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
    let t0 = Instant::now();
    let sem = Arc::new(Semaphore::new(
        opts.concurrency.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let opts = Arc::new(opts);
    let mut set = JoinSet::new();
    let n = targets.len();
    for (i, t) in targets.iter().cloned().enumerate() {
        let sem = sem.clone();
        let opts = opts.clone();
        set.spawn(async move { (i, scan_host(t, sem, opts, t0).await) });
    }
    let mut out: Vec<Option<HostScan>> = vec![None; n];
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, r)) => {
                on_done(&r);
                out[i] = Some(r);
            }
            Err(e) => tracing::error!("a port probe task ended abnormally: {e}"),
        }
    }
    out.into_iter()
        .zip(targets)
        .map(|(r, t)| {
            r.unwrap_or_else(|| HostScan {
                host: t.host,
                error: Some("the port probe of this host ended abnormally (a bug)".into()),
                ..HostScan::default()
            })
        })
        .collect()
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

async fn scan_host(
    t: ProbeTarget,
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
    r.skipped = opts
        .ports
        .iter()
        .copied()
        .filter(|p| t.skip.contains(p))
        .collect();
    let started = Instant::now();
    r.start = started.duration_since(t0).as_secs_f64();
    let mut set: JoinSet<(u16, PortState)> = JoinSet::new();
    for &port in opts.ports.iter().filter(|p| !t.skip.contains(p)) {
        // The semaphore is never closed, so acquiring only fails if that changes: stop then.
        let Ok(permit) = sem.clone().acquire_owned().await else {
            break;
        };
        let opts = opts.clone();
        set.spawn(async move {
            let state = probe_port(SocketAddr::new(ip, port), &opts).await;
            drop(permit);
            (port, state)
        });
        // Drain what finished, so a 65535-port scan never holds 65535 results in the set.
        while let Some(done) = set.try_join_next() {
            if let Ok((p, s)) = done {
                record(&mut r, p, s);
            }
        }
    }
    while let Some(done) = set.join_next().await {
        match done {
            Ok((p, s)) => record(&mut r, p, s),
            Err(e) => record(&mut r, 0, PortState::Error(e.to_string())),
        }
    }
    r.open.sort_by_key(|o| o.port);
    r.seconds = started.elapsed().as_secs_f64();
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

async fn probe_port(addr: SocketAddr, opts: &ProbeOptions) -> PortState {
    let mut pause = Duration::from_millis(20);
    for _attempt in 0..8 {
        match tokio::time::timeout(opts.timeout, TcpStream::connect(addr)).await {
            Err(_) => return PortState::Filtered,
            Ok(Ok(stream)) => return PortState::Open(banner(stream, opts.banner_timeout).await),
            Ok(Err(e)) if e.kind() == ErrorKind::ConnectionRefused => return PortState::Closed,
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
            vec![ProbeTarget {
                host: "lo".into(),
                address: "127.0.0.1".into(),
                skip: vec![],
            }],
            ProbeOptions {
                ports,
                concurrency: 4,
                timeout: Duration::from_secs(2),
                banner_timeout: Duration::from_millis(300),
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
            vec![ProbeTarget {
                host: "lo".into(),
                address: "127.0.0.1".into(),
                skip: vec![port],
            }],
            ProbeOptions {
                ports: vec![port],
                timeout: Duration::from_secs(2),
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
}
