/* Unit tests of the ingest parser and the broker-less path of the ingestor (vg_ingest_submit):
 * every payload of tests/data/payloads/corpus.tsv gets its documented result, the generated
 * hostile payloads (10 MB, deep nesting, oversized batch) are refused with the right reason,
 * and the counters, reject records and backpressure behave as ingest.h says; a model handed
 * over with vg_ingest_set_model() is taken between two messages, behind a marker record. */
#include "vigil/common.h"
#include "vigil/ingest.h"

#include "mutate.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static vg_model *model;
static vg_ingest_parser *parser;
static vg_reading out[8192];
static const int64_t NOW = INT64_C(1779456000) * VG_NS_PER_S;

static void path_of(char *buf, size_t cap, const char *rel)
{
    const char *root = getenv("VG_SOURCE_ROOT");
    snprintf(buf, cap, "%s/tests/data/payloads/%s", root ? root : ".", rel);
}

static void setup(void)
{
    char p[4096];
    vg_model_error err;

    path_of(p, sizeof(p), "venue.cfg");
    int r = vg_model_load(p, &model, &err);
    cr_assert_eq(r, 0, "model: %s:%d: %s: %s", err.file, err.line, err.key, err.message);
    cr_assert_eq(vg_ingest_parser_new(model, NULL, &parser), 0);
}

static void teardown(void)
{
    vg_ingest_parser_free(&parser);
    vg_model_free(&model);
}

TestSuite(ingest, .init = setup, .fini = teardown, .timeout = 30);

static vg_ingest_result parse(const char *topic, const char *payload)
{
    vg_ingest_result res;
    cr_assert_eq(vg_ingest_parse(parser, topic, payload, strlen(payload), NOW, out, 8192, &res), 0);
    return res;
}

static uint32_t idx_sensor(const char *id)
{
    uint32_t i;
    cr_assert_eq(vg_model_find_sensor(model, id, &i), 0);
    return i;
}

/* Replaces @NOW@, @NOW-N@, @NOW+N@ with Unix seconds relative to NOW. */
static char *subst(const char *in, size_t len, size_t *ret_len)
{
    char *o = malloc(len * 2 + 64);
    size_t k = 0;
    for (size_t i = 0; i < len;) {
        if (in[i] == '@' && i + 4 <= len && memcmp(in + i, "@NOW", 4) == 0) {
            const char *e = memchr(in + i + 1, '@', len - i - 1);
            long off = 0;
            if (e > in + i + 4)
                off = strtol(in + i + 4, NULL, 10);
            k += (size_t)sprintf(o + k, "%lld", (long long)(NOW / VG_NS_PER_S + off));
            i = (size_t)(e - in) + 1;
        } else {
            o[k++] = in[i++];
        }
    }
    *ret_len = k;
    return o;
}

/* One case of corpus.tsv: its payload file, read with @NOW@ substituted (free payload),
 * the full topic and the expected result. */
struct corpus_case {
    char file[256], topic[512], expect[64];
    char *payload;
    size_t len;
};

/* The next case of f; false at the end. */
static bool corpus_next(FILE *f, struct corpus_case *c)
{
    char line[1024], topic_rel[256], fp[4096];

    do {
        if (!fgets(line, sizeof(line), f))
            return false;
    } while (line[0] == '#' || line[0] == '\n');
    cr_assert_eq(sscanf(line, "%255[^\t]\t%255[^\t]\t%63s", c->file, topic_rel, c->expect), 3,
                 "bad corpus line: %s", line);
    if (topic_rel[0] == '-')
        snprintf(c->topic, sizeof(c->topic), "%s", topic_rel + 1);
    else
        snprintf(c->topic, sizeof(c->topic), "vigil/testvenue/%s", topic_rel);
    path_of(fp, sizeof(fp), c->file);
    FILE *pf = fopen(fp, "rb");
    cr_assert_not_null(pf, "%s", fp);
    char raw[8192];
    size_t n = fread(raw, 1, sizeof(raw), pf);
    fclose(pf);
    c->payload = subst(raw, n, &c->len);
    return true;
}

static FILE *open_corpus(void)
{
    char p[4096];
    path_of(p, sizeof(p), "corpus.tsv");
    FILE *f = fopen(p, "r");
    cr_assert_not_null(f, "%s", p);
    return f;
}

Test(ingest, corpus_payloads_get_their_documented_result)
{
    struct corpus_case c;
    int cases = 0;

    FILE *f = open_corpus();
    while (corpus_next(f, &c)) {
        vg_ingest_result res;
        cr_assert_eq(
            vg_ingest_parse(parser, c.topic, c.payload, c.len, NOW, out, 8192, &res), 0);
        free(c.payload);
        if (strncmp(c.expect, "ok:", 3) == 0) {
            cr_expect_eq(res.n_rejected, 0, "%s on %s: refused as %s", c.file, c.topic,
                         vg_reject_name(res.first_reason));
            cr_expect_eq(res.n_readings, (uint32_t)atoi(c.expect + 3),
                         "%s on %s: %u readings", c.file, c.topic, res.n_readings);
        } else {
            cr_expect_eq(res.n_readings, 0, "%s on %s: yielded readings", c.file, c.topic);
            cr_expect_eq(res.n_rejected, 1, "%s on %s", c.file, c.topic);
            cr_expect_str_eq(vg_reject_name(res.first_reason), c.expect, "%s on %s", c.file,
                             c.topic);
        }
        cases++;
    }
    fclose(f);
    cr_assert_geq(cases, 40);
}

