#include "sinks.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

void sinks_options_default(sinks_options *o) {
    memset(o, 0, sizeof *o);
    o->uploads = 2;
}

int sinks_create(uv_loop_t *loop, aws_ctx *aws, const sinks_options *o, sinks_result *out) {
    (void)loop;
    (void)aws;
    memset(out, 0, sizeof *out);
    if (o->spec && strncmp(o->spec, "dir:", 4) == 0 && o->spec[4]) {
        out->sink = sink_dir_new(o->spec + 4, 0);
        return out->sink ? 0 : -1;
    }
    if (o->spec && strncmp(o->spec, "dir-bulk:", 9) == 0 && o->spec[9]) {
        out->bulk = 1;
        out->sink = sink_dir_new(o->spec + 9, 1);
        return out->sink ? 0 : -1;
    }
    log_error("unknown sink '%s'", o->spec ? o->spec : (o->domain ? o->domain : o->doc_endpoint));
    return -1;
}
