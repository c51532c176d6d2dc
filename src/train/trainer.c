#include "trainer.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "train/grad_allreduce.h"
#include "util/check.h"
#include "util/fault.h"
#include "util/log.h"
#include "util/signals.h"

int train_state_init(struct train_state *st, const struct train_opts *o) {
    int rc = ST_OK;
    struct head_layout lay;
    memset(st, 0, sizeof *st);
    head_layout_of(&o->shape, &lay);
    TRY_ALLOC(st->params = malloc(lay.count * sizeof(float)));
    TRY_ALLOC(st->best = malloc(lay.count * sizeof(float)));
    TRY_ALLOC(st->curves = malloc((size_t)(o->epochs > 0 ? o->epochs : 1) * CURVE_COLS * sizeof(double)));
    for (int i = 0; i < o->epochs * CURVE_COLS; i++) st->curves[i] = NAN;
    head_init(&o->shape, st->params, o->seed);
    memcpy(st->best, st->params, lay.count * sizeof(float));
    TRY(optim_init(&st->opt, o->optimizer, lay.count, o->momentum, o->nesterov, o->weight_decay));
    st->best_score = -1;
    st->best_epoch = -1;
    return ST_OK;
fail:
    train_state_free(st);
    return rc;
}

void train_state_free(struct train_state *st) {
    free(st->params);
    free(st->best);
    free(st->curves);
    optim_free(&st->opt);
    st->params = st->best = NULL;
    st->curves = NULL;
}

/* Rank that owns training row t under dist_shard_range(n, ., size). */
static int owner_of(int64_t t, int64_t n, int size) {
    int64_t base = n / size, extra = n % size;
    int64_t cut = extra * (base + 1);
    if (t < cut) return (int)(t / (base + 1));
    return (int)(extra + (t - cut) / (base > 0 ? base : 1));
}

/* Rows (training indices) rank r processes in this epoch, in step order;
 * per-batch offsets into that list in boff (steps + 1). */
static int64_t epoch_rows(const int64_t *order, int64_t n, int64_t batch, int r, int size,
                          int64_t *rows, int64_t *boff) {
    int64_t k = 0, steps = (n + batch - 1) / batch;
    for (int64_t b = 0; b < steps; b++) {
        int64_t b0 = b * batch, bn = n - b0 < batch ? n - b0 : batch, s, e;
        dist_shard_range(bn, r, size, &s, &e);
        if (boff) boff[b] = k;
        for (int64_t p = b0 + s; p < b0 + e; p++) {
            if (rows) rows[k] = order[p];
            k++;
        }
    }
    if (boff) boff[steps] = k;
    return k;
}

/* Buffers reused by every epoch's exchange (allocating ~3 shards of
 * features per epoch costs more page faults than the copy itself). */
struct xchg {
    int *scount, *sdisp, *rcount, *rdisp;
    int64_t *fill, *other;
    float *sbuf, *rbuf;      /* (rows sent, D), (rows received, D) */
    MPI_Datatype row;        /* D floats */
};

static void xchg_free(struct xchg *x) {
    free(x->scount), free(x->sdisp), free(x->rcount), free(x->rdisp);
    free(x->fill), free(x->other), free(x->sbuf), free(x->rbuf);
    if (x->row != MPI_DATATYPE_NULL) MPI_Type_free(&x->row);
    memset(x, 0, sizeof *x);
    x->row = MPI_DATATYPE_NULL;
}

static int xchg_alloc(struct xchg *x, const struct train_set *tr, int d, int64_t max_rows) {
    int rc = ST_OK, size = dist_size();
    memset(x, 0, sizeof *x);
    x->row = MPI_DATATYPE_NULL;
    TRY_ALLOC(x->scount = calloc((size_t)size, sizeof(int)));
    TRY_ALLOC(x->sdisp = calloc((size_t)size, sizeof(int)));
    TRY_ALLOC(x->rcount = calloc((size_t)size, sizeof(int)));
    TRY_ALLOC(x->rdisp = calloc((size_t)size, sizeof(int)));
    TRY_ALLOC(x->fill = calloc((size_t)size, sizeof(int64_t)));
    TRY_ALLOC(x->other = malloc(((size_t)tr->n_global + 1) * sizeof(int64_t)));
    if (size > 1) {
        TRY_ALLOC(x->sbuf = malloc(((size_t)tr->n_local + 1) * d * sizeof(float)));
        TRY_ALLOC(x->rbuf = malloc(((size_t)max_rows + 1) * d * sizeof(float)));
    }
    TRY_MPI(MPI_Type_contiguous(d, MPI_FLOAT, &x->row));
    TRY_MPI(MPI_Type_commit(&x->row));
    return ST_OK;
fail:
    xchg_free(x);
    return rc;
}

