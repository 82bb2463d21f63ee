#!/usr/bin/env python3
"""Write the seed corpus of fuzz_api (corpus/).  Each seed is a short,
readable operation sequence in the byte format fuzz_api.c decodes (opcode
byte % 16, then the operation's argument bytes); the fuzzer mutates from
there.  Run: python3 tests/fuzz/gen-seeds.py"""
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

def alloc(slot, how, k, v, node=0, align=None):
    b = [0, slot, how, k, v & 0xff, v >> 8, node]
    return b + ([align] if align is not None else [])
def free(slot, remote=0): return [3, slot, remote]
def realloc(slot, k, v): return [5, slot, k, v & 0xff, v >> 8]
def pool_create(i, a, f, elt, count, cache=8, mx=32, node=0):
    b = [6, i, a, f, elt & 0xff, elt >> 8, count]
    if not f & 4: b.append(cache)
    if not f & 0x20: b.append(mx)
    if not f & 0x40: b.append(node)
    return b
def pool_get(p, how): return [7, p, how]
def pool_put(buf, how): return [9, buf, how]
def put_bulk(p, how): return [10, p, how]
def misc(p, how, node=0): return [11, p, how] + ([node] if how % 6 == 2 else [])
def poolset(how, elt=100, count=8, mx=16):
    return [12, how] + ([elt & 0xff, elt >> 8, count, mx] if how % 4 == 0 else [])
def region_create(slot, size, m, o8, how=0, node=0):
    return [13, slot, how, size & 0xff, size >> 8, m, node, o8]
def region(slot, how, m=0, node=0):
    return [13, slot, how] + ([m, node] if how % 4 == 2 else [])
def errors(how, node=0): return [14, how] + ([node] if how % 7 in (2, 3) else [])
AUDIT = [15, 0]

seeds = {
    # small, mid, large and aligned blocks, local and remote frees, realloc
    "arena": alloc(0, 0, 0, 40) + alloc(1, 1, 6, 3000) + alloc(2, 3, 10, 20000, 0, 12)
             + alloc(3, 2 | 0x18, 0, 200) + alloc(4, 5, 13, 1000) + realloc(0, 6, 4000)
             + realloc(1, 0, 10) + free(2, 1) + free(3) + AUDIT + realloc(4, 0, 30)
             + free(0, 1) + alloc(5, 4, 6, 9000) + realloc(5, 10, 60000) + AUDIT,
    # pools: create, get, bulk, put every way, move, audit, busy destroy
    "pool": pool_create(0, 6, 0x01, 200, 16) + pool_create(1, 0x80, 0x02, 64, 8, mx=64)
            + pool_get(0, 0) + pool_get(0, 1 | 6) + pool_get(1, 2) + pool_get(1, 0)
            + pool_put(0, 0) + pool_put(1, 4) + put_bulk(0, 0x80 | 3) + misc(0, 3)
            + misc(1, 4) + misc(0, 5) + misc(0, 2) + pool_get(0, 1 | 30) + misc(1, 1)
            + put_bulk(0, 0x40 | 15) + misc(0, 4) + AUDIT,
    # the pool set
    "poolset": poolset(0) + poolset(1) + poolset(1) + pool_put(0, 3) + poolset(2)
               + poolset(1) + pool_put(1, 4) + poolset(3) + AUDIT,
    # regions: policies, memfd, verify, move, destroy
    "region": region_create(0, 20000, 1, 0x10) + region_create(1, 5000, 3, 0x41)
              + region_create(2, 60000, 4, 0x02) + region(0, 1) + region(1, 2, 1)
              + region(2, 2, 5) + region(2, 1) + region(0, 3) + region_create(3, 1, 2 | 0x40, 0x20)
              + region(3, 1) + AUDIT,
    # documented errors between allocations
    "errors": alloc(0, 0, 0, 0) + errors(0) + errors(1) + errors(2 + 7 * 3) + errors(3)
              + errors(4) + alloc(1, 0, 15 | 0x80, 2) + errors(5) + errors(6) + free(1, 1)
              + AUDIT,
}
os.makedirs(OUT, exist_ok=True)
for name, ops in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes(ops))
