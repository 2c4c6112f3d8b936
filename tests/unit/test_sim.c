/* The venue simulator, its scenarios and the scorer, on the sample venue
 * (models/olympic-park.cfg) without a broker: every message goes through the emit callback.
 *
 * - the shipped scenarios load; bad scenario files name the file, the line and the key;
 * - same seed, same message stream; another seed, another stream;
 * - every payload parses (cJSON) as the native schema, Frigate or zigbee2mqtt, batch too;
 * - people are conserved: they appear and leave only through entry zones;
 * - the quiet day stays below every warning density, line flow and static sensor limit, and
 *   no sensor or camera goes stale or looks stuck;
 * - each incident type does what it says, on small scenarios written here;
 * - the scorer gives the lead times, delays, misses and false alerts worked out by hand. */
#include "vigil/common.h"
#include "vigil/model.h"
#include "vigil/sim.h"

#include "child.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[2048];
static char model_path[4096];
static char tmpdir[256];
static vg_model *model;

static void setup(void)
{
    const char *r = getenv("VG_SOURCE_ROOT");
    vg_model_error err;
    cr_assert(r, "VG_SOURCE_ROOT is set by meson test");
    snprintf(root, sizeof(root), "%s", r);
    snprintf(model_path, sizeof(model_path), "%s/models/olympic-park.cfg", root);
    cr_assert_eq(vg_model_load(model_path, &model, &err), 0, "%s:%d: %s: %s", err.file,
                 err.line, err.key, err.message);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/vg-test-sim-XXXXXX");
    cr_assert(mkdtemp(tmpdir));
}

static void teardown(void)
{
    char cmd[512];
    vg_model_free(&model);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(sim, .init = setup, .fini = teardown, .timeout = 120);

/* ---- helpers ---- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert(f, "%s", path);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

static vg_scenario *load_shipped(const char *name)
{
    char path[4096];
    vg_scenario *sc = NULL;
    vg_scenario_error err;
    snprintf(path, sizeof(path), "%s/models/scenarios/%s", root, name);
    cr_assert_eq(vg_scenario_load(path, model, &sc, &err), 0, "%s:%d: %s: %s", err.file,
                 err.line, err.key, err.message);
    return sc;
}

/* A 45-minute day on the sample venue with the given incidents block: a full house arrives
 * over 25 minutes and leaves over 12. */
static vg_scenario *load_day(const char *incidents)
{
    char path[512], text[8192];
    vg_scenario *sc = NULL;
    vg_scenario_error err;
    snprintf(path, sizeof(path), "%s/day.cfg", tmpdir);
    snprintf(text, sizeof(text),
             "name = \"test\";\n"
             "start = \"2026-07-18T18:00:00+02:00\";\n"
             "duration = 2700;\n"
             "attendance = 80000;\n"
             "ingress = { from = 0; to = 1500; };\n"
             "kickoff = 1600;\n"
             "egress = { from = 1900; to = 2600; };\n"
             "entries = ( { zone = \"PLZ-STATION\"; share = 0.45; },\n"
             "            { zone = \"PLZ-OUTER\"; share = 0.55; } );\n"
             "incidents = ( %s );\n",
             incidents);
    write_file(path, text);
    cr_assert_eq(vg_scenario_load(path, model, &sc, &err), 0, "%s:%d: %s: %s", err.file,
                 err.line, err.key, err.message);
    return sc;
}

/* The load error for a scenario text (must fail). */
static vg_scenario_error load_bad(const char *text, int *ret_code)
{
    char path[512];
    vg_scenario *sc = NULL;
    vg_scenario_error err;
    snprintf(path, sizeof(path), "%s/bad.cfg", tmpdir);
    write_file(path, text);
    memset(&err, 0, sizeof(err));
    *ret_code = vg_scenario_load(path, model, &sc, &err);
    cr_assert_null(sc);
    cr_assert_str_eq(err.file, path);
    return err;
}

static uint32_t zone_idx(const char *id)
{
    uint32_t z;
    cr_assert_eq(vg_model_find_zone(model, id, &z), 0, "%s", id);
    return z;
}

typedef struct msg {
    char *topic;
    char *payload;
    int64_t t_ns;
} msg;

typedef struct collect {
    msg *v;
    size_t n, cap;
    uint64_t hash;
    size_t count;
    int keep;
} collect;

static int on_msg(void *ctx, const char *topic, const char *payload, size_t len, int64_t t_ns)
{
    collect *c = ctx;
    cr_assert_eq(strlen(payload), len, "payload is NUL-terminated at len");
    for (const char *p = topic; *p; p++)
        c->hash = (c->hash ^ (unsigned char)*p) * UINT64_C(0x100000001b3);
    c->hash = (c->hash ^ 0xff) * UINT64_C(0x100000001b3);
    for (size_t i = 0; i < len; i++)
        c->hash = (c->hash ^ (unsigned char)payload[i]) * UINT64_C(0x100000001b3);
    c->count++;
    if (c->keep) {
        if (c->n == c->cap) {
            c->cap = c->cap ? 2 * c->cap : 4096;
            c->v = realloc(c->v, c->cap * sizeof(*c->v));
            cr_assert(c->v);
        }
        c->v[c->n].topic = strdup(topic);
        c->v[c->n].payload = strdup(payload);
        c->v[c->n].t_ns = t_ns;
        c->n++;
    }
    return 0;
}

static void collect_free(collect *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].topic);
        free(c->v[i].payload);
    }
    free(c->v);
}

static vg_sim *new_sim(const vg_scenario *sc, uint64_t seed, int batch, int native)
{
    vg_sim_cfg cfg;
    vg_sim *s = NULL;
    vg_sim_cfg_default(&cfg);
    cfg.seed = seed;
    cfg.batch = batch;
    cfg.native_only = native;
    cr_assert_eq(vg_sim_new(model, sc, &cfg, &s), 0);
    return s;
}

static void run_all(vg_sim *s, collect *c)
{
    while (!vg_sim_done(s))
        cr_assert_eq(vg_sim_step(s, on_msg, c), 0);
    cr_assert_eq(vg_sim_step(s, on_msg, c), -ECANCELED, "stepping past the end is refused");
}

static const char *topic_id(const char *topic, const char *kind)
{
    char prefix[128];
    snprintf(prefix, sizeof(prefix), "vigil/olympic-park/%s/", kind);
    return strncmp(topic, prefix, strlen(prefix)) == 0 ? topic + strlen(prefix) : NULL;
}

static double json_value(const char *payload)
{
    const char *p = strstr(payload, "\"value\":");
    cr_assert(p, "%s", payload);
    return strtod(p + 8, NULL);
}

/* ---- scenarios ---- */

Test(sim, shipped_scenarios_load_and_incidents_cover_every_type)
{
    vg_scenario *q = load_shipped("quiet.cfg"), *in = load_shipped("incidents.cfg");
    vg_scenario *sh = load_shipped("short.cfg");
    int seen[VG_INCIDENT_TYPE_COUNT] = {0};

    cr_expect_eq(vg_scenario_incident_count(q), 0, "the quiet day has no incident");
    cr_expect_eq(vg_scenario_start_ns(q), vg_scenario_start_ns(in), "same day");
    cr_expect_eq(vg_scenario_duration_ns(q), vg_scenario_duration_ns(in));
    cr_expect_eq(vg_scenario_attendance(q), vg_scenario_attendance(in));
    /* 2026-07-18T18:00:00+02:00 */
    cr_expect_eq(vg_scenario_start_ns(in), INT64_C(1784390400) * VG_NS_PER_S);
    for (uint32_t i = 0; i < vg_scenario_incident_count(in); i++)
        seen[vg_scenario_incident(in, i)->type]++;
    for (int t = 0; t < VG_INCIDENT_TYPE_COUNT; t++)
        cr_expect_geq(seen[t], 1, "incidents.cfg has a %s",
                      vg_incident_type_name((enum vg_incident_type)t));
    cr_expect_lt(vg_scenario_duration_ns(sh), 15 * 60 * VG_NS_PER_S, "the test scenario is short");
    cr_expect_null(vg_scenario_incident(in, 99));
    vg_scenario_free(&q);
    vg_scenario_free(&in);
    vg_scenario_free(&sh);
    vg_scenario_free(&sh); /* sets NULL: freeing again is harmless */
}

Test(sim, incident_type_names_round_trip)
{
    enum vg_incident_type t;
    for (int i = 0; i < VG_INCIDENT_TYPE_COUNT; i++) {
        cr_assert_eq(vg_incident_type_parse(vg_incident_type_name((enum vg_incident_type)i), &t),
                     0);
        cr_expect_eq((int)t, i);
    }
    cr_expect_eq(vg_incident_type_parse("flood", &t), -EINVAL);
    cr_expect_str_eq(vg_incident_type_name(VG_INCIDENT_TYPE_COUNT), "unknown");
    cr_expect(vg_incident_is_buildup(VG_INCIDENT_GATE_CLOSED));
    cr_expect(vg_incident_is_buildup(VG_INCIDENT_SURGE));
    cr_expect_not(vg_incident_is_buildup(VG_INCIDENT_HELP_PRESS));
}

#define HEAD                                                                                    \
    "name = \"bad\";\n"                                                                         \
    "start = \"2026-07-18T18:00:00+02:00\";\n"                                                  \
    "duration = 600;\n"                                                                         \
    "attendance = 100;\n"                                                                       \
    "ingress = { from = 0; to = 300; };\n"                                                      \
    "egress = { from = 400; to = 600; };\n"

/* A scenario text the loader must refuse, and where and why it says so. */
struct bad_case {
    const char *text;
    int line;
    const char *key;
    const char *words;
};

static void expect_refused(const struct bad_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int code;
        vg_scenario_error err = load_bad(cases[i].text, &code);
        cr_expect_eq(code, -EINVAL, "case %zu", i);
        cr_expect_eq(err.line, cases[i].line, "case %zu: line %d (%s: %s)", i, err.line, err.key,
                     err.message);
        cr_expect_str_eq(err.key, cases[i].key, "case %zu: key '%s' (%s)", i, err.key, err.message);
        cr_expect(strstr(err.message, cases[i].words), "case %zu: message '%s'", i, err.message);
    }
}

