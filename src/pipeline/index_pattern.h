/* OpenSearch index name patterns (pure): `cloudtrail-%Y.%m.%d` names one index per event day.
 * One set of rules for every place that takes a pattern (--sink URL path, the document
 * builder, `ctindex schema --index-pattern`), so a pattern accepted on the command line is
 * never refused later. */
#ifndef CTINDEX_INDEX_PATTERN_H
#define CTINDEX_INDEX_PATTERN_H

#include <stddef.h>

/* 100 pattern characters expand to at most 200 bytes: within OpenSearch's 255-byte names. */
#define INDEX_PATTERN_MAX 100

/* 0 when p is a valid pattern: lower-case letters, digits and . _ + - (what index names
 * allow, without the characters that need escaping), the directives %Y %m %d %H taken from
 * the event time, and with allow_wildcard also '*' (index_patterns of a template). It may not
 * start with _ - or +, nor be "." or "..". Otherwise -1 with a message in err (may be NULL). */
int index_pattern_check(const char *p, int allow_wildcard, char *err, size_t errcap);

#endif
