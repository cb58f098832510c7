#include "index/index_fields.h"

#include <pthread.h>
#include <string.h>

static ixf_field table[IXF_MAX];
static const ixf_field *by_slot[IXF_MAX];
static size_t nfields;
static int nslots;
static pthread_once_t once = PTHREAD_ONCE_INIT;
/* Names hashed (name_hash) into chains of table indexes: a lookup walked about 8 fields with a
 * memcmp or two, and parse_op looks up every field of every document. */
#define NAME_HASH 256
static int name_head[NAME_HASH], name_next[IXF_MAX];

static unsigned name_hash(const char *name, size_t len) {
    return len ? (unsigned)(len * 31u + (unsigned char)name[0] * 7u + (unsigned char)name[len - 1]) & (NAME_HASH - 1)
               : 0;
}

static const char *const column_names[IXT_COLUMNS] = {"raw", "user_identity_arn", "user_agent", "error_message",
                                                      "other"};

const char *ixf_column_name(int column) { return column >= 0 && column < IXT_COLUMNS ? column_names[column] : NULL; }

/* Facetable literals whose values are nearly unique per record in CloudTrail (ctgen's corpus:
 * 76% of source IPs, 84% of access keys, 44% of principal ids, 54% of resource ARNs). */
static const char *const nearly_unique[] = {"source_ip_address", "user_identity_principal_id",
                                            "user_identity_access_key_id", "resource_arns"};

static int is_nearly_unique(const char *name) {
    for (size_t i = 0; i < sizeof nearly_unique / sizeof nearly_unique[0]; i++)
        if (strcmp(nearly_unique[i], name) == 0) return 1;
    return 0;
}

static int text_column(const char *name) {
    for (int c = 0; c < IXT_OTHER; c++)
        if (strcmp(column_names[c], name) == 0) return c;
    return -1;
}

static void build(void) {
    for (int h = 0; h < NAME_HASH; h++) name_head[h] = -1;
    for (size_t i = 0; i < schema_count() && nfields < IXF_MAX; i++) {
        const schema_field *sf = schema_field_at(i);
        ixf_field *f = &table[nfields++];
        f->sf = sf;
        f->name_len = strlen(sf->name);
        f->fid = (int)i;
        f->slot = -1;
        f->column = -1;
        f->sort = (sf->options & SF_SORT) != 0;
        switch (sf->cs_type) {
        case CS_LITERAL:
        case CS_LITERAL_ARRAY:
            f->facet = (sf->options & SF_FACET) != 0;
            f->is_array = sf->cs_type == CS_LITERAL_ARRAY;
            if (f->facet && is_nearly_unique(sf->name)) f->kind = IXF_LITERAL_UNIQUE;
            else if (f->is_array) f->kind = IXF_LITERAL_ARRAY;
            else f->kind = f->facet ? IXF_LITERAL : IXF_LITERAL_HASH;
            break;
        case CS_DATE: f->kind = IXF_DATE; break;
        case CS_INT:
            f->kind = IXF_INT;
            f->facet = (sf->options & SF_FACET) != 0;
            break;
        case CS_TEXT:
        case CS_TEXT_ARRAY:
            f->column = text_column(sf->name);
            f->kind = f->column >= 0 ? IXF_TEXT : IXF_TEXT_COVERED;
            break;
        }
        unsigned h = name_hash(sf->name, f->name_len);
        name_next[nfields - 1] = name_head[h];
        name_head[h] = (int)nfields - 1;
        f->is_time = strcmp(sf->name, "event_time") == 0;
        /* Everything a facet, a range or a sort needs per document gets a slot; so do search-only
         * literals that are sort enabled (none today). Text is read from the stored document. */
        if ((f->kind == IXF_LITERAL || f->kind == IXF_LITERAL_ARRAY || f->kind == IXF_LITERAL_UNIQUE ||
             f->kind == IXF_DATE || f->kind == IXF_INT) &&
            !f->is_time) { /* event_time has its own column */
            by_slot[nslots] = f;
            f->slot = nslots++;
        }
    }
}

static void init(void) { pthread_once(&once, build); }

size_t ixf_count(void) {
    init();
    return nfields;
}

const ixf_field *ixf_at(size_t i) {
    init();
    return i < nfields ? &table[i] : NULL;
}

const ixf_field *ixf_find(const char *name, size_t len) {
    init(); /* names are unique: the chain finds the one field of that name */
    for (int k = name_head[name_hash(name, len)]; k >= 0; k = name_next[k])
        if (table[k].name_len == len && memcmp(table[k].sf->name, name, len) == 0) return &table[k];
    return NULL;
}

int ixf_slots(void) {
    init();
    return nslots;
}

const ixf_field *ixf_by_slot(int k) {
    init();
    return k >= 0 && k < nslots ? by_slot[k] : NULL;
}
