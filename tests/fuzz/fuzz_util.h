/* fuzz_util.h - shared helpers for the libFuzzer targets in tests/fuzz/.
 *
 * Each target defines LLVMFuzzerTestOneInput (and optionally
 * LLVMFuzzerInitialize). The same source links either with libFuzzer
 * (clang -fsanitize=fuzzer, tools/fuzz) or with replay_main.c (any compiler,
 * ctest), which feeds the committed seeds and crash reproducers to it.
 */
#ifndef ASSORT_FUZZ_UTIL_H
#define ASSORT_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A private directory for this process (mkdtemp under $TMPDIR or /tmp),
 * made on the first call; removed at exit with the files written through
 * fuzz_write_file(). Returns NULL when it cannot be made. */
const char *fuzz_tmpdir(void);

/* Writes data[0..size) to <fuzz_tmpdir()>/<name> (replacing it) and puts the
 * full path in out. Returns 0 on success, -1 on failure. */
int fuzz_write_file(const char *name, const uint8_t *data, size_t size, char *out, size_t out_bytes);

#endif
