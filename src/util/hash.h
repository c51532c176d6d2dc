/* hash.h - content hashes (XXH3 from libxxhash). */
#ifndef ASSORT_HASH_H
#define ASSORT_HASH_H

#include <stddef.h>
#include <stdint.h>

/* XXH3-128 of a buffer, stored big-endian (high 64 bits first) in out[16]. */
void hash128(const void *data, size_t size_bytes, uint8_t out[16]);

/* XXH3-64 of a buffer. */
uint64_t hash64(const void *data, size_t size_bytes);

/* Lower-case hex of `n` bytes into out (needs 2n+1 bytes). */
void hash_hex(const uint8_t *bytes, size_t n, char *out);

#endif