/* Mutated payloads: every corpus payload, bytes replaced, inserted, deleted, cut off or
 * repeated, 1,000 times each, mostly under its own topic. Whatever the bytes, a message is
 * either refused with a named reason (the per-reason counts add up) or yields readings that
 * pass the model's own checks: no crash, nothing half-valid let through. ASan runs this
 * too. */
Test(ingest, mutated_payloads_are_refused_by_name_or_yield_valid_readings)
{
    static const char *topics[] = {
        "vigil/testvenue/sensor/t1", "vigil/testvenue/count/cam1",
        "vigil/testvenue/line/l1",   "vigil/testvenue/help/h1",
        "vigil/testvenue/batch",     "vigil/testvenue/health/cam1",
    };
    static const char special[] = "{}[]\":,.-+eE0123456789\\ntfu \x00\xff\xc3";
    vg_mut_rng rng = {0x9e3779b97f4a7c15u};
    struct corpus_case c;
    long messages = 0, accepted = 0;

    FILE *f = open_corpus();
    while (corpus_next(f, &c)) {
        unsigned char buf[4096 + 512];
        const size_t len0 = c.len > 4096 ? 4096 : c.len;
        for (int i = 0; i < 1000; i++) {
            memcpy(buf, c.payload, len0);
            const size_t len =
                vg_mut_bytes(&rng, buf, len0, sizeof(buf), special, sizeof(special) - 1);
            /* Mostly the payload's own topic, so that mutants get past the routing. */
            const char *topic = vg_mut_next(&rng, 4)
                                    ? c.topic
                                    : topics[vg_mut_next(&rng, sizeof(topics) / sizeof(*topics))];
            vg_ingest_result res;
            cr_assert_eq(vg_ingest_parse(parser, topic, buf, len, NOW, out, 8192, &res), 0);
            uint32_t by_reason = 0;
            for (int k = 0; k < VG_INGEST_REJECT_SLOTS; k++)
                by_reason += res.rejects[k];
            cr_assert_eq(by_reason, res.n_rejected, "%s mutant %d on %s", c.file, i, topic);
            if (res.n_rejected)
                cr_assert(res.first_reason > VG_REJECT_NONE &&
                              res.first_reason < VG_REJECT_COUNT,
                          "%s mutant %d on %s: reason %d", c.file, i, topic, res.first_reason);
            cr_assert(res.n_readings > 0 || res.n_rejected > 0,
                      "%s mutant %d on %s: neither readings nor a refusal", c.file, i, topic);
            for (uint32_t k = 0; k < res.n_readings; k++) {
                const enum vg_reject why = vg_reading_check(model, &out[k]);
                cr_assert_eq(why, VG_REJECT_NONE, "%s mutant %d on %s: reading %u is %s",
                             c.file, i, topic, k, vg_reject_name(why));
            }
            accepted += res.n_readings > 0;
            messages++;
        }
        free(c.payload);
    }
    fclose(f);
    cr_log_info("%ld mutated messages, %ld gave readings", messages, accepted);
    cr_assert_geq(messages, 40000);
    cr_assert_gt(accepted, 0); /* the mutations do not only break the syntax */
}

Test(ingest, sensor_reading_fields_and_exact_timestamp)
{
    vg_ingest_result res = parse("vigil/testvenue/sensor/t1",
                                 "{\"v\":1,\"ts\":1779456000.25,\"value\":27.4}");
    cr_assert_eq(res.n_readings, 1);
    cr_assert_eq(res.source, VG_INGEST_SRC_SENSOR);
    cr_assert_eq(out[0].type, VG_READING_SENSOR);
    cr_assert_eq(out[0].source, idx_sensor("t1"));
    cr_assert_eq(out[0].t_ns, INT64_C(1779456000250000000));
    cr_assert_float_eq(out[0].value, 27.4, 1e-12);
}

Test(ingest, count_message_gives_one_reading_per_zone_and_speed_variance)
{
    uint32_t cam, z1, z2;
    cr_assert_eq(vg_model_find_camera(model, "cam1", &cam), 0);
    cr_assert_eq(vg_model_find_zone(model, "z1", &z1), 0);
    cr_assert_eq(vg_model_find_zone(model, "z2", &z2), 0);
    vg_ingest_result res = parse("vigil/testvenue/count/cam1",
                                 "{\"v\":1,\"ts\":1779456000,\"counts\":{\"z1\":143,\"z2\":87},"
                                 "\"speed_var\":{\"z1\":0.012}}");
    cr_assert_eq(res.n_readings, 3);
    cr_assert_eq(out[0].type, VG_READING_COUNT);
    cr_assert_eq(out[0].source, cam);
    cr_assert_eq(out[0].zone, z1);
    cr_assert_eq(out[0].value, 143);
    cr_assert_eq(out[1].zone, z2);
    cr_assert_eq(out[1].value, 87);
    cr_assert_eq(out[2].type, VG_READING_SPEED_VAR);
    cr_assert_eq(out[2].zone, z1);
    cr_assert_float_eq(out[2].value, 0.012, 1e-15);
}

