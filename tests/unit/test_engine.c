/* Unit tests of the live engine without a broker: messages submitted on the ingest side go
 * through the readings ring to the analysis thread, alert events come out as JSON lines,
 * refusals land in the reject log, and every counter adds up. Also the event JSON format and
 * the metrics text, checked field by field, and vg_engine_reload(): every thread switches
 * model at the same message, bad files are refused, each reload is archived and audited. */
#include "archive_fixture.h"
#include "child.h"
#include "vigil/archive.h"
#include "vigil/common.h"
#include "vigil/engine.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <zmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static vg_model *model;
static char dir[256];

static void setup(void)
{
    char p[4096];
    vg_model_error err;
    const char *root = getenv("VG_SOURCE_ROOT");

    snprintf(p, sizeof(p), "%s/tests/data/payloads/venue.cfg", root ? root : ".");
    int r = vg_model_load(p, &model, &err);
    cr_assert_eq(r, 0, "model: %s:%d: %s: %s", err.file, err.line, err.key, err.message);
    snprintf(dir, sizeof(dir), "/tmp/vg-engine-test.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[512];
    vg_model_free(&model);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        cr_log_warn("could not remove %s", dir);
}

TestSuite(engine, .init = setup, .fini = teardown, .timeout = 60);

static void cfg_local(vg_engine_cfg *cfg, const char *events, const char *rejects)
{
    vg_engine_cfg_default(cfg);
    cfg->model = model;
    cfg->use_broker = 0;
    cfg->tick_ns = 20 * VG_NS_PER_MS;
    cfg->startup_grace_ns = 0;
    cfg->events_path = events;
    cfg->rejects_path = rejects;
}

Test(engine, new_rejects_bad_settings)
{
    vg_engine_cfg cfg;
    vg_engine *e = NULL;
    vg_engine_cfg_default(&cfg);
    cr_assert_eq(vg_engine_new(&cfg, &e), -EINVAL, "no model");
    cfg_local(&cfg, NULL, NULL);
    cfg.reading_ring = 1000;
    cr_assert_eq(vg_engine_new(&cfg, &e), -EINVAL, "ring not a power of two");
    cfg_local(&cfg, NULL, NULL);
    cfg.tick_ns = 0;
    cr_assert_eq(vg_engine_new(&cfg, &e), -EINVAL);
    cfg_local(&cfg, "/nonexistent-dir/events.jsonl", NULL);
    cr_assert_eq(vg_engine_new(&cfg, &e), -ENOENT);
    cr_assert_null(e);
    vg_engine_free(NULL);
    vg_engine_free(&e);
}

Test(engine, submit_needs_a_started_broker_less_engine)
{
    vg_engine_cfg cfg;
    vg_engine *e;
    cfg_local(&cfg, NULL, NULL);
    cr_assert_eq(vg_engine_new(&cfg, &e), 0);
    cr_assert_eq(vg_engine_submit(e, "x", "y", 1, 0), -ECANCELED, "not started");
    vg_engine_free(&e);
    cfg_local(&cfg, NULL, NULL);
    cfg.use_broker = 1;
    cr_assert_eq(vg_engine_new(&cfg, &e), 0);
    cr_assert_eq(vg_engine_submit(e, "x", "y", 1, 0), -EINVAL, "broker engine");
    vg_engine_free(&e);
}

Test(engine, every_message_is_processed_or_refused_and_logged)
{
    char ev[300], rj[300], msg[256];
    vg_engine_cfg cfg;
    vg_engine *e;
    vg_engine_stats st;
    int64_t now = vg_wall_ns();

    snprintf(ev, sizeof(ev), "%s/events.jsonl", dir);
    snprintf(rj, sizeof(rj), "%s/rejects.jsonl", dir);
    cfg_local(&cfg, ev, rj);
    cr_assert_eq(vg_engine_new(&cfg, &e), 0);
    cr_assert_eq(vg_engine_start(e), 0);
    cr_assert_eq(vg_engine_start(e), -EALREADY);
    /* 300 good sensor readings, 1 ms apart, from 0.5 s ago (well inside the 2 s lateness) */
    for (int i = 0; i < 300; i++) {
        int64_t t = now - 500 * VG_NS_PER_MS + i * VG_NS_PER_MS;
        int n = snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld.%09lld,\"value\":%d}",
                         (long long)(t / VG_NS_PER_S), (long long)(t % VG_NS_PER_S), 20 + i % 5);
        cr_assert_eq(vg_engine_submit(e, "vigil/testvenue/sensor/t1", msg, (size_t)n, now), 0);
    }
    /* 7 refusals at ingest, by 5 reasons */
    const char *bad[][2] = {
        {"vigil/testvenue/sensor/t1", "{\"v\":1,\"ts\":"},
        {"vigil/testvenue/sensor/t1", "\x01\x02\xff"},
        {"vigil/testvenue/sensor/t1", "{\"v\":1,\"ts\":\"now\",\"value\":1}"},
        {"vigil/testvenue/sensor/nosuch", "{\"v\":1,\"ts\":1,\"value\":1}"},
        {"vigil/testvenue/count/cam1", "{\"v\":1,\"ts\":0,\"counts\":{\"z1\":-5}}"},
        {"vigil/testvenue/weather/x", "{}"},
        {"somewhere/else", "{}"},
    };
    for (size_t i = 0; i < 7; i++)
        cr_assert_eq(vg_engine_submit(e, bad[i][0], bad[i][1], strlen(bad[i][1]), now), 0);
    vg_engine_stop(e);
    vg_engine_stop(e); /* idempotent */
    vg_engine_stats_get(e, &st);
    cr_assert_eq(st.ingest.messages, 307);
    cr_assert_eq(st.ingest.readings[VG_INGEST_SRC_SENSOR], 300);
    cr_assert_eq(st.processed, 300, "the ring was drained on stop");
    cr_assert_eq(st.ingest.rejects[VG_REJECT_MALFORMED], 2);
    cr_assert_eq(st.ingest.rejects[VG_REJECT_WRONG_TYPE], 1);
    cr_assert_eq(st.ingest.rejects[VG_REJECT_UNKNOWN_SENSOR], 1);
    /* ts 0 is an hour and more old: too_old comes before the negative count */
    cr_assert_eq(st.ingest.rejects[VG_REJECT_TOO_OLD], 1);
    cr_assert_eq(st.ingest.rejects[VG_REJECT_UNKNOWN_TOPIC], 2);
    uint64_t analysis_rejects = 0;
    for (int i = 0; i < VG_INGEST_REJECT_SLOTS; i++)
        analysis_rejects += st.rejects_analysis[i];
    cr_assert_eq(st.accepted + analysis_rejects, 300);
    cr_assert_eq(st.accepted, 300, "fresh, distinct, in range: all accepted");
    cr_assert_eq(st.rejects_total, 7 + analysis_rejects);
    cr_assert_geq(st.ticks, 1, "a final tick at least");
    cr_assert_eq(st.depth[0] + st.depth[1] + st.depth[2] + st.depth[3], 0, "all rings drained");
    cr_assert_eq(st.reject_log_written, 7 + analysis_rejects);
    vg_engine_free(&e);
    cr_assert_null(e);
    cr_assert_eq(count_lines(rj, NULL), (int)(7 + analysis_rejects));
    cr_assert_eq(count_lines(rj, "\"reason\":\"unknown_topic\""), 2);
    cr_assert_eq(count_lines(rj, "\"topic\":\"somewhere/else\""), 1);
    /* the binary payload is escaped, so the line stays valid JSON */
    cr_assert_eq(count_lines(rj, "\"payload_excerpt\":\"\\u0001\\u0002\\u00ff\""), 1);
    cr_assert_eq(count_lines(ev, NULL), 0 + count_lines(ev, "\"v\":1"), "every event line is v1");
}

struct seen {
    int help_medical;
    char zone[64];
    int feed;
};

static void on_event(void *ctx, const vg_alert_event *ev)
{
    struct seen *s = ctx;
    if (ev->kind == VG_ALERT_HELP_MEDICAL && ev->action == VG_ALERT_ACTION_RAISE) {
        s->help_medical++;
        s->feed = ev->feed;
        snprintf(s->zone, sizeof(s->zone), "%s", vg_model_zone(model, ev->zone)->id);
    }
}

/* Runs an engine with cfg through one medical press of help point h1, now, and stops it. */
static void run_help_press(const vg_engine_cfg *cfg)
{
    vg_engine *e;
    char msg[128];
    int64_t now = vg_wall_ns();

    cr_assert_eq(vg_engine_new(cfg, &e), 0);
    cr_assert_eq(vg_engine_start(e), 0);
    int n = snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld,\"type\":\"medical\"}",
                     (long long)(now / VG_NS_PER_S));
    cr_assert_eq(vg_engine_submit(e, "vigil/testvenue/help/h1", msg, (size_t)n, now), 0);
    vg_engine_stop(e);
    vg_engine_free(&e);
}

Test(engine, help_press_comes_out_as_a_medical_event_line)
{
    char ev[300];
    vg_engine_cfg cfg;
    struct seen seen = {0};

    snprintf(ev, sizeof(ev), "%s/events.jsonl", dir);
    cfg_local(&cfg, ev, NULL);
    cfg.on_event = on_event;
    cfg.on_event_ctx = &seen;
    run_help_press(&cfg);
    cr_assert_eq(seen.help_medical, 1);
    cr_assert_str_eq(seen.zone, "z1");
    cr_assert_eq(seen.feed, VG_FEED_MEDICAL);
    cr_assert_eq(count_lines(ev, "\"kind\":\"help_medical\""), 1);
    cr_assert_eq(count_lines(ev, "\"topic\":\"medical."), 1);
}

struct presses {
    atomic_int medical, fire;
    int64_t medical_t;
};

static void on_press(void *ctx, const vg_alert_event *ev)
{
    struct presses *p = ctx;
    if (ev->action != VG_ALERT_ACTION_RAISE)
        return;
    if (ev->kind == VG_ALERT_HELP_MEDICAL) {
        p->medical_t = ev->t_ns;
        atomic_fetch_add(&p->medical, 1);
    } else if (ev->kind == VG_ALERT_HELP_FIRE) {
        atomic_fetch_add(&p->fire, 1);
    }
}

/* A help point with a clock two hours slow (or a press the broker kept while the engine was
 * down) and one with a clock ten minutes fast: a sensor reading so stamped is refused, a
 * press never is. */
