/* The archive writer: ring records in, HDF5 datasets out, on one thread that owns the file.
 *
 * DESIGN
 * - Records arrive as runs of 64-byte slots (archive.h). The consumer peeks contiguous
 *   slots; a record cut by the ring's wrap point (or published in two stores) is copied
 *   into a per-ring assembly buffer until its last slot arrives.
 * - Each dataset has a row buffer of one chunk. A full buffer is appended with one
 *   H5Dset_extent + H5Dwrite; every flush interval all buffers are written and the file is
 *   flushed (H5Fflush), which bounds what a crash can lose. The file is created with the
 *   latest format and switched to SWMR writing once every dataset exists, so readers can
 *   open it while it grows and a killed writer leaves a file that opens.
 * - Order inside a file: a tick row stores how many readings preceded it, an alert row
 *   likewise, so a reader can interleave readings and ticks exactly as the core saw them.
 * - Faults: the first failing HDF5 call abandons the file (buffers are dropped and
 *   counted). From then on records are consumed and counted as dropped, and a new file is
 *   tried every retry interval. The producer never waits for any of this.
 * - Rotation: when a tick crosses a multiple of rotate_ns (venue local time), the file is
 *   closed before the tick and a new one starts with it. */
#include "layout.h"

#include "vigil/common.h"
#include "vigil/alert.h"
#include "vigil/ingest.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(vg_archive_record) == VG_ARCHIVE_SLOT_SIZE, "one slot");
_Static_assert(sizeof(vg_reading) <= VG_ARCHIVE_SLOT_SIZE - 8, "reading fits a slot");
_Static_assert(8 + sizeof(vg_alert_event) <= VG_ARCHIVE_MAX_SLOTS * VG_ARCHIVE_SLOT_SIZE,
               "alert fits");
_Static_assert(8 + sizeof(vg_archive_reject) <= VG_ARCHIVE_MAX_SLOTS * VG_ARCHIVE_SLOT_SIZE,
               "reject fits");

/* A model's string ids by index, as /ids/<kind> holds them (zones, sensors, cameras, lines,
 * help points), so tools can name zone 3 without the model. */
struct model_ids {
    uint32_t n[5];
    char (*id[5])[VG_MODEL_ID_MAX + 1];
};

/* Payload of a MODEL record (one slot). */
struct model_msg {
    int64_t t_ns;
    uint64_t digest;
    char *text; /* malloc'd: the text, then NUL, the model's path, NUL, its version, NUL
                 * (too long for the slot); the archive thread frees it */
    size_t len;
    struct model_ids *ids; /* malloc'd; the archive thread frees it */
    int32_t utc_offset_s;
};
_Static_assert(8 + sizeof(struct model_msg) <= VG_ARCHIVE_SLOT_SIZE, "model msg fits");

#define ASM_BYTES (VG_ARCHIVE_MAX_SLOTS * VG_ARCHIVE_SLOT_SIZE)
#define PEEK_MAX 1024

struct input {
    vg_ring *ring;
    enum vg_archive_in_kind kind;
    _Alignas(8) unsigned char asm_buf[ASM_BYTES]; /* a record cut at the wrap point */
    size_t asm_have, asm_need;                    /* slots */
};

struct rowbuf {
    unsigned char *data;
    size_t n, cap; /* rows */
};

struct vg_archive {
    /* settings (immutable after new) */
    char *dir;
    char *prefix;
    vg_archive_cfg cfg;
    vg_analysis_cfg acfg;
    char venue[VG_MODEL_ID_MAX + 1];
    uint64_t session_id;

    /* the model in force, for the first row of each new file (archive thread) */
    int32_t utc_offset_s; /* its venue's UTC offset: files rotate at local midnight */
    char *model_text;
    size_t model_len;
    uint64_t model_digest;
    char model_version[64];
    char model_path[192];
    struct model_ids *ids; /* its ids, for /ids/<kind> of each new file */

    /* the file (archive thread, or the owner without a thread) */
    hid_t file;
    hid_t dset[VG__DS_COUNT];
    hid_t type[VG__DS_COUNT];
    hsize_t rows[VG__DS_COUNT]; /* rows in the file */
    struct rowbuf buf[VG__DS_COUNT];
    /* Records taken into the file since its last flush, by type: counted as written by the
     * flush that makes them durable, as dropped by a fault before it. */
    uint64_t pend[VG_ARCHIVE_REC_END];
    uint32_t file_index;
    int after_fault;
    uint64_t next_alert_id;
    int64_t next_rotate_ns; /* INT64_MAX: no boundary yet */
    int64_t next_flush_mono, next_retry_mono;

    struct input in[1 + VG_ARCHIVE_MAX_INPUTS];
    int n_in;

    pthread_t thread;
    int started;  /* owner only */
    atomic_int stop;

    pthread_mutex_t lock; /* protects shared_stats */
    vg_archive_stats shared_stats;
    vg_archive_stats st; /* the writer's working copy */
};

/* ---------------------------------------------------------------- producer helpers */

static int ring_ok(vg_ring *ring)
{
    return ring && vg_ring_record_size(ring) == VG_ARCHIVE_SLOT_SIZE;
}

/* Pushes one record of header + payload over as many slots as needed, all or nothing. */
static int push_rec(vg_ring *ring, uint8_t type, uint32_t aux, const void *payload, size_t len)
{
    vg_archive_record slots[VG_ARCHIVE_MAX_SLOTS];
    size_t ns = (8 + len + VG_ARCHIVE_SLOT_SIZE - 1) / VG_ARCHIVE_SLOT_SIZE;

    if (!ring_ok(ring) || !payload)
        return -EINVAL;
    /* Free room is exact from the producer's side: the consumer only ever adds to it. */
    if (vg_ring_capacity(ring) - vg_ring_depth(ring) < ns)
        return -EAGAIN;
    memset(slots, 0, ns * sizeof(slots[0]));
    slots[0].type = type;
    slots[0].nslots = (uint8_t)ns;
    slots[0].aux = aux;
    memcpy((unsigned char *)slots + 8, payload, len);
    return vg_ring_push_n(ring, slots, ns) == ns ? 0 : -EAGAIN;
}

