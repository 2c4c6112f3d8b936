/* The whole engine, end to end, over a real mosquitto on loopback (started here).
 *
 * 1. Rate (issue #8): the sample venue's incident day (vigil sim, in process: the same
 *    messages `vigil sim --native` publishes) goes through broker -> engine (ingest, analysis,
 *    ZeroMQ feeds and control, HDF5 archive; event clock as in the demo) flat out, against a
 *    plain libmosquitto subscriber that only counts the same stream (the relay limit).
 *    Two forms: batch payloads (`--batch`) and one message per reading (a prefix of the day).
 *    "drained" includes stopping the engine: every record written to the archive. The batch
 *    form runs once more without the archive, to show what the HDF5 writer costs.
 * 2. Replay: `vigil replay --verify --quiet` of the archive written in 1 (readings/s).
 * 3. Latency (issue #5): MQTT publish of a help-point press -> the critical alert received
 *    on the ZeroMQ medical feed, while background sensor readings flow at 10, 50 and 90 % of
 *    the engine's maximum rate (measured first, in this run, with one message per reading).
 *    Reference at the same load: publish -> receipt by a plain subscriber (the relay alone).
 *    Help presses alert from the push; threshold alerts wait for the next tick (1 s).
 * 4. `vigil run` as a process: memory after the incident day (VmHWM, VmRSS) and the CPU an
 *    idle engine uses (wall clock, ticking every second, nothing arriving).
 *
 * Usage: bench_e2e VIGIL MODEL SCENARIO   (meson passes them; see bench/RESULTS.md)
 * Environment: VG_BENCH_SINGLES (messages of the one-per-reading stream, default 200000),
 * VG_BENCH_PROBES (help presses per load level, default 2000), VG_BENCH_IDLE_S (20),
 * VG_BENCH_ONLY (a comma-separated subset of rate, replay, latency, process; replay needs
 * rate). */
#include "mqtt_bench.h"

#include "vigil/common.h"
#include "vigil/engine.h"
#include "vigil/sim.h"

#include <errno.h>
#include <math.h>
#include <mosquitto.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static struct vb_broker broker;
static const char *vigil_path, *model_path, *scenario_path;

static void die(const char *what)
{
    fprintf(stderr, "bench_e2e: %s\n", what);
    vb_broker_stop(&broker);
    exit(1);
}

static int env_int(const char *name, int def)
{
    const char *s = getenv(name);
    return s && atoi(s) > 0 ? atoi(s) : def;
}

/* 1 when VG_BENCH_ONLY is unset or names this section. */
static int section(const char *name)
{
    const char *only = getenv("VG_BENCH_ONLY");
    size_t n = strlen(name);
    for (const char *p = only; p && *p; p += strcspn(p, ","), p += *p == ',')
        if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == 0))
            return 1;
    return !only;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* ---------------------------------------------------------------- the incident day */

struct msgs {
    char **topics;
    char **payloads;
    int *lens;
    int n, cap, max;
};

static int collect(void *ctx, const char *topic, const char *payload, size_t len, int64_t t_ns)
{
    struct msgs *m = ctx;
    if (m->n == m->max)
        return -ENOSPC;
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 4096;
        m->topics = realloc(m->topics, (size_t)m->cap * sizeof(*m->topics));
        m->payloads = realloc(m->payloads, (size_t)m->cap * sizeof(*m->payloads));
        m->lens = realloc(m->lens, (size_t)m->cap * sizeof(*m->lens));
        if (!m->topics || !m->payloads || !m->lens)
            die("out of memory");
    }
    m->topics[m->n] = strdup(topic);
    m->payloads[m->n] = malloc(len + 1);
    memcpy(m->payloads[m->n], payload, len + 1);
    m->lens[m->n] = (int)len;
    m->n++;
    return 0;
}

