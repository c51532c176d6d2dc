/* h5extent.c - see h5extent.h. */
#include "h5extent.h"

int h5extent_fits(hid_t d, size_t elems, hsize_t file_bytes, double *declared, hsize_t *held) {
    hid_t ft = H5Dget_type(d), dcpl = H5Dget_create_plist(d);
    int nfilters = dcpl >= 0 ? H5Pget_nfilters(dcpl) : -1;
    size_t tsize = ft >= 0 ? H5Tget_size(ft) : 0, bytes = 0;
    if (dcpl >= 0) H5Pclose(dcpl);
    if (ft >= 0) H5Tclose(ft);
    if (nfilters < 0 || tsize == 0) return -1;
    int overflow = __builtin_mul_overflow(elems, tsize, &bytes);
    hsize_t storage = H5Dget_storage_size(d);
    if (file_bytes > 0 && storage > file_bytes) storage = file_bytes;
    if (declared) *declared = (double)elems * (double)tsize;
    if (held) *held = storage;
    double limit = (double)storage * (nfilters > 0 ? H5EXTENT_MAX_RATIO : 1);
    return !overflow && (double)bytes <= limit;
}
