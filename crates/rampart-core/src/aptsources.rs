//! apt's sources as apt itself reads them, and the lists files `apt-get update` keeps for each.
//!
//! A host's lists may be a minute old and still miss a repository its sources name (a source
//! added after the last `apt-get update`): apt then cannot find that repository's packages.
//! The probe sends the source files (`/etc/apt/sources.list`, `sources.list.d/*.list` in the
//! one-line format, `sources.list.d/*.sources` in deb822) and the names of the lists files in
//! `/var/lib/apt/lists`; this module says which configured repositories have no lists.
//!
//! File names follow apt's `URItoFileName` (apt-pkg/contrib/strutl.cc): the URI without its
//! scheme and user info, every byte of `\|{}[]<>"^~_=!@#$%^&*`, `%`, controls and non-ASCII as
//! `%xx` (lower-case hex), then `/` as `_`. A repository with a `dists` tree keeps
//! `<URI>dists/<suite>/InRelease` (or `Release`) and `<URI>dists/<suite>/<component>/...`; a
//! flat one (the suite ends with `/`, no components) keeps `<URI><suite>Packages`. The unit
//! tests' expected names are what `apt-get indextargets` (apt 2.6) printed for the same lines.

use std::collections::BTreeSet;

/// One repository a source names: a URI and a suite (every component of it counts as one).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Repo {
    /// `deb` or `deb-src`.
    pub kind: String,
    /// The URI as written, with apt's trailing `/`.
    pub uri: String,
    /// The suite (`bookworm`, `./` for a flat repository).
    pub suite: String,
    /// The components (none for a flat repository).
    pub components: Vec<String>,
}

impl Repo {
    /// The repository as a source line names it (`deb file:/srv/lab-repo/ ./`), without the
    /// URI's user and password: it goes into plans and reports.
    pub fn label(&self) -> String {
        let uri = match self.uri.split_once("://") {
            Some((scheme, rest)) => {
                let end = rest.find('/').unwrap_or(rest.len());
                match rest[..end].rsplit_once('@') {
                    Some((_, host)) => format!("{scheme}://{host}{}", &rest[end..]),
                    None => self.uri.clone(),
                }
            }
            None => self.uri.clone(),
        };
        format!("{} {uri} {}", self.kind, self.suite)
    }

    fn flat(&self) -> bool {
        self.suite.ends_with('/')
    }

    /// The common start of the names of this repository's lists files; `None` when it cannot
    /// be known without the host's apt configuration (a `$(ARCH)` in the suite).
    pub fn lists_prefix(&self) -> Option<String> {
        if self.suite.contains("$(") || self.uri.contains("$(") {
            return None;
        }
        if self.flat() {
            // `deb uri /` is the URI's own directory.
            let suite = if self.suite == "/" { "" } else { &self.suite };
            Some(uri_to_file_name(&format!("{}{suite}", self.uri)))
        } else {
            Some(uri_to_file_name(&format!(
                "{}dists/{}/",
                self.uri, self.suite
            )))
        }
    }

    /// Whether `apt-get update` left lists for this repository among `lists` (file names in
    /// /var/lib/apt/lists). Unknowable names count as present: never refresh on a guess.
    pub fn indexed(&self, lists: &BTreeSet<String>) -> bool {
        let Some(prefix) = self.lists_prefix() else {
            return true;
        };
        let comps: Vec<String> = self
            .components
            .iter()
            .map(|c| format!("{}_", quote_name(c)))
            .collect();
        lists
            .range(prefix.clone()..)
            .take_while(|n| n.starts_with(&prefix))
            .any(|n| {
                let rest = &n[prefix.len()..];
                rest == "InRelease"
                    || rest == "Release"
                    || (self.flat()
                        && (rest.starts_with("Packages") || rest.starts_with("Sources")))
                    || comps.iter().any(|c| rest.starts_with(c.as_str()))
            })
    }
}

