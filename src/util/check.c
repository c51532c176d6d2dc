#include "check.h"

#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

int check_report(int code, const char *lib, const char *call, const char *why,
                 const char *fn, const char *file, int line) {
    const char *base = strrchr(file, '/');
    return err_set(code, "%s call `%s` failed in %s (%s:%d) on rank %d: %s", lib,
                   call, fn, base ? base + 1 : file, line, log_rank(), why);
}

/* H5Ewalk2 callback: keep the innermost (first) record's description. */
static herr_t h5_walk_first(unsigned n, const H5E_error2_t *e, void *data) {
    char *out = data;
    if (n == 0 && e && e->desc)
        snprintf(out, 512, "%s (in %s)", e->desc, e->func_name ? e->func_name : "?");
    return 0;
}

int check_report_h5(const char *call, const char *fn, const char *file, int line) {
    char why[512] = "no HDF5 error message";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, h5_walk_first, why);
    H5Eclear2(H5E_DEFAULT);
    return check_report(ST_ERR, "HDF5", call, why, fn, file, line);
}

int check_report_mpi(int mpi_rc, const char *call, const char *fn,
                     const char *file, int line) {
    char why[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    if (MPI_Error_string(mpi_rc, why, &len) != MPI_SUCCESS)
        snprintf(why, sizeof why, "MPI error %d", mpi_rc);
    return check_report(ST_ERR, "MPI", call, why, fn, file, line);
}
