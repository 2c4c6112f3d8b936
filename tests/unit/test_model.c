/* The venue model: loading tests/data/models/small.cfg (every value below was worked out by
 * hand from that file and the DESIGN defaults), lookups, resolved limits and phases, every
 * class of validation error with its file, line and key, the sample models/olympic-park.cfg,
 * and the `vigil check` program. */
#include "vigil/common.h"
#include "vigil/model.h"

#include "child.h"
#include "mutate.h"

#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char small_path[4096];
static char olympic_path[4096];
static char tmpdir[256];

static void setup(void)
{
    const char *root = getenv("VG_SOURCE_ROOT");
    cr_assert(root, "VG_SOURCE_ROOT is set by meson test");
    snprintf(small_path, sizeof(small_path), "%s/tests/data/models/small.cfg", root);
    snprintf(olympic_path, sizeof(olympic_path), "%s/models/olympic-park.cfg", root);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/vg-test-model-XXXXXX");
    cr_assert(mkdtemp(tmpdir));
}

static void teardown(void)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(model, .init = setup, .fini = teardown, .timeout = 60);

static vg_model *load_ok(const char *path)
{
    vg_model *m = NULL;
    vg_model_error e;
    memset(&e, 0, sizeof(e));
    int r = vg_model_load(path, &m, &e);
    cr_assert_eq(r, 0, "%s: %s:%d: %s: %s", path, e.file, e.line, e.key, e.message);
    cr_assert(m);
    return m;
}

static uint32_t zone_idx(const vg_model *m, const char *id)
{
    uint32_t i = VG_MODEL_NONE;
    cr_assert_eq(vg_model_find_zone(m, id, &i), 0, "zone %s", id);
    return i;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f, "create %s", path);
    fputs(text, f);
    fclose(f);
}

