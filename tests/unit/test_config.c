/* test_config.c - the YAML config loader: defaults, every value type, nested
 * includes and their override order, ${ENV}, --set, each error kind with its
 * exact file:line:column, and hash stability.
 *
 * Fixtures: tests/data/config/. Expected positions were counted by hand from
 * the fixture text (1-based line:column), the malformed-YAML mark checked
 * against PyYAML's parser; expected values come from the task's defaults list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config/schema.h"
#include "testlib.h"
#include "util/status.h"

#ifndef ASSORT_SRC_DIR
#error "ASSORT_SRC_DIR must name the source tree"
#endif
#define FIX ASSORT_SRC_DIR "/tests/data/config/"

static struct config *load(const char *path, const char *const *sets, int n_sets) {
    struct config *cfg = NULL;
    int rc = config_load(path, sets, n_sets, &cfg);
    EXPECT(rc == ST_OK && cfg, "config_load(%s) = %d: %s", path ? path : "NULL", rc, err_msg());
    return cfg;
}

/* Loading must fail with ST_USAGE, no config, and exactly `want` as message. */
static void expect_error(const char *path, const char *const *sets, int n_sets, const char *want) {
    struct config *cfg = (struct config *)0x1;
    err_clear();
    int rc = config_load(path, sets, n_sets, &cfg);
    EXPECT_INT(rc, ST_USAGE);
    EXPECT(cfg == NULL, "no config on error (%s)", path ? path : "--set");
    EXPECT_STR(err_msg(), want);
}

static int list_is(const struct str_list *l, int n, const char *const *want) {
    if (l->count != n) return 0;
    for (int i = 0; i < n; i++)
        if (strcmp(l->items[i], want[i])) return 0;
    return 1;
}

static void test_defaults(void) {
    struct config *c = load(NULL, NULL, 0);
    if (!c) return;
    EXPECT_INT(c->ingest.image_size, 224);
    EXPECT_STR(c->ingest.fit, "pad");
    EXPECT(c->ingest.background[0] == 255 && c->ingest.background[1] == 255 &&
               c->ingest.background[2] == 255, "background white");
    EXPECT_STR(c->ingest.upscale, "bilinear");
    EXPECT_INT(c->ingest.max_pixels, 50000000);
    EXPECT_INT(c->ingest.max_name_bytes, 255);
    EXPECT_NEAR(c->ingest.max_reject_ratio, 0.5, 0);
    EXPECT_STR(c->ingest.id_column, "id");
    EXPECT_STR(c->ingest.image_column, "image");
    EXPECT(list_is(&c->ingest.levels, 3,
                   (const char *[]){"master_category", "sub_category", "article_type"}), "ingest.levels");
    EXPECT(list_is(&c->ingest.keep_columns, 2, (const char *[]){"colour", "usage"}), "keep_columns");
    EXPECT_STR(c->extract.backbone, "lite0");
    EXPECT_STR(c->extract.precision, "bf16");
    EXPECT_INT(c->extract.batch, 32);
    EXPECT_INT(c->extract.normalized_copy, 1);
    EXPECT_INT(c->extract.commit_every, 8);
    EXPECT(list_is(&c->train.levels, 2, (const char *[]){"master_category", "article_type"}), "train.levels");
    EXPECT_INT(c->train.epochs, 30);
    EXPECT_INT(c->train.batch, 256);
    EXPECT_STR(c->train.optimizer, "adamw");
    EXPECT_NEAR(c->train.lr, 0.001, 0);
    EXPECT_NEAR(c->train.weight_decay, 0.0001, 0);
    EXPECT_INT(c->train.nesterov, 1);
    EXPECT_NEAR(c->train.split_train, 0.8, 0);
    EXPECT_NEAR(c->train.split_val, 0.1, 0);
    EXPECT_STR(c->train.split_column, "");
    EXPECT_INT(c->similarity.k, 20);
    EXPECT_NEAR(c->similarity.duplicate_threshold, 0.92, 0);
    EXPECT_INT(c->similarity.learn_weights, 0);
    EXPECT_NEAR(c->classify.mislabel_threshold, 0.9, 0);
    EXPECT_INT(c->report.review_rows, 50);
    EXPECT_NEAR(c->nightly.drift_alert, 0.2, 0);
    EXPECT_INT(c->run.seed, 42);
    EXPECT_NEAR(c->run.progress_interval, 10, 0);
    EXPECT_STR(c->catalog.path, "catalog.h5");
    EXPECT_INT(c->catalog.deflate, 0);
    config_free(c);

    c = load(FIX "empty.yaml", NULL, 0);
    if (c) EXPECT_INT(c->train.epochs, 30);
    config_free(c);
}

