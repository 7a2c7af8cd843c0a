# shellcheck shell=bash
# lib.sh — shared by tests/lab/*.sh; sourced, never run. See docs/lab.md.
#
# Every kernel object this lab makes is named so that it cannot collide with the shared
# lab-notes lab (lab-hN, vl-hN) or with anyone else's: network namespace rampart-hN, root-side
# veth rp-hN, nspawn machine rampart-hN. Host hN always has 10.213.N.2/24 (gateway .1).
#
# State ($RAMPART_LAB, default /var/tmp/rampart-lab):
#   id_lab, id_lab.pub            client key (root and lab are authorised with it)
#   known_hosts ssh_config hosts.txt inventory.toml inventory.ini   written by lab_write_files
#   hosts.txt                     is also the membership list (which hosts the lab has)
#   hosts/hN/hostkey/             the host's ed25519 key pair: survives reset.sh
#   hosts/hN/{upper,work,merged}  overlayfs over the shared root; merged is mounted in the root ns
#   hosts/hN/{nspawn.pid,leader.pid,options,console.log,docker/}
#   locks/                        flock files (global + one per host)

LAB=${RAMPART_LAB:-/var/tmp/rampart-lab}
LAB_CACHE=${RAMPART_LAB_CACHE:-/var/cache/rampart-lab}
# Host kinds (docs/lab.md, "Host kinds"): bookworm = Debian 12, trixie = Debian 13, ubuntu = an
# Ubuntu 24.04-like host on trixie's userland. Each suite has its own cached root and offline
# repository; a host's kind is chosen when it starts (LAB_OS, `up.sh N --os KIND`) and kept
# across reset.sh like LAB_DOCKER.
LAB_KINDS='bookworm trixie ubuntu'
lab_check_suite() {
  case ${1:-} in bookworm|trixie) ;; *) lab_die "unknown suite '${1:-}': bookworm or trixie" ;; esac
}
lab_check_os() {
  case ${1:-} in
    bookworm|trixie|ubuntu) ;;
    *) lab_die "unknown host kind '${1:-}': one of $LAB_KINDS (docs/lab.md)" ;;
  esac
}
lab_suite() { if [ "$1" = ubuntu ]; then echo trixie; else echo "$1"; fi; }
# RAMPART_LAB_ROOTFS overrides the bookworm root only (the benchmark's one-host runs use it).
lab_rootfs() {
  if [ "$1" = bookworm ] && [ -n "${RAMPART_LAB_ROOTFS:-}" ]; then echo "$RAMPART_LAB_ROOTFS"
  else echo "$LAB_CACHE/rootfs-$1-v2"; fi
}
lab_repo_dir() { echo "$LAB_CACHE/repo-$1"; }
# shellcheck disable=SC2034  # the scripts that source this file read them
LAB_ROOTFS=$(lab_rootfs bookworm)
# shellcheck disable=SC2034
LAB_REPO_DIR=$(lab_repo_dir bookworm)
LAB_HOSTS=$LAB/hosts
LAB_NET=10.213
LAB_MAX=250
# Bounds for every wait (seconds). Boot is CPU-bound: 2 cores boot ~1 host/s, so scale with N.
LAB_BOOT_TIMEOUT=${LAB_BOOT_TIMEOUT:-}
LAB_STOP_TIMEOUT=${LAB_STOP_TIMEOUT:-30}
LAB_LOCK_TIMEOUT=${LAB_LOCK_TIMEOUT:-900}
LAB_LOCK_FDS=()
# set by lab_wait, read by the scripts: elapsed to sshd / systemd ready, degraded hosts' units
# shellcheck disable=SC2034
LAB_T_SSH='' LAB_T_SETTLED=''
LAB_DEGRADED=()

