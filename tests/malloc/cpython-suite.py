#!/usr/bin/env python3
"""CPython's own regression tests under the malloc replacement (issue 11).

Runs a selection of CPython 3.11's regression suite (Debian's
libpython3.11-testsuite) twice with the same interpreter and the same
parallel runner: once plain, once with LD_PRELOAD=libnumaslab-malloc.so
(the runner's worker processes inherit it), and compares the two module by
module: the module's result (ok, failed, skipped, env changed, no tests run)
and, from the JUnit report, its test cases run, failed (+errors) and
skipped.  A module whose results differ is run again alone in both modes,
up to --reruns times, so that a timing flake of a loaded machine (either
side) is told from a difference that stays; only one that stays fails the
test.  NUMASLAB_* variables are removed from both runs' environment (a
NUMASLAB_STATS inherited by every worker would print into the runner's
protocol).

Usage: cpython-suite.py --lib PATH [--python /usr/bin/python3] [--jobs 2]
                        [--work DIR] [--reruns 2] [module ...]
Exit: 0 same results, 1 a difference (or the preload did not take), 77
skipped (no test suite installed).
"""
import argparse
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

# Allocation-heavy and quick (about 90 s of CPU per run on the 2-core
# development machine): containers, strings and bytes, the cyclic GC,
# serialisers, regular expressions, mmap, threads, fork (test_fork1,
# test_wait4, test_os, test_threading fork from threads), tracemalloc
# (which hooks the allocator), compression and hashing buffers.
MODULES = """
test_dict test_list test_set test_tuple test_deque test_heapq test_array
test_bytes test_unicode test_memoryview test_struct test_collections
test_ordered_dict test_dictviews test_sort test_itertools test_functools
test_copy test_long test_float test_decimal test_random test_gc
test_pickle test_json test_re test_codecs test_exceptions test_sys
test_mmap test_os test_fork1 test_wait4 test_thread test_threading
test_threading_local test_tracemalloc test_zlib test_hashlib
""".split()

SUMMARY_HEADER = re.compile(r"^(?:All )?\d+ tests? (.+?):?$")
CATEGORY = {
    "failed": "failed",
    "skipped": "skipped",
    "altered the execution environment": "env changed",
    "run no tests": "no tests",
    "omitted": "omitted",
    "interrupted": "interrupted",
    "skipped (resource denied)": "resource denied",
    "resource denied": "resource denied",
}


def clean_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMASLAB_")}
    env.pop("LD_PRELOAD", None)
    env.pop("PYTHONPATH", None)
    return env


def parse_summary(text, modules):
    """Module -> result, from regrtest's closing summary lists."""
    result = {m: "ok" for m in modules}
    seen = set()
    cat = None
    for line in text.splitlines():
        m = SUMMARY_HEADER.match(line)
        if m and m.group(1) in CATEGORY:
            cat = CATEGORY[m.group(1)]
            continue
        if cat and line.startswith("    "):
            for name in line.split():
                if name in result:
                    result[name] = cat
                    seen.add(name)
            continue
        cat = None
    if "== Tests result:" not in text:
        for m in modules:
            if m not in seen:
                result[m] = "no result"
    return result


def parse_junit(path):
    """Module -> (cases run, failed + errors, skipped)."""
    counts = {}
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return counts
    for case in root.iter("testcase"):
        parts = case.get("name", "").split(".")
        if len(parts) < 2:
            continue
        mod = parts[1]
        run, bad, skip = counts.get(mod, (0, 0, 0))
        tags = {c.tag for c in case}
        run += 1
        if tags & {"failure", "error"}:
            bad += 1
        if "skipped" in tags or case.get("status") == "skipped":
            skip += 1
        counts[mod] = (run, bad, skip)
    return counts


def run_suite(args, modules, preload, tag):
    env = clean_env()
    if preload:
        env["LD_PRELOAD"] = args.lib
    xml = os.path.join(args.work, f"{tag}.xml")
    log = os.path.join(args.work, f"{tag}.log")
    if os.path.exists(xml):
        os.unlink(xml)
    cmd = [args.python, "-m", "test", "--timeout", "300", "--junit-xml", xml]
    if args.jobs > 1 and len(modules) > 1:
        cmd += ["-j", str(args.jobs)]
    cmd += modules
    t0 = time.monotonic()
    p = subprocess.run(cmd, env=env, cwd=args.work, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, errors="replace")
    wall = time.monotonic() - t0
    with open(log, "w") as f:
        f.write(p.stdout)
    status = parse_summary(p.stdout, modules)
    counts = parse_junit(xml)
    return {m: (status[m],) + counts.get(m, (0, 0, 0)) for m in modules}, wall, log


