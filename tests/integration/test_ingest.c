/* Scenarios against a real mosquitto on loopback (tests/with-broker.sh), with the ingestor
 * in this process and a consumer thread draining its readings ring:
 * - N messages published, good and bad mixed: readings + refusals = N exactly, by reason.
 * - the hostile corpus (truncated JSON, a 10 MB payload, deep nesting, wrong types, NaN/inf,
 *   unknown ids, binary garbage) is refused reason by reason while good readings, published
 *   between them, all arrive.
 * - a ring far smaller than the burst: the ingest thread waits (backpressure), nothing lost.
 * - the broker is killed and restarted mid-stream: the ingestor reconnects and, with QoS 1
 *   and its persistent session, every message published after the restart arrives;
 * - the broker is down when the ingestor starts: it keeps trying and connects once the
 *   broker is up. */
#include "vigil/common.h"
#include "vigil/ingest.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <mosquitto.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

static int port;
static vg_model *model;

/* Message numbers the consumer tracks (send_sensor puts them in the ts microseconds). */
#define SEEN_MAX 65536

static void setup(void)
{
    char p[4096];
    vg_model_error err;
    const char *root = getenv("VG_SOURCE_ROOT");
    const char *ps = getenv("VG_TEST_MQTT_PORT");

    cr_assert_not_null(ps, "run under tests/with-broker.sh");
    port = atoi(ps);
    snprintf(p, sizeof(p), "%s/tests/data/payloads/venue.cfg", root ? root : ".");
    cr_assert_eq(vg_model_load(p, &model, &err), 0, "%s:%d: %s", err.file, err.line, err.message);
    mosquitto_lib_init();
}

static void teardown(void)
{
    vg_model_free(&model);
    mosquitto_lib_cleanup();
}

TestSuite(ingest, .init = setup, .fini = teardown, .timeout = 240);

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- a consumer of the readings ring ---- */

struct consumer {
    vg_ring *ring;
    pthread_t th;
    atomic_long n;
    atomic_int paused;
    atomic_long out_of_range;   /* VG_INGEST_READING_OUT_OF_RANGE records */
    double oor_sum;             /* their values; consumer thread only until joined */
    double sum;                 /* consumer thread only until joined */
    unsigned short seen[SEEN_MAX]; /* times each message number arrived (idem) */
};

static void *consume(void *arg)
{
    struct consumer *c = arg;
    vg_reading r;
    for (;;) {
        if (atomic_load(&c->paused)) {
            nap_ms(5);
            continue;
        }
        int rc = vg_ring_wait_readable(c->ring, 50 * VG_NS_PER_MS);
        if (rc == -ECANCELED)
            break;
        while (!atomic_load(&c->paused) && vg_ring_pop(c->ring, &r) == 0) {
            if (r.type == VG_INGEST_READING_OUT_OF_RANGE) {
                c->oor_sum += r.value;
                atomic_fetch_add(&c->out_of_range, 1);
                continue;
            }
            c->sum += r.value;
            int64_t id = (r.t_ns % VG_NS_PER_S + 500) / 1000; /* send_sensor's message number */
            if (id >= 0 && id < SEEN_MAX)
                c->seen[id]++;
            atomic_fetch_add(&c->n, 1);
        }
    }
    return NULL;
}

struct rig {
    vg_ring *rd, *rj;
    vg_ingest *in;
    struct consumer c;
};

/* The rig's reconnect backoff ceiling; a test may raise it. */
static int rig_backoff_max_ms = 500;

static void rig_up(struct rig *g, size_t ring_cap, const char *client_id, int max_block_ms,
                   int keepalive_s)
{
    vg_ingest_cfg cfg;
    memset(g, 0, sizeof(*g));
    cr_assert_eq(vg_ring_new(sizeof(vg_reading), ring_cap, &g->rd), 0);
    cr_assert_eq(vg_ring_new(sizeof(vg_ingest_reject), 1024, &g->rj), 0);
    vg_ingest_cfg_default(&cfg);
    cfg.port = port;
    cfg.client_id = client_id;
    cfg.reconnect_min_ms = 50;
    cfg.reconnect_max_ms = rig_backoff_max_ms;
    if (max_block_ms >= 0)
        cfg.max_block_ms = max_block_ms;
    if (keepalive_s > 0)
        cfg.keepalive_s = keepalive_s;
    cr_assert_eq(vg_ingest_new(model, &cfg, g->rd, g->rj, &g->in), 0);
    g->c.ring = g->rd;
    pthread_create(&g->c.th, NULL, consume, &g->c);
    cr_assert_eq(vg_ingest_start(g->in), 0);
}

static void rig_down(struct rig *g)
{
    vg_ingest_free(&g->in);
    vg_ring_close(g->rd);
    pthread_join(g->c.th, NULL);
    vg_ring_free(&g->rd);
    vg_ring_free(&g->rj);
}

static vg_ingest_stats stats(struct rig *g)
{
    vg_ingest_stats s;
    vg_ingest_stats_get(g->in, &s);
    return s;
}

