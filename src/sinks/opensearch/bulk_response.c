#include "sinks/opensearch/bulk_response.h"

#include <stdio.h>
#include <string.h>

os_item_verdict os_bulk_item_verdict(int status) {
    if (status >= 200 && status < 300) return OS_ITEM_OK;
    if (status == 429 || (status >= 500 && status < 600)) return OS_ITEM_RETRY;
    return OS_ITEM_REJECT;
}

/* Reasons end up in one-line logs and dead-letter entries: control characters become spaces. */
static void one_line(char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = ' ';
}

/* Decode string token i into out; falls back to the raw (escaped) bytes, truncated, when the
 * decoded text does not fit. Returns the length written. */
static size_t tok_text(const json_doc *d, int i, char *out, size_t cap) {
    if (cap == 0) return 0;
    long n = json_tok_decode(d, i, out, cap);
    if (n >= 0) return (size_t)n;
    size_t raw = json_tok_len(d, i);
    if (raw > cap - 1) raw = cap - 1;
    memcpy(out, json_tok_ptr(d, i), raw);
    out[raw] = '\0';
    return raw;
}

/* Appends "TYPE: REASON" of an error object (or the text of an error string) to out[*len..cap). */
static void append_error(const json_doc *d, int err, char *out, size_t cap, size_t *len) {
    if (*len + 1 >= cap) return;
    if (d->toks[err].type == JSON_STRING) {
        *len += tok_text(d, err, out + *len, cap - *len);
        return;
    }
    if (d->toks[err].type != JSON_OBJECT) return;
    int type = json_obj_get(d, err, "type");
    int reason = json_obj_get(d, err, "reason");
    if (type >= 0 && d->toks[type].type == JSON_STRING) {
        *len += tok_text(d, type, out + *len, cap - *len);
        if (reason >= 0 && *len + 3 < cap) {
            memcpy(out + *len, ": ", 3);
            *len += 2;
        }
    }
    if (reason >= 0 && d->toks[reason].type == JSON_STRING) *len += tok_text(d, reason, out + *len, cap - *len);
}

static void item_reason(const json_doc *d, int err, char *out, size_t cap) {
    size_t len = 0;
    out[0] = '\0';
    if (err < 0) return;
    append_error(d, err, out, cap, &len);
    int cause = d->toks[err].type == JSON_OBJECT ? json_obj_get(d, err, "caused_by") : -1;
    static const char sep[] = " (caused by ";
    if (cause >= 0 && len + sizeof sep + 2 < cap) {
        size_t before = len;
        memcpy(out + len, sep, sizeof sep);
        len += sizeof sep - 1;
        size_t at = len;
        append_error(d, cause, out, cap - 1, &len); /* keep room for ')' */
        if (len == at) len = before;                /* nothing to say about the cause */
        else out[len++] = ')';
        out[len] = '\0';
    }
}

/* Fill one item from the element token `el` of "items". -1 when it is not {"op":{...}}. */
static int read_item(const json_doc *d, int el, os_bulk_item *it) {
    if (d->toks[el].type != JSON_OBJECT || d->toks[el].size < 1) return -1;
    int val = el + 2; /* el+1 is the operation name ("index", "create", ...) */
    if (d->toks[val].type != JSON_OBJECT) return -1;
    it->status = 0;
    int st = json_obj_get(d, val, "status");
    int64_t v;
    if (st >= 0 && json_tok_int64(d, st, &v) == 0 && v >= 0 && v < 1000) it->status = (int)v;
    it->verdict = os_bulk_item_verdict(it->status);
    int id = json_obj_get(d, val, "_id");
    if (id >= 0 && d->toks[id].type == JSON_STRING) {
        it->id = json_tok_ptr(d, id);
        it->id_len = json_tok_len(d, id);
    } else {
        it->id = NULL;
        it->id_len = 0;
    }
    it->reason[0] = '\0';
    if (it->verdict != OS_ITEM_OK) {
        item_reason(d, json_obj_get(d, val, "error"), it->reason, sizeof it->reason);
        if (!it->reason[0]) snprintf(it->reason, sizeof it->reason, "item status %d without an error", it->status);
        one_line(it->reason);
    }
    return 0;
}

/* Every item is {"op":{...}}; strict: each has an integer status, and its _id (when it has one)
 * is the id of the document sent at its place. */
