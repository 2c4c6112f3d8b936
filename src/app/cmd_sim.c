/* vigil sim: simulate an event day on a venue model and publish it over MQTT (issue #8).
 *
 * The simulation itself is src/sim (no I/O); this file paces it against the wall clock,
 * publishes what it emits with libmosquitto, and writes the ground truth at the end.
 *
 * DESIGN
 * Threads: main runs the simulator and calls mosquitto_publish(); libmosquitto's own loop
 * thread (mosquitto_loop_start) does the network I/O and reconnects. They share only
 * `pub` below, under its mutex. Publishing waits while max_inflight messages are
 * unacknowledged (QoS 1: PUBACK; QoS 0: handed to the socket), so --speed max runs exactly as
 * fast as the broker takes it and memory stays bounded. */
#include "cmd.h"
#include "vigil/common.h"
#include "vigil/model.h"
#include "vigil/sim.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <mosquitto.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

typedef struct pub {
    pthread_mutex_t lock; /* protects the fields below */
    pthread_cond_t cond;
    int connected;
    int conn_refused; /* CONNACK code when the broker said no */
    long inflight;
    /* written by main only */
    struct mosquitto *mosq;
    int qos;
    long max_inflight;
    FILE *dump;
    int dump_errno; /* why writing the dump failed (a full disk), 0 while it works */
    uint64_t published;
    uint64_t bytes;
} pub;

