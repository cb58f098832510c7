/* A small INI reader for the AWS shared config and credentials files. It follows what
 * botocore's configparser accepts: "[section]" headers, "key = value" or "key: value",
 * keys case-insensitive (reported lower-case), values trimmed, full-line comments starting
 * with '#' or ';' (no inline comments: a ';' inside a value is part of it). Indented lines
 * under a key with an empty value are nested settings ("s3 =\n  addressing_style = path")
 * and are reported as "parent.key". Lines longer than INI_MAX_LINE are reported as
 * malformed and skipped, never truncated. */
#ifndef CTINDEX_INI_H
#define CTINDEX_INI_H

#include <stddef.h>

#define INI_MAX_LINE 8192
#define INI_MAX_SECTION 256
#define INI_MAX_KEY 128
#define INI_MAX_FILE (1024 * 1024)

/* Called for each setting; section is "" before the first header. Return non-zero to stop. */
typedef int (*ini_cb)(void *ctx, const char *section, const char *key, const char *value);

/* Returns the number of malformed lines skipped (0 for a clean file). */
int ini_parse(const char *text, size_t len, ini_cb cb, void *ctx);

/* Read a whole file of at most INI_MAX_FILE bytes into a malloc'd NUL-terminated buffer.
 * Returns 0, -1 if it cannot be opened (errno set), -2 if too large or unreadable. */
int ini_read_file(const char *path, char **text, size_t *len);

#endif
