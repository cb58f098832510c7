/* A search's result: the hits with the fields asked for (return=), read from the stored
 * documents, and reading one field of a hit back. */
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "index/ix_search_internal.h"

void ix_result_init(ix_result *res) {
    memset(res, 0, sizeof *res);
    buf_init(&res->text, 256u << 20);
}

void ix_result_free(ix_result *res) {
    free(res->hits);
    for (int i = 0; i < res->nfacets; i++) free(res->facets[i].buckets);
    buf_free(&res->text);
    memset(res, 0, sizeof *res);
}

/* One field value as CloudSearch returns it: strings (numbers too), a list for arrays (and for
 * every value with format=sdk). */
static int put_value(buf *o, const json_doc *d, int tok, int list) {
    int rc = 0;
    if (d->toks[tok].type == JSON_ARRAY) {
        rc |= buf_append(o, "[", 1);
        for (int e = tok + 1, i = 0; i < d->toks[tok].size; e = json_next(d, e), i++)
            rc |= (i ? buf_append(o, ",", 1) : 0) | put_value(o, d, e, 0);
        return rc | buf_append(o, "]", 1);
    }
    if (list) rc |= buf_append(o, "[", 1);
    rc |= buf_append(o, "\"", 1) | buf_append(o, json_tok_ptr(d, tok), json_tok_len(d, tok)) | buf_append(o, "\"", 1);
    if (list) rc |= buf_append(o, "]", 1);
    return rc;
}

int ix__add_hit(ix_run *rn, int64_t rowid) {
    ix_store *s = rn->s;
    ix_result *res = rn->res;
    const ix_request *r = rn->r;
    if (ix__doc_load(s, rowid, &s->old, rn->cc->err, rn->cc->errcap) != 0) return IX_SEARCH_ERR;
    if (res->nhits % 64 == 0) {
        ix_hit *g = realloc(res->hits, ((size_t)res->nhits + 64) * sizeof *g);
        if (!g) return IX_SEARCH_ERR;
        res->hits = g;
    }
    ix_hit *h = &res->hits[res->nhits++];
    memcpy(h->id, s->old.id, s->old.id_len + 1);
    h->fields_off = res->text.len;
    buf *o = &res->text;
    int rc = buf_append(o, "{", 1), first = 1;
    for (int i = 0; i < s->old.nfields && r->return_mode != IXR_RETURN_NONE; i++) {
        const ixf_field *f = s->old.fields[i].f;
        int want = r->return_mode == IXR_RETURN_ALL ? (f->sf->options & SF_RETURN) != 0 : r->ret[f - ixf_at(0)];
        if (!want) continue;
        rc |= buf_printf(o, "%s\"%s\":", first ? "" : ",", f->sf->name);
        rc |= put_value(o, &s->jd, s->old.fields[i].tok, r->sdk);
        first = 0;
    }
    if (r->ret_score) rc |= buf_printf(o, "%s\"_score\":%s", first ? "" : ",", r->sdk ? "[\"1.0\"]" : "\"1.0\"");
    rc |= buf_append(o, "}", 1);
    h->fields_len = res->text.len - h->fields_off;
    return rc ? IX_SEARCH_ERR : IX_SEARCH_OK;
}

void ix_hit_field(const ix_result *res, const ix_hit *h, const char *name, char *out, size_t cap) {
    out[0] = '\0';
    json_doc d;
    if (json_doc_init(&d, 4096) != JSON_OK) return;
    if (json_parse(&d, res->text.data + h->fields_off, h->fields_len) == JSON_OK) {
        int v = json_obj_get(&d, 0, name);
        if (v >= 0 && d.toks[v].type == JSON_ARRAY) v = d.toks[v].size ? v + 1 : -1;
        if (v >= 0 && d.toks[v].type == JSON_STRING && json_tok_decode(&d, v, out, cap) < 0) out[0] = '\0';
    }
    json_doc_free(&d);
}
