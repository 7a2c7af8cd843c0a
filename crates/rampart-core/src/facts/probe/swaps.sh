# shellcheck shell=sh
# Active swap areas (facts::probe). $1: the section's marker line.
printf '%s\n' "$1"
while IFS= read -r rampart_v; do printf '%s\n' "$rampart_v"; done </proc/swaps 2>/dev/null
