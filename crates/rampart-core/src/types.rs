//! Validated value types shared by inventories, site files and role configurations: [`Port`],
//! [`Cidr`] and [`CountOrPercent`].
//!
//! **Invariant:** a value of these types is always valid, so code holding one never re-checks
//! it. Every constructor (`FromStr`, `TryFrom`, serde) goes through the same validation and
//! fails with a [`ValueError`] whose message is fit to show the operator as-is.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A value that does not fit its type; the message names the value and the rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

// ---------------------------------------------------------------------------------------------
// Port

/// A TCP port, 1 to 65535.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Port(u16);

impl Port {
    /// The port number.
    pub fn get(self) -> u16 {
        self.0
    }

    /// Validates a port number of any integer width.
    pub fn new(n: i128) -> Result<Self, ValueError> {
        match u16::try_from(n) {
            Ok(p) if p != 0 => Ok(Port(p)),
            _ => Err(ValueError(format!(
                "invalid port {n}: ports are 1 to 65535"
            ))),
        }
    }
}

impl TryFrom<u64> for Port {
    type Error = ValueError;
    fn try_from(n: u64) -> Result<Self, ValueError> {
        Port::new(i128::from(n))
    }
}

impl TryFrom<i64> for Port {
    type Error = ValueError;
    fn try_from(n: i64) -> Result<Self, ValueError> {
        Port::new(i128::from(n))
    }
}

impl FromStr for Port {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        let t = s.trim();
        match t.parse::<i128>() {
            Ok(n) => Port::new(n),
            Err(_) => Err(ValueError(format!(
                "invalid port `{s}`: ports are numbers from 1 to 65535"
            ))),
        }
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<Port> for u16 {
    fn from(p: Port) -> u16 {
        p.0
    }
}

impl Serialize for Port {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(self.0)
    }
}

impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Port;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a port number from 1 to 65535")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Port, E> {
                Port::try_from(n).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Port, E> {
                Port::try_from(n).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Port, E> {
                s.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------------------------------------
// Cidr

/// An IPv4 or IPv6 address with an optional prefix length (`10.0.0.0/8`, `2001:db8::/32`,
/// `192.0.2.7`). Host bits may be set (`10.1.2.3/24`): firewalls accept that form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: Option<u8>,
}

impl Cidr {
    /// Validates an address and prefix.
    pub fn new(addr: IpAddr, prefix: Option<u8>) -> Result<Self, ValueError> {
        let max = max_prefix(addr);
        match prefix {
            Some(p) if p > max => Err(ValueError(format!(
                "invalid CIDR `{addr}/{p}`: prefix must be 0..={max}"
            ))),
            _ => Ok(Cidr { addr, prefix }),
        }
    }

    /// The address as written.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix as written, if any.
    pub fn prefix(&self) -> Option<u8> {
        self.prefix
    }

    /// The prefix length, a single address (32 or 128) when none was written.
    pub fn prefix_len(&self) -> u8 {
        self.prefix.unwrap_or(max_prefix(self.addr))
    }

    /// True when `ip` is inside this network (never across address families).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let len = u32::from(self.prefix_len());
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

fn max_prefix(addr: IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

impl FromStr for Cidr {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        let (addr_text, prefix_text) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr_text.parse().map_err(|_| {
            ValueError(format!(
                "invalid CIDR `{s}`: `{addr_text}` is not an IPv4 or IPv6 address"
            ))
        })?;
        let max = max_prefix(addr);
        let prefix = match prefix_text {
            None => None,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max && !p.starts_with('+') => Some(n),
                _ => {
                    return Err(ValueError(format!(
                        "invalid CIDR `{s}`: prefix must be 0..={max}"
                    )));
                }
            },
        };
        Cidr::new(addr, prefix)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefix {
            Some(p) => write!(f, "{}/{p}", self.addr),
            None => write!(f, "{}", self.addr),
        }
    }
}

impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------------
// CountOrPercent

/// A number of hosts, absolute (`3`) or relative to a total (`"10%"`), for `serial` and
/// `max_fail`. Percentages are 0 to 100.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CountOrPercent {
    /// That many hosts.
    Count(u64),
    /// That share of the hosts, 0 to 100.
    Percent(u8),
}

impl CountOrPercent {
    /// How many hosts out of `total`, rounding down (as Ansible does for `serial`).
    pub fn of(self, total: usize) -> usize {
        match self {
            CountOrPercent::Count(n) => usize::try_from(n).unwrap_or(usize::MAX),
            CountOrPercent::Percent(p) => total.saturating_mul(usize::from(p)) / 100,
        }
    }

    /// True for `0` and `"0%"`.
    pub fn is_zero(self) -> bool {
        matches!(self, CountOrPercent::Count(0) | CountOrPercent::Percent(0))
    }
}

impl FromStr for CountOrPercent {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        let t = s.trim();
        if let Some(p) = t.strip_suffix('%') {
            return match p.trim().parse::<u8>() {
                Ok(n) if n <= 100 => Ok(CountOrPercent::Percent(n)),
                _ => Err(ValueError(format!(
                    "invalid percentage `{s}`: use 0% to 100%"
                ))),
            };
        }
        t.parse::<u64>().map(CountOrPercent::Count).map_err(|_| {
            ValueError(format!(
                "invalid amount `{s}`: use a host count like 2 or a percentage like \"10%\""
            ))
        })
    }
}

