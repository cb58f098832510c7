/* fakeaws_load: a small HTTP/1.1 keep-alive load generator (libuv) to show that fakeaws is not
 * the bottleneck of a benchmark. C connections each send one request at a time, back to back,
 * for a duration; it reports requests/s, body MB/s, and the CPU time used by itself and (with
 * --server-pid) by the server, read from /proc.
 *
 *   fakeaws_load --port P --get /bucket/key [--conns 8] [--duration 5]
 *   fakeaws_load --port P --post /2013-01-01/documents/batch --body-bytes 5000000 [--body cloudsearch|bulk]
 *   fakeaws_load --port P --post / --body-file F --header "X-Amz-Target: AmazonSQS.ReceiveMessage" */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <uv.h>

#include "base/buf.h"

#define MAX_CONNS 512
#define HDR_MAX (64 * 1024)
#define RECV_CHUNK (256 * 1024)
#define MAX_EXTRA_HEADERS 8

typedef struct client {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    char hdr[HDR_MAX]; /* response header accumulation */
    size_t hdr_len;
    int in_body;
    uint64_t body_left;
    int status;
    int busy;
} client;

static struct {
    uv_loop_t *loop;
    uv_timer_t stop_timer;
    struct sockaddr_in addr;
    char *request; /* headers + body, built once and written by every connection */
    size_t request_len;
    size_t body_len;
    int is_post;
    int stopping;
    int conns, open_conns;
    uint64_t done, errors, bytes_in, bytes_out, max_requests;
    uint64_t t_start, t_end;
    char recv_buf[RECV_CHUNK];
} L;

static void send_next(client *c);

static void on_closed(uv_handle_t *h) { (void)h; }

static void client_finish(client *c) {
    if (uv_is_closing((uv_handle_t *)&c->tcp)) return;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
    if (--L.open_conns == 0) {
        L.t_end = uv_hrtime();
        uv_close((uv_handle_t *)&L.stop_timer, on_closed);
    }
}

static void response_done(client *c) {
    L.done++;
    if (c->status < 200 || c->status > 299) L.errors++;
    c->busy = 0;
    c->hdr_len = 0;
    c->in_body = 0;
    if (L.stopping || (L.max_requests && L.done >= L.max_requests)) {
        L.stopping = 1;
        client_finish(c);
        return;
    }
    send_next(c);
}

/* Feed received bytes through the response parser: status line + headers, then a
 * Content-Length body that is only counted. */
static int consume(client *c, const char *p, size_t n) {
    while (n > 0) {
        if (c->in_body) {
            size_t take = n < c->body_left ? n : (size_t)c->body_left;
            c->body_left -= take;
            L.bytes_in += take;
            p += take;
            n -= take;
            if (c->body_left == 0) response_done(c);
            continue;
        }
        if (!c->busy) return -1; /* bytes nobody asked for */
        size_t room = HDR_MAX - c->hdr_len;
        size_t take = n < room ? n : room;
        memcpy(c->hdr + c->hdr_len, p, take);
        size_t old = c->hdr_len;
        c->hdr_len += take;
        char *end = memmem(c->hdr, c->hdr_len, "\r\n\r\n", 4);
        if (!end) {
            if (c->hdr_len == HDR_MAX) return -1;
            return 0;
        }
        size_t used = (size_t)(end + 4 - c->hdr) - old; /* bytes of this chunk that were headers */
        p += used;
        n -= used;
        *end = '\0';
        if (strncmp(c->hdr, "HTTP/1.1 ", 9) != 0) return -1;
        c->status = atoi(c->hdr + 9);
        if (c->status == 100) { /* interim response: keep waiting */
            c->hdr_len = 0;
            continue;
        }
        const char *cl = strcasestr(c->hdr, "\r\ncontent-length:");
        c->body_left = cl ? strtoull(cl + 17, NULL, 10) : 0;
        c->in_body = 1;
        if (c->body_left == 0) response_done(c);
    }
    return 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
    (void)h;
    (void)suggested;
    *b = uv_buf_init(L.recv_buf, sizeof L.recv_buf); /* parsed before the next read */
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
    client *c = s->data;
    if (nread > 0) {
        if (consume(c, b->base, (size_t)nread) != 0) {
            fprintf(stderr, "bad response\n");
            L.errors++;
            client_finish(c);
        }
    } else if (nread < 0) {
        if (c->busy) L.errors++;
        client_finish(c);
    }
}

