/* The vg-alert thread with real ZeroMQ sockets on 127.0.0.1.
 *
 * Scenario: a venue with a plaza (security density alerts) and a WBGT sensor (medical feed).
 * The test plays the analysis thread: it pushes alert events and event-time ticks into the
 * input ring, and checks what SUB subscribers and a REQ client of the control socket see:
 * - a critical density reading gives one message on security.critical.plaza with the
 *   documented fields; a medical subscriber does not see it, but sees the WBGT alert;
 * - a subscriber that joins late gets the active alerts from a snapshot and then only newer
 *   sequence numbers;
 * - an ack on the control socket changes the state and is published; bad requests get
 *   {"ok":false,...}; status reports counts and the engine's hook;
 * - an unacknowledged critical alert escalates to the supervisor feed at its deadline
 *   (event time: a tick, no sleeping);
 * - with CURVE keys, a subscriber without the server key receives nothing, and with a client
 *   allow-list a subscriber whose own key is not listed receives nothing either;
 * - stop publishes everything already pushed;
 * - `vigil watch` in a real terminal (tmux) shows the alert and the zone's density with its
 *   level of service, and acknowledges the alert with a key press.
 * Synchronisation is by heartbeats (50 ms here) and deadlines, never fixed sleeps. */
#include "vigil/alert.h"
#include "vigil/common.h"

#include "child.h"
#include "itest_util.h"
#include "mutate.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#define SEC(x) ((int64_t)(x)*VG_NS_PER_S)
#define T0 SEC(1779456000)
#define DEADLINE_MS 5000

static const char model_text[] =
    "venue = { id = \"tv\"; name = \"Test\"; };\n"
    "profiles = ( { id = \"default\"; } );\n"
    "zones = (\n"
    "  { id = \"gate-a\"; type = \"queue\"; area_m2 = 600; capacity = 1500; sector = \"north\";\n"
    "    route = \"Service road N\"; action = \"Slow ingress at Gate A\"; },\n"
    "  { id = \"plaza\"; type = \"standing\"; area_m2 = 12000.0; sector = \"north\";\n"
    "    action = \"Open relief gate P2\"; }\n"
    ");\n"
    "cameras = ( { id = \"cam-plaza\"; zones = ( { zone = \"plaza\"; coverage = 0.6; } ); } );\n"
    "sensors = (\n"
    "  { id = \"wbgt-plaza\"; kind = \"wbgt\"; zone = \"plaza\"; min = -10; max = 60; period_s = "
    "60; }\n"
    ");\n";

enum { GATE = 0, PLAZA = 1 };

static vg_model *model;
static vg_ring *in, *audit;
static vg_alert *pubr;
static void *zctx;
static int status_hook_calls;
static void *socks[16]; /* every test socket, closed in teardown (even after a failure) */
static int n_socks;

static void *track(void *s)
{
    cr_assert_lt(n_socks, 16);
    socks[n_socks++] = s;
    return s;
}

static void status_hook(void *ctx, void *obj)
{
    (void)ctx;
    status_hook_calls++;
    cJSON_AddNumberToObject((cJSON *)obj, "readings_per_s", 1234);
}

static void load_model(void)
{
    char path[128];
    vg_model_error err;
    snprintf(path, sizeof(path), "/tmp/vg-itest-alert-%d.cfg", (int)getpid());
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(model_text, f);
    fclose(f);
    int r = vg_model_load(path, &model, &err);
    unlink(path);
    cr_assert_eq(r, 0, "%s:%d: %s", err.file, err.line, err.message);
}

static void start_with(vg_alert_cfg *cfg)
{
    cr_assert_eq(vg_ring_new(sizeof(vg_alert_input), 1024, &in), 0);
    cr_assert_eq(vg_alert_new(model, cfg, &pubr), 0);
    cr_assert_eq(vg_alert_start(pubr, in), 0);
}

static void default_cfg(vg_alert_cfg *cfg)
{
    vg_alert_cfg_default(cfg);
    cfg->feeds_endpoint = "tcp://127.0.0.1:*";
    cfg->control_endpoint = "tcp://127.0.0.1:*";
    cfg->heartbeat_ms = 50;
    cfg->audit = audit;
    cfg->status_fn = status_hook;
}

static void setup(void)
{
    load_model();
    zctx = zmq_ctx_new();
    cr_assert_eq(vg_ring_new(sizeof(vg_alert_audit), 64, &audit), 0);
}

static void setup_started(void)
{
    vg_alert_cfg cfg;
    setup();
    default_cfg(&cfg);
    start_with(&cfg);
}

/* A tmux server a test started ("" none): stopped here too, so a failed assertion does not
 * leave `vigil watch` running. */
static char tmux_session[64];

static void teardown(void)
{
    if (tmux_session[0]) {
        char cmd[160];
        snprintf(cmd, sizeof(cmd), "tmux -L %s kill-server 2>/dev/null", tmux_session);
        int rc = system(cmd); /* non-zero: it had stopped already */
        (void)rc;
        tmux_session[0] = 0;
    }
    for (int i = 0; i < n_socks; i++)
        zmq_close(socks[i]);
    n_socks = 0;
    vg_alert_free(&pubr);
    vg_ring_free(&in);
    vg_ring_free(&audit);
    if (zctx)
        zmq_ctx_term(zctx);
    zctx = NULL;
    vg_model_free(&model);
}

TestSuite(alert, .init = setup_started, .fini = teardown, .timeout = 60);

/* ---- helpers ---- */

/* A SUB socket; with server_key a CURVE client with key pair (cpub, csec), or a fresh pair
 * when those are NULL. */
static void *subscribe_as(const char *prefix, const char *server_key, const char *cpub,
                          const char *csec)
{
    void *s = track(zmq_socket(zctx, ZMQ_SUB));
    int zero = 0;
    cr_assert_not_null(s);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    if (server_key) {
        char pub[41], sec[41];
        cr_assert_eq(zmq_curve_keypair(pub, sec), 0);
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_key, 40);
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, cpub ? cpub : pub, 40);
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, csec ? csec : sec, 40);
    }
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, prefix, strlen(prefix));
    /* A client of (part of) a feed also takes that feed's heartbeat ("heartbeat.security"). */
    const char *dot = strchr(prefix, '.');
    if (dot) {
        char hb[64];
        snprintf(hb, sizeof(hb), "heartbeat.%.*s", (int)(dot - prefix), prefix);
        zmq_setsockopt(s, ZMQ_SUBSCRIBE, hb, strlen(hb));
    }
    cr_assert_eq(zmq_connect(s, vg_alert_feeds_endpoint(pubr)), 0);
    return s;
}

static void *subscribe(const char *prefix, const char *server_key)
{
    return subscribe_as(prefix, server_key, NULL, NULL);
}

/* Receives one two-frame message within timeout_ms. Returns the parsed body (the caller
 * deletes it) and the topic, or NULL on timeout. */
static cJSON *recv_any(void *s, char *topic, size_t cap, int timeout_ms)
{
    zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
    char body[65536];
    if (zmq_poll(&it, 1, timeout_ms) <= 0)
        return NULL;
    int tl = zmq_recv(s, topic, cap - 1, 0);
    cr_assert_geq(tl, 0);
    topic[(size_t)tl < cap - 1 ? (size_t)tl : cap - 1] = 0;
    int more = 0;
    size_t ml = sizeof(more);
    zmq_getsockopt(s, ZMQ_RCVMORE, &more, &ml);
    cr_assert(more, "feed messages have two frames");
    int bl = zmq_recv(s, body, sizeof(body) - 1, 0);
    cr_assert_geq(bl, 0);
    body[bl] = 0;
    cJSON *o = cJSON_Parse(body);
    cr_assert_not_null(o, "body is JSON: %s", body);
    return o;
}

static int is_type(const cJSON *o, const char *type)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    return cJSON_IsString(t) && strcmp(t->valuestring, type) == 0;
}

/* The next alert message (heartbeats and metrics skipped), or NULL at the deadline. */
static cJSON *recv_alert(void *s, char *topic, size_t cap, int timeout_ms)
{
    int64_t end = vg_mono_ns() + (int64_t)timeout_ms * VG_NS_PER_MS;
    for (;;) {
        int64_t left = (end - vg_mono_ns()) / VG_NS_PER_MS;
        if (left <= 0)
            return NULL;
        cJSON *o = recv_any(s, topic, cap, (int)left);
        if (!o)
            return NULL;
        if (!is_type(o, "heartbeat") && !is_type(o, "metrics"))
            return o;
        cJSON_Delete(o);
    }
}

