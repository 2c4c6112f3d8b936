/* `vigil`: one program, one subcommand per job. */
#include "cmd.h"
#include "vigil/common.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Shared by run and sim. */
char *vg_cmd_read_secret(const char *path, const char **why)
{
    FILE *f = fopen(path, "r");
    char line[512], *copy;

    if (!f) {
        *why = strerror(errno);
        return NULL;
    }
    if (!fgets(line, sizeof(line), f)) {
        /* errno is not set at end of file: "Success" would be a confusing reason */
        *why = ferror(f) ? strerror(errno) : "empty file";
        fclose(f);
        return NULL;
    }
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    if (!(copy = strdup(line)))
        *why = "out of memory";
    return copy;
}

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"run", vg_cmd_run, "the live engine: MQTT in, graded alerts out on ZeroMQ, HDF5 archive"},
    {"watch", vg_cmd_watch, "the control-room console: live alerts, ack and shelve"},
    {"check", vg_cmd_check, "validate a venue model file and print a summary"},
    {"detect", vg_cmd_detect, "the streaming anomaly detector over timestamp,value CSV files"},
    {"replay", vg_cmd_replay, "run HDF5 archives through the core again (post-event review)"},
    {"tune", vg_cmd_tune, "sweep thresholds over archives: alert rates against lead time"},
    {"sim", vg_cmd_sim, "simulate an event day on a venue model and publish it over MQTT"},
    {"score", vg_cmd_score, "score an engine's alerts (events file or archives) against a ground truth"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: vigil <command> [options]   (vigil <command> --help for its options)\n"
               "\nVigil watches every zone of a venue, grades what it sees and routes each alert"
               "\nto the team that must act.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
}

/* Output that could not be written (a full disk) fails a command that otherwise worked: a
 * summary, a table or a score must not be lost with exit status 0. */
static int finish(int rc)
{
    if (rc == 0 && (fflush(stdout) != 0 || ferror(stdout))) {
        fprintf(stderr, "vigil: stdout: write error: %s\n", strerror(errno));
        return 1;
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return finish(0);
    }
    if (strcmp(argv[1], "--version") == 0) {
        puts("vigil 0.1.0");
        return finish(0);
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return finish(commands[i].fn(argc - 1, argv + 1));
    fprintf(stderr, "vigil: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
