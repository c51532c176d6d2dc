/* runs.c - list and compare run records (see runs.h). */
#include "report/runs.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/check.h"
#include "util/status.h"

static char *dup_or_empty(const char *s) {
    char *d = strdup(s ? s : "");
    return d;
}

/* String attribute or "" (missing attributes are not an error here). */
static int attr_str(struct catalog *c, const char *grp, const char *name, char **out) {
    *out = NULL;
    if (catalog_has_attr(c, grp, name) == 1 && catalog_get_attr_str(c, grp, name, out) == ST_OK)
        return ST_OK;
    err_clear();
    *out = dup_or_empty("");
    return *out ? ST_OK : err_set(ST_ERR, "out of memory");
}

struct timing_list {
    int count;
    char **names;
    double *seconds;
    hid_t grp;
};

static herr_t collect_timing(hid_t loc, const char *name, const H5A_info_t *info, void *data) {
    (void)loc, (void)info;
    struct timing_list *t = data;
    if (strncmp(name, "time_", 5) != 0) return 0;
    char **nn = realloc(t->names, (size_t)(t->count + 1) * sizeof *nn);
    if (!nn) return -1;
    t->names = nn;
    double *ns = realloc(t->seconds, (size_t)(t->count + 1) * sizeof *ns);
    if (!ns) return -1;
    t->seconds = ns;
    double v = NAN;
    hid_t a = H5Aopen(t->grp, name, H5P_DEFAULT);
    if (a >= 0) {
        if (H5Aread(a, H5T_NATIVE_DOUBLE, &v) < 0) v = NAN;
        H5Aclose(a);
    }
    if (!(t->names[t->count] = strdup(name + 5))) return -1;
    t->seconds[t->count++] = v;
    return 0;
}

static int load_one(struct catalog *c, const char *id, struct run_info *r) {
    int rc = ST_OK;
    char grp[512], name[600];
    snprintf(grp, sizeof grp, "/runs/%s", id);
    TRY_ALLOC(r->id = strdup(id));
    TRY(attr_str(c, grp, "command", &r->command));
    TRY(attr_str(c, grp, "started", &r->started));
    TRY(attr_str(c, grp, "finished", &r->finished));
    TRY(attr_str(c, grp, "config_hash", &r->config_hash));
    TRY(attr_str(c, grp, "experiment", &r->experiment));
    TRY(attr_str(c, grp, "assort_version", &r->assort_version));
    TRY(attr_str(c, grp, "git_commit", &r->git_commit));
    TRY(attr_str(c, grp, "host", &r->host));
    TRY(attr_str(c, grp, "library_versions", &r->library_versions));
    r->ranks = r->seed = -1;
    r->wall_seconds = -1;
    if (catalog_has_attr(c, grp, "ranks") == 1) TRY(catalog_get_attr_i64(c, grp, "ranks", &r->ranks));
    if (catalog_has_attr(c, grp, "seed") == 1) TRY(catalog_get_attr_i64(c, grp, "seed", &r->seed));
    if (catalog_has_attr(c, grp, "wall_seconds") == 1)
        TRY(catalog_get_attr_f64(c, grp, "wall_seconds", &r->wall_seconds));
    r->complete = catalog_is_complete(c, grp) == 1;
    snprintf(name, sizeof name, "%s/config_yaml", grp);
    if (catalog_exists(c, name)) TRY(catalog_read_text(c, name, &r->config_yaml));
    else TRY_ALLOC(r->config_yaml = strdup(""));
    snprintf(name, sizeof name, "%s/metrics_json", grp);
    if (catalog_exists(c, name)) TRY(catalog_read_text(c, name, &r->metrics_text));
    else TRY_ALLOC(r->metrics_text = strdup("{}"));
    if (json_parse(r->metrics_text, strlen(r->metrics_text), name, &r->metrics) != ST_OK) {
        TRY_ALLOC(r->metrics_error = strdup(err_msg()));
        err_clear();
        r->metrics = NULL;
    }
    struct timing_list t = {0, NULL, NULL, -1};
    TRY_H5(t.grp = H5Gopen2(catalog_file(c), grp, H5P_DEFAULT));
    hsize_t idx = 0;
    herr_t it = H5Aiterate2(t.grp, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_timing, &t);
    H5Gclose(t.grp);
    r->n_timings = t.count, r->timing_names = t.names, r->timing_seconds = t.seconds;
    REQUIRE(it >= 0, ST_ERR, "%s: could not read the timing attributes", grp);
fail:
    return rc;
}

