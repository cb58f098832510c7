/* fakeaws: a fast local stand-in for S3 + SQS + CloudSearch + OpenSearch `_bulk`, used by the
 * benchmark harness so that the engine, not its peers, is what gets measured.
 *
 * One libuv loop, HTTP/1.1 keep-alive with in-order pipelining, every object loaded into memory
 * at start and written straight from there (no copy per request), an in-memory SQS queue with
 * visibility timeouts and long polling, and document endpoints that only count what they get.
 * No signature checking: any Authorization header is accepted. Speed first, but every size read
 * from the wire is bounded.
 *
 * This is one file because every bench .c file becomes its own program; it is organised in sections:
 * utilities, object store, queue, notifications, HTTP connection, handlers, main. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <uv.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/log.h"
#include "base/text.h"

/* ---- limits ---------------------------------------------------------------------------- */
#define HDR_MAX (64u * 1024)                  /* request line + headers */
#define BODY_MAX (16u * 1024 * 1024)          /* any request body */
#define IN_MAX (HDR_MAX + BODY_MAX + HDR_MAX) /* one full request plus the start of the next */
#define IN_CHUNK (64u * 1024)
#define OUT_PENDING_MAX (64u * 1024 * 1024) /* stop handling a connection's requests past this */
#define MAX_HEADERS 128
#define KEY_MAX 1024                    /* S3 key length limit */
#define SQS_BODY_MAX (1024u * 1024)     /* SQS MaximumMessageSize default */
#define CS_BATCH_MAX (5u * 1024 * 1024) /* CloudSearch batch limit */
#define LIST_MAX 1000                   /* S3 max-keys ceiling */
#define SQS_BATCH_MAX 10
#define OBJECT_MAX ((size_t)2 << 30) /* one file loaded into memory */
#define JSON_TOKENS 16384

/* ---- global state ---------------------------------------------------------------------- */
typedef struct object {
    char *key;
    size_t key_len;
    char *data;
    size_t len;
    char etag[33];
    char iso_mtime[32];  /* ListObjectsV2 LastModified */
    char http_mtime[40]; /* Last-Modified header */
} object;

enum { MSG_VISIBLE, MSG_INFLIGHT, MSG_DELAYED, MSG_DELETED };

typedef struct body_tmpl { /* one notification body, shared by --repeat copies */
    char *esc;             /* body already escaped as JSON string content */
    size_t esc_len;
    char md5[33]; /* of the raw body */
} body_tmpl;

typedef struct msg {
    uint32_t tmpl;
    uint32_t receive_count; /* also the generation of the current receipt handle */
    uint32_t vis_seq;       /* bumps whenever deadline changes; stale heap entries mismatch */
    uint8_t state;
    uint64_t sent_epoch_ms;
    uint64_t first_recv_epoch_ms;
    uint64_t deadline_ms; /* loop time when an in-flight/delayed message becomes visible */
} msg;

typedef struct heap_ent {
    uint64_t deadline;
    uint32_t idx;
    uint32_t seq;
} heap_ent;

struct conn;

static struct {
    uv_loop_t *loop;
    uv_tcp_t server;
    uv_signal_t sigterm, sigint;
    uv_timer_t queue_timer; /* fires at the earliest visibility deadline */
    uv_timer_t drain_timer; /* --exit-when-drained check */
    int port;
    const char *host;
    const char *bucket;
    size_t bucket_len;
    const char *queue;
    size_t queue_len;
    int vis_default;
    int exit_when_drained;
    uint64_t epoch_offset_ms; /* wall clock - loop clock */
    uint64_t last_upload_ms;
    uint64_t request_seq;

    object *objs;
    size_t nobjs, objs_cap;

    body_tmpl *tmpls;
    size_t ntmpls, tmpls_cap;
    msg *msgs;
    size_t nmsgs, msgs_cap;
    uint32_t *vis_ring; /* FIFO of visible message indices (may hold deleted ones, skipped) */
    size_t vis_head, vis_count, vis_cap;
    heap_ent *heap;
    size_t heap_len, heap_cap;
    size_t n_visible, n_inflight, n_delayed, n_deleted;
    struct conn *waiters_head, *waiters_tail; /* long polls, FIFO */
    int wake_pending;

    buf out;  /* response body scratch, reused */
    buf out2; /* second scratch (escaping) */
    json_doc jd;
    char *decode_tmp; /* SQS message body decode, SQS_BODY_MAX + 1 */

    struct {
        uint64_t s3_get, s3_head, s3_list, s3_other;
        uint64_t sqs_receive, sqs_delete, sqs_change_visibility, sqs_send, sqs_other;
        uint64_t cloudsearch, bulk, stats, other, bad_requests;
        uint64_t objects_served, bytes_served;
        uint64_t msgs_delivered, msgs_deleted, stale_deletes, msgs_sent;
        uint64_t docs_accepted, deletes_accepted, batches, bytes_uploaded, rejected_batches;
        uint64_t document_bytes; /* accepted documents' own bytes: bodies without the array or bulk framing */
        uint64_t connections_total;
        int64_t connections_open;
    } st;
} g;

/* ---- utilities ------------------------------------------------------------------------- */
static uint64_t loop_ms(void) { return uv_now(g.loop); }
static uint64_t epoch_ms(void) { return uv_now(g.loop) + g.epoch_offset_ms; }

static int grow_array(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need) ncap *= 2;
    if (ncap > SIZE_MAX / elem) return -1;
    void *np = realloc(*p, ncap * elem);
    if (!np) return -1;
    *p = np;
    *cap = ncap;
    return 0;
}

static void md5_hex(const void *data, size_t len, char out[33]) {
    unsigned char d[EVP_MAX_MD_SIZE];
    if (EVP_Digest(data, len, d, NULL, EVP_md5(), NULL) != 1) memset(d, 0, 16);
    for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static int ieq(const char *a, size_t alen, const char *lit) {
    size_t n = strlen(lit);
    return alen == n && strncasecmp(a, lit, n) == 0;
}

static int mem_eq(const char *a, size_t alen, const char *lit) {
    size_t n = strlen(lit);
    return alen == n && memcmp(a, lit, n) == 0;
}

static int json_escape_append(buf *b, const char *s, size_t n) {
    if (buf_reserve(b, n + 2) != 0) return -1;
    size_t run = 0; /* copy unescaped runs in one go */
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\') continue;
        if (buf_append(b, s + run, i - run) != 0) return -1;
        run = i + 1;
        int rc;
        switch (ch) {
        case '"': rc = buf_append(b, "\\\"", 2); break;
        case '\\': rc = buf_append(b, "\\\\", 2); break;
        case '\n': rc = buf_append(b, "\\n", 2); break;
        case '\r': rc = buf_append(b, "\\r", 2); break;
        case '\t': rc = buf_append(b, "\\t", 2); break;
        default: rc = buf_printf(b, "\\u%04x", ch); break;
        }
        if (rc != 0) return -1;
    }
    return buf_append(b, s + run, n - run);
}

static int xml_escape_append(buf *b, const char *s, size_t n) {
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        const char *rep = NULL;
        char num[16];
        switch (ch) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&apos;"; break;
        default:
            if (ch < 0x20) {
                snprintf(num, sizeof num, "&#x%x;", ch);
                rep = num;
            }
        }
        if (!rep) continue;
        if (buf_append(b, s + run, i - run) != 0 || buf_append_str(b, rep) != 0) return -1;
        run = i + 1;
    }
    return buf_append(b, s + run, n - run);
}

/* Percent-encode all but unreserved characters and '/'; space becomes '+' when form_style
 * (S3 event notifications) and %20 otherwise (ListObjectsV2 encoding-type=url). */
static int url_encode_append(buf *b, const char *s, size_t n, int form_style) {
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        char e[3];
        size_t el;
        if (text_url_unreserved(ch) || ch == '/') {
            e[0] = (char)ch;
            el = 1;
        } else if (ch == ' ' && form_style) {
            e[0] = '+';
            el = 1;
        } else {
            e[0] = '%';
            e[1] = text_hex_upper(ch >> 4);
            e[2] = text_hex_upper(ch);
            el = 3;
        }
        if (buf_append(b, e, el) != 0) return -1;
    }
    return 0;
}

