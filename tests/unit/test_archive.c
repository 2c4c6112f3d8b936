/* Unit tests of the HDF5 archive on the fixture venue (tests/archive_fixture.h), written to a
 * temp dir at setup:
 *
 *   conc  moving,   100 m², camera cam-c (coverage 1.0)
 *   hall  standing, 1000 m², camera cam-h
 *   door  counting line conc -> hall
 *   sensor co2 in conc, help point hp in conc
 *
 * Each test writes archives into its own temp dir (real HDF5 files) and reads them back
 * with the reader API, checking what a reviewer would: counts, values, order. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive_fixture.h"
#include "vigil/alert.h"
#include "vigil/archive.h"
#include "vigil/common.h"
#include "vigil/ingest.h"

#define S INT64_C(1000000000)
#define T0 (INT64_C(1779456000) * S)

/* The fixture's directory, model file and model (archive_fixture.h), by their short names. */
static const char *const dir = af_dir;
static const char *const model_path = af_model_path;
static vg_model *model;

static void setup(void)
{
    archive_fixture_setup(NULL, "vg-test-archive");
    model = af_model;
}

static void teardown(void)
{
    archive_fixture_teardown();
    model = NULL;
}

TestSuite(archive, .init = setup, .fini = teardown, .timeout = 60);

static vg_reading sensor_reading(int64_t t_ns, double v, uint32_t tag)
{
    vg_reading r;

    memset(&r, 0, sizeof(r));
    r.t_ns = t_ns;
    r.value = v;
    r.type = VG_READING_SENSOR;
    r.source = 0;
    r.zone = VG_MODEL_NONE;
    r.tag = tag;
    return r;
}

static vg_alert_event sample_alert(uint64_t id, uint64_t seq)
{
    vg_alert_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.id = id;
    ev.seq = seq;
    ev.t_ns = T0 + 5 * S + 250000000;
    ev.raised_ns = T0 + 5 * S;
    ev.value = 3.25;
    ev.threshold = 3.0;
    ev.trend_per_min = NAN;
    ev.ttc_s = -1;
    ev.zone = 0;
    ev.source = 0;
    ev.source_type = VG_SOURCE_ZONE;
    ev.action = VG_ALERT_ACTION_RAISE;
    ev.kind = VG_ALERT_DENSITY;
    ev.feed = VG_FEED_SECURITY;
    ev.grade = VG_GRADE_WARNING;
    ev.prev_grade = VG_GRADE_CLEAR;
    ev.flags = VG_ALERT_F_CHATTERING;
    ev.evidence_count = 1;
    ev.evidence[0].t_ns = T0 + 5 * S;
    ev.evidence[0].value = 325;
    ev.evidence[0].source_type = VG_SOURCE_CAMERA;
    ev.evidence[0].reading_type = VG_READING_COUNT;
    snprintf(ev.message, sizeof(ev.message), "conc: density 3.25 p/m2 \"warning\"");
    return ev;
}

static vg_archive *new_archive(vg_archive_cfg *cfg)
{
    vg_archive *a = NULL;
    vg_archive_cfg c;

    if (!cfg) {
        vg_archive_cfg_default(&c);
        cfg = &c;
    }
    cfg->model = model;
    cr_assert_eq(vg_archive_new(dir, cfg, &a), 0);
    return a;
}

/* Slots for one record, as the push helpers lay them out (through a scratch ring). */
static size_t slots_of(vg_archive_record *out, int (*push)(vg_ring *, const void *),
                       const void *payload)
{
    vg_ring *ring;
    size_t n;

    cr_assert_eq(vg_ring_new(VG_ARCHIVE_SLOT_SIZE, 16, &ring), 0);
    cr_assert_eq(push(ring, payload), 0);
    n = vg_ring_pop_n(ring, out, 16);
    vg_ring_free(&ring);
    return n;
}

static int push_alert_v(vg_ring *r, const void *p) { return vg_archive_push_alert(r, p); }
static int push_metrics_v(vg_ring *r, const void *p) { return vg_archive_push_metrics(r, p); }
static int push_action_v(vg_ring *r, const void *p) { return vg_archive_push_action(r, p); }
static int push_incident_v(vg_ring *r, const void *p) { return vg_archive_push_incident(r, p); }

Test(archive, cfg_defaults_are_documented_values)
{
    vg_archive_cfg c;

    vg_archive_cfg_default(&c);
    cr_assert_eq(c.flush_interval_ns, S);
    cr_assert_eq(c.rotate_ns, 0);
    cr_assert_eq(c.retry_ns, 5 * S);
    cr_assert_eq(c.compression, 1);
    cr_assert_eq(c.chunk_records, 8192);
    cr_assert_str_eq(c.prefix, "vigil");
    cr_assert_null(c.model);
}

