/* Unit tests of the analysis core, on a small venue written to a temp file at setup:
 *
 *   conc  moving,   100 m², capacity 400, camera cam-c (coverage 1.0)
 *   hall  standing, 1000 m², capacity 4000, cameras cam-h1 (0.5) and cam-h2 (0.25)
 *   stair stair,    50 m², no camera
 *   door  counting line conc -> hall, 2.0 m wide (level: 82 p/m/min reference)
 *   sensors wbgt (hall, period 10 s), co2 (conc, 10 s), noise (hall, 1 s),
 *           temperature t1 (conc), t2 and t3 (hall), 60 s
 *   help point hp in conc
 *
 * Limits are the model's DESIGN defaults (moving density 2/3/4/5 p/m², deadband 0.3,
 * on-delay 20 s, off-delay 30 s; ...) unless a test's model says otherwise. Event time starts
 * at T0; every expectation below is worked out by hand in the test's comment. */
#include <criterion/criterion.h>

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/analysis.h"
#include "vigil/common.h"
#include "vigil/detect.h"

#define S INT64_C(1000000000)
#define T0 (INT64_C(1779456000) * S)
#define MAX_EVENTS 4096

enum { Z_CONC = 0, Z_HALL, Z_STAIR };
enum { C_CONC = 0, C_H1, C_H2 };
enum { S_WBGT = 0, S_CO2, S_NOISE, S_T1, S_T2, S_T3 };

static const char *base_model =
    "venue = { id = \"t\"; name = \"T\"; default_profile = \"default\"; };\n"
    "profiles = ( { id = \"default\"; },\n"
    "  { id = \"twitchy\"; base = \"default\";\n"
    "    density = { moving = { deadband = 0.0; on_delay_s = 0; off_delay_s = 0; }; }; } );\n"
    "zones = (\n"
    "  { id = \"conc\"; type = \"moving\"; area_m2 = 100; capacity = 400;\n"
    "    neighbours = [ \"hall\" ]; %s },\n"
    "  { id = \"hall\"; type = \"standing\"; area_m2 = 1000; capacity = 4000;\n"
    "    neighbours = [ \"conc\" ]; },\n"
    "  { id = \"stair\"; type = \"stair\"; area_m2 = 50; }\n"
    ");\n"
    "lines = ( { id = \"door\"; width_m = 2.0; from = \"conc\"; to = \"hall\"; } );\n"
    "cameras = (\n"
    "  { id = \"cam-c\"; period_s = 1; zones = ( { zone = \"conc\"; coverage = 1.0; } ); },\n"
    "  { id = \"cam-h1\"; period_s = 1; zones = ( { zone = \"hall\"; coverage = 0.5; } ); },\n"
    "  { id = \"cam-h2\"; period_s = 1; zones = ( { zone = \"hall\"; coverage = 0.25; } ); }\n"
    ");\n"
    "sensors = (\n"
    "  { id = \"wbgt\"; kind = \"wbgt\"; unit = \"degC\"; zone = \"hall\"; min = -10; max = 60;\n"
    "    period_s = 10; },\n"
    "  { id = \"co2\"; kind = \"co2\"; zone = \"conc\"; min = 300; max = 10000; period_s = 10; },\n"
    "  { id = \"noise\"; kind = \"noise\"; unit = \"dBA\"; zone = \"hall\"; min = 30; max = 140;\n"
    "    period_s = 1; sensitivity = 1.0; },\n"
    "  { id = \"t1\"; kind = \"temperature\"; zone = \"conc\"; min = -30; max = 60; period_s = 60; "
    "},\n"
    "  { id = \"t2\"; kind = \"temperature\"; zone = \"hall\"; min = -30; max = 60; period_s = 60; "
    "},\n"
    "  { id = \"t3\"; kind = \"temperature\"; zone = \"hall\"; min = -30; max = 60; period_s = 60; "
    "}\n"
    ");\n"
    "help_points = ( { id = \"hp\"; zone = \"conc\"; } );\n";

static vg_model *model;
static vg_analysis *an;
static char model_path[64];

/* what the sink saw */
static vg_alert_event events[MAX_EVENTS];
static size_t n_events;
static vg_zone_metrics last_metrics[8];
static size_t n_metrics_calls, last_metrics_n;
static int64_t last_metrics_t;
static enum vg_reject late_rejects[16];
static size_t n_late_rejects;

static void on_alert(void *ctx, const vg_alert_event *ev)
{
    (void)ctx;
    cr_assert_lt(n_events, MAX_EVENTS);
    events[n_events++] = *ev;
}

static void on_metrics(void *ctx, int64_t t_ns, const vg_zone_metrics *m, size_t n)
{
    (void)ctx;
    n_metrics_calls++;
    last_metrics_t = t_ns;
    last_metrics_n = n;
    memcpy(last_metrics, m, (n < 8 ? n : 8) * sizeof(*m));
}

static void on_reject(void *ctx, const vg_reading *r, enum vg_reject why)
{
    (void)ctx;
    (void)r;
    if (n_late_rejects < 16)
        late_rejects[n_late_rejects++] = why;
}

