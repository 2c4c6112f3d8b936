/* vigil replay: runs HDF5 archives through the analysis core again and prints the alerts as
 * JSON lines. With the archived models and settings the output is the live alert stream,
 * byte for byte (--verify checks it against the alerts the archive recorded): a reload
 * archived in the run switches the replay's core (and alert layer) at the same point of the
 * input stream as it switched the live one. */
#include "cmd.h"

#include "vigil/alert.h"
#include "vigil/archive.h"
#include "vigil/common.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vigil replay ARCHIVE... [--model FILE] [--speed N|max] [--publish ENDPOINT]\n"
            "                    [--verify] [--quiet]\n"
            "\n"
            "Runs archives (in the order given: a rotated run's files oldest first) through the\n"
            "analysis core and prints each alert event as a JSON line on stdout.\n"
            "\n"
            "  --model FILE      grade against this venue model instead of the archived ones\n"
            "                    (one model for the whole replay: archived reloads are ignored);\n"
            "                    it must number zones, sensors, cameras, lines and help points\n"
            "                    as the archives did (new objects at the end of a list)\n"
            "  --speed N|max     N event seconds per wall second, N >= 0.001 (default max: as\n"
            "                    fast as possible)\n"
            "  --publish EP      also publish through the alert layer on a ZeroMQ PUB socket bound\n"
            "                    at EP, tcp://HOST:PORT or tcp://HOST:* (feeds as `vigil run`;\n"
            "                    control socket on a free port); waits 1 s after binding so\n"
            "                    subscribers can connect\n"
            "  --verify          compare the replayed alerts with the archived ones; exit 1 on any\n"
            "                    difference (meaningful with the archived model only)\n"
            "  --quiet           no JSON lines (with --verify, or to time a replay)\n"
            "\n"
            "A summary (files, readings, ticks, alerts, rate) goes to stderr.\n");
}

struct replay {
    const vg_model *model;     /* in force now: names ids in the JSON lines */
    uint64_t digest;           /* the archived digest of that model (0: --model) */
    vg_model **models;         /* loaded from the archives; freed after the alert thread */
    size_t n_models;
    vg_ring *pub;              /* --publish: vg_alert_input records to the vg-alert thread */
    vg_alert_input *packed;    /* scratch for metrics */
    size_t packed_cap;
    int quiet;
    int verify;
    /* archived alerts of the current file, for --verify */
    vg_alert_event *want;
    size_t want_n, want_pos;
    uint64_t mismatches, missing, extra;
    uint64_t alerts;
    char line[2048], line2[2048];
};

/* A replay does not drop: wait for the publisher. */
static void pub_push(struct replay *rp, const vg_alert_input *in)
{
    while (vg_ring_push(rp->pub, in) < 0)
        if (vg_ring_wait_writable(rp->pub, 1, -1) == -ECANCELED)
            return;
}

static void on_metrics(void *ctx, int64_t t_ns, const vg_zone_metrics *zones, size_t n)
{
    struct replay *rp = ctx;
    size_t k = vg_alert_pack_metrics(zones, n, t_ns, rp->packed, rp->packed_cap);

    for (size_t i = 0; i < k; i++)
        pub_push(rp, &rp->packed[i]);
}

static void on_alert(void *ctx, const vg_alert_event *ev)
{
    struct replay *rp = ctx;
    int n = vg_archive_alert_json(rp->model, ev, rp->line, sizeof(rp->line));

    if (rp->pub) {
        vg_alert_input in;

        memset(&in, 0, sizeof(in));
        in.type = VG_ALERT_IN_EVENT;
        in.t_ns = ev->t_ns;
        in.u.event = *ev;
        pub_push(rp, &in);
    }
    rp->alerts++;
    if (!rp->quiet && n > 0) {
        fwrite(rp->line, 1, (size_t)n < sizeof(rp->line) ? (size_t)n : sizeof(rp->line) - 1,
               stdout);
        fputc('\n', stdout);
    }
    if (rp->verify) {
        if (rp->want_pos >= rp->want_n) {
            rp->extra++;
            return;
        }
        vg_archive_alert_json(rp->model, &rp->want[rp->want_pos++], rp->line2,
                              sizeof(rp->line2));
        if (strcmp(rp->line, rp->line2) != 0) {
            if (rp->mismatches == 0)
                fprintf(stderr, "vigil replay: first difference:\n  live:   %s\n  replay: %s\n",
                        rp->line2, rp->line);
            rp->mismatches++;
        }
    }
}

