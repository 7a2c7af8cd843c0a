# shellcheck shell=sh disable=SC2034 # f: read by end.sh
# baseline_block PATH NAME LINE...: PATH has rampart's block NAME (its BEGIN marker) and each
# LINE of its body; a FAIL line (and f=1) for each that is not there.
baseline_block() {
  p=$1
  grep -qxF "# BEGIN rampart $2" "$p" 2>/dev/null || { echo "FAIL: $p has no block $2"; f=1; }
  shift 2
  for l do
    grep -qxF -- "$l" "$p" 2>/dev/null || { echo "FAIL: $p lacks $l"; f=1; }
  done
}
