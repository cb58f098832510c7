#include "base/ini.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

/* Trim in place; returns the trimmed start. */
static char *trim(char *s) {
    while (is_ws(*s)) s++;
    size_t n = strlen(s);
    while (n > 0 && is_ws(s[n - 1])) s[--n] = '\0';
    return s;
}

static void lower(char *s) {
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z') *s = (char)(*s + 32);
}

int ini_parse(const char *text, size_t len, ini_cb cb, void *ctx) {
    char line[INI_MAX_LINE + 1];
    char section[INI_MAX_SECTION + 1] = "";
    char parent[INI_MAX_KEY + 1] = ""; /* key with an empty value: may own nested lines */
    int bad = 0;
    size_t lineno = 0, i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && text[j] != '\n') j++;
        size_t n = j - i;
        lineno++;
        const char *src = text + i;
        i = j + 1;
        if (n > INI_MAX_LINE) {
            log_warn("config line %zu longer than %d bytes: skipped", lineno, INI_MAX_LINE);
            bad++;
            continue;
        }
        memcpy(line, src, n);
        line[n] = '\0';
        if (memchr(line, '\0', n)) { /* a NUL inside a text file: not ours to guess */
            bad++;
            continue;
        }
        int indented = n > 0 && is_ws(line[0]);
        char *s = trim(line);
        if (*s == '\0' || *s == '#' || *s == ';') continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            const char *rest = end ? end + 1 : "";
            while (is_ws(*rest)) rest++;
            if (!end || (*rest != '\0' && *rest != '#' && *rest != ';')) {
                log_warn("config line %zu: malformed section header", lineno);
                bad++;
                section[0] = '\1'; /* settings until the next header belong to no section */
                section[1] = '\0';
                continue;
            }
            *end = '\0';
            char *name = trim(s + 1);
            if (strlen(name) > INI_MAX_SECTION) {
                bad++;
                section[0] = '\1';
                section[1] = '\0';
                continue;
            }
            /* "profile   name" -> "profile name": one separator, as botocore's split does */
            if (strncmp(name, "profile", 7) == 0 && is_ws(name[7])) {
                char *p = trim(name + 7);
                snprintf(section, sizeof section, "profile %s", p);
            } else {
                snprintf(section, sizeof section, "%s", name);
            }
            parent[0] = '\0';
            continue;
        }
        size_t klen = strcspn(s, "=:");
        if (s[klen] == '\0') {
            log_warn("config line %zu: no '=' in setting", lineno);
            bad++;
            continue;
        }
        s[klen] = '\0';
        char *key = trim(s);
        char *value = trim(s + klen + 1);
        if (*key == '\0' || strlen(key) > INI_MAX_KEY) {
            bad++;
            continue;
        }
        lower(key);
        if (section[0] == '\1') continue;
        int stop;
        if (indented && parent[0]) {
            char full[2 * INI_MAX_KEY + 2];
            snprintf(full, sizeof full, "%s.%s", parent, key);
            stop = cb(ctx, section, full, value);
        } else {
            if (*value == '\0') snprintf(parent, sizeof parent, "%s", key);
            else parent[0] = '\0';
            stop = cb(ctx, section, key, value);
        }
        if (stop) break;
    }
    return bad;
}

int ini_read_file(const char *path, char **text, size_t *len) {
    *text = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char *buf = malloc(INI_MAX_FILE + 1);
    if (!buf) {
        fclose(f);
        return -2;
    }
    size_t got = fread(buf, 1, INI_MAX_FILE + 1, f);
    int err = ferror(f);
    fclose(f);
    if (err || got > INI_MAX_FILE) {
        log_warn("%s: %s", path, err ? "read error" : "larger than 1 MB: ignored");
        free(buf);
        return -2;
    }
    buf[got] = '\0';
    *text = buf;
    *len = got;
    return 0;
}