/* Switches the core (and the alert side) to the file's idx-th model, as the live engine did
 * at this point of the stream. Returns 0, or -1 after saying why. */
static int switch_model(struct replay *rp, vg_analysis *an, vg_archive_reader *rd,
                        const char *file, size_t idx, int64_t last_tick)
{
    vg_archive_model mi;
    vg_model_error err;
    vg_model *m = NULL, **list;
    int r;

    memset(&mi, 0, sizeof(mi));
    vg_archive_reader_model(rd, idx, &mi);
    list = realloc(rp->models, (rp->n_models + 1) * sizeof(*list));
    if (!list) {
        fprintf(stderr, "vigil replay: %s: model %zu: %s\n", file, idx, vg_strerror(-ENOMEM));
        return -1;
    }
    rp->models = list;
    r = vg_archive_reader_load_model_at(rd, idx, &m, &err);
    if (r < 0) {
        if (r == -EINVAL)
            fprintf(stderr, "vigil replay: %s: archived model %zu (%s, after reading %llu, "
                            "tick %llu) does not load: %s:%d: %s: %s\n",
                    file, idx, mi.path[0] ? mi.path : "-", (unsigned long long)mi.reading_index,
                    (unsigned long long)mi.tick_index, err.file, err.line, err.key, err.message);
        else
            fprintf(stderr, "vigil replay: %s: archived model %zu: %s\n", file, idx,
                    vg_strerror(r));
        return -1;
    }
    r = vg_analysis_reload(an, m);
    if (r < 0) {
        fprintf(stderr, "vigil replay: %s: switching to model %zu: %s\n", file, idx,
                vg_strerror(r));
        vg_model_free(&m);
        return -1;
    }
    rp->models[rp->n_models++] = m;
    if (rp->pub) {
        size_t cap = vg_model_zone_count(m) / VG_ALERT_METRICS_PER_INPUT + 1;
        vg_alert_input in;

        if (cap > rp->packed_cap) {
            vg_alert_input *nb = realloc(rp->packed, cap * sizeof(*nb));

            if (!nb) {
                fprintf(stderr, "vigil replay: %s: model %zu: %s\n", file, idx,
                        vg_strerror(-ENOMEM));
                return -1;
            }
            rp->packed = nb;
            rp->packed_cap = cap;
        }
        /* After the events before the switch, as the engine does; the model outlives the
         * alert thread (freed at the end). */
        memset(&in, 0, sizeof(in));
        in.type = VG_ALERT_IN_MODEL;
        in.t_ns = last_tick;
        in.u.reload.model = m;
        pub_push(rp, &in);
    }
    rp->model = m;
    rp->digest = mi.digest;
    fprintf(stderr, "vigil replay: %s: model %zu in force (%s%s%s) after reading %llu, tick %llu\n",
            file, idx, mi.path[0] ? mi.path : "-", mi.version[0] ? ", version " : "", mi.version,
            (unsigned long long)mi.reading_index, (unsigned long long)mi.tick_index);
    return 0;
}

/* Checks the file's model rows before replaying it: with switch_models, every reload must
 * have a position in the file's stream (else the file is refused); files written before
 * positions were archived replay with one model, as they always did. Returns 0 or -1. */