Test(sim, bad_scenarios_name_file_line_and_key)
{
    static const struct bad_case cases[] = {
        {HEAD "incidents = ( { id = \"a\"; type = \"flood\"; start = 10; } );\n", 7,
         "incidents.a.type", "unknown incident type"},
        {HEAD "incidents = ( { id = \"a\"; type = \"help_press\";\n help_point = \"HP-NOPE\"; start = 10; } );\n",
         8, "incidents.a.help_point", "no help point"},
        {HEAD "incidents = ( { id = \"a\"; type = \"gate_closed\"; line = \"L-TKT-G3\"; } );\n", 7,
         "incidents.a.start", "missing"},
        {HEAD "incidents = ( { id = \"a\"; type = \"help_press\"; help_point = \"HP-C1-N\";\n"
              "  start = 900; } );\n",
         8, "incidents.a.start", "outside the day"},
        {HEAD "incidents = ( { id = \"a\"; type = \"gate_closed\"; line = \"L-TKT-G3\"; start = 1;\n"
              "  magnitude = 1.5; } );\n",
         8, "incidents.a.magnitude", "out of range"},
        {HEAD "incidents = ( { id = \"a\"; type = \"sensor_stuck\"; sensor = \"STD-C1-N-SMK1\"; start = 1; } );\n",
         7, "incidents.a.sensor", "no stuck detection"},
        {HEAD "incidents = ( { id = \"a\"; type = \"heat_wave\"; zone = \"STD-C1-N\"; start = 1; } );\n",
         7, "incidents.a.zone", "no wbgt sensor"},
        {HEAD "incidents = ( { id = \"a\"; type = \"camera_dead\"; camera = \"CAM-G1\"; start = 1;\n"
              "  mode = \"melted\"; } );\n",
         8, "incidents.a.mode", "not one of"},
        {HEAD "incidents = ( { id = \"a\"; type = \"help_press\"; help_point = \"HP-C1-N\"; start = 1; },\n"
              "  { id = \"a\"; type = \"help_press\"; help_point = \"HP-C1-N\"; start = 2; } );\n",
         8, "incidents[1].id", "duplicate id"},
        {"name = \"bad\";\nstart = \"18:00\";\n", 2, "start", "not an instant"},
        {"name = \"bad\";\nstart = \"2026-07-18T18:00:00+02:00\";\nduration = \"long\";\n", 3,
         "duration", "must be a number"},
        {HEAD "entries = ( { zone = \"NOWHERE\"; } );\n", 7, "entries[0].zone", "no zone"},
        {"name = \"bad\";\nstart = \"2026-07-18T18:00:00+02:00\";\nduration = 600;\n"
         "attendance = 100;\ningress = { from = 0; to = 300; };\negress = { from = 400; to = 900; };\n",
         6, "egress", "within the day"},
        {"name = \"bad\";\nduration = ;\n", 2, "", "syntax error"},
        {HEAD "incidents = ( { id = \"a\"; type = \"ventilation_failure\"; zone = \"PLZ-OUTER\";\n"
              "  start = 1; } );\n",
         7, "incidents.a.zone", "no co2 sensor"},
        {HEAD "incidents = ( { id = \"a\"; type = \"collapse\"; zone = \"STD-Q-G3\";"
              " start = 1; } );\n",
         7, "incidents.a.zone", "has no help point"},
        {HEAD "incidents = ( { id = \"a\"; type = \"gate_closed\"; line = \"L-TKT-G3\"; start = 1;\n"
              "  zone = \"STD-C1-N\"; } );\n",
         8, "incidents.a.zone", "on neither side of line"},
        {HEAD "incidents = ( { id = \"a\"; type = \"help_press\"; help_point = \"HP-C1-N\";\n"
              "  start = 1; duration = 0; } );\n",
         8, "incidents.a.duration", "must be at least 1 s"},
        /* 1e-10 s would round to 0 ns, and a CO2 level to 0 / 0 */
        {HEAD "incidents = ( { id = \"a\"; type = \"ventilation_failure\"; zone = \"ARN-S101\";\n"
              "  start = 1; duration = 1e-10; } );\n",
         8, "incidents.a.duration", "must be at least 1 s"},
        /* unknown keys: a misspelt list or field would silently mean no incident, or all day */
        {HEAD "incident = ( { id = \"a\"; type = \"help_press\"; help_point = \"HP-C1-N\"; start = 1; } );\n",
         7, "incident", "unknown key"},
        {HEAD "incidents = ( { id = \"a\"; type = \"help_press\"; help_point = \"HP-C1-N\"; start = 1;\n"
              "  duraton = 60; } );\n",
         8, "incidents.a.duraton", "unknown key"},
        {HEAD "weather = { temprature = 30; };\n", 7, "weather.temprature", "unknown key"},
        {HEAD "entries = ( { zone = \"PLZ-OUTER\"; shar = 1; } );\n", 7, "entries[0].shar",
         "unknown key"},
        {"name = \"bad\";\nstart = \"2026-07-18T18:00:00+02:00\";\nduration = 30;\n", 3,
         "duration", "out of range (60 s .. 7 days)"},
        {"name = \"bad\";\nstart = \"2026-07-18T18:00:00+02:00\";\nduration = 600;\n"
         "attendance = 100;\ningress = { from = 100; to = 300; };\n"
         "egress = { from = 50; to = 600; };\n",
         6, "egress", "before ingress"},
        {HEAD "half_time = { from = 300; to = 400; share = 1.5; };\n", 7, "half_time.share",
         "0..1"},
        {HEAD "kickoff = 900;\n", 7, "kickoff", "outside the day"},
        {HEAD "weather = 5;\n", 7, "weather", "must be a group"},
        {HEAD "weather = { temperature = 80; };\n", 7, "weather.temperature", "plausible"},
        {HEAD "weather = { humidity = 120; };\n", 7, "weather.humidity", "0..100"},
        {HEAD "weather = { wbgt = 50; };\n", 7, "weather.wbgt", "plausible WBGT"},
        {HEAD "line_period = 0.01;\n", 7, "line_period", "0.1..3600"},
        {HEAD "entries = ( { zone = \"PLZ-OUTER\"; share = 0.5; },\n"
              "  { zone = \"PLZ-OUTER\"; share = 0.5; } );\n",
         8, "entries[1].zone", "listed twice"},
        {HEAD "entries = ( { zone = \"PLZ-OUTER\"; share = 0; } );\n", 7, "entries[0].share",
         "must be > 0"},
    };
    expect_refused(cases, sizeof(cases) / sizeof(cases[0]));
}

Test(sim, missing_scenario_file_is_enoent_and_bad_arguments_einval)
{
    vg_scenario *sc = NULL;
    vg_scenario_error err;
    vg_sim *s = NULL;
    cr_expect_eq(vg_scenario_load("/nonexistent/x.cfg", model, &sc, &err), -ENOENT);
    cr_expect_str_eq(err.file, "/nonexistent/x.cfg");
    cr_expect_eq(err.line, 0);
    cr_expect_eq(vg_scenario_load(NULL, model, &sc, NULL), -EINVAL);
    cr_expect_eq(vg_scenario_load("x", NULL, &sc, NULL), -EINVAL);
    sc = load_shipped("short.cfg");
    cr_expect_eq(vg_sim_new(NULL, sc, NULL, &s), -EINVAL);
    vg_sim_cfg cfg;
    vg_sim_cfg_default(&cfg);
    cfg.step_ns = 0;
    cr_expect_eq(vg_sim_new(model, sc, &cfg, &s), -EINVAL);
    cr_expect_null(s);
    s = new_sim(sc, 1, 0, 0);
    cr_expect_eq(vg_sim_step(s, NULL, NULL), -EINVAL);
    vg_sim_truth tr;
    cr_expect_eq(vg_sim_incident_truth(s, 7, &tr), -EINVAL);
    vg_sim_free(&s);
    cr_expect_null(s);
    vg_scenario_free(&sc);
}

/* ---- the message stream ---- */

Test(sim, same_seed_same_messages_other_seed_other_messages)
{
    vg_scenario *sc = load_shipped("short.cfg");
    collect a = {.hash = UINT64_C(0xcbf29ce484222325)}, b = a, c = a;
    vg_sim *s;

    s = new_sim(sc, 7, 0, 0);
    run_all(s, &a);
    vg_sim_free(&s);
    s = new_sim(sc, 7, 0, 0);
    run_all(s, &b);
    vg_sim_free(&s);
    s = new_sim(sc, 8, 0, 0);
    run_all(s, &c);
    vg_sim_free(&s);
    cr_expect_gt(a.count, 10000, "ten minutes of a venue is many messages");
    cr_expect_eq(a.count, b.count);
    cr_expect_eq(a.hash, b.hash, "same seed, same stream");
    cr_expect_neq(a.hash, c.hash, "another seed, another stream");
    vg_scenario_free(&sc);
}

