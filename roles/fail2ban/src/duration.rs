//! fail2ban's time values ("600", "10m", "1h30m", "1d", "-1" for forever), checked before they
//! reach jail.local and turned into the seconds `fail2ban-client get` prints.

/// Seconds in a fail2ban duration, or why it is not one.
pub fn seconds(value: &str) -> Result<i64, &'static str> {
    const HELP: &str = "a fail2ban duration is a number of seconds or numbers with units s, m, h, d, w (\"10m\", \"1h30m\"), or -1 for forever";
    let v = value.trim();
    if v == "-1" {
        return Ok(-1);
    }
    if v.is_empty() {
        return Err(HELP);
    }
    let mut total: i64 = 0;
    let mut num = String::new();
    for c in v.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(HELP),
        };
        let n: i64 = num.parse().map_err(|_| HELP)?;
        total = n
            .checked_mul(unit)
            .and_then(|x| total.checked_add(x))
            .ok_or(HELP)?;
        num.clear();
    }
    if !num.is_empty() {
        let n: i64 = num.parse().map_err(|_| HELP)?;
        total = total.checked_add(n).ok_or(HELP)?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::seconds;

    #[test]
    fn parses_what_the_seed_and_fail2ban_use() {
        assert_eq!(seconds("1h"), Ok(3600));
        assert_eq!(seconds("10m"), Ok(600));
        assert_eq!(seconds("24h"), Ok(86_400));
        assert_eq!(seconds("1h30m"), Ok(5400));
        assert_eq!(seconds("600"), Ok(600));
        assert_eq!(seconds("-1"), Ok(-1));
        for bad in ["", "1x", "h", "1 h\nbantime = 0", "10mm"] {
            assert!(seconds(bad).is_err(), "{bad:?}");
        }
    }
}
