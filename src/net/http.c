/* libcurl multi driven by libuv: the multi-socket pattern of curl's docs/examples/multi-uv.c,
 * with four fixes to it: error readiness, info_read after every action, no curl calls from the
 * timer callback, and deferred pause/cancel. */
#include "net/http.h"

#include <curl/curl.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/hugepool.h"
#include "base/log.h"

enum {
    REQ_POOL_MAX = 64,          /* idle request objects (with their easy handle) kept */
    SOCK_POOL_MAX = 64,         /* idle poll contexts kept */
    BODY_KEEP_CAP = 256 * 1024, /* a pooled request keeps body capacity up to this */
    BIG_BODY = 1024 * 1024,     /* uploads above this send in BIG_SEND pieces */
    BIG_SEND = 2 * 1024 * 1024, /* libcurl's largest; its buffers come from upload_blocks */
    SMALL_SEND = 64 * 1024,     /* libcurl's default upload buffer */
    STREAM_RECV = 256 * 1024,   /* receive buffer of streamed downloads (on_data) */
    SMALL_RECV = 16 * 1024      /* libcurl's default receive buffer */
};

typedef struct sock_ctx {
    uv_poll_t poll;
    http_client *c;
    curl_socket_t fd;
    struct sock_ctx *prev, *next; /* c->socks while open; c->sock_pool (next) when closed */
} sock_ctx;

struct http_req {
    http_client *c;
    CURL *easy;
    struct curl_slist *hdrs;
    http_response resp;
    int (*on_data)(void *ud, const char *p, size_t n);
    void (*on_done)(void *ud, http_response *r);
    void *ud;
    size_t max_body;
    http_result fail;    /* set by our callbacks or http_cancel; wins over the curl code */
    unsigned paused : 1; /* the write callback returned CURL_WRITEFUNC_PAUSE */
    unsigned resume_pending : 1;
    unsigned cancel_pending : 1;
    unsigned add_pending : 1; /* started from inside a curl callback: added by the dispatcher */
    http_req *prev, *next;    /* c->active, or c->pool (next only) */
};

struct http_client {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t curl_timer; /* CURLMOPT_TIMERFUNCTION's timer */
    uv_timer_t kick;       /* runs deferred work (pause/cancel/close) from the loop */
    int open_handles;      /* uv handles not yet closed; the struct is freed at 0 after close */
    http_client_options opt;
    char *ca_bundle;
    http_req *active;
    http_req *pool;
    int pool_len;
    sock_ctx *socks;
    sock_ctx *sock_pool;
    int sock_pool_len;
    int depth;       /* > 0 while inside a libcurl call that may run our callbacks */
    int dispatching; /* inside client_dispatch (on_done may run) */
    int closing;
    int close_requested;
    http_stats stats;
};

static uv_once_t curl_once = UV_ONCE_INIT;
static int curl_init_rc;

/* libcurl frees a transfer's upload buffer when the transfer ends (multi_done) and allocates it
 * again for the next one (SMALL_SEND bytes; BIG_SEND for a batch, from curl_pools below), and
 * a paused download's rest of its 256 KB read goes to a block freed on resume. glibc's dynamic thresholds (mmap above
 * the largest block freed so far, trim the heap's top above twice that) put these blocks at the top of the heap and
 * gave their pages back to the kernel whenever two were freed together, so the next ones were
 * touched afresh, a page fault per 4 KB (7-13 us on the bench's virtual machine): 1-4k of the
 * engine's 4-8k faults per bench run, and about 240 per upload with 1 MB buffers in test_http.
 * Fixed thresholds keep blocks below 512 KB in the heap and up to 8 MB of its free top resident,
 * so the next upload reuses the same pages; larger blocks still get mappings of their own (a
 * calloc'd one then needs no clearing). Process-wide, set once before libcurl allocates anything;
 * a no-op outside glibc and under ASan, whose allocator ignores it. */
