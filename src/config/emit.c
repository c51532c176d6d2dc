/* emit.c - the config as text: resolved YAML (hashed into run records), the
 * commented default YAML (configs/default.yaml) and the Markdown schema table
 * (docs/config.md). Formatting is deterministic: schema order, two-space
 * indentation, shortest round-trip numbers, strings plain only when safe.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "schema.h"
#include "util/check.h"
#include "util/hash.h"

struct sbuf {
    char *data;
    size_t len, cap;
    int oom;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->data ? b->data + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = 2 * (b->cap + (size_t)n + 64);
        char *d = realloc(b->data, cap);
        if (!d) {
            b->oom = 1;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
}

/* Hands the text to the caller, or frees it and reports out of memory. */
static int sb_finish(struct sbuf *b, char **out) {
    *out = NULL;
    if (b->oom || !b->data) {
        free(b->data);
        return err_set(ST_ERR, "config: out of memory while formatting");
    }
    *out = b->data;
    return ST_OK;
}

/* Numbers typed as floats stay recognisable as floats: 10 -> 10.0. */
static void fmt_float(char *out, size_t out_bytes, double v) {
    cfg_format_double(out, out_bytes, v);
    if (!strpbrk(out, ".eEn")) strncat(out, ".0", out_bytes - strlen(out) - 1);
}

/* A string is written plain when every YAML reader reads it back as the same
 * string: [A-Za-z0-9_./-], not a keyword, not a number. */
static int plain_safe(const char *s) {
    static const char *words[] = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"};
    if (!*s || *s == '-' || *s == '.') return 0;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '.' || *c == '/' || *c == '-'))
            return 0;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (!strcasecmp(s, words[i])) return 0;
    char *end = NULL;
    (void)strtod(s, &end);
    return !(end && *end == '\0');
}

static void put_string(struct sbuf *b, const char *s) {
    if (plain_safe(s)) {
        sb_printf(b, "%s", s);
        return;
    }
    sb_printf(b, "\"");
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') sb_printf(b, "\\%c", *c);
        else if (*c == '\n') sb_printf(b, "\\n");
        else if (*c == '\t') sb_printf(b, "\\t");
        else if (*c < 0x20 || *c == 0x7f) sb_printf(b, "\\x%02x", *c);
        else sb_printf(b, "%c", *c);
    }
    sb_printf(b, "\"");
}

static void put_value(struct sbuf *b, const struct config *cfg, const struct cfg_key *k) {
    const void *f = (const char *)cfg + k->offset;
    char num[40];
    switch (k->type) {
    case CFG_BOOL: sb_printf(b, "%s", *(const int *)f ? "true" : "false"); break;
    case CFG_INT: sb_printf(b, "%d", *(const int *)f); break;
    case CFG_INT64: sb_printf(b, "%" PRId64, *(const int64_t *)f); break;
    case CFG_FLOAT:
        fmt_float(num, sizeof num, *(const double *)f);
        sb_printf(b, "%s", num);
        break;
    case CFG_STRING: put_string(b, *(char *const *)f ? *(char *const *)f : ""); break;
    case CFG_STR_LIST: {
        const struct str_list *l = f;
        sb_printf(b, "[");
        for (int i = 0; i < l->count; i++) {
            if (i) sb_printf(b, ", ");
            put_string(b, l->items[i]);
        }
        sb_printf(b, "]");
        break;
    }
    case CFG_COLOR: {
        const int *c = f;
        sb_printf(b, "[%d, %d, %d]", c[0], c[1], c[2]);
        break;
    }
    }
}

/* Number of leading dotted components shared by a and b. */
static int common_depth(const char *a, const char *b) {
    int d = 0;
    for (;;) {
        const char *da = strchr(a, '.'), *db = strchr(b, '.');
        if (!da || !db) return d;
        if (da - a != db - b || strncmp(a, b, (size_t)(da - a))) return d;
        d++;
        a = da + 1;
        b = db + 1;
    }
}

