# shellcheck shell=bash
# lib.sh — shared by tests/bench/run and tests/bench/scale; sourced, never run.
#
# bench_measure runs one command the way every figure in BENCHMARKS.md is taken:
#   - wall time: bash's own clock around the command;
#   - peak RSS: /usr/bin/time -v "Maximum resident set size" (the largest single process: for
#     rampart that is the controller, for Ansible/the floor it is one of many processes);
#   - tree peak: memory.max_usage_in_bytes of a fresh memory cgroup (v1) or memory.peak (v2)
#     holding the command and everything it starts (all of Ansible's forks, all 32 ssh clients),
#     which includes page cache the command itself brings in;
#   - controller CPU: user + system time of the command and its children (/usr/bin/time -v);
#   - host CPU: the increase of cpuacct.usage over the lab hosts' cgroups (rampart-hN), i.e.
#     what the run cost on the hosts' side of the 2 shared cores.
# and appends one line to $BENCH_RESULTS (TSV, columns in BENCH_COLUMNS).

BENCH_COLUMNS=(suite size tool job phase run wall_s rss_kb tree_kb user_s sys_s host_cpu_s rc conns rts changed failed note)

bench_log() { printf '%s %s: %s\n' "$(date +%H:%M:%S)" "${0##*/}" "$*" >&2; }
bench_die() { printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit 1; }