Test(archive, new_rejects_bad_arguments)
{
    vg_archive *a = NULL;
    vg_archive_cfg c;

    vg_archive_cfg_default(&c);
    cr_assert_eq(vg_archive_new(dir, &c, &a), -EINVAL); /* no model */
    c.model = model;
    cr_assert_eq(vg_archive_new(NULL, &c, &a), -EINVAL);
    cr_assert_eq(vg_archive_new(dir, NULL, &a), -EINVAL);
    cr_assert_eq(vg_archive_new(dir, &c, NULL), -EINVAL);
    c.compression = 10;
    cr_assert_eq(vg_archive_new(dir, &c, &a), -EINVAL);
    c.compression = 1;
    c.chunk_records = 63;
    cr_assert_eq(vg_archive_new(dir, &c, &a), -EINVAL);
    c.chunk_records = 8192;
    c.flush_interval_ns = 0;
    cr_assert_eq(vg_archive_new(dir, &c, &a), -EINVAL);
    cr_assert_null(a);
}

Test(archive, new_in_missing_directory_is_enoent)
{
    vg_archive *a = NULL;
    vg_archive_cfg c;
    char missing[256];

    vg_archive_cfg_default(&c);
    c.model = model;
    snprintf(missing, sizeof(missing), "%s/nope", dir);
    cr_assert_eq(vg_archive_new(missing, &c, &a), -ENOENT);
    cr_assert_null(a);
}

Test(archive, push_helpers_check_the_ring)
{
    vg_ring *small, *ring;
    vg_reading r = sensor_reading(T0, 400, 1);
    vg_alert_event ev = sample_alert(1, 1);

    cr_assert_eq(vg_ring_new(sizeof(vg_reading), 16, &small), 0);
    cr_assert_eq(vg_archive_push_reading(small, &r, 0), -EINVAL); /* wrong record size */
    cr_assert_eq(vg_archive_push_alert(small, &ev), -EINVAL);
    cr_assert_eq(vg_archive_push_reading(NULL, &r, 0), -EINVAL);
    vg_ring_free(&small);

    /* 8 slots: one 7-slot alert fits, then a second does not and leaves nothing behind. */
    cr_assert_eq(vg_ring_new(VG_ARCHIVE_SLOT_SIZE, 8, &ring), 0);
    cr_assert_eq(vg_archive_push_alert(ring, &ev), 0);
    cr_assert_eq(vg_ring_depth(ring), 7);
    cr_assert_eq(vg_archive_push_alert(ring, &ev), -EAGAIN);
    cr_assert_eq(vg_ring_depth(ring), 7);
    cr_assert_eq(vg_archive_push_reading(ring, &r, 0), 0);
    cr_assert_eq(vg_archive_push_tick(ring, T0, 0), -EAGAIN);
    cr_assert_eq(vg_ring_depth(ring), 8);
    vg_ring_free(&ring);
}

Test(archive, write_rejects_truncated_records)
{
    vg_archive *a = new_archive(NULL);
    vg_archive_record slots[8];
    vg_alert_event ev = sample_alert(1, 1);
    size_t n = slots_of(slots, push_alert_v, &ev);

    cr_assert_eq(n, 7);
    cr_assert_eq(vg_archive_write(a, slots, 3), -EINVAL);
    cr_assert_eq(vg_archive_write(a, slots, n), 0);
    vg_archive_free(&a);
    cr_assert_null(a);
    vg_archive_free(&a); /* NULL is fine */
}

