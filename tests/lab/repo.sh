#!/bin/bash
# repo.sh — build (once, cached) the lab's flat offline apt repository in
# $RAMPART_LAB_CACHE/repo (default /var/cache/rampart-lab/repo): packages the hosts lack
# (docker.io, busybox-static, plus $LAB_REPO_PKGS), with every dependency the lab root does not
# already have. up.sh bind-mounts it read-only at /srv/lab-repo in each host and adds
# `deb [trusted=yes] file:/srv/lab-repo ./`; the hosts have no network, so this is how they
# install anything.
#
# How: apt on this machine resolves against the lab root's dpkg status instead of its own, and
# downloads into the repository directory; dpkg-scanpackages (dpkg-dev) writes the index.
# The cache is keyed by the package list: change it and the repository is rebuilt.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

[ "${1:-}" = -h ] || [ "${1:-}" = --help ] && { echo "usage: ${0##*/}   (env LAB_REPO_PKGS='extra packages')"; exit 0; }
read -ra pkgs <<<"docker.io busybox-static ${LAB_REPO_PKGS:-}"
list=$(printf '%s\n' "${pkgs[@]}" | sort -u | tr '\n' ' ')
stamp=$LAB_REPO_DIR/.rampart-repo
ready() { [ -s "$LAB_REPO_DIR/Packages" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$list" ]; }
if ready; then echo "repo ready at $LAB_REPO_DIR ($(find "$LAB_REPO_DIR" -name '*.deb' | wc -l) packages, cached)"; exit 0; fi

[ "$(id -u)" = 0 ] || lab_die "must run as root (apt-get)"
command -v dpkg-scanpackages >/dev/null || lab_die "dpkg-scanpackages missing: apt-get install dpkg-dev"
[ -e "$LAB_ROOTFS/.lab-customised" ] || "$HERE/build-rootfs.sh" "$LAB_ROOTFS"
lab_lock "$LAB_CACHE/locks/repo" -x
ready && { echo "repo ready at $LAB_REPO_DIR (built meanwhile)"; exit 0; }

t0=$(lab_now)
tmp=$LAB_REPO_DIR.partial
rm -rf "$tmp"; mkdir -p "$tmp/partial"
fetch() {
  apt-get -q -y -o Dir::State::status="$LAB_ROOTFS/var/lib/dpkg/status" \
    -o Dir::Cache::archives="$tmp" -o Debug::NoLocking=1 \
    install --download-only --no-install-recommends "${pkgs[@]}"
}
# No package lists yet (a fresh machine), or lists too old to name files the mirror still has:
# update once and try again.
if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then apt-get -q update; fi
if ! fetch; then
  lab_warn "download failed; apt-get update and one retry"
  apt-get -q update
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
echo "repo built at $LAB_REPO_DIR: $(find "$LAB_REPO_DIR" -name '*.deb' | wc -l) packages, $(du -sh "$LAB_REPO_DIR" | cut -f1) in $(lab_since "$t0")"
