#include "base/xmlscan.h"

#include <string.h>

#include "base/text.h"

int xml_next(const char *xml, size_t len, size_t *pos, const char *tag, xml_span *out) {
    size_t tl = strlen(tag);
    size_t i = *pos;
    while (i < len) {
        const char *lt = memchr(xml + i, '<', len - i);
        if (!lt) return -1;
        i = (size_t)(lt - xml) + 1;
        if (i + tl > len || memcmp(xml + i, tag, tl) != 0) continue;
        size_t j = i + tl;
        if (j >= len) return -1;
        char c = xml[j];
        if (c != '>' && c != ' ' && c != '/' && c != '\t' && c != '\n' && c != '\r') continue;
        const char *gt = memchr(xml + j, '>', len - j);
        if (!gt) return -1;
        size_t start = (size_t)(gt - xml) + 1;
        if (gt[-1] == '/') { /* <tag/> */
            out->p = xml + start;
            out->n = 0;
            *pos = start;
            return 0;
        }
        /* Find </tag> */
        size_t k = start;
        while (k < len) {
            const char *close = memchr(xml + k, '<', len - k);
            if (!close) return -1;
            k = (size_t)(close - xml);
            if (k + 2 + tl < len && close[1] == '/' && memcmp(close + 2, tag, tl) == 0 && close[2 + tl] == '>') {
                out->p = xml + start;
                out->n = k - start;
                *pos = k + 3 + tl;
                return 0;
            }
            k++;
        }
        return -1;
    }
    return -1;
}

int xml_child(const xml_span *in, const char *tag, xml_span *out) {
    size_t pos = 0;
    return xml_next(in->p, in->n, &pos, tag, out);
}

long xml_decode(const xml_span *in, char *out, size_t cap) {
    size_t o = 0;
    const char *p = in->p, *end = in->p + in->n;
    while (p < end) {
        char tmp[4];
        size_t w = 1;
        if (*p != '&') {
            tmp[0] = *p++;
        } else {
            const char *semi = memchr(p, ';', (size_t)(end - p));
            if (!semi || semi - p > 12) return -1;
            size_t n = (size_t)(semi - p - 1);
            const char *e = p + 1;
            if (n == 3 && memcmp(e, "amp", 3) == 0) tmp[0] = '&';
            else if (n == 2 && memcmp(e, "lt", 2) == 0) tmp[0] = '<';
            else if (n == 2 && memcmp(e, "gt", 2) == 0) tmp[0] = '>';
            else if (n == 4 && memcmp(e, "quot", 4) == 0) tmp[0] = '"';
            else if (n == 4 && memcmp(e, "apos", 4) == 0) tmp[0] = '\'';
            else if (n >= 2 && e[0] == '#') {
                unsigned long cp = 0;
                int hex = e[1] == 'x' || e[1] == 'X';
                size_t k = hex ? 2 : 1;
                if (k >= n) return -1;
                for (; k < n; k++) {
                    unsigned char c = (unsigned char)e[k];
                    int d = hex ? text_hexval(c) : c >= '0' && c <= '9' ? c - '0' : -1;
                    if (d < 0) return -1;
                    cp = cp * (hex ? 16u : 10u) + (unsigned long)d;
                    if (cp > 0x10FFFF) return -1;
                }
                if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
                w = text_utf8_put(tmp, (unsigned)cp);
            } else {
                return -1;
            }
            p = semi + 1;
        }
        if (o + w + 1 > cap) return -1;
        memcpy(out + o, tmp, w);
        o += w;
    }
    if (o + 1 > cap) return -1;
    out[o] = '\0';
    return (long)o;
}

int xml_eq(const xml_span *in, const char *s) {
    char tmp[256];
    long n = xml_decode(in, tmp, sizeof tmp);
    return n >= 0 && strcmp(tmp, s) == 0;
}