static void format_times(time_t t, char *iso, size_t iso_cap, char *http, size_t http_cap) {
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(iso, iso_cap, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    /* Fixed English names: strftime %a/%b depend on the locale. */
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const mons[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    snprintf(http, http_cap, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday, mons[tm.tm_mon],
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* A stable UUID-looking id derived from a number (no randomness needed). */
static void fake_uuid(uint64_t n, uint64_t salt, char out[37]) {
    uint64_t h = (n + 1) * 0x9E3779B97F4A7C15ull ^ salt;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 32;
    snprintf(out, 37, "%08" PRIx64 "-%04" PRIx64 "-4%03" PRIx64 "-8%03" PRIx64 "-%012" PRIx64,
             (uint64_t)(h & 0xffffffffu), (h >> 32) & 0xffff, (h >> 48) & 0xfff, n >> 48 & 0xfff,
             (uint64_t)(n & 0xffffffffffffull));
}

/* ---- object store ---------------------------------------------------------------------- */
static int key_cmp(const char *a, size_t alen, const char *b, size_t blen) {
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c) return c;
    return alen < blen ? -1 : alen > blen;
}

static int object_cmp(const void *pa, const void *pb) {
    const object *a = pa, *b = pb;
    return key_cmp(a->key, a->key_len, b->key, b->key_len);
}

/* First object whose key is >= k (or > k when strictly). */
static size_t object_lower_bound(const char *k, size_t klen, int strictly) {
    size_t lo = 0, hi = g.nobjs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(g.objs[mid].key, g.objs[mid].key_len, k, klen);
        if (c < 0 || (strictly && c == 0)) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static object *object_find(const char *k, size_t klen) {
    size_t i = object_lower_bound(k, klen, 0);
    if (i < g.nobjs && key_cmp(g.objs[i].key, g.objs[i].key_len, k, klen) == 0) return &g.objs[i];
    return NULL;
}

static int load_file(const char *path, const char *key, const struct stat *sb) {
    size_t klen = strlen(key);
    if (klen == 0 || klen > KEY_MAX) {
        log_warn("skipping %s: key length %zu outside 1..%d", path, klen, KEY_MAX);
        return 0;
    }
    if ((uint64_t)sb->st_size > OBJECT_MAX) {
        log_warn("skipping %s: %lld bytes is over the in-memory limit", path, (long long)sb->st_size);
        return 0;
    }
    if (grow_array((void **)&g.objs, &g.objs_cap, g.nobjs + 1, sizeof(object)) != 0) return -1;
    size_t len = (size_t)sb->st_size;
    char *data = malloc(len ? len : 1);
    char *kcopy = strdup(key);
    int fd = open(path, O_RDONLY);
    size_t got = 0;
    if (data && kcopy && fd >= 0) {
        while (got < len) {
            ssize_t n = read(fd, data + got, len - got);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            got += (size_t)n;
        }
    }
    if (fd >= 0) close(fd);
    if (!data || !kcopy || fd < 0 || got != len) {
        log_error("cannot load %s: %s", path, fd < 0 ? strerror(errno) : "short read or no memory");
        free(data);
        free(kcopy);
        return -1;
    }
    object *o = &g.objs[g.nobjs++];
    o->key = kcopy;
    o->key_len = klen;
    o->data = data;
    o->len = len;
    md5_hex(data, len, o->etag);
    format_times(sb->st_mtime, o->iso_mtime, sizeof o->iso_mtime, o->http_mtime, sizeof o->http_mtime);
    return 0;
}

/* Walk root/rel recursively; rel is the key prefix ("" at the top). Only regular files and
 * directories are followed (no symlinks, so no loops). */
static int load_dir(const char *root, const char *rel, int depth) {
    if (depth > 64) return 0;
    char path[4096];
    snprintf(path, sizeof path, "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *d = opendir(path);
    if (!d) {
        log_error("cannot open directory %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        char key[KEY_MAX + 256];
        int kl = snprintf(key, sizeof key, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
        char full[4096 + KEY_MAX + 256];
        snprintf(full, sizeof full, "%s/%s", root, key);
        struct stat sb;
        if (kl < 0 || (size_t)kl >= sizeof key) {
            log_warn("skipping %s: path too long", full);
            continue;
        }
        if (lstat(full, &sb) != 0) continue;
        if (S_ISDIR(sb.st_mode)) rc = load_dir(root, key, depth + 1);
        else if (S_ISREG(sb.st_mode)) rc = load_file(full, key, &sb);
    }
    closedir(d);
    return rc;
}

/* ---- queue ----------------------------------------------------------------------------- */
static void timer_rearm_queue(void);

static int vis_push(uint32_t idx) {
    if (g.vis_count == g.vis_cap) {
        size_t ncap = g.vis_cap ? g.vis_cap * 2 : 1024;
        uint32_t *nr = malloc(ncap * sizeof *nr);
        if (!nr) return -1;
        for (size_t i = 0; i < g.vis_count; i++) nr[i] = g.vis_ring[(g.vis_head + i) % g.vis_cap];
        free(g.vis_ring);
        g.vis_ring = nr;
        g.vis_cap = ncap;
        g.vis_head = 0;
    }
    g.vis_ring[(g.vis_head + g.vis_count) % g.vis_cap] = idx;
    g.vis_count++;
    return 0;
}

/* Next visible message, or -1. Entries of messages deleted while visible are skipped. */
static long vis_pop(void) {
    while (g.vis_count > 0) {
        uint32_t idx = g.vis_ring[g.vis_head];
        g.vis_head = (g.vis_head + 1) % g.vis_cap;
        g.vis_count--;
        if (g.msgs[idx].state == MSG_VISIBLE) return idx;
    }
    return -1;
}

static int heap_push(uint64_t deadline, uint32_t idx, uint32_t seq) {
    if (grow_array((void **)&g.heap, &g.heap_cap, g.heap_len + 1, sizeof(heap_ent)) != 0) return -1;
    size_t i = g.heap_len++;
    heap_ent e = {deadline, idx, seq};
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (g.heap[p].deadline <= deadline) break;
        g.heap[i] = g.heap[p];
        i = p;
    }
    g.heap[i] = e;
    return 0;
}

static void heap_pop(void) {
    heap_ent last = g.heap[--g.heap_len];
    size_t i = 0, n = g.heap_len;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        uint64_t md = last.deadline;
        if (l < n && g.heap[l].deadline < md) {
            m = l;
            md = g.heap[l].deadline;
        }
        if (r < n && g.heap[r].deadline < md) m = r;
        if (m == i) break;
        g.heap[i] = g.heap[m];
        i = m;
    }
    if (n > 0) g.heap[i] = last;
}

static int heap_top_valid(void) {
    const heap_ent *e = &g.heap[0];
    const msg *m = &g.msgs[e->idx];
    return (m->state == MSG_INFLIGHT || m->state == MSG_DELAYED) && m->vis_seq == e->seq;
}

static void msg_set_state(msg *m, int state) {
    size_t *counters[] = {&g.n_visible, &g.n_inflight, &g.n_delayed, &g.n_deleted};
    (*counters[m->state])--;
    (*counters[state])++;
    m->state = (uint8_t)state;
}

static void msg_make_visible(uint32_t idx) {
    msg_set_state(&g.msgs[idx], MSG_VISIBLE);
    if (vis_push(idx) != 0) log_error("out of memory in the visible queue");
    g.wake_pending = 1;
}

/* Hide a message until now + seconds (in flight after a receive, or delayed after a send). */
static void msg_hide(uint32_t idx, int state, int seconds) {
    msg *m = &g.msgs[idx];
    msg_set_state(m, state);
    m->vis_seq++;
    m->deadline_ms = loop_ms() + (uint64_t)seconds * 1000;
    if (heap_push(m->deadline_ms, idx, m->vis_seq) != 0) log_error("out of memory in the visibility heap");
}

/* Move every message whose visibility deadline passed back to the visible FIFO. */
static void queue_expire(void) {
    uint64_t now = loop_ms();
    while (g.heap_len > 0 && (!heap_top_valid() || g.heap[0].deadline <= now)) {
        heap_ent e = g.heap[0];
        int valid = heap_top_valid();
        heap_pop();
        if (valid) msg_make_visible(e.idx);
    }
}

static void on_queue_timer(uv_timer_t *t);

static void timer_rearm_queue(void) {
    while (g.heap_len > 0 && !heap_top_valid()) heap_pop();
    if (g.heap_len == 0) {
        uv_timer_stop(&g.queue_timer);
        return;
    }
    uint64_t now = loop_ms();
    uint64_t wait = g.heap[0].deadline > now ? g.heap[0].deadline - now : 0;
    uv_timer_start(&g.queue_timer, on_queue_timer, wait, 0);
}

static int queue_add_template(const char *raw, size_t len) {
    if (grow_array((void **)&g.tmpls, &g.tmpls_cap, g.ntmpls + 1, sizeof(body_tmpl)) != 0) return -1;
    buf_clear(&g.out2);
    if (json_escape_append(&g.out2, raw, len) != 0) return -1;
    body_tmpl *t = &g.tmpls[g.ntmpls];
    t->esc = malloc(g.out2.len ? g.out2.len : 1);
    if (!t->esc) return -1;
    memcpy(t->esc, g.out2.data, g.out2.len);
    t->esc_len = g.out2.len;
    md5_hex(raw, len, t->md5);
    return (int)g.ntmpls++;
}

/* Enqueue one message with body template `tmpl`; delay_s > 0 starts it delayed. */
static long queue_add_message(uint32_t tmpl, int delay_s) {
    if (g.nmsgs >= UINT32_MAX - 1 || grow_array((void **)&g.msgs, &g.msgs_cap, g.nmsgs + 1, sizeof(msg)) != 0)
        return -1;
    uint32_t idx = (uint32_t)g.nmsgs++;
    msg *m = &g.msgs[idx];
    memset(m, 0, sizeof *m);
    m->tmpl = tmpl;
    m->state = MSG_DELETED; /* placeholder so the state change below counts correctly */
    g.n_deleted++;
    m->sent_epoch_ms = epoch_ms();
    if (delay_s > 0) {
        msg_hide(idx, MSG_DELAYED, delay_s);
    } else {
        msg_make_visible(idx);
    }
    return idx;
}

static void receipt_handle(uint32_t idx, uint32_t gen, char out[64]) {
    uint32_t check = (uint32_t)((idx * 2654435761u) ^ (gen * 40503u) ^ 0x5a17c0deu);
    snprintf(out, 64, "AQEB%08" PRIx32 "%08" PRIx32 "%08" PRIx32, idx, gen, check);
}

/* Parse our receipt handle; 0 on success. */
static int receipt_parse(const char *s, size_t n, uint32_t *idx, uint32_t *gen) {
    if (n != 28 || memcmp(s, "AQEB", 4) != 0) return -1;
    uint32_t v[3];
    for (int k = 0; k < 3; k++) {
        uint32_t x = 0;
        for (int i = 0; i < 8; i++) {
            int h = text_hexval((unsigned char)s[4 + 8 * k + i]);
            if (h < 0 || (h >= 10 && s[4 + 8 * k + i] < 'a')) return -1;
            x = x * 16 + (uint32_t)h;
        }
        v[k] = x;
    }
    char expect[64];
    receipt_handle(v[0], v[1], expect);
    if (memcmp(expect, s, 28) != 0 || v[0] >= g.nmsgs) return -1;
    *idx = v[0];
    *gen = v[1];
    return 0;
}

/* ---- notifications --------------------------------------------------------------------- */
enum { NOTIFY_SNS, NOTIFY_S3, NOTIFY_RAW };

static int build_cloudtrail_payload(buf *b, size_t first, size_t count) {
    int rc = buf_append_str(b, "{\"s3Bucket\":\"");
    rc |= json_escape_append(b, g.bucket, g.bucket_len);
    rc |= buf_append_str(b, "\",\"s3ObjectKey\":[");
    for (size_t i = first; i < first + count; i++) {
        rc |= buf_append_str(b, i > first ? ",\"" : "\"");
        rc |= json_escape_append(b, g.objs[i].key, g.objs[i].key_len);
        rc |= buf_append_str(b, "\"");
    }
    rc |= buf_append_str(b, "]}");
    return rc ? -1 : 0;
}

static int build_notification(buf *b, int kind, size_t first, size_t count, size_t serial) {
    char iso[32], http[40], uuid[37];
    format_times(time(NULL), iso, sizeof iso, http, sizeof http);
    fake_uuid(serial, 0x5151, uuid);
    buf_clear(b);
    if (kind == NOTIFY_RAW) return build_cloudtrail_payload(b, first, count);
    int rc = 0;
    if (kind == NOTIFY_SNS) {
        buf inner;
        buf_init(&inner, SQS_BODY_MAX);
        if (build_cloudtrail_payload(&inner, first, count) != 0) {
            buf_free(&inner);
            return -1;
        }
        rc |= buf_printf(b,
                         "{\"Type\":\"Notification\",\"MessageId\":\"%s\",\"TopicArn\":"
                         "\"arn:aws:sns:us-east-1:000000000000:fakeaws-cloudtrail\",\"Message\":\"",
                         uuid);
        rc |= json_escape_append(b, inner.data, inner.len);
        rc |= buf_printf(b,
                         "\",\"Timestamp\":\"%s\",\"SignatureVersion\":\"1\",\"Signature\":\"RkFLRQ==\","
                         "\"SigningCertURL\":\"https://sns.us-east-1.amazonaws.com/"
                         "SimpleNotificationService-fake.pem\",\"UnsubscribeURL\":\"https://sns.us-east-1."
                         "amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:"
                         "000000000000:fakeaws-cloudtrail:%s\"}",
                         iso, uuid);
        buf_free(&inner);
        return rc ? -1 : 0;
    }
    rc |= buf_append_str(b, "{\"Records\":[");
    for (size_t i = first; i < first + count; i++) {
        const object *o = &g.objs[i];
        rc |= buf_printf(b,
                         "%s{\"eventVersion\":\"2.1\",\"eventSource\":\"aws:s3\",\"awsRegion\":\"us-east-1\","
                         "\"eventTime\":\"%s\",\"eventName\":\"ObjectCreated:Put\",\"userIdentity\":{"
                         "\"principalId\":\"AWS:FAKEAWS\"},\"s3\":{\"s3SchemaVersion\":\"1.0\","
                         "\"configurationId\":\"fakeaws\",\"bucket\":{\"name\":\"",
                         i > first ? "," : "", iso);
        rc |= json_escape_append(b, g.bucket, g.bucket_len);
        rc |= buf_append_str(b, "\",\"arn\":\"arn:aws:s3:::");
        rc |= json_escape_append(b, g.bucket, g.bucket_len);
        rc |= buf_append_str(b, "\"},\"object\":{\"key\":\"");
        rc |= url_encode_append(b, o->key, o->key_len, 1);
        rc |= buf_printf(b, "\",\"size\":%zu,\"eTag\":\"%s\",\"sequencer\":\"%016zX\"}}}", o->len, o->etag, i + 1);
    }
    rc |= buf_append_str(b, "]}");
    return rc ? -1 : 0;
}

static int preload_queue(int kind, size_t per_msg, long repeat) {
    buf b;
    buf_init(&b, SQS_BODY_MAX);
    size_t first_tmpl = g.ntmpls;
    for (size_t first = 0; first < g.nobjs; first += per_msg) {
        size_t count = g.nobjs - first < per_msg ? g.nobjs - first : per_msg;
        if (build_notification(&b, kind, first, count, g.ntmpls) != 0 || queue_add_template(b.data, b.len) < 0) {
            log_error("notification for objects %zu..%zu does not fit in %u bytes; lower --batch-objects", first,
                      first + count, SQS_BODY_MAX);
            buf_free(&b);
            return -1;
        }
    }
    buf_free(&b);
    for (long r = 0; r < repeat; r++)
        for (size_t t = first_tmpl; t < g.ntmpls; t++)
            if (queue_add_message((uint32_t)t, 0) < 0) return -1;
    g.wake_pending = 0;
    return 0;
}

/* ---- HTTP connection ------------------------------------------------------------------- */
typedef struct park_params {
    int max;
    int vis;
    unsigned attrs;
    int keep_alive;
} park_params;

typedef struct conn {
    uv_tcp_t tcp;
    uv_timer_t poll_timer;
    int open_handles;
    char *in;
    size_t in_off, in_len, in_cap;
    size_t need;   /* bytes (from in_off) the current request needs, once its headers are in */
    int cont_sent; /* "100 Continue" already sent for the current request */
    size_t pending_out;
    int reading, closing, eof, close_after_write, parked;
    park_params park;
    struct conn *wprev, *wnext;
} conn;

typedef struct req {
    const char *method;
    size_t method_len;
    const char *path;
    size_t path_len;
    const char *query;
    size_t query_len;
    const char *host;
    size_t host_len;
    const char *amz_target;
    size_t amz_target_len;
    const char *ctype;
    size_t ctype_len;
    const char *range;
    size_t range_len;
    int has_cl;
    int keep_alive;
    int head;
    const char *body;
    size_t body_len;
} req;

typedef struct wreq {
    uv_write_t w;
    conn *c;
    size_t len;
    char data[];
} wreq;

static void conn_process(conn *c);
static void conn_close(conn *c);
static void conn_update_reading(conn *c);

static const char *status_text(int status) {
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 206: return "Partial Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    default: return "Unknown";
    }
}

static void conn_maybe_finish(conn *c) {
    if (!c->closing && (c->eof || c->close_after_write) && !c->parked && c->pending_out == 0) conn_close(c);
}

static void on_write(uv_write_t *w, int status) {
    wreq *wr = (wreq *)w;
    conn *c = wr->c;
    c->pending_out -= wr->len;
    free(wr);
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (!c->closing && c->in_len > c->in_off && c->pending_out < OUT_PENDING_MAX / 2) conn_process(c);
    conn_maybe_finish(c);
}

static int conn_write(conn *c, wreq *wr, const char *ext, size_t ext_len) {
    uv_buf_t bufs[2];
    bufs[0] = uv_buf_init(wr->data, (unsigned)wr->len);
    int n = 1;
    size_t total = wr->len;
    if (ext_len > 0) {
        bufs[1] = uv_buf_init((char *)ext, (unsigned)ext_len);
        n = 2;
        total += ext_len;
    }
    wr->c = c;
    wr->len = total; /* what on_write subtracts */
    if (uv_write(&wr->w, (uv_stream_t *)&c->tcp, bufs, (unsigned)n, on_write) != 0) {
        free(wr);
        conn_close(c);
        return -1;
    }
    c->pending_out += total;
    return 0;
}

/* Send one response. When `ext` is set the body is written from that memory (it must outlive the
 * write: object data does); otherwise the body is copied next to the headers. */
static void respond(conn *c, int keep_alive, int head_only, int status, const char *ctype, const char *extra,
                    const char *body, size_t body_len, int ext) {
    if (c->closing) return;
    if (!keep_alive) c->close_after_write = 1;
    char hdr[1024];
    int hl = snprintf(hdr, sizeof hdr,
                      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                      "x-amzn-RequestId: fakeaws-%" PRIu64 "\r\n%s%s\r\n",
                      status, status_text(status), ctype, body_len, ++g.request_seq, extra ? extra : "",
                      keep_alive ? "" : "Connection: close\r\n");
    if (hl < 0 || (size_t)hl >= sizeof hdr) {
        conn_close(c);
        return;
    }
    size_t copy = (ext || head_only) ? 0 : body_len;
    wreq *wr = malloc(sizeof *wr + (size_t)hl + copy);
    if (!wr) {
        conn_close(c);
        return;
    }
    memcpy(wr->data, hdr, (size_t)hl);
    if (copy) memcpy(wr->data + hl, body, copy);
    wr->len = (size_t)hl + copy;
    conn_write(c, wr, (ext && !head_only) ? body : NULL, (ext && !head_only) ? body_len : 0);
}

static void respond_text(conn *c, int keep_alive, int status, const char *ctype, const char *body) {
    respond(c, keep_alive, 0, status, ctype, NULL, body, strlen(body), 0);
}

static void send_continue(conn *c) {
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    wreq *wr = malloc(sizeof *wr + sizeof cont);
    if (!wr) {
        conn_close(c);
        return;
    }
    memcpy(wr->data, cont, sizeof cont - 1);
    wr->len = sizeof cont - 1;
    conn_write(c, wr, NULL, 0);
}

static void waiter_remove(conn *c) {
    if (!c->parked) return;
    if (c->wprev) c->wprev->wnext = c->wnext;
    else g.waiters_head = c->wnext;
    if (c->wnext) c->wnext->wprev = c->wprev;
    else g.waiters_tail = c->wprev;
    c->wprev = c->wnext = NULL;
}

static void on_conn_handle_closed(uv_handle_t *h) {
    conn *c = h->data;
    if (--c->open_handles == 0) {
        free(c->in);
        free(c);
    }
}

static void conn_close(conn *c) {
    if (c->closing) return;
    waiter_remove(c);
    c->parked = 0;
    c->closing = 1;
    g.st.connections_open--;
    uv_timer_stop(&c->poll_timer);
    uv_close((uv_handle_t *)&c->poll_timer, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
}

enum { PARSE_OK, PARSE_MORE, PARSE_BAD };

/* Reject a malformed request: answer it and close after the answer. */
static int parse_fail(conn *c, int status, const char *why) {
    g.st.bad_requests++;
    char body[256];
    snprintf(body, sizeof body, "{\"message\":\"%s\"}", why);
    respond_text(c, 0, status, "application/json", body);
    return PARSE_BAD;
}

static int parse_request(conn *c, req *r, size_t *total) {
    const char *start = c->in + c->in_off;
    size_t avail = c->in_len - c->in_off;
    const char *end = memmem(start, avail < HDR_MAX ? avail : HDR_MAX, "\r\n\r\n", 4);
    if (!end) return avail >= HDR_MAX ? parse_fail(c, 431, "header block over 64 KiB") : PARSE_MORE;
    size_t hdr_len = (size_t)(end - start) + 4;
    memset(r, 0, sizeof *r);

    /* Request line: METHOD SP target SP HTTP/1.x */
    const char *line_end = memchr(start, '\r', hdr_len);
    const char *sp1 = memchr(start, ' ', (size_t)(line_end - start));
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1)) : NULL;
    if (!sp1 || !sp2 || sp1 == start || sp2 == sp1 + 1 || sp1[1] != '/')
        return parse_fail(c, 400, "malformed request line");
    size_t vlen = (size_t)(line_end - sp2 - 1);
    if (vlen != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0) return parse_fail(c, 400, "unsupported HTTP version");
    r->keep_alive = sp2[8] == '1';
    r->method = start;
    r->method_len = (size_t)(sp1 - start);
    r->path = sp1 + 1;
    r->path_len = (size_t)(sp2 - sp1 - 1);
    const char *q = memchr(r->path, '?', r->path_len);
    if (q) {
        r->query = q + 1;
        r->query_len = r->path_len - (size_t)(q + 1 - r->path);
        r->path_len = (size_t)(q - r->path);
    }
    r->head = mem_eq(r->method, r->method_len, "HEAD");

    size_t content_length = 0;
    int expect_continue = 0, nheaders = 0;
    const char *p = line_end + 2;
    while (p < end + 2) {
        const char *le = memchr(p, '\r', (size_t)(end + 2 - p));
        if (!le || le[1] != '\n') return parse_fail(c, 400, "bare CR in headers");
        if (++nheaders > MAX_HEADERS) return parse_fail(c, 431, "too many headers");
        const char *colon = memchr(p, ':', (size_t)(le - p));
        if (!colon || colon == p || *p == ' ' || *p == '\t') return parse_fail(c, 400, "malformed header line");
        size_t nlen = (size_t)(colon - p);
        const char *v = colon + 1, *ve = le;
        while (v < ve && (*v == ' ' || *v == '\t')) v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
        size_t vl = (size_t)(ve - v);
        if (ieq(p, nlen, "content-length")) {
            size_t cl = 0;
            if (vl == 0 || vl > 12) return parse_fail(c, 400, "bad Content-Length");
            for (size_t i = 0; i < vl; i++) {
                if (v[i] < '0' || v[i] > '9') return parse_fail(c, 400, "bad Content-Length");
                cl = cl * 10 + (size_t)(v[i] - '0');
            }
            if (r->has_cl && cl != content_length) return parse_fail(c, 400, "conflicting Content-Length");
            r->has_cl = 1;
            content_length = cl;
        } else if (ieq(p, nlen, "transfer-encoding")) {
            /* Without a length we cannot frame the body; CloudSearch answers 411 too. */
            return parse_fail(c, 411, "Transfer-Encoding is not supported; send Content-Length");
        } else if (ieq(p, nlen, "host")) {
            r->host = v;
            r->host_len = vl;
        } else if (ieq(p, nlen, "x-amz-target")) {
            r->amz_target = v;
            r->amz_target_len = vl;
        } else if (ieq(p, nlen, "content-type")) {
            r->ctype = v;
            r->ctype_len = vl;
        } else if (ieq(p, nlen, "range")) {
            r->range = v;
            r->range_len = vl;
        } else if (ieq(p, nlen, "connection")) {
            if (ieq(v, vl, "close")) r->keep_alive = 0;
            else if (ieq(v, vl, "keep-alive")) r->keep_alive = 1;
        } else if (ieq(p, nlen, "expect")) {
            expect_continue = ieq(v, vl, "100-continue");
        }
        p = le + 2;
    }
    if (content_length > BODY_MAX) return parse_fail(c, 413, "body over 16 MiB");
    if (avail < hdr_len + content_length) {
        c->need = hdr_len + content_length;
        if (expect_continue && !c->cont_sent && avail == hdr_len) {
            c->cont_sent = 1;
            send_continue(c);
        }
        return PARSE_MORE;
    }
    r->body = start + hdr_len;
    r->body_len = content_length;
    *total = hdr_len + content_length;
    return PARSE_OK;
}

static void dispatch(conn *c, req *r);
static void sqs_serve_waiters(void);

static void conn_process(conn *c) {
    while (!c->closing && !c->parked && !c->close_after_write && c->pending_out < OUT_PENDING_MAX &&
           c->in_len > c->in_off) {
        req r;
        size_t total = 0;
        int rc = parse_request(c, &r, &total);
        if (rc != PARSE_OK) break;
        dispatch(c, &r); /* r points into c->in; nothing moves it until we return */
        c->in_off += total;
        c->need = 0;
        c->cont_sent = 0;
        if (g.wake_pending) /* after the handler, which used the shared scratch buffers */
            sqs_serve_waiters();
    }
    if (c->in_off == c->in_len) c->in_off = c->in_len = 0;
    conn_update_reading(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out) {
    (void)suggested;
    conn *c = h->data;
    if (c->in_off > 0 && (c->in_off == c->in_len || c->in_cap - c->in_len < IN_CHUNK / 4 ||
                          (c->need > 0 && c->in_off + c->need > c->in_cap))) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    size_t want = c->in_len + IN_CHUNK;
    if (c->need > 0 && c->in_off + c->need > want) want = c->in_off + c->need; /* read a big body straight into place */
    if (want > IN_MAX) want = IN_MAX;
    if (want > c->in_cap) {
        size_t ncap = c->in_cap * 2 > want ? c->in_cap * 2 : want;
        if (ncap > IN_MAX) ncap = IN_MAX;
        char *n = realloc(c->in, ncap);
        if (n) {
            c->in = n;
            c->in_cap = ncap;
        }
    }
    *out = uv_buf_init(c->in + c->in_len, (unsigned)(c->in_cap - c->in_len));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
    (void)b;
    conn *c = s->data;
    if (nread > 0) {
        c->in_len += (size_t)nread;
        conn_process(c);
        return;
    }
    if (nread == UV_EOF) {
        if (c->parked) { /* the client is gone: do not hand it messages */
            conn_close(c);
            return;
        }
        c->eof = 1;
        conn_update_reading(c);
        conn_maybe_finish(c);
    } else if (nread < 0) {
        conn_close(c);
    }
}

static void conn_update_reading(conn *c) {
    int want = !c->closing && !c->eof && !c->close_after_write && (c->in_len - c->in_off) < IN_MAX;
    if (want && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) c->reading = 1;
    } else if (!want && c->reading && !c->closing) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

static void on_connection(uv_stream_t *server, int status) {
    if (status < 0) return;
    conn *c = calloc(1, sizeof *c);
    if (!c) return;
    uv_tcp_init(g.loop, &c->tcp);
    uv_timer_init(g.loop, &c->poll_timer);
    c->tcp.data = c->poll_timer.data = c;
    c->open_handles = 2;
    g.st.connections_total++;
    g.st.connections_open++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    conn_update_reading(c);
}

/* ---- handlers: stats ------------------------------------------------------------------- */
static int stats_json(buf *b) {
    buf_clear(b);
    int rc = buf_printf(b,
                        "{\"requests\":{\"s3_get\":%" PRIu64 ",\"s3_head\":%" PRIu64 ",\"s3_list\":%" PRIu64
                        ",\"s3_other\":%" PRIu64 ",\"sqs_receive\":%" PRIu64 ",\"sqs_delete\":%" PRIu64
                        ",\"sqs_change_visibility\":%" PRIu64 ",\"sqs_send\":%" PRIu64 ",\"sqs_other\":%" PRIu64
                        ",\"cloudsearch_batch\":%" PRIu64 ",\"opensearch_bulk\":%" PRIu64 ",\"stats\":%" PRIu64
                        ",\"other\":%" PRIu64 ",\"bad\":%" PRIu64 "},",
                        g.st.s3_get, g.st.s3_head, g.st.s3_list, g.st.s3_other, g.st.sqs_receive, g.st.sqs_delete,
                        g.st.sqs_change_visibility, g.st.sqs_send, g.st.sqs_other, g.st.cloudsearch, g.st.bulk,
                        g.st.stats, g.st.other, g.st.bad_requests);
    rc |= buf_printf(b, "\"objects\":%zu,\"objects_served\":%" PRIu64 ",\"bytes_served\":%" PRIu64 ",", g.nobjs,
                     g.st.objects_served, g.st.bytes_served);
    rc |= buf_printf(b,
                     "\"messages\":{\"total\":%zu,\"received\":%" PRIu64 ",\"deleted\":%zu,\"in_flight\":%zu,"
                     "\"visible\":%zu,\"delayed\":%zu,\"sent\":%" PRIu64 ",\"stale_deletes\":%" PRIu64 "},",
                     g.nmsgs, g.st.msgs_delivered, g.n_deleted, g.n_inflight, g.n_visible, g.n_delayed, g.st.msgs_sent,
                     g.st.stale_deletes);
    rc |= buf_printf(b,
                     "\"documents_accepted\":%" PRIu64 ",\"deletes_accepted\":%" PRIu64 ",\"batches\":%" PRIu64
                     ",\"rejected_batches\":%" PRIu64 ",\"bytes_uploaded\":%" PRIu64 ",\"document_bytes\":%" PRIu64
                     ",\"connections\":{\"total\":%" PRIu64 ",\"open\":%" PRId64 "}}",
                     g.st.docs_accepted, g.st.deletes_accepted, g.st.batches, g.st.rejected_batches,
                     g.st.bytes_uploaded, g.st.document_bytes, g.st.connections_total, g.st.connections_open);
    return rc ? -1 : 0;
}

/* ---- handlers: S3 ---------------------------------------------------------------------- */
static void s3_error(conn *c, const req *r, int status, const char *code, const char *message, const char *key,
                     size_t key_len) {
    buf *b = &g.out;
    buf_clear(b);
    buf_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message>", code,
               message);
    if (key) {
        buf_append_str(b, "<Key>");
        xml_escape_append(b, key, key_len);
        buf_append_str(b, "</Key>");
    }
    buf_printf(b, "<RequestId>fakeaws-%" PRIu64 "</RequestId></Error>", g.request_seq + 1);
    respond(c, r->keep_alive, r->head, status, "application/xml", NULL, b->data, b->len, 0);
}

/* Single range "bytes=a-b", "bytes=a-", "bytes=-n". 1 = range set, 0 = ignore, -1 = unsatisfiable. */
static int parse_range(const req *r, size_t size, size_t *first, size_t *last) {
    if (!r->range || r->range_len < 7 || strncmp(r->range, "bytes=", 6) != 0) return 0;
    const char *p = r->range + 6, *e = r->range + r->range_len;
    uint64_t a = 0, b = 0;
    int has_a = 0, has_b = 0;
    while (p < e && *p >= '0' && *p <= '9' && a < (1ull << 50)) {
        a = a * 10 + (uint64_t)(*p++ - '0');
        has_a = 1;
    }
    if (p >= e || *p++ != '-') return 0;
    while (p < e && *p >= '0' && *p <= '9' && b < (1ull << 50)) {
        b = b * 10 + (uint64_t)(*p++ - '0');
        has_b = 1;
    }
    if (p != e || (!has_a && !has_b)) return 0; /* several ranges or junk: serve everything, as RFC 9110 allows */
    if (!has_a) {                               /* suffix */
        if (b == 0 || size == 0) return -1;
        *first = b >= size ? 0 : size - (size_t)b;
        *last = size - 1;
        return 1;
    }
    if (a >= size || (has_b && b < a)) return -1;
    *first = (size_t)a;
    *last = has_b && b < size ? (size_t)b : size - 1;
    return 1;
}

static void s3_get_object(conn *c, const req *r, const char *key, size_t key_len) {
    object *o = object_find(key, key_len);
    if (r->head) g.st.s3_head++;
    else g.st.s3_get++;
    if (!o) {
        s3_error(c, r, 404, "NoSuchKey", "The specified key does not exist.", key, key_len);
        return;
    }
    size_t first = 0, last = o->len ? o->len - 1 : 0;
    int rg = parse_range(r, o->len, &first, &last);
    char extra[256];
    if (rg < 0) {
        s3_error(c, r, 416, "InvalidRange", "The requested range is not satisfiable", NULL, 0);
        return;
    }
    size_t n = o->len ? last - first + 1 : 0;
    int hl = snprintf(extra, sizeof extra, "ETag: \"%s\"\r\nLast-Modified: %s\r\nAccept-Ranges: bytes\r\n", o->etag,
                      o->http_mtime);
    if (rg > 0)
        snprintf(extra + hl, sizeof extra - (size_t)hl, "Content-Range: bytes %zu-%zu/%zu\r\n", first, last, o->len);
    if (!r->head) {
        g.st.objects_served++;
        g.st.bytes_served += n;
    }
    respond(c, r->keep_alive, r->head, rg > 0 ? 206 : 200, "application/octet-stream", extra, o->data + first, n, 1);
}

typedef struct list_params {
    char prefix[KEY_MAX + 1];
    char start_after[KEY_MAX + 1];
    char token[2 * KEY_MAX + 8];
    char delimiter[64];
    long max_keys;
    int url_encoding;
} list_params;

static int list_parse_query(const req *r, list_params *lp) {
    memset(lp, 0, sizeof *lp);
    lp->max_keys = LIST_MAX;
    const char *p = r->query, *e = r->query + r->query_len;
    while (p && p < e) {
        const char *amp = memchr(p, '&', (size_t)(e - p));
        const char *pe = amp ? amp : e;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        const char *name = p, *val = eq ? eq + 1 : pe;
        size_t nlen = (size_t)((eq ? eq : pe) - p), vlen = (size_t)(pe - val);
        char *dst = NULL;
        size_t cap = 0;
        char num[32];
        if (mem_eq(name, nlen, "prefix")) {
            dst = lp->prefix;
            cap = sizeof lp->prefix;
        } else if (mem_eq(name, nlen, "start-after")) {
            dst = lp->start_after;
            cap = sizeof lp->start_after;
        } else if (mem_eq(name, nlen, "continuation-token")) {
            dst = lp->token;
            cap = sizeof lp->token;
        } else if (mem_eq(name, nlen, "delimiter")) {
            dst = lp->delimiter;
            cap = sizeof lp->delimiter;
        } else if (mem_eq(name, nlen, "max-keys") || mem_eq(name, nlen, "encoding-type")) {
            dst = num;
            cap = sizeof num;
        }
        if (dst) {
            if (text_pct_decode(val, vlen, dst, cap, TEXT_PCT_PLUS_SPACE) < 0) return -1;
            if (dst == num && name[0] == 'm') {
                char *endp;
                lp->max_keys = strtol(num, &endp, 10);
                if (*num == '\0' || *endp != '\0' || lp->max_keys < 0) return -1;
                if (lp->max_keys > LIST_MAX) lp->max_keys = LIST_MAX;
            } else if (dst == num) {
                lp->url_encoding = strcmp(num, "url") == 0;
            }
        }
        p = amp ? amp + 1 : e;
    }
    return 0;
}

static int xml_value(buf *b, const char *s, size_t n, int url) {
    return url ? url_encode_append(b, s, n, 0) : xml_escape_append(b, s, n);
}

static void s3_list(conn *c, const req *r) {
    g.st.s3_list++;
    static list_params lp;
    if (list_parse_query(r, &lp) != 0) {
        s3_error(c, r, 400, "InvalidArgument", "Bad query parameter", NULL, 0);
        return;
    }
    size_t plen = strlen(lp.prefix), dlen = strlen(lp.delimiter);
    /* Continuation token: 'k' or 'p' (key / common prefix) + hex of the last item listed. */
    char resume[KEY_MAX + 1];
    size_t resume_len = 0;
    int resume_is_prefix = 0;
    if (lp.token[0]) {
        size_t tl = strlen(lp.token);
        if ((lp.token[0] != 'k' && lp.token[0] != 'p') || tl % 2 != 1 || (tl - 1) / 2 > KEY_MAX) {
            s3_error(c, r, 400, "InvalidArgument", "The continuation token provided is incorrect", NULL, 0);
            return;
        }
        for (size_t i = 1; i < tl; i += 2) {
            int hi = text_hexval((unsigned char)lp.token[i]), lo = text_hexval((unsigned char)lp.token[i + 1]);
            if (hi < 0 || lo < 0) {
                s3_error(c, r, 400, "InvalidArgument", "The continuation token provided is incorrect", NULL, 0);
                return;
            }
            resume[resume_len++] = (char)(hi * 16 + lo);
        }
        resume_is_prefix = lp.token[0] == 'p';
    } else if (lp.start_after[0]) {
        resume_len = strlen(lp.start_after);
        memcpy(resume, lp.start_after, resume_len);
    }
    size_t i = object_lower_bound(lp.prefix, plen, 0);
    if (resume_len > 0) {
        size_t j = object_lower_bound(resume, resume_len, 1);
        if (j > i) i = j;
    }
    /* Collect up to max-keys entries: objects (index) and common prefixes (index + length). */
    static struct item {
        size_t idx;
        size_t cp_len;
    } items[LIST_MAX];
    size_t nitems = 0;
    int truncated = 0;
    const char *last_cp = resume_is_prefix ? resume : NULL;
    size_t last_cp_len = resume_is_prefix ? resume_len : 0;
    for (; i < g.nobjs; i++) {
        const object *o = &g.objs[i];
        if (o->key_len < plen || memcmp(o->key, lp.prefix, plen) != 0)
            break; /* keys sharing the prefix are contiguous */
        size_t cp_len = 0;
        if (dlen > 0) {
            const char *d = memmem(o->key + plen, o->key_len - plen, lp.delimiter, dlen);
            if (d) cp_len = (size_t)(d - o->key) + dlen;
        }
        if (cp_len && last_cp && cp_len == last_cp_len && memcmp(o->key, last_cp, cp_len) == 0) continue;
        if ((long)nitems >= lp.max_keys) {
            truncated = lp.max_keys > 0;
            break;
        }
        items[nitems].idx = i;
        items[nitems].cp_len = cp_len;
        nitems++;
        if (cp_len) {
            last_cp = o->key;
            last_cp_len = cp_len;
        }
    }
    buf *b = &g.out;
    buf_clear(b);
    int u = lp.url_encoding;
    int rc = buf_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult "
                           "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>");
    rc |= xml_escape_append(b, g.bucket, g.bucket_len);
    rc |= buf_append_str(b, "</Name><Prefix>");
    rc |= xml_value(b, lp.prefix, plen, u);
    rc |= buf_append_str(b, "</Prefix>");
    if (lp.start_after[0]) {
        rc |= buf_append_str(b, "<StartAfter>");
        rc |= xml_value(b, lp.start_after, strlen(lp.start_after), u);
        rc |= buf_append_str(b, "</StartAfter>");
    }
    if (lp.token[0]) rc |= buf_printf(b, "<ContinuationToken>%s</ContinuationToken>", lp.token);
    rc |= buf_printf(b, "<KeyCount>%zu</KeyCount><MaxKeys>%ld</MaxKeys>", nitems, lp.max_keys);
    if (dlen) {
        rc |= buf_append_str(b, "<Delimiter>");
        rc |= xml_value(b, lp.delimiter, dlen, u);
        rc |= buf_append_str(b, "</Delimiter>");
    }
    if (u) rc |= buf_append_str(b, "<EncodingType>url</EncodingType>");
    rc |= buf_printf(b, "<IsTruncated>%s</IsTruncated>", truncated ? "true" : "false");
    if (truncated) {
        const struct item *it = &items[nitems - 1];
        const object *o = &g.objs[it->idx];
        size_t n = it->cp_len ? it->cp_len : o->key_len;
        rc |= buf_printf(b, "<NextContinuationToken>%c", it->cp_len ? 'p' : 'k');
        for (size_t k = 0; k < n; k++) rc |= buf_printf(b, "%02x", (unsigned char)o->key[k]);
        rc |= buf_append_str(b, "</NextContinuationToken>");
    }
    for (size_t k = 0; k < nitems; k++) {
        if (items[k].cp_len) continue;
        const object *o = &g.objs[items[k].idx];
        rc |= buf_append_str(b, "<Contents><Key>");
        rc |= xml_value(b, o->key, o->key_len, u);
        rc |= buf_printf(b,
                         "</Key><LastModified>%s</LastModified><ETag>&quot;%s&quot;</ETag><Size>%zu</Size>"
                         "<StorageClass>STANDARD</StorageClass></Contents>",
                         o->iso_mtime, o->etag, o->len);
    }
    for (size_t k = 0; k < nitems; k++) {
        if (!items[k].cp_len) continue;
        rc |= buf_append_str(b, "<CommonPrefixes><Prefix>");
        rc |= xml_value(b, g.objs[items[k].idx].key, items[k].cp_len, u);
        rc |= buf_append_str(b, "</Prefix></CommonPrefixes>");
    }
    rc |= buf_append_str(b, "</ListBucketResult>");
    if (rc) {
        s3_error(c, r, 500, "InternalError", "listing too large", NULL, 0);
        return;
    }
    respond(c, r->keep_alive, r->head, 200, "application/xml", NULL, b->data, b->len, 0);
}

static void handle_s3(conn *c, const req *r) {
    const char *path = r->path + 1; /* after the leading '/' */
    size_t plen = r->path_len - 1;
    const char *bucket = NULL, *key = path;
    size_t blen = 0, klen = plen;
    /* Virtual-host style when Host is "BUCKET.<anything>". */
    int vhost = r->host && r->host_len > g.bucket_len && r->host[g.bucket_len] == '.' &&
                memcmp(r->host, g.bucket, g.bucket_len) == 0;
    if (vhost) {
        bucket = g.bucket;
        blen = g.bucket_len;
    } else {
        const char *slash = memchr(path, '/', plen);
        bucket = path;
        blen = slash ? (size_t)(slash - path) : plen;
        key = slash ? slash + 1 : path + plen;
        klen = slash ? plen - blen - 1 : 0;
    }
    char kbuf[KEY_MAX + 1];
    long kl = text_pct_decode(key, klen, kbuf, sizeof kbuf, 0);
    if (kl < 0) {
        g.st.s3_other++;
        s3_error(c, r, 400, "InvalidURI", "Could not parse the specified URI, or the key is too long.", NULL, 0);
        return;
    }
    if (blen == 0 || blen != g.bucket_len || memcmp(bucket, g.bucket, blen) != 0) {
        g.st.s3_other++;
        s3_error(c, r, 404, "NoSuchBucket", "The specified bucket does not exist", NULL, 0);
        return;
    }
    int get = mem_eq(r->method, r->method_len, "GET");
    if (!get && !r->head) {
        g.st.s3_other++;
        s3_error(c, r, 501, "NotImplemented", "fakeaws serves GET and HEAD only", NULL, 0);
        return;
    }
    if (kl == 0) {
        if (r->head) {
            g.st.s3_head++;
            respond(c, r->keep_alive, 1, 200, "application/xml", NULL, NULL, 0, 0);
        } else {
            s3_list(c, r);
        }
        return;
    }
    s3_get_object(c, r, kbuf, (size_t)kl);
}

/* ---- handlers: SQS (JSON 1.0 protocol) ------------------------------------------------- */
enum { ATTR_RECEIVE_COUNT = 1, ATTR_SENT = 2, ATTR_FIRST_RECEIVE = 4 };

static void sqs_error(conn *c, int keep_alive, const char *type, const char *legacy, const char *message) {
    char extra[256], body[512];
    snprintf(extra, sizeof extra, "x-amzn-query-error: %s;Sender\r\n", legacy);
    snprintf(body, sizeof body, "{\"__type\":\"com.amazonaws.sqs#%s\",\"message\":\"%s\"}", type, message);
    respond(c, keep_alive, 0, 400, "application/x-amz-json-1.0", extra, body, strlen(body), 0);
}

static void sqs_ok(conn *c, int keep_alive, const buf *b) {
    respond(c, keep_alive, 0, 200, "application/x-amz-json-1.0", NULL, b->data, b->len, 0);
}

static int jint(int obj, const char *key, long lo, long hi, long dflt, long *out) {
    int t = json_obj_get(&g.jd, obj, key);
    *out = dflt;
    if (t < 0) return 0;
    int64_t v;
    if (json_tok_int64(&g.jd, t, &v) != 0 || v < lo || v > hi) return -1;
    *out = (long)v;
    return 0;
}

/* Check the QueueUrl names our queue: its last path segment. 0 ok, -1 missing, -2 other queue. */
static int sqs_check_queue(int root) {
    int t = json_obj_get(&g.jd, root, "QueueUrl");
    if (t < 0 || g.jd.toks[t].type != JSON_STRING) return -1;
    char url[2048];
    long n = json_tok_decode(&g.jd, t, url, sizeof url);
    if (n <= 0) return -2;
    while (n > 0 && url[n - 1] == '/') n--;
    long s = n;
    while (s > 0 && url[s - 1] != '/') s--;
    return ((size_t)(n - s) == g.queue_len && memcmp(url + s, g.queue, g.queue_len) == 0) ? 0 : -2;
}

static unsigned sqs_attr_mask(int root) {
    static const char *const lists[] = {"AttributeNames", "MessageSystemAttributeNames"};
    unsigned mask = 0;
    for (int l = 0; l < 2; l++) {
        int arr = json_obj_get(&g.jd, root, lists[l]);
        if (arr < 0 || g.jd.toks[arr].type != JSON_ARRAY) continue;
        int el = arr + 1;
        for (int k = 0; k < g.jd.toks[arr].size; k++, el = json_next(&g.jd, el)) {
            if (json_tok_streq(&g.jd, el, "All")) mask |= ATTR_RECEIVE_COUNT | ATTR_SENT | ATTR_FIRST_RECEIVE;
            else if (json_tok_streq(&g.jd, el, "ApproximateReceiveCount")) mask |= ATTR_RECEIVE_COUNT;
            else if (json_tok_streq(&g.jd, el, "SentTimestamp")) mask |= ATTR_SENT;
            else if (json_tok_streq(&g.jd, el, "ApproximateFirstReceiveTimestamp")) mask |= ATTR_FIRST_RECEIVE;
        }
    }
    return mask;
}

/* Hand out up to p->max visible messages and answer the (possibly parked) receive. */
static void sqs_answer_receive(conn *c, const park_params *p) {
    queue_expire();
    buf *b = &g.out;
    buf_clear(b);
    int n = 0, rc = 0;
    long idx;
    while (n < p->max && (idx = vis_pop()) >= 0) {
        msg *m = &g.msgs[idx];
        m->receive_count++;
        if (m->first_recv_epoch_ms == 0) m->first_recv_epoch_ms = epoch_ms();
        msg_hide((uint32_t)idx, MSG_INFLIGHT, p->vis);
        g.st.msgs_delivered++;
        const body_tmpl *t = &g.tmpls[m->tmpl];
        char id[37], rh[64];
        fake_uuid((uint64_t)idx, 0x5a5a, id);
        receipt_handle((uint32_t)idx, m->receive_count, rh);
        rc |= buf_printf(b, "%s{\"MessageId\":\"%s\",\"ReceiptHandle\":\"%s\",\"MD5OfBody\":\"%s\",\"Body\":\"",
                         n ? "," : "{\"Messages\":[", id, rh, t->md5);
        rc |= buf_append(b, t->esc, t->esc_len);
        rc |= buf_append_str(b, "\"");
        if (p->attrs) {
            const char *sep = "";
            rc |= buf_append_str(b, ",\"Attributes\":{");
            if (p->attrs & ATTR_RECEIVE_COUNT) {
                rc |= buf_printf(b, "\"ApproximateReceiveCount\":\"%" PRIu32 "\"", m->receive_count);
                sep = ",";
            }
            if (p->attrs & ATTR_SENT) {
                rc |= buf_printf(b, "%s\"SentTimestamp\":\"%" PRIu64 "\"", sep, m->sent_epoch_ms);
                sep = ",";
            }
            if (p->attrs & ATTR_FIRST_RECEIVE)
                rc |= buf_printf(b, "%s\"ApproximateFirstReceiveTimestamp\":\"%" PRIu64 "\"", sep,
                                 m->first_recv_epoch_ms);
            rc |= buf_append_str(b, "}");
        }
        rc |= buf_append_str(b, "}");
        n++;
    }
    rc |= buf_append_str(b, n ? "]}" : "{}");
    timer_rearm_queue();
    if (rc) {
        respond_text(c, p->keep_alive, 500, "application/x-amz-json-1.0", "{\"__type\":\"InternalError\"}");
        return;
    }
    sqs_ok(c, p->keep_alive, b);
}

static void conn_unpark(conn *c) {
    waiter_remove(c);
    c->parked = 0;
    uv_timer_stop(&c->poll_timer);
}

static void on_poll_timeout(uv_timer_t *t) {
    conn *c = t->data;
    if (!c->parked || c->closing) return;
    park_params p = c->park;
    conn_unpark(c);
    sqs_answer_receive(c, &p);
    conn_process(c);
    conn_maybe_finish(c);
}

/* Answer parked long polls, oldest first, while messages are visible. */
static void sqs_serve_waiters(void) {
    g.wake_pending = 0;
    queue_expire();
    while (g.waiters_head && g.n_visible > 0) {
        conn *c = g.waiters_head;
        park_params p = c->park;
        conn_unpark(c);
        sqs_answer_receive(c, &p);
        conn_process(c); /* it may have pipelined more requests */
        conn_maybe_finish(c);
    }
    g.wake_pending = 0;
}

static void on_queue_timer(uv_timer_t *t) {
    (void)t;
    queue_expire();
    timer_rearm_queue();
    sqs_serve_waiters();
}

static void sqs_receive(conn *c, const req *r, int root) {
    g.st.sqs_receive++;
    long max, wait, vis;
    if (jint(root, "MaxNumberOfMessages", 1, 10, 1, &max) != 0 || jint(root, "WaitTimeSeconds", 0, 20, 0, &wait) != 0 ||
        jint(root, "VisibilityTimeout", 0, 43200, g.vis_default, &vis) != 0) {
        sqs_error(c, r->keep_alive, "InvalidParameterValue", "InvalidParameterValue",
                  "MaxNumberOfMessages 1..10, WaitTimeSeconds 0..20, VisibilityTimeout 0..43200");
        return;
    }
    park_params p = {(int)max, (int)vis, sqs_attr_mask(root), r->keep_alive};
    queue_expire();
    if (g.n_visible > 0 || wait == 0) {
        sqs_answer_receive(c, &p);
        return;
    }
    /* Long poll: park this connection (its later pipelined requests wait too) until a message
     * becomes visible or the wait ends. */
    c->park = p;
    c->parked = 1;
    c->wprev = g.waiters_tail;
    c->wnext = NULL;
    if (g.waiters_tail) g.waiters_tail->wnext = c;
    else g.waiters_head = c;
    g.waiters_tail = c;
    uv_timer_start(&c->poll_timer, on_poll_timeout, (uint64_t)wait * 1000, 0);
}

/* Validate a batch request's Entries; returns the array token or -1 after answering an error. */
static int sqs_batch_entries(conn *c, const req *r, int root) {
    int arr = json_obj_get(&g.jd, root, "Entries");
    int n = arr >= 0 && g.jd.toks[arr].type == JSON_ARRAY ? g.jd.toks[arr].size : 0;
    if (n == 0) {
        sqs_error(c, r->keep_alive, "EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest",
                  "There should be at least one entry in the request.");
        return -1;
    }
    if (n > SQS_BATCH_MAX) {
        sqs_error(c, r->keep_alive, "TooManyEntriesInBatchRequest",
                  "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
                  "Maximum number of entries per request are 10.");
        return -1;
    }
    int ids[SQS_BATCH_MAX];
    int el = arr + 1;
    for (int k = 0; k < n; k++, el = json_next(&g.jd, el)) {
        int id = g.jd.toks[el].type == JSON_OBJECT ? json_obj_get(&g.jd, el, "Id") : -1;
        size_t il = id >= 0 ? json_tok_len(&g.jd, id) : 0;
        const char *ip = id >= 0 ? json_tok_ptr(&g.jd, id) : NULL;
        int ok = id >= 0 && g.jd.toks[id].type == JSON_STRING && il > 0 && il <= 80;
        for (size_t i = 0; ok && i < il; i++) ok = isalnum((unsigned char)ip[i]) || ip[i] == '-' || ip[i] == '_';
        if (!ok) {
            sqs_error(c, r->keep_alive, "InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId",
                      "A batch entry id can only contain alphanumeric characters, hyphens and underscores.");
            return -1;
        }
        for (int j = 0; j < k; j++) {
            if (json_tok_len(&g.jd, ids[j]) == il && memcmp(json_tok_ptr(&g.jd, ids[j]), ip, il) == 0) {
                sqs_error(c, r->keep_alive, "BatchEntryIdsNotDistinct",
                          "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
                          "Two or more batch entries have the same Id.");
                return -1;
            }
        }
        ids[k] = id;
    }
    return arr;
}

enum { OP_DELETE, OP_CHANGE_VIS };

/* Apply one delete / change-visibility to a receipt handle; NULL on success or the error code. */
static const char *sqs_apply(int op, int entry, long vis) {
    int t = json_obj_get(&g.jd, entry, "ReceiptHandle");
    uint32_t idx, gen;
    if (t < 0 || receipt_parse(json_tok_ptr(&g.jd, t), json_tok_len(&g.jd, t), &idx, &gen) != 0)
        return "ReceiptHandleIsInvalid";
    msg *m = &g.msgs[idx];
    if (op == OP_DELETE) {
        if (m->state == MSG_DELETED) return NULL; /* deleting twice succeeds, as in SQS */
        if (gen != m->receive_count) {
            /* SQS: a handle from an older receive "succeeds, but the message will not be deleted". */
            g.st.stale_deletes++;
            return NULL;
        }
        msg_set_state(m, MSG_DELETED);
        g.st.msgs_deleted++;
        return NULL;
    }
    if (m->state != MSG_INFLIGHT || gen != m->receive_count) return "MessageNotInflight";
    if (vis == 0) {
        m->vis_seq++;
        msg_make_visible(idx);
    } else {
        msg_hide(idx, MSG_INFLIGHT, (int)vis);
    }
    return NULL;
}

static const char *sqs_error_text(const char *code) {
    if (strcmp(code, "ReceiptHandleIsInvalid") == 0) return "The receipt handle is not valid.";
    if (strcmp(code, "MessageNotInflight") == 0) return "The message is not in flight.";
    if (strcmp(code, "MissingParameter") == 0) return "A required parameter is missing.";
    return "A parameter is outside its allowed range.";
}

/* {"Successful":[{"Id":..<ok_extra>}],"Failed":[...]} from per-entry results. */
static void sqs_batch_reply(conn *c, const req *r, int arr, const char *const *errs, const long *sent_idx) {
    buf *b = &g.out;
    buf_clear(b);
    int rc = buf_append_str(b, "{\"Successful\":[");
    for (int pass = 0; pass < 2; pass++) {
        int n = 0, el = arr + 1;
        for (int k = 0; k < g.jd.toks[arr].size; k++, el = json_next(&g.jd, el)) {
            if ((pass == 0) != (errs[k] == NULL)) continue;
            int id = json_obj_get(&g.jd, el, "Id");
            rc |= buf_append_str(b, n++ ? ",{\"Id\":\"" : "{\"Id\":\"");
            rc |= buf_append(b, json_tok_ptr(&g.jd, id), json_tok_len(&g.jd, id));
            if (errs[k]) {
                rc |= buf_printf(b, "\",\"SenderFault\":true,\"Code\":\"%s\",\"Message\":\"%s\"}", errs[k],
                                 sqs_error_text(errs[k]));
            } else if (sent_idx) {
                char mid[37];
                fake_uuid((uint64_t)sent_idx[k], 0x5a5a, mid);
                rc |= buf_printf(b, "\",\"MessageId\":\"%s\",\"MD5OfMessageBody\":\"%s\"}", mid,
                                 g.tmpls[g.msgs[sent_idx[k]].tmpl].md5);
            } else {
                rc |= buf_append_str(b, "\"}");
            }
        }
        rc |= buf_append_str(b, pass == 0 ? "],\"Failed\":[" : "]}");
    }
    timer_rearm_queue();
    if (rc) {
        respond_text(c, r->keep_alive, 500, "application/x-amz-json-1.0", "{\"__type\":\"InternalError\"}");
        return;
    }
    sqs_ok(c, r->keep_alive, b);
}

static void sqs_batch_op(conn *c, const req *r, int root, int op) {
    int arr = sqs_batch_entries(c, r, root);
    if (arr < 0) return;
    const char *errs[SQS_BATCH_MAX];
    int el = arr + 1;
    for (int k = 0; k < g.jd.toks[arr].size; k++, el = json_next(&g.jd, el)) {
        long vis = 0;
        if (op == OP_CHANGE_VIS &&
            (json_obj_get(&g.jd, el, "VisibilityTimeout") < 0 || jint(el, "VisibilityTimeout", 0, 43200, 0, &vis) != 0))
            errs[k] = "InvalidParameterValue";
        else errs[k] = sqs_apply(op, el, vis);
    }
    sqs_batch_reply(c, r, arr, errs, NULL);
}

static void sqs_single_op(conn *c, const req *r, int root, int op) {
    long vis = 0;
    const char *err = NULL;
    if (json_obj_get(&g.jd, root, "ReceiptHandle") < 0) err = "MissingParameter";
    else if (op == OP_CHANGE_VIS && (json_obj_get(&g.jd, root, "VisibilityTimeout") < 0 ||
                                     jint(root, "VisibilityTimeout", 0, 43200, 0, &vis) != 0))
        err = "InvalidParameterValue";
    else err = sqs_apply(op, root, vis);
    timer_rearm_queue();
    if (err) {
        sqs_error(c, r->keep_alive, err, err, "The request could not be applied.");
        return;
    }
    respond_text(c, r->keep_alive, 200, "application/x-amz-json-1.0", "{}");
}

/* Enqueue the MessageBody of object token `obj`; NULL and *idx set on success, else an error code. */
static const char *sqs_enqueue(int obj, long *idx) {
    int t = json_obj_get(&g.jd, obj, "MessageBody");
    long delay;
    if (t < 0 || g.jd.toks[t].type != JSON_STRING) return "MissingParameter";
    if (jint(obj, "DelaySeconds", 0, 900, 0, &delay) != 0) return "InvalidParameterValue";
    long n = json_tok_decode(&g.jd, t, g.decode_tmp, SQS_BODY_MAX + 1);
    if (n <= 0) return "InvalidParameterValue"; /* empty, over 1 MiB or malformed */
    int tmpl = queue_add_template(g.decode_tmp, (size_t)n);
    *idx = tmpl < 0 ? -1 : queue_add_message((uint32_t)tmpl, (int)delay);
    if (*idx < 0) return "InternalError";
    g.st.msgs_sent++;
    return NULL;
}

static void sqs_send(conn *c, const req *r, int root, int batch) {
    g.st.sqs_send++;
    if (!batch) {
        long idx;
        const char *err = sqs_enqueue(root, &idx);
        if (err) {
            sqs_error(c, r->keep_alive, err, err, "MessageBody must be 1 byte..1 MiB; DelaySeconds 0..900.");
            return;
        }
        char mid[37], body[160];
        fake_uuid((uint64_t)idx, 0x5a5a, mid);
        snprintf(body, sizeof body, "{\"MessageId\":\"%s\",\"MD5OfMessageBody\":\"%s\"}", mid,
                 g.tmpls[g.msgs[idx].tmpl].md5);
        timer_rearm_queue();
        respond_text(c, r->keep_alive, 200, "application/x-amz-json-1.0", body);
        return;
    }
    int arr = sqs_batch_entries(c, r, root);
    if (arr < 0) return;
    const char *errs[SQS_BATCH_MAX];
    long idx[SQS_BATCH_MAX];
    int el = arr + 1;
    for (int k = 0; k < g.jd.toks[arr].size; k++, el = json_next(&g.jd, el)) {
        idx[k] = -1;
        errs[k] = sqs_enqueue(el, &idx[k]);
    }
    sqs_batch_reply(c, r, arr, errs, idx);
}

static void sqs_queue_url(conn *c, const req *r, int root) {
    g.st.sqs_other++;
    int t = json_obj_get(&g.jd, root, "QueueName");
    if (t < 0 || !mem_eq(json_tok_ptr(&g.jd, t), json_tok_len(&g.jd, t), g.queue)) {
        sqs_error(c, r->keep_alive, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue",
                  "The specified queue does not exist.");
        return;
    }
    buf *b = &g.out;
    buf_clear(b);
    buf_append_str(b, "{\"QueueUrl\":\"http://");
    if (r->host && r->host_len > 0 && r->host_len < 256) json_escape_append(b, r->host, r->host_len);
    else buf_printf(b, "127.0.0.1:%d", g.port);
    buf_printf(b, "/000000000000/%s\"}", g.queue);
    sqs_ok(c, r->keep_alive, b);
}

static void sqs_queue_attributes(conn *c, const req *r) {
    g.st.sqs_other++;
    buf *b = &g.out;
    buf_clear(b);
    queue_expire();
    buf_printf(b,
               "{\"Attributes\":{\"ApproximateNumberOfMessages\":\"%zu\",\"ApproximateNumberOfMessagesNotVisible\":"
               "\"%zu\",\"ApproximateNumberOfMessagesDelayed\":\"%zu\",\"VisibilityTimeout\":\"%d\","
               "\"QueueArn\":\"arn:aws:sqs:us-east-1:000000000000:%s\"}}",
               g.n_visible, g.n_inflight, g.n_delayed, g.vis_default, g.queue);
    timer_rearm_queue();
    sqs_ok(c, r->keep_alive, b);
}

static void handle_sqs(conn *c, const req *r) {
    const char *op = r->amz_target + 10; /* after "AmazonSQS." */
    size_t oplen = r->amz_target_len - 10;
    if (json_parse(&g.jd, r->body, r->body_len) != JSON_OK || g.jd.toks[0].type != JSON_OBJECT) {
        g.st.sqs_other++;
        sqs_error(c, r->keep_alive, "InvalidParameterValue", "InvalidParameterValue", "Body must be a JSON object.");
        return;
    }
    if (mem_eq(op, oplen, "GetQueueUrl") || mem_eq(op, oplen, "CreateQueue")) {
        sqs_queue_url(c, r, 0);
        return;
    }
    int q = sqs_check_queue(0);
    if (q != 0) {
        g.st.sqs_other++;
        if (q == -1) sqs_error(c, r->keep_alive, "MissingParameter", "MissingParameter", "QueueUrl is required.");
        else
            sqs_error(c, r->keep_alive, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue",
                      "The specified queue does not exist.");
        return;
    }
    if (mem_eq(op, oplen, "ReceiveMessage")) {
        sqs_receive(c, r, 0);
    } else if (mem_eq(op, oplen, "DeleteMessageBatch")) {
        g.st.sqs_delete++;
        sqs_batch_op(c, r, 0, OP_DELETE);
    } else if (mem_eq(op, oplen, "DeleteMessage")) {
        g.st.sqs_delete++;
        sqs_single_op(c, r, 0, OP_DELETE);
    } else if (mem_eq(op, oplen, "ChangeMessageVisibilityBatch")) {
        g.st.sqs_change_visibility++;
        sqs_batch_op(c, r, 0, OP_CHANGE_VIS);
    } else if (mem_eq(op, oplen, "ChangeMessageVisibility")) {
        g.st.sqs_change_visibility++;
        sqs_single_op(c, r, 0, OP_CHANGE_VIS);
    } else if (mem_eq(op, oplen, "SendMessage")) {
        sqs_send(c, r, 0, 0);
    } else if (mem_eq(op, oplen, "SendMessageBatch")) {
        sqs_send(c, r, 0, 1);
    } else if (mem_eq(op, oplen, "GetQueueAttributes")) {
        sqs_queue_attributes(c, r);
    } else {
        g.st.sqs_other++;
        sqs_error(c, r->keep_alive, "UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation",
                  "fakeaws does not implement this operation.");
    }
}

/* ---- handlers: document sinks ---------------------------------------------------------- */
static void cs_reply(conn *c, const req *r, int status, const char *why, long adds, long deletes) {
    char body[512];
    if (why) {
        g.st.rejected_batches++;
        snprintf(body, sizeof body,
                 "{\"status\":\"error\",\"adds\":0,\"deletes\":0,\"message\":\"%s\",\"errors\":[{\"message\":\"%s\"}]}",
                 why, why);
    } else {
        snprintf(body, sizeof body, "{\"status\":\"success\",\"adds\":%ld,\"deletes\":%ld}", adds, deletes);
    }
    respond_text(c, r->keep_alive, status, "application/json", body);
}

/* Count `"type" : "add"` / `"delete"` members. A quoted "type" followed by a colon can only be a
 * key (inside a string value its quotes would be escaped), so this is a cheap, honest count. */
static void cs_count(const char *p, size_t n, long *adds, long *deletes) {
    const char *e = p + n;
    *adds = *deletes = 0;
    while (p < e) {
        const char *t = memmem(p, (size_t)(e - p), "\"type\"", 6);
        if (!t) break;
        p = t + 6;
        while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
        if (p >= e || *p != ':') continue;
        p++;
        while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
        if ((size_t)(e - p) >= 5 && memcmp(p, "\"add\"", 5) == 0) (*adds)++;
        else if ((size_t)(e - p) >= 8 && memcmp(p, "\"delete\"", 8) == 0) (*deletes)++;
    }
}

static void handle_cloudsearch(conn *c, const req *r) {
    g.st.cloudsearch++;
    if (!mem_eq(r->method, r->method_len, "POST")) {
        cs_reply(c, r, 405, "documents/batch takes POST", 0, 0);
        return;
    }
    if (!r->has_cl) {
        cs_reply(c, r, 411, "Content-Length is required", 0, 0);
        return;
    }
    if (!r->ctype || r->ctype_len < 16 || strncasecmp(r->ctype, "application/json", 16) != 0) {
        cs_reply(c, r, 415, "Content-Type must be application/json", 0, 0);
        return;
    }
    if (r->body_len > CS_BATCH_MAX) {
        cs_reply(c, r, 413, "The Content-Length is too long", 0, 0);
        return;
    }
    const char *s = r->body, *e = r->body + r->body_len;
    while (s < e && isspace((unsigned char)*s)) s++;
    while (e > s && isspace((unsigned char)e[-1])) e--;
    long adds, deletes;
    cs_count(s, (size_t)(e - s), &adds, &deletes);
    if (e - s < 2 || *s != '[' || e[-1] != ']' || adds + deletes == 0) {
        cs_reply(c, r, 400, "Body must be a non-empty JSON array of add/delete operations", 0, 0);
        return;
    }
    g.st.batches++;
    g.st.docs_accepted += (uint64_t)adds;
    g.st.deletes_accepted += (uint64_t)deletes;
    g.st.bytes_uploaded += r->body_len;
    /* The array's brackets and the commas between its documents are not document bytes. */
    g.st.document_bytes += (uint64_t)(e - s) - 2 - (uint64_t)(adds + deletes - 1);
    g.last_upload_ms = loop_ms();
    cs_reply(c, r, 200, NULL, adds, deletes);
}

/* Raw JSON string value of "name" inside one short action line, or NULL. */
static const char *bulk_member(const char *line, size_t n, const char *name, size_t *vlen) {
    const char *e = line + n;
    const char *k = memmem(line, n, name, strlen(name));
    if (!k) return NULL;
    const char *p = k + strlen(name);
    while (p < e && (*p == ' ' || *p == ':')) p++;
    if (p >= e || *p != '"') return NULL;
    const char *v = ++p;
    while (p < e && *p != '"') p += (*p == '\\') ? 2 : 1;
    if (p >= e) return NULL;
    *vlen = (size_t)(p - v);
    return v;
}

static void handle_bulk(conn *c, const req *r, const char *index, size_t index_len) {
    g.st.bulk++;
    buf *b = &g.out;
    buf_clear(b);
    const char *p = r->body, *e = r->body + r->body_len;
    if (r->body_len == 0 || e[-1] != '\n') {
        respond_text(c, r->keep_alive, 400, "application/json",
                     "{\"error\":{\"type\":\"illegal_argument_exception\",\"reason\":\"The bulk request must be "
                     "terminated by a newline [\\\\n]\"},\"status\":400}");
        return;
    }
    int rc = buf_append_str(b, "{\"took\":1,\"errors\":false,\"items\":[");
    long items = 0, deletes = 0, line_no = 0;
    uint64_t source_bytes = 0; /* the documents: source lines without their newline */
    int expect_source = 0;
    while (p < e) {
        const char *nl = memchr(p, '\n', (size_t)(e - p));
        const char *le = nl ? nl : e;
        const char *s = p;
        p = nl ? nl + 1 : e;
        line_no++;
        while (s < le && isspace((unsigned char)*s)) s++;
        if (s == le) continue;
        if (expect_source) {
            expect_source = 0;
            source_bytes += (uint64_t)(le - s);
            continue;
        }
        /* Action line: {"index"|"create"|"update"|"delete": {...}} */
        const char *q = s + 1;
        while (q < le && isspace((unsigned char)*q)) q++;
        const char *op = q < le && *q == '"' ? q + 1 : NULL;
        const char *ope = op ? memchr(op, '"', (size_t)(le - op)) : NULL;
        size_t oplen = ope ? (size_t)(ope - op) : 0;
        int is_delete = mem_eq(op, oplen, "delete");
        if (*s != '{' || !ope ||
            !(is_delete || mem_eq(op, oplen, "index") || mem_eq(op, oplen, "create") || mem_eq(op, oplen, "update"))) {
            char err[256];
            snprintf(err, sizeof err,
                     "{\"error\":{\"type\":\"illegal_argument_exception\",\"reason\":\"Malformed action/metadata "
                     "line [%ld]\"},\"status\":400}",
                     line_no);
            respond_text(c, r->keep_alive, 400, "application/json", err);
            return;
        }
        size_t il = 0, dl = 0;
        const char *iv = bulk_member(ope, (size_t)(le - ope), "\"_index\"", &il);
        const char *dv = bulk_member(ope, (size_t)(le - ope), "\"_id\"", &dl);
        if (!iv) {
            iv = index;
            il = index_len;
        }
        rc |= buf_append_str(b, items ? ",{\"" : "{\"");
        rc |= buf_append(b, op, oplen);
        rc |= buf_append_str(b, "\":{\"_index\":\"");
        rc |= buf_append(b, iv ? iv : "", iv ? il : 0);
        rc |= buf_append_str(b, "\",\"_id\":\"");
        if (dv) rc |= buf_append(b, dv, dl);
        else rc |= buf_printf(b, "fake%" PRIu64 "-%ld", g.st.bulk, items);
        if (is_delete) rc |= buf_append_str(b, "\",\"_version\":1,\"result\":\"deleted\",\"status\":200}}");
        else if (op[0] == 'u') rc |= buf_append_str(b, "\",\"_version\":2,\"result\":\"updated\",\"status\":200}}");
        else rc |= buf_append_str(b, "\",\"_version\":1,\"result\":\"created\",\"status\":201}}");
        items++;
        deletes += is_delete;
        expect_source = !is_delete;
    }
    rc |= buf_append_str(b, "]}");
    if (expect_source || items == 0) {
        respond_text(c, r->keep_alive, 400, "application/json",
                     "{\"error\":{\"type\":\"action_request_validation_exception\",\"reason\":\"Validation Failed: "
                     "1: no requests added or source missing;\"},\"status\":400}");
        return;
    }
    if (rc) {
        respond_text(c, r->keep_alive, 500, "application/json", "{\"error\":\"response too large\",\"status\":500}");
        return;
    }
    g.st.batches++;
    g.st.docs_accepted += (uint64_t)(items - deletes);
    g.st.deletes_accepted += (uint64_t)deletes;
    g.st.bytes_uploaded += r->body_len;
    g.st.document_bytes += source_bytes;
    g.last_upload_ms = loop_ms();
    respond(c, r->keep_alive, 0, 200, "application/json", NULL, b->data, b->len, 0);
}

/* ---- routing --------------------------------------------------------------------------- */
static void dispatch(conn *c, req *r) {
    int post = mem_eq(r->method, r->method_len, "POST");
    if (post && r->amz_target && r->amz_target_len > 10 && memcmp(r->amz_target, "AmazonSQS.", 10) == 0) {
        handle_sqs(c, r);
        return;
    }
    if (r->path_len >= 25 && memcmp(r->path + r->path_len - 16, "/documents/batch", 16) == 0) {
        handle_cloudsearch(c, r);
        return;
    }
    if (r->path_len >= 6 && memcmp(r->path + r->path_len - 6, "/_bulk", 6) == 0 &&
        (post || mem_eq(r->method, r->method_len, "PUT"))) {
        /* "/_bulk" or "/INDEX/_bulk" */
        size_t il = r->path_len > 6 ? r->path_len - 7 : 0;
        handle_bulk(c, r, r->path + 1, il);
        return;
    }
    if (mem_eq(r->path, r->path_len, "/_fake/stats")) {
        g.st.stats++;
        if (stats_json(&g.out) != 0) {
            respond_text(c, r->keep_alive, 500, "application/json", "{}");
            return;
        }
        respond(c, r->keep_alive, r->head, 200, "application/json", NULL, g.out.data, g.out.len, 0);
        return;
    }
    if (mem_eq(r->method, r->method_len, "GET") || r->head) {
        handle_s3(c, r);
        return;
    }
    g.st.other++;
    respond_text(c, r->keep_alive, 404, "application/json", "{\"message\":\"no such fake endpoint\"}");
}

/* ---- main ------------------------------------------------------------------------------ */
static void print_stats_and_stop(void) {
    if (stats_json(&g.out) == 0) {
        fwrite(g.out.data, 1, g.out.len, stdout);
        fputc('\n', stdout);
    }
    fflush(stdout);
    uv_stop(g.loop);
}

static void on_signal(uv_signal_t *s, int signum) {
    (void)s;
    log_info("fakeaws: signal %d, exiting", signum);
    print_stats_and_stop();
}

static void on_drain_check(uv_timer_t *t) {
    (void)t;
    if (g.n_deleted == g.nmsgs && loop_ms() - g.last_upload_ms >= 1000) print_stats_and_stop();
}

static void close_any(uv_handle_t *h, void *arg) {
    (void)arg;
    if (uv_is_closing(h)) return;
    if (h->type == UV_TCP && h != (uv_handle_t *)&g.server) {
        conn_close(h->data);
        return;
    }
    if (h->type == UV_TIMER && h->data && h != (uv_handle_t *)&g.queue_timer && h != (uv_handle_t *)&g.drain_timer)
        return; /* a connection's poll timer: conn_close handles it */
    uv_close(h, NULL);
}

static void usage(void) {
    fprintf(stderr, "usage: fakeaws --port P --dir DIR [--host ADDR] [--bucket NAME] [--queue NAME] [--repeat N]\n"
                    "               [--notify sns|s3|raw] [--batch-objects K] [--visibility-timeout S]\n"
                    "               [--ready-file F] [--exit-when-drained]\n");
}

static int write_ready_file(const char *path, int port) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0) return -1;
    return rename(tmp, path);
}