int vg_archive_push_reading(vg_ring *ring, const vg_reading *r, int reject)
{
    vg_archive_record s;

    if (!ring_ok(ring) || !r)
        return -EINVAL;
    memset(&s, 0, sizeof(s));
    s.type = VG_ARCHIVE_REC_READING;
    s.nslots = 1;
    s.aux = reject > 0 ? (uint32_t)reject : 0;
    s.u.reading = *r;
    return vg_ring_push(ring, &s);
}

int vg_archive_push_tick(vg_ring *ring, int64_t t_ns, uint64_t lost)
{
    vg_archive_record s;

    if (!ring_ok(ring))
        return -EINVAL;
    memset(&s, 0, sizeof(s));
    s.type = VG_ARCHIVE_REC_TICK;
    s.nslots = 1;
    s.u.tick.t_ns = t_ns;
    s.u.tick.lost = lost;
    return vg_ring_push(ring, &s);
}

int vg_archive_push_metrics(vg_ring *ring, const vg_zone_metrics *m)
{
    return push_rec(ring, VG_ARCHIVE_REC_METRICS, 0, m, sizeof(*m));
}

int vg_archive_push_alert(vg_ring *ring, const vg_alert_event *ev)
{
    return push_rec(ring, VG_ARCHIVE_REC_ALERT, 0, ev, sizeof(*ev));
}

int vg_archive_push_reject(vg_ring *ring, const vg_archive_reject *rj)
{
    return push_rec(ring, VG_ARCHIVE_REC_REJECT, 0, rj, sizeof(*rj));
}

int vg_archive_push_action(vg_ring *ring, const vg_archive_action *act)
{
    return push_rec(ring, VG_ARCHIVE_REC_ACTION, 0, act, sizeof(*act));
}

int vg_archive_push_incident(vg_ring *ring, const vg_archive_incident *inc)
{
    return push_rec(ring, VG_ARCHIVE_REC_INCIDENT, 0, inc, sizeof(*inc));
}

static void ids_free(struct model_ids **ip)
{
    if (!*ip)
        return;
    for (int k = 0; k < 5; k++)
        free((*ip)->id[k]);
    free(*ip);
    *ip = NULL;
}

static struct model_ids *ids_of(const vg_model *m)
{
    struct model_ids *ids = calloc(1, sizeof(*ids));

    for (int k = 0; ids && k < 5; k++) {
        const uint32_t n = k == 0 ? vg_model_zone_count(m) : k == 1 ? vg_model_sensor_count(m)
                         : k == 2 ? vg_model_camera_count(m) : k == 3 ? vg_model_line_count(m)
                         : vg_model_help_point_count(m);

        ids->n[k] = n;
        ids->id[k] = calloc(n ? n : 1, sizeof(*ids->id[k]));
        if (!ids->id[k]) {
            ids_free(&ids);
            break;
        }
        for (uint32_t i = 0; i < n; i++) {
            const char *id = k == 0 ? vg_model_zone(m, i)->id
                           : k == 1 ? vg_model_sensor(m, i)->id
                           : k == 2 ? vg_model_camera(m, i)->id
                           : k == 3 ? vg_model_line(m, i)->id
                           : vg_model_help_point(m, i)->id;

            snprintf(ids->id[k][i], sizeof(ids->id[k][i]), "%s", id);
        }
    }
    return ids;
}

int vg_archive_push_model(vg_ring *ring, int64_t t_ns, const vg_model *m)
{
    struct model_msg msg;
    const char *text, *path, *version;
    size_t len = 0, plen, vlen;
    int r;

    if (!ring_ok(ring) || !m)
        return -EINVAL;
    text = vg_model_text(m, &len);
    memset(&msg, 0, sizeof(msg));
    msg.t_ns = t_ns;
    msg.digest = vg_model_digest(m);
    msg.len = len;
    path = vg_model_path(m) ? vg_model_path(m) : "";
    plen = strlen(path);
    version = vg_model_version(m) ? vg_model_version(m) : "";
    vlen = strlen(version);
    msg.utc_offset_s = vg_model_utc_offset_s(m);
    msg.ids = ids_of(m);
    msg.text = malloc(len + 1 + plen + 1 + vlen + 1);
    if (!msg.text || !msg.ids) {
        free(msg.text);
        ids_free(&msg.ids);
        return -ENOMEM;
    }
    memcpy(msg.text, text ? text : "", len);
    msg.text[len] = '\0';
    memcpy(msg.text + len + 1, path, plen + 1);
    memcpy(msg.text + len + 1 + plen + 1, version, vlen + 1);
    r = push_rec(ring, VG_ARCHIVE_REC_MODEL, 0, &msg, sizeof(msg));
    if (r < 0) {
        free(msg.text);
        ids_free(&msg.ids);
    }
    return r;
}

void vg_archive_reject_from_reading(const vg_reading *r, enum vg_reject why,
                                    enum vg_archive_stage stage, vg_archive_reject *ret)
{
    if (!ret)
        return;
    memset(ret, 0, sizeof(*ret));
    ret->reason = why;
    ret->count = 1;
    ret->stage = (uint8_t)stage;
    if (r) {
        ret->t_ns = r->t_ns;
        ret->reading_type = r->type;
        ret->source = r->source;
        ret->zone = r->zone;
        ret->value = r->value;
    }
}

/* ---------------------------------------------------------------- HDF5 file */

