/* Alert publication latency and throughput, against raw ZeroMQ in the same run.
 *
 * alert_e2e:  push one vg_alert_input (an analysis event) into the vg-alert thread's ring ->
 *             lifecycle -> JSON -> PUB -> SUB on tcp://127.0.0.1 -> received; one at a time,
 *             so each sample is one alert's latency.
 * raw_pubsub: the reference: the same two frames (topic and the JSON body the alert path
 *             produced) sent by a PUB socket of this thread to the same kind of SUB.
 * Both print `<case> <ops> <ns_per_op>` (mean) and p50/p99/p99.9; the ratio line compares.
 * The burst cases push N events back to back and time until the last is received.
 *
 * Run: meson test -C build-rel --benchmark -v alert   (or build-rel/bench/bench_alert [N]) */
#include "vigil/alert.h"
#include "vigil/common.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

static const char model_text[] =
    "venue = { id = \"bench\"; name = \"Bench\"; };\n"
    "profiles = ( { id = \"default\"; } );\n"
    "zones = ( { id = \"plaza\"; type = \"standing\"; area_m2 = 12000.0; sector = \"north\";\n"
    "            action = \"Open relief gate P2\"; } );\n";

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *name, int64_t *lat, size_t n, double *ret_pct)
{
    double sum = 0;
    qsort(lat, n, sizeof(*lat), cmp_i64);
    for (size_t i = 0; i < n; i++)
        sum += (double)lat[i];
    ret_pct[0] = (double)lat[n / 2];
    ret_pct[1] = (double)lat[(size_t)((double)n * 0.99)];
    ret_pct[2] = (double)lat[(size_t)((double)n * 0.999)];
    printf("%-14s %zu %.0f   p50 %.0f ns  p99 %.0f ns  p99.9 %.0f ns  max %lld ns\n", name, n,
           sum / (double)n, ret_pct[0], ret_pct[1], ret_pct[2], (long long)lat[n - 1]);
}

static int recv2(void *sub, char *topic, size_t tcap, char *body, size_t bcap, int *ret_blen)
{
    int tl = zmq_recv(sub, topic, tcap, 0);
    if (tl < 0)
        return -1;
    int bl = zmq_recv(sub, body, bcap, 0);
    if (bl < 0)
        return -1;
    *ret_blen = bl;
    return tl;
}

/* Receives until a non-heartbeat, non-metrics message arrives. */
static int recv_alert(void *sub, char *topic, size_t tcap, char *body, size_t bcap, int *ret_blen)
{
    for (;;) {
        int tl = recv2(sub, topic, tcap, body, bcap, ret_blen);
        if (tl < 0)
            return tl;
        if (tl < 10 || memcmp(topic, "heartbeat.", 10) != 0)
            return tl;
    }
}

static void *connect_sub(void *ctx, const char *ep, const char *prefix)
{
    void *s = zmq_socket(ctx, ZMQ_SUB);
    int hwm = 0, t = 5000;
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &t, sizeof(t));
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, prefix, strlen(prefix));
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, "heartbeat.", 10);
    zmq_connect(s, ep);
    return s;
}

