//! Ansible host ranges: `web[01:03]` is web01, web02, web03; `h[1:4]`, `db-[a:c]`,
//! `n[0:10:5]` (a stride), several ranges in one name multiply.
//!
//! A range that would make more than [`MAX_HOSTS`] names is refused, so a typo (or hostile
//! input) cannot exhaust memory.

/// The most names one host pattern may expand to.
pub(crate) const MAX_HOSTS: usize = 10_000;

/// Expands every `[start:end[:stride]]` range in a host name; a name without `[` is itself.
/// Errors are messages; the caller knows the location.
pub(crate) fn expand(name: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    expand_into(name, "", &mut out)?;
    Ok(out)
}

/// Splits `host:port` (`web[01:03]:2222` too: colons inside a range do not count); an IPv6
/// address, with several colons outside brackets, has no port.
pub(crate) fn split_port(word: &str) -> (&str, Option<&str>) {
    let mut depth = 0usize;
    let mut colons = Vec::new();
    for (i, c) in word.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ':' if depth == 0 => colons.push(i),
            _ => {}
        }
    }
    if let [i] = colons[..] {
        let p = &word[i + 1..];
        if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
            return (&word[..i], Some(p));
        }
    }
    (word, None)
}

fn expand_into(rest: &str, prefix: &str, out: &mut Vec<String>) -> Result<(), String> {
    let Some(open) = rest.find('[') else {
        if out.len() >= MAX_HOSTS {
            return Err(format!("host range expands to more than {MAX_HOSTS} hosts"));
        }
        out.push(format!("{prefix}{rest}"));
        return Ok(());
    };
    let Some(close_rel) = rest[open..].find(']') else {
        return Err(format!("`[` without `]` in host name `{prefix}{rest}`"));
    };
    let close = open + close_rel;
    let head = &rest[..open];
    let inner = &rest[open + 1..close];
    let tail = &rest[close + 1..];
    let items = range_items(inner)?;
    for item in items {
        expand_into(tail, &format!("{prefix}{head}{item}"), out)?;
    }
    Ok(())
}

fn range_items(inner: &str) -> Result<Vec<String>, String> {
    let parts: Vec<&str> = inner.split(':').map(str::trim).collect();
    let (start, end, stride) = match parts.as_slice() {
        [s, e] => (*s, *e, 1usize),
        [s, e, st] => match st.parse::<usize>() {
            Ok(n) if n > 0 => (*s, *e, n),
            _ => {
                return Err(format!(
                    "host range `[{inner}]` has a bad stride `{st}`; use a number above 0"
                ));
            }
        },
        _ => {
            return Err(format!(
                "`[{inner}]` is not a host range; write [start:end] or [start:end:stride]"
            ));
        }
    };
    if let (Ok(a), Ok(b)) = (start.parse::<u64>(), end.parse::<u64>()) {
        if start.is_empty()
            || !start.bytes().all(|c| c.is_ascii_digit())
            || !end.bytes().all(|c| c.is_ascii_digit())
        {
            return Err(format!("`[{inner}]` is not a host range"));
        }
        if b < a {
            return Err(format!("host range `[{inner}]` ends before it starts"));
        }
        let count = (b - a) / stride as u64 + 1;
        if count > MAX_HOSTS as u64 {
            return Err(format!(
                "host range `[{inner}]` expands to more than {MAX_HOSTS} hosts"
            ));
        }
        // Ansible pads to the width of the start when it has a leading zero.
        let width = if start.len() > 1 && start.starts_with('0') {
            start.len()
        } else {
            0
        };
        return Ok((a..=b)
            .step_by(stride)
            .map(|n| format!("{n:0width$}"))
            .collect());
    }
    let letter = |s: &str| {
        let mut cs = s.chars();
        match (cs.next(), cs.next()) {
            (Some(c), None) if c.is_ascii_alphabetic() => Some(c),
            _ => None,
        }
    };
    match (letter(start), letter(end)) {
        (Some(a), Some(b)) if a.is_ascii_lowercase() == b.is_ascii_lowercase() => {
            if b < a {
                return Err(format!("host range `[{inner}]` ends before it starts"));
            }
            Ok((a..=b).step_by(stride).map(String::from).collect())
        }
        _ => Err(format!(
            "`[{inner}]` is not a host range; use numbers ([01:20]) or letters of the same case ([a:f])"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<&[&str], &str>) {
        let got = expand(input);
        match expected {
            Ok(names) => assert_eq!(
                got,
                Ok(names.iter().map(|s| s.to_string()).collect()),
                "{input}"
            ),
            Err(e) => assert_eq!(got, Err(e.to_owned()), "{input}"),
        }
    }

    #[test]
    fn ports() {
        assert_eq!(split_port("h1:2222"), ("h1", Some("2222")));
        assert_eq!(split_port("web[01:03]:22"), ("web[01:03]", Some("22")));
        assert_eq!(split_port("web[01:03]"), ("web[01:03]", None));
        assert_eq!(split_port("fe80::1"), ("fe80::1", None));
        assert_eq!(split_port("h1:ssh"), ("h1:ssh", None));
    }

    #[test]
    fn ranges() {
        for (input, expected) in [
            ("h1", Ok(&["h1"][..])),
            ("web[01:03]", Ok(&["web01", "web02", "web03"][..])),
            ("h[1:4]", Ok(&["h1", "h2", "h3", "h4"][..])),
            (
                "h[8:11].lab",
                Ok(&["h8.lab", "h9.lab", "h10.lab", "h11.lab"][..]),
            ),
            ("n[0:10:5]", Ok(&["n0", "n5", "n10"][..])),
            ("db-[a:c]", Ok(&["db-a", "db-b", "db-c"][..])),
            ("r[1:2]h[a:b]", Ok(&["r1ha", "r1hb", "r2ha", "r2hb"][..])),
            ("h[3:1]", Err("host range `[3:1]` ends before it starts")),
            ("h[1:3", Err("`[` without `]` in host name `h[1:3`")),
            (
                "h[1]",
                Err("`[1]` is not a host range; write [start:end] or [start:end:stride]"),
            ),
            (
                "h[1:3:0]",
                Err("host range `[1:3:0]` has a bad stride `0`; use a number above 0"),
            ),
            (
                "h[a:3]",
                Err(
                    "`[a:3]` is not a host range; use numbers ([01:20]) or letters of the same case ([a:f])",
                ),
            ),
            (
                "h[0:99999999999]",
                Err("host range `[0:99999999999]` expands to more than 10000 hosts"),
            ),
            (
                "a[0:999]b[0:99]",
                Err("host range expands to more than 10000 hosts"),
            ),
        ] {
            check(input, expected);
        }
    }
}