static void write_bytes(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f, "create %s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* ---- names ---- */

Test(model, enum_names_round_trip_and_unknown_is_einval)
{
    for (int t = 0; t < VG_ZONE_TYPE_COUNT; t++) {
        enum vg_zone_type back = VG_ZONE_TYPE_COUNT;
        cr_expect_eq(vg_zone_type_parse(vg_zone_type_name((enum vg_zone_type)t), &back), 0);
        cr_expect_eq((int)back, t);
    }
    for (int k = 0; k < VG_SENSOR_KIND_COUNT; k++) {
        enum vg_sensor_kind back = VG_SENSOR_KIND_COUNT;
        cr_expect_eq(vg_sensor_kind_parse(vg_sensor_kind_name((enum vg_sensor_kind)k), &back), 0);
        cr_expect_eq((int)back, k);
    }
    for (int k = 0; k < VG_ALERT_KIND_COUNT; k++) {
        enum vg_alert_kind back = VG_ALERT_KIND_COUNT;
        cr_expect_eq(vg_alert_kind_parse(vg_alert_kind_name((enum vg_alert_kind)k), &back), 0);
        cr_expect_eq((int)back, k);
    }
    cr_expect_str_eq(vg_grade_name(VG_GRADE_CRITICAL), "critical");
    cr_expect_str_eq(vg_grade_name(VG_GRADE_CLEAR), "clear");
    cr_expect_str_eq(vg_feed_name(VG_FEED_MEDICAL), "medical");
    cr_expect_str_eq(vg_alert_kind_name(VG_ALERT_TREND_TO_CRITICAL), "trend_to_critical");
    cr_expect_str_eq(vg_sensor_kind_name(VG_SENSOR_CO2), "co2");
    cr_expect_str_eq(vg_grade_name((enum vg_grade)99), "unknown");

    enum vg_feed f = VG_FEED_SECURITY;
    cr_expect_eq(vg_feed_parse("radio", &f), -EINVAL);
    cr_expect_eq(vg_feed_parse(NULL, &f), -EINVAL);
    cr_expect_eq(f, VG_FEED_SECURITY);
    enum vg_grade g;
    cr_expect_eq(vg_grade_parse("emergency", &g), 0);
    cr_expect_eq(g, VG_GRADE_EMERGENCY);
    cr_expect_eq(vg_sensor_kind_alert(VG_SENSOR_WBGT), VG_ALERT_WBGT);
    cr_expect_eq(vg_sensor_kind_alert(VG_SENSOR_SMOKE), VG_ALERT_SMOKE);
    cr_expect_eq(vg_sensor_kind_alert(VG_SENSOR_TEMPERATURE), VG_ALERT_SENSOR_LIMIT);
}

/* ---- the small model, value by value ---- */

Test(model, small_model_counts_and_venue)
{
    vg_model *m = load_ok(small_path);
    cr_expect_str_eq(vg_model_venue(m), "testvenue");
    cr_expect_str_eq(vg_model_venue_name(m), "Test Venue");
    cr_expect_str_eq(vg_model_version(m), "t1");
    cr_expect_str_eq(vg_model_path(m), small_path);
    cr_expect_eq(vg_model_utc_offset_s(m), 7200);
    cr_expect_eq(vg_model_zone_count(m), 5);
    cr_expect_eq(vg_model_line_count(m), 3);
    cr_expect_eq(vg_model_camera_count(m), 2);
    cr_expect_eq(vg_model_sensor_count(m), 6);
    cr_expect_eq(vg_model_help_point_count(m), 1);
    cr_expect_eq(vg_model_profile_count(m), 3);
    cr_expect_eq(vg_model_phase_count(m), 3);
    cr_expect_eq(vg_model_sector_count(m), 2);
    cr_expect_str_eq(vg_model_sector_name(m, 0), "north");
    cr_expect_str_eq(vg_model_sector_name(m, 1), "stadium");
    cr_expect_null(vg_model_sector_name(m, 2));
    cr_expect_eq(vg_model_frigate_count(m), 2);
    cr_expect_eq(vg_model_z2m_count(m), 3);
    cr_expect_eq(vg_model_z2m_device_count(m), 2);
    cr_expect_null(vg_model_zone(m, 5));
    cr_expect_null(vg_model_sensor(m, 6));
    cr_expect_null(vg_model_line(m, UINT32_MAX));

    size_t len = 0;
    const char *text = vg_model_text(m, &len);
    char *disk = read_file(small_path);
    cr_expect_eq(len, strlen(disk));
    cr_expect_str_eq(text, disk);
    free(disk);
    vg_model_free(&m);
    cr_expect_null(m);
    vg_model_free(&m); /* NULL is fine */
    vg_model_free(NULL);
}

Test(model, small_model_zones_hand_checked)
{
    vg_model *m = load_ok(small_path);
    const vg_zone *gate = vg_model_zone(m, 0), *plaza = vg_model_zone(m, 1),
                  *conc = vg_model_zone(m, 2), *stair = vg_model_zone(m, 3),
                  *stand = vg_model_zone(m, 4);
    cr_expect_str_eq(gate->id, "gate-a");
    cr_expect_str_eq(gate->name, "Gate A queue");
    cr_expect_eq(gate->type, VG_ZONE_QUEUE);
    cr_expect_float_eq(gate->area_m2, 600.0, 1e-9);
    cr_expect_eq(gate->capacity, 1500);
    cr_expect_eq(gate->sector, 0);
    cr_expect_str_eq(gate->route, "Service road N to Gate A");
    cr_expect_str_eq(gate->action, "Slow ingress at Gate A");
    cr_expect_str_eq(plaza->name, "plaza"); /* no name: the id */
    cr_expect_str_eq(plaza->route, "");
    cr_expect_eq(plaza->type, VG_ZONE_STANDING);
    cr_expect_float_eq(plaza->area_m2, 12000.0, 1e-9);
    cr_expect_eq(stair->capacity, 0);
    cr_expect_eq(stand->type, VG_ZONE_SEATED);
    cr_expect_eq(conc->sector, 1);

    /* profiles: zones without one use venue.default_profile ("default", index 0) */
    cr_expect_eq(gate->profile, 0);
    cr_expect_eq(conc->profile, 1);
    cr_expect_str_eq(vg_model_profile(m, conc->profile)->id, "tight");

    /* neighbours, made symmetric: gate-a lists plaza; conc-1 lists plaza and stair-1;
     * stand-101 lists stair-1. */
    cr_assert_eq(gate->neighbour_count, 1);
    cr_expect_eq(gate->neighbours[0], 1);
    cr_assert_eq(plaza->neighbour_count, 2);
    cr_expect_eq(plaza->neighbours[0], 0);
    cr_expect_eq(plaza->neighbours[1], 2);
    cr_assert_eq(conc->neighbour_count, 2);
    cr_expect_eq(conc->neighbours[0], 1);
    cr_expect_eq(conc->neighbours[1], 3);
    cr_assert_eq(stair->neighbour_count, 2);
    cr_expect_eq(stair->neighbours[0], 2);
    cr_expect_eq(stair->neighbours[1], 4);
    cr_assert_eq(stand->neighbour_count, 1);
    cr_expect_eq(stand->neighbours[0], 3);

    /* reverse indices */
    cr_assert_eq(plaza->camera_count, 1);
    cr_expect_eq(plaza->cameras[0], 0);
    cr_assert_eq(gate->camera_count, 1);
    cr_expect_eq(stair->camera_count, 0);
    cr_assert_eq(conc->sensor_count, 4); /* co2, t, h, smoke */
    cr_expect_eq(conc->sensors[0], 1);
    cr_expect_eq(conc->sensors[3], 4);
    cr_assert_eq(conc->line_count, 2); /* stair-1-top, vom-101 */
    cr_expect_eq(conc->lines[0], 1);
    cr_expect_eq(conc->lines[1], 2);
    cr_assert_eq(gate->help_point_count, 1);
    cr_expect_eq(gate->help_points[0], 0);
    vg_model_free(&m);
}

static void expect_levels(const vg_limit *l, double adv, double warn, double crit, double emerg)
{
    double want[VG_GRADE_COUNT] = {NAN, adv, warn, crit, emerg};
    for (int g = 0; g < VG_GRADE_COUNT; g++) {
        if (isnan(want[g]))
            cr_expect(isnan(l->level[g]), "grade %s: expected off, got %g",
                      vg_grade_name((enum vg_grade)g), l->level[g]);
        else
            cr_expect_float_eq(l->level[g], want[g], 1e-9, "grade %s: %g != %g",
                               vg_grade_name((enum vg_grade)g), l->level[g], want[g]);
    }
}

Test(model, small_model_limits_resolve_profile_then_overrides)
{
    vg_model *m = load_ok(small_path);
    const vg_zone *gate = vg_model_zone(m, 0), *plaza = vg_model_zone(m, 1),
                  *conc = vg_model_zone(m, 2), *stair = vg_model_zone(m, 3),
                  *stand = vg_model_zone(m, 4);
    /* DESIGN defaults: queue 2/3/4/5, deadband 0.3, on 20 s, off 30 s */
    expect_levels(&gate->limits.density, 2, 3, 4, 5);
    cr_expect_float_eq(gate->limits.density.deadband, 0.3, 1e-12);
    cr_expect_eq(gate->limits.density.on_delay_ns, 20 * VG_NS_PER_S);
    cr_expect_eq(gate->limits.density.off_delay_ns, 30 * VG_NS_PER_S);
    /* standing 2/4/4.7/5.5 with warning overridden to 3.5 and on-delay 30 s */
    expect_levels(&plaza->limits.density, 2, 3.5, 4.7, 5.5);
    cr_expect_eq(plaza->limits.density.on_delay_ns, 30 * VG_NS_PER_S);
    cr_expect_eq(plaza->limits.density.off_delay_ns, 60 * VG_NS_PER_S);
    /* "tight": moving warning 2.5, critical 3.5 */
    expect_levels(&conc->limits.density, 2, 2.5, 3.5, 5);
    /* Fruin stair D/E/F, no emergency */
    expect_levels(&stair->limits.density, 1.08, 1.54, 2.69, NAN);
    /* seated: density off, occupancy 90/100/110 % */
    expect_levels(&stand->limits.density, NAN, NAN, NAN, NAN);
    expect_levels(&stand->limits.occupancy, 0.9, 1.0, 1.1, NAN);
    /* pressure (Helbing 2007), trend horizon, mismatch */
    expect_levels(&gate->limits.pressure, NAN, 0.01, 0.015, 0.02);
    cr_expect_eq(gate->limits.ttc_horizon_ns, 300 * VG_NS_PER_S);
    cr_expect_float_eq(gate->limits.mismatch_fraction, 0.25, 1e-12);
    cr_expect_float_eq(gate->limits.mismatch_min, 20, 1e-12);

    const vg_profile *def = vg_model_profile(m, 0);
    cr_expect_str_eq(def->id, "default");
    expect_levels(&def->sensor[VG_SENSOR_WBGT], 23, 28, 32, NAN);
    expect_levels(&def->sensor[VG_SENSOR_CO2], 800, 1500, 2000, NAN);
    expect_levels(&def->sensor[VG_SENSOR_NOISE], 97, 100, NAN, NAN);
    expect_levels(&def->flow, 0.7, 0.9, 1.0, NAN);
    cr_expect_eq(def->chatter_cycles, 3);
    cr_expect_eq(def->chatter_window_ns, 60 * VG_NS_PER_S);
    cr_expect_float_eq(def->sensitivity[VG_SENSOR_NOISE], 0.2, 1e-12);
    const vg_profile *tight = vg_model_profile(m, 1);
    cr_expect_float_eq(tight->sensitivity[VG_SENSOR_NOISE], 0.8, 1e-12);
    expect_levels(&tight->sensor[VG_SENSOR_CO2], 700, 1500, 2000, NAN);
    /* egress inherits default and turns the moving emergency off */
    const vg_profile *egress = vg_model_profile(m, 2);
    expect_levels(&egress->density[VG_ZONE_MOVING], 2, 3, 4.5, NAN);
    expect_levels(&egress->density[VG_ZONE_STANDING], 2, 4, 4.7, 5.5);
    vg_model_free(&m);
}

Test(model, small_model_lines_cameras_sensors_hand_checked)
{
    vg_model *m = load_ok(small_path);
    const vg_line *gl = vg_model_line(m, 0), *sl = vg_model_line(m, 1), *vl = vg_model_line(m, 2);
    cr_expect_str_eq(gl->id, "gate-a-in");
    cr_expect_float_eq(gl->width_m, 12.0, 1e-12);
    cr_expect_eq(gl->zone_from, 0);
    cr_expect_eq(gl->zone_to, 1);
    cr_expect_eq(gl->stair, 0);
    cr_expect_float_eq(gl->ref_flow_pmm, 82, 1e-12);
    /* 70/90/100 % of 82 p/m/min */
    expect_levels(&gl->flow, 57.4, 73.8, 82, NAN);
    cr_expect_float_eq(gl->flow.deadband, 4.1, 1e-9);
    /* a line into a stair zone is a stair line: 66 p/m/min */
    cr_expect_eq(sl->stair, 1);
    cr_expect_float_eq(sl->ref_flow_pmm, 66, 1e-12);
    expect_levels(&sl->flow, 46.2, 59.4, 66, NAN);
    /* vom-101: warning overridden to 80 % */
    expect_levels(&vl->flow, 57.4, 65.6, 82, NAN);

    const vg_camera *cp = vg_model_camera(m, 0), *cc = vg_model_camera(m, 1);
    cr_expect_str_eq(cp->id, "cam-plaza");
    cr_assert_eq(cp->zone_count, 2);
    cr_expect_eq(cp->zones[0].zone, 1);
    cr_expect_float_eq(cp->zones[0].coverage, 0.6, 1e-12);
    cr_expect_str_eq(cp->zones[0].frigate, "plaza_north");
    cr_expect_eq(cp->zones[1].zone, 0);
    cr_expect_null(cp->zones[1].frigate);
    cr_expect_eq(cp->period_ns, VG_NS_PER_S); /* default 1 s */
    cr_expect_eq(cp->stale_after_ns, 3 * VG_NS_PER_S);
    cr_expect_eq(cc->period_ns, 2 * VG_NS_PER_S);
    cr_expect_eq(cc->stale_after_ns, 6 * VG_NS_PER_S);

    const vg_sensor *wb = vg_model_sensor(m, 0), *co2 = vg_model_sensor(m, 1),
                    *t = vg_model_sensor(m, 2), *smoke = vg_model_sensor(m, 4),
                    *noise = vg_model_sensor(m, 5);
    cr_expect_eq(wb->kind, VG_SENSOR_WBGT);
    cr_expect_str_eq(wb->unit, "degC");
    cr_expect_float_eq(wb->min, -10, 1e-12);
    cr_expect_float_eq(wb->max, 60, 1e-12);
    cr_expect_eq(wb->period_ns, 60 * VG_NS_PER_S);
    cr_expect_eq(wb->stale_after_ns, 180 * VG_NS_PER_S);
    cr_expect_eq(wb->stuck_after_ns, 1800 * VG_NS_PER_S);
    expect_levels(&wb->limit, 23, 28, 32, NAN);
    cr_expect_eq(wb->limit.on_delay_ns, 300 * VG_NS_PER_S);
    cr_expect_float_eq(wb->sensitivity, 0.2, 1e-12);
    cr_expect_null(wb->z2m_device);
    cr_expect_str_eq(co2->unit, "ppm"); /* no unit: the kind's */
    /* sensors take their zone's profile: co2-conc is in conc-1 ("tight") */
    cr_expect_eq(co2->profile, 1);
    cr_expect_eq(wb->profile, 0);
    expect_levels(&co2->limit, 700, 1500, 2000, NAN);
    cr_expect_eq(noise->profile, 1); /* set explicitly; stand-101 uses "default" */
    cr_expect_str_eq(t->z2m_device, "conc1-env");
    cr_expect_str_eq(t->z2m_field, "temperature");
    expect_levels(&t->limit, NAN, NAN, NAN, NAN);
    cr_expect_eq(smoke->stuck_after_ns, 0); /* binary sensors are flat by nature */
    expect_levels(&smoke->limit, NAN, NAN, 1, NAN);
    cr_expect_eq(noise->zone, 4);
    expect_levels(&noise->limit, 97, 99, NAN, NAN);
    cr_expect_float_eq(noise->sensitivity, 0.9, 1e-12); /* its own, over tight's 0.8 */
    cr_expect_str_eq(noise->unit, "dBA");

    const vg_help_point *hp = vg_model_help_point(m, 0);
    cr_expect_str_eq(hp->id, "hp-1");
    cr_expect_str_eq(hp->name, "Gate A help point");
    cr_expect_eq(hp->zone, 0);
    vg_model_free(&m);
}

/* ---- lookups ---- */

Test(model, lookups_by_id_and_unknown_is_enoent)
{
    vg_model *m = load_ok(small_path);
    uint32_t i = 77;
    cr_expect_eq(vg_model_find_zone(m, "stair-1", &i), 0);
    cr_expect_eq(i, 3);
    cr_expect_eq(vg_model_find_line(m, "vom-101", &i), 0);
    cr_expect_eq(i, 2);
    cr_expect_eq(vg_model_find_camera(m, "cam-conc", &i), 0);
    cr_expect_eq(i, 1);
    cr_expect_eq(vg_model_find_sensor(m, "noise-stand", &i), 0);
    cr_expect_eq(i, 5);
    cr_expect_eq(vg_model_find_help_point(m, "hp-1", &i), 0);
    cr_expect_eq(i, 0);
    cr_expect_eq(vg_model_find_profile(m, "egress", &i), 0);
    cr_expect_eq(i, 2);
    cr_expect_eq(vg_model_find_phase(m, "final", &i), 0);
    cr_expect_eq(i, 2);

    i = 77;
    cr_expect_eq(vg_model_find_zone(m, "stair-2", &i), -ENOENT);
    cr_expect_eq(vg_model_find_zone(m, "", &i), -ENOENT);
    cr_expect_eq(vg_model_find_zone(m, "STAIR-1", &i), -ENOENT);   /* ids are case-sensitive */
    cr_expect_eq(vg_model_find_sensor(m, "stair-1", &i), -ENOENT); /* one table per kind */
    cr_expect_eq(vg_model_find_line(m, "nope", &i), -ENOENT);
    cr_expect_eq(vg_model_find_camera(m, "nope", &i), -ENOENT);
    cr_expect_eq(vg_model_find_help_point(m, "nope", &i), -ENOENT);
    cr_expect_eq(vg_model_find_profile(m, "nope", &i), -ENOENT);
    cr_expect_eq(vg_model_find_phase(m, "nope", &i), -ENOENT);
    cr_expect_eq(i, 77);
    cr_expect_eq(vg_model_find_zone(NULL, "plaza", &i), -EINVAL);
    cr_expect_eq(vg_model_find_zone(m, NULL, &i), -EINVAL);
    cr_expect_eq(vg_model_find_zone(m, "plaza", NULL), -EINVAL);

    /* length-delimited, as topic segments come: "vigil/testvenue/sensor/t-conc/extra" */
    const char *topic = "vigil/testvenue/sensor/t-conc/extra";
    cr_expect_eq(vg_model_find_sensor_n(m, topic + 23, 6, &i), 0);
    cr_expect_eq(i, 2);
    cr_expect_eq(vg_model_find_sensor_n(m, topic + 23, 5, &i), -ENOENT); /* "t-con" */
    cr_expect_eq(vg_model_find_zone_n(m, "plaza-x", 5, &i), 0);
    cr_expect_eq(i, 1);
    cr_expect_eq(vg_model_find_camera_n(m, "cam-conc/x", 8, &i), 0);
    cr_expect_eq(vg_model_find_line_n(m, "gate-a-in!", 9, &i), 0);
    cr_expect_eq(i, 0);
    cr_expect_eq(vg_model_find_help_point_n(m, "hp-12", 4, &i), 0);

    uint32_t slot = 9;
    cr_expect_eq(vg_model_camera_zone_slot(m, 0, 0, &slot), 0);
    cr_expect_eq(slot, 1);
    cr_expect_eq(vg_model_camera_zone_slot(m, 0, 2, &slot), -ENOENT);
    cr_expect_eq(vg_model_camera_zone_slot(m, 5, 0, &slot), -EINVAL);
    vg_model_free(&m);
}

Test(model, frigate_and_zigbee2mqtt_mappings)
{
    vg_model *m = load_ok(small_path);
    uint32_t cam = 9, zone = 9, s = 9;
    cr_expect_eq(vg_model_find_frigate(m, "plaza_north/person", 11, &cam, &zone), 0);
    cr_expect_eq(cam, 0);
    cr_expect_eq(zone, 1);
    cr_expect_eq(vg_model_find_frigate(m, "conc1", 5, &cam, &zone), 0);
    cr_expect_eq(cam, 1);
    cr_expect_eq(zone, 2);
    cr_expect_eq(vg_model_find_frigate(m, "gate", 4, &cam, &zone), -ENOENT);
    cr_expect_eq(vg_model_find_frigate(m, NULL, 0, &cam, &zone), -EINVAL);

    cr_expect_eq(vg_model_find_z2m(m, "conc1-env", "humidity", &s), 0);
    cr_expect_eq(s, 3);
    cr_expect_eq(vg_model_find_z2m(m, "conc1-env", "temperature", &s), 0);
    cr_expect_eq(s, 2);
    cr_expect_eq(vg_model_find_z2m(m, "conc1-smoke", "smoke", &s), 0);
    cr_expect_eq(s, 4);
    s = 9;
    cr_expect_eq(vg_model_find_z2m(m, "conc1-env", "battery", &s), -ENOENT);
    cr_expect_eq(vg_model_find_z2m(m, "conc1-smoke", "temperature", &s), -ENOENT);
    cr_expect_eq(vg_model_find_z2m(m, "conc1-en", "vtemperature", &s), -ENOENT);
    cr_expect_eq(s, 9);
    const char *topic = "zigbee2mqtt/conc1-env";
    cr_expect_eq(vg_model_find_z2m_n(m, topic + 12, 9, "humidity\"", 8, &s), 0);
    cr_expect_eq(s, 3);
    cr_expect_eq(vg_model_has_z2m_device(m, topic + 12, 9), 0);
    cr_expect_eq(vg_model_has_z2m_device(m, "conc1", 5), -ENOENT);
    cr_expect_eq(vg_model_has_z2m_device(m, NULL, 0), -EINVAL);
    vg_model_free(&m);
}

/* ---- phases and routes ---- */

Test(model, phases_pick_limits_by_event_time)
{
    vg_model *m = load_ok(small_path);
    uint32_t plaza = zone_idx(m, "plaza"), conc = zone_idx(m, "conc-1");
    /* venue at UTC+02:00; 2026-08-09 */
    const int64_t t_1530z = INT64_C(1786289400) * VG_NS_PER_S; /* 17:30 local: ingress */
    const int64_t t_1459z = INT64_C(1786287599) * VG_NS_PER_S; /* 16:59:59 local: none */
    const int64_t t_1500z = INT64_C(1786287600) * VG_NS_PER_S; /* 17:00 local: ingress */
    const int64_t t_1800z = INT64_C(1786298400) * VG_NS_PER_S; /* 20:00 local: final */
    const int64_t t_1930z = INT64_C(1786303800) * VG_NS_PER_S; /* final ends (exclusive) */
    const int64_t t_2215z = INT64_C(1786313700) * VG_NS_PER_S; /* 00:15 local: egress */
    const int64_t t_2300z = INT64_C(1786316400) * VG_NS_PER_S; /* 01:00 local: none */
    cr_expect_eq(vg_model_phase_at(m, t_1530z), 0);
    cr_expect_eq(vg_model_phase_at(m, t_1459z), VG_MODEL_NONE);
    cr_expect_eq(vg_model_phase_at(m, t_1500z), 0);
    cr_expect_eq(vg_model_phase_at(m, t_1800z), 2);
    cr_expect_eq(vg_model_phase_at(m, t_1930z), VG_MODEL_NONE);
    cr_expect_eq(vg_model_phase_at(m, t_1930z - 1), 2);
    cr_expect_eq(vg_model_phase_at(m, t_2215z), 1);
    cr_expect_eq(vg_model_phase_at(m, t_2300z), VG_MODEL_NONE);
    /* daily phases repeat: 17:30 local a year earlier */
    cr_expect_eq(vg_model_phase_at(m, t_1530z - INT64_C(365) * 86400 * VG_NS_PER_S), 0);

    const vg_phase *eg = vg_model_phase(m, 1);
    cr_expect_str_eq(eg->id, "egress");
    cr_expect_eq(eg->daily, 1);
    cr_expect_eq(eg->start_s, 22 * 3600);
    cr_expect_eq(eg->end_s, 1800);
    cr_expect_eq(eg->profile, 2);
    const vg_phase *fin = vg_model_phase(m, 2);
    cr_expect_eq(fin->daily, 0);
    cr_expect_eq(fin->start_s, INT64_C(1786298400));
    cr_expect_eq(fin->profile, VG_MODEL_NONE);

    /* plaza in ingress: its own override (warning 3.5) plus the phase's advisory 1.5 */
    expect_levels(&vg_model_zone_limits_at(m, plaza, t_1530z)->density, 1.5, 3.5, 4.7, 5.5);
    /* outside phases: zone->limits */
    cr_expect_eq(vg_model_zone_limits_at(m, plaza, t_2300z), &vg_model_zone(m, plaza)->limits);
    /* egress phase switches profile: conc-1 (normally "tight") uses egress's moving limits */
    expect_levels(&vg_model_zone_limits_at(m, conc, t_2215z)->density, 2, 3, 4.5, NAN);
    expect_levels(&vg_model_zone_limits_at(m, conc, t_1530z)->density, 2, 2.5, 3.5, 5);
    cr_expect_null(vg_model_zone_limits_at(m, 99, t_1530z));
    vg_model_free(&m);
}

Test(model, routes_default_and_overridden)
{
    vg_model *m = load_ok(small_path);
    cr_expect_eq(vg_model_feed(m, VG_ALERT_DENSITY), VG_FEED_SECURITY);
    cr_expect_eq(vg_model_feed(m, VG_ALERT_WBGT), VG_FEED_MEDICAL);
    cr_expect_eq(vg_model_feed(m, VG_ALERT_HELP_MEDICAL), VG_FEED_MEDICAL);
    cr_expect_eq(vg_model_feed(m, VG_ALERT_SENSOR_STALE), VG_FEED_TECHNICAL);
    cr_expect_eq(vg_model_feed(m, VG_ALERT_CO2), VG_FEED_TECHNICAL);
    /* overridden in small.cfg: noise medical -> technical, help_other security -> medical */
    cr_expect_eq(vg_model_feed(m, VG_ALERT_NOISE), VG_FEED_TECHNICAL);
    cr_expect_eq(vg_model_feed(m, VG_ALERT_HELP_OTHER), VG_FEED_MEDICAL);
    cr_expect_eq(vg_model_feed(m, (enum vg_alert_kind)VG_ALERT_KIND_COUNT), VG_FEED_TECHNICAL);
    vg_model_free(&m);
}

/* The suggested action: the zone's own for crowd alerts; who to send, and how to reach the
 * zone, for help, heat and smoke (a fire press must not read "medical post"). */
Test(model, suggested_action_depends_on_the_kind)
{
    vg_model *m = load_ok(small_path);
    char buf[256];

    cr_expect_str_eq(vg_model_action(m, VG_ALERT_DENSITY, 0, buf, sizeof(buf)),
                     "Slow ingress at Gate A");
    cr_expect_str_eq(vg_model_action(m, VG_ALERT_HELP_MEDICAL, 0, buf, sizeof(buf)),
                     "Send a medic: Service road N to Gate A");
    cr_expect_str_eq(vg_model_action(m, VG_ALERT_HELP_FIRE, 0, buf, sizeof(buf)),
                     "Send the fire team: Service road N to Gate A");
    cr_expect_str_eq(vg_model_action(m, VG_ALERT_SMOKE, 0, buf, sizeof(buf)),
                     "Send the fire team: Service road N to Gate A");
    cr_expect_str_eq(vg_model_action(m, VG_ALERT_HELP_SECURITY, 0, buf, sizeof(buf)),
                     "Send security: Service road N to Gate A");
    cr_expect_str_eq(vg_model_action(m, VG_ALERT_SENSOR_STALE, 0, buf, sizeof(buf)), "");
    /* the plaza has no route and no action */
    cr_expect_str_eq(vg_model_action(m, VG_ALERT_HELP_OTHER, 1, buf, sizeof(buf)),
                     "Send a steward to plaza");
    cr_expect_str_eq(vg_model_action(m, VG_ALERT_DENSITY, 1, buf, sizeof(buf)), "");
    cr_expect_str_eq(vg_model_action(m, VG_ALERT_HELP_MEDICAL, 99, buf, sizeof(buf)), "",
                     "no such zone");
    cr_expect_str_eq(vg_model_action(m, VG_ALERT_HELP_MEDICAL, 0, buf, 12), "Send a medi",
                     "truncated to the buffer");
    vg_model_free(&m);
}

Test(model, loading_twice_gives_identical_indices)
{
    vg_model *a = load_ok(olympic_path), *b = load_ok(olympic_path);
    cr_assert_eq(vg_model_zone_count(a), vg_model_zone_count(b));
    cr_assert_eq(vg_model_sensor_count(a), vg_model_sensor_count(b));
    cr_expect_eq(vg_model_digest(a), vg_model_digest(b));
    for (uint32_t i = 0; i < vg_model_zone_count(a); i++) {
        uint32_t k;
        cr_assert_eq(vg_model_find_zone(b, vg_model_zone(a, i)->id, &k), 0);
        cr_expect_eq(k, i);
        cr_expect_eq(vg_model_zone(a, i)->neighbour_count, vg_model_zone(b, i)->neighbour_count);
    }
    for (uint32_t i = 0; i < vg_model_sensor_count(a); i++) {
        uint32_t k;
        cr_assert_eq(vg_model_find_sensor(b, vg_model_sensor(a, i)->id, &k), 0);
        cr_expect_eq(k, i);
        cr_expect_eq(vg_model_sensor(a, i)->zone, vg_model_sensor(b, i)->zone);
    }
    for (uint32_t i = 0; i < vg_model_line_count(a); i++) {
        uint32_t k;
        cr_assert_eq(vg_model_find_line(b, vg_model_line(a, i)->id, &k), 0);
        cr_expect_eq(k, i);
    }
    vg_model_free(&a);
    vg_model_free(&b);
}

/* ---- bad models: small.cfg with one edit each; line numbers are small.cfg's ---- */

struct bad_case {
    const char *from, *to; /* the edit: first occurrence of from becomes to */
    int line;
    const char *key;
    const char *msg; /* substring of the message */
};

static const struct bad_case bad_cases[] = {
    /* missing keys: reported at the object's id line */
    {" area_m2 = 80;", "", 53, "zones.stair-1.area_m2", "missing"},
    {"id = \"gate-a\"; name = \"Gate A queue\"; type = \"queue\";", "id = \"gate-a\";", 37,
     "zones.gate-a.type", "missing"},
    {" min = -10;", "", 78, "sensors.wbgt-plaza.min", "missing"},
    {"{ id = \"hp-1\"; name = \"Gate A help point\"; zone = \"gate-a\"; }",
     "{ id = \"hp-1\"; name = \"Gate A help point\"; }", 99, "help_points.hp-1.zone", "missing"},
    {"{ id = \"hp-1\"; name", "{ name", 99, "help_points[0].id", "missing"},
    /* wrong types */
    {"capacity = 30000", "capacity = \"many\"", 44, "zones.plaza.capacity", "integer"},
    {"capacity = 30000", "capacity = 30000.5", 44, "zones.plaza.capacity", "integer"},
    {"width_m = 12.0", "width_m = \"wide\"", 61, "lines.gate-a-in.width_m", "number"},
    {"neighbours = [ \"plaza\" ];", "neighbours = \"plaza\";", 39, "zones.gate-a.neighbours",
     "array"},
    {"overrides = { density", "overrides = { densty", 45, "zones.plaza.overrides.densty",
     "unknown key"},
    {"z2m = { device = \"conc1-env\"; field = \"temperature\"; };", "z2m = true;", 82,
     "sensors.t-conc.z2m", "group"},
    {"capacity = 1500; sector", "capacity = 1500; open = 1; sector", 38, "zones.gate-a.open",
     "true or false"},
    /* negative or impossible values */
    {"area_m2 = 12000.0", "area_m2 = -5", 44, "zones.plaza.area_m2", "greater than 0"},
    {"area_m2 = 600;", "area_m2 = 0;", 38, "zones.gate-a.area_m2", "greater than 0"},
    {"width_m = 2.4; from = \"conc-1\"; to = \"stair-1\"",
     "width_m = 0; from = \"conc-1\"; to = \"stair-1\"", 62, "lines.stair-1-top.width_m",
     "greater than 0"},
    {"capacity = 1500;", "capacity = -1;", 38, "zones.gate-a.capacity", "[0, 10000000]"},
    {"coverage = 0.6", "coverage = 1.5", 70, "cameras.cam-plaza.zones[0].coverage", "(0, 1]"},
    {"coverage = 0.6", "coverage = 0", 70, "cameras.cam-plaza.zones[0].coverage", "greater than 0"},
    {"min = 0; max = 100;", "min = 100; max = 0;", 85, "sensors.h-conc.max", "greater than min"},
    {"period_s = 300;", "period_s = -300;", 89, "sensors.smoke-conc.period_s", "greater than 0"},
    {"sensitivity = 0.9;", "sensitivity = 1.5;", 94, "sensors.noise-stand.sensitivity", "[0, 1]"},
    {"warning = 3.5; on_delay_s = 30;", "warning = 5; on_delay_s = 30;", 45,
     "zones.plaza.overrides.density.warning", "above critical"},
    {"on_delay_s = 30;", "on_delay_s = -1;", 45, "zones.plaza.overrides.density.on_delay_s",
     "at least 0"},
    {"emergency = \"off\"", "emergency = \"none\"", 23, "profiles.egress.density.moving.emergency",
     "\"off\""},
    {"density = { moving = { warning = 2.5;", "density = { moving = { warning = 1e999;", 16,
     "profiles.tight.density.moving.warning", "must be a finite number, not infinity"},
    /* unknown references */
    {"to = \"stand-101\"", "to = \"stand-999\"", 63, "lines.vom-101.to",
     "unknown zone \"stand-999\""},
    {"[ \"plaza\", \"stair-1\" ]", "[ \"plaza\", \"stair-9\" ]", 50, "zones.conc-1.neighbours",
     "unknown zone \"stair-9\""},
    {"[ \"stair-1\" ]", "[ \"stand-101\" ]", 56, "zones.stand-101.neighbours", "own neighbour"},
    {"profile = \"tight\";\n    },", "profile = \"tigh\";\n    },", 51, "zones.conc-1.profile",
     "unknown profile \"tigh\""},
    {"zone = \"conc-1\"; coverage", "zone = \"conc-2\"; coverage", 74,
     "cameras.cam-conc.zones[0].zone", "unknown zone"},
    {"zone = \"stand-101\"; min", "zone = \"stand-1\"; min", 93, "sensors.noise-stand.zone",
     "unknown zone"},
    {"zone = \"gate-a\"; }", "zone = \"gate-b\"; }", 99, "help_points.hp-1.zone", "unknown zone"},
    {"base = \"default\";\n        density = { moving = { warning",
     "base = \"egress\";\n        density = { moving = { warning", 15, "profiles.tight.base",
     "unknown profile"},
    {"phases = { ingress", "phases = { ingres", 46, "zones.plaza.phases.ingres", "unknown phase"},
    {"default_profile = \"default\"", "default_profile = \"loose\"", 8, "venue.default_profile",
     "unknown profile"},
    {"end = \"00:30\"; profile = \"egress\"", "end = \"00:30\"; profile = \"exit\"", 29,
     "phases.egress.profile", "unknown profile"},
    /* duplicate ids and mappings */
    {"{ id = \"stair-1\"; type", "{ id = \"plaza\"; type", 53, "zones.plaza.id",
     "duplicate id \"plaza\" (first defined at line 44)"},
    {"id = \"h-conc\"", "id = \"t-conc\"", 85, "sensors.t-conc.id", "first defined at line 81"},
    {"id = \"vom-101\"", "id = \"gate-a-in\"", 63, "lines.gate-a-in.id", "line 61"},
    {"id = \"cam-conc\"", "id = \"cam-plaza\"", 74, "cameras.cam-plaza.id", "line 68"},
    {"id = \"egress\";\n        base", "id = \"tight\";\n        base", 21, "profiles.tight.id",
     "duplicate"},
    {"frigate = \"conc1\"", "frigate = \"plaza_north\"", 74, "cameras.cam-conc.zones[0].frigate",
     "already mapped by camera \"cam-plaza\""},
    {"field = \"humidity\"", "field = \"temperature\"", 86, "sensors.h-conc.z2m.field",
     "already mapped to sensor \"t-conc\""},
    {"{ zone = \"gate-a\"; coverage = 1.0; }", "{ zone = \"plaza\"; coverage = 1.0; }", 71,
     "cameras.cam-plaza.zones[1].zone", "listed twice"},
    /* unknown keys and enum values */
    {"period_s = 2;", "perod_s = 2;", 74, "cameras.cam-conc.perod_s", "unknown key"},
    {"type = \"stair\"", "type = \"stairs\"", 53, "zones.stair-1.type", "unknown zone type"},
    {"kind = \"wbgt\"", "kind = \"heat\"", 78, "sensors.wbgt-plaza.kind", "unknown sensor kind"},
    {"unit = \"degC\"", "unit = \"degF\"", 78, "sensors.wbgt-plaza.unit", "not a unit of wbgt"},
    {"noise = \"technical\"", "noise = \"radio\"", 33, "routes.noise", "security"},
    {"help_other = \"medical\"", "help_others = \"medical\"", 33, "routes.help_others",
     "unknown alert kind"},
    {"density = { moving = { critical = 4.5", "density = { walking = { critical = 4.5", 23,
     "profiles.egress.density.walking", "unknown zone type"},
    {"sensitivity = { noise = 0.8; }", "sensitivity = { noise = 2; }", 18,
     "profiles.tight.sensitivity.noise", "[0, 1]"},
    {"help_points = (", "help_point = (", 98, "help_point", "unknown key"},
    /* ids and names */
    {"id = \"hp-1\"", "id = \"hp 1\"", 99, "help_points[0].id", "not a valid id"},
    {"id = \"testvenue\"", "id = \"test/venue\"", 4, "venue.id", "MQTT topic segment"},
    {"device = \"conc1-smoke\"", "device = \"conc1/smoke\"", 90, "sensors.smoke-conc.z2m.device",
     "no / + #"},
    {"frigate = \"conc1\"", "frigate = \"conc 1\"", 74, "cameras.cam-conc.zones[0].frigate",
     "not a valid Frigate zone name"},
    /* structure */
    {"from = \"gate-a\"; to = \"plaza\"", "from = \"plaza\"; to = \"plaza\"", 61,
     "lines.gate-a-in.to", "two different zones"},
    {"start = \"17:00\"", "start = \"25:00\"", 28, "phases.ingress.start", "time of day"},
    {"end = \"19:30\"", "end = \"2026-08-09T19:30:00Z\"", 28, "phases.ingress.end", "daily"},
    {"end = \"2026-08-09T19:30:00Z\"", "end = \"2026-08-09T17:00:00Z\"", 30, "phases.final.end",
     "after start"},
    {"utc_offset = \"+02:00\"", "utc_offset = \"CEST\"", 7, "venue.utc_offset", "offset"},
    {"utc_offset = \"+02:00\"", "utc_offset = \"+-1:30\"", 7, "venue.utc_offset", "offset"},
    {"utc_offset = \"+02:00\"", "utc_offset = \"+01:-5\"", 7, "venue.utc_offset", "offset"},
    {"lines = (", "lines = {", 61, "syntax", "syntax error"},
    {" area_m2 = 80;", " area_m2 = 80 80;", 53, "syntax", "syntax error"},
    {" area_m2 = 80;", " area_m2 = 80; area_m2 = 90;", 53, "syntax", "duplicate"},
    /* libconfig 1.5 wraps integers beyond 32 bits (4294967297 loads as 1): refused first */
    {"capacity = 1500;", "capacity = 4294967297;", 38, "zones.gate-a.capacity",
     "integer 4294967297 is too large: it must fit in 32 bits"},
    {"area_m2 = 600;", "area_m2 = 4294967896;", 38, "zones.gate-a.area_m2", "too large"},
    {"capacity = 1500;", "capacity = -4294967296;", 38, "zones.gate-a.capacity", "too large"},
    {"capacity = 1500;", "capacity = 99999999999999999999;", 38, "zones.gate-a.capacity",
     "integer 99999999999999999999 is too large"},
    {"capacity = 1500;", "capacity = 0x80000000;", 38, "zones.gate-a.capacity",
     "integer 0x80000000 is too large"},
    {"capacity = 1500;", "capacity = 99999999999999999999L;", 38, "zones.gate-a.capacity",
     "with L, it must fit in 64 bits"},
    {"advisory = 700;", "advisory = 4294967297;", 17, "profiles.tight.sensors.co2.advisory",
     "too large"},
    {"neighbours = [ \"plaza\" ];", "neighbours = [ 1, 4294967297 ];", 39,
     "zones.gate-a.neighbours[1]", "too large"},
    {"{ zone = \"gate-a\"; coverage = 1.0; }", "{ zone = \"gate-a\"; coverage = 4294967297; }",
     71, "cameras.cam-plaza.zones[1].coverage", "too large"},
    /* plausibility limits */
    {"width_m = 12.0", "width_m = 250", 61, "lines.gate-a-in.width_m", "at most 200 m"},
    {"on_delay_s = 30;", "on_delay_s = 700000;", 45, "zones.plaza.overrides.density.on_delay_s",
     "more than a week"},
    {"zones = ( { zone = \"conc-1\"; coverage = 0.5; frigate = \"conc1\"; } )", "zones = ( )",
     74, "cameras.cam-conc.zones", "at least one zone"},
    {"id = \"tight\";", "id = \"tight\"; stale_factor = 0.5;", 14, "profiles.tight.stale_factor",
     "at least 1"},
    {"id = \"tight\";", "id = \"tight\"; stuck_factor = 1e6;", 14, "profiles.tight.stuck_factor",
     "at most 1000"},
    {"period_s = 2;", "period_s = 1e12;", 74, "cameras.cam-conc.period_s", "more than a week"},
    {"max = 10000; period_s = 30;", "max = 10000; period_s = 30; stuck_after_s = 1e300;", 79,
     "sensors.co2-conc.stuck_after_s", "more than a week"},
    {"id = \"tight\";", "id = \"tight\"; chatter = { cycles = 1; };", 14,
     "profiles.tight.chatter.cycles", "[2, 8]"},
    /* the analysis core keeps 8 raise times per limit: more cycles could never be counted */
    {"id = \"tight\";", "id = \"tight\"; chatter = { cycles = 9; };", 14,
     "profiles.tight.chatter.cycles", "must be in [2, 8], not 9"},
};

static char *apply_edit(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    cr_assert(at, "edit \"%s\" not found in small.cfg", from);
    size_t head = (size_t)(at - text), fl = strlen(from), tl = strlen(to);
    char *out = malloc(strlen(text) - fl + tl + 1);
    cr_assert(out);
    memcpy(out, text, head);
    memcpy(out + head, to, tl);
    strcpy(out + head + tl, at + fl);
    return out;
}

Test(model, every_bad_model_names_file_line_and_key)
{
    char *text = read_file(small_path);
    char path[512];
    snprintf(path, sizeof(path), "%s/bad.cfg", tmpdir);
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *bc = &bad_cases[i];
        char *bad = apply_edit(text, bc->from, bc->to);
        write_file(path, bad);
        free(bad);
        vg_model *m = NULL;
        vg_model_error e;
        memset(&e, 0x55, sizeof(e)); /* every field must be written */
        int r = vg_model_load(path, &m, &e);
        cr_expect_eq(r, -EINVAL, "case %zu (%s -> %s): r=%d", i, bc->from, bc->to, r);
        cr_expect_null(m, "case %zu", i);
        if (r != -EINVAL) {
            vg_model_free(&m);
            continue;
        }
        cr_expect_str_eq(e.file, path, "case %zu", i);
        cr_expect_eq(e.line, bc->line, "case %zu (%s): line %d, expected %d: %s: %s", i, bc->to,
                     e.line, bc->line, e.key, e.message);
        cr_expect_str_eq(e.key, bc->key, "case %zu: key %s, expected %s (%s)", i, e.key, bc->key,
                         e.message);
        cr_expect(strstr(e.message, bc->msg), "case %zu: message \"%s\" lacks \"%s\"", i, e.message,
                  bc->msg);
    }
    free(text);
}