impl fmt::Display for CountOrPercent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CountOrPercent::Count(n) => write!(f, "{n}"),
            CountOrPercent::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl Serialize for CountOrPercent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            CountOrPercent::Count(n) => s.serialize_u64(*n),
            CountOrPercent::Percent(_) => s.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for CountOrPercent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = CountOrPercent;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a host count or a percentage like \"10%\"")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<CountOrPercent, E> {
                u64::try_from(n)
                    .map(CountOrPercent::Count)
                    .map_err(|_| E::custom(format!("invalid amount {n}: counts are 0 or more")))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<CountOrPercent, E> {
                Ok(CountOrPercent::Count(n))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<CountOrPercent, E> {
                s.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check<T: FromStr<Err = ValueError> + fmt::Display>(
        input: &str,
        expected: Result<&str, &str>,
    ) {
        let got = input.parse::<T>().map(|v| v.to_string()).map_err(|e| e.0);
        assert_eq!(
            got.as_deref().map_err(String::as_str),
            expected,
            "input {input:?}"
        );
    }

    #[test]
    fn ports() {
        for (input, expected) in [
            ("22", Ok("22")),
            (" 2222 ", Ok("2222")),
            ("65535", Ok("65535")),
            ("0", Err("invalid port 0: ports are 1 to 65535")),
            ("70000", Err("invalid port 70000: ports are 1 to 65535")),
            ("-1", Err("invalid port -1: ports are 1 to 65535")),
            (
                "ssh",
                Err("invalid port `ssh`: ports are numbers from 1 to 65535"),
            ),
        ] {
            check::<Port>(input, expected);
        }
    }

    #[test]
    fn port_serde_from_int_or_string() {
        assert_eq!(
            serde_json::from_value::<Port>(serde_json::json!(22))
                .unwrap()
                .get(),
            22
        );
        assert_eq!(
            serde_json::from_value::<Port>(serde_json::json!("2222"))
                .unwrap()
                .get(),
            2222
        );
        let err = serde_json::from_value::<Port>(serde_json::json!(0)).unwrap_err();
        assert!(
            err.to_string()
                .contains("invalid port 0: ports are 1 to 65535"),
            "{err}"
        );
        assert_eq!(
            serde_json::to_value(Port::new(22).unwrap()).unwrap(),
            serde_json::json!(22)
        );
    }

    #[test]
    fn cidrs() {
        for (input, expected) in [
            ("10.0.0.0/8", Ok("10.0.0.0/8")),
            ("192.0.2.7", Ok("192.0.2.7")),
            ("0.0.0.0/0", Ok("0.0.0.0/0")),
            ("2001:db8::/32", Ok("2001:db8::/32")),
            ("::1", Ok("::1")),
            (
                "10.0.0.0/33",
                Err("invalid CIDR `10.0.0.0/33`: prefix must be 0..=32"),
            ),
            (
                "2001:db8::/129",
                Err("invalid CIDR `2001:db8::/129`: prefix must be 0..=128"),
            ),
            (
                "10.0.0.0/",
                Err("invalid CIDR `10.0.0.0/`: prefix must be 0..=32"),
            ),
            (
                "10.0.0.0/+8",
                Err("invalid CIDR `10.0.0.0/+8`: prefix must be 0..=32"),
            ),
            (
                "10.0.0/8",
                Err("invalid CIDR `10.0.0/8`: `10.0.0` is not an IPv4 or IPv6 address"),
            ),
            (
                "",
                Err("invalid CIDR ``: `` is not an IPv4 or IPv6 address"),
            ),
        ] {
            check::<Cidr>(input, expected);
        }
    }

    #[test]
    fn cidr_contains() {
        let net: Cidr = "10.213.0.0/16".parse().unwrap();
        assert!(net.contains("10.213.4.2".parse().unwrap()));
        assert!(!net.contains("10.214.0.1".parse().unwrap()));
        assert!(!net.contains("::1".parse().unwrap()));
        let any: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(any.contains("1.2.3.4".parse().unwrap()));
        let one: Cidr = "2001:db8::1".parse().unwrap();
        assert!(one.contains("2001:db8::1".parse().unwrap()));
        assert!(!one.contains("2001:db8::2".parse().unwrap()));
    }

    #[test]
    fn cidr_serde_round_trips_as_string() {
        let c: Cidr = serde_json::from_value(serde_json::json!("10.0.0.0/8")).unwrap();
        assert_eq!(
            serde_json::to_value(c).unwrap(),
            serde_json::json!("10.0.0.0/8")
        );
        assert!(serde_json::from_value::<Cidr>(serde_json::json!("10.0.0.0/33")).is_err());
    }

    #[test]
    fn counts_and_percents() {
        for (input, expected) in [
            ("3", Ok("3")),
            ("0", Ok("0")),
            ("10%", Ok("10%")),
            ("100%", Ok("100%")),
            ("101%", Err("invalid percentage `101%`: use 0% to 100%")),
            ("x%", Err("invalid percentage `x%`: use 0% to 100%")),
            (
                "-1",
                Err("invalid amount `-1`: use a host count like 2 or a percentage like \"10%\""),
            ),
        ] {
            check::<CountOrPercent>(input, expected);
        }
        assert_eq!(CountOrPercent::Percent(10).of(25), 2);
        assert_eq!(CountOrPercent::Percent(100).of(7), 7);
        assert_eq!(CountOrPercent::Count(5).of(2), 5);
        let v: CountOrPercent = serde_json::from_value(serde_json::json!("50%")).unwrap();
        assert_eq!(v, CountOrPercent::Percent(50));
        let v: CountOrPercent = serde_json::from_value(serde_json::json!(2)).unwrap();
        assert_eq!(v, CountOrPercent::Count(2));
        assert!(serde_json::from_value::<CountOrPercent>(serde_json::json!(-2)).is_err());
    }
}
