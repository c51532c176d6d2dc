/* config.c - loading: defaults, then the YAML file (includes first, ${ENV}
 * expanded), then --set overrides, each value typed and checked by the schema.
 *
 * Values are applied from libyaml's node tree, so every error can name the
 * file:line:column (libyaml marks are 0-based; messages print 1-based).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

#include "schema.h"
#include "util/check.h"

#define MAX_INCLUDE_DEPTH 32
#define WHERE_BYTES 1200

struct loader {
    struct config *cfg;
    const char *files[MAX_INCLUDE_DEPTH]; /* display paths of files being loaded */
    dev_t dev[MAX_INCLUDE_DEPTH];         /* their identity, for cycle detection */
    ino_t ino[MAX_INCLUDE_DEPTH];
    int depth;
    char **origin;                        /* (cfg_schema_count) where each value came from */
};

static void *field_ptr(struct config *cfg, const struct cfg_key *k) { return (char *)cfg + k->offset; }

static void where_mark(char *out, const char *file, yaml_mark_t m) {
    snprintf(out, WHERE_BYTES, "%s:%zu:%zu", file, m.line + 1, m.column + 1);
}

static const char *node_kind(const yaml_node_t *n) {
    if (!n || n->type == YAML_SCALAR_NODE) return "a scalar";
    return n->type == YAML_SEQUENCE_NODE ? "a list" : "a map";
}

/* Expands ${VAR} and ${VAR:-default} (default used when VAR is unset or
 * empty); "$$" is a literal "$". *out is malloc'd. */
static int expand_env(const char *in, const char *where, char **out) {
    int rc = ST_OK;
    size_t cap = strlen(in) + 1, len = 0;
    char *buf = malloc(cap), *name = NULL;
    TRY_ALLOC(buf);
    for (const char *p = in; *p;) {
        const char *piece = p;
        size_t piece_len = 1;
        if (p[0] == '$' && p[1] == '$') {
            p += 2;
        } else if (p[0] == '$' && p[1] == '{') {
            const char *close = strchr(p + 2, '}');
            REQUIRE(close, ST_USAGE, "%s: unterminated '${' in '%.80s'; close it with '}' or write '$${'",
                    where, in);
            const char *body = p + 2, *dflt = NULL;
            size_t name_len = (size_t)(close - body);
            const char *sep = strstr(body, ":-");
            if (sep && sep < close) {
                name_len = (size_t)(sep - body);
                dflt = sep + 2;
            }
            name = strndup(body, name_len);
            TRY_ALLOC(name);
            REQUIRE(name_len > 0, ST_USAGE, "%s: empty variable name in '%.80s'; write ${NAME}", where, in);
            const char *val = getenv(name);
            if (dflt && (!val || !*val)) {
                piece = dflt;
                piece_len = (size_t)(close - dflt);
            } else {
                REQUIRE(val, ST_USAGE,
                        "%s: environment variable '%s' is not set; export it or write ${%s:-default}",
                        where, name, name);
                piece = val;
                piece_len = strlen(val);
            }
            free(name);
            name = NULL;
            p = close + 1;
        } else {
            p++;
        }
        if (len + piece_len + 1 > cap) {
            cap = 2 * (len + piece_len + 1);
            char *nb = realloc(buf, cap);
            TRY_ALLOC(nb);
            buf = nb;
        }
        memcpy(buf + len, piece, piece_len);
        len += piece_len;
    }
    buf[len] = '\0';
    *out = buf;
    return ST_OK;
fail:
    free(buf);
    free(name);
    return rc;
}

static int parse_bool(const char *s, int *v) {
    static const char *yes[] = {"true", "yes", "on"}, *no[] = {"false", "no", "off"};
    for (int i = 0; i < 3; i++) {
        if (!strcasecmp(s, yes[i])) return *v = 1, 1;
        if (!strcasecmp(s, no[i])) return *v = 0, 1;
    }
    return 0;
}

