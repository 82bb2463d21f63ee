#!/usr/bin/env bash
# tests/malloc/vm-launcher.sh RUN: numaslab-run's numactl options and node
# syntax in the four-node guest (nodes 0-3, CPU i on node i), each checked
# against what the process really got (--show reads get_mempolicy and the
# affinity back), and the heap of a preloaded program under -m +2 on node 2.
set -euo pipefail
run=${1:?usage: vm-launcher.sh NUMASLAB_RUN}
fail() { echo "FAIL: $*" >&2; exit 1; }
check() { # check "OPTIONS" REGEX
	local out
	out=$("$run" $1 --show) || fail "numaslab-run $1 --show failed"
	echo "$ numaslab-run $1 --show"; echo "$out" | sed 's/^/    /'
	grep -qE "$2" <<<"$out" || fail "$1: expected /$2/"
}
check "-m +2" '^membind: 2$'
check "-m !0,3" '^membind: 1 2$'
check "-m 1-2 -b" '^policy: bind \(balancing\)$'
check "-i !1" '^interleavemask: 0 2 3$'
check "-P +1-2" '^policy: preferred-many'
check "-P +1-2" '^interleavemask: 1 2$'
check "-p +3" '^preferred node: 3$'
check "-C +1" '^physcpubind: 1$'
check "-C !0" '^physcpubind: 1 2 3$'
check "-N !0,1" '^physcpubind: 2 3$'
check "-N +3" '^cpubind: 3$'
check "-m all" '^membind: 0 1 2 3$'
# a preloaded program's heap: a 64 MiB block under -m +2 lies on node 2
out=$("$run" -m +2 -- python3 -c '
import ctypes
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
n = 64 << 20
p = libc.malloc(n)
ctypes.memset(p, 1, n)
libnuma = ctypes.CDLL("libnuma.so.1")
pages = (ctypes.c_void_p * 16)(*[p + i * (n // 16) for i in range(16)])
status = (ctypes.c_int * 16)()
libnuma.numa_move_pages(0, 16, pages, None, status, 0)
print("nodes", sorted(set(status)))
') || fail "python3 under -m +2 failed"
echo "$out"
grep -qx 'nodes \[2\]' <<<"$out" || fail "-m +2: the heap is not on node 2"
echo "PASS vm-launcher"
