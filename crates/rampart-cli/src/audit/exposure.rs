//! What each host says could be reachable from outside, read in the audit's own probe round
//! trip, and what the external port probe makes of it.
//!
//! The host's side ([`SCRIPT`], read-only, builtins but for one `find` and `iptables-save`):
//! its listening TCP sockets and unconnected UDP sockets from `/proc/net/{tcp,tcp6,udp,udp6}`
//! with the process owning each (the socket inodes matched against `/proc/PID/fd`), the
//! nat table's DNAT rules (Docker's published ports) with the container names `docker ps`
//! gives for them, and the ports ufw's rule files allow. The probe tries those ports from
//! outside, besides 1-1024 and [`COMMON_PORTS`]; every open port is then explained (how it was
//! found, who owns it) or flagged as unexplained, and every listener the host reports is either
//! reachable or said not to be.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use rampart_core::facts::FactRequest;
use rampart_core::facts::{is_loopback, proc_addr};
use rampart_core::role::{Configured, HostContext, RoleError, RolePlan};
use rampart_engine::portprobe::{HostScan, Later, UdpState};
use serde::Serialize;

/// The fact id under which the host's side travels in the probe.
pub const FACT_ID: &str = "audit:exposure";

/// Ports the default probe tries besides 1-1024: databases, caches, dashboards, container and
/// cluster APIs, message brokers, remote desktops.
pub const COMMON_PORTS: &[u16] = &[
    1433, 1521, 2049, 2375, 2376, 2379, 2380, 3000, 3306, 3389, 4243, 5000, 5432, 5601, 5672, 5900,
    5984, 6379, 6443, 7001, 8000, 8008, 8080, 8081, 8086, 8088, 8443, 8888, 9000, 9042, 9090, 9092,
    9100, 9200, 9300, 10250, 11211, 15672, 27017, 50000,
];

/// The host's side: read-only, run as root with the audit's checks. Sockets bound to loopback
/// are left to the controller to drop (it parses the addresses).
pub const SCRIPT: &str = r#"cd / || exit 0; q=
for f in tcp tcp6 udp udp6; do
  [ -r /proc/net/$f ] || continue
  while read -r _ local _ st _ _ _ _ _ inode _; do
    case $f:$st in
      tcp*:0A|udp*:07) echo "sock $f $local $inode"; q="$q -o -lname socket:\\[$inode\\]" ;;
    esac
  done < /proc/net/$f
done
if [ -n "$q" ]; then
  owners=$(find /proc/[0-9]*/fd -maxdepth 1 \( -false $q \) -printf '%h %l\n' 2>/dev/null)
  while read -r d l; do
    [ -n "$d" ] || continue
    p=${d#/proc/}; p=${p%/fd}; c=
    read -r c 2>/dev/null < "/proc/$p/comm"
    echo "owner $p $l $c"
  done <<RAMPART_EXPOSURE
$owners
RAMPART_EXPOSURE
fi
if command -v iptables-save >/dev/null 2>&1; then
  nat=$(iptables-save -t nat 2>/dev/null)
  dnat=
  while read -r l; do
    case $l in *" -j DNAT "*) echo "nat $l"; dnat=1 ;; esac
  done <<RAMPART_EXPOSURE
$nat
RAMPART_EXPOSURE
  if [ -n "$dnat" ] && command -v docker >/dev/null 2>&1; then
    docker ps --format '{{.Names}} {{.Ports}}' 2>/dev/null | while read -r l; do echo "docker $l"; done
  fi
fi
if [ -r /etc/ufw/ufw.conf ]; then
  while read -r l; do case $l in ENABLED=*) echo "ufw $l" ;; esac; done < /etc/ufw/ufw.conf
  for f in /etc/ufw/user.rules /etc/ufw/user6.rules; do
    [ -r $f ] || continue
    while read -r l; do
      case $l in '### tuple ### allow '*|'### tuple ### limit '*) echo "ufwrule ${l#\#\#\# tuple \#\#\# }" ;; esac
    done < $f
  done
fi
exit 0
"#;

/// A listening socket the host reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Listener {
    /// "tcp" or "udp".
    pub proto: &'static str,
    /// The address it is bound to ("0.0.0.0", "::", "10.0.0.5").
    pub address: String,
    /// The port.
    pub port: u16,
    /// The owning process ("python3 (pid 812)"), when it was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// A port the nat table forwards (a published container port).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Forward {
    /// "tcp" or "udp".
    pub proto: &'static str,
    /// The host port.
    pub port: u16,
    /// Where it goes ("172.17.0.2:80").
    pub to: String,
    /// The container publishing it, when Docker names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

