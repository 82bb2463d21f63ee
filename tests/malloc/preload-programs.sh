#!/usr/bin/env bash
# tests/malloc/preload-programs.sh - real programs under the numaslab malloc
# replacement (CTest label `preload`).
#
# usage: preload-programs.sh CASE
#   python    python3 running alloc_heavy.py
#   sqlite    sqlite3 building and querying a database
#   redis     redis-server on 127.0.0.1 driven by redis-benchmark
#   cxx       a C++ new/delete program (compiled here with g++, if present)
#   libnuma   a program linked with -lnuma (its constructor mallocs)
#   launcher  numaslab-run: --help, --hardware, errors, LD_PRELOAD handling
# Environment (set by tests/malloc/CMakeLists.txt):
#   NSLAB_MALLOC_LIB  path of libnumaslab-malloc.so
#   NSLAB_RUN         path of numaslab-run
#   NSLAB_SRC         tests/malloc source folder
#   NSLAB_WORK        a scratch folder for this case
#   NSLAB_LIBNUMA_PROG  the libnuma test program
#   NSLAB_DEPS        .ci/install-deps (called when a program is missing)
# Every case runs with NUMASLAB_STATS=1 and asserts the statistics lines
# appear and count the program's allocations, so a run that silently fell
# back to another malloc fails.  Exit 0 pass, 1 fail, 77 skip (CTest).
set -euo pipefail

case_name=${1:?usage: preload-programs.sh CASE}
lib=${NSLAB_MALLOC_LIB:?}
work=${NSLAB_WORK:?}
src=${NSLAB_SRC:?}
rm -rf "$work" && mkdir -p "$work"

fail() { echo "FAIL [$case_name]: $*" >&2; exit 1; }
skip() { echo "SKIP [$case_name]: $*"; exit 77; }

# need PROGRAM...: make sure the Debian packages of `.ci/install-deps programs`
# are there (installing them if missing), else skip visibly.
need() {
	local p missing=0
	for p in "$@"; do command -v "$p" >/dev/null 2>&1 || missing=1; done
	if ((missing)) && [[ -n ${NSLAB_DEPS:-} && -x ${NSLAB_DEPS} ]]; then
		"$NSLAB_DEPS" programs >&2 || true
	fi
	for p in "$@"; do
		command -v "$p" >/dev/null 2>&1 || skip "$p is not installed (.ci/install-deps programs)"
	done
}

# stats_check FILE MIN_ALLOCS: the replacement's line and the per-node lines
# are in FILE, and the nodes' allocs add up to at least MIN_ALLOCS.
stats_check() {
	local file=$1 min=$2 allocs
	grep -q '^numaslab: malloc stats (pid [0-9]*): policy=' "$file" ||
		fail "no 'numaslab: malloc stats' line in $file"
	grep -qE '^node [0-9]+: mapped [0-9]+ .* allocs [0-9]+ ' "$file" ||
		fail "no per-node statistics line in $file"
	allocs=$(sed -nE 's/^node [0-9]+: .* allocs ([0-9]+) .*/\1/p' "$file" |
		awk '{ s += $1 } END { print s + 0 }')
	echo "[$case_name] numaslab counted $allocs allocations"
	((allocs >= min)) || fail "only $allocs allocations went through numaslab (expected >= $min)"
}

show() { echo "--- $1:"; sed 's/^/    /' "$1"; }

# preload_ok NAME MIN_ALLOCS PROG...: runs PROG under the preload with
# statistics on; it must exit 0, print "NAME: OK" and have sent at least
# MIN_ALLOCS allocations through numaslab.
preload_ok() {
	local name=$1 min=$2
	shift 2
	NUMASLAB_STATS=1 LD_PRELOAD=$lib "$@" >"$work/out" 2>"$work/err" ||
		{ show "$work/out"; show "$work/err"; fail "$name failed"; }
	show "$work/out"
	show "$work/err"
	grep -qx "$name: OK" "$work/out" || fail "no '$name: OK'"
	stats_check "$work/err" "$min"
}

