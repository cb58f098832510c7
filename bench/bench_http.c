/* Client CPU per HTTP request through http.c (libcurl multi on libuv), on loopback.
 * The test server runs in a forked child so getrusage(RUSAGE_SELF) counts the client only.
 * Usage: bench_http [requests=2000] */
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test/unit/http_test_server.h"
#include "net/http.h"

typedef struct run {
    http_client *cli;
    char url[128];
    const char *const *headers;
    size_t nheaders;
    const char *body;
    size_t body_len;
    int started, done, ok, target;
} run;

static void start_one(run *r);

static void on_done(void *ud, http_response *resp) {
    run *r = ud;
    r->done++;
    if (resp->result == HTTP_OK && resp->status == 200) r->ok++;
    if (r->started < r->target) start_one(r);
}

static void start_one(run *r) {
    http_request rq = {.url = r->url,
                       .headers = r->headers,
                       .nheaders = r->nheaders,
                       .body = r->body,
                       .body_len = r->body_len,
                       .on_done = on_done,
                       .ud = r};
    r->started++;
    if (!http_start(r->cli, &rq)) {
        fprintf(stderr, "http_start failed\n");
        exit(1);
    }
}

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

static void measure(uv_loop_t *loop, int port, const char *label, int parallel, int n, const char *const *hdrs,
                    size_t nh, const char *path, const char *body, size_t body_len) {
    http_client_options o = {.max_host_connections = parallel, .max_total_connections = parallel};
    http_client *cli = http_client_new(loop, &o);
    run r = {.cli = cli, .headers = hdrs, .nheaders = nh, .body = body, .body_len = body_len, .target = 2 * parallel};
    snprintf(r.url, sizeof r.url, "http://127.0.0.1:%d%s", port, path);
    for (int i = 0; i < parallel; i++) start_one(&r); /* warm-up: connections opened here */
    while (r.done < r.target) uv_run(loop, UV_RUN_ONCE);
    http_stats before;
    http_client_stats(cli, &before);
    r.started = r.done = r.ok = 0;
    r.target = n;
    double c0 = cpu_seconds();
    uint64_t t0 = uv_hrtime();
    for (int i = 0; i < parallel; i++) start_one(&r);
    while (r.done < r.target) uv_run(loop, UV_RUN_ONCE);
    double cpu = cpu_seconds() - c0;
    double wall = (double)(uv_hrtime() - t0) / 1e9;
    http_stats after;
    http_client_stats(cli, &after);
    printf("%-34s %5d req  ok %5d  new conns %5llu  wall %7.0f req/s  client CPU %6.1f us/req\n", label, n, r.ok,
           (unsigned long long)(after.connections - before.connections), n / wall, cpu * 1e6 / n);
    http_client_close(cli);
    uv_run(loop, UV_RUN_DEFAULT);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    if (n <= 0) n = 2000;
    int fds[2];
    if (pipe(fds) != 0) return 1;
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) { /* server process */
        uv_loop_t loop;
        uv_loop_init(&loop);
        static ts_server srv;
        if (ts_server_start(&srv, &loop) != 0) _exit(1);
        if (write(fds[1], &srv.port, sizeof srv.port) != (ssize_t)sizeof srv.port) _exit(1);
        uv_run(&loop, UV_RUN_DEFAULT);
        _exit(0);
    }
    int port = 0;
    if (read(fds[0], &port, sizeof port) != (ssize_t)sizeof port) return 1;

    uv_loop_t loop;
    uv_loop_init(&loop);
    const char *close_hdr[] = {"Connection: close"};
    measure(&loop, port, "GET 11 B keep-alive, 1 in flight", 1, n, NULL, 0, "/hello", NULL, 0);
    measure(&loop, port, "GET 11 B keep-alive, 8 in flight", 8, n, NULL, 0, "/hello", NULL, 0);
    measure(&loop, port, "GET 11 B new TCP conn per request", 8, n, close_hdr, 1, "/hello", NULL, 0);
    size_t big = 5u * 1024 * 1024;
    char *body = calloc(1, big);
    const char *ct[] = {"Content-Type: application/json"};
    if (body) measure(&loop, port, "POST 5 MB keep-alive, 1 in flight", 1, 50, ct, 1, "/echo", body, big);
    free(body);
    uv_loop_close(&loop);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    return 0;
}
