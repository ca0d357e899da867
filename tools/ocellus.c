/* ocellus -- the command-line tool: dispatch to tools/cmd_*.c. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const oc_cli_command commands[] = {
    {"info", "print a model file's metadata, tensors, parameters and GFLOPs", cmd_info, NULL},
    {"gen", "write a model file with deterministic synthetic weights", cmd_gen, cli_gen_archs},
    {"run", "run a model on raw tensors (safetensors in/out), optionally every layer", cmd_run,
     NULL},
    {"detect", "detect objects in images (YOLO): summary, annotated PNG, JSON", cmd_detect, NULL},
    {"segment", "segment what points / a box prompt (SAM2): overlay PNG, mask PNG, RLE JSON",
     cmd_segment, NULL},
    {"convert", "convert an ultralytics ONNX export or a state_dict to an Ocellus model",
     cmd_convert, NULL},
};

/* The library is silent unless a log callback is installed: the CLI shows its warnings
 * (an OCELLUS_ISA or OCELLUS_NUM_THREADS it cannot honour, a decoder's complaint) on stderr. */
static void log_to_stderr(oc_log_level level, const char *msg, void *user)
{
    (void)user;
    if (level < OC_LOG_WARN) return;
    fprintf(stderr, "ocellus: %s: %s\n", level == OC_LOG_WARN ? "warning" : "error", msg);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: ocellus COMMAND [options]   (ocellus COMMAND --help for each)\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        char detail[256] = "";
        if (commands[i].detail) commands[i].detail(detail, sizeof detail);
        fprintf(f, "  %-9s %s%s%s%s\n", commands[i].name, commands[i].summary,
                detail[0] ? " (" : "", detail, detail[0] ? ")" : "");
    }
    fprintf(f, "\nexit codes: 0 ok, 1 bad input, 2 usage\n");
}

int main(int argc, char **argv)
{
    oc_set_log_callback(log_to_stderr, NULL);
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
