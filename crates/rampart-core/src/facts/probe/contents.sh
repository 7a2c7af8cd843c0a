# shellcheck shell=sh
# How the contents travel after the end marker (facts::probe): gzipped over $3 bytes.
# $1: the marker line for gzip, $2: the one for plain; then the clock.
# shellcheck disable=SC2154 # rampart_sum is stats.sh's
if [ "$rampart_sum" -gt "$3" ]; then printf '%s\n' "$1"; else printf '%s\n' "$2"; fi
# The host's clock (stats.sh's), which says which records are old enough to remember.
# shellcheck disable=SC2154 # rampart_now is stats.sh's
if [ -n "$rampart_now" ]; then echo "now $rampart_now"; fi
