//! Making sure the drop-ins are read first.
//!
//! sshd keeps the first value it reads for most keywords, and reads the files of an `Include`
//! where the `Include` line stands. Debian and Ubuntu put `Include
//! /etc/ssh/sshd_config.d/*.conf` at the top of sshd_config, so `00-rampart.conf` is read
//! before everything else. A main file without that line (older or hand-made images) would
//! never read the drop-in, and one with directives above it would let them win: in both cases
//! the role puts the `Include` before the first directive (and drops a now duplicate one
//! further down, outside `Match` blocks). The rest of the file stays as the host has it.

/// The drop-in directory's glob, as Debian writes it.
pub const INCLUDE_GLOB: &str = "/etc/ssh/sshd_config.d/*.conf";

/// The line the role inserts.
pub const INCLUDE_LINE: &str = "Include /etc/ssh/sshd_config.d/*.conf";

/// The keyword of a directive line, lower-case; `None` for blank lines and comments.
pub fn keyword(line: &str) -> Option<String> {
    let t = line.trim_start();
    if t.is_empty() || t.starts_with('#') {
        return None;
    }
    let end = t
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(t.len());
    Some(t[..end].to_ascii_lowercase())
}

/// The arguments of a directive line, quotes removed.
fn args(line: &str) -> Vec<String> {
    let t = line.trim_start();
    let end = t
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(t.len());
    t[end..]
        .trim_start_matches(|c: char| c.is_whitespace() || c == '=')
        .split_whitespace()
        .map(|a| a.trim_matches('"').to_owned())
        .collect()
}

fn is_dropin_glob(arg: &str) -> bool {
    // sshd resolves relative Include paths against /etc/ssh.
    arg == INCLUDE_GLOB || arg == "sshd_config.d/*.conf"
}

/// An `Include` that reads the drop-in directory (possibly among other paths).
fn includes_dropins(line: &str) -> bool {
    keyword(line).as_deref() == Some("include") && args(line).iter().any(|a| is_dropin_glob(a))
}

/// An `Include` of exactly the drop-in directory.
fn is_plain_dropin_include(line: &str) -> bool {
    keyword(line).as_deref() == Some("include")
        && matches!(args(line).as_slice(), [a] if is_dropin_glob(a))
}

/// The main file with the drop-ins included first, or `None` when it already is.
pub fn fixed(text: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let first = lines.iter().position(|l| keyword(l).is_some());
    if first.is_some_and(|i| includes_dropins(lines[i])) {
        return None;
    }
    let at = first.unwrap_or(lines.len());
    let mut out: Vec<&str> = lines[..at].to_vec();
    out.push(
        "# Added by rampart: the drop-ins are read first, so that sshd_config.d/00-rampart.conf",
    );
    out.push("# wins (sshd keeps the first value it reads for most keywords).");
    out.push(INCLUDE_LINE);
    let mut in_match = false;
    for l in &lines[at..] {
        in_match |= keyword(l).as_deref() == Some("match");
        if !in_match && is_plain_dropin_include(l) {
            continue;
        }
        out.push(l);
    }
    let mut s = out.join("\n");
    s.push('\n');
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN: &str = "\n# This is the sshd server system-wide configuration file.\n\nInclude /etc/ssh/sshd_config.d/*.conf\n\n#Port 22\nKbdInteractiveAuthentication no\nUsePAM yes\n";

    #[test]
    fn debian_and_ubuntu_files_are_left_alone() {
        assert_eq!(fixed(DEBIAN), None);
        assert_eq!(
            fixed("include=\"sshd_config.d/*.conf\"\nUsePAM yes\n"),
            None
        );
    }

    #[test]
    fn a_file_without_include_gets_it_before_the_first_directive() {
        let f = fixed("# comment\nUsePAM yes\nX11Forwarding yes\n").unwrap();
        assert_eq!(
            f,
            "# comment\n# Added by rampart: the drop-ins are read first, so that sshd_config.d/00-rampart.conf\n# wins (sshd keeps the first value it reads for most keywords).\nInclude /etc/ssh/sshd_config.d/*.conf\nUsePAM yes\nX11Forwarding yes\n"
        );
        assert_eq!(fixed(&f), None, "the fix is stable");
    }

    #[test]
    fn directives_above_the_include_are_moved_below_it() {
        let text = "PasswordAuthentication yes\nInclude /etc/ssh/sshd_config.d/*.conf\nUsePAM yes\nMatch User x\n  Include /etc/ssh/sshd_config.d/*.conf\n";
        let f = fixed(text).unwrap();
        let directives: Vec<String> = f.lines().filter_map(keyword).collect();
        assert_eq!(
            directives,
            [
                "include",
                "passwordauthentication",
                "usepam",
                "match",
                "include"
            ]
        );
        assert_eq!(fixed(&f), None);
    }

    #[test]
    fn an_empty_file_gets_only_the_include() {
        assert!(
            fixed("")
                .unwrap()
                .ends_with("Include /etc/ssh/sshd_config.d/*.conf\n")
        );
    }
}