/* Writes a known mix without a thread, reads everything back. */
Test(archive, records_read_back_in_archive_order)
{
    vg_archive *a = new_archive(NULL);
    vg_archive_record slots[8];
    vg_archive_reader *rd;
    vg_archive_info info;
    vg_archive_input in;
    vg_alert_event ev = sample_alert(7, 1), ev_back;
    vg_zone_metrics zm, zm_back;
    vg_archive_action act, act_back;
    vg_archive_incident inc, inc_back;
    vg_archive_reject rj;
    char *text = NULL;
    size_t len = 0, n;
    char names[4][512];
    /* Script: r0 r1 (r1 refused out_of_range) tick(T0+1s) alert r2 tick(T0+2s) r3 */
    vg_reading r[4];

    for (int i = 0; i < 4; i++)
        r[i] = sensor_reading(T0 + i * 500000000, 400 + i, (uint32_t)i);
    r[1].value = 20000;
    memset(&zm, 0, sizeof(zm));
    zm.t_ns = T0 - S;
    zm.zone = 1;
    zm.flags = VG_METRICS_DENSITY;
    zm.density_per_m2 = 1.5;
    zm.population = 1500;
    zm.occupancy = NAN;
    zm.los = 'C';
    zm.grade = VG_GRADE_CLEAR;
    memset(&act, 0, sizeof(act));
    act.t_ns = T0 + 6 * S;
    act.alert_id = 7;
    act.zone = 0;
    snprintf(act.action, sizeof(act.action), "ack");
    snprintf(act.operator_id, sizeof(act.operator_id), "op-anna");
    snprintf(act.comment, sizeof(act.comment), "stewards on the way");
    memset(&inc, 0, sizeof(inc));
    inc.t_start_ns = T0;
    inc.t_end_ns = T0 + 60 * S;
    inc.zone = 0;
    inc.kind = VG_ALERT_DENSITY;
    inc.origin = VG_ARCHIVE_ORIGIN_OPERATOR;
    snprintf(inc.id, sizeof(inc.id), "inc-1");

    {
        vg_archive_record s;

        memset(&s, 0, sizeof(s));
        s.type = VG_ARCHIVE_REC_READING;
        s.nslots = 1;
        s.u.reading = r[0];
        cr_assert_eq(vg_archive_write(a, &s, 1), 0);
        s.u.reading = r[1];
        s.aux = VG_REJECT_OUT_OF_RANGE;
        cr_assert_eq(vg_archive_write(a, &s, 1), 0);
        memset(&s, 0, sizeof(s));
        s.type = VG_ARCHIVE_REC_TICK;
        s.nslots = 1;
        s.u.tick.t_ns = T0 + S;
        cr_assert_eq(vg_archive_write(a, &s, 1), 0);
        n = slots_of(slots, push_alert_v, &ev);
        cr_assert_eq(vg_archive_write(a, slots, n), 0);
        n = slots_of(slots, push_metrics_v, &zm);
        cr_assert_eq(n, 2);
        cr_assert_eq(vg_archive_write(a, slots, n), 0);
        memset(&s, 0, sizeof(s));
        s.type = VG_ARCHIVE_REC_READING;
        s.nslots = 1;
        s.u.reading = r[2];
        cr_assert_eq(vg_archive_write(a, &s, 1), 0);
        memset(&s, 0, sizeof(s));
        s.type = VG_ARCHIVE_REC_TICK;
        s.nslots = 1;
        s.u.tick.t_ns = T0 + 2 * S;
        s.u.tick.lost = 3;
        cr_assert_eq(vg_archive_write(a, &s, 1), 0);
        memset(&s, 0, sizeof(s));
        s.type = VG_ARCHIVE_REC_READING;
        s.nslots = 1;
        s.u.reading = r[3];
        cr_assert_eq(vg_archive_write(a, &s, 1), 0);
        n = slots_of(slots, push_action_v, &act);
        cr_assert_eq(vg_archive_write(a, slots, n), 0);
        n = slots_of(slots, push_incident_v, &inc);
        cr_assert_eq(vg_archive_write(a, slots, n), 0);
    }
    cr_assert_eq(vg_archive_stop(a), 0);
    vg_archive_free(&a);

    cr_assert_eq(list_archives(dir, names, 4), 1);
    cr_assert_eq(vg_archive_reader_open(names[0], &rd), 0);
    cr_assert_eq(vg_archive_reader_info(rd, &info), 0);
    cr_assert_str_eq(info.venue, "t");
    cr_assert_eq(info.count[VG_ARCHIVE_REC_READING], 4);
    cr_assert_eq(info.count[VG_ARCHIVE_REC_TICK], 2);
    cr_assert_eq(info.count[VG_ARCHIVE_REC_ALERT], 1);
    cr_assert_eq(info.count[VG_ARCHIVE_REC_METRICS], 1);
    cr_assert_eq(info.count[VG_ARCHIVE_REC_REJECT], 1); /* the refused r1 */
    cr_assert_eq(info.count[VG_ARCHIVE_REC_ACTION], 1);
    cr_assert_eq(info.count[VG_ARCHIVE_REC_INCIDENT], 1);
    cr_assert_eq(info.count[VG_ARCHIVE_REC_MODEL], 1);
    cr_assert_eq(info.first_tick_ns, T0 + S);
    cr_assert_eq(info.last_tick_ns, T0 + 2 * S);
    cr_assert_eq(info.lost, 3);
    cr_assert_eq(info.model_digest, vg_model_digest(model));
    cr_assert_str_eq(info.model_path, model_path);
    cr_assert_eq(info.file_index, 0);
    cr_assert_eq(info.after_fault, 0);
    cr_assert_eq(info.analysis.lateness_ns, 2 * S); /* the default core settings */

    /* r0 r1 T r2 T r3, then the end */
    {
        static const int expect[] = {'r', 'r', 't', 'r', 't', 'r'};
        int ri = 0;

        for (size_t i = 0; i < 6; i++) {
            cr_assert_eq(vg_archive_reader_next(rd, &in), 1);
            if (expect[i] == 'r') {
                cr_assert_eq(in.type, VG_ARCHIVE_REC_READING, "input %zu", i);
                cr_assert_eq(memcmp(&in.reading, &r[ri], sizeof(r[ri])), 0);
                cr_assert_eq(in.reject, ri == 1 ? VG_REJECT_OUT_OF_RANGE : 0);
                ri++;
            } else {
                cr_assert_eq(in.type, VG_ARCHIVE_REC_TICK, "input %zu", i);
            }
        }
        cr_assert_eq(vg_archive_reader_next(rd, &in), 0);
        cr_assert_eq(vg_archive_reader_rewind(rd), 0);
        cr_assert_eq(vg_archive_reader_next(rd, &in), 1);
        cr_assert_eq(in.reading.tag, 0);
    }

    cr_assert_eq(vg_archive_reader_read(rd, VG_ARCHIVE_REC_ALERT, 0, 1, &ev_back), 0);
    cr_assert_eq(memcmp(&ev_back, &ev, sizeof(ev)), 0);
    cr_assert_eq(vg_archive_reader_read(rd, VG_ARCHIVE_REC_METRICS, 0, 1, &zm_back), 0);
    cr_assert_eq(zm_back.zone, 1);
    cr_assert_float_eq(zm_back.density_per_m2, 1.5, 0);
    cr_assert(isnan(zm_back.occupancy));
    cr_assert_eq(zm_back.los, 'C');
    cr_assert_eq(vg_archive_reader_read(rd, VG_ARCHIVE_REC_ACTION, 0, 1, &act_back), 0);
    cr_assert_str_eq(act_back.operator_id, "op-anna");
    cr_assert_str_eq(act_back.comment, "stewards on the way");
    cr_assert_eq(act_back.alert_id, 7);
    cr_assert_eq(vg_archive_reader_read(rd, VG_ARCHIVE_REC_INCIDENT, 0, 1, &inc_back), 0);
    cr_assert_str_eq(inc_back.id, "inc-1");
    cr_assert_eq(inc_back.t_end_ns, T0 + 60 * S);
    cr_assert_eq(vg_archive_reader_read(rd, VG_ARCHIVE_REC_REJECT, 0, 1, &rj), 0);
    cr_assert_eq(rj.reason, VG_REJECT_OUT_OF_RANGE);
    cr_assert_eq(rj.stage, VG_ARCHIVE_STAGE_PUSH);
    cr_assert_float_eq(rj.value, 20000, 0);
    /* ranges past the end */
    cr_assert_eq(vg_archive_reader_read(rd, VG_ARCHIVE_REC_ALERT, 1, 1, &ev_back), -EINVAL);
    cr_assert_eq(vg_archive_reader_read(rd, VG_ARCHIVE_REC_MODEL, 0, 1, &ev_back), -EINVAL);

    cr_assert_eq(vg_archive_reader_model_text(rd, 0, &text, &len), 0);
    cr_assert_eq(len, strlen(archive_fixture_model));
    cr_assert_str_eq(text, archive_fixture_model);
    free(text);
    cr_assert_eq(vg_archive_reader_model_text(rd, 1, &text, &len), -ENOENT);
    vg_archive_reader_free(&rd);
    cr_assert_null(rd);
}

