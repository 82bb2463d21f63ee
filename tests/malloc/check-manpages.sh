#!/usr/bin/env bash
# tests/malloc/check-manpages.sh RUN SRC: every long option numaslab-run's
# --help documents is in doc/numaslab-run.1, every public function of
# numaslab.h is named in doc/numaslab.3, and both pages render with man
# (when man is installed) without warnings.
set -euo pipefail
run=${1:?usage: check-manpages.sh NUMASLAB_RUN SRCDIR}
src=${2:?}
fail() { echo "FAIL: $*" >&2; exit 1; }
page1=$src/doc/numaslab-run.1 page3=$src/doc/numaslab.3
opts=$("$run" --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
[[ -n $opts ]] || fail "--help lists no options"
for o in $opts; do
	esc=${o//-/\\\\-}
	grep -q -- "$esc" "$page1" || fail "numaslab-run.1 does not document $o"
done
# functions: NSLAB_API <type> <name>(  ->  name, short forms like _addr count
# when the page lists "nslab_region_create ..., _addr"
fns=$(grep -o "^NSLAB_API [^(]*(" "$src/include/numaslab.h" | sed 's/.*[ *]\([a-z_0-9]*\)($/\1/' | sort -u)
missing=0
for f in $fns; do
	grep -q "$f" "$page3" && continue
	suffix=_${f#nslab_*_}
	prefix=${f%"$suffix"}
	if grep -q -- "$prefix" "$page3" && grep -qw -- "$suffix" "$page3"; then continue; fi
	echo "numaslab.3 does not name $f" >&2
	missing=1
done
((missing == 0)) || fail "numaslab.3 misses functions"
if command -v man >/dev/null 2>&1; then
	for p in "$page1" "$page3"; do
		out=$(MANWIDTH=80 man --warnings -l "$p" 2>&1 >/dev/null || true)
		[[ -z $out ]] || fail "man warns on $p: $out"
	done
fi
echo "PASS man pages"