void vg_archive_cfg_default(vg_archive_cfg *ret)
{
    if (!ret)
        return;
    memset(ret, 0, sizeof(*ret));
    ret->prefix = "vigil";
    ret->flush_interval_ns = VG_NS_PER_S;
    ret->rotate_ns = 0;
    ret->retry_ns = 5 * VG_NS_PER_S;
    ret->compression = 1;
    ret->chunk_records = 8192;
}

static int attr_write(hid_t loc, const char *name, hid_t type, const void *v)
{
    hid_t sp = H5Screate(H5S_SCALAR), at;
    int r = -1;

    if (sp < 0)
        return -1;
    at = H5Acreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (at >= 0) {
        r = H5Awrite(at, type, v) < 0 ? -1 : 0;
        H5Aclose(at);
    }
    H5Sclose(sp);
    return r;
}

static int attr_i64(hid_t loc, const char *name, int64_t v)
{
    return attr_write(loc, name, H5T_NATIVE_INT64, &v);
}

static int attr_u64(hid_t loc, const char *name, uint64_t v)
{
    return attr_write(loc, name, H5T_NATIVE_UINT64, &v);
}

static int attr_str(hid_t loc, const char *name, const char *s)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    int r;

    if (t < 0)
        return -1;
    H5Tset_size(t, strlen(s) + 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    r = attr_write(loc, name, t, s);
    H5Tclose(t);
    return r;
}

static int write_attrs(vg_archive *a)
{
    const vg_analysis_cfg *c = &a->acfg;
    char created[32];
    struct tm tm;
    time_t now = (time_t)(vg_wall_ns() / VG_NS_PER_S);
    int bad = 0;

    gmtime_r(&now, &tm);
    strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
    bad |= attr_str(a->file, "format", VG__ARCHIVE_FORMAT);
    bad |= attr_i64(a->file, "format_version", VG_ARCHIVE_FORMAT_VERSION);
    bad |= attr_str(a->file, "venue", a->venue);
    bad |= attr_str(a->file, "created", created);
    bad |= attr_i64(a->file, "created_wall_ns", vg_wall_ns());
    bad |= attr_u64(a->file, "session_id", a->session_id);
    bad |= attr_i64(a->file, "file_index", a->file_index);
    bad |= attr_i64(a->file, "after_fault", a->after_fault);
    bad |= attr_u64(a->file, "first_alert_id", a->next_alert_id);
    bad |= attr_i64(a->file, "utc_offset_s", a->utc_offset_s);
    bad |= attr_i64(a->file, "flush_interval_ns", a->cfg.flush_interval_ns);
    bad |= attr_i64(a->file, "rotate_ns", a->cfg.rotate_ns);
    bad |= attr_i64(a->file, "analysis_lateness_ns", c->lateness_ns);
    bad |= attr_i64(a->file, "analysis_max_future_ns", c->max_future_ns);
    bad |= attr_i64(a->file, "analysis_skew_ns", c->skew_ns);
    bad |= attr_i64(a->file, "analysis_max_pending", c->max_pending);
    bad |= attr_i64(a->file, "analysis_anomaly", c->anomaly);
    bad |= attr_i64(a->file, "analysis_camera_fresh_ns", c->camera_fresh_ns);
    bad |= attr_i64(a->file, "analysis_trend_window_ns", c->trend_window_ns);
    bad |= attr_i64(a->file, "analysis_trend_min_ns", c->trend_min_ns);
    bad |= attr_i64(a->file, "analysis_flow_window_ns", c->flow_window_ns);
    bad |= attr_i64(a->file, "analysis_help_rearm_ns", c->help_rearm_ns);
    bad |= attr_i64(a->file, "analysis_anomaly_hold_ns", c->anomaly_hold_ns);
    bad |= attr_u64(a->file, "analysis_first_alert_id", c->first_alert_id);
    return bad ? -1 : 0;
}

static int create_dataset(vg_archive *a, enum vg__ds d)
{
    hsize_t zero = 0, unlim = H5S_UNLIMITED;
    hsize_t chunk = vg__ds[d].chunk ? vg__ds[d].chunk : a->cfg.chunk_records;
    size_t chunk_bytes = (size_t)chunk * vg__ds[d].row_size;
    hid_t sp = -1, dcpl = -1, dapl = -1;
    int r = -1;

    sp = H5Screate_simple(1, &zero, &unlim);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    dapl = H5Pcreate(H5P_DATASET_ACCESS);
    if (sp < 0 || dcpl < 0 || dapl < 0 || H5Pset_chunk(dcpl, 1, &chunk) < 0)
        goto out;
    if (a->cfg.compression > 0 &&
        ((vg__ds[d].row_size > 1 && H5Pset_shuffle(dcpl) < 0) ||
         H5Pset_deflate(dcpl, (unsigned)a->cfg.compression) < 0))
        goto out;
    /* Room for two chunks, so a partly written chunk is not evicted and re-read. */
    if (H5Pset_chunk_cache(dapl, 521, chunk_bytes * 2 > (1u << 20) ? chunk_bytes * 2 : (1u << 20),
                           1.0) < 0)
        goto out;
    a->type[d] = vg__archive_type(d);
    if (a->type[d] < 0)
        goto out;
    a->dset[d] = H5Dcreate2(a->file, vg__ds[d].name, a->type[d], sp, H5P_DEFAULT, dcpl, dapl);
    if (a->dset[d] >= 0)
        r = 0;
out:
    if (sp >= 0)
        H5Sclose(sp);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (dapl >= 0)
        H5Pclose(dapl);
    return r;
}