enum {
    HEAP_MMAP_MIN = 512 * 1024,     /* glibc: blocks from this size get a mapping of their own */
    HEAP_TRIM_MIN = 8 * 1024 * 1024 /* glibc: the heap's free top goes back to the kernel above this */
};

static void heap_keep_upload_buffers(void) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, HEAP_MMAP_MIN);
    mallopt(M_TRIM_THRESHOLD, HEAP_TRIM_MIN);
#endif
}

/* libcurl's big blocks come from huge pages kept for the process's life (base/hugepool), not
 * from glibc, where they kept reaching fresh pages, a fault per 4 KB (7-13 us on the bench's VM):
 * - upload buffers (BIG_SEND bytes, allocated for every upload and freed when it ends): from
 *   glibc a 2 MB block is a mapping of its own, faulted in afresh (512 faults) for every upload.
 *   Big sends pay in the kernel: a 5 MB batch sent over loopback in 256 KB pieces cost 1.97 ms
 *   of the client's CPU, in 1 MB pieces 1.67 ms, in 2 MB pieces 1.47 ms (medians of 5 runs of
 *   128 uploads against fakeaws); each send ends in a short segment and wakes the reader.
 * - download buffers (STREAM_RECV + 1 bytes, allocated again whenever a pooled handle switches
 *   between a stream and a small request) and the data a paused download holds (realloc'd up
 *   to what one read brought, hundreds of times a run): about 800 of a bench run's 2,900 faults
 *   were recv and libcurl's copies writing such blocks from the heap.
 * Every other allocation goes to malloc as before. */
enum {
    UPLOAD_BLOCKS = 8,                   /* uploads in flight beyond this use malloc */
    RECV_BLOCK = STREAM_RECV + 8 * 1024, /* a download buffer (STREAM_RECV + 1) or a paused read */
    RECV_BLOCKS = 22,                    /* 8 downloads' buffers and paused data, and room: 3 huge pages */
    RECV_BLOCK_MIN = SMALL_SEND + 1      /* smaller blocks stay in the heap */
};
static hugepool curl_pools[2]; /* upload buffers, then download-sized blocks */

/* The pool for a block of n bytes, or NULL. */
static hugepool *curl_pool_for(size_t n) {
    if (n > BIG_BODY && n <= BIG_SEND) return &curl_pools[0];
    if (n >= RECV_BLOCK_MIN && n <= RECV_BLOCK) return &curl_pools[1];
    return NULL;
}

static hugepool *curl_pool_owning(const void *p) {
    for (size_t i = 0; i < sizeof curl_pools / sizeof curl_pools[0]; i++)
        if (hugepool_owns(&curl_pools[i], p)) return &curl_pools[i];
    return NULL;
}

static void *curl_mem_malloc(size_t n) {
    hugepool *pool = curl_pool_for(n);
    void *p = pool ? hugepool_get(pool, n) : NULL;
    return p ? p : malloc(n);
}

static void curl_mem_free(void *p) {
    hugepool *pool = curl_pool_owning(p);
    if (pool) hugepool_put(pool, p);
    else free(p);
}

/* A heap block stays in the heap (its old size is unknown here); a pool block keeps its place
 * while n fits it, else moves to a block of the right size. */
static void *curl_mem_realloc(void *p, size_t n) {
    if (!p) return curl_mem_malloc(n);
    hugepool *pool = curl_pool_owning(p);
    if (!pool) return realloc(p, n);
    if (n <= pool->block) return p;
    void *q = curl_mem_malloc(n);
    if (!q) return NULL; /* p stays valid, as realloc leaves it */
    memcpy(q, p, pool->block);
    hugepool_put(pool, p);
    return q;
}

static void *curl_mem_calloc(size_t nmemb, size_t size) {
    if (size && nmemb > SIZE_MAX / size) return NULL;
    hugepool *pool = curl_pool_for(nmemb * size);
    void *p = pool ? hugepool_get(pool, nmemb * size) : NULL;
    if (p) return memset(p, 0, nmemb * size); /* a block comes back as its last user left it */
    return calloc(nmemb, size);
}