/* Checks one message against the wire schemas; returns the number of readings it carries. */
static int check_payload(const msg *m, int64_t t0, int64_t t1)
{
    const char *id;
    uint32_t idx;
    cJSON *o;
    int readings = 0;

    if (strncmp(m->topic, "frigate/", 8) == 0) {
        char name[128];
        uint32_t cam, zone;
        const char *end = strstr(m->topic + 8, "/person");
        cr_assert(end && !end[7], "%s", m->topic);
        snprintf(name, sizeof(name), "%.*s", (int)(end - m->topic - 8), m->topic + 8);
        cr_expect_eq(vg_model_find_frigate(model, name, strlen(name), &cam, &zone), 0, "%s", name);
        char *e;
        long n = strtol(m->payload, &e, 10);
        cr_expect(*m->payload && !*e && n >= 0, "frigate payload is a plain integer: %s", m->payload);
        return 1;
    }
    o = cJSON_Parse(m->payload);
    cr_assert(o && cJSON_IsObject(o), "%s %s", m->topic, m->payload);
    if (strncmp(m->topic, "zigbee2mqtt/", 12) == 0) {
        const cJSON *f;
        cJSON_ArrayForEach(f, o)
        {
            cr_expect_eq(vg_model_find_z2m(model, m->topic + 12, f->string, &idx), 0, "%s.%s",
                         m->topic, f->string);
            cr_expect(cJSON_IsNumber(f));
            readings++;
        }
        cJSON_Delete(o);
        return readings;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "v");
    cr_assert(cJSON_IsNumber(v) && v->valueint == 1, "%s", m->payload);
    if ((id = topic_id(m->topic, "batch"))) {
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(o, "readings"))
        {
            const cJSON *ts = cJSON_GetObjectItemCaseSensitive(r, "ts");
            cr_assert(cJSON_IsNumber(ts));
            cr_expect(ts->valuedouble * 1e9 >= (double)t0 && ts->valuedouble * 1e9 <= (double)t1);
            if (cJSON_GetObjectItemCaseSensitive(r, "sensor"))
                cr_expect(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(r, "value")));
            else if (cJSON_GetObjectItemCaseSensitive(r, "camera"))
                cr_expect(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(r, "counts")));
            else
                cr_expect(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(r, "in")) &&
                          cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(r, "out")));
            readings++;
        }
        cJSON_Delete(o);
        return readings;
    }
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(o, "ts");
    cr_assert(cJSON_IsNumber(ts), "%s", m->payload);
    cr_expect(ts->valuedouble * 1e9 >= (double)t0 - 1e6 && ts->valuedouble * 1e9 <= (double)t1,
              "event time inside the day: %s", m->payload);
    cr_expect_lt(fabs(ts->valuedouble * 1e9 - (double)m->t_ns), 1e6, "ts is the message's t");
    if ((id = topic_id(m->topic, "sensor"))) {
        const cJSON *val = cJSON_GetObjectItemCaseSensitive(o, "value");
        cr_assert_eq(vg_model_find_sensor(model, id, &idx), 0, "%s", id);
        const vg_sensor *sn = vg_model_sensor(model, idx);
        cr_assert(cJSON_IsNumber(val), "%s", m->payload);
        cr_expect(val->valuedouble >= sn->min && val->valuedouble <= sn->max,
                  "%s inside its physical range", id);
        readings = 1;
    } else if ((id = topic_id(m->topic, "count"))) {
        const cJSON *counts = cJSON_GetObjectItemCaseSensitive(o, "counts"), *z;
        const cJSON *sv = cJSON_GetObjectItemCaseSensitive(o, "speed_var");
        cr_assert_eq(vg_model_find_camera(model, id, &idx), 0, "%s", id);
        cr_assert(cJSON_IsObject(counts) && cJSON_IsObject(sv));
        cJSON_ArrayForEach(z, counts)
        {
            uint32_t zi, slot;
            cr_assert_eq(vg_model_find_zone(model, z->string, &zi), 0);
            cr_expect_eq(vg_model_camera_zone_slot(model, idx, zi, &slot), 0,
                         "%s covers %s", id, z->string);
            cr_expect(cJSON_IsNumber(z) && z->valuedouble >= 0 &&
                      z->valuedouble == floor(z->valuedouble), "whole, non-negative counts");
            const cJSON *var = cJSON_GetObjectItemCaseSensitive(sv, z->string);
            cr_expect(cJSON_IsNumber(var) && var->valuedouble >= 0);
            readings++;
        }
    } else if ((id = topic_id(m->topic, "line"))) {
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(o, "in");
        const cJSON *out = cJSON_GetObjectItemCaseSensitive(o, "out");
        cr_assert_eq(vg_model_find_line(model, id, &idx), 0, "%s", id);
        cr_expect(cJSON_IsNumber(in) && in->valuedouble >= 0 && in->valuedouble == floor(in->valuedouble));
        cr_expect(cJSON_IsNumber(out) && out->valuedouble >= 0);
        readings = 1;
    } else if ((id = topic_id(m->topic, "help"))) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
        cr_assert_eq(vg_model_find_help_point(model, id, &idx), 0, "%s", id);
        cr_expect(cJSON_IsString(t) && (!strcmp(t->valuestring, "medical") ||
                                        !strcmp(t->valuestring, "security") ||
                                        !strcmp(t->valuestring, "fire") ||
                                        !strcmp(t->valuestring, "other")));
        readings = 1;
    } else if ((id = topic_id(m->topic, "health"))) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "status");
        cr_assert_eq(vg_model_find_camera(model, id, &idx), 0, "%s", id);
        cr_expect(cJSON_IsString(st));
        readings = 1;
    } else {
        cr_assert_fail("unexpected topic %s", m->topic);
    }
    cJSON_Delete(o);
    return readings;
}

Test(sim, every_payload_parses_as_its_schema)
{
    vg_scenario *sc = load_shipped("short.cfg");
    collect plain = {.keep = 1}, batch = {.keep = 1};
    vg_sim *s = new_sim(sc, 1, 0, 0);
    int64_t t0 = vg_scenario_start_ns(sc), t1 = t0 + vg_scenario_duration_ns(sc);
    size_t n_plain = 0, n_batch = 0, frigate = 0, z2m = 0, batches = 0;

    run_all(s, &plain);
    vg_sim_free(&s);
    for (size_t i = 0; i < plain.n; i++) {
        n_plain += (size_t)check_payload(&plain.v[i], t0, t1);
        frigate += strncmp(plain.v[i].topic, "frigate/", 8) == 0;
        z2m += strncmp(plain.v[i].topic, "zigbee2mqtt/", 12) == 0;
    }
    cr_expect_gt(frigate, 0, "the model maps fan-zone cameras to Frigate");
    cr_expect_gt(z2m, 0, "and aquatics sensors to zigbee2mqtt");

    /* batch mode: the same native readings, packed; --native: no Frigate, no zigbee2mqtt */
    s = new_sim(sc, 1, 1, 1);
    run_all(s, &batch);
    vg_sim_free(&s);
    for (size_t i = 0; i < batch.n; i++) {
        cr_expect_neq(strncmp(batch.v[i].topic, "frigate/", 8), 0);
        cr_expect_neq(strncmp(batch.v[i].topic, "zigbee2mqtt/", 12), 0);
        batches += topic_id(batch.v[i].topic, "batch") != NULL;
        n_batch += (size_t)check_payload(&batch.v[i], t0, t1);
    }
    cr_expect_gt(batches, 0);
    cr_expect_lt(batch.n, plain.n / 10, "batches are fewer messages");
    cr_expect_gt(n_batch, 0);
    collect_free(&plain);
    collect_free(&batch);
    vg_scenario_free(&sc);
}

/* ---- the crowd ---- */

Test(sim, people_appear_and_leave_only_through_entries)
{
    vg_scenario *sc = load_shipped("quiet.cfg");
    collect c = {0};
    vg_sim *s = new_sim(sc, 1, 0, 1);
    vg_sim_census cs;
    double prev_inside = 0, prev_dep = 0, prev_arr = 0, att = vg_scenario_attendance(sc);
    double max_inside = 0;

    while (!vg_sim_done(s)) {
        cr_assert_eq(vg_sim_step(s, on_msg, &c), 0);
        vg_sim_census_get(s, &cs);
        cr_assert_float_eq(cs.total, att, 1e-6 * att, "census %.6f at %lld", cs.total,
                           (long long)vg_sim_now_ns(s));
        /* what changed inside is exactly what came in minus what left */
        cr_assert_float_eq(cs.inside - prev_inside, (cs.arrived - prev_arr) - (cs.departed - prev_dep),
                           1e-6 * att);
        cr_assert_geq(cs.departed, prev_dep - 1e-9, "nobody comes back");
        cr_assert_geq(cs.outside, -1e-6);
        prev_inside = cs.inside;
        prev_dep = cs.departed;
        prev_arr = cs.arrived;
        if (cs.inside > max_inside)
            max_inside = cs.inside;
    }
    cr_expect_float_eq(cs.arrived, att, 1e-6 * att, "everybody came");
    cr_expect_gt(max_inside, 0.99 * att, "the venue was full at the match");
    cr_expect_gt(cs.departed, 0.85 * att, "most went home by the end of the day");
    vg_scenario_free(&sc);
    vg_sim_free(&s);
}

typedef struct quiet_watch {
    int64_t *last_sensor, *last_camera;
    int64_t *max_gap_sensor, *max_gap_camera;
    int64_t *flat_since;
    int64_t *max_flat;
    double *last_value;
    double *max_ratio; /* value / advisory level */
    double (*line_hist)[6]; /* the last six line messages: 60 s at the 10 s line period */
    uint32_t *line_pos;
    double *line_max;  /* highest crossings per minute / (width x reference flow) */
} quiet_watch;

static int on_quiet(void *ctx, const char *topic, const char *payload, size_t len, int64_t t)
{
    quiet_watch *w = ctx;
    const char *id;
    uint32_t i;
    (void)len;
    if ((id = topic_id(topic, "sensor"))) {
        cr_assert_eq(vg_model_find_sensor(model, id, &i), 0);
        double v = json_value(payload), adv = vg_model_sensor(model, i)->limit.level[VG_GRADE_ADVISORY];
        if (w->last_sensor[i] && t - w->last_sensor[i] > w->max_gap_sensor[i])
            w->max_gap_sensor[i] = t - w->last_sensor[i];
        if (w->last_sensor[i] && v == w->last_value[i]) {
            if (t - w->flat_since[i] > w->max_flat[i])
                w->max_flat[i] = t - w->flat_since[i];
        } else {
            w->flat_since[i] = t;
        }
        w->last_sensor[i] = t;
        w->last_value[i] = v;
        if (isfinite(adv) && v / adv > w->max_ratio[i])
            w->max_ratio[i] = v / adv;
    } else if ((id = topic_id(topic, "line"))) {
        cr_assert_eq(vg_model_find_line(model, id, &i), 0);
        const vg_line *l = vg_model_line(model, i);
        double in = strtod(strstr(payload, "\"in\":") + 5, NULL);
        double out = strtod(strstr(payload, "\"out\":") + 6, NULL), sum = 0;
        w->line_hist[i][w->line_pos[i]++ % 6] = in > out ? in : out;
        for (int k = 0; k < 6; k++)
            sum += w->line_hist[i][k];
        if (sum / (l->width_m * l->ref_flow_pmm) > w->line_max[i])
            w->line_max[i] = sum / (l->width_m * l->ref_flow_pmm);
    } else if ((id = topic_id(topic, "count"))) {
        cr_assert_eq(vg_model_find_camera(model, id, &i), 0);
        if (w->last_camera[i] && t - w->last_camera[i] > w->max_gap_camera[i])
            w->max_gap_camera[i] = t - w->last_camera[i];
        w->last_camera[i] = t;
    }
    return 0;
}