static int parse_int(const char *s, long long *v) {
    char *end = NULL;
    errno = 0;
    *v = strtoll(s, &end, 10);
    return *s && !errno && end && *end == '\0' && end != s;
}

static int parse_double(const char *s, double *v) {
    char *end = NULL;
    errno = 0;
    *v = strtod(s, &end);
    return *s && !errno && end && *end == '\0' && end != s && isfinite(*v);
}

static int check_range(const struct cfg_key *k, double v, const char *text, const char *where) {
    if (v >= k->min && v <= k->max) return ST_OK;
    char lo[32], hi[32];
    cfg_format_double(lo, sizeof lo, k->min);
    cfg_format_double(hi, sizeof hi, k->max);
    return err_set(ST_USAGE, "%s: %s: %s is out of range; use a value from %s to %s", where, k->path,
                   text, lo, hi);
}

static int check_allowed(const struct cfg_key *k, const char *s, const char *where) {
    if (!k->allowed) return ST_OK;
    size_t n = strlen(s);
    for (const char *a = k->allowed; a;) {
        const char *bar = strchr(a, '|');
        size_t an = bar ? (size_t)(bar - a) : strlen(a);
        if (an == n && !strncmp(a, s, n)) return ST_OK;
        a = bar ? bar + 1 : NULL;
    }
    char list[256];
    snprintf(list, sizeof list, "%s", k->allowed);
    for (char *c = list; *c; c++)
        if (*c == '|') *c = ',';
    /* "pad,crop" -> "pad, crop" */
    char pretty[512];
    size_t j = 0;
    for (char *c = list; *c && j + 3 < sizeof pretty; c++) {
        pretty[j++] = *c;
        if (*c == ',') pretty[j++] = ' ';
    }
    pretty[j] = '\0';
    return err_set(ST_USAGE, "%s: %s: '%.80s' is not allowed; use one of: %s", where, k->path, s,
                   pretty);
}

/* Types one scalar text (already expanded) into k's field. */
static int apply_scalar(struct config *cfg, const struct cfg_key *k, const char *s, const char *where) {
    int rc = ST_OK;
    void *f = field_ptr(cfg, k);
    switch (k->type) {
    case CFG_BOOL: {
        int b;
        REQUIRE(parse_bool(s, &b), ST_USAGE, "%s: %s: expected a boolean (true or false), got '%.80s'",
                where, k->path, s);
        *(int *)f = b;
        break;
    }
    case CFG_INT:
    case CFG_INT64: {
        long long v;
        REQUIRE(parse_int(s, &v), ST_USAGE, "%s: %s: expected an integer, got '%.80s'", where,
                k->path, s);
        TRY(check_range(k, (double)v, s, where));
        if (k->type == CFG_INT) *(int *)f = (int)v;
        else *(int64_t *)f = (int64_t)v;
        break;
    }
    case CFG_FLOAT: {
        double v;
        REQUIRE(parse_double(s, &v), ST_USAGE, "%s: %s: expected a number, got '%.80s'", where,
                k->path, s);
        TRY(check_range(k, v, s, where));
        *(double *)f = v;
        break;
    }
    case CFG_STRING: {
        TRY(check_allowed(k, s, where));
        char *copy = strdup(s);
        TRY_ALLOC(copy);
        free(*(char **)f);
        *(char **)f = copy;
        break;
    }
    case CFG_STR_LIST:
    case CFG_COLOR:
        FAIL(ST_USAGE, "%s: %s: expected a %s, got '%.80s'", where, k->path,
             k->type == CFG_COLOR ? "colour [r, g, b] (integers 0 to 255)" : "list like [a, b]", s);
    }
fail:
    return rc;
}