Test(engine, a_help_press_from_a_wrong_clock_still_raises_its_alert)
{
    vg_engine_cfg cfg;
    vg_engine *e;
    vg_engine_stats st;
    struct presses p = {0};
    char msg[128];

    cfg_local(&cfg, NULL, NULL);
    cfg.on_event = on_press;
    cfg.on_event_ctx = &p;
    cr_assert_eq(vg_engine_new(&cfg, &e), 0);
    cr_assert_eq(vg_engine_start(e), 0);
    do { /* until the core's watermark has passed "now" */
        usleep(10000);
        vg_engine_stats_get(e, &st);
    } while (st.ticks < 3);
    const int64_t now = vg_wall_ns(), slow = now / VG_NS_PER_S - 7200;
    int n = snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld,\"type\":\"medical\"}",
                     (long long)slow);
    cr_assert_eq(vg_engine_submit(e, "vigil/testvenue/help/h1", msg, (size_t)n, now), 0);
    n = snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld,\"type\":\"fire\"}",
                 (long long)(now / VG_NS_PER_S + 600));
    cr_assert_eq(vg_engine_submit(e, "vigil/testvenue/help/h1", msg, (size_t)n, now), 0);
    n = snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld,\"value\":21}", (long long)slow);
    cr_assert_eq(vg_engine_submit(e, "vigil/testvenue/sensor/t1", msg, (size_t)n, now), 0);
    vg_engine_stop(e);
    vg_engine_stats_get(e, &st);
    vg_engine_free(&e);
    cr_assert_eq(atomic_load(&p.medical), 1, "the slow clock's press");
    cr_assert_eq(p.medical_t, slow * VG_NS_PER_S, "raised at the time it was pressed");
    cr_assert_eq(atomic_load(&p.fire), 1, "the fast clock's press");
    cr_assert_eq(st.rejects[VG_REJECT_TOO_OLD], 1, "the sensor reading only");
    cr_assert_eq(st.rejects[VG_REJECT_TOO_FAR_FUTURE], 0);
}

/* A sensor whose clock is 5 s slow (no NTP) on the wall clock: every reading is behind the
 * core's watermark (2 s), and each is still taken (docs/analysis.md, "Skew"). */
Test(engine, a_sensor_whose_clock_lags_loses_no_reading)
{
    vg_engine_cfg cfg;
    vg_engine *e;
    vg_engine_stats st;
    char msg[128];

    cfg_local(&cfg, NULL, NULL);
    cr_assert_eq(vg_engine_new(&cfg, &e), 0);
    cr_assert_eq(vg_engine_start(e), 0);
    for (int k = 0; k < 10; k++) {
        const int64_t now = vg_wall_ns(), t = now - 5 * VG_NS_PER_S;
        int n = snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld.%09lld,\"value\":21}",
                         (long long)(t / VG_NS_PER_S), (long long)(t % VG_NS_PER_S));
        cr_assert_eq(vg_engine_submit(e, "vigil/testvenue/sensor/t1", msg, (size_t)n, now), 0);
        usleep(50 * 1000); /* a few ticks */
    }
    vg_engine_stop(e);
    vg_engine_stats_get(e, &st);
    vg_engine_free(&e);
    cr_assert_gt(st.ticks, 10);
    cr_assert_eq(st.accepted, 10);
    cr_assert_eq(st.rejects_total, 0);
}

/* On the event clock the first reading sets the clock. A help press is taken whatever its
 * time, so it must not be that reading: an old press first in a backlog would leave every
 * later reading "too far ahead". */
Test(engine, an_old_help_press_first_does_not_set_the_event_clock)
{
    vg_engine_cfg cfg;
    vg_engine *e;
    vg_engine_stats st;
    struct presses p = {0};
    char msg[128];
    const int64_t day0 = (vg_wall_ns() / VG_NS_PER_S - 86400) * VG_NS_PER_S;

    cfg_local(&cfg, NULL, NULL);
    cfg.event_clock = 1;
    cfg.tick_ns = VG_NS_PER_S;
    cfg.on_event = on_press;
    cfg.on_event_ctx = &p;
    cr_assert_eq(vg_engine_new(&cfg, &e), 0);
    cr_assert_eq(vg_engine_start(e), 0);
    int n = snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld,\"type\":\"medical\"}",
                     (long long)(day0 / VG_NS_PER_S - 7200));
    cr_assert_eq(vg_engine_submit(e, "vigil/testvenue/help/h1", msg, (size_t)n, vg_wall_ns()), 0);
    for (int s = 0; s < 5; s++) {
        n = snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld,\"value\":21}",
                     (long long)(day0 / VG_NS_PER_S + s));
        cr_assert_eq(vg_engine_submit(e, "vigil/testvenue/sensor/t1", msg, (size_t)n,
                                      vg_wall_ns()),
                     0);
    }
    vg_engine_stop(e);
    vg_engine_stats_get(e, &st);
    vg_engine_free(&e);
    cr_assert_eq(atomic_load(&p.medical), 1);
    cr_assert_eq(st.rejects_total, 0, "the readings after the press are taken");
    cr_assert_eq(st.event_now_ns, day0 + 4 * VG_NS_PER_S, "the clock is the readings'");
}

Test(engine, event_json_has_the_wire_fields)
{
    vg_alert_event ev;
    char buf[4096];
    uint32_t z2;

    cr_assert_eq(vg_model_find_zone(model, "z2", &z2), 0);
    memset(&ev, 0, sizeof(ev));
    ev.id = 42;
    ev.seq = 7;
    ev.t_ns = INT64_C(1779456000250000000);
    ev.raised_ns = INT64_C(1779455990000000000);
    ev.value = 4.25;
    ev.threshold = 4.0;
    ev.trend_per_min = NAN;
    ev.ttc_s = -1;
    ev.zone = z2;
    ev.source = z2;
    ev.source_type = VG_SOURCE_ZONE;
    ev.kind = VG_ALERT_DENSITY;
    ev.feed = VG_FEED_SECURITY;
    ev.grade = VG_GRADE_WARNING;
    ev.prev_grade = VG_GRADE_ADVISORY;
    ev.action = VG_ALERT_ACTION_CHANGE;
    ev.flags = VG_ALERT_F_CHATTERING;
    ev.evidence_count = 1;
    ev.evidence[0].t_ns = INT64_C(1779456000000000000);
    ev.evidence[0].value = 212;
    ev.evidence[0].source_type = VG_SOURCE_CAMERA;
    ev.evidence[0].source = 0;
    ev.evidence[0].reading_type = VG_READING_COUNT;
    snprintf(ev.message, sizeof(ev.message), "z2 \"standing\" at 4.25 p/m2");

    size_t len = vg_engine_event_json(model, &ev, buf, sizeof(buf));
    cr_assert_lt(len, sizeof(buf));
    cr_assert_eq(strlen(buf), len);
    cr_assert_eq(buf[len - 1], '\n');
    cJSON *j = cJSON_Parse(buf);
    cr_assert_not_null(j, "not JSON: %s", buf);
    cr_assert_eq(cJSON_GetObjectItem(j, "v")->valuedouble, 1);
    cr_assert_eq(cJSON_GetObjectItem(j, "seq")->valuedouble, 7);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "id")->valuestring, "42");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "feed")->valuestring, "security");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "topic")->valuestring, "security.warning.z2");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "kind")->valuestring, "density");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "zone")->valuestring, "z2");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "grade")->valuestring, "warning");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "prev_grade")->valuestring, "advisory");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "state")->valuestring, "unack");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "action")->valuestring, "change");
    cr_assert_float_eq(cJSON_GetObjectItem(j, "ts")->valuedouble, 1779456000.25, 1e-6);
    cr_assert_eq(cJSON_GetObjectItem(j, "value")->valuedouble, 4.25);
    cr_assert_eq(cJSON_GetObjectItem(j, "threshold")->valuedouble, 4.0);
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(j, "trend_per_min")), "NaN is null");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "chattering")));
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(j, "latched")));
    cr_assert_str_eq(cJSON_GetObjectItem(j, "message")->valuestring, "z2 \"standing\" at 4.25 p/m2");
    cJSON *evd = cJSON_GetObjectItem(j, "evidence");
    cr_assert_eq(cJSON_GetArraySize(evd), 1);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(evd, 0), "source")->valuestring, "cam1");
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(evd, 0), "value")->valuedouble, 212);
    cJSON_Delete(j);
    /* A short buffer: the length needed, and a terminated prefix. */
    char small[16];
    cr_assert_eq(vg_engine_event_json(model, &ev, small, sizeof(small)), len);
    cr_assert_eq(strlen(small), sizeof(small) - 1);
}

Test(engine, metrics_text_counts_what_was_submitted)
{
    vg_engine_cfg cfg;
    vg_engine *e;
    char buf[65536];
    int64_t now = vg_wall_ns();
    char msg[128];

    cfg_local(&cfg, NULL, NULL);
    cr_assert_eq(vg_engine_new(&cfg, &e), 0);
    cr_assert_eq(vg_engine_start(e), 0);
    for (int i = 0; i < 5; i++) {
        int n = snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld,\"in\":2,\"out\":1}",
                         (long long)(now / VG_NS_PER_S) - 10 + i);
        cr_assert_eq(vg_engine_submit(e, "vigil/testvenue/line/l1", msg, (size_t)n, now), 0);
    }
    cr_assert_eq(vg_engine_submit(e, "vigil/testvenue/line/l1", "{\"v\":2}", 7, now), 0);
    vg_engine_stop(e);
    size_t len = vg_engine_metrics_text(e, buf, sizeof(buf));
    cr_assert_lt(len, sizeof(buf));
    buf[len] = '\0';
    cr_assert_not_null(strstr(buf, "\nvigil_messages_total 6\n"));
    cr_assert_not_null(strstr(buf, "\nvigil_readings_total{source=\"line\"} 5\n"));
    cr_assert_not_null(strstr(buf, "\nvigil_readings_total{source=\"sensor\"} 0\n"));
    cr_assert_not_null(strstr(buf, "vigil_rejects_total{stage=\"ingest\",reason=\"bad_version\"} 1\n"));
    cr_assert_not_null(strstr(buf, "vigil_readings_processed_total 5\n"));
    cr_assert_not_null(strstr(buf, "vigil_ring_depth{ring=\"readings\"} 0\n"));
    cr_assert_not_null(strstr(buf, "vigil_ring_capacity{ring=\"readings\"} 65536\n"));
    cr_assert_not_null(strstr(buf, "vigil_alerts_total{feed=\"medical\",grade=\"critical\"} 0\n"));
    cr_assert_not_null(strstr(buf, "vigil_mqtt_connected 0\n"));
    cr_assert_not_null(strstr(buf, "# TYPE vigil_rejects_total counter\n"));
    /* status line */
    char line[1024];
    vg_engine_status(e, line, sizeof(line));
    cr_assert_not_null(strstr(line, "messages 6, readings 5"), "%s", line);
    cr_assert_not_null(strstr(line, "bad_version 1"), "%s", line);
    vg_engine_free(&e);
}

