/*
 * examples/demo.h - what the demo's sections share.  A section is a
 * function that prints a titled block and states each claim it makes with
 * demo_claim(), which prints PASS or FAIL and counts failures; the demo
 * exits non-zero if any claim failed.  To add a section: write
 * demo-<name>.c with a `int demo_<name>(struct demo *d)`, declare it below,
 * list it in demo.c's table, and add the file to examples/CMakeLists.txt.
 */
#ifndef NUMASLAB_DEMO_H
#define NUMASLAB_DEMO_H

#include <stdio.h>

#include <numaslab.h>

struct demo {
    FILE *out;
    int section;      /* number of the section being printed */
    int claims, fails;
    int skips;        /* sections that could not run here (one SKIP line each) */
    nslab_nodeset_t nodes; /* the allowed nodes with memory */
};

/* Print "  PASS <claim>" or "  FAIL <claim>" (printf format); count it.
 * Returns ok. */
int demo_claim(struct demo *d, int ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Print a per-node page histogram on one line: "node0 16384 (100.0%) ...";
 * prefix is printed first. */
void demo_histogram(struct demo *d, const char *prefix, const nslab_placement_t *p);

/* The same line for counts of anything per node (blocks, buffers):
 * count[n] of total, `unit` named at the end. */
void demo_counts(struct demo *d, const char *prefix, const size_t *count, size_t total,
                 const char *unit);

/* Print a section title: "== N. <title>". */
void demo_title(struct demo *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sections (each returns 0, or -1 if it could not run at all). */
int demo_topology(struct demo *d);
int demo_regions(struct demo *d);
int demo_interleaved(struct demo *d);
int demo_arena(struct demo *d);
int demo_move(struct demo *d);
int demo_compare(struct demo *d);
int demo_layout(struct demo *d);
/* The layout section's child process (demo-layout.c): main() hands it
 * argv when argv[1] is "--layout-child".  Returns the exit status. */
int demo_layout_child(int argc, char **argv);

#endif