Test(ingest, one_bad_zone_refuses_the_whole_camera_message)
{
    vg_ingest_result res = parse("vigil/testvenue/count/cam1",
                                 "{\"v\":1,\"ts\":1779456000,\"counts\":{\"z1\":3,\"z2\":-1}}");
    cr_assert_eq(res.n_readings, 0);
    cr_assert_eq(res.n_rejected, 1);
    cr_assert_eq(res.first_reason, VG_REJECT_NEGATIVE_COUNT);
}

/* A zone named twice (JSON allows repeated keys) would give the core two readings of one
 * stream at one time, of which it keeps the first: the message is refused whole instead. */
Test(ingest, a_zone_named_twice_refuses_the_whole_camera_message)
{
    vg_ingest_result res = parse("vigil/testvenue/count/cam1",
                                 "{\"v\":1,\"ts\":1779456000,\"counts\":{\"z1\":10,\"z1\":500}}");
    cr_assert_eq(res.n_readings, 0);
    cr_assert_eq(res.n_rejected, 1);
    cr_assert_eq(res.first_reason, VG_REJECT_DUPLICATE);
    res = parse("vigil/testvenue/count/cam1", "{\"v\":1,\"ts\":1779456000,\"counts\":{\"z1\":10},"
                                             "\"speed_var\":{\"z1\":0.1,\"z1\":0.2}}");
    cr_assert_eq(res.n_readings, 0);
    cr_assert_eq(res.first_reason, VG_REJECT_DUPLICATE);
}

/* A publisher's MQTT will (vigil-count's "stopped") was written when it connected, maybe
 * days before the broker delivers it: with "will":true it takes the receive time, where its
 * own ts would be refused as too old. */
Test(ingest, a_health_will_takes_the_receive_time)
{
    vg_ingest_result res = parse("vigil/testvenue/health/cam3",
                                 "{\"v\":1,\"ts\":1779200000,\"status\":\"stopped\"}");
    cr_assert_eq(res.first_reason, VG_REJECT_TOO_OLD, "without the flag: its own, old ts");
    res = parse("vigil/testvenue/health/cam3",
                "{\"v\":1,\"ts\":1779200000,\"status\":\"stopped\",\"will\":true}");
    cr_assert_eq(res.n_readings, 1);
    cr_assert_eq(out[0].type, VG_READING_CAMERA_HEALTH);
    cr_assert_eq(out[0].sub, VG_CAMERA_STOPPED);
    cr_assert_eq(out[0].t_ns, NOW);
    res = parse("vigil/testvenue/health/cam3",
                "{\"v\":1,\"ts\":1779456000,\"status\":\"ok\",\"will\":\"yes\"}");
    cr_assert_eq(res.first_reason, VG_REJECT_WRONG_TYPE);
}

/* A help press is never refused for its time (life safety): a point whose clock is slow, or
 * a press the broker kept for hours while the engine was down, keeps its own old time; one
 * whose clock is fast, or that sends milliseconds for seconds, is taken at receipt. A sensor
 * reading with the same stamps is refused. A press without a ts is still malformed. */
Test(ingest, a_help_press_is_never_refused_for_its_time)
{
    static const char *const stamps[] = {"1779448800", "1779456060", "1779456000000", "-1e300"};
    static const int64_t want[] = {INT64_C(1779448800) * VG_NS_PER_S, NOW, NOW, NOW};
    static const int sensor_why[] = {VG_REJECT_TOO_OLD, VG_REJECT_TOO_FAR_FUTURE,
                                     VG_REJECT_TOO_FAR_FUTURE, VG_REJECT_TOO_OLD};
    char msg[160];

    for (size_t i = 0; i < sizeof(stamps) / sizeof(stamps[0]); i++) {
        snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%s,\"type\":\"medical\"}", stamps[i]);
        vg_ingest_result res = parse("vigil/testvenue/help/h1", msg);
        cr_assert_eq(res.n_readings, 1, "ts %s: %s", stamps[i], vg_reject_name(res.first_reason));
        cr_assert_eq(out[0].type, VG_READING_HELP);
        cr_assert_eq(out[0].t_ns, want[i], "ts %s", stamps[i]);
        snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%s,\"value\":20}", stamps[i]);
        res = parse("vigil/testvenue/sensor/t1", msg);
        cr_assert_eq(res.first_reason, sensor_why[i], "sensor, ts %s", stamps[i]);
    }
    vg_ingest_result res = parse("vigil/testvenue/help/h1", "{\"v\":1,\"type\":\"medical\"}");
    cr_assert_eq(res.first_reason, VG_REJECT_MALFORMED);
    res = parse("vigil/testvenue/help/h1", "{\"v\":1,\"ts\":NaN,\"type\":\"medical\"}");
    cr_assert_eq(res.n_readings, 0, "a NaN stamp is not a time");
}