/* Range or allowed values in words, "" when neither applies. */
static void describe_limits(const struct cfg_key *k, char *out, size_t out_bytes, int markdown) {
    out[0] = '\0';
    if (k->allowed) {
        size_t len = 0;
        for (const char *a = k->allowed; a && len < out_bytes;) {
            const char *bar = strchr(a, '|');
            int n = bar ? (int)(bar - a) : (int)strlen(a);
            len += (size_t)snprintf(out + len, out_bytes - len, "%s%s%.*s%s", a == k->allowed ? "" : ", ",
                                    markdown ? "`" : "", n, a, markdown ? "`" : "");
            a = bar ? bar + 1 : NULL;
        }
    } else if (k->type == CFG_INT || k->type == CFG_INT64 || k->type == CFG_FLOAT ||
               k->type == CFG_COLOR) {
        char lo[40], hi[40];
        snprintf(lo, sizeof lo, "%.17g", k->min);
        snprintf(hi, sizeof hi, "%.17g", k->max);
        if (k->type == CFG_FLOAT) {
            fmt_float(lo, sizeof lo, k->min);
            fmt_float(hi, sizeof hi, k->max);
        }
        snprintf(out, out_bytes, "%s to %s%s", lo, hi, k->type == CFG_COLOR ? " each" : "");
    }
}

/* The YAML body; with `commented`, each key's doc (and limits) above it. */
static int emit_yaml(const struct config *cfg, int commented, char **yaml) {
    struct sbuf b = {0};
    if (commented)
        sb_printf(&b,
                  "# assort default configuration: every key, its default and what it does.\n"
                  "# Generated by `assort config --defaults` (tests check it matches); see\n"
                  "# docs/config.md for includes, ${ENV} expansion and --set. Experiments\n"
                  "# `include:` this file or list only the keys they change.\n");
    const char *prev = "";
    for (int i = 0; i < cfg_schema_count; i++) {
        const struct cfg_key *k = &cfg_schema[i];
        int shared = common_depth(prev, k->path);
        const char *p = k->path;
        int depth = 0;
        for (const char *dot = strchr(p, '.'); dot; dot = strchr(p, '.'), depth++) {
            if (depth >= shared) {
                if (depth == 0 && commented) sb_printf(&b, "\n");
                sb_printf(&b, "%*s%.*s:\n", 2 * depth, "", (int)(dot - p), p);
            }
            p = dot + 1;
        }
        if (commented) {
            char lim[256];
            describe_limits(k, lim, sizeof lim, 0);
            sb_printf(&b, "%*s# %s%s%s%s\n", 2 * depth, "", k->doc, *lim ? " (" : "", lim, *lim ? ")" : "");
        }
        sb_printf(&b, "%*s%s: ", 2 * depth, "", p);
        put_value(&b, cfg, k);
        sb_printf(&b, "\n");
        prev = k->path;
    }
    return sb_finish(&b, yaml);
}

int config_to_yaml(const struct config *cfg, char **yaml) { return emit_yaml(cfg, 0, yaml); }

int config_defaults_yaml(char **yaml) {
    struct config *cfg = NULL;
    int rc = config_load(NULL, NULL, 0, &cfg);
    if (rc == ST_OK) rc = emit_yaml(cfg, 1, yaml);
    config_free(cfg);
    return rc;
}

int config_hash(const struct config *cfg, char out[17]) {
    char *yaml = NULL;
    int rc = config_to_yaml(cfg, &yaml);
    if (rc != ST_OK) return rc;
    uint64_t h = hash64(yaml, strlen(yaml));
    free(yaml);
    snprintf(out, 17, "%016" PRIx64, h);
    return ST_OK;
}

int config_schema_markdown(char **md) {
    struct config *cfg = NULL;
    struct sbuf b = {0};
    int rc = config_load(NULL, NULL, 0, &cfg);
    if (rc != ST_OK) return rc;
    sb_printf(&b, "| key | type | default | range / allowed | description |\n"
                  "|---|---|---|---|---|\n");
    for (int i = 0; i < cfg_schema_count; i++) {
        const struct cfg_key *k = &cfg_schema[i];
        char lim[256];
        describe_limits(k, lim, sizeof lim, 1);
        sb_printf(&b, "| `%s` | %s | `", k->path, cfg_type_name(k->type));
        put_value(&b, cfg, k);
        sb_printf(&b, "` | %s | ", lim);
        for (const char *c = k->doc; *c; c++) sb_printf(&b, *c == '|' ? "\\|" : "%c", *c);
        sb_printf(&b, " |\n");
    }
    config_free(cfg);
    return sb_finish(&b, md);
}