/* ---- --clock event ---- */

struct graded {
    int density_raised; /* density alerts in z3 at warning or above */
    int max_grade;
};

static void on_density(void *ctx, const vg_alert_event *ev)
{
    struct graded *g = ctx;
    const vg_zone *z = vg_model_zone(model, ev->zone);
    if (ev->kind == VG_ALERT_DENSITY && z && strcmp(z->id, "z3") == 0 &&
        ev->action != VG_ALERT_ACTION_CLEAR && ev->grade >= VG_GRADE_WARNING) {
        g->density_raised++;
        if (ev->grade > g->max_grade)
            g->max_grade = ev->grade;
    }
}

/* 90 simulated seconds of cam3 counting 120 persons in z3 (20 m²: 6 p/m², far over every
 * queue level), stamped one day before now, sent at 100x (10 ms per simulated second). */
static void submit_day_old_crowd(vg_engine *e, int64_t day0)
{
    char msg[160];
    for (int s = 0; s < 90; s++) {
        int64_t t = day0 + (int64_t)s * VG_NS_PER_S;
        int n = snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld,\"counts\":{\"z3\":120}}",
                         (long long)(t / VG_NS_PER_S));
        cr_assert_eq(vg_engine_submit(e, "vigil/testvenue/count/cam3", msg, (size_t)n,
                                      vg_wall_ns()), 0);
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

Test(engine, event_clock_accepts_and_grades_a_day_old_stream_that_wall_clock_refuses)
{
    vg_engine_cfg cfg;
    vg_engine *e;
    vg_engine_stats st;
    struct graded g = {0, 0};
    /* Whole seconds, so the ticks land on the readings' own seconds. */
    int64_t day0 = (vg_wall_ns() / VG_NS_PER_S - 86400) * VG_NS_PER_S;

    /* event clock */
    cfg_local(&cfg, NULL, NULL);
    cfg.event_clock = 1;
    cfg.tick_ns = VG_NS_PER_S;
    cfg.on_event = on_density;
    cfg.on_event_ctx = &g;
    cr_assert_eq(vg_engine_new(&cfg, &e), 0);
    cr_assert_eq(vg_engine_start(e), 0);
    submit_day_old_crowd(e, day0);
    vg_engine_stop(e);
    vg_engine_stats_get(e, &st);
    vg_engine_free(&e);
    cr_assert_eq(st.ingest.readings[VG_INGEST_SRC_COUNT], 90);
    cr_assert_eq(st.rejects_total, 0, "a day old is fine on the event clock");
    cr_assert_eq(st.accepted, 90);
    cr_assert_eq(st.event_now_ns, day0 + 89 * VG_NS_PER_S, "newest reading time");
    /* Ticks at day0, day0+1 s, ... day0+89 s, then one final tick past the lateness. */
    cr_assert_eq(st.ticks, 91, "ticks: %llu", (unsigned long long)st.ticks);
    cr_assert_eq(g.density_raised >= 1, 1, "z3 graded at warning or above");
    cr_assert_geq(g.max_grade, VG_GRADE_CRITICAL, "6 p/m² in a queue is critical or worse");

    /* wall clock: the same stream is a day old */
    memset(&g, 0, sizeof(g));
    cfg.event_clock = 0;
    cr_assert_eq(vg_engine_new(&cfg, &e), 0);
    cr_assert_eq(vg_engine_start(e), 0);
    submit_day_old_crowd(e, day0);
    vg_engine_stop(e);
    vg_engine_stats_get(e, &st);
    vg_engine_free(&e);
    cr_assert_eq(st.ingest.rejects[VG_REJECT_TOO_OLD], 90);
    cr_assert_eq(st.accepted, 0);
    cr_assert_eq(g.density_raised, 0);
    cr_assert_eq(st.event_now_ns, INT64_MIN, "the wall clock does not track event time");
}

Test(engine, event_clock_still_refuses_readings_far_ahead_of_event_time_and_idles_without_data)
{
    vg_engine_cfg cfg;
    vg_engine *e;
    vg_engine_stats st;
    char msg[160];
    int64_t day0 = (vg_wall_ns() / VG_NS_PER_S - 86400) * VG_NS_PER_S;
    /* 20 s past the newest reading: beyond max_future (10 s); 5 s is inside it. */
    int64_t offs[] = {0, 1, 20, 5, -3700};
    int n;

    cfg_local(&cfg, NULL, NULL);
    cfg.event_clock = 1;
    cfg.tick_ns = VG_NS_PER_S;
    cr_assert_eq(vg_engine_new(&cfg, &e), 0);
    cr_assert_eq(vg_engine_start(e), 0);
    /* No reading yet: no tick, however long we wait. */
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    vg_engine_stats_get(e, &st);
    cr_assert_eq(st.ticks, 0);
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        n = snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld,\"value\":21}",
                     (long long)(day0 / VG_NS_PER_S + offs[i]));
        cr_assert_eq(vg_engine_submit(e, "vigil/testvenue/sensor/t1", msg, (size_t)n,
                                      vg_wall_ns()), 0);
    }
    vg_engine_stop(e);
    vg_engine_stats_get(e, &st);
    vg_engine_free(&e);
    cr_assert_eq(st.ingest.rejects[VG_REJECT_TOO_FAR_FUTURE], 1, "+20 s is too far ahead");
    /* -3700 s: over max_age (1 h) behind the event clock */
    cr_assert_eq(st.ingest.rejects[VG_REJECT_TOO_OLD], 1);
    cr_assert_eq(st.accepted, 3);
    cr_assert_eq(st.event_now_ns, day0 + 5 * VG_NS_PER_S);
}

/* ---- feeds, control socket, HDF5 archive ---- */

/* The help press of help_press_comes_out_as_a_medical_event_line, this time on the ZeroMQ
 * medical feed, and the control socket's status reply carries the engine counters. */
Test(engine, feeds_publish_the_alert_and_control_status_has_engine_counters)
{
    vg_engine_cfg cfg;
    vg_engine *e;
    char msg[128], topic[128] = "", body[8192];
    void *ctx = zmq_ctx_new();
    void *sub = zmq_socket(ctx, ZMQ_SUB), *req = zmq_socket(ctx, ZMQ_REQ);
    int linger = 0;

    cfg_local(&cfg, NULL, NULL);
    cfg.feeds_endpoint = "tcp://127.0.0.1:*";
    cfg.control_endpoint = "tcp://127.0.0.1:*";
    cr_assert_eq(vg_engine_new(&cfg, &e), 0);
    cr_assert_eq(strncmp(vg_engine_feeds_endpoint(e), "tcp://127.0.0.1:", 16), 0);
    cr_assert_str_neq(vg_engine_feeds_endpoint(e), "tcp://127.0.0.1:*", "the port is resolved");
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(req, ZMQ_LINGER, &linger, sizeof(linger));
    cr_assert_eq(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "medical.", 8), 0);
    cr_assert_eq(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "heartbeat.medical", 17), 0);
    cr_assert_eq(zmq_connect(sub, vg_engine_feeds_endpoint(e)), 0);
    cr_assert_eq(zmq_connect(req, vg_engine_control_endpoint(e)), 0);
    cr_assert_eq(vg_engine_start(e), 0);
    /* A PUB drops what it sends before the subscription reaches it: the feed's heartbeat
     * (every second) shows the subscription is live; then press once. */
    int got = 0, pressed = 0;
    int64_t end = vg_mono_ns() + 20 * VG_NS_PER_S;
    while (!got && vg_mono_ns() < end) {
        zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 200) != 1)
            continue;
        int tl = zmq_recv(sub, topic, sizeof(topic) - 1, 0);
        int bl = zmq_recv(sub, body, sizeof(body) - 1, 0);
        cr_assert_gt(tl, 0);
        cr_assert_gt(bl, 0);
        topic[tl] = body[bl] = '\0';
        if (strncmp(topic, "medical.critical.", 17) == 0) {
            got = 1;
        } else if (!pressed) {
            /* Stamped now: a time from before the wait could be behind the watermark. */
            int64_t now = vg_wall_ns();
            int n = snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld.%09lld,\"type\":\"medical\"}",
                             (long long)(now / VG_NS_PER_S), (long long)(now % VG_NS_PER_S));
            cr_assert_eq(vg_engine_submit(e, "vigil/testvenue/help/h1", msg, (size_t)n,
                                          vg_wall_ns()), 0);
            pressed = 1;
        }
    }
    cr_assert_eq(pressed, 1, "no heartbeat on the medical feed");
    if (!got) {
        vg_engine_stats st0;
        vg_engine_stats_get(e, &st0);
        cr_assert_eq(got, 1, "no medical alert on the feed (last topic %s, events %llu, "
                     "published %llu, accepted %llu, rejects %llu)", topic,
                     (unsigned long long)st0.events, (unsigned long long)st0.alerts_published,
                     (unsigned long long)st0.accepted, (unsigned long long)st0.rejects_total);
    }
    cr_assert_str_eq(topic, "medical.critical.z1");
    cJSON *j = cJSON_Parse(body);
    cr_assert_not_null(j, "%s", body);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "kind")->valuestring, "help_medical");
    cJSON_Delete(j);

    cr_assert_eq(zmq_send(req, "{\"cmd\":\"status\"}", 16, 0), 16);
    zmq_pollitem_t it = {req, 0, ZMQ_POLLIN, 0};
    cr_assert_eq(zmq_poll(&it, 1, 10000), 1, "control socket did not answer");
    int bl = zmq_recv(req, body, sizeof(body) - 1, 0);
    cr_assert_gt(bl, 0);
    body[bl] = '\0';
    j = cJSON_Parse(body);
    cr_assert_not_null(j, "%s", body);
    cJSON *eng = cJSON_GetObjectItem(j, "engine");
    cr_assert_not_null(eng, "%s", body);
    vg_engine_stats st;
    vg_engine_stats_get(e, &st);
    cr_assert_geq(cJSON_GetObjectItem(eng, "messages")->valuedouble, 1);
    cr_assert_leq(cJSON_GetObjectItem(eng, "messages")->valuedouble, (double)st.ingest.messages);
    cr_assert_str_eq(cJSON_GetObjectItem(eng, "clock")->valuestring, "wall");
    cr_assert_not_null(cJSON_GetObjectItem(cJSON_GetObjectItem(eng, "rings"), "alerts"));
    cr_assert_not_null(cJSON_GetObjectItem(eng, "rejects"));
    cJSON_Delete(j);
    zmq_close(sub);
    zmq_close(req);
    vg_engine_stop(e);
    vg_engine_stats_get(e, &st);
    cr_assert_geq(st.alerts_published, 1);
    vg_engine_free(&e);
    zmq_ctx_term(ctx);
}

