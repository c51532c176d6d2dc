/* replay_main.c - feeds files to a fuzz target without libFuzzer.
 *
 * Usage: replay_<target> PATH...   each PATH is a file or a directory whose
 * regular files are replayed (not recursive), in name order. Used by ctest to
 * replay tests/fuzz/<target>/seeds and crashes with any compiler; a crash or
 * sanitizer report ends the process and fails the test. Prints how many
 * inputs ran; exits 1 when no input was found (an empty corpus is a mistake).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_util.h"

/* Optional in a target; the weak default does nothing. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    return 0;
}

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (!buf || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    /* libFuzzer passes a buffer of exactly the input's size; so do we. */
    uint8_t *exact = malloc(n > 0 ? (size_t)n : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    if (n > 0) memcpy(exact, buf, (size_t)n);
    free(buf);
    fprintf(stderr, "replay: %s (%ld bytes)\n", path, n);
    LLVMFuzzerTestOneInput(exact, (size_t)n);
    free(exact);
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
    LLVMFuzzerInitialize(&argc, &argv);
    int ran = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) continue; /* e.g. no crashes/ folder yet */
        if (!S_ISDIR(st.st_mode)) {
            bad |= run_file(argv[i]) != 0;
            ran++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (!d) continue;
        char **names = NULL;
        size_t count = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", argv[i], e->d_name);
            if (e->d_name[0] == '.' || stat(p, &st) != 0 || !S_ISREG(st.st_mode)) continue;
            char **grown = realloc(names, (count + 1) * sizeof *names);
            if (!grown) break;
            names = grown;
            names[count++] = strdup(p);
        }
        closedir(d);
        qsort(names, count, sizeof *names, cmp_str);
        for (size_t k = 0; k < count; k++) {
            bad |= run_file(names[k]) != 0;
            ran++;
            free(names[k]);
        }
        free(names);
    }
    printf("replayed %d input(s)\n", ran);
    return bad || ran == 0 ? 1 : 0;
}