lab_log() { printf '%s: %s\n' "${0##*/}" "$*"; }
lab_warn() { printf '%s: warning: %s\n' "${0##*/}" "$*" >&2; }
lab_die() { printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# Microseconds since the epoch, and seconds elapsed since such a stamp (one decimal): bash's own
# clock, so no bc and no fork.
lab_now() { local t=${EPOCHREALTIME//[.,]/}; echo "$t"; }
lab_since() {
  local d=$(( $(lab_now) - $1 ))
  printf '%d.%ds' $((d / 1000000)) $((d % 1000000 / 100000))
}

lab_require_root() {
  [ "$(id -u)" = 0 ] || lab_die "must run as root (network namespaces, overlay mounts, nspawn)"
  local t
  for t in systemd-nspawn ip nsenter flock findmnt mountpoint setsid ssh ssh-keygen timeout pgrep; do
    command -v "$t" >/dev/null || lab_die "missing tool '$t' (tests/run installs the lab's packages)"
  done
}

# --- names -------------------------------------------------------------------------------------
lab_ns() { echo "rampart-h$1"; }
lab_machine() { echo "rampart-h$1"; }
lab_veth() { echo "rp-h$1"; }
lab_addr() { echo "$LAB_NET.$1.2"; }
lab_gw() { echo "$LAB_NET.$1.1"; }
lab_dir() { echo "$LAB_HOSTS/h$1"; }

# hN, rampart-hN, 10.213.N.2 or N -> N (1..250), or die: every script accepts any of the forms
# a test happens to hold.
lab_index() {
  local i
  case $1 in
    h[0-9]*) i=${1#h} ;;
    rampart-h[0-9]*) i=${1#rampart-h} ;;
    "$LAB_NET".*.2) i=${1#"$LAB_NET".}; i=${i%.2} ;;
    *) i=$1 ;;
  esac
  if ! [[ $i =~ ^[1-9][0-9]{0,2}$ ]] || [ "$i" -gt "$LAB_MAX" ]; then
    lab_die "not a lab host: '$1' (h1..h$LAB_MAX, rampart-hN or $LAB_NET.N.2)"
  fi
  echo "$i"
}

# --- processes ----------------------------------------------------------------------------------
# PID of the running systemd-nspawn of host $1, from its pid file. The comm AND the machine name
# in its command line must match: a recycled PID is never taken for ours.
lab_nspawn_pid() {
  local f p
  f=$(lab_dir "$1")/nspawn.pid
  [ -s "$f" ] || return 1
  p=$(<"$f")
  [[ $p =~ ^[0-9]+$ ]] || return 1
  [ "$(cat "/proc/$p/comm" 2>/dev/null)" = systemd-nspawn ] || return 1
  tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -q -- " -M $(lab_machine "$1") " || return 1
  echo "$p"
}

# True if $1 is PID 1 of a child PID namespace (a container leader): NSpid has >1 field, last 1.
lab_is_leader() {
  [ -n "${1:-}" ] && awk '/^NSpid:/ { exit !(NF > 2 && $NF == 1) }' "/proc/$1/status" 2>/dev/null
}

# True if process $2 lives in host $1's network namespace.
lab_in_netns() {
  local want have
  want=$(stat -L -c %i "/run/netns/$(lab_ns "$1")" 2>/dev/null) || return 1
  have=$(readlink "/proc/$2/ns/net" 2>/dev/null) || return 1
  [ "$have" = "net:[$want]" ]
}

# The container leader (systemd, PID 1 inside) of a running host: nspawn's child.
lab_leader() {
  local p c
  p=$(lab_nspawn_pid "$1") || return 1
  for c in $(pgrep -P "$p"); do
    lab_is_leader "$c" && { echo "$c"; return 0; }
  done
  return 1
}

# Leaders to kill for host $1 when its nspawn is gone (a killed run): the recorded leader if it
# still is a leader in this host's namespace, then any other leader found in that namespace
# (everything in rampart-hN is ours by construction).
lab_stale_leaders() {
  local f l
  f=$(lab_dir "$1")/leader.pid
  {
    if [ -s "$f" ]; then
      l=$(<"$f")
      if [[ $l =~ ^[0-9]+$ ]] && lab_is_leader "$l" && lab_in_netns "$1" "$l"; then echo "$l"; fi
    fi
    if [ -e "/run/netns/$(lab_ns "$1")" ]; then
      for l in $(ip netns pids "$(lab_ns "$1")" 2>/dev/null); do
        if lab_is_leader "$l"; then echo "$l"; fi
      done
    fi
  } | sort -nu
}

# Every host index with any trace on this machine: state dir, netns, veth or mount.
lab_known() {
  local d
  {
    for d in "$LAB_HOSTS"/h*; do [ -d "$d" ] && echo "${d##*/h}"; done
    ip netns list 2>/dev/null | sed -n 's/^rampart-h\([0-9]\{1,3\}\)\( .*\)\{0,1\}$/\1/p'
    ip -o link show 2>/dev/null | sed -n 's/^[0-9]*: rp-h\([0-9]\{1,3\}\)[@:].*/\1/p'
    findmnt -rn -o TARGET | sed -n "s|^$LAB_HOSTS/h\([0-9]\{1,3\}\)/.*|\1|p"
  } | grep -E '^[1-9][0-9]{0,2}$' | sort -nu
}

# Members: the hosts the lab's files describe (hosts.txt is the list).
lab_members() {
  [ -s "$LAB/hosts.txt" ] || return 0
  sed -n "s/^$LAB_NET\.\([0-9]*\)\.2$/\1/p" "$LAB/hosts.txt" | sort -nu
}

# --- locks ---------------------------------------------------------------------------------------
# flock on a file; the fd is remembered so lab_boot closes it in nspawn, which would otherwise
# hold the lock for the container's whole life.
lab_lock() { # lab_lock FILE -x|-s
  local fd
  mkdir -p "${1%/*}"
  exec {fd}>"$1"
  LAB_LOCK_FDS+=("$fd")
  flock -w "$LAB_LOCK_TIMEOUT" "$2" "$fd" || lab_die "timed out after ${LAB_LOCK_TIMEOUT}s waiting for lock $1"
}
# up.sh and down.sh (whole lab) lock the lab exclusively; reset.sh and down.sh hN share it and
# lock each host they touch, so tests may reset different hosts at the same time.
lab_lock_lab() { lab_lock "$LAB/locks/lab" "$1"; }
lab_lock_host() { lab_lock "$LAB/locks/h$1" -x; }

# --- address check --------------------------------------------------------------------------------
lab_ip2int() { local a b c d; IFS=. read -r a b c d <<<"$1"; echo $(( (a << 24) | (b << 16) | (c << 8) | d )); }
# Die if 10.213.N.0/24 of any given host overlaps an address or route in the root namespace that
# is not on our own veth rp-hN (e.g. the lab-notes lab's vl-hN, or someone's 10.213.0.0/16).
lab_check_subnets() {
  local want=" $* " dev net len base mask lo hi i n conflicts=()
  while read -r dev net; do
    [ -n "$net" ] || continue
    len=${net#*/}; [ "$len" = "$net" ] && len=32
    [[ ${net%/*} =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || continue
    base=$(lab_ip2int "${net%/*}")
    mask=$(( len == 0 ? 0 : (0xffffffff << (32 - len)) & 0xffffffff ))
    lo=$(( base & mask )); hi=$(( lo | (~mask & 0xffffffff) ))
    for i in $want; do
      n=$(lab_ip2int "$LAB_NET.$i.0")
      (( lo <= n + 255 && hi >= n )) || continue
      [ "$dev" = "$(lab_veth "$i")" ] && continue
      conflicts+=("$LAB_NET.$i.0/24 is used by $dev ($net)")
    done
  done < <(
    ip -o -4 addr show | awk '{print $2, $4}'
    ip -4 route show table all 2>/dev/null | awk '$1 != "default" && $1 !~ /^(broadcast|local|unreachable|blackhole|prohibit)$/ {
      dev = ""; for (k = 2; k < NF; k++) if ($k == "dev") dev = $(k + 1); print dev, $1 }'
  )
  ((${#conflicts[@]} == 0)) && return 0
  printf '%s: error: %s\n' "${0##*/}" "${conflicts[@]}" | sort -u >&2
  lab_die "refusing to start: those subnets belong to an interface not of this lab (rp-hN). Bring that lab down first (the lab-notes lab: its lab-down.sh)."
}

# --- cgroups -------------------------------------------------------------------------------------
# Move the calling (sub)shell into cgroup "$1" below its current one in every v1 hierarchy and
# the unified one, so the container gets its own subtree: hosts cannot see each other's units,
# and docker/runc inside create cgroups relative to it. Below the current cgroup, not at the
# root: whatever manages this session's processes still manages the containers.
lab_cgroup_enter() {
  local hid ctrl path base dir cg
  cg=$(cat /proc/self/cgroup)   # read it whole first: it changes while we move ourselves
  while IFS=: read -r hid ctrl path; do
    if [ "$hid" = 0 ]; then base=/sys/fs/cgroup/unified
    elif [ "$ctrl" = name=systemd ]; then base=/sys/fs/cgroup/systemd
    elif [ -n "$ctrl" ]; then base=/sys/fs/cgroup/$ctrl
    else continue; fi
    [ -e "$base/cgroup.procs" ] || continue
    dir=$base${path%/}/$1
    mkdir -p "$dir"
    # a new cpuset cgroup starts with no CPUs and no memory nodes: copy the parent's
    if [ -e "$dir/cpuset.cpus" ] && [ -z "$(cat "$dir/cpuset.cpus")" ]; then
      cat "$base${path%/}/cpuset.cpus" >"$dir/cpuset.cpus"
      cat "$base${path%/}/cpuset.mems" >"$dir/cpuset.mems"
    fi
    echo "$BASHPID" >"$dir/cgroup.procs"
  done <<<"$cg"
}
# Remove the cgroups named $1 (empty once the container has exited), deepest first; bounded.
lab_cgroup_remove() {
  local c g left _
  for _ in $(seq 1 30); do
    left=0
    for c in /sys/fs/cgroup/*/; do
      [ -e "$c/cgroup.procs" ] || continue
      while read -r g; do
        [ -n "$g" ] || continue
        find "$g" -depth -type d -exec rmdir {} + 2>/dev/null || left=1
      done < <(find "$c" -maxdepth 5 -type d -name "$1" 2>/dev/null)
    done
    [ "$left" = 0 ] && return 0
    sleep 0.1
  done
  lab_warn "cgroup $1 not removed (processes still in it?)"
}

# --- stop / clear -----------------------------------------------------------------------------------
# Stop hosts. Mode "graceful": SIGTERM to nspawn (= SIGRTMIN+3 to the container's systemd, an
# orderly shutdown), bounded wait, then SIGKILL. Mode "kill": SIGKILL the container leader at
# once (its whole PID namespace dies; nspawn then exits by itself) — reset.sh throws the host's
# disk away anyway. Only our recorded, verified PIDs are signalled. Sets LAB_STOPPED/LAB_KILLED.
LAB_STOPPED=0; LAB_KILLED=0
lab_stop() {
  local mode=$1 i p l _ left
  shift
  local -A nsp=() lead=()
  for i in "$@"; do
    p=$(lab_nspawn_pid "$i") || continue
    nsp[$i]=$p
    l=$(lab_leader "$i") && lead[$i]=$l
    if [ "$mode" = kill ] && [ -n "${lead[$i]:-}" ]; then kill -KILL "${lead[$i]}" 2>/dev/null
    else kill -TERM "$p" 2>/dev/null; fi
  done
  ((${#nsp[@]})) || return 0
  local limit=$((LAB_STOP_TIMEOUT * 10))
  [ "$mode" = kill ] && limit=50
  for _ in $(seq 1 "$limit"); do
    left=0
    for i in "${!nsp[@]}"; do lab_nspawn_pid "$i" >/dev/null && { left=1; break; }; done
    [ "$left" = 0 ] && break
    sleep 0.1
  done
  for i in "${!nsp[@]}"; do
    LAB_STOPPED=$((LAB_STOPPED + 1))
    if p=$(lab_nspawn_pid "$i"); then
      # a SIGKILLed nspawn leaves its container running (no pdeathsig; seen: systemd-shutdown
      # waiting 90 s on a docker container), so the leader is killed too: that ends the whole
      # PID namespace.
      [ "$mode" = kill ] || lab_log "h$i: no orderly shutdown in ${LAB_STOP_TIMEOUT}s: SIGKILL nspawn $p"
      kill -KILL "$p" 2>/dev/null
      LAB_KILLED=$((LAB_KILLED + 1))
    fi
    l=${lead[$i]:-}
    if [ -n "$l" ] && lab_is_leader "$l"; then kill -KILL "$l" 2>/dev/null; fi
  done
}

# Remove the kernel state of host $1 whose nspawn is not running: leftover container processes
# (from a killed run), the overlay mount, netns, veth, nspawn's runtime dirs, docker cgroups,
# stale pid files. The state dir itself stays. Returns non-zero if something could not be removed.
lab_clear() {
  local i=$1 d ns veth l m try rc=0 leaders
  d=$(lab_dir "$i"); ns=$(lab_ns "$i"); veth=$(lab_veth "$i")
  if lab_nspawn_pid "$i" >/dev/null; then lab_warn "h$i: still running, not cleared"; return 1; fi
  for try in $(seq 1 50); do
    leaders=$(lab_stale_leaders "$i")
    [ -z "$leaders" ] && break
    for l in $leaders; do
      [ "$try" = 1 ] && lab_log "h$i: killing leftover container (leader pid $l) of an earlier run"
      kill -KILL "$l" 2>/dev/null
    done
    sleep 0.1
  done
  # everything still inside the namespace: nothing should be, after its leader died
  if [ -e "/run/netns/$ns" ] && [ -n "$(ip netns pids "$ns" 2>/dev/null)" ]; then
    lab_warn "h$i: processes still in netns $ns: $(ip netns pids "$ns" | tr '\n' ' ')"; rc=1
  fi
  # deepest mounts first; the only one we make in the root namespace is merged/
  while read -r m; do
    [ -n "$m" ] || continue
    umount "$m" 2>/dev/null || { sleep 0.5; umount "$m"; } || { lab_warn "h$i: cannot unmount $m"; rc=1; }
  done < <(findmnt -rn -o TARGET | grep "^$d/" | sort -r)
  # Deleting the netns destroys eth0 and with it its peer rp-hN, but asynchronously: an
  # `ip link del` right after can race it and fail with "Cannot find device" (seen). So wait for
  # it to go (bounded), deleting it ourselves only if it lingers, or at once if there was no
  # namespace to take it along.
  local wait_for=10
  if [ -e "/run/netns/$ns" ]; then ip netns del "$ns" || rc=1; else wait_for=1; fi
  for try in $(seq 1 50); do
    ip link show "$veth" >/dev/null 2>&1 || break
    [ "$try" -ge "$wait_for" ] && ip link del "$veth" 2>/dev/null
    sleep 0.1
  done
  if ip link show "$veth" >/dev/null 2>&1; then lab_warn "h$i: cannot delete veth $veth"; rc=1; fi
  rm -rf "/run/systemd/nspawn/propagate/$(lab_machine "$i")" "/run/systemd/nspawn/unix-export/$(lab_machine "$i")"
  lab_cgroup_remove "$(lab_machine "$i")"
  rm -f "$d/nspawn.pid" "$d/leader.pid"
  return "$rc"
}

# --- start --------------------------------------------------------------------------------------
lab_raise_inotify() {
  # every container's systemd, journald, dbus... take inotify instances from root's one budget
  # (one user namespace): beyond ~30 hosts units start failing. Only ever raise.
  local k want cur
  for k in max_user_instances:8192 max_user_watches:1048576; do
    want=${k#*:}; cur=$(sysctl -n "fs.inotify.${k%%:*}")
    [ "$cur" -ge "$want" ] || sysctl -qw "fs.inotify.${k%%:*}=$want"
  done
}

lab_client_key() {
  mkdir -p "$LAB"
  [ -s "$LAB/id_lab" ] && [ -s "$LAB/id_lab.pub" ] && return 0
  rm -f "$LAB/id_lab" "$LAB/id_lab.pub"
  ssh-keygen -q -t ed25519 -N '' -C rampart-lab -f "$LAB/id_lab"
}

# Options of host $1: LAB_DOCKER / LAB_REPO from the environment when set, else what the host
# was last started with (so reset.sh keeps a docker host a docker host), else the defaults.
lab_host_options() {
  local f docker=0 repo=1 os=bookworm kind list r
  f=$(lab_dir "$1")/options
  # shellcheck disable=SC1090
  [ -s "$f" ] && . "$f"
  # LAB_OS_OF="trixie=25-27,42 ubuntu=28-30": the kind of the hosts it lists (up.sh starts a
  # lab of several kinds in one call)
  for kind in ${LAB_OS_OF:-}; do
    list=${kind#*=}
    for r in ${list//,/ }; do
      if [ "$1" -ge "${r%-*}" ] && [ "$1" -le "${r#*-}" ]; then os=${kind%%=*}; fi
    done
  done
  os=${LAB_OS:-$os}
  lab_check_os "$os"
  echo "docker=${LAB_DOCKER:-$docker} repo=${LAB_REPO:-$repo} os=$os"
}

# The machine's own Debian mirror, from its apt sources (deb822 first, then one-line), so no
# host name is written in the lab's code.
lab_mirror() {
  local m
  m=$(grep -hE '^URIs:.*/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | awk '{print $2}')
  [ -n "$m" ] || m=$(grep -hE '^deb .*/debian/? ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -1 | awk '{print $2}')
  [ -n "$m" ] || lab_die "no Debian mirror found in /etc/apt/sources*"
  echo "$m"
}

# The Ubuntu 24.04-like profile, written into a trixie host's upper layer ($1 = its merged root).
# What an OVH Ubuntu 24.04 image gives the roles, as far as trixie's userland can show it
# (docs/lab.md, "The Ubuntu 24.04-like host" says what is real and what is emulated):
# - /etc/os-release and /etc/lsb-release of Ubuntu 24.04, so the roles take their Ubuntu branches;
# - socket-activated sshd: ssh.socket enabled, ssh.service disabled and started by the socket
#   (trixie's ssh.socket is Ubuntu's: Accept=no, and its sshd takes the socket from systemd);
# - a generator that writes the socket's ListenStream from sshd_config's Port/ListenAddress at
#   every daemon-reload, as Ubuntu's sshd-socket-generator does;
# - cloud-init's 50-cloud-init.conf drop-in turning PasswordAuthentication back on;
# - an `ubuntu` admin user with passwordless sudo and the lab's key, as the image's cloud-init
#   makes it.
lab_ubuntu_profile() {
  local m=$1
  rm -f "$m/etc/os-release"
  cat >"$m/etc/os-release" <<'EOR'
PRETTY_NAME="Ubuntu 24.04.1 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.1 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME=noble
LOGO=ubuntu-logo
EOR
  rm -f "$m/usr/lib/os-release"; cp "$m/etc/os-release" "$m/usr/lib/os-release"
  printf 'DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=24.04\nDISTRIB_CODENAME=noble\nDISTRIB_DESCRIPTION="Ubuntu 24.04.1 LTS"\n' >"$m/etc/lsb-release"
  # socket activation, as 24.04 ships it
  rm -f "$m/etc/systemd/system/multi-user.target.wants/ssh.service" "$m/etc/systemd/system/sshd.service"
  mkdir -p "$m/etc/systemd/system/sockets.target.wants"
  ln -sf /usr/lib/systemd/system/ssh.socket "$m/etc/systemd/system/sockets.target.wants/ssh.socket"
  mkdir -p "$m/usr/lib/systemd/system-generators"
  cat >"$m/usr/lib/systemd/system-generators/sshd-socket-generator" <<'EOG'
#!/bin/sh
# rampart lab: Ubuntu 24.04's sshd-socket-generator, emulated. At boot and at every
# `systemctl daemon-reload`, ssh.socket is given the ListenStream that sshd_config's Port and
# ListenAddress say; nothing when sshd listens on the default port 22 only. Reloading or
# restarting ssh.service alone does not change where the socket listens.
out=${1:-/run/systemd/generator}
cfg=$(/usr/sbin/sshd -G 2>/dev/null) || exit 0
ports=$(printf '%s\n' "$cfg" | awk '$1 == "port" { print $2 }')
explicit=$(cat /etc/ssh/sshd_config /etc/ssh/sshd_config.d/*.conf 2>/dev/null | grep -iE '^[[:space:]]*ListenAddress[[:space:]]')
[ "$ports" = 22 ] && [ -z "$explicit" ] && exit 0
mkdir -p "$out/ssh.socket.d"
{
  echo '[Socket]'
  echo 'ListenStream='
  if [ -n "$explicit" ]; then
    echo 'BindIPv6Only=ipv6-only'
    printf '%s\n' "$cfg" | awk '$1 == "listenaddress" { print "ListenStream=" $2 }'
  else
    for p in $ports; do echo "ListenStream=$p"; done
  fi
} >"$out/ssh.socket.d/addresses.conf"
EOG
  chmod 755 "$m/usr/lib/systemd/system-generators/sshd-socket-generator"
  printf 'PasswordAuthentication yes\n' >"$m/etc/ssh/sshd_config.d/50-cloud-init.conf"
  # the image's admin user
  chroot "$m" useradd -m -s /bin/bash -G sudo ubuntu
  printf 'ubuntu ALL=(ALL) NOPASSWD:ALL\n' >"$m/etc/sudoers.d/90-cloud-init-users"
  chmod 440 "$m/etc/sudoers.d/90-cloud-init-users"
  install -d -m 700 -o "$(chroot "$m" id -u ubuntu)" -g "$(chroot "$m" id -g ubuntu)" "$m/home/ubuntu/.ssh"
  install -m 600 -o "$(chroot "$m" id -u ubuntu)" -g "$(chroot "$m" id -g ubuntu)" "$LAB/id_lab.pub" "$m/home/ubuntu/.ssh/authorized_keys"
}

# Prepare host $1 (not running, already cleared) from a fresh upper dir (or, with "keep" as $2,
# on the disk it had: reboot.sh): host key (kept if it exists), overlay mount, identity files,
# netns and veth. Every file written into merged/ lands in the host's upper layer only; the
# shared root is never written.
lab_prepare() {
  local i=$1 keep=${2:-} d m ns veth docker repo os rootfs uid
  d=$(lab_dir "$i"); m=$d/merged; ns=$(lab_ns "$i"); veth=$(lab_veth "$i")
  eval "$(lab_host_options "$i")"
  rootfs=$(lab_rootfs "$(lab_suite "$os")")
  [ -e "$rootfs/.lab-customised" ] || lab_die "h$i: no $(lab_suite "$os") root at $rootfs (tests/lab/build-rootfs.sh $(lab_suite "$os"))"
  # "claimed": a caller reset (or rebooted) the host to use it; a host up.sh booted and nobody
  # claimed since is pristine (Lab::pristine: the transport test pings every host without
  # resetting the pristine ones)
  [ "$keep" = keep ] || rm -rf "$d/upper" "$d/work" "$d/docker" "$d/claimed"
  rm -f "$d/console.log"
  mkdir -p "$d/upper" "$d/work" "$m" "$d/hostkey"
  printf 'docker=%s\nrepo=%s\nos=%s\n' "$docker" "$repo" "$os" >"$d/options"
  if [ ! -s "$d/hostkey/ssh_host_ed25519_key" ] || [ ! -s "$d/hostkey/ssh_host_ed25519_key.pub" ]; then
    rm -f "$d/hostkey/ssh_host_ed25519_key"*
    ssh-keygen -q -t ed25519 -N '' -C "root@h$i" -f "$d/hostkey/ssh_host_ed25519_key"
  fi
  mount -t overlay overlay -o "lowerdir=$rootfs,upperdir=$d/upper,workdir=$d/work" "$m"
  # A reboot keeps the disk exactly as the host left it: what rampart changed there (hosts,
  # authorized_keys, ...) is what a boot-persistence test looks at.
  if [ "$keep" != keep ]; then
    echo "h$i" >"$m/etc/hostname"
    printf '127.0.0.1\tlocalhost\n%s\th%s\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n' \
      "$(lab_addr "$i")" "$i" >"$m/etc/hosts"
    # a stable machine-id like a real VPS (the root's is empty: systemd would make up one per boot)
    od -An -tx1 -N16 /dev/urandom | tr -d ' \n' >"$m/etc/machine-id"; echo >>"$m/etc/machine-id"
    # no DNS in the lab: the root's resolv.conf names the machine's resolver, which hosts cannot
    # reach, so every lookup would wait 5 s per try. 127.0.0.1 refuses at once.
    rm -f "$m/etc/resolv.conf"
    printf '# rampart lab: hosts have no DNS; lookups fail at once\nnameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$m/etc/resolv.conf"
    # the host key we generated, so known_hosts is known before the host boots
    install -m 600 "$d/hostkey/ssh_host_ed25519_key" "$m/etc/ssh/ssh_host_ed25519_key"
    install -m 644 "$d/hostkey/ssh_host_ed25519_key.pub" "$m/etc/ssh/ssh_host_ed25519_key.pub"
    uid=$(awk -F: '$1 == "lab" { print $3 ":" $4 }' "$rootfs/etc/passwd")
    [ -n "$uid" ] || lab_die "the lab root has no user 'lab': rebuild it (tests/lab/build-rootfs.sh)"
    install -d -m 700 "$m/root/.ssh"
    install -m 600 "$LAB/id_lab.pub" "$m/root/.ssh/authorized_keys"
    install -d -m 700 -o "${uid%:*}" -g "${uid#*:}" "$m/home/lab/.ssh"
    install -m 600 -o "${uid%:*}" -g "${uid#*:}" "$LAB/id_lab.pub" "$m/home/lab/.ssh/authorized_keys"
    if [ "$repo" = 1 ]; then
      # the lab's offline repository (tests/lab/repo.sh), bind-mounted read-only by lab_boot
      echo 'deb [trusted=yes] file:/srv/lab-repo ./' >"$m/etc/apt/sources.list.d/rampart-lab.list"
    fi
    [ "$os" = ubuntu ] && lab_ubuntu_profile "$m"
    if [ "$docker" = 1 ]; then
      # nspawn mounts the v1 controller hierarchies read-only: runc could not mkdir
      # /sys/fs/cgroup/<ctrl>/docker. Remount them rw (a bind remount changes only this mount's
      # flag) before containerd/docker start.
      cat >"$m/etc/systemd/system/rampart-lab-cgroup-rw.service" <<'EOU'
[Unit]
Description=rampart lab: make cgroup v1 controller mounts writable (docker in nspawn)
DefaultDependencies=no
Before=sysinit.target containerd.service docker.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'for m in $$(findmnt -rn -t cgroup -o TARGET); do mount -o remount,bind,rw "$$m"; done'

[Install]
WantedBy=sysinit.target
EOU
      mkdir -p "$m/etc/systemd/system/sysinit.target.wants"
      ln -sf ../rampart-lab-cgroup-rw.service "$m/etc/systemd/system/sysinit.target.wants/rampart-lab-cgroup-rw.service"
    fi
  fi
  # overlay2 cannot sit on the host's overlay root: /var/lib/docker comes from the machine's disk
  [ "$docker" = 1 ] && mkdir -p "$d/docker"

  ip netns add "$ns"
  ip link add "$veth" type veth peer name eth0 netns "$ns"
  ip addr add "$(lab_gw "$i")/24" dev "$veth"
  ip link set "$veth" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$(lab_addr "$i")/24" dev eth0
  ip -n "$ns" link set eth0 up
  # the root namespace keeps ip_forward=0: the default route leads nowhere beyond the machine
  ip -n "$ns" route add default via "$(lab_gw "$i")"
}

# Boot host $1 (prepared) in the background and record nspawn's PID.
lab_boot() {
  local i=$1 d docker repo os fd args=()
  d=$(lab_dir "$i")
  eval "$(lab_host_options "$i")"
  [ "$repo" = 1 ] && args+=(--bind-ro="$(lab_repo_dir "$(lab_suite "$os")"):/srv/lab-repo")
  # runc needs keyctl (nspawn's default filter refuses it)
  [ "$docker" = 1 ] && args+=(--system-call-filter=@keyring --bind="$d/docker:/var/lib/docker")
  read -ra extra <<<"${LAB_NSPAWN_ARGS:-}"
  (
    # the lock fds must not live on in the container's nspawn
    for fd in "${LAB_LOCK_FDS[@]}"; do exec {fd}>&-; done
    # Every host gets its own cgroup subtree (not only docker hosts): otherwise all containers
    # share /payload/system.slice/<unit> on the machine, and one host's systemd sees another's
    # processes in its units ("Failed to dump process list ... Input/output error" on h1 after
    # stopping a unit h2 also runs; seen).
    lab_cgroup_enter "$(lab_machine "$i")"
    # --register=no --keep-unit: no systemd/machined on the machine. CAP_NET_ADMIN is not
    # granted with --network-namespace-path (ufw/iptables fail without it). API_VFS_WRITABLE:
    # else /proc/sys is read-only and sysctl -w fails. resolv.conf/timezone/journal "off": the
    # host keeps its own files, as a real VPS does (see lab_prepare). setsid: a ^C to tests/run
    # must not reach the containers; down.sh stops them in order.
    SYSTEMD_NSPAWN_API_VFS_WRITABLE=1 exec setsid systemd-nspawn --boot --quiet \
      -D "$d/merged" -M "$(lab_machine "$i")" \
      --network-namespace-path="/run/netns/$(lab_ns "$i")" --register=no --keep-unit \
      --capability=CAP_NET_ADMIN --console=passive \
      --resolv-conf=off --timezone=off --link-journal=no \
      "${args[@]}" "${extra[@]}" </dev/null >"$d/console.log" 2>&1
  ) &
  echo $! >"$d/nspawn.pid"
}

# --- waiting --------------------------------------------------------------------------------------
# First 4 bytes sshd sends on connect ("SSH-"), or nothing. The probe sends its own
# identification first: a bare connect-and-close makes sshd log an error
# (kex_exchange_identification: Connection reset) that fail2ban's ddos/aggressive modes count
# against 10.213.N.1, the address rampart's tests connect from. This way it is an INFO line.
lab_banner() {
  # shellcheck disable=SC2016  # $1 is the inner shell's
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/22" && printf "SSH-2.0-rampart-lab-probe\r\n" >&3 && head -c4 <&3' _ "$1" 2>/dev/null || true
}

# Wait for hosts: sshd banner on every one, then (LAB_WAIT_RUNNING=1, the default) one strict
# SSH login each that waits for `systemctl is-system-running --wait`: running or degraded passes.
# The login also proves known_hosts, the client key and ssh_config. All waits are bounded.
lab_wait() {
  local t0 i p pending next deadline state failed out rc=0 n=$#
  ((n)) || return 0
  t0=$(lab_now)
  local timeout=${LAB_BOOT_TIMEOUT:-$((60 + 2 * n))}
  deadline=$((t0 + timeout * 1000000))
  # nspawn execs from a bash subshell: wait (bounded) until every PID really is nspawn
  for i in "$@"; do
    for _ in $(seq 1 50); do lab_nspawn_pid "$i" >/dev/null && break; sleep 0.02; done
  done
  pending=("$@")
  while ((${#pending[@]})); do
    next=()
    for i in "${pending[@]}"; do
      [ "$(lab_banner "$(lab_addr "$i")")" = SSH- ] && { lab_leader "$i" >"$(lab_dir "$i")/leader.pid" || true; continue; }
      if ! lab_nspawn_pid "$i" >/dev/null; then
        printf '%s: error: h%s: systemd-nspawn exited during boot; last lines of %s:\n' "${0##*/}" "$i" "$(lab_dir "$i")/console.log" >&2
        tail -n 20 "$(lab_dir "$i")/console.log" >&2
        return 1
      fi
      next+=("$i")
    done
    pending=("${next[@]}")
    ((${#pending[@]})) || break
    if (($(lab_now) > deadline)); then
      lab_warn "sshd not answering after ${timeout}s on: $(printf 'h%s ' "${pending[@]}")"
      return 1
    fi
    sleep 0.2
  done
  # shellcheck disable=SC2034  # read by up.sh / reset.sh
  LAB_T_SSH=$(lab_since "$t0")
  [ "${LAB_WAIT_RUNNING:-1}" = 1 ] || return 0

  out=$(mktemp -d)
  local -A job=()
  local max=${LAB_SSH_PARALLEL:-32} j alive
  for i in "$@"; do
    # bounded parallelism over our own ssh PIDs only: `jobs` and a bare `wait` would count
    # the nspawn processes too, which are this shell's children
    while :; do
      alive=0
      for j in "${job[@]}"; do kill -0 "$j" 2>/dev/null && alive=$((alive + 1)); done
      ((alive < max)) && break
      sleep 0.05
    done
    (
      timeout "$timeout" ssh -n -F "$LAB/ssh_config" "$(lab_addr "$i")" \
        'systemctl is-system-running --wait; systemctl --failed --no-legend --plain | cut -d" " -f1 | tr "\n" " "' \
        >"$out/$i" 2>"$out/$i.err"
      echo $? >"$out/$i.rc"
    ) &
    job[$i]=$!
  done
  for i in "${!job[@]}"; do wait "${job[$i]}" || true; done
  for i in "$@"; do
    state=$(head -n1 "$out/$i" 2>/dev/null); failed=$(sed -n 2p "$out/$i" 2>/dev/null)
    case $state in
      running) ;;
      degraded) LAB_DEGRADED+=("h$i: ${failed% }") ;;
      *)
        rc=1
        lab_warn "h$i: systemd state '${state:-?}' (ssh exit $(cat "$out/$i.rc" 2>/dev/null)): $(tr '\n' ' ' <"$out/$i.err" 2>/dev/null)${failed:+ failed units: $failed}"
        ;;
    esac
  done
  rm -rf "$out"
  # shellcheck disable=SC2034  # read by up.sh / reset.sh
  LAB_T_SETTLED=$(lab_since "$t0")
  return "$rc"
}

# Print the degraded hosts grouped by their failed units: one line per distinct set.
lab_report_degraded() {
  ((${#LAB_DEGRADED[@]})) || return 0
  local e
  declare -A by=()
  for e in "${LAB_DEGRADED[@]}"; do by[${e#*: }]+="${e%%:*} "; done
  for e in "${!by[@]}"; do lab_log "degraded (failed: ${e:-?}): ${by[$e]% }"; done
  case " ${!by[*]} " in
    *fail2ban*) lab_log "(fail2ban fails on a fresh bookworm without rsyslog until its jail uses backend = systemd; real images do the same)" ;;
  esac
}

# --- files -------------------------------------------------------------------------------------------
lab_write() { # lab_write FILE MODE < content: atomic, readers never see half a file
  local tmp
  tmp=$(mktemp "$1.XXXXXX")
  cat >"$tmp"
  chmod "$2" "$tmp"
  mv -f "$tmp" "$1"
}

# Write the client files for the member hosts given (indices), replacing the old ones.
lab_write_files() {
  local i key
  (
    exec 9>"$LAB/locks/files"
    flock -w "$LAB_LOCK_TIMEOUT" 9
    for i in "$@"; do lab_addr "$i"; done | lab_write "$LAB/hosts.txt" 644
    for i in "$@"; do
      key=$(lab_dir "$i")/hostkey/ssh_host_ed25519_key.pub
      [ -s "$key" ] || { lab_warn "h$i has no host key; left out of known_hosts"; continue; }
      echo "$(lab_addr "$i") $(cut -d' ' -f1,2 "$key")"
    done | lab_write "$LAB/known_hosts" 644
    {
      echo "# rampart lab (tests/lab/up.sh): ssh -F $LAB/ssh_config 10.213.N.2 (or rampart-hN)"
      for i in "$@"; do printf 'Host %s\n  HostName %s\n' "$(lab_machine "$i")" "$(lab_addr "$i")"; done
      cat <<EOC
Host $LAB_NET.* rampart-h*
  User root
  Port 22
  IdentityFile $LAB/id_lab
  IdentitiesOnly yes
  UserKnownHostsFile $LAB/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  UpdateHostKeys no
  CheckHostIP no
  KexAlgorithms curve25519-sha256
  BatchMode yes
  ConnectTimeout 10
  LogLevel ERROR
EOC
    } | lab_write "$LAB/ssh_config" 644
    {
      printf '[defaults]\nuser = "root"\nport = 22\nidentity_file = "%s"\nknown_hosts = "%s"\n' "$LAB/id_lab" "$LAB/known_hosts"
      for i in "$@"; do printf '\n[hosts.h%s]\naddress = "%s"\n' "$i" "$(lab_addr "$i")"; done
      printf '\n[groups.lab]\nhosts = [%s]\n' "$(for i in "$@"; do printf '"h%s", ' "$i"; done | sed 's/, $//')"
    } | lab_write "$LAB/inventory.toml" 644
    {
      echo "[lab]"
      for i in "$@"; do
        echo "h$i ansible_host=$(lab_addr "$i") ansible_user=root ansible_ssh_private_key_file=$LAB/id_lab"
      done
      echo
      echo "[lab:vars]"
      echo "ansible_python_interpreter=/usr/bin/python3"
      # strict host key checking for the peers too, against the lab's own known_hosts
      echo "ansible_ssh_common_args='-o UserKnownHostsFile=$LAB/known_hosts -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o KexAlgorithms=curve25519-sha256'"
    } | lab_write "$LAB/inventory.ini" 644
  )
}