static int find_h5(const char *d, char *ret, size_t cap)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "ls %s/*.h5 2>/dev/null | head -1", d);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    int ok = fgets(ret, (int)cap, p) != NULL;
    pclose(p);
    if (!ok)
        return -1;
    ret[strcspn(ret, "\n")] = '\0';
    return 0;
}

/* Opens the archive file in d (its path into path) and reads its summary into *info. */
static vg_archive_reader *open_archive(const char *d, char *path, size_t cap,
                                       vg_archive_info *info)
{
    vg_archive_reader *r = NULL;

    cr_assert_eq(find_h5(d, path, cap), 0, "no archive file in %s", d);
    cr_assert_eq(vg_archive_reader_open(path, &r), 0, "%s", path);
    cr_assert_eq(vg_archive_reader_info(r, info), 0, "%s", path);
    return r;
}

Test(engine, archive_holds_every_reading_and_tick_and_replay_verifies)
{
    vg_engine_cfg cfg;
    vg_engine *e;
    vg_engine_stats st;
    struct graded g = {0, 0};
    char path[600], cmd[1400];
    int64_t day0 = (vg_wall_ns() / VG_NS_PER_S - 86400) * VG_NS_PER_S;

    cfg_local(&cfg, NULL, NULL);
    cfg.event_clock = 1;
    cfg.tick_ns = VG_NS_PER_S;
    cfg.archive_dir = dir;
    cfg.on_event = on_density;
    cfg.on_event_ctx = &g;
    cr_assert_eq(vg_engine_new(&cfg, &e), 0);
    cr_assert_eq(vg_engine_start(e), 0);
    submit_day_old_crowd(e, day0);
    /* and one the core refuses (ingest passes it: a duplicate of a taken reading) */
    char msg[160];
    int n = snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld,\"counts\":{\"z3\":120}}",
                     (long long)(day0 / VG_NS_PER_S + 89));
    cr_assert_eq(vg_engine_submit(e, "vigil/testvenue/count/cam3", msg, (size_t)n, vg_wall_ns()), 0);
    vg_engine_stop(e);
    vg_engine_stats_get(e, &st);
    vg_engine_free(&e);
    cr_assert_eq(st.archive_full, 0);
    cr_assert_eq(st.archive_faults, 0);
    cr_assert_geq(g.density_raised, 1);

    vg_archive_info info;
    vg_archive_reader *r = open_archive(dir, path, sizeof(path), &info);
    cr_assert_eq(info.count[VG_ARCHIVE_REC_READING], 91, "every reading offered, refused too");
    cr_assert_eq(info.count[VG_ARCHIVE_REC_TICK], st.ticks);
    cr_assert_eq(info.count[VG_ARCHIVE_REC_ALERT], st.events);
    cr_assert_eq(info.count[VG_ARCHIVE_REC_METRICS], st.ticks * 3, "3 zones per tick");
    cr_assert_eq(info.first_tick_ns, day0);
    cr_assert_eq(info.lost, 0);
    vg_archive_reader_free(&r);

    snprintf(cmd, sizeof(cmd), "'%s' replay --verify '%s' >/dev/null 2>&1", getenv("VG_VIGIL"),
             path);
    cr_assert_eq(child_sh("%s", cmd), 0, "vigil replay --verify %s", path);
}

struct backlog {
    atomic_int raised, cleared, density;
    char message[VG_ALERT_MESSAGE_MAX]; /* of the first raise */
};

static void on_backlog(void *ctx, const vg_alert_event *ev)
{
    struct backlog *b = ctx;
    if (ev->kind == VG_ALERT_ARCHIVE_BACKLOG) {
        cr_expect_eq(ev->feed, VG_FEED_TECHNICAL);
        if (ev->action != VG_ALERT_ACTION_CLEAR && !b->message[0])
            memcpy(b->message, ev->message, sizeof(b->message));
        atomic_fetch_add(ev->action == VG_ALERT_ACTION_CLEAR ? &b->cleared : &b->raised, 1);
    } else if (ev->kind == VG_ALERT_DENSITY && ev->action != VG_ALERT_ACTION_CLEAR) {
        atomic_fetch_add(&b->density, 1);
    }
}

/* Polls the engine's stats until the side logs have counted at least these lost lines. */
static vg_engine_stats wait_lost(vg_engine *e, uint64_t rejects, uint64_t events)
{
    vg_engine_stats st;
    int64_t end = vg_mono_ns() + 10 * VG_NS_PER_S;
    do {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
        vg_engine_stats_get(e, &st);
    } while ((st.reject_log_lost < rejects || st.events_log_lost < events) &&
             vg_mono_ns() < end);
    return st;
}

/* Sends this process's stderr (the engine's log) into a pipe, not a file: a test may forbid
 * files to grow (RLIMIT_FSIZE). Returns the old stderr; a test logs far less than the pipe
 * holds (64 KiB). */
static int stderr_pipe = -1;

static int stderr_to(void)
{
    int saved, p[2];

    fflush(stderr);
    saved = dup(2);
    cr_assert(saved >= 0 && pipe(p) == 0);
    dup2(p[1], 2);
    close(p[1]);
    stderr_pipe = p[0];
    return saved;
}

/* Puts stderr back and reads what was logged meanwhile into text. */
static void stderr_back(int saved, char *text, size_t cap)
{
    size_t n = 0;
    ssize_t r;

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    while (n < cap - 1 && (r = read(stderr_pipe, text + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    text[n] = '\0';
    close(stderr_pipe);
    stderr_pipe = -1;
}

static int count_of(const char *text, const char *needle)
{
    int n = 0;

    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* The event and reject logs on a full disk (RLIMIT_FSIZE, this test process only): the lines
 * that cannot be written are counted as lost, the engine goes on, and the logs carry on
 * once there is room again. */
Test(engine, side_logs_count_what_a_full_disk_loses_and_carry_on)
{
    char ev[300], rj[300], help[160];
    vg_engine_cfg cfg;
    vg_engine *e;
    vg_engine_stats st;
    struct rlimit lim, none;
    const int64_t now = vg_wall_ns();
    const char *bad = "{\"v\":1,\"ts\":";

    signal(SIGXFSZ, SIG_IGN);
    snprintf(ev, sizeof(ev), "%s/events.jsonl", dir);
    snprintf(rj, sizeof(rj), "%s/rejects.jsonl", dir);
    cfg_local(&cfg, ev, rj);
    cr_assert_eq(vg_engine_new(&cfg, &e), 0);
    cr_assert_eq(vg_engine_start(e), 0);
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &lim), 0);
    none = (struct rlimit){0, lim.rlim_max}; /* no file may grow */
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &none), 0);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(vg_engine_submit(e, "vigil/testvenue/sensor/t1", bad, strlen(bad), now), 0);
    int n = snprintf(help, sizeof(help), "{\"v\":1,\"ts\":%lld,\"type\":\"medical\"}",
                     (long long)(now / VG_NS_PER_S));
    cr_assert_eq(vg_engine_submit(e, "vigil/testvenue/help/h1", help, (size_t)n, now), 0);
    st = wait_lost(e, 5, 1);
    cr_assert_eq(st.reject_log_written, 5);
    cr_assert_eq(st.reject_log_lost, 5, "lost %llu", (unsigned long long)st.reject_log_lost);
    cr_assert_geq(st.events, 1, "the help press still raised its alert");
    cr_assert_eq(st.events_log_lost, st.events);
    const uint64_t events_then = st.events;

    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0); /* room again */
    for (int i = 0; i < 3; i++)
        cr_assert_eq(vg_engine_submit(e, "vigil/testvenue/sensor/t1", bad, strlen(bad), now), 0);
    vg_engine_stop(e);
    vg_engine_stats_get(e, &st);
    vg_engine_free(&e);
    cr_assert_eq(st.reject_log_written, 8);
    cr_assert_eq(st.reject_log_lost, 5, "nothing lost once there is room");
    cr_assert_eq(st.events_log_lost, events_then);
    cr_assert_eq(count_lines(rj, NULL), 3, "the three written after the disk had room");
    cr_assert_eq(count_lines(ev, NULL), (int)(st.events - events_then));
}

/* While the disk stays full the log says so once: a flush with nothing buffered succeeds,
 * and before 2026-11-23 that was taken for "writing again", so every quiet tick between two
 * refusals logged a recovery and the next line a new failure. */
Test(engine, a_log_on_a_full_disk_warns_once_and_claims_no_recovery)
{
    char ev[300], rj[300], text[8192] = "";
    vg_engine_cfg cfg;
    vg_engine *e;
    vg_engine_stats st;
    struct rlimit lim, none;
    const char *bad = "{\"v\":1,\"ts\":";
    int saved;

    signal(SIGXFSZ, SIG_IGN);
    snprintf(ev, sizeof(ev), "%s/events.jsonl", dir);
    snprintf(rj, sizeof(rj), "%s/rejects.jsonl", dir);
    cfg_local(&cfg, ev, rj);
    cr_assert_eq(vg_engine_new(&cfg, &e), 0);
    saved = stderr_to();
    cr_assert_eq(vg_engine_start(e), 0);
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &lim), 0);
    none = (struct rlimit){0, lim.rlim_max};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &none), 0);
    for (int k = 1; k <= 3; k++) { /* three refusals, quiet flushes between them */
        cr_assert_eq(vg_engine_submit(e, "vigil/testvenue/sensor/t1", bad, strlen(bad),
                                      vg_wall_ns()), 0);
        st = wait_lost(e, (uint64_t)k, 0);
        cr_assert_eq(st.reject_log_lost, (uint64_t)k);
        usleep(1200 * 1000);
    }
    vg_engine_stop(e);
    vg_engine_free(&e);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    stderr_back(saved, text, sizeof(text));
    cr_assert_eq(count_of(text, "reject log: write failed"), 1, "%s", text);
    cr_assert_eq(count_of(text, "reject log: writing again"), 0, "%s", text);
}

