#!/usr/bin/env bash
# tests/malloc/bench-redis.sh - redis-server on three allocators, measured in
# one run with the runs interleaved (numaslab glibc jemalloc numaslab ...):
# redis-benchmark throughput (SET and GET, pipelined) and the server's peak
# RSS (VmHWM from /proc/PID/status, read just before shutdown), and the
# server's CPU time per request (utime + stime from /proc/PID/stat over all
# requests): on a shared machine throughput swings with the other load, the
# CPU time the server spent per request much less.
# Not a CTest test: it asserts nothing, it reports.
#
# usage: bench-redis.sh BUILD_DIR [ROUNDS] [REQUESTS]
#   numaslab  LD_PRELOAD=BUILD_DIR/arena/malloc/libnumaslab-malloc.so.0
#   glibc     LD_PRELOAD=glibc-malloc-shim.so (built here): Debian's redis
#             links jemalloc, the shim forwards malloc & co to __libc_malloc
#   jemalloc  redis-server as Debian builds it (jemalloc 5.3, linked)
# Per run: a fresh server on 127.0.0.1, redis-benchmark -t set,get -n REQUESTS
# -P 16 -r 1000000 -d 128 -c 50, then VmHWM.  Prints every run and the
# median per allocator.  Defaults: 5 rounds, 1000000 requests.
set -euo pipefail

build=${1:?usage: bench-redis.sh BUILD_DIR [ROUNDS] [REQUESTS]}
rounds=${2:-5}
requests=${3:-1000000}
here=$(cd "$(dirname "$0")" && pwd)
lib=$build/arena/malloc/libnumaslab-malloc.so.0
[[ -r $lib ]] || { echo "no $lib: build numaslab-malloc first" >&2; exit 2; }
for p in redis-server redis-benchmark redis-cli cc; do
	command -v $p >/dev/null || { echo "$p missing (.ci/install-deps programs)" >&2; exit 2; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -O2 -shared -fPIC -o "$work/glibc-malloc-shim.so" "$here/glibc-malloc-shim.c" -ldl

preload_of() {
	case $1 in
	numaslab) echo "$lib" ;;
	glibc) echo "$work/glibc-malloc-shim.so" ;;
	jemalloc) echo "" ;;
	esac
}

port=$((20000 + RANDOM % 20000))
results=$work/results
: >"$results"
echo "redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*malloc=\([^ ]*\).*/v=\1 (built with \2)/'), $(nproc) CPUs, $rounds rounds, $requests requests per test, -P 16 -c 50 -d 128 -r 1000000"
printf '%-9s %5s %12s %12s %10s %12s\n' allocator round SET/s GET/s VmHWM_MiB cpu_us/req
tick=$(getconf CLK_TCK)
for r in $(seq 1 "$rounds"); do
	for a in numaslab glibc jemalloc; do
		port=$((port + 1))
		env LD_PRELOAD="$(preload_of $a)" redis-server --port $port --bind 127.0.0.1 \
			--save '' --appendonly no --daemonize no --dir "$work" >"$work/server.log" 2>&1 &
		pid=$!
		for _ in $(seq 1 100); do
			[[ $(redis-cli -p $port ping 2>/dev/null) == PONG ]] && break
			sleep 0.05
		done
		if [[ $a == numaslab ]]; then
			grep -q libnumaslab-malloc "/proc/$pid/maps" || { echo "numaslab not mapped" >&2; exit 1; }
		fi
		out=$(redis-benchmark -p $port -t set,get -n "$requests" -P 16 -c 50 -d 128 \
			-r 1000000 --csv 2>/dev/null)
		set_rps=$(awk -F'","' '/^"SET"/ { print $2 + 0 }' <<<"$out")
		get_rps=$(awk -F'","' '/^"GET"/ { print $2 + 0 }' <<<"$out")
		hwm=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
		# fields 14, 15 of /proc/PID/stat (after the parenthesised name)
		cpu=$(sed 's/.*) //' "/proc/$pid/stat" | awk -v t="$tick" -v n="$requests" \
			'{ printf "%.3f", ($12 + $13) / t * 1e6 / (2 * n) }')
		redis-cli -p $port shutdown nosave >/dev/null 2>&1 || true
		wait $pid || true
		printf '%-9s %5d %12.0f %12.0f %10s %12s\n' "$a" "$r" "$set_rps" "$get_rps" "$hwm" "$cpu"
		echo "$a $set_rps $get_rps $hwm $cpu" >>"$results"
	done
done

echo
echo "median over $rounds rounds (ratios against glibc):"
printf '%-9s %12s %12s %10s %12s   %s\n' allocator SET/s GET/s VmHWM_MiB cpu_us/req \
	"SET  GET  RSS  cpu vs glibc"
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
declare -A ms mg mh mc
for a in numaslab glibc jemalloc; do
	mc[$a]=$(awk -v a=$a '$1 == a { print $5 }' "$results" | median)
	ms[$a]=$(awk -v a=$a '$1 == a { print $2 }' "$results" | median)
	mg[$a]=$(awk -v a=$a '$1 == a { print $3 }' "$results" | median)
	mh[$a]=$(awk -v a=$a '$1 == a { print $4 }' "$results" | median)
done
for a in numaslab glibc jemalloc; do
	printf '%-9s %12.0f %12.0f %10.1f %12.3f   %.2f %.2f %.2f %.2f\n' "$a" "${ms[$a]}" "${mg[$a]}" \
		"${mh[$a]}" "${mc[$a]}" \
		"$(bc -l <<<"${ms[$a]} / ${ms[glibc]}")" "$(bc -l <<<"${mg[$a]} / ${mg[glibc]}")" \
		"$(bc -l <<<"${mh[$a]} / ${mh[glibc]}")" "$(bc -l <<<"${mc[$a]} / ${mc[glibc]}")"
done
