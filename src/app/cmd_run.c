/* vigil run: the live engine. Parses the flags, loads the model, starts vg_engine and waits
 * for signals: SIGINT/SIGTERM stop it (the rings drain first), SIGUSR1 logs a status line,
 * SIGHUP reloads the model file (systemd ExecReload).
 *
 * Signals are blocked before any thread starts, so every thread inherits the mask and only
 * this (main) thread takes them, synchronously, with sigtimedwait(): no async handler
 * touches the engine. */
#include "cmd.h"
#include "vigil/common.h"
#include "vigil/engine.h"
#include "vigil/model.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <mosquitto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vigil run --model FILE [options]\n"
            "\n"
            "The live engine: MQTT readings in, graded alerts out, every refusal counted.\n"
            "\n"
            "  --model FILE           venue model (required)\n"
            "  --broker URL           mqtt://HOST:PORT or mqtts://HOST:PORT (TLS)\n"
            "                         (default mqtt://127.0.0.1:1883)\n"
            "  --client-id ID         stable id of the persistent session (default vigil-<venue>)\n"
            "  --clean-session        do not keep a session at the broker (loses what it queued)\n"
            "  --qos 0|1              subscription QoS (default 1)\n"
            "  --keepalive S          MQTT keepalive in seconds (default 60)\n"
            "  --username U           broker user name\n"
            "  --password-file F      file whose first line is the broker password\n"
            "                         (or the environment variable VIGIL_MQTT_PASSWORD)\n"
            "  --cafile F, --capath D CA certificates for TLS\n"
            "  --cert F, --key F      client certificate and key for TLS\n"
            "  --feeds URL            ZeroMQ alert feeds, PUB (default tcp://127.0.0.1:5556;\n"
            "                         port '*': any free port, logged at start)\n"
            "  --control URL          ZeroMQ control socket, REP (default tcp://127.0.0.1:5557)\n"
            "  --feeds-key FILE       CURVE secret key (Z85, first line) of the feeds socket\n"
            "  --control-key FILE     CURVE secret key (Z85, first line) of the control socket\n"
            "  --archive DIR          HDF5 archive directory (files vigil-*.h5; see vigil replay)\n"
            "  --archive-rotate P     a new archive file every period P of venue local time:\n"
            "                         Nm, Nh or Nd (1d: one a day, cut at local midnight),\n"
            "                         or none (default: one file per run)\n"
            "  --clock wall|event     what drives the analysis ticks (default wall): event = the\n"
            "                         readings' own time (replayed or simulated streams)\n"
            "  --events FILE          alert events as JSON lines, '-' for stdout (default '-')\n"
            "  --no-events            do not write alert events\n"
            "  --rejects FILE         refused messages as JSON lines ('-' for stdout)\n"
            "  --rejects-alert N      raise ingest_rejects (technical feed) when N or more\n"
            "                         readings are refused in 10 s, or some in 6 of the last\n"
            "                         60 such windows (default 10; 0: never)\n"
            "  --metrics HOST:PORT    serve Prometheus metrics at http://HOST:PORT/metrics;\n"
            "                         HOST is an IPv4 address or localhost\n"
            "  --status-interval S    status line on stderr every S seconds (default 60; 0: off)\n"
            "  --max-payload BYTES    larger payloads are refused as oversized (default 1048576)\n"
            "  --max-age S            readings older than S seconds are too_old (default 3600)\n"
            "  --max-future S         readings more than S seconds ahead are too_far_future (10)\n"
            "  --tick-ms MS           analysis tick period (default 1000)\n"
            "  --grace-ms MS          delay of the first tick after start (default 3000)\n"
            "  --ring N               readings ring capacity, a power of two (default 65536)\n"
            "  --log-level L          error, warn, info (default) or debug\n"
            "\n"
            "Signals: SIGINT/SIGTERM stop after draining; SIGUSR1 logs the counters; SIGHUP\n"
            "reloads the model file (the control socket's reload does the same), keeping state.\n"
            "Exit status: 0 stopped by a signal, 1 run-time failure, 2 bad usage or model.\n");
}

static int parse_num(const char *s, double lo, double hi, double *ret)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return -EINVAL;
    *ret = v;
    return 0;
}

