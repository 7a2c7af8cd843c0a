# shellcheck shell=sh
# One path the batched pass cannot frame (facts::probe). $1: the section's marker line (the
# path hex-encoded), $2: the path, $3: "stat" to stat only, else "".
printf '%s\n' "$1"
rampart_file "$2" "$3"