Test(ingest, line_and_help_and_health_fields)
{
    vg_ingest_result res = parse("vigil/testvenue/line/l1", "{\"v\":1,\"ts\":1779456000,\"in\":12,\"out\":3}");
    cr_assert_eq(res.n_readings, 1);
    cr_assert_eq(out[0].type, VG_READING_LINE);
    cr_assert_eq(out[0].value, 12);
    cr_assert_eq(out[0].value2, 3);
    res = parse("vigil/testvenue/help/h1", "{\"v\":1,\"ts\":1779456000,\"type\":\"fire\"}");
    cr_assert_eq(res.n_readings, 1);
    cr_assert_eq(out[0].type, VG_READING_HELP);
    cr_assert_eq(out[0].sub, VG_HELP_FIRE);
    res = parse("vigil/testvenue/health/cam3", "{\"v\":1,\"ts\":1779456000,\"status\":\"covered\"}");
    cr_assert_eq(res.n_readings, 1);
    cr_assert_eq(out[0].type, VG_READING_CAMERA_HEALTH);
    cr_assert_eq(out[0].sub, VG_CAMERA_COVERED);
}

Test(ingest, ten_megabyte_payload_is_oversized_without_parsing)
{
    size_t len = 10u << 20;
    char *big = malloc(len);
    memset(big, ' ', len);
    memcpy(big, "{\"v\":1,", 7);
    vg_ingest_result res;
    cr_assert_eq(vg_ingest_parse(parser, "vigil/testvenue/sensor/t1", big, len, NOW, out, 8192, &res), 0);
    free(big);
    cr_assert_eq(res.n_rejected, 1);
    cr_assert_eq(res.first_reason, VG_REJECT_OVERSIZED);
}

Test(ingest, deep_nesting_is_malformed)
{
    size_t depth = 100000;
    char *deep = malloc(depth * 2 + 1);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[depth * 2] = '\0';
    vg_ingest_result res = parse("vigil/testvenue/sensor/t1", deep);
    free(deep);
    cr_assert_eq(res.first_reason, VG_REJECT_MALFORMED);
    /* Nesting inside an otherwise valid object: still refused, not ignored. */
    char buf[8192];
    int k = sprintf(buf, "{\"v\":1,\"ts\":1779456000,\"value\":");
    for (int i = 0; i < 2000; i++)
        buf[k++] = '[';
    for (int i = 0; i < 2000; i++)
        buf[k++] = ']';
    strcpy(buf + k, "}");
    res = parse("vigil/testvenue/sensor/t1", buf);
    cr_assert_eq(res.n_rejected, 1);
    cr_assert_eq(res.first_reason, VG_REJECT_MALFORMED);
}

Test(ingest, batch_items_are_judged_one_by_one)
{
    vg_ingest_result res = parse(
        "vigil/testvenue/batch/gw1",
        "{\"v\":1,\"readings\":["
        "{\"sensor\":\"t1\",\"ts\":1779456000,\"value\":20},"
        "{\"sensor\":\"nosuch\",\"ts\":1779456000,\"value\":20},"
        "{\"sensor\":\"t1\",\"ts\":1779456001,\"value\":\"hot\"},"
        "{\"camera\":\"cam1\",\"ts\":1779456000,\"counts\":{\"z1\":4,\"z2\":5}},"
        "{\"line\":\"l1\",\"ts\":1779456000,\"in\":1,\"out\":-2},"
        "42,"
        "{\"sensor\":\"t1\",\"ts\":1779456002,\"value\":1e999},"
        "{\"help\":\"h1\",\"ts\":1779456000,\"type\":\"medical\"}]}");
    /* good: t1, cam1 (2 zones), h1 = 4 readings; refused: 5 items */
    cr_assert_eq(res.n_readings, 4);
    cr_assert_eq(res.n_rejected, 5);
    cr_assert_eq(res.first_reason, VG_REJECT_UNKNOWN_SENSOR);
    cr_assert_eq(res.rejects[VG_REJECT_UNKNOWN_SENSOR], 1);
    cr_assert_eq(res.rejects[VG_REJECT_WRONG_TYPE], 2);
    cr_assert_eq(res.rejects[VG_REJECT_NEGATIVE_COUNT], 1);
    cr_assert_eq(res.rejects[VG_REJECT_NOT_FINITE], 1);
}

Test(ingest, batch_over_max_readings_refuses_every_item)
{
    vg_ingest_limits lim;
    vg_ingest_parser *small;
    vg_ingest_limits_default(&lim);
    lim.max_readings = 2;
    cr_assert_eq(vg_ingest_parser_new(model, &lim, &small), 0);
    const char *b = "{\"v\":1,\"readings\":[{\"sensor\":\"t1\",\"ts\":1779456000,\"value\":1},"
                    "{\"sensor\":\"t1\",\"ts\":1779456001,\"value\":1},"
                    "{\"sensor\":\"t1\",\"ts\":1779456002,\"value\":1}]}";
    vg_ingest_result res;
    cr_assert_eq(vg_ingest_parse(small, "vigil/testvenue/batch/x", b, strlen(b), NOW, out, 8192, &res), 0);
    vg_ingest_parser_free(&small);
    cr_assert_null(small);
    cr_assert_eq(res.n_readings, 0);
    cr_assert_eq(res.n_rejected, 3);
    cr_assert_eq(res.first_reason, VG_REJECT_OVERSIZED);
}