case $case_name in
python)
	py=/usr/bin/python3
	[[ -x $py ]] || { need python3; py=$(command -v python3); }
	# PYTHONMALLOC=malloc: every object through malloc (by default CPython
	# carves objects of <= 512 bytes from its own mmap'ed pools)
	NUMASLAB_STATS=1 PYTHONMALLOC=malloc LD_PRELOAD=$lib "$py" "$src/alloc_heavy.py" \
		>"$work/out" 2>"$work/err" ||
		{ show "$work/out"; show "$work/err"; fail "python3 exited with $?"; }
	show "$work/out"
	show "$work/err"
	grep -qx 'alloc_heavy: OK' "$work/out" || fail "the script did not finish"
	stats_check "$work/err" 1000000
	# and with CPython's own small-object allocator in front (the default)
	NUMASLAB_STATS=1 LD_PRELOAD=$lib "$py" "$src/alloc_heavy.py" >"$work/out" 2>"$work/err" ||
		{ show "$work/out"; show "$work/err"; fail "python3 (pymalloc) exited with $?"; }
	grep -qx 'alloc_heavy: OK' "$work/out" || fail "the script did not finish (pymalloc)"
	stats_check "$work/err" 1000
	;;

sqlite)
	need sqlite3
	cat >"$work/build.sql" <<-'EOF'
		CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, payload BLOB);
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60000)
		INSERT INTO t SELECT i, i % 97, 'name-' || i, randomblob(100 + i % 400) FROM n;
		CREATE INDEX t_grp ON t(grp, name);
		SELECT count(*), sum(id), sum(length(payload)) FROM t;
		SELECT grp, count(*) FROM t WHERE grp IN (0, 13, 96) GROUP BY grp ORDER BY grp;
		SELECT name FROM t WHERE grp = 42 ORDER BY name DESC LIMIT 1;
		DELETE FROM t WHERE id % 2 = 0;
		VACUUM;
		SELECT count(*), sum(id) FROM t;
	EOF
	NUMASLAB_STATS=1 LD_PRELOAD=$lib sqlite3 -batch "$work/db.sqlite" <"$work/build.sql" \
		>"$work/out" 2>"$work/err" || { show "$work/out"; show "$work/err"; fail "sqlite3 failed"; }
	show "$work/out"
	show "$work/err"
	# 60000 rows; ids sum to 60000*60001/2; payload lengths 100 + i%400
	payload=$(awk 'BEGIN { for (i = 1; i <= 60000; i++) s += 100 + i % 400; print s }')
	cat >"$work/want" <<-EOF
		60000|1800030000|$payload
		0|618
		13|619
		96|618
		name-9936
		30000|900000000
	EOF
	diff -u "$work/want" "$work/out" || fail "query results differ"
	stats_check "$work/err" 50000
	;;