Test(sim, quiet_day_stays_below_warning_and_no_source_looks_stale_or_stuck, .timeout = 240)
{
    vg_scenario *sc = load_shipped("quiet.cfg");
    vg_sim *s = new_sim(sc, 1, 0, 1);
    uint32_t nz = vg_model_zone_count(model), ns = vg_model_sensor_count(model);
    uint32_t nc = vg_model_camera_count(model);
    quiet_watch w = {
        .last_sensor = calloc(ns, 8), .last_camera = calloc(nc, 8),
        .max_gap_sensor = calloc(ns, 8), .max_gap_camera = calloc(nc, 8),
        .flat_since = calloc(ns, 8), .max_flat = calloc(ns, 8),
        .last_value = calloc(ns, 8), .max_ratio = calloc(ns, 8),
        .line_hist = calloc(vg_model_line_count(model), sizeof(double[6])),
        .line_pos = calloc(vg_model_line_count(model), sizeof(uint32_t)),
        .line_max = calloc(vg_model_line_count(model), sizeof(double)),
    };
    double *peak = calloc(nz, sizeof(double));
    double busiest = 0;

    while (!vg_sim_done(s)) {
        cr_assert_eq(vg_sim_step(s, on_quiet, &w), 0);
        int64_t t = vg_sim_now_ns(s);
        for (uint32_t z = 0; z < nz; z++) {
            double d = vg_sim_zone_density(s, z);
            const vg_zone_limits *lim = vg_model_zone_limits_at(model, z, t);
            double warn = lim->density.level[VG_GRADE_WARNING];
            cr_assert(d >= 0);
            if (isfinite(warn)) {
                cr_assert_lt(d, warn, "%s at %.2f p/m² reaches its warning %.2f at %lld",
                             vg_model_zone(model, z)->id, d, warn, (long long)t);
                if (d / warn > busiest)
                    busiest = d / warn;
            }
            if (d > peak[z])
                peak[z] = d;
        }
    }
    cr_expect_gt(busiest, 0.4, "densities are realistic, not empty: busiest at %.0f %% of warning",
                 100 * busiest);
    cr_expect_gt(peak[zone_idx("STD-C1-N")], 0.5, "half-time fills the concourses");
    for (uint32_t i = 0; i < ns; i++) {
        const vg_sensor *sn = vg_model_sensor(model, i);
        cr_expect_lt(w.max_ratio[i], 1.0, "%s reaches its advisory level", sn->id);
        cr_expect_neq(w.last_sensor[i], 0, "%s published", sn->id);
        cr_expect_leq(w.max_gap_sensor[i], sn->period_ns, "%s gap %lld ns > period", sn->id,
                      (long long)w.max_gap_sensor[i]);
        cr_expect_lt(w.max_gap_sensor[i], sn->stale_after_ns, "%s looks stale", sn->id);
        if (sn->stuck_after_ns > 0)
            cr_expect_lt(w.max_flat[i], sn->stuck_after_ns, "%s flat for %lld s", sn->id,
                         (long long)(w.max_flat[i] / VG_NS_PER_S));
    }
    cr_assert_eq(vg_model_line_count(model) > 0, 1);
    for (uint32_t i = 0; i < vg_model_line_count(model); i++) {
        const vg_line *l = vg_model_line(model, i);
        /* flow warning: 90 % of 82 (66 on stairs) p/m/min, over a minute */
        cr_expect_lt(w.line_max[i], l->flow.level[VG_GRADE_WARNING] / l->ref_flow_pmm,
                     "%s carries %.0f %% of its reference flow", l->id, 100 * w.line_max[i]);
    }
    for (uint32_t i = 0; i < nc; i++) {
        const vg_camera *cam = vg_model_camera(model, i);
        cr_expect_leq(w.max_gap_camera[i], cam->period_ns, "%s gap", cam->id);
        cr_expect_lt(w.max_gap_camera[i], cam->stale_after_ns, "%s looks stale", cam->id);
    }
    free(w.last_sensor);
    free(w.last_camera);
    free(w.max_gap_sensor);
    free(w.max_gap_camera);
    free(w.flat_since);
    free(w.max_flat);
    free(w.last_value);
    free(w.max_ratio);
    free(w.line_hist);
    free(w.line_pos);
    free(w.line_max);
    free(peak);
    vg_sim_free(&s);
    vg_scenario_free(&sc);
}

/* ---- incidents ---- */

/* Runs to the end, checking a build-up: below warning before it, a gradual rise, and the
 * ground truth's t_critical is the first step at or above the critical level. */
static void check_buildup(const char *incident, const char *zone_id, double min_rise_s)
{
    vg_scenario *sc = load_day(incident);
    vg_sim *s = new_sim(sc, 1, 0, 1);
    collect c = {0};
    const vg_incident *in = vg_scenario_incident(sc, 0);
    uint32_t z = zone_idx(zone_id);
    int64_t first_crit = 0, first_warn = 0;
    double before_max = 0, prev = 0;
    vg_sim_truth tr;

    while (!vg_sim_done(s)) {
        cr_assert_eq(vg_sim_step(s, on_msg, &c), 0);
        int64_t t = vg_sim_now_ns(s);
        double d = vg_sim_zone_density(s, z);
        const vg_zone_limits *lim = vg_model_zone_limits_at(model, z, t);
        if (t <= in->t_start_ns && d > before_max)
            before_max = d;
        if (t > in->t_start_ns && t <= in->t_end_ns) {
            if (!first_warn && d >= lim->density.level[VG_GRADE_WARNING])
                first_warn = t;
            if (!first_crit && d >= lim->density.level[VG_GRADE_CRITICAL]) {
                first_crit = t;
                cr_expect_lt(prev, lim->density.level[VG_GRADE_CRITICAL]);
            }
        }
        prev = d;
    }
    cr_assert_eq(vg_sim_incident_truth(s, 0, &tr), 0);
    cr_expect_eq(tr.zone, z, "the truth names %s", zone_id);
    cr_expect_lt(before_max, vg_model_zone(model, z)->limits.density.level[VG_GRADE_WARNING],
                 "%s was calm before", zone_id);
    cr_assert_neq(first_crit, 0, "%s reached critical", zone_id);
    cr_expect_eq(tr.t_critical_ns, first_crit, "ground truth t_critical");
    cr_expect_eq(tr.t_warning_ns, first_warn);
    cr_expect_geq((double)(first_crit - in->t_start_ns) / 1e9, 120.0,
                  "a build-up takes minutes, not seconds");
    cr_expect_geq((double)(first_crit - first_warn) / 1e9, min_rise_s,
                  "warning to critical in %.0f s", (double)(first_crit - first_warn) / 1e9);
    vg_sim_free(&s);
    vg_scenario_free(&sc);
}

Test(sim, closed_gate_builds_up_behind_it_to_critical_at_the_truth_time)
{
    check_buildup("{ id = \"g3\"; type = \"gate_closed\"; line = \"L-TKT-G3\"; start = 240;"
                  "  duration = 1200; }",
                  "STD-Q-G3", 60);
}

Test(sim, blocked_exit_at_egress_fills_the_concourse_behind_it)
{
    check_buildup("{ id = \"x5\"; type = \"exit_blocked\"; line = \"L-GATE-G5\"; start = 1900;"
                  "  duration = 800; magnitude = 1.0; }",
                  "STD-C1-S", 30);
}

Test(sim, terrace_surge_builds_up_gradually)
{
    check_buildup("{ id = \"ts\"; type = \"surge\"; zone = \"STD-TERR-S\"; start = 1000;"
                  "  duration = 1500; magnitude = 4.0; }",
                  "STD-TERR-S", 60);
}

/* Watches one sensor's published values (native topics). */
typedef struct series {
    const char *id;
    double first_above[2]; /* ts of the first value >= level[0], level[1] */
    double level[2];
    double max;
    int n;
    char values[4096][24];
    double ts[4096];
} series;

static int on_series(void *ctx, const char *topic, const char *payload, size_t len, int64_t t)
{
    series *sr = ctx;
    const char *id = topic_id(topic, "sensor");
    (void)len;
    if (!id || strcmp(id, sr->id) != 0)
        return 0;
    double v = json_value(payload);
    for (int k = 0; k < 2; k++)
        if (!sr->first_above[k] && v >= sr->level[k])
            sr->first_above[k] = (double)t / 1e9;
    if (v > sr->max)
        sr->max = v;
    if (sr->n < 4096) {
        const char *p = strstr(payload, "\"value\":") + 8;
        snprintf(sr->values[sr->n], sizeof(sr->values[0]), "%.*s", (int)strcspn(p, "}"), p);
        sr->ts[sr->n++] = (double)t / 1e9;
    }
    return 0;
}

static void check_rise(const char *incident, const char *sensor, double warn, double crit)
{
    vg_scenario *sc = load_day(incident);
    vg_sim *s = new_sim(sc, 1, 0, 1);
    series *sr = calloc(1, sizeof(*sr));
    const vg_incident *in = vg_scenario_incident(sc, 0);
    vg_sim_truth tr;
    uint32_t si;

    sr->id = sensor;
    sr->level[0] = warn;
    sr->level[1] = crit;
    while (!vg_sim_done(s))
        cr_assert_eq(vg_sim_step(s, on_series, sr), 0);
    cr_assert_eq(vg_model_find_sensor(model, sensor, &si), 0);
    cr_assert_eq(vg_sim_incident_truth(s, 0, &tr), 0);
    cr_expect_float_eq(tr.warning_level, warn, 1e-9, "the model's warning level");
    cr_expect_float_eq(tr.critical_level, crit, 1e-9);
    cr_assert_gt(sr->first_above[0], 0, "%s passed %g", sensor, warn);
    cr_assert_gt(sr->first_above[1], 0, "%s passed %g (max %g)", sensor, crit, sr->max);
    cr_expect_gt(sr->first_above[0], (double)in->t_start_ns / 1e9 + 60, "it rises, not jumps");
    cr_expect_lt(sr->first_above[0], sr->first_above[1]);
    cr_expect_neq(tr.t_warning_ns, 0);
    cr_expect_lt(tr.t_warning_ns, tr.t_critical_ns);
    /* the published (noisy) value crosses within a few periods of the true one */
    cr_expect_lt(fabs(sr->first_above[0] - (double)tr.t_warning_ns / 1e9),
                 5.0 * (double)vg_model_sensor(model, si)->period_ns / 1e9 + 60);
    free(sr);
    vg_sim_free(&s);
    vg_scenario_free(&sc);
}

/* A surge into a zone that is no stand (a concourse) pulls people there only once it starts:
 * before, the zone is as busy as on a day without it. It used to become a stand for the
 * whole day, with a share of the attendance from the first minute of ingress. */
Test(sim, a_surge_into_a_concourse_fills_it_only_from_its_start)
{
    double most[2] = {0, 0}, during = 0;
    const uint32_t z = zone_idx("STD-C1-N");
    for (int k = 0; k < 2; k++) {
        vg_scenario *sc = load_day(k ? "{ id = \"cs\"; type = \"surge\"; zone = \"STD-C1-N\";"
                                       "  start = 1000; duration = 600; magnitude = 4.0; }"
                                     : "");
        vg_sim *s = new_sim(sc, 1, 0, 1);
        collect c = {0};
        const int64_t t0 = vg_sim_now_ns(s);
        while (!vg_sim_done(s) && vg_sim_now_ns(s) < t0 + 1600 * VG_NS_PER_S) {
            cr_assert_eq(vg_sim_step(s, on_msg, &c), 0);
            if (vg_sim_now_ns(s) < t0 + 1000 * VG_NS_PER_S)
                most[k] = fmax(most[k], vg_sim_zone_people(s, z));
            else if (k)
                during = fmax(during, vg_sim_zone_people(s, z));
        }
        vg_sim_free(&s);
        vg_scenario_free(&sc);
    }
    cr_expect_leq(most[1], most[0] + 50, "before the surge: %.0f people, without it %.0f",
                  most[1], most[0]);
    cr_expect_gt(during, 4 * most[0] + 200, "the surge still pulls people in: %.0f", during);
}