/* Appends n rows to dataset d. Returns 0 or a negative errno. */
static int append_rows(vg_archive *a, enum vg__ds d, const void *rows, size_t n)
{
    hsize_t start = a->rows[d], count = n, size = a->rows[d] + n;
    hid_t fs = -1, ms = -1;
    int r = 0;

    if (n == 0)
        return 0;
    errno = 0;
    if (H5Dset_extent(a->dset[d], &size) < 0)
        return vg__archive_errno();
    fs = H5Dget_space(a->dset[d]);
    ms = H5Screate_simple(1, &count, NULL);
    if (fs < 0 || ms < 0 ||
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL) < 0 ||
        H5Dwrite(a->dset[d], a->type[d], ms, fs, H5P_DEFAULT, rows) < 0)
        r = vg__archive_errno();
    if (fs >= 0)
        H5Sclose(fs);
    if (ms >= 0)
        H5Sclose(ms);
    if (r == 0)
        a->rows[d] = size;
    return r;
}

static void close_objects(vg_archive *a)
{
    for (int d = 0; d < VG__DS_COUNT; d++) {
        if (a->dset[d] >= 0)
            H5Dclose(a->dset[d]);
        if (a->type[d] >= 0)
            H5Tclose(a->type[d]);
        a->dset[d] = a->type[d] = -1;
        a->rows[d] = 0;
    }
}

static void publish_stats(vg_archive *a)
{
    pthread_mutex_lock(&a->lock);
    a->shared_stats = a->st;
    pthread_mutex_unlock(&a->lock);
}

static void set_fault(vg_archive *a, int err);
static void abandon_file(vg_archive *a);

/* Writes the model in force as the file's models row (plus its text). */
static int write_model_row(vg_archive *a, int64_t t_ns)
{
    vg__row_model row;
    int r;

    memset(&row, 0, sizeof(row));
    row.t_ns = t_ns;
    row.digest = a->model_digest;
    row.offset = a->rows[VG__DS_MODEL_TEXT];
    row.length = a->model_len;
    snprintf(row.version, sizeof(row.version), "%s", a->model_version);
    snprintf(row.path, sizeof(row.path), "%s", a->model_path);
    /* The switch position: the producer pushed the model between these inputs. */
    row.reading_index = a->rows[VG__DS_READINGS] + a->buf[VG__DS_READINGS].n;
    row.tick_index = a->rows[VG__DS_TICKS] + a->buf[VG__DS_TICKS].n;
    r = append_rows(a, VG__DS_MODEL_TEXT, a->model_text, a->model_len);
    if (r == 0)
        r = append_rows(a, VG__DS_MODELS, &row, 1);
    if (r == 0)
        a->pend[VG_ARCHIVE_REC_MODEL]++;
    return r;
}

static const char *const id_sets[5] = {"zones", "sensors", "cameras", "lines", "help_points"};

/* /ids/<kind>: the model's string ids by index, so tools can name zone 3 without the model. */
static int write_ids(vg_archive *a)
{
    hid_t g = H5Gcreate2(a->file, "ids", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t t = H5Tcopy(H5T_C_S1);
    int r = 0;

    if (g < 0 || t < 0 || H5Tset_size(t, VG_MODEL_ID_MAX + 1) < 0 ||
        H5Tset_strpad(t, H5T_STR_NULLTERM) < 0)
        r = -1;
    for (int k = 0; k < 5 && r == 0; k++) {
        hsize_t n = a->ids->n[k];
        hid_t sp = H5Screate_simple(1, &n, NULL), d = -1;

        if (sp >= 0)
            d = H5Dcreate2(g, id_sets[k], t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (d < 0 || (n && H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, a->ids->id[k]) < 0))
            r = -1;
        if (d >= 0)
            H5Dclose(d);
        if (sp >= 0)
            H5Sclose(sp);
    }
    if (t >= 0)
        H5Tclose(t);
    if (g >= 0)
        H5Gclose(g);
    return r;
}

/* Creates the next file: name, attributes, datasets, first model, then SWMR. */
static int open_file(vg_archive *a)
{
    char path[512];
    char stamp[32];
    struct tm tm;
    time_t now = (time_t)(vg_wall_ns() / VG_NS_PER_S);
    hid_t fapl = -1;
    int r = -EIO;

    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    /* A new name every time: never overwrite an archive (another run, or a file left by a
     * fault that may still hold readings). */
    for (int n = 0;; n++) {
        struct stat sb;
        int len = snprintf(path, sizeof(path), "%s/%s-%s-%u%s%.0d.h5", a->dir, a->prefix, stamp,
                           a->file_index, n ? "-" : "", n);

        if (len < 0 || (size_t)len >= sizeof(path))
            return -ENAMETOOLONG;
        if (stat(path, &sb) != 0)
            break;
        if (n > 1000)
            return -EEXIST;
    }
    fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0)
        return -EIO;
    if (H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST) < 0 ||
        H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0) {
        H5Pclose(fapl);
        return -EIO;
    }
    errno = 0;
    a->file = H5Fcreate(path, H5F_ACC_EXCL, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (a->file < 0) {
        r = vg__archive_errno();
        /* H5Fcreate does not always leave errno: ask the directory. */
        if (r == -EIO && access(a->dir, W_OK) != 0)
            r = -errno;
        /* On a full disk the create fails after making the file (0 bytes): EXCL says this
         * call made it, and a leftover that is not an archive would stop a replay of the
         * directory. */
        unlink(path);
        return r;
    }
    snprintf(a->st.path, sizeof(a->st.path), "%s", path);
    errno = 0;
    if (write_attrs(a) < 0 || write_ids(a) < 0)
        goto fail;
    for (int d = 0; d < VG__DS_COUNT; d++)
        if (create_dataset(a, (enum vg__ds)d) < 0)
            goto fail;
    r = write_model_row(a, INT64_MIN);
    if (r < 0)
        goto fail_r;
    errno = 0;
    if (H5Fstart_swmr_write(a->file) < 0)
        goto fail;
    a->st.files++;
    a->st.faulted = 0;
    a->next_rotate_ns = INT64_MAX;
    a->file_index++;
    return 0;
fail:
    r = vg__archive_errno();
fail_r:
    abandon_file(a);
    a->file = -1;
    memset(a->pend, 0, sizeof(a->pend)); /* the header row of a file that is not kept */
    /* This call created it (EXCL) and it holds no record: left, one a retry on a full disk
     * would litter the directory with files that are not archives. */
    unlink(path);
    return r;
}

