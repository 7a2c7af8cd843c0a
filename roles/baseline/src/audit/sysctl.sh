# shellcheck shell=sh disable=SC2034 # f: read by end.sh
# baseline_sysctl KEY VALUE PROC_PATH SCOPE FILE: the live value at PROC_PATH (its whitespace
# squeezed) is VALUE, and FILE has the line "KEY = VALUE"; a FAIL line (and f=1) for each that
# does not hold. SCOPE `net` is a key of the network namespace, the host's own in a container
# too; any other key is kernel-wide: inside a container (or where PROC_PATH is missing or
# read-only) only the file is checked, and a note says so.
baseline_sysctl() {
  if { [ "$4" = net ] || ! systemd-detect-virt -cq; } && [ -w "$3" ]; then
    v=$(cat "$3")
    # shellcheck disable=SC2086,SC2116 # unquoted on purpose: squeezes the value's whitespace
    v=$(echo $v)
    [ "$v" = "$2" ] || { echo "FAIL: $1 is $v, not $2"; f=1; }
  else
    echo "note: $1 is missing or read-only here (a container): the file only"
  fi
  grep -qxF -- "$1 = $2" "$5" || { echo "FAIL: $5 does not set $1 = $2"; f=1; }
}