/* An entry from which no stand can be reached would take arrivals that then vanish from the
 * census: the simulator refuses the day. */
Test(sim, an_entry_with_no_route_to_a_stand_is_refused)
{
    char mpath[512], spath[512], text[1024];
    vg_model *iso = NULL;
    vg_model_error merr;
    vg_scenario *sc = NULL;
    vg_scenario_error serr;
    vg_sim *s = NULL;
    snprintf(mpath, sizeof(mpath), "%s/iso.cfg", tmpdir);
    write_file(mpath, "venue = { id = \"iso\"; name = \"Iso\"; };\n"
                      "profiles = ( { id = \"default\"; } );\n"
                      "zones = (\n"
                      "  { id = \"gate\"; type = \"queue\"; area_m2 = 100; sector = \"s\";\n"
                      "    neighbours = [ \"stand\" ]; },\n"
                      "  { id = \"stand\"; type = \"seated\"; area_m2 = 500; capacity = 1000;\n"
                      "    sector = \"s\"; },\n"
                      "  { id = \"island\"; type = \"moving\"; area_m2 = 100; sector = \"s\"; }\n"
                      ");\n");
    cr_assert_eq(vg_model_load(mpath, &iso, &merr), 0, "%s", merr.message);
    snprintf(spath, sizeof(spath), "%s/entries.cfg", tmpdir);
    const char *day = "name = \"entries\";\n"
                      "start = \"2026-07-18T18:00:00+02:00\";\n"
                      "duration = 600;\n"
                      "attendance = 500;\n"
                      "ingress = { from = 0; to = 300; };\n"
                      "egress = { from = 400; to = 600; };\n"
                      "entries = ( %s );\n";
    snprintf(text, sizeof(text), day, "{ zone = \"gate\"; }, { zone = \"island\"; }");
    write_file(spath, text);
    cr_assert_eq(vg_scenario_load(spath, iso, &sc, &serr), 0, "%s: %s", serr.key, serr.message);
    cr_expect_eq(vg_sim_new(iso, sc, NULL, &s), -EINVAL, "the island leads nowhere");
    cr_expect_null(s);
    vg_scenario_free(&sc);
    /* entered by the gate alone, the day runs */
    snprintf(text, sizeof(text), day, "{ zone = \"gate\"; }");
    write_file(spath, text);
    cr_assert_eq(vg_scenario_load(spath, iso, &sc, &serr), 0, "%s: %s", serr.key, serr.message);
    cr_expect_eq(vg_sim_new(iso, sc, NULL, &s), 0);
    vg_sim_free(&s);
    vg_scenario_free(&sc);
    vg_model_free(&iso);
}

Test(sim, heat_wave_takes_wbgt_past_28_then_32)
{
    check_rise("{ id = \"hw\"; type = \"heat_wave\"; zone = \"FAN-MAIN\"; start = 100;"
               "  duration = 1200; magnitude = 16.0; }",
               "FAN-WBGT1", 28, 32);
}

Test(sim, ventilation_failure_takes_co2_past_1500_then_2000)
{
    check_rise("{ id = \"vf\"; type = \"ventilation_failure\"; zone = \"ARN-S101\"; start = 100;"
               "  duration = 1200; magnitude = 2000.0; }",
               "ARN-S101-CO2", 1500, 2000);
}

Test(sim, dead_camera_sends_health_then_nothing_until_it_is_back)
{
    vg_scenario *sc = load_day("{ id = \"cd\"; type = \"camera_dead\"; camera = \"CAM-C2-E\";"
                               "  start = 300; duration = 600; }");
    collect c = {.keep = 1};
    vg_sim *s = new_sim(sc, 1, 0, 0);
    const vg_incident *in = vg_scenario_incident(sc, 0);
    int before = 0, during = 0, after = 0, health = 0, ok = 0;

    run_all(s, &c);
    for (size_t i = 0; i < c.n; i++) {
        const char *id = topic_id(c.v[i].topic, "count");
        const char *h = topic_id(c.v[i].topic, "health");
        if (id && strcmp(id, "CAM-C2-E") == 0) {
            if (c.v[i].t_ns < in->t_start_ns)
                before++;
            else if (c.v[i].t_ns < in->t_end_ns)
                during++;
            else
                after++;
        }
        if (h) {
            cr_expect_str_eq(h, "CAM-C2-E");
            if (strstr(c.v[i].payload, "\"status\":\"stopped\"")) {
                health++;
                cr_expect_eq(c.v[i].t_ns, in->t_start_ns);
            }
            if (strstr(c.v[i].payload, "\"status\":\"ok\"")) {
                ok++;
                cr_expect_eq(c.v[i].t_ns, in->t_end_ns);
            }
        }
    }
    cr_expect_gt(before, 0);
    cr_expect_eq(during, 0, "a dead camera sends no counts");
    cr_expect_gt(after, 0, "it comes back at the incident's end");
    cr_expect_eq(health, 1, "one health message says it stopped");
    cr_expect_eq(ok, 1, "one says it is back");
    collect_free(&c);
    vg_sim_free(&s);
    vg_scenario_free(&sc);
}

Test(sim, stuck_sensor_repeats_one_value)
{
    vg_scenario *sc = load_day("{ id = \"st\"; type = \"sensor_stuck\"; sensor = \"STD-C3-N-VIB\";"
                               "  start = 400; duration = 600; }");
    vg_sim *s = new_sim(sc, 1, 0, 1);
    series *sr = calloc(1, sizeof(*sr));
    const vg_incident *in = vg_scenario_incident(sc, 0);
    double t0 = (double)in->t_start_ns / 1e9, t1 = (double)in->t_end_ns / 1e9;
    const char *stuck = NULL;
    int n_stuck = 0, changes_before = 0;

    sr->id = "STD-C3-N-VIB";
    sr->level[0] = sr->level[1] = INFINITY;
    while (!vg_sim_done(s))
        cr_assert_eq(vg_sim_step(s, on_series, sr), 0);
    for (int i = 0; i < sr->n; i++) {
        if (sr->ts[i] < t0 && i > 0 && strcmp(sr->values[i], sr->values[i - 1]) != 0)
            changes_before++;
        if (sr->ts[i] >= t0 && sr->ts[i] < t1) {
            if (!stuck)
                stuck = sr->values[i];
            cr_expect_str_eq(sr->values[i], stuck, "stuck at one value");
            n_stuck++;
        }
    }
    cr_expect_gt(changes_before, 10, "it varied before");
    cr_expect_geq(n_stuck, 59, "it kept publishing (600 s at 10 s) while stuck");
    free(sr);
    vg_sim_free(&s);
    vg_scenario_free(&sc);
}

static void check_help(const char *incident, const char *point)
{
    vg_scenario *sc = load_day(incident);
    collect c = {.keep = 1};
    vg_sim *s = new_sim(sc, 1, 0, 0);
    const vg_incident *in = vg_scenario_incident(sc, 0);
    int n = 0;
    run_all(s, &c);
    for (size_t i = 0; i < c.n; i++) {
        const char *id = topic_id(c.v[i].topic, "help");
        if (!id)
            continue;
        n++;
        cr_expect_str_eq(id, point);
        cr_expect_eq(c.v[i].t_ns, in->t_start_ns, "pressed at the incident's start");
        cr_expect(strstr(c.v[i].payload, "\"type\":\"medical\""), "%s", c.v[i].payload);
    }
    cr_expect_eq(n, 1, "exactly one help message");
    collect_free(&c);
    vg_sim_free(&s);
    vg_scenario_free(&sc);
}

Test(sim, help_press_is_one_message_at_its_time)
{
    check_help("{ id = \"hp\"; type = \"help_press\"; help_point = \"HP-C1-SE\"; start = 333.5; }",
               "HP-C1-SE");
}

Test(sim, steward_collapse_report_comes_from_the_zone_help_point)
{
    check_help("{ id = \"co\"; type = \"collapse\"; zone = \"FAN-STAGE\"; start = 700; }",
               "HP-FAN-STAGE");
}

Test(sim, ground_truth_file_lists_every_incident_with_expectations)
{
    vg_scenario *sc = load_shipped("short.cfg");
    collect c = {0};
    vg_sim *s = new_sim(sc, 3, 0, 0);
    char path[512];
    FILE *f;

    run_all(s, &c);
    snprintf(path, sizeof(path), "%s/truth.json", tmpdir);
    f = fopen(path, "w");
    cr_assert(f);
    cr_assert_eq(vg_sim_truth_write(s, f), 0);
    fclose(f);
    f = fopen(path, "r");
    char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    cJSON *o = cJSON_Parse(buf);
    cr_assert(o, "%s", buf);
    cr_expect_str_eq(cJSON_GetObjectItem(o, "scenario")->valuestring, "short");
    cr_expect_eq(cJSON_GetObjectItem(o, "seed")->valueint, 3);
    cr_expect_float_eq(cJSON_GetObjectItem(o, "start")->valuedouble, 1784390400.0, 1e-6);
    const cJSON *incs = cJSON_GetObjectItem(o, "incidents");
    cr_assert_eq(cJSON_GetArraySize(incs), 2);
    const cJSON *help = cJSON_GetArrayItem(incs, 0);
    cr_expect_str_eq(cJSON_GetObjectItem(help, "zone")->valuestring, "STD-C1-N");
    cr_expect_float_eq(cJSON_GetObjectItem(help, "t_start")->valuedouble, 1784390520.0, 1e-6);
    cr_expect_float_eq(cJSON_GetObjectItem(help, "max_delay_s")->valuedouble, 5.0, 1e-9);
    const cJSON *ex = cJSON_GetArrayItem(cJSON_GetObjectItem(help, "expect"), 0);
    cr_expect_str_eq(cJSON_GetObjectItem(ex, "kind")->valuestring, "help_medical");
    cr_expect_str_eq(cJSON_GetObjectItem(ex, "feed")->valuestring, "medical");
    const cJSON *st = cJSON_GetArrayItem(incs, 1);
    cr_expect_str_eq(cJSON_GetObjectItem(st, "type")->valuestring, "sensor_stuck");
    cr_expect_str_eq(cJSON_GetObjectItem(st, "zone")->valuestring, "STD-C3-N");
    ex = cJSON_GetArrayItem(cJSON_GetObjectItem(st, "expect"), 0);
    cr_expect_str_eq(cJSON_GetObjectItem(ex, "kind")->valuestring, "sensor_stuck");
    cr_expect_str_eq(cJSON_GetObjectItem(ex, "feed")->valuestring, "technical");
    cJSON_Delete(o);

    /* and the scorer reads it back */
    vg_score *score = NULL;
    vg_scenario_error err;
    cr_assert_eq(vg_score_new(path, &score, &err), 0, "%s: %s", err.key, err.message);
    cr_expect_eq(vg_score_incident_count(score), 2);
    vg_score_free(&score);
    vg_sim_free(&s);
    vg_scenario_free(&sc);
}

