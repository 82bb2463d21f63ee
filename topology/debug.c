/*
 * topology/debug.c - the failure of an assert (debug.h): one line with
 * write(2), then abort.  No allocation, no stdio, no lock.
 */
#include "debug.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "topology.h" /* text_utoa */

static void put(char *buf, size_t cap, size_t *len, const char *s)
{
    while (*s && *len + 1 < cap)
        buf[(*len)++] = *s++;
}

void nslab_assert_fail(const char *file, int line, const char *expr)
{
    char buf[512], d[20];
    size_t len = 0;
    put(buf, sizeof buf, &len, "numaslab: assertion failed: ");
    put(buf, sizeof buf, &len, file);
    put(buf, sizeof buf, &len, ":");
    int n = text_utoa((unsigned long long)(line > 0 ? line : 0), d);
    for (int i = 0; i < n && len + 1 < sizeof buf; i++)
        buf[len++] = d[i];
    put(buf, sizeof buf, &len, ": ");
    put(buf, sizeof buf, &len, expr);
    buf[len++] = '\n';
    ssize_t w = write(2, buf, len);
    (void)w;
    abort();
}
