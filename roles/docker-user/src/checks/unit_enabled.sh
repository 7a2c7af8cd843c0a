# shellcheck shell=sh
# docker-user.unit-enabled: $2, the unit that loads the rules at boot, is enabled.
systemctl is-enabled "$2"
