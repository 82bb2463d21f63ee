#!/usr/bin/env bash
# tests/malloc/vm-redis.sh - redis-server under numaslab-run inside the
# multi-node VM (CTest label numa-vm, spec `four`): its heap's placement read
# from /proc/PID/numa_maps and asserted.
#
# usage: vm-redis.sh NUMASLAB_RUN MODE
#   membind     numaslab-run --membind=2: every anonymous page of the process
#               is on node 2, and numaslab's own mappings (the VMAs its mbind
#               tagged "bind:2") hold the data set, all on node 2
#   heap-only   numaslab-run --heap-only --membind=2: the process policy is
#               left alone, so only the allocator places: numaslab's mappings
#               hold the data set and are all on node 2
#   interleave  numaslab-run --interleave=all: numaslab's mappings (per-node
#               chunks "bind:K" and interleaved regions) and the process's
#               anonymous memory are spread over every node (>= 10% each)
# The data set is ~40 MiB (DEBUG POPULATE 100000 keys of 256 bytes, plus
# lists built by redis-benchmark).  The guest has no loopback network set up:
# redis listens on a unix socket.  Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail

run=${1:?usage: vm-redis.sh NUMASLAB_RUN membind|heap-only|interleave}
mode=${2:?usage: vm-redis.sh NUMASLAB_RUN membind|heap-only|interleave}
fail() { echo "FAIL [vm-redis $mode]: $*" >&2; exit 1; }

for p in redis-server redis-cli redis-benchmark; do
	command -v "$p" >/dev/null || { echo "SKIP: $p not installed on the host (.ci/install-deps programs)"; exit 77; }
done
nodes=$(ls -d /sys/devices/system/node/node[0-9]* | wc -l)
((nodes >= 3)) || { echo "SKIP: $nodes NUMA node(s): needs the VM's four-node spec"; exit 77; }

case $mode in
membind) opts=(--membind=2) ;;
heap-only) opts=(--heap-only --membind=2) ;;
interleave) opts=(--interleave=all) ;;
*) echo "unknown mode $mode" >&2; exit 2 ;;
esac

work=$(mktemp -d /tmp/vm-redis.XXXXXX)
sock=$work/redis.sock
"$run" --verbose --stats "${opts[@]}" -- redis-server --port 0 --unixsocket "$sock" \
	--save '' --appendonly no --daemonize no --dir "$work" --enable-debug-command yes \
	>"$work/server.out" 2>"$work/server.err" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
	[[ -S $sock ]] && redis-cli -s "$sock" ping 2>/dev/null | grep -q PONG && break
	kill -0 $pid 2>/dev/null || { cat "$work/server.out" "$work/server.err"; fail "redis-server died at start"; }
	sleep 0.1
done
redis-cli -s "$sock" ping | grep -q PONG || fail "redis-server did not answer"
grep -q libnumaslab-malloc "/proc/$pid/maps" || fail "libnumaslab-malloc is not mapped in redis-server"

[[ $(redis-cli -s "$sock" debug populate 100000 key 256) == OK ]] || fail "DEBUG POPULATE"
redis-benchmark -s "$sock" -n 3000 -r 3000 -d 256 -q -t set,lpush >"$work/bench.out" 2>&1 ||
	{ cat "$work/bench.out"; fail "redis-benchmark failed"; }
cat "$work/bench.out"
[[ $(redis-cli -s "$sock" get key:4242) == value:4242* ]] || fail "GET key:4242 returned the wrong value"
keys=$(redis-cli -s "$sock" dbsize)
((keys >= 100000)) || fail "only $keys keys"

cp "/proc/$pid/numa_maps" "$work/numa_maps"

# Per node, pages of: numaslab's mappings (VMA policy set by its mbind:
# bind:K or interleave:...), and every anonymous mapping (no file=, not the
# vdso/vvar).  numa_maps shows a VMA's own policy, "default" when it has none,
# whatever the process policy is.
summary=$(awk -v nn="$nodes" '
	{
		file = 0; special = 0
		for (i = 3; i <= NF; i++) {
			if ($i ~ /^file=/) file = 1
			if ($i == "[vdso]" || $i == "[vvar]" || $i == "[vsyscall]") special = 1
		}
		if (file || special) next
		ours = ($2 ~ /^(bind|interleave):/)
		for (i = 3; i <= NF; i++) {
			if ($i ~ /^N[0-9]+=/) {
				split(substr($i, 2), kv, "=")
				anon[kv[1]] += kv[2]
				if (ours) mine[kv[1]] += kv[2]
			}
		}
	}
	END {
		for (n = 0; n < nn; n++) printf "%d %d %d\n", n, mine[n] + 0, anon[n] + 0
	}' "$work/numa_maps")
echo "node numaslab_pages anon_pages"
echo "$summary"
grep -E '(bind|interleave):' "$work/numa_maps" | head -20

redis-cli -s "$sock" shutdown nosave >/dev/null 2>&1 || true
status=0
wait $pid || status=$?
trap - EXIT
cat "$work/server.err"
((status == 0)) || fail "redis-server exited with $status"
grep -q 'numaslab: malloc stats' "$work/server.err" || fail "no statistics at exit"

mine_total=$(awk '{ s += $2 } END { print s }' <<<"$summary")
anon_total=$(awk '{ s += $3 } END { print s }' <<<"$summary")
# the data set must be in numaslab's mappings: >= 24 MiB of 4 KiB pages
((mine_total >= 6144)) || fail "numaslab's mappings hold only $mine_total pages: the heap did not go through numaslab"

case $mode in
membind | heap-only)
	while read -r n mine anon; do
		if ((n != 2 && mine != 0)); then fail "$mine pages of numaslab's mappings on node $n (bound to 2)"; fi
		if [[ $mode == membind ]] && ((n != 2 && anon != 0)); then
			fail "$anon anonymous pages on node $n under --membind=2"
		fi
	done <<<"$summary"
	;;
interleave)
	while read -r n mine anon; do
		((mine * 10 >= mine_total)) || fail "node $n holds $mine of $mine_total numaslab pages (< 10%)"
		((anon * 10 >= anon_total)) || fail "node $n holds $anon of $anon_total anonymous pages (< 10%)"
	done <<<"$summary"
	;;
esac
rm -rf "$work"
echo "PASS [vm-redis $mode]: $mine_total numaslab pages, $anon_total anonymous pages"