static void on_write(uv_write_t *w, int status) {
    client *c = w->data;
    if (status < 0 && !uv_is_closing((uv_handle_t *)&c->tcp)) {
        L.errors++;
        client_finish(c);
    }
}

static void send_next(client *c) {
    uv_buf_t b = uv_buf_init(L.request, (unsigned)L.request_len);
    c->busy = 1;
    c->write.data = c;
    L.bytes_out += L.body_len;
    if (uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
        L.errors++;
        client_finish(c);
    }
}

static void on_connect(uv_connect_t *req, int status) {
    client *c = req->data;
    if (status < 0) {
        fprintf(stderr, "connect: %s\n", uv_strerror(status));
        L.errors++;
        client_finish(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    send_next(c);
}

static void on_stop(uv_timer_t *t) {
    (void)t;
    L.stopping = 1; /* connections finish their current request, then close */
}

static char *make_body(const char *kind, size_t want, size_t *len) {
    char *b = malloc(want + 4096);
    if (!b) return NULL;
    char filler[1501];
    memset(filler, 'x', sizeof filler - 1);
    filler[sizeof filler - 1] = '\0';
    size_t n = 0;
    if (strcmp(kind, "bulk") == 0) {
        for (int i = 0; n < want; i++)
            n += (size_t)sprintf(b + n, "{\"index\":{\"_id\":\"d%08d\"}}\n{\"raw\":\"%s\"}\n", i, filler);
    } else if (strcmp(kind, "cloudsearch") == 0) {
        b[n++] = '[';
        for (int i = 0; n + 1 < want; i++)
            n += (size_t)sprintf(b + n, "%s{\"type\":\"add\",\"id\":\"d%08d\",\"fields\":{\"raw\":\"%s\"}}",
                                 i ? "," : "", i, filler);
        b[n++] = ']';
    } else {
        memset(b, 'z', want);
        n = want;
    }
    *len = n;
    return b;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* utime + stime of a process, in seconds, from /proc/PID/stat. */
static double proc_cpu_seconds(long pid) {
    char path[64], line[2048];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    const char *p = strrchr(line, ')'); /* the command name may hold spaces */
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1", *path = NULL, *body_kind = "cloudsearch", *body_file = NULL;
    const char *headers[MAX_EXTRA_HEADERS];
    int nheaders = 0, port = 0;
    double duration = 5;
    size_t body_bytes = 0;
    long server_pid = 0;
    L.conns = 8;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (strcmp(a, "--host") == 0) host = v;
        else if (strcmp(a, "--port") == 0) port = atoi(v);
        else if (strcmp(a, "--conns") == 0) L.conns = atoi(v);
        else if (strcmp(a, "--duration") == 0) duration = atof(v);
        else if (strcmp(a, "--requests") == 0) L.max_requests = strtoull(v, NULL, 10);
        else if (strcmp(a, "--get") == 0) path = v;
        else if (strcmp(a, "--post") == 0) {
            path = v;
            L.is_post = 1;
        } else if (strcmp(a, "--body-bytes") == 0) body_bytes = strtoull(v, NULL, 10);
        else if (strcmp(a, "--body") == 0) body_kind = v;
        else if (strcmp(a, "--body-file") == 0) body_file = v;
        else if (strcmp(a, "--server-pid") == 0) server_pid = atol(v);
        else if (strcmp(a, "--header") == 0 && nheaders < MAX_EXTRA_HEADERS) headers[nheaders++] = v;
        else {
            fprintf(stderr, "unknown option %s\n", a);
            return 2;
        }
    }
    if (!path || port <= 0 || L.conns < 1 || L.conns > MAX_CONNS || duration <= 0 || body_bytes > 64u * 1024 * 1024) {
        fprintf(stderr, "usage: fakeaws_load --port P (--get PATH | --post PATH [--body-bytes N] [--body "
                        "cloudsearch|bulk|raw] [--body-file F]) [--conns C] [--duration S] [--requests N] "
                        "[--header 'K: V']... [--server-pid PID]\n");
        return 2;
    }
    char *body = NULL;
    if (L.is_post) {
        body = body_file ? read_file(body_file, &L.body_len) : make_body(body_kind, body_bytes, &L.body_len);
        if (!body) {
            fprintf(stderr, "cannot build the request body\n");
            return 1;
        }
    }
    /* The whole request, built once and sent again and again; at most 4 KB of head. */
    buf rq;
    buf_init(&rq, 4096 + L.body_len);
    int bad = buf_printf(&rq, "%s %s HTTP/1.1\r\nHost: %s:%d\r\n", L.is_post ? "POST" : "GET", path, host, port);
    for (int i = 0; i < nheaders; i++) bad |= buf_printf(&rq, "%s\r\n", headers[i]);
    if (L.is_post)
        bad |= buf_printf(&rq, "Content-Type: %s\r\nContent-Length: %zu\r\n",
                          strcmp(body_kind, "bulk") == 0 ? "application/x-ndjson" : "application/json", L.body_len);
    bad |= buf_append_str(&rq, "\r\n");
    if (body) bad |= buf_append(&rq, body, L.body_len);
    free(body);
    if (bad) {
        fprintf(stderr, "the request head is longer than 4 KB, or out of memory\n");
        buf_free(&rq);
        return 2;
    }
    L.request = rq.data;
    L.request_len = rq.len;

    L.loop = uv_default_loop();
    uv_ip4_addr(host, port, &L.addr);
    client *clients = calloc((size_t)L.conns, sizeof(client));
    if (!clients) return 1;
    double srv0 = server_pid ? proc_cpu_seconds(server_pid) : -1;
    double cpu0 = self_cpu_seconds();
    L.t_start = uv_hrtime();
    uv_timer_init(L.loop, &L.stop_timer);
    uv_timer_start(&L.stop_timer, on_stop, (uint64_t)(duration * 1000), 0);
    for (int i = 0; i < L.conns; i++) {
        client *c = &clients[i];
        uv_tcp_init(L.loop, &c->tcp);
        c->tcp.data = c->connect.data = c;
        L.open_conns++;
        uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&L.addr, on_connect);
    }
    uv_run(L.loop, UV_RUN_DEFAULT);
    double secs = (double)(L.t_end - L.t_start) / 1e9;
    double cpu = self_cpu_seconds() - cpu0;
    double srv = server_pid ? proc_cpu_seconds(server_pid) - srv0 : -1;
    uint64_t bytes = L.is_post ? L.bytes_out : L.bytes_in;
    printf("%s %s: conns=%d requests=%" PRIu64 " errors=%" PRIu64 " in %.2f s = %.0f req/s, %.1f MB/s %s\n",
           L.is_post ? "POST" : "GET", path, L.conns, L.done, L.errors, secs, L.done / secs, bytes / secs / 1e6,
           L.is_post ? "uploaded" : "downloaded");
    printf("  client CPU %.2f s (%.0f us/req)", cpu, L.done ? cpu * 1e6 / L.done : 0);
    if (srv >= 0)
        printf("; server CPU %.2f s = %.0f%% of one core (%.0f us/req)", srv, 100 * srv / secs,
               L.done ? srv * 1e6 / L.done : 0);
    printf("\n");
    uv_loop_close(L.loop);
    free(clients);
    free(L.request);
    return L.errors ? 1 : 0;
}
