#include "sinks/cloudsearch/cloudsearch_proto.h"

#include <stdio.h>
#include <string.h>

#include "base/text.h"
#include "base/xmlscan.h"

/* ---- documents/batch response ------------------------------------------------------------ */

static void decode_into(json_doc *d, int tok, char *out, size_t cap) {
    out[0] = '\0';
    if (tok < 0 || d->toks[tok].type != JSON_STRING) return;
    if (json_tok_decode(d, tok, out, cap) < 0) {
        /* Too long for out: keep the raw (escaped) prefix, which is still readable. */
        size_t n = json_tok_len(d, tok);
        if (n >= cap) n = cap - 1;
        memcpy(out, json_tok_ptr(d, tok), n);
        out[n] = '\0';
    }
}

/* Walks [{"message":..},...]; returns the number of elements. */
static uint32_t walk_messages(json_doc *d, int arr, int is_error, char *first, size_t cap, cs_message_fn fn, void *ud) {
    if (arr < 0 || d->toks[arr].type != JSON_ARRAY) return 0;
    uint32_t n = (uint32_t)d->toks[arr].size;
    int el = arr + 1;
    char msg[CS_MESSAGE_MAX];
    for (uint32_t i = 0; i < n; i++) {
        int m = d->toks[el].type == JSON_OBJECT ? json_obj_get(d, el, "message") : -1;
        decode_into(d, m, msg, sizeof msg);
        if (first && i == 0) snprintf(first, cap, "%s", msg);
        if (fn) fn(ud, is_error, msg);
        el = json_next(d, el);
    }
    return n;
}

int cs_parse_upload_response(json_doc *d, const char *body, size_t len, cs_upload_result *out, cs_message_fn fn,
                             void *ud) {
    memset(out, 0, sizeof *out);
    out->adds = out->deletes = -1;
    if (!body || len == 0) return -1;
    int rc = json_parse(d, body, len);
    if (rc == JSON_ETOOBIG || rc == JSON_ENOMEM) out->too_big = 1;
    if (rc != JSON_OK || d->toks[0].type != JSON_OBJECT) return -1;
    int st = json_obj_get(d, 0, "status");
    out->is_cloudsearch = st >= 0 && d->toks[st].type == JSON_STRING;
    out->success = out->is_cloudsearch && json_tok_streq(d, st, "success");
    int t = json_obj_get(d, 0, "adds");
    if (t >= 0 && json_tok_int64(d, t, &out->adds) != 0) out->adds = -1;
    t = json_obj_get(d, 0, "deletes");
    if (t >= 0 && json_tok_int64(d, t, &out->deletes) != 0) out->deletes = -1;
    decode_into(d, json_obj_get(d, 0, "message"), out->message, sizeof out->message);
    out->nwarnings = walk_messages(d, json_obj_get(d, 0, "warnings"), 0, NULL, 0, fn, ud);
    char first[CS_MESSAGE_MAX] = "";
    out->nerrors = walk_messages(d, json_obj_get(d, 0, "errors"), 1, first, sizeof first, fn, ud);
    /* The outer message is the documented one; older answers only carry errors[]. The fake
     * (and format=sdk) repeat the first error there, so prefer errors[0] when both exist. */
    if (first[0]) snprintf(out->message, sizeof out->message, "%s", first);
    return 0;
}

/* ---- endpoints ---------------------------------------------------------------------------- */

/* Host part of a URL or bare host[:port][/path]: start and length, without the port. */
static const char *host_of(const char *url, size_t *n) {
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t len = strcspn(p, ":/?#");
    *n = len;
    return p;
}

int cs_region_from_endpoint(const char *endpoint, char *out, size_t cap) {
    size_t hn = 0;
    const char *h = host_of(endpoint, &hn);
    static const char mark[] = ".cloudsearch.";
    const size_t ml = sizeof mark - 1;
    for (size_t i = 1; i + ml <= hn; i++) {
        if (strncmp(h + i, mark, ml) != 0) continue;
        size_t start = i;
        while (start > 0 && h[start - 1] != '.') start--;
        if (start == 0) return -1; /* "REGION.cloudsearch..." without a first label: not a doc host */
        size_t rl = i - start;
        if (rl == 0 || rl >= cap) return -1;
        memcpy(out, h + start, rl);
        out[rl] = '\0';
        return 0;
    }
    return -1;
}

int cs_batch_url(const char *endpoint, const char *default_scheme, char *out, size_t cap) {
    size_t n = endpoint ? strlen(endpoint) : 0;
    if (n == 0 || strchr(endpoint, '?')) return -1;
    while (n > 0 && endpoint[n - 1] == '/') n--;
    const char *scheme = strstr(endpoint, "://") ? "" : default_scheme ? default_scheme : "https";
    int w = snprintf(out, cap, "%s%s%.*s%s", scheme, scheme[0] ? "://" : "", (int)n, endpoint, CS_BATCH_PATH);
    return w < 0 || (size_t)w >= cap ? -1 : 0;
}

/* ---- Query protocol forms ----------------------------------------------------------------- */

static int form_encode(buf *b, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (text_url_unreserved(c)) {
            if (buf_append(b, p, 1) != 0) return -1;
        } else {
            char e[3] = {'%', text_hex_upper(c >> 4), text_hex_upper(c)};
            if (buf_append(b, e, 3) != 0) return -1;
        }
    }
    return 0;
}

int cs_form_add(buf *b, const char *key, const char *value) {
    if (b->len > 0 && buf_append(b, "&", 1) != 0) return -1;
    if (form_encode(b, key) != 0 || buf_append(b, "=", 1) != 0 || form_encode(b, value) != 0) return -1;
    return 0;
}