int runs_load(struct catalog *c, struct run_info **runs, int *count) {
    int rc = ST_OK, n = 0;
    char **ids = NULL;
    *runs = NULL;
    *count = 0;
    if (!catalog_exists(c, "/runs")) return ST_OK;
    TRY(catalog_list(c, "/runs", &ids, &n));
    if (n == 0) goto fail;
    TRY_ALLOC(*runs = calloc((size_t)n, sizeof **runs));
    *count = n;
    for (int i = 0; i < n; i++) TRY(load_one(c, ids[i], &(*runs)[i]));
fail:
    catalog_list_free(ids, n);
    if (rc != ST_OK) {
        runs_free(*runs, *count);
        *runs = NULL;
        *count = 0;
    }
    return rc;
}

void runs_free(struct run_info *runs, int count) {
    if (!runs) return;
    for (int i = 0; i < count; i++) {
        struct run_info *r = &runs[i];
        free(r->id), free(r->command), free(r->started), free(r->finished), free(r->config_hash);
        free(r->experiment), free(r->assort_version), free(r->git_commit), free(r->host);
        free(r->library_versions), free(r->config_yaml), free(r->metrics_text);
        free(r->metrics_error);
        json_free(r->metrics);
        for (int k = 0; k < r->n_timings; k++) free(r->timing_names[k]);
        free(r->timing_names), free(r->timing_seconds);
    }
    free(runs);
}

const struct run_info *runs_find(const struct run_info *runs, int count, const char *key) {
    const struct run_info *hit = NULL;
    int hits = 0;
    for (int i = 0; i < count; i++)
        if (!strcmp(runs[i].id, key)) return &runs[i];
    for (int i = 0; i < count; i++)
        if (strstr(runs[i].id, key)) hit = &runs[i], hits++;
    if (hits == 1) return hit;
    char list[1024] = "";
    size_t used = 0;
    for (int i = 0; i < count && used < sizeof list - 100; i++)
        if (hits == 0 || strstr(runs[i].id, key))
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", runs[i].id);
    if (count == 0) err_set(ST_USAGE, "no run '%s': the catalog holds no runs", key);
    else if (hits == 0) err_set(ST_USAGE, "no run '%s'; runs: %s (see `assort runs`)", key, list);
    else err_set(ST_USAGE, "'%s' names %d runs (%s); give more of the id", key, hits, list);
    return NULL;
}

const struct run_info *runs_latest(const struct run_info *runs, int count, const char *command) {
    for (int i = count - 1; i >= 0; i--)
        if (runs[i].complete && !strcmp(runs[i].command, command)) return &runs[i];
    return NULL;
}

static void appendf(char *out, size_t size, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void appendf(char *out, size_t size, size_t *used, const char *fmt, ...) {
    if (*used >= size) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + *used, size - *used, fmt, ap);
    va_end(ap);
    if (n > 0) *used += (size_t)n;
    if (*used >= size) *used = size - 1;
}

void runs_key_metrics(const struct run_info *r, char *out, size_t out_size) {
    size_t used = 0;
    out[0] = '\0';
    const struct json *m = r->metrics;
    if (!m) {
        snprintf(out, out_size, "(metrics unreadable)");
        return;
    }
    if (!strcmp(r->command, "train") && json_get(m, "levels")) {
        const struct json *lv = json_get(m, "levels");
        for (size_t k = 0; lv->type == JSON_OBJECT && k < lv->count; k++) {
            const struct json *t = json_get(&lv->items[k], "test");
            const char *part = "test";
            if (!t) t = json_get(&lv->items[k], "val"), part = "val";
            double top1 = json_number_or(json_get(t, "top1"), NAN);
            double f1 = json_number_or(json_get(t, "macro_f1"), NAN);
            appendf(out, out_size, &used, "%s%s %s top-1 %.4f F1 %.4f", k ? ", " : "", lv->keys[k],
                    part, top1, f1);
        }
        return;
    }
    if (!strcmp(r->command, "similarity")) {
        appendf(out, out_size, &used, "queries %.0f, dup groups %.0f, AUC %.4f",
                json_number_or(json_get(m, "queries"), NAN),
                json_number_or(json_get(m, "duplicate_groups"), NAN),
                json_number_or(json_get(m, "auc_fixed"), NAN));
        return;
    }
    /* ingest, extract, classify, ...: the first top-level numbers, with a
     * rate (images/s, rows/s) first when there is one. */
    int shown = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t k = 0; m->type == JSON_OBJECT && k < m->count && shown < 4; k++) {
            const char *key = m->keys[k];
            int rate = strstr(key, "per_s") != NULL || strstr(key, "_per_") != NULL;
            if (m->items[k].type != JSON_NUMBER || rate != (pass == 0)) continue;
            appendf(out, out_size, &used, "%s%s %.6g", shown ? ", " : "", key, m->items[k].number);
            shown++;
        }
}