static void test_types(void) {
    struct config *c = load(FIX "types.yaml", NULL, 0);
    if (!c) return;
    EXPECT_STR(c->run.name, "demo run");
    EXPECT_INT(c->run.seed, 123456789012LL);
    EXPECT_INT(c->run.threads, 3);
    EXPECT_NEAR(c->run.progress_interval, 2.5, 0);
    EXPECT(list_is(&c->ingest.levels, 2, (const char *[]){"master_category", "article_type"}), "block list");
    EXPECT_INT(c->ingest.keep_columns.count, 0);
    EXPECT(c->ingest.background[0] == 0 && c->ingest.background[1] == 128 &&
               c->ingest.background[2] == 255, "colour [0,128,255]");
    EXPECT_STR(c->ingest.fit, "crop");
    EXPECT_INT(c->ingest.max_pixels, 10000000000LL);
    EXPECT_INT(c->ingest.allow_outside_root, 1);
    EXPECT_STR(c->extract.backbone, "lite2");
    EXPECT_INT(c->extract.normalized_copy, 0);
    EXPECT_STR(c->extract.precision, "fp16");
    EXPECT_NEAR(c->train.split_train, 0.7, 0);
    EXPECT_NEAR(c->train.split_val, 0.2, 0);
    EXPECT_NEAR(c->train.lr, 1e-3, 0);
    EXPECT_INT(c->train.epochs, 5);
    EXPECT_STR(c->extract.device, "auto"); /* untouched keys keep defaults */
    config_free(c);
}

static void test_includes(void) {
    struct config *c = load(FIX "mid.yaml", NULL, 0);
    if (c) {
        EXPECT_INT(c->train.epochs, 20); /* mid overrides base */
        EXPECT_INT(c->train.batch, 64);  /* from base */
        EXPECT_STR(c->train.head, "mlp");
        EXPECT_INT(c->similarity.k, 7);
    }
    config_free(c);
    /* top: mid (base, then mid), then sub/extra (base again, then extra), then
     * top's own keys. base re-applied by extra resets epochs to 10. */
    c = load(FIX "top.yaml", NULL, 0);
    if (c) {
        EXPECT_INT(c->train.epochs, 10);
        EXPECT_INT(c->train.batch, 128);
        EXPECT_STR(c->train.head, "mlp");
        EXPECT_INT(c->similarity.k, 9);
        EXPECT_INT(c->similarity.ngram, 4);
        EXPECT_STR(c->run.name, "base");
    }
    config_free(c);
}

static void test_env(void) {
    setenv("ASSORT_TEST_NAME", "abc", 1);
    setenv("ASSORT_TEST_SEED", "77", 1);
    unsetenv("ASSORT_TEST_UNSET_VAR");
    struct config *c = load(FIX "env.yaml", NULL, 0);
    if (c) {
        EXPECT_STR(c->run.name, "abc-run");
        EXPECT_INT(c->run.seed, 77);
        EXPECT_STR(c->catalog.path, "fallback.h5");
        EXPECT_STR(c->classify.out_dir, "cost $5 in abc");
        EXPECT(list_is(&c->ingest.levels, 2, (const char *[]){"abc", "b"}), "env in list items");
    }
    config_free(c);
    setenv("ASSORT_TEST_UNSET_VAR", "", 1); /* ${X:-d}: empty counts as unset */
    c = load(FIX "env.yaml", NULL, 0);
    if (c) EXPECT_STR(c->catalog.path, "fallback.h5");
    config_free(c);
    setenv("ASSORT_TEST_UNSET_VAR", "given.h5", 1);
    c = load(FIX "env.yaml", NULL, 0);
    if (c) EXPECT_STR(c->catalog.path, "given.h5");
    config_free(c);
    unsetenv("ASSORT_TEST_UNSET_VAR");
}

