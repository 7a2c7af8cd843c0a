#!/bin/bash
# deps.sh — sourced by tests/run and tests/demo: install missing Debian packages and find cargo.
#   ensure_packages PKG...   apt-get update + install of the missing ones (root only)
#   ensure_cargo             puts the machine's rustup cargo on PATH (sudo resets PATH)

# Installs the packages that are not installed yet; runs apt-get only when one is missing.
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    echo "all present: $*"
    return 0
  fi
  echo "installing: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get -q update
  DEBIAN_FRONTEND=noninteractive apt-get -q install -y --no-install-recommends "${missing[@]}"
}

# The Rust toolchain is the machine's (rustup); none can be installed from here. Under sudo,
# PATH is reset: look in root's and then the invoking user's ~/.cargo/bin.
ensure_cargo() {
  local home
  if ! command -v cargo >/dev/null; then
    for home in "$HOME" "$(getent passwd "${SUDO_USER:-root}" | cut -d: -f6)"; do
      if [ -z "$home" ] || [ ! -x "$home/.cargo/bin/cargo" ]; then continue; fi
      export PATH=$home/.cargo/bin:$PATH
      # the invoking user's rustup keeps its toolchains in their home, not root's
      [ -d "$HOME/.rustup" ] || [ ! -d "$home/.rustup" ] || export RUSTUP_HOME=$home/.rustup
      break
    done
  fi
  command -v cargo >/dev/null || { echo "no cargo found (install the Rust toolchain with rustup)" >&2; return 1; }
  cargo --version
}

# The packages of the lab and the build: gcc/libc6-dev build ring; openssh-server/-client for
# the loopback tests; debootstrap (the hosts' root), systemd-container (nspawn), iproute2
# (netns, veth), dpkg-dev (dpkg-scanpackages for the offline repository), util-linux (nsenter,
# flock), procps (pgrep), kmod (overlay may be a module on a stock kernel), python3-minimal
# (tests/run reads cargo's JSON list of test binaries with it).
# shellcheck disable=SC2034  # used by the scripts that source this file
BUILD_PKGS=(gcc libc6-dev openssh-server openssh-client)
# shellcheck disable=SC2034
LAB_PKGS=(debootstrap systemd-container iproute2 dpkg-dev util-linux procps kmod python3-minimal)
# lint: tests/run runs shellcheck on every shell script of the tree
# shellcheck disable=SC2034
LINT_PKGS=(shellcheck)
# chromium: the audit's HTML report is loaded in headless Chromium (file:// only) by tests/audit.rs
# shellcheck disable=SC2034
BROWSER_PKGS=(chromium)