/* A full disk, simulated with RLIMIT_FSIZE (this test process only): the archive faults, the
 * engine raises archive_backlog on the technical feed, and alerting goes on. */
Test(engine, archive_fault_raises_a_technical_alert_and_alerting_goes_on)
{
    vg_engine_cfg cfg;
    vg_engine *e;
    vg_engine_stats st;
    struct backlog b;
    char msg[160];
    int64_t t0 = (vg_wall_ns() / VG_NS_PER_S - 3600) * VG_NS_PER_S;

    atomic_init(&b.raised, 0);
    atomic_init(&b.cleared, 0);
    atomic_init(&b.density, 0);
    b.message[0] = '\0';
    signal(SIGXFSZ, SIG_IGN); /* write() fails with EFBIG instead of killing the process */
    cfg_local(&cfg, NULL, NULL);
    cfg.event_clock = 1;
    cfg.tick_ns = VG_NS_PER_S;
    cfg.archive_dir = dir;
    cfg.on_event = on_backlog;
    cfg.on_event_ctx = &b;
    cr_assert_eq(vg_engine_new(&cfg, &e), 0); /* the first file exists now */
    struct rlimit lim = {64 * 1024, RLIM_INFINITY};
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &lim), 0);
    struct rlimit low = {64 * 1024, lim.rlim_max};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &low), 0);
    cr_assert_eq(vg_engine_start(e), 0);
    int64_t end = vg_mono_ns() + 30 * VG_NS_PER_S;
    for (int s = 0; !atomic_load(&b.raised) && vg_mono_ns() < end; s++) {
        int64_t t = t0 + (int64_t)s * VG_NS_PER_S;
        int n = snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld,\"counts\":{\"z3\":%d}}",
                         (long long)(t / VG_NS_PER_S), s % 2 ? 120 : 119);
        cr_assert_eq(vg_engine_submit(e, "vigil/testvenue/count/cam3", msg, (size_t)n,
                                      vg_wall_ns()), 0);
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    vg_engine_stats_get(e, &st);
    vg_engine_stop(e);
    vg_engine_free(&e);
    setrlimit(RLIMIT_FSIZE, &lim);
    cr_assert_eq(atomic_load(&b.raised), 1, "archive_backlog raised once");
    cr_assert_geq(st.archive_faults, 1);
    cr_assert_eq(st.technical_alerts, 1);
    cr_assert_geq(atomic_load(&b.density), 1, "the density alert still came out");
    /* It says what the fault cost: the readings the file took since its last flush. */
    const char *at = strstr(b.message, "records not archived ");
    cr_assert_not_null(at, "%s", b.message);
    cr_assert_gt(strtoull(at + strlen("records not archived "), NULL, 10), 0, "%s", b.message);
}

/* ---- reload ---- */

/* dir/name: tests/data/payloads/venue.cfg with the first `old` replaced by `repl`. */
static void write_variant(char *path, size_t cap, const char *name, const char *old,
                          const char *repl)
{
    char src[4096], text[16384];
    const char *root = getenv("VG_SOURCE_ROOT");
    snprintf(src, sizeof(src), "%s/tests/data/payloads/venue.cfg", root ? root : ".");
    FILE *f = fopen(src, "r");
    cr_assert_not_null(f);
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    char *at = strstr(text, old);
    cr_assert_not_null(at, "%s not in venue.cfg", old);
    snprintf(path, cap, "%s/%s", dir, name);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fwrite(text, 1, (size_t)(at - text), f);
    fputs(repl, f);
    fputs(at + strlen(old), f);
    fclose(f);
}

/* Smoke sensors: critical at 1 with no on-delay, and a long period (no stale alerts). */
#define S1 "  { id = \"s1\"; kind = \"smoke\"; zone = \"z1\"; min = 0.0; max = 1.0; period_s = 600.0; },\n"
#define T9 "  { id = \"t9\"; kind = \"smoke\"; zone = \"z3\"; min = 0.0; max = 1.0; period_s = 600.0; },\n"

/* The two models the reload tests switch between, and an empty archive directory. base.cfg
 * adds s1 and is returned loaded; plus.cfg adds t9 before it, so every sensor index moves
 * and a thread on the wrong model would misname. Each buffer holds 600 bytes. */
static vg_model *reload_variants(char *base, char *plus, char *arch)
{
    vg_model *m = NULL;
    vg_model_error merr;

    write_variant(base, 600, "base.cfg", "sensors = (\n", "sensors = (\n" S1);
    write_variant(plus, 600, "plus.cfg", "sensors = (\n", "sensors = (\n" T9 S1);
    snprintf(arch, 600, "%s/arch", dir);
    cr_assert_eq(mkdir(arch, 0755), 0);
    cr_assert_eq(vg_model_load(base, &m, &merr), 0, "%s", merr.message);
    return m;
}

static void submit_now(vg_engine *e, const char *topic, const char *fmt_tail)
{
    char msg[160];
    int64_t now = vg_wall_ns();
    int n = snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld.%09lld,%s}",
                     (long long)(now / VG_NS_PER_S), (long long)(now % VG_NS_PER_S), fmt_tail);
    cr_assert_eq(vg_engine_submit(e, topic, msg, (size_t)n, now), 0);
}

static void wait_reloads(vg_engine *e, uint64_t want)
{
    vg_engine_stats st;
    int64_t end = vg_mono_ns() + 10 * VG_NS_PER_S;
    do {
        vg_engine_stats_get(e, &st);
        if (st.reloads >= want)
            break;
        usleep(5000);
    } while (vg_mono_ns() < end);
    cr_assert_eq(st.reloads, want, "model switches");
}

static int wait_lines(const char *path, const char *needle, int want)
{
    int64_t end = vg_mono_ns() + 10 * VG_NS_PER_S;
    int n;
    while ((n = count_lines(path, needle)) < want && vg_mono_ns() < end)
        usleep(10000);
    return n;
}

static uint64_t unknown_sensor(vg_engine *e)
{
    vg_engine_stats st;
    vg_engine_stats_get(e, &st);
    return st.ingest.rejects[VG_REJECT_UNKNOWN_SENSOR];
}