/* "none" (0) or a whole number of minutes, hours or days ("30m", "6h", "1d"), at most 366
 * days, as nanoseconds. Returns 0 or -EINVAL. */
static int parse_period(const char *s, int64_t *ret)
{
    static const struct {
        char unit;
        int64_t s;
    } units[] = {{'m', 60}, {'h', 3600}, {'d', 86400}};
    char *end;
    long n;

    if (strcmp(s, "none") == 0) {
        *ret = 0;
        return 0;
    }
    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    n = strtol(s, &end, 10);
    if (errno || n < 1 || end[0] == '\0' || end[1] != '\0')
        return -EINVAL;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (*end == units[i].unit && n * units[i].s <= 366 * 86400) {
            *ret = n * units[i].s * VG_NS_PER_S;
            return 0;
        }
    return -EINVAL;
}

enum {
    OPT_MODEL = 256, OPT_BROKER, OPT_CLIENT_ID, OPT_CLEAN, OPT_QOS, OPT_KEEPALIVE, OPT_USER,
    OPT_PASSFILE, OPT_CAFILE, OPT_CAPATH, OPT_CERT, OPT_KEY, OPT_FEEDS, OPT_CONTROL,
    OPT_ARCHIVE, OPT_EVENTS, OPT_NO_EVENTS, OPT_REJECTS, OPT_METRICS, OPT_STATUS,
    OPT_MAX_PAYLOAD, OPT_MAX_AGE, OPT_MAX_FUTURE, OPT_TICK, OPT_GRACE, OPT_RING, OPT_LOG,
    OPT_FEEDS_KEY, OPT_CONTROL_KEY, OPT_CLOCK, OPT_ROTATE, OPT_REJECTS_ALERT,
};