bench_now() { local t=${EPOCHREALTIME//[.,]/}; echo "$t"; }

# The memory cgroup this shell lives in, where measured commands get their own child cgroup.
# Sets BENCH_CG (empty when there is no usable memory controller: tree peaks are then "-").
bench_cg_init() {
  BENCH_CG='' BENCH_CG_V=''
  local hid ctrl path
  while IFS=: read -r hid ctrl path; do
    if [ "$ctrl" = memory ] && [ -e "/sys/fs/cgroup/memory$path/memory.max_usage_in_bytes" ]; then
      BENCH_CG=/sys/fs/cgroup/memory${path%/} BENCH_CG_V=1
    elif [ "$hid" = 0 ] && [ -z "$BENCH_CG" ] && [ -e "/sys/fs/cgroup${path%/}/cgroup.subtree_control" ] &&
      grep -qw memory "/sys/fs/cgroup${path%/}/cgroup.subtree_control" 2>/dev/null; then
      BENCH_CG=/sys/fs/cgroup${path%/} BENCH_CG_V=2
    fi
  done </proc/self/cgroup
  if [ -z "$BENCH_CG" ]; then bench_log "no memory cgroup to measure process trees in: tree peaks will read '-'"; fi
}

# The cpuacct cgroups whose CPU time counts as "host CPU": the lab hosts' (rampart-h1..hN, made by
# tests/lab) or the scale test's sshd instances. Sets BENCH_CPUACCT_DIRS.
BENCH_CPUACCT_DIRS=()
bench_lab_cgroups() { # bench_lab_cgroups N
  local i f
  BENCH_CPUACCT_DIRS=()
  for i in $(seq 1 "$1"); do
    f=$(find /sys/fs/cgroup/cpuacct /sys/fs/cgroup/cpu,cpuacct -maxdepth 6 -type d -name "rampart-h$i" 2>/dev/null | head -n1 || true)
    if [ -n "$f" ]; then BENCH_CPUACCT_DIRS+=("$f"); else bench_log "h$i: no cpuacct cgroup found: host CPU leaves it out"; fi
  done
}

# Sum of cpuacct.usage (ns) over BENCH_CPUACCT_DIRS (0 when there are none).
bench_host_cpu_ns() {
  local f sum=0
  for f in "${BENCH_CPUACCT_DIRS[@]}"; do
    [ -r "$f/cpuacct.usage" ] && sum=$((sum + $(<"$f/cpuacct.usage")))
  done
  echo "$sum"
}

# bench_measure PREFIX CMD...  — runs CMD (stdout PREFIX.out, stderr PREFIX.err, time -v in
# PREFIX.time) and sets M_WALL M_RSS M_TREE M_USER M_SYS M_HOSTCPU M_RC. BENCH_PREFIX (an array,
# e.g. nsenter into a network namespace) is exec'd in front of /usr/bin/time, outside its figures.
BENCH_PREFIX=()
bench_measure() {
  local prefix=$1 cg='' t0 t1 h0 h1 p
  shift
  if [ -n "$BENCH_CG" ]; then
    cg=$BENCH_CG/rampart-bench-$$-$RANDOM
    mkdir "$cg" || cg=''
  fi
  h0=$(bench_host_cpu_ns)
  t0=$(bench_now)
  M_RC=0
  (
    [ -n "$cg" ] && echo "$BASHPID" >"$cg/cgroup.procs"
    exec "${BENCH_PREFIX[@]}" /usr/bin/time -v -o "$prefix.time" "$@" >"$prefix.out" 2>"$prefix.err" </dev/null
  ) || M_RC=$?
  t1=$(bench_now)
  h1=$(bench_host_cpu_ns)
  M_WALL=$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.3f", d / 1e6 }')
  M_HOSTCPU=$(awk -v d=$((h1 - h0)) 'BEGIN { printf "%.3f", d / 1e9 }')
  M_RSS=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$prefix.time")
  M_USER=$(awk -F': ' '/User time \(seconds\)/ { print $2 }' "$prefix.time")
  M_SYS=$(awk -F': ' '/System time \(seconds\)/ { print $2 }' "$prefix.time")
  # /usr/bin/time reports the command's own status in "Exit status"; its own rc is the same
  # unless the command was killed by a signal.
  M_TREE=-
  if [ -n "$cg" ]; then
    if [ "$BENCH_CG_V" = 1 ]; then M_TREE=$(( $(<"$cg/memory.max_usage_in_bytes") / 1024 ))
    elif [ -r "$cg/memory.peak" ]; then M_TREE=$(( $(<"$cg/memory.peak") / 1024 )); fi
    # What a command left running in its cgroup is ours (ssh ControlPersist masters of
    # Ansible): end it by PID, then remove the cgroup.
    while read -r p; do kill "$p" 2>/dev/null; done <"$cg/cgroup.procs"
    for _ in $(seq 1 50); do rmdir "$cg" 2>/dev/null && break; sleep 0.1; done
  fi
  : "${M_RSS:=-}" "${M_USER:=-}" "${M_SYS:=-}"
}

# bench_record SUITE SIZE TOOL JOB PHASE RUN CONNS RTS CHANGED FAILED NOTE — one result line from
# the last bench_measure.
bench_record() {
  local IFS=$'\t'
  local note=${11:-}
  note=${note//$'\t'/ }
  echo "$1	$2	$3	$4	$5	$6	$M_WALL	$M_RSS	$M_TREE	$M_USER	$M_SYS	$M_HOSTCPU	$M_RC	$7	$8	$9	${10}	$note" >>"$BENCH_RESULTS"
}

bench_results_init() {
  [ -s "$BENCH_RESULTS" ] && return 0
  (IFS=$'\t'; echo "${BENCH_COLUMNS[*]}") >"$BENCH_RESULTS"
}

# Connections and exec round trips per host from rampart's --json (stdin): "min-max" each, the
# number of changed resources, the number of failed hosts. Prints 4 tab-separated fields.
bench_rampart_counts() {
  python3 -c '
import json, sys
try:
    r = json.load(sys.stdin)
except Exception:
    print("-\t-\t-\t-"); sys.exit(0)
hs = r.get("hosts", [])
def span(k):
    v = [h.get(k, 0) for h in hs]
    return "-" if not v else (str(min(v)) if min(v) == max(v) else "%d-%d" % (min(v), max(v)))
changed = sum(h.get("changed", 0) for h in hs)
failed = sum(1 for h in hs if h.get("unreachable") or h.get("error") or h.get("failed", 0)
             or any(not v.get("pass", True) for v in h.get("verify", [])))
print("%s\t%s\t%d\t%d" % (span("connections"), span("round_trips"), changed, failed))
'
}

# Wait until the 1-minute load average is below $1 (bounded by $2 seconds): other engineers'
# builds share the 2 cores; the figure notes the load it was taken at anyway.
bench_settle() {
  local max=$1 limit=${2:-30} i
  for i in $(seq 1 "$limit"); do
    awk -v m="$max" '{ exit !($1 < m) }' /proc/loadavg && return 0
    sleep 1
  done
  return 0
}

# Wait until the machine's CPUs were at least 90% idle over one second (bounded by $1 seconds):
# hosts a reset booted, or an apply just changed (docker starting, fail2ban reading its logs,
# redis restarting), keep the cores busy for a while, and the load average is too slow a gauge
# for that (it still shows the first apply's minutes long after the hosts went quiet).
bench_quiet() {
  local limit=${1:-60} i a b
  # idle (idle + iowait) and total jiffies of all CPUs
  cpu_jiffies() { awk '/^cpu /{print $5+$6, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
  for i in $(seq 1 "$limit"); do
    a=$(cpu_jiffies)
    sleep 1
    b=$(cpu_jiffies)
    # shellcheck disable=SC2086  # two numbers each
    set -- $a $b
    awk -v i0="$1" -v t0="$2" -v i1="$3" -v t1="$4" 'BEGIN { exit !(t1 > t0 && (i1 - i0) / (t1 - t0) >= 0.9) }' && return 0
  done
  return 0
}

bench_load() { cut -d' ' -f1-3 /proc/loadavg; }
