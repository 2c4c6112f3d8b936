/* Unit tests of the live engine without a broker: messages submitted on the ingest side go
 * through the readings ring to the analysis thread, alert events come out as JSON lines,
 * refusals land in the reject log, and every counter adds up. Also the event JSON format and
 * the metrics text, checked field by field. */
#include "vigil/common.h"
#include "vigil/engine.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static int count_lines(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    char line[8192];
    int n = 0;
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (!needle || strstr(line, needle))
            n++;
    fclose(f);
    return n;
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

Test(engine, help_press_comes_out_as_a_medical_event_line)
{
    char ev[300], msg[128];
    vg_engine_cfg cfg;
    vg_engine *e;
    struct seen seen = {0};
    int64_t now = vg_wall_ns();

    snprintf(ev, sizeof(ev), "%s/events.jsonl", dir);
    cfg_local(&cfg, ev, NULL);
    cfg.on_event = on_event;
    cfg.on_event_ctx = &seen;
    cr_assert_eq(vg_engine_new(&cfg, &e), 0);
    cr_assert_eq(vg_engine_start(e), 0);
    int n = snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld,\"type\":\"medical\"}",
                     (long long)(now / VG_NS_PER_S));
    cr_assert_eq(vg_engine_submit(e, "vigil/testvenue/help/h1", msg, (size_t)n, now), 0);
    vg_engine_stop(e);
    vg_engine_free(&e);
    cr_assert_eq(seen.help_medical, 1);
    cr_assert_str_eq(seen.zone, "z1");
    cr_assert_eq(seen.feed, VG_FEED_MEDICAL);
    cr_assert_eq(count_lines(ev, "\"kind\":\"help_medical\""), 1);
    cr_assert_eq(count_lines(ev, "\"topic\":\"medical."), 1);
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
