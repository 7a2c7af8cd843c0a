# shellcheck shell=sh
# apt-get, non-interactive, keeping the host's changed config files (resource::apt). A dpkg
# interrupted by a lost connection leaves the database locked for repair; the lock timeout
# waits for unattended-upgrades instead of failing at once. $@: the command and packages.
DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -o DPkg::Lock::Timeout=120 "$@"