Test(archive, reader_refuses_what_is_not_an_archive)
{
    vg_archive_reader *rd = NULL;
    char p[256];
    FILE *f;

    snprintf(p, sizeof(p), "%s/missing.h5", dir);
    cr_assert_eq(vg_archive_reader_open(p, &rd), -ENOENT);
    cr_assert_eq(vg_archive_reader_open(model_path, &rd), -EPROTO); /* a text file */
    cr_assert_eq(vg_archive_reader_open(NULL, &rd), -EINVAL);
    snprintf(p, sizeof(p), "%s/empty.h5", dir);
    f = fopen(p, "w");
    fclose(f);
    cr_assert_eq(vg_archive_reader_open(p, &rd), -EPROTO);
    cr_assert_null(rd);
}

/* The thread: 20,000 readings and 20 ticks through a 256-slot ring (so the producer
 * waits for room and multi-slot alerts hit the wrap point), all archived in order. */
Test(archive, thread_archives_everything_pushed_in_order)
{
    vg_archive_cfg c;
    vg_archive *a;
    vg_ring *ring;
    vg_archive_stats st;
    vg_archive_reader *rd;
    vg_archive_input in;
    char names[4][512];
    uint32_t next_tag = 0, ticks = 0;
    int rc;

    vg_archive_cfg_default(&c);
    c.chunk_records = 1024;
    a = new_archive(&c);
    cr_assert_eq(vg_ring_new(VG_ARCHIVE_SLOT_SIZE, 256, &ring), 0);
    cr_assert_eq(vg_archive_start(a, ring), 0);
    cr_assert_eq(vg_archive_start(a, ring), -EALREADY);
    cr_assert_eq(vg_archive_write(a, NULL, 0), -EINVAL); /* not while the thread runs */
    for (uint32_t i = 0; i < 20000; i++) {
        vg_reading r = sensor_reading(T0 + (int64_t)i * 1000000, i, i);

        while ((rc = vg_archive_push_reading(ring, &r, 0)) == -EAGAIN)
            vg_ring_wait_writable(ring, 1, -1);
        cr_assert_eq(rc, 0);
        if (i % 1000 == 999) {
            vg_alert_event ev = sample_alert(i, i);

            while ((rc = vg_archive_push_tick(ring, T0 + (int64_t)i * 1000000, 0)) == -EAGAIN)
                vg_ring_wait_writable(ring, 1, -1);
            while ((rc = vg_archive_push_alert(ring, &ev)) == -EAGAIN)
                vg_ring_wait_writable(ring, 7, -1);
            cr_assert_eq(rc, 0);
        }
    }
    cr_assert_eq(vg_archive_stop(a), 0);
    cr_assert_eq(vg_archive_get_stats(a, &st), 0);
    cr_assert_eq(st.written[VG_ARCHIVE_REC_READING], 20000);
    cr_assert_eq(st.written[VG_ARCHIVE_REC_TICK], 20);
    cr_assert_eq(st.written[VG_ARCHIVE_REC_ALERT], 20);
    cr_assert_eq(st.dropped, 0);
    cr_assert_eq(st.faults, 0);
    cr_assert_eq(st.files, 1);
    cr_assert_eq(st.faulted, 0);
    vg_archive_free(&a);
    vg_ring_free(&ring);

    cr_assert_eq(list_archives(dir, names, 4), 1);
    cr_assert_str_eq(names[0], st.path);
    cr_assert_eq(vg_archive_reader_open(names[0], &rd), 0);
    while (vg_archive_reader_next(rd, &in) == 1) {
        if (in.type == VG_ARCHIVE_REC_READING) {
            cr_assert_eq(in.reading.tag, next_tag);
            cr_assert_float_eq(in.reading.value, next_tag, 0);
            next_tag++;
        } else {
            ticks++;
            /* each tick follows reading 999, 1999, ... */
            cr_assert_eq(next_tag % 1000, 0);
            cr_assert_eq(in.t_ns, T0 + (int64_t)(next_tag - 1) * 1000000);
        }
    }
    cr_assert_eq(next_tag, 20000);
    cr_assert_eq(ticks, 20);
    {
        vg_alert_event evs[20];

        cr_assert_eq(vg_archive_reader_read(rd, VG_ARCHIVE_REC_ALERT, 0, 20, evs), 0);
        for (int i = 0; i < 20; i++)
            cr_assert_eq(evs[i].id, (uint64_t)(i * 1000 + 999));
    }
    vg_archive_reader_free(&rd);
}

