# shellcheck shell=sh
# Arms the dead-man switch (rollback::arm_script). $1: the snapshot directory, $2: the systemd
# unit, $3: the delay in seconds, $4: the marker, $5: "ufw" when a path is ufw's (else "-"),
# $6: "sshd" when a path is sshd's (else "-"), then the paths to snapshot. The restore script
# comes on stdin, in base64. Prints "@@$4 armed", or "@@$4 arm-failed" and exits 1: then
# nothing must be applied.
rampart_arm() (
set -e
d=$1 unit=$2 delay=$3 marker=$4 flag_ufw=$5 flag_sshd=$6
shift 6
umask 077
mkdir -p "$d"
base64 -d > "$d/restore.sh"
exec </dev/null
: > "$d/absent"
: > "$d/present"
for p in "$@"; do
  if [ -e "$p" ] || [ -L "$p" ]; then printf '%s\n' "$p" >> "$d/present"; else printf '%s\n' "$p" >> "$d/absent"; fi
done
# tar of the listed files only (no directories as members): restoring it never touches
# the mode or owner of a parent directory, / included.
sed 's|^/||' "$d/present" | tar -cpf "$d/files.tar" -C / --no-recursion -T -
if command -v iptables-save >/dev/null; then iptables-save > "$d/iptables.v4" 2>/dev/null || true; ip6tables-save > "$d/iptables.v6" 2>/dev/null || true; fi
if [ "$flag_ufw" = ufw ]; then touch "$d/ufw"; fi
if [ "$flag_sshd" = sshd ]; then
  touch "$d/sshd"
  # sshd was socket-activated before the change: the restore brings it back that way
  if systemctl is-active --quiet ssh.socket 2>/dev/null; then touch "$d/ssh.socket"; fi
fi
if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null; then
  systemd-run --quiet --unit="$unit" --on-active="$delay" --timer-property=AccuracySec=1s /bin/sh "$d/restore.sh"
else
  # shellcheck disable=SC2016 # the inner sh expands $1 and $2
  setsid nohup sh -c 'sleep "$1"; [ -e "$2/restore.sh" ] && sh "$2/restore.sh"' sh "$delay" "$d" >/dev/null 2>&1 < /dev/null &
  echo $! > "$d/sleeper.pid"
fi
echo "@@$marker armed"
)