static void gen_day(const vg_model *m, const vg_scenario *sc, int batch, int max, struct msgs *out)
{
    vg_sim_cfg cfg;
    vg_sim *s;

    memset(out, 0, sizeof(*out));
    out->max = max;
    vg_sim_cfg_default(&cfg);
    cfg.batch = batch;
    cfg.native_only = 1;
    if (vg_sim_new(m, sc, &cfg, &s) < 0)
        die("vg_sim_new failed");
    while (!vg_sim_done(s) && vg_sim_step(s, collect, out) == 0)
        ;
    vg_sim_free(&s);
}

static void free_msgs(struct msgs *m)
{
    for (int i = 0; i < m->n; i++) {
        free(m->topics[i]);
        free(m->payloads[i]);
    }
    free(m->topics);
    free(m->payloads);
    free(m->lens);
}

/* ---------------------------------------------------------------- the engine in process */

struct run {
    double to_analysis_s; /* first message received -> last reading taken by the core */
    double to_drained_s;  /* first message received -> engine stopped, archive closed */
    uint64_t messages, readings, accepted, alerts, archive_full, archive_dropped;
    char archive[512];
    long long archive_bytes;
};

static void engine_cfg(vg_engine_cfg *cfg, const vg_model *m, const char *archive_dir, int event)
{
    vg_engine_cfg_default(cfg);
    cfg->model = m;
    cfg->ingest.port = broker.port;
    cfg->ingest.qos = 1;
    cfg->ingest.client_id = "vg-bench-e2e";
    cfg->ingest.clean_session = 1;
    cfg->event_clock = event;
    cfg->ingest.limits.max_age_ns = event ? 0 : cfg->ingest.limits.max_age_ns;
    cfg->events_path = NULL;
    cfg->status_interval_ns = 0;
    cfg->startup_grace_ns = 0;
    cfg->feeds_endpoint = "tcp://127.0.0.1:*";
    cfg->control_endpoint = "tcp://127.0.0.1:*";
    cfg->archive_dir = archive_dir;
}

static void wait_connected(vg_engine *e)
{
    vg_engine_stats st;
    for (int i = 0; i < 500; i++) {
        vg_engine_stats_get(e, &st);
        if (st.ingest.connected)
            break;
        vb_nap_ms(10);
    }
    if (!st.ingest.connected)
        die("the engine did not connect to the broker");
    vb_nap_ms(300); /* SUBACK */
}

static uint64_t ingest_readings(const vg_engine_stats *st)
{
    uint64_t n = 0;
    for (int k = 0; k < VG_INGEST_SRC_COUNT_; k++)
        n += st->ingest.readings[k];
    return n;
}

