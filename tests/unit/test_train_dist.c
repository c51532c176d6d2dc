/* test_train_dist.c - data-parallel training on synthetic, learnable data.
 *
 *   test_train_dist OUT.bin     trains an mlp (dropout, SGD Nesterov) and a
 *                               linear head (AdamW, class-balanced, label
 *                               smoothing) on Gaussian class clusters; checks
 *                               validation accuracy, that a run stopped after
 *                               2 epochs and resumed from its checkpoint ends
 *                               bit-identical to an uninterrupted one, and that
 *                               a NaN feature stops training with ST_DATA;
 *                               rank 0 writes both weight vectors to OUT.bin.
 *   test_train_dist --compare A B   max|a-b| <= 1e-5 max|b| per head.
 * tests/sh/train_ranks.sh runs it with 1, 2 and 4 ranks and compares.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "testlib.h"
#include "train/trainer.h"
#include "util/log.h"
#include "util/status.h"

enum { D = 24, C = 5, NTR = 613, NVAL = 150 };

static float *gx;          /* (NTR + NVAL, D) all rows, same on every rank */
static int32_t gy[NTR + NVAL];
static int64_t gid[NTR + NVAL];

static void make_data(void) {
    gx = malloc((size_t)(NTR + NVAL) * D * sizeof(float));
    for (int i = 0; i < NTR + NVAL; i++) {
        int c = (int)(train_hash64(77, i) % C);
        if (i % 7 == 0) c = 0; /* imbalance: class 0 is common */
        gy[i] = c;
        gid[i] = 1000 + 2 * i;
        for (int j = 0; j < D; j++) {
            double u1 = train_uniform(train_hash64(1000 + i, 2 * j)) + 1e-12;
            double u2 = train_uniform(train_hash64(1000 + i, 2 * j + 1));
            double g = sqrt(-2 * log(u1)) * cos(6.283185307 * u2);
            double centre = ((j % C) == c ? 1.5 : 0.0) + 0.3 * sin(c * 1.7 + j);
            gx[(size_t)i * D + j] = (float)(centre + 0.8 * g);
        }
    }
}

static void opts_for(struct train_opts *o, int mlp) {
    memset(o, 0, sizeof *o);
    o->shape = (struct head_shape){mlp ? HEAD_MLP : HEAD_LINEAR, D, 16, C, mlp ? 0.25f : 0.0f};
    o->optimizer = mlp ? OPTIM_SGD : OPTIM_ADAMW;
    o->lr = mlp ? 0.05 : 0.01;
    o->momentum = 0.9;
    o->nesterov = 1;
    o->weight_decay = mlp ? 1e-4 : 0.01;
    o->warmup_epochs = 1;
    o->epochs = 6;
    o->batch = 64;
    o->label_smoothing = mlp ? 0.0f : 0.1f;
    o->class_balanced = !mlp;
    o->patience = 0;
    o->seed = 1234;
    o->allreduce = "mpi";
}

struct mem_ckpt {
    struct train_state copy;
    size_t count;
    int saves;
};

static int save_mem(const struct train_state *st, void *ctx) {
    struct mem_ckpt *m = ctx;
    struct train_state *c = &m->copy;
    c->epochs_done = st->epochs_done;
    memcpy(c->params, st->params, m->count * sizeof(float));
    memcpy(c->best, st->best, m->count * sizeof(float));
    memcpy(c->opt.m, st->opt.m, m->count * sizeof(float));
    if (st->opt.v) memcpy(c->opt.v, st->opt.v, m->count * sizeof(float));
    c->opt.step = st->opt.step;
    c->best_score = st->best_score;
    c->best_epoch = st->best_epoch;
    c->since_best = st->since_best;
    c->stopped_early = st->stopped_early;
    m->saves++;
    return ST_OK;
}

/* Trains one head; returns the final weights (malloc'ed) and checks accuracy. */
static float *train_one(int mlp, size_t *count, double *val_top1, int stop_after,
                        struct mem_ckpt *ck, const float *x_override) {
    struct train_opts o;
    opts_for(&o, mlp);
    o.stop_after = stop_after;
    int64_t b, e;
    dist_shard_range(NTR, dist_rank(), dist_size(), &b, &e);
    const float *x = x_override ? x_override : gx;
    struct train_set tr = {NTR, b, e - b, x + (size_t)b * D, gy, gid};
    int64_t vb, ve;
    dist_shard_range(NVAL, dist_rank(), dist_size(), &vb, &ve);
    struct eval_set val = {ve - vb, gx + (size_t)(NTR + vb) * D, gy + NTR + vb};
    struct train_state st;
    if (train_state_init(&st, &o) != ST_OK) return NULL;
    struct head_layout lay;
    head_layout_of(&o.shape, &lay);
    *count = lay.count;
    if (ck && ck->saves > 0) { /* resume: restore the state saved by the interrupted run */
        struct mem_ckpt into = {st, lay.count, 0};
        save_mem(&ck->copy, &into);
        st = into.copy;
    }
    int rc = train_run(&o, &tr, &val, &st, ck ? save_mem : NULL, ck);
    if (rc != ST_OK) {
        if (rc != ST_INTERRUPTED && dist_rank() == 0) fprintf(stderr, "train: %s\n", err_msg());
        train_state_free(&st);
        return NULL;
    }
    float *logits = NULL;
    struct eval_stats es;
    struct eval_metrics em;
    train_logits(&o.shape, st.params, &val, &logits);
    eval_stats_init(&es, C);
    train_eval_stats(logits, &val, 1.0, &es);
    eval_finish(&es, &em);
    *val_top1 = em.top1;
    eval_metrics_free(&em);
    eval_stats_free(&es);
    free(logits);
    float *out = malloc(lay.count * sizeof(float));
    memcpy(out, st.params, lay.count * sizeof(float));
    train_state_free(&st);
    return out;
}

