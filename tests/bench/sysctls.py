#!/usr/bin/env python3
"""Snapshot and restore the machine's global kernel parameters (vm.*, fs.*, kernel.*).

Lab hosts share the machine's kernel: a job that sets vm.swappiness or fs.file-max on a lab host
sets it for the machine and for every other host, so the next "fresh" run would find it already
set. `save FILE` records every writable parameter under /proc/sys/{vm,fs,kernel}; `restore FILE`
writes back the ones that differ (and prints them); `diff FILE` only prints them.
net.* is per network namespace (per lab host) and is left alone.
"""
import json
import os
import sys

ROOTS = ("vm", "fs", "kernel")
# Counters and state that change by themselves or are actions, not settings.
VOLATILE = (
    "kernel/random/", "kernel/ns_last_pid", "kernel/tainted", "kernel/pty/nr",
    "kernel/hostname", "kernel/domainname", "kernel/usermodehelper/", "kernel/keys/",
    "kernel/sched_domain/", "kernel/perf_event_max_sample_rate", "kernel/hung_task",
    "kernel/printk_ratelimit", "kernel/sysrq", "fs/binfmt_misc/", "fs/dentry-state",
    "fs/inode-", "fs/file-nr", "fs/quota/", "fs/aio-nr", "fs/fscache/",
    "vm/drop_caches", "vm/compact_memory", "vm/stat_refresh", "vm/nr_hugepages",
    "vm/nr_overcommit_hugepages", "vm/nr_hugepages_mempolicy",
)


def walk():
    for root in ROOTS:
        for d, _, files in os.walk("/proc/sys/" + root):
            for f in files:
                p = os.path.join(d, f)
                rel = p[len("/proc/sys/"):]
                if any(rel.startswith(v) for v in VOLATILE):
                    continue
                if not os.access(p, os.W_OK) or not (os.stat(p).st_mode & 0o444):
                    continue
                try:
                    with open(p) as fh:
                        yield rel, fh.read()
                except OSError:
                    continue


def changed(saved):
    for rel, old in saved.items():
        try:
            with open("/proc/sys/" + rel) as fh:
                now = fh.read()
        except OSError:
            continue
        if " ".join(now.split()) != " ".join(old.split()):
            yield rel, old, now


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("save", "restore", "diff"):
        sys.exit("usage: sysctls.py save|restore|diff FILE")
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd == "save":
        with open(path, "w") as fh:
            json.dump(dict(walk()), fh)
        return
    with open(path) as fh:
        saved = json.load(fh)
    rc = 0
    for rel, old, now in changed(saved):
        key = rel.replace("/", ".")
        if cmd == "diff":
            print(f"{key}: {' '.join(old.split())} -> {' '.join(now.split())}")
            continue
        try:
            with open("/proc/sys/" + rel, "w") as fh:
                fh.write(old)
            print(f"restored {key} = {' '.join(old.split())} (was {' '.join(now.split())})")
        except OSError as e:
            print(f"could not restore {key}: {e}", file=sys.stderr)
            rc = 1
    sys.exit(rc)


if __name__ == "__main__":
    main()
