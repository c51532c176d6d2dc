/* gpu_module.c - finds and loads libassort_gpu.so (contract in gpu_module.h).
 * Part of every build; without CUDA compiled in there is no module to load
 * and the answer says so. */
#include "nn/gpu_module.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dist/dist.h"
#include "util/check.h"
#include "util/log.h"

/* The core functions the module calls (nm -D --undefined-only on it), which
 * the dynamic loader resolves in the program that loads it. Referencing them
 * here links them into every program that can load the module, whatever else
 * that program uses; `used` keeps the table. tests/sh/gpu_build.sh checks the
 * module's undefined symbols against this list. */
typedef void (*gpu_import_fn)(void);
__attribute__((used)) static const gpu_import_fn module_imports[] = {
    (gpu_import_fn)err_set,         (gpu_import_fn)check_report,
    (gpu_import_fn)log_info,        (gpu_import_fn)log_debug,
    (gpu_import_fn)log_rank,        (gpu_import_fn)dist_rank,
    (gpu_import_fn)dist_size,
    (gpu_import_fn)dist_agree,      (gpu_import_fn)dist_bcast_bytes,
};

static int tried;                        /* a load was attempted */
static int load_status = ST_OK;          /* its result */
static char load_why[4096];              /* its message when it failed */
static const struct gpu_module *module;  /* the table when it loaded */

#ifdef ASSORT_HAVE_CUDA
/* dlopen of one candidate: 1 loaded (table in *out), 0 no such file, -1 a
 * file that did not load (why written). */
static int try_path(const char *path, const struct gpu_module **out, char *why, size_t n) {
    if (access(path, F_OK) != 0) return 0;
    /* RTLD_NOW: a missing CUDA library or core symbol fails here, with
     * dlerror naming it, not at the first call. RTLD_LOCAL: the module's
     * CUDA symbols stay out of the global scope. */
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(why, n, "%.1000s did not load: %.2000s", path, e ? e : "unknown dlopen error");
        return -1;
    }
    const struct gpu_module *m = (const struct gpu_module *)dlsym(h, GPU_MODULE_SYMBOL);
    if (!m) {
        snprintf(why, n, "%.1000s has no symbol %s (not an assort GPU module)", path,
                 GPU_MODULE_SYMBOL);
        dlclose(h);
        return -1;
    }
    if (m->abi != GPU_MODULE_ABI) {
        snprintf(why, n, "%.1000s is of GPU module ABI %d, this assort needs %d; rebuild both from "
                 "one tree", path, m->abi, GPU_MODULE_ABI);
        dlclose(h);
        return -1;
    }
    *out = m; /* never dlclosed: CUDA's own atexit handlers live in it */
    return 1;
}

static int load(void) {
    char cand[3][PATH_MAX];
    int nc = 0;
    const char *env = getenv("ASSORT_GPU_MODULE");
    if (env && *env) snprintf(cand[nc++], PATH_MAX, "%.1000s", env);
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(cand[nc++], PATH_MAX, "%.*s/%s", PATH_MAX - 32, exe, GPU_MODULE_FILE);
        }
    }
#ifdef ASSORT_GPU_MODULE_PATH
    snprintf(cand[nc++], PATH_MAX, "%s", ASSORT_GPU_MODULE_PATH);
#endif
    char why[sizeof load_why] = "", looked[sizeof load_why] = "";
    for (int i = 0; i < nc; i++) {
        int r = try_path(cand[i], &module, why, sizeof why);
        if (r == 1) {
            log_debug("gpu", "GPU module %s loaded", cand[i]);
            return ST_OK;
        }
        if (r < 0) return err_set(ST_USAGE, "GPU module: %s", why);
        /* An explicit $ASSORT_GPU_MODULE that is not there is final. */
        if (i == 0 && env && *env)
            return err_set(ST_USAGE, "GPU module: ASSORT_GPU_MODULE=%.1000s: no such file", env);
        size_t used = strlen(looked);
        snprintf(looked + used, sizeof looked - used, "%s%.1000s", used ? ", " : "", cand[i]);
    }
    return err_set(ST_USAGE, "GPU module %s not found (looked for %s); rebuild with CUDA, or set "
                   "ASSORT_GPU_MODULE to its path", GPU_MODULE_FILE, looked);
}
#else
static int load(void) {
    return err_set(ST_USAGE, "this build has no CUDA (nvcc/cuDNN/NCCL were not found when it was "
                             "configured), so it has no GPU module");
}
#endif

int gpu_module_get(const struct gpu_module **out) {
    if (!tried) {
        tried = 1;
        load_status = load();
        if (load_status != ST_OK) snprintf(load_why, sizeof load_why, "%s", err_msg());
    }
    *out = module;
    if (load_status != ST_OK) return err_set(load_status, "%s", load_why);
    return ST_OK;
}

const struct gpu_module *gpu_module_loaded(void) { return module; }
