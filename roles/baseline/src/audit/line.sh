# shellcheck shell=sh disable=SC2034 # f: read by end.sh
# baseline_line PATH MATCH LINE: PATH has exactly one line starting with MATCH, and it is
# LINE; or a FAIL line (and f=1). (MATCH and LINE reach awk through -v, as the build's edit.)
baseline_line() {
  awk -v m="$2" -v l="$3" 'index($0, m) == 1 { n++; if ($0 != l) bad++ } END { exit !(n == 1 && !bad) }' "$1" 2>/dev/null || { echo "FAIL: $1 does not have exactly one line $3"; f=1; }
}