static char *curl_mem_strdup(const char *s) { return strdup(s); }

static void curl_global_once(void) {
    heap_keep_upload_buffers();
    if (hugepool_init(&curl_pools[0], BIG_SEND, UPLOAD_BLOCKS) != 0 ||
        hugepool_init(&curl_pools[1], RECV_BLOCK, RECV_BLOCKS) != 0)
        log_warn("http: no huge-page pools for libcurl's buffers; they come from malloc");
    curl_init_rc = (int)curl_global_init_mem(CURL_GLOBAL_DEFAULT, curl_mem_malloc, curl_mem_free, curl_mem_realloc,
                                             curl_mem_strdup, curl_mem_calloc);
}

/* ---------- responses ---------- */

const char *http_response_header(const http_response *r, const char *name) {
    if (!r || !name || !r->headers.data) return NULL;
    size_t nlen = strlen(name);
    const char *p = r->headers.data, *end = r->headers.data + r->headers.len;
    while (p < end) {
        size_t elen = strlen(p); /* entries are NUL-terminated inside the buffer */
        const char *colon = memchr(p, ':', elen);
        if (colon && (size_t)(colon - p) == nlen && strncasecmp(p, name, nlen) == 0) {
            const char *v = colon + 1;
            while (*v == ' ' || *v == '\t') v++;
            return v;
        }
        p += elen + 1;
    }
    return NULL;
}

const char *http_result_name(http_result r) {
    switch (r) {
    case HTTP_OK: return "ok";
    case HTTP_ERR_CONNECT: return "connect";
    case HTTP_ERR_TIMEOUT: return "timeout";
    case HTTP_ERR_CONNECTION: return "connection";
    case HTTP_ERR_TLS: return "tls";
    case HTTP_ERR_BODY_TOO_LARGE: return "body-too-large";
    case HTTP_ERR_HEADERS_TOO_LARGE: return "headers-too-large";
    case HTTP_ERR_ABORTED: return "aborted";
    case HTTP_ERR_CANCELLED: return "cancelled";
    case HTTP_ERR_CLOSED: return "closed";
    case HTTP_ERR_OTHER: return "other";
    }
    return "?";
}

static http_result result_from_curl(CURLcode code) {
    switch (code) {
    case CURLE_OK: return HTTP_OK;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR: return HTTP_ERR_CONNECT;
    case CURLE_OPERATION_TIMEDOUT: return HTTP_ERR_TIMEOUT;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM: return HTTP_ERR_CONNECTION;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS: return HTTP_ERR_TLS;
    case CURLE_WRITE_ERROR:
    case CURLE_ABORTED_BY_CALLBACK: return HTTP_ERR_ABORTED;
    default: return HTTP_ERR_OTHER;
    }
}

/* ---------- handles and deferred work ---------- */

static void client_dispatch(http_client *c);
static void client_do_close(http_client *c);

static void client_handle_closed(http_client *c) {
    if (--c->open_handles > 0 || !c->closing) return;
    while (c->sock_pool) {
        sock_ctx *s = c->sock_pool;
        c->sock_pool = s->next;
        free(s);
    }
    free(c->ca_bundle);
    free(c);
}

static void on_timer_closed(uv_handle_t *h) { client_handle_closed(h->data); }

static void on_kick(uv_timer_t *t) { client_dispatch(t->data); }

/* Deferred work runs from the loop, outside every libcurl call. */
static void client_kick(http_client *c) {
    if (!c->closing) uv_timer_start(&c->kick, on_kick, 0, 0);
}

/* ---------- sockets ---------- */

static void on_poll_closed(uv_handle_t *h) {
    sock_ctx *s = h->data;
    http_client *c = s->c;
    if (c->sock_pool_len < SOCK_POOL_MAX && !c->closing) {
        s->next = c->sock_pool;
        c->sock_pool = s;
        c->sock_pool_len++;
    } else {
        free(s);
    }
    client_handle_closed(c);
}

