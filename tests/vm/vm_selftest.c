/*
 * vm_selftest: the VM harness checks itself, from inside the guest.
 *
 * Run by tests/vm/numaslab-vm in a guest booted with one of the specs in tests/vm/specs/, it checks
 * that the guest kernel sees the topology the spec promises (node count, which nodes have CPUs and
 * memory, each node's CPUs, the distance matrix) and that memory lands where the kernel's policies
 * say (checked page by page with move_pages, nodes = NULL). It prints one placement histogram per
 * check. The expected topologies are written out here again on purpose: this checks the whole
 * chain, spec file -> script -> QEMU -> ACPI tables -> kernel, against what the issue asks for.
 *
 * Plain C and libnuma only; it does not use numaslab, so it can vouch for the harness before the
 * library exists and cannot be fooled by a library bug.
 *
 * usage: vm_selftest SPEC                 SPEC is four, mixed or eight
 *        vm_selftest --cpuset SPEC NODES  run under "numaslab-vm --mems NODES"; NODES is a list
 *                                         like 0-1 that excludes at least one memory node
 * Exit status: 0 when every check passed, 1 when one failed, 2 on a usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_NODES 8
#define REGION_BYTES (16UL << 20)
/* mbind/set_mempolicy read maxnode - 1 bits: the bit count plus one reaches every bit we pass. */
#define MASK_BITS (8 * sizeof(unsigned long))
#define MAXNODE (MASK_BITS + 1)

struct expect {
	const char *name;
	int nodes;
	const char *cpulist[MAX_NODES]; /* as in sysfs nodeN/cpulist; "" for no CPUs */
	int mem_mib[MAX_NODES];         /* 0 for a memoryless node */
	int dist[MAX_NODES][MAX_NODES]; /* dist[from][to] */
};

/* The specs as the issue defines them; tests/vm/specs/ must produce exactly these. */
static const struct expect specs[] = {
	{
		.name = "four",
		.nodes = 4,
		.cpulist = {"0", "1", "2", "3"},
		.mem_mib = {512, 512, 512, 512},
		.dist = {{10, 20, 30, 40}, {20, 10, 20, 30}, {30, 20, 10, 20}, {40, 30, 20, 10}},
	},
	{
		.name = "mixed",
		.nodes = 4,
		.cpulist = {"0", "1", "2", ""},
		.mem_mib = {512, 512, 0, 512},
		.dist = {{10, 21, 12, 24}, {21, 10, 22, 14}, {12, 22, 10, 26}, {26, 16, 28, 10}},
	},
	{
		.name = "eight",
		.nodes = 8,
		.cpulist = {"0", "1", "2", "3", "4", "5", "6", "7"},
		.mem_mib = {256, 256, 256, 256, 256, 256, 256, 256},
		.dist = {{10, 12, 12, 12, 32, 32, 32, 32},
			 {12, 10, 12, 12, 32, 32, 32, 32},
			 {12, 12, 10, 12, 32, 32, 32, 32},
			 {12, 12, 12, 10, 32, 32, 32, 32},
			 {32, 32, 32, 32, 10, 12, 12, 12},
			 {32, 32, 32, 32, 12, 10, 12, 12},
			 {32, 32, 32, 32, 12, 12, 10, 12},
			 {32, 32, 32, 32, 12, 12, 12, 10}},
	},
};

static const struct expect *spec;
static int failures;
static long page_size;
static int first_unplaced_status; /* move_pages' status for the first page it could not place */
static int hidden_pages;          /* pages the last placement() had to read again (see there) */

static void check(bool ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("%s ", ok ? "ok  " : "FAIL");
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
	if (!ok)
		failures++;
}

