#include "index/search_json.h"

#include <string.h>

#include "base/jsonw.h"

int search_json_string(buf *o, const char *s, size_t n) {
    if (buf_append(o, "\"", 1) || buf_reserve(o, n * 6 + 2)) return -1;
    long w = jsonw_escape(s, n, o->data + o->len, o->cap - o->len, JSONW_NO_LIMIT, 0, NULL);
    if (w < 0) return -1;
    o->len += (size_t)w;
    return buf_append(o, "\"", 1);
}

int search_json_result(const ix_request *r, const ix_result *res, const char *rid, long ms, buf *out) {
    int rc =
        buf_printf(out, "{\"status\":{\"rid\":\"%s\",\"%s\":%ld},\"hits\":{\"found\":%lld,\"start\":%lld,\"hit\":[",
                   rid, r->sdk ? "timems" : "time-ms", ms, (long long)res->found, (long long)res->start);
    for (int i = 0; i < res->nhits; i++) {
        const ix_hit *h = &res->hits[i];
        rc |= buf_append_str(out, i ? ",{\"id\":" : "{\"id\":");
        rc |= search_json_string(out, h->id, strlen(h->id));
        if (r->return_mode != IXR_RETURN_NONE || r->ret_score) {
            rc |= buf_append_str(out, ",\"fields\":");
            rc |= buf_append(out, res->text.data + h->fields_off, h->fields_len);
        }
        rc |= buf_append(out, "}", 1);
    }
    rc |= buf_append_str(out, "]}");
    if (res->nfacets) {
        rc |= buf_append_str(out, ",\"facets\":{");
        for (int i = 0; i < res->nfacets; i++) {
            const ix_facet_result *f = &res->facets[i];
            rc |= buf_printf(out, "%s\"%s\":{\"buckets\":[", i ? "," : "", f->f->sf->name);
            for (int b = 0; b < f->nbuckets; b++) {
                rc |= buf_append_str(out, b ? ",{\"value\":" : "{\"value\":");
                rc |= search_json_string(out, res->text.data + f->buckets[b].value_off, f->buckets[b].value_len);
                rc |= buf_printf(out, ",\"count\":%lld}", (long long)f->buckets[b].count);
            }
            rc |= buf_append_str(out, "]}");
        }
        rc |= buf_append(out, "}", 1);
    }
    rc |= buf_append_str(out, "}");
    return rc ? -1 : 0;
}

int search_json_error(const char *code, const char *msg, buf *out) {
    int rc = buf_append_str(out, "{\"error\":{\"code\":");
    rc |= search_json_string(out, code, strlen(code));
    rc |= buf_append_str(out, ",\"msg\":");
    rc |= search_json_string(out, msg, strlen(msg));
    rc |= buf_append_str(out, "},\"message\":");
    rc |= search_json_string(out, msg, strlen(msg));
    rc |= buf_append(out, "}", 1);
    return rc ? -1 : 0;
}