static int prepare_switches(vg_archive_reader *rd, const char *file, const vg_archive_info *info,
                            int switch_models)
{
    size_t n = (size_t)info->count[VG_ARCHIVE_REC_MODEL];
    vg_archive_model mi;

    if (n < 2)
        return 0;
    if (!switch_models) {
        fprintf(stderr, "vigil replay: %s: %zu archived reload(s) not applied (--model)\n", file,
                n - 1);
        return 0;
    }
    if (!info->switch_positions) {
        fprintf(stderr, "vigil replay: %s: written before reload points were archived: its "
                        "%zu reload(s) are not applied (one model, as before)\n", file, n - 1);
        return 0;
    }
    if (vg_archive_reader_switches(rd, 1) == 0)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if (vg_archive_reader_model(rd, i, &mi) == -ERANGE) {
            fprintf(stderr, "vigil replay: %s: archived model %zu switches after reading %llu, "
                            "tick %llu: not a point of this file (%llu readings, %llu ticks); "
                            "the file is damaged (--model FILE replays it with one model)\n",
                    file, i, (unsigned long long)mi.reading_index,
                    (unsigned long long)mi.tick_index,
                    (unsigned long long)info->count[VG_ARCHIVE_REC_READING],
                    (unsigned long long)info->count[VG_ARCHIVE_REC_TICK]);
            return -1;
        }
    }
    fprintf(stderr, "vigil replay: %s: cannot read its models\n", file);
    return -1;
}

static void model_error(const char *what, const char *which, int r, const vg_model_error *err)
{
    if (r == -EINVAL)
        fprintf(stderr, "vigil replay: %s: %s does not load: %s:%d: %s: %s\n", what, which,
                err->file, err->line, err->key, err->message);
    else
        fprintf(stderr, "vigil replay: %s: model: %s\n", what, vg_strerror(r));
}

/* --model grades every file with one model, and readings name zones, sensors, cameras,
 * lines and help points by index: it must be the archives' venue, numbered as every model
 * in force in them was, or alerts go to the wrong places. Checked before replaying any
 * file. Returns 0, or -1 after saying why. */
static int check_model(const char *path, const vg_model *m, char **files, int n)
{
    for (int i = 0; i < n; i++) {
        vg_archive_reader *rd = NULL;
        vg_archive_info info;
        int r = vg_archive_reader_open(files[i], &rd);

        if (r < 0) {
            fprintf(stderr, "vigil replay: %s: %s\n", files[i],
                    r == -EPROTO ? "not a Vigil archive" : vg_strerror(r));
            return -1;
        }
        vg_archive_reader_info(rd, &info);
        r = vg_cmd_check_layout("replay", rd, files[i], &info, m, path,
                                "replay it without --model, which switches models where the "
                                "live core did");
        vg_archive_reader_free(&rd);
        if (r < 0)
            return -1;
    }
    return 0;
}