/* ---- the scorer, on hand-written files ---- */

static const char truth_text[] =
    "{\"v\":1,\"scenario\":\"hand\",\"start\":1000,\"end\":4600,\"duration_s\":3600,"
    "\"incidents\":["
    "{\"id\":\"q-closed\",\"type\":\"gate_closed\",\"zone\":\"Q1\",\"t_start\":1100,"
    " \"t_end\":1900,\"buildup\":true,\"t_critical\":1500,\"min_lead_s\":60,"
    " \"max_delay_s\":null,\"related_zones\":[\"Q1-N\"],\"window\":[1095,2200],"
    " \"expect\":[{\"kind\":\"trend_to_critical\",\"feed\":\"security\",\"min_grade\":\"advisory\"},"
    "            {\"kind\":\"density\",\"feed\":\"security\",\"min_grade\":\"warning\"}]},"
    "{\"id\":\"hp1\",\"type\":\"help_press\",\"zone\":\"C1\",\"t_start\":1200,\"buildup\":false,"
    " \"t_critical\":null,\"max_delay_s\":5,\"window\":[1195,1600],"
    " \"expect\":[{\"kind\":\"help_medical\",\"feed\":\"medical\",\"min_grade\":\"advisory\"}]},"
    "{\"id\":\"heat\",\"type\":\"heat_wave\",\"zone\":\"FAN\",\"t_start\":1300,\"buildup\":false,"
    " \"max_delay_s\":400,\"window\":[1295,2500],"
    " \"expect\":[{\"kind\":\"wbgt\",\"feed\":\"medical\",\"min_grade\":\"warning\"}]},"
    "{\"id\":\"surge\",\"type\":\"surge\",\"zone\":\"T1\",\"t_start\":1700,\"buildup\":true,"
    " \"t_critical\":2000,\"min_lead_s\":60,\"window\":[1695,2600],"
    " \"expect\":[{\"kind\":\"density\",\"feed\":\"security\",\"min_grade\":\"warning\"}]},"
    "{\"id\":\"cam\",\"type\":\"camera_dead\",\"zone\":\"C5\",\"t_start\":2000,\"buildup\":false,"
    " \"max_delay_s\":30,\"window\":[1995,2400],"
    " \"expect\":[{\"kind\":\"camera_health\",\"feed\":\"technical\",\"min_grade\":\"advisory\"}]}"
    "]}\n";

/* ts, id, kind, feed, zone, grade, action */
static const char alerts_text[] =
    "{\"id\":\"a1\",\"seq\":1,\"feed\":\"security\",\"kind\":\"trend_to_critical\",\"zone\":\"Q1\","
    "\"grade\":\"warning\",\"action\":\"raise\",\"ts\":1380,\"value\":2.9,\"threshold\":4}\n"
    "{\"id\":\"a2\",\"feed\":\"security\",\"kind\":\"density\",\"zone\":\"Q1\",\"grade\":\"warning\","
    "\"action\":\"raise\",\"ts\":1450,\"value\":3.1,\"threshold\":3}\n"
    "\n"
    "{\"id\":\"b1\",\"feed\":\"security\",\"kind\":\"help_medical\",\"zone\":\"C1\",\"grade\":\"critical\","
    "\"action\":\"raise\",\"ts\":1201}\n"
    "{\"id\":\"b2\",\"feed\":\"medical\",\"kind\":\"help_medical\",\"zone\":\"C1\",\"grade\":\"critical\","
    "\"action\":\"raise\",\"ts\":1203.5}\n"
    "{\"id\":\"h1\",\"feed\":\"medical\",\"kind\":\"wbgt\",\"zone\":\"FAN\",\"grade\":\"advisory\","
    "\"action\":\"raise\",\"ts\":1400,\"value\":23.5,\"threshold\":23}\n"
    "{\"id\":\"h1\",\"feed\":\"medical\",\"kind\":\"wbgt\",\"zone\":\"FAN\",\"grade\":\"warning\","
    "\"action\":\"change\",\"ts\":1750,\"value\":28.2,\"threshold\":28}\n"
    "{\"id\":\"r1\",\"feed\":\"security\",\"kind\":\"density\",\"zone\":\"Q1-N\",\"grade\":\"warning\","
    "\"action\":\"raise\",\"ts\":1600}\n"
    "{\"id\":\"a1\",\"feed\":\"security\",\"kind\":\"trend_to_critical\",\"zone\":\"Q1\","
    "\"grade\":\"clear\",\"action\":\"clear\",\"ts\":1900}\n"
    "{\"id\":\"s1\",\"feed\":\"security\",\"kind\":\"density\",\"zone\":\"T1\",\"grade\":\"warning\","
    "\"state\":\"unacknowledged\",\"ts\":1980}\n"
    "{\"id\":\"f1\",\"feed\":\"security\",\"kind\":\"density\",\"zone\":\"C9\",\"grade\":\"critical\","
    "\"action\":\"raise\",\"ts\":3000}\n"
    "{\"id\":\"f2\",\"feed\":\"security\",\"kind\":\"density\",\"zone\":\"C8\",\"grade\":\"advisory\","
    "\"action\":\"raise\",\"ts\":3100}\n";

static vg_score *hand_score(void)
{
    char tp[512], ap[512];
    vg_score *s = NULL;
    vg_scenario_error err;
    snprintf(tp, sizeof(tp), "%s/truth.json", tmpdir);
    snprintf(ap, sizeof(ap), "%s/alerts.jsonl", tmpdir);
    write_file(tp, truth_text);
    write_file(ap, alerts_text);
    cr_assert_eq(vg_score_new(tp, &s, &err), 0, "%s: %s", err.key, err.message);
    cr_assert_eq(vg_score_read_jsonl(s, ap, &err), 0, "%d: %s", err.line, err.message);
    return s;
}

Test(sim, score_gives_hand_computed_leads_delays_misses_and_false_alerts)
{
    vg_score *s = hand_score();
    vg_score_incident r;
    vg_score_summary sum;

    cr_assert_eq(vg_score_incident_count(s), 5);
    /* q-closed: first expected alert a1 at 1380, critical at 1500: lead 120 s >= 60 */
    cr_assert_eq(vg_score_incident_get(s, 0, &r), 0);
    cr_expect(r.caught && r.right_feed && r.pass);
    cr_expect_str_eq(r.kind, "trend_to_critical");
    cr_expect_float_eq(r.lead_s, 120.0, 1e-9);
    cr_expect_float_eq(r.delay_s, 280.0, 1e-9);
    /* hp1: b1 at 1201 is on the wrong feed; b2 on medical at 1203.5: delay 3.5 <= 5 */
    cr_assert_eq(vg_score_incident_get(s, 1, &r), 0);
    cr_expect(r.pass);
    cr_expect_str_eq(r.feed, "medical");
    cr_expect_float_eq(r.delay_s, 3.5, 1e-9);
    /* heat: the advisory at 1400 does not count (min warning); warning at 1750: 450 > 400 */
    cr_assert_eq(vg_score_incident_get(s, 2, &r), 0);
    cr_expect(r.caught && r.right_feed);
    cr_expect_not(r.pass, "too late");
    cr_expect_float_eq(r.delay_s, 450.0, 1e-9);
    cr_expect_eq(r.grade, VG_GRADE_WARNING);
    /* surge: density at 1980, critical at 2000: lead 20 < 60 */
    cr_assert_eq(vg_score_incident_get(s, 3, &r), 0);
    cr_expect(r.caught && !r.pass);
    cr_expect_float_eq(r.lead_s, 20.0, 1e-9);
    /* cam: nothing */
    cr_assert_eq(vg_score_incident_get(s, 4, &r), 0);
    cr_expect_not(r.caught);
    cr_expect_not(r.pass);
    cr_expect(isnan(r.delay_s));
    cr_expect_eq(vg_score_incident_get(s, 5, &r), -EINVAL);

    vg_score_summary_get(s, &sum);
    cr_expect_eq(sum.incidents, 5);
    cr_expect_eq(sum.caught, 4);
    cr_expect_eq(sum.passed, 2);
    /* a1 a2 b1 b2 h1 r1 s1 f1 f2; r1 is next door to q-closed, so only f1 and f2 are false */
    cr_expect_eq(sum.activations, 9);
    cr_expect_eq(sum.false_alerts, 1);
    cr_expect_eq(sum.false_advisory, 1);
    cr_expect_eq(sum.max_grade_quiet, VG_GRADE_CRITICAL);
    cr_expect_float_eq(sum.per_10min, 9 * 600.0 / 3600.0, 1e-9);
    vg_score_free(&s);
}

/* vigil score --json is JSON whatever the scenario name and incident ids hold: they come from
 * the user's files, and a quote in one used to end the string early. */