static const struct option options[] = {
    {"model", required_argument, NULL, OPT_MODEL},
    {"broker", required_argument, NULL, OPT_BROKER},
    {"client-id", required_argument, NULL, OPT_CLIENT_ID},
    {"clean-session", no_argument, NULL, OPT_CLEAN},
    {"qos", required_argument, NULL, OPT_QOS},
    {"keepalive", required_argument, NULL, OPT_KEEPALIVE},
    {"username", required_argument, NULL, OPT_USER},
    {"password-file", required_argument, NULL, OPT_PASSFILE},
    {"cafile", required_argument, NULL, OPT_CAFILE},
    {"capath", required_argument, NULL, OPT_CAPATH},
    {"cert", required_argument, NULL, OPT_CERT},
    {"key", required_argument, NULL, OPT_KEY},
    {"feeds", required_argument, NULL, OPT_FEEDS},
    {"control", required_argument, NULL, OPT_CONTROL},
    {"archive", required_argument, NULL, OPT_ARCHIVE},
    {"archive-rotate", required_argument, NULL, OPT_ROTATE},
    {"feeds-key", required_argument, NULL, OPT_FEEDS_KEY},
    {"control-key", required_argument, NULL, OPT_CONTROL_KEY},
    {"clock", required_argument, NULL, OPT_CLOCK},
    {"events", required_argument, NULL, OPT_EVENTS},
    {"no-events", no_argument, NULL, OPT_NO_EVENTS},
    {"rejects", required_argument, NULL, OPT_REJECTS},
    {"rejects-alert", required_argument, NULL, OPT_REJECTS_ALERT},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {"status-interval", required_argument, NULL, OPT_STATUS},
    {"max-payload", required_argument, NULL, OPT_MAX_PAYLOAD},
    {"max-age", required_argument, NULL, OPT_MAX_AGE},
    {"max-future", required_argument, NULL, OPT_MAX_FUTURE},
    {"tick-ms", required_argument, NULL, OPT_TICK},
    {"grace-ms", required_argument, NULL, OPT_GRACE},
    {"ring", required_argument, NULL, OPT_RING},
    {"log-level", required_argument, NULL, OPT_LOG},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int bad(const char *what, const char *arg)
{
    fprintf(stderr, "vigil run: invalid %s '%s' (see vigil run --help)\n", what, arg);
    return 2;
}

int vg_cmd_run(int argc, char **argv)
{
    static const char *const mqtt_schemes[] = {"mqtt", "mqtts", NULL};
    const char *model_path = NULL, *broker = "mqtt://127.0.0.1:1883", *passfile = NULL;
    const char *feeds = "tcp://127.0.0.1:5556", *control = "tcp://127.0.0.1:5557";
    const char *archive = NULL, *metrics = NULL;
    char broker_host[256], metrics_host[256];
    char *password = NULL, *feeds_key = NULL, *control_key = NULL;
    const char *feeds_key_path = NULL, *control_key_path = NULL, *why = "";
    vg_engine_cfg cfg;
    vg_model *model = NULL;
    vg_model_error merr;
    vg_engine *engine = NULL;
    sigset_t sigs;
    double v;
    int c, port, scheme, rc, status = 1;

    vg_engine_cfg_default(&cfg);
    cfg.events_path = "-";
    cfg.status_interval_ns = 60 * VG_NS_PER_S;
    optind = 1;
    opterr = 1;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return 0;
        case OPT_MODEL:
            model_path = optarg;
            break;
        case OPT_BROKER:
            broker = optarg;
            break;
        case OPT_CLIENT_ID:
            if (!*optarg || strlen(optarg) > 23 * 10)
                return bad("client id", optarg);
            cfg.ingest.client_id = optarg;
            break;
        case OPT_CLEAN:
            cfg.ingest.clean_session = 1;
            break;
        case OPT_QOS:
            if (strcmp(optarg, "0") && strcmp(optarg, "1"))
                return bad("QoS (0 or 1)", optarg);
            cfg.ingest.qos = optarg[0] - '0';
            break;
        case OPT_KEEPALIVE:
            if (parse_num(optarg, 5, 65535, &v))
                return bad("keepalive", optarg);
            cfg.ingest.keepalive_s = (int)v;
            /* The backpressure bound stays well inside the keepalive (DESIGN "Backpressure"). */
            if ((int64_t)cfg.ingest.max_block_ms >= (int64_t)cfg.ingest.keepalive_s * 500)
                cfg.ingest.max_block_ms = cfg.ingest.keepalive_s * 500;
            break;
        case OPT_USER:
            cfg.ingest.username = optarg;
            break;
        case OPT_PASSFILE:
            passfile = optarg;
            break;
        case OPT_CAFILE:
            cfg.ingest.cafile = optarg;
            break;
        case OPT_CAPATH:
            cfg.ingest.capath = optarg;
            break;
        case OPT_CERT:
            cfg.ingest.certfile = optarg;
            break;
        case OPT_KEY:
            cfg.ingest.keyfile = optarg;
            break;
        case OPT_FEEDS:
            feeds = optarg;
            break;
        case OPT_CONTROL:
            control = optarg;
            break;
        case OPT_ARCHIVE:
            archive = optarg;
            break;
        case OPT_ROTATE:
            if (parse_period(optarg, &cfg.archive_rotate_ns) < 0)
                return bad("archive rotation (Nm, Nh, Nd or none)", optarg);
            break;
        case OPT_FEEDS_KEY:
            feeds_key_path = optarg;
            break;
        case OPT_CONTROL_KEY:
            control_key_path = optarg;
            break;
        case OPT_CLOCK:
            if (strcmp(optarg, "wall") == 0)
                cfg.event_clock = 0;
            else if (strcmp(optarg, "event") == 0)
                cfg.event_clock = 1;
            else
                return bad("clock (wall or event)", optarg);
            break;
        case OPT_EVENTS:
            cfg.events_path = optarg;
            break;
        case OPT_NO_EVENTS:
            cfg.events_path = NULL;
            break;
        case OPT_REJECTS:
            cfg.rejects_path = optarg;
            break;
        case OPT_REJECTS_ALERT:
            if (parse_num(optarg, 0, 1e9, &v) || v != (uint32_t)v)
                return bad("rejects alert count (a whole number)", optarg);
            cfg.rejects_alert = (uint32_t)v;
            break;
        case OPT_METRICS:
            metrics = optarg;
            break;
        case OPT_STATUS:
            if (parse_num(optarg, 0, 86400, &v))
                return bad("status interval", optarg);
            cfg.status_interval_ns = (int64_t)(v * 1e9);
            break;
        case OPT_MAX_PAYLOAD:
            if (parse_num(optarg, 64, 256.0 * 1024 * 1024, &v))
                return bad("max payload", optarg);
            cfg.ingest.limits.max_payload = (size_t)v;
            break;
        case OPT_MAX_AGE:
            if (parse_num(optarg, 0, 86400.0 * 365, &v))
                return bad("max age", optarg);
            cfg.ingest.limits.max_age_ns = (int64_t)(v * 1e9);
            break;
        case OPT_MAX_FUTURE:
            if (parse_num(optarg, 0, 86400, &v))
                return bad("max future", optarg);
            cfg.ingest.limits.max_future_ns = (int64_t)(v * 1e9);
            break;
        case OPT_TICK:
            if (parse_num(optarg, 10, 60000, &v))
                return bad("tick period", optarg);
            cfg.tick_ns = (int64_t)v * VG_NS_PER_MS;
            break;
        case OPT_GRACE:
            if (parse_num(optarg, 0, 600000, &v))
                return bad("grace period", optarg);
            cfg.startup_grace_ns = (int64_t)v * VG_NS_PER_MS;
            break;
        case OPT_RING:
            if (parse_num(optarg, 2, 1 << 24, &v) || ((uint32_t)v & ((uint32_t)v - 1)))
                return bad("ring capacity (a power of two)", optarg);
            cfg.reading_ring = (uint32_t)v;
            break;
        case OPT_LOG: {
            enum vg_log_level lvl;
            if (vg_log_parse_level(optarg, &lvl))
                return bad("log level", optarg);
            vg_log_set_level(lvl);
            break;
        }
        default:
            return 2;
        }
    }
    if (optind < argc)
        return bad("argument", argv[optind]);
    if (!model_path) {
        fprintf(stderr, "vigil run: --model FILE is required\n");
        usage(stderr);
        return 2;
    }
    if (vg_cmd_parse_endpoint(broker, mqtt_schemes, broker_host, sizeof(broker_host), &port,
                              &scheme) ||
        scheme < 0 || port == 0)
        return bad("broker (mqtt://HOST:PORT or mqtts://HOST:PORT)", broker);
    cfg.ingest.host = broker_host;
    cfg.ingest.port = port;
    if (scheme == 1 && !cfg.ingest.cafile && !cfg.ingest.capath) {
        fprintf(stderr, "vigil run: mqtts:// needs --cafile or --capath\n");
        return 2;
    }
    if (!cfg.ingest.certfile != !cfg.ingest.keyfile) {
        fprintf(stderr, "vigil run: --cert and --key go together\n");
        return 2;
    }
    if (vg_cmd_zmq_endpoint_ok(feeds) < 0)
        return bad("feeds endpoint (tcp://HOST:PORT)", feeds);
    if (vg_cmd_zmq_endpoint_ok(control) < 0)
        return bad("control endpoint (tcp://HOST:PORT)", control);
    if (strcmp(feeds, control) == 0 && !strstr(feeds, ":*")) {
        fprintf(stderr, "vigil run: --feeds and --control must differ\n");
        return 2;
    }
    cfg.feeds_endpoint = feeds;
    cfg.control_endpoint = control;
    cfg.archive_dir = archive;
    if (cfg.archive_rotate_ns && !archive) {
        fprintf(stderr, "vigil run: --archive-rotate needs --archive\n");
        return 2;
    }
    if (archive) {
        struct stat st;
        const int found = stat(archive, &st) == 0;
        if (!found || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "vigil run: --archive %s: %s\n", archive,
                    !found && errno == ENOENT ? "no such directory (create it first)"
                                              : "not a directory");
            return 2;
        }
    }
    if (metrics) {
        struct in_addr ip4;
        /* The metrics server binds IPv4 only (src/engine/metrics.c): anything else is bad
         * usage here, not a failure at start that a service manager would retry forever. */
        if (vg_cmd_parse_endpoint(metrics, NULL, metrics_host, sizeof(metrics_host), &port,
                                  &scheme) ||
            (strcmp(metrics_host, "localhost") != 0 &&
             inet_pton(AF_INET, metrics_host, &ip4) != 1))
            return bad("metrics address (IPV4:PORT or localhost:PORT)", metrics);
        cfg.metrics_host = metrics_host;
        cfg.metrics_port = (uint16_t)port;
    }
    if (passfile) {
        password = vg_cmd_read_secret(passfile, &why);
        if (!password) {
            fprintf(stderr, "vigil run: --password-file %s: %s\n", passfile, why);
            return 2;
        }
    } else if (getenv("VIGIL_MQTT_PASSWORD")) {
        password = strdup(getenv("VIGIL_MQTT_PASSWORD"));
    }
    cfg.ingest.password = password;
    if (feeds_key_path && !(feeds_key = vg_cmd_read_secret(feeds_key_path, &why))) {
        fprintf(stderr, "vigil run: --feeds-key %s: %s\n", feeds_key_path, why);
        status = 2;
        goto out;
    }
    if (control_key_path && !(control_key = vg_cmd_read_secret(control_key_path, &why))) {
        fprintf(stderr, "vigil run: --control-key %s: %s\n", control_key_path, why);
        status = 2;
        goto out;
    }
    cfg.feeds_secret_key = feeds_key;
    cfg.control_secret_key = control_key;
    if (password && !cfg.ingest.username) {
        fprintf(stderr, "vigil run: a password needs --username\n");
        status = 2;
        goto out;
    }

    rc = vg_model_load(model_path, &model, &merr);
    if (rc < 0) {
        fprintf(stderr, "%s:%d: %s: %s\n", merr.file, merr.line, merr.key, merr.message);
        status = 2;
        goto out;
    }
    cfg.model = model;
    cfg.model_path = model_path;

    /* Before any thread exists: every thread inherits the blocked set. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGUSR1);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN); /* a file size limit is an archive fault, not a crash */
    mosquitto_lib_init();

    rc = vg_engine_new(&cfg, &engine);
    if (rc < 0) {
        vg_error("run: cannot set up the engine: %s", vg_strerror(rc));
        status = rc == -EINVAL ? 2 : 1;
        goto out_lib;
    }
    rc = vg_engine_start(engine);
    if (rc < 0) {
        vg_error("run: cannot start the engine: %s%s", vg_strerror(rc),
                 metrics ? " (is the --metrics address free?)" : "");
        goto out_engine;
    }
    vg_info("run: venue %s, model %s, broker %s, clock %s, feeds %s, control %s, events to %s%s%s",
            vg_model_venue(model), model_path, broker, cfg.event_clock ? "event" : "wall",
            vg_engine_feeds_endpoint(engine), vg_engine_control_endpoint(engine),
            cfg.events_path ? (strcmp(cfg.events_path, "-") ? cfg.events_path : "stdout")
                            : "nowhere",
            metrics ? ", metrics on " : "", metrics ? metrics : "");
    if (archive)
        vg_info("run: archive in %s", archive);
    if (metrics)
        vg_info("run: metrics at http://%s:%u/metrics", metrics_host,
                vg_engine_metrics_port(engine));
    for (;;) {
        int sig = sigwaitinfo(&sigs, NULL);
        if (sig == SIGUSR1) {
            char line[1024];
            vg_engine_status(engine, line, sizeof(line));
            vg_info("%s", line);
        } else if (sig == SIGHUP) {
            char err[512];
            /* The engine logs the new counts once its threads have switched. */
            vg_alert_actor who = {.operator_id = "system", .comment = "SIGHUP",
                                  .wall_ns = vg_wall_ns()};
            if (vg_engine_reload_as(engine, NULL, &who, err, sizeof(err)) < 0)
                vg_error("run: SIGHUP: reload refused, the running model stays: %s", err);
            else
                vg_info("run: SIGHUP: reloading the model");
        } else if (sig == SIGINT || sig == SIGTERM) {
            vg_info("run: %s: stopping, draining the rings", sig == SIGINT ? "SIGINT" : "SIGTERM");
            break;
        }
    }
    vg_engine_stop(engine);
    {
        char line[1024];
        vg_engine_status(engine, line, sizeof(line));
        vg_info("%s", line);
    }
    status = 0;
out_engine:
    vg_engine_free(&engine);
out_lib:
    mosquitto_lib_cleanup();
out:
    vg_model_free(&model);
    free(password);
    free(feeds_key);
    free(control_key);
    return status;
}
