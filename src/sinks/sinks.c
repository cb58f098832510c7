#include "sinks/sinks.h"

#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "sinks/cloudsearch/sink_cloudsearch.h"
#include "sinks/dir/sink_dir.h"
#include "sinks/index/sink_index.h"
#include "sinks/opensearch/sink_opensearch.h"

void sinks_options_default(sinks_options *o) {
    memset(o, 0, sizeof *o);
    o->uploads = 2;
}

int sinks_create(uv_loop_t *loop, aws_ctx *aws, const sinks_options *o, sinks_result *out) {
    memset(out, 0, sizeof *out);
    const char *spec = o->spec;
    upload_options up;
    upload_options_default(&up);
    up.max_in_flight = o->uploads > 0 ? o->uploads : 0; /* 0: the sink's own default */
    up.max_rate_bps = o->max_upload_rate;
    up.hold_refused = o->hold_refused;
    if (o->probe_cap_ms) up.probe_cap_ms = o->probe_cap_ms;
    if (up.probe_base_ms > up.probe_cap_ms) up.probe_base_ms = up.probe_cap_ms;
    if (spec && strncmp(spec, "dir:", 4) == 0 && spec[4]) {
        out->sink = sink_dir_open(loop, spec + 4, 0, o->durable);
    } else if (spec && strncmp(spec, "index:", 6) == 0 && spec[6]) {
        out->sink = sink_index_open(loop, spec + 6, o->durable, o->dead); /* SDF documents, like CloudSearch */
    } else if (spec && strncmp(spec, "dir-bulk:", 9) == 0 && spec[9]) {
        out->bulk = 1;
        out->sink = sink_dir_open(loop, spec + 9, 1, o->durable);
    } else if (spec && strncmp(spec, "cloudsearch:", 12) == 0) {
        out->sink = sink_cloudsearch_from_spec(loop, aws, spec, &up, o->dead);
    } else if (spec && sink_opensearch_is_spec(spec)) {
        out->bulk = 1;
        out->sink = sink_opensearch_from_spec(loop, aws, spec, o->os_auth, &up, o->dead);
        const char *pattern = out->sink ? sink_opensearch_index_pattern(out->sink) : NULL;
        if (pattern) snprintf(out->index_pattern, sizeof out->index_pattern, "%s", pattern);
    } else if (!spec && (o->domain || o->doc_endpoint)) {
        /* The original app's settings: a CloudSearch domain (looked up) or its document endpoint. */
        sink_cloudsearch_options co;
        sink_cloudsearch_options_default(&co);
        co.loop = loop;
        co.endpoint = o->doc_endpoint;
        co.domain = o->doc_endpoint ? NULL : o->domain;
        if (up.max_in_flight <= 0) up.max_in_flight = co.upload.max_in_flight;
        co.upload = up;
        co.dead = o->dead;
        out->sink = sink_cloudsearch_new(aws, &co);
    } else {
        log_error("unknown sink '%s' (expected index:FILE, dir:PATH, cloudsearch:URL|DOMAIN or opensearch:URL)",
                  spec ? spec : "");
        return -1;
    }
    return out->sink ? 0 : -1;
}