static uint64_t sum(const uint64_t *a, int n)
{
    uint64_t t = 0;
    for (int i = 0; i < n; i++)
        t += a[i];
    return t;
}

/* Waits until the ingestor has its subscription in place (connected, then one round trip). */
static void wait_connected(struct rig *g, uint64_t connects)
{
    int64_t end = vg_mono_ns() + 15 * VG_NS_PER_S;
    while (stats(g).connects < connects && vg_mono_ns() < end)
        nap_ms(10);
    cr_assert_geq(stats(g).connects, connects, "ingest did not connect");
    nap_ms(200); /* SUBACK follows CONNACK; a publisher sent earlier would race it */
}

/* Polls until messages >= want (and the consumer took every reading). */
static void wait_messages(struct rig *g, uint64_t want, int64_t timeout_s)
{
    int64_t end = vg_mono_ns() + timeout_s * VG_NS_PER_S;
    for (;;) {
        vg_ingest_stats s = stats(g);
        uint64_t readings = sum(s.readings, VG_INGEST_SRC_COUNT_);
        if (s.messages >= want && (uint64_t)atomic_load(&g->c.n) >= readings)
            break;
        if (vg_mono_ns() > end)
            break;
        nap_ms(10);
    }
}

/* ---- a QoS 1 publisher that knows when the broker has everything ---- */

struct pub {
    struct mosquitto *m;
    atomic_int acked;
    atomic_int connacked;
    int sent;
};

static void on_pub(struct mosquitto *m, void *obj, int mid)
{
    atomic_fetch_add(&((struct pub *)obj)->acked, 1);
}

static void on_pub_connect(struct mosquitto *m, void *obj, int rc)
{
    if (rc == 0)
        atomic_store(&((struct pub *)obj)->connacked, 1);
}

static void pub_open(struct pub *p, const char *id)
{
    memset(p, 0, sizeof(*p));
    p->m = mosquitto_new(id, true, p);
    cr_assert_not_null(p->m);
    mosquitto_publish_callback_set(p->m, on_pub);
    mosquitto_connect_callback_set(p->m, on_pub_connect);
    int64_t end = vg_mono_ns() + 10 * VG_NS_PER_S;
    while (mosquitto_connect(p->m, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS) {
        cr_assert_lt(vg_mono_ns(), end, "publisher cannot connect");
        nap_ms(20);
    }
    cr_assert_eq(mosquitto_loop_start(p->m), MOSQ_ERR_SUCCESS);
    /* Publish only after CONNACK: libmosquitto re-sends (DUP) every QoS 1 message still
     * waiting for its PUBACK when the CONNACK arrives, and the broker forwards both copies,
     * so a publisher that starts early delivers some messages twice under load. */
    while (!atomic_load(&p->connacked)) {
        cr_assert_lt(vg_mono_ns(), end, "publisher got no CONNACK");
        nap_ms(2);
    }
}

static void pub_send(struct pub *p, const char *topic, const void *payload, size_t len)
{
    cr_assert_eq(mosquitto_publish(p->m, NULL, topic, (int)len, payload, 1, false), MOSQ_ERR_SUCCESS);
    p->sent++;
    /* Keep the in-flight window bounded so the client queue does not balloon. */
    while (p->sent - atomic_load(&p->acked) > 500)
        nap_ms(1);
}

static void pub_close(struct pub *p)
{
    int64_t end = vg_mono_ns() + 30 * VG_NS_PER_S;
    while (atomic_load(&p->acked) < p->sent && vg_mono_ns() < end)
        nap_ms(2);
    cr_assert_eq(atomic_load(&p->acked), p->sent, "broker did not acknowledge every publish");
    mosquitto_disconnect(p->m);
    mosquitto_loop_stop(p->m, false);
    mosquitto_destroy(p->m);
}

static long long now_s(void)
{
    return (long long)(vg_wall_ns() / VG_NS_PER_S);
}

static void send_sensor(struct pub *p, const char *sensor, int i, double value)
{
    char topic[128], msg[128];
    snprintf(topic, sizeof(topic), "vigil/testvenue/sensor/%s", sensor);
    int n = snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld.%06d,\"value\":%g}", now_s(), i % 1000000, value);
    pub_send(p, topic, msg, (size_t)n);
}