Test(sim, score_json_parses_and_escapes_names)
{
    char tp[512], ap[512], *buf = NULL;
    size_t len = 0;
    vg_score *s = NULL;
    vg_scenario_error err;
    /* the scenario "h\"\\d" (h, quote, backslash, d) and the incident "h\"1" */
    const char *a = strstr(truth_text, "\"hand\""), *b = strstr(truth_text, "\"hp1\"");
    char *text = NULL;
    cr_assert(asprintf(&text, "%.*s\"h\\\"\\\\d\"%.*s\"h\\\"1\"%s", (int)(a - truth_text),
                       truth_text, (int)(b - (a + 6)), a + 6, b + 5) > 0);
    snprintf(tp, sizeof(tp), "%s/truth-q.json", tmpdir);
    snprintf(ap, sizeof(ap), "%s/alerts.jsonl", tmpdir);
    write_file(tp, text);
    write_file(ap, alerts_text);
    cr_assert_eq(vg_score_new(tp, &s, &err), 0, "%s: %s", err.key, err.message);
    cr_assert_eq(vg_score_read_jsonl(s, ap, &err), 0, "%d: %s", err.line, err.message);
    FILE *m = open_memstream(&buf, &len);
    cr_assert_not_null(m);
    cr_assert_eq(vg_score_write_json(s, m), 0);
    fclose(m);
    cJSON *o = cJSON_Parse(buf);
    cr_assert_not_null(o, "not JSON: %s", buf);
    cr_expect_str_eq(cJSON_GetObjectItem(o, "scenario")->valuestring, "h\"\\d");
    const cJSON *incs = cJSON_GetObjectItem(o, "incidents");
    cr_assert_eq(cJSON_GetArraySize(incs), 5);
    cr_expect_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(incs, 1), "id")->valuestring, "h\"1");
    cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(incs, 0), "pass")));
    cr_expect_float_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(incs, 0), "lead_s")->valuedouble,
                       120, 1e-9);
    cr_expect_eq(cJSON_GetObjectItem(o, "false_alerts")->valueint, 1);
    cJSON_Delete(o);
    free(buf);
    free(text);
    vg_score_free(&s);
}

Test(sim, score_wrong_feed_only_is_caught_but_fails)
{
    vg_score *s = hand_score();
    vg_score_alert a;
    vg_score_incident r;
    const char *line = "{\"id\":\"c1\",\"feed\":\"security\",\"kind\":\"camera_health\","
                       "\"zone\":\"C5\",\"grade\":\"warning\",\"ts\":2010}";
    cr_assert_eq(vg_score_parse_alert(line, strlen(line), &a), 0);
    cr_assert_eq(vg_score_add_alert(s, &a), 0);
    cr_assert_eq(vg_score_incident_get(s, 4, &r), 0);
    cr_expect(r.caught);
    cr_expect_not(r.right_feed);
    cr_expect_not(r.pass);
    cr_expect_str_eq(r.feed, "security");
    vg_score_free(&s);
}

Test(sim, score_refuses_bad_alert_lines_and_truth_files)
{
    char tp[512], ap[512];
    vg_score *s = NULL;
    vg_scenario_error err;
    vg_score_alert a;

    cr_expect_eq(vg_score_parse_alert("[1]", 3, &a), -EPROTO);
    cr_expect_eq(vg_score_parse_alert("{\"id\":\"x\"}", 10, &a), -EPROTO);
    const char *nograde = "{\"id\":\"x\",\"feed\":\"m\",\"kind\":\"k\",\"zone\":\"z\",\"grade\":\"huge\",\"ts\":1}";
    cr_expect_eq(vg_score_parse_alert(nograde, strlen(nograde), &a), -EPROTO);
    cr_expect_eq(vg_score_parse_alert(NULL, 0, &a), -EINVAL);

    snprintf(tp, sizeof(tp), "%s/truth.json", tmpdir);
    snprintf(ap, sizeof(ap), "%s/alerts.jsonl", tmpdir);
    write_file(tp, truth_text);
    write_file(ap, "{\"id\":\"a\",\"feed\":\"security\",\"kind\":\"density\",\"zone\":\"Q1\","
                   "\"grade\":\"warning\",\"ts\":1}\nnot json\n");
    cr_assert_eq(vg_score_new(tp, &s, &err), 0);
    cr_expect_eq(vg_score_read_jsonl(s, ap, &err), -EINVAL);
    cr_expect_eq(err.line, 2, "the second line is the bad one");
    cr_expect_str_eq(err.file, ap);
    cr_expect_eq(vg_score_read_jsonl(s, "/nonexistent/alerts", &err), -ENOENT);
    vg_score_free(&s);

    write_file(tp, "{\"v\":1,\"start\":1,\"duration_s\":10,\"incidents\":[{\"id\":\"x\",\"zone\":\"z\"}]}");
    cr_expect_eq(vg_score_new(tp, &s, &err), -EINVAL);
    cr_expect_str_eq(err.key, "incidents.x.t_start");
    write_file(tp, "{\"v\":2}");
    cr_expect_eq(vg_score_new(tp, &s, &err), -EINVAL);
    cr_expect_str_eq(err.key, "v");
    cr_expect_eq(vg_score_new("/nonexistent/truth", &s, &err), -ENOENT);
    cr_expect_null(s);
}

/* Runs `vigil ARGS` through the shell (stdout dropped); returns its exit status and, with
 * err, its stderr (free it). */
static int vigil_cli(const char *args, char **err)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/cli-stderr.txt", tmpdir);
    const int status = child_sh("'%s' %s >/dev/null 2>'%s'", getenv("VG_VIGIL"), args, path);
    *err = read_file(path);
    return status;
}

/* vigil sim refuses a bad command line with exit 2 and a bad input file with exit 1, each
 * with a message naming what is wrong. None of these needs a broker. */
