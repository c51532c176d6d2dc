/* knn.c - exact blocked cosine kNN over a ring of ranks (see knn.h). */
#include "similarity/knn.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "util/check.h"
#include "util/fault.h"
#include "util/log.h"
#include "util/signals.h"

/* a is worse than b: lower score, or equal score and larger index. */
static inline int topk_worse(float sa, int64_t ia, float sb, int64_t ib) {
    return sa < sb || (sa == sb && ia > ib);
}

static void topk_sift_down(struct topk *t, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, w = i;
        if (l < t->n && topk_worse(t->score[l], t->index[l], t->score[w], t->index[w])) w = l;
        if (r < t->n && topk_worse(t->score[r], t->index[r], t->score[w], t->index[w])) w = r;
        if (w == i) return;
        float s = t->score[i];
        t->score[i] = t->score[w];
        t->score[w] = s;
        int64_t x = t->index[i];
        t->index[i] = t->index[w];
        t->index[w] = x;
        i = w;
    }
}

void topk_push(struct topk *t, float score, int64_t index) {
    if (t->k <= 0 || score != score) return;
    if (t->n < t->k) {
        /* sift up: the root is the worst kept entry */
        int i = t->n++;
        t->score[i] = score;
        t->index[i] = index;
        while (i > 0) {
            int p = (i - 1) / 2;
            if (!topk_worse(t->score[i], t->index[i], t->score[p], t->index[p])) break;
            float s = t->score[i];
            t->score[i] = t->score[p];
            t->score[p] = s;
            int64_t x = t->index[i];
            t->index[i] = t->index[p];
            t->index[p] = x;
            i = p;
        }
        return;
    }
    if (!topk_worse(t->score[0], t->index[0], score, index)) return;
    t->score[0] = score;
    t->index[0] = index;
    topk_sift_down(t, 0);
}

void topk_finish(struct topk *t) {
    /* heap sort: repeatedly move the worst to the end */
    int n = t->n;
    while (t->n > 1) {
        int last = t->n - 1;
        float s = t->score[0];
        t->score[0] = t->score[last];
        t->score[last] = s;
        int64_t x = t->index[0];
        t->index[0] = t->index[last];
        t->index[last] = x;
        t->n--;
        topk_sift_down(t, 0);
    }
    t->n = n;
    for (int i = n; i < t->k; i++) {
        t->score[i] = -INFINITY;
        t->index[i] = -1;
    }
}

void knn_shard_range(int64_t n, int block, int rank, int size, int64_t *begin, int64_t *end) {
    if (block < 1) block = 1;
    int64_t blocks = (n + block - 1) / block, b0, b1;
    dist_shard_range(blocks, rank, size, &b0, &b1);
    *begin = b0 * block < n ? b0 * block : n;
    *end = b1 * block < n ? b1 * block : n;
}

void knn_normalize_rows(float *x, int64_t n, int dim, uint8_t *usable, int64_t *bad_count) {
    int64_t bad = 0;
#pragma omp parallel for schedule(static) reduction(+ : bad)
    for (int64_t i = 0; i < n; i++) {
        float *r = x + i * dim;
        double ss = 0;
        for (int j = 0; j < dim; j++) ss += (double)r[j] * r[j];
        if (!(ss > 0) || !isfinite(ss)) {
            bad++;
            if (usable) usable[i] = 0;
            continue;
        }
        float inv = (float)(1.0 / sqrt(ss));
        for (int j = 0; j < dim; j++) r[j] *= inv;
    }
    if (bad_count) *bad_count = bad;
}

void knn_lists_free(struct knn_lists *l) {
    if (!l) return;
    free(l->query_row);
    free(l->index);
    free(l->score);
    l->query_row = l->index = NULL;
    l->score = NULL;
}

/* Scores one query block (qn rows gathered in q) against candidate rows
 * [c0, c1) held in cand (starting at global row cand_begin) and offers them
 * to the heaps. tile: (qn, block) scratch. */