Test(model, missing_sections_and_empty_lists)
{
    static const struct {
        const char *text;
        int line;
        const char *key, *msg;
    } cases[] = {
        {"# nothing\n", 1, "venue", "missing"},
        {"venue = { id = \"v\"; };\n", 1, "zones", "missing"},
        {"venue = { name = \"V\"; };\nzones = ();\n", 1, "venue.id", "missing"},
        {"venue = { id = \"v\"; };\n\nzones = ();\n", 3, "zones", "at least one zone"},
        {"venue = { id = \"v\"; };\nzones = { a = 1; };\n", 2, "zones", "list"},
        {"venue = { id = \"v\"; };\nzones = ( \"a\" );\n", 2, "zones[0]", "group"},
        {"venue = \"v\";\n", 1, "venue", "group"},
        {"venue = { id = \"v\"; };\nzones = ( { id = \"a\"; type = \"moving\"; area_m2 = 5; } );\n"
         "sensors = ( { id = \"s\"; kind = \"co2\"; zone = \"a\"; min = 0; max = 5000; } );\n",
         3, "sensors.s.period_s", "missing"},
    };
    char path[512];
    snprintf(path, sizeof(path), "%s/m.cfg", tmpdir);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        vg_model *m = NULL;
        vg_model_error e;
        write_file(path, cases[i].text);
        cr_expect_eq(vg_model_load(path, &m, &e), -EINVAL, "case %zu", i);
        cr_expect_str_eq(e.file, path);
        cr_expect_eq(e.line, cases[i].line, "case %zu: line %d: %s: %s", i, e.line, e.key,
                     e.message);
        cr_expect_str_eq(e.key, cases[i].key, "case %zu", i);
        cr_expect(strstr(e.message, cases[i].msg), "case %zu: \"%s\"", i, e.message);
    }
}

