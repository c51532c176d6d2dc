/* run.c - run records under /runs/<run-id> (see run.h). */
#include "run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dist/dist.h"
#include "util/check.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/versions.h"

static void run_group(const struct run_record *run, char *out, size_t n) {
    snprintf(out, n, "/runs/%s", run->id);
}

int run_begin(struct catalog *c, const char *command, const struct config *cfg,
              struct run_record *run) {
    int rc = ST_OK;
    char *yaml = NULL;
    char grp[160], name[200];
    memset(run, 0, sizeof *run);
    snprintf(run->command, sizeof run->command, "%s", command);
    run->t_start = time_now();
    time_stamp(run->started, sizeof run->started, 1);
    if (dist_rank() == 0) {
        char day[32];
        time_t t = time(NULL);
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(day, sizeof day, "%Y%m%d-%H%M%S", &tm);
        uint64_t salt[3] = {(uint64_t)getpid(), (uint64_t)t, (uint64_t)(time_now() * 1e9)};
        unsigned tag = (unsigned)(hash64(salt, sizeof salt) & 0xffff);
        snprintf(run->id, sizeof run->id, "%s-%s-%04x", day, command, tag);
    }
    TRY(dist_bcast_bytes(run->id, sizeof run->id, 0));
    TRY(dist_bcast_bytes(run->started, sizeof run->started, 0));
    run->metrics_json = strdup("{}");
    TRY_ALLOC(run->metrics_json);
    run_group(run, grp, sizeof grp);

    char hash[17] = "", host[256] = "", versions[2048];
    TRY(config_to_yaml(cfg, &yaml));
    TRY(config_hash(cfg, hash));
    if (dist_rank() == 0) gethostname(host, sizeof host - 1);
    TRY(dist_bcast_bytes(host, sizeof host, 0));
    versions_string(versions, sizeof versions);
    TRY(dist_bcast_bytes(versions, sizeof versions, 0));

    TRY(catalog_set_attr_str(c, grp, "command", command));
    TRY(catalog_set_attr_str(c, grp, "started", run->started));
    TRY(catalog_set_attr_str(c, grp, "config_hash", hash));
    TRY(catalog_set_attr_str(c, grp, "experiment", cfg->run.name ? cfg->run.name : ""));
    TRY(catalog_set_attr_str(c, grp, "assort_version", ASSORT_VERSION));
    TRY(catalog_set_attr_str(c, grp, "git_commit", ASSORT_GIT_COMMIT));
    TRY(catalog_set_attr_str(c, grp, "library_versions", versions));
    TRY(catalog_set_attr_str(c, grp, "host", host));
    TRY(catalog_set_attr_i64(c, grp, "ranks", dist_size()));
    TRY(catalog_set_attr_i64(c, grp, "seed", cfg->run.seed));
    snprintf(name, sizeof name, "%s/config_yaml", grp);
    TRY(catalog_write_text(c, name, yaml));
    log_info(command, "run %s (config hash %s)", run->id, hash);
fail:
    free(yaml);
    return rc;
}

void run_add_timing(struct run_record *run, const char *name, double seconds) {
    for (int i = 0; i < run->n_timings; i++)
        if (!strcmp(run->timing_names[i], name)) {
            run->timing_seconds[i] += seconds;
            return;
        }
    if (run->n_timings >= RUN_MAX_TIMINGS) return;
    snprintf(run->timing_names[run->n_timings], sizeof run->timing_names[0], "%s", name);
    run->timing_seconds[run->n_timings++] = seconds;
}

int run_set_metrics(struct run_record *run, const char *json) {
    char *copy = strdup(json);
    if (!copy) return err_set(ST_ERR, "out of memory");
    free(run->metrics_json);
    run->metrics_json = copy;
    return ST_OK;
}

int run_end(struct catalog *c, struct run_record *run) {
    int rc = ST_OK;
    char grp[160], name[200], attr[64], ts[40];
    run_group(run, grp, sizeof grp);
    double wall = time_now() - run->t_start;
    TRY(dist_bcast_bytes(&wall, sizeof wall, 0));
    for (int i = 0; i < run->n_timings; i++) {
        snprintf(attr, sizeof attr, "time_%s", run->timing_names[i]);
        TRY(catalog_set_attr_f64(c, grp, attr, run->timing_seconds[i]));
    }
    TRY(catalog_set_attr_f64(c, grp, "wall_seconds", wall));
    time_stamp(ts, sizeof ts, 1);
    TRY(dist_bcast_bytes(ts, sizeof ts, 0));
    TRY(catalog_set_attr_str(c, grp, "finished", ts));
    snprintf(name, sizeof name, "%s/metrics_json", grp);
    TRY(catalog_write_text(c, name, run->metrics_json ? run->metrics_json : "{}"));
    TRY(catalog_mark_complete(c, grp));
fail:
    run_free(run);
    return rc;
}

void run_free(struct run_record *run) {
    free(run->metrics_json);
    run->metrics_json = NULL;
}
