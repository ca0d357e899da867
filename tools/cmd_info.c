/* ocellus info FILE -- placeholder until the safetensors reader lands (issue 2). */
#include <stdio.h>

#include "cli.h"

int cmd_info(int argc, char **argv)
{
    (void)argv;
    if (argc != 2) {
        fprintf(stderr, "usage: ocellus info FILE.safetensors\n");
        return OC_EXIT_USAGE;
    }
    fprintf(stderr, "ocellus info: not built yet\n");
    return OC_EXIT_INPUT;
}
