/*
 * topology/nodeset.c - node set text: parse "0-3,5" / "all" and format a
 * set back, without allocating (numaslab.h: nslab_nodeset_parse/format).
 */
#include "topology.h"
#include "text.h"

#include <errno.h>
#include <string.h>

NSLAB_API int nslab_nodeset_parse(const char *text, nslab_nodeset_t *out)
{
    nslab_nodeset_t s;
    const char *end;

    if (!text || !out)
        goto inval;
    if (strcmp(text, "all") == 0) {
        const struct topology *t = topology_get();
        s = t->usable; /* allowed, with memory, not drained */
        *out = s;
        return 0;
    }
    /* An empty text is an error, not the empty set: a caller that meant
     * "no nodes" has nothing to allocate from. */
    if (text[0] < '0' || text[0] > '9')
        goto inval;
    for (const char *c = text; *c; c++)
        if (!((*c >= '0' && *c <= '9') || *c == '-' || *c == ',' ||
              (*c == '\n' && c[1] == '\0')))
            goto inval;
    if (text_parse_list(text, &end, s.bits, NSLAB_MAX_NODES) != 0 || *end)
        goto inval;
    *out = s;
    return 0;
inval:
    errno = EINVAL;
    return -EINVAL;
}

NSLAB_API int nslab_nodeset_format(const nslab_nodeset_t *s, char *buf,
                                   size_t len)
{
    if (!s || (len && !buf)) {
        errno = EINVAL;
        return -EINVAL;
    }
    return (int)text_format_list(s->bits, NSLAB_MAX_NODES, buf, len);
}