Test(ingest, frigate_integer_count_maps_to_camera_and_zone)
{
    uint32_t cam, z1;
    cr_assert_eq(vg_model_find_camera(model, "cam1", &cam), 0);
    cr_assert_eq(vg_model_find_zone(model, "z1", &z1), 0);
    vg_ingest_result res = parse("frigate/fz1/person", "12");
    cr_assert_eq(res.source, VG_INGEST_SRC_FRIGATE);
    cr_assert_eq(res.n_readings, 1);
    cr_assert_eq(out[0].type, VG_READING_COUNT);
    cr_assert_eq(out[0].source, cam);
    cr_assert_eq(out[0].zone, z1);
    cr_assert_eq(out[0].value, 12);
    cr_assert_eq(out[0].t_ns, NOW, "Frigate carries no time: receive time is used");
    cr_assert_eq(parse("frigate/fz1/person", "-1").first_reason, VG_REJECT_NEGATIVE_COUNT);
    cr_assert_eq(parse("frigate/fz1/person", "2.5").first_reason, VG_REJECT_WRONG_TYPE);
    cr_assert_eq(parse("frigate/fz1/person", "many").first_reason, VG_REJECT_MALFORMED);
    cr_assert_eq(parse("frigate/nozone/person", "3").first_reason, VG_REJECT_UNKNOWN_ZONE);
    cr_assert_eq(parse("frigate/fz1/car", "3").first_reason, VG_REJECT_UNKNOWN_TOPIC);
}

Test(ingest, zigbee2mqtt_fields_map_to_sensors_and_the_rest_is_ignored)
{
    vg_ingest_result res = parse("zigbee2mqtt/hall_air",
                                 "{\"co2\":812,\"temperature\":23.4,\"battery\":90,\"linkquality\":120}");
    cr_assert_eq(res.source, VG_INGEST_SRC_Z2M);
    cr_assert_eq(res.n_readings, 2);
    cr_assert_eq(res.n_rejected, 0);
    cr_assert_eq(out[0].source, idx_sensor("c1"));
    cr_assert_eq(out[0].value, 812);
    cr_assert_eq(out[1].source, idx_sensor("h1t"));
    res = parse("zigbee2mqtt/hall_air", "{\"co2\":\"lots\",\"temperature\":21}");
    cr_assert_eq(res.n_readings, 1);
    cr_assert_eq(res.n_rejected, 1);
    cr_assert_eq(res.first_reason, VG_REJECT_WRONG_TYPE);
    cr_assert_eq(parse("zigbee2mqtt/hall_air", "{\"battery\":90}").first_reason,
                 VG_REJECT_UNKNOWN_SENSOR);
    cr_assert_eq(parse("zigbee2mqtt/kitchen", "{\"co2\":500}").first_reason,
                 VG_REJECT_UNKNOWN_SENSOR);
    res = parse("zigbee2mqtt/hall_air", "{\"co2\":99999,\"temperature\":21}");
    cr_assert_eq(res.first_reason, VG_REJECT_OUT_OF_RANGE);
    cr_assert_eq(res.n_readings, 1, "the temperature");
    /* the refused value is kept for the sensor_range alert, apart from the readings */
    cr_assert_eq(res.n_out_of_range, 1);
    cr_assert_eq(res.out_of_range[0].type, VG_READING_SENSOR);
    cr_assert_eq(res.out_of_range[0].source, idx_sensor("c1"));
    cr_assert_eq(res.out_of_range[0].value, 99999);
    cr_assert_eq(parse("vigil/testvenue/sensor/t1", "{\"v\":1,\"value\":\"hot\"}").n_out_of_range,
                 0, "only out_of_range values are kept");
}

/* A zigbee2mqtt smoke detector reports true / false: 1 and 0, never wrong_type. */
Test(ingest, zigbee2mqtt_booleans_are_one_and_zero)
{
    static const char text[] =
        "venue = { id = \"testvenue\"; };\n"
        "zones = ( { id = \"z1\"; type = \"moving\"; area_m2 = 100.0; } );\n"
        "sensors = ( { id = \"smk\"; kind = \"smoke\"; zone = \"z1\"; min = 0; max = 1;\n"
        "              period_s = 60; z2m = { device = \"hall_smoke\"; field = \"smoke\"; }; } );\n";
    char path[] = "/tmp/vg-test-z2m-XXXXXX";
    const int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
    close(fd);
    vg_model *m;
    vg_model_error err;
    vg_ingest_parser *zp;
    vg_ingest_result res;
    cr_assert_eq(vg_model_load(path, &m, &err), 0, "%s:%d: %s", err.file, err.line, err.message);
    unlink(path);
    cr_assert_eq(vg_ingest_parser_new(m, NULL, &zp), 0);
    const char *on = "{\"smoke\":true,\"battery\":100}", *off = "{\"smoke\":false}";
    cr_assert_eq(vg_ingest_parse(zp, "zigbee2mqtt/hall_smoke", on, strlen(on), NOW, out, 8, &res),
                 0);
    cr_assert_eq(res.n_readings, 1);
    cr_assert_eq(res.n_rejected, 0);
    cr_assert_eq(out[0].value, 1.0);
    cr_assert_eq(vg_ingest_parse(zp, "zigbee2mqtt/hall_smoke", off, strlen(off), NOW, out, 8,
                                 &res),
                 0);
    cr_assert_eq(res.n_readings, 1);
    cr_assert_eq(out[0].value, 0.0);
    vg_ingest_parser_free(&zp);
    vg_model_free(&m);
}