def fmt(r):
    return f"{r[0]} (run {r[1]}, failed {r[2]}, skipped {r[3]})"


# In the preloaded interpreter (and a child it starts): a large bytes
# object comes from malloc (pymalloc passes requests above 512 bytes on),
# and numaslab's own nslab_node_of (exported by the replacement library)
# knows the address as a block start of its own.
PROBE = """
import ctypes, os, subprocess, sys
lib = ctypes.CDLL(os.environ["LD_PRELOAD"])
lib.nslab_node_of.argtypes = [ctypes.c_void_p]
big = bytes(1 << 20)
print(lib.nslab_node_of(id(big)), flush=True)
if len(sys.argv) < 2:
    subprocess.run([sys.executable, __file__, "child"], check=True)
"""


def check_preload_takes(args):
    """The preloaded interpreter, and a child it starts, run numaslab's malloc."""
    path = os.path.join(args.work, "preload-probe.py")
    with open(path, "w") as f:
        f.write(PROBE)
    env = clean_env()
    env["LD_PRELOAD"] = args.lib
    p = subprocess.run([args.python, path], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    lines = p.stdout.split()
    ok = (p.returncode == 0 and len(lines) == 2 and
          all(x.lstrip("-").isdigit() and int(x) >= 0 for x in lines))
    print(f"preload check: nslab_node_of(a 1 MiB bytes object) = {' '.join(lines)} "
          "in the interpreter and its child (a node: numaslab's malloc served it)")
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--work", default="cpython-work")
    ap.add_argument("--reruns", type=int, default=2)
    ap.add_argument("modules", nargs="*")
    args = ap.parse_args()
    args.lib = os.path.realpath(args.lib)
    modules = args.modules or MODULES
    os.makedirs(args.work, exist_ok=True)

    if not os.path.exists(args.python):
        print(f"SKIP: no {args.python}")
        return 77
    probe = subprocess.run([args.python, "-c", "import test.test_dict, test.libregrtest"],
                           env=clean_env(), capture_output=True)
    if probe.returncode != 0:
        print(f"SKIP: {args.python} has no regression test suite "
              "(Debian: libpython3.11-testsuite, .ci/install-deps programs)")
        return 77
    if not check_preload_takes(args):
        print("FAIL: the preload does not replace malloc")
        return 1

    plain, t_plain, log_plain = run_suite(args, modules, False, "plain")
    pre, t_pre, log_pre = run_suite(args, modules, True, "preload")
    print(f"{len(modules)} modules, -j{args.jobs}: plain {t_plain:.1f} s, "
          f"preloaded {t_pre:.1f} s (logs {log_plain}, {log_pre})")

    differ, flaky = [], []
    for m in modules:
        a, b = plain[m], pre[m]
        tries = []
        n = 0
        while a != b and n < args.reruns:
            n += 1
            tries.append((a, b))
            a = run_suite(args, [m], False, f"plain-{m}-{n}")[0][m]
            b = run_suite(args, [m], True, f"preload-{m}-{n}")[0][m]
        if a != b:
            differ.append(m)
            print(f"DIFFERS {m}: plain {fmt(a)}, preloaded {fmt(b)}")
            for i, (x, y) in enumerate(tries):
                print(f"    try {i + 1}: plain {fmt(x)}, preloaded {fmt(y)}")
        elif tries:
            flaky.append(m)
            print(f"flaky   {m}: first plain {fmt(tries[0][0])}, preloaded {fmt(tries[0][1])}; "
                  f"alone: both {fmt(a)}")
        if a == b and a[0] != "ok":
            print(f"note    {m}: {fmt(a)} in both runs")

    totals = [sum(r[i] for r in pre.values()) for i in (1, 2, 3)]
    print(f"preloaded: {totals[0]} test cases, {totals[1]} failed, {totals[2]} skipped")
    if differ:
        print(f"FAIL: {len(differ)} of {len(modules)} modules differ under the preload: "
              + " ".join(differ))
        return 1
    print(f"OK: all {len(modules)} modules give the same results with and without the preload"
          + (f" ({len(flaky)} flaky at first: {' '.join(flaky)})" if flaky else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
