/* The archive's HDF5 types: one compound type per dataset, built from the row structs with
 * HOFFSET so memory and file layouts are the same (no conversion on write). Small enums
 * (reading type, reject reason, grade, kind, feed, action) are HDF5 enum types, so h5dump
 * and h5py show their names. */
#include "layout.h"

#include <errno.h>
#include <string.h>

const vg__ds_desc vg__ds[VG__DS_COUNT] = {
    [VG__DS_READINGS] = {"readings", sizeof(vg__row_reading), 0},
    [VG__DS_TICKS] = {"ticks", sizeof(vg__row_tick), 1024},
    [VG__DS_METRICS] = {"metrics", sizeof(vg_zone_metrics), 0},
    [VG__DS_ALERTS] = {"alerts", sizeof(vg__row_alert), 256},
    [VG__DS_REJECTS] = {"rejects", sizeof(vg_archive_reject), 256},
    [VG__DS_ACTIONS] = {"actions", sizeof(vg_archive_action), 64},
    [VG__DS_INCIDENTS] = {"incidents", sizeof(vg_archive_incident), 64},
    [VG__DS_MODELS] = {"models", sizeof(vg__row_model), 16},
    [VG__DS_MODEL_TEXT] = {"model_text", 1, 65536},
};

int vg__archive_ds_of(enum vg_archive_rec type)
{
    switch (type) {
    case VG_ARCHIVE_REC_READING: return VG__DS_READINGS;
    case VG_ARCHIVE_REC_TICK: return VG__DS_TICKS;
    case VG_ARCHIVE_REC_METRICS: return VG__DS_METRICS;
    case VG_ARCHIVE_REC_ALERT: return VG__DS_ALERTS;
    case VG_ARCHIVE_REC_REJECT: return VG__DS_REJECTS;
    case VG_ARCHIVE_REC_ACTION: return VG__DS_ACTIONS;
    case VG_ARCHIVE_REC_INCIDENT: return VG__DS_INCIDENTS;
    case VG_ARCHIVE_REC_MODEL: return VG__DS_MODELS;
    default: return -1;
    }
}

int vg__archive_errno(void)
{
    switch (errno) {
    case ENOSPC: case EFBIG: case EDQUOT: case ENOENT: case EACCES: case EROFS:
    case ENOTDIR: case EPERM: case EEXIST: case EMFILE: case ENFILE: case ENOMEM:
        return -errno;
    default:
        return -EIO;
    }
}