Test(model, minimal_model_gets_the_builtin_default_profile)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/min.cfg", tmpdir);
    write_file(path, "venue = { id = \"v\"; };\n"
                     "zones = ( { id = \"a\"; type = \"standing\"; area_m2 = 100; } );\n");
    vg_model *m = load_ok(path);
    cr_expect_eq(vg_model_profile_count(m), 1);
    cr_expect_str_eq(vg_model_profile(m, 0)->id, "default");
    cr_expect_str_eq(vg_model_venue_name(m), "v");
    cr_expect_str_eq(vg_model_version(m), "");
    cr_expect_eq(vg_model_utc_offset_s(m), 0);
    cr_expect_eq(vg_model_phase_count(m), 0);
    cr_expect_str_eq(vg_model_sector_name(m, 0), "venue");
    expect_levels(&vg_model_zone(m, 0)->limits.density, 2, 4, 4.7, 5.5);
    cr_expect_eq(vg_model_zone(m, 0)->neighbour_count, 0);
    cr_expect_eq(vg_model_phase_at(m, 0), VG_MODEL_NONE);
    uint32_t i;
    cr_expect_eq(vg_model_find_sensor(m, "x", &i), -ENOENT);
    cr_expect_eq(vg_model_find_z2m(m, "d", "f", &i), -ENOENT);
    vg_model_free(&m);
}