static int compare(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    if (!fa || !fb) {
        fprintf(stderr, "cannot open %s or %s\n", a, b);
        return 1;
    }
    for (int h = 0; h < 2; h++) {
        uint64_t na = 0, nb = 0;
        EXPECT(fread(&na, 8, 1, fa) == 1 && fread(&nb, 8, 1, fb) == 1, "read sizes");
        EXPECT(na == nb && na > 0 && na < 100000, "sizes %llu vs %llu", (unsigned long long)na,
               (unsigned long long)nb);
        if (na != nb || na == 0 || na >= 100000) break;
        float *va = malloc(na * 4), *vb = malloc(nb * 4);
        EXPECT(fread(va, 4, na, fa) == na && fread(vb, 4, nb, fb) == nb, "read weights");
        double diff = 0, mag = 0;
        for (uint64_t i = 0; i < na; i++) {
            diff = fmax(diff, fabs((double)va[i] - vb[i]));
            mag = fmax(mag, fabs((double)vb[i]));
        }
        printf("head %d: max|a-b| = %.3g, max|b| = %.3g, relative %.3g\n", h, diff, mag, diff / mag);
        EXPECT(diff <= 1e-5 * mag, "%s vs %s head %d: relative difference %.3g > 1e-5", a, b, h,
               diff / mag);
        free(va), free(vb);
    }
    fclose(fa), fclose(fb);
    return TEST_END();
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "--compare")) return compare(argv[2], argv[3]);
    if (dist_init(&argc, &argv) != ST_OK) return 1;
    log_init(dist_rank(), dist_size(), 0);
    make_data();
    const char *out = argc > 1 ? argv[1] : NULL;
    float *w[2];
    size_t n[2];
    for (int mlp = 1; mlp >= 0; mlp--) {
        double top1 = 0;
        float *p = train_one(mlp, &n[mlp], &top1, 0, NULL, NULL);
        w[mlp] = p;
        EXPECT(p != NULL, "training failed");
        if (!p) continue;
        EXPECT(top1 > 0.9, "%s head validation top-1 %.3f, expected > 0.9 on separable clusters",
               mlp ? "mlp" : "linear", top1);
        /* interrupted after 2 epochs, resumed from the in-memory checkpoint */
        struct mem_ckpt ck = {0};
        struct train_opts o;
        opts_for(&o, mlp);
        train_state_init(&ck.copy, &o);
        ck.count = n[mlp];
        size_t n2;
        double t2;
        float *q = train_one(mlp, &n2, &t2, 2, &ck, NULL);
        EXPECT(q == NULL && ck.saves == 2, "stop_after=2 did not stop (saves %d)", ck.saves);
        free(q);
        q = train_one(mlp, &n2, &t2, 0, &ck, NULL);
        EXPECT(q && memcmp(q, p, n2 * sizeof(float)) == 0,
               "%s: resumed run differs from the uninterrupted one", mlp ? "mlp" : "linear");
        free(q);
        train_state_free(&ck.copy);
    }
    /* NaN in one feature row stops training with ST_DATA naming the step */
    float *bad = malloc((size_t)NTR * D * sizeof(float));
    memcpy(bad, gx, (size_t)NTR * D * sizeof(float));
    bad[(size_t)(NTR - 3) * D + 5] = NAN;
    {
        struct train_opts o;
        opts_for(&o, 0);
        int64_t b, e;
        dist_shard_range(NTR, dist_rank(), dist_size(), &b, &e);
        struct train_set tr = {NTR, b, e - b, bad + (size_t)b * D, gy, gid};
        struct train_state st;
        train_state_init(&st, &o);
        int rc = train_run(&o, &tr, NULL, &st, NULL, NULL);
        EXPECT_INT(rc, ST_DATA);
        EXPECT(strstr(err_msg(), "epoch 1 step") && strstr(err_msg(), "on rank"),
               "message: %s", err_msg());
        EXPECT_INT(st.epochs_done, 0);
        train_state_free(&st);
    }
    free(bad);
    if (out && dist_rank() == 0 && w[0] && w[1]) {
        FILE *f = fopen(out, "wb");
        for (int h = 0; h < 2; h++) {
            uint64_t k = n[h];
            fwrite(&k, 8, 1, f);
            fwrite(w[h], 4, n[h], f);
        }
        fclose(f);
    }
    free(w[0]), free(w[1]), free(gx);
    int rc = TEST_END();
    dist_finalize();
    return rc;
}
