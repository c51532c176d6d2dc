#include "versions.h"

#include <stdio.h>

#include <cblas.h>
#include <hdf5.h>
#include <jpeglib.h>
#include <mpi.h>
#include <png.h>
#include <string.h>
#include <utf8proc.h>
#include <xxhash.h>
#include <yaml.h>

#define STR_(x) #x
#define STR(x) STR_(x)

void versions_string(char *out, size_t out_size) {
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    char mpi[MPI_MAX_LIBRARY_VERSION_STRING] = "unknown";
    int len = 0;
    MPI_Get_library_version(mpi, &len);
    char *nl = strpbrk(mpi, ",\n");
    if (nl) *nl = '\0';
    unsigned xx = XXH_versionNumber();
    snprintf(out, out_size,
             "hdf5 %u.%u.%u; mpi %s; openblas %s; libjpeg-turbo %s; libpng %s; libyaml %s; "
             "xxhash %u.%u.%u; utf8proc %s",
             maj, min, rel, mpi, openblas_get_config(), STR(LIBJPEG_TURBO_VERSION),
             png_get_libpng_ver(NULL), yaml_get_version_string(), xx / 10000, (xx / 100) % 100,
             xx % 100, utf8proc_version());
}