/* Waits until the subscriber receives a heartbeat: from then on it is connected and
 * subscribed, so nothing published later is lost to the slow-joiner window. */
static void wait_connected(void *s)
{
    char topic[128];
    int64_t end = vg_mono_ns() + DEADLINE_MS * VG_NS_PER_MS;
    while (vg_mono_ns() < end) {
        cJSON *o = recv_any(s, topic, sizeof(topic), 100);
        int hb = o && is_type(o, "heartbeat");
        cJSON_Delete(o);
        if (hb)
            return;
    }
    cr_assert_fail("no heartbeat within %d ms", DEADLINE_MS);
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void *control_client(const char *server_key)
{
    void *r = track(zmq_socket(zctx, ZMQ_REQ));
    int t = DEADLINE_MS, zero = 0;
    zmq_setsockopt(r, ZMQ_RCVTIMEO, &t, sizeof(t));
    zmq_setsockopt(r, ZMQ_LINGER, &zero, sizeof(zero));
    if (server_key) {
        char pub[41], sec[41];
        zmq_curve_keypair(pub, sec);
        zmq_setsockopt(r, ZMQ_CURVE_SERVERKEY, server_key, 40);
        zmq_setsockopt(r, ZMQ_CURVE_PUBLICKEY, pub, 40);
        zmq_setsockopt(r, ZMQ_CURVE_SECRETKEY, sec, 40);
    }
    cr_assert_eq(zmq_connect(r, vg_alert_control_endpoint(pubr)), 0);
    return r;
}

/* Sends one request frame (any bytes) and returns the reply, which must be JSON. */
static cJSON *control_raw(void *r, const void *req, size_t len)
{
    static char buf[1 << 16];
    cr_assert_eq(zmq_send(r, req, len, 0), (int)len);
    int n = zmq_recv(r, buf, sizeof(buf) - 1, 0);
    cr_assert_geq(n, 0, "no reply to %.*s", (int)(len < 200 ? len : 200), (const char *)req);
    buf[n] = 0;
    cJSON *o = cJSON_Parse(buf);
    cr_assert_not_null(o, "reply to %.*s is not JSON: %s", (int)(len < 200 ? len : 200),
                       (const char *)req, buf);
    return o;
}

static cJSON *control(void *r, const char *req)
{
    return control_raw(r, req, strlen(req));
}

static int ok(const cJSON *o)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "ok"));
}

/* The status reply (free it); *publisher points at its "publisher" counters. */
static cJSON *status_of(void *r, const cJSON **publisher)
{
    cJSON *o = control(r, "{\"cmd\":\"status\"}");
    cr_assert(ok(o));
    *publisher = cJSON_GetObjectItemCaseSensitive(o, "publisher");
    return o;
}

static void push_input(const vg_alert_input *rec)
{
    cr_assert_eq(vg_ring_wait_writable(in, 1, SEC(5)), 0);
    cr_assert_eq(vg_ring_push(in, rec), 0);
}

static vg_alert_event make_event(unsigned kind, unsigned stype, uint32_t source, uint32_t zone,
                                 unsigned action, unsigned grade, int64_t t, uint64_t id)
{
    vg_alert_event e;
    memset(&e, 0, sizeof(e));
    e.id = id;
    e.t_ns = t;
    e.raised_ns = t;
    e.kind = (uint8_t)kind;
    e.source_type = (uint8_t)stype;
    e.source = source;
    e.zone = zone;
    e.action = (uint8_t)action;
    e.grade = (uint8_t)grade;
    e.feed = (uint8_t)vg_model_feed(model, (enum vg_alert_kind)kind);
    e.trend_per_min = 0.25;
    e.ttc_s = -1;
    return e;
}

static void push_event(const vg_alert_event *e)
{
    vg_alert_input rec;
    memset(&rec, 0, sizeof(rec));
    rec.type = VG_ALERT_IN_EVENT;
    rec.u.event = *e;
    push_input(&rec);
}

static void push_tick(int64_t t)
{
    vg_alert_input rec;
    memset(&rec, 0, sizeof(rec));
    rec.type = VG_ALERT_IN_TICK;
    rec.t_ns = t;
    push_input(&rec);
}

/* A critical density reading on the plaza: 4.8 p/m² against the standing limit 4.7. */
static void push_plaza_critical(uint64_t id, int64_t t)
{
    vg_alert_event e = make_event(VG_ALERT_DENSITY, VG_SOURCE_ZONE, PLAZA, PLAZA,
                                  VG_ALERT_ACTION_RAISE, VG_GRADE_CRITICAL, t, id);
    e.value = 4.8;
    e.threshold = 4.7;
    e.evidence_count = 1;
    e.evidence[0] = (vg_evidence){.t_ns = t,
                                  .value = 34560,
                                  .source = 0,
                                  .source_type = VG_SOURCE_CAMERA,
                                  .reading_type = VG_READING_COUNT};
    snprintf(e.message, sizeof(e.message), "plaza: 4.80 p/m2, critical (>= 4.70)");
    push_event(&e);
}

/* ---- tests ---- */

Test(alert, critical_density_gives_one_message_on_security_critical_zone)
{
    char topic[128];
    void *sec = subscribe("security.critical.", NULL);
    void *med = subscribe("medical.", NULL);
    wait_connected(sec);
    wait_connected(med);

    push_plaza_critical(41, T0);
    cJSON *m = recv_alert(sec, topic, sizeof(topic), DEADLINE_MS);
    cr_assert_not_null(m, "no alert message");
    cr_assert_str_eq(topic, "security.critical.plaza");
    cr_assert_eq(num(m, "v"), 1);
    cr_assert_eq(num(m, "seq"), 1);
    cr_assert_eq(num(m, "fseq"), 1);
    cr_assert_str_eq(str(m, "id"), "41");
    cr_assert_str_eq(str(m, "feed"), "security");
    cr_assert_str_eq(str(m, "kind"), "density");
    cr_assert_str_eq(str(m, "zone"), "plaza");
    cr_assert_str_eq(str(m, "grade"), "critical");
    cr_assert_str_eq(str(m, "state"), "unack");
    cr_assert_str_eq(str(m, "reason"), "raise");
    cr_assert_float_eq(num(m, "ts"), 1779456000.0, 1e-6);
    cr_assert_float_eq(num(m, "value"), 4.8, 1e-9);
    cr_assert_float_eq(num(m, "threshold"), 4.7, 1e-9);
    cr_assert_float_eq(num(m, "trend"), 0.25, 1e-9);
    cr_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(m, "ttc")), "not rising: null");
    cr_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(m, "owner")));
    cr_assert_str_eq(str(m, "action"), "Open relief gate P2");
    cr_assert_str_eq(str(m, "message"), "plaza: 4.80 p/m2, critical (>= 4.70)");
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(m, "evidence");
    cr_assert_eq(cJSON_GetArraySize(ev), 1);
    cr_assert_str_eq(str(cJSON_GetArrayItem(ev, 0), "source"), "cam-plaza");
    cr_assert_str_eq(str(cJSON_GetArrayItem(ev, 0), "reading"), "count");
    cJSON_Delete(m);
    m = recv_alert(sec, topic, sizeof(topic), 0);
    cr_assert_null(m, "exactly one message");

    /* The medical subscriber's first alert is the WBGT one, not the density alert. */
    vg_alert_event w = make_event(VG_ALERT_WBGT, VG_SOURCE_SENSOR, 0, PLAZA, VG_ALERT_ACTION_RAISE,
                                  VG_GRADE_WARNING, T0 + SEC(1), 42);
    w.value = 29.1;
    w.threshold = 28;
    push_event(&w);
    m = recv_alert(med, topic, sizeof(topic), DEADLINE_MS);
    cr_assert_not_null(m);
    cr_assert_str_eq(topic, "medical.warning.plaza");
    cr_assert_str_eq(str(m, "kind"), "wbgt");
    cr_assert_eq(num(m, "seq"), 2);
    cr_assert_eq(num(m, "fseq"), 1, "first message of the medical feed");
    cJSON_Delete(m);
}

/* The next heartbeat (alerts and metrics skipped), or NULL at the deadline. */
static cJSON *recv_heartbeat(void *s)
{
    char topic[128];
    int64_t end = vg_mono_ns() + DEADLINE_MS * VG_NS_PER_MS;
    while (vg_mono_ns() < end) {
        cJSON *o = recv_any(s, topic, sizeof(topic), 100);
        if (o && is_type(o, "heartbeat"))
            return o;
        cJSON_Delete(o);
    }
    return NULL;
}

