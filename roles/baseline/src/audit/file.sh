# shellcheck shell=sh disable=SC2034 # f: read by end.sh
# Whole files rampart writes or removes. A FAIL line (and f=1) for each that does not hold.
# baseline_file PATH SHA256 "MODE OWNER GROUP": PATH is not a link, its content has that
#   hash, and `stat` says that mode (octal) and owner.
# baseline_absent PATH: PATH does not exist (not even as a dangling link).
baseline_file() {
  if ! { [ ! -L "$1" ] && printf '%s  %s\n' "$2" "$1" | sha256sum -c --status 2>/dev/null; }; then
    echo "FAIL: $1 is not the file rampart writes"; f=1
  fi
  a=$(stat -c '%a %U %G' "$1" 2>/dev/null); [ "$a" = "$3" ] || { echo "FAIL: $1 is $a, not $3"; f=1; }
}
baseline_absent() {
  if [ -e "$1" ] || [ -L "$1" ]; then echo "FAIL: $1 exists"; f=1; fi
}