/// What one host says could be reachable.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HostExposure {
    /// Listening sockets not bound to loopback.
    pub listeners: Vec<Listener>,
    /// DNAT rules.
    pub forwards: Vec<Forward>,
    /// Whether ufw.conf says ENABLED=yes (`None`: no ufw).
    pub ufw_enabled: Option<bool>,
    /// Ports ufw's rules allow: (proto, port); proto "any" for both.
    pub ufw_allowed: Vec<(String, u16)>,
}

/// Ports of a ufw tuple's port field: `22`, `80,443`, `6000:6007` (ranges capped at 1024
/// ports, so a rule of `1:65535` does not turn the targeted probe into a full sweep).
fn ufw_ports(field: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for part in field.split(',') {
        match part.split_once(':') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) {
                    out.extend((a..=b).take(1024));
                }
            }
            None => out.extend(part.parse::<u16>().ok()),
        }
    }
    out.retain(|p| *p > 0);
    out
}

/// Parses the host's side.
pub fn parse(output: &str) -> HostExposure {
    let mut out = HostExposure::default();
    let mut by_inode: Vec<(String, Listener)> = Vec::new();
    let mut owners: HashMap<String, String> = HashMap::new();
    let mut containers: HashMap<(String, u16), String> = HashMap::new();
    for line in output.lines() {
        let mut w = line.split_whitespace();
        match w.next() {
            Some("sock") => {
                let (Some(f), Some(local), Some(inode)) = (w.next(), w.next(), w.next()) else {
                    continue;
                };
                let Some((address, port)) = proc_addr(local) else {
                    continue;
                };
                if is_loopback(&address) || port == 0 {
                    continue;
                }
                let proto = if f.starts_with("tcp") { "tcp" } else { "udp" };
                by_inode.push((
                    inode.to_owned(),
                    Listener {
                        proto,
                        address,
                        port,
                        owner: None,
                    },
                ));
            }
            Some("owner") => {
                let (Some(pid), Some(link)) = (w.next(), w.next()) else {
                    continue;
                };
                let comm: Vec<&str> = w.collect();
                let inode = link
                    .trim_start_matches("socket:[")
                    .trim_end_matches(']')
                    .to_owned();
                owners
                    .entry(inode)
                    .or_insert_with(|| format!("{} (pid {pid})", comm.join(" ")));
            }
            Some("nat") => {
                let words: Vec<&str> = w.collect();
                let after = |flag: &str| {
                    words
                        .iter()
                        .position(|x| *x == flag)
                        .and_then(|i| words.get(i + 1))
                        .copied()
                };
                let proto = match after("-p") {
                    Some("udp") => "udp",
                    _ => "tcp",
                };
                let (Some(port), Some(to)) = (
                    after("--dport").and_then(|p| p.parse::<u16>().ok()),
                    after("--to-destination"),
                ) else {
                    continue;
                };
                out.forwards.push(Forward {
                    proto,
                    port,
                    to: to.to_owned(),
                    container: None,
                });
            }
            Some("docker") => {
                // `NAME 0.0.0.0:80->80/tcp, :::80->80/tcp`
                let Some(name) = w.next() else { continue };
                for mapping in w {
                    let m = mapping.trim_end_matches(',');
                    let Some((host, inner)) = m.split_once("->") else {
                        continue;
                    };
                    let proto = if inner.ends_with("/udp") {
                        "udp"
                    } else {
                        "tcp"
                    };
                    if let Some(port) = host.rsplit(':').next().and_then(|p| p.parse().ok()) {
                        containers.insert((proto.to_owned(), port), name.to_owned());
                    }
                }
            }
            Some("ufw") => {
                out.ufw_enabled = Some(line.trim_end().ends_with("=yes"));
            }
            Some("ufwrule") => {
                // `allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in`
                let f: Vec<&str> = w.collect();
                if f.len() >= 7 && f[6] == "in" {
                    for p in ufw_ports(f[2]) {
                        out.ufw_allowed.push((f[1].to_owned(), p));
                    }
                }
            }
            _ => {}
        }
    }
    for (inode, mut l) in by_inode {
        l.owner = owners.get(&inode).cloned();
        if !out
            .listeners
            .iter()
            .any(|x| x.proto == l.proto && x.port == l.port && x.address == l.address)
        {
            out.listeners.push(l);
        }
    }
    for f in &mut out.forwards {
        f.container = containers.get(&(f.proto.to_owned(), f.port)).cloned();
    }
    out.listeners
        .sort_by(|a, b| (a.proto, a.port).cmp(&(b.proto, b.port)));
    out.forwards
        .sort_by(|a, b| (a.proto, a.port).cmp(&(b.proto, b.port)));
    out.forwards.dedup();
    out.ufw_allowed.sort();
    out.ufw_allowed.dedup();
    out
}

