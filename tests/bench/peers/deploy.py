# tests/bench/peers/deploy.py — the benchmark's small harden job for pyinfra 3 (from PyPI).
# The same job as tests/bench/peers/harden.yml (Ansible) and tests/bench/sites/small.toml
# (rampart): sshd drop-in, sysctl file, fail2ban jail.local, ufw policy and rules,
# unattended-upgrades config, with the handlers that make each change take effect.
# Adapted from the lab notes' peers/pyinfra-deploy.py: unattended-upgrades added, the jail
# carries the same settings as rampart's; host keys are checked strictly (the inventory
# tests/bench/run writes names the lab's known_hosts).
# Run: pyinfra -y --parallel N inventory.py deploy.py   (check: --dry)
from io import StringIO

from pyinfra import host
from pyinfra.api import operation
from pyinfra.facts.server import Command
from pyinfra.operations import apt, files, server, systemd

SSHD = """PermitRootLogin prohibit-password
PasswordAuthentication no
PubkeyAuthentication yes
KbdInteractiveAuthentication no
PermitEmptyPasswords no
X11Forwarding no
MaxAuthTries 3
LoginGraceTime 30
"""
JAIL = """[DEFAULT]
bantime = 1h
findtime = 10m
maxretry = 5
ignoreip = 127.0.0.1/8 ::1 10.213.0.0/16

[sshd]
enabled = true
port = 22
filter = sshd
backend = systemd
maxretry = 3
bantime = 24h
"""
UU = """Unattended-Upgrade::Origins-Pattern {
    "origin=Debian,codename=${distro_codename},label=Debian";
    "origin=Debian,codename=${distro_codename},label=Debian-Security";
    "origin=Debian,codename=${distro_codename}-security,label=Debian-Security";
};
Unattended-Upgrade::Package-Blacklist {
    "docker-ce";
    "docker-ce-cli";
    "containerd.io";
};
Unattended-Upgrade::Automatic-Reboot "false";
"""
AUTO = """APT::Periodic::Update-Package-Lists "1";
APT::Periodic::Unattended-Upgrade "1";
"""


@operation()
def ufw_firewall(allow, default_incoming="deny"):
    """Minimal idempotent ufw op (pyinfra core has no ufw operation)."""
    added = host.get_fact(Command, "ufw show added") or ""
    status = host.get_fact(Command, "ufw status") or ""
    policy = host.get_fact(Command, "grep -E '^DEFAULT_INPUT_POLICY=' /etc/default/ufw") or ""
    want_policy = {"deny": "DROP", "reject": "REJECT", "allow": "ACCEPT"}[default_incoming]
    for rule in allow:
        if f"ufw allow {rule}" not in added.splitlines():
            yield f"ufw allow {rule}"
    if f'"{want_policy}"' not in policy:
        yield f"ufw default {default_incoming} incoming"
    if "Status: active" not in status:
        yield "ufw --force enable"


apt.packages(
    name="packages present",
    packages=["ufw", "fail2ban", "python3-systemd", "unattended-upgrades"],
)

sshd = files.put(
    name="sshd hardening drop-in",
    src=StringIO(SSHD), dest="/etc/ssh/sshd_config.d/00-hardening.conf", mode="644",
)
systemd.service(name="reload ssh", service="ssh", reloaded=True, _if=sshd.did_change)

for key, value in {"vm.swappiness": 10, "net.core.somaxconn": 1024}.items():
    server.sysctl(
        name=f"sysctl {key}", key=key, value=value,
        persist=True, persist_file="/etc/sysctl.d/99-fleet.conf",
    )

jail = files.put(
    name="fail2ban jail.local",
    src=StringIO(JAIL), dest="/etc/fail2ban/jail.local", mode="644",
)
systemd.service(name="restart fail2ban", service="fail2ban", restarted=True, _if=jail.did_change)
systemd.service(name="fail2ban enabled and running", service="fail2ban", running=True, enabled=True)

ufw_firewall(name="ufw rules + default deny + enable", allow=["22/tcp", "41641/udp"])

files.put(
    name="unattended-upgrades origins and blacklist",
    src=StringIO(UU), dest="/etc/apt/apt.conf.d/50unattended-upgrades", mode="644",
)
files.put(
    name="unattended-upgrades periodic",
    src=StringIO(AUTO), dest="/etc/apt/apt.conf.d/20auto-upgrades", mode="644",
)

@operation()
def unmasked(unit):
    """pyinfra's systemd.service cannot unmask (Debian's lab root ships the apt timers masked)."""
    if host.get_fact(Command, f"systemctl is-enabled {unit} || true") == "masked":
        yield f"systemctl unmask {unit}"


for unit in ("unattended-upgrades.service", "apt-daily.timer", "apt-daily-upgrade.timer"):
    unmasked(name=f"{unit} not masked", unit=unit)
    systemd.service(name=f"{unit} enabled and running", service=unit, running=True, enabled=True)