Test(model, include_errors_name_the_included_file)
{
    char main_path[512], inc_path[512];
    snprintf(main_path, sizeof(main_path), "%s/main.cfg", tmpdir);
    snprintf(inc_path, sizeof(inc_path), "%s/zones.cfg", tmpdir);
    write_file(main_path, "# includes are relative to this file's folder\n"
                          "venue = { id = \"v\"; };\n"
                          "@include \"zones.cfg\"\n");
    write_file(inc_path, "zones = (\n"
                         "  { id = \"a\"; type = \"moving\"; area_m2 = 5; },\n"
                         "  { id = \"b\"; type = \"movin\"; area_m2 = 5; }\n"
                         ");\n");
    vg_model *m = NULL;
    vg_model_error e;
    cr_expect_eq(vg_model_load(main_path, &m, &e), -EINVAL);
    cr_expect_str_eq(e.file, inc_path);
    cr_expect_eq(e.line, 3);
    cr_expect_str_eq(e.key, "zones.b.type");

    write_file(inc_path, "zones = ( { id = \"a\"; type = \"moving\"; area_m2 = 5; } );\n");
    m = load_ok(main_path);
    cr_expect_eq(vg_model_zone_count(m), 1);
    vg_model_free(&m);
}

/* libconfig names the included file as written, relative to the model's folder */
Test(model, include_syntax_errors_name_the_included_file)
{
    char main_path[512], inc_path[512];
    snprintf(main_path, sizeof(main_path), "%s/main.cfg", tmpdir);
    snprintf(inc_path, sizeof(inc_path), "%s/zones.cfg", tmpdir);
    write_file(main_path, "venue = { id = \"v\"; };\n@include \"zones.cfg\"\n");
    write_file(inc_path, "zones = (\n  { id = \"a\"; type = \"moving\"; area_m2 = 5 5; }\n);\n");
    vg_model *m = NULL;
    vg_model_error e;
    cr_expect_eq(vg_model_load(main_path, &m, &e), -EINVAL);
    cr_expect_null(m);
    cr_expect_str_eq(e.file, inc_path);
    cr_expect_eq(e.line, 2);
    cr_expect_str_eq(e.key, "syntax");
    cr_expect(strstr(e.message, "syntax error"), "%s", e.message);
}

