/* check.h - the one family of check macros.
 *
 * Every macro is generated from CHECK_GEN(failed, report): when `failed` is
 * true, `report` (an expression that records a one-line message with
 * err_set() and yields a status) is stored in the caller's `rc` and control
 * jumps to the caller's `fail:` label, where the function cleans up and
 * returns rc. The message names the failing call, function, file:line, the MPI
 * rank, and the library's own message (H5E stack, MPI_Error_string, ...).
 *
 *   int f(void) {
 *       int rc = ST_OK;
 *       hid_t d = -1;
 *       TRY_H5(d = H5Dopen2(file, "/x", H5P_DEFAULT));
 *       ...
 *   fail:
 *       if (d >= 0) H5Dclose(d);
 *       return rc;
 *   }
 *
 * CUDA, cuDNN and NCCL members of the family live in src/nn/cuda_check.h so
 * that this header needs no CUDA.
 */
#ifndef ASSORT_CHECK_H
#define ASSORT_CHECK_H

#include "status.h"

#define CHECK_GEN(failed, report)                                              \
    do {                                                                       \
        if (failed) {                                                          \
            rc = (report);                                                     \
            goto fail;                                                         \
        }                                                                      \
    } while (0)

/* Propagate an assort status from a callee (its message is already set). */
#define TRY(expr)                                                              \
    do {                                                                       \
        int try_st_ = (expr);                                                  \
        CHECK_GEN(try_st_ != ST_OK, try_st_);                                  \
    } while (0)

/* Fail with our own message. */
#define FAIL(code, ...) CHECK_GEN(1, err_set((code), __VA_ARGS__))

/* Fail unless `cond` holds. */
#define REQUIRE(cond, code, ...) CHECK_GEN(!(cond), err_set((code), __VA_ARGS__))

/* A NULL from an allocator. */
#define TRY_ALLOC(ptr)                                                         \
    CHECK_GEN((ptr) == NULL,                                                   \
              check_report(ST_ERR, "allocation", #ptr, "out of memory",       \
                           __func__, __FILE__, __LINE__))

/* HDF5: hid_t / herr_t results below zero. */
#define TRY_H5(expr)                                                           \
    CHECK_GEN((expr) < 0, check_report_h5(#expr, __func__, __FILE__, __LINE__))

/* MPI: anything but MPI_SUCCESS. */
#define TRY_MPI(expr)                                                          \
    do {                                                                       \
        int try_mpi_ = (expr);                                                 \
        CHECK_GEN(try_mpi_ != 0, check_report_mpi(try_mpi_, #expr, __func__,  \
                                                  __FILE__, __LINE__));        \
    } while (0)

/* Records "<lib> call `call` failed in fn (file:line) on rank R: why" and
 * returns `code`. */
int check_report(int code, const char *lib, const char *call, const char *why,
                 const char *fn, const char *file, int line);

/* Same, with the innermost message of HDF5's default error stack (which is
 * then cleared). Returns ST_ERR. */
int check_report_h5(const char *call, const char *fn, const char *file, int line);

/* Same, with MPI_Error_string(mpi_rc). Returns ST_ERR. */
int check_report_mpi(int mpi_rc, const char *call, const char *fn,
                     const char *file, int line);

#endif