Test(ingest, subscriptions_follow_the_model)
{
    char f[4][160];
    size_t n = vg_ingest_subscriptions(model, f, 4);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(f[0], "vigil/testvenue/#");
    cr_assert_str_eq(f[1], "frigate/+/person");
    cr_assert_str_eq(f[2], "zigbee2mqtt/+");
    cr_assert_eq(vg_ingest_subscriptions(model, f, 1), 3, "reports what it needs");
}

Test(ingest, bad_arguments_are_einval)
{
    vg_ingest_parser *p = NULL;
    vg_ingest_limits lim;
    vg_ingest_result res;
    vg_ingest_limits_default(&lim);
    lim.max_readings = 0;
    cr_assert_eq(vg_ingest_parser_new(NULL, NULL, &p), -EINVAL);
    cr_assert_eq(vg_ingest_parser_new(model, &lim, &p), -EINVAL);
    cr_assert_null(p);
    cr_assert_eq(vg_ingest_parse(parser, NULL, "", 0, NOW, out, 1, &res), -EINVAL);
    cr_assert_eq(vg_ingest_parse(parser, "t", NULL, 3, NOW, out, 1, &res), -EINVAL);
    cr_assert_eq(vg_ingest_parse(parser, "t", "", 0, NOW, out, 1, NULL), -EINVAL);
    vg_ingest_parser_free(NULL);
    cr_assert_str_eq(vg_ingest_source_name(VG_INGEST_SRC_Z2M), "zigbee2mqtt");
    cr_assert_str_eq(vg_ingest_source_name((enum vg_ingest_source)99), "unknown");
}

/* ---- the ingestor without a broker ---- */

static vg_ring *rd, *rj;

static void rings(size_t cap)
{
    cr_assert_eq(vg_ring_new(sizeof(vg_reading), cap, &rd), 0);
    cr_assert_eq(vg_ring_new(sizeof(vg_ingest_reject), 16, &rj), 0);
}

Test(ingest, new_validates_settings)
{
    vg_ingest_cfg cfg;
    vg_ingest *in = NULL;
    rings(16);
    vg_ingest_cfg_default(&cfg);
    cfg.qos = 2;
    cr_assert_eq(vg_ingest_new(model, &cfg, rd, rj, &in), -EINVAL);
    vg_ingest_cfg_default(&cfg);
    cfg.certfile = "/x.crt";
    cr_assert_eq(vg_ingest_new(model, &cfg, rd, rj, &in), -EINVAL, "cert without key");
    vg_ingest_cfg_default(&cfg);
    cfg.keepalive_s = 10;
    cfg.max_block_ms = 10000;
    cr_assert_eq(vg_ingest_new(model, &cfg, rd, rj, &in), -EINVAL, "block >= keepalive");
    vg_ingest_cfg_default(&cfg);
    cr_assert_eq(vg_ingest_new(model, &cfg, rj, rd, &in), -EINVAL, "rings swapped");
    cr_assert_null(in);
    cr_assert_eq(vg_ingest_new(model, &cfg, rd, NULL, &in), 0, "reject ring optional");
    vg_ingest_free(&in);
    cr_assert_null(in);
    vg_ring_free(&rd);
    vg_ring_free(&rj);
}