Test(ingest, n_published_equals_readings_plus_refusals_by_reason)
{
    struct rig g;
    struct pub p;
    const int good = 3000;

    rig_up(&g, 65536, "vg-it-count", -1, 0);
    wait_connected(&g, 1);
    pub_open(&p, "vg-it-pub1");
    for (int i = 0; i < good; i++) {
        send_sensor(&p, "t1", i, 20.0 + i % 7);
        if (i % 100 == 0) {
            pub_send(&p, "vigil/testvenue/sensor/t1", "{\"v\":1,", 7);              /* malformed */
            send_sensor(&p, "t1", i, 1000.0);                                        /* out_of_range */
            send_sensor(&p, "ghost", i, 20.0);                                       /* unknown_sensor */
        }
    }
    pub_close(&p);
    uint64_t n = (uint64_t)good + 3 * (good / 100);
    wait_messages(&g, n, 60);
    vg_ingest_stats s = stats(&g);
    cr_assert_eq(s.messages, n);
    cr_assert_eq(s.readings[VG_INGEST_SRC_SENSOR], (uint64_t)good);
    cr_assert_eq(s.rejects[VG_REJECT_MALFORMED], (uint64_t)good / 100);
    cr_assert_eq(s.rejects[VG_REJECT_OUT_OF_RANGE], (uint64_t)good / 100);
    cr_assert_eq(s.rejects[VG_REJECT_UNKNOWN_SENSOR], (uint64_t)good / 100);
    cr_assert_eq(sum(s.readings, VG_INGEST_SRC_COUNT_) + sum(s.rejects, VG_INGEST_REJECT_SLOTS), n);
    cr_assert_eq(atomic_load(&g.c.n), good);
    rig_down(&g);
    double want = 0;
    for (int i = 0; i < good; i++)
        want += 20.0 + i % 7;
    cr_assert_eq(g.c.sum, want, "the values arrive unchanged");
    /* the refused out-of-range readings follow, for the analysis core's sensor_range alert */
    cr_assert_eq(atomic_load(&g.c.out_of_range), good / 100);
    cr_assert_eq(g.c.oor_sum, 1000.0 * (good / 100));
}

Test(ingest, hostile_payloads_are_refused_while_good_readings_flow)
{
    struct rig g;
    struct pub p;
    char buf[8192];
    size_t big_len = 10u << 20, deep = 200000;
    char *big = malloc(big_len), *nest = malloc(deep * 2);
    int good = 0;

    memset(big, 'A', big_len);
    memcpy(big, "{\"v\":1,\"ts\":1,\"value\":\"", 23);
    memset(nest, '[', deep);
    memset(nest + deep, ']', deep);
    struct {
        const char *topic;
        const void *payload;
        size_t len;
        enum vg_reject why;
    } cases[] = {
        {"vigil/testvenue/sensor/t1", "{\"v\":1,\"ts\":17794", 0, VG_REJECT_MALFORMED},
        {"vigil/testvenue/sensor/t1", big, big_len, VG_REJECT_OVERSIZED},
        {"vigil/testvenue/sensor/t1", nest, deep * 2, VG_REJECT_MALFORMED},
        {"vigil/testvenue/sensor/t1", "{\"v\":1,\"ts\":\"1779456000\",\"value\":27}", 0, VG_REJECT_WRONG_TYPE},
        {"vigil/testvenue/sensor/t1", "{\"v\":1,\"ts\":1779456000,\"value\":NaN}", 0, VG_REJECT_MALFORMED},
        {"vigil/testvenue/count/cam1", "{\"v\":1,\"ts\":1779456000,\"counts\":{\"z1\":-4}}", 0, VG_REJECT_TOO_OLD},
        {"vigil/testvenue/sensor/nosuch", "{}", 0, VG_REJECT_UNKNOWN_SENSOR},
        {"vigil/testvenue/count/cam9", "{}", 0, VG_REJECT_UNKNOWN_CAMERA},
        {"vigil/testvenue/help/h9", "{}", 0, VG_REJECT_UNKNOWN_HELP_POINT},
        {"vigil/testvenue/line/l9", "{}", 0, VG_REJECT_UNKNOWN_LINE},
        {"vigil/testvenue/unknown/x", "{}", 0, VG_REJECT_UNKNOWN_TOPIC},
        {"vigil/testvenue/sensor/t1", "\x00\xff\xfe\x80garbage", 11, VG_REJECT_MALFORMED},
        {"frigate/fz1/person", "-3", 0, VG_REJECT_NEGATIVE_COUNT},
        {"zigbee2mqtt/hall_air", "{\"co2\":1e999}", 0, VG_REJECT_NOT_FINITE},
    };
    const int n_cases = (int)(sizeof(cases) / sizeof(cases[0]));
    uint64_t want[VG_INGEST_REJECT_SLOTS] = {0};

    rig_up(&g, 65536, "vg-it-hostile", -1, 0);
    wait_connected(&g, 1);
    pub_open(&p, "vg-it-pub2");
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < n_cases; i++) {
            size_t len = cases[i].len ? cases[i].len : strlen(cases[i].payload);
            pub_send(&p, cases[i].topic, cases[i].payload, len);
            want[cases[i].why]++;
            for (int k = 0; k < 10; k++)
                send_sensor(&p, "t1", good++, 21.0);
        }
    /* A count with a valid recent time but a negative count, and camera counts that pass. */
    int nn = snprintf(buf, sizeof(buf), "{\"v\":1,\"ts\":%lld,\"counts\":{\"z1\":-4}}", now_s());
    pub_send(&p, "vigil/testvenue/count/cam1", buf, (size_t)nn);
    want[VG_REJECT_NEGATIVE_COUNT]++;
    nn = snprintf(buf, sizeof(buf), "{\"v\":1,\"ts\":%lld,\"counts\":{\"z1\":4,\"z2\":5}}", now_s());
    pub_send(&p, "vigil/testvenue/count/cam1", buf, (size_t)nn);
    pub_close(&p);
    free(big);
    free(nest);
    uint64_t n = (uint64_t)(3 * n_cases + good + 2);
    wait_messages(&g, n, 60);
    vg_ingest_stats s = stats(&g);
    cr_assert_eq(s.messages, n);
    cr_assert_eq(s.readings[VG_INGEST_SRC_SENSOR], (uint64_t)good, "good readings kept flowing");
    cr_assert_eq(s.readings[VG_INGEST_SRC_COUNT], 2);
    for (int r = 1; r < VG_REJECT_COUNT; r++)
        cr_expect_eq(s.rejects[r], want[r], "%s: %llu refused, %llu expected", vg_reject_name(r),
                     (unsigned long long)s.rejects[r], (unsigned long long)want[r]);
    cr_assert_eq(s.disconnects, 0, "hostile input never cost the connection");
    /* the reject log kept them, with the 10 MB payload's true length */
    vg_ingest_reject rec;
    int found_big = 0, logged = 0;
    while (vg_ring_pop(g.rj, &rec) == 0) {
        logged++;
        if (rec.reason == VG_REJECT_OVERSIZED && rec.payload_len == big_len &&
            rec.excerpt_len == VG_INGEST_REJECT_PAYLOAD_MAX)
            found_big++;
    }
    cr_assert_eq(logged, 3 * n_cases + 1);
    cr_assert_eq(found_big, 3);
    rig_down(&g);
}