static void test_sets(void) {
    const char *sets[] = {"train.epochs=3", "ingest.levels=[a, b]", "train.epochs=4",
                          "ingest.background=[1,2,3]", "run.name=x y", "train.nesterov=false",
                          "classify.out_dir=", "train.lr=2.5e-4"};
    struct config *c = load(FIX "mid.yaml", sets, 8);
    if (!c) return;
    EXPECT_INT(c->train.epochs, 4); /* later --set wins over earlier and the file */
    EXPECT_INT(c->train.batch, 64); /* file value kept */
    EXPECT(list_is(&c->ingest.levels, 2, (const char *[]){"a", "b"}), "--set list");
    EXPECT(c->ingest.background[0] == 1 && c->ingest.background[2] == 3, "--set colour");
    EXPECT_STR(c->run.name, "x y");
    EXPECT_INT(c->train.nesterov, 0);
    EXPECT_STR(c->classify.out_dir, "");
    EXPECT_NEAR(c->train.lr, 2.5e-4, 0);
    config_free(c);
}

static void test_errors(void) {
    expect_error(FIX "err_unknown.yaml", NULL, 0,
                 FIX "err_unknown.yaml:3:3: unknown key 'train.epoch'; did you mean 'train.epochs'?");
    expect_error(FIX "err_unknown_top.yaml", NULL, 0,
                 FIX "err_unknown_top.yaml:3:1: unknown key 'trian'; did you mean 'train'?");
    expect_error(FIX "err_type.yaml", NULL, 0,
                 FIX "err_type.yaml:2:11: train.epochs: expected an integer, got 'five'");
    expect_error(FIX "err_type_list.yaml", NULL, 0,
                 FIX "err_type_list.yaml:2:11: ingest.levels: expected a list like [a, b], got "
                     "'master_category'");
    expect_error(FIX "err_range.yaml", NULL, 0,
                 FIX "err_range.yaml:3:21: ingest.max_reject_ratio: 1.5 is out of range; use a value "
                     "from 0 to 1");
    expect_error(FIX "err_allowed.yaml", NULL, 0,
                 FIX "err_allowed.yaml:1:21: extract.backbone: 'lite9' is not allowed; use one of: "
                     "lite0, lite1, lite2");
    expect_error(FIX "err_include_missing.yaml", NULL, 0,
                 FIX "err_include_missing.yaml:2:22: include 'nope/missing.yaml' not found (" FIX
                     "nope/missing.yaml: No such file or directory); include paths are relative to "
                     "the including file");
    expect_error(FIX "err_cycle_a.yaml", NULL, 0,
                 FIX "err_cycle_b.yaml:2:10: include cycle: " FIX "err_cycle_a.yaml -> " FIX
                     "err_cycle_b.yaml -> " FIX "err_cycle_a.yaml; remove one of these includes");
    setenv("ASSORT_TEST_UNSET_VAR", "x", 1);
    unsetenv("ASSORT_TEST_UNSET_VAR");
    expect_error(FIX "err_env.yaml", NULL, 0,
                 FIX "err_env.yaml:2:9: environment variable 'ASSORT_TEST_UNSET_VAR' is not set; "
                     "export it or write ${ASSORT_TEST_UNSET_VAR:-default}");
    expect_error(FIX "err_nested.yaml", NULL, 0,
                 FIX "err_unknown.yaml:3:3: unknown key 'train.epoch'; did you mean 'train.epochs'? "
                     "(included from " FIX "err_nested.yaml:1:10)");
    expect_error(FIX "err_section.yaml", NULL, 0,
                 FIX "err_section.yaml:1:8: 'train' is a section, not a key (got a scalar); set its "
                     "keys, e.g. 'train.features'");
    expect_error(FIX "err_duplicate.yaml", NULL, 0,
                 FIX "err_duplicate.yaml:3:3: duplicate key 'epochs' (first at line 2 column 3); keep one");
    expect_error(FIX "err_color.yaml", NULL, 0,
                 FIX "err_color.yaml:2:21: ingest.background: colour components are integers 0 to "
                     "255, got '300'");
    expect_error(FIX "does_not_exist.yaml", NULL, 0,
                 "config file '" FIX "does_not_exist.yaml' not found: No such file or directory; "
                 "give the path of a YAML file");

    /* Malformed YAML: position 3:2 and context 1:1 as PyYAML also reports;
     * the problem wording is libyaml's. */
    struct config *c = NULL;
    EXPECT_INT(config_load(FIX "err_malformed.yaml", NULL, 0, &c), ST_USAGE);
    const char *m = err_msg();
    const char *want_start = FIX "err_malformed.yaml:3:2: malformed YAML: ";
    EXPECT(!strncmp(m, want_start, strlen(want_start)), "malformed message start: %s", m);
    EXPECT(strstr(m, "while parsing a block mapping that started at line 1 column 1") != NULL,
           "malformed context: %s", m);

    expect_error(FIX "err_two_docs.yaml", NULL, 0,
                 FIX "err_two_docs.yaml:3:1: a config file holds one YAML document; remove the second one");
    expect_error(FIX "err_toplevel_list.yaml", NULL, 0,
                 FIX "err_toplevel_list.yaml:1:1: the top level must be a map of keys (e.g. 'train: "
                     "{epochs: 5}'), got a list");

    /* Cross-key check. */
    expect_error(FIX "err_split.yaml", NULL, 0,
                 "train.split.train + train.split.val + train.split.test = 0.7 (from " FIX
                 "err_split.yaml:2:18, " FIX "err_split.yaml:2:28, " FIX "err_split.yaml:2:39); the "
                 "three shares must sum to 1");

    /* --set errors name the --set instead of a position. */
    const char *s1[] = {"train.epochs=x"};
    expect_error(NULL, s1, 1, "--set train.epochs=x: train.epochs: expected an integer, got 'x'");
    const char *s2[] = {"train.epoch=5"};
    expect_error(NULL, s2, 1, "--set train.epoch=5: unknown key 'train.epoch'; did you mean 'train.epochs'?");
    const char *s3[] = {"train.epochs"};
    expect_error(NULL, s3, 1, "--set: expected KEY=VALUE (e.g. --set train.epochs=5), got 'train.epochs'");
    const char *s4[] = {"=5"};
    expect_error(NULL, s4, 1, "--set: expected KEY=VALUE (e.g. --set train.epochs=5), got '=5'");
    const char *s5[] = {"train.epochs=0"};
    expect_error(NULL, s5, 1, "--set train.epochs=0: train.epochs: 0 is out of range; use a value from 1 to 100000");
    const char *s6[] = {"ingest.levels=[a, b"};
    c = NULL;
    EXPECT_INT(config_load(NULL, s6, 1, &c), ST_USAGE);
    EXPECT(!strncmp(err_msg(), "--set ingest.levels=[a, b: malformed value: ", 44), "%s", err_msg());
    const char *s7[] = {"train.head=cnn"};
    expect_error(NULL, s7, 1, "--set train.head=cnn: train.head: 'cnn' is not allowed; use one of: linear, mlp");
    const char *s8[] = {"train.epochs=5", "train.levels=x: y"};
    expect_error(NULL, s8, 2, "--set train.levels=x: y: train.levels: expected a list of strings, got a map");
    const char *s10[] = {"train.nesterov=maybe"};
    expect_error(NULL, s10, 1, "--set train.nesterov=maybe: train.nesterov: expected a boolean (true or false), got 'maybe'");
    const char *s11[] = {"train.lr=fast"};
    expect_error(NULL, s11, 1, "--set train.lr=fast: train.lr: expected a number, got 'fast'");
    const char *s12[] = {"train.lr=nan"};
    expect_error(NULL, s12, 1, "--set train.lr=nan: train.lr: expected a number, got 'nan'");
    const char *s13[] = {"run.name=${HOME"};
    expect_error(NULL, s13, 1, "--set run.name=${HOME: unterminated '${' in '${HOME'; close it with '}' or write '$${'");
    const char *s14[] = {"ingest.background=[1, 2]"};
    expect_error(NULL, s14, 1, "--set ingest.background=[1, 2]: ingest.background: expected a colour [r, g, b] (integers 0 to 255), got 2 values");
    const char *s15[] = {"train=5"};
    expect_error(NULL, s15, 1, "--set train=5: 'train' is a section, not a key (got '5'); set its keys, e.g. 'train.features'");
    const char *s16[] = {"ingest.max_pixels=10000000001"};
    expect_error(NULL, s16, 1, "--set ingest.max_pixels=10000000001: ingest.max_pixels: 10000000001 is out of range; use a value from 1 to 10000000000");
    const char *s9[] = {"train.split.val=0.3"};
    expect_error(FIX "mid.yaml", s9, 1,
                 "train.split.train + train.split.val + train.split.test = 1.2 (from default of "
                 "train.split.train, --set train.split.val=0.3, default of train.split.test); the three "
                 "shares must sum to 1");
}

