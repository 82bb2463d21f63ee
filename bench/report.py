#!/usr/bin/env python3
"""bench/report.py - merge bench/run's raw results into results.json,
results.md and gnuplot PNG plots.  Standard library only.

    report.py --raw DIR --out DIR [--mode full|quick] [--rounds N] [--check]

Inputs (written by bench/run into --raw):
  info-<alloc>.json         the allocator's name, groups and note
  suite-<alloc>-<r>.json    google-benchmark JSON, round r
  churn-<alloc>-<r>.json    the churn benchmark, alone in a fresh process
  cg/<alloc>.out.<k>        callgrind dumps, one per fast-path loop
  cg/<alloc>.loops          "loop NAME N" lines: pairs per loop

Every time figure is nanoseconds per operation pair (1e9 / items_per_second),
the median over the rounds (min and max kept).  Ratios are time ratios:
alloc / glibc and alloc / best peer, < 1 is faster.  "Peers" are every
allocator that is not numaslab's (the baselines raw-mmap and array-stack
included); numaslab "loses" a row when it is more than LOSE_MARGIN slower
than the best peer there.

--check (CI): exit 1 if an allocator that was built produced no results or a
benchmark reported an error, or numaslab's callgrind 64 B malloc + free pair
exceeds CHECK_IR_MALLOC64 instructions; exit 77 (skipped) when all that holds
but numaslab's malloc path is not there yet to be checked.
"""
import argparse
import glob
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time

SUBJECTS = ["numaslab", "numaslab-malloc"]
# Floors, not allocators: compared with numaslab in the targets, never "best peer".
BASELINES = ["raw-mmap", "array-stack"]
ORDER = ["numaslab", "numaslab-malloc", "glibc", "jemalloc", "tcmalloc",
         "mimalloc", "libnuma", "raw-mmap", "array-stack"]
LOSE_MARGIN = 0.05
COLORS = {"numaslab": "#7b00c8", "numaslab-malloc": "#00a060", "glibc": "#808080",
          "jemalloc": "#e08000", "tcmalloc": "#1f5fd0", "mimalloc": "#d02020",
          "libnuma": "#8b5a2b", "raw-mmap": "#000000", "array-stack": "#00b0c0"}
# Generous (~3x the 62 measured; glibc's pair is ~140): the assert catches a
# fast path that fell onto a slow path, not a few instructions more.
CHECK_IR_MALLOC64 = 200

# The workload classes (bench-classes): (workload, figure, label, unit,
# which way is better).
CLASS_FIGURES = [
    ("partial", "rss_peak", "peak RSS, 20 large arrays a tenth written", "B", "lower"),
    ("largechurn", "cpu_ns_per_op", "CPU per malloc + free, 64 KiB - 4 MiB", "ns", "lower"),
    ("largechurn", "ns_per_op", "real time per malloc + free", "ns", "lower"),
    ("tiny", "rss", "RSS of a 7 KB heap", "B", "lower"),
    ("threads", "cpu_ns_per_thread", "CPU per thread (create, 20 mallocs, exit)", "ns", "lower"),
    ("threads", "ns_per_thread", "real time per thread", "ns", "lower"),
    ("xthread", "cpu_ns_per_block", "N x N, 4 threads, 16 B - 64 KiB: CPU per block", "ns", "lower"),
    ("xthread", "ns_per_block", "real time per block", "ns", "lower"),
    ("xthread", "page_faults", "page faults (the kernel's share; the load does not move it)",
     "count", "lower"),
    ("fillrelease", "rss_loaded", "RSS after the fill (1M entries of 16 - 200 B, quick 400K)", "B", "lower"),
    ("fillrelease", "rss_settled", "RSS 200 ms after freeing them, no call", "B", "lower"),
    ("fillrelease", "rss_trimmed", "RSS after the allocator's trim call", "B", "lower"),
    ("mix8", "ops_per_second", "8 threads, 1 B - 4 MiB written whole: blocks/s", "ops/s", "higher"),
    ("mix8", "cpu_ns_per_block", "CPU per block", "ns", "lower"),
]

GROUPS = [
    ("pair", "1. malloc + free pairs, one thread (ns per pair, CPU time)",
     r"^pair/size:(\d+)$"),
    ("batch", "2. batches: 1000 live blocks of random sizes 16 B - 8 KiB, "
     "freed in random order (ns per malloc + free, CPU time)", r"^batch1000$"),
    ("prodcons", "3. producer / consumer: allocated on one thread, freed on "
     "another (ns per block: real time per block, and /cpu = CPU of both threads "
     "per block)", r"^prodcons/size:(\d+)(/cpu)?$"),
    ("larson", "4. larson-like server, slot sets handed between threads "
     "(ns per free + malloc: real time per operation of all threads together, and "
     "/cpu = CPU of all threads per operation)", r"^larson/threads:(\d+)(/cpu)?$"),
    ("node", "5. allocate on a node + free (ns per pair, CPU time)",
     r"^node/size:(\d+)/node:(\d+)$"),
    ("pool", "6. pool get + put, 256 B buffers (ns per pair, CPU time)",
     r"^pool/(pair|burst64)$"),
    ("region", "7a. populated regions bound to node 0, create + destroy "
     "(ns per region, CPU time)", r"^region/mib:(\d+)$"),
    ("interleaved", "7b. interleaved populated allocations over all memory "
     "nodes, allocate + free (ns per allocation, CPU time)",
     r"^interleaved/mib:(\d+)$"),
]


# numaslab functions of the no-rseq fallback (see load_callgrind).
RSEQ_FALLBACK = re.compile(r"^(topology_\w*_slow|topology_get|topology_cpu_getcpu|"
                           r"getcpu_refresh[.\w]*|os_getcpu|syscall|__errno_location)$")


def parse_callgrind(path):
    """(loop name, total Ir, {function: self Ir}) of one callgrind dump."""
    names, fns = {}, {}
    loop = total = cur = None
    skip, npos = False, 1
    with open(path) as f:
        for line in f:
            c0 = line[:1]
            if c0.isdigit() or c0 in "+-*":
                if skip:  # the inclusive cost of a call: not self cost
                    skip = False
                    continue
                parts = line.split()
                if len(parts) > npos and cur is not None:
                    fns[cur] = fns.get(cur, 0) + int(parts[npos])
            elif line.startswith("fn=") or line.startswith("cfn="):
                m = re.match(r"c?fn=\((\d+)\)(?: (.*))?$", line.strip())
                if m:
                    if m.group(2):
                        names[m.group(1)] = m.group(2)
                    name = names.get(m.group(1), m.group(1))
                else:
                    name = line.split("=", 1)[1].strip()
                if line.startswith("fn="):
                    cur = name
            elif line.startswith("calls="):
                skip = True
            elif line.startswith("positions:"):
                npos = len(line.split()) - 1
            elif line.startswith("desc: Trigger: Client Request: "):
                loop = line.split(": ")[-1].strip()
            elif line.startswith("totals:") or line.startswith("summary:"):
                total = int(line.split()[1])
    return loop, total, fns


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def order_key(a):
    return ORDER.index(a) if a in ORDER else len(ORDER)