Test(alert, heartbeat_carries_the_engines_event_time)
{
    void *sub = subscribe("security.", NULL);
    cJSON *hb = recv_heartbeat(sub);
    cr_assert_not_null(hb);
    cr_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(hb, "event_ts")),
              "no input yet: no event time");
    cr_assert(num(hb, "wall_ts") > 1.7e9);
    cJSON_Delete(hb);
    char topic[128];
    push_plaza_critical(5, T0);
    cJSON *m = recv_alert(sub, topic, sizeof(topic), DEADLINE_MS);
    cr_assert_not_null(m);
    cJSON_Delete(m);
    hb = recv_heartbeat(sub);
    cr_assert_not_null(hb);
    /* An alert from months ago (a replay, a simulation): event time, not the wall clock. */
    cr_assert_float_eq(num(hb, "event_ts"), (double)T0 / 1e9, 1e-3);
    cJSON_Delete(hb);
}

/* DESIGN.md's wire form: every message under a feed's prefix is an alert message with at
 * least these fields, and its topic is <feed>.<grade>.<zone>. A client that subscribes to
 * "security." and nothing else must never meet a heartbeat (they are "heartbeat.<feed>"). */
Test(alert, a_feed_prefix_carries_only_alert_messages_with_the_design_fields)
{
    static const char *const fields[] = {"v",     "seq", "id", "feed",  "kind",      "zone",
                                         "grade", "state", "ts", "value", "threshold", "message"};
    void *sub = subscribe("security.", NULL); /* and heartbeat.security */
    char topic[128];
    int alerts = 0, heartbeats = 0;

    wait_connected(sub);
    push_plaza_critical(7, T0);
    int64_t end = vg_mono_ns() + DEADLINE_MS * VG_NS_PER_MS;
    while (heartbeats < 3 && vg_mono_ns() < end) { /* three heartbeats after the alert */
        cJSON *m = recv_any(sub, topic, sizeof(topic), 100);
        if (!m)
            continue;
        if (strncmp(topic, "security.", 9) == 0) {
            cr_assert_str_eq(topic, "security.critical.plaza");
            for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++)
                cr_assert_not_null(cJSON_GetObjectItemCaseSensitive(m, fields[k]),
                                   "%s missing", fields[k]);
            alerts++;
        } else {
            cr_assert_str_eq(topic, "heartbeat.security");
            cr_assert(is_type(m, "heartbeat"));
            heartbeats += alerts > 0;
        }
        cJSON_Delete(m);
    }
    cr_assert_eq(heartbeats, 3);
    cr_assert_eq(alerts, 1);
}

Test(alert, late_joiner_gets_snapshot_then_only_newer_sequence_numbers)
{
    char topic[128];
    void *early = subscribe("", NULL);
    wait_connected(early);
    push_plaza_critical(1, T0);
    vg_alert_event g = make_event(VG_ALERT_DENSITY, VG_SOURCE_ZONE, GATE, GATE,
                                  VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0 + SEC(1), 2);
    push_event(&g);
    cJSON *m1 = recv_alert(early, topic, sizeof(topic), DEADLINE_MS);
    cJSON *m2 = recv_alert(early, topic, sizeof(topic), DEADLINE_MS);
    cr_assert(m1 && m2);
    cJSON_Delete(m1);
    cJSON_Delete(m2);

    void *late = subscribe("", NULL);
    wait_connected(late);
    void *req = control_client(NULL);
    cJSON *snap = control(req, "{\"cmd\":\"snapshot\"}");
    cr_assert(ok(snap));
    cr_assert_eq(num(snap, "seq"), 2);
    const cJSON *alerts = cJSON_GetObjectItemCaseSensitive(snap, "alerts");
    cr_assert_eq(cJSON_GetArraySize(alerts), 2);
    int seen_plaza = 0;
    const cJSON *a;
    cJSON_ArrayForEach(a, alerts) seen_plaza +=
        strcmp(str(a, "zone"), "plaza") == 0 && strcmp(str(a, "grade"), "critical") == 0;
    cr_assert_eq(seen_plaza, 1);
    cJSON_Delete(snap);

    push_plaza_critical(3, T0 + SEC(2)); /* same point: a change of the plaza alert */
    cJSON *m = recv_alert(late, topic, sizeof(topic), DEADLINE_MS);
    cr_assert_not_null(m);
    cr_assert_eq(num(m, "seq"), 3, "the first message after the snapshot is seq+1");
    cJSON_Delete(m);

    /* a snapshot of one feed only */
    snap = control(req, "{\"cmd\":\"snapshot\",\"feed\":\"medical\"}");
    cr_assert(ok(snap));
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(snap, "alerts")), 0);
    cJSON_Delete(snap);
}

/* A security subscriber that has seen the raise of plaza's critical alert `id`. */
static void *seen_plaza_critical(uint64_t id)
{
    char topic[128];
    void *sub = subscribe("security.", NULL);
    wait_connected(sub);
    push_plaza_critical(id, T0);
    cJSON *m = recv_alert(sub, topic, sizeof(topic), DEADLINE_MS);
    cr_assert_not_null(m);
    cJSON_Delete(m);
    return sub;
}

Test(alert, ack_via_control_changes_state_and_is_published)
{
    char topic[128];
    void *sub = seen_plaza_critical(7);
    cJSON *m;

    void *req = control_client(NULL);
    cJSON *r = control(req, "{\"cmd\":\"ack\",\"id\":\"7\",\"operator\":\"op-anna\","
                            "\"comment\":\"steward sent\"}");
    cr_assert(ok(r));
    const cJSON *ra = cJSON_GetObjectItemCaseSensitive(r, "alert");
    cr_assert_str_eq(str(ra, "state"), "acked");
    cJSON_Delete(r);

    m = recv_alert(sub, topic, sizeof(topic), DEADLINE_MS);
    cr_assert_not_null(m);
    cr_assert_str_eq(topic, "security.critical.plaza");
    cr_assert_str_eq(str(m, "state"), "acked");
    cr_assert_str_eq(str(m, "reason"), "ack");
    const cJSON *owner = cJSON_GetObjectItemCaseSensitive(m, "owner");
    cr_assert_str_eq(str(owner, "operator"), "op-anna");
    cr_assert_str_eq(str(owner, "comment"), "steward sent");
    cJSON_Delete(m);

    /* the action is an audit record for the archive */
    vg_alert_audit rec;
    cr_assert_eq(vg_ring_pop(audit, &rec), 0);
    cr_assert_eq(rec.op, VG_ALERT_OP_ACK);
    cr_assert_eq(rec.alert_id, 7);
    cr_assert_str_eq(rec.operator_id, "op-anna");
    cr_assert_gt(rec.wall_ns, 0);

    /* error paths */
    static const char *const bad[][2] = {
        {"{\"cmd\":\"ack\",\"id\":\"7\",\"operator\":\"op-anna\"}", "already"},
        {"{\"cmd\":\"ack\",\"id\":\"999\",\"operator\":\"x\"}", "no such alert"},
        {"{\"cmd\":\"ack\",\"id\":\"7\"}", "operator"},
        {"{\"cmd\":\"ack\",\"operator\":\"x\"}", "id"},
        /* a numeric id only while a double holds it exactly (an inf, a fraction, past 2^53) */
        {"{\"cmd\":\"ack\",\"id\":1e999,\"operator\":\"x\"}", "id"},
        {"{\"cmd\":\"ack\",\"id\":7.5,\"operator\":\"x\"}", "id"},
        {"{\"cmd\":\"ack\",\"id\":18446744073709551615,\"operator\":\"x\"}", "id"},
        {"{\"cmd\":\"ack\",\"id\":7,\"operator\":\"op-anna\"}", "already"},
        {"{\"cmd\":\"shelve\",\"id\":\"7\",\"operator\":\"x\",\"duration_s\":-5}", "duration_s"},
        {"{\"cmd\":\"reset\",\"id\":\"7\",\"operator\":\"x\"}", "latch"},
        {"{\"cmd\":\"fly\"}", "unknown cmd"},
        {"{\"id\":1}", "cmd"},
        {"not json", "JSON"},
        {"{\"cmd\":\"snapshot\",\"feed\":\"nope\"}", "feed"},
        /* no reload_fn hook here; the engine's reload: tests/unit/test_engine.c and
         * tests/integration/test_engine.c */
        {"{\"cmd\":\"reload\"}", "not available"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = control(req, bad[i][0]);
        cr_assert_not(ok(r), "%s", bad[i][0]);
        cr_assert_not_null(strstr(str(r, "error"), bad[i][1]), "%s -> %s", bad[i][0],
                           str(r, "error"));
        cJSON_Delete(r);
    }

    /* shelve then unshelve, both published */
    r = control(req, "{\"cmd\":\"shelve\",\"id\":\"7\",\"operator\":\"op-anna\","
                     "\"duration_s\":60}");
    cr_assert(ok(r));
    cJSON_Delete(r);
    m = recv_alert(sub, topic, sizeof(topic), DEADLINE_MS);
    cr_assert_str_eq(str(m, "reason"), "shelve");
    const cJSON *h0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "hidden"), 0);
    cr_assert(cJSON_IsString(h0) && strcmp(h0->valuestring, "shelved") == 0);
    cJSON_Delete(m);
    /* DESIGN.md's spelling, "out-of-service", is taken like out_of_service */
    r = control(req, "{\"cmd\":\"out-of-service\",\"id\":\"7\",\"operator\":\"tech\"}");
    cr_assert(ok(r), "%s", str(r, "error"));
    cJSON_Delete(r);
    m = recv_alert(sub, topic, sizeof(topic), DEADLINE_MS);
    cr_assert_str_eq(str(m, "reason"), "out_of_service");
    cJSON_Delete(m);

    /* status */
    r = control(req, "{\"cmd\":\"status\"}");
    cr_assert(ok(r));
    const cJSON *al = cJSON_GetObjectItemCaseSensitive(r, "alerts");
    cr_assert_eq(num(al, "active"), 1);
    cr_assert_eq(num(al, "shelved"), 1);
    cr_assert_eq(num(al, "out_of_service"), 1);
    cr_assert_eq(num(cJSON_GetObjectItemCaseSensitive(al, "by_state"), "acked"), 1);
    const cJSON *pb = cJSON_GetObjectItemCaseSensitive(r, "publisher");
    cr_assert_eq(num(pb, "published"), 4);
    cr_assert_geq(num(pb, "bad_requests"), 11);
    cr_assert_eq(num(pb, "input_depth"), 0);
    cr_assert_eq(num(cJSON_GetObjectItemCaseSensitive(r, "engine"), "readings_per_s"), 1234);
    cJSON_Delete(r);
}

