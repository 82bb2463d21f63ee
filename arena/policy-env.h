/*
 * arena/policy-env.h - configuration of the process default policy
 * (process.h: what the malloc replacement follows), read from the
 * environment without allocating (policy-env.c).  Shared by the library's
 * policy engine (process.c) and the launcher (numaslab-run.c), which uses
 * the same parser to check what it is about to put in the environment.
 *
 * Variables:
 *   NUMASLAB_POLICY   local | bind:NODES | preferred:N | interleave:NODES |
 *                     preferred-many:NODES | weighted:N=W,N=W,...   (NODES as nslab_nodeset_parse:
 *                     "all", "2", "0-3", "0,2-3"; W is 1..255)
 *   NUMASLAB_STATS    1|yes|true|on: print per-node statistics at exit (this
 *                     process only), or a path with %p: each process's file
 *                     (arena/stats.c)
 *   NUMASLAB_VERBOSE  1|yes|true|on: print the resolved configuration once
 *   NUMASLAB_PREFAULT none|slabs|all|default: what the arenas populate ahead
 *                     (numaslab.h, nslab_arena_prefault_t; read by arena.c
 *                     with menv_parse_prefault, reported here)
 * An invalid value is reported in one line on stderr (write(2), no stdio)
 * and the default is used (local; off; off; default).
 *
 * Nothing here calls malloc or stdio: the replacement runs this while it
 * bootstraps.
 */
#ifndef NSLAB_POLICY_ENV_H
#define NSLAB_POLICY_ENV_H

#include <stddef.h>
#include <stdint.h>

#include "numaslab.h"

enum menv_mode {
    MENV_LOCAL = 0,
    MENV_BIND,
    MENV_PREFERRED,
    MENV_INTERLEAVE,
    MENV_WEIGHTED,
    MENV_PREFERRED_MANY, /* the nearest member first, then any node */
};

/* A parsed and validated policy.
 * Invariants: member[0 .. nmembers-1] are the nodes of `nodes` in
 * ascending order, each a node with memory that the cpuset allows;
 * weight[i] (1..255) belongs to member[i] (1 unless WEIGHTED);
 * wsum = sum of weight[].  PREFERRED: `preferred` is valid and nodes holds
 * just it.  LOCAL: nodes empty, nmembers 0. */
struct menv_policy {
    enum menv_mode mode;
    int preferred;
    nslab_nodeset_t nodes;
    int nmembers;
    unsigned wsum;
    int16_t member[NSLAB_MAX_NODES];
    uint8_t weight[NSLAB_MAX_NODES];
};

/* The whole configuration of the replacement. */
struct menv_config {
    struct menv_policy policy;
    int stats;    /* NUMASLAB_STATS */
    int verbose;  /* NUMASLAB_VERBOSE */
    int prefault; /* NUMASLAB_PREFAULT: NSLAB_ARENA_PREFAULT_* */
    /* BIND, PREFERRED_MANY: for a thread whose CPU is on node n, target[n] is the node it
     * allocates on: n's local node (itself, or for a memoryless node its
     * nearest node with memory) if that is in the set, else the member
     * nearest to n by distance (ties: the lower id).  -1 past nr_nodes. */
    int16_t target[NSLAB_MAX_NODES];
};

/* Parse `text` (the value of NUMASLAB_POLICY) into *out and validate it
 * against the topology.  Returns 0, or EINVAL with a one-phrase reason
 * written to why[0 .. whylen-1] (NUL terminated), e.g. "node 7 does not
 * exist".  Does not allocate. */
int menv_parse_policy(const char *text, struct menv_policy *out, char *why,
                      size_t whylen);

/* Parse NUMASLAB_PREFAULT's value: NSLAB_ARENA_PREFAULT_NONE / _SLABS /
 * _ALL for "none" / "slabs" / "all" (any case), _DEFAULT for NULL, "" or
 * "default"; -1 for anything else.  Does not allocate. */
int menv_parse_prefault(const char *text);

/* Parse a boolean ("1", "yes", "true", "on" / "0", "no", "false", "off",
 * ""): 0 or 1, or -1 for anything else. */
int menv_parse_bool(const char *text);

/* Fill target[] of cfg from cfg->policy (see struct menv_config). */
void menv_resolve_targets(struct menv_config *cfg);

/* Read the environment into *cfg: policy, stats, verbose, targets.  Each
 * invalid variable is reported once on stderr and replaced by its
 * default.  Does not allocate. */
void menv_load(struct menv_config *cfg);

/* Format the policy back as NUMASLAB_POLICY text ("bind:0-1", ...).
 * Returns the length needed (as snprintf); buf is always NUL terminated
 * when len > 0. */
size_t menv_format_policy(const struct menv_policy *p, char *buf, size_t len);

/* A bounded string builder over a caller's buffer (no allocation): used to
 * compose the one-line messages written with write(2). */
struct menv_buf {
    char *buf;
    size_t cap, len; /* len may exceed cap - 1: the text was truncated */
};
void menv_buf_init(struct menv_buf *b, char *buf, size_t cap);
void menv_buf_str(struct menv_buf *b, const char *s);
void menv_buf_uint(struct menv_buf *b, unsigned long long v);
void menv_buf_int(struct menv_buf *b, long long v);
/* write(2) the text to fd, retrying on EINTR and short writes. */
void menv_buf_write(const struct menv_buf *b, int fd);
/* End the text with a newline (a truncated text loses its last character
 * to it). */
void menv_buf_newline(struct menv_buf *b);
/* menv_buf_newline, then menv_buf_write: the line in one write. */
void menv_buf_writeln(struct menv_buf *b, int fd);

#endif /* NSLAB_POLICY_ENV_H */
