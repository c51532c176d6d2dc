/* fuse.c - fused scores, near-duplicate groups, learned weights (fuse.h). */
#include "similarity/fuse.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "util/check.h"

void fused_lists_free(struct fused_lists *l) {
    if (!l) return;
    free(l->query_row);
    free(l->index);
    free(l->s_img);
    free(l->s_name);
    free(l->s_jaccard);
    free(l->fused);
    memset(l, 0, sizeof *l);
}

void fused_pairs_free(struct fused_pairs *p) {
    if (!p) return;
    free(p->query);
    free(p->cand);
    free(p->s_img);
    free(p->s_name);
    free(p->s_jaccard);
    free(p->fused);
    memset(p, 0, sizeof *p);
}

struct cand {
    int64_t row;
    float s_img, s_name, fused;
};

/* best fused first, smaller row on ties */
static int cand_cmp(const void *a, const void *b) {
    const struct cand *x = a, *y = b;
    if (x->fused != y->fused) return x->fused > y->fused ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}
static int cand_row_cmp(const void *a, const void *b) {
    const struct cand *x = a, *y = b;
    return x->row < y->row ? -1 : x->row > y->row;
}

int fuse_lists(const struct knn_lists *img, const struct knn_lists *name,
               const float *name_img_score, const struct name_index *ix, double w_img,
               double w_name, struct fused_lists *out, struct fused_pairs *all_pairs) {
    int rc = ST_OK;
    int64_t nq = img->query_count;
    int ki = img->k, kn = name->k, k = img->k;
    int kc = ki + kn;
    struct cand *buf = NULL;
    int64_t *ncand = NULL;
    memset(out, 0, sizeof *out);
    if (all_pairs) memset(all_pairs, 0, sizeof *all_pairs);
    REQUIRE(name->query_count == nq, ST_ERR, "similarity: image and name lists differ in queries (internal)");
    int64_t q1 = nq ? nq : 1;
    out->query_count = nq;
    out->k = k;
    out->query_row = malloc(sizeof(int64_t) * q1);
    out->index = malloc(sizeof(int64_t) * q1 * k);
    out->s_img = malloc(sizeof(float) * q1 * k);
    out->s_name = malloc(sizeof(float) * q1 * k);
    out->s_jaccard = malloc(sizeof(float) * q1 * k);
    out->fused = malloc(sizeof(float) * q1 * k);
    buf = malloc(sizeof *buf * q1 * kc);
    ncand = malloc(sizeof *ncand * q1);
    TRY_ALLOC(out->query_row);
    TRY_ALLOC(out->index);
    TRY_ALLOC(out->s_img);
    TRY_ALLOC(out->s_name);
    TRY_ALLOC(out->s_jaccard);
    TRY_ALLOC(out->fused);
    TRY_ALLOC(buf);
    TRY_ALLOC(ncand);
#pragma omp parallel for schedule(dynamic, 64)
    for (int64_t i = 0; i < nq; i++) {
        int64_t q = img->query_row[i];
        struct cand *c = buf + i * kc;
        int m = 0;
        for (int j = 0; j < ki && img->index[i * ki + j] >= 0; j++)
            c[m++] = (struct cand){img->index[i * ki + j], img->score[i * ki + j], NAN, 0};
        int m_img = m;
        qsort(c, m_img, sizeof *c, cand_row_cmp);
        for (int j = 0; j < kn && name->index[i * kn + j] >= 0; j++) {
            struct cand key = {name->index[i * kn + j], 0, 0, 0};
            struct cand *hit = bsearch(&key, c, m_img, sizeof *c, cand_row_cmp);
            if (hit) {
                hit->s_name = name->score[i * kn + j];
            } else {
                c[m++] = (struct cand){key.row, name_img_score[i * kn + j],
                                       name->score[i * kn + j], 0};
            }
        }
        for (int j = 0; j < m; j++) {
            if (c[j].s_name != c[j].s_name) c[j].s_name = name_index_cosine(ix, q, c[j].row);
            c[j].fused = (float)(w_img * c[j].s_img + w_name * c[j].s_name);
        }
        qsort(c, m, sizeof *c, cand_cmp);
        ncand[i] = m;
        out->query_row[i] = q;
        for (int j = 0; j < k; j++) {
            int64_t o = i * k + j;
            if (j < m) {
                out->index[o] = c[j].row;
                out->s_img[o] = c[j].s_img;
                out->s_name[o] = c[j].s_name;
                out->s_jaccard[o] = name_index_jaccard(ix, q, c[j].row);
                out->fused[o] = c[j].fused;
            } else {
                out->index[o] = -1;
                out->s_img[o] = out->s_name[o] = out->s_jaccard[o] = out->fused[o] = -INFINITY;
            }
        }
    }
    if (all_pairs) {
        int64_t total = 0;
        for (int64_t i = 0; i < nq; i++) total += ncand[i];
        int64_t t1 = total ? total : 1;
        all_pairs->query = malloc(sizeof(int64_t) * t1);
        all_pairs->cand = malloc(sizeof(int64_t) * t1);
        all_pairs->s_img = malloc(sizeof(float) * t1);
        all_pairs->s_name = malloc(sizeof(float) * t1);
        all_pairs->s_jaccard = malloc(sizeof(float) * t1);
        all_pairs->fused = malloc(sizeof(float) * t1);
        TRY_ALLOC(all_pairs->query);
        TRY_ALLOC(all_pairs->cand);
        TRY_ALLOC(all_pairs->s_img);
        TRY_ALLOC(all_pairs->s_name);
        TRY_ALLOC(all_pairs->s_jaccard);
        TRY_ALLOC(all_pairs->fused);
        int64_t p = 0;
        for (int64_t i = 0; i < nq; i++)
            for (int j = 0; j < ncand[i]; j++, p++) {
                const struct cand *c = buf + i * kc + j;
                all_pairs->query[p] = out->query_row[i];
                all_pairs->cand[p] = c->row;
                all_pairs->s_img[p] = c->s_img;
                all_pairs->s_name[p] = c->s_name;
                all_pairs->s_jaccard[p] = name_index_jaccard(ix, out->query_row[i], c->row);
                all_pairs->fused[p] = c->fused;
            }
        all_pairs->count = total;
    }
fail:
    free(buf);
    free(ncand);
    if (rc != ST_OK) {
        fused_lists_free(out);
        fused_pairs_free(all_pairs);
    }
    return rc;
}

