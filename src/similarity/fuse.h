/* fuse.h - fused image + name scores of candidate pairs, near-duplicate
 * groups, and learned fusion weights.
 *
 * Candidates of a query = the union of its image and name neighbours. Every
 * candidate gets both scores exactly: s_img from the image list or, for a
 * name-only candidate, the exact dot product computed during the image ring
 * pass (knn_pairs); s_name from the name list or name_index_cosine().
 * fused = w_img * s_img + w_name * s_name. The k best candidates by fused
 * (ties: smaller row) are kept per query; every candidate pair with
 * fused >= threshold feeds the near-duplicate groups.
 */
#ifndef ASSORT_SIM_FUSE_H
#define ASSORT_SIM_FUSE_H

#include <stdint.h>

#include "similarity/knn.h"
#include "similarity/names.h"

struct fused_lists {
    int64_t query_count;
    int k;
    int64_t *query_row;  /* (query_count) */
    int64_t *index;      /* (query_count, k) global rows, best fused first; -1 pads */
    float *s_img;        /* (query_count, k) image cosine */
    float *s_name;       /* (query_count, k) name TF-IDF cosine */
    float *s_jaccard;    /* (query_count, k) name token Jaccard */
    float *fused;        /* (query_count, k) w_img * s_img + w_name * s_name */
};

/* Pairs (query, candidate) with their features, for groups and learning. */
struct fused_pairs {
    int64_t count;
    int64_t *query, *cand;   /* (count) global rows */
    float *s_img, *s_name, *s_jaccard, *fused; /* (count) */
};

/* Fuses the image lists `img` and name lists `name` (same queries, same
 * order). name_img_score holds, for each name neighbour (query_count, k as in
 * `name`), its exact image score (from knn_pairs); NaN where unknown.
 * Writes the top-k fused lists into *out and, when all_pairs is not NULL,
 * every candidate pair (the whole union) into *all_pairs. Local. Caller frees
 * both with fused_lists_free / fused_pairs_free. */
int fuse_lists(const struct knn_lists *img, const struct knn_lists *name,
               const float *name_img_score, const struct name_index *ix, double w_img,
               double w_name, struct fused_lists *out, struct fused_pairs *all_pairs);

void fused_lists_free(struct fused_lists *l);
void fused_pairs_free(struct fused_pairs *p);

/* Near-duplicate groups: union-find over the pairs (this rank's; pairs of all
 * ranks are gathered) with fused >= threshold, over rows [0, n). group_id[r]
 * = the smallest row of r's component, group_size[r] its size (1 = alone).
 * Collective; group_id/group_size (n each) are the caller's and are filled
 * identically on every rank. */
int fuse_groups(const struct fused_pairs *pairs, double threshold, int64_t n,
                int64_t *group_id, int64_t *group_size);

/* Logistic regression p(same) = sigmoid(w[0] * s_img + w[1] * s_name + w[2])
 * fitted by Newton's method (L2 penalty lambda on w[0..1]) on the pairs with
 * use[i] != 0 and labels label[i] (0/1). Collective (gradients and Hessians
 * are summed over ranks). Writes w[3]. */
int fuse_learn(const struct fused_pairs *pairs, const uint8_t *label, const uint8_t *use,
               double lambda, double w[3]);

/* ROC AUC of score[i] for label[i] over the pairs with use[i] != 0, counting
 * ties as half (exact: pairs are gathered to every rank and sorted).
 * Collective. *auc = NAN when a class is absent. */
int fuse_auc(const float *score, const uint8_t *label, const uint8_t *use, int64_t count,
             double *auc, int64_t *positives, int64_t *negatives);

#endif
