#!/usr/bin/env python3
"""Balancing quality of `adaptive` against issue 16's targets, per scenario (python3 stdlib only).

Runs `dvmq sim SCENARIO --policy all --json --csv DIR` over the scenario suite and over variants of
the Bitbrains trace that the suite does not hold (other start offsets, host sizes, scales, and
stretches without compression), then prints, per scenario, each target with PASS or MISS and by
how much. The peers are dynamic, ovs-alb, rsspp and irqbalance:
  pp       0 ping-pongs
  ret      returns_10s <= 5 % of moves
  react    worst reaction <= 2 sampling intervals (steps no move answered are listed apart)
  drop     drop ratio <= the peers' least + 0.1 percentage point
  p99      p99 latency <= max(2 x the peers' least p99, 100 us)
  awake    mean awake processors <= max(1.1 x oracle, oracle + 1)
  front    no peer better on drops, awake processors and p99 at once (the peer is named)
  floor    no spread move of a queue under the floor
p99.9 is shown beside p99 (not a target).

usage: scripts/quality.py [--dvmq PATH] [--suite-only | --variants-only] [--only NAME]...
                          [--set PARAM=VALUE]... [--json]
Exit status: 0 when it ran (misses are results, not errors), 1 when a run failed, 2 bad usage.
"""
import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUITE = ["default", "steady-skew", "step-up", "diurnal", "bursts", "pingpong-trap", "many-light",
         "elephant", "churn", "noisy-neighbour", "numa", "big-host", "bitbrains",
         "thousands-light", "rising-group", "hidden-elephant"]
TRACE = os.path.join(ROOT, "data", "bitbrains-rnd-2013-07-rx.csv")
DEFAULT_FLOOR = 0.001  # README, "Engine parameters"

# Bitbrains variants: (name, processors, scale, compress, start_s, duration_s, queue_pool)
VARIANTS = [
    ("bb-day2", 16, 100, 1200, 86400, 72, 512),
    ("bb-8cpu", 8, 50, 1200, 0, 144, 512),
    ("bb-32cpu", 32, 200, 1200, 0, 144, 512),
    ("bb-64cpu", 64, 400, 1200, 43200, 108, 512),
    ("bb-scale60", 16, 60, 1200, 0, 144, 512),
    ("bb-scale150", 16, 150, 1200, 0, 144, 512),
    ("bb-compress60", 16, 100, 60, 36000, 120, 512),
    ("bb-realtime", 16, 100, 1, 50000, 120, 512),
]


def variant_file(tmp, name, procs, scale, compress, start, duration, pool):
    path = os.path.join(tmp, name + ".ini")
    with open(path, "w") as f:
        f.write("# %s: the Bitbrains trace, %d processors, x%d, compressed %dx from %ds\n"
                "[host]\nprocessors = %d\nqueue_pool = %d\ninterval = 100ms\ntick = 1ms\n"
                "duration = %ds\n\n[trace]\nfile = %s\nscale = %d\ncompress = %d\nstart = %ds\n"
                "cost = 1us\nframe = 800B\n"
                % (name, procs, scale, compress, start, procs, pool, duration, TRACE, scale,
                   compress, start))
    return path


def scenario_path(name):
    return name if os.path.exists(name) else os.path.join(ROOT, "scenarios", name + ".ini")


def ini_value(path, section, key):
    """The last `key = value` of [section] in an INI file, or None."""
    sec, val = None, None
    try:
        lines = open(path).read().splitlines()
    except OSError:
        return None
    for line in lines:
        line = re.split(r"\s[#;]", line, 1)[0].strip()
        m = re.match(r"\[(.*)\]$", line)
        if m:
            sec = m.group(1).strip()
        elif sec == section and "=" in line:
            k, v = (x.strip() for x in line.split("=", 1))
            if k == key:
                val = v
    return val


def seconds(text):
    m = re.match(r"^\s*([0-9.]+)\s*(ns|us|ms|s|min|h)?\s*$", text or "")
    if not m:
        return None
    mult = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "min": 60, "h": 3600, None: 1}
    return float(m.group(1)) * mult[m.group(2)]


def fraction(text):
    text = (text or "").strip()
    try:
        return float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        return None


PEERS = ["dynamic", "ovs-alb", "rsspp", "irqbalance"]