def stats_of(values):
    return {"median": statistics.median(values), "min": min(values),
            "max": max(values), "runs": values}


def fmt_ns(v):
    if v is None:
        return "-"
    if v >= 1e6:
        return "%.3g ms" % (v / 1e6)
    if v >= 1e3:
        return "%.3g us" % (v / 1e3)
    return "%.3g ns" % v


def fmt_ratio(r):
    return "-" if r is None else "%.2fx" % r


def bench_sort_key(name):
    nums = [int(x) for x in re.findall(r"\d+", name)]
    return (re.sub(r"\d+", "", name), nums)


class Report:
    def __init__(self, raw, mode, rounds):
        self.raw = raw
        self.mode = mode
        self.rounds = rounds
        self.info = {}
        self.errors = []
        self.context = {}
        self.bench = {}   # name -> alloc -> [ns values]
        self.extra = {}   # name -> alloc -> {"bytes_per_second": [...]}
        self.churn = {}   # alloc -> counter -> [values]
        self.cg = {}      # loop -> alloc -> {...}
        self.cg_overhead = None
        self.classes = {}   # workload -> alloc -> {key: [values]}
        self.syscalls = {}  # alloc -> thread count -> {syscall: calls}

    # ---- loading ---------------------------------------------------------
    def load(self):
        for path in sorted(glob.glob(os.path.join(self.raw, "info-*.json"))):
            d = load_json(path)
            if d:
                self.info[d["allocator"]] = d
        for path in sorted(glob.glob(os.path.join(self.raw, "suite-*.json"))):
            self.load_suite(path)
        for path in sorted(glob.glob(os.path.join(self.raw, "churn-*.json"))):
            self.load_churn(path)
        self.load_callgrind()
        self.load_classes()

    def alloc_of(self, path, prefix):
        base = os.path.basename(path)[len(prefix):-len(".json")]
        return base.rsplit("-", 1)[0]

    def load_suite(self, path):
        alloc = self.alloc_of(path, "suite-")
        d = load_json(path)
        if d is None:
            self.errors.append("%s: unreadable JSON" % path)
            return
        if not self.context:
            self.context = d.get("context", {})
        for b in d.get("benchmarks", []):
            if b.get("run_type", "iteration") != "iteration":
                continue
            name = re.sub(r"/repeats:\d+", "", b["name"].replace("/real_time", ""))
            if b.get("error_occurred"):
                self.errors.append("%s %s: %s" % (alloc, name, b.get("error_message")))
                continue
            ips = b.get("items_per_second")
            if not ips:
                continue
            self.bench.setdefault(name, {}).setdefault(alloc, []).append(1e9 / ips)
            # Multi-thread benchmarks also report the CPU all their threads
            # spent per operation: a row of its own, "<name>/cpu".
            cpu = None
            if b.get("cpu_ns_per_block"):
                cpu = b["cpu_ns_per_block"]
            elif b.get("cpu_ns") and b.get("ops"):
                cpu = b["cpu_ns"] / b["ops"]
            if cpu:
                self.bench.setdefault(name + "/cpu", {}).setdefault(alloc, []).append(cpu)
            if "bytes_per_second" in b:
                self.extra.setdefault(name, {}).setdefault(alloc, []).append(
                    b["bytes_per_second"])

    def load_churn(self, path):
        alloc = self.alloc_of(path, "churn-")
        d = load_json(path)
        if d is None:
            self.errors.append("%s: unreadable JSON" % path)
            return
        for b in d.get("benchmarks", []):
            if b.get("error_occurred"):
                self.errors.append("%s churn: %s" % (alloc, b.get("error_message")))
                continue
            for k in ("rss_peak", "rss_after_churn", "live_bytes", "rss_after_free"):
                if k in b:
                    self.churn.setdefault(alloc, {}).setdefault(k, []).append(b[k])
            # time of the whole churn phase, for the record
            self.churn.setdefault(alloc, {}).setdefault("seconds", []).append(
                b["real_time"] / {"ns": 1e9, "us": 1e6, "ms": 1e3, "s": 1}[b.get("time_unit", "ns")])

    def load_callgrind(self):
        cgdir = os.path.join(self.raw, "cg")
        overheads = []
        for loops in sorted(glob.glob(os.path.join(cgdir, "*.loops"))):
            alloc = os.path.basename(loops)[:-len(".loops")]
            n = {}
            with open(loops) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 3 and parts[0] == "loop":
                        n[parts[1]] = int(parts[2])
            for dump in glob.glob(os.path.join(cgdir, alloc + ".out.*")):
                loop, total, fns = parse_callgrind(dump)
                if loop is None or total is None or loop not in n:
                    continue
                per = total / n[loop]
                if loop == "empty":
                    overheads.append(per)
                    continue
                top = sorted(fns.items(), key=lambda kv: -kv[1])
                entry = {"ir_total": total, "pairs": n[loop], "ir_per_pair": per,
                         "functions_ir_per_pair": {k: round(v / n[loop], 2) for k, v in top
                                                   if v / n[loop] >= 0.5}}
                # Valgrind does not implement rseq(2), so glibc cannot
                # register it and numaslab reads its node through the getcpu
                # fallback, which a native run never takes.  Counted apart.
                fb = sum(v for k, v in fns.items() if RSEQ_FALLBACK.match(k))
                if alloc in SUBJECTS and fb:
                    entry["ir_rseq_fallback"] = fb / n[loop]
                    entry["ir_per_pair_without_fallback"] = per - fb / n[loop]
                self.cg.setdefault(loop, {})[alloc] = entry
        if overheads:
            self.cg_overhead = statistics.median(overheads)
            for loop in self.cg.values():
                for v in loop.values():
                    v["ir_per_pair_net"] = v["ir_per_pair"] - self.cg_overhead

    def load_classes(self):
        """bench-classes lines ("WORKLOAD {json}") and strace -c counts."""
        for path in sorted(glob.glob(os.path.join(self.raw, "classes-*-*.txt"))):
            alloc = os.path.basename(path)[len("classes-"):-len(".txt")].rsplit("-", 1)[0]
            with open(path) as f:
                for line in f:
                    w, _, js = line.strip().partition(" ")
                    try:
                        d = json.loads(js)
                    except ValueError:
                        self.errors.append("%s %s: unreadable output" % (alloc, w))
                        continue
                    per = self.classes.setdefault(w, {}).setdefault(alloc, {})
                    for k, v in d.items():
                        if isinstance(v, (int, float)):
                            per.setdefault(k, []).append(v)
                        else:
                            per[k] = v
        for path in sorted(glob.glob(os.path.join(self.raw, "syscalls-*-*.txt"))):
            base = os.path.basename(path)[len("syscalls-"):-len(".txt")]
            alloc, n = base.rsplit("-", 1)
            calls = {}
            with open(path) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) in (5, 6) and parts[3].isdigit() and parts[-1] != "total":
                        calls[parts[-1]] = int(parts[3])
            self.syscalls.setdefault(alloc, {})[int(n)] = calls

    def class_med(self, w, alloc, key):
        v = self.classes.get(w, {}).get(alloc, {}).get(key)
        return statistics.median(v) if isinstance(v, list) and v else None

    def syscalls_per_thread(self):
        """alloc -> {syscall: calls per thread, "total": ...} from the two
        strace counts (difference / difference of thread counts)."""
        out = {}
        for a, runs in self.syscalls.items():
            if len(runs) < 2:
                continue
            lo, hi = min(runs), max(runs)
            names = set(runs[lo]) | set(runs[hi])
            per = {n: (runs[hi].get(n, 0) - runs[lo].get(n, 0)) / (hi - lo) for n in names}
            per = {n: v for n, v in per.items() if abs(v) >= 0.05}
            per["total"] = sum(per.values())
            out[a] = dict(sorted(per.items(), key=lambda kv: -kv[1]))
        return out

    def class_rows(self):
        """One row per figure of CLASS_FIGURES: medians, ratios, verdict."""
        rows = []
        for w, key, label, unit, sense in CLASS_FIGURES:
            per = {a: self.class_med(w, a, key) for a in self.classes.get(w, {})}
            per = {a: v for a, v in per.items() if v is not None}
            if not per:
                continue
            peers = {a: v for a, v in per.items() if a not in SUBJECTS}
            pick = min if sense == "lower" else max
            best = pick(peers, key=peers.get) if peers else None
            glibc = per.get("glibc")
            res = {}
            for a, v in sorted(per.items(), key=lambda kv: order_key(kv[0])):
                r = {"median": v, "runs": self.classes[w][a].get(key)}
                # ratios oriented so that < 1 is better for numaslab
                if glibc:
                    r["ratio_vs_glibc"] = v / glibc if sense == "lower" else glibc / v
                if best:
                    r["ratio_vs_best_peer"] = v / peers[best] if sense == "lower" else peers[best] / v
                res[a] = r
            verdict = {}
            for subj in SUBJECTS:
                if subj in res and best:
                    x = res[subj]["ratio_vs_best_peer"]
                    verdict[subj] = ("loses" if x > 1 + LOSE_MARGIN else
                                     "ties" if x >= 1 - LOSE_MARGIN else "wins")
            rows.append({"workload": w, "figure": key, "label": label, "unit": unit,
                         "better": sense, "results": res, "best_peer": best,
                         "verdict": verdict})
        return rows

    # ---- analysis --------------------------------------------------------
    def row(self, name):
        """Stats and ratios of one benchmark instance across allocators."""
        per = {a: stats_of(v) for a, v in self.bench.get(name, {}).items()}
        peers = {a: s["median"] for a, s in per.items() if a not in SUBJECTS and a not in BASELINES}
        best = min(peers, key=peers.get) if peers else None
        glibc = per.get("glibc", {}).get("median")
        for a, s in per.items():
            s["ratio_vs_glibc"] = s["median"] / glibc if glibc else None
            s["ratio_vs_best_peer"] = s["median"] / peers[best] if best else None
            bps = self.extra.get(name, {}).get(a)
            if bps:
                s["bytes_per_second"] = statistics.median(bps)
        verdicts = {}
        for subj in SUBJECTS:
            if subj in per and best:
                r = per[subj]["ratio_vs_best_peer"]
                verdicts[subj] = ("loses" if r > 1 + LOSE_MARGIN else
                                  "ties" if r >= 1 - LOSE_MARGIN else "wins")
        return {"results": dict(sorted(per.items(), key=lambda kv: order_key(kv[0]))),
                "best_peer": best, "verdict": verdicts}

    def churn_row(self):
        out = {}
        for a, c in self.churn.items():
            out[a] = {k: statistics.median(v) for k, v in c.items()}
        peers = {a: v["rss_after_churn"] for a, v in out.items()
                 if a not in SUBJECTS and a not in BASELINES and "rss_after_churn" in v}
        best = min(peers, key=peers.get) if peers else None
        glibc = out.get("glibc", {}).get("rss_after_churn")
        for a, v in out.items():
            if "rss_after_churn" not in v:
                continue
            v["ratio_vs_glibc"] = v["rss_after_churn"] / glibc if glibc else None
            v["ratio_vs_best_peer"] = v["rss_after_churn"] / peers[best] if best else None
        verdicts = {}
        for subj in SUBJECTS:
            if subj in out and best and out[subj].get("ratio_vs_best_peer") is not None:
                r = out[subj]["ratio_vs_best_peer"]
                verdicts[subj] = "loses" if r > 1 + LOSE_MARGIN else "ties" if r >= 1 - LOSE_MARGIN else "wins"
        return {"results": dict(sorted(out.items(), key=lambda kv: order_key(kv[0]))),
                "best_peer": best, "verdict": verdicts}

    def cg_rows(self):
        out = {}
        for loop, per in self.cg.items():
            peers = {a: v["ir_per_pair"] for a, v in per.items() if a not in SUBJECTS and a not in BASELINES}
            best = min(peers, key=peers.get) if peers else None
            glibc = per.get("glibc", {}).get("ir_per_pair")
            for a, v in per.items():
                v["ratio_vs_glibc"] = v["ir_per_pair"] / glibc if glibc else None
                v["ratio_vs_best_peer"] = v["ir_per_pair"] / peers[best] if best else None
            verdicts = {}
            for subj in SUBJECTS:
                if subj in per and best:
                    r = per[subj]["ratio_vs_best_peer"]
                    verdicts[subj] = "loses" if r > 1 + LOSE_MARGIN else "ties" if r >= 1 - LOSE_MARGIN else "wins"
            out[loop] = {"results": dict(sorted(per.items(), key=lambda kv: order_key(kv[0]))),
                         "best_peer": best, "verdict": verdicts}
        return out

    def analyse(self):
        self.rows = {name: self.row(name) for name in sorted(self.bench, key=bench_sort_key)}
        self.churn_res = self.churn_row()
        self.cg_res = self.cg_rows()
        self.class_res = self.class_rows()
        self.sys_res = self.syscalls_per_thread()
        self.targets = self.eval_targets()

    def med(self, name, alloc):
        v = self.bench.get(name, {}).get(alloc)
        return statistics.median(v) if v else None

    def eval_targets(self):
        T = []

        def add(target, subject, detail, value, ref, ratio, threshold, sense, unit="",
                informational=False):
            if value is None or ref is None or ratio is None:
                met = None
            else:
                met = ratio <= threshold if sense == "<=" else ratio >= threshold
                if informational:
                    met = "info-yes" if met else "info-no"
            T.append({"target": target, "subject": subject, "detail": detail,
                      "value": value, "reference": ref, "ratio": ratio,
                      "threshold": "%s %g" % (sense, threshold), "met": met, "unit": unit})

        for subj in SUBJECTS:
            s, m = self.med("pair/size:64", subj), self.med("pair/size:64", "mimalloc")
            add("fast-path malloc + free (time) <= mimalloc", subj,
                "pair/size:64 ns, %s / mimalloc" % subj, s, m,
                s / m if s and m else None, 1.0, "<=", "ns")
            e = self.cg.get("malloc64", {}).get(subj, {})
            cs = e.get("ir_per_pair")
            cm = self.cg.get("malloc64", {}).get("mimalloc", {}).get("ir_per_pair")
            add("fast-path malloc + free (instructions) <= mimalloc", subj,
                "callgrind malloc64 Ir per pair, %s / mimalloc" % subj, cs, cm,
                cs / cm if cs and cm else None, 1.0, "<=", "Ir")
            if "ir_per_pair_without_fallback" in e:
                cs = e["ir_per_pair_without_fallback"]
                add("fast-path malloc + free (instructions) <= mimalloc", subj,
                    "the same without numaslab's no-rseq fallback (valgrind has no rseq; "
                    "native runs use it)", cs, cm, cs / cm if cs and cm else None,
                    1.0, "<=", "Ir")
            for size in (64, 1024):
                for suffix, what in (("/cpu", "CPU per block"),
                                     ("", "real-time throughput (informational: swings with "
                                          "the machine's load)")):
                    n = "prodcons/size:%d%s" % (size, suffix)
                    s, m = self.med(n, subj), self.med(n, "mimalloc")
                    add("producer / consumer throughput >= mimalloc", subj,
                        "%s: %s, mimalloc ns / %s ns" % (n, what, subj),
                        s, m, m / s if s and m else None, 1.0, ">=", "ns",
                        informational=not suffix)
            s = self.churn_res["results"].get(subj, {}).get("rss_after_churn")
            m = self.churn_res["results"].get("mimalloc", {}).get("rss_after_churn")
            add("resident memory after churn <= 1.2x mimalloc", subj,
                "RSS after churn (bytes), %s / mimalloc" % subj, s, m,
                s / m if s and m else None, 1.2, "<=", "B")
        subj = "numaslab"
        for name in sorted((n for n in self.bench if n.startswith("node/")), key=bench_sort_key):
            s, l = self.med(name, subj), self.med(name, "libnuma")
            add("numa_malloc_on >= 100x libnuma", subj,
                "%s: libnuma ns / numaslab ns" % name, s, l, l / s if s and l else None,
                100.0, ">=", "ns")
        for name in ("pool/pair", "pool/burst64"):
            s, b = self.med(name, subj), self.med(name, "array-stack")
            add("pool get + put <= 2x bare array stack", subj,
                "%s: numaslab / array-stack" % name, s, b, s / b if s and b else None,
                2.0, "<=", "ns")
        for name in sorted((n for n in self.bench if n.startswith(("region/", "interleaved/"))),
                           key=bench_sort_key):
            s, r = self.med(name, subj), self.med(name, "raw-mmap")
            add("populated regions >= 0.9x raw mmap + mbind + MADV_POPULATE_WRITE", subj,
                "%s: throughput numaslab / raw (= raw ns / numaslab ns)" % name, s, r,
                r / s if s and r else None, 0.9, ">=", "ns")
        # The workload classes (issue 12), through the malloc replacement.
        subj = "numaslab-malloc"
        cm = self.class_med

        def ratio_target(target, w, key, peer, threshold, unit, what, informational=False):
            s, r = cm(w, subj, key), cm(w, peer, key)
            add(target, subj, "%s %s, %s / %s" % (w, what, subj, peer), s, r,
                s / r if s and r else None, threshold, "<=", unit, informational)

        ratio_target("large blocks partly touched: peak RSS <= 1.1x glibc", "partial",
                     "rss_peak", "glibc", 1.1, "B", "VmHWM")
        ratio_target("large-block churn time <= tcmalloc", "largechurn", "cpu_ns_per_op",
                     "tcmalloc", 1.0, "ns", "CPU per malloc + free")
        ratio_target("large-block churn time <= tcmalloc", "largechurn", "ns_per_op",
                     "tcmalloc", 1.0, "ns", "real time per malloc + free (informational)", True)
        s, g = cm("tiny", subj, "rss"), cm("tiny", "glibc", "rss")
        add("tiny program: RSS <= glibc + 1 MiB", subj,
            "tiny VmRSS - glibc's, in MiB (threshold: 1 MiB)", s, g,
            (s - g) / 2**20 if s and g else None, 1.0, "<=", "B")
        ratio_target("thread per task: time <= glibc", "threads", "cpu_ns_per_thread",
                     "glibc", 1.0, "ns", "CPU per thread")
        ratio_target("thread per task: time <= glibc", "threads", "ns_per_thread",
                     "glibc", 1.0, "ns", "real time per thread (informational)", True)
        sp = self.sys_res
        if subj in sp and "glibc" in sp:
            s, g = sp[subj]["total"], sp["glibc"]["total"]
            add("thread per task: no system call per thread beyond glibc's", subj,
                "system calls per thread (strace -f -c), %s - glibc" % subj, s, g, s - g,
                0.5, "<=", "calls")
        ratio_target("N x N cross-thread frees, 16 B - 64 KiB: time <= mimalloc", "xthread",
                     "cpu_ns_per_block", "mimalloc", 1.0, "ns", "CPU per block")
        ratio_target("N x N cross-thread frees, 16 B - 64 KiB: time <= mimalloc", "xthread",
                     "ns_per_block", "mimalloc", 1.0, "ns",
                     "real time per block (informational: swings with the load)", True)
        ratio_target("fill-and-release: RSS after release <= 1.2x jemalloc", "fillrelease",
                     "rss_settled", "jemalloc", 1.2, "B", "VmRSS 200 ms after the release, no call")
        ratio_target("fill-and-release: RSS after release <= 1.2x jemalloc", "fillrelease",
                     "rss_trimmed", "jemalloc", 1.2, "B",
                     "VmRSS after each allocator's own trim call")
        s, j = cm("fillrelease", subj, "rss_settled"), cm("fillrelease", "jemalloc", "rss_trimmed")
        add("fill-and-release: RSS after release <= 1.2x jemalloc", subj,
            "fillrelease: numaslab with no call / jemalloc purged (Redis FLUSHALL's case; "
            "informational)", s, j, s / j if s and j else None, 1.2, "<=", "B", True)
        return T

    # ---- output ----------------------------------------------------------
    def commit_text(self):
        """The source tree measured: its commit, and whether it had changes
        (recorded by bench/run in raw/source.txt when it ran)."""
        try:
            with open(os.path.join(self.raw, "source.txt")) as f:
                lines = f.read().split()
            if lines:
                self.classes_only = "classes-only" in lines[1:]
                return lines[0] + (" (with uncommitted changes)" if "dirty" in lines[1:] else "")
        except OSError:
            pass
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        try:
            head = subprocess.run(["git", "-C", repo, "rev-parse", "--short", "HEAD"],
                                  capture_output=True, text=True, check=True).stdout.strip()
            dirty = subprocess.run(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"],
                                   capture_output=True, text=True, check=True).stdout.strip()
            return head + (" (with uncommitted changes)" if dirty else "")
        except (OSError, subprocess.CalledProcessError):
            return "unknown"

    def start_loadavg(self):
        """The load average bench/run saw when it started (raw/loadavg.txt),
        for runs without a google-benchmark context (--classes-only)."""
        try:
            with open(os.path.join(self.raw, "loadavg.txt")) as f:
                return [float(x) for x in f.read().split()[:3]]
        except (OSError, ValueError):
            return None

    def nodes_text(self):
        try:
            with open("/sys/devices/system/node/has_memory") as f:
                return f.read().strip()
        except OSError:
            return "?"

    def first_node(self):
        m = re.match(r"\d+", self.nodes_text())
        return m.group(0) if m else "0"

    def write_json(self, out):
        missing = {a: i.get("note") for a, i in self.info.items()
                   if i.get("init", 0) < 0 or not i.get("caps")}
        nodes = self.nodes_text()
        doc = {
            "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "source_commit": self.commit_text(),
            "mode": self.mode,
            "rounds": self.rounds,
            "method": {
                "time": "ns per operation pair = 1e9 / items_per_second; median over rounds "
                        "(min, max, runs kept); single-thread benchmarks in CPU time, "
                        "prodcons and larson in real time",
                "interleaving": "one process per allocator per round, rounds run A B C ... A B C",
                "ratios": "time ratios (value / reference), < 1 is faster; best peer = fastest "
                          "allocator that is not numaslab's (the floors raw-mmap and array-stack are "
                          "not peers: they are compared in the targets)",
                "lose_margin": LOSE_MARGIN,
                "callgrind": "instructions per pair inside the loop (KEEP=16 blocks live), "
                             "including the loop and shim-call overhead 'loop_overhead_ir'; "
                             "_net subtracts it",
            },
            "machine": {
                "host": platform.node(), "kernel": platform.release(),
                "num_cpus": self.context.get("num_cpus") or os.cpu_count(),
                "mhz_per_cpu": self.context.get("mhz_per_cpu"),
                "load_avg": self.context.get("load_avg") or self.start_loadavg(),
                "caches": self.context.get("caches"),
                "memory_nodes": nodes,
                "node_note": ("one NUMA node: 'allocate on node' runs node 0 only, and "
                              "interleaving spreads over that one node"
                              if re.fullmatch(r"\d+", nodes) else
                              "node benchmarks run node 0 and the highest memory node"),
                "benchmark_library_build_type": self.context.get("library_build_type"),
            },
            "allocators": {a: self.info[a] for a in sorted(self.info, key=order_key)},
            "missing": missing,
            "benchmarks": self.rows,
            "rss_after_churn": self.churn_res,
            "callgrind": {"loop_overhead_ir": self.cg_overhead, "loops": self.cg_res},
            "targets": self.targets,
            "classes": {"figures": self.class_res, "syscalls_per_thread": self.sys_res,
                        "trim_calls": {a: v.get("trim_call") for a, v in
                                       self.classes.get("fillrelease", {}).items()}},
            "errors": self.errors,
        }
        with open(os.path.join(out, "results.json"), "w") as f:
            json.dump(doc, f, indent=1, sort_keys=False)
        return doc

    def verdict_text(self, verdict, best):
        marks = []
        for subj in SUBJECTS:
            v = verdict.get(subj)
            if v == "loses":
                marks.append("**%s loses here** (best: %s)" % (subj, best))
            elif v:
                marks.append("%s %s" % (subj, v))
        return "; ".join(marks) if marks else "-"

    def md_table(self, names, lines):
        allocs = sorted({a for n in names for a in self.rows[n]["results"]}, key=order_key)
        subj = [s for s in SUBJECTS if s in allocs]
        head = ["benchmark"] + allocs
        for s in subj:
            head += ["%s ÷ glibc" % s, "%s ÷ best peer" % s]
        head.append("verdict")
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        for n in names:
            r = self.rows[n]
            cells = [n] + [fmt_ns(r["results"].get(a, {}).get("median")) for a in allocs]
            for s in subj:
                res = r["results"].get(s, {})
                cells += [fmt_ratio(res.get("ratio_vs_glibc")), fmt_ratio(res.get("ratio_vs_best_peer"))]
            cells.append(self.verdict_text(r["verdict"], r["best_peer"]))
            lines.append("| " + " | ".join(cells) + " |")

    def write_md(self, out, doc):
        L = []
        m = doc["machine"]
        L.append("# numaslab benchmarks")
        L.append("")
        self.commit_text()  # sets classes_only from raw/source.txt
        L.append("Generated by `bench/run%s` on %s from commit %s (%s CPUs, kernel %s, memory "
                 "nodes: %s), %s mode, %d round(s) interleaved (one process per allocator per "
                 "round, A B C ... A B C), load average at start %s." % (
                     (" --quick" if self.mode == "quick" else "") +
                     (" --classes-only" if getattr(self, "classes_only", False) else ""),
                     doc["generated"],
                     doc["source_commit"],
                     m["num_cpus"], m["kernel"], m["memory_nodes"], self.mode, self.rounds,
                     ", ".join("%.2f" % x for x in (m["load_avg"] or []))))
        L.append("")
        if getattr(self, "classes_only", False):
            L.append("**Run with `--classes-only`: only the workload classes (section 9) were "
                     "measured (the machine was too busy for the whole suite); every other "
                     "table and target is absent from this run, not failed.**")
            L.append("")
        L.append("- **%s.**" % m["node_note"])
        L.append("- Times are ns (or us/ms) per operation pair, the median of the rounds; lower "
                 "is better. Ratios are time ratios: `÷ glibc` and `÷ best peer` below 1 mean "
                 "numaslab is faster. The best peer is the fastest allocator that is not "
                 "numaslab's; the floors raw-mmap and array-stack are shown but are not peers "
                 "(the targets compare numaslab with them).")
        L.append("- A row says **numaslab loses here** when numaslab is more than %d%% slower "
                 "than the best peer (within %d%% is a tie: the machine is shared and noisy)."
                 % (LOSE_MARGIN * 100, LOSE_MARGIN * 100))
        L.append("- Every allocator is called through the same C shim (bench/shim.h), from a "
                 "binary of its own; peers are Debian's shared libraries, numaslab is "
                 "libnumaslab.so. google-benchmark is Debian's libbenchmark (built as %s)."
                 % (m.get("benchmark_library_build_type") or "?"))
        L.append("")
        L.append("## Allocators")
        L.append("")
        L.append("| allocator | groups | how |")
        L.append("|---|---|---|")
        for a, i in doc["allocators"].items():
            caps = ", ".join(i.get("caps", [])) or "**none: not measured**"
            L.append("| %s | %s | %s |" % (a, caps, i.get("note", "").replace("|", "/")))
        L.append("")
        L.append("## Targets")
        L.append("")
        L.append("| target | subject | measured | value | reference | ratio | needed | met |")
        L.append("|---|---|---|---|---|---|---|---|")
        for t in self.targets:
            if t["unit"] == "ns":
                fv, fr = fmt_ns(t["value"]), fmt_ns(t["reference"])
            elif t["unit"] == "B":
                fv = "-" if t["value"] is None else "%.1f MiB" % (t["value"] / 2**20)
                fr = "-" if t["reference"] is None else "%.1f MiB" % (t["reference"] / 2**20)
            else:
                fv = "-" if t["value"] is None else "%.1f" % t["value"]
                fr = "-" if t["reference"] is None else "%.1f" % t["reference"]
            met = {True: "yes", False: "**no: numaslab loses here**", None: "not measured",
                   "info-yes": "(yes)", "info-no": "(no)"}[t["met"]]
            ratio = "-" if t["ratio"] is None else ("%.3g" % t["ratio"])
            L.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                t["target"], t["subject"], t["detail"], fv, fr, ratio, t["threshold"], met))
        L.append("")
        for key, title, rx in GROUPS:
            names = [n for n in self.rows if re.match(rx, n)]
            if not names:
                continue
            L.append("## " + title)
            L.append("")
            if key == "node":
                one = re.fullmatch(r"\d+", self.nodes_text() or "")
                L.append(("On this machine only node %s exists: the rows are that node (local), "
                          "no remote node can be measured. " % self.nodes_text() if one else
                          "Rows: the first and the last node with memory. ") +
                         "jemalloc = a per-node arena with mbind extent hooks (memkind's way).")
                L.append("")
            if key in ("prodcons", "larson"):
                L.append("Both threads (or all four) share the machine's 2 cores with whatever "
                         "else runs: the real-time rows swing with the load; the /cpu rows "
                         "(thread CPU clocks summed, waits block and cost nothing) are what the "
                         "allocator costs, and are the ones to compare.")
                L.append("")
            if key in ("region", "interleaved"):
                L.append("raw-mmap = mmap + mbind + MADV_POPULATE_WRITE + munmap; libnuma = "
                         "numa_alloc_* + one write per page. Throughput (GB/s) in results.json.")
                L.append("")
            self.md_table(names, L)
            L.append("")
        # churn
        c = self.churn_res
        if c["results"]:
            L.append("## 8. Resident memory after churn")
            L.append("")
            L.append("Fill with %s blocks of 16 B - 4 KiB, three rounds of freeing half and "
                     "refilling with another size mix, then keep one block in ten; RSS above "
                     "the process's RSS before the churn (fresh process per allocator)."
                     % ("40000" if self.mode == "quick" else "100000"))
            L.append("")
            L.append("| allocator | live bytes | RSS peak | RSS after churn | ÷ glibc | ÷ best peer | RSS after free all | verdict |")
            L.append("|---|---|---|---|---|---|---|---|")
            for a, v in c["results"].items():
                mb = lambda x: "-" if x is None else "%.1f MiB" % (x / 2**20)
                verdict = ""
                if a in SUBJECTS:
                    vv = c["verdict"].get(a)
                    verdict = ("**%s loses here** (best: %s)" % (a, c["best_peer"])
                               if vv == "loses" else (vv or ""))
                L.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    a, mb(v.get("live_bytes")), mb(v.get("rss_peak")), mb(v.get("rss_after_churn")),
                    fmt_ratio(v.get("ratio_vs_glibc")), fmt_ratio(v.get("ratio_vs_best_peer")),
                    mb(v.get("rss_after_free")), verdict))
            L.append("")
        if self.class_res:
            self.md_classes(L)
        # callgrind
        if self.cg_res:
            L.append("## Instructions per fast-path pair (callgrind)")
            L.append("")
            L.append("Deterministic: instructions executed per pair inside the loop, with 16 "
                     "blocks of the size kept live, averaged over the loop (refills and flushes "
                     "included). Includes %.1f instructions of loop and shim calls (the empty "
                     "loop); `net` subtracts them. node64 for libnuma counts user-space "
                     "instructions only: its cost is the mmap/mbind/munmap system calls."
                     % (self.cg_overhead or 0))
            L.append("")
            loops = [l for l in ("malloc64", "node64", "pool") if l in self.cg_res]
            allocs = sorted({a for l in loops for a in self.cg_res[l]["results"]}, key=order_key)
            L.append("| loop | " + " | ".join(allocs) + " | verdict |")
            L.append("|---|" + "---|" * (len(allocs) + 1))
            for l in loops:
                r = self.cg_res[l]
                cells = []
                for a in allocs:
                    v = r["results"].get(a)
                    cell = "-" if v is None else "%.1f (net %.1f)" % (
                        v["ir_per_pair"], v.get("ir_per_pair_net", v["ir_per_pair"]))
                    if v and "ir_rseq_fallback" in v:
                        cell += "; %.1f of it in the no-rseq fallback" % v["ir_rseq_fallback"]
                    cells.append(cell)
                L.append("| %s | %s | %s |" % (l, " | ".join(cells), self.verdict_text(r["verdict"], r["best_peer"])))
            L.append("")
            L.append("Valgrind does not implement rseq(2): under callgrind glibc cannot register "
                     "it, so numaslab finds its node through its getcpu fallback "
                     "(topology_local_node_slow, topology_get, os_getcpu every 64 calls), which "
                     "native runs do not take; that part is shown apart above.")
            L.append("")
            L.append("Where the instructions go (self instructions per pair, functions >= 0.5):")
            L.append("")
            L.append("| loop | allocator | functions |")
            L.append("|---|---|---|")
            for l in loops:
                for a in allocs:
                    v = self.cg_res[l]["results"].get(a)
                    if not v:
                        continue
                    fns = ", ".join("%s %.1f" % (k, x) for k, x in v["functions_ir_per_pair"].items())
                    L.append("| %s | %s | %s |" % (l, a, fns))
            L.append("")
        # The hand-written analysis of the losses (bench/analysis.md): what
        # in the library costs numaslab where it misses, with the evidence.
        ana = os.path.join(os.path.dirname(os.path.abspath(__file__)), "analysis.md")
        if os.path.exists(ana):
            with open(ana) as f:
                L.append(f.read().rstrip())
            L.append("")
        if doc["missing"]:
            L.append("## Not measured")
            L.append("")
            for a, why in doc["missing"].items():
                L.append("- %s: %s" % (a, why))
            L.append("")
        if self.errors:
            L.append("## Errors")
            L.append("")
            for e in self.errors:
                L.append("- " + e)
            L.append("")
        L.append("Plots: pair.png, node.png, region.png, interleaved.png, pool.png (time per "
                 "operation by size and allocator), classes.png (the workload classes, "
                 "each allocator's figure / glibc's).")
        L.append("")
        with open(os.path.join(out, "results.md"), "w") as f:
            f.write("\n".join(L))

    def md_classes(self, L):
        L.append("## 9. Workload classes (bench-classes: malloc/free only, LD_PRELOAD, fresh process each)")
        L.append("")
        L.append("One small C program (bench/classes.c) run once per allocator, workload and "
                 "round with the allocator LD_PRELOADed (glibc: nothing preloaded; numaslab = "
                 "libnumaslab-malloc.so), so resident memory is the allocator's and every "
                 "allocator is called the same way. Medians of the rounds. Memory in MiB "
                 "(VmRSS / VmHWM of the whole process), times in ns (CPU = user + system of "
                 "all threads). Ratios are oriented so that below 1 is better for numaslab.")
        L.append("")
        allocs = sorted({a for r in self.class_res for a in r["results"]}, key=order_key)
        subj = [s for s in SUBJECTS if s in allocs]
        head = ["workload: figure"] + allocs
        for s in subj:
            head += ["%s ÷ glibc" % s, "%s ÷ best peer" % s]
        head.append("verdict")
        L.append("| " + " | ".join(head) + " |")
        L.append("|" + "---|" * len(head))
        for r in self.class_res:
            def f(v):
                if v is None:
                    return "-"
                if r["unit"] == "B":
                    return "%.1f MiB" % (v / 2**20)
                if r["unit"] == "ops/s":
                    return "%.3g" % v
                if r["unit"] == "count":
                    return "%.0f" % v
                return fmt_ns(v)
            cells = ["%s: %s" % (r["workload"], r["label"])]
            cells += [f(r["results"].get(a, {}).get("median")) for a in allocs]
            for s in subj:
                res = r["results"].get(s, {})
                cells += [fmt_ratio(res.get("ratio_vs_glibc")), fmt_ratio(res.get("ratio_vs_best_peer"))]
            cells.append(self.verdict_text(r["verdict"], r["best_peer"]))
            L.append("| " + " | ".join(cells) + " |")
        L.append("")
        trims = {a: v.get("trim_call") for a, v in self.classes.get("fillrelease", {}).items()}
        if trims:
            L.append("fillrelease's trim call: " + "; ".join(
                "%s `%s`" % (a, t) for a, t in sorted(trims.items(), key=lambda kv: order_key(kv[0])) if t) + ".")
            L.append("")
        if self.sys_res:
            L.append("System calls per thread of a thread per task (strace -f -c of `threads` "
                     "with 100 and 300 threads: the difference / 200):")
            L.append("")
            sa = sorted(self.sys_res, key=order_key)
            names = []
            for a in sa:
                for n in self.sys_res[a]:
                    if n != "total" and n not in names:
                        names.append(n)
            L.append("| syscall | " + " | ".join(sa) + " |")
            L.append("|---|" + "---|" * len(sa))
            for n in names + ["total"]:
                L.append("| %s | %s |" % (n, " | ".join(
                    "%.2f" % self.sys_res[a].get(n, 0) for a in sa)))
            L.append("")

    # ---- plots -------------------------------------------------------------
    def plot(self, out, fname, title, rx, xlabel, xfun, logx=True, logy=True, ylabel="ns per pair",
             per_mib=False):
        names = [n for n in self.rows if re.match(rx, n)]
        if not names:
            return None
        allocs = sorted({a for n in names for a in self.rows[n]["results"]}, key=order_key)
        datf = os.path.join(out, "raw", fname + ".dat")
        with open(datf, "w") as f:
            f.write("# x " + " ".join(allocs) + "\n")
            for n in sorted(names, key=bench_sort_key):
                x = xfun(re.match(rx, n))
                vals = []
                for a in allocs:
                    v = self.rows[n]["results"].get(a, {}).get("median")
                    vals.append("NaN" if v is None else "%.6g" % v)
                f.write("%s %s\n" % (x, " ".join(vals)))
        gp = []
        gp.append('set terminal pngcairo size 960,%d font "sans,10"' % (900 if per_mib else 600))
        gp.append('set output "%s"' % os.path.join(out, fname + ".png"))
        gp.append("set grid")
        gp.append("set key outside right")
        gp.append("set datafile missing NaN")
        if logx:
            gp.append("set logscale x 2")

        def lines(ycol):
            plots = []
            for i, a in enumerate(allocs):
                lw = 3 if a in SUBJECTS else 1.5
                plots.append('"%s" using 1:%s with linespoints lw %s pt 7 ps 0.8 lc rgb "%s" title "%s"'
                             % (datf, ycol(i + 2), lw, COLORS.get(a, "#404040"), a))
            return "plot " + ", \\\n     ".join(plots)

        if per_mib:
            gp.append("set multiplot layout 2,1")
        gp.append('set title "%s"' % title)
        gp.append('set xlabel "%s"' % xlabel)
        gp.append('set ylabel "%s"' % ylabel)
        if logy:
            gp.append("set logscale y 10")
        gp.append(lines(lambda col: "%d" % col))
        if per_mib:
            # The same figures per MiB, on a linear scale, where the
            # differences between allocators show.
            gp.append("unset logscale y")
            gp.append('set title "the same, per MiB (lower is better)"')
            gp.append('set ylabel "ns per MiB"')
            gp.append("set yrange [0:*]")
            gp.append(lines(lambda col: "($%d/$1)" % col))
            gp.append("unset multiplot")
        return "\n".join(gp) + "\n"

    def plot_bars(self, out, fname, title, names):
        names = [n for n in names if n in self.rows]
        if not names:
            return None
        allocs = sorted({a for n in names for a in self.rows[n]["results"]}, key=order_key)
        datf = os.path.join(out, "raw", fname + ".dat")
        with open(datf, "w") as f:
            f.write("alloc " + " ".join(names) + "\n")
            for a in allocs:
                vals = []
                for n in names:
                    v = self.rows[n]["results"].get(a, {}).get("median")
                    vals.append("NaN" if v is None else "%.6g" % v)
                f.write("%s %s\n" % (a, " ".join(vals)))
        gp = ['set terminal pngcairo size 960,600 font "sans,10"',
              'set output "%s"' % os.path.join(out, fname + ".png"),
              'set title "%s"' % title, 'set ylabel "ns per get + put"',
              "set style data histograms", "set style histogram clustered gap 1",
              "set style fill solid 0.8 border -1", "set grid ytics", "set key top left",
              "set datafile missing NaN", "set yrange [0:*]"]
        parts = []
        for i, n in enumerate(names):
            parts.append('"%s" using %d:xtic(1) title columnheader(%d)' % (datf, i + 2, i + 2))
        gp.append("plot " + ", ".join(parts))
        return "\n".join(gp) + "\n"

    def plot_classes(self, out):
        """Clustered bars: each class figure, each allocator / glibc (log)."""
        rows = [r for r in self.class_res if r["results"].get("glibc")]
        if not rows:
            return None
        allocs = sorted({a for r in rows for a in r["results"]}, key=order_key)
        datf = os.path.join(out, "raw", "classes.dat")
        with open(datf, "w") as f:
            f.write("# figure " + " ".join(allocs) + "\n")
            for r in rows:
                g = r["results"]["glibc"]["median"]
                vals = []
                for a in allocs:
                    v = r["results"].get(a, {}).get("median")
                    if v is None or not g:
                        vals.append("NaN")
                    else:
                        vals.append("%.6g" % ((v / g) if r["better"] == "lower" else (g / v)))
                label = "%s %s" % (r["workload"], r["figure"].replace("_", " "))
                f.write('"%s" %s\n' % (label, " ".join(vals)))
        gp = ['set terminal pngcairo size 1200,600 font "sans,9"',
              'set output "%s"' % os.path.join(out, "classes.png"),
              'set title "workload classes: each allocator / glibc (lower is better; '
              'ops/s inverted)"',
              'set ylabel "ratio to glibc (log)"', "set logscale y 10",
              "set style data histograms", "set style histogram clustered gap 1",
              "set style fill solid 0.8 border -1", "set grid ytics", "set key top left",
              "set datafile missing NaN", "set xtics rotate by -30", "set bmargin 8",
              "set rmargin 12", "set termoption noenhanced",
              "set xrange [-0.6:%g]" % (len(rows) - 0.4)]
        parts = []
        for i, a in enumerate(allocs):
            parts.append('"%s" using %d:xtic(1) title "%s" lc rgb "%s"'
                         % (datf, i + 2, a, COLORS.get(a, "#404040")))
        gp.append("plot " + ", ".join(parts))
        return "\n".join(gp) + "\n"

    def write_plots(self, out):
        scripts = [
            self.plot(out, "pair", "malloc + free pair, one thread (median ns per pair, CPU time)",
                      r"^pair/size:(\d+)$", "block size (bytes)", lambda m: m.group(1)),
            self.plot(out, "node", "allocate on the first memory node + free (median ns per pair)",
                      r"^node/size:(\d+)/node:%s$" % self.first_node(), "block size (bytes)",
                      lambda m: m.group(1)),
            self.plot(out, "region", "populated region bound to node 0: create + destroy (median ns)",
                      r"^region/mib:(\d+)$", "region size (MiB)", lambda m: m.group(1),
                      ylabel="ns per region", per_mib=True),
            self.plot(out, "interleaved", "interleaved populated allocation + free (median ns)",
                      r"^interleaved/mib:(\d+)$", "size (MiB)", lambda m: m.group(1),
                      ylabel="ns per allocation", per_mib=True),
            self.plot_bars(out, "pool", "pool get + put, 256 B buffers (median ns per pair)",
                           ["pool/pair", "pool/burst64"]),
        ]
        scripts.append(self.plot_classes(out))
        made = []
        for s in scripts:
            if not s:
                continue
            try:
                subprocess.run(["gnuplot"], input=s, text=True, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                made.append(re.search(r'set output "([^"]+)"', s).group(1))
            except (OSError, subprocess.CalledProcessError) as e:
                print("report: gnuplot failed: %s" % getattr(e, "stderr", e), file=sys.stderr)
        return made

    # ---- check (CI) --------------------------------------------------------
    def check(self):
        problems = []
        for a, i in self.info.items():
            if i.get("init", 0) == -2:
                continue  # not built: reported as missing, not a failure
            if not i.get("caps"):
                continue  # built but nothing works yet (numaslab WIP): reported
            have = any(a in r for r in self.bench.values())
            if not have:
                problems.append("%s: built and initialised but produced no results" % a)
            if "malloc" in i["caps"] and a not in self.cg.get("malloc64", {}):
                problems.append("%s: no callgrind malloc64 count" % a)
        problems += ["benchmark error: " + e for e in self.errors]
        for w, per in self.classes.items():
            for a, v in per.items():
                if not any(isinstance(x, list) and x for x in v.values()):
                    problems.append("bench-classes %s under %s: no figures" % (w, a))
        if not self.bench:
            problems.append("no benchmark results at all")
        ns = self.cg.get("malloc64", {}).get("numaslab", {}).get("ir_per_pair")
        skipped = None
        if ns is None:
            skipped = "numaslab's malloc path is not available yet: instruction bound not checked"
        elif ns > CHECK_IR_MALLOC64:
            problems.append("numaslab 64 B malloc + free pair: %.1f instructions > %d"
                            % (ns, CHECK_IR_MALLOC64))
        else:
            print("check: numaslab 64 B malloc + free pair = %.1f instructions (bound %d)"
                  % (ns, CHECK_IR_MALLOC64))
        for p in problems:
            print("check FAILED: " + p, file=sys.stderr)
        if problems:
            return 1
        if skipped:
            print("check SKIPPED: " + skipped)
            return 77
        print("check: all %d allocators ran, no benchmark errors" % len(
            [a for a, i in self.info.items() if i.get("caps")]))
        return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--mode", default="full")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    rep = Report(args.raw, args.mode, args.rounds)
    rep.load()
    rep.analyse()
    os.makedirs(args.out, exist_ok=True)
    doc = rep.write_json(args.out)
    rep.write_md(args.out, doc)
    made = rep.write_plots(args.out)
    print("report: %d benchmarks, %d allocators, %d plots -> %s" % (
        len(rep.rows), len(rep.info), len(made), args.out), file=sys.stderr)
    for t in rep.targets:
        if t["met"] is False:
            print("report: target missed: %s [%s] %s ratio %.3g (needs %s)" % (
                t["target"], t["subject"], t["detail"], t["ratio"], t["threshold"]), file=sys.stderr)
    if args.check:
        return rep.check()
    return 0


if __name__ == "__main__":
    sys.exit(main())
