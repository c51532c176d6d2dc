/* test_extract_half.c - float <-> IEEE binary16: known encodings from the
 * IEEE 754 tables (rounding to nearest even at normal, subnormal and overflow
 * edges), exact round trips of all 65536 codes, and agreement with HDF5's own
 * conversion from the HDF5 half type that the catalog stores. */
#include <hdf5.h>
#include <math.h>
#include <string.h>

#include "extract/half.h"
#include "testlib.h"

static float bits_f(uint32_t x) {
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}

int main(void) {
    struct {
        float f;
        uint16_t h;
    } cases[] = {
        {0.0f, 0x0000},         {-0.0f, 0x8000},
        {1.0f, 0x3c00},         {-2.0f, 0xc000},
        {0.5f, 0x3800},         {65504.0f, 0x7bff},
        {65519.0f, 0x7bff},     {65520.0f, 0x7c00},          /* halfway to 65536: even = inf */
        {1e6f, 0x7c00},         {-1e6f, 0xfc00},
        {ldexpf(1, -14), 0x0400},                            /* smallest normal */
        {ldexpf(1, -14) - ldexpf(1, -24), 0x03ff},           /* largest subnormal */
        {ldexpf(1, -24), 0x0001},                            /* smallest subnormal */
        {ldexpf(1, -25), 0x0000},                            /* tie with 0: even */
        {ldexpf(1.5f, -25), 0x0001},
        {ldexpf(1, -26), 0x0000},
        {ldexpf(3, -25), 0x0002},                            /* 1.5 subnormal ulps: tie -> even 2 */
        {1.0f + ldexpf(1, -11), 0x3c00},                     /* tie: even */
        {1.0f + ldexpf(3, -11), 0x3c02},                     /* tie: even */
        {1.0f + ldexpf(1, -11) + ldexpf(1, -20), 0x3c01},
        {0.1f, 0x2e66},         {3.14159265f, 0x4248},
        {0.333333333f, 0x3555},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t h = half_from_float(cases[i].f);
        EXPECT(h == cases[i].h, "half(%.9g) = 0x%04x, expected 0x%04x", cases[i].f, h, cases[i].h);
    }
    EXPECT(half_from_float(bits_f(0x7f800000u)) == 0x7c00, "+inf");
    uint16_t hn = half_from_float(bits_f(0x7fc00001u));
    EXPECT((hn & 0x7c00) == 0x7c00 && (hn & 0x3ff), "NaN stays NaN (0x%04x)", hn);
    EXPECT_NEAR(half_to_float(0x3555), 0.333251953125, 0);
    EXPECT_NEAR(half_to_float(0x0001), ldexp(1, -24), 0);
    EXPECT_NEAR(half_to_float(0xfbff), -65504.0, 0);

    /* all codes: exact round trip (NaNs aside) and HDF5's conversion agrees */
    int trip_bad = 0, h5_bad = 0;
    static uint16_t codes[65536];
    static float conv[65536];
    for (uint32_t h = 0; h < 65536; h++) codes[h] = (uint16_t)h;
    memcpy(conv, codes, sizeof codes); /* H5Tconvert works in place, buffer sized for floats */
    hid_t ht = half_h5_type();
    EXPECT(ht >= 0, "half_h5_type");
    EXPECT(H5Tget_size(ht) == 2, "size");
    herr_t e = H5Tconvert(ht, H5T_NATIVE_FLOAT, 65536, conv, NULL, H5P_DEFAULT);
    EXPECT(e >= 0, "H5Tconvert");
    for (uint32_t h = 0; h < 65536; h++) {
        int nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        float f = half_to_float((uint16_t)h);
        if (nan) continue;
        if (half_from_float(f) != h) trip_bad++;
        if (memcmp(&f, &conv[h], sizeof f)) h5_bad++;
    }
    EXPECT_INT(trip_bad, 0);
    EXPECT_INT(h5_bad, 0);
    H5Tclose(ht);
    return TEST_END();
}