/// apt's `URItoFileName`: the name of the lists file of a URI.
pub fn uri_to_file_name(uri: &str) -> String {
    // The scheme (`http`, `file`, `mirror+file`, `cdrom`) goes.
    let rest = match uri.split_once(':') {
        Some((scheme, rest))
            if !scheme.is_empty()
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(&b)) =>
        {
            rest
        }
        _ => uri,
    };
    let (authority, path) = if let Some(r) = rest.strip_prefix("//") {
        r.split_at(r.find('/').unwrap_or(r.len()))
    } else if rest.starts_with('[') {
        // cdrom:[Label]/
        rest.split_at(rest.find(']').map_or(rest.len(), |i| i + 1))
    } else {
        ("", rest)
    };
    // User and password go; apt prints an IPv6 host without its brackets.
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host: String = host.chars().filter(|c| *c != '[' && *c != ']').collect();
    let mut s = host;
    if !path.is_empty() {
        if !path.starts_with('/') {
            s.push('/');
        }
        s.push_str(path);
    }
    quote_name(&s)
}

/// apt's `QuoteString` for file names, then `/` as `_`.
fn quote_name(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b == b'/' {
            out.push('_');
        } else if b <= 0x20 || b >= 0x7f || br#"\|{}[]<>"^~_=!@#$%^&*"#.contains(&b) {
            out.push_str(&format!("%{b:02x}"));
        } else {
            out.push(char::from(b));
        }
    }
    out
}

/// apt's one-line sources file.
pub const SOURCE_LIST: &str = "/etc/apt/sources.list";
/// apt's directory of sources files (with its trailing `/`).
pub const SOURCE_DIR: &str = "/etc/apt/sources.list.d/";

/// Whether apt reads its sources from this path: sources.list, or a file of sources.list.d
/// named as [`read_by_apt`] says.
pub fn is_source_path(path: &str) -> bool {
    path == SOURCE_LIST || path.strip_prefix(SOURCE_DIR).is_some_and(read_by_apt)
}

/// Whether apt reads a file of sources.list.d by this name: `*.list` or `*.sources`, made only
/// of letters, digits, `_`, `-` and `.` (apt silently skips every other name).
pub fn read_by_apt(name: &str) -> bool {
    (name.ends_with(".list") || name.ends_with(".sources"))
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

/// The repositories a source file names, by its path's format: deb822 for `*.sources`, the
/// one-line format otherwise. Lines or stanzas apt would refuse are left out.
pub fn parse(path: &str, text: &str) -> Vec<Repo> {
    if path.ends_with(".sources") {
        parse_deb822(text)
    } else {
        parse_one_line(text)
    }
}

/// `deb [opt=v ...] URI SUITE [COMPONENT...]` lines; `#` starts a comment anywhere.
pub fn parse_one_line(text: &str) -> Vec<Repo> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split_once('#').map_or(line, |(l, _)| l).trim();
        let Some((kind, rest)) = line.split_once(|c: char| c.is_ascii_whitespace()) else {
            continue;
        };
        if kind != "deb" && kind != "deb-src" {
            continue;
        }
        let mut rest = rest.trim_start();
        if let Some(opts) = rest.strip_prefix('[') {
            let Some(end) = opts.find(']') else {
                continue;
            };
            rest = &opts[end + 1..];
        }
        let mut words = words(rest).into_iter();
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            continue;
        };
        let components: Vec<String> = words.map(str::to_owned).collect();
        if let Some(r) = repo(kind, uri, suite, components) {
            out.push(r);
        }
    }
    out
}

