# shellcheck shell=sh
# unattended-upgrades.blacklist: after $1 (the connection), the packages that must be in
# apt's Unattended-Upgrade::Package-Blacklist; prints "missing: NAME" for each one that is not,
# then "checked". Exit 1 when apt-config cannot read the configuration.
shift
d=$(apt-config dump) || exit 1
for p do
	printf '%s\n' "$d" | grep -qxF "Unattended-Upgrade::Package-Blacklist:: \"$p\";" || echo "missing: $p"
done
echo checked