Test(ingest, submit_counts_readings_and_rejects_and_logs_the_refusal)
{
    vg_ingest_cfg cfg;
    vg_ingest *in;
    vg_ingest_stats st;
    vg_ingest_reject rec;
    vg_reading r;
    const char *bad = "{\"v\":1,\"ts\":1779456000,\"value\":NaN}";

    rings(16);
    vg_ingest_cfg_default(&cfg);
    cr_assert_eq(vg_ingest_new(model, &cfg, rd, rj, &in), 0);
    cr_assert_eq(vg_ingest_submit(in, "vigil/testvenue/sensor/t1", "{\"v\":1,\"ts\":1779456000,\"value\":20}", 34, NOW), 0);
    cr_assert_eq(vg_ingest_submit(in, "vigil/testvenue/sensor/t1", bad, strlen(bad), NOW), 0);
    cr_assert_eq(vg_ingest_submit(in, "vigil/testvenue/nope/t1", "{}", 2, NOW), 0);
    vg_ingest_stats_get(in, &st);
    cr_assert_eq(st.messages, 3);
    cr_assert_eq(st.bytes, 34 + strlen(bad) + 2);
    cr_assert_eq(st.readings[VG_INGEST_SRC_SENSOR], 1);
    cr_assert_eq(st.rejects[VG_REJECT_MALFORMED], 1);
    cr_assert_eq(st.rejects[VG_REJECT_UNKNOWN_TOPIC], 1);
    cr_assert_eq(st.connected, 0);
    cr_assert_eq(vg_ring_pop(rd, &r), 0);
    cr_assert_eq(r.value, 20);
    cr_assert_eq(vg_ring_pop(rd, &r), -EAGAIN);
    cr_assert_eq(vg_ring_pop(rj, &rec), 0);
    cr_assert_eq(rec.reason, VG_REJECT_MALFORMED);
    cr_assert_eq(rec.count, 1);
    cr_assert_eq(rec.wall_ns, NOW);
    cr_assert_str_eq(rec.topic, "vigil/testvenue/sensor/t1");
    cr_assert_eq(rec.payload_len, strlen(bad));
    cr_assert_eq(rec.excerpt_len, strlen(bad));
    cr_assert_eq(memcmp(rec.payload, bad, strlen(bad)), 0);
    cr_assert_eq(vg_ring_pop(rj, &rec), 0);
    cr_assert_eq(rec.reason, VG_REJECT_UNKNOWN_TOPIC);
    vg_ingest_free(&in);
    vg_ring_free(&rd);
    vg_ring_free(&rj);
}

Test(ingest, full_reject_ring_still_counts)
{
    vg_ingest_cfg cfg;
    vg_ingest *in;
    vg_ingest_stats st;
    rings(16);
    vg_ingest_cfg_default(&cfg);
    cr_assert_eq(vg_ingest_new(model, &cfg, rd, rj, &in), 0);
    for (int i = 0; i < 20; i++)
        cr_assert_eq(vg_ingest_submit(in, "elsewhere", "x", 1, NOW), 0);
    vg_ingest_stats_get(in, &st);
    cr_assert_eq(st.rejects[VG_REJECT_UNKNOWN_TOPIC], 20);
    cr_assert_eq(st.reject_log_full, 4, "16 logged, 4 only counted");
    cr_assert_eq(vg_ring_depth(rj), 16);
    vg_ingest_free(&in);
    vg_ring_free(&rd);
    vg_ring_free(&rj);
}

struct drain {
    vg_ring *r;
    int n;
    double sum;
};

static void *drainer(void *arg)
{
    struct drain *d = arg;
    vg_reading r;
    while (vg_ring_wait_readable(d->r, -1) == 0)
        while (vg_ring_pop(d->r, &r) == 0) {
            d->n++;
            d->sum += r.value;
        }
    return NULL;
}

Test(ingest, full_ring_blocks_the_producer_and_loses_nothing)
{
    vg_ingest_cfg cfg;
    vg_ingest *in;
    vg_ingest_stats st;
    pthread_t th;
    struct drain d = {0};
    char msg[128];

    rings(4); /* far smaller than the burst: the producer must wait */
    vg_ingest_cfg_default(&cfg);
    cr_assert_eq(vg_ingest_new(model, &cfg, rd, rj, &in), 0);
    d.r = rd;
    pthread_create(&th, NULL, drainer, &d);
    for (int i = 1; i <= 2000; i++) {
        int n = snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%d,\"value\":%d}", 1779456000 + i, i % 50);
        cr_assert_eq(vg_ingest_submit(in, "vigil/testvenue/sensor/t1", msg, (size_t)n,
                                      (int64_t)(1779456000 + i) * VG_NS_PER_S), 0);
    }
    vg_ring_close(rd);
    pthread_join(th, NULL);
    vg_ingest_stats_get(in, &st);
    cr_assert_eq(d.n, 2000);
    double want = 0;
    for (int i = 1; i <= 2000; i++)
        want += i % 50;
    cr_assert_eq(d.sum, want);
    cr_assert_eq(st.readings[VG_INGEST_SRC_SENSOR], 2000);
    /* The ring closed under a waiting producer: -ECANCELED, not a hang. */
    const char *ok = "{\"v\":1,\"ts\":1779456000,\"value\":1}";
    cr_assert_eq(vg_ingest_submit(in, "vigil/testvenue/sensor/t1", ok, strlen(ok), NOW), -ECANCELED);
    vg_ingest_free(&in);
    vg_ring_free(&rd);
    vg_ring_free(&rj);
}

/* A variant of venue.cfg with `old` replaced by `repl`, loaded. */
static vg_model *variant(const char *old, const char *repl)
{
    char src[4096], text[16384], path[] = "/tmp/vg-ingest-model-XXXXXX";
    vg_model *m;
    vg_model_error err;

    path_of(src, sizeof(src), "venue.cfg");
    FILE *f = fopen(src, "r");
    cr_assert_not_null(f);
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    char *at = strstr(text, old);
    cr_assert_not_null(at);
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    f = fdopen(fd, "w");
    fwrite(text, 1, (size_t)(at - text), f);
    fputs(repl, f);
    fputs(at + strlen(old), f);
    fclose(f);
    int r = vg_model_load(path, &m, &err);
    unlink(path);
    cr_assert_eq(r, 0, "%s:%d: %s", err.file, err.line, err.message);
    return m;
}