static void sleep_until_mono(int64_t t)
{
    struct timespec ts = {(time_t)(t / VG_NS_PER_S), (long)(t % VG_NS_PER_S)};

    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

int vg_cmd_replay(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'}, {"speed", required_argument, NULL, 's'},
        {"publish", required_argument, NULL, 'p'}, {"verify", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *model_path = NULL, *publish = NULL;
    double speed = 0; /* 0: max */
    struct replay rp;
    vg_model *model = NULL;
    vg_model_error err;
    vg_analysis *an = NULL;
    vg_alert *pub = NULL;
    vg_analysis_cfg acfg;
    uint64_t readings = 0, ticks = 0, lost = 0;
    int64_t t0_wall = vg_mono_ns(), first_tick = INT64_MIN, last_tick = INT64_MIN;
    int c, rc = 1;

    memset(&rp, 0, sizeof(rp));
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:s:p:vqh", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model_path = optarg; break;
        case 's':
            if (strcmp(optarg, "max") == 0) {
                speed = 0;
            } else {
                char *end;

                speed = strtod(optarg, &end);
                if (*end || !(speed >= VG_MIN_SPEED) || !isfinite(speed)) {
                    fprintf(stderr, "vigil replay: --speed takes a number >= %g or max\n",
                            VG_MIN_SPEED);
                    return 2;
                }
            }
            break;
        case 'p':
            /* as vigil run's --feeds: a typo is bad usage, not a failure after the models load */
            if (vg_cmd_zmq_endpoint_ok(optarg) < 0) {
                fprintf(stderr, "vigil replay: invalid --publish endpoint '%s' (tcp://HOST:PORT "
                                "or tcp://HOST:*)\n", optarg);
                return 2;
            }
            publish = optarg;
            break;
        case 'v': rp.verify = 1; break;
        case 'q': rp.quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    if (rp.verify && model_path)
        fprintf(stderr, "vigil replay: --verify with another model: differences are expected\n");
    if (model_path) {
        int r = vg_model_load(model_path, &model, &err);

        if (r < 0) {
            model_error(model_path, "the model", r, &err);
            goto out;
        }
        if (check_model(model_path, model, argv + optind, argc - optind) < 0)
            goto out;
    }

    for (int i = optind; i < argc; i++) {
        vg_archive_reader *rd = NULL;
        vg_archive_info info;
        vg_archive_input in;
        int r = vg_archive_reader_open(argv[i], &rd);

        if (r < 0) {
            fprintf(stderr, "vigil replay: %s: %s\n", argv[i],
                    r == -EPROTO ? "not a Vigil archive" : vg_strerror(r));
            goto out;
        }
        vg_archive_reader_info(rd, &info);
        if (info.after_fault)
            fprintf(stderr, "vigil replay: %s: written after an archive fault lost records; "
                            "the replay may differ from the live run there\n", argv[i]);
        if (info.cut_rows)
            fprintf(stderr, "vigil replay: %s: %llu rows of zeros at its end left out (a "
                            "write cut short by a full disk); the live run went on past it\n",
                    argv[i], (unsigned long long)info.cut_rows);
        if (prepare_switches(rd, argv[i], &info, !model_path) < 0) {
            vg_archive_reader_free(&rd);
            goto out;
        }
        if (!an) {
            if (!model && (r = vg_archive_reader_load_model(rd, &model, &err)) < 0) {
                model_error(argv[i], "archived model 0", r, &err);
                vg_archive_reader_free(&rd);
                goto out;
            }
            rp.model = model;
            rp.digest = model_path ? 0 : info.model_digest;
            acfg = info.analysis;
            acfg.sink.ctx = &rp;
            acfg.sink.on_alert = on_alert;
            if (publish) {
                vg_alert_cfg pcfg;

                vg_alert_cfg_default(&pcfg);
                pcfg.feeds_endpoint = publish;
                pcfg.control_endpoint = "tcp://127.0.0.1:*";
                rp.packed_cap = vg_model_zone_count(model) / VG_ALERT_METRICS_PER_INPUT + 1;
                rp.packed = calloc(rp.packed_cap, sizeof(*rp.packed));
                r = rp.packed ? vg_ring_new(sizeof(vg_alert_input), 1024, &rp.pub) : -ENOMEM;
                if (r == 0)
                    r = vg_alert_new(model, &pcfg, &pub);
                if (r == 0)
                    r = vg_alert_start(pub, rp.pub);
                if (r < 0) {
                    fprintf(stderr, "vigil replay: --publish %s: %s\n", publish, vg_strerror(r));
                    vg_archive_reader_free(&rd);
                    goto out;
                }
                fprintf(stderr, "vigil replay: publishing on %s (control %s)\n",
                        vg_alert_feeds_endpoint(pub), vg_alert_control_endpoint(pub));
                acfg.sink.on_metrics = on_metrics;
                /* PUB drops what goes out before a subscriber's connection is up */
                {
                    struct timespec one = {1, 0};

                    nanosleep(&one, NULL);
                }
            }
            r = vg_analysis_new(model, &acfg, &an);
            if (r < 0) {
                fprintf(stderr, "vigil replay: analysis: %s\n", vg_strerror(r));
                vg_archive_reader_free(&rd);
                goto out;
            }
        } else if (!model_path && info.switch_positions && info.count[VG_ARCHIVE_REC_MODEL] &&
                   info.model_digest != rp.digest &&
                   switch_model(&rp, an, rd, argv[i], 0, last_tick) < 0) {
            /* A file that starts with another model than the previous one ended with (its
             * switch was lost to an archive fault): it is in force from its start. */
            vg_archive_reader_free(&rd);
            goto out;
        }
        if (rp.verify) {
            /* Alerts of this file not yet matched carry over as missing. */
            rp.missing += rp.want_n - rp.want_pos;
            free(rp.want);
            rp.want_n = (size_t)info.count[VG_ARCHIVE_REC_ALERT];
            rp.want_pos = 0;
            rp.want = calloc(rp.want_n ? rp.want_n : 1, sizeof(*rp.want));
            if (!rp.want || vg_archive_reader_read(rd, VG_ARCHIVE_REC_ALERT, 0, rp.want_n,
                                                   rp.want) < 0) {
                fprintf(stderr, "vigil replay: %s: cannot read its alerts\n", argv[i]);
                vg_archive_reader_free(&rd);
                goto out;
            }
        }
        while ((r = vg_archive_reader_next(rd, &in)) == 1) {
            if (in.type == VG_ARCHIVE_REC_READING) {
                vg_analysis_push(an, &in.reading);
                readings++;
                continue;
            }
            if (in.type == VG_ARCHIVE_REC_MODEL) {
                if (switch_model(&rp, an, rd, argv[i], in.model, last_tick) < 0) {
                    r = -ECANCELED;
                    break;
                }
                continue;
            }
            if (speed > 0) {
                if (first_tick == INT64_MIN)
                    first_tick = in.t_ns;
                /* capped (at 30 years) so a long run at a slow speed cannot overflow */
                double wait_ns = fmin((double)(in.t_ns - first_tick) / speed, 1e18);
                sleep_until_mono(t0_wall + (int64_t)wait_ns);
            }
            if (vg_analysis_tick(an, in.t_ns) < 0) {
                fprintf(stderr, "vigil replay: %s: tick goes back in time (files out of order?)\n",
                        argv[i]);
                r = -EINVAL;
                break;
            }
            if (rp.pub) { /* after the tick's events, as the engine does */
                vg_alert_input tin;

                memset(&tin, 0, sizeof(tin));
                tin.type = VG_ALERT_IN_TICK;
                tin.t_ns = in.t_ns;
                pub_push(&rp, &tin);
            }
            ticks++;
            last_tick = in.t_ns;
            lost = in.lost;
            if (!rp.quiet)
                fflush(stdout);
        }
        vg_archive_reader_free(&rd);
        if (r < 0) {
            if (r != -EINVAL && r != -ECANCELED)
                fprintf(stderr, "vigil replay: %s: %s\n", argv[i], vg_strerror(r));
            goto out;
        }
    }
    fflush(stdout);
    {
        double secs = (double)(vg_mono_ns() - t0_wall) / 1e9;

        fprintf(stderr,
                "vigil replay: %d file(s), %llu readings, %llu ticks, %llu alert events, "
                "%.3f s (%.0f readings/s)\n",
                argc - optind, (unsigned long long)readings, (unsigned long long)ticks,
                (unsigned long long)rp.alerts, secs, secs > 0 ? (double)readings / secs : 0.0);
    }
    if (lost)
        fprintf(stderr, "vigil replay: the live run could not archive %llu records: the replay "
                        "may differ\n", (unsigned long long)lost);
    rc = 0;
    if (rp.verify) {
        rp.missing += rp.want_n - rp.want_pos;
        if (rp.mismatches || rp.missing || rp.extra) {
            fprintf(stderr, "vigil replay: verify: %llu differ, %llu missing, %llu extra\n",
                    (unsigned long long)rp.mismatches, (unsigned long long)rp.missing,
                    (unsigned long long)rp.extra);
            rc = 1;
        } else {
            fprintf(stderr, "vigil replay: verify: %llu alert events identical to the live run\n",
                    (unsigned long long)rp.alerts);
        }
    }
out:
    if (pub) {
        vg_alert_stop(pub); /* publishes what the ring still holds */
        vg_alert_free(&pub);
    }
    vg_ring_free(&rp.pub);
    free(rp.packed);
    free(rp.want);
    vg_analysis_free(&an);
    vg_model_free(&model);
    for (size_t i = 0; i < rp.n_models; i++)
        vg_model_free(&rp.models[i]);
    free(rp.models);
    return rc;
}