/* Reads a one-line sysfs or procfs file into buf without its newline; "" when it cannot. */
static const char *read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	buf[0] = '\0';
	if (f) {
		if (!fgets(buf, (int)len, f))
			buf[0] = '\0';
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

/* Parses a kernel list ("0-1,3") into a bit mask of values below 64; -1 when malformed. */
static long long parse_list(const char *s)
{
	long long mask = 0;
	char *end;

	while (*s) {
		long a = strtol(s, &end, 10), b = a;

		if (end == s || a < 0 || a > 63)
			return -1;
		s = end;
		if (*s == '-') {
			b = strtol(s + 1, &end, 10);
			if (end == s + 1 || b < a || b > 63)
				return -1;
			s = end;
		}
		for (long i = a; i <= b; i++)
			mask |= 1LL << i;
		if (*s == ',')
			s++;
		else if (*s)
			return -1;
	}
	return mask;
}

static bool has_memory(int node)
{
	return spec->mem_mib[node] > 0;
}

static bool has_cpus(int node)
{
	return spec->cpulist[node][0] != '\0';
}

static void *map_region(bool nohuge)
{
	void *p = mmap(NULL, REGION_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	if (nohuge && madvise(p, REGION_BYTES, MADV_NOHUGEPAGE) != 0) {
		perror("madvise(MADV_NOHUGEPAGE)");
		exit(1);
	}
	return p;
}

/*
 * Where the pages of [p, p + REGION_BYTES) lie: hist[node] pages per node, and the count of pages
 * move_pages could not place. Returns false when move_pages itself failed.
 *
 * Automatic NUMA balancing, on by default on a multi-node machine, scans mappings that follow the
 * task's default policy and turns their PTEs PROT_NONE to sample accesses; 6.1's move_pages then
 * reports EFAULT for such a page although it is present. Reading the page takes the hinting fault
 * and restores the PTE, so pages reported EFAULT/ENOENT are read and asked again (the scanner comes
 * back a second or more later). How many needed it is reported, not hidden.
 */
static bool placement(void *p, int hist[MAX_NODES], int *unplaced)
{
	size_t n = REGION_BYTES / (size_t)page_size;
	void **pages = calloc(n, sizeof(*pages));
	int *status = calloc(n, sizeof(*status));
	bool ok = true;

	if (!pages || !status) {
		perror("calloc");
		exit(1);
	}
	for (size_t i = 0; i < n; i++)
		pages[i] = (char *)p + i * (size_t)page_size;
	hidden_pages = 0;
	for (int round = 0; ok && round < 3; round++) {
		size_t hidden = 0;

		ok = move_pages(0, n, pages, NULL, status, 0) == 0;
		for (size_t i = 0; ok && i < n; i++)
			if (status[i] == -EFAULT || status[i] == -ENOENT) {
				(void)*(volatile char *)pages[i];
				hidden++;
			}
		if (!hidden)
			break;
		if (round == 0)
			hidden_pages = (int)hidden;
	}
	memset(hist, 0, MAX_NODES * sizeof(hist[0]));
	*unplaced = 0;
	for (size_t i = 0; ok && i < n; i++) {
		if (status[i] >= 0 && status[i] < spec->nodes)
			hist[status[i]]++;
		else if ((*unplaced)++ == 0)
			first_unplaced_status = status[i];
	}
	free(pages);
	free(status);
	return ok;
}

/* Formats a histogram as "[n0 n1 ...]". */
static const char *hist_str(const int hist[MAX_NODES], int unplaced, char *buf, size_t len)
{
	size_t off = 0;

	off += (size_t)snprintf(buf + off, len - off, "[");
	for (int i = 0; i < spec->nodes; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%d", i ? " " : "", hist[i]);
	off += (size_t)snprintf(buf + off, len - off, "]");
	if (unplaced)
		off += (size_t)snprintf(buf + off, len - off, " unplaced=%d (first: %s)", unplaced,
					strerror(-first_unplaced_status));
	if (hidden_pages)
		snprintf(buf + off, len - off, " (%d hidden by NUMA balancing, read again)",
			 hidden_pages);
	return buf;
}

static unsigned long node_bit(int node)
{
	return 1UL << node;
}

/* Touches every page so that the policy in force places it now. */
static void touch(void *p)
{
	memset(p, 0xa5, REGION_BYTES);
}

/* ---------------------------------------------------------------------------------------------
 * Topology */

static void check_topology(void)
{
	char path[128], buf[256], want[256];
	long long cpu_nodes = 0, mem_nodes = 0;

	check(numa_max_node() == spec->nodes - 1, "numa_max_node() = %d, want %d", numa_max_node(),
	      spec->nodes - 1);
	snprintf(want, sizeof(want), "0-%d", spec->nodes - 1);
	read_line("/sys/devices/system/node/online", buf, sizeof(buf));
	check(strcmp(buf, want) == 0, "nodes online: %s, want %s", buf, want);
	read_line("/sys/devices/system/node/possible", buf, sizeof(buf));
	check(strcmp(buf, want) == 0, "nodes possible: %s, want %s", buf, want);

	for (int n = 0; n < spec->nodes; n++) {
		if (has_cpus(n))
			cpu_nodes |= 1LL << n;
		if (has_memory(n))
			mem_nodes |= 1LL << n;
	}
	/* libnuma's "configured" nodes are the nodes with memory: a memoryless node is not counted. */
	check(numa_num_configured_nodes() == __builtin_popcountll(mem_nodes),
	      "numa_num_configured_nodes() = %d, want %d (nodes with memory)",
	      numa_num_configured_nodes(), __builtin_popcountll(mem_nodes));
	read_line("/sys/devices/system/node/has_cpu", buf, sizeof(buf));
	check(parse_list(buf) == cpu_nodes, "nodes with CPUs: %s (mask %#llx, want %#llx)", buf,
	      parse_list(buf), cpu_nodes);
	read_line("/sys/devices/system/node/has_memory", buf, sizeof(buf));
	check(parse_list(buf) == mem_nodes, "nodes with memory: %s (mask %#llx, want %#llx)", buf,
	      parse_list(buf), mem_nodes);

	for (int n = 0; n < spec->nodes; n++) {
		long long size, free_bytes, want_mib = spec->mem_mib[n];

		snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/cpulist", n);
		read_line(path, buf, sizeof(buf));
		check(strcmp(buf, spec->cpulist[n]) == 0, "node %d CPUs: '%s', want '%s'", n, buf,
		      spec->cpulist[n]);
		for (int cpu = 0; cpu < 64; cpu++)
			if (parse_list(spec->cpulist[n]) & (1LL << cpu))
				check(numa_node_of_cpu(cpu) == n, "numa_node_of_cpu(%d) = %d, want %d", cpu,
				      numa_node_of_cpu(cpu), n);

		/* The kernel, its page tables and reserves take some of each node, most of node 0. */
		size = numa_node_size64(n, &free_bytes);
		if (want_mib)
			check(size > (want_mib << 20) / 2 && size <= want_mib << 20,
			      "node %d memory: %lld MiB total, %lld MiB free (spec: %lld MiB)", n,
			      size >> 20, free_bytes >> 20, want_mib);
		else
			check(size <= 0, "node %d memory: %lld bytes, want none (memoryless)", n, size);

		/* Row n of sysfs is "from n"; libnuma must agree with it, and both with the spec. */
		snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/distance", n);
		read_line(path, buf, sizeof(buf));
		want[0] = '\0';
		for (int m = 0; m < spec->nodes; m++)
			snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%d", m ? " " : "",
				 spec->dist[n][m]);
		check(strcmp(buf, want) == 0, "node %d distances (sysfs): %s, want %s", n, buf, want);
		for (int m = 0; m < spec->nodes; m++)
			if (numa_distance(n, m) != spec->dist[n][m])
				check(false, "numa_distance(%d, %d) = %d, want %d", n, m,
				      numa_distance(n, m), spec->dist[n][m]);
	}
}

/* ---------------------------------------------------------------------------------------------
 * Placement */

/* MPOL_BIND to each memory node: every page on that node. To a memoryless node: EINVAL. */
static void check_bind(void)
{
	char h[256];
	int hist[MAX_NODES], unplaced;

	for (int n = 0; n < spec->nodes; n++) {
		unsigned long mask = node_bit(n);
		void *p = map_region(false);
		long rc = mbind(p, REGION_BYTES, MPOL_BIND, &mask, MAXNODE, 0);
		int err = errno;

		if (!has_memory(n)) {
			/* The kernel intersects the mask with the nodes that have memory; empty is EINVAL. */
			check(rc == -1 && err == EINVAL, "bind to memoryless node %d: %s", n,
			      rc == 0 ? "accepted" : strerror(err));
			munmap(p, REGION_BYTES);
			continue;
		}
		if (rc != 0) {
			check(false, "mbind(MPOL_BIND, node %d): %s", n, strerror(err));
			munmap(p, REGION_BYTES);
			continue;
		}
		touch(p);
		if (!placement(p, hist, &unplaced))
			check(false, "move_pages: %s", strerror(errno));
		else
			check(hist[n] == (int)(REGION_BYTES / page_size),
			      "%s bind node %d: pages per node %s, %.1f%% on node %d", spec->name, n,
			      hist_str(hist, unplaced, h, sizeof(h)),
			      100.0 * hist[n] / (double)(REGION_BYTES / page_size), n);
		munmap(p, REGION_BYTES);
	}
}

/* The memory node nearest to node `from` by distance from it (itself when it has memory). */
static int nearest_memory(int from)
{
	int best = -1;

	for (int m = 0; m < spec->nodes; m++)
		if (has_memory(m) && (best < 0 || spec->dist[from][m] < spec->dist[from][best]))
			best = m;
	return best;
}

/* Kilobytes of transparent huge pages in the mapping at p, from /proc/self/smaps. */
static long anon_huge_kb(void *p)
{
	char line[256];
	long kb = -1;
	bool in = false;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end;

		/* A mapping's header line; no field name reads as "hex-hex". */
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
			in = start <= (uintptr_t)p && (uintptr_t)p < end;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/*
 * Default (local) policy on a CPU of each node with CPUs: every page on the node itself, or for a
 * memoryless node on the nearest node with memory, since the kernel orders each node's fallback
 * list by distance.
 */
static void check_local(void)
{
	char h[256];
	int hist[MAX_NODES], unplaced;

	for (int n = 0; n < spec->nodes; n++) {
		cpu_set_t set;
		int want = nearest_memory(n), cpu = -1;
		void *p;

		for (int c = 0; c < 64 && cpu < 0; c++)
			if (parse_list(spec->cpulist[n]) & (1LL << c))
				cpu = c;
		if (cpu < 0)
			continue;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) != 0) {
			check(false, "sched_setaffinity(CPU %d): %s", cpu, strerror(errno));
			continue;
		}
		p = map_region(false);
		touch(p);
		if (!placement(p, hist, &unplaced))
			check(false, "move_pages: %s", strerror(errno));
		else
			check(hist[want] == (int)(REGION_BYTES / page_size),
			      "%s local on CPU %d (node %d): pages per node %s, want all on node %d; "
			      "%ld KiB in huge pages",
			      spec->name, cpu, n, hist_str(hist, unplaced, h, sizeof(h)), want,
			      anon_huge_kb(p));
		munmap(p, REGION_BYTES);
	}
	numa_run_on_node(-1);
}

/*
 * MPOL_INTERLEAVE over every memory node. With MADV_NOHUGEPAGE, pages go round robin by offset:
 * the counts differ by at most one. With transparent huge pages a whole 2 MiB page goes to one
 * node, so each count is within one huge page of an even share; that one is reported, and checked
 * only against that looser bound.
 */
static void check_interleave(bool nohuge)
{
	char h[256];
	int hist[MAX_NODES], unplaced, nmem = 0, lo = INT32_MAX, hi = 0;
	unsigned long mask = 0;
	long pages = (long)(REGION_BYTES / page_size), huge = (2L << 20) / page_size;
	void *p = map_region(nohuge);

	for (int n = 0; n < spec->nodes; n++)
		if (has_memory(n)) {
			mask |= node_bit(n);
			nmem++;
		}
	if (mbind(p, REGION_BYTES, MPOL_INTERLEAVE, &mask, MAXNODE, 0) != 0) {
		check(false, "mbind(MPOL_INTERLEAVE, %#lx): %s", mask, strerror(errno));
		munmap(p, REGION_BYTES);
		return;
	}
	touch(p);
	if (!placement(p, hist, &unplaced)) {
		check(false, "move_pages: %s", strerror(errno));
		munmap(p, REGION_BYTES);
		return;
	}
	for (int n = 0; n < spec->nodes; n++)
		if (has_memory(n)) {
			lo = hist[n] < lo ? hist[n] : lo;
			hi = hist[n] > hi ? hist[n] : hi;
		} else if (hist[n]) {
			lo = -1; /* a page on a node outside the mask */
		}
	if (nohuge)
		check(unplaced == 0 && lo >= 0 && hi - lo <= 1,
		      "%s interleave over %d nodes, MADV_NOHUGEPAGE: pages per node %s (even: %ld)",
		      spec->name, nmem, hist_str(hist, unplaced, h, sizeof(h)), pages / nmem);
	else
		check(unplaced == 0 && lo >= 0 && hi - pages / nmem <= huge && pages / nmem - lo <= huge,
		      "%s interleave over %d nodes, THP on: pages per node %s (even: %ld, %ld KiB in "
		      "huge pages)",
		      spec->name, nmem, hist_str(hist, unplaced, h, sizeof(h)), pages / nmem,
		      anon_huge_kb(p));
	munmap(p, REGION_BYTES);
}

/* ---------------------------------------------------------------------------------------------
 * cpuset: run in a cgroup whose cpuset.mems is `allowed_list` (numaslab-vm --mems). */

static void check_cpuset(const char *allowed_list)
{
	char buf[256], h[256];
	int hist[MAX_NODES], unplaced, outside = -1, inside = -1;
	long long allowed = parse_list(allowed_list);
	unsigned long mask, mems = 0;
	void *p;
	long rc;

	if (allowed <= 0) {
		fprintf(stderr, "vm_selftest: bad node list '%s'\n", allowed_list);
		exit(2);
	}
	for (int n = spec->nodes - 1; n >= 0; n--) {
		if (has_memory(n) && !(allowed & (1LL << n)) && outside < 0)
			outside = n;
		if (has_memory(n) && (allowed & (1LL << n)) && inside < 0)
			inside = n;
	}
	if (outside < 0 || inside < 0) {
		fprintf(stderr, "vm_selftest: --cpuset needs both allowed and excluded memory nodes\n");
		exit(2);
	}

	/* The cgroup's mems are the task's mems_allowed, and the kernel reports them three ways. */
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];

	buf[0] = '\0';
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Mems_allowed_list: %255s", buf) == 1)
			break;
	if (f)
		fclose(f);
	check(parse_list(buf) == allowed, "Mems_allowed_list: %s, want %s", buf, allowed_list);
	rc = get_mempolicy(NULL, &mems, MAXNODE, NULL, MPOL_F_MEMS_ALLOWED);
	check(rc == 0 && (long long)mems == allowed, "get_mempolicy(MPOL_F_MEMS_ALLOWED): %#lx",
	      mems);
	check(numa_bitmask_isbitset(numa_get_mems_allowed(), (unsigned)outside) == 0,
	      "numa_get_mems_allowed() excludes node %d", outside);

	/* Outside the cpuset: mbind and set_mempolicy with only that node are refused with EINVAL
	 * (the kernel intersects the mask with mems_allowed and an empty result is invalid). */
	mask = node_bit(outside);
	p = map_region(false);
	rc = mbind(p, REGION_BYTES, MPOL_BIND, &mask, MAXNODE, 0);
	check(rc == -1 && errno == EINVAL, "mbind(MPOL_BIND, node %d) outside the cpuset: %s", outside,
	      rc == 0 ? "accepted" : strerror(errno));
	rc = set_mempolicy(MPOL_BIND, &mask, MAXNODE);
	check(rc == -1 && errno == EINVAL, "set_mempolicy(MPOL_BIND, node %d) outside the cpuset: %s",
	      outside, rc == 0 ? "accepted" : strerror(errno));
	set_mempolicy(MPOL_DEFAULT, NULL, 0);

	/* A mask that mixes allowed and excluded nodes is accepted and silently narrowed. */
	mask = node_bit(outside) | node_bit(inside);
	rc = mbind(p, REGION_BYTES, MPOL_BIND, &mask, MAXNODE, 0);
	if (rc != 0) {
		check(false, "mbind(MPOL_BIND, nodes %d,%d): %s", inside, outside, strerror(errno));
	} else {
		int mode = -1;
		unsigned long got = 0;

		bool placed;

		touch(p);
		get_mempolicy(&mode, &got, MAXNODE, p, MPOL_F_ADDR);
		placed = placement(p, hist, &unplaced);
		check(placed && hist[inside] == (int)(REGION_BYTES / page_size),
		      "%s cpuset %s, bind nodes %d,%d: accepted, pages per node %s, policy reads back "
		      "as mask %#lx",
		      spec->name, allowed_list, inside, outside, hist_str(hist, unplaced, h, sizeof(h)),
		      got);
	}

	/* Interleave over every memory node is narrowed the same way: even over the allowed ones. */
	{
		void *q = map_region(true);
		int lo = INT32_MAX, hi = 0, nallowed = 0, stray = 0;

		mask = 0;
		for (int n = 0; n < spec->nodes; n++)
			if (has_memory(n))
				mask |= node_bit(n);
		rc = mbind(q, REGION_BYTES, MPOL_INTERLEAVE, &mask, MAXNODE, 0);
		if (rc != 0) {
			check(false, "mbind(MPOL_INTERLEAVE, %#lx): %s", mask, strerror(errno));
		} else {
			bool placed;

			touch(q);
			placed = placement(q, hist, &unplaced);
			for (int n = 0; n < spec->nodes; n++) {
				if (!(allowed & (1LL << n))) {
					stray += hist[n];
				} else if (has_memory(n)) {
					nallowed++;
					lo = hist[n] < lo ? hist[n] : lo;
					hi = hist[n] > hi ? hist[n] : hi;
				}
			}
			check(placed && !unplaced && !stray && hi - lo <= 1,
			      "%s cpuset %s, interleave over mask %#lx, MADV_NOHUGEPAGE: pages per node %s "
			      "(even over the %d allowed: %ld)",
			      spec->name, allowed_list, mask, hist_str(hist, unplaced, h, sizeof(h)),
			      nallowed, (long)(REGION_BYTES / page_size) / (nallowed ? nallowed : 1));
		}
		munmap(q, REGION_BYTES);
	}

	/* Moving pages there is refused too, for the whole call. */
	{
		void *page = p;
		int node = outside, status = 0;

		rc = move_pages(0, 1, &page, &node, &status, MPOL_MF_MOVE);
		check(rc == -1 && errno == EACCES, "move_pages to node %d outside the cpuset: %s",
		      outside, rc == 0 ? (status == outside ? "moved" : "not moved") : strerror(errno));
	}
	munmap(p, REGION_BYTES);
}