static void run_stream(const vg_model *m, struct vb_stream *s, const char *archive_dir, struct run *r)
{
    vg_engine_cfg cfg;
    vg_engine *e;
    vg_engine_stats st;
    pthread_t tp;
    int64_t first = 0, last = 0;
    uint64_t prev = 0;

    memset(r, 0, sizeof(*r));
    engine_cfg(&cfg, m, archive_dir, 1);
    if (vg_engine_new(&cfg, &e) < 0 || vg_engine_start(e) < 0)
        die("cannot start the engine");
    wait_connected(e);
    s->qos = 1;
    pthread_create(&tp, NULL, vb_publisher, s);
    for (;;) {
        vg_engine_stats_get(e, &st);
        int64_t t = vg_mono_ns();
        if (!first && st.ingest.messages)
            first = last = t;
        if (st.processed != prev) {
            last = t;
            prev = st.processed;
        }
        if (st.ingest.messages >= (uint64_t)s->n && st.processed >= ingest_readings(&st))
            break;
        if (first && t - last > 20 * VG_NS_PER_S)
            die("the engine stalled");
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    pthread_join(tp, NULL);
    vg_engine_archive_path(e, r->archive, sizeof(r->archive));
    vg_engine_stop(e);
    int64_t drained = vg_mono_ns();
    vg_engine_stats_get(e, &st);
    vg_engine_free(&e);
    r->to_analysis_s = (double)(last - first) / 1e9;
    r->to_drained_s = (double)(drained - first) / 1e9;
    r->messages = st.ingest.messages;
    r->readings = st.processed;
    r->accepted = st.accepted;
    r->alerts = st.alerts_published;
    r->archive_full = st.archive_full;
    r->archive_dropped = st.archive_dropped;
    struct stat sb;
    r->archive_bytes = stat(r->archive, &sb) == 0 ? (long long)sb.st_size : -1;
}

/* ---------------------------------------------------------------- latency */

enum { LAT_ZONES = 20, LAT_SENSORS = 200 };

static void write_latency_model(const char *path, int help_points)
{
    FILE *f = fopen(path, "w");
    if (!f)
        die("cannot write the latency model");
    fprintf(f, "venue = { id = \"latbench\"; };\nroutes = { help_medical = \"medical\"; };\nzones = (\n");
    for (int z = 0; z < LAT_ZONES; z++)
        fprintf(f, "  %s{ id = \"z%d\"; type = \"moving\"; area_m2 = 500.0; }\n", z ? "," : "", z);
    fprintf(f, ");\nsensors = (\n");
    for (int i = 0; i < LAT_SENSORS; i++)
        fprintf(f, "  %s{ id = \"s%d\"; kind = \"temperature\"; unit = \"degC\"; zone = \"z%d\"; "
                   "min = -40.0; max = 80.0; period_s = 1.0; }\n", i ? "," : "", i, i % LAT_ZONES);
    fprintf(f, ");\nhelp_points = (\n");
    for (int i = 0; i < help_points; i++)
        fprintf(f, "  %s{ id = \"hp%d\"; zone = \"z%d\"; }\n", i ? "," : "", i, i % LAT_ZONES);
    fprintf(f, ");\n");
    fclose(f);
}

/* Publishes {"v":1,"ts":<now>,<field>} at QoS 1: a reading stamped as it is sent. */
static void publish_now(struct mosquitto *m, const char *topic, const char *field)
{
    char payload[128];
    int64_t ts = vg_wall_ns();
    int len = snprintf(payload, sizeof(payload), "{\"v\":1,\"ts\":%lld.%06lld,%s}",
                       (long long)(ts / VG_NS_PER_S), (long long)(ts % VG_NS_PER_S / 1000), field);
    if (mosquitto_publish(m, NULL, topic, len, payload, 1, false) != MOSQ_ERR_SUCCESS)
        die("publish failed");
}

static void sleep_until(int64_t t_mono)
{
    struct timespec ts = {(time_t)(t_mono / VG_NS_PER_S), (long)(t_mono % VG_NS_PER_S)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* Background: sensor readings at `rate` per second, in 1 ms slices, until stop. */
struct pacer {
    double rate;
    atomic_int stop;
    uint64_t sent;
};

static void *pacer_main(void *arg)
{
    struct pacer *p = arg;
    struct mosquitto *m = vb_client(broker.port, NULL);
    char topic[64], field[32];
    uint32_t lcg = 12345;
    int64_t t0 = vg_mono_ns();

    while (!atomic_load(&p->stop)) {
        int64_t now = vg_mono_ns();
        uint64_t due = (uint64_t)((double)(now - t0) * p->rate / 1e9);
        for (; p->sent < due; p->sent++) {
            lcg = lcg * 1664525u + 1013904223u;
            snprintf(topic, sizeof(topic), "vigil/latbench/sensor/s%d", (int)(p->sent % LAT_SENSORS));
            snprintf(field, sizeof(field), "\"value\":%.2f", 20.0 + (lcg >> 24) / 256.0);
            publish_now(m, topic, field);
        }
        mosquitto_loop(m, 0, 1);
        sleep_until(now + VG_NS_PER_MS);
    }
    vb_client_close(m);
    return NULL;
}

/* Probes: help presses hp0..hp(n-1), one every spacing (+/- a quarter, so they do not lock to
 * the engine's tick or the pacer's slices); t_send before each publish. */
struct probes {
    int n;
    int64_t spacing_ns;
    int64_t *t_send;
    int64_t *t_recv; /* written by the receiver, 0 until received */
    atomic_int received;
    atomic_int stop;
};

static void *probe_main(void *arg)
{
    struct probes *p = arg;
    struct mosquitto *m = vb_client(broker.port, NULL);
    char topic[64];
    uint32_t lcg = 777;
    int64_t next = vg_mono_ns() + 100 * VG_NS_PER_MS;

    for (int i = 0; i < p->n; i++) {
        lcg = lcg * 1664525u + 1013904223u;
        next += p->spacing_ns * 3 / 4 + (int64_t)((lcg >> 16) % (uint32_t)(p->spacing_ns / 2 / 1000 + 1)) * 1000;
        sleep_until(next);
        snprintf(topic, sizeof(topic), "vigil/latbench/help/hp%d", i);
        p->t_send[i] = vg_mono_ns();
        publish_now(m, topic, "\"type\":\"medical\"");
        mosquitto_loop(m, 0, 1);
    }
    for (int i = 0; i < 50; i++) /* the last PUBACKs */
        mosquitto_loop(m, 10, 1);
    vb_client_close(m);
    return NULL;
}

static void got_probe(struct probes *p, int i)
{
    if (i >= 0 && i < p->n && !p->t_recv[i]) {
        p->t_recv[i] = vg_mono_ns();
        atomic_fetch_add(&p->received, 1);
    }
}

/* Receiver for Vigil: the medical feed's critical alerts; the subject is the help point. */
struct zrecv {
    struct probes *p;
    const char *endpoint;
    void *zctx;
    atomic_int ready;
};

static void *zmq_receiver(void *arg)
{
    struct zrecv *z = arg;
    void *sub = zmq_socket(z->zctx, ZMQ_SUB);
    int hwm = 0, tmo = 100;
    char topic[128], body[4096];

    zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(sub, ZMQ_RCVTIMEO, &tmo, sizeof(tmo));
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "medical.critical.", 17);
    zmq_connect(sub, z->endpoint);
    atomic_store(&z->ready, 1);
    while (!atomic_load(&z->p->stop)) {
        int n = zmq_recv(sub, topic, sizeof(topic), 0);
        if (n < 0)
            continue;
        int more = 0;
        size_t ml = sizeof(more);
        zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &ml);
        if (!more)
            continue;
        n = zmq_recv(sub, body, sizeof(body) - 1, 0);
        if (n < 0)
            continue;
        body[n < (int)sizeof(body) - 1 ? n : (int)sizeof(body) - 1] = 0;
        const char *s = strstr(body, "\"subject\":\"hp");
        if (s && strstr(body, "\"kind\":\"help_medical\""))
            got_probe(z->p, atoi(s + 13));
    }
    zmq_close(sub);
    return NULL;
}

/* Receiver for the reference: a plain subscriber of the whole venue (the same load). */
static void plain_probe_msg(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
    const char *h = strstr(msg->topic, "/help/hp");
    if (h)
        got_probe(obj, atoi(h + 8));
}

struct lat {
    double p50, p99, p999, max;
    int got, sent;
};

static void percentiles(struct probes *p, struct lat *r)
{
    int64_t *v = malloc((size_t)p->n * sizeof(*v));
    int k = 0;
    for (int i = 0; i < p->n; i++)
        if (p->t_recv[i])
            v[k++] = p->t_recv[i] - p->t_send[i];
    memset(r, 0, sizeof(*r));
    r->got = k;
    r->sent = p->n;
    if (k) {
        qsort(v, (size_t)k, sizeof(*v), cmp_i64);
        r->p50 = v[k / 2] / 1e3;
        r->p99 = v[(size_t)k * 99 / 100] / 1e3;
        r->p999 = v[(size_t)k * 999 / 1000] / 1e3;
        r->max = v[k - 1] / 1e3;
    }
    free(v);
}

/* One load level: rate background readings/s plus n probes; vigil (m != NULL) or the plain
 * subscriber (m == NULL). */
static void run_latency(const vg_model *m, const char *archive_dir, double rate, int n,
                        struct lat *ret, uint64_t *ret_bg)
{
    struct probes p = {.n = n, .spacing_ns = 5 * VG_NS_PER_MS};
    struct pacer pc = {.rate = rate};
    pthread_t tpace, tprobe, trecv;
    vg_engine *e = NULL;
    struct mosquitto *plain = NULL;
    void *zctx = NULL;
    struct zrecv z = {.p = &p};

    p.t_send = calloc((size_t)n, sizeof(int64_t));
    p.t_recv = calloc((size_t)n, sizeof(int64_t));
    if (m) {
        vg_engine_cfg cfg;
        engine_cfg(&cfg, m, archive_dir, 0);
        if (vg_engine_new(&cfg, &e) < 0 || vg_engine_start(e) < 0)
            die("cannot start the engine");
        wait_connected(e);
        zctx = zmq_ctx_new();
        z.endpoint = vg_engine_feeds_endpoint(e);
        z.zctx = zctx;
        pthread_create(&trecv, NULL, zmq_receiver, &z);
        while (!atomic_load(&z.ready))
            vb_nap_ms(1);
    } else {
        plain = mosquitto_new(NULL, true, &p);
        mosquitto_int_option(plain, MOSQ_OPT_TCP_NODELAY, 1);
        mosquitto_message_callback_set(plain, plain_probe_msg);
        if (mosquitto_connect(plain, "127.0.0.1", broker.port, 60) != MOSQ_ERR_SUCCESS)
            die("the plain subscriber cannot connect");
        mosquitto_subscribe(plain, NULL, "vigil/latbench/#", 1);
        mosquitto_loop_start(plain);
    }
    vb_nap_ms(500); /* subscriptions in place */
    pthread_create(&tpace, NULL, pacer_main, &pc);
    vb_nap_ms(500); /* the background is flowing */
    pthread_create(&tprobe, NULL, probe_main, &p);
    pthread_join(tprobe, NULL);
    for (int i = 0; i < 300 && atomic_load(&p.received) < n; i++)
        vb_nap_ms(10);
    atomic_store(&pc.stop, 1);
    pthread_join(tpace, NULL);
    atomic_store(&p.stop, 1);
    if (m) {
        pthread_join(trecv, NULL);
        vg_engine_stop(e);
        vg_engine_free(&e);
        zmq_ctx_term(zctx);
    } else {
        mosquitto_disconnect(plain);
        mosquitto_loop_stop(plain, false);
        mosquitto_destroy(plain);
    }
    percentiles(&p, ret);
    *ret_bg = pc.sent;
    free(p.t_send);
    free(p.t_recv);
}

/* The engine's maximum rate for the latency model: one message per reading, flat out. */
static double max_rate(const vg_model *m, const char *archive_dir, int n)
{
    char **payloads = malloc((size_t)n * sizeof(*payloads));
    const char **topics = malloc((size_t)n * sizeof(*topics));
    int *lens = malloc((size_t)n * sizeof(*lens));
    static char names[LAT_SENSORS][40];
    vg_engine_cfg cfg;
    vg_engine *e;
    vg_engine_stats st;
    pthread_t tp;
    int64_t first = 0, last = 0;

    for (int i = 0; i < LAT_SENSORS; i++)
        snprintf(names[i], sizeof(names[i]), "vigil/latbench/sensor/s%d", i);
    engine_cfg(&cfg, m, archive_dir, 0);
    /* The stream is stamped before it is sent: a reorder window longer than the run keeps
     * every reading in time, so the rate is the rate of readings the core really takes. */
    cfg.analysis.lateness_ns = 60 * VG_NS_PER_S;
    if (vg_engine_new(&cfg, &e) < 0 || vg_engine_start(e) < 0)
        die("cannot start the engine");
    wait_connected(e);
    /* Timestamps from now on, 1 ms apart per sensor: all fresh and distinct. */
    int64_t t0 = vg_wall_ns();
    for (int i = 0; i < n; i++) {
        int64_t ts = t0 + (int64_t)(i / LAT_SENSORS) * VG_NS_PER_MS;
        payloads[i] = malloc(96);
        topics[i] = names[i % LAT_SENSORS];
        lens[i] = snprintf(payloads[i], 96, "{\"v\":1,\"ts\":%lld.%06lld,\"value\":%.2f}",
                           (long long)(ts / VG_NS_PER_S), (long long)(ts % VG_NS_PER_S / 1000),
                           20.0 + (i % 97) / 97.0);
    }
    struct vb_stream s = {.port = broker.port, .qos = 1, .n = n, .variety = n, .topics = topics,
                          .payloads = payloads, .lens = lens};
    pthread_create(&tp, NULL, vb_publisher, &s);
    for (;;) {
        vg_engine_stats_get(e, &st);
        int64_t t = vg_mono_ns();
        if (!first && st.processed)
            first = t;
        if (st.processed >= (uint64_t)n) {
            last = t;
            break;
        }
        if (first && t - first > 120 * VG_NS_PER_S)
            die("max rate: the engine did not take every reading");
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    pthread_join(tp, NULL);
    vg_engine_stop(e);
    vg_engine_free(&e);
    for (int i = 0; i < n; i++)
        free(payloads[i]);
    free(payloads);
    free(topics);
    free(lens);
    return (double)(n - 1) / ((double)(last - first) / 1e9);
}

/* ---------------------------------------------------------------- vigil run as a process */

static pid_t spawn_vigil(const char *archive_dir, const char *clock, const char *client_id)
{
    char broker_url[64];
    snprintf(broker_url, sizeof(broker_url), "mqtt://127.0.0.1:%d", broker.port);
    fflush(NULL); /* or the child's freopen() writes our buffered output a second time */
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
            _exit(126);
        execl(vigil_path, "vigil", "run", "--model", model_path, "--broker", broker_url,
              "--client-id", client_id, "--clock", clock, "--feeds", "tcp://127.0.0.1:*",
              "--control", "tcp://127.0.0.1:*", "--archive", archive_dir, "--no-events",
              "--status-interval", "0", "--grace-ms", "0", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static long proc_status_kb(pid_t pid, const char *key)
{
    char path[64], line[256];
    long v = -1;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, key, strlen(key)) == 0)
            v = atol(line + strlen(key) + 1);
    fclose(f);
    return v;
}

/* utime + stime of a process, in seconds. */
static double proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    /* After the command: state is field 3; utime and stime are fields 14 and 15. */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void stop_child(pid_t pid)
{
    kill(pid, SIGTERM);
    for (int i = 0; i < 1000; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        vb_nap_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* Waits until the child's CPU time has not moved for quiet_ms (it has taken the stream). */
static void wait_quiet(pid_t pid, int quiet_ms, int max_s)
{
    double prev = -1;
    int still = 0;
    for (int i = 0; i < max_s * 10; i++) {
        vb_nap_ms(100);
        double c = proc_cpu_s(pid);
        still = c == prev ? still + 100 : 0;
        prev = c;
        if (still >= quiet_ms)
            return;
    }
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    int singles = env_int("VG_BENCH_SINGLES", 200000);
    int probes = env_int("VG_BENCH_PROBES", 2000);
    int idle_s = env_int("VG_BENCH_IDLE_S", 20);
    vg_model *m, *lm;
    vg_model_error err;
    vg_scenario *sc;
    vg_scenario_error serr;
    char path[256], dir[256];

    if (argc != 4) {
        fprintf(stderr, "usage: bench_e2e VIGIL MODEL SCENARIO\n");
        return 2;
    }
    vigil_path = argv[1];
    model_path = argv[2];
    scenario_path = argv[3];
    signal(SIGPIPE, SIG_IGN);
    mosquitto_lib_init();
    vg_log_set_level(VG_LOG_WARN);
    if (vg_model_load(model_path, &m, &err) < 0) {
        fprintf(stderr, "bench_e2e: %s:%d: %s: %s\n", err.file, err.line, err.key, err.message);
        return 1;
    }
    if (vg_scenario_load(scenario_path, m, &sc, &serr) < 0) {
        fprintf(stderr, "bench_e2e: %s:%d: %s: %s\n", serr.file, serr.line, serr.key, serr.message);
        return 1;
    }
    if (vb_broker_start(&broker) < 0)
        return 1;
    printf("# machine: %ld cores online; publisher, broker, engine and subscribers share them\n",
           sysconf(_SC_NPROCESSORS_ONLN));

    /* 1. Rate: the incident day, batch payloads, then one message per reading. */
    struct msgs day, one;
    gen_day(m, sc, 1, INT32_MAX, &day);
    gen_day(m, sc, 0, section("rate") ? singles : 0, &one);
    const char *forms[2] = {"batch", "single"};
    struct msgs *streams[2] = {&day, &one};
    char archive_file[512] = "";
    uint64_t archived_readings = 0;
    for (int f = 0; f < 2 && section("rate"); f++) {
        struct msgs *s = streams[f];
        struct vb_stream vs = {.port = broker.port, .qos = 1, .n = s->n, .variety = s->n,
                               .topics = (const char *const *)s->topics,
                               .payloads = s->payloads, .lens = s->lens};
        struct run r;
        double plain_ns = vb_plain_ns_per_msg(&vs, "vigil/#");
        snprintf(dir, sizeof(dir), "%s/archive-%s", broker.dir, forms[f]);
        mkdir(dir, 0755);
        run_stream(m, &vs, dir, &r);
        double plain_rps = (double)r.readings / (plain_ns * (double)(s->n - 1) / 1e9);
        printf("e2e_%s messages %d readings %llu accepted %llu alerts %llu\n", forms[f], s->n,
               (unsigned long long)r.readings, (unsigned long long)r.accepted,
               (unsigned long long)r.alerts);
        printf("e2e_%s plain_subscriber %.0f readings/s (%.0f msg/s)\n", forms[f], plain_rps,
               1e9 / plain_ns);
        printf("e2e_%s vigil_to_analysis %.0f readings/s, ratio %.2f\n", forms[f],
               (double)r.readings / r.to_analysis_s,
               (double)r.readings / r.to_analysis_s / plain_rps);
        printf("e2e_%s vigil_drained %.0f readings/s, ratio %.2f (archive %lld bytes, "
               "archive_full %llu, dropped %llu)\n",
               forms[f], (double)r.readings / r.to_drained_s,
               (double)r.readings / r.to_drained_s / plain_rps, r.archive_bytes,
               (unsigned long long)r.archive_full, (unsigned long long)r.archive_dropped);
        fflush(stdout);
        if (f == 0) {
            snprintf(archive_file, sizeof(archive_file), "%s", r.archive);
            archived_readings = r.readings;
            /* The same without the archive: what the HDF5 writer costs the pipeline. */
            struct run na;
            run_stream(m, &vs, NULL, &na);
            printf("e2e_%s vigil_no_archive %.0f readings/s, ratio %.2f\n", forms[f],
                   (double)na.readings / na.to_drained_s,
                   (double)na.readings / na.to_drained_s / plain_rps);
            fflush(stdout);
        }
    }
    free_msgs(&one);

    /* 2. Replay of the batch run's archive, as a user runs it. */
    if (section("rate") && section("replay")) {
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "'%s' replay --verify --quiet '%s' 2>&1", vigil_path, archive_file);
        int64_t t0 = vg_mono_ns();
        FILE *p = popen(cmd, "r");
        char line[512];
        while (p && fgets(line, sizeof(line), p))
            printf("# %s", line);
        int rc = p ? pclose(p) : -1;
        double secs = (double)(vg_mono_ns() - t0) / 1e9;
        printf("replay %llu readings %.2f s %.0f readings/s (process start included), verify %s\n",
               (unsigned long long)archived_readings, secs, (double)archived_readings / secs,
               rc == 0 ? "identical" : "FAILED");
        fflush(stdout);
    }

    /* 3. Latency at 10, 50 and 90 % of the engine's maximum rate. */
    snprintf(path, sizeof(path), "%s/latbench.cfg", broker.dir);
    write_latency_model(path, probes);
    if (vg_model_load(path, &lm, &err) < 0) {
        fprintf(stderr, "bench_e2e: %s:%d: %s: %s\n", err.file, err.line, err.key, err.message);
        die("latency model");
    }
    if (!section("latency"))
        goto process;
    snprintf(dir, sizeof(dir), "%s/archive-latency", broker.dir);
    mkdir(dir, 0755);
    double rmax = max_rate(lm, dir, 100000);
    printf("latency max_rate %.0f readings/s (one message per reading, QoS 1)\n", rmax);
    static const int pct[3] = {10, 50, 90};
    double p99_at_50 = 0;
    for (int i = 0; i < 3; i++) {
        struct lat v, ref;
        uint64_t bg_v, bg_r;
        run_latency(lm, dir, rmax * pct[i] / 100.0, probes, &v, &bg_v);
        run_latency(NULL, NULL, rmax * pct[i] / 100.0, probes, &ref, &bg_r);
        printf("latency %d%% vigil p50 %.0f us p99 %.0f us p99.9 %.0f us max %.0f us (%d/%d) | "
               "relay p50 %.0f us p99 %.0f us p99.9 %.0f us (%d/%d) | p99 ratio %.2f\n",
               pct[i], v.p50, v.p99, v.p999, v.max, v.got, v.sent, ref.p50, ref.p99, ref.p999,
               ref.got, ref.sent, ref.p99 > 0 ? v.p99 / ref.p99 : 0.0);
        fflush(stdout);
        if (pct[i] == 50)
            p99_at_50 = v.p99;
    }
    printf("# latency target: p99 < 1000 us at 50 %%: %s (%.0f us)\n",
           p99_at_50 < 1000 ? "met" : "NOT met", p99_at_50);
    fflush(stdout);
process:
    vg_model_free(&lm);

    /* 4. `vigil run` as a process: memory after the incident day; idle CPU. */
    if (section("process")) {
        snprintf(dir, sizeof(dir), "%s/archive-proc", broker.dir);
        mkdir(dir, 0755);
        pid_t pid = spawn_vigil(dir, "event", "vg-bench-proc");
        vb_nap_ms(1500);
        long rss0 = proc_status_kb(pid, "VmRSS");
        struct vb_stream vs = {.port = broker.port, .qos = 1, .n = day.n, .variety = day.n,
                               .topics = (const char *const *)day.topics,
                               .payloads = day.payloads, .lens = day.lens};
        vb_publisher(&vs);
        wait_quiet(pid, 2000, 120);
        printf("memory vigil_run start VmRSS %ld kB; after the incident day VmRSS %ld kB, "
               "VmHWM %ld kB\n", rss0, proc_status_kb(pid, "VmRSS"), proc_status_kb(pid, "VmHWM"));
        stop_child(pid);

        snprintf(dir, sizeof(dir), "%s/archive-idle", broker.dir);
        mkdir(dir, 0755);
        pid = spawn_vigil(dir, "wall", "vg-bench-idle");
        vb_nap_ms(5000);
        double c0 = proc_cpu_s(pid);
        int64_t t0 = vg_mono_ns();
        vb_nap_ms(idle_s * 1000);
        double c1 = proc_cpu_s(pid);
        double wall = (double)(vg_mono_ns() - t0) / 1e9;
        printf("idle vigil_run (wall clock, olympic park, no traffic) %.2f %% of a core over %.0f s "
               "(VmRSS %ld kB)\n", 100.0 * (c1 - c0) / wall, wall, proc_status_kb(pid, "VmRSS"));
        stop_child(pid);
    }
    free_msgs(&day);
    vg_scenario_free(&sc);
    vg_model_free(&m);
    vb_broker_stop(&broker);
    mosquitto_lib_cleanup();
    return 0;
}
