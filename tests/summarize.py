#!/usr/bin/env python3
"""Sums the test results of meson test logs into one closing line.

Reads each given testlog JSON file (BUILD/meson-logs/testlog[-SETUP].json). A Criterion program counts its test cases (from its
"Synthesis" line); any other program counts as one test. A program that failed (a sanitizer
report, a crash, a timeout) counts at least one failure even if Criterion said all passed.
Prints per-tree totals, then 'N passed, N failed' as the last line. Exit 1 if any failed or
if no test ran at all."""
import json
import re
import sys

SYNTH = re.compile(r"Synthesis: Tested: (\d+) \| Passing: (\d+) \| Failing: (\d+) \| Crashing: (\d+)")


def tally(path):
    passed = failed = 0
    failures = []
    try:
        lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    except OSError as e:
        print(f"summarize: {path}: {e}", file=sys.stderr)
        return 0, 1, [path]
    for line in lines:
        if not line.strip():
            continue
        t = json.loads(line)
        if t.get("is_parallel") is None and "result" not in t:
            continue
        result = t.get("result", "")
        if result == "SKIP":
            continue
        out = (t.get("stdout") or "") + (t.get("stderr") or "")
        ok = result in ("OK", "EXPECTEDFAIL")
        m = SYNTH.findall(out)
        if m:
            _, p, f, c = map(int, m[-1])
            p_, f_ = p, f + c
            if not ok and f_ == 0:
                p_, f_ = max(p - 1, 0), 1
        else:
            p_, f_ = (1, 0) if ok else (0, 1)
        passed += p_
        failed += f_
        if f_:
            failures.append(t.get("name", "?"))
    return passed, failed, failures


def main():
    total_p = total_f = 0
    for log in sys.argv[1:]:
        p, f, bad = tally(log)
        print(f"{log}: {p} passed, {f} failed" + (f" ({', '.join(bad)})" if bad else ""))
        total_p += p
        total_f += f
    print(f"{total_p} passed, {total_f} failed")
    return 1 if total_f or not total_p else 0


if __name__ == "__main__":
    sys.exit(main())