/* --------------------------------------------------------------------------------------------- */

static const struct expect *find_spec(const char *name)
{
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
		if (strcmp(specs[i].name, name) == 0)
			return &specs[i];
	fprintf(stderr, "vm_selftest: unknown spec '%s' (four, mixed, eight)\n", name);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *cpuset = NULL;
	char buf[64];

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && strcmp(argv[1], "--cpuset") == 0) {
		spec = find_spec(argv[2]);
		cpuset = argv[3];
	} else if (argc == 2) {
		spec = find_spec(argv[1]);
	} else {
		fprintf(stderr, "usage: vm_selftest SPEC | vm_selftest --cpuset SPEC NODES\n");
		return 2;
	}
	page_size = sysconf(_SC_PAGESIZE);
	if (numa_available() < 0) {
		printf("FAIL libnuma: NUMA not available\n");
		return 1;
	}
	printf("vm_selftest: spec %s, kernel THP %s\n", spec->name,
	       read_line("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof(buf)));

	check_topology();
	if (cpuset) {
		check_cpuset(cpuset);
	} else {
		check_bind();
		check_local();
		check_interleave(true);
		check_interleave(false);
	}
	printf("vm_selftest: %s, %d failure%s\n", failures ? "FAILED" : "passed", failures,
	       failures == 1 ? "" : "s");
	return failures ? 1 : 0;
}