Test(sim, vigil_sim_refuses_bad_usage_and_bad_files)
{
    char base[8192], bad_scenario[600], args[8192 + 1024];
    cr_assert(getenv("VG_VIGIL"), "VG_VIGIL is set by meson test");
    snprintf(base, sizeof(base), "sim --model '%s' --scenario '%s/models/scenarios/short.cfg'",
             model_path, root);
    snprintf(bad_scenario, sizeof(bad_scenario), "%s/bad-scenario.cfg", tmpdir);
    write_file(bad_scenario, "name = \"bad\";\nstart = \"18:00\";\n");
    const struct {
        const char *extra; /* after base; NULL: the whole command line is in `whole` */
        const char *whole;
        int status;
        const char *want;
    } cases[] = {
        {"--speed 0", NULL, 2, "bad speed"},
        {"--speed fast", NULL, 2, "bad speed"},
        {"--speed 1e-300", NULL, 2, "bad speed (a number from 0.001 to 1e6, or max)"},
        {"--qos 2", NULL, 2, "bad qos"},
        {"--max-inflight 0", NULL, 2, "bad max-inflight"},
        {"--seed x", NULL, 2, "bad seed"},
        {"--step-ms 5", NULL, 2, "bad step-ms"},
        {"--log-level loud", NULL, 2, "bad log level"},
        {"stray", NULL, 2, "bad argument 'stray'"},
        {"--broker http://x:1", NULL, 2, "bad broker"},
        {"--start yesterday", NULL, 2, "bad start"},
        {"--start 2026-02-30T18:00:00Z", NULL, 2, "bad start"}, /* no such day */
        {"--start 2026-07-18T18:00:00", NULL, 2, "bad start"},  /* no offset: ambiguous */
        {"--frobnicate", NULL, 2, "frobnicate"},
        {NULL, "sim --model /nonexistent.cfg", 2, "--model and --scenario are required"},
        {"--no-broker --password-file /nonexistent.pw", NULL, 1, "/nonexistent.pw"},
        /* as vigil run: an empty file is a mistake, not an empty password */
        {"--no-broker --password-file /dev/null", NULL, 1, "/dev/null: empty file"},
        {"--no-broker --dump /nonexistent/dir/dump.txt", NULL, 1, "/nonexistent/dir/dump.txt"},
        {"--no-broker --speed max --dump /dev/full", NULL, 1,
         "--dump /dev/full: No space left on device"},
        /* found before the day is simulated, not after */
        {"--no-broker --truth /nonexistent/dir/truth.json", NULL, 1,
         "ground truth /nonexistent/dir/truth.json"},
        {NULL, "sim --no-broker --model /nonexistent.cfg --scenario x.cfg", 1,
         "/nonexistent.cfg"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *err;
        if (cases[i].extra)
            snprintf(args, sizeof(args), "%s %s", base, cases[i].extra);
        else
            snprintf(args, sizeof(args), "%s", cases[i].whole);
        const int st = vigil_cli(args, &err);
        cr_expect_eq(st, cases[i].status, "%s: exit %d: %s", args, st, err);
        cr_expect_not_null(strstr(err, cases[i].want), "%s: want \"%s\", got: %s", args,
                           cases[i].want, err);
        free(err);
    }
    /* no broker where it should be: exit 1 within 10 s, and no truth file left behind */
    {
        char truth[600], *e2;
        struct stat sb;
        snprintf(truth, sizeof(truth), "%s/never.json", tmpdir);
        snprintf(args, sizeof(args), "%s --broker mqtt://127.0.0.1:1 --truth '%s'", base, truth);
        const int64_t t0 = vg_mono_ns();
        cr_expect_eq(vigil_cli(args, &e2), 1, "%s", e2);
        cr_expect_lt(vg_mono_ns() - t0, 20 * VG_NS_PER_S);
        cr_expect_not_null(strstr(e2, "no connection to broker 127.0.0.1:1 within 10 s"), "%s",
                           e2);
        cr_expect_eq(stat(truth, &sb), -1, "an empty truth file was left behind");
        free(e2);
    }
    /* a scenario that does not load: its file, line and key */
    char *err;
    snprintf(args, sizeof(args), "sim --no-broker --model '%s' --scenario '%s'", model_path,
             bad_scenario);
    cr_expect_eq(vigil_cli(args, &err), 1, "%s", err);
    cr_expect_not_null(strstr(err, "bad-scenario.cfg:2: start:"), "%s", err);
    free(err);
}

/* The program: exit status and the report's lines. */
Test(sim, vigil_score_prints_the_report_and_fails_on_a_miss)
{
    const char *vigil = getenv("VG_VIGIL");
    char cmd[2048], out[512], line[512];
    int rc, lead = 0, miss = 0, falses = 0;
    FILE *p;
    vg_score *s;

    cr_assert(vigil, "VG_VIGIL is set by meson test");
    s = hand_score(); /* writes the two files */
    vg_score_free(&s);
    snprintf(out, sizeof(out), "%s/report.txt", tmpdir);
    snprintf(cmd, sizeof(cmd), "'%s' score '%s/alerts.jsonl' '%s/truth.json' > '%s'", vigil,
             tmpdir, tmpdir, out);
    rc = child_sh("%s", cmd);
    cr_expect(rc == 1, "incidents failed: exit 1");
    p = fopen(out, "r");
    cr_assert(p);
    while (fgets(line, sizeof(line), p)) {
        lead += strstr(line, "PASS q-closed") && strstr(line, "lead 120.0 s");
        miss += strstr(line, "FAIL cam") && strstr(line, "missed");
        falses += strstr(line, "false alerts: 1 at warning or above, 1 advisory") != NULL;
    }
    fclose(p);
    cr_expect_eq(lead, 1);
    cr_expect_eq(miss, 1);
    cr_expect_eq(falses, 1);
    /* Archive inputs: a missing one and a file that is not a Vigil archive fail (exit 1);
     * archives mixed with a JSON-lines file are bad usage (exit 2). */
    snprintf(cmd, sizeof(cmd), "'%s' score '%s/missing.h5' '%s/truth.json' 2>/dev/null", vigil,
             tmpdir, tmpdir);
    rc = child_sh("%s", cmd);
    cr_expect(rc == 1, "missing archive: exit 1");
    snprintf(cmd, sizeof(cmd), "cp '%s/alerts.jsonl' '%s/fake.h5' && '%s' score '%s/fake.h5' "
             "'%s/truth.json' 2>&1 | grep -q 'not a Vigil archive'",
             tmpdir, tmpdir, vigil, tmpdir, tmpdir);
    cr_expect_eq(child_sh("%s", cmd), 0, "a non-archive named .h5 is refused as such");
    snprintf(cmd, sizeof(cmd), "'%s' score '%s/fake.h5' '%s/alerts.jsonl' '%s/truth.json' "
             ">/dev/null 2>&1", vigil, tmpdir, tmpdir, tmpdir);
    rc = child_sh("%s", cmd);
    cr_expect(rc == 2, "archives mixed with JSON lines: exit 2");
    snprintf(cmd, sizeof(cmd), "'%s' score onlyone >/dev/null 2>&1", vigil);
    rc = child_sh("%s", cmd);
    cr_expect(rc == 2, "usage: exit 2");
    /* two JSON-lines files (no defined order): 2; a truth file or an alert line that cannot
     * be read: 1, naming the file and line */
    char args[2048], bad_alerts[600], *err;
    snprintf(bad_alerts, sizeof(bad_alerts), "%s/bad-alerts.jsonl", tmpdir);
    write_file(bad_alerts, "{\"v\":1,\"id\":\n");
    const struct {
        const char *fmt; /* %1$s: tmpdir, %2$s: the bad alerts file */
        int status;
        const char *want;
    } cases[] = {
        {"score %1$s/alerts.jsonl %1$s/alerts.jsonl %1$s/truth.json", 2,
         "give one JSON-lines alert file"},
        {"score %1$s/alerts.jsonl %1$s/alerts.jsonl", 1, "alerts.jsonl:"},
        {"score %2$s %1$s/truth.json", 1, "bad-alerts.jsonl:1:"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(args, sizeof(args), cases[i].fmt, tmpdir, bad_alerts);
        const int st = vigil_cli(args, &err);
        cr_expect_eq(st, cases[i].status, "%s: exit %d: %s", args, st, err);
        cr_expect_not_null(strstr(err, cases[i].want), "%s: want \"%s\", got: %s", args,
                           cases[i].want, err);
        free(err);
    }
}

/* An incident reads only its type's target and `zone`: any other target key is refused, and
 * the zone it is scored in must be one its camera, sensor or help point is in (a wrong zone
 * would score a caught incident as a miss plus a false alert). */
Test(sim, incident_target_keys_and_zone_must_fit_the_type)
{
    static const struct bad_case cases[] = {
        {HEAD "incidents = ( { id = \"a\"; type = \"help_press\"; help_point = \"HP-C1-N\";\n"
              "  sensor = \"NO-SUCH-SENSOR\"; start = 1; } );\n",
         8, "incidents.a.sensor", "a help_press incident takes no sensor"},
        {HEAD "incidents = ( { id = \"a\"; type = \"help_press\"; help_point = \"HP-C1-N\";\n"
              "  start = 1;\n  line = \"NOPE\"; } );\n",
         9, "incidents.a.line", "takes no line"},
        {HEAD "incidents = ( { id = \"a\"; type = \"heat_wave\"; zone = \"FAN-MAIN\";\n"
              "  camera = \"NOPE\"; start = 1; } );\n",
         8, "incidents.a.camera", "takes no camera"},
        {HEAD "incidents = ( { id = \"a\"; type = \"gate_closed\"; line = \"L-TKT-G3\";\n"
              "  help_point = \"HP-C1-N\"; start = 1; } );\n",
         8, "incidents.a.help_point", "takes no help_point"},
        {HEAD "incidents = ( { id = \"a\"; type = \"camera_dead\"; camera = \"CAM-C2-E\";\n"
              "  zone = \"PLZ-OUTER\"; start = 1; } );\n",
         8, "incidents.a.zone", "camera 'CAM-C2-E' does not cover zone 'PLZ-OUTER'"},
        {HEAD "incidents = ( { id = \"a\"; type = \"sensor_stuck\"; sensor = \"STD-C3-N-VIB\";\n"
              "  zone = \"STD-C1-N\"; start = 1; } );\n",
         8, "incidents.a.zone", "is in zone 'STD-C3-N', not 'STD-C1-N'"},
        {HEAD "incidents = ( { id = \"a\"; type = \"help_press\"; help_point = \"HP-C1-N\";\n"
              "  zone = \"PLZ-OUTER\"; start = 1; } );\n",
         8, "incidents.a.zone", "is in zone 'STD-C1-N', not 'PLZ-OUTER'"},
    };
    expect_refused(cases, sizeof(cases) / sizeof(cases[0]));
    /* a zone the target is in still picks where it is scored; a collapse's help point may be
     * elsewhere than the spectator */
    vg_scenario *sc = load_day(
        "{ id = \"cam\"; type = \"camera_dead\"; camera = \"CAM-G1\"; zone = \"STD-GATE-G1\";"
        "  start = 10; },"
        "{ id = \"hp\"; type = \"help_press\"; help_point = \"HP-C1-N\"; zone = \"STD-C1-N\";"
        "  start = 10; },"
        "{ id = \"col\"; type = \"collapse\"; help_point = \"HP-C1-N\"; zone = \"FAN-STAGE\";"
        "  start = 10; }");
    cr_expect_eq(vg_scenario_incident(sc, 0)->zone, zone_idx("STD-GATE-G1"));
    cr_expect_eq(vg_scenario_incident(sc, 1)->zone, zone_idx("STD-C1-N"));
    cr_expect_eq(vg_scenario_incident(sc, 2)->zone, zone_idx("FAN-STAGE"));
    vg_scenario_free(&sc);
}

/* A step that does not divide the day (600 s in steps of 7 s) ends short on the last step:
 * nothing is simulated or published past the scenario's end, and the truth says so. */
Test(sim, a_step_that_does_not_divide_the_day_stops_at_its_end)
{
    vg_scenario *sc = load_shipped("short.cfg");
    collect c = {.keep = 1};
    vg_sim_cfg cfg;
    vg_sim *s = NULL;
    vg_sim_census census;
    char path[512], buf[65536];
    FILE *f;

    vg_sim_cfg_default(&cfg);
    cfg.step_ns = 7 * VG_NS_PER_S;
    cr_assert_eq(vg_sim_new(model, sc, &cfg, &s), 0);
    run_all(s, &c);
    const int64_t end = vg_scenario_start_ns(sc) + vg_scenario_duration_ns(sc);
    cr_expect_eq(vg_sim_end_ns(s), end);
    cr_expect_eq(vg_sim_now_ns(s), end, "simulated until %lld, the day ends at %lld",
                 (long long)vg_sim_now_ns(s), (long long)end);
    for (size_t i = 0; i < c.n; i++)
        cr_expect_lt(c.v[i].t_ns, end, "%s at %lld, after the day", c.v[i].topic,
                     (long long)c.v[i].t_ns);
    vg_sim_census_get(s, &census);
    cr_expect_float_eq(census.total, vg_scenario_attendance(sc), 1e-6);

    snprintf(path, sizeof(path), "%s/truth.json", tmpdir);
    f = fopen(path, "w");
    cr_assert(f);
    cr_assert_eq(vg_sim_truth_write(s, f), 0);
    cr_assert_eq(fclose(f), 0);
    f = fopen(path, "r");
    cr_assert(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    cJSON *o = cJSON_Parse(buf);
    cr_assert(o);
    cr_expect_float_eq(cJSON_GetObjectItem(o, "simulated_until")->valuedouble,
                       cJSON_GetObjectItem(o, "end")->valuedouble, 1e-6);
    cJSON_Delete(o);
    collect_free(&c);
    vg_sim_free(&s);
    vg_scenario_free(&sc);
}

/* --start 1970-01-01T00:00:00Z is the instant 0, not "the scenario's start"; an instant
 * before it is refused, by the library and as bad usage by vigil sim. */
Test(sim, start_at_the_epoch_is_kept_and_before_it_refused)
{
    vg_scenario *sc = load_shipped("short.cfg");
    vg_sim_cfg cfg;
    vg_sim *s = NULL;

    vg_sim_cfg_default(&cfg);
    cfg.have_start = 1;
    cfg.start_ns = 0;
    cr_assert_eq(vg_sim_new(model, sc, &cfg, &s), 0);
    cr_expect_eq(vg_sim_now_ns(s), 0);
    cr_expect_eq(vg_sim_end_ns(s), vg_scenario_duration_ns(sc));
    vg_sim_free(&s);
    cfg.start_ns = -VG_NS_PER_S;
    cr_expect_eq(vg_sim_new(model, sc, &cfg, &s), -EINVAL);
    cr_expect_null(s);
    cfg.have_start = 0; /* ignored without the flag */
    cr_assert_eq(vg_sim_new(model, sc, &cfg, &s), 0);
    cr_expect_eq(vg_sim_now_ns(s), vg_scenario_start_ns(sc));
    vg_sim_free(&s);
    vg_scenario_free(&sc);

    char args[8192], truth[600], *err;
    snprintf(args, sizeof(args),
             "sim --no-broker --speed max --model '%s' --scenario "
             "'%s/models/scenarios/short.cfg' --start 1970-01-01T00:00:00+01:00",
             model_path, root);
    cr_expect_eq(vigil_cli(args, &err), 2, "%s", err);
    cr_expect_not_null(strstr(err, "bad start (before 1970-01-01T00:00:00Z) "
                                   "'1970-01-01T00:00:00+01:00'"), "%s", err);
    free(err);
    snprintf(truth, sizeof(truth), "%s/epoch.json", tmpdir);
    snprintf(args, sizeof(args),
             "sim --no-broker --speed max --model '%s' --scenario "
             "'%s/models/scenarios/short.cfg' --start 1970-01-01T00:00:00Z --truth '%s'",
             model_path, root, truth);
    cr_expect_eq(vigil_cli(args, &err), 0, "%s", err);
    free(err);
    char *text = read_file(truth);
    cr_assert(text);
    cr_expect_not_null(strstr(text, "\"start\":0.000,\"end\":600.000,"), "%.200s", text);
    free(text);
}