/* rotate_ns = 60 s: ticks at T0+0..150 s every 10 s; T0 is a multiple of 60 s (UTC offset
 * 0), so files start at the ticks T0 (first), T0+60 and T0+120: three files of 6, 6, 4
 * ticks; each file's readings are the ones pushed before its next tick. */
Test(archive, rotation_splits_files_at_tick_boundaries)
{
    vg_archive_cfg c;
    vg_archive *a;
    vg_ring *ring;
    char names[8][512];
    vg_archive_stats st;
    int counts[3] = {6, 6, 4};
    uint32_t tag = 0;

    vg_archive_cfg_default(&c);
    c.rotate_ns = 60 * S;
    a = new_archive(&c);
    cr_assert_eq(vg_ring_new(VG_ARCHIVE_SLOT_SIZE, 1024, &ring), 0);
    cr_assert_eq(vg_archive_start(a, ring), 0);
    for (int k = 0; k < 16; k++) {
        int64_t t = T0 + k * 10 * S;
        vg_reading r = sensor_reading(t - S, 400, tag++);

        cr_assert_eq(vg_archive_push_tick(ring, t, 0), 0);
        cr_assert_eq(vg_archive_push_reading(ring, &r, 0), 0);
        while (vg_ring_depth(ring) > 512)
            vg_ring_wait_writable(ring, 512, -1);
    }
    cr_assert_eq(vg_archive_stop(a), 0);
    vg_archive_get_stats(a, &st);
    cr_assert_eq(st.files, 3);
    vg_archive_free(&a);
    vg_ring_free(&ring);

    cr_assert_eq(list_archives(dir, names, 8), 3);
    tag = 0;
    for (int f = 0; f < 3; f++) {
        vg_archive_reader *rd;
        vg_archive_info info;
        vg_archive_input in;

        cr_assert_eq(vg_archive_reader_open(names[f], &rd), 0);
        vg_archive_reader_info(rd, &info);
        cr_assert_eq(info.file_index, (uint32_t)f);
        cr_assert_eq(info.count[VG_ARCHIVE_REC_TICK], (uint64_t)counts[f], "file %d", f);
        cr_assert_eq(info.first_tick_ns, T0 + f * 60 * S);
        /* the model travels with every file */
        cr_assert_eq(info.count[VG_ARCHIVE_REC_MODEL], 1);
        cr_assert_eq(vg_archive_reader_next(rd, &in), 1);
        cr_assert_eq(in.type, VG_ARCHIVE_REC_TICK);
        while (vg_archive_reader_next(rd, &in) == 1)
            if (in.type == VG_ARCHIVE_REC_READING)
                cr_assert_eq(in.reading.tag, tag++);
        vg_archive_reader_free(&rd);
    }
    cr_assert_eq(tag, 16);
}

/* A second ring of vg_archive_record (the alert thread's operator actions) and a ring of
 * ingest refusals feed the same file. */
