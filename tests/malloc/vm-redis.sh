#!/usr/bin/env bash
# tests/malloc/vm-redis.sh - redis-server under numaslab-run inside the
# multi-node VM (CTest label numa-vm, spec `four`): its heap's placement read
# from /proc/PID/numa_maps and asserted.
#
# usage: vm-redis.sh NUMASLAB_RUN MODE
#   membind     numaslab-run --membind=2: every anonymous page of the process
#               is on node 2 (numa_maps), and numaslab mapped memory only on
#               node 2 and holds the data set (its statistics at exit)
#   heap-only   numaslab-run --heap-only --membind=2: the process policy is
#               left alone, so only the allocator places: the mappings bound
#               to one node (numaslab's mbind) hold >= 24 MiB, all on node 2
#   interleave  numaslab-run --interleave=all: the anonymous pages, the
#               per-node chunks ("bind:K" mappings) and numaslab's bytes in
#               use are each spread over every node (>= 10% each)
# In every mode no page of a mapping bound to node K lies elsewhere.
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
	[[ -S $sock && $(redis-cli -s "$sock" ping 2>/dev/null) == PONG ]] && break
	kill -0 $pid 2>/dev/null || { cat "$work/server.out" "$work/server.err"; fail "redis-server died at start"; }
	sleep 0.1
done
[[ $(redis-cli -s "$sock" ping) == PONG ]] || fail "redis-server did not answer"
grep -q libnumaslab-malloc "/proc/$pid/maps" || fail "libnumaslab-malloc is not mapped in redis-server"

[[ $(redis-cli -s "$sock" debug populate 100000 key 256) == OK ]] || fail "DEBUG POPULATE"
redis-benchmark -s "$sock" -n 3000 -r 3000 -d 256 -q -t set,lpush >"$work/bench.out" 2>&1 ||
	{ cat "$work/bench.out"; fail "redis-benchmark failed"; }
cat "$work/bench.out"
[[ $(redis-cli -s "$sock" getrange key:4242 0 9) == value:4242 ]] || fail "GET key:4242 returned the wrong value"
keys=$(redis-cli -s "$sock" dbsize)
((keys >= 100000)) || fail "only $keys keys"

cp "/proc/$pid/numa_maps" "$work/numa_maps"

# Per node, from numa_maps: pages of every anonymous mapping (no file=, not
# the vdso/vvar), pages of the mappings bound to one node ("bind:K", or
# "bind=static:K" for the allocator's chunks, bound with MPOL_F_STATIC_NODES
# so that a cpuset change does not rebind them; large blocks are mbind'ed
# plainly; under --membind the process policy shows on every mapping too),
# and "stray" pages: pages of a bound mapping found on another node than K
# (must be none).
summary=$(awk -v nn="$nodes" '
	{
		file = 0; special = 0; bound = -1
		for (i = 3; i <= NF; i++) {
			if ($i ~ /^file=/) file = 1
			if ($i == "[vdso]" || $i == "[vvar]" || $i == "[vsyscall]") special = 1
		}
		if (file || special) next
		if ($2 ~ /^bind(=static)?:[0-9]+$/) { bound = $2; sub(/^.*:/, "", bound); bound += 0 }
		for (i = 3; i <= NF; i++) {
			if ($i ~ /^N[0-9]+=/) {
				split(substr($i, 2), kv, "=")
				anon[kv[1]] += kv[2]
				if (bound >= 0) {
					b[kv[1]] += kv[2]
					if (kv[1] + 0 != bound) stray[kv[1]] += kv[2]
				}
			}
		}
	}
	END {
		for (n = 0; n < nn; n++) printf "%d %d %d %d\n", n, anon[n] + 0, b[n] + 0, stray[n] + 0
	}' "$work/numa_maps")
echo "node anon_pages bound_pages stray_pages"
echo "$summary"
awk '/ bind(=static)?:[0-9]+ anon=/ && ++n <= 12' "$work/numa_maps"

redis-cli -s "$sock" shutdown nosave >/dev/null 2>&1 || true
status=0
wait $pid || status=$?
trap - EXIT
cat "$work/server.err"
((status == 0)) || fail "redis-server exited with $status"
grep -q 'numaslab: malloc stats' "$work/server.err" || fail "no statistics at exit"

# The allocator's own account, per node: bytes mapped and bytes in use.
declare -A mapped inuse
# (no process substitution: the guest has no /dev/fd)
node_lines=$(sed -nE 's/^node ([0-9]+): mapped ([0-9]+) committed [0-9]+ reserved [0-9]+ in_use ([0-9]+) .*/\1 \2 \3/p' "$work/server.err")
while read -r n m u; do mapped[$n]=$m; inuse[$n]=$u; done <<<"$node_lines"
inuse_total=0
for n in "${!inuse[@]}"; do inuse_total=$((inuse_total + inuse[$n])); done
# the data set went through numaslab: >= 24 MiB in use at shutdown
((inuse_total >= 24 << 20)) || fail "numaslab had only $inuse_total bytes in use: the heap did not go through it"

anon_total=$(awk '{ s += $2 } END { print s }' <<<"$summary")
bound_total=$(awk '{ s += $3 } END { print s }' <<<"$summary")
stray_total=$(awk '{ s += $4 } END { print s }' <<<"$summary")
((stray_total == 0)) || fail "$stray_total pages of node-bound mappings are on another node"

case $mode in
membind | heap-only)
	for n in "${!mapped[@]}"; do
		((n == 2 || mapped[$n] == 0)) || fail "numaslab mapped ${mapped[$n]} bytes on node $n (bound to 2)"
	done
	# the allocator's mappings, seen by the kernel: >= 24 MiB bound, on node 2
	((bound_total >= 6144)) || fail "only $bound_total pages in node-bound mappings"
	while read -r n anon bound stray; do
		((n == 2 || bound == 0)) || fail "$bound bound pages on node $n"
		if [[ $mode == membind ]] && ((n != 2 && anon != 0)); then
			fail "$anon anonymous pages on node $n under --membind=2"
		fi
	done <<<"$summary"
	;;
interleave)
	for n in $(seq 0 $((nodes - 1))); do
		u=${inuse[$n]:-0}
		((u * 10 >= inuse_total)) || fail "numaslab has $u of $inuse_total bytes in use on node $n (< 10%)"
	done
	while read -r n anon bound stray; do
		((anon * 10 >= anon_total)) || fail "node $n holds $anon of $anon_total anonymous pages (< 10%)"
		((bound * 10 >= bound_total)) || fail "node $n holds $bound of $bound_total pages of per-node chunks (< 10%)"
	done <<<"$summary"
	;;
esac
rm -rf "$work"
echo "PASS [vm-redis $mode]: $inuse_total bytes in use in numaslab, $bound_total node-bound pages, $anon_total anonymous pages"