Test(ingest, set_model_switches_between_two_messages_behind_a_marker)
{
    vg_ingest_cfg cfg;
    vg_ingest *in;
    vg_ingest_stats st;
    vg_reading r;
    /* t9 first: every sensor index moves */
    vg_model *m2 = variant("sensors = (\n", "sensors = (\n  { id = \"t9\"; kind = \"temperature\"; "
                                            "unit = \"degC\"; zone = \"z3\"; min = -40.0; max = 80.0; "
                                            "period_s = 10.0; },\n");
    vg_model *other = variant("id = \"testvenue\"", "id = \"elsewhere\"");
    const char *t1 = "{\"v\":1,\"ts\":1779456000,\"value\":20}";
    const char *t9 = "{\"v\":1,\"ts\":1779456000,\"value\":21}";

    rings(16);
    vg_ingest_cfg_default(&cfg);
    cr_assert_eq(vg_ingest_new(model, &cfg, rd, rj, &in), 0);
    cr_assert_eq(vg_ingest_submit(in, "vigil/testvenue/sensor/t1", t1, strlen(t1), NOW), 0);
    cr_assert_eq(vg_ingest_set_model(NULL, m2), -EINVAL);
    cr_assert_eq(vg_ingest_set_model(in, NULL), -EINVAL);
    cr_assert_eq(vg_ingest_set_model(in, other), -EINVAL, "another venue");
    cr_assert_eq(vg_ingest_set_model(in, m2), 0);
    cr_assert_eq(vg_ingest_set_model(in, m2), -EBUSY, "the first is not taken yet");
    cr_assert_eq(vg_ring_depth(rd), 1, "taken at the next message, not before");

    cr_assert_eq(vg_ingest_submit(in, "vigil/testvenue/sensor/t1", t1, strlen(t1), NOW), 0);
    cr_assert_eq(vg_ingest_submit(in, "vigil/testvenue/sensor/t9", t9, strlen(t9), NOW), 0);
    cr_assert_eq(vg_ring_pop(rd, &r), 0);
    cr_assert_eq(r.type, VG_READING_SENSOR);
    cr_assert_eq(r.source, 0, "t1 in the first model");
    cr_assert_eq(vg_ring_pop(rd, &r), 0);
    cr_assert_eq(r.type, VG_INGEST_READING_MODEL);
    cr_assert_eq(r.tag, 1);
    cr_assert_eq(vg_ring_pop(rd, &r), 0);
    cr_assert_eq(r.source, 1, "t1 in the new model");
    cr_assert_eq(vg_ring_pop(rd, &r), 0);
    cr_assert_eq(r.source, 0, "t9, known now");
    cr_assert_eq(r.value, 21);
    cr_assert_eq(vg_ring_pop(rd, &r), -EAGAIN);
    vg_ingest_stats_get(in, &st);
    cr_assert_eq(st.readings[VG_INGEST_SRC_SENSOR], 3, "the marker is not a reading");
    cr_assert_eq(st.rejects[VG_REJECT_UNKNOWN_SENSOR], 0);

    /* back to the first model; a closed ring refuses the marker and the message */
    cr_assert_eq(vg_ingest_set_model(in, model), 0);
    vg_ring_close(rd);
    cr_assert_eq(vg_ingest_submit(in, "vigil/testvenue/sensor/t9", t9, strlen(t9), NOW),
                 -ECANCELED);
    vg_ingest_free(&in); /* frees the model handed over but never taken */
    vg_ring_free(&rd);
    vg_ring_free(&rj);
    vg_model_free(&m2);
    vg_model_free(&other);
}

/* On the event clock "now" is the first reading's own time, which nothing checks: one from
 * before 1679 with a year's --max-age must not overflow now - max_age (UBSan) and refuse
 * the next good reading as too old. */
Test(ingest, an_ancient_event_clock_with_a_long_max_age_does_not_overflow)
{
    vg_ingest_limits lim;
    vg_ingest_parser *p;
    vg_ingest_result res;
    const char *msg = "{\"v\":1,\"ts\":-9199999998,\"value\":21}";
    const int64_t now = INT64_C(-9199999999) * VG_NS_PER_S;

    vg_ingest_limits_default(&lim);
    lim.max_age_ns = INT64_C(365) * 86400 * VG_NS_PER_S;
    cr_assert_eq(vg_ingest_parser_new(model, &lim, &p), 0);
    cr_assert_eq(vg_ingest_parse(p, "vigil/testvenue/sensor/t1", msg, strlen(msg), now, out, 8,
                                 &res), 0);
    vg_ingest_parser_free(&p);
    cr_assert_eq(res.n_readings, 1, "refused: %s", vg_reject_name(res.first_reason));
    cr_assert_eq(out[0].t_ns, now + VG_NS_PER_S);
}
