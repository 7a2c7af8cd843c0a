#!/bin/bash
# repo.sh [SUITE] — build (once, cached) the lab's flat offline apt repository of a suite
# (bookworm, the default, or trixie) in $RAMPART_LAB_CACHE/repo-SUITE (default
# /var/cache/rampart-lab): packages the hosts lack (docker.io, busybox-static, plus
# $LAB_REPO_PKGS), with every dependency the suite's lab root does not already have. Hosts
# bind-mount their suite's repository read-only at /srv/lab-repo and get
# `deb [trusted=yes] file:/srv/lab-repo ./`; the hosts have no network, so this is how they
# install anything.
#
# How: a private apt (its own sources for the suite, from this machine's configured Debian mirror,
# its own lists) resolves against the lab root's dpkg status instead of this machine's, and
# downloads into the repository directory; dpkg-scanpackages (dpkg-dev) writes the index. Nothing
# of this machine's apt state is read or written. The cache is keyed by the package list.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

[ "${1:-}" = -h ] || [ "${1:-}" = --help ] && { echo "usage: ${0##*/} [bookworm|trixie]   (env LAB_REPO_PKGS='extra packages')"; exit 0; }
SUITE=${1:-bookworm}
lab_check_suite "$SUITE"
ROOTFS=$(lab_rootfs "$SUITE")
LAB_REPO_DIR=$(lab_repo_dir "$SUITE")
# The baseline (roles/baseline) installs auditd, aide, apparmor, pwquality, process accounting,
# sysstat and timesyncd; lynis is the independent measure of what it leaves on a host.
BASELINE_PKGS="auditd aide aide-common apparmor apparmor-utils libpam-pwquality acct sysstat systemd-timesyncd rsyslog lynis debsums libpam-tmpdir apt-show-versions needrestart rkhunter"
read -ra pkgs <<<"docker.io busybox-static $BASELINE_PKGS ${LAB_REPO_PKGS:-}"
# From Debian 13 the docker client is its own package (docker.io only recommends it).
[ "$SUITE" = bookworm ] || pkgs+=(docker-cli)
list=$(printf '%s\n' "${pkgs[@]}" | sort -u | tr '\n' ' ')
stamp=$LAB_REPO_DIR/.rampart-repo
ready() { [ -s "$LAB_REPO_DIR/Packages" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$list" ]; }
if ready; then echo "repo $SUITE ready at $LAB_REPO_DIR ($(find "$LAB_REPO_DIR" -name '*.deb' | wc -l) packages, cached)"; exit 0; fi

[ "$(id -u)" = 0 ] || lab_die "must run as root (apt-get)"
command -v dpkg-scanpackages >/dev/null || lab_die "dpkg-scanpackages missing: apt-get install dpkg-dev"
[ -e "$ROOTFS/.lab-customised" ] || "$HERE/build-rootfs.sh" "$SUITE"
lab_lock "$LAB_CACHE/locks/repo-$SUITE" -x
ready && { echo "repo $SUITE ready at $LAB_REPO_DIR (built meanwhile)"; exit 0; }

t0=$(lab_now)
tmp=$LAB_REPO_DIR.partial
apt=$LAB_CACHE/apt-$SUITE
rm -rf "$tmp"; mkdir -p "$tmp/partial" "$apt/lists/partial" "$apt/parts"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(lab_mirror) $SUITE main" >"$apt/sources.list"
papt() {
  apt-get -q -y -o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts="$apt/parts" \
    -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts="$apt/parts" \
    -o Dir::State::Lists="$apt/lists" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= \
    -o Dir::State::status="$ROOTFS/var/lib/dpkg/status" -o Dir::State::extended_states="$apt/extended_states" \
    -o Dir::Cache::archives="$tmp" -o Debug::NoLocking=1 "$@"
}
fetch() { papt install --download-only --no-install-recommends "${pkgs[@]}"; }
# Lists of this suite first (a fresh machine has none); lists too old to name files the mirror
# still has: update again and retry once.
papt update
if ! fetch; then
  lab_warn "download failed; apt-get update and one retry"
  papt update
  fetch
fi
rm -rf "$tmp/partial" "$tmp/lock"
(cd "$tmp" && dpkg-scanpackages -m . /dev/null >Packages 2>/dev/null)
grep -q '^Package: docker.io$' "$tmp/Packages" || lab_die "repository has no docker.io (already in the lab root?)"
echo "$list" >"$tmp/.rampart-repo"
# Running hosts bind-mount the old directory; move it aside rather than deleting files under them.
if [ -d "$LAB_REPO_DIR" ]; then
  rm -rf "$LAB_REPO_DIR.old"
  mv "$LAB_REPO_DIR" "$LAB_REPO_DIR.old"
fi
mv "$tmp" "$LAB_REPO_DIR"
pgrep -x systemd-nspawn >/dev/null || rm -rf "$LAB_REPO_DIR.old"
echo "repo $SUITE built at $LAB_REPO_DIR: $(find "$LAB_REPO_DIR" -name '*.deb' | wc -l) packages, $(du -sh "$LAB_REPO_DIR" | cut -f1) in $(lab_since "$t0")"
