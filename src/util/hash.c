#include "hash.h"

#include <xxhash.h>

void hash128(const void *data, size_t size_bytes, uint8_t out[16]) {
    XXH128_hash_t h = XXH3_128bits(data, size_bytes);
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(h.high64 >> (56 - 8 * i));
        out[8 + i] = (uint8_t)(h.low64 >> (56 - 8 * i));
    }
}

uint64_t hash64(const void *data, size_t size_bytes) { return XXH3_64bits(data, size_bytes); }

void hash_hex(const uint8_t *bytes, size_t n, char *out) {
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[bytes[i] >> 4];
        out[2 * i + 1] = hex[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}
