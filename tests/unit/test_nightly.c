/* test_nightly.c - the pipeline file parser (values and file:line:col errors) and
 * the drift statistics against hand-computed values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nightly/diff.h"
#include "nightly/plan.h"
#include "testlib.h"
#include "util/status.h"

static char dir[] = "/tmp/test_nightly.XXXXXX";

static const char *write_yaml(const char *name, const char *text) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) test_skip("cannot write to /tmp");
    fputs(text, f);
    fclose(f);
    return path;
}

/* Loading `text` fails with ST_USAGE and a message holding `want`. */
static void expect_error(const char *name, const char *text, const char *want) {
    struct nightly_plan *p = NULL;
    const char *path = write_yaml(name, text);
    int rc = plan_load(path, &p);
    EXPECT(rc == ST_USAGE, "%s: rc %d, expected ST_USAGE", name, rc);
    EXPECT(p == NULL, "%s: no plan on failure", name);
    EXPECT(strstr(err_msg(), want) != NULL, "%s: message '%s' lacks '%s'", name, err_msg(), want);
    plan_free(p);
}

static void test_plan(void) {
    const char *good =
        "version: 1\n"
        "name: test-night\n"
        "stages:\n"
        "  - name: ingest\n"
        "    command: ingest\n"
        "    resources: {ranks: 4, cpus_per_rank: 2, time: \"01:30:00\"}\n"
        "  - name: train\n"
        "    command: train\n"
        "    when: changed\n"
        "    set: [train.warm_start=true, \"train.lr=0.1\"]\n"
        "    args: --level\n"
        "    resources:\n"
        "      gpus_per_rank: 1\n"
        "    inputs: [a, b]\n";
    struct nightly_plan *p = NULL;
    int rc = plan_load(write_yaml("good.yaml", good), &p);
    EXPECT(rc == ST_OK, "good plan: %s", err_msg());
    if (rc != ST_OK) return;
    EXPECT_STR(p->name, "test-night");
    EXPECT_INT(p->n_stages, 2);
    EXPECT_STR(p->stages[0].command, "ingest");
    EXPECT_INT(p->stages[0].ranks, 4);
    EXPECT_INT(p->stages[0].cpus_per_rank, 2);
    EXPECT_INT(p->stages[0].gpus_per_rank, 0);
    EXPECT_STR(p->stages[0].time, "01:30:00");
    EXPECT_INT(p->stages[0].when, PLAN_ALWAYS);
    EXPECT_INT(p->stages[0].line, 4);
    EXPECT_INT(p->stages[1].when, PLAN_CHANGED);
    EXPECT_INT(p->stages[1].sets.count, 2);
    EXPECT_STR(p->stages[1].sets.items[1], "train.lr=0.1");
    EXPECT_INT(p->stages[1].args.count, 1);
    EXPECT_STR(p->stages[1].args.items[0], "--level");
    EXPECT_INT(p->stages[1].ranks, 1);
    EXPECT_INT(p->stages[1].gpus_per_rank, 1);
    EXPECT_STR(p->stages[1].time, "01:00:00");
    EXPECT_INT(p->stages[1].inputs.count, 2);
    EXPECT(plan_find(p, "train") == &p->stages[1], "plan_find train");
    EXPECT(plan_find(p, "report") == NULL, "plan_find report");
    plan_free(p);

    expect_error("unknown.yaml", "stages:\n  - name: a\n    command: ingest\n    rankz: 2\n",
                 "unknown.yaml:4:5: unknown stage key 'rankz'");
    expect_error("when.yaml", "stages:\n  - name: a\n    command: x\n    when: sometimes\n",
                 "when.yaml:4:11: 'when' must be 'always' or 'changed'");
    expect_error("dup.yaml", "stages:\n  - {name: a, command: x}\n  - {name: a, command: y}\n",
                 "dup.yaml:3:5: stage name 'a' repeats the stage at line 2");
    expect_error("nocmd.yaml", "stages:\n  - name: a\n", "nocmd.yaml:2:5: stage 'a' has no 'command:'");
    expect_error("ranks.yaml", "stages:\n  - name: a\n    command: x\n    resources: {ranks: 0}\n",
                 "ranks.yaml:4:24: 'ranks' = 0 is out of range 1 to 100000");
    expect_error("type.yaml", "stages:\n  - name: a\n    command: x\n    resources: {ranks: two}\n",
                 "type.yaml:4:24: 'ranks' must be an integer");
    expect_error("time.yaml", "stages:\n  - name: a\n    command: x\n    resources: {time: 2h}\n",
                 "is not a Slurm time");
    expect_error("set.yaml", "stages:\n  - name: a\n    command: x\n    set: [lr]\n", "must be key.path=value");
    expect_error("top.yaml", "stage:\n  - name: a\n", "top.yaml:1:1: unknown key 'stage'");
    expect_error("none.yaml", "name: x\n", "no 'stages:' list");
    expect_error("syntax.yaml", "stages:\n  - name: [a\n", "syntax.yaml:3:1: YAML syntax");
    expect_error("name.yaml", "stages:\n  - name: A b\n    command: x\n", "use lower-case letters");
}

