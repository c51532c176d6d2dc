/* TEMPORARY: replaced by the catalog work. */
#include "commands.h"
#include "util/status.h"
int cmd_info(int argc, char **argv) { (void)argc; (void)argv; return err_set(ST_ERR, "not built yet"); }
