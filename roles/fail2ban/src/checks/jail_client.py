# fail2ban's own protocol, for the jail checks (checks/jail.sh): the five questions of the
# check on one connection to the server's socket (argv[1]), printed as `fail2ban-client -i`
# prints them. fail2ban-client itself spends ~60 ms of host CPU importing its package; this
# needs only the standard library (python3 -S), and of it the C modules behind `pickle` and
# `socket` (the same Unpickler and socket objects): `pickle` imports `re` and `socket` imports
# `enum`, about half of this script's start-up. Anything unexpected (no socket, an error
# answer, a type other than the plain ones the server sends) exits 1, and the check asks
# fail2ban-client instead, so errors stay the tool's own.
import _pickle
import _socket
import io
import sys

END = b"<F2B_END_COMMAND>"
PLAIN = {"list", "tuple", "str", "unicode", "int", "float", "bool", "dict", "set", "frozenset"}


class Plain(_pickle.Unpickler):
    """Plain values only: the server sends its addresses as `str(...)` reductions."""

    def find_class(self, module, name):
        if module in ("builtins", "__builtin__") and name in PLAIN:
            return super().find_class(module, name)
        raise _pickle.UnpicklingError("unexpected %s.%s" % (module, name))


def ask(sock, cmd):
    sock.sendall(_pickle.dumps(cmd, 2) + END)
    buf = b""
    while not buf.endswith(END):
        chunk = sock.recv(65536)
        if not chunk:
            sys.exit(1)
        buf += chunk
    code, value = Plain(io.BytesIO(buf[: -len(END)])).load()
    if code != 0:
        sys.exit(1)
    return value


def tree(items, indent=""):
    out = []
    for n, (key, value) in enumerate(items):
        last = n == len(items) - 1
        branch = indent + ("`- " if last else "|- ")
        if isinstance(value, list) and value and isinstance(value[0], tuple):
            out.append(branch + str(key))
            out.extend(tree(value, indent + ("   " if last else "|  ")))
        else:
            if isinstance(value, list):
                value = " ".join(map(str, value))
            out.append("%s%s:\t%s" % (branch, key, value))
    return out


def main():
    jail = "sshd"
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.settimeout(10)
    try:
        sock.connect(sys.argv[1])
    except OSError:
        sys.exit(1)
    status = ask(sock, ["status", jail])
    print("fail2ban> Status for the jail: " + jail)
    print("\n".join(tree(status)))
    for key in ("maxretry", "findtime", "bantime"):
        print("fail2ban> %s" % ask(sock, ["get", jail, key]))
    ignored = ask(sock, ["get", jail, "ignoreip"])
    if ignored:
        print("fail2ban> These IP addresses/networks are ignored:")
        for n, ip in enumerate(ignored):
            print(("`- " if n == len(ignored) - 1 else "|- ") + str(ip))
    else:
        print("fail2ban> No IP address/network is ignored")
    print("fail2ban> ")


main()