int main(int argc, char **argv) {
    const char *dir = NULL, *ready = NULL, *notify = "sns";
    long port = -1, repeat = 1, per_msg = 1;
    g.host = "127.0.0.1";
    g.bucket = "fakeaws-bucket";
    g.queue = "fakeaws-queue";
    g.vis_default = 30;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (strcmp(a, "--exit-when-drained") == 0) {
            g.exit_when_drained = 1;
            takes = 0;
        } else if (!v) {
            usage();
            return 2;
        } else if (strcmp(a, "--port") == 0) {
            port = strtol(v, NULL, 10);
        } else if (strcmp(a, "--dir") == 0) {
            dir = v;
        } else if (strcmp(a, "--host") == 0) {
            g.host = v;
        } else if (strcmp(a, "--bucket") == 0) {
            g.bucket = v;
        } else if (strcmp(a, "--queue") == 0) {
            g.queue = v;
        } else if (strcmp(a, "--repeat") == 0) {
            repeat = strtol(v, NULL, 10);
        } else if (strcmp(a, "--notify") == 0) {
            notify = v;
        } else if (strcmp(a, "--batch-objects") == 0) {
            per_msg = strtol(v, NULL, 10);
        } else if (strcmp(a, "--visibility-timeout") == 0) {
            g.vis_default = (int)strtol(v, NULL, 10);
        } else if (strcmp(a, "--ready-file") == 0) {
            ready = v;
        } else {
            usage();
            return 2;
        }
        i += takes;
    }
    int kind = strcmp(notify, "sns") == 0   ? NOTIFY_SNS
               : strcmp(notify, "s3") == 0  ? NOTIFY_S3
               : strcmp(notify, "raw") == 0 ? NOTIFY_RAW
                                            : -1;
    g.bucket_len = strlen(g.bucket);
    g.queue_len = strlen(g.queue);
    if (!dir || port < 0 || port > 65535 || repeat < 0 || repeat > 100000 || per_msg < 1 || per_msg > 1000 ||
        kind < 0 || g.bucket_len == 0 || g.bucket_len > 63 || g.queue_len == 0 || g.queue_len > 80 ||
        g.vis_default < 0 || g.vis_default > 43200) {
        usage();
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    g.loop = uv_default_loop();
    uv_update_time(g.loop);
    {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        g.epoch_offset_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 - uv_now(g.loop);
    }
    buf_init(&g.out, 128u * 1024 * 1024);
    buf_init(&g.out2, 16u * 1024 * 1024);
    g.decode_tmp = malloc(SQS_BODY_MAX + 1);
    if (!g.decode_tmp || json_doc_init(&g.jd, JSON_TOKENS) != 0) return 1;

    if (load_dir(dir, "", 0) != 0) return 1;
    qsort(g.objs, g.nobjs, sizeof(object), object_cmp);
    uint64_t total = 0;
    for (size_t i = 0; i < g.nobjs; i++) total += g.objs[i].len;
    if (preload_queue(kind, (size_t)per_msg, repeat) != 0) return 1;
    log_info("fakeaws: %zu objects (%" PRIu64 " bytes), %zu messages queued", g.nobjs, total, g.nmsgs);

    struct sockaddr_in addr;
    int rc = uv_ip4_addr(g.host, (int)port, &addr);
    if (rc == 0) rc = uv_tcp_init(g.loop, &g.server);
    if (rc == 0) rc = uv_tcp_bind(&g.server, (const struct sockaddr *)&addr, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&g.server, 1024, on_connection);
    if (rc != 0) {
        log_error("fakeaws: cannot listen on %s:%ld: %s", g.host, port, uv_strerror(rc));
        return 1;
    }
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    uv_tcp_getsockname(&g.server, (struct sockaddr *)&bound, &blen);
    g.port = ntohs(((struct sockaddr_in *)&bound)->sin_port);

    uv_timer_init(g.loop, &g.queue_timer);
    uv_timer_init(g.loop, &g.drain_timer);
    uv_signal_init(g.loop, &g.sigterm);
    uv_signal_init(g.loop, &g.sigint);
    uv_signal_start(&g.sigterm, on_signal, SIGTERM);
    uv_signal_start(&g.sigint, on_signal, SIGINT);
    g.last_upload_ms = loop_ms();
    if (g.exit_when_drained) uv_timer_start(&g.drain_timer, on_drain_check, 100, 100);

    if (ready && write_ready_file(ready, g.port) != 0) {
        log_error("fakeaws: cannot write %s: %s", ready, strerror(errno));
        return 1;
    }
    printf("LISTENING %d\n", g.port);
    fflush(stdout);

    uv_run(g.loop, UV_RUN_DEFAULT);

    /* Orderly shutdown so sanitizers see no leaks. */
    uv_walk(g.loop, close_any, NULL);
    uv_run(g.loop, UV_RUN_DEFAULT);
    uv_loop_close(g.loop);
    for (size_t i = 0; i < g.nobjs; i++) {
        free(g.objs[i].key);
        free(g.objs[i].data);
    }
    for (size_t i = 0; i < g.ntmpls; i++) free(g.tmpls[i].esc);
    free(g.objs);
    free(g.tmpls);
    free(g.msgs);
    free(g.vis_ring);
    free(g.heap);
    free(g.decode_tmp);
    json_doc_free(&g.jd);
    buf_free(&g.out);
    buf_free(&g.out2);
    return 0;
}