Test(archive, attached_rings_are_archived)
{
    vg_archive *a = new_archive(NULL);
    vg_ring *main_ring, *actions, *rejects, *wrong;
    vg_archive_action act;
    vg_archive_stats st;
    vg_archive_reader *rd;
    vg_archive_reject rj;
    vg_archive_action back;

    vg_ring *audit;
    vg_alert_audit au;
    vg_archive_action back2;

    cr_assert_eq(vg_ring_new(sizeof(vg_alert_audit), 64, &audit), 0);
    cr_assert_eq(vg_archive_attach(a, audit, VG_ARCHIVE_IN_ALERT_AUDIT), 0);
    memset(&au, 0, sizeof(au));
    au.t_ns = T0 + 3 * S;
    au.wall_ns = T0 + 4 * S;
    au.alert_id = 12;
    au.zone = 1;
    au.op = VG_ALERT_OP_ACK;
    au.kind = VG_ALERT_DENSITY;
    au.grade = VG_GRADE_CRITICAL;
    au.state = VG_ALERT_STATE_ACKED;
    snprintf(au.operator_id, sizeof(au.operator_id), "op-carla");
    snprintf(au.comment, sizeof(au.comment), "gate 3 closed");
    cr_assert_eq(vg_ring_push(audit, &au), 0);
    cr_assert_eq(vg_ring_new(VG_ARCHIVE_SLOT_SIZE, 64, &main_ring), 0);
    cr_assert_eq(vg_ring_new(VG_ARCHIVE_SLOT_SIZE, 64, &actions), 0);
    cr_assert_eq(vg_ring_new(16, 64, &wrong), 0);
    cr_assert_eq(vg_archive_attach(a, wrong, VG_ARCHIVE_IN_RECORDS), -EINVAL);
    cr_assert_eq(vg_archive_attach(a, wrong, VG_ARCHIVE_IN_INGEST_REJECTS), -EINVAL);
    cr_assert_eq(vg_archive_attach(a, actions, VG_ARCHIVE_IN_RECORDS), 0);
    {
        vg_ingest_reject ir;

        cr_assert_eq(vg_ring_new(sizeof(ir), 64, &rejects), 0);
        cr_assert_eq(vg_archive_attach(a, rejects, VG_ARCHIVE_IN_INGEST_REJECTS), 0);
        memset(&ir, 0, sizeof(ir));
        ir.wall_ns = T0;
        ir.reason = VG_REJECT_MALFORMED;
        ir.count = 1;
        ir.payload_len = 5;
        ir.topic_len = 16;
        ir.excerpt_len = 5;
        memcpy(ir.topic, "vigil/t/sensor/x", 16);
        memcpy(ir.payload, "{\"v\":", 5);
        cr_assert_eq(vg_ring_push(rejects, &ir), 0);
    }
    cr_assert_eq(vg_archive_start(a, main_ring), 0);
    cr_assert_eq(vg_archive_attach(a, actions, VG_ARCHIVE_IN_RECORDS), -EINVAL); /* started */
    memset(&act, 0, sizeof(act));
    act.t_ns = T0;
    snprintf(act.action, sizeof(act.action), "shelve");
    snprintf(act.operator_id, sizeof(act.operator_id), "op-ben");
    cr_assert_eq(vg_archive_push_action(actions, &act), 0);
    cr_assert_eq(vg_archive_stop(a), 0);
    vg_archive_get_stats(a, &st);
    cr_assert_eq(st.written[VG_ARCHIVE_REC_ACTION], 2);
    cr_assert_eq(st.written[VG_ARCHIVE_REC_REJECT], 1);
    vg_archive_free(&a);

    cr_assert_eq(vg_archive_reader_open(st.path, &rd), 0);
    cr_assert_eq(vg_archive_reader_read(rd, VG_ARCHIVE_REC_REJECT, 0, 1, &rj), 0);
    cr_assert_eq(rj.stage, VG_ARCHIVE_STAGE_INGEST);
    cr_assert_eq(rj.reason, VG_REJECT_MALFORMED);
    cr_assert_eq(rj.topic_len, 16);
    cr_assert_eq(memcmp(rj.topic, "vigil/t/sensor/x", 16), 0);
    cr_assert_eq(memcmp(rj.payload, "{\"v\":", 5), 0);
    /* one ring is not ordered against another: find each action by its operator */
    cr_assert_eq(vg_archive_reader_read(rd, VG_ARCHIVE_REC_ACTION, 0, 1, &back), 0);
    cr_assert_eq(vg_archive_reader_read(rd, VG_ARCHIVE_REC_ACTION, 1, 1, &back2), 0);
    if (strcmp(back.operator_id, "op-ben") != 0) {
        vg_archive_action tmp = back;

        back = back2;
        back2 = tmp;
    }
    cr_assert_str_eq(back.operator_id, "op-ben");
    cr_assert_str_eq(back.action, "shelve");
    cr_assert_str_eq(back2.operator_id, "op-carla");
    cr_assert_str_eq(back2.action, "ack");
    cr_assert_str_eq(back2.state_name, vg_alert_state_name(VG_ALERT_STATE_ACKED));
    cr_assert_str_eq(back2.comment, "gate 3 closed");
    cr_assert_eq(back2.alert_id, 12);
    cr_assert_eq(back2.grade, VG_GRADE_CRITICAL);
    cr_assert_eq(back2.wall_ns, T0 + 4 * S);
    vg_archive_reader_free(&rd);
    vg_ring_free(&main_ring);
    vg_ring_free(&actions);
    vg_ring_free(&rejects);
    vg_ring_free(&wrong);
    vg_ring_free(&audit);
}