/* Moves the feature rows this rank needs for the epoch (rows, n_rows) from
 * their owners into xe (n_rows, D). Rows it owns are copied directly. */
static int exchange_rows(const struct train_set *tr, int d, const int64_t *order, int64_t batch,
                         const int64_t *rows, int64_t n_rows, float *xe, struct xchg *x) {
    int rc = ST_OK, size = dist_size(), me = dist_rank();
    int64_t n = tr->n_global;
    size_t rb = (size_t)d * sizeof(float);
    if (size == 1) {
        for (int64_t i = 0; i < n_rows; i++)
            memcpy(xe + (size_t)i * d, tr->x + (size_t)(rows[i] - tr->first) * d, rb);
        return ST_OK;
    }
    /* What I send to each other rank, in that rank's step order. */
    int64_t k = 0;
    for (int r = 0; r < size; r++) {
        x->sdisp[r] = (int)k;
        if (r != me) {
            int64_t m = epoch_rows(order, n, batch, r, size, x->other, NULL);
            for (int64_t i = 0; i < m; i++)
                if (owner_of(x->other[i], n, size) == me)
                    memcpy(x->sbuf + (size_t)k++ * d, tr->x + (size_t)(x->other[i] - tr->first) * d, rb);
        }
        x->scount[r] = (int)(k - x->sdisp[r]);
        x->rcount[r] = 0;
        x->fill[r] = 0;
    }
    for (int64_t i = 0; i < n_rows; i++) {
        int src = owner_of(rows[i], n, size);
        if (src != me) x->rcount[src]++;
    }
    x->rdisp[0] = 0;
    for (int r = 1; r < size; r++) x->rdisp[r] = x->rdisp[r - 1] + x->rcount[r - 1];
    TRY_MPI(MPI_Alltoallv(x->sbuf, x->scount, x->sdisp, x->row, x->rbuf, x->rcount, x->rdisp,
                          x->row, dist_comm()));
    for (int64_t i = 0; i < n_rows; i++) {
        int src = owner_of(rows[i], n, size);
        const float *from = src == me ? tr->x + (size_t)(rows[i] - tr->first) * d
                                      : x->rbuf + (size_t)(x->rdisp[src] + x->fill[src]++) * d;
        memcpy(xe + (size_t)i * d, from, rb);
    }
fail:
    return rc;
}

int train_logits(const struct head_shape *s, const float *params, const struct eval_set *ev,
                 float **logits) {
    int rc = ST_OK;
    struct head_work w = {0};
    const int64_t chunk = 1024;
    *logits = NULL;
    TRY_ALLOC(*logits = malloc(((size_t)ev->n_local + 1) * s->classes * sizeof(float)));
    TRY(head_work_alloc(s, chunk, &w));
    for (int64_t i = 0; i < ev->n_local; i += chunk) {
        int64_t n = ev->n_local - i < chunk ? ev->n_local - i : chunk;
        head_forward(s, params, ev->x + (size_t)i * s->in_dim, n, 0, NULL, NULL, &w);
        memcpy(*logits + (size_t)i * s->classes, w.logits, (size_t)n * s->classes * sizeof(float));
    }
fail:
    head_work_free(&w);
    if (rc != ST_OK) free(*logits), *logits = NULL;
    return rc;
}

int train_eval_stats(const float *logits, const struct eval_set *ev, double temperature,
                     struct eval_stats *stats) {
    eval_stats_reset(stats);
    eval_accumulate(stats, logits, ev->y, ev->n_local, temperature);
    return dist_allreduce_sum_f64(stats->buf, stats->count);
}

struct nll_ctx {
    const float *logits;
    const struct eval_set *ev;
    int classes;
    int rc;
};

static double nll_at(double t, void *p) {
    struct nll_ctx *c = p;
    double v = eval_nll_sum(c->logits, c->ev->y, c->ev->n_local, c->classes, t);
    if (c->rc == ST_OK) c->rc = dist_allreduce_sum_f64(&v, 1);
    return v;
}