def judge(name, path, res, moves_csv, sets):
    pol = res["policies"]
    a = pol["adaptive"]
    peers = {n: pol[n] for n in PEERS}
    oracle = res["oracle"]["processors_mean"]
    interval = seconds(ini_value(path, "host", "interval")) or 0.1
    floor = DEFAULT_FLOOR
    for text in [ini_value(path, "engine", "floor")] + [v for k, v in sets if k == "floor"]:
        if text is not None and fraction(text) is not None:
            floor = fraction(text)
    out = {}
    out["pp"] = (a["pingpongs"] == 0, "%d" % a["pingpongs"])
    lim = 0.05 * a["moves"]
    out["ret"] = (a["returns_10s"] <= lim, "%d/%d=%.1f%%" % (a["returns_10s"], a["moves"],
                  100.0 * a["returns_10s"] / a["moves"] if a["moves"] else 0.0))
    bound = max(1.1 * oracle, oracle + 1)
    out["awake"] = (a["awake_processors_mean"] <= bound + 1e-9,
                    "%.2f/%.2f (orc %.2f)" % (a["awake_processors_mean"], bound, oracle))
    best = min(p["drop_ratio"] for p in peers.values())
    out["drop"] = (a["drop_ratio"] <= best + 0.001 + 1e-12,
                   "%.4f%%/%.4f%%" % (100 * a["drop_ratio"], 100 * (best + 0.001)))
    low = min(p["latency_p99_us"] for p in peers.values())
    lim99 = max(2 * low, 100.0)
    out["p99"] = (a["latency_p99_us"] <= lim99 + 1e-9,
                  "%.1f/%.1f (p999 %.0f)" % (a["latency_p99_us"], lim99, a["latency_p999_us"]))
    better = [n for n, p in peers.items()
              if p["drop_ratio"] < a["drop_ratio"] and p["awake_processors_mean"] < a["awake_processors_mean"]
              and p["latency_p99_us"] < a["latency_p99_us"]]
    out["front"] = (not better, ",".join(better) if better else "-")
    react = a["reaction_ms"]
    lim_ms = 2 * interval * 1000
    out["react"] = (react is None or react <= lim_ms + 1e-6,
                    "%s/%.0f un=%d/%d" % ("-" if react is None else "%.0f" % react, lim_ms,
                                           a["unanswered_steps"], a["steps"]))
    under = 0
    smallest = None
    with open(moves_csv) as f:
        for row in csv.DictReader(f):
            if row["reason"] != "spread":
                continue
            ql = float(row["queue_load"])
            smallest = ql if smallest is None else min(smallest, ql)
            # the CSV rounds to 4 decimals
            under += ql + 5e-5 < floor
    out["floor"] = (under == 0, "%d (min %s)" % (under, "-" if smallest is None else "%.4f" % smallest))
    out["_extra"] = {"moves": a["moves"], "overloads": a.get("single_queue_overloads"),
                     "awake_over_oracle": a["awake_over_oracle"]}
    return out


COLS = ["pp", "ret", "react", "drop", "p99", "awake", "front", "floor"]
WIDTH = {"pp": 7, "ret": 17, "react": 20, "drop": 25, "p99": 30, "awake": 29, "front": 16, "floor": 16}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dvmq", default=os.path.join(ROOT, "build", "src", "cli", "dvmq"))
    ap.add_argument("--suite-only", action="store_true")
    ap.add_argument("--variants-only", action="store_true")
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--set", action="append", default=[], dest="sets")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    sets = []
    for s in args.sets:
        if "=" not in s:
            ap.error("--set wants PARAM=VALUE")
        sets.append(tuple(s.split("=", 1)))
    if not os.access(args.dvmq, os.X_OK):
        print("quality.py: %s not found: build first (ninja -C build)" % args.dvmq, file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="dvmq-quality-")
    runs = []
    if not args.variants_only:
        runs += [(n, scenario_path(n)) for n in SUITE]
    if not args.suite_only:
        runs += [(v[0], variant_file(tmp, *v)) for v in VARIANTS]
    if args.only:
        runs = [r for r in runs if r[0] in args.only]
    results = {}
    for name, path in runs:
        csv_dir = os.path.join(tmp, name)
        cmd = [args.dvmq, "sim", path, "--policy", "all", "--json", "--csv", csv_dir]
        for k, v in sets:
            cmd += ["--set", "%s=%s" % (k, v)]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            print("quality.py: %s failed (exit %d): %s" % (" ".join(cmd), p.returncode,
                                                            p.stderr.strip()), file=sys.stderr)
            return 1
        results[name] = judge(name, path, json.loads(p.stdout),
                              os.path.join(csv_dir, "adaptive-moves.csv"), sets)
        if not args.json:
            r = results[name]
            if len(results) == 1:
                print("%-16s " % "scenario" + " ".join("%-*s" % (WIDTH[c], c) for c in COLS))
            print("%-16s " % name + " ".join(
                "%-*s" % (WIDTH[c], ("PASS " if r[c][0] else "MISS ") + r[c][1]) for c in COLS), flush=True)
    if args.json:
        print(json.dumps({n: {c: {"pass": r[c][0], "value": r[c][1]} for c in COLS}
                          for n, r in results.items()}, indent=1))
    else:
        misses = sum(1 for r in results.values() for c in COLS if not r[c][0])
        print("%d scenarios, %d targets missed; command: %s" % (len(results), misses, " ".join(sys.argv)))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