static void on_connect(struct mosquitto *m, void *ud, int rc)
{
    pub *p = ud;
    (void)m;
    pthread_mutex_lock(&p->lock);
    p->connected = rc == 0;
    p->conn_refused = rc;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

static void on_disconnect(struct mosquitto *m, void *ud, int rc)
{
    pub *p = ud;
    (void)m;
    (void)rc;
    pthread_mutex_lock(&p->lock);
    p->connected = 0;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

static void on_publish(struct mosquitto *m, void *ud, int mid)
{
    pub *p = ud;
    (void)m;
    (void)mid;
    pthread_mutex_lock(&p->lock);
    if (p->inflight > 0)
        p->inflight--;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

static void deadline_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_REALTIME, ts); /* pthread_cond_timedwait's default clock */
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Waits until connected and below the in-flight bound. Returns 0, or -ECANCELED on a
 * signal. Logs once while the broker is away. */
static int wait_room(pub *p)
{
    int warned = 0;

    pthread_mutex_lock(&p->lock);
    while (!stop_requested && (!p->connected || p->inflight >= p->max_inflight)) {
        struct timespec ts;
        if (!p->connected && !warned) {
            vg_warn("sim: broker not connected; waiting (libmosquitto reconnects)");
            warned = 1;
        }
        deadline_in(&ts, 200);
        pthread_cond_timedwait(&p->cond, &p->lock, &ts);
    }
    pthread_mutex_unlock(&p->lock);
    return stop_requested ? -ECANCELED : 0;
}

static int emit(void *ctx, const char *topic, const char *payload, size_t len, int64_t t_ns)
{
    pub *p = ctx;
    (void)t_ns;

    if (p->dump && fprintf(p->dump, "%s %s\n", topic, payload) < 0) {
        p->dump_errno = errno ? errno : EIO;
        return -p->dump_errno;
    }
    if (p->mosq) {
        for (;;) {
            int r = wait_room(p);
            if (r < 0)
                return r;
            pthread_mutex_lock(&p->lock);
            p->inflight++;
            pthread_mutex_unlock(&p->lock);
            r = mosquitto_publish(p->mosq, NULL, topic, (int)len, payload, p->qos, false);
            if (r == MOSQ_ERR_SUCCESS)
                break;
            pthread_mutex_lock(&p->lock);
            p->inflight--;
            if (r == MOSQ_ERR_NO_CONN || r == MOSQ_ERR_CONN_LOST)
                p->connected = 0; /* wait for the loop thread to reconnect, then retry */
            pthread_mutex_unlock(&p->lock);
            if (r != MOSQ_ERR_NO_CONN && r != MOSQ_ERR_CONN_LOST) {
                vg_error("sim: publish on %s: %s", topic, mosquitto_strerror(r));
                return -EIO;
            }
        }
    }
    p->published++;
    p->bytes += len;
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vigil sim --model FILE --scenario FILE [options]\n"
            "\n"
            "Simulates an event day on a venue model: people move through the zone graph\n"
            "(gates, plaza, queues, concourses, stands and back), and the cameras, counting\n"
            "lines, environmental sensors and help points publish what they see over MQTT, on\n"
            "the native topics (vigil/<venue>/...) and as Frigate and zigbee2mqtt for the\n"
            "sources the model maps that way. The scenario file injects incidents; --truth\n"
            "writes what really happened, for `vigil score`. Formats: docs/sim.md.\n"
            "\n"
            "options:\n"
            "  --model FILE        venue model (models/olympic-park.cfg)\n"
            "  --scenario FILE     scenario (models/scenarios/incidents.cfg, quiet.cfg)\n"
            "  --speed N|max       simulated seconds per wall second, 0.001 to 1e6 (default 1);\n"
            "                      max: as fast as the broker acknowledges\n"
            "  --broker URL        mqtt://HOST:PORT or mqtts://HOST:PORT (TLS)\n"
            "                      (default mqtt://127.0.0.1:1883)\n"
            "  --no-broker         do not publish (with --dump or --truth)\n"
            "  --qos 0|1           publish QoS (default 1)\n"
            "  --client-id ID      MQTT client id (default vigil-sim-<venue>)\n"
            "  --username U        broker user name\n"
            "  --password-file F   file whose first line is the broker password\n"
            "  --cafile F          CA certificate for TLS\n"
            "  --max-inflight N    unacknowledged messages before publishing waits (1000)\n"
            "  --seed N            random seed (default 1): same seed, same messages\n"
            "  --start now|TIME    event time of the first step instead of the scenario's\n"
            "                      (TIME like 2026-07-18T18:00:00+02:00); now: the wall clock\n"
            "  --step-ms N         simulation step (default 1000)\n"
            "  --batch             sensor, count and line readings in vigil/<venue>/batch/sim\n"
            "  --native            publish every source natively, ignoring the Frigate and\n"
            "                      zigbee2mqtt mappings (those formats carry no event time,\n"
            "                      so use this whenever --speed is not 1)\n"
            "  --truth FILE        write the ground truth (JSON) there at the end\n"
            "  --dump FILE         also write every message as \"TOPIC PAYLOAD\" lines (- stdout)\n"
            "  --log-level L       error, warn, info (default), debug\n"
            "\n"
            "exit status: 0 done, 1 run-time failure (broker, files), 2 bad usage\n");
}

enum {
    OPT_MODEL = 256,
    OPT_SCENARIO,
    OPT_SPEED,
    OPT_BROKER,
    OPT_NO_BROKER,
    OPT_QOS,
    OPT_CLIENT_ID,
    OPT_USERNAME,
    OPT_PASSWORD_FILE,
    OPT_CAFILE,
    OPT_MAX_INFLIGHT,
    OPT_SEED,
    OPT_START,
    OPT_STEP_MS,
    OPT_BATCH,
    OPT_NATIVE,
    OPT_TRUTH,
    OPT_DUMP,
    OPT_LOG_LEVEL,
};

static const struct option options[] = {
    {"model", required_argument, NULL, OPT_MODEL},
    {"scenario", required_argument, NULL, OPT_SCENARIO},
    {"speed", required_argument, NULL, OPT_SPEED},
    {"broker", required_argument, NULL, OPT_BROKER},
    {"no-broker", no_argument, NULL, OPT_NO_BROKER},
    {"qos", required_argument, NULL, OPT_QOS},
    {"client-id", required_argument, NULL, OPT_CLIENT_ID},
    {"username", required_argument, NULL, OPT_USERNAME},
    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
    {"cafile", required_argument, NULL, OPT_CAFILE},
    {"max-inflight", required_argument, NULL, OPT_MAX_INFLIGHT},
    {"seed", required_argument, NULL, OPT_SEED},
    {"start", required_argument, NULL, OPT_START},
    {"step-ms", required_argument, NULL, OPT_STEP_MS},
    {"batch", no_argument, NULL, OPT_BATCH},
    {"native", no_argument, NULL, OPT_NATIVE},
    {"truth", required_argument, NULL, OPT_TRUTH},
    {"dump", required_argument, NULL, OPT_DUMP},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int bad(const char *what, const char *value)
{
    fprintf(stderr, "vigil sim: bad %s '%s' (vigil sim --help)\n", what, value ? value : "");
    return 2;
}

/* mqtt://HOST:PORT or mqtts://HOST:PORT; PORT optional. */
static int parse_broker(const char *url, char *host, size_t hostlen, int *ret_port,
                        int *ret_tls)
{
    const char *p;
    int tls;
    if (strncmp(url, "mqtt://", 7) == 0) {
        p = url + 7;
        tls = 0;
    } else if (strncmp(url, "mqtts://", 8) == 0) {
        p = url + 8;
        tls = 1;
    } else {
        return -EINVAL;
    }
    const char *colon = strrchr(p, ':');
    size_t n = colon ? (size_t)(colon - p) : strlen(p);
    int port = tls ? 8883 : 1883;
    if (n == 0 || n >= hostlen)
        return -EINVAL;
    if (colon) {
        char *end;
        long v = strtol(colon + 1, &end, 10);
        if (*end || v < 1 || v > 65535)
            return -EINVAL;
        port = (int)v;
    }
    memcpy(host, p, n);
    host[n] = '\0';
    *ret_port = port;
    *ret_tls = tls;
    return 0;
}

/* --start: "now" (the current second) or an ISO instant, as in a scenario file. */
static int parse_start(const char *text, int64_t *ret_ns)
{
    if (strcmp(text, "now") == 0) {
        *ret_ns = vg_wall_ns() / VG_NS_PER_S * VG_NS_PER_S;
        return 0;
    }
    return vg_parse_instant(text, ret_ns);
}

static void sleep_until_mono(int64_t t_ns)
{
    struct timespec ts = {.tv_sec = t_ns / VG_NS_PER_S, .tv_nsec = t_ns % VG_NS_PER_S};
    while (!stop_requested && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static int connect_broker(pub *p, const char *host, int port, int tls, const char *cafile,
                          const char *user, const char *pass, const char *client_id)
{
    int r;
    struct timespec ts;

    p->mosq = mosquitto_new(client_id, true, p);
    if (!p->mosq) {
        vg_error("sim: mosquitto_new: %s", strerror(errno));
        return -ENOMEM;
    }
    mosquitto_connect_callback_set(p->mosq, on_connect);
    mosquitto_disconnect_callback_set(p->mosq, on_disconnect);
    mosquitto_publish_callback_set(p->mosq, on_publish);
    mosquitto_reconnect_delay_set(p->mosq, 1, 10, true);
    /* libmosquitto's own in-flight window; ours (max_inflight) bounds its queue */
    mosquitto_int_option(p->mosq, MOSQ_OPT_SEND_MAXIMUM, 100);
    if (user && (r = mosquitto_username_pw_set(p->mosq, user, pass)) != MOSQ_ERR_SUCCESS) {
        vg_error("sim: credentials: %s", mosquitto_strerror(r));
        return -EIO;
    }
    if ((tls || cafile) &&
        (r = mosquitto_tls_set(p->mosq, cafile, cafile ? NULL : "/etc/ssl/certs", NULL, NULL,
                               NULL)) != MOSQ_ERR_SUCCESS) {
        vg_error("sim: TLS: %s", mosquitto_strerror(r));
        return -EIO;
    }
    r = mosquitto_connect_async(p->mosq, host, port, 30);
    if (r != MOSQ_ERR_SUCCESS && r != MOSQ_ERR_ERRNO) {
        vg_error("sim: connect to %s:%d: %s", host, port, mosquitto_strerror(r));
        return -EIO;
    }
    if ((r = mosquitto_loop_start(p->mosq)) != MOSQ_ERR_SUCCESS) {
        vg_error("sim: loop: %s", mosquitto_strerror(r));
        return -EIO;
    }
    /* the first connection must come within 10 s: a wrong address fails fast */
    deadline_in(&ts, 10000);
    pthread_mutex_lock(&p->lock);
    while (!p->connected && !p->conn_refused && !stop_requested &&
           pthread_cond_timedwait(&p->cond, &p->lock, &ts) != ETIMEDOUT)
        ;
    r = p->connected ? 0 : -ENOTCONN;
    if (p->conn_refused)
        vg_error("sim: broker %s:%d refused the connection: %s", host, port,
                 mosquitto_connack_string(p->conn_refused));
    else if (r < 0)
        vg_error("sim: no connection to broker %s:%d within 10 s", host, port);
    pthread_mutex_unlock(&p->lock);
    return r;
}

/* Waits up to timeout_ms for every published message to be acknowledged. */
static void drain(pub *p, int timeout_ms)
{
    struct timespec ts;
    deadline_in(&ts, timeout_ms);
    pthread_mutex_lock(&p->lock);
    while (p->inflight > 0 && pthread_cond_timedwait(&p->cond, &p->lock, &ts) != ETIMEDOUT)
        ;
    if (p->inflight > 0)
        vg_warn("sim: %ld messages still unacknowledged at exit", p->inflight);
    pthread_mutex_unlock(&p->lock);
}

int vg_cmd_sim(int argc, char **argv)
{
    const char *model_path = NULL, *scenario_path = NULL, *broker = "mqtt://127.0.0.1:1883";
    const char *client_id = NULL, *user = NULL, *passfile = NULL, *cafile = NULL;
    const char *truth_path = NULL, *dump_path = NULL, *start = NULL;
    FILE *truth = NULL;
    const char *why = NULL;
    char host[256], *password = NULL, default_id[VG_MODEL_ID_MAX + 16];
    double speed = 1.0;
    int no_broker = 0, port = 1883, tls = 0, c, status = 1, r;
    long step_ms = 1000;
    vg_sim_cfg cfg;
    pub p = {.qos = 1, .max_inflight = 1000};
    vg_model *model = NULL;
    vg_scenario *sc = NULL;
    vg_sim *sim = NULL;
    vg_model_error merr;
    vg_scenario_error serr;

    vg_sim_cfg_default(&cfg);
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'h':
            usage(stdout);
            return 0;
        case OPT_MODEL: model_path = optarg; break;
        case OPT_SCENARIO: scenario_path = optarg; break;
        case OPT_SPEED:
            if (strcmp(optarg, "max") == 0) {
                speed = 0;
            } else {
                speed = strtod(optarg, &end);
                if (*end || !(speed >= VG_MIN_SPEED && speed <= 1e6))
                    return bad("speed (a number from 0.001 to 1e6, or max)", optarg);
            }
            break;
        case OPT_BROKER: broker = optarg; break;
        case OPT_NO_BROKER: no_broker = 1; break;
        case OPT_QOS:
            if (strcmp(optarg, "0") && strcmp(optarg, "1"))
                return bad("qos (0 or 1)", optarg);
            p.qos = optarg[0] - '0';
            break;
        case OPT_CLIENT_ID: client_id = optarg; break;
        case OPT_USERNAME: user = optarg; break;
        case OPT_PASSWORD_FILE: passfile = optarg; break;
        case OPT_CAFILE: cafile = optarg; break;
        case OPT_MAX_INFLIGHT:
            p.max_inflight = strtol(optarg, &end, 10);
            if (*end || p.max_inflight < 1 || p.max_inflight > 1000000)
                return bad("max-inflight (1..1000000)", optarg);
            break;
        case OPT_SEED:
            cfg.seed = strtoull(optarg, &end, 10);
            if (*end || !*optarg)
                return bad("seed", optarg);
            break;
        case OPT_START: start = optarg; break;
        case OPT_STEP_MS:
            step_ms = strtol(optarg, &end, 10);
            if (*end || step_ms < 10 || step_ms > 10000)
                return bad("step-ms (10..10000)", optarg);
            break;
        case OPT_BATCH: cfg.batch = 1; break;
        case OPT_NATIVE: cfg.native_only = 1; break;
        case OPT_TRUTH: truth_path = optarg; break;
        case OPT_DUMP: dump_path = optarg; break;
        case OPT_LOG_LEVEL: {
            enum vg_log_level lvl;
            if (vg_log_parse_level(optarg, &lvl) < 0)
                return bad("log level", optarg);
            vg_log_set_level(lvl);
            break;
        }
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc)
        return bad("argument", argv[optind]);
    if (!model_path || !scenario_path) {
        fprintf(stderr, "vigil sim: --model and --scenario are required (vigil sim --help)\n");
        return 2;
    }
    if (!no_broker && parse_broker(broker, host, sizeof(host), &port, &tls) < 0)
        return bad("broker (mqtt://HOST:PORT or mqtts://HOST:PORT)", broker);
    if (start && parse_start(start, &cfg.start_ns) < 0)
        return bad("start (now, or like 2026-07-18T18:00:00+02:00)", start);
    /* Event time is Unix nanoseconds; payloads and the truth have no sign for before 1970. */
    if (start && cfg.start_ns < 0)
        return bad("start (before 1970-01-01T00:00:00Z)", start);
    cfg.have_start = start != NULL;
    cfg.step_ns = step_ms * VG_NS_PER_MS;
    if (passfile && !(password = vg_cmd_read_secret(passfile, &why))) {
        vg_error("sim: password file %s: %s", passfile, why);
        return 1;
    }

    r = vg_model_load(model_path, &model, &merr);
    if (r < 0) {
        fprintf(stderr, "%s:%d: %s%s%s\n", merr.file, merr.line, merr.key, merr.key[0] ? ": " : "",
                merr.message);
        free(password);
        return 1;
    }
    r = vg_scenario_load(scenario_path, model, &sc, &serr);
    if (r < 0) {
        fprintf(stderr, "%s:%d: %s%s%s\n", serr.file, serr.line, serr.key,
                serr.key[0] ? ": " : "", serr.message);
        goto out;
    }
    r = vg_sim_new(model, sc, &cfg, &sim);
    if (r < 0) {
        vg_error("sim: cannot simulate %s on %s: %s", scenario_path, model_path,
                 r == -EINVAL ? "no entry zone, no seated/standing zone, or an entry zone "
                                "from which no seated/standing zone can be reached"
                              : vg_strerror(r));
        goto out;
    }
    pthread_mutex_init(&p.lock, NULL);
    pthread_cond_init(&p.cond, NULL);
    if (dump_path) {
        p.dump = strcmp(dump_path, "-") == 0 ? stdout : fopen(dump_path, "w");
        if (!p.dump) {
            vg_error("sim: %s: %s", dump_path, strerror(errno));
            goto out_sync;
        }
    }
    /* Opened now, written at the end: a path that cannot be written must not cost a
     * simulated day first. */
    if (truth_path && !(truth = fopen(truth_path, "w"))) {
        vg_error("sim: ground truth %s: %s", truth_path, strerror(errno));
        goto out_files;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (!no_broker) {
        snprintf(default_id, sizeof(default_id), "vigil-sim-%s", vg_model_venue(model));
        mosquitto_lib_init();
        if (connect_broker(&p, host, port, tls, cafile, user, password,
                           client_id ? client_id : default_id) < 0)
            goto out_mosq;
    }
    vg_info("sim: scenario %s on %s, %u incidents, seed %llu, speed %s, %s", vg_scenario_name(sc),
            vg_model_venue(model), vg_scenario_incident_count(sc), (unsigned long long)cfg.seed,
            speed > 0 ? "paced" : "max", no_broker ? "no broker" : broker);

    int64_t wall0 = vg_mono_ns(), sim0 = vg_sim_now_ns(sim), next_log = 0;
    int64_t span = vg_sim_end_ns(sim) - sim0;
    status = 0;
    while (!vg_sim_done(sim) && !stop_requested) {
        if (speed > 0)
            /* capped (at 30 years) so a long day at a slow speed cannot overflow */
            sleep_until_mono(wall0 + (int64_t)fmin((double)(vg_sim_now_ns(sim) - sim0) / speed,
                                                   1e18));
        if (stop_requested)
            break;
        r = vg_sim_step(sim, emit, &p);
        if (r == -ECANCELED)
            break;
        if (r < 0) {
            if (p.dump_errno)
                vg_error("sim: --dump %s: %s", dump_path, strerror(p.dump_errno));
            else
                vg_error("sim: step: %s", vg_strerror(r));
            status = 1;
            break;
        }
        if (vg_sim_now_ns(sim) - sim0 >= next_log) {
            vg_info("sim: %3.0f%% of the day, %llu messages", 100.0 * (double)(vg_sim_now_ns(sim) - sim0) / (double)span,
                    (unsigned long long)p.published);
            next_log += span / 10;
        }
    }
    if (stop_requested)
        vg_info("sim: stopped by signal; the ground truth covers what was simulated");
    if (p.mosq)
        drain(&p, 30000);
    vg_info("sim: %llu messages, %llu bytes, %.1f simulated min in %.1f s", (unsigned long long)p.published,
            (unsigned long long)p.bytes, (double)(vg_sim_now_ns(sim) - sim0) / 60e9,
            (double)(vg_mono_ns() - wall0) / 1e9);
    if (truth) {
        const int werr = vg_sim_truth_write(sim, truth) < 0;
        const int cerr = fclose(truth) != 0;
        truth = NULL;
        if (werr || cerr) {
            vg_error("sim: writing ground truth %s: %s", truth_path, strerror(errno));
            status = 1;
        }
    }
out_mosq:
    if (p.mosq) {
        mosquitto_disconnect(p.mosq);
        mosquitto_loop_stop(p.mosq, false);
        mosquitto_destroy(p.mosq);
    }
    if (!no_broker)
        mosquitto_lib_cleanup();
out_files:
    if (truth) { /* nothing was simulated: leave no empty truth file behind */
        fclose(truth);
        unlink(truth_path);
    }
    /* The last buffered lines are written here: a full disk can show only now. */
    if (p.dump && (p.dump != stdout ? fclose(p.dump) : fflush(stdout)) != 0 && status == 0) {
        vg_error("sim: --dump %s: %s", dump_path, strerror(errno));
        status = 1;
    }
out_sync:
    pthread_cond_destroy(&p.cond);
    pthread_mutex_destroy(&p.lock);
out:
    vg_sim_free(&sim);
    vg_scenario_free(&sc);
    vg_model_free(&model);
    free(password);
    return status;
}