static void drop_buffers(vg_archive *a)
{
    for (int d = 0; d < VG__DS_COUNT; d++)
        a->buf[d].n = 0;
    /* What the file took since its last flush may or may not have reached the disk: it is
     * not known to be there, so it counts as dropped. */
    for (int r = 0; r < VG_ARCHIVE_REC_END; r++) {
        a->st.dropped += a->pend[r];
        a->pend[r] = 0;
    }
}

/* Closes a file that cannot be written. H5Fclose() flushes, fails again on a full disk and
 * then leaves a half-closed file that crashes the library's exit handler; so the file's
 * descriptor is first pointed at /dev/null: the flush "succeeds" into nothing, the close
 * frees everything, and the file on disk keeps what reached it before (readable up to the
 * last successful flush). */
static void abandon_file(vg_archive *a)
{
    void *handle = NULL;
    hid_t fapl = H5Fget_access_plist(a->file);

    if (fapl >= 0) {
        if (H5Fget_vfd_handle(a->file, fapl, &handle) >= 0 && handle) {
            int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

            if (devnull >= 0) {
                dup2(devnull, *(int *)handle);
                close(devnull);
            }
        }
        H5Pclose(fapl);
    }
    close_objects(a);
    if (H5Fclose(a->file) < 0)
        a->st.faults++; /* still open inside the library; H5dont_atexit() keeps exit safe */
}

static void set_fault(vg_archive *a, int err)
{
    a->st.faults++;
    a->st.last_error = err < 0 ? err : -EIO;
    a->st.last_fault_wall_ns = vg_wall_ns();
    drop_buffers(a);
    if (a->file >= 0) {
        abandon_file(a);
        a->file = -1;
    }
    a->st.faulted = 1;
    a->after_fault = 1;
    a->next_retry_mono = vg_mono_ns() + a->cfg.retry_ns;
}

static int write_buffer(vg_archive *a, enum vg__ds d)
{
    int r;

    if (a->file < 0 || a->buf[d].n == 0)
        return 0;
    r = append_rows(a, d, a->buf[d].data, a->buf[d].n);
    if (r < 0) {
        set_fault(a, r);
        return r;
    }
    a->buf[d].n = 0;
    return 0;
}

/* Writes every buffer (readings first: ticks and alerts refer to them) and flushes. */
static int flush_file(vg_archive *a)
{
    static const enum vg__ds order[] = {VG__DS_READINGS, VG__DS_TICKS, VG__DS_METRICS,
                                        VG__DS_ALERTS, VG__DS_REJECTS, VG__DS_ACTIONS,
                                        VG__DS_INCIDENTS, VG__DS_MODEL_TEXT, VG__DS_MODELS};
    int r;

    if (a->file < 0)
        return a->st.faulted ? a->st.last_error : 0;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        r = write_buffer(a, order[i]);
        if (r < 0)
            return r;
    }
    errno = 0;
    if (H5Fflush(a->file, H5F_SCOPE_LOCAL) < 0) {
        r = vg__archive_errno();
        set_fault(a, r);
        return r;
    }
    a->st.flushes++;
    for (int i = 0; i < VG_ARCHIVE_REC_END; i++) {
        a->st.written[i] += a->pend[i];
        a->pend[i] = 0;
    }
    return 0;
}

static void close_file(vg_archive *a)
{
    if (a->file < 0)
        return;
    if (flush_file(a) < 0)
        return; /* set_fault closed it */
    close_objects(a);
    errno = 0;
    if (H5Fclose(a->file) < 0) {
        set_fault(a, vg__archive_errno()); /* abandons it */
        return;
    }
    a->file = -1;
}

static int try_reopen(vg_archive *a)
{
    int r = open_file(a);

    if (r < 0) {
        a->st.faults++;
        a->st.last_error = r;
        a->after_fault = 1; /* records are dropped until a file opens */
        a->st.last_fault_wall_ns = vg_wall_ns();
        a->next_retry_mono = vg_mono_ns() + a->cfg.retry_ns;
        return r;
    }
    a->after_fault = 0;
    return 0;
}

/* Buffers one row of a record of type rec; a full buffer is appended at once. */
static void add_row(vg_archive *a, enum vg__ds d, const void *row, enum vg_archive_rec rec)
{
    struct rowbuf *b = &a->buf[d];

    if (a->file < 0) {
        a->st.dropped++;
        return;
    }
    memcpy(b->data + b->n * vg__ds[d].row_size, row, vg__ds[d].row_size);
    b->n++;
    a->pend[rec]++;
    if (b->n == b->cap)
        write_buffer(a, d);
}

static int64_t rotate_boundary(const vg_archive *a, int64_t t_ns)
{
    int64_t off = (int64_t)a->utc_offset_s * VG_NS_PER_S, local = t_ns + off;
    int64_t q = local / a->cfg.rotate_ns;

    if (local < 0 && local % a->cfg.rotate_ns)
        q--;
    return (q + 1) * a->cfg.rotate_ns - off;
}