/* Mutated control requests: valid requests with bytes replaced, inserted, deleted or cut
 * off, 250 of them (the control socket answers within the loop's 20 ms poll, so more would
 * only be slow). Every one gets a JSON reply with "ok", and a refusal has an error text;
 * the requests and bad_requests counters add up, and the control socket still answers. */
#define N_MUTANTS 250
Test(alert, mutated_control_requests_each_get_a_reply_and_are_counted)
{
    static const char *const valid[] = {
        "{\"cmd\":\"ack\",\"id\":\"7\",\"operator\":\"op-anna\",\"comment\":\"steward\"}",
        "{\"cmd\":\"shelve\",\"id\":\"7\",\"operator\":\"op\",\"duration_s\":900}",
        "{\"cmd\":\"unshelve\",\"id\":\"7\",\"operator\":\"op\"}",
        "{\"cmd\":\"out_of_service\",\"id\":\"7\",\"operator\":\"tech\"}",
        "{\"cmd\":\"in_service\",\"id\":\"7\",\"operator\":\"tech\"}",
        "{\"cmd\":\"reset\",\"id\":\"7\",\"operator\":\"op\"}",
        "{\"cmd\":\"snapshot\",\"feed\":\"medical\"}",
        "{\"cmd\":\"status\"}",
    };
    static const char special[] = "{}[]\":,0123456789-.eE\\tfnu \x00\xff";
    vg_mut_rng rng = {0x853c49e6748fea9bu};
    unsigned char req[512];
    int refused = 0;

    push_plaza_critical(7, T0);
    void *r = control_client(NULL);
    for (int i = 0; i < N_MUTANTS; i++) {
        const char *v = valid[vg_mut_next(&rng, sizeof(valid) / sizeof(valid[0]))];
        const size_t len0 = strlen(v);
        memcpy(req, v, len0);
        const size_t len = vg_mut_bytes(&rng, req, len0, sizeof(req), special, sizeof(special) - 1);
        cJSON *o = control_raw(r, req, len);
        const cJSON *okv = cJSON_GetObjectItemCaseSensitive(o, "ok");
        cr_assert(cJSON_IsBool(okv), "mutant %d (%.*s): no ok", i, (int)len, req);
        if (!cJSON_IsTrue(okv)) {
            refused++;
            const char *e = str(o, "error");
            cr_assert(e && e[0], "mutant %d (%.*s): refusal without an error", i, (int)len, req);
        }
        cJSON_Delete(o);
    }
    const cJSON *pb;
    cJSON *st = status_of(r, &pb);
    cr_assert_eq(num(pb, "requests"), N_MUTANTS + 1);
    cr_assert_eq(num(pb, "bad_requests"), refused);
    cr_assert_gt(refused, 0);
    cr_assert_lt(refused, N_MUTANTS); /* some mutants stay valid requests */
    cJSON_Delete(st);
}

/* The audit ring (operator actions for the archive) is 64 records here and nobody drains
 * it: actions past that still work and are published; the lost audit records are counted. */
Test(alert, a_full_audit_ring_never_blocks_operator_actions)
{
    char topic[128], req[160];
    void *sub = seen_plaza_critical(7);
    cJSON *m;
    void *r = control_client(NULL);
    for (int i = 0; i < 70; i++) {
        snprintf(req, sizeof(req), "{\"cmd\":\"%s\",\"id\":\"7\",\"operator\":\"op\"}",
                 i % 2 ? "unshelve" : "shelve");
        cJSON *o = control(r, req);
        cr_assert(ok(o), "action %d refused: %s", i, str(o, "error"));
        cJSON_Delete(o);
        m = recv_alert(sub, topic, sizeof(topic), DEADLINE_MS);
        cr_assert_not_null(m, "action %d not published", i);
        cJSON_Delete(m);
    }
    const cJSON *pb;
    cJSON *st = status_of(r, &pb);
    cr_assert_eq(vg_ring_depth(audit), 64);
    cr_assert_eq(num(pb, "audit_dropped"), 70 - 64);
    cJSON_Delete(st);
}

Test(alert, oversized_and_multi_frame_requests_are_refused_and_counted)
{
    void *r = control_client(NULL);

    /* two frames: refused, and the socket stays in step for the next request */
    const char *part = "{\"cmd\":\"status\"}";
    cr_assert_eq(zmq_send(r, part, strlen(part), ZMQ_SNDMORE), (int)strlen(part));
    cJSON *o = control(r, part);
    cr_assert_not(ok(o));
    cr_assert_str_eq(str(o, "error"), "a request is one frame");
    cJSON_Delete(o);

    /* 64 KiB: refused without parsing */
    const size_t big = 64 * 1024;
    char *req = malloc(big);
    memset(req, ' ', big);
    memcpy(req, part, strlen(part));
    o = control_raw(r, req, big);
    free(req);
    cr_assert_not(ok(o));
    cr_assert_str_eq(str(o, "error"), "request too large");
    cJSON_Delete(o);

    const cJSON *pb;
    o = status_of(r, &pb);
    cr_assert_eq(num(pb, "requests"), 3);
    cr_assert_eq(num(pb, "bad_requests"), 2);
    cJSON_Delete(o);
}

Test(alert, unacknowledged_critical_escalates_to_supervisor_on_event_time)
{
    char topic[128];
    void *sup = subscribe("supervisor.", NULL);
    wait_connected(sup);
    push_plaza_critical(9, T0);
    push_tick(T0 + SEC(119));
    /* nothing yet: prove it by a later message being the first one */
    push_tick(T0 + SEC(120));
    cJSON *m = recv_alert(sup, topic, sizeof(topic), DEADLINE_MS);
    cr_assert_not_null(m);
    cr_assert_str_eq(topic, "supervisor.critical.plaza");
    cr_assert_str_eq(str(m, "reason"), "escalate");
    cr_assert_str_eq(str(m, "origin_feed"), "security");
    cr_assert_str_eq(str(m, "id"), "9");
    cr_assert_eq(num(m, "escalations"), 1);
    cr_assert_float_eq(num(m, "ts"), 1779456000.0, 1e-6, "ts of the alert's last change");
    cJSON_Delete(m);
}