static void sock_release(http_client *c, sock_ctx *s) {
    if (s->prev) s->prev->next = s->next;
    else c->socks = s->next;
    if (s->next) s->next->prev = s->prev;
    s->prev = s->next = NULL;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_poll_closed);
}

static void client_action(http_client *c, curl_socket_t fd, int flags) {
    int running = 0;
    c->depth++;
    CURLMcode mc = curl_multi_socket_action(c->multi, fd, flags, &running);
    c->depth--;
    if (mc != CURLM_OK) log_warn("http: curl_multi_socket_action: %s", curl_multi_strerror(mc));
}

static void on_poll(uv_poll_t *p, int status, int events) {
    sock_ctx *s = p->data;
    http_client *c = s->c;
    int flags = 0;
    if (status < 0) {
        flags = CURL_CSELECT_ERR; /* let curl find out what broke, it will fail the transfer */
    } else {
        if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    }
    client_action(c, s->fd, flags); /* may release s (closed later, memory stays valid) */
    client_dispatch(c);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
    (void)easy;
    http_client *c = userp;
    sock_ctx *s = socketp;
    if (c->closing) return 0; /* client_do_close closed every poll already */
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            curl_multi_assign(c->multi, fd, NULL);
            sock_release(c, s);
        }
        return 0;
    }
    if (!s) {
        if (c->sock_pool) {
            s = c->sock_pool;
            c->sock_pool = s->next;
            c->sock_pool_len--;
        } else if (!(s = malloc(sizeof *s))) {
            log_error("http: out of memory for a socket");
            return -1;
        }
        memset(s, 0, sizeof *s);
        s->c = c;
        s->fd = fd;
        int rc = uv_poll_init_socket(c->loop, &s->poll, fd);
        if (rc != 0) {
            log_error("http: uv_poll_init_socket(%d): %s", (int)fd, uv_strerror(rc));
            free(s);
            return -1;
        }
        s->poll.data = s;
        c->open_handles++;
        s->next = c->socks;
        if (c->socks) c->socks->prev = s;
        c->socks = s;
        curl_multi_assign(c->multi, fd, s);
    }
    int events = 0;
    if (what & CURL_POLL_IN) events |= UV_READABLE;
    if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
    int rc = uv_poll_start(&s->poll, events, on_poll);
    if (rc != 0) log_error("http: uv_poll_start(%d): %s", (int)fd, uv_strerror(rc));
    return 0;
}

/* ---------- timer ---------- */

static void on_curl_timer_fired(uv_timer_t *t) {
    http_client *c = t->data;
    client_action(c, CURL_SOCKET_TIMEOUT, 0);
    client_dispatch(c);
}

/* CURLMOPT_TIMERFUNCTION: only (re)arm the uv timer; never call curl from here. A 0 ms
 * timeout fires on the next loop iteration. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp) {
    (void)multi;
    http_client *c = userp;
    if (c->closing) return 0;
    if (timeout_ms < 0) uv_timer_stop(&c->curl_timer);
    else uv_timer_start(&c->curl_timer, on_curl_timer_fired, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ---------- transfer callbacks ---------- */

static int status_is_2xx(const http_req *r) { return r->resp.status >= 200 && r->resp.status < 300; }