static void handle_model(vg_archive *a, const struct model_msg *m)
{
    /* The next file starts with this model: its ids, and its local midnight for rotation. */
    ids_free(&a->ids);
    a->ids = m->ids;
    a->utc_offset_s = m->utc_offset_s;
    free(a->model_text);
    a->model_text = m->text;
    a->model_len = m->len;
    a->model_digest = m->digest;
    const char *path = m->text + m->len + 1;
    snprintf(a->model_version, sizeof(a->model_version), "%s", path + strlen(path) + 1);
    snprintf(a->model_path, sizeof(a->model_path), "%s", path);
    if (a->file < 0) {
        a->st.dropped++;
        return;
    }
    /* The text goes straight to its dataset so the row can point at it. Everything before
     * the switch is written and flushed first, so that a file cut by a crash never holds a
     * row whose position lies past its readings and ticks (reloads are rare). */
    if (flush_file(a) < 0 || a->file < 0)
        return;
    {
        int r = write_model_row(a, m->t_ns);

        if (r < 0)
            set_fault(a, r);
    }
}

/* One whole record (header + payload bytes, contiguous). */
static void handle(vg_archive *a, const unsigned char *rec)
{
    const vg_archive_record *h = (const vg_archive_record *)rec;
    const unsigned char *p = rec + 8;

    switch (h->type) {
    case VG_ARCHIVE_REC_READING: {
        vg__row_reading row;

        memcpy(&row.r, p, sizeof(row.r));
        row.r.reserved = (uint16_t)(h->aux & 0xff); /* the row's reject field */
        add_row(a, VG__DS_READINGS, &row, VG_ARCHIVE_REC_READING);
        if (h->aux) {
            vg_archive_reject rj;

            vg_archive_reject_from_reading(&row.r, (enum vg_reject)h->aux,
                                           VG_ARCHIVE_STAGE_PUSH, &rj);
            add_row(a, VG__DS_REJECTS, &rj, VG_ARCHIVE_REC_REJECT);
        }
        break;
    }
    case VG_ARCHIVE_REC_TICK: {
        vg__row_tick row;

        memcpy(&row.t_ns, p, 8);
        memcpy(&row.lost, p + 8, 8);
        if (a->cfg.rotate_ns > 0 && a->file >= 0) {
            if (a->next_rotate_ns != INT64_MAX && row.t_ns >= a->next_rotate_ns) {
                close_file(a);
                if (a->file < 0 && !a->st.faulted && try_reopen(a) < 0)
                    a->st.faulted = 1;
            }
            if (a->file >= 0 && a->next_rotate_ns == INT64_MAX)
                a->next_rotate_ns = rotate_boundary(a, row.t_ns);
        }
        row.reading_index = a->rows[VG__DS_READINGS] + a->buf[VG__DS_READINGS].n;
        add_row(a, VG__DS_TICKS, &row, VG_ARCHIVE_REC_TICK);
        break;
    }
    case VG_ARCHIVE_REC_ALERT: {
        vg__row_alert row;

        memset(&row, 0, sizeof(row));
        memcpy(&row.ev, p, sizeof(row.ev));
        row.reading_index = a->rows[VG__DS_READINGS] + a->buf[VG__DS_READINGS].n;
        if (row.ev.id >= a->next_alert_id)
            a->next_alert_id = row.ev.id + 1;
        add_row(a, VG__DS_ALERTS, &row, VG_ARCHIVE_REC_ALERT);
        break;
    }
    case VG_ARCHIVE_REC_METRICS:
    case VG_ARCHIVE_REC_REJECT:
    case VG_ARCHIVE_REC_ACTION:
    case VG_ARCHIVE_REC_INCIDENT: {
        int d = vg__archive_ds_of((enum vg_archive_rec)h->type);
        _Alignas(8) unsigned char row[sizeof(vg_archive_reject) + sizeof(vg_alert_event)];

        memcpy(row, p, vg__ds[d].row_size);
        add_row(a, (enum vg__ds)d, row, (enum vg_archive_rec)h->type);
        break;
    }
    case VG_ARCHIVE_REC_MODEL: {
        struct model_msg m;

        memcpy(&m, p, sizeof(m));
        handle_model(a, &m);
        break;
    }
    default:
        a->st.dropped++;
        break;
    }
}

/* An ingest reject ring record, as a reject row. */
static void handle_ingest_reject(vg_archive *a, const vg_ingest_reject *in)
{
    vg_archive_reject rj;

    memset(&rj, 0, sizeof(rj));
    rj.wall_ns = in->wall_ns;
    rj.t_ns = in->t_ns;
    rj.reason = in->reason;
    rj.count = in->count ? in->count : 1;
    rj.payload_len = in->payload_len;
    rj.stage = VG_ARCHIVE_STAGE_INGEST;
    rj.topic_len = in->topic_len > VG_ARCHIVE_TOPIC_MAX ? VG_ARCHIVE_TOPIC_MAX : in->topic_len;
    rj.excerpt_len =
        in->excerpt_len > VG_ARCHIVE_PAYLOAD_MAX ? VG_ARCHIVE_PAYLOAD_MAX : in->excerpt_len;
    memcpy(rj.topic, in->topic, rj.topic_len);
    memcpy(rj.payload, in->payload, rj.excerpt_len);
    add_row(a, VG__DS_REJECTS, &rj, VG_ARCHIVE_REC_REJECT);
}

/* An alert-thread audit record, as an action row. */
static void handle_audit(vg_archive *a, const vg_alert_audit *au)
{
    vg_archive_action act;

    memset(&act, 0, sizeof(act));
    act.t_ns = au->t_ns;
    act.wall_ns = au->wall_ns;
    act.until_ns = au->until_ns;
    act.alert_id = au->alert_id;
    act.zone = au->zone;
    act.kind = au->kind;
    act.grade = au->grade;
    act.state = au->state;
    snprintf(act.action, sizeof(act.action), "%s", vg_alert_op_name((enum vg_alert_op)au->op));
    snprintf(act.state_name, sizeof(act.state_name), "%s",
             vg_alert_state_name((enum vg_alert_state)au->state));
    snprintf(act.operator_id, sizeof(act.operator_id), "%.*s", (int)sizeof(au->operator_id),
             au->operator_id);
    snprintf(act.comment, sizeof(act.comment), "%.*s", (int)sizeof(au->comment), au->comment);
    add_row(a, VG__DS_ACTIONS, &act, VG_ARCHIVE_REC_ACTION);
}