#define MINIMAL "venue = { id = \"v\"; };\n" \
                "zones = ( { id = \"a\"; type = \"moving\"; area_m2 = 5; } );\n"

/* libconfig stops at a NUL byte: what follows it must not be silently dropped */
Test(model, nul_byte_is_refused_at_its_line)
{
    static const char text[] = MINIMAL "\0zones = 1;\n";
    char path[512];
    snprintf(path, sizeof(path), "%s/nul.cfg", tmpdir);
    write_bytes(path, text, sizeof(text) - 1);
    vg_model *m = NULL;
    vg_model_error e;
    memset(&e, 0, sizeof(e));
    cr_expect_eq(vg_model_load(path, &m, &e), -EINVAL);
    cr_expect_null(m);
    cr_expect_str_eq(e.file, path);
    cr_expect_eq(e.line, 3);
    cr_expect_str_eq(e.key, "syntax");
    cr_expect_str_eq(e.message, "NUL byte (a binary or UTF-16 file?)");
    vg_model_free(&m);
}

/* Windows editors save UTF-8 with a byte order mark, which libconfig 1.5 cannot parse */
Test(model, utf8_bom_is_skipped_and_utf16_refused)
{
    static const char text[] = "\xef\xbb\xbf" MINIMAL;
    char path[512], plain[512];
    snprintf(path, sizeof(path), "%s/bom.cfg", tmpdir);
    snprintf(plain, sizeof(plain), "%s/plain.cfg", tmpdir);
    write_bytes(path, text, sizeof(text) - 1);
    write_file(plain, MINIMAL);
    vg_model *m = load_ok(path), *p = load_ok(plain);
    cr_expect_eq(vg_model_zone_count(m), 1);
    size_t len = 0;
    const char *t = vg_model_text(m, &len);
    cr_expect_eq(len, sizeof(text) - 1, "the text is the file's bytes, the mark included");
    cr_expect_eq(memcmp(t, text, len), 0);
    cr_expect_neq(vg_model_digest(m), vg_model_digest(p), "the digest covers the mark");
    vg_model_free(&m);
    vg_model_free(&p);

    static const char le[] = "\xff\xfev\0e\0n\0", be[] = "\xfe\xff\0v\0e\0n";
    const char *const utf16[] = {le, be};
    for (int i = 0; i < 2; i++) {
        vg_model_error e;
        memset(&e, 0, sizeof(e));
        write_bytes(path, utf16[i], sizeof(le) - 1);
        cr_expect_eq(vg_model_load(path, &m, &e), -EINVAL, "case %d", i);
        cr_expect_null(m);
        cr_expect_str_eq(e.file, path);
        cr_expect_eq(e.line, 1);
        cr_expect_str_eq(e.key, "syntax");
        cr_expect_str_eq(e.message, "UTF-16 file: save it as UTF-8", "case %d", i);
        vg_model_free(&m);
    }
}

/* Only integer literals are checked: not floats, names, strings or comments with digits */
Test(model, integers_beyond_32_bits_are_refused_floats_and_names_are_not)
{
    char path[512], inc_path[512];
    snprintf(path, sizeof(path), "%s/big.cfg", tmpdir);
    snprintf(inc_path, sizeof(inc_path), "%s/zones.cfg", tmpdir);
    write_file(path, "# 4294967297 // 4294967297\n"
                     "venue = { id = \"v-4294967297\"; name = \"Hall \\\"99999999999\"; };\n"
                     "/* 4294967297\n 99999999999 */\n"
                     "@include \"zones.cfg\"\n");
    write_file(inc_path, "zones = (\n"
                         "  { id = \"a1\"; type = \"moving\"; area_m2 = 4294967297.5; },\n"
                         "  { id = \"a2\"; type = \"moving\"; area_m2 = 1e5; capacity = 0x10; },\n"
                         "  { id = \"a3\"; type = \"moving\"; area_m2 = 1E+3; },\n"
                         "  { id = \"a4\"; type = \"moving\"; area_m2 = .4294967297e3; },\n"
                         "  { id = \"a5\"; type = \"moving\"; area_m2 = 4294967297e-6; },\n"
                         "  { id = \"a6\"; type = \"moving\"; area_m2 = 2147483647; },\n"
                         "  { id = \"a7\"; type = \"moving\"; area_m2 = 5; capacity = 10000000; }\n"
                         ");\n");
    vg_model *m = load_ok(path);
    cr_expect_eq(vg_model_zone_count(m), 7);
    cr_expect_float_eq(vg_model_zone(m, 0)->area_m2, 4294967297.5, 1e-3);
    cr_expect_eq(vg_model_zone(m, 1)->capacity, 16);
    cr_expect_float_eq(vg_model_zone(m, 3)->area_m2, 429.4967297, 1e-9);
    cr_expect_float_eq(vg_model_zone(m, 5)->area_m2, 2147483647.0, 1e-3);
    vg_model_free(&m);

    /* in an @include'd file too, named by the path the user can open */
    write_file(path, "profiles = ( { id = \"p\"; chatter = { cycles = 3; }; } );\n"
                     "venue = { id = \"v\"; };\n"
                     "@include \"zones.cfg\"\n");
    write_file(inc_path, "zones = (\n"
                         "  { id = \"a\"; type = \"moving\"; area_m2 = 4294967896; }\n"
                         ");\n");
    vg_model_error e;
    memset(&e, 0, sizeof(e));
    cr_expect_eq(vg_model_load(path, &m, &e), -EINVAL);
    cr_expect_null(m);
    cr_expect_str_eq(e.file, inc_path);
    cr_expect_eq(e.line, 2);
    cr_expect_str_eq(e.key, "zones.a.area_m2");
    cr_expect(strstr(e.message, "integer 4294967896 is too large"), "%s", e.message);
    vg_model_free(&m);
}

Test(model, unreadable_file_and_bad_arguments)
{
    vg_model *m = (vg_model *)0x1;
    vg_model_error e;
    char path[512];
    snprintf(path, sizeof(path), "%s/none.cfg", tmpdir);
    cr_expect_eq(vg_model_load(path, &m, &e), -ENOENT);
    cr_expect_eq(m, (vg_model *)0x1); /* untouched on failure */
    cr_expect_str_eq(e.file, path);
    cr_expect_eq(e.line, 0);
    cr_expect(strstr(e.message, "No such file"), "%s", e.message);
    m = NULL;
    cr_expect_eq(vg_model_load(tmpdir, &m, &e), -EISDIR);
    cr_expect_null(m);
    cr_expect_str_eq(e.file, tmpdir);
    cr_expect_eq(e.line, 0);
    cr_expect_eq(vg_model_load(NULL, &m, &e), -EINVAL);
    cr_expect_eq(vg_model_load(small_path, NULL, &e), -EINVAL);
    /* ret_err may be NULL */
    m = NULL;
    cr_expect_eq(vg_model_load(path, &m, NULL), -ENOENT);
    cr_expect_eq(vg_model_load(small_path, &m, NULL), 0);
    vg_model_free(&m);
}

/* ---- the sample venue ---- */

