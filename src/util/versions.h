/* versions.h - versions of the libraries this binary runs with, for run records. */
#ifndef ASSORT_VERSIONS_H
#define ASSORT_VERSIONS_H

#include <stddef.h>

/* Writes "hdf5 1.10.8; mpi Open MPI v4.1.4; openblas ...; ..." into out. */
void versions_string(char *out, size_t out_size);

#endif