Test(alert, stop_publishes_everything_already_pushed)
{
    char topic[128];
    void *sub = subscribe("security.", NULL);
    wait_connected(sub);
    for (uint32_t i = 0; i < 200; i++) {
        vg_alert_event e = make_event(VG_ALERT_DENSITY, VG_SOURCE_ZONE, PLAZA, PLAZA,
                                      i == 0 ? VG_ALERT_ACTION_RAISE : VG_ALERT_ACTION_CHANGE,
                                      i % 2 ? VG_GRADE_WARNING : VG_GRADE_ADVISORY, T0 + SEC(i), 5);
        push_event(&e);
    }
    cr_assert_eq(vg_alert_stop(pubr), 0);
    for (int i = 1; i <= 200; i++) {
        cJSON *m = recv_alert(sub, topic, sizeof(topic), DEADLINE_MS);
        cr_assert_not_null(m, "message %d missing", i);
        cr_assert_eq(num(m, "seq"), i);
        cJSON_Delete(m);
    }
    vg_alert_stats st;
    cr_assert_eq(vg_alert_get_stats(pubr, &st), 0);
    cr_assert_eq(st.published, 200);
    cr_assert_eq(st.seq, 200);
    cr_assert_eq(st.send_errors, 0);
}

/* ---- CURVE ---- */

static void setup_curve(void)
{
    setup();
}

Test(alert_curve, subscriber_without_the_key_receives_nothing, .init = setup_curve,
     .fini = teardown, .timeout = 60)
{
    char pub_key[41], sec_key[41], cpub[41], csec[41], topic[128];
    vg_alert_cfg cfg;
    cr_assert_eq(zmq_curve_keypair(pub_key, sec_key), 0, "libzmq built with CURVE");
    cr_assert_eq(zmq_curve_keypair(cpub, csec), 0);
    default_cfg(&cfg);
    cfg.feeds_secret_key = sec_key;
    cfg.control_secret_key = csec;
    start_with(&cfg);

    void *keyed = subscribe("", pub_key);
    void *plain = subscribe("", NULL);
    void *wrong = subscribe("", cpub); /* a CURVE client with the wrong server key */
    wait_connected(keyed);
    push_plaza_critical(1, T0);
    cJSON *m = recv_alert(keyed, topic, sizeof(topic), DEADLINE_MS);
    cr_assert_not_null(m, "the key holder reads the feed");
    cJSON_Delete(m);
    /* Several heartbeats later the key holder is still served; the others got nothing. */
    wait_connected(keyed);
    wait_connected(keyed);
    cr_assert_null(recv_any(plain, topic, sizeof(topic), 0));
    cr_assert_null(recv_any(wrong, topic, sizeof(topic), 0));

    void *req = control_client(cpub);
    cJSON *r = control(req, "{\"cmd\":\"status\"}");
    cr_assert(ok(r), "the control key holder is answered");
    cJSON_Delete(r);
    /* without the control key: no reply within the deadline */
    void *req2 = control_client(NULL);
    int t = 300;
    zmq_setsockopt(req2, ZMQ_RCVTIMEO, &t, sizeof(t));
    zmq_send(req2, "{\"cmd\":\"status\"}", 16, ZMQ_DONTWAIT);
    char buf[64];
    cr_assert_lt(zmq_recv(req2, buf, sizeof(buf), 0), 0);
}

Test(alert_curve, allow_list_admits_only_listed_client_keys, .init = setup_curve, .fini = teardown,
     .timeout = 60)
{
    char spub[41], ssec[41], apub[41], asec[41], topic[128];
    vg_alert_cfg cfg;
    cr_assert_eq(zmq_curve_keypair(spub, ssec), 0);
    cr_assert_eq(zmq_curve_keypair(apub, asec), 0);
    const char *allowed[] = {apub};
    default_cfg(&cfg);
    cfg.feeds_secret_key = ssec;
    cfg.feeds_client_keys = allowed;
    cfg.n_feeds_client_keys = 1;
    start_with(&cfg);

    void *listed = subscribe_as("", spub, apub, asec);
    void *other = subscribe("", spub); /* knows the server key, own key not listed */
    wait_connected(listed);
    push_plaza_critical(1, T0);
    cJSON *m = recv_alert(listed, topic, sizeof(topic), DEADLINE_MS);
    cr_assert_not_null(m);
    cJSON_Delete(m);
    wait_connected(listed);
    wait_connected(listed);
    cr_assert_null(recv_any(other, topic, sizeof(topic), 0));

    /* a malformed allow-list is refused at creation */
    vg_alert *bad = NULL;
    const char *junk[] = {"short"};
    cfg.feeds_client_keys = junk;
    cr_assert_eq(vg_alert_new(model, &cfg, &bad), -EINVAL);
    cr_assert_null(bad);
}

/* ---- vigil watch in a terminal ---- */

/* What the terminal shows now, in a static buffer. */
static const char *pane_text(const char *session)
{
    static char buf[8192];
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "tmux -L %s capture-pane -p -t %s 2>/dev/null", session, session);
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(buf, 1, sizeof(buf) - 1, p) : 0;
    if (p)
        pclose(p);
    buf[n] = 0;
    return buf;
}

static int pane_contains(const char *session, const char *needle)
{
    return strstr(pane_text(session), needle) != NULL;
}

static int wait_pane(const char *session, const char *needle)
{
    int64_t end = vg_mono_ns() + 10 * VG_NS_PER_S;
    while (vg_mono_ns() < end) {
        if (pane_contains(session, needle))
            return 1;
        zmq_pollitem_t none = {.fd = -1};
        zmq_poll(&none, 0, 50); /* pacing between captures, not a synchronisation */
    }
    return 0;
}

/* vigil watch refuses a bad command line with exit 2 and a message, before it connects. */
Test(alert, vigil_watch_refuses_bad_usage)
{
    const struct {
        const char *args;
        const char *want;
    } cases[] = {
        {"--feed police", "unknown feed 'police'"},
        {"--lines stray", "unexpected argument 'stray'"},
        {"--frobnicate", "usage: vigil watch"},
        {"--lines --server-key tooshort", "bad CURVE key"},
        {"--lines --client-key rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", "bad CURVE key"},
        {"--lines --endpoint nonsense", "cannot connect to nonsense: Invalid argument"},
        {"--lines --control nonsense", "cannot connect to nonsense: Invalid argument"},
    };
    char err_path[] = "/tmp/vg-watch-err-XXXXXX";
    const int fd = mkstemp(err_path);
    cr_assert_geq(fd, 0);
    close(fd);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char cmd[2048];
        /* no secret key in the environment: a client key alone is half a key pair */
        snprintf(cmd, sizeof(cmd),
                 "env -u VIGIL_CLIENT_SECRET_KEY '%s' watch %s </dev/null >/dev/null 2>'%s'",
                 getenv("VG_VIGIL"), cases[i].args, err_path);
        const int st = child_sh("%s", cmd);
        char *err = read_file(err_path);
        cr_expect_eq(st, 2, "%s: exit %d: %s", cases[i].args, st, err);
        cr_expect_not_null(strstr(err, cases[i].want), "%s: want \"%s\", got: %s",
                           cases[i].args, cases[i].want, err);
        free(err);
    }
    unlink(err_path);
}

/* Every option of the synopsis has its own line in the option list (--control-server-key
 * was only mentioned inside --server-key's). */
Test(alert, vigil_watch_help_describes_every_option)
{
    static const char *const opts[] = {"--feed", "--endpoint", "--control", "--operator",
                                       "--lines", "--server-key", "--control-server-key",
                                       "--client-key"};
    char out_path[] = "/tmp/vg-watch-help-XXXXXX";
    const int fd = mkstemp(out_path);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(child_sh("'%s' watch --help >'%s'", getenv("VG_VIGIL"), out_path), 0);
    char *help = read_file(out_path);
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        char line[64];
        snprintf(line, sizeof(line), "\n  %s ", opts[i]);
        cr_expect_not_null(strstr(help, line), "no line for %s in:\n%s", opts[i], help);
    }
    free(help);
    unlink(out_path);
}