static void str_list_free(struct str_list *l) {
    for (int i = 0; i < l->count; i++) free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

/* Applies one YAML node (NULL = the empty scalar) to key k. `file` names the
 * document for item positions; `where` prefixes messages about the whole value. */
static int apply_node(struct loader *L, const struct cfg_key *k, yaml_document_t *doc,
                      yaml_node_t *node, const char *file, const char *where) {
    int rc = ST_OK;
    char *text = NULL, item_where[WHERE_BYTES];
    struct str_list list = {0};
    if (!node || node->type == YAML_SCALAR_NODE) {
        TRY(expand_env(node ? (const char *)node->data.scalar.value : "", where, &text));
        TRY(apply_scalar(L->cfg, k, text, where));
    } else if (node->type == YAML_MAPPING_NODE || (k->type != CFG_STR_LIST && k->type != CFG_COLOR)) {
        FAIL(ST_USAGE, "%s: %s: expected %s %s, got %s", where, k->path,
             k->type == CFG_INT || k->type == CFG_INT64 ? "an" : "a", cfg_type_name(k->type),
             node_kind(node));
    } else {
        yaml_node_item_t *it = node->data.sequence.items.start;
        int n = (int)(node->data.sequence.items.top - it);
        if (k->type == CFG_COLOR)
            REQUIRE(n == 3, ST_USAGE, "%s: %s: expected a colour [r, g, b] (integers 0 to 255), got %d values",
                    where, k->path, n);
        list.items = calloc((size_t)n + 1, sizeof *list.items);
        TRY_ALLOC(list.items);
        for (int i = 0; i < n; i++) {
            yaml_node_t *item = yaml_document_get_node(doc, it[i]);
            if (file) where_mark(item_where, file, item->start_mark);
            else snprintf(item_where, sizeof item_where, "%s", where);
            REQUIRE(item->type == YAML_SCALAR_NODE, ST_USAGE, "%s: %s: list items must be %s, got %s",
                    item_where, k->path, k->type == CFG_COLOR ? "integers" : "strings", node_kind(item));
            TRY(expand_env((const char *)item->data.scalar.value, item_where, &list.items[i]));
            list.count++;
            if (k->type == CFG_COLOR) {
                long long v;
                REQUIRE(parse_int(list.items[i], &v) && v >= 0 && v <= 255, ST_USAGE,
                        "%s: %s: colour components are integers 0 to 255, got '%.80s'", item_where,
                        k->path, list.items[i]);
                ((int *)field_ptr(L->cfg, k))[i] = (int)v;
            } else {
                REQUIRE(list.items[i][0], ST_USAGE, "%s: %s: list items must not be empty", item_where,
                        k->path);
            }
        }
        if (k->type == CFG_STR_LIST) {
            struct str_list *dst = field_ptr(L->cfg, k);
            str_list_free(dst);
            *dst = list;
            list = (struct str_list){0};
        }
    }
    int idx = (int)(k - cfg_schema);
    free(L->origin[idx]);
    L->origin[idx] = strdup(where);
    TRY_ALLOC(L->origin[idx]);
fail:
    free(text);
    str_list_free(&list);
    return rc;
}

static int unknown_key(const char *path, const char *where) {
    char best[128];
    cfg_schema_suggest(path, best, sizeof best);
    return err_set(ST_USAGE, "%s: unknown key '%s'; did you mean '%s'?", where, path, best);
}

static int section_error(const char *path, const char *where, const char *got) {
    const char *example = "";
    size_t n = strlen(path);
    for (int i = 0; i < cfg_schema_count; i++)
        if (!strncmp(cfg_schema[i].path, path, n) && cfg_schema[i].path[n] == '.') {
            example = cfg_schema[i].path;
            break;
        }
    return err_set(ST_USAGE, "%s: '%s' is a section, not a key (got %s); set its keys, e.g. '%s'",
                   where, path, got, example);
}

/* Applies the pairs of a mapping node under `prefix` ("" at the top). */
static int apply_mapping(struct loader *L, yaml_document_t *doc, yaml_node_t *map, const char *prefix,
                         const char *file) {
    int rc = ST_OK;
    char where[WHERE_BYTES], path[256];
    yaml_node_pair_t *pairs = map->data.mapping.pairs.start;
    int n = (int)(map->data.mapping.pairs.top - pairs);
    for (int i = 0; i < n; i++) {
        yaml_node_t *key = yaml_document_get_node(doc, pairs[i].key);
        yaml_node_t *val = yaml_document_get_node(doc, pairs[i].value);
        where_mark(where, file, key->start_mark);
        REQUIRE(key->type == YAML_SCALAR_NODE, ST_USAGE, "%s: keys must be names, got %s", where,
                node_kind(key));
        const char *name = (const char *)key->data.scalar.value;
        if (!*prefix && !strcmp(name, "include")) continue; /* done by load_file */
        for (int j = 0; j < i; j++) {
            yaml_node_t *other = yaml_document_get_node(doc, pairs[j].key);
            REQUIRE(other->type != YAML_SCALAR_NODE ||
                        strcmp((const char *)other->data.scalar.value, name),
                    ST_USAGE, "%s: duplicate key '%s' (first at line %zu column %zu); keep one", where,
                    name, other->start_mark.line + 1, other->start_mark.column + 1);
        }
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", name);
        const struct cfg_key *k = cfg_schema_find(path);
        if (k) {
            where_mark(where, file, val->start_mark);
            TRY(apply_node(L, k, doc, val, file, where));
        } else if (cfg_schema_is_section(path)) {
            if (val->type != YAML_MAPPING_NODE) {
                where_mark(where, file, val->start_mark);
                CHECK_GEN(1, section_error(path, where, node_kind(val)));
            }
            TRY(apply_mapping(L, doc, val, path, file));
        } else {
            CHECK_GEN(1, unknown_key(path, where));
        }
    }
fail:
    return rc;
}

static int yaml_problem(const yaml_parser_t *p, const char *file) {
    char ctx[256] = "";
    if (p->context)
        snprintf(ctx, sizeof ctx, " (%s that started at line %zu column %zu)", p->context,
                 p->context_mark.line + 1, p->context_mark.column + 1);
    return err_set(ST_USAGE, "%s:%zu:%zu: malformed YAML: %s%s; fix the syntax there", file,
                   p->problem_mark.line + 1, p->problem_mark.column + 1,
                   p->problem ? p->problem : "unknown error", ctx);
}

static int load_file(struct loader *L, const char *file, const char *where);

/* Resolves an include path (relative to the including file) and loads it. */
static int load_include(struct loader *L, const char *from_file, const char *inc, const char *where) {
    int rc = ST_OK;
    const char *slash = strrchr(from_file, '/');
    size_t dir_len = slash ? (size_t)(slash - from_file) + 1 : 0;
    size_t n = dir_len + strlen(inc) + 1;
    char *resolved = malloc(n);
    TRY_ALLOC(resolved);
    if (inc[0] == '/') dir_len = 0;
    memcpy(resolved, from_file, dir_len);
    strcpy(resolved + dir_len, inc);
    struct stat st;
    if (stat(resolved, &st) != 0)
        FAIL(ST_USAGE, "%s: include '%s' not found (%s: %s); include paths are relative to the including file",
             where, inc, resolved, strerror(errno));
    REQUIRE(S_ISREG(st.st_mode), ST_USAGE, "%s: include '%s' (%s) is not a file; name a YAML file", where,
            inc, resolved);
    rc = load_file(L, resolved, where);
    if (rc != ST_OK) {
        char inner[2048];
        snprintf(inner, sizeof inner, "%s", err_msg());
        if (!strstr(inner, "include cycle")) err_set(rc, "%s (included from %s)", inner, where);
    }
fail:
    free(resolved);
    return rc;
}

/* Loads one file: its includes in order, then its own keys. `where` is the
 * include directive's position (NULL for the top file). */
static int load_file(struct loader *L, const char *file, const char *where) {
    int rc = ST_OK, have_parser = 0, have_doc = 0, pushed = 0;
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    char *inc = NULL, w[WHERE_BYTES];
    FILE *fp = NULL;

    struct stat st;
    if (stat(file, &st) != 0)
        FAIL(ST_USAGE, "config file '%s' not found: %s; give the path of a YAML file", file,
             strerror(errno));
    for (int i = 0; i < L->depth; i++) {
        if (L->dev[i] != st.st_dev || L->ino[i] != st.st_ino) continue;
        char chain[1024] = "";
        for (int j = i; j < L->depth; j++) {
            size_t len = strlen(chain);
            snprintf(chain + len, sizeof chain - len, "%s -> ", L->files[j]);
        }
        FAIL(ST_USAGE, "%s: include cycle: %s%s; remove one of these includes", where ? where : file,
             chain, file);
    }
    REQUIRE(L->depth < MAX_INCLUDE_DEPTH, ST_USAGE, "%s: includes nested deeper than %d; flatten them",
            where ? where : file, MAX_INCLUDE_DEPTH);
    fp = fopen(file, "rb");
    REQUIRE(fp, ST_USAGE, "cannot read config file '%s': %s", file, strerror(errno));
    REQUIRE(yaml_parser_initialize(&parser), ST_ERR, "libyaml: out of memory");
    have_parser = 1;
    yaml_parser_set_input_file(&parser, fp);
    if (!yaml_parser_load(&parser, &doc)) CHECK_GEN(1, yaml_problem(&parser, file));
    have_doc = 1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root) {
        /* A second document is almost always a stray '---'. */
        if (!yaml_parser_load(&parser, &extra)) CHECK_GEN(1, yaml_problem(&parser, file));
        yaml_node_t *extra_root = yaml_document_get_root_node(&extra);
        yaml_mark_t m = extra_root ? extra_root->start_mark : (yaml_mark_t){0, 0, 0};
        yaml_document_delete(&extra);
        where_mark(w, file, m);
        REQUIRE(!extra_root, ST_USAGE, "%s: a config file holds one YAML document; remove the second one", w);
    }
    if (!root) goto fail; /* empty file: nothing to apply, rc = ST_OK */
    where_mark(w, file, root->start_mark);
    REQUIRE(root->type == YAML_MAPPING_NODE, ST_USAGE,
            "%s: the top level must be a map of keys (e.g. 'train: {epochs: 5}'), got %s", w,
            node_kind(root));

    L->files[L->depth] = file;
    L->dev[L->depth] = st.st_dev;
    L->ino[L->depth] = st.st_ino;
    L->depth++;
    pushed = 1;
    /* Includes first, in order, so this file's own keys override them. */
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *key = yaml_document_get_node(&doc, p->key);
        yaml_node_t *val = yaml_document_get_node(&doc, p->value);
        if (key->type != YAML_SCALAR_NODE || strcmp((const char *)key->data.scalar.value, "include"))
            continue;
        yaml_node_t *one = val;
        yaml_node_item_t *items = NULL;
        int n = 1;
        if (val->type == YAML_SEQUENCE_NODE) {
            items = val->data.sequence.items.start;
            n = (int)(val->data.sequence.items.top - items);
        }
        for (int i = 0; i < n; i++) {
            if (items) one = yaml_document_get_node(&doc, items[i]);
            where_mark(w, file, one->start_mark);
            REQUIRE(one->type == YAML_SCALAR_NODE, ST_USAGE,
                    "%s: include: expected a file path or a list of paths, got %s", w, node_kind(one));
            TRY(expand_env((const char *)one->data.scalar.value, w, &inc));
            REQUIRE(inc[0], ST_USAGE, "%s: include: empty path; name a YAML file", w);
            TRY(load_include(L, file, inc, w));
            free(inc);
            inc = NULL;
        }
    }
    TRY(apply_mapping(L, &doc, root, "", file));