Test(engine, reload_switches_every_thread_at_one_point_and_refuses_bad_models)
{
    char base[600], plus[600], minus[600], other[600], bad[600], missing[600];
    char ev[300], err[512], arch[600];
    vg_model *m0 = reload_variants(base, plus, arch);
    vg_engine_cfg cfg;
    vg_engine *e;
    vg_engine_stats st;

    write_variant(minus, sizeof(minus), "minus.cfg", "sensors = (\n", "sensors = (\n" T9);
    write_variant(other, sizeof(other), "other.cfg", "id = \"testvenue\"", "id = \"elsewhere\"");
    write_variant(bad, sizeof(bad), "bad.cfg", "help_points = (", "help_points = ( oops");
    snprintf(missing, sizeof(missing), "%s/missing.cfg", dir);

    snprintf(ev, sizeof(ev), "%s/events.jsonl", dir);
    cfg_local(&cfg, ev, NULL);
    cfg.model = m0;
    cfg.model_path = base;
    cfg.feeds_endpoint = "tcp://127.0.0.1:*";
    cfg.control_endpoint = "tcp://127.0.0.1:*";
    cfg.archive_dir = arch;
    cr_assert_eq(vg_engine_new(&cfg, &e), 0);
    cr_assert_eq(vg_engine_reload(e, plus, err, sizeof(err)), -ECANCELED, "not started");
    cr_assert_eq(vg_engine_reload(NULL, plus, err, sizeof(err)), -EINVAL);
    cr_assert_eq(vg_engine_start(e), 0);

    submit_now(e, "vigil/testvenue/help/h1", "\"type\":\"medical\"");
    submit_now(e, "vigil/testvenue/sensor/s1", "\"value\":1");
    submit_now(e, "vigil/testvenue/sensor/t9", "\"value\":1");
    cr_assert_eq(unknown_sensor(e), 1, "t9 is not in the first model");
    cr_assert_eq(wait_lines(ev, "\"source\":\"s1\"", 1), 1, "smoke alert on s1");

    /* add t9 (accepted once the switch is through); a second reload waits for the first */
    vg_alert_actor who = {.operator_id = "eng2", .comment = "t9 added", .wall_ns = 42};
    cr_assert_eq(vg_engine_reload_as(e, plus, &who, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(err, "");
    cr_assert_eq(vg_engine_reload(e, plus, err, sizeof(err)), -EBUSY);
    cr_assert_not_null(strstr(err, "in progress"), "%s", err);
    submit_now(e, "vigil/testvenue/sensor/t9", "\"value\":1"); /* broker-less: switches here */
    wait_reloads(e, 1);
    cr_assert_eq(unknown_sensor(e), 1, "t9 taken after the reload");
    cr_assert_geq(wait_lines(ev, "\"source\":\"t9\"", 1), 1, "the event line names t9");
    cr_assert_eq(count_lines(ev, "\"zone\":\"z3\",\"source_type\":\"sensor\",\"source\":\"t9\""),
                 count_lines(ev, "\"source\":\"t9\""), "t9's zone is z3");

    /* refused: the old model stays in force, nothing switches */
    cr_assert_eq(vg_engine_reload(e, bad, err, sizeof(err)), -EINVAL);
    cr_assert_not_null(strstr(err, "bad.cfg:"), "%s", err);
    cr_assert_not_null(strstr(err, "syntax"), "%s", err);
    cr_assert_eq(vg_engine_reload(e, other, err, sizeof(err)), -EINVAL);
    cr_assert_not_null(strstr(err, "venue \"elsewhere\""), "%s", err);
    cr_assert_eq(vg_engine_reload(e, missing, err, sizeof(err)), -ENOENT);
    cr_assert_not_null(strstr(err, "missing.cfg"), "%s", err);
    submit_now(e, "vigil/testvenue/sensor/t9", "\"value\":1");
    cr_assert_eq(unknown_sensor(e), 1);

    /* remove s1: its readings are unknown from the switch on */
    cr_assert_eq(vg_engine_reload(e, minus, err, sizeof(err)), 0, "%s", err);
    submit_now(e, "vigil/testvenue/sensor/s1", "\"value\":0");
    wait_reloads(e, 2);
    cr_assert_eq(unknown_sensor(e), 2, "s1 is gone");

    /* no path: the engine's model file (base: s1 back, t9 gone) */
    cr_assert_eq(vg_engine_reload(e, NULL, err, sizeof(err)), 0, "%s", err);
    submit_now(e, "vigil/testvenue/sensor/t9", "\"value\":1");
    wait_reloads(e, 3);
    cr_assert_eq(unknown_sensor(e), 3, "t9 is gone again");
    submit_now(e, "vigil/testvenue/sensor/s1", "\"value\":1");
    cr_assert_eq(unknown_sensor(e), 3, "s1 is back");

    vg_engine_stop(e);
    cr_assert_eq(vg_engine_reload(e, plus, err, sizeof(err)), -ECANCELED, "stopped");
    vg_engine_stats_get(e, &st);
    vg_engine_free(&e);
    vg_model_free(&m0);
    uint64_t readings = 0, arej = 0;
    for (int k = 0; k < VG_INGEST_SRC_COUNT_; k++)
        readings += st.ingest.readings[k];
    for (int k = 0; k < VG_INGEST_REJECT_SLOTS; k++)
        arej += st.rejects_analysis[k];
    cr_assert_eq(st.processed, readings, "markers are not readings");
    cr_assert_eq(st.accepted + arej, readings);
    cr_assert_eq(st.reloads, 3);

    /* the archive: a model row per reload, and each reload is an audit record */
    char h5[600];
    vg_archive_info info;
    vg_archive_reader *r = open_archive(arch, h5, sizeof(h5), &info);
    uint64_t models = info.count[VG_ARCHIVE_REC_MODEL];
    if (models != 4)
        vg_archive_reader_free(&r);
    cr_assert_eq(models, 4, "the first model and three reloads");
    size_t na = (size_t)info.count[VG_ARCHIVE_REC_ACTION];
    vg_archive_action *acts = calloc(na + 1, sizeof(*acts));
    cr_assert_eq(vg_archive_reader_read(r, VG_ARCHIVE_REC_ACTION, 0, na, acts), 0);
    int reloads = 0, by_eng2 = 0, by_system = 0;
    for (size_t i = 0; i < na; i++) {
        if (strcmp(acts[i].action, "reload") != 0)
            continue;
        reloads++;
        by_eng2 += !strcmp(acts[i].operator_id, "eng2") && !strcmp(acts[i].comment, "t9 added") &&
                   acts[i].wall_ns == 42;
        by_system += !strcmp(acts[i].operator_id, "system") && acts[i].wall_ns == 0;
    }
    free(acts);
    cr_assert_eq(by_eng2, 1, "the first reload names its operator");
    cr_assert_eq(by_system, 2, "the others were system reloads");
    vg_archive_reader_free(&r);
    cr_assert_eq(reloads, 3, "every reload is in the audit trail (%d of %zu actions)", reloads,
                 na);
}

/* On the wall clock a full HDF5 ring loses readings (counted) rather than hold alerting up.
 * A reload's model record is different: without it, every replay and tuning run of the file
 * applies the old model past the switch. The engine waits (briefly) for the archive there. */
Test(engine, wall_clock_reload_reaches_the_archive_even_when_its_ring_is_full)
{
    char base[600], plus[600], err[512], arch[600], h5[600];
    vg_model *m0 = reload_variants(base, plus, arch);
    vg_engine_cfg cfg;
    vg_engine *e;
    vg_engine_stats st;

    cfg_local(&cfg, NULL, NULL);
    cfg.model = m0;
    cfg.model_path = base;
    cfg.archive_dir = arch;
    cfg.hdf5_ring = 16; /* far less than the burst below */
    cr_assert_eq(vg_engine_new(&cfg, &e), 0);
    cr_assert_eq(vg_engine_start(e), 0);
    for (int round = 1; round <= 3; round++) {
        /* A burst the archive cannot keep up with, then a reload at its end. */
        for (int i = 0; i < 3000; i++)
            submit_now(e, "vigil/testvenue/count/cam3", "\"counts\":{\"z3\":20}");
        cr_assert_eq(vg_engine_reload(e, round % 2 ? plus : base, err, sizeof(err)), 0, "%s",
                     err);
        submit_now(e, "vigil/testvenue/count/cam3", "\"counts\":{\"z3\":21}");
        wait_reloads(e, (uint64_t)round);
    }
    vg_engine_stop(e);
    vg_engine_stats_get(e, &st);
    vg_engine_free(&e);
    vg_model_free(&m0);
    cr_assert_gt(st.archive_full, 0, "the ring did overflow (readings lost, counted)");

    vg_archive_info info;
    vg_archive_reader *r = open_archive(arch, h5, sizeof(h5), &info);
    uint64_t models = info.count[VG_ARCHIVE_REC_MODEL];
    vg_archive_reader_free(&r);
    cr_assert_eq(models, 4, "the first model and three reloads (%llu lost records)",
                 (unsigned long long)st.archive_full);
}

/* On the wall clock a burst the HDF5 archive cannot keep up with loses records (counted):
 * the engine raises archive_backlog on the technical feed, and clears it once a check
 * (each second) finds no new loss. */
Test(engine, archive_ring_overflow_raises_archive_backlog_then_clears_it)
{
    vg_engine_cfg cfg;
    vg_engine *e;
    vg_engine_stats st;
    struct backlog b;

    atomic_init(&b.raised, 0);
    atomic_init(&b.cleared, 0);
    atomic_init(&b.density, 0);
    b.message[0] = '\0';
    cfg_local(&cfg, NULL, NULL);
    cfg.archive_dir = dir;
    cfg.hdf5_ring = 16;
    cfg.on_event = on_backlog;
    cfg.on_event_ctx = &b;
    cr_assert_eq(vg_engine_new(&cfg, &e), 0);
    cr_assert_eq(vg_engine_start(e), 0);
    for (int i = 0; i < 3000; i++)
        submit_now(e, "vigil/testvenue/count/cam3", "\"counts\":{\"z3\":20}");
    int64_t end = vg_mono_ns() + 10 * VG_NS_PER_S;
    while ((!atomic_load(&b.raised) || !atomic_load(&b.cleared)) && vg_mono_ns() < end) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    vg_engine_stop(e);
    vg_engine_stats_get(e, &st);
    vg_engine_free(&e);
    cr_assert_gt(st.archive_full, 0, "the burst overflowed the archive ring");
    cr_assert_eq(atomic_load(&b.raised), 1);
    cr_assert_eq(atomic_load(&b.cleared), 1, "cleared once the loss stopped");
    cr_assert_eq(st.technical_alerts, 1);
}

/* ---- ingest_rejects ---- */

/* The engine's ingest_rejects alert as the technical desk sees it. */
struct rejects_alert {
    atomic_int raised, cleared, other_tech;
    uint64_t raise_id, clear_id;
    uint32_t zone;
    double value, threshold;
    char message[VG_ALERT_MESSAGE_MAX], clear_message[VG_ALERT_MESSAGE_MAX];
};

static void on_rejects_alert(void *ctx, const vg_alert_event *ev)
{
    struct rejects_alert *a = ctx;
    if (ev->kind != VG_ALERT_INGEST_REJECTS) {
        if (ev->feed == VG_FEED_TECHNICAL)
            atomic_fetch_add(&a->other_tech, 1);
        return;
    }
    cr_expect_eq(ev->feed, VG_FEED_TECHNICAL);
    if (ev->action == VG_ALERT_ACTION_CLEAR) {
        a->clear_id = ev->id;
        memcpy(a->clear_message, ev->message, sizeof(a->clear_message));
        atomic_fetch_add(&a->cleared, 1);
        return;
    }
    cr_expect_eq(ev->grade, VG_GRADE_WARNING);
    a->raise_id = ev->id;
    a->zone = ev->zone;
    a->value = ev->value;
    a->threshold = ev->threshold;
    memcpy(a->message, ev->message, sizeof(a->message));
    atomic_fetch_add(&a->raised, 1);
}

static void rejects_cfg(vg_engine_cfg *cfg, struct rejects_alert *a)
{
    memset(a, 0, sizeof(*a));
    cfg_local(cfg, NULL, NULL);
    cfg->rejects_window_ns = 200 * VG_NS_PER_MS; /* the default is 10 s */
    cfg->on_event = on_rejects_alert;
    cfg->on_event_ctx = a;
}

static void wait_for_s(atomic_int *what, int want, int seconds)
{
    int64_t end = vg_mono_ns() + seconds * VG_NS_PER_S;
    while (atomic_load(what) < want && vg_mono_ns() < end) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* A device the model does not know publishes once a second; the technical desk hears of it
 * once, with the reason and the topic to look for, and the alert clears when it stops. */
Test(engine, a_stream_of_refusals_raises_ingest_rejects_naming_reason_and_topic_then_clears)
{
    vg_engine_cfg cfg;
    vg_engine *e;
    vg_engine_stats st;
    struct rejects_alert a;

    rejects_cfg(&cfg, &a);
    cr_assert_eq(vg_engine_new(&cfg, &e), 0);
    cr_assert_eq(vg_engine_start(e), 0);
    for (int i = 0; i < 25; i++)
        submit_now(e, "vigil/testvenue/sensor/t99", "\"value\":21");
    wait_for_s(&a.raised, 1, 10);
    submit_now(e, "vigil/testvenue/sensor/t1", "\"value\":21"); /* good readings go on */
    for (int i = 0; i < 25; i++) /* while raised: no second alert */
        submit_now(e, "vigil/testvenue/sensor/t99", "\"value\":21");
    wait_for_s(&a.cleared, 1, 10); /* six quiet windows */
    vg_engine_stop(e);
    vg_engine_stats_get(e, &st);
    vg_engine_free(&e);
    cr_assert_eq(st.ingest.rejects[VG_REJECT_UNKNOWN_SENSOR], 50);
    cr_assert_eq(st.accepted, 1);
    cr_assert_eq(atomic_load(&a.raised), 1, "raised once");
    cr_assert_eq(atomic_load(&a.cleared), 1, "cleared once");
    cr_assert_eq(st.technical_alerts, 1);
    cr_assert_eq(a.clear_id, a.raise_id, "the clear names the alert it ends");
    cr_assert_eq(a.zone, VG_MODEL_NONE, "no zone: an engine-wide alert");
    cr_assert_eq(a.threshold, 10);
    cr_assert_geq(a.value, 10);
    cr_assert_not_null(strstr(a.message, "ingest refused "), "%s", a.message);
    cr_assert_not_null(strstr(a.message, "unknown_sensor "), "%s", a.message);
    cr_assert_not_null(strstr(a.message, "last: vigil/testvenue/sensor/t99"), "%s", a.message);
    cr_assert_not_null(strstr(a.clear_message, "back to normal (50 refused while raised)"), "%s",
                       a.clear_message);
}

/* Fewer refusals than the limit in every window, a value outside a sensor's range (its own
 * sensor_range alert says so) and duplicates (a QoS 1 redelivery) raise nothing; neither does
 * anything with the alert turned off. */
Test(engine, rare_refusals_out_of_range_and_duplicates_do_not_raise_ingest_rejects)
{
    vg_engine_cfg cfg;
    vg_engine *e;
    vg_engine_stats st;
    struct rejects_alert a;
    char msg[160];
    rejects_cfg(&cfg, &a);
    cr_assert_eq(vg_engine_new(&cfg, &e), 0);
    cr_assert_eq(vg_engine_start(e), 0);
    for (int w = 0; w < 4; w++) { /* 5 a window, under the limit of 10 */
        for (int i = 0; i < 5; i++)
            cr_assert_eq(vg_engine_submit(e, "vigil/testvenue/sensor/t1", "{oops", 5,
                                          vg_wall_ns()), 0);
        usleep(220 * 1000);
    }
    /* Ahead of the clock (within --max-future), so all wait in the reorder buffer. */
    const int64_t t = (vg_wall_ns() / VG_NS_PER_S + 5) * VG_NS_PER_S;
    for (int i = 0; i < 30; i++) { /* out of range: -40..80 */
        submit_now(e, "vigil/testvenue/sensor/t1", "\"value\":500");
        int n = snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld,\"value\":21}",
                         (long long)(t / VG_NS_PER_S));
        cr_assert_eq(vg_engine_submit(e, "vigil/testvenue/sensor/t1", msg, (size_t)n,
                                      vg_wall_ns()), 0);
    }
    usleep(600 * 1000); /* three windows */
    vg_engine_stop(e);
    vg_engine_stats_get(e, &st);
    vg_engine_free(&e);
    cr_assert_eq(st.ingest.rejects[VG_REJECT_MALFORMED], 20);
    cr_assert_eq(st.rejects[VG_REJECT_OUT_OF_RANGE], 30);
    cr_assert_eq(st.rejects[VG_REJECT_DUPLICATE], 29, "one taken, 29 duplicates");
    cr_assert_eq(atomic_load(&a.raised), 0, "%s", a.message);
    cr_assert_eq(st.technical_alerts, 0);

    /* Off: 50 refusals at once, nothing raised. */
    rejects_cfg(&cfg, &a);
    cfg.rejects_alert = 0;
    cr_assert_eq(vg_engine_new(&cfg, &e), 0);
    cr_assert_eq(vg_engine_start(e), 0);
    for (int i = 0; i < 50; i++)
        submit_now(e, "vigil/testvenue/sensor/t99", "\"value\":21");
    usleep(600 * 1000);
    vg_engine_stop(e);
    vg_engine_stats_get(e, &st);
    vg_engine_free(&e);
    cr_assert_eq(st.ingest.rejects[VG_REJECT_UNKNOWN_SENSOR], 50);
    cr_assert_eq(atomic_load(&a.raised), 0);
    cr_assert_eq(st.technical_alerts, 0);
}

/* A sensor that sends once a minute with a wrong clock never reaches the limit in one
 * window; refusals in 6 of the last 60 windows raise the alert all the same, and it clears
 * once they have left that horizon. Windows of 200 ms here: a horizon of 12 s. */
Test(engine, a_slow_stream_of_refusals_raises_ingest_rejects_too)
{
    vg_engine_cfg cfg;
    vg_engine *e;
    vg_engine_stats st;
    struct rejects_alert a;

    rejects_cfg(&cfg, &a);
    cr_assert_eq(vg_engine_new(&cfg, &e), 0);
    cr_assert_eq(vg_engine_start(e), 0);
    for (int k = 0; k < 8 && !atomic_load(&a.raised); k++) {
        submit_now(e, "vigil/testvenue/sensor/t99", "\"value\":21");
        usleep(300 * 1000); /* one a window or so: never 10 in one */
    }
    wait_for_s(&a.raised, 1, 10);
    const int raised = atomic_load(&a.raised);
    wait_for_s(&a.cleared, 1, 20);
    vg_engine_stop(e);
    vg_engine_stats_get(e, &st);
    vg_engine_free(&e);
    cr_assert_eq(raised, 1, "raised by persistence");
    cr_assert_not_null(strstr(a.message, "ingest keeps refusing"), "%s", a.message);
    cr_assert_not_null(strstr(a.message, "unknown_sensor 1"), "%s", a.message);
    cr_assert_eq(atomic_load(&a.cleared), 1, "cleared once they left the horizon");
    cr_assert_leq(st.ingest.rejects[VG_REJECT_UNKNOWN_SENSOR], 8);
}

/* A device 5 min slow is refused by the core, not at ingest (within --max-age): the alert
 * names it, not the last device refused at ingest before it. */
Test(engine, ingest_rejects_names_the_device_the_core_refused)
{
    vg_engine_cfg cfg;
    vg_engine *e;
    struct rejects_alert a;
    char msg[160];

    rejects_cfg(&cfg, &a);
    cr_assert_eq(vg_engine_new(&cfg, &e), 0);
    cr_assert_eq(vg_engine_start(e), 0);
    submit_now(e, "vigil/testvenue/sensor/t99", "\"value\":21"); /* one at ingest first */
    usleep(100 * 1000);
    const int64_t slow = vg_wall_ns() / VG_NS_PER_S - 300;
    for (int k = 0; k < 30; k++) { /* a window boundary may split them: one half is 15 */
        int n = snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld,\"value\":21}",
                         (long long)(slow + k));
        cr_assert_eq(vg_engine_submit(e, "vigil/testvenue/sensor/t1", msg, (size_t)n,
                                      vg_wall_ns()),
                     0);
    }
    wait_for_s(&a.raised, 1, 10);
    vg_engine_stop(e);
    vg_engine_free(&e);
    cr_assert_eq(atomic_load(&a.raised), 1);
    cr_assert_not_null(strstr(a.message, "too_old "), "%s", a.message);
    cr_assert_not_null(strstr(a.message, "last: sensor t1"), "%s", a.message);
}

/* On the event clock the first reading sets the clock unchecked. One with a wrong stamp
 * (2090) makes every later reading too_old, and none of them reaches the analysis thread:
 * the alert still comes, and names the clock. */
Test(engine, a_wrong_first_stamp_on_the_event_clock_raises_ingest_rejects_naming_the_clock)
{
    vg_engine_cfg cfg;
    vg_engine *e;
    vg_engine_stats st;
    struct rejects_alert a;
    char msg[160];
    const int64_t t0 = (vg_wall_ns() / VG_NS_PER_S - 3600) * VG_NS_PER_S;

    rejects_cfg(&cfg, &a);
    cfg.event_clock = 1;
    cr_assert_eq(vg_engine_new(&cfg, &e), 0);
    cr_assert_eq(vg_engine_start(e), 0);
    const char *bogus = "{\"v\":1,\"ts\":3786912000,\"value\":21}"; /* 2090-01-01 */
    cr_assert_eq(vg_engine_submit(e, "vigil/testvenue/sensor/t1", bogus, strlen(bogus),
                                  vg_wall_ns()), 0);
    for (int s = 0; s < 20; s++) {
        int n = snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld,\"value\":21}",
                         (long long)(t0 / VG_NS_PER_S + s));
        cr_assert_eq(vg_engine_submit(e, "vigil/testvenue/sensor/t1", msg, (size_t)n,
                                      vg_wall_ns()), 0);
    }
    wait_for_s(&a.raised, 1, 10);
    const int live = atomic_load(&a.raised); /* while running, not at the stop */
    vg_engine_stop(e);
    vg_engine_stats_get(e, &st);
    vg_engine_free(&e);
    cr_assert_eq(st.ingest.rejects[VG_REJECT_TOO_OLD], 20);
    cr_assert_eq(live, 1, "raised while no reading reached the analysis thread");
    cr_assert_not_null(strstr(a.message, "too_old 20"), "%s", a.message);
    cr_assert_not_null(strstr(a.message, "event clock at 2090-01-01T00:00:00Z"), "%s",
                       a.message);
}