/// Words split at white space, except inside `[...]` (a cdrom URI's label).
fn words(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = None;
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if c.is_ascii_whitespace() && depth == 0 {
            if let Some(s) = start.take() {
                out.push(&text[s..i]);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push(&text[s..]);
    }
    out
}

/// deb822 stanzas (`Types`, `URIs`, `Suites`, `Components`, `Enabled`), every combination of
/// type, URI and suite; `Enabled: no` stanzas are off.
pub fn parse_deb822(text: &str) -> Vec<Repo> {
    let mut out = Vec::new();
    let mut stanza: Vec<(String, String)> = Vec::new();
    for line in text.lines().chain(std::iter::once("")) {
        if line.starts_with('#') {
            continue;
        }
        if line.trim().is_empty() {
            if !stanza.is_empty() {
                out.extend(stanza_repos(&stanza));
                stanza.clear();
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            // A continuation line (a key block in Signed-By, a long URIs list).
            if let Some((_, v)) = stanza.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            stanza.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    out
}

fn stanza_repos(stanza: &[(String, String)]) -> Vec<Repo> {
    let field = |name: &str| {
        stanza
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let words = |name: &str| -> Vec<&str> {
        field(name)
            .map(|v| v.split_ascii_whitespace().collect())
            .unwrap_or_default()
    };
    let enabled = field("enabled").is_none_or(|v| {
        !matches!(
            v.to_ascii_lowercase().as_str(),
            "no" | "false" | "without" | "off" | "disable"
        )
    });
    if !enabled {
        return Vec::new();
    }
    let components: Vec<String> = words("components").into_iter().map(str::to_owned).collect();
    let mut out = Vec::new();
    for kind in words("types") {
        if kind != "deb" && kind != "deb-src" {
            continue;
        }
        for uri in words("uris") {
            for suite in words("suites") {
                if let Some(r) = repo(kind, uri, suite, components.clone()) {
                    out.push(r);
                }
            }
        }
    }
    out
}

/// A repository as apt accepts it: a suite ending in `/` has no components, any other suite
/// has at least one.
fn repo(kind: &str, uri: &str, suite: &str, components: Vec<String>) -> Option<Repo> {
    if suite.ends_with('/') != components.is_empty() {
        return None;
    }
    let mut uri = uri.to_owned();
    if !uri.ends_with('/') {
        uri.push('/');
    }
    Some(Repo {
        kind: kind.to_owned(),
        uri,
        suite: suite.to_owned(),
        components,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines of the fixture and, per repository, one lists file `apt-get indextargets
    /// --no-release-info` (apt 2.6.1, amd64) named for it.
    const LIST: &str = "# comment
deb http://deb.debian.org/debian bookworm main contrib
deb-src http://deb.debian.org/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] https://user:pw@download.example.com:8443/my_repo/linux/ bookworm-updates stable  # trailing
 deb [ trusted=yes ] file:/srv/lab-repo ./
#deb http://disabled.example/ x main
deb http://security.debian.org/debian-security bookworm-security/updates main
deb http://ftp.example/flat sub/dir/
deb [trusted=yes] file:///srv/three ./
deb http://[::1]:80/ubuntu noble main
deb cdrom:[Debian GNU/Linux 12 _Bookworm_]/ bookworm main
deb\thttp://h5/tab\tbookworm\tmain
deb http://Host.EXAMPLE/De~bi=an bookworm main
deb mirror+file:/etc/apt/mirrors.txt bookworm main
deb tor+http://x.onion/debian bookworm main
deb http://h2/b/ /
deb http://broken.example/ bookworm
deb [arch=amd64 http://unclosed.example/ bookworm main
";

    const DEB822: &str = "# A comment
Types: deb deb-src
URIs: https://download.docker.com/linux/debian http://mirror.example/docker
Suites: bookworm bookworm-backports
# a comment inside a stanza
Components: stable
  test
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mQINBFit2ioBEADhWpZ8/wvZ6hUTiXOwQHXMAlaFHcPH9hAtr4F1y2+OYdbtMuth
 -----END PGP PUBLIC KEY BLOCK-----

Types: deb
URIs: http://off.example/
Suites: x
Components: main
Enabled: no

types: deb
uris: http://flat.example/repo
suites: ./
trusted: yes
";

    fn names(repos: &[Repo]) -> Vec<(String, String)> {
        repos
            .iter()
            .map(|r| (r.label(), r.lists_prefix().unwrap_or_default()))
            .collect()
    }

    #[test]
    fn one_line_sources_map_to_apts_own_file_names() {
        let repos = parse("/etc/apt/sources.list", LIST);
        let got = names(&repos);
        let want = [
            (
                "deb http://deb.debian.org/debian/ bookworm",
                "deb.debian.org_debian_dists_bookworm_",
            ),
            (
                "deb-src http://deb.debian.org/debian/ bookworm",
                "deb.debian.org_debian_dists_bookworm_",
            ),
            (
                "deb https://download.example.com:8443/my_repo/linux/ bookworm-updates",
                "download.example.com:8443_my%5frepo_linux_dists_bookworm-updates_",
            ),
            ("deb file:/srv/lab-repo/ ./", "_srv_lab-repo_._"),
            (
                "deb http://security.debian.org/debian-security/ bookworm-security/updates",
                "security.debian.org_debian-security_dists_bookworm-security_updates_",
            ),
            (
                "deb http://ftp.example/flat/ sub/dir/",
                "ftp.example_flat_sub_dir_",
            ),
            ("deb file:///srv/three/ ./", "_srv_three_._"),
            (
                "deb http://[::1]:80/ubuntu/ noble",
                "::1:80_ubuntu_dists_noble_",
            ),
            (
                "deb cdrom:[Debian GNU/Linux 12 _Bookworm_]/ bookworm",
                "Debian%20GNU_Linux%2012%20%5fBookworm%5f_dists_bookworm_",
            ),
            ("deb http://h5/tab/ bookworm", "h5_tab_dists_bookworm_"),
            (
                "deb http://Host.EXAMPLE/De~bi=an/ bookworm",
                "Host.EXAMPLE_De%7ebi%3dan_dists_bookworm_",
            ),
            (
                "deb mirror+file:/etc/apt/mirrors.txt/ bookworm",
                "_etc_apt_mirrors.txt_dists_bookworm_",
            ),
            (
                "deb tor+http://x.onion/debian/ bookworm",
                "x.onion_debian_dists_bookworm_",
            ),
            ("deb http://h2/b/ /", "h2_b_"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(l, p)| ((*l).to_owned(), (*p).to_owned()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(repos[0].components, ["main", "contrib"]);
    }

    #[test]
    fn deb822_stanzas_multiply_out_and_disabled_ones_are_off() {
        let repos = parse("/etc/apt/sources.list.d/docker.sources", DEB822);
        let got = names(&repos);
        let mut want = Vec::new();
        for kind in ["deb", "deb-src"] {
            for (uri, p) in [
                (
                    "https://download.docker.com/linux/debian/",
                    "download.docker.com_linux_debian_dists_",
                ),
                (
                    "http://mirror.example/docker/",
                    "mirror.example_docker_dists_",
                ),
            ] {
                for suite in ["bookworm", "bookworm-backports"] {
                    want.push((format!("{kind} {uri} {suite}"), format!("{p}{suite}_")));
                }
            }
        }
        want.push((
            "deb http://flat.example/repo/ ./".into(),
            "flat.example_repo_._".into(),
        ));
        assert_eq!(got, want);
        assert_eq!(repos[0].components, ["stable", "test"]);
    }

    #[test]
    fn a_repository_is_indexed_by_its_release_or_a_component_list() {
        let lists = |names: &[&str]| {
            names
                .iter()
                .map(|n| (*n).to_owned())
                .collect::<BTreeSet<_>>()
        };
        let repos = parse("/etc/apt/sources.list", LIST);
        let debian = &repos[0];
        let lab = &repos[3];
        let security = &repos[4];
        assert!(debian.indexed(&lists(&["deb.debian.org_debian_dists_bookworm_InRelease"])));
        assert!(debian.indexed(&lists(&["deb.debian.org_debian_dists_bookworm_Release"])));
        assert!(debian.indexed(&lists(&[
            "deb.debian.org_debian_dists_bookworm_contrib_binary-amd64_Packages.lz4"
        ])));
        assert!(!debian.indexed(&lists(&[])));
        // Another suite's files do not count, even when its name starts the same way.
        assert!(!debian.indexed(&lists(&[
            "deb.debian.org_debian_dists_bookworm-updates_InRelease",
            "deb.debian.org_debian_dists_bookworm_updates_main_binary-amd64_Packages",
            "_srv_lab-repo_._Packages",
        ])));
        assert!(lab.indexed(&lists(&["_srv_lab-repo_._Packages"])));
        assert!(!lab.indexed(&lists(&["deb.debian.org_debian_dists_bookworm_InRelease"])));
        assert!(security.indexed(&lists(&[
            "security.debian.org_debian-security_dists_bookworm-security_updates_InRelease"
        ])));
        // A suite apt fills from its own configuration is never guessed at.
        let arch = parse_one_line("deb http://h/a $(ARCH)/\n");
        assert!(arch[0].indexed(&lists(&[])));
    }

    #[test]
    fn only_names_apt_reads_count() {
        for ok in ["docker.sources", "rampart-lab.list", "a_b.c.list"] {
            assert!(read_by_apt(ok), "{ok}");
        }
        for no in [
            "x.list.save",
            "x.list.dpkg-old",
            "we ird.list",
            "x~.list",
            "README",
        ] {
            assert!(!read_by_apt(no), "{no}");
        }
    }
}