static hid_t str_type(size_t n)
{
    hid_t t = H5Tcopy(H5T_C_S1);

    if (t < 0)
        return t;
    if (H5Tset_size(t, n) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

/* An enum over uint8 with names[0..n-1]; a name already used (e.g. "unknown") is skipped. */
static hid_t enum_type(const char *(*name)(int), int first, int n)
{
    hid_t t = H5Tenum_create(H5T_NATIVE_UINT8);

    if (t < 0)
        return t;
    for (int i = first; i < n; i++) {
        uint8_t v = (uint8_t)i;
        const char *s = name(i);
        uint8_t old;

        if (!s || H5Tenum_valueof(t, s, &old) >= 0)
            continue;
        if (H5Tenum_insert(t, s, &v) < 0) {
            H5Tclose(t);
            return -1;
        }
    }
    return t;
}

static const char *n_reading_type(int v) { return vg_reading_type_name((enum vg_reading_type)v); }
static const char *n_reject(int v) { return vg_reject_name((enum vg_reject)v); }
static const char *n_grade(int v) { return vg_grade_name((enum vg_grade)v); }
static const char *n_kind(int v) { return vg_alert_kind_name((enum vg_alert_kind)v); }
static const char *n_feed(int v) { return vg_feed_name((enum vg_feed)v); }
static const char *n_action(int v) { return vg_alert_action_name((enum vg_alert_action)v); }
static const char *n_source_type(int v) { return vg_source_type_name((enum vg_source_type)v); }
static const char *n_stage(int v)
{
    static const char *const s[] = {"ingest", "push", "tick"};
    return v >= 0 && v < 3 ? s[v] : NULL;
}
static const char *n_origin(int v)
{
    static const char *const s[] = {"operator", "simulator"};
    return v >= 0 && v < 2 ? s[v] : NULL;
}

/* Collects the temporary member types so one cleanup closes them. */
struct tb {
    hid_t t;
    hid_t tmp[16];
    int ntmp;
    int bad;
};

static hid_t keep(struct tb *b, hid_t t)
{
    if (t < 0 || b->ntmp == 16) {
        b->bad = 1;
        if (t >= 0)
            H5Tclose(t);
        return H5T_NATIVE_UINT8; /* placeholder; the build fails anyway */
    }
    b->tmp[b->ntmp++] = t;
    return t;
}

static void add(struct tb *b, const char *name, size_t off, hid_t type)
{
    if (H5Tinsert(b->t, name, off, type) < 0)
        b->bad = 1;
}

static hid_t finish(struct tb *b)
{
    for (int i = 0; i < b->ntmp; i++)
        H5Tclose(b->tmp[i]);
    if (b->bad) {
        H5Tclose(b->t);
        return -1;
    }
    return b->t;
}

#define F(b, st, field, type) add(b, #field, HOFFSET(st, field), type)

static void reading_fields(struct tb *b, size_t base)
{
    hid_t rt = keep(b, enum_type(n_reading_type, 0, VG_READING_TYPE_END));

    add(b, "t_ns", base + offsetof(vg_reading, t_ns), H5T_NATIVE_INT64);
    add(b, "value", base + offsetof(vg_reading, value), H5T_NATIVE_DOUBLE);
    add(b, "value2", base + offsetof(vg_reading, value2), H5T_NATIVE_DOUBLE);
    add(b, "source", base + offsetof(vg_reading, source), H5T_NATIVE_UINT32);
    add(b, "zone", base + offsetof(vg_reading, zone), H5T_NATIVE_UINT32);
    add(b, "type", base + offsetof(vg_reading, type), rt);
    add(b, "sub", base + offsetof(vg_reading, sub), H5T_NATIVE_UINT8);
    add(b, "tag", base + offsetof(vg_reading, tag), H5T_NATIVE_UINT32);
}

static void model_fields(struct tb *b, int positions)
{
    F(b, vg__row_model, t_ns, H5T_NATIVE_INT64);
    F(b, vg__row_model, digest, H5T_NATIVE_UINT64);
    F(b, vg__row_model, offset, H5T_NATIVE_UINT64);
    F(b, vg__row_model, length, H5T_NATIVE_UINT64);
    F(b, vg__row_model, version, keep(b, str_type(64)));
    F(b, vg__row_model, path, keep(b, str_type(192)));
    if (positions) {
        F(b, vg__row_model, reading_index, H5T_NATIVE_UINT64);
        F(b, vg__row_model, tick_index, H5T_NATIVE_UINT64);
    }
}

hid_t vg__archive_models_type(int positions)
{
    struct tb b = {0};

    b.t = H5Tcreate(H5T_COMPOUND, sizeof(vg__row_model));
    if (b.t < 0)
        return -1;
    model_fields(&b, positions);
    return finish(&b);
}

hid_t vg__archive_type(enum vg__ds d)
{
    struct tb b = {0};

    if (d == VG__DS_MODEL_TEXT)
        return H5Tcopy(H5T_NATIVE_UINT8);
    b.t = H5Tcreate(H5T_COMPOUND, vg__ds[d].row_size);
    if (b.t < 0)
        return -1;
    switch (d) {
    case VG__DS_READINGS:
        reading_fields(&b, offsetof(vg__row_reading, r));
        add(&b, "reject", offsetof(vg__row_reading, r) + VG__REJECT_OFFSET,
            keep(&b, enum_type(n_reject, 0, VG_REJECT_COUNT)));
        break;
    case VG__DS_TICKS:
        F(&b, vg__row_tick, t_ns, H5T_NATIVE_INT64);
        F(&b, vg__row_tick, reading_index, H5T_NATIVE_UINT64);
        F(&b, vg__row_tick, lost, H5T_NATIVE_UINT64);
        break;
    case VG__DS_METRICS: {
        hid_t grade = keep(&b, enum_type(n_grade, 0, VG_GRADE_COUNT));
        hid_t los = keep(&b, str_type(1));

        F(&b, vg_zone_metrics, t_ns, H5T_NATIVE_INT64);
        F(&b, vg_zone_metrics, zone, H5T_NATIVE_UINT32);
        F(&b, vg_zone_metrics, flags, H5T_NATIVE_UINT32);
        F(&b, vg_zone_metrics, density_per_m2, H5T_NATIVE_DOUBLE);
        F(&b, vg_zone_metrics, population, H5T_NATIVE_DOUBLE);
        F(&b, vg_zone_metrics, occupancy, H5T_NATIVE_DOUBLE);
        F(&b, vg_zone_metrics, flow_pmm, H5T_NATIVE_DOUBLE);
        F(&b, vg_zone_metrics, trend_per_min, H5T_NATIVE_DOUBLE);
        F(&b, vg_zone_metrics, ttc_s, H5T_NATIVE_DOUBLE);
        F(&b, vg_zone_metrics, pressure_per_s2, H5T_NATIVE_DOUBLE);
        F(&b, vg_zone_metrics, speed_var_m2_s2, H5T_NATIVE_DOUBLE);
        F(&b, vg_zone_metrics, cameras_fresh, H5T_NATIVE_UINT16);
        F(&b, vg_zone_metrics, cameras_total, H5T_NATIVE_UINT16);
        F(&b, vg_zone_metrics, los, los);
        F(&b, vg_zone_metrics, grade, grade);
        break;
    }
    case VG__DS_ALERTS: {
        hid_t grade = keep(&b, enum_type(n_grade, 0, VG_GRADE_COUNT));
        hid_t kind = keep(&b, enum_type(n_kind, 0, VG_ALERT_KIND_COUNT));
        hid_t feed = keep(&b, enum_type(n_feed, 0, VG_FEED_COUNT));
        hid_t action = keep(&b, enum_type(n_action, 0, VG_ALERT_ACTION_COUNT));
        hid_t st = keep(&b, enum_type(n_source_type, 0, VG_SOURCE_TYPE_COUNT));
        hid_t ev = keep(&b, H5Tcreate(H5T_COMPOUND, sizeof(vg_evidence)));
        hid_t rt = keep(&b, enum_type(n_reading_type, 0, VG_READING_TYPE_END));
        hsize_t dims = VG_EVIDENCE_MAX;
        hid_t eva, msg = keep(&b, str_type(VG_ALERT_MESSAGE_MAX));

        if (!b.bad) {
            if (H5Tinsert(ev, "t_ns", HOFFSET(vg_evidence, t_ns), H5T_NATIVE_INT64) < 0 ||
                H5Tinsert(ev, "value", HOFFSET(vg_evidence, value), H5T_NATIVE_DOUBLE) < 0 ||
                H5Tinsert(ev, "source", HOFFSET(vg_evidence, source), H5T_NATIVE_UINT32) < 0 ||
                H5Tinsert(ev, "source_type", HOFFSET(vg_evidence, source_type), st) < 0 ||
                H5Tinsert(ev, "reading_type", HOFFSET(vg_evidence, reading_type), rt) < 0)
                b.bad = 1;
        }
        eva = keep(&b, b.bad ? -1 : H5Tarray_create2(ev, 1, &dims));
        add(&b, "id", HOFFSET(vg__row_alert, ev.id), H5T_NATIVE_UINT64);
        add(&b, "seq", HOFFSET(vg__row_alert, ev.seq), H5T_NATIVE_UINT64);
        add(&b, "t_ns", HOFFSET(vg__row_alert, ev.t_ns), H5T_NATIVE_INT64);
        add(&b, "raised_ns", HOFFSET(vg__row_alert, ev.raised_ns), H5T_NATIVE_INT64);
        add(&b, "value", HOFFSET(vg__row_alert, ev.value), H5T_NATIVE_DOUBLE);
        add(&b, "threshold", HOFFSET(vg__row_alert, ev.threshold), H5T_NATIVE_DOUBLE);
        add(&b, "trend_per_min", HOFFSET(vg__row_alert, ev.trend_per_min), H5T_NATIVE_DOUBLE);
        add(&b, "ttc_s", HOFFSET(vg__row_alert, ev.ttc_s), H5T_NATIVE_DOUBLE);
        add(&b, "zone", HOFFSET(vg__row_alert, ev.zone), H5T_NATIVE_UINT32);
        add(&b, "source", HOFFSET(vg__row_alert, ev.source), H5T_NATIVE_UINT32);
        add(&b, "flags", HOFFSET(vg__row_alert, ev.flags), H5T_NATIVE_UINT32);
        add(&b, "action", HOFFSET(vg__row_alert, ev.action), action);
        add(&b, "kind", HOFFSET(vg__row_alert, ev.kind), kind);
        add(&b, "feed", HOFFSET(vg__row_alert, ev.feed), feed);
        add(&b, "grade", HOFFSET(vg__row_alert, ev.grade), grade);
        add(&b, "prev_grade", HOFFSET(vg__row_alert, ev.prev_grade), grade);
        add(&b, "source_type", HOFFSET(vg__row_alert, ev.source_type), st);
        add(&b, "evidence_count", HOFFSET(vg__row_alert, ev.evidence_count), H5T_NATIVE_UINT8);
        add(&b, "evidence", HOFFSET(vg__row_alert, ev.evidence), eva);
        add(&b, "message", HOFFSET(vg__row_alert, ev.message), msg);
        F(&b, vg__row_alert, reading_index, H5T_NATIVE_UINT64);
        break;
    }
    case VG__DS_REJECTS: {
        hsize_t pl = VG_ARCHIVE_PAYLOAD_MAX;
        hid_t pa = keep(&b, H5Tarray_create2(H5T_NATIVE_UINT8, 1, &pl));

        F(&b, vg_archive_reject, wall_ns, H5T_NATIVE_INT64);
        F(&b, vg_archive_reject, t_ns, H5T_NATIVE_INT64);
        F(&b, vg_archive_reject, reason, keep(&b, enum_type(n_reject, 0, VG_REJECT_COUNT)));
        F(&b, vg_archive_reject, count, H5T_NATIVE_UINT32);
        F(&b, vg_archive_reject, payload_len, H5T_NATIVE_UINT32);
        F(&b, vg_archive_reject, stage, keep(&b, enum_type(n_stage, 0, 3)));
        F(&b, vg_archive_reject, reading_type,
          keep(&b, enum_type(n_reading_type, 0, VG_READING_TYPE_END)));
        F(&b, vg_archive_reject, topic_len, H5T_NATIVE_UINT16);
        F(&b, vg_archive_reject, excerpt_len, H5T_NATIVE_UINT16);
        F(&b, vg_archive_reject, source, H5T_NATIVE_UINT32);
        F(&b, vg_archive_reject, zone, H5T_NATIVE_UINT32);
        F(&b, vg_archive_reject, value, H5T_NATIVE_DOUBLE);
        F(&b, vg_archive_reject, topic, keep(&b, str_type(VG_ARCHIVE_TOPIC_MAX)));
        F(&b, vg_archive_reject, payload, pa);
        break;
    }
    case VG__DS_ACTIONS:
        F(&b, vg_archive_action, t_ns, H5T_NATIVE_INT64);
        F(&b, vg_archive_action, wall_ns, H5T_NATIVE_INT64);
        F(&b, vg_archive_action, until_ns, H5T_NATIVE_INT64);
        F(&b, vg_archive_action, alert_id, H5T_NATIVE_UINT64);
        F(&b, vg_archive_action, zone, H5T_NATIVE_UINT32);
        F(&b, vg_archive_action, kind, keep(&b, enum_type(n_kind, 0, VG_ALERT_KIND_COUNT)));
        F(&b, vg_archive_action, grade, keep(&b, enum_type(n_grade, 0, VG_GRADE_COUNT)));
        F(&b, vg_archive_action, state, H5T_NATIVE_UINT8);
        F(&b, vg_archive_action, action, keep(&b, str_type(24)));
        F(&b, vg_archive_action, state_name, keep(&b, str_type(24)));
        F(&b, vg_archive_action, operator_id, keep(&b, str_type(48)));
        F(&b, vg_archive_action, comment, keep(&b, str_type(160)));
        break;
    case VG__DS_INCIDENTS:
        F(&b, vg_archive_incident, t_start_ns, H5T_NATIVE_INT64);
        F(&b, vg_archive_incident, t_end_ns, H5T_NATIVE_INT64);
        F(&b, vg_archive_incident, t_critical_ns, H5T_NATIVE_INT64);
        F(&b, vg_archive_incident, zone, H5T_NATIVE_UINT32);
        F(&b, vg_archive_incident, kind, H5T_NATIVE_UINT8);
        F(&b, vg_archive_incident, origin, keep(&b, enum_type(n_origin, 0, 2)));
        F(&b, vg_archive_incident, id, keep(&b, str_type(32)));
        F(&b, vg_archive_incident, type, keep(&b, str_type(32)));
        F(&b, vg_archive_incident, note, keep(&b, str_type(96)));
        break;
    case VG__DS_MODELS:
        model_fields(&b, 1);
        break;
    default:
        b.bad = 1;
        break;
    }
    return finish(&b);
}