/* Options block name and which option keys exist for each type (CloudSearch API reference, IndexField). */
static const char *options_block(schema_cs_type t, unsigned *allowed) {
    switch (t) {
    case CS_LITERAL: *allowed = SF_SEARCH | SF_FACET | SF_RETURN | SF_SORT; return "LiteralOptions";
    case CS_DATE: *allowed = SF_SEARCH | SF_FACET | SF_RETURN | SF_SORT; return "DateOptions";
    case CS_INT: *allowed = SF_SEARCH | SF_FACET | SF_RETURN | SF_SORT; return "IntOptions";
    case CS_LITERAL_ARRAY: *allowed = SF_SEARCH | SF_FACET | SF_RETURN; return "LiteralArrayOptions";
    case CS_TEXT: *allowed = SF_RETURN | SF_SORT | SF_HIGHLIGHT; return "TextOptions";
    case CS_TEXT_ARRAY: *allowed = SF_RETURN | SF_HIGHLIGHT; return "TextArrayOptions";
    }
    *allowed = 0;
    return NULL;
}

static const struct {
    unsigned bit;
    const char *key;
} opts[] = {{SF_SEARCH, "SearchEnabled"},
            {SF_FACET, "FacetEnabled"},
            {SF_RETURN, "ReturnEnabled"},
            {SF_SORT, "SortEnabled"},
            {SF_HIGHLIGHT, "HighlightEnabled"}};

int cs_form_define_field(buf *b, const char *domain, const schema_field *f) {
    unsigned allowed = 0;
    const char *block = options_block(f->cs_type, &allowed);
    if (!block) return -1;
    if (cs_form_add(b, "Action", "DefineIndexField") || cs_form_add(b, "Version", CS_API_VERSION) ||
        cs_form_add(b, "DomainName", domain) || cs_form_add(b, "IndexField.IndexFieldName", f->name) ||
        cs_form_add(b, "IndexField.IndexFieldType", schema_cs_type_name(f->cs_type)))
        return -1;
    /* Every option is sent, false ones too: all options default to enabled in CloudSearch. */
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        if (!(allowed & opts[i].bit)) continue;
        char key[96];
        snprintf(key, sizeof key, "IndexField.%s.%s", block, opts[i].key);
        if (cs_form_add(b, key, (f->options & opts[i].bit) ? "true" : "false") != 0) return -1;
    }
    return 0;
}

/* One <member> of DescribeIndexFields: the same type and every option as the schema field. */
static int field_matches(const xml_span *options, const schema_field *f) {
    xml_span t, blk, v;
    unsigned allowed = 0;
    const char *block = options_block(f->cs_type, &allowed);
    if (!block || xml_child(options, "IndexFieldType", &t) != 0 || !xml_eq(&t, schema_cs_type_name(f->cs_type)) ||
        xml_child(options, block, &blk) != 0)
        return 0;
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        if (!(allowed & opts[i].bit)) continue;
        if (xml_child(&blk, opts[i].key, &v) != 0 || !xml_eq(&v, (f->options & opts[i].bit) ? "true" : "false"))
            return 0;
    }
    return 1;
}

int cs_fields_to_define(const char *xml, size_t len, unsigned char *todo) {
    size_t pos = 0, n = schema_count();
    xml_span all, m, options, name;
    if (xml_next(xml, len, &pos, "IndexFields", &all) != 0) return -1;
    memset(todo, 1, n);
    size_t mpos = 0;
    while (xml_next(all.p, all.n, &mpos, "member", &m) == 0) {
        if (xml_child(&m, "Options", &options) != 0 || xml_child(&options, "IndexFieldName", &name) != 0) continue;
        for (size_t i = 0; i < n; i++) {
            const schema_field *f = schema_field_at(i);
            if (todo[i] && xml_eq(&name, f->name) && field_matches(&options, f)) todo[i] = 0;
        }
    }
    int count = 0;
    for (size_t i = 0; i < n; i++) count += todo[i];
    return count;
}

/* ---- DescribeDomains / CreateDomain answers ------------------------------------------------ */

static int child_bool(const xml_span *in, const char *tag) {
    xml_span s;
    return xml_child(in, tag, &s) == 0 && xml_eq(&s, "true");
}

static void fill_status(const xml_span *m, cs_domain_status *out) {
    xml_span s, ep;
    memset(out, 0, sizeof *out);
    if (xml_child(m, "DomainName", &s) == 0 && xml_decode(&s, out->name, sizeof out->name) < 0) out->name[0] = '\0';
    if (xml_child(m, "DocService", &s) == 0 && xml_child(&s, "Endpoint", &ep) == 0 &&
        xml_decode(&ep, out->doc_endpoint, sizeof out->doc_endpoint) < 0)
        out->doc_endpoint[0] = '\0';
    out->created = child_bool(m, "Created");
    out->deleted = child_bool(m, "Deleted");
    out->processing = child_bool(m, "Processing");
    out->requires_index_documents = child_bool(m, "RequiresIndexDocuments");
}

int cs_parse_domain_status(const char *xml, size_t len, const char *name, cs_domain_status *out) {
    static const char *const wrappers[] = {"member", "DomainStatus"};
    for (size_t w = 0; w < 2; w++) {
        size_t pos = 0;
        xml_span m, s;
        while (xml_next(xml, len, &pos, wrappers[w], &m) == 0) {
            if (xml_child(&m, "DomainName", &s) != 0 || !xml_eq(&s, name)) continue;
            fill_status(&m, out);
            return 0;
        }
    }
    return -1;
}

int cs_domain_name_valid(const char *name) {
    size_t n = name ? strlen(name) : 0;
    if (n < 3 || n > 28 || !(name[0] >= 'a' && name[0] <= 'z')) return 0;
    for (size_t i = 1; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return 0;
    }
    return 1;
}