Test(ingest, full_ring_applies_backpressure_without_loss)
{
    struct rig g;
    struct pub p;
    const int n = 5000;

    rig_up(&g, 8, "vg-it-bp", -1, 0);
    wait_connected(&g, 1);
    atomic_store(&g.c.paused, 1); /* the ring fills, the callback must wait */
    pub_open(&p, "vg-it-pub3");
    for (int i = 0; i < n; i++)
        send_sensor(&p, "t1", i, 1.0);
    pub_close(&p);
    nap_ms(300);
    cr_assert_leq(atomic_load(&g.c.n), 0);
    cr_assert_geq(stats(&g).ring_waits, 1, "the ingest thread waited for room");
    atomic_store(&g.c.paused, 0);
    wait_messages(&g, n, 60);
    cr_assert_eq(stats(&g).readings[VG_INGEST_SRC_SENSOR], (uint64_t)n);
    cr_assert_eq(atomic_load(&g.c.n), n);
    cr_assert_eq(stats(&g).stalls, 0);
    rig_down(&g);
}

Test(ingest, stall_past_the_bound_disconnects_and_resumes_without_loss)
{
    struct rig g;
    struct pub p;
    const int n = 3000;

    /* A 300 ms bound on waiting for the ring (keepalive 5 s): the consumer stops for longer
     * than that, so the ingestor must park the readings, disconnect (the broker queues for
     * its persistent session) and come back once the ring has room. */
    rig_up(&g, 8, "vg-it-stall", 300, 5);
    wait_connected(&g, 1);
    atomic_store(&g.c.paused, 1);
    pub_open(&p, "vg-it-pub6");
    for (int i = 0; i < n; i++)
        send_sensor(&p, "t1", i, 1.0);
    pub_close(&p);
    int64_t end = vg_mono_ns() + 10 * VG_NS_PER_S;
    while (stats(&g).stalls < 1 && vg_mono_ns() < end)
        nap_ms(10);
    cr_assert_geq(stats(&g).stalls, 1, "the bound expired");
    cr_assert_eq(stats(&g).connected, 0, "disconnected while stalled");
    atomic_store(&g.c.paused, 0);
    wait_messages(&g, n, 60);
    vg_ingest_stats s = stats(&g);
    rig_down(&g);
    cr_assert_geq(s.connects, 2, "came back");
    int missing = 0;
    for (int i = 0; i < n; i++)
        missing += g.c.seen[i] == 0;
    cr_assert_eq(missing, 0, "%d of %d messages lost", missing, n);
    int twice = 0;
    for (int i = 0; i < n; i++)
        twice += g.c.seen[i] > 1 ? g.c.seen[i] - 1 : 0;
    cr_assert_eq(twice, 0, "%d of %d messages taken twice", twice, n);
    cr_assert_eq(s.messages, (uint64_t)n);
}

/* ---- broker restart ---- */