impl HostExposure {
    /// The ports the host says could be reachable, for the targeted probe.
    pub fn later(&self) -> Later {
        let mut tcp = BTreeSet::new();
        let mut udp = BTreeSet::new();
        for l in &self.listeners {
            if l.proto == "tcp" {
                tcp.insert(l.port);
            } else {
                udp.insert(l.port);
            }
        }
        for f in &self.forwards {
            if f.proto == "tcp" {
                tcp.insert(f.port);
            } else {
                udp.insert(f.port);
            }
        }
        for (proto, p) in &self.ufw_allowed {
            if proto != "udp" {
                tcp.insert(*p);
            }
        }
        Later {
            tcp: tcp.into_iter().collect(),
            udp: udp.into_iter().collect(),
        }
    }

    /// Why the probe tried a port (the host's side) and who owns it.
    pub fn explain(&self, proto: &str, port: u16) -> (Vec<String>, Option<String>) {
        let mut found = Vec::new();
        let mut owner = None;
        if let Some(f) = self
            .forwards
            .iter()
            .find(|f| f.proto == proto && f.port == port)
        {
            found.push(format!("forwarded by the nat table to {}", f.to));
            owner = Some(match &f.container {
                Some(c) => format!("container {c}"),
                None => format!("DNAT to {}", f.to),
            });
        }
        if let Some(l) = self
            .listeners
            .iter()
            .find(|l| l.proto == proto && l.port == port)
        {
            found.push(format!("listening on {}", l.address));
            if owner.is_none() {
                owner.clone_from(&l.owner);
            }
        }
        if self
            .ufw_allowed
            .iter()
            .any(|(p, x)| *x == port && (p == proto || p == "any"))
        {
            found.push("allowed by ufw".into());
        }
        (found, owner)
    }
}

/// Why the controller probed a port, besides what the host said.
pub fn list_source(port: u16, mode: &PortMode) -> Option<&'static str> {
    match mode {
        PortMode::All => Some("--ports all"),
        PortMode::List(_) => Some("--ports"),
        PortMode::Default if port <= 1024 => Some("well-known range 1-1024"),
        PortMode::Default if COMMON_PORTS.contains(&port) => Some("common service port"),
        PortMode::Default => None,
    }
}

/// Which TCP ports the probe tries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortMode {
    /// What the host says could be reachable, 1-1024 and [`COMMON_PORTS`].
    Default,
    /// Every port, 1-65535.
    All,
    /// Exactly these.
    List(Vec<u16>),
}

impl PortMode {
    /// Parses `--ports`: `default`, `all`, or a list (`22,80,8000-8100`).
    pub fn parse(spec: &str) -> Result<PortMode, String> {
        match spec.trim() {
            "default" => Ok(PortMode::Default),
            "all" => Ok(PortMode::All),
            list => rampart_engine::portprobe::parse_ports(list).map(PortMode::List),
        }
    }

    /// The TCP ports probed before the host's facts are in.
    pub fn first_ports(&self) -> Vec<u16> {
        match self {
            PortMode::Default => {
                let mut v: Vec<u16> = (1..=1024).chain(COMMON_PORTS.iter().copied()).collect();
                v.sort_unstable();
                v.dedup();
                v
            }
            PortMode::All => (1..=u16::MAX).collect(),
            PortMode::List(v) => v.clone(),
        }
    }

    /// What of the host's side is probed too: its TCP ports only for the default set (`all`
    /// has them already; a list is exactly what it names); its UDP sockets always.
    pub fn later(&self, e: &HostExposure) -> Later {
        let mut l = e.later();
        if *self != PortMode::Default {
            l.tcp.clear();
        }
        l
    }
}