/* ---- the archive on the event clock; alert ids across runs ---- */

Test(engine, event_clock_waits_for_a_slow_archive_instead_of_losing_records)
{
    vg_engine_cfg cfg;
    vg_engine *e;
    vg_engine_stats st;
    char path[600], msg[160];
    int64_t day0 = (vg_wall_ns() / VG_NS_PER_S - 86400) * VG_NS_PER_S;
    enum { N = 600 };

    cfg_local(&cfg, NULL, NULL);
    cfg.event_clock = 1;
    cfg.tick_ns = VG_NS_PER_S;
    cfg.archive_dir = dir;
    cfg.hdf5_ring = 16; /* two ticks' records: the burst below cannot fit */
    cr_assert_eq(vg_engine_new(&cfg, &e), 0);
    cr_assert_eq(vg_engine_start(e), 0);
    /* Ten minutes of a day-old stream, as fast as it can be submitted (a backlog). */
    for (int s = 0; s < N; s++) {
        int n = snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld,\"counts\":{\"z3\":%d}}",
                         (long long)(day0 / VG_NS_PER_S + s), 20 + s % 7);
        cr_assert_eq(vg_engine_submit(e, "vigil/testvenue/count/cam3", msg, (size_t)n,
                                      vg_wall_ns()), 0);
    }
    vg_engine_stop(e);
    vg_engine_stats_get(e, &st);
    vg_engine_free(&e);
    cr_assert_eq(st.archive_full, 0, "nothing lost: the analysis thread waited");
    cr_assert_eq(st.technical_alerts, 0, "so no archive_backlog alert either");
    vg_archive_info info;
    vg_archive_reader *r = open_archive(dir, path, sizeof(path), &info);
    cr_assert_eq(info.count[VG_ARCHIVE_REC_READING], N);
    cr_assert_eq(info.count[VG_ARCHIVE_REC_TICK], st.ticks);
    cr_assert_eq(info.count[VG_ARCHIVE_REC_METRICS], st.ticks * 3);
    cr_assert_eq(info.lost, 0);
    vg_archive_reader_free(&r);
}

/* vigil run --archive-rotate: a new file at each multiple of the period of event time (the
 * fixture's venue is at UTC+0), and the files together hold every reading once. */
