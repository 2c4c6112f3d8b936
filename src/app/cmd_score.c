/* vigil score: score an engine's alerts against a simulator's ground truth (issue #8).
 *
 * The judging is src/sim/score.c; this file picks the alert reader: the JSON-lines events
 * file `vigil run --events FILE` writes, or the HDF5 archive files of the run. Archived
 * alerts are formatted with vg_engine_event_json(), the very function that writes the
 * events file, and parsed back, so both inputs reach vg_score_add_alert() as the same
 * records and score alike. */
#include "cmd.h"
#include "vigil/archive.h"
#include "vigil/common.h"
#include "vigil/engine.h"
#include "vigil/sim.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vigil score [--json] ALERTS GROUND_TRUTH\n"
            "       vigil score [--json] ARCHIVE.h5... GROUND_TRUTH\n"
            "\n"
            "Scores an engine's alerts against the ground truth `vigil sim --truth` wrote:\n"
            "which incidents were caught, on which feed, with what lead time (crowd build-ups:\n"
            "seconds before the zone's true density reached critical, at least 60) or delay\n"
            "(the others: seconds after the incident began; help presses within 5); false\n"
            "alerts (warning or above, in no incident's zone or next door during its window);\n"
            "and alerts per 10 minutes (EEMUA 191: under 1 is acceptable, 10 or more a flood).\n"
            "\n"
            "The alerts come from either\n"
            "  - ALERTS, the JSON-lines alert file the engine writes with `vigil run --events\n"
            "    FILE` (one alert event object per line: id, feed, kind, zone, grade, action or\n"
            "    state, ts in Unix seconds, value, threshold; - reads stdin), or\n"
            "  - one or more HDF5 archive files of the run (names ending in .h5 or .hdf5; in\n"
            "    the order given, a rotated run's files oldest first, as `vigil replay` takes\n"
            "    them): the alert transitions the live engine archived, zones named by the\n"
            "    first file's model. Both give the same report for the same run.\n"
            "The last argument is always the ground truth.\n"
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

/* Alerts per read from the archive: bounded memory however long the run. */
#define SCORE_BATCH 256

/* Feeds the alert transitions of archive files paths[0..n) to s, in order. Prints its own
 * errors. Returns 0 or a negative errno. */
static int read_archives(vg_score *s, char *const *paths, int n)
{
    vg_model *model = NULL;
    vg_alert_event *evs = calloc(SCORE_BATCH, sizeof(*evs));
    char line[8192];
    int r = evs ? 0 : -ENOMEM;

    for (int i = 0; i < n && r == 0; i++) {
        vg_archive_reader *rd = NULL;
        vg_archive_info info;

        r = vg_archive_reader_open(paths[i], &rd);
        if (r < 0) {
            fprintf(stderr, "vigil score: %s: %s\n", paths[i],
                    r == -EPROTO ? "not a Vigil archive" : vg_strerror(r));
            break;
        }
        vg_archive_reader_info(rd, &info);
        if (info.after_fault || info.lost || info.cut_rows)
            fprintf(stderr,
                    "vigil score: %s: the live run lost archive records; alerts may "
                    "be missing from it\n",
                    paths[i]);
        if (!model) {
            vg_model_error merr;

            /* Alerts name zones by index: the model turns them back into ids. */
            r = vg_archive_reader_load_model(rd, &model, &merr);
            if (r < 0) {
                if (r == -EINVAL)
                    fprintf(stderr, "vigil score: %s: archived model: %s:%d: %s: %s\n", paths[i],
                            merr.file, merr.line, merr.key, merr.message);
                else
                    fprintf(stderr, "vigil score: %s: archived model: %s\n", paths[i],
                            vg_strerror(r));
                vg_archive_reader_free(&rd);
                break;
            }
        }
        for (uint64_t at = 0; r == 0 && at < info.count[VG_ARCHIVE_REC_ALERT];) {
            uint64_t left = info.count[VG_ARCHIVE_REC_ALERT] - at;
            size_t k = left < SCORE_BATCH ? (size_t)left : SCORE_BATCH;

            r = vg_archive_reader_read(rd, VG_ARCHIVE_REC_ALERT, at, k, evs);
            if (r < 0) {
                fprintf(stderr, "vigil score: %s: cannot read its alerts: %s\n", paths[i],
                        vg_strerror(r));
                break;
            }
            for (size_t j = 0; j < k && r == 0; j++) {
                vg_score_alert a;
                size_t len = vg_engine_event_json(model, &evs[j], line, sizeof(line));

                if (len >= sizeof(line) || vg_score_parse_alert(line, len, &a) < 0) {
                    fprintf(stderr, "vigil score: %s: alert %llu cannot be scored\n", paths[i],
                            (unsigned long long)(at + j));
                    r = -EPROTO;
                    break;
                }
                r = vg_score_add_alert(s, &a);
                if (r < 0)
                    fprintf(stderr, "vigil score: %s\n", vg_strerror(r));
            }
            at += k;
        }
        vg_archive_reader_free(&rd);
    }
    if (r == -ENOMEM && !evs)
        fprintf(stderr, "vigil score: %s\n", vg_strerror(r));
    free(evs);
    vg_model_free(&model);
    return r;
}

/* FILE:LINE: where the error has a line; a file that cannot be read has none, and its
 * error says so, as vigil check does (not "FILE:0: No such file or directory"). */
static void print_error(int r, const vg_scenario_error *e, const char *path)
{
    const char *file = e->file[0] ? e->file : path;
    const char *msg = e->message[0] ? e->message : vg_strerror(r);

    if (e->line > 0)
        fprintf(stderr, "vigil score: %s:%d: %s%s%s\n", file, e->line, e->key,
                e->key[0] ? ": " : "", msg);
    else if (r != -EINVAL && r != -ENOMEM)
        fprintf(stderr, "vigil score: %s: cannot read: %s\n", file, msg);
    else
        fprintf(stderr, "vigil score: %s: %s%s%s\n", file, e->key, e->key[0] ? ": " : "", msg);
}

int vg_cmd_score(int argc, char **argv)
{
    static const struct option options[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int json = 0, c, r, status, nin;
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
    nin = argc - optind - 1;
    if (nin < 1) {
        usage(stderr);
        return 2;
    }
    const char *truth = argv[argc - 1];
    int archives = is_archive(argv[optind]);
    /* One JSON-lines file, or archives only: a mix has no defined order. */
    for (int i = optind; i < argc - 1; i++) {
        if (is_archive(argv[i]) != archives || (!archives && nin > 1)) {
            fprintf(stderr, "vigil score: give one JSON-lines alert file or one or more .h5 "
                            "archive files, then the ground truth\n");
            usage(stderr);
            return 2;
        }
    }
    memset(&err, 0, sizeof(err));
    r = vg_score_new(truth, &s, &err);
    if (r < 0) {
        print_error(r, &err, truth);
        return 1;
    }
    if (archives) {
        r = read_archives(s, argv + optind, nin);
    } else {
        memset(&err, 0, sizeof(err));
        r = vg_score_read_jsonl(s, argv[optind], &err);
        if (r < 0)
            print_error(r, &err, argv[optind]);
    }
    if (r < 0) {
        vg_score_free(&s);
        return 1;
    }
    r = json ? vg_score_write_json(s, stdout) : vg_score_write_text(s, stdout);
    vg_score_summary_get(s, &sum);
    status = r < 0 || sum.passed != sum.incidents || sum.false_alerts > 0;
    vg_score_free(&s);
    return status;
}