static size_t on_write(char *p, size_t size, size_t nmemb, void *userdata) {
    http_req *r = userdata;
    size_t n = size * nmemb;
    if (r->cancel_pending || r->fail) return 0; /* makes curl stop the transfer */
    if (r->on_data && status_is_2xx(r)) {
        int rc = r->on_data(r->ud, p, n);
        if (rc == HTTP_PAUSE) {
            r->paused = 1;
            return CURL_WRITEFUNC_PAUSE;
        }
        if (rc != 0) {
            r->fail = HTTP_ERR_ABORTED;
            return 0;
        }
        return n;
    }
    /* The +1 in body.max leaves room for the terminating NUL. */
    if (n > r->max_body - r->resp.body.len || buf_append(&r->resp.body, p, n) != 0) {
        r->fail = HTTP_ERR_BODY_TOO_LARGE;
        return 0;
    }
    return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *userdata) {
    http_req *r = userdata;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        /* A new response starts (1xx before the final one): keep only the last. */
        buf_clear(&r->resp.headers);
        const char *sp = memchr(p, ' ', n);
        int status = 0;
        if (sp) {
            const char *d = sp + 1, *end = p + n;
            for (int i = 0; i < 3 && d < end && *d >= '0' && *d <= '9'; i++, d++) status = status * 10 + (*d - '0');
        }
        r->resp.status = status;
        return n;
    }
    size_t len = n;
    while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n' || p[len - 1] == ' ' || p[len - 1] == '\t')) len--;
    if (len == 0 || !memchr(p, ':', len)) return n; /* end of headers or a line we do not keep */
    if (memchr(p, '\0', len)) return n;             /* would break the entry format */
    if (buf_append(&r->resp.headers, p, len) != 0 || buf_append(&r->resp.headers, "", 1) != 0) {
        r->fail = HTTP_ERR_HEADERS_TOO_LARGE;
        return 0;
    }
    return n;
}

/* ---------- request objects ---------- */

static void req_free(http_req *r) {
    if (r->easy) curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->hdrs);
    buf_free(&r->resp.body);
    buf_free(&r->resp.headers);
    free(r);
}

static http_req *req_get(http_client *c) {
    http_req *r = c->pool;
    if (r) {
        c->pool = r->next;
        c->pool_len--;
        curl_easy_reset(r->easy); /* keeps the handle's DNS/TLS session caches */
    } else {
        r = calloc(1, sizeof *r);
        if (!r) return NULL;
        buf_init(&r->resp.body, 0);
        buf_init(&r->resp.headers, HTTP_MAX_HEADER_BYTES);
        r->easy = curl_easy_init();
        if (!r->easy) {
            free(r);
            return NULL;
        }
    }
    r->c = c;
    r->prev = r->next = NULL;
    return r;
}

static void req_put(http_client *c, http_req *r) {
    curl_slist_free_all(r->hdrs);
    r->hdrs = NULL;
    if (r->resp.body.cap > BODY_KEEP_CAP) buf_free(&r->resp.body);
    buf_clear(&r->resp.body);
    buf_clear(&r->resp.headers);
    r->on_data = NULL;
    r->on_done = NULL;
    r->ud = NULL;
    r->fail = HTTP_OK;
    r->paused = r->resume_pending = r->cancel_pending = r->add_pending = 0;
    if (c->closing || c->pool_len >= REQ_POOL_MAX) {
        req_free(r);
        return;
    }
    r->next = c->pool;
    c->pool = r;
    c->pool_len++;
}

static void active_unlink(http_client *c, http_req *r) {
    /* The head has no prev. (Said this way, scan-build can follow it: it forgets r->prev == NULL.) */
    if (c->active == r) c->active = r->next;
    else r->prev->next = r->next;
    if (r->next) r->next->prev = r->prev;
    r->prev = r->next = NULL;
}