static void knn_block(const float *q, const int64_t *qrow, int qn, const float *cand,
                      int64_t cand_begin, int64_t c0, int64_t c1, int dim,
                      const uint8_t *usable, float *tile, struct topk *heaps) {
    int cn = (int)(c1 - c0);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, qn, cn, dim, 1.0f, q, dim,
                cand + (c0 - cand_begin) * dim, dim, 0.0f, tile, cn);
#pragma omp parallel for schedule(static)
    for (int i = 0; i < qn; i++) {
        struct topk *h = &heaps[i];
        const float *row = tile + (int64_t)i * cn;
        int64_t self = qrow[i];
        if (!usable[self]) continue;
        for (int j = 0; j < cn; j++) {
            float s = row[j];
            /* fast reject before touching the candidate's flags */
            if (h->n == h->k && s < h->score[0]) continue;
            int64_t c = c0 + j;
            if (c == self || !usable[c]) continue;
            topk_push(h, s, c);
        }
    }
}

int knn_search(const struct knn_shard *sh, const int64_t *query_rows, int64_t query_count,
               int k, int block, struct knn_pairs *extra, struct knn_lists *out) {
    int rc = ST_OK;
    int rank = dist_rank(), size = dist_size();
    int dim = sh->dim;
    int64_t n = sh->total_count;
    float *bufs[2] = {NULL, NULL}, *qbuf = NULL, *tile = NULL;
    struct topk *heaps = NULL;
    int64_t *qrow_blk = NULL;
    memset(out, 0, sizeof *out);
    REQUIRE(k >= 1 && block >= 1 && dim >= 1, ST_USAGE,
            "similarity: k (%d), block (%d) and dim (%d) must be >= 1", k, block, dim);
    {
        int64_t b0, b1;
        knn_shard_range(n, block, rank, size, &b0, &b1);
        REQUIRE(b0 == sh->row_begin && b1 - b0 == sh->row_count, ST_ERR,
                "similarity: rank %d holds rows [%lld, %lld) but the block-aligned shard is "
                "[%lld, %lld) (internal)", rank, (long long)sh->row_begin,
                (long long)(sh->row_begin + sh->row_count), (long long)b0, (long long)b1);
    }
    /* the largest shard bounds the ring buffers */
    int64_t max_rows = 0;
    for (int r = 0; r < size; r++) {
        int64_t b0, b1;
        knn_shard_range(n, block, r, size, &b0, &b1);
        if (b1 - b0 > max_rows) max_rows = b1 - b0;
    }
    REQUIRE(max_rows * dim <= INT_MAX, ST_USAGE,
            "similarity: a shard of %lld x %d floats is too large for one MPI message; "
            "run with more ranks", (long long)max_rows, dim);

    out->query_count = query_count;
    out->k = k;
    out->query_row = malloc(sizeof *out->query_row * (query_count ? query_count : 1));
    out->index = malloc(sizeof *out->index * (query_count ? query_count : 1) * k);
    out->score = malloc(sizeof *out->score * (query_count ? query_count : 1) * k);
    heaps = calloc(query_count ? query_count : 1, sizeof *heaps);
    TRY_ALLOC(out->query_row);
    TRY_ALLOC(out->index);
    TRY_ALLOC(out->score);
    TRY_ALLOC(heaps);
    for (int64_t i = 0; i < query_count; i++) {
        REQUIRE(query_rows[i] >= sh->row_begin && query_rows[i] < sh->row_begin + sh->row_count &&
                    (i == 0 || query_rows[i] > query_rows[i - 1]), ST_ERR,
                "similarity: query row %lld is outside this rank's shard or not ascending (internal)",
                (long long)query_rows[i]);
        out->query_row[i] = query_rows[i];
        heaps[i] = (struct topk){k, 0, out->score + i * k, out->index + i * k};
    }

    size_t shard_floats = (size_t)(max_rows ? max_rows : 1) * dim;
    bufs[0] = malloc(sizeof(float) * shard_floats);
    bufs[1] = size > 1 ? malloc(sizeof(float) * shard_floats) : NULL;
    qbuf = malloc(sizeof(float) * (size_t)block * dim);
    tile = malloc(sizeof(float) * (size_t)block * block);
    qrow_blk = malloc(sizeof *qrow_blk * block);
    TRY_ALLOC(bufs[0]);
    if (size > 1) TRY_ALLOC(bufs[1]);
    TRY_ALLOC(qbuf);
    TRY_ALLOC(tile);
    TRY_ALLOC(qrow_blk);
    if (sh->row_count) memcpy(bufs[0], sh->feats, sizeof(float) * sh->row_count * dim);

    /* progress in tiles (query block x candidate block), rank 0's count */
    int64_t q_blocks = 0;
    for (int64_t i = 0; i < query_count; i++)
        if (i == 0 || query_rows[i] / block != query_rows[i - 1] / block) q_blocks++;
    struct progress prog;
    int64_t tiles_done = 0;
    progress_begin(&prog, "similarity", "image tiles", q_blocks * ((n + block - 1) / block));
    int cur = 0;
    for (int step = 0; step <= size; step++) {
        /* Stop point before each ring step and after the last (collective):
         * nothing is written yet, so a stop leaves the catalog as it was. */
        if (fault_armed()) TRY(dist_agree(fault_point("similarity.step"))); /* tests only */
        int stop = 0;
        TRY(signals_stop_agreed(&stop));
        REQUIRE(!stop, ST_INTERRUPTED, "stopped by a signal during the image kNN; nothing was "
                "written (similarity keeps no checkpoint: rerun the same command)");
        if (step == size) break;
        int owner = (rank - step + size) % size;
        int64_t c_begin, c_end;
        knn_shard_range(n, block, owner, size, &c_begin, &c_end);
        MPI_Request req[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
        if (step + 1 < size) {
            /* pass the visiting shard to the right, receive the next from the left */
            int next_owner = (rank - step - 1 + size) % size;
            int64_t nb, ne;
            knn_shard_range(n, block, next_owner, size, &nb, &ne);
            TRY_MPI(MPI_Irecv(bufs[1 - cur], (int)((ne - nb) * dim), MPI_FLOAT,
                              (rank - 1 + size) % size, 71, dist_comm(), &req[0]));
            TRY_MPI(MPI_Isend(bufs[cur], (int)((c_end - c_begin) * dim), MPI_FLOAT,
                              (rank + 1) % size, 71, dist_comm(), &req[1]));
        }
        const float *cand = bufs[cur];
        /* each local query block against each candidate block of the visitor */
        int64_t qi = 0;
        while (qi < query_count) {
            int64_t blk = query_rows[qi] / block;
            int qn = 0;
            int64_t q_first = qi;
            while (qi < query_count && query_rows[qi] / block == blk) {
                qrow_blk[qn] = query_rows[qi];
                memcpy(qbuf + (int64_t)qn * dim, sh->feats + (query_rows[qi] - sh->row_begin) * dim,
                       sizeof(float) * dim);
                qn++;
                qi++;
            }
            for (int64_t c0 = c_begin; c0 < c_end; c0 += block) {
                int64_t c1 = c0 + block < c_end ? c0 + block : c_end;
                knn_block(qbuf, qrow_blk, qn, cand, c_begin, c0, c1, dim, sh->usable, tile,
                          heaps + q_first);
                progress_update(&prog, ++tiles_done);
            }
        }
        if (extra) {
#pragma omp parallel for schedule(static)
            for (int64_t p = 0; p < extra->count; p++) {
                int64_t c = extra->cand[p];
                if (c < c_begin || c >= c_end) continue;
                const float *a = sh->feats + (extra->query[p] - sh->row_begin) * dim;
                const float *b = cand + (c - c_begin) * dim;
                double s = 0;
                for (int j = 0; j < dim; j++) s += (double)a[j] * b[j];
                extra->score[p] = (float)s;
            }
        }
        if (step + 1 < size) {
            TRY_MPI(MPI_Waitall(2, req, MPI_STATUSES_IGNORE));
            cur = 1 - cur;
        }
    }
    for (int64_t i = 0; i < query_count; i++) topk_finish(&heaps[i]);
    progress_end(&prog);

fail:
    free(bufs[0]);
    free(bufs[1]);
    free(qbuf);
    free(tile);
    free(qrow_blk);
    free(heaps);
    if (rc != ST_OK) knn_lists_free(out);
    return rc;
}
