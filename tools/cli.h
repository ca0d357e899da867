/* cli.h -- the ocellus command line: one file per subcommand (tools/cmd_*.c).
 * Exit codes: 0 ok, 1 bad input (a file, a model, an image), 2 usage. */
#ifndef OC_CLI_H
#define OC_CLI_H

#include "ocellus.h"

#define OC_EXIT_OK 0
#define OC_EXIT_INPUT 1
#define OC_EXIT_USAGE 2

typedef struct {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
    /* optional: what the summary lists, from the table the code uses (e.g. gen's archs) */
    void (*detail)(char *buf, size_t n);
} oc_cli_command;

/* gen's architectures, from the library's generator table ("yolo11, yolov8, yolo12") */
void cli_gen_archs(char *buf, size_t n);

int cmd_info(int argc, char **argv);
int cmd_detect(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_gen(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_segment(int argc, char **argv);

#endif
