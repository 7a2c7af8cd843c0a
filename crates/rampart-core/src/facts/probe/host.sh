# shellcheck shell=sh disable=SC1091,SC2034,SC2154 # os-release is the host's; read's fields are named; rampart_conn is the probe's
# The probe's host section, always first (facts::probe). $1: the section's marker line.
# rampart_conn is the probe's own $1 (SSH_CONNECTION). rampart_file PATH [stat] prints one
# path's state (the paths the batched find/tar pass cannot frame).
printf '%s\n' "$1"
rampart_file() {
  if [ -L "$1" ]; then printf 'link|%s\n' "$(readlink -- "$1")"
  elif [ -f "$1" ]; then
    stat -c 'file|%a|%U|%G|%s' -- "$1"
    if [ -n "$2" ]; then echo -
    elif [ "$(stat -c %s -- "$1")" -le 1048576 ]; then base64 -w0 -- "$1"; echo
    elif [ "$(stat -c %s -- "$1")" -le 67108864 ]; then sha256sum -- "$1" | cut -d' ' -f1
    else echo -; fi
  elif [ -d "$1" ]; then stat -c 'dir|%a|%U|%G' -- "$1"
  elif [ -e "$1" ]; then echo other
  else echo absent; fi
}
. /etc/os-release 2>/dev/null
echo "os_id=${ID:-unknown}"
echo "os_version_id=${VERSION_ID:-}"
echo "os_codename=${VERSION_CODENAME:-${UBUNTU_CODENAME:-}}"
echo "os_pretty=${PRETTY_NAME:-}"
read -r rampart_v </proc/sys/kernel/hostname; echo "hostname=$rampart_v"
read -r rampart_v </proc/sys/kernel/osrelease; echo "kernel=$rampart_v"
read -r rampart_v 2>/dev/null </proc/sys/kernel/arch || rampart_v=$(uname -m); echo "arch=$rampart_v"
if [ -d /run/systemd/system ]; then
  echo systemd=1
  if [ -r /run/systemd/container ]; then read -r rampart_v </run/systemd/container; else rampart_v=none; fi
else
  echo systemd=0
  rampart_v=$(systemd-detect-virt -c 2>/dev/null) || rampart_v=none
fi
echo "virt=${rampart_v:-none}"
rampart_v=
while read -r i d g f r u met m rest; do
  if [ "$d" = 00000000 ] && [ "$m" = 00000000 ]; then rampart_v=$i; break; fi
done </proc/net/route 2>/dev/null
echo "default_iface=$rampart_v"
rampart_v=
while read -r d dl s sl nh met ref use fl i; do
  if [ "$d" = 00000000000000000000000000000000 ] && [ "$dl" = 00 ] && [ "$i" != lo ]; then rampart_v=$i; break; fi
done </proc/net/ipv6_route 2>/dev/null
echo "default_iface6=$rampart_v"
if [ -e /var/log/auth.log ]; then echo has_auth_log=1; else echo has_auth_log=0; fi
echo "ssh_connection=$rampart_conn"
echo "sudo_user=${SUDO_USER:-}"
