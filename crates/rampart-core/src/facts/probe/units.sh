# shellcheck shell=sh
# systemd's view of the units (facts::probe). $1: the section's marker line; $2: more
# properties to show, comma-separated (may be empty; timestamps among them print as @SECONDS,
# or as systemd formats them where it has no --timestamp, before 247); $3: the units they are
# asked of, comma-separated, as named in the list (systemctl prints them for every unit);
# then the units.
#
# The answer comes from systemd's own socket, /run/systemd/private (tests point $rampart_bus
# elsewhere), asked by rampart_units_pl below with perl-base (Essential on Debian and
# Ubuntu): one ListUnitsByNames for every unit's id and states, then a property Get of each
# unit's UnitFileState and NeedDaemonReload and of the more properties of the units in $3,
# all written at once. `systemctl show` asks for every property of every interface of each
# unit (a service's include its cgroup's counters) and costs a host ~27 ms of CPU for a full
# site's 15 units; this ~16 ms (BENCHMARKS.md). The perl prints what `systemctl show
# --timestamp=unix --property=...` prints (a block per unit, in the order asked; an alias
# under its unit's id; the properties in another order): of the more properties, a service's
# MainPID and ExecMainStartTimestamp (@SECONDS, empty when it never started) and the sandbox
# settings of a unit that runs processes (service, socket, mount, swap). It prints nothing
# unless every answer came: on any failure (no perl, no socket, an error answer, an
# unexpected type, a property it does not know, 10 s without an answer) systemctl answers.
printf '%s\n' "$1"
rampart_p=Id,LoadState,ActiveState,SubState,UnitFileState,NeedDaemonReload
rampart_more=$2 rampart_of=$3
shift 3
# shellcheck disable=SC2016 # perl's own $variables
rampart_units_pl='
$SIG{ALRM} = sub { exit 1 }; alarm 10;
my ($sock, $more, $of, @names) = @ARGV;
my %of = map { $_ => 1 } split /,/, $of;
my %exec = map { $_ => 1 } qw(NoNewPrivileges PrivateTmp ProtectSystem ProtectHome ReadWritePaths);
my %main = map { $_ => 1 } qw(MainPID ExecMainStartTimestamp);
my @more = grep { length } split /,/, $more;
$exec{$_} || $main{$_} or exit 1 for @more;
socket(my $s, 1, 1, 0) or exit 1;
connect($s, pack("S Z108", 1, $sock)) or exit 1;
binmode $s;
sub out { my $b = shift; while (length $b) { my $n = syswrite($s, $b); $n or exit 1; substr($b, 0, $n) = "" } }
sub pad { "\0" x ((-$_[0]) % $_[1]) }
sub str { my ($b, $v) = @_; $b . pad(length $b, 4) . pack("V", length $v) . $v . "\0" }
sub field { my ($b, $code, $sig, $v) = @_; $b .= pad(length $b, 8) . pack("CC", $code, length $sig) . "$sig\0";
  $sig eq "g" ? $b . pack("C", length $v) . "$v\0" : str($b, $v) }
my ($req, $serial, @asked) = ("", 0);
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
for my $i (0 .. $#units) {
  (my $e = $units[$i]) =~ s/([^A-Za-z0-9])/sprintf("_%02x", ord $1)/ge;
  $e =~ s/\A([0-9])/sprintf("_%02x", ord $1)/e;
  my ($type) = $units[$i] =~ /\.(\w+)\z/;
  my @p = map { [$_, "Unit"] } qw(UnitFileState NeedDaemonReload);
  for my $p ($of{$names[$i]} ? @more : ()) {
    push @p, [$p, ucfirst $type] if $type eq "service" || ($exec{$p} && $type =~ /\A(socket|mount|swap)\z/);
  }
  for my $p (@p) {
    call("/org/freedesktop/systemd1/unit/$e", "org.freedesktop.DBus.Properties", "Get", "ss", str(str("", "$sys.$p->[1]"), $p->[0]));
    push @asked, [$i, $p->[0]];
  }
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
my ($o, $end, @text) = (8, 8 + unpack("V", $b));
while ($o < $end) {
  $o += (-$o) % 8; my @f;
  for (1 .. 6) { (my $v, $o) = s_at($b, $o); push @f, $v }
  (undef, $o) = s_at($b, $o); $o += (-$o) % 4; $o += 4; (undef, $o) = s_at($b, $o); (undef, $o) = s_at($b, $o);
  push @text, "Id=$f[0]\nLoadState=$f[2]\nActiveState=$f[3]\nSubState=$f[4]\n";
}
@text == @units or exit 1;
for my $k (0 .. $#asked) {
  my ($i, $p) = @{$asked[$k]};
  my $v = $r{$k + 2};
  my $sig = substr($v, 1, unpack("C", $v));
  my $at = 3 + length $sig;
  if ($sig eq "s") { ($v) = s_at($v, $at) }
  elsif ($sig eq "b") { $v = unpack("x4 V", $v) ? "yes" : "no" }
  elsif ($sig eq "u") { $v = unpack("x4 V", $v) }
  elsif ($sig eq "t") { my $t = unpack("x8 Q<", $v); $v = $t && $t != ~0 ? "@" . int($t / 1000000) : "" }
  elsif ($sig eq "as") { my ($n, @a) = (unpack("x4 V", $v)); my $q = 8;
    while ($q < 8 + $n) { (my $e, $q) = s_at($v, $q); push @a, $e } $v = join " ", @a }
  else { exit 1 }
  $text[$i] .= "$p=$v\n";
}
print join "\n", @text;
'
if perl -e "$rampart_units_pl" "${rampart_bus:-/run/systemd/private}" "$rampart_more" "$rampart_of" "$@" 2>/dev/null; then
  :
elif [ -z "$rampart_more" ]; then
  systemctl show --property="$rampart_p" -- "$@" 2>/dev/null || true
else
  rampart_p=$rampart_p,$rampart_more
  systemctl show --timestamp=unix --property="$rampart_p" -- "$@" 2>/dev/null ||
    systemctl show --property="$rampart_p" -- "$@" 2>/dev/null || true
fi
