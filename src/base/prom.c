#include "base/prom.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void prom_init(prom_writer *w, buf *out) {
    w->out = out;
    w->failed = 0;
}

static void put(prom_writer *w, const char *s, size_t n) {
    if (!w->failed && buf_append(w->out, s, n) != 0) w->failed = 1;
}

static void put_str(prom_writer *w, const char *s) { put(w, s, strlen(s)); }

/* HELP text: backslash and newline escaped; label values: the double quote too. */
static void put_escaped(prom_writer *w, const char *s, int quote) {
    const char *run = s;
    for (; *s; s++) {
        const char *rep = *s == '\\' ? "\\\\" : *s == '\n' ? "\\n" : quote && *s == '"' ? "\\\"" : NULL;
        if (!rep) continue;
        put(w, run, (size_t)(s - run));
        put_str(w, rep);
        run = s + 1;
    }
    put(w, run, (size_t)(s - run));
}

void prom_family(prom_writer *w, const char *name, const char *type, const char *help) {
    put_str(w, "# HELP ");
    put_str(w, name);
    put_str(w, " ");
    put_escaped(w, help, 0);
    put_str(w, "\n# TYPE ");
    put_str(w, name);
    put_str(w, " ");
    put_str(w, type);
    put_str(w, "\n");
}

static void put_name(prom_writer *w, const char *name, const char *suffix, const char *labels, const char *more) {
    put_str(w, name);
    if (suffix) put_str(w, suffix);
    int has = labels && *labels, has_more = more && *more;
    if (!has && !has_more) return;
    put_str(w, "{");
    if (has) put_str(w, labels);
    if (has && has_more) put_str(w, ",");
    if (has_more) put_str(w, more);
    put_str(w, "}");
}

static void put_uint_line(prom_writer *w, uint64_t v) {
    char num[32];
    int n = snprintf(num, sizeof num, " %llu\n", (unsigned long long)v);
    put(w, num, (size_t)n);
}

static void format_double(char *out, size_t cap, double v) {
    if (isnan(v)) snprintf(out, cap, "NaN");
    else if (isinf(v)) snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
    else snprintf(out, cap, "%.17g", v);
}

void prom_uint(prom_writer *w, const char *name, const char *labels, uint64_t v) {
    put_name(w, name, NULL, labels, NULL);
    put_uint_line(w, v);
}

void prom_double(prom_writer *w, const char *name, const char *labels, double v) {
    char num[40];
    format_double(num, sizeof num, v);
    put_name(w, name, NULL, labels, NULL);
    put_str(w, " ");
    put_str(w, num);
    put_str(w, "\n");
}

void prom_histogram(prom_writer *w, const char *name, const char *labels, const histogram *h) {
    uint64_t cum = 0;
    char le[64];
    for (int i = 0; i <= h->nbounds; i++) {
        cum += h->counts[i];
        char num[40];
        if (i < h->nbounds) format_double(num, sizeof num, h->bounds[i]);
        else snprintf(num, sizeof num, "+Inf");
        snprintf(le, sizeof le, "le=\"%s\"", num);
        put_name(w, name, "_bucket", labels, le);
        put_uint_line(w, cum);
    }
    char num[40];
    format_double(num, sizeof num, h->sum);
    put_name(w, name, "_sum", labels, NULL);
    put_str(w, " ");
    put_str(w, num);
    put_str(w, "\n");
    put_name(w, name, "_count", labels, NULL);
    put_uint_line(w, h->count);
}

int prom_label(char *out, size_t cap, const char *name, const char *value) {
    size_t n = 0;
    int ok = cap > 0;
#define PROM_PUT(c)                    \
    do {                               \
        if (n + 1 < cap) out[n++] = c; \
        else ok = 0;                   \
    } while (0)
    for (const char *p = name; *p; p++) PROM_PUT(*p);
    PROM_PUT('=');
    PROM_PUT('"');
    for (const char *p = value; *p; p++) {
        char esc = *p == '\\' ? '\\' : *p == '"' ? '"' : *p == '\n' ? 'n' : 0;
        if (esc) {
            PROM_PUT('\\');
            PROM_PUT(esc);
        } else {
            PROM_PUT(*p);
        }
    }
    PROM_PUT('"');
#undef PROM_PUT
    if (cap) out[ok ? n : 0] = '\0';
    return ok ? (int)n : -1;
}

int prom_finish(const prom_writer *w) { return w->failed ? -1 : 0; }