static void test_drift(void) {
    double tv, psi;
    int64_t prev[2] = {50, 50}, now[2] = {80, 20};
    night_class_drift(prev, now, 2, &tv, &psi);
    EXPECT_NEAR(tv, 0.3, 1e-12);
    EXPECT_NEAR(psi, 0.3 * log(1.6) + 0.3 * log(2.5), 1e-12);  /* 0.415888... */
    night_class_drift(now, now, 2, &tv, &psi);
    EXPECT_NEAR(tv, 0, 0);
    EXPECT_NEAR(psi, 0, 0);
    int64_t a[3] = {100, 0, 0}, b[3] = {50, 50, 0};  /* a class empty on one side, one on both */
    night_class_drift(a, b, 3, &tv, &psi);
    EXPECT_NEAR(tv, 0.5, 1e-12);
    EXPECT_NEAR(psi, -0.5 * log(0.5) + (0.5 - 1e-4) * log(0.5 / 1e-4), 1e-12);

    double x[100], edges[NIGHT_BINS - 1], frac[NIGHT_BINS];
    for (int i = 0; i < 100; i++) x[i] = 99 - i;  /* unsorted on purpose */
    night_deciles(x, 100, edges, frac);
    for (int b = 0; b < NIGHT_BINS - 1; b++) EXPECT_NEAR(edges[b], 10 * (b + 1), 0);
    for (int b = 0; b < NIGHT_BINS; b++) EXPECT_NEAR(frac[b], 0.1, 1e-15);
    EXPECT_NEAR(night_psi_binned(x, 100, edges, frac), 0, 1e-15);
    double far[50];
    for (int i = 0; i < 50; i++) far[i] = 1000 + i;  /* all in the top bin */
    EXPECT_NEAR(night_psi_binned(far, 50, edges, frac), 9 * (1e-4 - 0.1) * log(1e-3) + 0.9 * log(10), 1e-12);
    double half[100];  /* values 0..49 twice: the lower five bins hold 0.2 each */
    for (int i = 0; i < 100; i++) half[i] = i % 50;
    EXPECT_NEAR(night_psi_binned(half, 100, edges, frac), 5 * (0.1 * log(2)) + 5 * ((1e-4 - 0.1) * log(1e-3)),
                1e-12);

    enum { DIM = 1280 };
    double *d1 = malloc(sizeof *d1 * NIGHT_PROJ * DIM), *d2 = malloc(sizeof *d2 * NIGHT_PROJ * DIM);
    night_projections(DIM, d1);
    night_projections(DIM, d2);
    EXPECT(memcmp(d1, d2, sizeof *d1 * NIGHT_PROJ * DIM) == 0, "projections are the same every night");
    for (int p = 0; p < NIGHT_PROJ; p++) {
        double n = 0, dot = 0;
        for (int j = 0; j < DIM; j++) n += d1[p * DIM + j] * d1[p * DIM + j];
        for (int j = 0; j < DIM && p > 0; j++) dot += d1[p * DIM + j] * d1[(p - 1) * DIM + j];
        EXPECT_NEAR(n, 1, 1e-12);
        EXPECT(fabs(dot) < 0.15, "directions %d and %d nearly orthogonal (dot %g)", p - 1, p, dot);
    }
    free(d1), free(d2);
}

int main(void) {
    if (!mkdtemp(dir)) test_skip("mkdtemp failed");
    test_plan();
    test_drift();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return TEST_END();
}
