#!/usr/bin/env python3
"""Changed and failed counts from a peer's output, for tests/bench/run: prints "CHANGED<TAB>FAILED".

    peer_counts.py ansible OUTPUT   PLAY RECAP: the sum of changed=, hosts with failed/unreachable
    peer_counts.py pyinfra OUTPUT   after a run, "Grand total HOSTS SUCCESS ERROR NO-CHANGE":
                                    operations that changed something, operations that failed;
                                    after --dry, the sum of the "Change" column of "Detected changes"
"""
import re
import sys


def num(s):
    return int(s) if s.isdigit() else 0


def ansible(text):
    changed = bad = 0
    recap = text.split("PLAY RECAP", 1)[1] if "PLAY RECAP" in text else ""
    for line in recap.splitlines():
        kv = dict(re.findall(r"(\w+)=(\d+)", line))
        if "ok" in kv:
            changed += int(kv.get("changed", 0))
            bad += int(kv.get("failed", 0)) + int(kv.get("unreachable", 0)) > 0
    if not recap:
        bad = 1
    return changed, bad


def pyinfra(text):
    changed = failed = 0
    m = re.search(r"^\s*Grand total\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", text, re.M)
    if m:
        changed, failed = num(m.group(2)), num(m.group(3))
    elif "--> Detected changes:" in text:
        table = text.split("--> Detected changes:", 1)[1].split("Detected changes may", 1)[0]
        for line in table.splitlines()[2:]:
            cols = re.split(r"\s{2,}", line.strip())
            if len(cols) >= 2:
                changed += num(cols[1].split(" ")[0])
    else:
        failed = 1
    if not failed and re.search(r"^\s*\[[^]]+\] Error", text, re.M):
        failed = 1
    return changed, failed


def main():
    tool, path = sys.argv[1], sys.argv[2]
    text = re.sub(r"\x1b\[[0-9;]*m", "", open(path, errors="replace").read())
    changed, failed = {"ansible": ansible, "pyinfra": pyinfra}[tool](text)
    print(f"{changed}\t{failed}")


if __name__ == "__main__":
    main()