/* JSON string literal to f. */
static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

int runs_print(FILE *f, const struct run_info *runs, int count, int json) {
    char km[512];
    if (json) {
        fprintf(f, "[");
        for (int i = 0; i < count; i++) {
            const struct run_info *r = &runs[i];
            runs_key_metrics(r, km, sizeof km);
            fprintf(f, "%s\n  {\"id\": ", i ? "," : "");
            json_str(f, r->id);
            fprintf(f, ", \"command\": "), json_str(f, r->command);
            fprintf(f, ", \"started\": "), json_str(f, r->started);
            fprintf(f, ", \"finished\": "), json_str(f, r->finished);
            fprintf(f, ", \"complete\": %s, \"config_hash\": ", r->complete ? "true" : "false");
            json_str(f, r->config_hash);
            fprintf(f, ", \"experiment\": "), json_str(f, r->experiment);
            if (r->wall_seconds >= 0 && isfinite(r->wall_seconds))
                fprintf(f, ", \"wall_seconds\": %.17g", r->wall_seconds);
            else
                fprintf(f, ", \"wall_seconds\": null");
            fprintf(f, ", \"ranks\": %lld, \"key_metrics\": ", (long long)r->ranks);
            json_str(f, km);
            /* the stored object verbatim: it parsed, so it is valid JSON */
            fprintf(f, ", \"metrics\": %s}", r->metrics ? r->metrics_text : "null");
        }
        fprintf(f, "%s]\n", count ? "\n" : "");
        return ferror(f) ? err_set(ST_ERR, "could not write the run list") : ST_OK;
    }
    if (count == 0) {
        fprintf(f, "no runs in this catalog\n");
        return ST_OK;
    }
    int wid = 2, wcmd = 7;
    for (int i = 0; i < count; i++) {
        if ((int)strlen(runs[i].id) > wid) wid = (int)strlen(runs[i].id);
        if ((int)strlen(runs[i].command) > wcmd) wcmd = (int)strlen(runs[i].command);
    }
    fprintf(f, "%-*s  %-19s  %-*s  %-16s  %8s  %s\n", wid, "id", "date", wcmd, "command",
            "config hash", "wall s", "key metrics");
    for (int i = 0; i < count; i++) {
        const struct run_info *r = &runs[i];
        char date[20] = "?", wall[32] = "-";
        if (strlen(r->started) >= 19) {
            memcpy(date, r->started, 19);
            date[10] = ' ';
            date[19] = '\0';
        }
        if (r->wall_seconds >= 0) snprintf(wall, sizeof wall, "%.2f", r->wall_seconds);
        runs_key_metrics(r, km, sizeof km);
        fprintf(f, "%-*s  %-19s  %-*s  %-16s  %8s  %s%s\n", wid, r->id, date, wcmd, r->command,
                r->config_hash, wall, r->complete ? "" : "INCOMPLETE ", km);
    }
    return ferror(f) ? err_set(ST_ERR, "could not write the run list") : ST_OK;
}

/* ---- YAML flattening -------------------------------------------------- */

static char *strip(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = '\0';
    return s;
}