static int64_t uf_find(int64_t *parent, int64_t x) {
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

/* Gathers `count` items of `type` (elem_bytes each) from every rank into a
 * malloc'ed *all (every rank gets everything, in rank order). */
static int gather_all(const void *mine, int64_t count, MPI_Datatype type, size_t elem_bytes,
                      void **all, int64_t *total) {
    int rc = ST_OK;
    int size = dist_size();
    int64_t *counts = malloc(sizeof *counts * size);
    int *rc_counts = malloc(sizeof *rc_counts * size), *displs = malloc(sizeof *displs * size);
    *all = NULL;
    TRY_ALLOC(counts);
    TRY_ALLOC(rc_counts);
    TRY_ALLOC(displs);
    TRY(dist_allgather_i64(&count, 1, counts));
    int64_t t = 0;
    for (int r = 0; r < size; r++) {
        REQUIRE(t + counts[r] <= INT_MAX, ST_ERR,
                "similarity: %lld pairs are too many to gather in one message",
                (long long)(t + counts[r]));
        rc_counts[r] = (int)counts[r];
        displs[r] = (int)t;
        t += counts[r];
    }
    *all = malloc(elem_bytes * (t ? t : 1));
    TRY_ALLOC(*all);
    TRY_MPI(MPI_Allgatherv(mine, (int)count, type, *all, rc_counts, displs, type, dist_comm()));
    *total = t;
fail:
    free(counts);
    free(rc_counts);
    free(displs);
    if (rc != ST_OK) {
        free(*all);
        *all = NULL;
    }
    return rc;
}

int fuse_groups(const struct fused_pairs *pairs, double threshold, int64_t n,
                int64_t *group_id, int64_t *group_size) {
    int rc = ST_OK;
    int64_t *mine = NULL, *all = NULL, total = 0, m = 0;
    mine = malloc(sizeof *mine * 2 * (pairs->count ? pairs->count : 1));
    TRY_ALLOC(mine);
    for (int64_t i = 0; i < pairs->count; i++)
        if (pairs->fused[i] >= threshold) {
            mine[2 * m] = pairs->query[i];
            mine[2 * m + 1] = pairs->cand[i];
            m++;
        }
    void *allv = NULL;
    TRY(gather_all(mine, 2 * m, MPI_INT64_T, sizeof(int64_t), &allv, &total));
    all = allv;
    for (int64_t r = 0; r < n; r++) group_id[r] = r;
    for (int64_t i = 0; i + 1 < total; i += 2) {
        int64_t a = uf_find(group_id, all[i]), b = uf_find(group_id, all[i + 1]);
        /* the smaller root wins, so the root is the component's smallest row */
        if (a < b) group_id[b] = a;
        else if (b < a) group_id[a] = b;
    }
    for (int64_t r = 0; r < n; r++) group_size[r] = 0;
    for (int64_t r = 0; r < n; r++) {
        group_id[r] = uf_find(group_id, r);
        group_size[group_id[r]]++;
    }
    for (int64_t r = 0; r < n; r++) group_size[r] = group_size[group_id[r]];
fail:
    free(mine);
    free(all);
    return rc;
}

int fuse_learn(const struct fused_pairs *pairs, const uint8_t *label, const uint8_t *use,
               double lambda, double w[3]) {
    int rc = ST_OK;
    w[0] = w[1] = w[2] = 0;
    for (int it = 0; it < 50; it++) {
        /* gradient g (3) and Hessian H (upper 6) of the penalised log loss */
        double gh[9] = {0};
        for (int64_t i = 0; i < pairs->count; i++) {
            if (!use[i]) continue;
            double x[3] = {pairs->s_img[i], pairs->s_name[i], 1.0};
            double z = w[0] * x[0] + w[1] * x[1] + w[2];
            double p = 1.0 / (1.0 + exp(-z));
            double d = p - (double)label[i], v = p * (1 - p);
            for (int a = 0; a < 3; a++) gh[a] += d * x[a];
            gh[3] += v * x[0] * x[0];
            gh[4] += v * x[0] * x[1];
            gh[5] += v * x[0];
            gh[6] += v * x[1] * x[1];
            gh[7] += v * x[1];
            gh[8] += v;
        }
        TRY(dist_allreduce_sum_f64(gh, 9));
        gh[0] += lambda * w[0];
        gh[1] += lambda * w[1];
        double H[3][3] = {{gh[3] + lambda, gh[4], gh[5]},
                          {gh[4], gh[6] + lambda, gh[7]},
                          {gh[5], gh[7], gh[8] + 1e-9}};
        /* solve H s = g by Cramer's rule (3x3) */
        double det = H[0][0] * (H[1][1] * H[2][2] - H[1][2] * H[2][1]) -
                     H[0][1] * (H[1][0] * H[2][2] - H[1][2] * H[2][0]) +
                     H[0][2] * (H[1][0] * H[2][1] - H[1][1] * H[2][0]);
        if (!(fabs(det) > 1e-300)) break;
        double s[3];
        for (int c = 0; c < 3; c++) {
            double M[3][3];
            memcpy(M, H, sizeof M);
            for (int r = 0; r < 3; r++) M[r][c] = gh[r];
            s[c] = (M[0][0] * (M[1][1] * M[2][2] - M[1][2] * M[2][1]) -
                    M[0][1] * (M[1][0] * M[2][2] - M[1][2] * M[2][0]) +
                    M[0][2] * (M[1][0] * M[2][1] - M[1][1] * M[2][0])) / det;
        }
        double step = 0;
        for (int c = 0; c < 3; c++) {
            w[c] -= s[c];
            step += fabs(s[c]);
        }
        if (step < 1e-10) break;
    }
fail:
    return rc;
}

struct scored {
    float s;
    uint8_t y;
};
static int scored_cmp(const void *a, const void *b) {
    float x = ((const struct scored *)a)->s, y = ((const struct scored *)b)->s;
    return x < y ? -1 : x > y;
}

int fuse_auc(const float *score, const uint8_t *label, const uint8_t *use, int64_t count,
             double *auc, int64_t *positives, int64_t *negatives) {
    int rc = ST_OK;
    struct scored *mine = NULL, *all = NULL;
    int64_t m = 0, total = 0;
    MPI_Datatype type = MPI_DATATYPE_NULL;
    mine = malloc(sizeof *mine * (count ? count : 1));
    TRY_ALLOC(mine);
    for (int64_t i = 0; i < count; i++)
        if (use[i]) mine[m++] = (struct scored){score[i], label[i] != 0};
    TRY_MPI(MPI_Type_contiguous((int)sizeof(struct scored), MPI_BYTE, &type));
    TRY_MPI(MPI_Type_commit(&type));
    void *allv = NULL;
    TRY(gather_all(mine, m, type, sizeof(struct scored), &allv, &total));
    all = allv;
    qsort(all, total, sizeof *all, scored_cmp);
    /* Mann-Whitney: sum of positive ranks, ties get the mean rank */
    double rank_sum = 0;
    int64_t pos = 0;
    for (int64_t i = 0; i < total;) {
        int64_t e = i, p = 0;
        while (e < total && all[e].s == all[i].s) p += all[e++].y;
        double mean_rank = 0.5 * (double)(i + 1 + e);
        rank_sum += mean_rank * (double)p;
        pos += p;
        i = e;
    }
    int64_t neg = total - pos;
    *positives = pos;
    *negatives = neg;
    *auc = pos && neg ? (rank_sum - 0.5 * (double)pos * (double)(pos + 1)) / ((double)pos * (double)neg)
                      : NAN;
fail:
    if (type != MPI_DATATYPE_NULL) MPI_Type_free(&type);
    free(mine);
    free(all);
    return rc;
}
