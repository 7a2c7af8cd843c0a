# shellcheck shell=sh
# systemd's view of the units (facts::probe). $1: the section's marker line; $2: more
# properties to show, comma-separated (may be empty; timestamps among them print as @SECONDS,
# or as systemd formats them where it has no --timestamp, before 247); then the units.
#
# Without more properties the answer comes from systemd's own socket, /run/systemd/private
# (tests point $rampart_bus elsewhere), asked by rampart_units_pl below with perl-base
# (Essential on Debian and Ubuntu): one ListUnitsByNames for every unit's id and states, then
# UnitFileState and NeedDaemonReload of each, all written at once. `systemctl show` asks for
# every property of every interface of each unit (a service's include its cgroup's counters)
# and costs a host ~27 ms of CPU for a full site's 15 units; this ~16 ms (BENCHMARKS.md).
# The perl prints what `systemctl show --property=$rampart_p` prints (a block per unit, in
# the order asked; an alias under its unit's id) and nothing unless every answer came: on any
# failure (no perl, no socket, an error answer, an unexpected type, 10 s without an answer)
# systemctl answers.
printf '%s\n' "$1"
rampart_p=Id,LoadState,ActiveState,SubState,UnitFileState,NeedDaemonReload
if [ -z "$2" ]; then
  shift 2
  # shellcheck disable=SC2016 # perl's own $variables
  rampart_units_pl='
$SIG{ALRM} = sub { exit 1 }; alarm 10;
my ($sock, @names) = @ARGV;
socket(my $s, 1, 1, 0) or exit 1;
connect($s, pack("S Z108", 1, $sock)) or exit 1;
binmode $s;
sub out { my $b = shift; while (length $b) { my $n = syswrite($s, $b); $n or exit 1; substr($b, 0, $n) = "" } }
sub pad { "\0" x ((-$_[0]) % $_[1]) }
sub str { my ($b, $v) = @_; $b . pad(length $b, 4) . pack("V", length $v) . $v . "\0" }
sub field { my ($b, $code, $sig, $v) = @_; $b .= pad(length $b, 8) . pack("CC", $code, length $sig) . "$sig\0";
  $sig eq "g" ? $b . pack("C", length $v) . "$v\0" : str($b, $v) }
my ($req, $serial) = ("", 0);
sub call { my ($path, $if, $member, $sig, $body) = @_;
  my $f = field(field(field(field("", 1, "o", $path), 2, "s", $if), 3, "s", $member), 8, "g", $sig);
  my $h = pack("a C C C V V V", "l", 1, 0, 1, length $body, ++$serial, length $f) . $f;
  $req .= $h . pad(length $h, 8) . $body }
my (@units, $list);
for my $n (@names) {
  $n =~ /\A[A-Za-z0-9:_.\\\@-]+\z/ or exit 1;
  my $u = $n =~ /\.(service|socket|target|device|mount|automount|swap|timer|path|slice|scope)\z/ ? $n : "$n.service";
  push @units, $u; $list = str($list, $u);
}
my $sys = "org.freedesktop.systemd1";
call("/org/freedesktop/systemd1", "$sys.Manager", "ListUnitsByNames", "as", pack("V", length $list) . $list);
for my $u (@units) {
  (my $e = $u) =~ s/([^A-Za-z0-9])/sprintf("_%02x", ord $1)/ge;
  $e =~ s/\A([0-9])/sprintf("_%02x", ord $1)/e;
  call("/org/freedesktop/systemd1/unit/$e", "org.freedesktop.DBus.Properties", "Get", "ss", str(str("", "$sys.Unit"), $_))
    for qw(UnitFileState NeedDaemonReload);
}
out("\0AUTH EXTERNAL " . unpack("H*", $<) . "\r\n");
my $in = "";
until ($in =~ /\r\n/) { sysread($s, $in, 4096, length $in) or exit 1 }
$in =~ /\AOK / or exit 1;
out("BEGIN\r\n" . $req);
sub s_at { my ($m, $o) = @_; $o += (-$o) % 4; my $l = unpack("x$o V", $m); (substr($m, $o + 4, $l), $o + 5 + $l) }
my (%r, $got);
$in = "";
while ($got < $serial) {
  sysread($s, $in, 65536, length $in) or exit 1;
  while (length $in >= 16) {
    my ($end, $type, $blen, $fl) = unpack("a C x x V x4 V", $in);
    $end eq "l" or exit 1;
    my $hl = 16 + $fl; $hl += (-$hl) % 8;
    last if length $in < $hl + $blen;
    my $m = substr($in, 0, $hl + $blen, "");
    next if $type == 4;
    $type == 2 or exit 1;
    my ($rs, $o) = (0, 16);
    while ($o < 16 + $fl) {
      $o += (-$o) % 8;
      my ($code, $sl) = unpack("x$o C C", $m);
      my $sig = substr($m, $o + 2, $sl); $o += 3 + $sl;
      if ($sig eq "g") { $o += 2 + unpack("x$o C", $m) }
      elsif ($sig eq "u") { $o += (-$o) % 4; $rs = unpack("x$o V", $m) if $code == 5; $o += 4 }
      else { (undef, $o) = s_at($m, $o) }
    }
    $r{$rs} = substr($m, $hl); $got++;
  }
}
my $b = $r{1};
my ($n, $o, $l) = (0, 4, unpack("V", $b));
my @state;
while ($o < 4 + $l + ((-4) % 8)) {
  $o += (-$o) % 8; my @f;
  for (1 .. 6) { (my $v, $o) = s_at($b, $o); push @f, $v }
  (undef, $o) = s_at($b, $o); $o += (-$o) % 4; $o += 4; (undef, $o) = s_at($b, $o); (undef, $o) = s_at($b, $o);
  push @state, "Id=$f[0]\nLoadState=$f[2]\nActiveState=$f[3]\nSubState=$f[4]\n";
}
@state == @units or exit 1;
my $text = "";
for my $i (0 .. $#units) {
  $text .= "\n" if $i;
  my ($fs, $dr) = ($r{2 * $i + 2}, $r{2 * $i + 3});
  $fs =~ /\A\x01s\0/ && $dr =~ /\A\x01b\0/ or exit 1;
  $text .= $state[$i] . "UnitFileState=" . (s_at($fs, 3))[0] . "\nNeedDaemonReload=" . (unpack("x4 V", $dr) ? "yes" : "no") . "\n";
}
print $text;
'
  perl -e "$rampart_units_pl" "${rampart_bus:-/run/systemd/private}" "$@" 2>/dev/null ||
    systemctl show --property="$rampart_p" -- "$@" 2>/dev/null || true
else
  rampart_p=$rampart_p,$2
  shift 2
  systemctl show --timestamp=unix --property="$rampart_p" -- "$@" 2>/dev/null ||
    systemctl show --property="$rampart_p" -- "$@" 2>/dev/null || true
fi
