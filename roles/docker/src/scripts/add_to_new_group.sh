# shellcheck shell=sh
# Puts user $1 (created when missing) into the `docker` group this run's install created.
id "$1" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash -- "$1"
usermod --append --groups docker -- "$1"
