/*
 * topology/text.h - parsing the kernel's text files (sysfs,
 * /proc/self/status, read by os_read_file into a buffer the caller owns)
 * without malloc or stdio, by hand.  Used only inside topology/.
 */
#ifndef NSLAB_TOPOLOGY_TEXT_H
#define NSLAB_TOPOLOGY_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* A path built piece by piece in a caller's buffer.  `overflow` is set (and
 * the text truncated) if the pieces did not fit. */
struct text_path {
    char *buf;
    size_t cap, len;
    int overflow;
};
void text_path_init(struct text_path *p, char *buf, size_t cap);
void text_path_str(struct text_path *p, const char *s);
void text_path_uint(struct text_path *p, unsigned long v);

/* Parse a kernel list ("0-3,8,10-11", optional trailing whitespace; "" or
 * "\n" is the empty list) into a bitmap of nbits bits, which is cleared
 * first.  *end (may be NULL) gets the first character not consumed.
 * Returns 0, EINVAL (syntax, reversed range), or ERANGE (a member >= nbits:
 * the members below nbits are still set). */
int text_parse_list(const char *s, const char **end, uint64_t *bits,
                    size_t nbits);

/* Format a bitmap of nbits bits as a kernel list into buf (NUL terminated
 * when len > 0; truncated if it does not fit).  Returns the length needed,
 * not counting the NUL (as snprintf). */
size_t text_format_list(const uint64_t *bits, size_t nbits, char *buf,
                        size_t len);

/* Parse an unsigned decimal at *s, skipping leading blanks (space, tab);
 * advances *s past it.  Returns 0, EINVAL (no digits) or ERANGE. */
int text_parse_u64(const char **s, uint64_t *out);

/* Find `key` (e.g. "MemFree:") in text and parse the number after it.
 * Returns 0, or ENOENT if the key is missing, EINVAL if no number follows. */
int text_find_u64(const char *text, const char *key, uint64_t *out);

/* The start of the line that begins with `key` (e.g. "Mems_allowed_list:"),
 * pointing just past the key and any blanks, or NULL. */
const char *text_find_line(const char *text, const char *key);

#endif /* NSLAB_TOPOLOGY_TEXT_H */