/* Consumes what one ring holds now (up to PEEK_MAX slots). Returns slots consumed. */
static size_t drain_input(vg_archive *a, struct input *in)
{
    void *slots;
    size_t n = vg_ring_peek(in->ring, PEEK_MAX, &slots), i = 0;
    const unsigned char *s = slots;

    if (n == 0)
        return 0;
    if (in->kind == VG_ARCHIVE_IN_INGEST_REJECTS) {
        for (i = 0; i < n; i++) {
            vg_ingest_reject rj;

            memcpy(&rj, s + i * sizeof(rj), sizeof(rj));
            handle_ingest_reject(a, &rj);
        }
        vg_ring_release(in->ring, n);
        return n;
    }
    if (in->kind == VG_ARCHIVE_IN_ALERT_AUDIT) {
        for (i = 0; i < n; i++) {
            vg_alert_audit au;

            memcpy(&au, s + i * sizeof(au), sizeof(au));
            handle_audit(a, &au);
        }
        vg_ring_release(in->ring, n);
        return n;
    }
    while (i < n) {
        if (in->asm_have) {
            size_t take = in->asm_need - in->asm_have;

            if (take > n - i)
                take = n - i;
            memcpy(in->asm_buf + in->asm_have * VG_ARCHIVE_SLOT_SIZE,
                   s + i * VG_ARCHIVE_SLOT_SIZE, take * VG_ARCHIVE_SLOT_SIZE);
            in->asm_have += take;
            i += take;
            if (in->asm_have == in->asm_need) {
                handle(a, in->asm_buf);
                in->asm_have = 0;
            }
            continue;
        }
        {
            const vg_archive_record *h = (const vg_archive_record *)(s + i * VG_ARCHIVE_SLOT_SIZE);
            size_t ns = h->nslots;

            if (ns == 0 || ns > VG_ARCHIVE_MAX_SLOTS) { /* not a record start: skip it */
                a->st.dropped++;
                i++;
                continue;
            }
            if (i + ns <= n) {
                handle(a, (const unsigned char *)h);
                i += ns;
            } else {
                in->asm_need = ns;
                in->asm_have = n - i;
                memcpy(in->asm_buf, h, in->asm_have * VG_ARCHIVE_SLOT_SIZE);
                i = n;
            }
        }
    }
    vg_ring_release(in->ring, n);
    return n;
}

static void housekeeping(vg_archive *a)
{
    int64_t now = vg_mono_ns();

    if (now >= a->next_flush_mono) {
        flush_file(a);
        a->next_flush_mono = now + a->cfg.flush_interval_ns;
    }
    if (a->file < 0 && a->st.faulted && now >= a->next_retry_mono)
        try_reopen(a);
}

static void *archive_thread(void *arg)
{
    vg_archive *a = arg;

    pthread_setname_np(pthread_self(), "vg-archive");
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors are counted, not printed */
    for (;;) {
        int stopping = atomic_load(&a->stop);
        size_t got = 0;
        int main_closed;

        for (int k = 0; k < a->n_in; k++)
            got += drain_input(a, &a->in[k]);
        housekeeping(a);
        publish_stats(a);
        if (got)
            continue;
        main_closed = vg_ring_closed(a->in[0].ring) && vg_ring_depth(a->in[0].ring) == 0;
        if (stopping || main_closed) {
            /* Empty now: a last pass for records published between the drains above. */
            got = 0;
            for (int k = 0; k < a->n_in; k++)
                got += drain_input(a, &a->in[k]);
            if (!got)
                break;
            continue;
        }
        {
            int64_t wait = a->next_flush_mono - vg_mono_ns();
            /* The side rings (refusals, operator actions) are looked at on
             * this period; they are low-rate and nothing waits on their rows. */
            int64_t cap = 50 * VG_NS_PER_MS;

            if (wait > cap)
                wait = cap;
            if (wait < 0)
                wait = 0;
            vg_ring_wait_readable(a->in[0].ring, wait);
        }
    }
    close_file(a);
    publish_stats(a);
    return NULL;
}

/* ---------------------------------------------------------------- lifecycle */