Test(model, olympic_park_is_large_realistic_and_consistent)
{
    vg_model *m = load_ok(olympic_path);
    cr_expect_str_eq(vg_model_venue(m), "olympic-park");
    uint32_t nz = vg_model_zone_count(m);
    cr_expect_geq(nz, 150);
    cr_expect_geq(vg_model_sensor_count(m), 200);
    cr_expect_geq(vg_model_camera_count(m), 24);
    cr_expect_geq(vg_model_line_count(m), 24);
    cr_expect_geq(vg_model_help_point_count(m), 10);
    cr_expect_geq(vg_model_frigate_count(m), 2);
    cr_expect_geq(vg_model_z2m_count(m), 2);

    uint32_t by_type[VG_ZONE_TYPE_COUNT] = {0}, by_kind[VG_SENSOR_KIND_COUNT] = {0};
    uint64_t seats = 0;
    for (uint32_t i = 0; i < nz; i++) {
        const vg_zone *z = vg_model_zone(m, i);
        by_type[z->type]++;
        if (z->type == VG_ZONE_SEATED &&
            vg_model_zone(m, i)->sector == vg_model_zone(m, zone_idx(m, "STD-S101"))->sector)
            seats += z->capacity;
        cr_expect_gt(z->neighbour_count, 0, "zone %s is not connected", z->id);
    }
    /* People reach the plaza and the station forecourt from the street and the trains, past
     * no counting line; every other zone is entered through the venue. */
    cr_expect_eq(vg_model_zone(m, zone_idx(m, "PLZ-OUTER"))->open, 1);
    cr_expect_eq(vg_model_zone(m, zone_idx(m, "PLZ-STATION"))->open, 1);
    cr_expect_eq(vg_model_zone(m, zone_idx(m, "PLZ-BRIDGE"))->open, 0);
    cr_expect_eq(vg_model_zone(m, zone_idx(m, "STD-Q-G1"))->open, 0);
    for (int t = 0; t < VG_ZONE_TYPE_COUNT; t++)
        cr_expect_gt(by_type[t], 0, "no %s zone", vg_zone_type_name((enum vg_zone_type)t));
    /* a ~60,000-seat stadium */
    cr_expect_geq(seats, 55000);
    cr_expect_leq(seats, 65000);
    for (uint32_t i = 0; i < vg_model_sensor_count(m); i++)
        by_kind[vg_model_sensor(m, i)->kind]++;
    static const enum vg_sensor_kind need[] = {
        VG_SENSOR_TEMPERATURE, VG_SENSOR_HUMIDITY, VG_SENSOR_WBGT, VG_SENSOR_CO2,
        VG_SENSOR_NOISE,       VG_SENSOR_SMOKE,    VG_SENSOR_DOOR, VG_SENSOR_VIBRATION};
    for (size_t k = 0; k < sizeof(need) / sizeof(need[0]); k++)
        cr_expect_gt(by_kind[need[k]], 0, "no %s sensor", vg_sensor_kind_name(need[k]));

    /* realistic sizes (see models/gen-olympic-park.py) */
    uint32_t i;
    cr_assert_eq(vg_model_find_line(m, "L-VOM-S101", &i), 0);
    cr_expect_float_eq(vg_model_line(m, i)->width_m, 2.4, 1e-9);
    cr_assert_eq(vg_model_find_zone(m, "PLZ-OUTER", &i), 0);
    cr_expect_geq(vg_model_zone(m, i)->area_m2, 10000);
    cr_expect_eq(vg_model_zone(m, i)->type, VG_ZONE_STANDING);
    cr_assert_eq(vg_model_find_zone(m, "STD-C1-N", &i), 0);
    cr_expect_geq(vg_model_zone(m, i)->area_m2, 800);
    cr_expect_leq(vg_model_zone(m, i)->area_m2, 1500);
    /* WBGT in the fan zone, CO2 in the arena and the aquatics hall, noise in the stadium */
    int wbgt_fan = 0, co2_arena = 0, co2_aqua = 0, noise_std = 0;
    for (uint32_t s = 0; s < vg_model_sensor_count(m); s++) {
        const vg_sensor *se = vg_model_sensor(m, s);
        const char *zid = vg_model_zone(m, se->zone)->id;
        wbgt_fan += se->kind == VG_SENSOR_WBGT && strncmp(zid, "FAN-", 4) == 0;
        co2_arena += se->kind == VG_SENSOR_CO2 && strncmp(zid, "ARN-", 4) == 0;
        co2_aqua += se->kind == VG_SENSOR_CO2 && strncmp(zid, "AQU-", 4) == 0;
        noise_std += se->kind == VG_SENSOR_NOISE && strncmp(zid, "STD-", 4) == 0;
    }
    cr_expect_gt(wbgt_fan, 0);
    cr_expect_gt(co2_arena, 0);
    cr_expect_gt(co2_aqua, 0);
    cr_expect_gt(noise_std, 0);
    vg_model_free(&m);
}

Test(model, olympic_park_profiles_phases_and_mappings_hand_checked)
{
    vg_model *m = load_ok(olympic_path);
    uint32_t c1n = zone_idx(m, "STD-C1-N"), i, cam, zone;
    /* venue at UTC+02:00; 2026-07-18 */
    const int64_t t_1950 = INT64_C(1784397000) * VG_NS_PER_S; /* local 19:50: half-time */
    const int64_t t_2030 = INT64_C(1784399400) * VG_NS_PER_S; /* local 20:30: match */
    const int64_t t_2100 = INT64_C(1784401200) * VG_NS_PER_S; /* local 21:00: egress */
    cr_assert_eq(vg_model_find_phase(m, "half-time", &i), 0);
    cr_expect_eq(vg_model_phase_at(m, t_1950), i); /* listed before match, so it wins */
    cr_assert_eq(vg_model_find_phase(m, "match", &i), 0);
    cr_expect_eq(vg_model_phase_at(m, t_2030), i);
    /* level-1 concourses: half-time override advisory 2.5, on-delay 30 s */
    const vg_zone_limits *l = vg_model_zone_limits_at(m, c1n, t_1950);
    expect_levels(&l->density, 2.5, 3, 4, 5);
    cr_expect_eq(l->density.on_delay_ns, 30 * VG_NS_PER_S);
    expect_levels(&vg_model_zone_limits_at(m, c1n, t_2030)->density, 2, 3, 4, 5);
    /* egress profile: moving advisory 2.5 */
    expect_levels(&vg_model_zone_limits_at(m, c1n, t_2100)->density, 2.5, 3, 4, 5);

    /* a pool-hall sensor takes its zone's "aquatics" profile: humidity 70 / 80 % RH */
    cr_assert_eq(vg_model_find_sensor(m, "AQU-HALL-HUM1", &i), 0);
    const vg_sensor *hum = vg_model_sensor(m, i);
    cr_expect_str_eq(vg_model_profile(m, hum->profile)->id, "aquatics");
    expect_levels(&hum->limit, 70, 80, NAN, NAN);
    cr_expect_float_eq(hum->sensitivity, 0.4, 1e-12);
    uint32_t s;
    cr_expect_eq(vg_model_find_z2m(m, "aqu-hall-env-1", "humidity", &s), 0);
    cr_expect_eq(s, i);
    cr_assert_eq(vg_model_find_sensor(m, "AQU-POOL-COMP-TMP", &i), 0);
    cr_expect_eq(vg_model_find_z2m(m, "aqu-pool-competition", "temperature", &s), 0);
    cr_expect_eq(s, i);
    /* stage wind: "outdoor" profile 10.8 / 13.9 / 20 m/s */
    cr_assert_eq(vg_model_find_sensor(m, "FAN-STAGE-WIND1", &i), 0);
    expect_levels(&vg_model_sensor(m, i)->limit, 10.8, 13.9, 20, NAN);
    /* arena bowl CO2: the DESIGN values */
    cr_assert_eq(vg_model_find_sensor(m, "ARN-S101-CO2", &i), 0);
    expect_levels(&vg_model_sensor(m, i)->limit, 800, 1500, 2000, NAN);
    /* Frigate: fan_stage is CAM-FAN-STAGE counting FAN-STAGE */
    cr_assert_eq(vg_model_find_frigate(m, "fan_stage", 9, &cam, &zone), 0);
    cr_expect_str_eq(vg_model_camera(m, cam)->id, "CAM-FAN-STAGE");
    cr_expect_str_eq(vg_model_zone(m, zone)->id, "FAN-STAGE");
    /* a stair line: 2.7 m, 66 p/m/min */
    cr_assert_eq(vg_model_find_line(m, "L-STR-N-12-B", &i), 0);
    cr_expect_eq(vg_model_line(m, i)->stair, 1);
    cr_expect_float_eq(vg_model_line(m, i)->ref_flow_pmm, 66, 1e-12);
    vg_model_free(&m);
}

/* ---- vigil check ---- */

struct run {
    int status;
    char *out, *err;
};

static struct run run_vigil(const char *const *args)
{
    const char *vigil = getenv("VG_VIGIL");
    char out_path[512], err_path[512];
    const char *argv[16];
    int n = 0;
    struct run res;

    cr_assert(vigil, "VG_VIGIL is set by meson test");
    snprintf(out_path, sizeof(out_path), "%s/out.txt", tmpdir);
    snprintf(err_path, sizeof(err_path), "%s/err.txt", tmpdir);
    argv[n++] = vigil;
    argv[n++] = "check";
    for (; args[n - 2] && n < 15; n++)
        argv[n] = args[n - 2];
    argv[n] = NULL;
    res.status = child_run(argv, &(child_io){.out = out_path, .err = err_path}, 30000);
    res.out = read_file(out_path);
    res.err = read_file(err_path);
    return res;
}

static void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
}

Test(model, check_prints_summary_and_exits_0_on_good_model)
{
    const char *args[] = {small_path, NULL};
    struct run r = run_vigil(args);
    cr_expect_eq(r.status, 0, "stderr: %s", r.err);
    cr_expect_str_eq(r.err, "");
    cr_expect(strstr(r.out, "valid"), "%s", r.out);
    cr_expect(strstr(r.out, "testvenue \"Test Venue\""), "%s", r.out);
    /* 600 + 12000 + 1200 + 80 + 900 m², 1500 + 30000 + 2400 + 1850 persons */
    cr_expect(strstr(r.out, "zones        5 in 2 sectors, walkable area 14780 m², capacity 35750"),
              "%s", r.out);
    cr_expect(strstr(r.out, "queue          1 zones        600 m²"), "%s", r.out);
    /* 12 + 2.4 + 2.4 m */
    cr_expect(strstr(r.out, "lines        3 (1 on stairs), total width 16.8 m"), "%s", r.out);
    cr_expect(strstr(r.out, "cameras      2, covering 3 of 5 zones"), "%s", r.out);
    cr_expect(strstr(r.out, "sensors      6: temperature 1, humidity 1, wbgt 1, co2 1, noise 1, "
                            "smoke 1"),
              "%s", r.out);
    cr_expect(strstr(r.out, "help points  1"), "%s", r.out);
    cr_expect(strstr(r.out, "profiles     3: default tight egress"), "%s", r.out);
    cr_expect(strstr(r.out, "egress 22:00-00:30 (egress)"), "%s", r.out);
    cr_expect(strstr(r.out, "frigate 2 zones, zigbee2mqtt 3 fields on 2 devices"), "%s", r.out);
    run_free(&r);

    const char *quiet[] = {"-q", small_path, olympic_path, NULL};
    r = run_vigil(quiet);
    cr_expect_eq(r.status, 0, "stderr: %s", r.err);
    cr_expect_str_eq(r.out, "");
    run_free(&r);
}