static void load_text(const char *text)
{
    vg_model_error err;
    FILE *f;
    int fd;

    snprintf(model_path, sizeof(model_path), "/tmp/vg-test-analysis-XXXXXX");
    fd = mkstemp(model_path);
    cr_assert_geq(fd, 0);
    f = fdopen(fd, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    cr_assert_eq(vg_model_load(model_path, &model, &err), 0, "%s:%d: %s: %s", err.file, err.line,
                 err.key, err.message);
}

static void load_model(const char *conc_extra)
{
    static char text[8192];

    snprintf(text, sizeof(text), base_model, conc_extra ? conc_extra : "");
    load_text(text);
}

static void start_loaded(int64_t lateness_ns, int anomaly)
{
    vg_analysis_cfg cfg;

    vg_analysis_cfg_default(&cfg);
    cfg.sink.on_alert = on_alert;
    cfg.sink.on_metrics = on_metrics;
    cfg.sink.on_reject = on_reject;
    cfg.lateness_ns = lateness_ns;
    cfg.anomaly = anomaly;
    cr_assert_eq(vg_analysis_new(model, &cfg, &an), 0);
}

static void start(const char *conc_extra, int64_t lateness_ns, int anomaly)
{
    load_model(conc_extra);
    start_loaded(lateness_ns, anomaly);
}

static void setup(void)
{
    n_events = n_metrics_calls = last_metrics_n = n_late_rejects = 0;
    model = NULL;
    an = NULL;
    model_path[0] = 0;
}

static void teardown(void)
{
    vg_analysis_free(&an);
    vg_model_free(&model);
    if (model_path[0])
        unlink(model_path);
}

TestSuite(analysis, .init = setup, .fini = teardown, .timeout = 30);

/* ---- helpers ---- */

static vg_reading rd(enum vg_reading_type type, uint32_t source, uint32_t zone, int64_t t, double v,
                     double v2)
{
    vg_reading r;

    memset(&r, 0, sizeof(r));
    r.type = (uint8_t)type;
    r.source = source;
    r.zone = zone;
    r.t_ns = t;
    r.value = v;
    r.value2 = v2;
    return r;
}

static int push(vg_reading r)
{
    return vg_analysis_push(an, &r);
}

static void count(uint32_t cam, uint32_t zone, int64_t t, double n)
{
    cr_assert_eq(push(rd(VG_READING_COUNT, cam, zone, t, n, 0)), 0);
}

static void sensor(uint32_t s, int64_t t, double v)
{
    cr_assert_eq(push(rd(VG_READING_SENSOR, s, 0, t, v, 0)), 0);
}

static void tick(int64_t t)
{
    cr_assert_eq(vg_analysis_tick(an, t), 0);
}

/* The index of the n-th event (0-based) of this kind, or -1. */
static long find_event(uint8_t kind, size_t nth)
{
    for (size_t i = 0; i < n_events; i++)
        if (events[i].kind == kind && nth-- == 0)
            return (long)i;
    return -1;
}

static size_t count_events(uint8_t kind)
{
    size_t n = 0;

    for (size_t i = 0; i < n_events; i++)
        n += events[i].kind == kind;
    return n;
}

/* Each second from `from` to `to` (inclusive, relative to T0): the conc camera sees `n`
 * persons, then a tick at that second. */
static void hold_conc(int from, int to, double n)
{
    for (int i = from; i <= to; i++) {
        count(C_CONC, Z_CONC, T0 + i * S, n);
        tick(T0 + i * S);
    }
}

/* ---- names and pure functions ---- */

Test(analysis, reject_names_are_stable_snake_case)
{
    static const char *want[VG_REJECT_COUNT] = {
        "none",           "malformed",          "oversized",    "wrong_type",     "not_finite",
        "negative_count", "unknown_topic",      "unknown_zone", "unknown_sensor", "unknown_camera",
        "unknown_line",   "unknown_help_point", "out_of_range", "too_old",        "too_far_future",
        "duplicate",      "bad_version"};

    for (int i = 0; i < VG_REJECT_COUNT; i++)
        cr_expect_str_eq(vg_reject_name((enum vg_reject)i), want[i]);
    cr_expect_str_eq(vg_reject_name(VG_REJECT_COUNT), "unknown");
    cr_expect_str_eq(vg_reject_name((enum vg_reject) - 1), "unknown");
}

Test(analysis, enum_names_and_parsers_round_trip)
{
    enum vg_help_type h = VG_HELP_OTHER;
    enum vg_camera_status c = VG_CAMERA_OK;

    cr_expect_str_eq(vg_reading_type_name(VG_READING_CAMERA_HEALTH), "camera_health");
    cr_expect_str_eq(vg_reading_type_name(VG_READING_TYPE_END), "unknown");
    cr_expect_str_eq(vg_alert_action_name(VG_ALERT_ACTION_CLEAR), "clear");
    cr_expect_str_eq(vg_source_type_name(VG_SOURCE_HELP_POINT), "help_point");
    cr_expect_eq(vg_help_type_parse("fire", &h), 0);
    cr_expect_eq(h, VG_HELP_FIRE);
    cr_expect_str_eq(vg_help_type_name(h), "fire");
    cr_expect_eq(vg_help_type_parse("Fire", &h), -EINVAL);
    cr_expect_eq(h, VG_HELP_FIRE, "untouched on error");
    cr_expect_eq(vg_help_type_parse(NULL, &h), -EINVAL);
    cr_expect_eq(vg_camera_status_parse("covered", &c), 0);
    cr_expect_eq(c, VG_CAMERA_COVERED);
    cr_expect_eq(vg_camera_status_parse("broken", &c), -EINVAL);
    cr_expect_str_eq(vg_camera_status_name(VG_CAMERA_STOPPED), "stopped");
}

Test(analysis, fruin_los_uses_the_zone_types_table)
{
    /* walkway: A < 0.31 <= B < 0.43 <= C < 0.72 <= D < 1.08 <= E < 2.17 <= F */
    cr_expect_eq(vg_fruin_los(VG_ZONE_MOVING, 0.0), 'A');
    cr_expect_eq(vg_fruin_los(VG_ZONE_MOVING, 0.30), 'A');
    cr_expect_eq(vg_fruin_los(VG_ZONE_MOVING, 0.31), 'B');
    cr_expect_eq(vg_fruin_los(VG_ZONE_MOVING, 1.0), 'D');
    cr_expect_eq(vg_fruin_los(VG_ZONE_MOVING, 2.17), 'F');
    cr_expect_eq(vg_fruin_los(VG_ZONE_MOVING, 3.5), 'F');
    /* stairs: D from 1.08, E from 1.54, F from 2.69 (DESIGN's stair grades) */
    cr_expect_eq(vg_fruin_los(VG_ZONE_STAIR, 1.07), 'C');
    cr_expect_eq(vg_fruin_los(VG_ZONE_STAIR, 1.08), 'D');
    cr_expect_eq(vg_fruin_los(VG_ZONE_STAIR, 1.54), 'E');
    cr_expect_eq(vg_fruin_los(VG_ZONE_STAIR, 2.69), 'F');
    /* queueing: E from 3.57, F from 5.26 */
    cr_expect_eq(vg_fruin_los(VG_ZONE_STANDING, 3.5), 'D');
    cr_expect_eq(vg_fruin_los(VG_ZONE_QUEUE, 3.57), 'E');
    cr_expect_eq(vg_fruin_los(VG_ZONE_SEATED, 6.0), 'F');
    cr_expect_eq(vg_fruin_los(VG_ZONE_MOVING, NAN), '-');
    cr_expect_eq(vg_fruin_los(VG_ZONE_MOVING, -1.0), '-');
}

Test(analysis, reading_check_refuses_each_bad_reading_with_its_reason)
{
    load_model(NULL);
    cr_expect_eq(vg_reading_check(model, NULL), VG_REJECT_MALFORMED);
    vg_reading r = rd(VG_READING_SENSOR, 99, 0, T0, 1, 0);
    cr_expect_eq(vg_reading_check(model, &r), VG_REJECT_UNKNOWN_SENSOR);
    r = rd(VG_READING_SENSOR, S_WBGT, 0, T0, NAN, 0);
    cr_expect_eq(vg_reading_check(model, &r), VG_REJECT_NOT_FINITE);
    r = rd(VG_READING_SENSOR, S_WBGT, 0, T0, INFINITY, 0);
    cr_expect_eq(vg_reading_check(model, &r), VG_REJECT_NOT_FINITE);
    r = rd(VG_READING_SENSOR, S_WBGT, 0, T0, 60.5, 0); /* max 60 */
    cr_expect_eq(vg_reading_check(model, &r), VG_REJECT_OUT_OF_RANGE);
    r = rd(VG_READING_SENSOR, S_WBGT, 0, T0, 60.0, 0); /* the bound itself is valid */
    cr_expect_eq(vg_reading_check(model, &r), VG_REJECT_NONE);
    r = rd(VG_READING_COUNT, 7, Z_CONC, T0, 1, 0);
    cr_expect_eq(vg_reading_check(model, &r), VG_REJECT_UNKNOWN_CAMERA);
    r = rd(VG_READING_COUNT, C_CONC, Z_HALL, T0, 1, 0); /* cam-c does not see the hall */
    cr_expect_eq(vg_reading_check(model, &r), VG_REJECT_UNKNOWN_ZONE);
    r = rd(VG_READING_COUNT, C_CONC, Z_CONC, T0, -1, 0);
    cr_expect_eq(vg_reading_check(model, &r), VG_REJECT_NEGATIVE_COUNT);
    r = rd(VG_READING_SPEED_VAR, C_CONC, Z_CONC, T0, NAN, 0);
    cr_expect_eq(vg_reading_check(model, &r), VG_REJECT_NOT_FINITE);
    r = rd(VG_READING_SPEED_VAR, C_CONC, Z_CONC, T0, -0.01, 0); /* as ingest refuses it */
    cr_expect_eq(vg_reading_check(model, &r), VG_REJECT_OUT_OF_RANGE);
    r = rd(VG_READING_LINE, 3, 0, T0, 1, 1);
    cr_expect_eq(vg_reading_check(model, &r), VG_REJECT_UNKNOWN_LINE);
    r = rd(VG_READING_LINE, 0, 0, T0, 1, -2);
    cr_expect_eq(vg_reading_check(model, &r), VG_REJECT_NEGATIVE_COUNT);
    /* a million is the ceiling: 1e308 crossings would swamp the zone's totals for good */
    r = rd(VG_READING_LINE, 0, 0, T0, 1e308, 0);
    cr_expect_eq(vg_reading_check(model, &r), VG_REJECT_OUT_OF_RANGE);
    r = rd(VG_READING_LINE, 0, 0, T0, 0, VG_READING_COUNT_MAX + 1);
    cr_expect_eq(vg_reading_check(model, &r), VG_REJECT_OUT_OF_RANGE);
    r = rd(VG_READING_LINE, 0, 0, T0, VG_READING_COUNT_MAX, VG_READING_COUNT_MAX);
    cr_expect_eq(vg_reading_check(model, &r), VG_REJECT_NONE);
    r = rd(VG_READING_COUNT, C_CONC, Z_CONC, T0, 1e308, 0);
    cr_expect_eq(vg_reading_check(model, &r), VG_REJECT_OUT_OF_RANGE);
    r = rd(VG_READING_SPEED_VAR, C_CONC, Z_CONC, T0, 1e308, 0);
    cr_expect_eq(vg_reading_check(model, &r), VG_REJECT_OUT_OF_RANGE);
    r = rd(VG_READING_HELP, 1, 0, T0, 0, 0);
    cr_expect_eq(vg_reading_check(model, &r), VG_REJECT_UNKNOWN_HELP_POINT);
    r = rd(VG_READING_HELP, 0, 0, T0, 0, 0);
    r.sub = VG_HELP_TYPE_COUNT;
    cr_expect_eq(vg_reading_check(model, &r), VG_REJECT_WRONG_TYPE);
    r = rd(VG_READING_CAMERA_HEALTH, C_H1, 0, T0, 0, 0);
    r.sub = 17;
    cr_expect_eq(vg_reading_check(model, &r), VG_REJECT_WRONG_TYPE);
    r = rd(VG_READING_TYPE_END, 0, 0, T0, 0, 0);
    cr_expect_eq(vg_reading_check(model, &r), VG_REJECT_MALFORMED);
}

/* ---- lifecycle and argument errors ---- */

Test(analysis, new_and_calls_refuse_bad_arguments)
{
    vg_analysis_cfg cfg;
    vg_analysis *a = NULL;
    vg_analysis_stats st;
    vg_reading r = rd(VG_READING_SENSOR, 0, 0, T0, 20, 0);

    load_model(NULL);
    cr_expect_eq(vg_analysis_new(NULL, NULL, &a), -EINVAL);
    cr_expect_eq(vg_analysis_new(model, NULL, NULL), -EINVAL);
    vg_analysis_cfg_default(&cfg);
    cfg.max_pending = 1;
    cr_expect_eq(vg_analysis_new(model, &cfg, &a), -EINVAL);
    vg_analysis_cfg_default(&cfg);
    cfg.flow_window_ns = 121 * S;
    cr_expect_eq(vg_analysis_new(model, &cfg, &a), -EINVAL);
    cfg.flow_window_ns = 60 * S;
    cfg.lateness_ns = -1;
    cr_expect_eq(vg_analysis_new(model, &cfg, &a), -EINVAL);
    /* trend settings the 128-sample ring (one sample a second) cannot honour: no trend, so
     * no time to critical, would ever be computed */
    vg_analysis_cfg_default(&cfg);
    cfg.trend_window_ns = 300 * S;
    cfg.trend_min_ns = 150 * S;
    cr_expect_eq(vg_analysis_new(model, &cfg, &a), -EINVAL, "window over 127 s");
    cfg.trend_window_ns = 128 * S;
    cfg.trend_min_ns = 20 * S;
    cr_expect_eq(vg_analysis_new(model, &cfg, &a), -EINVAL, "window over 127 s");
    cfg.trend_window_ns = 60 * S;
    cfg.trend_min_ns = 61 * S;
    cr_expect_eq(vg_analysis_new(model, &cfg, &a), -EINVAL, "min over the window");
    cfg.trend_window_ns = 2 * S - 1;
    cfg.trend_min_ns = 0;
    cr_expect_eq(vg_analysis_new(model, &cfg, &a), -EINVAL, "room for fewer than 3 samples");
    cr_expect_null(a, "*ret untouched on error");

    cr_assert_eq(vg_analysis_new(model, NULL, &a), 0);
    cr_expect_eq(vg_analysis_push(NULL, &r), -EINVAL);
    cr_expect_eq(vg_analysis_push(a, NULL), -EINVAL);
    cr_expect_eq(vg_analysis_tick(NULL, T0), -EINVAL);
    cr_expect_eq(vg_analysis_tick(a, T0), 0);
    cr_expect_eq(vg_analysis_tick(a, T0 - 1), -EINVAL, "time never goes backwards");
    cr_expect_eq(vg_analysis_tick(a, T0), 0, "the same time again is fine");
    cr_expect_eq(vg_analysis_get_stats(a, NULL), -EINVAL);
    cr_expect_eq(vg_analysis_get_stats(a, &st), 0);
    cr_expect_eq(st.ticks, 2);
    cr_expect_eq(st.watermark_ns, T0 - 2 * S, "default lateness 2 s");
    cr_expect_null(vg_analysis_zone_metrics(a, 3));
    cr_expect_eq(vg_analysis_for_each_active(a, NULL, NULL), -EINVAL);
    cr_expect_gt(vg_analysis_memory(a), vg_analysis_memory_per_sensor(a));
    cr_expect_gt(vg_analysis_memory_per_sensor(a), 0);
    vg_analysis_free(&a);
    cr_expect_null(a);
    vg_analysis_free(&a);
    vg_analysis_free(NULL);
}

/* ---- density ---- */

Test(analysis, density_warning_after_on_delay_and_clear_below_deadband_after_off_delay)
{
    long i;

    start(NULL, 0, 0);
    /* 350 persons in 100 m² moving: 3.5 p/m², over advisory (2) and warning (3) since t=0;
     * on-delay 20 s: nothing until t=20, then one raise straight to warning */
    hold_conc(0, 19, 350);
    cr_expect_eq(count_events(VG_ALERT_DENSITY), 0);
    cr_expect_float_eq(last_metrics[Z_CONC].density_per_m2, 3.5, 1e-12);
    cr_expect_eq(last_metrics[Z_CONC].los, 'F');
    cr_expect_eq(last_metrics[Z_CONC].cameras_fresh, 1);
    cr_expect(last_metrics[Z_CONC].flags & VG_METRICS_DENSITY);
    hold_conc(20, 20, 350);
    i = find_event(VG_ALERT_DENSITY, 0);
    cr_assert_geq(i, 0);
    cr_expect_eq(events[i].action, VG_ALERT_ACTION_RAISE);
    cr_expect_eq(events[i].grade, VG_GRADE_WARNING);
    cr_expect_eq(events[i].prev_grade, VG_GRADE_CLEAR);
    cr_expect_eq(events[i].t_ns, T0 + 20 * S);
    cr_expect_eq(events[i].raised_ns, T0 + 20 * S);
    cr_expect_float_eq(events[i].value, 3.5, 1e-12);
    cr_expect_float_eq(events[i].threshold, 3.0, 1e-12);
    cr_expect_eq(events[i].feed, VG_FEED_SECURITY);
    cr_expect_eq(events[i].zone, Z_CONC);
    cr_expect_eq(events[i].source_type, VG_SOURCE_ZONE);
    cr_expect_eq(events[i].evidence_count, 1);
    cr_expect_eq(events[i].evidence[0].source, C_CONC);
    cr_expect_eq(events[i].evidence[0].source_type, VG_SOURCE_CAMERA);
    cr_expect_float_eq(events[i].evidence[0].value, 350, 1e-12);
    cr_expect_neq(strstr(events[i].message, "3.50 p/m2 in conc"), NULL, "%s", events[i].message);
    cr_expect_eq(last_metrics[Z_CONC].grade, VG_GRADE_WARNING);

    /* 2.8 is under 3 but inside the deadband (3 - 0.3 = 2.7): the warning holds */
    hold_conc(21, 100, 280);
    cr_expect_eq(count_events(VG_ALERT_DENSITY), 1);
    /* 2.6 is under 2.7 from t=101: after the 30 s off-delay (t=131) down to advisory,
     * which 2.6 still holds (>= 2 - 0.3) */
    hold_conc(101, 130, 260);
    cr_expect_eq(count_events(VG_ALERT_DENSITY), 1);
    hold_conc(131, 131, 260);
    i = find_event(VG_ALERT_DENSITY, 1);
    cr_assert_geq(i, 0);
    cr_expect_eq(events[i].action, VG_ALERT_ACTION_CHANGE);
    cr_expect_eq(events[i].grade, VG_GRADE_ADVISORY);
    cr_expect_eq(events[i].prev_grade, VG_GRADE_WARNING);
    cr_expect_eq(events[i].t_ns, T0 + 131 * S);
    cr_expect_eq(events[i].id, events[find_event(VG_ALERT_DENSITY, 0)].id,
                 "same activation, same id");
    /* 1.8 is inside the advisory deadband (>= 1.7): holds; 1.6 from t=200 clears at 230 */
    hold_conc(132, 199, 180);
    cr_expect_eq(count_events(VG_ALERT_DENSITY), 2);
    hold_conc(200, 229, 160);
    cr_expect_eq(count_events(VG_ALERT_DENSITY), 2);
    hold_conc(230, 230, 160);
    i = find_event(VG_ALERT_DENSITY, 2);
    cr_assert_geq(i, 0);
    cr_expect_eq(events[i].action, VG_ALERT_ACTION_CLEAR);
    cr_expect_eq(events[i].grade, VG_GRADE_CLEAR);
    cr_expect_eq(events[i].prev_grade, VG_GRADE_ADVISORY);
    cr_expect_float_eq(events[i].threshold, 1.7, 1e-12);
    cr_expect_eq(events[i].raised_ns, T0 + 20 * S);
    cr_expect_gt(events[i].seq, events[find_event(VG_ALERT_DENSITY, 1)].seq);
    /* a new activation later gets a new id */
    hold_conc(231, 251, 350);
    i = find_event(VG_ALERT_DENSITY, 3);
    cr_assert_geq(i, 0);
    cr_expect_eq(events[i].action, VG_ALERT_ACTION_RAISE);
    cr_expect_gt(events[i].id, events[find_event(VG_ALERT_DENSITY, 0)].id);
    cr_expect_eq(events[i].t_ns, T0 + 251 * S);
}

/* A camera that falls silent takes its zone's density away, not its alert: the grade and its
 * timers hold through the gap (a critical crowd must not clear because the camera died),
 * and the off-delay starts only when readings below the level come back. */
Test(analysis, missing_density_holds_the_grade_and_its_timers)
{
    long i;

    start(NULL, 0, 0);
    hold_conc(0, 20, 350); /* 3.5 p/m2: warning at t=20 */
    cr_assert_eq(count_events(VG_ALERT_DENSITY), 1);
    for (int t = 21; t <= 200; t++)
        tick(T0 + t * S); /* cam-c silent for three minutes */
    cr_expect_eq(count_events(VG_ALERT_DENSITY), 1, "no change or clear while there is no data");
    cr_expect_geq(count_events(VG_ALERT_CAMERA_HEALTH), 1, "the silence itself is reported");
    cr_expect_eq(last_metrics[Z_CONC].cameras_fresh, 0);
    cr_expect(!(last_metrics[Z_CONC].flags & VG_METRICS_DENSITY), "no density without data");
    cr_expect_eq(last_metrics[Z_CONC].grade, VG_GRADE_WARNING, "the grade holds");
    /* back at 1.6 p/m2 (below every level's deadband): the 30 s off-delay runs from t=201 */
    hold_conc(201, 230, 160);
    cr_expect_eq(count_events(VG_ALERT_DENSITY), 1, "the silence did not count as off-delay");
    hold_conc(231, 231, 160);
    i = find_event(VG_ALERT_DENSITY, 1);
    cr_assert_geq(i, 0);
    cr_expect_eq(events[i].action, VG_ALERT_ACTION_CLEAR);
    cr_expect_eq(events[i].t_ns, T0 + 231 * S);
}

Test(analysis, emergency_density_is_raised_without_on_delay)
{
    long i;

    start(NULL, 0, 0);
    hold_conc(0, 0, 520); /* 5.2 p/m² >= emergency 5 */
    i = find_event(VG_ALERT_DENSITY, 0);
    cr_assert_geq(i, 0);
    cr_expect_eq(events[i].grade, VG_GRADE_EMERGENCY);
    cr_expect_eq(events[i].t_ns, T0);
    cr_expect_float_eq(events[i].threshold, 5.0, 1e-12);
}

Test(analysis, a_chattering_limit_is_flagged_on_its_third_raise_within_60_s)
{
    start("profile = \"twitchy\";", 0, 0); /* no deadband, no delays */
    for (int i = 0; i < 6; i++)
        hold_conc(i, i, i % 2 == 0 ? 250 : 150); /* 2.5 (advisory) / 1.5 (clear) */
    /* raise t=0, clear 1, raise 2, clear 3, raise 4 (third in 60 s: chattering), clear 5 */
    cr_assert_eq(count_events(VG_ALERT_DENSITY), 6);
    for (int k = 0; k < 6; k++) {
        long i = find_event(VG_ALERT_DENSITY, (size_t)k);

        cr_expect_eq(events[i].action, k % 2 == 0 ? VG_ALERT_ACTION_RAISE : VG_ALERT_ACTION_CLEAR);
        cr_expect_eq(!!(events[i].flags & VG_ALERT_F_CHATTERING), k >= 4, "event %d", k);
    }
    /* raises spaced over 60 s apart are not chattering */
    hold_conc(6, 69, 150);
    hold_conc(70, 70, 250);
    hold_conc(71, 140, 150);
    hold_conc(141, 141, 250);
    long last = find_event(VG_ALERT_DENSITY, 8);
    cr_assert_geq(last, 0);
    cr_expect_eq(events[last].action, VG_ALERT_ACTION_RAISE);
    cr_expect_eq(events[last].flags & VG_ALERT_F_CHATTERING, 0);
}

Test(analysis, density_fuses_cameras_by_coverage)
{
    start(NULL, 0, 0);
    /* hall 1000 m²: cam-h1 sees 1000 persons in half of it, cam-h2 500 in a quarter:
     * (1000 + 500) / (0.5 + 0.25) = 2000 persons, 2.0 p/m², queueing LoS D (1.54..3.57) */
    count(C_H1, Z_HALL, T0, 1000);
    count(C_H2, Z_HALL, T0, 500);
    tick(T0);
    cr_expect_eq(n_metrics_calls, 1);
    cr_expect_eq(last_metrics_n, 3);
    cr_expect_eq(last_metrics_t, T0);
    cr_expect_float_eq(last_metrics[Z_HALL].population, 2000, 1e-9);
    cr_expect_float_eq(last_metrics[Z_HALL].density_per_m2, 2.0, 1e-12);
    cr_expect_eq(last_metrics[Z_HALL].los, 'D');
    cr_expect_eq(last_metrics[Z_HALL].cameras_fresh, 2);
    cr_expect_eq(last_metrics[Z_HALL].cameras_total, 2);
    cr_expect_eq(last_metrics[Z_HALL].flags & VG_METRICS_UNRELIABLE, 0);
    /* the stair has no camera: no density */
    cr_expect(isnan(last_metrics[Z_STAIR].density_per_m2));
    cr_expect_eq(last_metrics[Z_STAIR].los, '-');
    cr_expect_eq(last_metrics[Z_STAIR].flags & VG_METRICS_DENSITY, 0);
    cr_expect_eq(vg_analysis_zone_metrics(an, Z_HALL)->zone, Z_HALL);
}

Test(analysis, unhealthy_camera_raises_technical_alert_and_marks_density_unreliable)
{
    vg_reading h;
    long i;

    start(NULL, 0, 0);
    count(C_H1, Z_HALL, T0, 1000);
    count(C_H2, Z_HALL, T0, 500);
    h = rd(VG_READING_CAMERA_HEALTH, C_H2, 0, T0, 0, 0);
    h.sub = VG_CAMERA_FROZEN;
    cr_assert_eq(push(h), 0);
    tick(T0);
    i = find_event(VG_ALERT_CAMERA_HEALTH, 0);
    cr_assert_geq(i, 0);
    cr_expect_eq(events[i].source, C_H2);
    cr_expect_eq(events[i].source_type, VG_SOURCE_CAMERA);
    cr_expect_eq(events[i].zone, Z_HALL);
    cr_expect_eq(events[i].grade, VG_GRADE_WARNING);
    cr_expect_eq(events[i].feed, VG_FEED_TECHNICAL);
    cr_expect_neq(strstr(events[i].message, "frozen"), NULL, "%s", events[i].message);
    /* the frozen camera is left out: 1000 / 0.5 = 2000 persons, and flagged */
    cr_expect_float_eq(last_metrics[Z_HALL].density_per_m2, 2.0, 1e-12);
    cr_expect_eq(last_metrics[Z_HALL].cameras_fresh, 1);
    cr_expect(last_metrics[Z_HALL].flags & VG_METRICS_UNRELIABLE);
    /* back to ok: the alert clears */
    count(C_H1, Z_HALL, T0 + S, 1000);
    count(C_H2, Z_HALL, T0 + S, 500);
    h.t_ns = T0 + S;
    h.sub = VG_CAMERA_OK;
    cr_assert_eq(push(h), 0);
    tick(T0 + S);
    i = find_event(VG_ALERT_CAMERA_HEALTH, 1);
    cr_assert_geq(i, 0);
    cr_expect_eq(events[i].action, VG_ALERT_ACTION_CLEAR);
    cr_expect_eq(last_metrics[Z_HALL].flags & VG_METRICS_UNRELIABLE, 0);
}

Test(analysis, silent_camera_raises_camera_health_after_its_stale_time)
{
    long i;

    start(NULL, 0, 0);
    /* period 1 s, stale after 3 s (3 periods): cam-h1 and cam-h2 never speak */
    hold_conc(0, 3, 100);
    cr_expect_eq(count_events(VG_ALERT_CAMERA_HEALTH), 0);
    hold_conc(4, 4, 100);
    cr_expect_eq(count_events(VG_ALERT_CAMERA_HEALTH), 2);
    i = find_event(VG_ALERT_CAMERA_HEALTH, 0);
    cr_expect_eq(events[i].source, C_H1);
    cr_expect_eq(events[i].t_ns, T0 + 4 * S);
    cr_expect_neq(strstr(events[i].message, "silent"), NULL, "%s", events[i].message);
    cr_expect_eq(count_events(VG_ALERT_DENSITY), 0);
}

/* ---- trend and time to critical ---- */

Test(analysis, trend_to_critical_fires_minutes_before_the_zone_goes_critical)
{
    long tr, crit = -1;

    start(NULL, 0, 0);
    /* conc gains half a person per second: density 1 + i/200 p/m², a trend of
     * 0.3 p/m²/min; critical is 4, so the time to it is (3 - i/200) / 0.005 = 600 - i s,
     * under the 300 s horizon from i = 300 (density 2.5); critical itself at i = 600 */
    for (int i = 0; i <= 700; i++)
        hold_conc(i, i, 100 + i / 2.0);
    tr = find_event(VG_ALERT_TREND_TO_CRITICAL, 0);
    cr_assert_geq(tr, 0);
    cr_expect_eq(events[tr].grade, VG_GRADE_WARNING);
    cr_expect_geq(events[tr].t_ns, T0 + 300 * S);
    cr_expect_leq(events[tr].t_ns, T0 + 301 * S, "least squares on a straight line is exact");
    cr_expect_float_eq(events[tr].trend_per_min, 0.3, 1e-6);
    cr_expect_float_eq(events[tr].ttc_s, 600.0 - (double)(events[tr].t_ns - T0) / S, 1e-3);
    cr_expect_float_eq(events[tr].value, events[tr].ttc_s, 1e-9);
    cr_expect_float_eq(events[tr].threshold, 300, 1e-9);
    for (size_t k = 0; k < n_events; k++)
        if (events[k].kind == VG_ALERT_DENSITY && events[k].grade == VG_GRADE_CRITICAL)
            crit = (long)k;
    cr_assert_geq(crit, 0);
    /* density reaches 4 at i = 600, critical after the 20 s on-delay */
    cr_expect_eq(events[crit].t_ns, T0 + 620 * S);
    cr_expect_geq(events[crit].t_ns - events[tr].t_ns, 60 * S, "a minute of warning at least");
    cr_expect_float_eq(last_metrics[Z_CONC].trend_per_min, 0.3, 1e-6);
    cr_expect_eq(last_metrics[Z_CONC].ttc_s, 0, "already critical");
}

/* The trend alert ends: once the zone stops filling up, there is no time to critical, and
 * the warning clears after the density off-delay (30 s) instead of staying on a screen. */
Test(analysis, trend_to_critical_clears_once_the_zone_stops_filling)
{
    long i;

    start(NULL, 0, 0);
    for (int t = 0; t <= 400; t++)
        hold_conc(t, t, 100 + t / 2.0); /* as above: the warning comes at t = 300 */
    cr_assert_eq(count_events(VG_ALERT_TREND_TO_CRITICAL), 1);
    hold_conc(401, 600, 300); /* flat at 3 p/m2 */
    i = find_event(VG_ALERT_TREND_TO_CRITICAL, 1);
    cr_assert_geq(i, 0, "the trend warning never cleared");
    cr_expect_eq(events[i].action, VG_ALERT_ACTION_CLEAR);
    /* cleared because the time to critical left the horizon and its deadband (330 s) as the
     * flat stretch filled the 60 s window, 30 s of off-delay later: at t = 456 */
    cr_expect(events[i].ttc_s < 0 || events[i].ttc_s > 330, "ttc %g", events[i].ttc_s);
    cr_expect_gt(events[i].t_ns, T0 + 431 * S);
    cr_expect_lt(events[i].t_ns, T0 + 500 * S);
}

/* A slope needs samples spanning 20 s (one a second at most, taken at the ticks): the first
 * seconds of a zone's data give no trend, so no time-to-critical, whatever they do. */
Test(analysis, a_trend_needs_samples_spanning_20_s)
{
    start(NULL, 0, 0);
    for (int t = 0; t < 20; t++)
        hold_conc(t, t, 100 + 10 * t); /* climbing fast: 0.1 p/m2 a second */
    cr_expect(!(last_metrics[Z_CONC].flags & VG_METRICS_TREND), "a trend before 20 s");
    cr_expect_eq(last_metrics[Z_CONC].ttc_s, -1);
    cr_expect_eq(count_events(VG_ALERT_TREND_TO_CRITICAL), 0);
    hold_conc(20, 20, 300);
    cr_expect(last_metrics[Z_CONC].flags & VG_METRICS_TREND, "no trend at 20 s");
    cr_expect_float_eq(last_metrics[Z_CONC].trend_per_min, 6.0, 1e-9, "0.1 p/m2/s");
}

/* The longest trend settings accepted still give a trend: 128 samples a second apart span
 * 127 s, all of them in the ring. */
Test(analysis, the_longest_trend_window_and_span_still_give_a_trend)
{
    vg_analysis_cfg cfg;

    load_model(NULL);
    vg_analysis_cfg_default(&cfg);
    cfg.sink.on_metrics = on_metrics;
    cfg.lateness_ns = 0;
    cfg.trend_window_ns = cfg.trend_min_ns = 127 * S;
    cr_assert_eq(vg_analysis_new(model, &cfg, &an), 0);
    hold_conc(0, 126, 100);
    cr_expect(!(last_metrics[Z_CONC].flags & VG_METRICS_TREND), "a trend before 127 s");
    hold_conc(127, 127, 100);
    cr_expect(last_metrics[Z_CONC].flags & VG_METRICS_TREND, "no trend at 127 s");
    cr_expect_float_eq(last_metrics[Z_CONC].trend_per_min, 0.0, 1e-12);
}

Test(analysis, flat_density_has_no_time_to_critical)
{
    start(NULL, 0, 0);
    hold_conc(0, 30, 250);
    cr_expect(last_metrics[Z_CONC].flags & VG_METRICS_TREND);
    cr_expect_float_eq(last_metrics[Z_CONC].trend_per_min, 0.0, 1e-12);
    cr_expect_eq(last_metrics[Z_CONC].ttc_s, -1);
    cr_expect_eq(count_events(VG_ALERT_TREND_TO_CRITICAL), 0);
}

/* ---- pressure ---- */

Test(analysis, crowd_pressure_is_density_times_speed_variance)
{
    long i;

    start(NULL, 0, 0);
    /* 200 persons in 100 m² (2.0 p/m²) with speed variance 0.01 m²/s²: P = 0.02 /s², the
     * default emergency level, raised at once */
    count(C_CONC, Z_CONC, T0, 200);
    cr_assert_eq(push(rd(VG_READING_SPEED_VAR, C_CONC, Z_CONC, T0, 0.01, 0)), 0);
    tick(T0);
    cr_expect_float_eq(last_metrics[Z_CONC].pressure_per_s2, 0.02, 1e-15);
    cr_expect_float_eq(last_metrics[Z_CONC].speed_var_m2_s2, 0.01, 1e-15);
    cr_expect(last_metrics[Z_CONC].flags & VG_METRICS_PRESSURE);
    i = find_event(VG_ALERT_PRESSURE, 0);
    cr_assert_geq(i, 0);
    cr_expect_eq(events[i].grade, VG_GRADE_EMERGENCY);
    cr_expect_eq(events[i].t_ns, T0);
    cr_expect_eq(events[i].evidence[0].reading_type, VG_READING_SPEED_VAR);
    cr_expect(isnan(last_metrics[Z_HALL].pressure_per_s2));
}

/* ---- lines: flow, occupancy, mismatch ---- */

Test(analysis, flow_is_crossings_per_metre_per_minute_over_the_window)
{
    long i;

    start(NULL, 0, 0);
    /* 2 crossings a second through the 2 m door: after i seconds the 60 s window holds
     * min(i, 60) messages, flow = 2 min(i,60) / 2 m / 1 min = min(i, 60) p/m/min.
     * Advisory is 70 % of 82 = 57.4: reached at i = 58, raised after the 30 s on-delay */
    for (int k = 1; k <= 120; k++) {
        cr_assert_eq(push(rd(VG_READING_LINE, 0, 0, T0 + k * S, 1, 1)), 0);
        tick(T0 + k * S);
        if (k == 30)
            cr_expect_float_eq(last_metrics[Z_CONC].flow_pmm, 30, 1e-12);
        if (k == 87)
            cr_expect_eq(count_events(VG_ALERT_FLOW), 0);
    }
    cr_expect_float_eq(last_metrics[Z_HALL].flow_pmm, 60, 1e-12);
    cr_expect(last_metrics[Z_HALL].flags & VG_METRICS_FLOW);
    cr_assert_eq(count_events(VG_ALERT_FLOW), 1);
    i = find_event(VG_ALERT_FLOW, 0);
    cr_expect_eq(events[i].t_ns, T0 + 88 * S);
    cr_expect_eq(events[i].grade, VG_GRADE_ADVISORY);
    cr_expect_float_eq(events[i].threshold, 57.4, 1e-9);
    cr_expect_eq(events[i].source_type, VG_SOURCE_LINE);
    cr_expect_eq(events[i].zone, Z_HALL, "flow alerts name the zone the line leads into");
    cr_expect_eq(events[i].evidence_count, 4);
    cr_expect_eq(events[i].evidence[0].t_ns, T0 + 88 * S, "newest evidence first");
}

/* The door carries 2 persons/s for a minute, then 1/s: flow (per 2 m, per min) climbs to 60,
 * then falls to 30. conc, upstream (people go conc -> hall), holds 250 + (rising ? k : 0). */
static void run_jam(bool rising)
{
    for (int k = 1; k <= 160; k++) {
        cr_assert_eq(push(rd(VG_READING_LINE, 0, 0, T0 + k * S, k <= 60 ? 2 : 1, 0)), 0);
        count(C_CONC, Z_CONC, T0 + k * S, 250 + (rising ? k : 0));
        tick(T0 + k * S);
    }
}

Test(analysis, flow_falling_while_density_rises_upstream_is_critical)
{
    long i;

    start(NULL, 0, 0);
    /* flow over the previous window is k - 60 and over the current (180 - k) / 2 for
     * 60 < k <= 120: at k = 118 the window before carried 58 p/m/min (>= advisory 57.4) and
     * now 31 (<= 80 % of it) while conc, at 3.68 p/m² and rising 0.6 p/m²/min, fills up.
     * The flow is graded as critical from then on (flow stays 30 < 90 % of 58, density keeps
     * rising), raised after the 30 s on-delay at k = 148. */
    run_jam(true);
    cr_assert_eq(count_events(VG_ALERT_FLOW), 1);
    i = find_event(VG_ALERT_FLOW, 0);
    cr_expect_eq(events[i].t_ns, T0 + 148 * S);
    cr_expect_eq(events[i].grade, VG_GRADE_CRITICAL);
    cr_expect_float_eq(events[i].value, 30, 1e-9);
    cr_expect_float_eq(events[i].threshold, 82, 1e-9);
    cr_expect_neq(strstr(events[i].message, "fell from 58.0 to 30.0 p/m/min while density "
                                            "rises in conc"),
                  NULL, "%s", events[i].message);
}

/* The sign ends once the density upstream stops rising: the flow is then graded as what it
 * is (30 p/m/min, under every level), and the critical clears after its off-delay rather
 * than staying up for good. */
Test(analysis, flow_falling_sign_ends_when_density_stops_rising)
{
    long i;

    start(NULL, 0, 0);
    run_jam(true);
    cr_assert_eq(count_events(VG_ALERT_FLOW), 1);
    for (int k = 161; k <= 300; k++) { /* the same flow, conc steady at 410 persons */
        cr_assert_eq(push(rd(VG_READING_LINE, 0, 0, T0 + k * S, 1, 0)), 0);
        count(C_CONC, Z_CONC, T0 + k * S, 410);
        tick(T0 + k * S);
    }
    i = find_event(VG_ALERT_FLOW, 1);
    cr_assert_geq(i, 0, "the critical flow never cleared");
    cr_expect_eq(events[i].action, VG_ALERT_ACTION_CLEAR);
    /* the trend falls under 0.1 p/m2/min as the flat stretch fills the 60 s window (about
     * a minute), then the 30 s off-delay runs: k = 265 */
    cr_expect_gt(events[i].t_ns, T0 + 190 * S);
    cr_expect_leq(events[i].t_ns, T0 + 270 * S);
}

Test(analysis, flow_falling_with_steady_density_is_no_alert)
{
    start(NULL, 0, 0);
    run_jam(false);
    cr_expect_eq(count_events(VG_ALERT_FLOW), 0);
    cr_expect_float_eq(last_metrics[Z_CONC].flow_pmm, 30, 1e-9);
}

Test(analysis, occupancy_from_lines_is_seeded_by_cameras_and_mismatch_is_technical)
{
    long i;

    start(NULL, 0, 0);
    /* t=0: cameras see 50 in conc and 2000 in the hall: line occupancy starts there */
    count(C_CONC, Z_CONC, T0, 50);
    count(C_H1, Z_HALL, T0, 1000);
    count(C_H2, Z_HALL, T0, 500);
    tick(T0);
    cr_expect_float_eq(last_metrics[Z_CONC].occupancy, 50, 1e-9);
    cr_expect_float_eq(last_metrics[Z_HALL].occupancy, 2000, 1e-9);
    cr_expect(last_metrics[Z_CONC].flags & VG_METRICS_OCCUPANCY);
    cr_expect_eq(last_metrics[Z_STAIR].flags & VG_METRICS_OCCUPANCY, 0);
    /* 100 cross conc -> hall, 10 back, but conc's camera keeps seeing 50:
     * lines say conc holds 50 - 90 = -40, hall 2090. conc: |-40 - 50| = 90 persons apart,
     * allowed max(20, 25 % of 50) = 20: a mismatch, raised after its 120 s delay.
     * hall: 90 apart, allowed 25 % of 2000 = 500: fine. */
    cr_assert_eq(push(rd(VG_READING_LINE, 0, 0, T0 + S, 100, 10)), 0);
    for (int k = 1; k <= 121; k++) {
        count(C_CONC, Z_CONC, T0 + k * S, 50);
        count(C_H1, Z_HALL, T0 + k * S, 1000);
        count(C_H2, Z_HALL, T0 + k * S, 500);
        tick(T0 + k * S);
        if (k == 120)
            cr_expect_eq(count_events(VG_ALERT_OCCUPANCY_MISMATCH), 0);
    }
    cr_expect_float_eq(last_metrics[Z_CONC].occupancy, -40, 1e-9);
    cr_expect_float_eq(last_metrics[Z_HALL].occupancy, 2090, 1e-9);
    cr_assert_eq(count_events(VG_ALERT_OCCUPANCY_MISMATCH), 1);
    i = find_event(VG_ALERT_OCCUPANCY_MISMATCH, 0);
    cr_expect_eq(events[i].zone, Z_CONC);
    cr_expect_eq(events[i].t_ns, T0 + 121 * S);
    cr_expect_eq(events[i].feed, VG_FEED_TECHNICAL);
    cr_expect_float_eq(events[i].value, 90, 1e-9);
    cr_expect_float_eq(events[i].threshold, 20, 1e-9);
}

/* One absurd line message (a faulty or hostile counter) is refused, and the zone goes on
 * counting: before the ceiling, 1e308 crossings made its occupancy absorb every later
 * crossing, then NaN for good. */
Test(analysis, an_absurd_line_count_is_refused_and_occupancy_keeps_counting)
{
    start(NULL, 0, 0);
    count(C_CONC, Z_CONC, T0, 50);
    count(C_H1, Z_HALL, T0, 1000);
    count(C_H2, Z_HALL, T0, 500);
    tick(T0);
    cr_assert_eq(push(rd(VG_READING_LINE, 0, 0, T0 + S, 1e308, 1e308)),
                 VG_REJECT_OUT_OF_RANGE);
    cr_assert_eq(push(rd(VG_READING_LINE, 0, 0, T0 + 2 * S, 10, 3)), 0);
    tick(T0 + 10 * S);
    cr_expect_float_eq(last_metrics[Z_CONC].occupancy, 43, 1e-9);
    cr_expect_float_eq(last_metrics[Z_HALL].occupancy, 2007, 1e-9);
}

Test(analysis, a_zone_open_to_the_outside_has_no_line_occupancy_and_no_mismatch)
{
    /* The same crossings as above, but conc is open to the street: people also come and go
     * past no line, so its line sum means nothing. The hall is still closed. */
    start("open = true;", 0, 0);
    count(C_CONC, Z_CONC, T0, 50);
    count(C_H1, Z_HALL, T0, 1000);
    count(C_H2, Z_HALL, T0, 500);
    tick(T0);
    cr_assert_eq(push(rd(VG_READING_LINE, 0, 0, T0 + S, 100, 10)), 0);
    for (int k = 1; k <= 200; k++) {
        count(C_CONC, Z_CONC, T0 + k * S, 50);
        count(C_H1, Z_HALL, T0 + k * S, 1000);
        count(C_H2, Z_HALL, T0 + k * S, 500);
        tick(T0 + k * S);
    }
    cr_expect_eq(last_metrics[Z_CONC].flags & VG_METRICS_OCCUPANCY, 0);
    cr_expect(isnan(last_metrics[Z_CONC].occupancy));
    cr_expect(last_metrics[Z_HALL].flags & VG_METRICS_OCCUPANCY);
    cr_expect_float_eq(last_metrics[Z_HALL].occupancy, 2090, 1e-9);
    cr_expect_eq(count_events(VG_ALERT_OCCUPANCY_MISMATCH), 0);
}

Test(analysis, occupancy_over_capacity_from_lines_is_graded)
{
    long i;

    start(NULL, 0, 0);
    /* conc capacity 400, no count yet: lines start at 0. 380 in from the hall side
     * (out crossings of the door) = 95 % >= advisory 90 %, raised after 30 s */
    cr_assert_eq(push(rd(VG_READING_LINE, 0, 0, T0, 0, 380)), 0);
    for (int k = 0; k <= 30; k++)
        tick(T0 + k * S);
    i = find_event(VG_ALERT_OCCUPANCY, 0);
    cr_assert_geq(i, 0);
    cr_expect_eq(events[i].t_ns, T0 + 30 * S);
    cr_expect_eq(events[i].grade, VG_GRADE_ADVISORY);
    cr_expect_float_eq(events[i].value, 0.95, 1e-12);
    cr_expect_eq(events[i].zone, Z_CONC);
}

/* ---- sensors ---- */

Test(analysis, stale_sensor_raises_a_technical_alert_and_clears_when_it_speaks)
{
    long i;

    start(NULL, 0, 0);
    /* wbgt and co2: period 10 s, stale after 3 periods = 30 s of silence; noise: 3 s.
     * Silence counts from the reading, or from the first tick for a sensor never heard. */
    sensor(S_WBGT, T0, 20);
    tick(T0);
    tick(T0 + 30 * S);
    cr_expect_eq(count_events(VG_ALERT_SENSOR_STALE), 1, "exactly 30 s is not yet stale");
    cr_expect_eq(events[find_event(VG_ALERT_SENSOR_STALE, 0)].source, S_NOISE);
    tick(T0 + 31 * S);
    cr_assert_eq(count_events(VG_ALERT_SENSOR_STALE), 3);
    i = find_event(VG_ALERT_SENSOR_STALE, 1);
    cr_expect_eq(events[i].source, S_WBGT);
    cr_expect_eq(events[i].source_type, VG_SOURCE_SENSOR);
    cr_expect_eq(events[i].zone, Z_HALL);
    cr_expect_eq(events[i].grade, VG_GRADE_WARNING);
    cr_expect_eq(events[i].feed, VG_FEED_TECHNICAL);
    cr_expect_eq(events[i].t_ns, T0 + 31 * S);
    cr_expect_float_eq(events[i].value, 31, 1e-9);
    cr_expect_float_eq(events[i].threshold, 30, 1e-9);
    cr_expect_eq(events[i].evidence_count, 1);
    cr_expect_float_eq(events[i].evidence[0].value, 20, 1e-12);
    cr_expect_neq(strstr(events[i].message, "sensor wbgt silent for 31 s"), NULL, "%s",
                  events[i].message);
    cr_expect_eq(events[find_event(VG_ALERT_SENSOR_STALE, 2)].source, S_CO2);
    sensor(S_WBGT, T0 + 32 * S, 21);
    tick(T0 + 32 * S);
    i = find_event(VG_ALERT_SENSOR_STALE, 3);
    cr_assert_geq(i, 0);
    cr_expect_eq(events[i].source, S_WBGT);
    cr_expect_eq(events[i].action, VG_ALERT_ACTION_CLEAR);
    cr_expect_eq(events[i].id, events[find_event(VG_ALERT_SENSOR_STALE, 1)].id);
}

Test(analysis, stuck_sensor_is_flagged_after_its_flat_time)
{
    long i;

    start(NULL, 0, 0);
    /* co2: period 10 s, stuck after 30 periods = 300 s of the same value */
    for (int k = 0; k <= 30; k++) {
        sensor(S_CO2, T0 + k * 10 * S, 612);
        tick(T0 + k * 10 * S);
        if (k == 29)
            cr_expect_eq(count_events(VG_ALERT_SENSOR_STUCK), 0);
    }
    i = find_event(VG_ALERT_SENSOR_STUCK, 0);
    cr_assert_geq(i, 0);
    cr_expect_eq(events[i].source, S_CO2);
    cr_expect_eq(events[i].t_ns, T0 + 300 * S);
    cr_expect_eq(events[i].grade, VG_GRADE_ADVISORY);
    cr_expect_float_eq(events[i].value, 300, 1e-9);
    sensor(S_CO2, T0 + 310 * S, 615);
    tick(T0 + 310 * S);
    i = find_event(VG_ALERT_SENSOR_STUCK, 1);
    cr_assert_geq(i, 0);
    cr_expect_eq(events[i].action, VG_ALERT_ACTION_CLEAR);
}

Test(analysis, out_of_range_value_is_refused_and_raises_sensor_range)
{
    vg_analysis_stats st;
    long i;

    start(NULL, 0, 0);
    sensor(S_WBGT, T0, 20);
    tick(T0);
    cr_expect_eq(push(rd(VG_READING_SENSOR, S_WBGT, 0, T0 + S, 75, 0)), VG_REJECT_OUT_OF_RANGE);
    tick(T0 + S);
    i = find_event(VG_ALERT_SENSOR_RANGE, 0);
    cr_assert_geq(i, 0);
    cr_expect_eq(events[i].source, S_WBGT);
    cr_expect_float_eq(events[i].value, 75, 1e-12);
    cr_expect_float_eq(events[i].threshold, 60, 1e-12);
    cr_expect_eq(events[i].feed, VG_FEED_TECHNICAL);
    cr_expect_float_eq(events[i].evidence[0].value, 75, 1e-12);
    sensor(S_WBGT, T0 + 2 * S, 21);
    tick(T0 + 2 * S);
    i = find_event(VG_ALERT_SENSOR_RANGE, 1);
    cr_assert_geq(i, 0);
    cr_expect_eq(events[i].action, VG_ALERT_ACTION_CLEAR);
    cr_assert_eq(vg_analysis_get_stats(an, &st), 0);
    cr_expect_eq(st.rejected[VG_REJECT_OUT_OF_RANGE], 1);
    cr_expect_eq(st.accepted, 2);
    /* one stamped an hour ahead is refused and not noted: it would hold sensor_range until
     * a valid reading newer than it */
    cr_expect_eq(push(rd(VG_READING_SENSOR, S_WBGT, 0, T0 + 3600 * S, 75, 0)),
                 VG_REJECT_OUT_OF_RANGE);
    tick(T0 + 3 * S);
    cr_expect_eq(count_events(VG_ALERT_SENSOR_RANGE), 2, "no third event");
}

/* A sensor whose clock lags (docs/analysis.md, "Skew") raises sensor_range like any other. */
Test(analysis, a_lagging_sensor_out_of_range_still_raises_sensor_range)
{
    start(NULL, 2 * S, 0);
    tick(T0);
    cr_assert_eq(push(rd(VG_READING_SENSOR, S_WBGT, 0, T0 - 5 * S, 20, 0)), 0);
    tick(T0 + S);
    cr_expect_eq(push(rd(VG_READING_SENSOR, S_WBGT, 0, T0 - 4 * S, 75, 0)),
                 VG_REJECT_OUT_OF_RANGE);
    tick(T0 + 2 * S);
    cr_assert_geq(find_event(VG_ALERT_SENSOR_RANGE, 0), 0, "raised");
}

/* A sensor 40 s behind (under the 60 s skew, over its 30 s staleness limit) is talking:
 * it is not "silent", and its value is graded. Before, it was sensor_stale for good and its
 * CO2 alarm never came. */
Test(analysis, a_lagging_sensor_is_not_stale_and_its_value_is_graded)
{
    start(NULL, 2 * S, 0);
    for (int k = 0; k <= 180; k++) {
        if (k % 5 == 0)
            cr_assert_eq(push(rd(VG_READING_SENSOR, S_CO2, 0, T0 + (k - 40) * S, 3000, 0)), 0,
                         "reading at %d s", k);
        tick(T0 + k * S);
    }
    for (size_t i = 0; i < n_events; i++)
        cr_expect(!(events[i].kind == VG_ALERT_SENSOR_STALE && events[i].source == S_CO2),
                  "co2 stale at +%lld s: talking, not silent",
                  (long long)((events[i].t_ns - T0) / S));
    cr_expect_geq(find_event(VG_ALERT_CO2, 0), 0, "3000 ppm graded");
}

/* After out-of-range camera or line readings at T0 + S: refused and counted, no sensor alert. */
static void expect_only_refused(uint64_t n)
{
    vg_analysis_stats st;

    tick(T0 + S);
    cr_expect_eq(count_events(VG_ALERT_SENSOR_RANGE), 0);
    cr_assert_eq(vg_analysis_get_stats(an, &st), 0);
    cr_expect_eq(st.rejected[VG_REJECT_OUT_OF_RANGE], n);
}

/* Camera and line readings out of range are refused without touching any sensor: their
 * source used to be taken for a sensor index, raising sensor_range on an unrelated sensor
 * (camera 0 and line 0 here are sensor 0's index: wbgt; camera 2 is the noise sensor's). */
Test(analysis, out_of_range_camera_and_line_readings_raise_no_sensor_alert)
{
    start(NULL, 0, 0);
    sensor(S_WBGT, T0, 20);
    sensor(S_NOISE, T0, 60);
    tick(T0);
    cr_expect_eq(push(rd(VG_READING_SPEED_VAR, C_CONC, Z_CONC, T0 + S, -0.5, 0)),
                 VG_REJECT_OUT_OF_RANGE);
    cr_expect_eq(push(rd(VG_READING_COUNT, C_H2, Z_HALL, T0 + S, 2e6, 0)),
                 VG_REJECT_OUT_OF_RANGE);
    cr_expect_eq(push(rd(VG_READING_LINE, 0, 0, T0 + S, 2e6, 0)), VG_REJECT_OUT_OF_RANGE);
    expect_only_refused(3);
}

/* The same with a camera index past the last sensor: out of the sensors' array (ASan). */
Test(analysis, an_out_of_range_count_of_a_venue_without_sensors_is_only_refused)
{
    load_text("venue = { id = \"t\"; name = \"T\"; };\n"
              "zones = ( { id = \"z\"; type = \"moving\"; area_m2 = 100; } );\n"
              "cameras = (\n"
              "  { id = \"c1\"; period_s = 1; zones = ( { zone = \"z\"; coverage = 0.5; } ); },\n"
              "  { id = \"c2\"; period_s = 1; zones = ( { zone = \"z\"; coverage = 0.5; } ); }\n"
              ");\n");
    start_loaded(0, 0);
    cr_assert_eq(vg_model_sensor_count(model), 0);
    for (uint32_t c = 0; c < 2; c++)
        cr_expect_eq(push(rd(VG_READING_COUNT, c, 0, T0 + S, 1e9, 0)), VG_REJECT_OUT_OF_RANGE);
    expect_only_refused(2);
}

Test(analysis, a_sensor_off_its_peers_for_five_minutes_is_sensor_disagree)
{
    long i;

    start(NULL, 0, 0);
    /* t1 (conc) reads 30 °C; its peers t2, t3 in the neighbouring hall read 21 and 21.5:
     * median 21.25, MAD 0.25, tolerance max(3 °C, 3 × 1.4826 × 0.25) = 3, off by 8.75.
     * t2's peers (30, 21.5) disagree among themselves: median 25.75, tolerance
     * 3 × 1.4826 × 4.25 = 18.9 > 4.75, so t2 and t3 are not blamed. Checked every 10 s;
     * raised once t1 has been off for 300 s. */
    for (int k = 0; k <= 30; k++) {
        sensor(S_T1, T0 + k * 10 * S, 30);
        sensor(S_T2, T0 + k * 10 * S, 21);
        sensor(S_T3, T0 + k * 10 * S, 21.5);
        tick(T0 + k * 10 * S);
        if (k == 29)
            cr_expect_eq(count_events(VG_ALERT_SENSOR_DISAGREE), 0);
    }
    cr_assert_eq(count_events(VG_ALERT_SENSOR_DISAGREE), 1);
    i = find_event(VG_ALERT_SENSOR_DISAGREE, 0);
    cr_expect_eq(events[i].source, S_T1);
    cr_expect_eq(events[i].t_ns, T0 + 300 * S);
    cr_expect_eq(events[i].grade, VG_GRADE_ADVISORY);
    cr_expect_eq(events[i].feed, VG_FEED_TECHNICAL);
    cr_expect_float_eq(events[i].value, 30, 1e-12);
    cr_expect_float_eq(events[i].threshold, 3, 1e-12);
    cr_expect_eq(events[i].evidence_count, 3, "its reading and its two peers'");
    cr_expect_eq(events[i].evidence[1].source, S_T2);
    cr_expect_neq(strstr(events[i].message, "its 2 peers 21.25"), NULL, "%s", events[i].message);
    /* fixed: agrees again at the next check */
    sensor(S_T1, T0 + 310 * S, 21.2);
    sensor(S_T2, T0 + 310 * S, 21);
    sensor(S_T3, T0 + 310 * S, 21.5);
    tick(T0 + 310 * S);
    i = find_event(VG_ALERT_SENSOR_DISAGREE, 1);
    cr_assert_geq(i, 0);
    cr_expect_eq(events[i].action, VG_ALERT_ACTION_CLEAR);
}

Test(analysis, wbgt_is_graded_with_its_on_delay_and_goes_to_the_medical_feed)
{
    long i;

    start(NULL, 0, 0);
    /* WBGT 29 °C: over advisory 23 and warning 28 from t=0, on-delay 300 s */
    for (int k = 0; k <= 30; k++) {
        sensor(S_WBGT, T0 + k * 10 * S, 29);
        tick(T0 + k * 10 * S);
        if (k == 29)
            cr_expect_eq(count_events(VG_ALERT_WBGT), 0);
    }
    i = find_event(VG_ALERT_WBGT, 0);
    cr_assert_geq(i, 0);
    cr_expect_eq(events[i].t_ns, T0 + 300 * S);
    cr_expect_eq(events[i].grade, VG_GRADE_WARNING);
    cr_expect_eq(events[i].feed, VG_FEED_MEDICAL);
    cr_expect_float_eq(events[i].threshold, 28, 1e-12);
    cr_expect_eq(events[i].evidence_count, 4);
}

Test(analysis, co2_critical_goes_to_the_technical_feed)
{
    long i;

    start(NULL, 0, 0);
    /* 2100 ppm >= critical 2000, on-delay 180 s */
    for (int k = 0; k <= 18; k++) {
        sensor(S_CO2, T0 + k * 10 * S, 2100 + k);
        tick(T0 + k * 10 * S);
    }
    i = find_event(VG_ALERT_CO2, 0);
    cr_assert_geq(i, 0);
    cr_expect_eq(events[i].t_ns, T0 + 180 * S);
    cr_expect_eq(events[i].grade, VG_GRADE_CRITICAL);
    cr_expect_eq(events[i].feed, VG_FEED_TECHNICAL);
    cr_expect_float_eq(events[i].value, 2118, 1e-12);
}

Test(analysis, noise_over_100_dba_is_a_warning)
{
    long i;

    start(NULL, 0, 0);
    /* 101 dB >= warning 100, on-delay 60 s */
    for (int k = 0; k <= 60; k++) {
        sensor(S_NOISE, T0 + k * S, 101 + (k % 2) * 0.5);
        tick(T0 + k * S);
    }
    i = find_event(VG_ALERT_NOISE, 0);
    cr_assert_geq(i, 0);
    cr_expect_eq(events[i].t_ns, T0 + 60 * S);
    cr_expect_eq(events[i].grade, VG_GRADE_WARNING);
    cr_expect_eq(events[i].feed, VG_FEED_MEDICAL);
}

Test(analysis, anomaly_alert_follows_the_sensors_detector_and_clears_after_the_hold)
{
    vg_detector_cfg dc = {.sensitivity = 1.0}; /* the noise sensor's, from the model */
    vg_detector *ref;
    int64_t want_t[64], anomalous_t = -1;
    uint8_t want_action[64];
    size_t n_want = 0, got = 0, flagged = 0;
    bool active = false;
    uint32_t x = 12345;

    /* The core must raise an anomaly where the sensor's own detector (a reference one fed
     * the same stream here) scores at or over its threshold, and clear it 60 s
     * (cfg.anomaly_hold_ns) after the last such reading. The signal: 1 dB of noise around
     * 80 dB with a 125 dB spike at 600 s; one tick per reading, no lateness. */
    start(NULL, 0, 1);
    cr_assert_eq(vg_detector_new(&dc, &ref), 0);
    for (int k = 0; k <= 700; k++) {
        int64_t t = T0 + k * S;
        double v;

        x = x * 1103515245u + 12345u;
        v = k == 600 ? 125 : 80 + ((x >> 16) % 100) / 100.0;
        if (vg_detector_update(ref, t, v) >= vg_detector_threshold(ref)) {
            anomalous_t = t;
            flagged++;
        }
        if (anomalous_t >= 0 && t - anomalous_t < 60 * S) {
            if (!active && n_want < 64) {
                want_t[n_want] = t;
                want_action[n_want++] = VG_ALERT_ACTION_RAISE;
            }
            active = true;
        } else if (active) {
            if (n_want < 64) {
                want_t[n_want] = t;
                want_action[n_want++] = VG_ALERT_ACTION_CLEAR;
            }
            active = false;
        }
        sensor(S_NOISE, t, v);
        tick(t);
    }
    cr_assert_gt(flagged, 0, "the detector flags a 45 dB spike");
    cr_assert_lt(n_want, 64);
    for (size_t k = 0; k < n_events; k++) {
        if (events[k].kind != VG_ALERT_ANOMALY)
            continue;
        cr_assert_lt(got, n_want, "more anomaly events than the detector calls for");
        cr_expect_eq(events[k].t_ns, want_t[got], "event %zu", got);
        cr_expect_eq(events[k].action, want_action[got], "event %zu", got);
        cr_expect_eq(events[k].source, S_NOISE);
        cr_expect_eq(events[k].feed, VG_FEED_TECHNICAL);
        if (events[k].action == VG_ALERT_ACTION_RAISE) {
            cr_expect_eq(events[k].grade, VG_GRADE_ADVISORY);
            cr_expect_float_eq(events[k].threshold, vg_detector_threshold(ref), 1e-12);
        }
        got++;
    }
    cr_expect_eq(got, n_want);
    vg_detector_free(&ref);
}

/* Plays 700 s of the noise sensor (sensitivity 1.0: it alarms often) with lateness 5 s and
 * one tick a second: 1 dB of noise around 80 dB, a 125 dB spike at 600 s. dirty adds what a
 * flaky link delivers: resends of the previous second (some with another value, which must
 * not count either) that pass push and are refused duplicate when applied, two seconds
 * swapped (put back in order) and readings older than the lateness (refused too_old at
 * push). Copies the anomaly events to out and returns their number. */
static size_t play_noise(bool dirty, vg_alert_event *out, size_t max)
{
    uint32_t x = 4242;
    double v[702];
    size_t n = 0;

    for (int k = 0; k <= 701; k++) {
        x = x * 1103515245u + 12345u;
        v[k] = k == 600 ? 125 : 80 + ((x >> 16) % 100) / 100.0;
    }
    for (int k = 0; k <= 700; k++) {
        int64_t t = T0 + k * S;

        if (dirty && (k == 300 || k == 500)) { /* k + 1 arrives before k */
            sensor(S_NOISE, t + S, v[k + 1]);
            sensor(S_NOISE, t, v[k]);
        } else if (!dirty || (k != 301 && k != 501)) {
            sensor(S_NOISE, t, v[k]);
        }
        if (dirty && k > 0 && k % 7 == 0) /* the previous second again */
            sensor(S_NOISE, t - S, k % 3 ? v[k - 1] : 125);
        if (dirty && k > 20 && k % 13 == 0)
            cr_assert_eq(push(rd(VG_READING_SENSOR, S_NOISE, 0, t - 10 * S, 125, 0)),
                         VG_REJECT_TOO_OLD);
        tick(t);
    }
    tick(T0 + 705 * S); /* applies the last readings */
    for (size_t i = 0; i < n_events; i++)
        if (events[i].kind == VG_ALERT_ANOMALY && n < max)
            out[n++] = events[i];
    return n;
}

/* The core refuses a duplicate or older reading before the sensor's detector sees it, so
 * the anomaly advisories are those of the clean stream. Fed to the detector, the resends
 * would teach it a stream that is not there. */
Test(analysis, duplicate_and_late_readings_do_not_change_the_anomaly_advisories)
{
    static vg_alert_event clean[256], dirty[256];
    vg_analysis_stats st;
    size_t nc, nd;

    start(NULL, 5 * S, 1);
    nc = play_noise(false, clean, 256);
    cr_assert_gt(nc, 0, "the clean stream raises anomalies");
    vg_analysis_free(&an);
    n_events = 0;
    start_loaded(5 * S, 1);
    nd = play_noise(true, dirty, 256);
    cr_assert_eq(vg_analysis_get_stats(an, &st), 0);
    cr_assert_eq(st.rejected[VG_REJECT_DUPLICATE], 100, "resends refused when applied: %llu",
                 (unsigned long long)st.rejected[VG_REJECT_DUPLICATE]);
    cr_assert_eq(st.rejected[VG_REJECT_TOO_OLD], 52);
    cr_assert_eq(nd, nc, "%zu anomaly events, %zu without the duplicates", nd, nc);
    for (size_t i = 0; i < nc; i++) {
        cr_expect_eq(dirty[i].t_ns, clean[i].t_ns, "event %zu", i);
        cr_expect_eq(dirty[i].action, clean[i].action, "event %zu", i);
        cr_expect_eq(dirty[i].value, clean[i].value, "event %zu", i);
        cr_expect_eq(dirty[i].threshold, clean[i].threshold, "event %zu", i);
    }
}

/* ---- help points ---- */

Test(analysis, medical_help_press_is_critical_at_once_latched_and_medical)
{
    vg_reading h = rd(VG_READING_HELP, 0, 0, T0 + 5 * S, 0, 0);
    long i;

    start(NULL, 2 * S, 0);
    h.sub = VG_HELP_MEDICAL;
    cr_assert_eq(push(h), 0);
    /* no tick needed: the alert goes out from push */
    cr_assert_eq(n_events, 1);
    cr_expect_eq(events[0].kind, VG_ALERT_HELP_MEDICAL);
    cr_expect_eq(events[0].grade, VG_GRADE_CRITICAL);
    cr_expect_eq(events[0].feed, VG_FEED_MEDICAL);
    cr_expect(events[0].flags & VG_ALERT_F_LATCHED);
    cr_expect_eq(events[0].t_ns, T0 + 5 * S);
    cr_expect_eq(events[0].zone, Z_CONC);
    cr_expect_eq(events[0].source_type, VG_SOURCE_HELP_POINT);
    cr_expect_neq(strstr(events[0].message, "medical help"), NULL, "%s", events[0].message);
    /* pressed again: still the same alert, no new event; a fire press is another alert */
    h.t_ns = T0 + 6 * S;
    cr_assert_eq(push(h), 0);
    cr_expect_eq(n_events, 1);
    h.sub = VG_HELP_FIRE;
    cr_assert_eq(push(h), 0);
    cr_assert_eq(n_events, 2);
    cr_expect_eq(events[1].kind, VG_ALERT_HELP_FIRE);
    cr_expect_eq(events[1].feed, VG_FEED_SECURITY);
    /* rearm 120 s after the last press: watermark T0 + 126 s clears both */
    tick(T0 + 127 * S);
    cr_expect_eq(n_events, 2);
    tick(T0 + 128 * S);
    i = find_event(VG_ALERT_HELP_MEDICAL, 1);
    cr_assert_geq(i, 0);
    cr_expect_eq(events[i].action, VG_ALERT_ACTION_CLEAR);
    cr_expect(events[i].flags & VG_ALERT_F_LATCHED);
}

/* A help press is never refused for its time: a help point whose clock is slow, or a press
 * the broker queued while the engine restarted, arrives behind the watermark; one whose
 * clock is fast arrives far ahead. Either way someone pressed for help, now or then. */
Test(analysis, a_late_or_early_help_press_still_raises_its_alert_at_once)
{
    vg_reading h = rd(VG_READING_HELP, 0, 0, T0 - 60 * S, 0, 0);
    vg_analysis_stats st;

    start(NULL, 2 * S, 0);
    tick(T0); /* watermark T0 - 2 s */
    /* a count this late (beyond the 60 s skew) is too_old */
    cr_assert_eq(push(rd(VG_READING_COUNT, C_CONC, Z_CONC, T0 - 90 * S, 10, 0)), VG_REJECT_TOO_OLD);
    h.sub = VG_HELP_MEDICAL;
    cr_assert_eq(push(h), 0, "a minute late");
    cr_assert_eq(n_events, 1);
    cr_expect_eq(events[0].kind, VG_ALERT_HELP_MEDICAL);
    cr_expect_eq(events[0].grade, VG_GRADE_CRITICAL);
    cr_expect_eq(events[0].t_ns, T0 - 60 * S, "at the time it was pressed");
    cr_assert_eq(push(h), VG_REJECT_DUPLICATE, "the same press again is still a duplicate");

    /* an hour ahead of the last tick (max_future 60 s): taken at the last tick */
    h.sub = VG_HELP_FIRE;
    h.t_ns = T0 + 3600 * S;
    cr_assert_eq(push(h), 0, "an hour early");
    cr_assert_eq(n_events, 2);
    cr_expect_eq(events[1].kind, VG_ALERT_HELP_FIRE);
    cr_expect_eq(events[1].t_ns, T0, "at the last tick, not an hour ahead");
    cr_assert_eq(vg_analysis_get_stats(an, &st), 0);
    cr_expect_eq(st.rejected[VG_REJECT_TOO_OLD], 1, "only the count");
    cr_expect_eq(st.rejected[VG_REJECT_TOO_FAR_FUTURE], 0);
}

/* ---- ordering, lateness, duplicates ---- */

Test(analysis, out_of_order_readings_within_lateness_are_applied_in_event_order)
{
    vg_analysis_stats st;

    start(NULL, 2 * S, 0);
    tick(T0); /* watermark T0 - 2 s */
    /* arrive newest first; sorted before applying, so the newest (300) is the count */
    count(C_CONC, Z_CONC, T0 + 3 * S, 300);
    count(C_CONC, Z_CONC, T0 + 2 * S, 100);
    tick(T0 + 4 * S); /* watermark T0 + 2 s: only the older one applies */
    cr_expect_float_eq(last_metrics[Z_CONC].density_per_m2, 1.0, 1e-12);
    cr_expect_eq(last_metrics_t, T0 + 2 * S);
    tick(T0 + 5 * S);
    cr_expect_float_eq(last_metrics[Z_CONC].density_per_m2, 3.0, 1e-12);
    cr_assert_eq(vg_analysis_get_stats(an, &st), 0);
    cr_expect_eq(st.accepted, 2);
    cr_expect_eq(st.pending, 0);
    cr_expect_eq(n_late_rejects, 0);
}

Test(analysis, readings_later_than_lateness_are_too_old_and_too_far_ahead_are_refused)
{
    vg_analysis_stats st;

    start(NULL, 2 * S, 0);
    cr_assert_eq(push(rd(VG_READING_COUNT, C_CONC, Z_CONC, T0 + 9 * S, 1, 0)), 0);
    tick(T0 + 10 * S); /* watermark T0 + 8 s */
    /* behind the watermark, and behind its own stream's newest: too old */
    cr_expect_eq(push(rd(VG_READING_COUNT, C_CONC, Z_CONC, T0 + 8 * S, 1, 0)), VG_REJECT_TOO_OLD);
    cr_expect_eq(push(rd(VG_READING_COUNT, C_CONC, Z_CONC, T0 + 9 * S + 1, 1, 0)), 0);
    /* max_future 60 s past the last tick */
    cr_expect_eq(push(rd(VG_READING_SENSOR, S_WBGT, 0, T0 + 70 * S, 20, 0)), 0);
    cr_expect_eq(push(rd(VG_READING_SENSOR, S_CO2, 0, T0 + 70 * S + 1, 400, 0)),
                 VG_REJECT_TOO_FAR_FUTURE);
    cr_assert_eq(vg_analysis_get_stats(an, &st), 0);
    cr_expect_eq(st.rejected[VG_REJECT_TOO_OLD], 1);
    cr_expect_eq(st.rejected[VG_REJECT_TOO_FAR_FUTURE], 1);
    cr_expect_eq(st.pending, 3);
}

/* A source whose clock lags the engine's by a few seconds (or a bridge that delivered late)
 * sends every reading behind the watermark. Each is newer than all its stream sent before,
 * so within the skew (60 s) it is taken and applied at the next tick; with no skew every
 * one of them would be refused. */
Test(analysis, a_source_whose_clock_lags_is_taken_within_the_skew)
{
    vg_analysis_stats st;

    start(NULL, 2 * S, 0);
    for (int k = 0; k < 10; k++) { /* ticks each second, the sensor 5 s behind */
        tick(T0 + k * S);
        cr_assert_eq(push(rd(VG_READING_SENSOR, S_WBGT, 0, T0 + (k - 5) * S, 20 + k, 0)), 0,
                     "reading %d", k);
    }
    /* out of order within its stream: too old */
    cr_expect_eq(push(rd(VG_READING_SENSOR, S_WBGT, 0, T0 - S / 2, 20, 0)), VG_REJECT_TOO_OLD);
    /* newer than its stream, but beyond the skew */
    cr_expect_eq(push(rd(VG_READING_SENSOR, S_CO2, 0, T0 - 70 * S, 500, 0)), VG_REJECT_TOO_OLD);
    tick(T0 + 10 * S);
    cr_assert_eq(vg_analysis_get_stats(an, &st), 0);
    cr_expect_eq(st.accepted, 10, "every reading of the lagging sensor was applied");
    cr_expect_eq(st.rejected[VG_REJECT_TOO_OLD], 2);
    cr_expect_eq(st.pending, 0);

    /* skew 0: the same source loses every reading */
    vg_analysis_cfg cfg;
    vg_analysis_free(&an);
    vg_analysis_cfg_default(&cfg);
    cfg.lateness_ns = 2 * S;
    cfg.anomaly = 0;
    cfg.skew_ns = 0;
    cr_assert_eq(vg_analysis_new(model, &cfg, &an), 0);
    int refused = 0;
    for (int k = 0; k < 10; k++) {
        tick(T0 + k * S);
        refused += push(rd(VG_READING_SENSOR, S_WBGT, 0, T0 + (k - 5) * S, 20 + k, 0)) ==
                   VG_REJECT_TOO_OLD;
    }
    cr_expect_eq(refused, 10);
    cfg.skew_ns = -1;
    vg_analysis_free(&an);
    cr_expect_eq(vg_analysis_new(model, &cfg, &an), -EINVAL);
}

Test(analysis, duplicates_are_refused_at_push_or_at_the_tick)
{
    vg_analysis_stats st;

    start(NULL, 2 * S, 0);
    sensor(S_WBGT, T0 + 5 * S, 20);
    cr_expect_eq(push(rd(VG_READING_SENSOR, S_WBGT, 0, T0 + 5 * S, 20, 0)), VG_REJECT_DUPLICATE);
    /* a redelivery behind a newer reading is only found once sorted, at the tick */
    sensor(S_WBGT, T0 + 6 * S, 21);
    sensor(S_WBGT, T0 + 5 * S, 20);
    tick(T0 + 10 * S);
    cr_assert_eq(n_late_rejects, 1);
    cr_expect_eq(late_rejects[0], VG_REJECT_DUPLICATE);
    cr_assert_eq(vg_analysis_get_stats(an, &st), 0);
    cr_expect_eq(st.rejected[VG_REJECT_DUPLICATE], 2);
    cr_expect_eq(st.accepted, 2);
    /* line messages too: a duplicate must not count crossings twice */
    cr_assert_eq(push(rd(VG_READING_LINE, 0, 0, T0 + 9 * S, 5, 0)), 0);
    cr_expect_eq(push(rd(VG_READING_LINE, 0, 0, T0 + 9 * S, 5, 0)), VG_REJECT_DUPLICATE);
}

Test(analysis, a_full_reorder_buffer_applies_its_oldest_half_early)
{
    vg_analysis_cfg cfg;
    vg_analysis_stats st;

    load_model(NULL);
    vg_analysis_cfg_default(&cfg);
    cfg.max_pending = 4;
    cfg.anomaly = 0;
    cr_assert_eq(vg_analysis_new(model, &cfg, &an), 0);
    for (int k = 0; k < 5; k++)
        cr_assert_eq(push(rd(VG_READING_SENSOR, S_WBGT, 0, T0 + k * S, 20 + k, 0)), 0);
    cr_assert_eq(vg_analysis_get_stats(an, &st), 0);
    cr_expect_eq(st.early_applied, 2);
    cr_expect_eq(st.accepted, 2);
    cr_expect_eq(st.pending, 3);
    /* the floor moved to the last reading applied early (T0 + 1 s) */
    cfg.skew_ns = 0;
    vg_analysis_free(&an);
    cr_assert_eq(vg_analysis_new(model, &cfg, &an), 0);
    for (int k = 0; k < 5; k++)
        cr_assert_eq(push(rd(VG_READING_SENSOR, S_WBGT, 0, T0 + k * S, 20 + k, 0)), 0);
    cr_expect_eq(push(rd(VG_READING_SENSOR, S_CO2, 0, T0 + S, 500, 0)), VG_REJECT_TOO_OLD);
}

/* ---- reload ---- */

static void find_stale(void *ctx, const vg_alert_event *ev)
{
    long *src = ctx;

    if (ev->kind == VG_ALERT_SENSOR_STALE)
        *src = ev->source;
}

static char *replace(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    size_t n = strlen(text) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);

    cr_assert_not_null(at, "model text has %s", from);
    cr_assert_not_null(out);
    snprintf(out, n, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    return out;
}

Test(analysis, reload_keeps_state_by_id_and_drops_what_is_gone)
{
    char text[4096], path[] = "/tmp/vg-test-analysis-XXXXXX";
    char *t1, *t2;
    vg_model *m2 = NULL;
    vg_model_error err;
    vg_analysis_stats st;
    uint64_t id;
    long i, stale_src = -1;
    FILE *f;
    int fd;

    start(NULL, 0, 0);
    hold_conc(0, 20, 350); /* density warning at t = 20 */
    i = find_event(VG_ALERT_DENSITY, 0);
    cr_assert_geq(i, 0);
    id = events[i].id;
    sensor(S_CO2, T0 + 25 * S, 500); /* still buffered at the reload */
    sensor(S_WBGT, T0 + 25 * S, 20);

    /* the edited venue: conc is now 200 m² and the co2 sensor is gone (noise moves up to
     * index 1) */
    snprintf(text, sizeof(text), base_model, "");
    t1 = replace(text, "area_m2 = 100;", "area_m2 = 200;");
    t2 = replace(t1,
                 "  { id = \"co2\"; kind = \"co2\"; zone = \"conc\"; min = 300; max = 10000; "
                 "period_s = 10; },\n",
                 "");
    fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    f = fdopen(fd, "w");
    fputs(t2, f);
    fclose(f);
    free(t1);
    free(t2);
    cr_assert_eq(vg_model_load(path, &m2, &err), 0, "%s:%d: %s", err.file, err.line, err.message);
    unlink(path);
    cr_assert_eq(vg_model_sensor_count(m2), 5);

    cr_expect_eq(vg_analysis_reload(NULL, m2), -EINVAL);
    cr_expect_eq(vg_analysis_reload(an, NULL), -EINVAL);
    cr_assert_eq(vg_analysis_reload(an, m2), 0);
    vg_model_free(&model); /* the old model is no longer used */
    model = m2;
    cr_assert_eq(vg_analysis_get_stats(an, &st), 0);
    cr_expect_eq(st.pending, 1, "the wbgt reading stays buffered");
    cr_expect_eq(st.rejected[VG_REJECT_UNKNOWN_SENSOR], 1, "the co2 reading is dropped");
    cr_expect_eq(n_late_rejects, 1);
    /* the noise sensor's stale alert (3 s of silence) survives under its new index */
    cr_assert_eq(vg_analysis_for_each_active(an, find_stale, &stale_src), 0);
    cr_expect_eq(stale_src, 1);

    /* 350 persons in 200 m² is 1.75 p/m²: under warning - deadband (2.7) from t = 21, so the
     * same activation drops to advisory (1.75 >= 1.7) after the 30 s off-delay */
    hold_conc(21, 50, 350);
    cr_expect_float_eq(last_metrics[Z_CONC].density_per_m2, 1.75, 1e-12);
    cr_expect_eq(count_events(VG_ALERT_DENSITY), 1);
    hold_conc(51, 51, 350);
    i = find_event(VG_ALERT_DENSITY, 1);
    cr_assert_geq(i, 0);
    cr_expect_eq(events[i].action, VG_ALERT_ACTION_CHANGE);
    cr_expect_eq(events[i].grade, VG_GRADE_ADVISORY);
    cr_expect_eq(events[i].id, id);
    cr_expect_eq(events[i].t_ns, T0 + 51 * S);
}

/* Switches the core to the base venue edited by `from` -> `to` (conc_extra as for start;
 * no edit when from is NULL). */
static void reload_edited(const char *conc_extra, const char *from, const char *to)
{
    char text[8192], path[] = "/tmp/vg-test-analysis-XXXXXX";
    char *edited;
    vg_model *m2 = NULL;
    vg_model_error err;
    FILE *f;
    int fd;

    snprintf(text, sizeof(text), base_model, conc_extra ? conc_extra : "");
    edited = from ? replace(text, from, to) : strdup(text);
    cr_assert_not_null(edited);
    fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    f = fdopen(fd, "w");
    cr_assert_not_null(f);
    fputs(edited, f);
    fclose(f);
    free(edited);
    cr_assert_eq(vg_model_load(path, &m2, &err), 0, "%s:%d: %s: %s", err.file, err.line, err.key,
                 err.message);
    unlink(path);
    cr_assert_eq(vg_analysis_reload(an, m2), 0);
    vg_model_free(&model);
    model = m2;
}

#define CO2_LINE "{ id = \"co2\"; kind = \"co2\"; "

/* co2 at 1600 ppm: over warning (1500) from t = 0, raised after the 180 s on-delay. */
static uint64_t co2_warning(void)
{
    long i;

    for (int k = 0; k <= 18; k++) {
        sensor(S_CO2, T0 + k * 10 * S, 1600);
        tick(T0 + k * 10 * S);
    }
    i = find_event(VG_ALERT_CO2, 0);
    cr_assert_geq(i, 0);
    cr_assert_eq(events[i].grade, VG_GRADE_WARNING);
    return events[i].id;
}

/* A retuned sensor keeps its state, its detector's with it. It used to start over: its
 * open warning was dropped without a clear (the alert layer kept it for good), and its flat
 * time was lost while its last reading time was kept. */
Test(analysis, reload_with_a_retuned_sensor_keeps_its_alerts_and_clears_them)
{
    uint64_t id;
    size_t n;
    long i;

    start(NULL, 0, 1);
    id = co2_warning();
    n = n_events;
    reload_edited(NULL, CO2_LINE, CO2_LINE "sensitivity = 0.3; ");
    cr_assert_float_eq(vg_model_sensor(model, S_CO2)->sensitivity, 0.3, 1e-12);
    cr_expect_eq(n_events, n, "a retune is not an event");
    /* 500 ppm from t = 190: under warning - deadband (1400); the 300 s off-delay ends at 490 */
    for (int k = 19; k <= 60; k++) {
        sensor(S_CO2, T0 + k * 10 * S, 500);
        tick(T0 + k * 10 * S);
    }
    i = find_event(VG_ALERT_CO2, 1);
    cr_assert_geq(i, 0, "the co2 warning never cleared");
    cr_expect_eq(events[i].action, VG_ALERT_ACTION_CLEAR);
    cr_expect_eq(events[i].id, id);
    cr_expect_eq(events[i].t_ns, T0 + 490 * S);
}

#define T1_LINE "{ id = \"t1\"; kind = \"temperature\"; zone = \"conc\"; min = -30; max = 60; "

/* t1 (every 60 s, sensitivity 0.2 from the profile) reads 21 degC with 0.1 degC of noise at
 * readings 0 .. 599 (ten hours), one tick per reading: past the detector's 150-reading
 * warm-up. */
static void learn_t1(void)
{
    uint32_t x = 777;

    for (int k = 0; k < 600; k++) {
        x = x * 1103515245u + 12345u;
        sensor(S_T1, T0 + k * 60 * S, 21 + ((x >> 16) % 100) / 1000.0);
        tick(T0 + k * 60 * S);
    }
}

/* Reading 600 of t1 jumps to 45 degC; returns the index of its anomaly raise, or -1. */
static long spike_t1(void)
{
    const int64_t t = T0 + 600 * 60 * S;

    sensor(S_T1, t, 45);
    tick(t);
    for (size_t i = 0; i < n_events; i++)
        if (events[i].kind == VG_ALERT_ANOMALY && events[i].source == S_T1 &&
            events[i].t_ns == t && events[i].action == VG_ALERT_ACTION_RAISE)
            return (long)i;
    return -1;
}

/* A new sensitivity moves only the threshold: the detector keeps what it learned. A fresh
 * one would only learn for its first 150 readings (here 2.5 hours) and miss the spike. */
Test(analysis, reload_with_a_new_sensitivity_keeps_what_the_detector_learned)
{
    long i;

    start(NULL, 0, 1);
    learn_t1();
    reload_edited(NULL, T1_LINE, T1_LINE "sensitivity = 0.5; ");
    cr_assert_float_eq(vg_model_sensor(model, S_T1)->sensitivity, 0.5, 1e-12);
    i = spike_t1();
    cr_assert_geq(i, 0, "a 24 degC spike right after the retune raised no anomaly");
    cr_expect_float_eq(events[i].threshold, 0.5, 1e-12, "the threshold of sensitivity 0.5");
    cr_expect_float_eq(events[i].value, 45, 1e-12);
}

/* The same through the profile: a new sensitivity for the sensor's kind. */
Test(analysis, reload_with_a_new_sensitivity_for_the_kind_keeps_what_the_detector_learned)
{
    long i;

    start(NULL, 0, 1);
    learn_t1();
    reload_edited(NULL, "{ id = \"default\"; }",
                  "{ id = \"default\"; sensitivity = { temperature = 0.5; }; }");
    cr_assert_float_eq(vg_model_sensor(model, S_T1)->sensitivity, 0.5, 1e-12);
    i = spike_t1();
    cr_assert_geq(i, 0, "a 24 degC spike right after the retune raised no anomaly");
    cr_expect_float_eq(events[i].threshold, 0.5, 1e-12, "the threshold of sensitivity 0.5");
}

/* A sensor of a new kind starts a fresh detector: what it learned was another quantity's. */
Test(analysis, reload_with_a_new_kind_starts_a_fresh_detector)
{
    start(NULL, 0, 1);
    learn_t1();
    reload_edited(NULL, "{ id = \"t1\"; kind = \"temperature\";",
                  "{ id = \"t1\"; kind = \"other\";");
    cr_expect_eq(spike_t1(), -1, "the first reading of the new kind raised an anomaly");
}

static void find_co2(void *ctx, const vg_alert_event *ev)
{
    long *kind = ctx;

    if (ev->source_type == VG_SOURCE_SENSOR && ev->source == S_CO2 &&
        ev->kind != VG_ALERT_SENSOR_STALE)
        *kind = ev->kind;
}

/* A sensor that changed kind: its limit alert (keyed by the old kind's alert kind) is
 * cleared at the reload, at the last watermark, in the old model's terms. */
Test(analysis, reload_with_a_sensor_of_a_new_kind_clears_its_old_limit_alert)
{
    uint64_t id;
    long i, kind = -1;

    start(NULL, 0, 1);
    id = co2_warning();
    reload_edited(NULL, CO2_LINE, "{ id = \"co2\"; kind = \"other\"; ");
    cr_assert_eq(count_events(VG_ALERT_CO2), 2);
    i = find_event(VG_ALERT_CO2, 1);
    cr_expect_eq(events[i].action, VG_ALERT_ACTION_CLEAR);
    cr_expect_eq(events[i].id, id);
    cr_expect_eq(events[i].source, S_CO2);
    cr_expect_eq(events[i].t_ns, T0 + 180 * S);
    cr_expect_neq(strstr(events[i].message, "changed kind to other"), NULL, "%s",
                  events[i].message);
    cr_assert_eq(vg_analysis_for_each_active(an, find_co2, &kind), 0);
    cr_expect_eq(kind, -1, "still active: alert kind %ld", kind);
    /* the new kind has no static levels: nothing more on this sensor's limit */
    for (int k = 19; k <= 60; k++) {
        sensor(S_CO2, T0 + k * 10 * S, 1600);
        tick(T0 + k * 10 * S);
    }
    cr_expect_eq(count_events(VG_ALERT_CO2), 2);
    cr_expect_eq(count_events(VG_ALERT_SENSOR_LIMIT), 0);
}

/* A sensor that changed kind is not graded by the new kind on a value it read as the old
 * one: temperature 21 degC redefined as a smoke detector must not raise smoke (a false
 * life-safety alarm) before the detector says anything. */
Test(analysis, reload_with_a_new_kind_grades_only_readings_taken_under_it)
{
    start(NULL, 0, 0);
    for (int k = 0; k <= 30; k++) {
        sensor(S_T1, T0 + k * S, 21);
        tick(T0 + k * S);
    }
    reload_edited(NULL, "{ id = \"t1\"; kind = \"temperature\"; zone = \"conc\"; min = -30; max = 60;",
                  "{ id = \"t1\"; kind = \"smoke\"; zone = \"conc\"; min = 0; max = 1;");
    for (int k = 31; k <= 40; k++)
        tick(T0 + k * S);
    cr_expect_eq(count_events(VG_ALERT_SMOKE), 0, "graded the old temperature as smoke");
    cr_expect_eq(count_events(VG_ALERT_SENSOR_RANGE), 0);
    sensor(S_T1, T0 + 41 * S, 1);
    tick(T0 + 41 * S);
    tick(T0 + 42 * S);
    cr_expect_eq(count_events(VG_ALERT_SMOKE), 1, "a reading taken as smoke is graded");
}

/* A sensor off its peers that a reload leaves without peers (here: a kind not checked)
 * has its sensor_disagree cleared at the next check instead of keeping it for good. */
Test(analysis, reload_leaving_a_sensor_without_peers_clears_its_disagreement)
{
    long i;

    start(NULL, 0, 0);
    for (int k = 0; k <= 30; k++) { /* as in the disagreement test: raised at 300 s */
        sensor(S_T1, T0 + k * 10 * S, 30);
        sensor(S_T2, T0 + k * 10 * S, 21);
        sensor(S_T3, T0 + k * 10 * S, 21.5);
        tick(T0 + k * 10 * S);
    }
    cr_assert_eq(count_events(VG_ALERT_SENSOR_DISAGREE), 1);
    reload_edited(NULL, "{ id = \"t1\"; kind = \"temperature\";",
                  "{ id = \"t1\"; kind = \"other\";");
    sensor(S_T1, T0 + 310 * S, 30);
    tick(T0 + 310 * S);
    i = find_event(VG_ALERT_SENSOR_DISAGREE, 1);
    cr_assert_geq(i, 0, "the disagreement never cleared");
    cr_expect_eq(events[i].action, VG_ALERT_ACTION_CLEAR);
    cr_expect_eq(events[i].source, S_T1);
    cr_expect_eq(events[i].t_ns, T0 + 310 * S);
}

/* Zone alerts whose check the limits in force stop running clear at the next tick; they
 * used to stay active for good. */
Test(analysis, a_mismatch_clears_when_a_reload_opens_the_zone)
{
    long i;

    start(NULL, 0, 0);
    /* as in the occupancy test: lines and cameras 90 apart in conc, raised at 121 s */
    count(C_CONC, Z_CONC, T0, 50);
    tick(T0);
    cr_assert_eq(push(rd(VG_READING_LINE, 0, 0, T0 + S, 100, 10)), 0);
    hold_conc(1, 121, 50);
    cr_assert_eq(count_events(VG_ALERT_OCCUPANCY_MISMATCH), 1);
    reload_edited("open = true;", NULL, NULL);
    hold_conc(122, 122, 50);
    i = find_event(VG_ALERT_OCCUPANCY_MISMATCH, 1);
    cr_assert_geq(i, 0, "the mismatch never cleared");
    cr_expect_eq(events[i].action, VG_ALERT_ACTION_CLEAR);
    cr_expect_eq(events[i].t_ns, T0 + 122 * S);
    cr_expect_neq(strstr(events[i].message, "occupancy_mismatch in conc is no longer checked"),
                  NULL, "%s", events[i].message);
}

Test(analysis, an_occupancy_alert_clears_when_a_reload_removes_the_capacity)
{
    long i;

    start(NULL, 0, 0);
    /* as in the capacity test: 95 % of 400, advisory at 30 s */
    cr_assert_eq(push(rd(VG_READING_LINE, 0, 0, T0, 0, 380)), 0);
    for (int k = 0; k <= 30; k++)
        tick(T0 + k * S);
    cr_assert_eq(count_events(VG_ALERT_OCCUPANCY), 1);
    reload_edited(NULL, "capacity = 400;", "");
    cr_assert_eq(vg_model_zone(model, Z_CONC)->capacity, 0);
    tick(T0 + 31 * S);
    i = find_event(VG_ALERT_OCCUPANCY, 1);
    cr_assert_geq(i, 0, "the occupancy alert never cleared");
    cr_expect_eq(events[i].action, VG_ALERT_ACTION_CLEAR);
    cr_expect_eq(events[i].t_ns, T0 + 31 * S);
}

Test(analysis, a_trend_alert_clears_in_a_phase_without_a_trend_horizon)
{
    char text[8192];
    char *t1;
    long i;

    /* phase "calm" from T0 + 350 s to T0 + 1000 s turns conc's trend alert off */
    snprintf(text, sizeof(text), base_model, "phases = { calm = { trend_horizon_s = 0; }; };");
    t1 = replace(text, "zones = (",
                 "phases = ( { id = \"calm\"; start = \"2026-05-22T13:25:50Z\"; "
                 "end = \"2026-05-22T13:36:40Z\"; } );\nzones = (");
    load_text(t1);
    free(t1);
    start_loaded(0, 0);
    for (int k = 0; k <= 349; k++) /* filling: the trend warning comes at t = 300 */
        hold_conc(k, k, 100 + k / 2.0);
    cr_assert_eq(count_events(VG_ALERT_TREND_TO_CRITICAL), 1);
    for (int k = 350; k <= 360; k++)
        hold_conc(k, k, 100 + k / 2.0);
    cr_assert_eq(count_events(VG_ALERT_TREND_TO_CRITICAL), 2, "the trend warning never cleared");
    i = find_event(VG_ALERT_TREND_TO_CRITICAL, 1);
    cr_expect_eq(events[i].action, VG_ALERT_ACTION_CLEAR);
    cr_expect_eq(events[i].t_ns, T0 + 350 * S);
}

#define DOOR2 "{ id = \"door2\"; width_m = 2.0; from = \"conc\"; to = \"hall\"; }, "

/* Line occupancy goes on from where it was when a reload changes a closed zone's lines:
 * the crossings of a removed line stay counted (its people are still where they went). */
Test(analysis, line_occupancy_is_continuous_when_a_reload_removes_a_line)
{
    char text[8192];
    char *t1;

    snprintf(text, sizeof(text), base_model, "");
    t1 = replace(text, "lines = ( ", "lines = ( " DOOR2);
    load_text(t1);
    free(t1);
    start_loaded(0, 0);
    /* seeded at 50 in conc and 2000 in the hall; 30 go through door2 into the hall */
    count(C_CONC, Z_CONC, T0, 50);
    count(C_H1, Z_HALL, T0, 1000);
    count(C_H2, Z_HALL, T0, 500);
    tick(T0);
    cr_assert_eq(push(rd(VG_READING_LINE, 0, 0, T0 + S, 30, 0)), 0);
    cr_assert_eq(push(rd(VG_READING_LINE, 1, 0, T0 + S, 4, 1)), 0);
    tick(T0 + 2 * S);
    cr_assert_float_eq(last_metrics[Z_CONC].occupancy, 17, 1e-9);
    cr_assert_float_eq(last_metrics[Z_HALL].occupancy, 2033, 1e-9);
    /* door2 goes; door (now line 0) counts on */
    reload_edited(NULL, NULL, NULL);
    cr_assert_eq(vg_model_line_count(model), 1);
    tick(T0 + 3 * S);
    cr_expect_float_eq(last_metrics[Z_CONC].occupancy, 17, 1e-9);
    cr_expect_float_eq(last_metrics[Z_HALL].occupancy, 2033, 1e-9);
    cr_assert_eq(push(rd(VG_READING_LINE, 0, 0, T0 + 4 * S, 2, 0)), 0);
    tick(T0 + 4 * S);
    cr_expect_float_eq(last_metrics[Z_CONC].occupancy, 15, 1e-9);
    cr_expect_float_eq(last_metrics[Z_HALL].occupancy, 2035, 1e-9);
}

/* A zone that was open had no line occupancy: closed again by a reload, it is seeded again
 * from its cameras, not from a sum that missed whoever came and went past no line. */
Test(analysis, a_zone_closed_again_by_a_reload_is_seeded_again)
{
    start(NULL, 0, 0);
    hold_conc(0, 0, 50);
    cr_assert_float_eq(last_metrics[Z_CONC].occupancy, 50, 1e-9);
    reload_edited("open = true;", NULL, NULL);
    cr_assert_eq(push(rd(VG_READING_LINE, 0, 0, T0 + S, 30, 0)), 0);
    hold_conc(1, 1, 80); /* 30 left by the door, 60 came in from the street */
    cr_assert(isnan(last_metrics[Z_CONC].occupancy));
    reload_edited(NULL, NULL, NULL);
    hold_conc(2, 2, 80);
    cr_expect_float_eq(last_metrics[Z_CONC].occupancy, 80, 1e-9);
}

Test(analysis, zones_use_their_phase_limits_inside_a_phase)
{
    char text[8192];
    char *t1;
    long i;

    /* phase "busy" from T0 + 100 s to T0 + 200 s, in which conc's warning level is 2.5
     * instead of 3 */
    snprintf(text, sizeof(text), base_model,
             "phases = { busy = { density = { warning = 2.5; }; }; };");
    t1 = replace(text, "zones = (",
                 "phases = ( { id = \"busy\"; start = \"2026-05-22T13:21:40Z\"; "
                 "end = \"2026-05-22T13:23:20Z\"; } );\nzones = (");
    load_text(t1);
    free(t1);
    start_loaded(0, 0);
    /* 2.8 p/m²: advisory from t = 0 (raised at 20); in the phase from t = 100 it is over
     * the phase's warning level, raised to warning after the 20 s on-delay at t = 120 */
    hold_conc(0, 99, 280);
    cr_assert_eq(count_events(VG_ALERT_DENSITY), 1);
    cr_expect_eq(events[find_event(VG_ALERT_DENSITY, 0)].grade, VG_GRADE_ADVISORY);
    cr_expect_eq(events[find_event(VG_ALERT_DENSITY, 0)].t_ns, T0 + 20 * S);
    hold_conc(100, 120, 280);
    i = find_event(VG_ALERT_DENSITY, 1);
    cr_assert_geq(i, 0);
    cr_expect_eq(events[i].grade, VG_GRADE_WARNING);
    cr_expect_eq(events[i].t_ns, T0 + 120 * S);
    cr_expect_float_eq(events[i].threshold, 2.5, 1e-12);
    /* after the phase (t >= 200) 2.8 is inside the normal warning's deadband (>= 2.7):
     * held; at 2.6 it drops to advisory after the 30 s off-delay */
    hold_conc(121, 260, 280);
    cr_expect_eq(count_events(VG_ALERT_DENSITY), 2);
    hold_conc(261, 291, 260);
    i = find_event(VG_ALERT_DENSITY, 2);
    cr_assert_geq(i, 0);
    cr_expect_eq(events[i].grade, VG_GRADE_ADVISORY);
    cr_expect_eq(events[i].t_ns, T0 + 291 * S);
}

/* ---- snapshot and determinism ---- */

static void collect(void *ctx, const vg_alert_event *ev)
{
    size_t *n = ctx;

    cr_expect_neq(ev->grade, VG_GRADE_CLEAR);
    (*n)++;
}

Test(analysis, for_each_active_lists_the_active_alerts)
{
    size_t n = 0;
    vg_analysis_stats st;

    start(NULL, 0, 0);
    hold_conc(0, 0, 520); /* density emergency */
    cr_assert_eq(vg_analysis_get_stats(an, &st), 0);
    /* density, plus camera_health of the two silent hall cameras? not yet (3 s) and the
     * three sensors are silent but not for 30 s: density only */
    cr_expect_eq(st.active_alerts, 1);
    cr_assert_eq(vg_analysis_for_each_active(an, collect, &n), 0);
    cr_expect_eq(n, 1);
}

/* A fixed pseudo-random script: counts, speed variance, lines, sensors (some out of range,
 * some late, some duplicated), help presses and camera health, pushed and ticked; returns
 * the serialised alert events and metrics. */
struct tape {
    unsigned char *buf;
    size_t len, cap;
};

static void tape_put(struct tape *t, const void *p, size_t n)
{
    if (t->len + n > t->cap) {
        t->cap = (t->len + n) * 2;
        t->buf = realloc(t->buf, t->cap);
        cr_assert_not_null(t->buf);
    }
    memcpy(t->buf + t->len, p, n);
    t->len += n;
}

static void tape_alert(void *ctx, const vg_alert_event *ev)
{
    tape_put(ctx, ev, sizeof(*ev));
}

static void tape_metrics(void *ctx, int64_t t, const vg_zone_metrics *m, size_t n)
{
    tape_put(ctx, &t, sizeof(t));
    tape_put(ctx, m, n * sizeof(*m));
}

static size_t scripted_run(struct tape *t)
{
    vg_analysis_cfg cfg;
    vg_analysis *a;
    uint64_t x = 88172645463325252ull;
    size_t alerts = 0;

    vg_analysis_cfg_default(&cfg);
    cfg.sink.ctx = t;
    cfg.sink.on_alert = tape_alert;
    cfg.sink.on_metrics = tape_metrics;
    cr_assert_eq(vg_analysis_new(model, &cfg, &a), 0);
    for (int sec = 0; sec < 900; sec++) {
        for (int k = 0; k < 12; k++) {
            vg_reading r;
            int64_t jitter;

            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            jitter = (int64_t)(x % 3000) * VG_NS_PER_MS - S; /* -1 s .. +2 s */
            memset(&r, 0, sizeof(r));
            r.t_ns = T0 + sec * S + jitter;
            switch (x >> 60) {
            case 0:
            case 1:
            case 2:
            case 3:
                r.type = VG_READING_COUNT;
                r.source = (uint32_t)(x >> 8) % 3;
                r.zone = r.source == C_CONC ? Z_CONC : Z_HALL;
                r.value = (double)(100 + sec / 2 + (x >> 20) % 60);
                break;
            case 4:
                r.type = VG_READING_SPEED_VAR;
                r.source = C_CONC;
                r.zone = Z_CONC;
                r.value = (double)((x >> 24) % 100) / 10000.0;
                break;
            case 5:
            case 6:
                r.type = VG_READING_LINE;
                r.value = (double)((x >> 16) % 5);
                r.value2 = (double)((x >> 28) % 3);
                break;
            case 7:
                r.type = VG_READING_HELP;
                r.sub = (uint8_t)((x >> 12) % VG_HELP_TYPE_COUNT);
                if ((x >> 32) % 50 != 0)
                    continue;
                break;
            case 8:
                r.type = VG_READING_CAMERA_HEALTH;
                r.source = (uint32_t)(x >> 8) % 3;
                r.sub = (x >> 40) % 7 == 0 ? VG_CAMERA_FROZEN : VG_CAMERA_OK;
                break;
            default:
                r.type = VG_READING_SENSOR;
                r.source = (uint32_t)(x >> 8) % 3;
                r.value = r.source == S_WBGT  ? 20 + sec / 60.0 + (double)((x >> 20) % 10) / 10
                          : r.source == S_CO2 ? 500 + sec * 2 + (double)((x >> 20) % 50)
                                              : 90 + (double)((x >> 20) % 15);
                if ((x >> 36) % 97 == 0)
                    r.value = 1e6; /* out of range */
                break;
            }
            (void)vg_analysis_push(a, &r);
        }
        cr_assert_eq(vg_analysis_tick(a, T0 + sec * S), 0);
    }
    vg_analysis_stats st;
    cr_assert_eq(vg_analysis_get_stats(a, &st), 0);
    alerts = st.events;
    vg_analysis_free(&a);
    return alerts;
}

Test(analysis, the_same_input_twice_gives_byte_identical_output)
{
    struct tape t1 = {0}, t2 = {0};
    size_t e1, e2;

    load_model(NULL);
    e1 = scripted_run(&t1);
    e2 = scripted_run(&t2);
    cr_expect_gt(e1, 10, "the script exercises the grading (%zu events)", e1);
    cr_expect_eq(e1, e2);
    cr_assert_eq(t1.len, t2.len);
    cr_expect_eq(memcmp(t1.buf, t2.buf, t1.len), 0);
    free(t1.buf);
    free(t2.buf);
}

/* Smoke is life safety like a help press (DESIGN.md): latched by the alert layer until an
 * operator resets it, on its raise, on its return to normal and in a snapshot. */
static void smoke_flag(void *ctx, const vg_alert_event *ev)
{
    if (ev->kind == VG_ALERT_SMOKE)
        *(uint32_t *)ctx = ev->flags | 0x80000000u;
}

Test(analysis, smoke_is_latched_like_a_help_press)
{
    char text[8192];
    char *t1;
    uint32_t snap = 0;
    long i;

    snprintf(text, sizeof(text), base_model, "");
    t1 = replace(text, "}\n);\nhelp_points",
                 "},\n  { id = \"smk\"; kind = \"smoke\"; zone = \"conc\"; min = 0; max = 1; "
                 "period_s = 10; }\n);\nhelp_points");
    load_text(t1);
    free(t1);
    start_loaded(0, 0);
    for (int k = 0; k <= 60; k++) {
        sensor(S_T3 + 1, T0 + k * S, 1.0);
        tick(T0 + k * S);
    }
    i = find_event(VG_ALERT_SMOKE, 0);
    cr_assert_geq(i, 0, "smoke raised");
    cr_expect(events[i].flags & VG_ALERT_F_LATCHED);
    cr_assert_eq(vg_analysis_for_each_active(an, smoke_flag, &snap), 0);
    cr_expect(snap & 0x80000000u, "in the snapshot");
    cr_expect(snap & VG_ALERT_F_LATCHED);
    for (int k = 61; k <= 900; k++) {
        sensor(S_T3 + 1, T0 + k * S, 0.0);
        tick(T0 + k * S);
    }
    i = find_event(VG_ALERT_SMOKE, 1);
    cr_assert_geq(i, 0, "smoke returns to normal");
    cr_expect_eq(events[i].action, VG_ALERT_ACTION_CLEAR);
    cr_expect(events[i].flags & VG_ALERT_F_LATCHED);
}