int vg_archive_new(const char *dir, const vg_archive_cfg *cfg, vg_archive **ret)
{
    vg_archive *a;
    const char *text;
    size_t len = 0;
    int r;

    if (!dir || !cfg || !ret || !cfg->model)
        return -EINVAL;
    if (cfg->flush_interval_ns <= 0 || cfg->rotate_ns < 0 || cfg->retry_ns <= 0 ||
        cfg->compression < 0 || cfg->compression > 9 || cfg->chunk_records < 64 ||
        cfg->chunk_records > (1u << 20))
        return -EINVAL;
    a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->file = -1;
    a->n_in = 1; /* in[0] is the main ring, set by vg_archive_start() */
    for (int d = 0; d < VG__DS_COUNT; d++)
        a->dset[d] = a->type[d] = -1;
    pthread_mutex_init(&a->lock, NULL);
    a->cfg = *cfg;
    a->cfg.model = NULL;
    a->cfg.analysis = NULL;
    if (cfg->analysis)
        a->acfg = *cfg->analysis;
    else
        vg_analysis_cfg_default(&a->acfg);
    memset(&a->acfg.sink, 0, sizeof(a->acfg.sink));
    a->dir = strdup(dir);
    a->prefix = strdup(cfg->prefix && *cfg->prefix ? cfg->prefix : "vigil");
    a->cfg.prefix = a->prefix;
    snprintf(a->venue, sizeof(a->venue), "%s", vg_model_venue(cfg->model));
    a->utc_offset_s = vg_model_utc_offset_s(cfg->model);
    text = vg_model_text(cfg->model, &len);
    a->model_text = malloc(len + 1);
    if (!a->dir || !a->prefix || !a->model_text) {
        r = -ENOMEM;
        goto fail;
    }
    memcpy(a->model_text, text ? text : "", len);
    a->model_text[len] = '\0';
    a->model_len = len;
    a->model_digest = vg_model_digest(cfg->model);
    snprintf(a->model_version, sizeof(a->model_version), "%s", vg_model_version(cfg->model));
    snprintf(a->model_path, sizeof(a->model_path), "%s",
             vg_model_path(cfg->model) ? vg_model_path(cfg->model) : "");
    a->ids = ids_of(cfg->model);
    if (!a->ids) {
        r = -ENOMEM;
        goto fail;
    }
    a->session_id = (uint64_t)vg_wall_ns();
    a->next_alert_id = a->acfg.first_alert_id ? a->acfg.first_alert_id : 1;
    for (int d = 0; d < VG__DS_COUNT; d++) {
        size_t cap = vg__ds[d].chunk ? vg__ds[d].chunk : a->cfg.chunk_records;

        if (d == VG__DS_MODEL_TEXT)
            cap = 1; /* written directly */
        a->buf[d].cap = cap;
        a->buf[d].data = malloc(cap * vg__ds[d].row_size);
        if (!a->buf[d].data) {
            r = -ENOMEM;
            goto fail;
        }
    }
    /* No library clean-up at exit: an abandoned file must never be flushed then. Before the
     * library's first use it takes effect; later it is a harmless no-op. */
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    r = open_file(a);
    if (r < 0)
        goto fail;
    a->next_flush_mono = vg_mono_ns() + a->cfg.flush_interval_ns;
    publish_stats(a);
    *ret = a;
    return 0;
fail:
    vg_archive_free(&a);
    return r;
}

int vg_archive_attach(vg_archive *a, vg_ring *ring, enum vg_archive_in_kind kind)
{
    size_t want;

    if (!a || !ring || a->started)
        return -EINVAL;
    if (kind == VG_ARCHIVE_IN_RECORDS)
        want = VG_ARCHIVE_SLOT_SIZE;
    else if (kind == VG_ARCHIVE_IN_INGEST_REJECTS)
        want = sizeof(vg_ingest_reject);
    else if (kind == VG_ARCHIVE_IN_ALERT_AUDIT)
        want = sizeof(vg_alert_audit);
    else
        return -EINVAL;
    if (vg_ring_record_size(ring) != want)
        return -EINVAL;
    if (a->n_in >= 1 + VG_ARCHIVE_MAX_INPUTS)
        return -ENOSPC;
    a->in[a->n_in].ring = ring;
    a->in[a->n_in].kind = kind;
    a->n_in++;
    return 0;
}

int vg_archive_start(vg_archive *a, vg_ring *in)
{
    int r;

    if (!a || !ring_ok(in) || vg_ring_capacity(in) < VG_ARCHIVE_MAX_SLOTS)
        return -EINVAL;
    if (a->started)
        return -EALREADY;
    a->in[0].ring = in;
    a->in[0].kind = VG_ARCHIVE_IN_RECORDS;
    atomic_store(&a->stop, 0);
    r = pthread_create(&a->thread, NULL, archive_thread, a);
    if (r != 0)
        return -r;
    a->started = 1;
    return 0;
}

int vg_archive_stop(vg_archive *a)
{
    int r;

    if (!a)
        return -EINVAL;
    if (a->started) {
        atomic_store(&a->stop, 1);
        pthread_join(a->thread, NULL);
        a->started = 0;
    } else {
        close_file(a);
        publish_stats(a);
    }
    r = a->st.faults ? a->st.last_error : 0;
    return r;
}

void vg_archive_free(vg_archive **ap)
{
    vg_archive *a;

    if (!ap || !*ap)
        return;
    a = *ap;
    vg_archive_stop(a);
    for (int d = 0; d < VG__DS_COUNT; d++)
        free(a->buf[d].data);
    free(a->model_text);
    ids_free(&a->ids);
    free(a->dir);
    free(a->prefix);
    pthread_mutex_destroy(&a->lock);
    free(a);
    *ap = NULL;
}

int vg_archive_write(vg_archive *a, const vg_archive_record *slots, size_t n)
{
    size_t i = 0;

    if (!a || (!slots && n) || a->started)
        return -EINVAL;
    /* Check the whole run first so a bad one writes nothing. */
    while (i < n) {
        size_t ns = slots[i].nslots;

        if (ns == 0 || ns > VG_ARCHIVE_MAX_SLOTS || i + ns > n || slots[i].type == 0 ||
            slots[i].type >= VG_ARCHIVE_REC_END)
            return -EINVAL;
        i += ns;
    }
    for (i = 0; i < n; i += slots[i].nslots) {
        handle(a, (const unsigned char *)&slots[i]);
        if (a->file < 0 && a->st.faulted && vg_mono_ns() >= a->next_retry_mono)
            try_reopen(a);
    }
    publish_stats(a);
    return 0;
}

int vg_archive_flush(vg_archive *a)
{
    int r;

    if (!a || a->started)
        return -EINVAL;
    if (a->file < 0 && a->st.faulted && vg_mono_ns() >= a->next_retry_mono)
        try_reopen(a);
    r = flush_file(a);
    publish_stats(a);
    return r;
}

int vg_archive_get_stats(vg_archive *a, vg_archive_stats *ret)
{
    if (!a || !ret)
        return -EINVAL;
    pthread_mutex_lock(&a->lock);
    *ret = a->shared_stats;
    pthread_mutex_unlock(&a->lock);
    return 0;
}
