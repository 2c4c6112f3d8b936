/* Ingest throughput over a real mosquitto on loopback (started here on a free port).
 *
 * Reference: a plain libmosquitto subscriber that only counts messages: the relay limit of
 * this machine for one publisher -> broker -> one subscriber. Measured: the Vigil engine (the
 * same vg_engine as `vigil run`: ingest thread parsing and validating every message, the
 * readings ring, the analysis thread) consuming the same publisher's stream. Both at QoS 0
 * and QoS 1 (persistent session); then batch payloads (vigil/<venue>/batch/...) for the
 * readings rate. Rates are messages received / (last - first receive), per consumer.
 *
 * Output, one line per case: <case> <ops> <ns_per_op>, then the ratios.
 * Targets (issue #4): vigil >= 0.9 x plain; batch >= 500,000 readings/s.
 * Environment: VG_BENCH_N (messages per case, default 200000). */
#include "vigil/common.h"
#include "vigil/engine.h"

#include "mqtt_bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct vb_broker broker;

/* ---- Vigil ---- */

static double run_vigil(const vg_model *m, int qos, struct vb_stream *pc, uint64_t want_readings,
                        double *ret_ns_per_reading)
{
    vg_engine_cfg cfg;
    vg_engine *e;
    vg_engine_stats st;
    int64_t first = 0, last = 0;
    uint64_t prev_msgs = 0;
    pthread_t tp;

    vg_engine_cfg_default(&cfg);
    cfg.model = m;
    cfg.ingest.port = broker.port;
    cfg.ingest.qos = qos;
    cfg.ingest.client_id = qos ? "vg-bench-vigil" : "vg-bench-vigil0";
    cfg.ingest.clean_session = qos ? 0 : 1;
    cfg.ingest.limits.max_age_ns = 0;
    cfg.events_path = NULL;
    cfg.status_interval_ns = 0;
    cfg.startup_grace_ns = 0;
    if (vg_engine_new(&cfg, &e) < 0 || vg_engine_start(e) < 0)
        exit(1);
    do {
        vb_nap_ms(10);
        vg_engine_stats_get(e, &st);
    } while (!st.ingest.connected);
    vb_nap_ms(200); /* SUBACK */
    pc->qos = qos;
    pthread_create(&tp, NULL, vb_publisher, pc);
    /* Poll the counters: the first message seen and the last change of `processed` bound the
     * stream. The 200 µs poll adds at most that to a run of a second or more. The startup
     * grace is 0 so the first tick does not wait. */
    for (;;) {
        vg_engine_stats_get(e, &st);
        int64_t t = vg_mono_ns();
        if (!first && st.ingest.messages)
            first = last = t;
        if (st.processed != prev_msgs) {
            last = t;
            prev_msgs = st.processed;
        }
        if (st.processed >= want_readings)
            break;
        if (first && t - last > 10 * VG_NS_PER_S) {
            char line[1024];
            vg_engine_status(e, line, sizeof(line));
            fprintf(stderr, "bench_ingest: vigil stalled at %llu of %llu readings: %s\n",
                    (unsigned long long)st.processed, (unsigned long long)want_readings, line);
            break;
        }
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    pthread_join(tp, NULL);
    vg_engine_stats_get(e, &st);
    vg_engine_stop(e);
    vg_engine_free(&e);
    if (qos)
        vb_drop_session(broker.port, "vg-bench-vigil");
    if (ret_ns_per_reading)
        *ret_ns_per_reading = (double)(last - first) / (double)st.processed;
    return (double)(last - first) / (double)(st.ingest.messages - 1);
}

static const char model_text[] =
    "venue = { id = \"benchvenue\"; };\n"
    "zones = ( { id = \"z1\"; type = \"moving\"; area_m2 = 100.0; },\n"
    "          { id = \"z2\"; type = \"standing\"; area_m2 = 80.0; } );\n"
    "cameras = ( { id = \"cam1\"; zones = ( { zone = \"z1\"; }, { zone = \"z2\"; } ); } );\n"
    "sensors = (\n"
    "  { id = \"s0\"; kind = \"temperature\"; unit = \"degC\"; zone = \"z1\"; min = -40.0; max = 80.0; period_s = 1.0; },\n"
    "  { id = \"s1\"; kind = \"temperature\"; unit = \"degC\"; zone = \"z1\"; min = -40.0; max = 80.0; period_s = 1.0; },\n"
    "  { id = \"s2\"; kind = \"co2\"; unit = \"ppm\"; zone = \"z2\"; min = 0.0; max = 10000.0; period_s = 1.0; },\n"
    "  { id = \"s3\"; kind = \"noise\"; unit = \"dB\"; zone = \"z2\"; min = 0.0; max = 150.0; period_s = 1.0; }\n"
    ");\n";

int main(void)
{
    int n = getenv("VG_BENCH_N") ? atoi(getenv("VG_BENCH_N")) : 200000;
    char path[128];
    vg_model *m;
    vg_model_error err;
    enum { VARIETY = 4096 };
    static const char *topics[VARIETY];
    static char *payloads[VARIETY];
    static int lens[VARIETY];
    static const char *const sensor_topics[4] = {
        "vigil/benchvenue/sensor/s0", "vigil/benchvenue/sensor/s1",
        "vigil/benchvenue/sensor/s2", "vigil/benchvenue/sensor/s3"};

    signal(SIGPIPE, SIG_IGN);
    mosquitto_lib_init();
    vg_log_set_level(VG_LOG_WARN);
    if (vb_broker_start(&broker) < 0)
        return 1;
    snprintf(path, sizeof(path), "%s/bench.cfg", broker.dir);
    FILE *f = fopen(path, "w");
    fputs(model_text, f);
    fclose(f);
    if (vg_model_load(path, &m, &err) < 0) {
        fprintf(stderr, "bench_ingest: %s:%d: %s: %s\n", err.file, err.line, err.key, err.message);
        vb_broker_stop(&broker);
        return 1;
    }
    /* Distinct, valid single readings: the ts differs per message so none is a duplicate. */
    long long s = (long long)(vg_wall_ns() / VG_NS_PER_S) - 60;
    for (int i = 0; i < VARIETY; i++) {
        payloads[i] = malloc(96);
        topics[i] = sensor_topics[i % 4];
        lens[i] = snprintf(payloads[i], 96, "{\"v\":1,\"ts\":%lld.%06d,\"value\":%d.%d}", s + i / 1000,
                           (i % 1000) * 1000, 20 + i % 7, i % 10);
    }
    struct vb_stream pc = {.port = broker.port, .n = n, .topics = topics, .payloads = payloads, .lens = lens, .variety = VARIETY};

    printf("# machine: %ld cores online; publisher, broker and consumer share them\n",
           sysconf(_SC_NPROCESSORS_ONLN));
    pc.qos = 0;
    double plain0 = vb_plain_ns_per_msg(&pc, "vigil/benchvenue/#");
    printf("plain_subscriber_qos0 %d %.1f\n", n, plain0);
    fflush(stdout);
    double vigil0 = run_vigil(m, 0, &pc, (uint64_t)n, NULL);
    printf("vigil_run_qos0 %d %.1f\n", n, vigil0);
    fflush(stdout);
    pc.qos = 1;
    double plain1 = vb_plain_ns_per_msg(&pc, "vigil/benchvenue/#");
    printf("plain_subscriber_qos1 %d %.1f\n", n, plain1);
    fflush(stdout);
    double vigil1 = run_vigil(m, 1, &pc, (uint64_t)n, NULL);
    printf("vigil_run_qos1 %d %.1f\n", n, vigil1);
    fflush(stdout);

    /* Batches: 500 readings per message. */
    enum { BATCH = 500, BVAR = 64 };
    static const char *btopics[BVAR];
    static char *bpay[BVAR];
    static int blens[BVAR];
    for (int b = 0; b < BVAR; b++) {
        size_t cap = BATCH * 80 + 64, k = 0;
        bpay[b] = malloc(cap);
        btopics[b] = "vigil/benchvenue/batch/gw";
        k += (size_t)snprintf(bpay[b] + k, cap - k, "{\"v\":1,\"readings\":[");
        for (int i = 0; i < BATCH; i++)
            k += (size_t)snprintf(bpay[b] + k, cap - k, "%s{\"sensor\":\"s%d\",\"ts\":%lld.%06d,\"value\":%d}",
                                  i ? "," : "", i % 4, s + b, i * 1000 + 7, 20 + i % 9);
        k += (size_t)snprintf(bpay[b] + k, cap - k, "]}");
        blens[b] = (int)k;
    }
    int nb = n / 100 > 200 ? n / 100 : 200;
    struct vb_stream bc = {.port = broker.port, .n = nb, .topics = btopics, .payloads = bpay, .lens = blens, .variety = BVAR};
    bc.qos = 1;
    double plainb = vb_plain_ns_per_msg(&bc, "vigil/benchvenue/#");
    printf("plain_subscriber_batch_qos1 %d %.1f\n", nb, plainb);
    double ns_per_reading;
    double vigilb = run_vigil(m, 1, &bc, (uint64_t)nb * BATCH, &ns_per_reading);
    printf("vigil_run_batch_qos1 %d %.1f\n", nb, vigilb);
    printf("vigil_run_batch_readings %d %.1f\n", nb * BATCH, ns_per_reading);

    printf("# ratio vigil/plain rate, QoS 0: %.2f (target >= 0.9)\n", plain0 / vigil0);
    printf("# ratio vigil/plain rate, QoS 1: %.2f (target >= 0.9)\n", plain1 / vigil1);
    printf("# ratio vigil/plain rate, batches: %.2f\n", plainb / vigilb);
    printf("# plain rate QoS 0 %.0f msg/s, QoS 1 %.0f msg/s; vigil QoS 0 %.0f msg/s, QoS 1 %.0f msg/s\n",
           1e9 / plain0, 1e9 / plain1, 1e9 / vigil0, 1e9 / vigil1);
    printf("# vigil batch readings: %.0f readings/s (target >= 500000)\n", 1e9 / ns_per_reading);
    for (int i = 0; i < VARIETY; i++)
        free(payloads[i]);
    for (int b = 0; b < BVAR; b++)
        free(bpay[b]);
    vg_model_free(&m);
    vb_broker_stop(&broker);
    mosquitto_lib_cleanup();
    return 0;
}
