/* ctindex serve: the embedded index behind CloudSearch's 2013-01-01 APIs, on the loop.
 *
 *   GET|POST /2013-01-01/search           search (query string, or a form body as the AWS CLI
 *                                          sends it), CloudSearch's response JSON
 *   POST /2013-01-01/documents/batch      JSON document batches (SDF), all or nothing, with
 *                                          CloudSearch's answers and limits (5 MB, 411, 415)
 *   GET /                                  the search page (one self-contained HTML file)
 *
 * Searches and batches run on libuv's work queue (searches in parallel on read-only stores, one
 * batch at a time on the writer), so a slow request never holds the loop; each search has a time
 * limit. Requests past a bounded queue are answered 503. */
#ifndef CTINDEX_SERVE_H
#define CTINDEX_SERVE_H

#include <uv.h>

typedef struct serve serve;

typedef struct serve_options {
    const char *index_path;
    const char *addr; /* default 127.0.0.1 */
    int port;         /* default 8080; 0: any free port */
    int max_connections;
    unsigned search_timeout_ms; /* default 10000 */
    int searchers;              /* searches at once (default 2) */
} serve_options;

void serve_options_default(serve_options *o);
/* Opens the index (creating it when missing) and listens. NULL with the reason logged. */
serve *serve_start(uv_loop_t *loop, const serve_options *o);
int serve_port(const serve *s);
/* Stops listening; answers what is running, then frees itself (run the loop). */
void serve_stop(serve *s);

#endif
