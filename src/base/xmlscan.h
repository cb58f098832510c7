/* A small scanner for the flat XML that S3 and the AWS Query APIs answer with
 * (ListBucketResult, Error, DescribeDomainsResponse). It finds elements by name in order and
 * decodes the five predefined entities and numeric references; it is not a general XML parser
 * (no DTDs, no namespaces beyond ignoring prefixes-free names). Pure and bounded. */
#ifndef CTINDEX_XMLSCAN_H
#define CTINDEX_XMLSCAN_H

#include <stddef.h>

typedef struct xml_span {
    const char *p; /* element content (between the tags), still entity-encoded */
    size_t n;
} xml_span;

/* Find the next <tag ...>content</tag> starting at *pos within [xml, xml+len). On success
 * fills out, advances *pos past the closing tag and returns 0; -1 when there is none.
 * <tag/> (empty element) yields an empty span. Nested elements of the same name are not expected. */
int xml_next(const char *xml, size_t len, size_t *pos, const char *tag, xml_span *out);
/* The first <tag> inside span, or -1. */
int xml_child(const xml_span *in, const char *tag, xml_span *out);
/* Decode entities of span into out (NUL-terminated). Returns length or -1 when it does not fit
 * or an entity is malformed. */
long xml_decode(const xml_span *in, char *out, size_t cap);
/* 1 if span's decoded text equals s. */
int xml_eq(const xml_span *in, const char *s);

#endif