fail:
    if (pushed) L->depth--;
    free(inc);
    if (have_doc) yaml_document_delete(&doc);
    if (have_parser) yaml_parser_delete(&parser);
    if (fp) fclose(fp);
    return rc;
}

/* Parses `text` as one YAML value (scalar or flow list) and applies it. */
static int apply_text(struct loader *L, const struct cfg_key *k, const char *text, const char *where) {
    int rc = ST_OK, have_parser = 0, have_doc = 0;
    yaml_parser_t parser;
    yaml_document_t doc;
    REQUIRE(yaml_parser_initialize(&parser), ST_ERR, "libyaml: out of memory");
    have_parser = 1;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    if (!yaml_parser_load(&parser, &doc))
        FAIL(ST_USAGE, "%s: malformed value: %s; quote it or fix the list syntax", where,
             parser.problem ? parser.problem : "unknown error");
    have_doc = 1;
    TRY(apply_node(L, k, &doc, yaml_document_get_root_node(&doc), NULL, where));
fail:
    if (have_doc) yaml_document_delete(&doc);
    if (have_parser) yaml_parser_delete(&parser);
    return rc;
}

static int apply_set(struct loader *L, const char *set) {
    int rc = ST_OK;
    char where[WHERE_BYTES], key[256];
    const char *eq = strchr(set, '=');
    REQUIRE(eq && eq != set && (size_t)(eq - set) < sizeof key, ST_USAGE,
            "--set: expected KEY=VALUE (e.g. --set train.epochs=5), got '%.200s'", set);
    memcpy(key, set, (size_t)(eq - set));
    key[eq - set] = '\0';
    snprintf(where, sizeof where, "--set %.1000s", set);
    const struct cfg_key *k = cfg_schema_find(key);
    if (!k && cfg_schema_is_section(key)) {
        char got[96];
        snprintf(got, sizeof got, "'%.80s'", eq + 1);
        CHECK_GEN(1, section_error(key, where, got));
    }
    if (!k) CHECK_GEN(1, unknown_key(key, where));
    TRY(apply_text(L, k, eq + 1, where));
fail:
    return rc;
}

