# shellcheck shell=sh
# The end marker, then the contents' archive, raw (no base64 process, a third fewer bytes);
# over $3 bytes gzipped (-1): one more process, a third of the bytes on the wire and in the
# controller's memory. $1: the marker line, $2: "1" when a tar carries contents.
printf '%s\n' "$1"
# shellcheck disable=SC2154 # stats.sh's
if [ -n "$2" ] && [ -n "$rampart_small" ]; then
  if [ "$rampart_sum" -gt "$3" ]; then
    printf '%s' "$rampart_small" | tar -cPf - -b 1 --no-recursion --hard-dereference --no-unquote --verbatim-files-from -T - 2>/dev/null | gzip -1
  else
    printf '%s' "$rampart_small" | tar -cPf - -b 1 --no-recursion --hard-dereference --no-unquote --verbatim-files-from -T - 2>/dev/null
  fi
fi