int runs_yaml_flatten(const char *yaml, char ***keys, char ***values, int *count) {
    int rc = ST_OK, n = 0, cap = 0;
    char **k = NULL, **v = NULL, *text = NULL;
    char path[16][128];   /* key at each indentation depth */
    int indent[16], depth = 0;
    TRY_ALLOC(text = strdup(yaml));
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int ind = 0;
        while (line[ind] == ' ') ind++;
        char *body = strip(line + ind);
        if (!*body || *body == '#') continue;
        while (depth > 0 && indent[depth - 1] >= ind) depth--;
        if (body[0] == '-' && (body[1] == ' ' || body[1] == '\0') && n > 0) {
            /* block list item: append to the previous key's value */
            size_t need = strlen(v[n - 1]) + strlen(body) + 4;
            char *nv = realloc(v[n - 1], need);
            TRY_ALLOC(nv);
            v[n - 1] = nv;
            strcat(nv, *nv ? ", " : "");
            strcat(nv, strip(body + 1));
            continue;
        }
        char *colon = strstr(body, ": ");
        if (!colon && body[strlen(body) - 1] == ':') colon = body + strlen(body) - 1;
        if (!colon) continue;
        *colon = '\0';
        char *val = strip(colon + 1);
        char full[2048];
        size_t used = 0;
        full[0] = '\0';
        for (int d = 0; d < depth; d++)
            used += (size_t)snprintf(full + used, sizeof full - used, "%s.", path[d]);
        snprintf(full + used, sizeof full - used, "%s", strip(body));
        /* a mapping key (its children follow, or a block list) is recorded with
         * the value "" and becomes the path prefix of the lines below it */
        int is_key = !*val || *val == '#';
        if (is_key && depth < 16) {
            snprintf(path[depth], sizeof path[depth], "%s", strip(body));
            indent[depth++] = ind;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nk = realloc(k, (size_t)cap * sizeof *nk);
            TRY_ALLOC(nk);
            k = nk;
            char **nv = realloc(v, (size_t)cap * sizeof *nv);
            TRY_ALLOC(nv);
            v = nv;
        }
        TRY_ALLOC(k[n] = strdup(full));
        v[n] = strdup(is_key ? "" : val);
        if (!v[n]) { free(k[n]); FAIL(ST_ERR, "out of memory"); }
        n++;
    }
    /* drop mapping keys that got children (value "" and a following key with the prefix) */
    int w = 0;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(k[i]);
        int parent = !*v[i] && i + 1 < n && !strncmp(k[i + 1], k[i], len) && k[i + 1][len] == '.';
        if (parent) {
            free(k[i]), free(v[i]);
            continue;
        }
        k[w] = k[i], v[w] = v[i], w++;
    }
    n = w;
fail:
    free(text);
    if (rc != ST_OK) {
        runs_pairs_free(k, v, n);
        k = v = NULL;
        n = 0;
    }
    *keys = k, *values = v, *count = n;
    return rc;
}

void runs_pairs_free(char **keys, char **values, int count) {
    for (int i = 0; i < count; i++) {
        if (keys) free(keys[i]);
        if (values) free(values[i]);
    }
    free(keys);
    free(values);
}

/* ---- comparison ------------------------------------------------------- */

struct leaf_list {
    int count, cap;
    char **keys;
    const struct json **vals;
};

static int collect_leaf(const char *key, const struct json *leaf, void *ctx) {
    struct leaf_list *l = ctx;
    if (l->count == l->cap) {
        int nc = l->cap ? l->cap * 2 : 128;
        char **nk = realloc(l->keys, (size_t)nc * sizeof *nk);
        if (!nk) return err_set(ST_ERR, "out of memory");
        l->keys = nk;
        const struct json **nv = realloc(l->vals, (size_t)nc * sizeof *nv);
        if (!nv) return err_set(ST_ERR, "out of memory");
        l->vals = nv;
        l->cap = nc;
    }
    if (!(l->keys[l->count] = strdup(key))) return err_set(ST_ERR, "out of memory");
    l->vals[l->count++] = leaf;
    return ST_OK;
}

static void leaf_list_free(struct leaf_list *l) {
    for (int i = 0; i < l->count; i++) free(l->keys[i]);
    free(l->keys);
    free(l->vals);
}

static void leaf_text(const struct json *v, char *out, size_t n) {
    if (!v) snprintf(out, n, "(absent)");
    else if (v->type == JSON_NUMBER) snprintf(out, n, "%.6g", v->number);
    else if (v->type == JSON_STRING) snprintf(out, n, "%s", v->string);
    else if (v->type == JSON_BOOL) snprintf(out, n, "%s", v->boolean ? "true" : "false");
    else if (v->type == JSON_NULL) snprintf(out, n, "null");
    else snprintf(out, n, v->type == JSON_ARRAY ? "[]" : "{}");
}