/* The transfer is out of the multi: fill in the response, report it once, recycle. */
static void req_finish(http_client *c, http_req *r, CURLcode code) {
    http_response *resp = &r->resp;
    long status = 0, connects = 0;
    curl_off_t up = 0, down = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &connects);
    curl_easy_getinfo(r->easy, CURLINFO_SIZE_UPLOAD_T, &up);
    curl_easy_getinfo(r->easy, CURLINFO_SIZE_DOWNLOAD_T, &down);
    if (status > 0) resp->status = (int)status;
    resp->curl_code = (int)code;
    resp->result = r->fail != HTTP_OK ? r->fail : result_from_curl(code);
    resp->new_connection = connects > 0;
    resp->bytes_up = up > 0 ? (uint64_t)up : 0;
    resp->bytes_down = down > 0 ? (uint64_t)down : 0;
    if (resp->result == HTTP_OK) {
        resp->error[0] = '\0';
    } else if (r->fail != HTTP_OK || resp->error[0] == '\0') {
        const char *why = r->fail == HTTP_ERR_BODY_TOO_LARGE      ? "response body larger than max_body"
                          : r->fail == HTTP_ERR_HEADERS_TOO_LARGE ? "response headers too large"
                          : r->fail == HTTP_ERR_ABORTED           ? "aborted by the data sink"
                          : r->fail == HTTP_ERR_CANCELLED         ? "cancelled"
                          : r->fail == HTTP_ERR_CLOSED            ? "client closed"
                                                                  : curl_easy_strerror(code);
        snprintf(resp->error, sizeof resp->error, "%s", why);
    }
    if (resp->body.data) buf_terminate(&resp->body); /* the +1 in body.max guarantees room */
    c->stats.connections += (uint64_t)(connects > 0 ? connects : 0);
    c->stats.bytes_up += resp->bytes_up;
    c->stats.bytes_down += resp->bytes_down;
    if (resp->result == HTTP_OK) c->stats.ok++;
    else c->stats.failed++;
    active_unlink(c, r);
    r->on_done(r->ud, resp);
    req_put(c, r);
}

/* ---------- the dispatch loop ---------- */

static int drain_one_message(http_client *c) {
    int left = 0;
    CURLMsg *m;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        CURL *easy = m->easy_handle;
        CURLcode code = m->data.result; /* m dies with remove_handle */
        http_req *r = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
        curl_multi_remove_handle(c->multi, easy);
        if (r) req_finish(c, r, code);
        return 1;
    }
    return 0;
}

/* One pending pause/cancel, if any. Lists are short (concurrent transfers). */
static int run_one_pending(http_client *c) {
    for (http_req *r = c->active; r; r = r->next) {
        if (r->cancel_pending) {
            curl_multi_remove_handle(c->multi, r->easy);
            req_finish(c, r, CURLE_ABORTED_BY_CALLBACK);
            return 1;
        }
        if (r->add_pending) {
            r->add_pending = 0;
            CURLMcode mc = curl_multi_add_handle(c->multi, r->easy);
            if (mc != CURLM_OK) {
                log_error("http: curl_multi_add_handle: %s", curl_multi_strerror(mc));
                if (r->fail == HTTP_OK) r->fail = HTTP_ERR_OTHER;
                r->cancel_pending = 1;
            }
            return 1;
        }
        if (r->resume_pending) {
            r->resume_pending = 0;
            if (!r->paused) continue;
            r->paused = 0;
            /* curl may hand the held bytes to on_write before this returns. */
            c->depth++;
            CURLcode rc = curl_easy_pause(r->easy, CURLPAUSE_CONT);
            c->depth--;
            if (rc != CURLE_OK) {
                if (r->fail == HTTP_OK) r->fail = result_from_curl(rc);
                r->cancel_pending = 1;
            }
            return 1;
        }
    }
    return 0;
}

static void client_dispatch(http_client *c) {
    if (c->dispatching || c->depth > 0 || c->closing) return; /* the outer call will loop */
    c->dispatching = 1;
    while (drain_one_message(c) || run_one_pending(c)) {}
    c->dispatching = 0;
    if (c->close_requested) client_do_close(c);
}

/* ---------- public API ---------- */

