/* commands.h - entry points of the subcommands (one file each: cmd_<name>.c).
 * Each takes argv with argv[0] = the subcommand name and returns a status. */
#ifndef ASSORT_COMMANDS_H
#define ASSORT_COMMANDS_H

int cmd_info(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_ingest(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_similarity(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_runs(int argc, char **argv);
int cmd_report(int argc, char **argv);

#endif