static int leaf_equal(const struct json *a, const struct json *b) {
    if (!a || !b || a->type != b->type) return 0;
    switch (a->type) {
    case JSON_NUMBER: return a->number == b->number;
    case JSON_STRING: return !strcmp(a->string, b->string);
    case JSON_BOOL: return a->boolean == b->boolean;
    default: return 1;
    }
}

static int find_key(char **keys, int n, const char *key) {
    for (int i = 0; i < n; i++)
        if (!strcmp(keys[i], key)) return i;
    return -1;
}

/* Keys whose values are naturally different between any two runs. */
static int is_identity_key(const char *key) {
    return !strcmp(key, "run_id") || !strcmp(key, "config_hash") || !strcmp(key, "catalog") ||
           strstr(key, "seconds") != NULL;
}

int runs_compare(FILE *f, const struct run_info *a, const struct run_info *b) {
    int rc = ST_OK, na = 0, nb = 0;
    char **ka = NULL, **va = NULL, **kb = NULL, **vb = NULL;
    struct leaf_list la = {0}, lb = {0};
    fprintf(f, "A: %s  (%s, config %s, %s)\nB: %s  (%s, config %s, %s)\n\n", a->id, a->command,
            a->config_hash, a->started, b->id, b->command, b->config_hash, b->started);
    TRY(runs_yaml_flatten(a->config_yaml, &ka, &va, &na));
    TRY(runs_yaml_flatten(b->config_yaml, &kb, &vb, &nb));
    int diffs = 0;
    fprintf(f, "config (A -> B):\n");
    for (int i = 0; i < na; i++) {
        int j = find_key(kb, nb, ka[i]);
        if (j < 0) fprintf(f, "  %s: %s -> (absent)\n", ka[i], va[i]), diffs++;
        else if (strcmp(va[i], vb[j])) fprintf(f, "  %s: %s -> %s\n", ka[i], va[i], vb[j]), diffs++;
    }
    for (int j = 0; j < nb; j++)
        if (find_key(ka, na, kb[j]) < 0) fprintf(f, "  %s: (absent) -> %s\n", kb[j], vb[j]), diffs++;
    if (!diffs) fprintf(f, "  (identical: %d keys)\n", na);
    fprintf(f, "\nmetrics (A, B, B - A):\n");
    if (!a->metrics || !b->metrics) {
        fprintf(f, "  not comparable: %s\n", a->metrics ? b->metrics_error : a->metrics_error);
        goto fail;
    }
    TRY(json_flatten(a->metrics, collect_leaf, &la));
    TRY(json_flatten(b->metrics, collect_leaf, &lb));
    int width = 6, equal = 0;
    for (int i = 0; i < la.count; i++)
        if ((int)strlen(la.keys[i]) > width) width = (int)strlen(la.keys[i]);
    for (int j = 0; j < lb.count; j++)
        if ((int)strlen(lb.keys[j]) > width) width = (int)strlen(lb.keys[j]);
    if (width > 70) width = 70;
    fprintf(f, "  %-*s  %14s  %14s  %12s\n", width, "metric", "A", "B", "B - A");
    for (int pass = 0; pass < 2; pass++) {
        /* pass 0: keys of A (in A's order); pass 1: keys only in B */
        int n = pass ? lb.count : la.count;
        for (int i = 0; i < n; i++) {
            const char *key = pass ? lb.keys[i] : la.keys[i];
            int ia = find_key(la.keys, la.count, key), ib = find_key(lb.keys, lb.count, key);
            if (pass && ia >= 0) continue;
            if (is_identity_key(key) && ia >= 0 && ib >= 0) continue;
            const struct json *x = ia >= 0 ? la.vals[ia] : NULL, *y = ib >= 0 ? lb.vals[ib] : NULL;
            if (leaf_equal(x, y)) {
                equal++;
                continue;
            }
            char ta[64], tb[64], td[32] = "";
            leaf_text(x, ta, sizeof ta);
            leaf_text(y, tb, sizeof tb);
            if (x && y && x->type == JSON_NUMBER && y->type == JSON_NUMBER)
                snprintf(td, sizeof td, "%+.4g", y->number - x->number);
            fprintf(f, "  %-*s  %14s  %14s  %12s\n", width, key, ta, tb, td);
        }
    }
    fprintf(f, "  (%d equal metric values not shown)\n", equal);
fail:
    runs_pairs_free(ka, va, na);
    runs_pairs_free(kb, vb, nb);
    leaf_list_free(&la);
    leaf_list_free(&lb);
    return rc;
}