http_client *http_client_new(uv_loop_t *loop, const http_client_options *o) {
    uv_once(&curl_once, curl_global_once);
    if (curl_init_rc != 0) {
        log_error("http: curl_global_init failed (%d)", curl_init_rc);
        return NULL;
    }
    http_client *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->loop = loop;
    if (o) c->opt = *o;
    if (c->opt.max_total_connections <= 0) c->opt.max_total_connections = 16;
    if (c->opt.max_host_connections <= 0) c->opt.max_host_connections = 8;
    if (c->opt.connect_timeout_ms <= 0) c->opt.connect_timeout_ms = 10000;
    if (c->opt.low_speed_time_s <= 0) c->opt.low_speed_time_s = 60;
    const char *ca = c->opt.ca_bundle;
    if (!ca || !*ca) ca = getenv("AWS_CA_BUNDLE");
    if (ca && *ca && !(c->ca_bundle = strdup(ca))) goto fail;
    c->opt.ca_bundle = c->ca_bundle;
    c->multi = curl_multi_init();
    if (!c->multi) goto fail;
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)c->opt.max_total_connections);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)c->opt.max_host_connections);
    /* Keep every allowed connection alive when idle (the default scales with added handles,
     * which drops to zero between our requests). */
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->opt.max_total_connections);
    uv_timer_init(loop, &c->curl_timer);
    uv_timer_init(loop, &c->kick);
    c->curl_timer.data = c;
    c->kick.data = c;
    c->open_handles = 2;
    return c;
fail:
    log_error("http: cannot create the client");
    if (c->multi) curl_multi_cleanup(c->multi);
    free(c->ca_bundle);
    free(c);
    return NULL;
}

static int has_header(const http_request *rq, const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; i < rq->nheaders; i++) {
        const char *h = rq->headers[i];
        if (h && strncasecmp(h, name, n) == 0 && (h[n] == ':' || h[n] == ';')) return 1;
    }
    return 0;
}

static int req_configure(http_client *c, http_req *r, const http_request *rq) {
    CURL *e = r->easy;
    const char *method = rq->method;
    int with_body = rq->body != NULL || rq->body_len > 0;
    if (!method) method = with_body ? "POST" : "GET";
    if (rq->body_len > 0 && !rq->body) return -1;
    int sends_body =
        with_body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0;

    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)r);
    curl_easy_setopt(e, CURLOPT_URL, rq->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    /* A download read 16 KB per recv (plus a poll and an ioctl each): 256 KB reads take about a
     * ninth of those syscalls. Only streamed bodies ask for it: pooled handles of small requests
     * keep small buffers (libcurl reallocates it when the size changes). */
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)(rq->on_data ? STREAM_RECV : SMALL_RECV));
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->resp.error);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->opt.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
                     rq->low_speed_time_s > 0 ? rq->low_speed_time_s : c->opt.low_speed_time_s);
    if (rq->timeout_ms > 0) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, rq->timeout_ms);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 15L);
    /* No CURLOPT_PIPEWAIT: with it a request waits for a busy connection of unknown protocol
     * (a 20 s SQS long poll) to tell whether it multiplexes. AWS endpoints speak HTTP/1.1. */
    if (c->ca_bundle) curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_bundle);
    if (c->opt.verbose) curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
    /* No CURLOPT_ACCEPT_ENCODING and no redirects: bodies arrive exactly as stored and signed
     * requests are never replayed elsewhere. */

    if (sends_body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, rq->body ? (const char *)rq->body : "");
        /* A 5 MB batch went out in 64 KB sends: 256 KB pieces take 4x fewer syscalls. Only big
         * bodies ask for it, so the pooled handles of small requests keep small buffers. libcurl
         * copies the body into this buffer piece by piece: 7.88 cannot send from ours (a
         * CURLOPT_READFUNCTION copies as well), but POSTFIELDS without COPYPOSTFIELDS spares a
         * whole-body copy up front. The body (a batch) stays alive until on_done, and a retry
         * hands the same bytes again. */
        curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, (long)(rq->body_len > BIG_BODY ? BIG_SEND : SMALL_SEND));
        if (strcmp(method, "POST") != 0) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    }

    struct curl_slist *l = NULL, *t;
    for (size_t i = 0; i < rq->nheaders; i++) {
        if (!rq->headers[i]) continue;
        if (!(t = curl_slist_append(l, rq->headers[i]))) goto oom;
        l = t;
    }
    /* "Expect:" with no value stops curl from waiting for 100-continue on large bodies. */
    if (!has_header(rq, "Expect")) {
        if (!(t = curl_slist_append(l, "Expect:"))) goto oom;
        l = t;
    }
    /* POSTFIELDS implies a form Content-Type; AWS requests must carry their own or none. */
    if (sends_body && !has_header(rq, "Content-Type")) {
        if (!(t = curl_slist_append(l, "Content-Type:"))) goto oom;
        l = t;
    }
    r->hdrs = l;
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, l);
    return 0;