static char *hash_of(const char *path, const char *const *sets, int n_sets, char out[17]) {
    struct config *c = load(path, sets, n_sets);
    char *yaml = NULL;
    strcpy(out, "?");
    if (!c) return NULL;
    EXPECT_INT(config_hash(c, out), ST_OK);
    EXPECT_INT(config_to_yaml(c, &yaml), ST_OK);
    config_free(c);
    return yaml;
}

static void test_hash(void) {
    char a[17], b[17], d[17], e[17];
    char *ya = hash_of(FIX "same_flat.yaml", NULL, 0, a);
    char *yb = hash_of(FIX "same_nested.yaml", NULL, 0, b);
    EXPECT_STR(a, b);
    EXPECT(ya && yb && !strcmp(ya, yb), "same config, same YAML");
    EXPECT_INT(strlen(a), 16);
    EXPECT(strspn(a, "0123456789abcdef") == 16, "hash is hex: %s", a);
    const char *s[] = {"train.epochs=6"};
    free(hash_of(FIX "same_flat.yaml", s, 1, d));
    EXPECT(strcmp(a, d) != 0, "one value changed -> different hash (%s vs %s)", a, d);
    const char *s2[] = {"ingest.background=[255,255,254]"};
    free(hash_of(FIX "same_flat.yaml", s2, 1, e));
    EXPECT(strcmp(a, e) != 0, "colour changed -> different hash");

    /* Round trip: the emitted YAML loads back to the same config. */
    char tmp[] = "/tmp/assort_cfg_XXXXXX";
    int fd = mkstemp(tmp);
    EXPECT(fd >= 0, "mkstemp");
    if (fd >= 0 && ya) {
        FILE *f = fdopen(fd, "w");
        fputs(ya, f);
        fclose(f);
        char r[17];
        char *yr = hash_of(tmp, NULL, 0, r);
        EXPECT_STR(r, a);
        free(yr);
        unlink(tmp);
    }
    /* Strings needing quotes survive the round trip. */
    const char *s3[] = {"run.name=\"yes: it's \\\"x\\\"\\t#1\"", "ingest.levels=['123', 'a b', 'null']"};
    struct config *c = load(NULL, s3, 2);
    char *y3 = NULL;
    if (c) {
        EXPECT_STR(c->run.name, "yes: it's \"x\"\t#1");
        EXPECT_INT(config_to_yaml(c, &y3), ST_OK);
        char tmp3[] = "/tmp/assort_cfg_XXXXXX";
        int fd3 = mkstemp(tmp3);
        EXPECT(fd3 >= 0, "mkstemp");
        FILE *f = fd3 >= 0 ? fdopen(fd3, "w") : NULL;
        if (!f) return;
        fputs(y3, f);
        fclose(f);
        struct config *c2 = load(tmp3, NULL, 0);
        if (c2) {
            EXPECT_STR(c2->run.name, c->run.name);
            EXPECT(list_is(&c2->ingest.levels, 3, (const char *[]){"123", "a b", "null"}), "quoted list");
        }
        config_free(c2);
        unlink(tmp3);
    }
    free(y3);
    config_free(c);
    free(ya);
    free(yb);
}

