/* h5extent.h - does an HDF5 dataset hold what its header declares?
 *
 * A corrupt or truncated file can declare any extent (3e9 rows in 15 KB);
 * a reader that allocates by the extent before reading then asks for
 * gigabytes, or reads fill values for minutes. Checked before every read
 * that allocates by a file's extent (catalog_read_all, the weights loader).
 */
#ifndef ASSORT_H5EXTENT_H
#define ASSORT_H5EXTENT_H

#include <hdf5.h>
#include <stddef.h>

/* Deflate's best case is ~1,032:1; any filter chain we write stays below. */
#define H5EXTENT_MAX_RATIO 2048

/* 1 when dataset `d`, declaring `elems` elements of its file type, can yield
 * them: unfiltered data takes its full size in the file's storage, filtered
 * data at most H5EXTENT_MAX_RATIO:1 of it, and the storage counts at most
 * `file_bytes` (the file's size; 0 when unknown). 0 when it cannot (also when
 * elems x type size overflows); -1 on an HDF5 error. `*declared` and `*held`
 * (either may be NULL) get the two byte counts for the caller's message. */
int h5extent_fits(hid_t d, size_t elems, hsize_t file_bytes, double *declared, hsize_t *held);

#endif