oom:
    curl_slist_free_all(l);
    return -1;
}

http_req *http_start(http_client *c, const http_request *rq) {
    if (!c || c->closing || c->close_requested || !rq || !rq->url || !rq->on_done) return NULL;
    http_req *r = req_get(c);
    if (!r) return NULL;
    memset(&r->resp.error, 0, sizeof r->resp.error);
    r->resp.status = 0;
    r->resp.curl_code = 0;
    r->resp.result = HTTP_OK;
    r->resp.new_connection = 0;
    r->resp.bytes_up = r->resp.bytes_down = 0;
    r->on_data = rq->on_data;
    r->on_done = rq->on_done;
    r->ud = rq->ud;
    r->max_body = rq->max_body ? rq->max_body : rq->on_data ? HTTP_DEFAULT_MAX_ERROR_BODY : HTTP_DEFAULT_MAX_BODY;
    if (r->max_body > SIZE_MAX - 1) r->max_body = SIZE_MAX - 1;
    r->resp.body.max = r->max_body + 1;
    if (req_configure(c, r, rq) != 0) {
        req_put(c, r);
        return NULL;
    }
    if (c->depth > 0) {
        /* curl refuses curl_multi_add_handle from inside its callbacks (on_data). */
        r->add_pending = 1;
        client_kick(c);
    } else {
        CURLMcode mc = curl_multi_add_handle(c->multi, r->easy); /* arms the timer: the kick-start */
        if (mc != CURLM_OK) {
            log_error("http: curl_multi_add_handle: %s", curl_multi_strerror(mc));
            req_put(c, r);
            return NULL;
        }
    }
    r->next = c->active;
    if (c->active) c->active->prev = r;
    c->active = r;
    c->stats.requests++;
    return r;
}

void http_resume(http_req *r) {
    if (!r || r->c->closing) return;
    r->resume_pending = 1;
    client_kick(r->c);
}

void http_cancel(http_req *r) {
    if (!r || r->c->closing) return;
    if (r->fail == HTTP_OK) r->fail = HTTP_ERR_CANCELLED;
    r->cancel_pending = 1;
    client_kick(r->c);
}

static void client_do_close(http_client *c) {
    c->close_requested = 0;
    c->closing = 1;
    uv_timer_stop(&c->kick);
    uv_timer_stop(&c->curl_timer);
    while (c->active) {
        http_req *r = c->active;
        curl_multi_remove_handle(c->multi, r->easy);
        if (r->fail == HTTP_OK) r->fail = HTTP_ERR_CLOSED;
        req_finish(c, r, CURLE_ABORTED_BY_CALLBACK);
    }
    while (c->pool) {
        http_req *r = c->pool;
        c->pool = r->next;
        req_free(r);
    }
    /* Stop watching before curl closes the sockets. */
    while (c->socks) sock_release(c, c->socks);
    curl_multi_cleanup(c->multi);
    c->multi = NULL;
    uv_close((uv_handle_t *)&c->curl_timer, on_timer_closed);
    uv_close((uv_handle_t *)&c->kick, on_timer_closed);
}

void http_client_close(http_client *c) {
    if (!c || c->closing) return;
    if (c->dispatching || c->depth > 0) {
        c->close_requested = 1; /* finished by client_dispatch or the kick */
        client_kick(c);
        return;
    }
    client_do_close(c);
}

void http_client_stats(const http_client *c, http_stats *out) { *out = c->stats; }

double http_stats_reuse_ratio(const http_stats *s) {
    uint64_t done = s->ok + s->failed;
    if (done == 0) return 0.0;
    if (s->connections >= done) return 0.0;
    return 1.0 - (double)s->connections / (double)done;
}