Test(alert, vigil_watch_shows_an_alert_and_acknowledges_it_from_the_keyboard)
{
    const char *vigil = getenv("VG_VIGIL");
    char session[64], topic[128];
    if (!vigil || child_sh("command -v tmux >/dev/null") != 0)
        cr_skip_test("needs VG_VIGIL and tmux");
    snprintf(session, sizeof(session), "vgwatch%d", (int)getpid());
    snprintf(tmux_session, sizeof(tmux_session), "%s", session);
    void *sub = subscribe("security.", NULL);
    wait_connected(sub);
    push_plaza_critical(77, T0);
    cJSON *m = recv_alert(sub, topic, sizeof(topic), DEADLINE_MS);
    cr_assert_not_null(m);
    cJSON_Delete(m);
    /* zone metrics: the plaza at 2.10 p/m², level of service C */
    vg_zone_metrics zm[2];
    memset(zm, 0, sizeof(zm));
    zm[0] = (vg_zone_metrics){.zone = GATE, .flags = 0, .los = '-'};
    zm[1] = (vg_zone_metrics){.zone = PLAZA,
                              .flags = VG_METRICS_DENSITY,
                              .density_per_m2 = 2.1,
                              .los = 'C',
                              .grade = VG_GRADE_ADVISORY};
    vg_alert_input mrec;
    cr_assert_eq(vg_alert_pack_metrics(zm, 2, T0, &mrec, 1), 1);
    push_input(&mrec);

    cr_assert_eq(child_sh("tmux -L %s new-session -d -s %s -x 160 -y 30 "
                    "\"TERM=xterm-256color %s watch --endpoint %s --control %s --operator "
                    "op-tmux\"",
                    session, session, vigil, vg_alert_feeds_endpoint(pubr),
                    vg_alert_control_endpoint(pubr)),
                 0);
    const char *target = session;
    int shown = wait_pane(target, "plaza") && wait_pane(target, "unack");
    if (!shown)
        child_sh("tmux -L %s capture-pane -p -t %s >&2", session, session);
    cr_assert(shown, "the console shows the alert");
    cr_assert(pane_contains(target, "critical"));
    cr_assert(wait_pane(target, "2.10 C"), "the plaza's density and level of service");
    /* The alert is months old by the wall clock, 0 s old by the engine's (event) clock. */
    cr_assert(wait_pane(target, " 0s "), "AGE in event time");
    child_sh("tmux -L %s send-keys -t %s a", session, session);
    m = recv_alert(sub, topic, sizeof(topic), DEADLINE_MS);
    cr_assert_not_null(m, "the key press acknowledged the alert");
    cr_assert_str_eq(str(m, "reason"), "ack");
    cr_assert_str_eq(str(cJSON_GetObjectItemCaseSensitive(m, "owner"), "operator"), "op-tmux");
    cJSON_Delete(m);
    cr_assert(wait_pane(target, "acked"), "the console shows the new state");
    cr_assert(wait_pane(target, "op-tmux"));
    child_sh("tmux -L %s send-keys -t %s q", session, session);
    child_sh("tmux -L %s kill-server 2>/dev/null", session);
}

/* The next ack on sub (raise messages skipped): the id it acknowledged, or "" at the deadline. */
static const char *next_ack_id(void *sub)
{
    static char id[32];
    char topic[128];
    int64_t end = vg_mono_ns() + DEADLINE_MS * VG_NS_PER_MS;
    id[0] = 0;
    while (!id[0] && vg_mono_ns() < end) {
        cJSON *m = recv_alert(sub, topic, sizeof(topic), DEADLINE_MS);
        if (!m)
            break;
        if (strcmp(str(m, "reason"), "ack") == 0)
            snprintf(id, sizeof(id), "%s", str(m, "id"));
        cJSON_Delete(m);
    }
    return id;
}

/* The selection follows the alert, not its row: an alert sorted in above the selected one
 * does not take the ack, and keys typed faster than the screen redraws ("kka", "jjja" in one
 * read) stop at the ends of the list instead of selecting past them. */
Test(alert, vigil_watch_acks_the_selected_alert_whatever_the_list_does)
{
    const char *vigil = getenv("VG_VIGIL");
    char session[64];
    if (!vigil || child_sh("command -v tmux >/dev/null") != 0)
        cr_skip_test("needs VG_VIGIL and tmux");
    snprintf(session, sizeof(session), "vgsel%d", (int)getpid());
    snprintf(tmux_session, sizeof(tmux_session), "%s", session);
    void *sub = subscribe("", NULL);
    wait_connected(sub);
    vg_alert_event first = make_event(VG_ALERT_DENSITY, VG_SOURCE_ZONE, GATE, GATE,
                                      VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 81);
    push_event(&first);
    cr_assert_eq(child_sh("tmux -L %s new-session -d -s %s -x 160 -y 30 "
                          "\"TERM=xterm-256color %s watch --endpoint %s --control %s "
                          "--operator op-sel\"",
                          session, session, vigil, vg_alert_feeds_endpoint(pubr),
                          vg_alert_control_endpoint(pubr)),
                 0);
    cr_assert(wait_pane(session, "\n81 "), "%s", pane_text(session));

    /* a critical sorts in above 81, which stays selected */
    push_plaza_critical(82, T0 + SEC(1));
    cr_assert(wait_pane(session, "\n82 "), "%s", pane_text(session));
    const char *text = pane_text(session);
    cr_assert(strstr(text, "\n82 ") < strstr(text, "\n81 "), "82 is listed first: %s", text);
    child_sh("tmux -L %s send-keys -t %s a", session, session);
    cr_assert_str_eq(next_ack_id(sub), "81", "the ack goes to the alert that was selected");

    /* up twice from the second row stops at the first */
    child_sh("tmux -L %s send-keys -t %s kka", session, session);
    cr_assert_str_eq(next_ack_id(sub), "82");

    /* down past the last row (a newer warning, below 81) stops at the last */
    vg_alert_event newer = make_event(VG_ALERT_WBGT, VG_SOURCE_SENSOR, 0, PLAZA,
                                      VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0 + SEC(5), 83);
    push_event(&newer);
    cr_assert(wait_pane(session, "\n83 "), "%s", pane_text(session));
    child_sh("tmux -L %s send-keys -t %s jjjja", session, session);
    cr_assert_str_eq(next_ack_id(sub), "83");
    child_sh("tmux -L %s send-keys -t %s q", session, session);
    child_sh("tmux -L %s kill-server 2>/dev/null", session);
}

/* The console lists alerts by grade, then oldest first, whatever order they arrived in, and
 * its header says "live" while heartbeats arrive and "NO HEARTBEAT" 5 s after they stop. */
Test(alert, vigil_watch_sorts_by_grade_then_age_and_says_when_heartbeats_stop)
{
    const char *vigil = getenv("VG_VIGIL");
    char session[64];
    if (!vigil || child_sh("command -v tmux >/dev/null") != 0)
        cr_skip_test("needs VG_VIGIL and tmux");
    snprintf(session, sizeof(session), "vgsort%d", (int)getpid());
    snprintf(tmux_session, sizeof(tmux_session), "%s", session);
    cr_assert_eq(child_sh("tmux -L %s new-session -d -s %s -x 160 -y 30 "
                          "\"TERM=xterm-256color %s watch --endpoint %s --control %s\"",
                          session, session, vigil, vg_alert_feeds_endpoint(pubr),
                          vg_alert_control_endpoint(pubr)),
                 0);
    /* arrival order: the older warning, the newer warning, then the critical */
    vg_alert_event w1 = make_event(VG_ALERT_WBGT, VG_SOURCE_SENSOR, 0, PLAZA,
                                   VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 4711);
    vg_alert_event w2 = make_event(VG_ALERT_DENSITY, VG_SOURCE_ZONE, GATE, GATE,
                                   VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0 + SEC(5), 4713);
    push_event(&w1);
    push_event(&w2);
    push_plaza_critical(4712, T0 + SEC(10));
    cr_assert(wait_pane(session, "4711") && wait_pane(session, "4712") &&
                  wait_pane(session, "4713"),
              "all three shown: %s", pane_text(session));
    const char *text = pane_text(session);
    const char *crit = strstr(text, "4712"), *old = strstr(text, "4711"),
               *young = strstr(text, "4713");
    cr_assert(crit && old && young, "%s", text);
    cr_expect(crit < old && old < young, "critical first, then the warnings oldest first: %s",
              text);
    cr_expect(strstr(text, "live"), "heartbeats arrive: %s", text);
    cr_expect_null(strstr(text, "NO HEARTBEAT"), "%s", text);

    /* the engine stops: no more heartbeats */
    cr_assert_eq(vg_alert_stop(pubr), 0);
    vg_alert_free(&pubr);
    cr_assert(wait_pane(session, "NO HEARTBEAT"), "%s", pane_text(session));
    cr_expect(pane_contains(session, "4712"), "the alerts held stay on screen");
    child_sh("tmux -L %s send-keys -t %s q", session, session);
    child_sh("tmux -L %s kill-server 2>/dev/null", session);
}