/// One port as the report shows it: what the outside saw, and the host's account of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PortView {
    /// "tcp" or "udp".
    pub proto: &'static str,
    /// The port.
    pub port: u16,
    /// From the controller: "open", "filtered", "closed", "open|filtered", "not probed".
    pub outside: String,
    /// Why it was probed: the host's reasons and the port list's.
    pub found: Vec<String>,
    /// Who owns it on the host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Open from outside, and nothing on the host accounts for it.
    pub unexplained: bool,
}

/// Every open port, and every port the host says could be reachable, with both sides.
pub fn views(scan: &HostScan, host: Option<&HostExposure>, mode: &PortMode) -> Vec<PortView> {
    let empty = HostExposure::default();
    let e = host.unwrap_or(&empty);
    let mut out: BTreeMap<(&'static str, u16), PortView> = BTreeMap::new();
    let view = |proto: &'static str, port: u16, outside: String| {
        let (mut found, owner) = e.explain(proto, port);
        let explained = !found.is_empty();
        if proto == "tcp"
            && let Some(s) = list_source(port, mode)
        {
            found.push(s.to_owned());
        }
        PortView {
            proto,
            port,
            unexplained: host.is_some() && !explained && (outside == "open"),
            outside,
            found,
            owner,
        }
    };
    for o in &scan.open {
        out.insert(("tcp", o.port), view("tcp", o.port, "open".into()));
    }
    for u in &scan.udp {
        out.insert(
            ("udp", u.port),
            view("udp", u.port, u.state.as_str().into()),
        );
    }
    let probed_tcp = |p: u16| match mode {
        PortMode::All => true,
        PortMode::List(l) => l.contains(&p),
        PortMode::Default => true,
    };
    // The host's own candidates that the outside did not see open.
    let mut candidates: Vec<(&'static str, u16)> = Vec::new();
    for l in &e.listeners {
        candidates.push((l.proto, l.port));
    }
    for f in &e.forwards {
        candidates.push((f.proto, f.port));
    }
    for (proto, port) in candidates {
        if out.contains_key(&(proto, port)) || scan.skipped.contains(&port) && proto == "tcp" {
            continue;
        }
        let outside = if proto == "tcp" && probed_tcp(port) && scan.error.is_none() {
            "filtered or closed".to_owned()
        } else {
            "not probed".to_owned()
        };
        out.insert((proto, port), view(proto, port, outside));
    }
    out.into_values().collect()
}

/// Whether a UDP state means reachable.
pub fn udp_reachable(s: UdpState) -> bool {
    s == UdpState::Open
}

/// Where the hosts' sides land as the engine plans each host.
pub type Sink = Arc<Mutex<HashMap<String, HostExposure>>>;

/// The host's side travels to the engine as a role that plans nothing: its command joins the
/// host's one probe, and planning hands the parsed answer to the sink.
#[derive(Debug)]
pub struct ExposureFacts(pub Sink);

impl Configured for ExposureFacts {
    fn facts(&self, req: &mut FactRequest) {
        req.commands.insert(FACT_ID.into(), SCRIPT.into());
    }
    fn plan(&self, ctx: &HostContext<'_>) -> Result<RolePlan, RoleError> {
        if let Some(r) = ctx.facts.commands.get(FACT_ID)
            && let Ok(mut sink) = self.0.lock()
        {
            sink.insert(ctx.host.to_owned(), parse(&r.output));
        }
        Ok(RolePlan::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_engine::portprobe::{OpenPort, UdpPort};

    const SAMPLE: &str = "sock tcp 00000000:1F90 1001
sock tcp 0100007F:0CEA 1002
sock tcp 00000000:0016 1003
sock tcp6 00000000000000000000000000000000:0016 1004
sock tcp6 00000000000000000000000001000000:1538 1005
sock udp 00000000:270F 1006
sock tcp 00000000:0050 1007
owner 812 socket:[1001] python3
owner 90 socket:[1003] sshd
owner 90 socket:[1004] sshd
owner 1500 socket:[1006] python3
owner 1600 socket:[1007] docker-proxy
nat -A DOCKER ! -i docker0 -p tcp -m tcp --dport 80 -j DNAT --to-destination 172.17.0.2:80
docker web 0.0.0.0:80->80/tcp, :::80->80/tcp
ufw ENABLED=no
ufwrule allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in
ufwrule allow any 6000:6002 0.0.0.0/0 any 0.0.0.0/0 in
ufwrule allow tcp 9999 0.0.0.0/0 any 0.0.0.0/0 out
";

    #[test]
    fn parses_the_hosts_side_and_drops_loopback() {
        let e = parse(SAMPLE);
        let l: Vec<(&str, &str, u16, Option<&str>)> = e
            .listeners
            .iter()
            .map(|l| (l.proto, l.address.as_str(), l.port, l.owner.as_deref()))
            .collect();
        assert_eq!(
            l,
            [
                ("tcp", "0.0.0.0", 22, Some("sshd (pid 90)")),
                ("tcp", "::", 22, Some("sshd (pid 90)")),
                ("tcp", "0.0.0.0", 80, Some("docker-proxy (pid 1600)")),
                ("tcp", "0.0.0.0", 8080, Some("python3 (pid 812)")),
                ("udp", "0.0.0.0", 9999, Some("python3 (pid 1500)")),
            ]
        );
        assert_eq!(e.forwards.len(), 1);
        assert_eq!(e.forwards[0].container.as_deref(), Some("web"));
        assert_eq!(e.ufw_enabled, Some(false));
        assert_eq!(
            e.ufw_allowed,
            [
                ("any".to_owned(), 6000),
                ("any".to_owned(), 6001),
                ("any".to_owned(), 6002),
                ("tcp".to_owned(), 22)
            ]
        );
        let later = e.later();
        assert_eq!(later.tcp, [22, 80, 6000, 6001, 6002, 8080]);
        assert_eq!(later.udp, [9999]);
        assert_eq!(proc_addr("0100007F:0CEA"), Some(("127.0.0.1".into(), 3306)));
    }

    #[test]
    fn open_ports_are_explained_or_flagged() {
        let e = parse(SAMPLE);
        let scan = HostScan {
            open: vec![
                OpenPort {
                    port: 80,
                    banner: None,
                },
                OpenPort {
                    port: 8080,
                    banner: None,
                },
                OpenPort {
                    port: 4444,
                    banner: None,
                },
            ],
            udp: vec![UdpPort {
                port: 9999,
                state: UdpState::Open,
                payload: "empty",
            }],
            skipped: vec![22],
            ..HostScan::default()
        };
        let v = views(&scan, Some(&e), &PortMode::Default);
        let find = |proto: &str, p: u16| {
            v.iter()
                .find(|x| x.proto == proto && x.port == p)
                .expect("port")
        };
        assert_eq!(find("tcp", 80).owner.as_deref(), Some("container web"));
        assert!(find("tcp", 80).found[0].starts_with("forwarded"));
        assert!(
            find("tcp", 80)
                .found
                .contains(&"well-known range 1-1024".to_owned())
        );
        assert_eq!(
            find("tcp", 8080).owner.as_deref(),
            Some("python3 (pid 812)")
        );
        assert!(!find("tcp", 8080).unexplained);
        assert!(find("tcp", 4444).unexplained, "{v:?}");
        assert_eq!(find("udp", 9999).outside, "open");
        assert_eq!(
            find("udp", 9999).owner.as_deref(),
            Some("python3 (pid 1500)")
        );
        // A listener the outside did not see.
        let quiet = HostScan {
            skipped: vec![22],
            ..HostScan::default()
        };
        let v = views(&quiet, Some(&e), &PortMode::Default);
        let p = v.iter().find(|x| x.port == 8080).expect("8080");
        assert_eq!(p.outside, "filtered or closed");
        assert!(v.iter().all(|x| x.port != 22), "the SSH port is not probed");
    }

    #[test]
    fn port_modes() {
        assert_eq!(PortMode::parse("default"), Ok(PortMode::Default));
        assert_eq!(PortMode::parse("all"), Ok(PortMode::All));
        assert_eq!(PortMode::parse("22,80"), Ok(PortMode::List(vec![22, 80])));
        assert!(PortMode::parse("nope").is_err());
        let d = PortMode::Default.first_ports();
        assert_eq!(d.len(), 1024 + COMMON_PORTS.len());
        assert_eq!(PortMode::All.first_ports().len(), 65535);
        let e = parse(SAMPLE);
        assert!(PortMode::All.later(&e).tcp.is_empty());
        assert_eq!(PortMode::All.later(&e).udp, [9999]);
    }
}