static pid_t broker_pid(void)
{
    char path[512];
    const char *dir = getenv("VG_TEST_TMPDIR");
    snprintf(path, sizeof(path), "%s/pid", dir);
    FILE *f = fopen(path, "r");
    if (f) {
        long pid = 0;
        if (fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        fclose(f);
        if (pid > 0 && kill((pid_t)pid, 0) == 0)
            return (pid_t)pid;
    }
    return (pid_t)atol(getenv("VG_TEST_MQTT_PID"));
}

static int listening(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

static void broker_kill(void)
{
    pid_t pid = broker_pid();
    cr_assert_gt(pid, 0);
    /* mosquitto started as root drops to the "mosquitto" user, which cannot write the
     * broker's 0700 temp dir: without this its persistence file (the sessions and their
     * queues) is never saved on SIGTERM, and a restart forgets every session. */
    cr_assert_eq(chmod(getenv("VG_TEST_TMPDIR"), 0777), 0);
    cr_assert_eq(kill(pid, SIGTERM), 0);
    int64_t end = vg_mono_ns() + 10 * VG_NS_PER_S;
    while ((kill(pid, 0) == 0 || listening()) && vg_mono_ns() < end) {
        waitpid(pid, NULL, WNOHANG);
        nap_ms(10);
    }
    cr_assert(!listening(), "broker still up");
}

static void broker_start(void)
{
    char path[512];
    const char *conf = getenv("VG_TEST_MQTT_CONF");
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        setsid(); /* outlives this test process; with-broker.sh stops it via $dir/pid */
        char logp[600];
        snprintf(logp, sizeof(logp), "%s/log.restarted", getenv("VG_TEST_TMPDIR"));
        if (!freopen(logp, "a", stdout) || !freopen(logp, "a", stderr))
            _exit(126);
        execl("/usr/sbin/mosquitto", "mosquitto", "-v", "-c", conf, (char *)NULL);
        _exit(127);
    }
    snprintf(path, sizeof(path), "%s/pid", getenv("VG_TEST_TMPDIR"));
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "%ld\n", (long)pid);
    fclose(f);
    int64_t end = vg_mono_ns() + 10 * VG_NS_PER_S;
    while (!listening() && vg_mono_ns() < end)
        nap_ms(20);
    cr_assert(listening(), "restarted broker does not listen");
}

Test(ingest, broker_restart_mid_stream_loses_nothing_published_after_it)
{
    struct rig g;
    struct pub p;
    const int before = 1000, after = 2000;

    rig_up(&g, 65536, "vg-it-restart", -1, 0);
    wait_connected(&g, 1);
    pub_open(&p, "vg-it-pub4");
    for (int i = 0; i < before; i++)
        send_sensor(&p, "t1", i, 1.0); /* the ts microseconds are the message number */
    pub_close(&p);
    wait_messages(&g, before, 30);
    cr_assert_eq(stats(&g).messages, (uint64_t)before);

    broker_kill();
    int64_t end = vg_mono_ns() + 10 * VG_NS_PER_S;
    while (stats(&g).connected && vg_mono_ns() < end)
        nap_ms(10);
    cr_assert_eq(stats(&g).connected, 0, "ingest noticed the broker is gone");
    broker_start();
    /* Publish at once, before the ingestor is back: the broker must queue for its
     * persistent session (restored from the broker's persistence file). */
    pub_open(&p, "vg-it-pub5");
    for (int i = 0; i < after; i++)
        send_sensor(&p, "t1", before + i, 2.0);
    pub_close(&p);
    wait_messages(&g, (uint64_t)(before + after), 60);
    vg_ingest_stats s = stats(&g);
    rig_down(&g);
    cr_assert_geq(s.connects, 2, "reconnected");
    cr_assert_geq(s.disconnects, 1);
    int missing = 0, dup = 0;
    for (int i = 0; i < before + after; i++) {
        missing += g.c.seen[i] == 0;
        dup += g.c.seen[i] > 1 ? g.c.seen[i] - 1 : 0;
    }
    /* QoS 1 is at least once: a message in flight at the kill may come twice (the core
     * refuses the copy as a duplicate); none may be missing. */
    cr_assert_eq(missing, 0, "%d of the %d messages never arrived (connects %llu)", missing,
                 before + after, (unsigned long long)s.connects);
    for (int i = before; i < before + after; i++)
        cr_assert_geq(g.c.seen[i], 1, "message %d published after the restart was lost", i);
    cr_assert_eq(s.messages, (uint64_t)(before + after + dup));
    if (dup)
        cr_log_info("%d redelivered duplicates (QoS 1)", dup);
}

/* Started before its broker (a host booting, a unit ordering): not an error; the ingestor
 * retries with backoff and takes readings as soon as the broker is up. */
Test(ingest, broker_down_at_start_is_waited_for)
{
    struct rig g;
    struct pub p;

    broker_kill();
    rig_up(&g, 4096, "vg-it-early", -1, 0);
    nap_ms(1000);
    vg_ingest_stats s = stats(&g);
    cr_assert_eq(s.connected, 0);
    cr_assert_eq(s.connects, 0);
    broker_start();
    wait_connected(&g, 1);
    pub_open(&p, "vg-it-pub6");
    for (int i = 0; i < 100; i++)
        send_sensor(&p, "t1", i, 1.0);
    pub_close(&p);
    wait_messages(&g, 100, 30);
    s = stats(&g);
    rig_down(&g);
    cr_assert_eq(s.connects, 1);
    cr_assert_eq(s.messages, 100);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(g.c.seen[i], 1, "message %d", i);
}

/* Without --client-id the ingestor connects as "vigil-<venue>" every time, so the broker
 * keeps its persistent session across a restart: what was published while it was down
 * arrives when it is back. */
