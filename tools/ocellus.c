/* ocellus -- the command-line tool: dispatch to tools/cmd_*.c. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const oc_cli_command commands[] = {
    {"info", "print a model file's metadata, tensors, parameters and GFLOPs", cmd_info},
    {"gen", "write a model file with deterministic synthetic weights (yolo11, yolov8)", cmd_gen},
    {"run", "run a model on raw tensors (safetensors in/out), optionally every layer", cmd_run},
    {"detect", "detect objects in images (YOLO): summary, annotated PNG, JSON", cmd_detect},
    {"convert", "convert an ultralytics ONNX export or a state_dict to an Ocellus model", cmd_convert},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: ocellus COMMAND [options]   (ocellus COMMAND --help for each)\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nexit codes: 0 ok, 1 bad input, 2 usage\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return OC_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return OC_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("ocellus %s\n", oc_version());
        return OC_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "ocellus: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return OC_EXIT_USAGE;
}
