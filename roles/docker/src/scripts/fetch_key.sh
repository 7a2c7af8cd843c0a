# shellcheck shell=sh
# Fetches Docker's apt key once, on the host: the seed's curl (https only, redirects included)
# into a temp file in the keyring directory; its fingerprint, computed by `openpgp_fingerprint`
# (defined before this script: sh, awk and coreutils, no gpg), must be the expected one before
# the file is renamed into place.
# $1 the URL $2 the expected fingerprint $3 the keyring directory $4 the keyring
url=$1 want=$2 keyrings=$3 keyring=$4
t=$(mktemp "$keyrings/.docker.asc.XXXXXX")
b=$(mktemp)
trap 'rm -f "$t" "$b"' EXIT
curl -fsSL --proto '=https' --proto-redir '=https' --retry 2 "$url" -o "$t"
openpgp_fingerprint
# shellcheck disable=SC2154 # $f is set by openpgp_fingerprint
[ -n "$f" ] || {
	echo "rampart: $url did not return an ASCII-armored OpenPGP (v4) public key" >&2
	exit 1
}
[ "$f" = "$want" ] || {
	echo "rampart: the key from $url has fingerprint $f, expected $want (repo_key_fingerprint)" >&2
	exit 1
}
chmod 0644 "$t"
mv -f "$t" "$keyring"
rm -f "$b"
trap - EXIT