Test(archive, incidents_can_be_added_to_a_closed_file)
{
    vg_archive *a = new_archive(NULL);
    vg_archive_stats st;
    vg_archive_incident inc[2], back[2];
    vg_archive_reader *rd;
    vg_archive_info info;

    cr_assert_eq(vg_archive_stop(a), 0);
    vg_archive_get_stats(a, &st);
    vg_archive_free(&a);
    memset(inc, 0, sizeof(inc));
    for (int i = 0; i < 2; i++) {
        inc[i].t_start_ns = T0 + i * 100 * S;
        inc[i].t_end_ns = inc[i].t_start_ns + 50 * S;
        inc[i].t_critical_ns = inc[i].t_start_ns + 30 * S;
        inc[i].zone = (uint32_t)i;
        inc[i].kind = 0xff;
        inc[i].origin = VG_ARCHIVE_ORIGIN_SIMULATOR;
        snprintf(inc[i].id, sizeof(inc[i].id), "sim-%d", i);
        snprintf(inc[i].type, sizeof(inc[i].type), "crush_buildup");
    }
    cr_assert_eq(vg_archive_add_incidents(st.path, inc, 2), 0);
    cr_assert_eq(vg_archive_add_incidents(model_path, inc, 2), -EPROTO);
    cr_assert_eq(vg_archive_add_incidents(NULL, inc, 2), -EINVAL);
    cr_assert_eq(vg_archive_reader_open(st.path, &rd), 0);
    vg_archive_reader_info(rd, &info);
    cr_assert_eq(info.count[VG_ARCHIVE_REC_INCIDENT], 2);
    cr_assert_eq(vg_archive_reader_read(rd, VG_ARCHIVE_REC_INCIDENT, 0, 2, back), 0);
    cr_assert_str_eq(back[1].id, "sim-1");
    cr_assert_eq(back[1].t_critical_ns, T0 + 130 * S);
    cr_assert_eq(back[1].origin, VG_ARCHIVE_ORIGIN_SIMULATOR);
    vg_archive_reader_free(&rd);
}

/* The archived model loads again and is the same model (same digest). */
Test(archive, archived_model_loads_again)
{
    vg_archive *a = new_archive(NULL);
    vg_archive_stats st;
    vg_archive_reader *rd;
    vg_model *m2 = NULL;
    vg_model_error err;

    vg_archive_stop(a);
    vg_archive_get_stats(a, &st);
    vg_archive_free(&a);
    cr_assert_eq(vg_archive_reader_open(st.path, &rd), 0);
    cr_assert_eq(vg_archive_reader_load_model(rd, &m2, &err), 0, "%s", err.message);
    cr_assert_eq(vg_model_digest(m2), vg_model_digest(model));
    cr_assert_eq(vg_model_zone_count(m2), 2);
    vg_model_free(&m2);
    vg_archive_reader_free(&rd);
}

Test(archive, alert_json_is_exact)
{
    vg_alert_event ev = sample_alert(7, 3);
    char buf[1024];
    int n = vg_archive_alert_json(model, &ev, buf, sizeof(buf));
    const char *want =
        "{\"v\":1,\"seq\":3,\"id\":7,\"action\":\"raise\",\"feed\":\"security\","
        "\"kind\":\"density\",\"zone\":\"conc\",\"source_type\":\"zone\",\"source\":\"conc\","
        "\"grade\":\"warning\",\"prev_grade\":\"clear\",\"ts\":1779456005.250000000,"
        "\"raised\":1779456005.000000000,\"value\":3.25,\"threshold\":3,"
        "\"trend_per_min\":null,\"ttc_s\":-1,\"flags\":[\"chattering\"],"
        "\"message\":\"conc: density 3.25 p/m2 \\\"warning\\\"\"}";

    cr_assert_str_eq(buf, want);
    cr_assert_eq(n, (int)strlen(want));
    /* too small: the length it needs, output cut */
    cr_assert_eq(vg_archive_alert_json(model, &ev, buf, 10), (int)strlen(want));
    cr_assert_eq(strlen(buf), 9);
    cr_assert_eq(vg_archive_alert_json(model, NULL, buf, 10), -EINVAL);
}

/* SWMR: another process (vigil replay: HDF5 refuses a second open of the same file in one
 * process) opens the file while the thread still writes it and sees every reading that a
 * flush has covered. */