int train_fit_temperature(const float *logits, const struct eval_set *ev, int classes, double *t) {
    struct nll_ctx c = {logits, ev, classes, ST_OK};
    *t = temperature_fit(nll_at, &c);
    return c.rc;
}

static int all_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

int train_run(const struct train_opts *o, const struct train_set *tr, const struct eval_set *val,
              struct train_state *st, train_checkpoint_fn ckpt, void *ckpt_ctx) {
    int rc = ST_OK, size = dist_size(), me = dist_rank();
    const struct head_shape *s = &o->shape;
    struct head_layout lay;
    head_layout_of(s, &lay);
    size_t pc = lay.count;
    int64_t n = tr->n_global, batch = o->batch, d = s->in_dim;
    int64_t steps = (n + batch - 1) / (batch > 0 ? batch : 1);
    int64_t max_local = 0, *order = NULL, *rows = NULL, *boff = NULL, *ids = NULL;
    int32_t *ys = NULL;
    float *xe = NULL, *grad = NULL, *vlogits = NULL, *cw = NULL;
    double *red = NULL, *nval = NULL;
    struct head_work w = {0};
    struct eval_stats vs = {0};
    struct xchg xc = {0};
    xc.row = MPI_DATATYPE_NULL;
    const struct grad_allreduce *ar = grad_allreduce_find(o->allreduce ? o->allreduce : "mpi");
    REQUIRE(ar, ST_USAGE, "gradient allreduce backend '%s' is not built in (use mpi)", o->allreduce);
    REQUIRE(batch > 0 && n > 0, ST_DATA, "no training rows (%lld) or batch %lld < 1",
            (long long)n, (long long)batch);
    for (int64_t b = 0; b < steps; b++) {
        int64_t bn = n - b * batch < batch ? n - b * batch : batch, s0, e0;
        dist_shard_range(bn, 0, size, &s0, &e0);
        if (e0 - s0 > max_local) max_local = e0 - s0;
    }
    TRY_ALLOC(order = malloc((size_t)n * sizeof(int64_t)));
    TRY_ALLOC(rows = malloc((size_t)n * sizeof(int64_t)));
    TRY_ALLOC(boff = malloc((size_t)(steps + 1) * sizeof(int64_t)));
    TRY_ALLOC(ids = malloc((size_t)(max_local + 1) * sizeof(int64_t)));
    TRY_ALLOC(ys = malloc((size_t)(max_local + 1) * sizeof(int32_t)));
    TRY_ALLOC(xe = malloc(((size_t)n / size + steps + 1) * d * sizeof(float)));
    TRY_ALLOC(grad = malloc(pc * sizeof(float)));
    TRY_ALLOC(red = malloc((pc + 3) * sizeof(double)));
    TRY(head_work_alloc(s, max_local, &w));
    TRY(xchg_alloc(&xc, tr, (int)d, n / size + steps + 1));
    TRY(eval_stats_init(&vs, s->classes));
    if (o->class_balanced) {
        int64_t *cnt = calloc((size_t)s->classes, sizeof(int64_t));
        TRY_ALLOC(cnt);
        cw = calloc((size_t)s->classes, sizeof(float));
        if (!cw) free(cnt);
        TRY_ALLOC(cw);
        int present = 0;
        for (int64_t i = 0; i < n; i++) cnt[tr->y_all[i]]++;
        for (int c = 0; c < s->classes; c++) present += cnt[c] > 0;
        for (int c = 0; c < s->classes; c++)
            cw[c] = cnt[c] > 0 ? (float)((double)n / ((double)present * cnt[c])) : 0.0f;
        free(cnt);
    }
    struct loss_opts lo = {o->label_smoothing, cw};
    int64_t vn = val ? val->n_local : 0;
    TRY_ALLOC(nval = malloc(sizeof(double)));
    *nval = (double)vn;
    TRY(dist_allreduce_sum_f64(nval, 1));
    int have_val = *nval > 0;
    int64_t warm = (int64_t)llround(o->warmup_epochs * steps), total = (int64_t)o->epochs * steps;
    int ran = 0;
    st->seconds_allreduce = st->seconds_step = st->seconds_exchange = 0;

    for (int64_t ep = st->epochs_done; ep < o->epochs && !st->stopped_early; ep++) {
        double t0 = time_now();
        train_permutation(train_hash64(o->seed, (uint64_t)ep), n, order);
        int64_t m = epoch_rows(order, n, batch, me, size, rows, boff);
        TRY(exchange_rows(tr, (int)d, order, batch, rows, m, xe, &xc));
        double t1 = time_now();
        st->seconds_exchange += t1 - t0;
        struct dropout_key key = {o->seed, ep};
        double loss_sum = 0, hits = 0;
        for (int64_t b = 0; b < steps; b++) {
            if (fault_armed()) TRY(dist_agree(fault_point("train.step"))); /* tests only */
            double ts = time_now();
            int64_t k0 = boff[b], kn = boff[b + 1] - boff[b];
            int64_t bn = n - b * batch < batch ? n - b * batch : batch;
            for (int64_t i = 0; i < kn; i++) {
                ids[i] = tr->id_all[rows[k0 + i]];
                ys[i] = tr->y_all[rows[k0 + i]];
            }
            double l = 0, h = 0;
            head_loss_grad(s, st->params, xe + (size_t)k0 * d, ys, kn, &key, ids, &lo, &w, grad,
                           &l, &h);
            for (size_t i = 0; i < pc; i++) red[i] = grad[i];
            int bad = !isfinite(l) || !all_finite(grad, pc);
            red[pc] = l, red[pc + 1] = h, red[pc + 2] = bad;
            double ta = time_now();
            TRY(ar->sum_f64(red, pc + 3));
            st->seconds_allreduce += time_now() - ta;
            if (red[pc + 2] != 0) {
                int64_t who = bad ? me : INT64_MAX;
                TRY(dist_allreduce_min_i64(&who, 1));
                FAIL(ST_DATA, "non-finite loss or gradient (NaN/Inf) at epoch %lld step %lld on "
                     "rank %lld (features or learning rate); the last good checkpoint is kept",
                     (long long)ep + 1, (long long)b + 1, (long long)who);
            }
            for (size_t i = 0; i < pc; i++) grad[i] = (float)(red[i] / (double)bn);
            loss_sum += red[pc];
            hits += red[pc + 1];
            optim_step(&st->opt, &lay, st->params, grad, lr_at(o->lr, ep * steps + b, warm, total));
            st->seconds_step += time_now() - ts;
        }
        double *cv = st->curves + ep * CURVE_COLS;
        cv[0] = loss_sum / n;
        cv[1] = hits / n;
        double score = 0;
        if (have_val) {
            free(vlogits);
            vlogits = NULL;
            TRY(train_logits(s, st->params, val, &vlogits));
            TRY(train_eval_stats(vlogits, val, 1.0, &vs));
            struct eval_metrics em;
            TRY(eval_finish(&vs, &em));
            cv[2] = em.log_loss;
            cv[3] = em.top1;
            score = em.macro_f1;
            eval_metrics_free(&em);
        }
        if (!have_val || score > st->best_score) {
            st->best_score = score;
            st->best_epoch = ep;
            st->since_best = 0;
            memcpy(st->best, st->params, pc * sizeof(float));
        } else {
            st->since_best++;
        }
        if (have_val && o->patience > 0 && st->since_best >= o->patience) st->stopped_early = 1;
        st->epochs_done = ep + 1;
        log_info("train", "epoch %lld/%d: loss %.4f acc %.4f | val loss %.4f acc %.4f macro-F1 "
                 "%.4f | %.2fs%s", (long long)ep + 1, o->epochs, cv[0], cv[1], cv[2], cv[3],
                 score, time_now() - t0, st->stopped_early ? " (early stop)" : "");
        if (ckpt) TRY(ckpt(st, ckpt_ctx));
        ran++;
        int stop = 0;
        TRY(signals_stop_agreed(&stop));
        if (stop && ep + 1 < o->epochs && !st->stopped_early) {
            rc = err_set(ST_INTERRUPTED, "stopped by a signal after epoch %lld (checkpoint "
                         "written); rerun with --resume", (long long)ep + 1);
            goto fail;
        }
        if (o->stop_after > 0 && ran >= o->stop_after && ep + 1 < o->epochs && !st->stopped_early) {
            rc = err_set(ST_INTERRUPTED, "stopped after %d epoch(s) as asked; rerun with --resume",
                         ran);
            goto fail;
        }
    }
    memcpy(st->params, st->best, pc * sizeof(float));
fail:
    head_work_free(&w);
    xchg_free(&xc);
    eval_stats_free(&vs);
    free(order), free(rows), free(boff), free(ids), free(ys), free(xe), free(grad), free(red);
    free(vlogits), free(cw), free(nval);
    return rc;
}
