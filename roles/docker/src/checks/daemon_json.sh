# shellcheck shell=sh
# docker.daemon-json: the daemon's configuration file, $2, as it is on the host.
cat "$2"