static void test_schema(void) {
    /* Every section's keys form one contiguous run (the emitter relies on
     * it); offsets are unique; every key has a section. */
    for (int i = 0; i < cfg_schema_count; i++) {
        const char *p = cfg_schema[i].path;
        EXPECT(strchr(p, '.') != NULL, "%s has a section", p);
        for (const char *dot = strchr(p, '.'); dot; dot = strchr(dot + 1, '.')) {
            size_t n = (size_t)(dot - p) + 1; /* "train." */
            int first = -1, last = -1, count = 0;
            for (int j = 0; j < cfg_schema_count; j++)
                if (!strncmp(cfg_schema[j].path, p, n)) {
                    if (first < 0) first = j;
                    last = j;
                    count++;
                }
            EXPECT(last - first + 1 == count, "section %.*s of %s is not contiguous", (int)n, p, p);
        }
        for (int j = i + 1; j < cfg_schema_count; j++)
            EXPECT(cfg_schema[i].offset != cfg_schema[j].offset, "%s and %s share a field", p,
                   cfg_schema[j].path);
    }
    char s[128];
    cfg_schema_suggest("simlarity.k", s, sizeof s);
    EXPECT_STR(s, "similarity.k");
    cfg_schema_suggest("extract.precison", s, sizeof s);
    EXPECT_STR(s, "extract.precision");
}

int main(void) {
    test_defaults();
    test_types();
    test_includes();
    test_env();
    test_sets();
    test_errors();
    test_hash();
    test_schema();
    return TEST_END();
}
