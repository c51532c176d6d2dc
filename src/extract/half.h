/* half.h - IEEE 754 binary16 ("half", numpy float16) storage of features.
 *
 * The catalog stores float16 features as an HDF5 IEEE half type that h5py
 * reads as numpy.float16. HDF5 1.10 has no predefined half type and its
 * soft float conversion is slow, so the values are converted here
 * (round to nearest, ties to even, as numpy's astype(float16)) and written
 * with the file type as the memory type (no HDF5 conversion).
 */
#ifndef ASSORT_EXTRACT_HALF_H
#define ASSORT_EXTRACT_HALF_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

/* One float to binary16 bits: round to nearest even; overflow gives +-inf,
 * NaN stays NaN (quiet), values below the smallest subnormal round to +-0. */
uint16_t half_from_float(float f);

/* binary16 bits to float (exact). */
float half_to_float(uint16_t h);

/* Converts count floats to binary16 bits (dst may not alias src). */
void half_from_floats(const float *src, size_t count, uint16_t *dst);

/* A new HDF5 little-endian IEEE binary16 type (sign bit 15, exponent bits
 * 10-14 with bias 15, mantissa bits 0-9). Caller closes it (H5Tclose).
 * Negative on failure (HDF5 error stack set). */
hid_t half_h5_type(void);

#endif
