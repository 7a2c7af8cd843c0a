# fail2ban's own protocol, for the jail checks (checks/jail.sh): the five questions of the
# check on one connection to the server's socket (argv[0]), printed as `fail2ban-client -i`
# prints them. fail2ban-client spends ~60 ms of a host's CPU importing its package, and
# Python's start-up alone ~20 ms; perl-base is Essential on Debian and Ubuntu and starts in
# ~2 ms (no module is loaded: the socket calls are perl's own). Each question is a pickled
# list of strings ended by `<F2B_END_COMMAND>`; each answer a pickled (code, value), read by a
# small unpickler of the plain values the server sends: strings, integers, lists, tuples,
# and the addresses as `str(...)` reductions. Anything else (no socket, an error answer, an
# opcode or a type it does not know, 10 s without an answer) exits 1, and the check asks
# fail2ban-client instead, so errors stay the tool's own.
$SIG{ALRM} = sub { exit 1 };
alarm 10;
my $END = "<F2B_END_COMMAND>";
socket(my $s, 1, 1, 0) or exit 1;
connect($s, pack("S Z108", 1, $ARGV[0])) or exit 1;
binmode $s;

sub ask {
    my $q = "\x80\x02](";
    $q .= "X" . pack("V", length $_) . $_ for @_;
    $q .= "e." . $END;
    while (length $q) { my $n = syswrite($s, $q); $n or exit 1; substr($q, 0, $n) = "" }
    my $in = "";
    until (substr($in, -length $END) eq $END) { sysread($s, $in, 65536, length $in) or exit 1 }
    my $r = unpickle(substr($in, 0, -length $END));
    ref $r && $r->[0] eq "T" && @$r == 3 && !ref $r->[1] && $r->[1] eq "0" or exit 1;
    $r->[2];
}

# Lists are ["L", items...], tuples ["T", items...]; strings and integers are plain scalars.
sub unpickle {
    my ($d) = @_;
    my ($i, @st, @marks, %memo) = (0);
    my $take = sub { my $v = substr($d, $i, $_[0]); length $v == $_[0] or exit 1; $i += $_[0]; $v };
    while ($i < length $d) {
        my $op = $take->(1);
        if    ($op eq "\x80") { $take->(1) }                      # PROTO
        elsif ($op eq "\x95") { $take->(8) }                      # FRAME
        elsif ($op eq ".")    { @st == 1 or exit 1; return $st[0] }
        elsif ($op eq "]")    { push @st, ["L"] }
        elsif ($op eq ")")    { push @st, ["T"] }
        elsif ($op eq "(")    { push @marks, scalar @st }
        elsif ($op eq "a")    { @st >= 2 or exit 1; my $v = pop @st; push @{ $st[-1] }, $v }
        elsif ($op eq "e" || $op eq "t") {
            @marks or exit 1;
            my @v = splice @st, pop @marks;
            if ($op eq "t") { push @st, ["T", @v] }
            else { @st && ref $st[-1] && $st[-1][0] eq "L" or exit 1; push @{ $st[-1] }, @v }
        }
        elsif ($op =~ /\A[\x85\x86\x87]\z/) {
            my $n = ord($op) - 0x84;
            @st >= $n or exit 1;
            push @st, ["T", splice @st, -$n];
        }
        elsif ($op eq "\x8c") { push @st, $take->(ord $take->(1)) }          # SHORT_BINUNICODE
        elsif ($op eq "X")    { push @st, $take->(unpack "V", $take->(4)) }  # BINUNICODE
        elsif ($op eq "K")    { push @st, ord $take->(1) }                   # BININT1
        elsif ($op eq "M")    { push @st, unpack "v", $take->(2) }           # BININT2
        elsif ($op eq "J")    { push @st, unpack "l<", $take->(4) }          # BININT
        elsif ($op eq "\x94") { @st or exit 1; $memo{ scalar keys %memo } = $st[-1] }
        elsif ($op eq "q")    { @st or exit 1; $memo{ ord $take->(1) } = $st[-1] }
        elsif ($op eq "r")    { @st or exit 1; $memo{ unpack "V", $take->(4) } = $st[-1] }
        elsif ($op eq "h" || $op eq "j") {
            my $k = $op eq "h" ? ord $take->(1) : unpack "V", $take->(4);
            exists $memo{$k} or exit 1;
            push @st, $memo{$k};
        }
        elsif ($op eq "\x93") {                                   # STACK_GLOBAL: builtins.str only
            @st >= 2 or exit 1;
            my ($m, $n) = splice @st, -2;
            $m eq "builtins" && $n eq "str" or exit 1;
            push @st, ["str"];
        }
        elsif ($op eq "c") {                                      # GLOBAL (protocol 2)
            my $j = index($d, "\n", index($d, "\n", $i) + 1);
            $j > 0 or exit 1;
            my $g = $take->($j + 1 - $i);
            $g =~ /\A(?:builtins\nstr|__builtin__\n(?:str|unicode))\n\z/ or exit 1;
            push @st, ["str"];
        }
        elsif ($op eq "R") {                                      # REDUCE: str(a string)
            @st >= 2 or exit 1;
            my ($f, $a) = splice @st, -2;
            ref $f && $f->[0] eq "str" && ref $a && $a->[0] eq "T" && @$a == 2 && !ref $a->[1] or exit 1;
            push @st, $a->[1];
        }
        else { exit 1 }
    }
    exit 1;
}

sub tree {
    my ($items, $indent) = @_;
    my @out;
    ref $items && $items->[0] eq "L" or exit 1;
    my @items = @$items[1 .. $#$items];
    for my $n (0 .. $#items) {
        my $it = $items[$n];
        ref $it && $it->[0] eq "T" && @$it == 3 && !ref $it->[1] or exit 1;
        my ($key, $value) = @$it[1, 2];
        my $last = $n == $#items;
        my $branch = $indent . ($last ? "`- " : "|- ");
        if (ref $value && $value->[0] eq "L" && @$value > 1 && ref $value->[1] && $value->[1][0] eq "T") {
            push @out, $branch . $key, tree($value, $indent . ($last ? "   " : "|  "));
        } else {
            if (ref $value) {
                $value->[0] eq "L" or exit 1;
                !ref $_ or exit 1 for @$value[1 .. $#$value];
                $value = join " ", @$value[1 .. $#$value];
            }
            push @out, "$branch$key:\t$value";
        }
    }
    @out;
}

my $jail = "sshd";
my @tree = tree(ask("status", $jail), "");
my @out = ("fail2ban> Status for the jail: $jail", @tree ? @tree : (""));
for my $key (qw(maxretry findtime bantime)) {
    my $v = ask("get", $jail, $key);
    !ref $v or exit 1;
    push @out, "fail2ban> $v";
}
my $ignored = ask("get", $jail, "ignoreip");
ref $ignored && $ignored->[0] eq "L" or exit 1;
my @ip = @$ignored[1 .. $#$ignored];
!ref $_ or exit 1 for @ip;
if (@ip) {
    push @out, "fail2ban> These IP addresses/networks are ignored:";
    push @out, ($_ == $#ip ? "`- " : "|- ") . $ip[$_] for 0 .. $#ip;
} else {
    push @out, "fail2ban> No IP address/network is ignored";
}
print join("\n", @out, "fail2ban> "), "\n";