/* ---- vigil watch --lines, through CURVE with an allow-list ---- */

struct child {
    pid_t pid;
    int fd;
    char buf[65536];
    size_t len;
};

/* Starts argv with stdout (and stderr, unless err_path names a file for it) on c's pipe. */
static void spawn_err(struct child *c, char *const argv[], const char *env_secret,
                      const char *err_path)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    c->len = 0;
    c->pid = fork();
    cr_assert_geq(c->pid, 0);
    if (c->pid == 0) {
        dup2(p[1], 1);
        if (err_path) {
            int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
            if (e < 0)
                _exit(127);
            dup2(e, 2);
        } else {
            dup2(p[1], 2);
        }
        close(p[0]);
        if (env_secret)
            setenv("VIGIL_CLIENT_SECRET_KEY", env_secret, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    c->fd = p[0];
}

static void spawn(struct child *c, char *const argv[], const char *env_secret)
{
    spawn_err(c, argv, env_secret, NULL);
}

/* Reads the child's output until it contains needle (1) or timeout_ms pass (0). */
static int wait_output_ms(struct child *c, const char *needle, int timeout_ms)
{
    int64_t end = vg_mono_ns() + (int64_t)timeout_ms * VG_NS_PER_MS;
    for (;;) {
        c->buf[c->len] = 0;
        if (strstr(c->buf, needle))
            return 1;
        int64_t left = (end - vg_mono_ns()) / VG_NS_PER_MS;
        if (left <= 0 || c->len + 1 >= sizeof(c->buf))
            return 0;
        struct pollfd pf = {.fd = c->fd, .events = POLLIN};
        if (poll(&pf, 1, (int)left) <= 0)
            return 0;
        ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
        if (n <= 0)
            return 0;
        c->len += (size_t)n;
    }
}

static int wait_output(struct child *c, const char *needle)
{
    return wait_output_ms(c, needle, 10000);
}

static int stop_child(struct child *c)
{
    int st = 0;
    kill(c->pid, SIGTERM);
    waitpid(c->pid, &st, 0);
    close(c->fd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

Test(alert_curve, watch_lines_reads_a_curve_feed_with_its_own_client_key, .init = setup_curve,
     .fini = teardown, .timeout = 60)
{
    const char *vigil = getenv("VG_VIGIL");
    char spub[41], ssec[41], cpub[41], csec[41], kpub[41], ksec[41];
    vg_alert_cfg cfg;
    if (!vigil)
        cr_skip_test("needs VG_VIGIL");
    zmq_curve_keypair(spub, ssec);
    zmq_curve_keypair(cpub, csec);
    zmq_curve_keypair(kpub, ksec); /* the console's own pair, on both allow-lists */
    const char *allowed[] = {kpub};
    default_cfg(&cfg);
    cfg.feeds_secret_key = ssec;
    cfg.control_secret_key = csec;
    cfg.feeds_client_keys = allowed;
    cfg.n_feeds_client_keys = 1;
    cfg.control_client_keys = allowed;
    cfg.n_control_client_keys = 1;
    start_with(&cfg);
    push_plaza_critical(5, T0);

    char *argv[] = {(char *)vigil,
                    "watch",
                    "--lines",
                    "--feed",
                    "security",
                    "--endpoint",
                    (char *)vg_alert_feeds_endpoint(pubr),
                    "--control",
                    (char *)vg_alert_control_endpoint(pubr),
                    "--server-key",
                    spub,
                    "--control-server-key",
                    cpub,
                    "--client-key",
                    kpub,
                    NULL};
    struct child c;
    spawn(&c, argv, ksec);
    /* the snapshot at start holds the alert pushed before the console existed */
    int snap = wait_output(&c, "snapshot-end seq=1 alerts=1");
    if (!snap)
        fprintf(stderr, "watch said: %s\n", c.buf);
    cr_assert(snap);
    cr_assert_not_null(strstr(c.buf, "id=5 feed=security grade=critical state=unack"));
    /* then live messages, one line each */
    vg_alert_event g = make_event(VG_ALERT_DENSITY, VG_SOURCE_ZONE, GATE, GATE,
                                  VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0 + SEC(1), 6);
    push_event(&g);
    cr_assert(wait_output(&c, "security.warning.gate-a seq=2"), "got: %s", c.buf);
    cr_assert_not_null(strstr(c.buf, "reason=raise zone=gate-a kind=density"));
    cr_assert_eq(stop_child(&c), 0, "SIGTERM ends it cleanly");

    /* the same console with a key pair that is not on the list sees nothing */
    spawn(&c, argv, csec); /* wrong secret for kpub: the handshake fails */
    /* Its snapshot request times out after 2 s (a warning, no alert); give it 3 s. */
    cr_assert_not(wait_output_ms(&c, "id=5", 3000), "no alert without the right key: %s", c.buf);
    stop_child(&c);
}

/* An engine restart behind the console: the new instance is seen in its heartbeats, the
 * console takes a new snapshot, and alerts raised by the new engine are shown. */
Test(alert, vigil_watch_resynchronises_after_an_engine_restart)
{
    const char *vigil = getenv("VG_VIGIL");
    char feeds[128], ctl[128];
    vg_alert_cfg cfg;
    struct child c;

    cr_assert_not_null(vigil);
    snprintf(feeds, sizeof(feeds), "%s", vg_alert_feeds_endpoint(pubr));
    snprintf(ctl, sizeof(ctl), "%s", vg_alert_control_endpoint(pubr));
    push_plaza_critical(5, T0);
    char *argv[] = {(char *)vigil, "watch", "--lines", "--feed", "security", "--endpoint", feeds,
                    "--control", ctl, NULL};
    spawn(&c, argv, NULL);
    cr_assert(wait_output(&c, "snapshot-end seq=1 alerts=1"), "got: %s", c.buf);

    /* the engine stops and a new one binds the same endpoints */
    cr_assert_eq(vg_alert_stop(pubr), 0);
    vg_alert_free(&pubr);
    vg_ring_free(&in);
    default_cfg(&cfg);
    cfg.feeds_endpoint = feeds;
    cfg.control_endpoint = ctl;
    start_with(&cfg);
    const size_t before = c.len;
    cr_assert(wait_output(&c, "snapshot-end seq=0 alerts=0"), "no resnapshot: %s",
              c.buf + before);
    vg_alert_event g = make_event(VG_ALERT_DENSITY, VG_SOURCE_ZONE, GATE, GATE,
                                  VG_ALERT_ACTION_RAISE, VG_GRADE_CRITICAL, T0 + SEC(5), 9);
    push_event(&g);
    cr_assert(wait_output(&c, "id=9 feed=security grade=critical"), "got: %s", c.buf + before);
    cr_assert_eq(stop_child(&c), 0);
}

/* With no answer on the control socket (nothing listens at --control), --lines still prints
 * every message, says so once on stderr, and retries the snapshot only every few seconds,
 * so messages are not held up by a 2 s request each. */
Test(alert, watch_lines_prints_messages_when_the_control_socket_does_not_answer)
{
    const char *vigil = getenv("VG_VIGIL");
    char ctl[64], err_path[] = "/tmp/vg-watch-noctl-XXXXXX";
    struct child c;
    if (!vigil)
        cr_skip_test("needs VG_VIGIL");
    const int fd = mkstemp(err_path);
    cr_assert_geq(fd, 0);
    close(fd);
    snprintf(ctl, sizeof(ctl), "tcp://127.0.0.1:%d", free_port());
    char *argv[] = {(char *)vigil, "watch", "--lines", "--endpoint",
                    (char *)vg_alert_feeds_endpoint(pubr), "--control", ctl, NULL};
    spawn_err(&c, argv, NULL, err_path);
    /* The first snapshot times out after 2 s; by then the console's SUB is connected. */
    int64_t end = vg_mono_ns() + 10 * VG_NS_PER_S;
    char *err = read_file(err_path);
    while (!strstr(err, "vigil watch:") && vg_mono_ns() < end) {
        free(err);
        nap_ms(50);
        err = read_file(err_path);
    }
    cr_assert_not_null(strstr(err, "no reply from"), "stderr: %s", err);
    free(err);

    /* One message a second for 8 s, across at least one retry: each is printed within 3 s. */
    for (int i = 0; i < 8; i++) {
        vg_alert_event e = make_event(VG_ALERT_DENSITY, VG_SOURCE_ZONE, GATE, GATE,
                                      i == 0 ? VG_ALERT_ACTION_RAISE : VG_ALERT_ACTION_CHANGE,
                                      i % 2 ? VG_GRADE_CRITICAL : VG_GRADE_WARNING,
                                      T0 + SEC(i), 90);
        char want[64];
        push_event(&e);
        snprintf(want, sizeof(want), " seq=%d ts=", i + 1);
        cr_assert(wait_output_ms(&c, want, 3000), "no line with%s within 3 s: %s", want, c.buf);
        nap_ms(1000);
    }
    cr_assert_not_null(strstr(c.buf, "id=90 feed=security"), "%s", c.buf);
    cr_assert_null(strstr(c.buf, "snapshot-end"), "%s", c.buf);
    cr_assert_eq(stop_child(&c), 0);
    err = read_file(err_path);
    const char *first = strstr(err, "vigil watch:");
    cr_assert_not_null(first);
    cr_assert_null(strstr(first + 1, "vigil watch:"), "one warning per run of failures: %s",
                   err);
    free(err);
    unlink(err_path);
}

/* The feeds are JSON, which is UTF-8: an operator id or comment that is not valid UTF-8
 * (a stray byte, an overlong form, a surrogate) is refused and counted, never published. */
Test(alert, operator_and_comment_must_be_utf8)
{
    static const char *const bad[][2] = {
        {"{\"cmd\":\"ack\",\"id\":\"7\",\"operator\":\"op\",\"comment\":\"caf\xe9\"}",
         "'comment' must be UTF-8"},
        {"{\"cmd\":\"ack\",\"id\":\"7\",\"operator\":\"op\",\"comment\":\"\xc0\xaf\"}",
         "'comment' must be UTF-8"},
        {"{\"cmd\":\"ack\",\"id\":\"7\",\"operator\":\"op\",\"comment\":\"\xed\xa0\x80\"}",
         "'comment' must be UTF-8"},
        {"{\"cmd\":\"shelve\",\"id\":\"7\",\"operator\":\"op\xc3\"}", "'operator' must be UTF-8"},
        {"{\"cmd\":\"ack\",\"id\":\"7\",\"operator\":\"\xf4\x90\x80\x80\"}",
         "'operator' must be UTF-8"},
    };
    push_plaza_critical(7, T0);
    void *r = control_client(NULL);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cJSON *o = control(r, bad[i][0]);
        cr_assert_not(ok(o), "request %zu accepted", i);
        cr_assert_str_eq(str(o, "error"), bad[i][1], "request %zu", i);
        cJSON_Delete(o);
    }
    const cJSON *pb;
    cJSON *st = status_of(r, &pb);
    cr_assert_eq(num(pb, "bad_requests"), 5);
    cr_assert_eq(num(cJSON_GetObjectItemCaseSensitive(st, "alerts"), "shelved"), 0);
    cJSON_Delete(st);
    cJSON *o = control(r, "{\"cmd\":\"ack\",\"id\":\"7\",\"operator\":\"op\xc3\xa9\","
                          "\"comment\":\"Sanit\xc3\xa4ter \xe2\x82\xac \xf0\x9f\x9a\x91\"}");
    cr_assert(ok(o), "%s", str(o, "error"));
    const cJSON *al = cJSON_GetObjectItemCaseSensitive(o, "alert");
    const cJSON *owner = cJSON_GetObjectItemCaseSensitive(al, "owner");
    cr_assert_str_eq(str(owner, "comment"), "Sanit\xc3\xa4ter \xe2\x82\xac \xf0\x9f\x9a\x91");
    cJSON_Delete(o);
}

static int reload_calls;

static int reload_stub(void *ctx, const char *path, const vg_alert_actor *who, char *err,
                       size_t err_len)
{
    (void)ctx, (void)path, (void)who, (void)err, (void)err_len;
    reload_calls++;
    return 0;
}

/* A reload's operator and comment go to the audit record: UTF-8 too. */
Test(alert_reload, reload_operator_and_comment_must_be_utf8, .init = setup, .fini = teardown,
     .timeout = 60)
{
    vg_alert_cfg cfg;
    default_cfg(&cfg);
    cfg.reload_fn = reload_stub;
    start_with(&cfg);
    void *r = control_client(NULL);
    cJSON *o = control(r, "{\"cmd\":\"reload\",\"operator\":\"op\",\"comment\":\"\xff\"}");
    cr_assert_str_eq(str(o, "error"), "'comment' must be UTF-8");
    cJSON_Delete(o);
    cr_assert_eq(reload_calls, 0, "refused before the engine is asked");
    o = control(r, "{\"cmd\":\"reload\",\"operator\":\"op\",\"comment\":\"caf\xc3\xa9\"}");
    cr_assert(ok(o), "%s", str(o, "error"));
    cJSON_Delete(o);
    cr_assert_eq(reload_calls, 1);
}

/* A shelve shorter than a second would round to 0 ns, which the core reads as "the default,
 * 30 minutes": refused instead, whatever the fraction. */
Test(alert, shelving_for_less_than_a_second_is_refused)
{
    static const char *const bad[] = {
        "{\"cmd\":\"shelve\",\"id\":\"7\",\"operator\":\"op\",\"duration_s\":1e-10}",
        "{\"cmd\":\"shelve\",\"id\":\"7\",\"operator\":\"op\",\"duration_s\":0.5}",
        "{\"cmd\":\"shelve\",\"id\":\"7\",\"operator\":\"op\",\"duration_s\":0}",
    };
    push_plaza_critical(7, T0);
    void *r = control_client(NULL);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cJSON *o = control(r, bad[i]);
        cr_assert_not(ok(o), "%s accepted", bad[i]);
        cr_assert_str_eq(str(o, "error"), "'duration_s' must be at least 1 (seconds)");
        cJSON_Delete(o);
    }
    cJSON *o = control(r, "{\"cmd\":\"shelve\",\"id\":\"7\",\"operator\":\"op\",\"duration_s\":1}");
    cr_assert(ok(o), "%s", str(o, "error"));
    const cJSON *al = cJSON_GetObjectItemCaseSensitive(o, "alert");
    cr_assert_float_eq(num(al, "shelved_until"), (double)T0 / 1e9 + 1, 1e-6);
    cJSON_Delete(o);
}

/* An id is decimal digits only: no sign, no blanks. Before, " +7" named alert 7 and
 * "-9223372036854775807" wrapped round to the first flood summary's id. */
Test(alert, an_id_is_decimal_digits_only)
{
    push_plaza_critical(7, T0);
    for (uint32_t i = 0; i < 10; i++) { /* a flood: its summary's id is 2^63 + 1 */
        vg_alert_event e =
            make_event(VG_ALERT_OCCUPANCY_MISMATCH, VG_SOURCE_ZONE, 100 + i, GATE,
                       VG_ALERT_ACTION_RAISE, VG_GRADE_ADVISORY, T0 + SEC(i), 100 + i);
        push_event(&e);
    }
    void *r = control_client(NULL);
    cJSON *o;
    /* wait until the vg-alert thread has taken all of it in */
    for (int64_t end = vg_mono_ns() + SEC(5);;) {
        const cJSON *pb;
        o = status_of(r, &pb);
        const int done = num(pb, "inputs") == 11;
        cJSON_Delete(o);
        if (done)
            break;
        cr_assert_lt(vg_mono_ns(), end, "inputs not consumed");
        nap_ms(10);
    }
    static const char *const bad[] = {" +7", "+7", "7 ", "-1", "-9223372036854775807", "0x7"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char req[128];
        snprintf(req, sizeof(req), "{\"cmd\":\"ack\",\"id\":\"%s\",\"operator\":\"op\"}", bad[i]);
        o = control(r, req);
        cr_assert_not(ok(o), "id \"%s\" accepted", bad[i]);
        cr_assert_not_null(strstr(str(o, "error"), "'id'"), "%s: %s", bad[i], str(o, "error"));
        cJSON_Delete(o);
    }
    o = control(r, "{\"cmd\":\"ack\",\"id\":\"9223372036854775809\",\"operator\":\"op\"}");
    cr_assert(ok(o), "the summary by its own id: %s", str(o, "error"));
    cJSON_Delete(o);
    o = control(r, "{\"cmd\":\"ack\",\"id\":\"7\",\"operator\":\"op\"}");
    cr_assert(ok(o), "%s", str(o, "error"));
    cJSON_Delete(o);
}
