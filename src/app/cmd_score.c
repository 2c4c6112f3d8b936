/* vigil score: score an engine's alerts against a simulator's ground truth (issue #8).
 *
 * The judging is src/sim/score.c; this file picks the alert reader. Today that is the
 * JSON-lines events file `vigil run --events FILE` writes; an HDF5 archive reader plugs in
 * here by feeding each archived alert transition to vg_score_add_alert(). */
#include "cmd.h"
#include "vigil/common.h"
#include "vigil/sim.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vigil score [--json] ALERTS GROUND_TRUTH\n"
            "\n"
            "Scores an engine's alerts against the ground truth `vigil sim --truth` wrote:\n"
            "which incidents were caught, on which feed, with what lead time (crowd build-ups:\n"
            "seconds before the zone's true density reached critical, at least 60) or delay\n"
            "(the others: seconds after the incident began; help presses within 5); false\n"
            "alerts (warning or above, in no incident's zone or next door during its window);\n"
            "and alerts per 10 minutes (EEMUA 191: under 1 is acceptable, 10 or more a flood).\n"
            "\n"
            "ALERTS is the JSON-lines alert file the engine writes with `vigil run --events\n"
            "FILE` (one alert event object per line: id, feed, kind, zone, grade, action or\n"
            "state, ts in Unix seconds, value, threshold; - reads stdin). Reading the alerts\n"
            "straight from an HDF5 archive is not built yet: the archive reader plugs in beside\n"
            "the JSON-lines reader (src/app/cmd_score.c).\n"
            "\n"
            "options:\n"
            "  --json    print the report as one JSON document instead of text\n"
            "\n"
            "exit status: 0 every incident passed and no false alert at warning or above,\n"
            "             1 otherwise (or a file could not be read), 2 bad usage\n");
}

static int is_archive(const char *path)
{
    size_t n = strlen(path);
    return (n > 3 && strcmp(path + n - 3, ".h5") == 0) ||
           (n > 5 && strcmp(path + n - 5, ".hdf5") == 0);
}

int vg_cmd_score(int argc, char **argv)
{
    static const struct option options[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int json = 0, c, r, status;
    vg_score *s = NULL;
    vg_scenario_error err;
    vg_score_summary sum;

    optind = 1;
    while ((c = getopt_long(argc, argv, "hj", options, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return 0;
        case 'j':
            json = 1;
            break;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (argc - optind != 2) {
        usage(stderr);
        return 2;
    }
    const char *alerts = argv[optind], *truth = argv[optind + 1];
    if (is_archive(alerts)) {
        fprintf(stderr,
                "vigil score: %s: reading alerts from an HDF5 archive is not built yet; pass "
                "the JSON-lines file from `vigil run --events FILE`\n",
                alerts);
        return 1;
    }
    r = vg_score_new(truth, &s, &err);
    if (r < 0) {
        fprintf(stderr, "vigil score: %s:%d: %s%s%s\n", err.file, err.line, err.key,
                err.key[0] ? ": " : "", err.message);
        return 1;
    }
    r = vg_score_read_jsonl(s, alerts, &err);
    if (r < 0) {
        fprintf(stderr, "vigil score: %s:%d: %s\n", err.file, err.line, err.message);
        vg_score_free(&s);
        return 1;
    }
    r = json ? vg_score_write_json(s, stdout) : vg_score_write_text(s, stdout);
    vg_score_summary_get(s, &sum);
    status = r < 0 || sum.passed != sum.incidents || sum.false_alerts > 0;
    vg_score_free(&s);
    return status;
}
