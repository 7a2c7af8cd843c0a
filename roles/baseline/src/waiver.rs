//! Waivers: a control (id or glob) the site decided not to apply, with a reason, an
//! approver and an expiry date.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::catalogue::Catalogue;

/// A calendar date (UTC), written `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year.
    pub y: u32,
    /// Month, 1-12.
    pub m: u32,
    /// Day, 1-31.
    pub d: u32,
}

impl Date {
    /// Parses `YYYY-MM-DD`, checking the calendar (2027-02-29 is refused).
    pub fn parse(s: &str) -> Result<Date, String> {
        let bad = || format!("invalid date `{s}`: write YYYY-MM-DD, like 2027-03-01");
        let parts: Vec<&str> = s.split('-').collect();
        let [y, m, d] = parts.as_slice() else {
            return Err(bad());
        };
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(bad());
        }
        let num = |t: &str| {
            t.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| t.parse::<u32>().ok())
                .flatten()
        };
        let (Some(y), Some(m), Some(d)) = (num(y), num(m), num(d)) else {
            return Err(bad());
        };
        if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
            return Err(format!("invalid date `{s}`: there is no such day"));
        }
        Ok(Date { y, m, d })
    }

    /// The date `days` days after 1970-01-01.
    pub fn from_unix_days(days: i64) -> Date {
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        Date {
            y: u32::try_from(y).unwrap_or(0),
            m: u32::try_from(m).unwrap_or(1),
            d: u32::try_from(d).unwrap_or(1),
        }
    }
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        _ => 31,
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.y, self.m, self.d)
    }
}

/// One waiver.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Waiver {
    /// A control id, or a glob (`*` matches any run of characters: `fs.*`).
    pub control: String,
    /// Why.
    pub reason: String,
    /// The last day it holds (`YYYY-MM-DD`); from the next day on it is expired.
    pub expires: String,
    /// Who approved it.
    pub by: String,
}

/// Whether `id` matches `pattern` (`*` any run of characters, everything else literal).
pub fn glob_match(pattern: &str, id: &str) -> bool {
    let (p, s) = (pattern.as_bytes(), id.as_bytes());
    let (mut pi, mut si) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while si < s.len() {
        if pi < p.len() && p[pi] != b'*' && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            pi += 1;
            mark = si;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

impl Waiver {
    /// Whether it covers a control.
    pub fn matches(&self, id: &str) -> bool {
        glob_match(&self.control, id)
    }

    /// Whether it no longer holds on `today` (it holds through its `expires` day).
    pub fn expired_on(&self, today: Date) -> bool {
        Date::parse(&self.expires).is_ok_and(|e| today > e)
    }

    /// Checks it against the catalogue: (the field at fault, the message).
    pub fn validate(&self, cat: &Catalogue) -> Result<(), (&'static str, String)> {
        if !cat.controls.iter().any(|c| self.matches(&c.id)) {
            let hint = cat
                .controls
                .iter()
                .map(|c| c.id.as_str())
                .min_by_key(|id| strsim_distance(id, &self.control))
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            return Err((
                "control",
                format!(
                    "no baseline control matches `{}`{hint}: `rampart baseline list` shows the ids",
                    self.control
                ),
            ));
        }
        if self.reason.trim().is_empty() {
            return Err(("reason", "a waiver needs a reason".into()));
        }
        if self.by.trim().is_empty() {
            return Err(("by", "a waiver needs `by`: who approved it".into()));
        }
        Date::parse(&self.expires).map_err(|m| ("expires", m))?;
        Ok(())
    }
}

/// Levenshtein distance, for "did you mean".
fn strsim_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