static int check_items(const json_doc *d, int items, uint32_t expected, int strict, os_bulk_id_fn id_of, void *id_ud) {
    int el = items + 1;
    for (uint32_t i = 0; i < expected; i++, el = json_next(d, el)) {
        if (d->toks[el].type != JSON_OBJECT || d->toks[el].size < 1 || d->toks[el + 2].type != JSON_OBJECT)
            return OS_BULK_EINVAL;
        if (!strict) continue;
        int val = el + 2;
        int st = json_obj_get(d, val, "status");
        int64_t v;
        if (st < 0 || json_tok_int64(d, st, &v) != 0 || v < 100 || v >= 1000) return OS_BULK_EINVAL;
        int id = json_obj_get(d, val, "_id");
        if (!id_of || id < 0 || d->toks[id].type != JSON_STRING) continue;
        size_t want_len = 0;
        const char *want = id_of(id_ud, i, &want_len);
        if (want && (json_tok_len(d, id) != want_len || memcmp(json_tok_ptr(d, id), want, want_len) != 0))
            return OS_BULK_EORDER;
    }
    return OS_BULK_OK;
}

static int parse(json_doc *d, const char *body, size_t len, uint32_t expected, int *errors, int strict,
                 os_bulk_id_fn id_of, void *id_ud, os_bulk_item_fn fn, void *ud) {
    int rc = json_parse(d, body, len);
    if (rc == JSON_ENOMEM) return OS_BULK_ETOKENS;
    if (rc != JSON_OK || d->toks[0].type != JSON_OBJECT) return OS_BULK_EINVAL;
    int e = json_obj_get(d, 0, "errors");
    int flag = e >= 0 ? json_tok_bool(d, e) : -1;
    if (flag < 0) return OS_BULK_EINVAL;
    if (errors) *errors = flag;
    int items = json_obj_get(d, 0, "items");
    if (items >= 0 && d->toks[items].type != JSON_ARRAY) return OS_BULK_EINVAL;
    if (items < 0) return flag || strict ? OS_BULK_EINVAL : OS_BULK_OK; /* e.g. trimmed by filter_path */
    if ((uint32_t)d->toks[items].size != expected) return OS_BULK_ECOUNT;
    if (!flag && !strict) return OS_BULK_OK;
    /* Check every item first, so a malformed answer changes nothing. */
    rc = check_items(d, items, expected, strict, id_of, id_ud);
    if (rc != OS_BULK_OK || !flag) return rc;
    os_bulk_item it;
    int el = items + 1;
    for (uint32_t i = 0; i < expected; i++, el = json_next(d, el)) {
        it.index = i;
        if (read_item(d, el, &it) != 0) return OS_BULK_EINVAL;
        if (fn) fn(ud, &it);
    }
    return OS_BULK_OK;
}

int os_bulk_parse_response(json_doc *d, const char *body, size_t len, uint32_t expected, int *errors,
                           os_bulk_item_fn fn, void *ud) {
    return parse(d, body, len, expected, errors, 0, NULL, NULL, fn, ud);
}

int os_bulk_parse_checked(json_doc *d, const char *body, size_t len, uint32_t expected, int *errors,
                          os_bulk_id_fn id_of, void *id_ud, os_bulk_item_fn fn, void *ud) {
    return parse(d, body, len, expected, errors, 1, id_of, id_ud, fn, ud);
}

void os_bulk_error_reason(json_doc *d, const char *body, size_t len, char *out, size_t cap) {
    if (cap == 0) return;
    out[0] = '\0';
    if (!body) len = 0; /* an empty buffer (buf data NULL) */
    size_t n = 0;
    if (len && json_parse(d, body, len) == JSON_OK && d->toks[0].type == JSON_OBJECT) {
        int err = json_obj_get(d, 0, "error");
        if (err < 0) err = json_obj_get(d, 0, "message");
        if (err < 0) err = json_obj_get(d, 0, "Message");
        if (err >= 0) append_error(d, err, out, cap, &n);
        if (n > 0) {
            one_line(out);
            return;
        }
    }
    /* Not JSON (a proxy's HTML page, a truncated body): show its start. */
    n = len < cap - 1 ? len : cap - 1;
    if (n) memcpy(out, body, n);
    out[n] = '\0';
    one_line(out);
}

const char *os_bulk_doc_id(const char *doc, size_t len, size_t *id_len) {
    static const char key[] = "\"_id\":\"";
    const char *nl = memchr(doc, '\n', len);
    size_t line = nl ? (size_t)(nl - doc) : len;
    const char *p = memmem(doc, line, key, sizeof key - 1);
    if (!p) return NULL;
    p += sizeof key - 1;
    const char *end = doc + line;
    for (const char *q = p; q < end; q++) {
        if (*q == '\\') {
            q++;
            continue;
        }
        if (*q == '"') {
            *id_len = (size_t)(q - p);
            return p;
        }
    }
    return NULL;
}
