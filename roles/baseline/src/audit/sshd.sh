# shellcheck shell=sh disable=SC2034 # f: read by end.sh
# The sshd settings of a control, against the drop-in and the effective configuration
# (`sshd -T`, read once here, when this file is sent).
# baseline_sshd FILE KEY LKEY VALUE: FILE has the line "KEY VALUE" and `sshd -T` says
#   "LKEY VALUE" (LKEY: KEY in lower case, as sshd -T prints it).
# baseline_sshd_removed FILE KEY LKEY VALUE ALGORITHM...: for a removal list (VALUE "-a,b"):
#   FILE has the line "KEY VALUE" and `sshd -T` offers none of the ALGORITHMs.
# A FAIL line (and f=1) for each that does not hold.
t=$(sshd -T 2>/dev/null)
baseline_sshd() {
  grep -qxF -- "$2 $4" "$1" || { echo "FAIL: $1 does not set $2 $4"; f=1; }
  printf '%s\n' "$t" | grep -qixF -- "$3 $4" || { echo "FAIL: sshd -T says: $(printf '%s\n' "$t" | grep -i "^$3 ")"; f=1; }
}
baseline_sshd_removed() {
  grep -qxF -- "$2 $4" "$1" || { echo "FAIL: $1 does not set $2 $4"; f=1; }
  k=$3
  shift 4
  for a do
    # shellcheck disable=SC2020 # spaces and commas both become newlines: one word a line
    if printf '%s\n' "$t" | grep -i "^$k " | tr ' ,' '\n\n' | grep -qixF -- "$a"; then echo "FAIL: sshd -T still offers $a"; f=1; fi
  done
}