static vg_alert_input event(uint64_t i)
{
    vg_alert_input rec;
    memset(&rec, 0, sizeof(rec));
    rec.type = VG_ALERT_IN_EVENT;
    vg_alert_event *e = &rec.u.event;
    e->id = 1;
    e->t_ns = INT64_C(1779456000) * VG_NS_PER_S + (int64_t)i * VG_NS_PER_MS;
    e->raised_ns = INT64_C(1779456000) * VG_NS_PER_S;
    e->kind = VG_ALERT_DENSITY;
    e->source_type = VG_SOURCE_ZONE;
    e->action = i == 0 ? VG_ALERT_ACTION_RAISE : VG_ALERT_ACTION_CHANGE;
    /* advisory <-> warning: no escalation deadline, one note per event */
    e->grade = i % 2 ? VG_GRADE_WARNING : VG_GRADE_ADVISORY;
    e->value = i % 2 ? 3.1 : 2.2;
    e->threshold = i % 2 ? 3.0 : 2.0;
    e->trend_per_min = 0.12;
    e->ttc_s = 480;
    e->evidence_count = 2;
    e->evidence[0] = (vg_evidence){.t_ns = e->t_ns,
                                   .value = 26400,
                                   .source_type = VG_SOURCE_ZONE,
                                   .reading_type = VG_READING_COUNT};
    e->evidence[1] = e->evidence[0];
    snprintf(e->message, sizeof(e->message), "plaza: density %.2f p/m2", e->value);
    return rec;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000;
    size_t burst = 100000;
    char path[64], topic[256], body[65536], ref_topic[256], ref_body[65536];
    int blen = 0, ref_tlen = 0, ref_blen = 0;
    vg_model *m;
    vg_model_error err;
    vg_ring *in;
    vg_alert *a;
    vg_alert_cfg cfg;
    int64_t *lat = calloc(n, sizeof(*lat));
    double pa[3], pr[3];

    if (n < 1000 || !lat) {
        fprintf(stderr, "usage: bench_alert [samples >= 1000]\n");
        return 2;
    }
    snprintf(path, sizeof(path), "/tmp/vg-bench-alert-%d.cfg", (int)getpid());
    FILE *f = fopen(path, "w");
    fputs(model_text, f);
    fclose(f);
    if (vg_model_load(path, &m, &err) < 0) {
        fprintf(stderr, "model: %s\n", err.message);
        return 1;
    }
    unlink(path);
    vg_ring_new(sizeof(vg_alert_input), 4096, &in);
    vg_alert_cfg_default(&cfg);
    cfg.feeds_endpoint = "tcp://127.0.0.1:*";
    cfg.control_endpoint = "tcp://127.0.0.1:*";
    cfg.sndhwm = 1000000;
    if (vg_alert_new(m, &cfg, &a) < 0 || vg_alert_start(a, in) < 0) {
        fprintf(stderr, "cannot start the publisher\n");
        return 1;
    }
    void *ctx = zmq_ctx_new();
    void *sub = connect_sub(ctx, vg_alert_feeds_endpoint(a), "security.");

    /* Wait for the subscription to reach the publisher: a heartbeat proves it. */
    if (recv2(sub, topic, sizeof(topic), body, sizeof(body), &blen) < 0) {
        fprintf(stderr, "no heartbeat\n");
        return 1;
    }

    /* warm-up, and the body the reference will send */
    for (uint64_t i = 0; i < 1000; i++) {
        vg_alert_input rec = event(i);
        while (vg_ring_push(in, &rec) < 0)
            vg_ring_wait_writable(in, 1, -1);
        ref_tlen =
            recv_alert(sub, ref_topic, sizeof(ref_topic), ref_body, sizeof(ref_body), &ref_blen);
    }
    printf("message: %d + %d bytes (%.*s)\n", ref_tlen, ref_blen, ref_tlen, ref_topic);

    for (size_t i = 0; i < n; i++) {
        vg_alert_input rec = event(1000 + i);
        int64_t t = vg_mono_ns();
        vg_ring_push(in, &rec);
        if (recv_alert(sub, topic, sizeof(topic), body, sizeof(body), &blen) < 0) {
            fprintf(stderr, "receive failed at %zu\n", i);
            return 1;
        }
        lat[i] = vg_mono_ns() - t;
    }
    report("alert_e2e", lat, n, pa);

    /* burst: back to back, then wait for the last */
    int64_t t0 = vg_mono_ns();
    size_t got = 0;
    for (size_t i = 0; i < burst; i++) {
        vg_alert_input rec = event(1000 + n + i);
        while (vg_ring_push(in, &rec) < 0) {
            /* drain what has arrived meanwhile so neither side stalls */
            while (zmq_recv(sub, topic, sizeof(topic), ZMQ_DONTWAIT) >= 0) {
                zmq_recv(sub, body, sizeof(body), 0);
                got += memcmp(topic, "heartbeat.", 10) != 0;
            }
        }
    }
    while (got < burst) {
        if (recv2(sub, topic, sizeof(topic), body, sizeof(body), &blen) < 0)
            break;
        got += memcmp(topic, "heartbeat.", 10) != 0;
    }
    double alert_burst = (double)(vg_mono_ns() - t0) / (double)burst;
    printf("alert_burst %zu %.0f  (received %zu)\n", burst, alert_burst, got);

    /* reference: the same bytes over a raw PUB -> SUB */
    void *pub = zmq_socket(ctx, ZMQ_PUB);
    int hwm = 0;
    char ep[256];
    size_t eplen = sizeof(ep);
    zmq_setsockopt(pub, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_bind(pub, "tcp://127.0.0.1:*");
    zmq_getsockopt(pub, ZMQ_LAST_ENDPOINT, ep, &eplen);
    void *rsub = connect_sub(ctx, ep, "");
    /* slow joiner: send probes until one arrives */
    for (;;) {
        zmq_send(pub, "probe", 5, 0);
        zmq_pollitem_t it = {.socket = rsub, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, 10) > 0) {
            zmq_recv(rsub, topic, sizeof(topic), 0);
            break;
        }
    }
    for (size_t i = 0; i < 1000 + n; i++) {
        int64_t t = vg_mono_ns();
        zmq_send(pub, ref_topic, (size_t)ref_tlen, ZMQ_SNDMORE);
        zmq_send(pub, ref_body, (size_t)ref_blen, 0);
        recv2(rsub, topic, sizeof(topic), body, sizeof(body), &blen);
        if (i >= 1000)
            lat[i - 1000] = vg_mono_ns() - t;
    }
    report("raw_pubsub", lat, n, pr);
    t0 = vg_mono_ns();
    got = 0;
    for (size_t i = 0; i < burst; i++) {
        zmq_send(pub, ref_topic, (size_t)ref_tlen, ZMQ_SNDMORE);
        zmq_send(pub, ref_body, (size_t)ref_blen, 0);
    }
    while (got < burst && recv2(rsub, topic, sizeof(topic), body, sizeof(body), &blen) >= 0)
        got++;
    double raw_burst = (double)(vg_mono_ns() - t0) / (double)burst;
    printf("raw_burst %zu %.0f  (received %zu)\n", burst, raw_burst, got);
    printf("ratio alert/raw: p50 %.2f  p99 %.2f  p99.9 %.2f  burst %.2f\n", pa[0] / pr[0],
           pa[1] / pr[1], pa[2] / pr[2], alert_burst / raw_burst);

    vg_alert_stats st;
    vg_alert_get_stats(a, &st);
    printf("publisher: published %llu, send errors %llu\n", (unsigned long long)st.published,
           (unsigned long long)st.send_errors);
    zmq_close(pub);
    zmq_close(rsub);
    zmq_close(sub);
    zmq_ctx_term(ctx);
    vg_alert_free(&a);
    vg_ring_free(&in);
    vg_model_free(&m);
    free(lat);
    return 0;
}