redis)
	need redis-server redis-cli redis-benchmark
	# Debian's redis links jemalloc dynamically; the preload comes first in
	# the lookup order, so malloc/free/calloc/realloc/malloc_usable_size are
	# ours (jemalloc's mallctl/nallocx stay jemalloc's, used only for
	# statistics and a size-class hint).  The allocs count below proves it.
	redis-server --version
	# The port: below the kernel's ephemeral range, so no client socket of
	# another test can hold it; and a start that still loses the port to
	# another program (bind: Address already in use) tries another one.
	eph_low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
	((eph_low > 11000)) || eph_low=32768
	pid='' port=''
	trap 'if [[ -n $pid ]]; then kill $pid 2>/dev/null || true; fi' EXIT
	for attempt in 1 2 3 4 5; do
		port=''
		for _ in $(seq 1 50); do
			p=$((10000 + RANDOM % (eph_low - 10000)))
			if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
		done
		[[ -n $port ]] || fail "no free port found"
		NUMASLAB_STATS=1 LD_PRELOAD=$lib redis-server --port "$port" --bind 127.0.0.1 \
			--save '' --appendonly no --daemonize no --dir "$work" \
			>"$work/server.out" 2>"$work/server.err" &
		pid=$!
		up=0
		for _ in $(seq 1 100); do
			[[ $(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]] && { up=1; break; }
			kill -0 $pid 2>/dev/null || break
			sleep 0.1
		done
		((up)) && break
		if ! kill -0 $pid 2>/dev/null && grep -q 'Address already in use' "$work/server.out" && ((attempt < 5)); then
			echo "port $port was taken at bind time; trying another"
			continue
		fi
		show "$work/server.out"; show "$work/server.err"
		kill -0 $pid 2>/dev/null && fail "redis-server did not answer on port $port"
		fail "redis-server died at start"
	done
	grep -q 'libnumaslab-malloc' "/proc/$pid/maps" || fail "libnumaslab-malloc is not mapped in redis-server"
	redis-benchmark -h 127.0.0.1 -p "$port" -n 20000 -r 10000 -d 100 -q \
		-t set,get,incr,lpush,lpop,sadd,hset >"$work/bench.out" 2>&1 ||
		{ show "$work/bench.out"; fail "redis-benchmark failed"; }
	show "$work/bench.out"
	[[ $(grep -c 'requests per second' "$work/bench.out") -ge 7 ]] || fail "redis-benchmark did not finish every test"
	rc() { redis-cli -h 127.0.0.1 -p "$port" "$@"; }
	[[ $(rc set numaslab:check "placed-by-numaslab") == OK ]] || fail "SET"
	[[ $(rc get numaslab:check) == placed-by-numaslab ]] || fail "GET returned the wrong value"
	rc rpush numaslab:list a b c >/dev/null
	[[ $(rc lrange numaslab:list 0 -1 | tr '\n' ' ') == 'a b c ' ]] || fail "LRANGE"
	keys=$(rc dbsize)
	((keys > 1000)) || fail "only $keys keys after the benchmark"
	rc shutdown nosave >/dev/null 2>&1 || true
	status=0
	wait $pid || status=$?
	trap - EXIT
	show "$work/server.err"
	((status == 0)) || { show "$work/server.out"; fail "redis-server exited with $status"; }
	stats_check "$work/server.err" 20000
	;;

cxx)
	command -v g++ >/dev/null 2>&1 || skip "g++ is not installed (C++ new/delete test)"
	g++ -O1 -std=c++17 -pthread -o "$work/cxx_new_delete" "$src/cxx_new_delete.cpp" ||
		fail "g++ could not build cxx_new_delete.cpp"
	preload_ok cxx_new_delete 100000 "$work/cxx_new_delete"
	;;

libnuma)
	prog=${NSLAB_LIBNUMA_PROG:?}
	deps=$(ldd "$prog") # (not piped into grep -q: pipefail and SIGPIPE)
	grep -q 'libnuma\.so' <<<"$deps" || fail "$prog is not linked with libnuma"
	preload_ok libnuma_prog 10000 "$prog"
	;;

