/* plan.c - jobs/nightly.yaml -> struct nightly_plan (libyaml document API). */
#include "nightly/plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/check.h"

struct ctx {
    yaml_document_t *doc;
    const char *file;
};

/* "file:line:col: message" for a node. */
#define NODE_FAIL(cx, node, ...)                                                          \
    CHECK_GEN(1, node_err((cx), (node), __VA_ARGS__))

static int node_err(const struct ctx *cx, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int node_err(const struct ctx *cx, const yaml_node_t *n, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(ST_USAGE, "%s:%zu:%zu: %s", cx->file, n->start_mark.line + 1,
                   n->start_mark.column + 1, msg);
}

static const char *scalar(const yaml_node_t *n) {
    return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int get_str(const struct ctx *cx, const yaml_node_t *n, const char *key, char **out) {
    int rc = ST_OK;
    const char *s = scalar(n);
    if (!s) NODE_FAIL(cx, n, "'%s' must be a string", key);
    free(*out);
    TRY_ALLOC(*out = strdup(s));
fail:
    return rc;
}

static int get_int(const struct ctx *cx, const yaml_node_t *n, const char *key, int lo, int hi,
                   int *out) {
    int rc = ST_OK;
    const char *s = scalar(n);
    char *end = NULL;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno) NODE_FAIL(cx, n, "'%s' must be an integer", key);
    if (v < lo || v > hi) NODE_FAIL(cx, n, "'%s' = %ld is out of range %d to %d", key, v, lo, hi);
    *out = (int)v;
fail:
    return rc;
}

/* A list of strings (a single scalar is accepted as a one-item list). */
static int get_list(const struct ctx *cx, const yaml_node_t *n, const char *key,
                    struct str_list *out) {
    int rc = ST_OK;
    for (int i = 0; i < out->count; i++) free(out->items[i]);
    free(out->items);
    out->items = NULL;
    out->count = 0;
    if (n->type == YAML_SCALAR_NODE) {
        TRY_ALLOC(out->items = calloc(1, sizeof *out->items));
        TRY_ALLOC(out->items[0] = strdup(scalar(n)));
        out->count = 1;
        return ST_OK;
    }
    if (n->type != YAML_SEQUENCE_NODE) NODE_FAIL(cx, n, "'%s' must be a list of strings", key);
    int count = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
    TRY_ALLOC(out->items = calloc((size_t)count + 1, sizeof *out->items));
    for (int i = 0; i < count; i++) {
        yaml_node_t *it = yaml_document_get_node(cx->doc, n->data.sequence.items.start[i]);
        if (!scalar(it)) NODE_FAIL(cx, it, "'%s' items must be strings", key);
        TRY_ALLOC(out->items[i] = strdup(scalar(it)));
        out->count = i + 1;
    }
fail:
    return rc;
}

static int parse_resources(const struct ctx *cx, const yaml_node_t *n, struct plan_stage *st) {
    int rc = ST_OK;
    if (n->type != YAML_MAPPING_NODE)
        NODE_FAIL(cx, n, "'resources' must be a mapping (ranks, cpus_per_rank, gpus_per_rank, time)");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(cx->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(cx->doc, p->value);
        const char *key = scalar(k);
        if (!key) NODE_FAIL(cx, k, "resource keys must be strings");
        if (!strcmp(key, "ranks")) TRY(get_int(cx, v, key, 1, 100000, &st->ranks));
        else if (!strcmp(key, "cpus_per_rank")) TRY(get_int(cx, v, key, 1, 1024, &st->cpus_per_rank));
        else if (!strcmp(key, "gpus_per_rank")) TRY(get_int(cx, v, key, 0, 16, &st->gpus_per_rank));
        else if (!strcmp(key, "time")) {
            TRY(get_str(cx, v, key, &st->time));
            for (const char *c = st->time; *c; c++)
                if (!strchr("0123456789:-", *c))
                    NODE_FAIL(cx, v, "'time' = '%s' is not a Slurm time (minutes, HH:MM:SS or D-HH:MM:SS)",
                              st->time);
        } else
            NODE_FAIL(cx, k, "unknown resource key '%s'; known: ranks, cpus_per_rank, gpus_per_rank, time",
                      key);
    }
fail:
    return rc;
}

static int parse_stage(const struct ctx *cx, const yaml_node_t *n, struct plan_stage *st) {
    int rc = ST_OK;
    st->ranks = 1;
    st->cpus_per_rank = 1;
    st->line = (int)n->start_mark.line + 1;
    if (n->type != YAML_MAPPING_NODE) NODE_FAIL(cx, n, "a stage must be a mapping with name: and command:");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(cx->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(cx->doc, p->value);
        const char *key = scalar(k);
        if (!key) NODE_FAIL(cx, k, "stage keys must be strings");
        if (!strcmp(key, "name")) TRY(get_str(cx, v, key, &st->name));
        else if (!strcmp(key, "command")) TRY(get_str(cx, v, key, &st->command));
        else if (!strcmp(key, "when")) {
            const char *w = scalar(v);
            if (w && !strcmp(w, "always")) st->when = PLAN_ALWAYS;
            else if (w && !strcmp(w, "changed")) st->when = PLAN_CHANGED;
            else NODE_FAIL(cx, v, "'when' must be 'always' or 'changed'");
        } else if (!strcmp(key, "args")) TRY(get_list(cx, v, key, &st->args));
        else if (!strcmp(key, "set")) {
            TRY(get_list(cx, v, key, &st->sets));
            for (int i = 0; i < st->sets.count; i++)
                if (!strchr(st->sets.items[i], '=') || strchr(st->sets.items[i], ';'))
                    NODE_FAIL(cx, v, "'set' item '%s' must be key.path=value (no ';')", st->sets.items[i]);
        } else if (!strcmp(key, "resources")) TRY(parse_resources(cx, v, st));
        else if (!strcmp(key, "inputs")) TRY(get_list(cx, v, key, &st->inputs));
        else if (!strcmp(key, "outputs")) TRY(get_list(cx, v, key, &st->outputs));
        else if (!strcmp(key, "description")) {
            if (!scalar(v)) NODE_FAIL(cx, v, "'description' must be a string");
        } else
            NODE_FAIL(cx, k, "unknown stage key '%s'; known: name, command, when, args, set, "
                             "resources, inputs, outputs, description", key);
    }
    if (!st->name || !*st->name) NODE_FAIL(cx, n, "this stage has no 'name:'");
    if (!st->command || !*st->command) NODE_FAIL(cx, n, "stage '%s' has no 'command:'", st->name);
    for (const char *c = st->name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_'))
            NODE_FAIL(cx, n, "stage name '%s': use lower-case letters, digits, '-' and '_'", st->name);
    if (!st->time) TRY_ALLOC(st->time = strdup("01:00:00"));
fail:
    return rc;
}

int plan_load(const char *path, struct nightly_plan **out) {
    int rc = ST_OK;
    FILE *fp = NULL;
    yaml_parser_t parser;
    yaml_document_t doc;
    int have_parser = 0, have_doc = 0;
    struct nightly_plan *p = NULL;
    struct ctx cx = {&doc, path};
    *out = NULL;

    TRY_ALLOC(p = calloc(1, sizeof *p));
    TRY_ALLOC(p->file = strdup(path));
    fp = fopen(path, "rb");
    if (!fp) FAIL(ST_ERR, "%s: cannot open the pipeline file: %s", path, strerror(errno));
    REQUIRE(yaml_parser_initialize(&parser), ST_ERR, "libyaml: out of memory");
    have_parser = 1;
    yaml_parser_set_input_file(&parser, fp);
    if (!yaml_parser_load(&parser, &doc))
        FAIL(ST_USAGE, "%s:%zu:%zu: YAML syntax: %s", path, parser.problem_mark.line + 1,
             parser.problem_mark.column + 1, parser.problem ? parser.problem : "malformed");
    have_doc = 1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) FAIL(ST_USAGE, "%s: empty pipeline file; it needs 'stages:' (see jobs/nightly.yaml)", path);
    if (root->type != YAML_MAPPING_NODE)
        NODE_FAIL(&cx, root, "the top level must be a mapping with 'stages:'");
    int have_stages = 0;
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(&doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(&doc, pr->value);
        const char *key = scalar(k);
        if (!key) NODE_FAIL(&cx, k, "top-level keys must be strings");
        if (!strcmp(key, "name")) TRY(get_str(&cx, v, key, &p->name));
        else if (!strcmp(key, "config")) TRY(get_str(&cx, v, key, &p->config));
        else if (!strcmp(key, "version")) {
            int ver = 0;
            TRY(get_int(&cx, v, key, 1, 1, &ver));
        } else if (!strcmp(key, "description")) {
            if (!scalar(v)) NODE_FAIL(&cx, v, "'description' must be a string");
        } else if (!strcmp(key, "stages")) {
            if (v->type != YAML_SEQUENCE_NODE) NODE_FAIL(&cx, v, "'stages' must be a list of stages");
            int count = (int)(v->data.sequence.items.top - v->data.sequence.items.start);
            if (count < 1) NODE_FAIL(&cx, v, "'stages' is empty");
            if (count > PLAN_MAX_STAGES) NODE_FAIL(&cx, v, "at most %d stages", PLAN_MAX_STAGES);
            for (int i = 0; i < count; i++) {
                yaml_node_t *sn = yaml_document_get_node(&doc, v->data.sequence.items.start[i]);
                p->n_stages = i + 1;
                TRY(parse_stage(&cx, sn, &p->stages[i]));
                for (int j = 0; j < i; j++)
                    if (!strcmp(p->stages[j].name, p->stages[i].name))
                        NODE_FAIL(&cx, sn, "stage name '%s' repeats the stage at line %d",
                                  p->stages[i].name, p->stages[j].line);
            }
            have_stages = 1;
        } else
            NODE_FAIL(&cx, k, "unknown key '%s'; known: version, name, description, config, stages", key);
    }
    if (!have_stages) NODE_FAIL(&cx, root, "no 'stages:' list");
    if (!p->name) TRY_ALLOC(p->name = strdup("nightly"));
    if (!p->config) TRY_ALLOC(p->config = strdup(""));
    *out = p;
    p = NULL;
fail:
    if (have_doc) yaml_document_delete(&doc);
    if (have_parser) yaml_parser_delete(&parser);
    if (fp) fclose(fp);
    plan_free(p);
    return rc;
}

const struct plan_stage *plan_find(const struct nightly_plan *p, const char *name) {
    for (int i = 0; i < p->n_stages; i++)
        if (!strcmp(p->stages[i].name, name)) return &p->stages[i];
    return NULL;
}

static void list_free(struct str_list *l) {
    for (int i = 0; i < l->count; i++) free(l->items[i]);
    free(l->items);
}

void plan_free(struct nightly_plan *p) {
    if (!p) return;
    for (int i = 0; i < PLAN_MAX_STAGES; i++) {
        struct plan_stage *s = &p->stages[i];
        free(s->name), free(s->command), free(s->time);
        list_free(&s->args), list_free(&s->sets), list_free(&s->inputs), list_free(&s->outputs);
    }
    free(p->file), free(p->name), free(p->config);
    free(p);
}
