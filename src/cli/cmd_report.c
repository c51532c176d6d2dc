/* cmd_report.c - placeholder replaced below */
#include "commands.h"
#include "util/status.h"
int cmd_report(int argc, char **argv) {
    (void)argc, (void)argv;
    return err_set(ST_ERR, "not yet");
}