launcher)
	run=${NSLAB_RUN:?}
	expect_rc() { # expect_rc RC CMD...
		local want=$1 got=0
		shift
		"$@" >"$work/out" 2>"$work/err" || got=$?
		((got == want)) || { show "$work/out"; show "$work/err"; fail "'$*' exited $got, expected $want"; }
	}
	expect_rc 0 "$run" --help
	for section in NAME SYNOPSIS DESCRIPTION OPTIONS ENVIRONMENT EXAMPLES; do
		grep -qx "$section" "$work/out" || fail "--help lacks the $section section"
	done
	for opt in --membind --preferred --preferred-many --interleave --weighted-interleave \
		--cpunodebind --physcpubind --balancing --show --stats --hardware; do
		grep -q -- "$opt" "$work/out" || fail "--help does not document $opt"
	done
	expect_rc 0 "$run" --hardware
	show "$work/out"
	grep -qi 'node 0' "$work/out" || fail "--hardware printed no node 0"

	# errors: a clear message and exit 2
	expect_rc 2 "$run"
	grep -q 'no program to run' "$work/err" || fail "no message for a missing program"
	expect_rc 2 "$run" --membind=999 true
	grep -q 'node 999 does not exist' "$work/err" || fail "no message for a bad node"
	expect_rc 2 "$run" --bogus true
	grep -q 'unknown option' "$work/err" || fail "no message for a bad option"
	expect_rc 2 "$run" --membind=0 --interleave=0 true
	grep -q 'choose one' "$work/err" || fail "no message for two policies"
	expect_rc 2 "$run" --weighted=0=0 true
	grep -q '1..255' "$work/err" || fail "no message for a bad weight"
	expect_rc 2 "$run" --cpunodebind=999 true
	expect_rc 2 "$run" -- /nonexistent/program
	grep -q 'cannot run /nonexistent/program' "$work/err" || fail "no message for a missing program file"
	expect_rc 2 env NUMASLAB_MALLOC_LIB=/nonexistent.so "$run" true
	grep -q 'cannot find libnumaslab-malloc' "$work/err" || fail "no message for a missing library"

	# the environment it sets, and the exit status it passes through
	# (--stats=PATH: a plain --stats is consumed by the preloaded sh itself)
	expect_rc 0 "$run" --membind=0 --stats="$work/env.%p" --verbose -- sh -c 'echo "P=$NUMASLAB_POLICY S=$NUMASLAB_STATS V=$NUMASLAB_VERBOSE L=$LD_PRELOAD"'
	show "$work/out"
	show "$work/err"
	grep -q "^P=bind:0 S=$work/env.%p V=1 L=.*libnumaslab-malloc" "$work/out" || fail "environment not set"
	grep -q 'malloc replacement active' "$work/err" || fail "the replacement did not start (verbose)"
	# --stats: the program's statistics on stderr, and only the program's:
	# NUMASLAB_STATS=1 is not inherited by the processes it starts
	# (/usr/bin/python3: dash leaves with _exit, so sh would print nothing
	# itself; a python3 found in PATH may be a shell wrapper)
	expect_rc 0 "$run" --stats -- /usr/bin/python3 -c 'import os, subprocess; subprocess.run(["true"]); subprocess.run(["sort", "/dev/null"]); print("S=" + os.environ.get("NUMASLAB_STATS", ""))'
	[[ $(grep -c 'numaslab: malloc stats' "$work/err") == 1 ]] || { show "$work/err"; fail "--stats: not exactly one process printed"; }
	grep -q '^S=$' "$work/out" || { show "$work/out"; fail "NUMASLAB_STATS=1 left in the environment"; }
	# statistics at exit of a program that closes stderr itself before
	# exiting (coreutils' sort does): --stats=PATH, one file per process
	seq 1 2000 >"$work/nums"
	rm -f "$work"/sort.*
	expect_rc 0 "$run" --stats="$work/sort.%p" -- sort -rn "$work/nums"
	[[ $(head -n1 "$work/out") == 2000 ]] || fail "sort under numaslab-run gave a wrong answer"
	cat "$work"/sort.* 2>/dev/null | grep -q 'numaslab: malloc stats' || { ls -l "$work"; fail "--stats=PATH wrote nothing"; }
	expect_rc 2 "$run" --stats=nopath true
	grep -q 'must contain a /' "$work/err" || fail "no message for --stats without a /"
	expect_rc 3 "$run" sh -c 'exit 3'
	# LD_PRELOAD: ours first, an existing value kept after it, no duplicate
	LD_PRELOAD=/nonexistent-keep.so expect_rc 0 "$run" sh -c 'echo "$LD_PRELOAD"'
	grep -q 'libnumaslab-malloc[^:]*:/nonexistent-keep.so$' "$work/out" || { show "$work/out"; fail "LD_PRELOAD not prepended"; }
	LD_PRELOAD=$lib expect_rc 0 "$run" sh -c 'echo "$LD_PRELOAD"'
	[[ $(cat "$work/out") == "$lib" ]] || { show "$work/out"; fail "LD_PRELOAD duplicated"; }
	# the process policy is applied like numactl's (and not with --heap-only)
	expect_rc 0 "$run" --membind=0 grep -h 'Mems_allowed_list' /proc/self/status
	if command -v numactl >/dev/null 2>&1; then
		expect_rc 0 "$run" --membind=0 numactl --show
		grep -q '^policy: bind' "$work/out" || { show "$work/out"; fail "--membind did not set the process policy"; }
		expect_rc 0 "$run" --heap-only --membind=0 numactl --show
		grep -q '^policy: default' "$work/out" || { show "$work/out"; fail "--heap-only changed the process policy"; }
		expect_rc 0 "$run" --cpunodebind=0 numactl --show
		show "$work/out"
	fi
	# numactl's options and node syntax (issue 14)
	expect_rc 0 "$run" --show
	grep -q '^policy: default' "$work/out" || { show "$work/out"; fail "--show: not the default policy"; }
	grep -q '^physcpubind: ' "$work/out" || fail "--show: no physcpubind line"
	expect_rc 0 "$run" -m +0 --show
	first=$(sed -n 's/^membind: \([0-9]*\).*/\1/p' "$work/out")
	grep -q '^policy: bind$' "$work/out" || { show "$work/out"; fail "-m +0 --show: not bind"; }
	[[ -n $first ]] || { show "$work/out"; fail "-m +0 --show: no membind node"; }
	expect_rc 0 "$run" --membind=all --balancing --show
	grep -q '^policy: bind (balancing)' "$work/out" || { show "$work/out"; fail "--balancing not in the process policy"; }
	expect_rc 2 "$run" --balancing true
	grep -q 'with --membind only' "$work/err" || fail "no message for --balancing without --membind"
	expect_rc 0 "$run" -P all --show
	grep -q '^policy: preferred-many' "$work/out" || { show "$work/out"; fail "--preferred-many not in the process policy"; }
	expect_rc 0 "$run" -P all sh -c 'echo "P=$NUMASLAB_POLICY"'
	grep -q '^P=preferred-many:' "$work/out" || { show "$work/out"; fail "--preferred-many: NUMASLAB_POLICY"; }
	expect_rc 0 "$run" -w all sh -c 'echo "P=$NUMASLAB_POLICY"'
	grep -q '^P=weighted:[0-9]*=[0-9]' "$work/out" || { show "$work/out"; fail "-w: not numactl's weighted interleave"; }
	expect_rc 0 "$run" -C +0 --show
	cpu0=$(awk '/Cpus_allowed_list/ {print $2}' /proc/self/status | sed 's/[-,].*//')
	grep -q "^physcpubind: $cpu0\$" "$work/out" || { show "$work/out"; fail "-C +0: not the first allowed CPU ($cpu0)"; }
	expect_rc 2 "$run" -C 99999 true
	grep -q 'CPU 99999 does not exist' "$work/err" || fail "no message for a bad CPU"
	expect_rc 2 "$run" --interleave='!all' true
	grep -q 'no node left' "$work/err" || fail "no message for an empty !LIST"
	expect_rc 2 "$run" -m +999 true
	grep -q 'allowed nodes' "$work/err" || fail "no message for a relative node past the cpuset"
	expect_rc 2 "$run" -C 0 -N 0 true
	grep -q 'choose one' "$work/err" || fail "no message for two CPU bindings"
	# every policy form runs a real program
	for pol in --localalloc --membind=all --preferred=0 --interleave=all --weighted=0=2 \
		--preferred-many=all --weighted-interleave=all; do
		rm -f "$work"/pol.*
		expect_rc 0 "$run" "$pol" --stats="$work/pol.%p" -- sort -rn "$work/nums"
		[[ $(head -n1 "$work/out") == 2000 ]] || fail "$pol: sort gave a wrong answer"
		cat "$work"/pol.* | grep -q 'numaslab: malloc stats (pid [0-9]*): policy=' || { show "$work/err"; fail "$pol: no statistics"; }
	done
	;;

*)
	echo "usage: preload-programs.sh python|sqlite|redis|cxx|libnuma|launcher" >&2
	exit 2
	;;
esac
echo "PASS [$case_name]"