/* Mutated models: small.cfg with a number or a string replaced, a line deleted or repeated,
 * or a byte changed, 2,000 times. Each either loads or fails with -EINVAL and an
 * error giving the file, the line, the key and what is wrong; none crashes (ASan runs this
 * too; tests/lsan.supp has the one leak it finds, in libconfig 1.5's parser). */
/* Replaces text[a, b) with rep; text has room for cap bytes. */
static void replace_range(char *text, size_t cap, size_t a, size_t b, const char *rep)
{
    const size_t len = strlen(text), n = strlen(rep);
    if (len - (b - a) + n + 1 > cap)
        return;
    memmove(text + a + n, text + b, len - b + 1);
    memcpy(text + a, rep, n);
}

static void mutate_model(vg_mut_rng *rng, char *text, size_t cap)
{
    static const char *const numbers[] = {"-1", "0", "1e308", "-1e308", "1.5", "99999999999",
                                          "\"7\"", "true", "0x7fffffff", "-0.0"};
    static const char *const strings[] = {"\"\"", "\"plaza\"", "\"nope\"", "42", "\"a\\\"b\"",
                                          "\"17:00\"", "\"2026-13-45T99:00:00Z\""};
    const size_t len = strlen(text);
    size_t at = vg_mut_next(rng, (uint32_t)len);

    switch (vg_mut_next(rng, 5)) {
    case 0: { /* the next number */
        while (at < len && !(isdigit((unsigned char)text[at]) &&
                             (at == 0 || strchr(" =[,(-", text[at - 1]))))
            at++;
        size_t e = at;
        while (e < len && (isalnum((unsigned char)text[e]) || strchr(".-+", text[e])))
            e++;
        if (at < len)
            replace_range(text, cap, at, e,
                          numbers[vg_mut_next(rng, sizeof(numbers) / sizeof(numbers[0]))]);
        break;
    }
    case 1: { /* the next string */
        const char *q = strchr(text + at, '"');
        const char *e = q ? strchr(q + 1, '"') : NULL;
        if (e)
            replace_range(text, cap, (size_t)(q - text), (size_t)(e - text) + 1,
                   strings[vg_mut_next(rng, sizeof(strings) / sizeof(strings[0]))]);
        break;
    }
    case 2: { /* delete or repeat a line */
        while (at > 0 && text[at - 1] != '\n')
            at--;
        const char *nl = strchr(text + at, '\n');
        const size_t e = nl ? (size_t)(nl - text) + 1 : len;
        char line[512];
        snprintf(line, sizeof(line), "%.*s", (int)(e - at), text + at);
        if (vg_mut_next(rng, 2))
            replace_range(text, cap, at, e, "");
        else
            replace_range(text, cap, at, at, line);
        break;
    }
    default: /* a byte */
        text[at] = "{}()[];=,\"#@x0\n"[vg_mut_next(rng, 15)];
        break;
    }
}

Test(model, mutated_models_load_or_fail_with_a_located_error)
{
    vg_mut_rng state = {0x2545f4914f6cdd1du}, *rng = &state;
    char *orig = read_file(small_path), path[512];
    const size_t cap = strlen(orig) + 4096;
    char *text = malloc(cap);
    int loaded = 0;

    snprintf(path, sizeof(path), "%s/mutant.cfg", tmpdir);
    for (int i = 0; i < 2000; i++) {
        strcpy(text, orig);
        for (int k = vg_mut_next(rng, 3) ? 1 : 2; k > 0; k--)
            mutate_model(rng, text, cap);
        FILE *f = fopen(path, "w");
        cr_assert_not_null(f);
        fputs(text, f);
        fclose(f);
        vg_model *m = NULL;
        vg_model_error e;
        memset(&e, 0, sizeof(e));
        const int r = vg_model_load(path, &m, &e);
        if (r == 0) {
            cr_assert_not_null(m, "mutant %d", i);
            loaded++;
            vg_model_free(&m);
            continue;
        }
        cr_assert_eq(r, -EINVAL, "mutant %d: %d (%s)", i, r, e.message);
        cr_assert_null(m, "mutant %d", i);
        cr_assert(e.message[0], "mutant %d: no message", i);
        cr_assert(strstr(e.file, "mutant.cfg"), "mutant %d: file \"%s\": %s", i, e.file,
                  e.message);
        cr_assert_gt(e.line, 0, "mutant %d: %s", i, e.message);
        cr_assert(e.key[0], "mutant %d: no key: %s", i, e.message);
    }
    cr_log_info("2000 mutated models, %d loaded", loaded);
    cr_assert_gt(loaded, 0);
    cr_assert_lt(loaded, 2000);
    free(text);
    free(orig);
}

Test(model, check_reports_file_line_key_and_exits_1_on_bad_models)
{
    const char *root = getenv("VG_SOURCE_ROOT");
    static const struct {
        const char *file, *want;
    } cases[] = {
        {"bad-missing-key.cfg", "bad-missing-key.cfg:11: zones.conc-n.area_m2: missing (required)"},
        {"bad-wrong-type.cfg", "bad-wrong-type.cfg:11: zones.conc-n.capacity: must be an integer"},
        {"bad-negative-area.cfg",
         "bad-negative-area.cfg:11: zones.conc-n.area_m2: must be greater than 0, not -1200"},
        {"bad-unknown-ref.cfg", "bad-unknown-ref.cfg:16: lines.l1.to: unknown zone \"conc-s\""},
        {"bad-duplicate-id.cfg",
         "bad-duplicate-id.cfg:12: zones.conc-n.id: duplicate id \"conc-n\" (first defined at "
         "line 11)"},
        {"bad-syntax.cfg", "bad-syntax.cfg:12: syntax: syntax error"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/tests/data/models/%s", root, cases[i].file);
        const char *args[] = {path, NULL};
        struct run r = run_vigil(args);
        cr_expect_eq(r.status, 1, "%s", cases[i].file);
        cr_expect_str_eq(r.out, "", "%s", cases[i].file);
        cr_expect(strstr(r.err, cases[i].want), "%s: got \"%s\"", cases[i].file, r.err);
        cr_expect(strncmp(r.err, root, strlen(root)) == 0, "the error starts with the path");
        run_free(&r);
    }
    /* a good and a bad file: 1, the good one is still summarised */
    char bad[4096];
    snprintf(bad, sizeof(bad), "%s/tests/data/models/bad-syntax.cfg", root);
    const char *both[] = {small_path, bad, NULL};
    struct run r = run_vigil(both);
    cr_expect_eq(r.status, 1);
    cr_expect(strstr(r.out, "testvenue"));
    run_free(&r);
    /* unreadable */
    const char *none[] = {"/nonexistent/venue.cfg", NULL};
    r = run_vigil(none);
    cr_expect_eq(r.status, 1);
    cr_expect(strstr(r.err, "/nonexistent/venue.cfg: cannot read: No such file or directory"), "%s",
              r.err);
    run_free(&r);
}

Test(model, check_usage_help_and_errors)
{
    const char *help[] = {"--help", NULL};
    struct run r = run_vigil(help);
    cr_expect_eq(r.status, 0);
    cr_expect(strstr(r.out, "usage: vigil check"), "%s", r.out);
    run_free(&r);
    const char *none[] = {NULL};
    r = run_vigil(none);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "no model file"), "%s", r.err);
    run_free(&r);
    const char *badopt[] = {"--frobnicate", small_path, NULL};
    r = run_vigil(badopt);
    cr_expect_eq(r.status, 2);
    run_free(&r);
    /* a summary that cannot be written (a full disk) is a failure, for every subcommand */
    char cmd[9000], err_path[600];
    snprintf(err_path, sizeof(err_path), "%s/err.txt", tmpdir);
    const char *progs[] = {"check", "--help"};
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof(cmd), "'%s' %s %s >/dev/full 2>'%s'", getenv("VG_VIGIL"), progs[i],
                 i == 0 ? small_path : "", err_path);
        const int st = child_sh("%s", cmd);
        char *err = read_file(err_path);
        cr_expect_eq(st, 1, "%s: %s", progs[i], err);
        cr_expect(strstr(err, "stdout: write error: No space left on device"), "%s: %s",
                  progs[i], err);
        free(err);
    }
}

/* The id rule is public so that vigil-count checks its ids as the model does. */
Test(model, id_rule_is_letters_digits_underscore_dash_dot)
{
    char longest[VG_MODEL_ID_MAX + 2];
    cr_expect(vg_model_id_valid("STD-C1-N"));
    cr_expect(vg_model_id_valid("cam_2.b"));
    cr_expect_not(vg_model_id_valid(""));
    cr_expect_not(vg_model_id_valid(NULL));
    cr_expect_not(vg_model_id_valid("a/b"));
    cr_expect_not(vg_model_id_valid("a+b"));
    cr_expect_not(vg_model_id_valid("a b"));
    cr_expect_not(vg_model_id_valid("caf\xc3\xa9"));
    memset(longest, 'x', sizeof(longest));
    longest[VG_MODEL_ID_MAX] = '\0';
    cr_expect(vg_model_id_valid(longest));
    longest[VG_MODEL_ID_MAX] = 'x';
    longest[VG_MODEL_ID_MAX + 1] = '\0';
    cr_expect_not(vg_model_id_valid(longest), "one character too long");
}
