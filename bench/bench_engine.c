/* The engine's own throughput, without a broker: messages handed to vg_engine_submit() (the
 * same path as the MQTT callback: parse, validate, push) flow through the readings ring into
 * the analysis thread. Reference, measured in the same run: cJSON parsing the same payloads
 * and nothing else (the floor any JSON ingest pays). Cases: single sensor readings, and batch
 * payloads of 500 readings.
 *
 * Output, one line per case: <case> <ops> <ns_per_op>, then the ratios.
 * Environment: VG_BENCH_N (single messages, default 400000). */
#include "vigil/common.h"
#include "vigil/engine.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char model_text[] =
    "venue = { id = \"benchvenue\"; };\n"
    "zones = ( { id = \"z1\"; type = \"moving\"; area_m2 = 100.0; } );\n"
    "sensors = (\n"
    "  { id = \"s0\"; kind = \"temperature\"; unit = \"degC\"; zone = \"z1\"; min = -40.0; max = 80.0; period_s = 1.0; },\n"
    "  { id = \"s1\"; kind = \"temperature\"; unit = \"degC\"; zone = \"z1\"; min = -40.0; max = 80.0; period_s = 1.0; },\n"
    "  { id = \"s2\"; kind = \"co2\"; unit = \"ppm\"; zone = \"z1\"; min = 0.0; max = 10000.0; period_s = 1.0; },\n"
    "  { id = \"s3\"; kind = \"noise\"; unit = \"dB\"; zone = \"z1\"; min = 0.0; max = 150.0; period_s = 1.0; }\n"
    ");\n";

struct payloads {
    const char **topics;
    char **text;
    size_t *len;
    int n;
};

static double ref_parse(const struct payloads *p, int rounds)
{
    int64_t t0 = vg_mono_ns();
    volatile double sink = 0;
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < p->n; i++) {
            cJSON *j = cJSON_ParseWithLength(p->text[i], p->len[i]);
            sink += j ? 1 : 0;
            cJSON_Delete(j);
        }
    (void)sink;
    return (double)(vg_mono_ns() - t0);
}

static double run_engine(const vg_model *m, const struct payloads *p, int rounds,
                         uint64_t *ret_readings)
{
    vg_engine_cfg cfg;
    vg_engine *e;
    vg_engine_stats st;

    vg_engine_cfg_default(&cfg);
    cfg.model = m;
    cfg.use_broker = 0;
    cfg.events_path = NULL;
    cfg.startup_grace_ns = 0;
    cfg.ingest.limits.max_age_ns = 0;
    if (vg_engine_new(&cfg, &e) < 0 || vg_engine_start(e) < 0)
        exit(1);
    int64_t now = vg_wall_ns();
    int64_t t0 = vg_mono_ns();
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < p->n; i++)
            vg_engine_submit(e, p->topics[i], p->text[i], p->len[i], now);
    /* Until the analysis thread has taken every reading. */
    uint64_t want = 0;
    do {
        vg_engine_stats_get(e, &st);
        want = 0;
        for (int k = 0; k < VG_INGEST_SRC_COUNT_; k++)
            want += st.ingest.readings[k];
    } while (st.processed < want);
    double ns = (double)(vg_mono_ns() - t0);
    *ret_readings = st.processed;
    vg_engine_stop(e);
    vg_engine_free(&e);
    return ns;
}

int main(void)
{
    int n = getenv("VG_BENCH_N") ? atoi(getenv("VG_BENCH_N")) : 400000;
    char path[] = "/tmp/vg-bench-engine.XXXXXX";
    int fd = mkstemp(path);
    vg_model *m;
    vg_model_error err;

    if (fd < 0 || write(fd, model_text, sizeof(model_text) - 1) < 0)
        return 1;
    close(fd);
    vg_log_set_level(VG_LOG_WARN);
    if (vg_model_load(path, &m, &err) < 0) {
        fprintf(stderr, "bench_engine: %s:%d: %s\n", err.file, err.line, err.message);
        return 1;
    }
    unlink(path);

    /* Singles: 4096 distinct readings (distinct ts per sensor: no duplicates), repeated. */
    enum { V = 4096 };
    static const char *topics[V];
    static char *text[V];
    static size_t len[V];
    static const char *const st[4] = {"vigil/benchvenue/sensor/s0", "vigil/benchvenue/sensor/s1",
                                      "vigil/benchvenue/sensor/s2", "vigil/benchvenue/sensor/s3"};
    long long s = (long long)(vg_wall_ns() / VG_NS_PER_S);
    for (int i = 0; i < V; i++) {
        text[i] = malloc(96);
        topics[i] = st[i % 4];
        len[i] = (size_t)snprintf(text[i], 96, "{\"v\":1,\"ts\":%lld.%06d,\"value\":%d.5}", s, i, 20 + i % 9);
    }
    struct payloads single = {topics, text, len, V};
    int rounds = n / V > 0 ? n / V : 1;
    uint64_t readings;

    printf("# machine: %ld cores online\n", sysconf(_SC_NPROCESSORS_ONLN));
    double ref1 = ref_parse(&single, rounds) / (rounds * (double)V);
    printf("cjson_parse_single %d %.1f\n", rounds * V, ref1);
    double eng1 = run_engine(m, &single, rounds, &readings) / (double)readings;
    printf("engine_single %llu %.1f\n", (unsigned long long)readings, eng1);

    enum { B = 500, BV = 32 };
    static const char *btopics[BV];
    static char *btext[BV];
    static size_t blen[BV];
    for (int b = 0; b < BV; b++) {
        size_t cap = B * 80 + 64, k = 0;
        btext[b] = malloc(cap);
        btopics[b] = "vigil/benchvenue/batch/gw";
        k += (size_t)snprintf(btext[b] + k, cap - k, "{\"v\":1,\"readings\":[");
        for (int i = 0; i < B; i++)
            k += (size_t)snprintf(btext[b] + k, cap - k, "%s{\"sensor\":\"s%d\",\"ts\":%lld.%06d,\"value\":%d}",
                                  i ? "," : "", i % 4, s - b, i, 20 + i % 9);
        k += (size_t)snprintf(btext[b] + k, cap - k, "]}");
        blen[b] = k;
    }
    struct payloads batch = {btopics, btext, blen, BV};
    int brounds = n / (B * BV) > 0 ? n / (B * BV) : 1;
    double refb = ref_parse(&batch, brounds) / (brounds * (double)BV * B);
    printf("cjson_parse_batch_per_reading %d %.1f\n", brounds * BV * B, refb);
    double engb = run_engine(m, &batch, brounds, &readings) / (double)readings;
    printf("engine_batch_per_reading %llu %.1f\n", (unsigned long long)readings, engb);

    printf("# engine / cJSON-only cost, single messages: %.2f\n", eng1 / ref1);
    printf("# engine / cJSON-only cost, batches: %.2f\n", engb / refb);
    printf("# engine rates: %.0f single messages/s, %.0f batch readings/s (target >= 500000)\n",
           1e9 / eng1, 1e9 / engb);
    for (int i = 0; i < V; i++)
        free(text[i]);
    for (int b = 0; b < BV; b++)
        free(btext[b]);
    vg_model_free(&m);
    return 0;
}
