/* extract.h - `assort extract`: backbone features for the catalog's products.
 *
 * The rows to extract are the active products with /products/dirty = 1 or
 * /features/<b>/valid = 0 (every active product with --all). The list is
 * cut into contiguous shards, one per rank; each rank reads its pixels in
 * batches with collective parallel-HDF5 reads while the previous batch is
 * computed (double buffering: an I/O thread does every HDF5 call), and the
 * features go to /features/<b>/{data, normalized, valid} in the same
 * catalog transaction that clears the dirty flags of the rows written.
 * Resumable: valid = 1 / dirty = 0 are written with each batch's features,
 * so an interrupted work copy says by itself what is left. docs/extract.md.
 */
#ifndef ASSORT_EXTRACT_H
#define ASSORT_EXTRACT_H

#include <stdint.h>

#include "config/config.h"

struct extract_request {
    const char *catalog;  /* path of the catalog .h5 */
    int all;              /* 1: every active product, not only dirty / invalid ones */
    const char *backbone; /* lite0|lite1|lite2; NULL = extract.backbone */
    int batch;            /* images per forward pass per rank; 0 = extract.batch */
    const char *device;   /* cpu|gpu|auto; NULL = extract.device */
    int stop_after;       /* stop as if signalled after this many batches; 0 = never */
};

/* Runs the extraction. Collective over dist_comm(). Returns ST_OK (catalog
 * committed), ST_INTERRUPTED (SIGTERM/SIGUSR1 or stop_after: the work copy
 * is kept, a rerun resumes it), ST_USAGE (bad option, GPU asked for but not
 * available), ST_DATA (no images, missing weights, image size refused), or
 * ST_ERR. Failures are agreed over the ranks (dist_agree) before returning. */
int extract_catalog(const struct extract_request *req, const struct config *cfg);

/* Resamples a square RGB image (side src_side) to (dst_side, dst_side, 3)
 * with the bilinear (triangle, antialiased when shrinking) filter of Pillow's
 * Image.resize(BILINEAR) over the whole picture. Local, thread-safe. */
int extract_resample(const uint8_t *src, int src_side, uint8_t *dst, int dst_side);

/* L2-normalises each of `rows` rows of `dim` floats from src into dst
 * (a zero row stays zero). Sums in double. Local. */
void extract_l2_normalize(const float *src, int64_t rows, int dim, float *dst);

#endif