/* Checks between keys, after everything is applied. */
static int validate(struct loader *L) {
    const struct config *c = L->cfg;
    double sum = c->train.split_train + c->train.split_val + c->train.split_test;
    if (fabs(sum - 1.0) > 1e-6) {
        const struct cfg_key *k = cfg_schema_find("train.split.train");
        int i = (int)(k - cfg_schema);
        return err_set(ST_USAGE,
                       "train.split.train + train.split.val + train.split.test = %.6g (from %s, %s, %s); "
                       "the three shares must sum to 1",
                       sum, L->origin[i], L->origin[i + 1], L->origin[i + 2]);
    }
    return ST_OK;
}

void config_free(struct config *cfg) {
    if (!cfg) return;
    for (int i = 0; i < cfg_schema_count; i++) {
        const struct cfg_key *k = &cfg_schema[i];
        if (k->type == CFG_STRING) free(*(char **)field_ptr(cfg, k));
        else if (k->type == CFG_STR_LIST) str_list_free(field_ptr(cfg, k));
    }
    free(cfg);
}

int config_load(const char *path, const char *const *sets, int n_sets, struct config **out) {
    int rc = ST_OK;
    struct loader L = {0};
    *out = NULL;
    L.cfg = calloc(1, sizeof *L.cfg);
    TRY_ALLOC(L.cfg);
    L.origin = calloc((size_t)cfg_schema_count, sizeof *L.origin);
    TRY_ALLOC(L.origin);
    for (int i = 0; i < cfg_schema_count; i++) {
        char where[WHERE_BYTES];
        snprintf(where, sizeof where, "default of %s", cfg_schema[i].path);
        TRY(apply_text(&L, &cfg_schema[i], cfg_schema[i].def, where));
    }
    if (path) TRY(load_file(&L, path, NULL));
    for (int i = 0; i < n_sets; i++) TRY(apply_set(&L, sets[i]));
    TRY(validate(&L));
    *out = L.cfg;
    L.cfg = NULL;
fail:
    if (L.origin)
        for (int i = 0; i < cfg_schema_count; i++) free(L.origin[i]);
    free(L.origin);
    config_free(L.cfg);
    return rc;
}
