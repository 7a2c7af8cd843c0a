# shellcheck shell=sh
# Installs the distribution's docker client, package $1, unless a docker client is already
# on PATH (it came with docker.io up to Debian 12 and on Ubuntu 24.04).
command -v docker >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=120 install -y --no-install-recommends "$1"
