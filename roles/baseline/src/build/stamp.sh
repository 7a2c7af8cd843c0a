# shellcheck shell=sh
# After a command control with `rerun = false` ran (build.rs): $1 the stamp directory, $2 the
# stamp, whose existence tells a rerun's probe (one more path of its single `find`) that the
# control is done.
mkdir -p "$1" && : > "$2"