Test(ingest, default_client_id_keeps_the_session_across_a_restart)
{
    struct rig g;
    struct pub p;

    rig_up(&g, 4096, NULL, -1, 0);
    wait_connected(&g, 1);
    rig_down(&g); /* the engine stops; its session stays with the broker */
    pub_open(&p, "vg-it-pub7");
    for (int i = 0; i < 50; i++)
        send_sensor(&p, "t1", i, 1.0);
    pub_close(&p);
    rig_up(&g, 4096, NULL, -1, 0);
    wait_messages(&g, 50, 30);
    vg_ingest_stats s = stats(&g);
    rig_down(&g);
    cr_assert_eq(s.messages, 50, "queued while away: %llu arrived",
                 (unsigned long long)s.messages);
    for (int i = 0; i < 50; i++)
        cr_assert_eq(g.c.seen[i], 1, "message %d", i);
}

/* ---- reconnect backoff ---- */

/* A listener on the broker's port that speaks no MQTT: it accepts each connection and closes
 * it at once, like a host whose broker is not answering. Call after broker_kill(). */
static int fake_broker(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert_geq(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "bind: %s", strerror(errno));
    cr_assert_eq(listen(fd, 16), 0);
    return fd;
}

/* The times (ms since the first) of the connection attempts fake_broker() sees in ms. */
static int attempts(int fd, int64_t *at_ms, int cap, int ms)
{
    const int64_t end = vg_mono_ns() + ms * VG_NS_PER_MS;
    int64_t t0 = 0;
    int n = 0;
    while (vg_mono_ns() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5) != 1)
            continue;
        const int c = accept(fd, NULL, NULL);
        if (c < 0)
            continue;
        const int64_t now = vg_mono_ns() / VG_NS_PER_MS;
        if (n == 0)
            t0 = now;
        if (n < cap)
            at_ms[n++] = now - t0;
        close(c);
    }
    return n;
}

/* docs/ingest.md: "reconnect with backoff, doubling from the minimum to the maximum, reset on
 * each successful connection". With 50 ms doubling to 2 s: attempts 50, 100, 200, ... apart,
 * then every 2 s; after a good connection the next loss starts again at the minimum. */
Test(ingest, reconnect_backoff_doubles_to_its_ceiling_and_resets_after_a_connection)
{
    int64_t at[64];
    struct rig g;
    char gaps[512];
    int len = 0;

    broker_kill();
    int fd = fake_broker();
    rig_backoff_max_ms = 2000;
    rig_up(&g, 4096, "vg-it-backoff", -1, 0);
    rig_backoff_max_ms = 500;
    const int n = attempts(fd, at, 64, 9000);
    for (int i = 1; i < n; i++)
        len += snprintf(gaps + len, sizeof(gaps) - (size_t)len, " %lld",
                        (long long)(at[i] - at[i - 1]));
    cr_log_info("attempts %d, gaps (ms):%s", n, gaps);
    /* 0, 50, 150, 350, 750, 1550, 3150, 5150, 7150 ms: 9 in 9 s (refused ones not seen) */
    cr_assert(n >= 6 && n <= 12, "%d attempts in 9 s, gaps:%s", n, gaps);
    for (int i = 1; i < n; i++) {
        /* a wait is never shorter than the backoff; a busy machine may make it longer */
        const int64_t want = i < 7 ? 50 << (i - 1) : 2000;
        cr_expect_geq(at[i] - at[i - 1], want * 9 / 10, "gap %d, want %lld:%s", i,
                      (long long)want, gaps);
        cr_expect_leq(at[i] - at[i - 1], want + 700, "gap %d, want %lld:%s", i,
                      (long long)want, gaps);
    }
    close(fd);

    /* A good connection resets the backoff: the next outage starts again from 50 ms. */
    broker_start();
    wait_connected(&g, 1);
    broker_kill();
    fd = fake_broker();
    const int m = attempts(fd, at, 64, 2500);
    close(fd);
    cr_assert_geq(m, 2, "%d attempts in 2.5 s after a good connection", m);
    cr_expect_leq(at[1] - at[0], 1000, "reset to the minimum, not 2 s: gap %lld ms",
                  (long long)(at[1] - at[0]));
    rig_down(&g);
    broker_start();
}

/* ---- two clients with one client id ---- */

/* Two engines started with the same --client-id (a standby configured like the primary)
 * take the session from each other at every reconnect, and each gets only part of the
 * readings. MQTT 3.1.1 gives no reason for the close, so the ingestor counts connections the
 * broker closes soon after accepting them and, at the third in a row, says what it likely
 * is. The log goes to a file for the length of the test. */
Test(ingest, two_clients_with_one_id_are_named_in_the_log)
{
    struct rig a, b;
    char logp[] = "/tmp/vg-it-clash.XXXXXX";
    const int fd = mkstemp(logp);
    cr_assert_geq(fd, 0);
    fflush(stderr);
    const int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);

    rig_up(&a, 4096, "vg-it-clash", -1, 0);
    wait_connected(&a, 1);
    rig_up(&b, 4096, "vg-it-clash", -1, 0);
    const int64_t end = vg_mono_ns() + 20 * VG_NS_PER_S;
    while (stats(&a).short_connections + stats(&b).short_connections < 8 &&
           vg_mono_ns() < end)
        nap_ms(20);
    const vg_ingest_stats sa = stats(&a), sb = stats(&b);
    rig_down(&b);
    rig_down(&a);

    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    char text[16384];
    const ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
    close(fd);
    unlink(logp);
    text[n > 0 ? n : 0] = '\0';
    cr_assert_geq(sa.short_connections + sb.short_connections, 8,
                  "short connections %llu + %llu", (unsigned long long)sa.short_connections,
                  (unsigned long long)sb.short_connections);
    cr_assert_not_null(strstr(text, "is another client connected with the client id "
                                    "vg-it-clash?"),
                       "%s", text);
}