Test(archive, file_opens_while_it_is_written)
{
    vg_archive_cfg c;
    vg_archive *a;
    vg_ring *ring;
    vg_archive_stats st;
    uint64_t flushes;
    int64_t deadline;
    char cmd[1024], out[1024] = "";
    const char *vigil = getenv("VG_VIGIL");
    FILE *p;

    cr_assert_not_null(vigil, "VG_VIGIL is set by meson");
    vg_archive_cfg_default(&c);
    c.flush_interval_ns = 50 * VG_NS_PER_MS;
    a = new_archive(&c);
    cr_assert_eq(vg_ring_new(VG_ARCHIVE_SLOT_SIZE, 4096, &ring), 0);
    cr_assert_eq(vg_archive_start(a, ring), 0);
    for (uint32_t i = 0; i < 3000; i++) {
        vg_reading r = sensor_reading(T0 + i, 400, i);

        cr_assert_eq(vg_archive_push_reading(ring, &r, 0), 0);
    }
    cr_assert_eq(vg_archive_push_tick(ring, T0 + S, 0), 0);
    /* consumed, then one more flush */
    deadline = vg_mono_ns() + 10 * S;
    do {
        vg_archive_get_stats(a, &st);
    } while (st.written[VG_ARCHIVE_REC_TICK] < 1 && vg_mono_ns() < deadline && !usleep(1000));
    flushes = st.flushes;
    do {
        vg_archive_get_stats(a, &st);
    } while (st.flushes <= flushes && vg_mono_ns() < deadline && !usleep(1000));
    cr_assert_gt(st.flushes, flushes);

    snprintf(cmd, sizeof(cmd), "%s replay --quiet %s 2>&1", vigil, st.path);
    p = popen(cmd, "r");
    cr_assert_not_null(p);
    while (fgets(out + strlen(out), (int)(sizeof(out) - strlen(out)), p))
        ;
    cr_assert_eq(pclose(p), 0, "%s", out);
    cr_assert_not_null(strstr(out, "1 file(s), 3000 readings, 1 ticks"), "%s", out);

    cr_assert_eq(vg_archive_stop(a), 0);
    vg_archive_free(&a);
    vg_ring_free(&ring);
}

/* One archive file in dir: alerts with the given ids, the analysis starting at first_id. */
static void archive_with_alerts(uint64_t first_id, const uint64_t *ids, size_t n)
{
    vg_archive_cfg cfg;
    vg_analysis_cfg acfg;
    vg_archive_record slots[8];

    vg_archive_cfg_default(&cfg);
    vg_analysis_cfg_default(&acfg);
    acfg.first_alert_id = first_id;
    cfg.analysis = &acfg;
    vg_archive *a = new_archive(&cfg);
    for (size_t i = 0; i < n; i++) {
        vg_alert_event ev = sample_alert(ids[i], i + 1);
        size_t k = slots_of(slots, push_alert_v, &ev);
        cr_assert_eq(vg_archive_write(a, slots, k), 0);
    }
    cr_assert_eq(vg_archive_stop(a), 0);
    vg_archive_free(&a);
}

Test(archive, next_alert_id_continues_after_the_newest_archive)
{
    uint64_t id = 0;
    char path[512];

    cr_assert_eq(vg_archive_next_alert_id(NULL, NULL, &id), -EINVAL);
    cr_assert_eq(vg_archive_next_alert_id(dir, NULL, NULL), -EINVAL);
    snprintf(path, sizeof(path), "%s/missing", dir);
    cr_assert_eq(vg_archive_next_alert_id(path, NULL, &id), -ENOENT);
    cr_assert_eq(vg_archive_next_alert_id(dir, NULL, &id), 0);
    cr_assert_eq(id, 1, "no archive yet: ids start at 1");

    /* A run raised alerts 3 and 7 (raises of older alerts come later: the largest wins). */
    archive_with_alerts(1, (const uint64_t[]){7, 3}, 2);
    cr_assert_eq(vg_archive_next_alert_id(dir, NULL, &id), 0);
    cr_assert_eq(id, 8);
    /* The next run started at 8 and raised nothing: still 8. */
    archive_with_alerts(8, NULL, 0);
    cr_assert_eq(vg_archive_next_alert_id(dir, NULL, &id), 0);
    cr_assert_eq(id, 8);
    /* Something that is not an archive, under the archive name, is skipped. */
    snprintf(path, sizeof(path), "%s/vigil-20990101T000000Z-0.h5", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("not hdf5", f);
    fclose(f);
    archive_with_alerts(8, (const uint64_t[]){8, 9, 10}, 3);
    cr_assert_eq(vg_archive_next_alert_id(dir, NULL, &id), 0);
    cr_assert_eq(id, 11);
    /* Another prefix is another series. */
    cr_assert_eq(vg_archive_next_alert_id(dir, "other", &id), 0);
    cr_assert_eq(id, 1);
}