Test(engine, archive_rotates_at_each_period_of_event_time)
{
    vg_engine_cfg cfg;
    vg_engine *e;
    char names[8][512], msg[160];
    uint64_t readings = 0;
    const int64_t day0 = (vg_wall_ns() / VG_NS_PER_S / 86400 - 1) * 86400; /* a midnight */
    enum { N = 150 };

    cfg_local(&cfg, NULL, NULL);
    cfg.event_clock = 1;
    cfg.tick_ns = VG_NS_PER_S;
    cfg.archive_dir = dir;
    cfg.archive_rotate_ns = 60 * VG_NS_PER_S;
    cr_assert_eq(vg_engine_new(&cfg, &e), 0);
    cr_assert_eq(vg_engine_start(e), 0);
    for (int s = 0; s < N; s++) { /* 00:00:00 to 00:02:29: three minutes begun */
        int n = snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld,\"counts\":{\"z3\":%d}}",
                         (long long)(day0 + s), 20 + s % 7);
        cr_assert_eq(vg_engine_submit(e, "vigil/testvenue/count/cam3", msg, (size_t)n,
                                      vg_wall_ns()), 0);
    }
    vg_engine_stop(e);
    vg_engine_free(&e);
    cr_assert_eq(list_archives(dir, names, 8), 3);
    for (int i = 0; i < 3; i++) {
        vg_archive_reader *r;
        vg_archive_info info;

        cr_assert_eq(vg_archive_reader_open(names[i], &r), 0);
        vg_archive_reader_info(r, &info);
        cr_assert_eq(info.file_index, (uint32_t)i);
        readings += info.count[VG_ARCHIVE_REC_READING];
        vg_archive_reader_free(&r);
    }
    cr_assert_eq(readings, N);
}

/* Two engines archiving into one directory would continue the same alert ids and interleave
 * their files: the second is refused, naming the directory, until the first is gone. */
Test(engine, a_second_engine_on_the_same_archive_is_refused)
{
    vg_engine_cfg cfg;
    vg_engine *a = NULL, *b = NULL;
    char text[2048];
    int saved;

    cfg_local(&cfg, NULL, NULL);
    cfg.archive_dir = dir;
    cr_assert_eq(vg_engine_new(&cfg, &a), 0);
    saved = stderr_to();
    const int r = vg_engine_new(&cfg, &b);
    stderr_back(saved, text, sizeof(text));
    cr_assert_eq(r, -EBUSY);
    cr_assert_null(b);
    cr_assert_not_null(strstr(text, "another engine is archiving into it"), "%s", text);
    cr_assert_not_null(strstr(text, dir), "%s", text);
    vg_engine_free(&a);
    cr_assert_eq(vg_engine_new(&cfg, &b), 0, "free once the first is gone");
    vg_engine_free(&b);
}

static void on_help_id(void *ctx, const vg_alert_event *ev)
{
    if (ev->kind == VG_ALERT_HELP_MEDICAL && ev->action == VG_ALERT_ACTION_RAISE)
        *(uint64_t *)ctx = ev->id;
}

/* One run in dir: a help press, the id of its alert. */
static uint64_t help_alert_id_of_a_run(void)
{
    vg_engine_cfg cfg;
    uint64_t id = 0;

    cfg_local(&cfg, NULL, NULL);
    cfg.archive_dir = dir;
    cfg.on_event = on_help_id;
    cfg.on_event_ctx = &id;
    run_help_press(&cfg);
    return id;
}

Test(engine, alert_ids_go_on_across_restarts_with_an_archive)
{
    uint64_t first = help_alert_id_of_a_run();
    cr_assert_eq(first, 1);
    uint64_t second = help_alert_id_of_a_run();
    cr_assert_eq(second, 2, "the restarted engine goes on from the archive, not from 1");
}

/* An archive file the next run cannot read (damaged) may hold alert ids; the engine goes on
 * from the readable ones and says at start that ids may repeat, naming the directory. */
Test(engine, an_unreadable_archive_file_is_reported_at_start)
{
    char path[600], text[2048] = "";
    FILE *f;
    int saved;
    uint64_t id;

    cr_assert_eq(help_alert_id_of_a_run(), 1);
    snprintf(path, sizeof(path), "%s/vigil-20990101T000000Z-0.h5", dir);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("a damaged file", f);
    fclose(f);
    saved = stderr_to();
    id = help_alert_id_of_a_run();
    stderr_back(saved, text, sizeof(text));
    cr_assert_eq(id, 2, "ids go on after the readable file");
    cr_assert_not_null(strstr(text, "1 archive file(s)"), "%s", text);
    cr_assert_not_null(strstr(text, dir), "%s", text);
    cr_assert_not_null(strstr(text, "may repeat"), "%s", text);
}

/* ---- a step of the wall clock ---- */

static _Atomic int64_t clock_step;

static int64_t stepped_clock(void)
{
    return vg_wall_ns() + atomic_load(&clock_step);
}

/* One t1 reading stamped and received at the stepped clock's now. */
static void submit_stepped(vg_engine *e)
{
    char msg[128];
    const int64_t t = stepped_clock();
    const int n = snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld.%09lld,\"value\":21}",
                           (long long)(t / VG_NS_PER_S), (long long)(t % VG_NS_PER_S));

    cr_assert_eq(vg_engine_submit(e, "vigil/testvenue/sensor/t1", msg, (size_t)n, t), 0);
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* NTP may step the clock after the engine started (a service started before time sync).
 * Ingest judges readings by the clock at receipt, so the ticks must follow the step, or
 * every later reading is refused as too far ahead (forward) or too old (backward). */
Test(engine, ticks_follow_a_step_of_the_wall_clock)
{
    static const int64_t steps[] = {3600 * VG_NS_PER_S, -3 * VG_NS_PER_S};

    for (size_t k = 0; k < 2; k++) {
        vg_engine_cfg cfg;
        vg_engine *e;
        vg_engine_stats st;

        atomic_store(&clock_step, 0);
        cfg_local(&cfg, NULL, NULL);
        cfg.wall_clock = stepped_clock;
        cr_assert_eq(vg_engine_new(&cfg, &e), 0);
        cr_assert_eq(vg_engine_start(e), 0);
        for (int i = 0; i < 3; i++)
            submit_stepped(e);
        atomic_store(&clock_step, steps[k]);
        /* Forward: the next tick catches up. Backward: the readings are 3 s behind the last
         * tick, more than the 2 s lateness, until the clock has run 1 s on. */
        struct timespec ts = {steps[k] > 0 ? 0 : 1, 500 * 1000 * 1000};
        nanosleep(&ts, NULL);
        for (int i = 0; i < 5; i++)
            submit_stepped(e);
        vg_engine_stop(e);
        vg_engine_stats_get(e, &st);
        vg_engine_free(&e);
        cr_expect_eq(st.rejects_total, 0, "step %+lld s: %llu refused (too old %llu, too far "
                     "ahead %llu)", (long long)(steps[k] / VG_NS_PER_S),
                     (unsigned long long)st.rejects_total,
                     (unsigned long long)st.rejects[VG_REJECT_TOO_OLD],
                     (unsigned long long)st.rejects[VG_REJECT_TOO_FAR_FUTURE]);
        cr_expect_eq(st.accepted, 8);
    }
}

/* Frigate's counts carry no timestamp; on the event clock they take the event clock's time.
 * Two of them between native readings must not share it (the core refuses duplicates). */
Test(engine, event_clock_stamps_each_untimed_count_apart)
{
    vg_engine_cfg cfg;
    vg_engine *e;
    vg_engine_stats st;
    const int64_t now = vg_wall_ns();
    char msg[128];
    int n;

    cfg_local(&cfg, NULL, NULL);
    cfg.event_clock = 1;
    cr_assert_eq(vg_engine_new(&cfg, &e), 0);
    cr_assert_eq(vg_engine_start(e), 0);
    n = snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld,\"value\":20}",
                 (long long)(now / VG_NS_PER_S));
    cr_assert_eq(vg_engine_submit(e, "vigil/testvenue/sensor/t1", msg, (size_t)n, now), 0);
    for (int i = 0; i < 5; i++) {
        n = snprintf(msg, sizeof(msg), "%d", 10 + i);
        cr_assert_eq(vg_engine_submit(e, "frigate/fz1/person", msg, (size_t)n,
                                      now + (i + 1) * VG_NS_PER_S), 0);
    }
    vg_engine_stop(e);
    vg_engine_stats_get(e, &st);
    vg_engine_free(&e);
    cr_expect_eq(st.ingest.readings[VG_INGEST_SRC_FRIGATE], 5);
    cr_expect_eq(st.rejects_analysis[VG_REJECT_DUPLICATE], 0);
    cr_expect_eq(st.accepted, 6);
}

/* The worst reject line: a topic of non-ASCII bytes and a control-byte payload, both escaped
 * as \u00XX, six bytes for each. It is the hostile input the log is for: it must be there. */
Test(engine, the_longest_reject_line_is_written_whole)
{
    vg_engine_cfg cfg;
    vg_engine *e;
    vg_engine_stats st;
    char rj[512], topic[VG_INGEST_REJECT_TOPIC_MAX + 64];
    unsigned char payload[VG_INGEST_REJECT_PAYLOAD_MAX + 60];
    size_t tl = (size_t)snprintf(topic, sizeof(topic), "vigil/testvenue/sensor/");

    while (tl < sizeof(topic) - 1)
        topic[tl++] = (char)0xe9; /* Latin-1 é: not UTF-8, escaped */
    topic[tl] = '\0';
    memset(payload, 0x01, sizeof(payload));
    snprintf(rj, sizeof(rj), "%s/rejects.jsonl", dir);
    cfg_local(&cfg, NULL, rj);
    cr_assert_eq(vg_engine_new(&cfg, &e), 0);
    cr_assert_eq(vg_engine_start(e), 0);
    cr_assert_eq(vg_engine_submit(e, topic, payload, sizeof(payload), vg_wall_ns()), 0);
    vg_engine_stop(e);
    vg_engine_stats_get(e, &st);
    vg_engine_free(&e);
    cr_assert_eq(st.rejects_total, 1);
    cr_assert_eq(st.reject_log_written, 1);
    cr_assert_eq(count_lines(rj, "\"payload_excerpt\":\"\\u0001"), 1, "the line is in the log");
    cr_assert_eq(count_lines(rj, "\\u0001\"}"), 1, "and ends with the whole excerpt");
}