/* ---- stopping with readings still to push ---- */

static void *stop_thread(void *arg)
{
    vg_ingest_stop(arg);
    return NULL;
}

/* libmosquitto acknowledges a message before the callback sees it, so the broker never sends
 * it again: a stop while its readings wait for room must still put them all in the ring. */
Test(ingest, a_stop_during_a_full_ring_wait_loses_no_acknowledged_reading)
{
    struct rig g;
    struct pub p;
    pthread_t th;
    const int n = 200;
    char *msg = malloc((size_t)n * 64 + 64);
    size_t len;

    cr_assert_not_null(msg);
    rig_up(&g, 16, "vg-it-stopwait", -1, 0);
    wait_connected(&g, 1);
    atomic_store(&g.c.paused, 1);
    len = (size_t)sprintf(msg, "{\"v\":1,\"readings\":[");
    for (int i = 0; i < n; i++)
        len += (size_t)sprintf(msg + len, "%s{\"sensor\":\"t1\",\"ts\":%lld.%06d,\"value\":20}",
                               i ? "," : "", now_s(), i);
    len += (size_t)sprintf(msg + len, "]}");
    pub_open(&p, "vg-it-pub-stopwait");
    pub_send(&p, "vigil/testvenue/batch/gw1", msg, len);
    pub_close(&p);
    free(msg);
    int64_t end = vg_mono_ns() + 10 * VG_NS_PER_S;
    while (stats(&g).ring_waits < 1 && vg_mono_ns() < end)
        nap_ms(10);
    cr_assert_eq(stats(&g).messages, 1, "the batch is in the callback, waiting for room");
    cr_assert_eq(stats(&g).readings[VG_INGEST_SRC_BATCH], (uint64_t)n);

    /* The stop comes while the consumer is away for longer than a wait slice (100 ms). */
    cr_assert_eq(pthread_create(&th, NULL, stop_thread, g.in), 0);
    nap_ms(400);
    atomic_store(&g.c.paused, 0);
    pthread_join(th, NULL);
    wait_messages(&g, 1, 10);
    cr_expect_eq(stats(&g).connected, 0, "stopped");
    rig_down(&g);
    int missing = 0;
    for (int i = 0; i < n; i++)
        missing += g.c.seen[i] != 1;
    cr_assert_eq(atomic_load(&g.c.n), n, "%ld of %d readings reached the ring", atomic_load(&g.c.n), n);
    cr_assert_eq(missing, 0);
}

/* ---- a stop in the middle of a QoS 1 burst ---- */

/* A stop while the broker is still sending: every message the ingestor took (and libmosquitto
 * acknowledged) must stay acknowledged at the broker, and every other one must come again in
 * the next session. Closing the socket with the broker's PUBLISHes unread makes Linux send a
 * RST, and the broker then drops the PUBACKs it had not read yet and redelivers those
 * messages: the restarted engine would grade them twice. */
Test(ingest, a_stop_mid_burst_neither_loses_nor_repeats_a_message)
{
    static unsigned short first[SEEN_MAX];
    const char *id = "vg-it-midburst";
    const int n = 60000;
    struct rig g;
    struct pub p;

    cr_assert_leq(n, SEEN_MAX);
    /* The session and its subscription exist first, so the broker queues the whole burst and
     * sends it at full speed when the ingestor is back. */
    rig_up(&g, 65536, id, -1, 0);
    wait_connected(&g, 1);
    rig_down(&g);
    pub_open(&p, "vg-it-pub-midburst");
    for (int i = 0; i < n; i++)
        send_sensor(&p, "t1", i, 20.0);
    pub_close(&p);

    rig_up(&g, 65536, id, -1, 0);
    int64_t end = vg_mono_ns() + 30 * VG_NS_PER_S;
    while (stats(&g).messages < (uint64_t)n / 4 && vg_mono_ns() < end)
        nap_ms(1);
    const int64_t t0 = vg_mono_ns();
    vg_ingest_stop(g.in);
    const int64_t stop_ms = (vg_mono_ns() - t0) / VG_NS_PER_MS;
    const uint64_t taken1 = stats(&g).messages;
    rig_down(&g);
    memcpy(first, g.c.seen, sizeof(first));
    cr_assert_lt(taken1, (uint64_t)n, "the stop came after the burst");
    cr_assert_gt(taken1, 0);

    /* The same session again: the rest, and nothing the first run took. */
    rig_up(&g, 65536, id, -1, 0);
    wait_messages(&g, (uint64_t)n - taken1, 60);
    uint64_t taken2 = stats(&g).messages;
    for (;;) { /* quiet for 500 ms: no more redeliveries on their way */
        nap_ms(500);
        const uint64_t now = stats(&g).messages;
        if (now == taken2)
            break;
        taken2 = now;
    }
    rig_down(&g);
    int lost = 0, twice = 0;
    for (int i = 0; i < n; i++) {
        const int k = first[i] + g.c.seen[i];
        lost += k == 0;
        twice += k > 1 ? k - 1 : 0;
    }
    cr_log_info("mid-burst stop in %lld ms: run 1 took %llu, run 2 %llu of %d",
                (long long)stop_ms, (unsigned long long)taken1, (unsigned long long)taken2, n);
    cr_assert(lost == 0 && twice == 0,
              "%d of %d messages lost, %d taken twice (run 1 took %llu, run 2 %llu)", lost, n,
              twice, (unsigned long long)taken1, (unsigned long long)taken2);
    cr_assert_eq(taken1 + taken2, (uint64_t)n);
    cr_expect_lt(stop_ms, 3000, "the hang-up is bounded (2 s)");
}

/* A broker that takes the connection but answers nothing (stopped, a dead link): the stop
 * waits for it to close the connection at most the hang-up bound, not forever. */
Test(ingest, a_stop_with_the_broker_frozen_is_bounded)
{
    struct rig g;

    rig_up(&g, 4096, "vg-it-frozen", -1, 0);
    wait_connected(&g, 1);
    const pid_t pid = broker_pid();
    cr_assert_gt(pid, 0);
    cr_assert_eq(kill(pid, SIGSTOP), 0);
    const int64_t t0 = vg_mono_ns();
    vg_ingest_stop(g.in);
    const int64_t ms = (vg_mono_ns() - t0) / VG_NS_PER_MS;
    kill(pid, SIGCONT);
    rig_down(&g);
    cr_log_info("stop with the broker frozen: %lld ms", (long long)ms);
    cr_assert_lt(ms, 3000, "stop took %lld ms", (long long)ms);
}

/* ---- a reload while the broker is away ---- */

/* venue.cfg without its Frigate and zigbee2mqtt mappings, loaded from a temporary file. */
static vg_model *model_without_bridges(void)
{
    char src[4096], dst[] = "/tmp/vg-it-nobridge-XXXXXX", text[16384];
    const char *root = getenv("VG_SOURCE_ROOT");
    vg_model *m;
    vg_model_error err;
    FILE *f;
    size_t n;

    snprintf(src, sizeof(src), "%s/tests/data/payloads/venue.cfg", root ? root : ".");
    f = fopen(src, "r");
    cr_assert_not_null(f);
    n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    static const char *const cut[] = {" frigate = \"fz1\";",
                                      " z2m = { device = \"hall_air\"; field = \"co2\"; };",
                                      " z2m = { device = \"hall_air\"; field = \"temperature\"; };"};
    for (size_t i = 0; i < 3; i++) {
        char *at = strstr(text, cut[i]);
        cr_assert_not_null(at, "%s", cut[i]);
        memmove(at, at + strlen(cut[i]), strlen(at + strlen(cut[i])) + 1);
    }
    int fd = mkstemp(dst);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    cr_assert_eq(vg_model_load(dst, &m, &err), 0, "%s:%d: %s", err.file, err.line, err.message);
    unlink(dst);
    return m;
}

/* The session is persistent, so the broker keeps the old model's subscriptions over the
 * outage: the ingestor must drop them when it is back, or it receives (and counts as
 * refused) traffic the new model no longer maps. */
Test(ingest, a_reload_while_disconnected_drops_the_old_subscriptions_at_reconnect)
{
    struct rig g;
    struct pub p;
    vg_model *plain = model_without_bridges();

    rig_up(&g, 1024, "vg-it-resub", -1, 0);
    wait_connected(&g, 1);
    broker_kill();
    int64_t end = vg_mono_ns() + 10 * VG_NS_PER_S;
    while (stats(&g).connected && vg_mono_ns() < end)
        nap_ms(10);
    cr_assert_eq(vg_ingest_set_model(g.in, plain), 0);
    nap_ms(300); /* taken between loop turns, while disconnected */
    broker_start();
    wait_connected(&g, 2);
    pub_open(&p, "vg-it-pub-resub");
    for (int i = 0; i < 5; i++)
        pub_send(&p, "zigbee2mqtt/hall_air", "{\"co2\":812}", 11);
    send_sensor(&p, "t1", 0, 21); /* still subscribed: the end marker */
    pub_close(&p);
    wait_messages(&g, 1, 10);
    nap_ms(300);
    vg_ingest_stats s = stats(&g);
    rig_down(&g);
    vg_model_free(&plain);
    cr_assert_eq(s.readings[VG_INGEST_SRC_SENSOR], 1);
    cr_assert_eq(s.messages, 1, "only the sensor reading came (unknown sensor %llu)",
                 (unsigned long long)s.rejects[VG_REJECT_UNKNOWN_SENSOR]);
}
