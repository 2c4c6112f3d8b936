/* The archive reader: opens a file (SWMR read, so also a live or crashed one), reports its
 * attributes and sizes, and gives readings and ticks back in the order the live core saw
 * them (each tick row says how many readings preceded it), in blocks read with the file's
 * own types (no conversion). Also: replay into a vg_analysis, and appending incidents to a
 * closed file. */
#include "layout.h"

#include "vigil/common.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK 65536
#define READ_ATTEMPTS 10 /* metadata reads of a SWMR open (see vg_archive_reader_open) */

struct vg_archive_reader {
    hid_t file;
    hid_t dset[VG__DS_COUNT];
    hid_t type[VG__DS_COUNT];
    uint64_t count[VG__DS_COUNT];
    vg_archive_info info;

    vg__row_reading *rbuf; /* readings [rstart, rstart + rn) */
    uint64_t rstart;
    size_t rn;
    vg__row_tick *tbuf;    /* ticks [tstart, tstart + tn) */
    uint64_t tstart;
    size_t tn;
    uint64_t next_reading, next_tick;

    /* /models rows; positions 0: written before switch positions were recorded */
    vg__row_model *models;
    int positions;
    int switches;      /* vg_archive_reader_switches(): next() gives MODEL inputs */
    size_t next_model; /* the next row whose switch next() gives */
};

static int read_rows(vg_archive_reader *r, enum vg__ds d, uint64_t start, size_t n, void *out)
{
    hsize_t s = start, c = n;
    hid_t fs, ms;
    int rc = 0;

    if (n == 0)
        return 0;
    fs = H5Dget_space(r->dset[d]);
    ms = H5Screate_simple(1, &c, NULL);
    if (fs < 0 || ms < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, &s, NULL, &c, NULL) < 0 ||
        H5Dread(r->dset[d], r->type[d], ms, fs, H5P_DEFAULT, out) < 0)
        rc = -EIO;
    if (fs >= 0)
        H5Sclose(fs);
    if (ms >= 0)
        H5Sclose(ms);
    return rc;
}

static int attr_read(hid_t loc, const char *name, hid_t type, void *out)
{
    hid_t at;
    int r;

    if (H5Aexists(loc, name) <= 0)
        return -ENOENT;
    at = H5Aopen(loc, name, H5P_DEFAULT);
    if (at < 0)
        return -EIO;
    r = H5Aread(at, type, out) < 0 ? -EIO : 0;
    H5Aclose(at);
    return r;
}

static int64_t attr_i64(hid_t loc, const char *name, int64_t dflt)
{
    int64_t v;

    return attr_read(loc, name, H5T_NATIVE_INT64, &v) == 0 ? v : dflt;
}

static uint64_t attr_u64(hid_t loc, const char *name, uint64_t dflt)
{
    uint64_t v;

    return attr_read(loc, name, H5T_NATIVE_UINT64, &v) == 0 ? v : dflt;
}

static int attr_str(hid_t loc, const char *name, char *buf, size_t cap)
{
    hid_t at, t, mt;
    size_t sz;
    char *tmp;
    int r = -EIO;

    buf[0] = '\0';
    if (H5Aexists(loc, name) <= 0)
        return -ENOENT;
    at = H5Aopen(loc, name, H5P_DEFAULT);
    if (at < 0)
        return -EIO;
    t = H5Aget_type(at);
    sz = t >= 0 ? H5Tget_size(t) : 0;
    mt = H5Tcopy(H5T_C_S1);
    tmp = sz ? calloc(1, sz + 1) : NULL;
    if (tmp && mt >= 0 && H5Tset_size(mt, sz) >= 0 && H5Aread(at, mt, tmp) >= 0) {
        snprintf(buf, cap, "%s", tmp);
        r = 0;
    }
    free(tmp);
    if (mt >= 0)
        H5Tclose(mt);
    if (t >= 0)
        H5Tclose(t);
    H5Aclose(at);
    return r;
}

void vg_archive_reader_free(vg_archive_reader **rp)
{
    vg_archive_reader *r;

    if (!rp || !*rp)
        return;
    r = *rp;
    for (int d = 0; d < VG__DS_COUNT; d++) {
        if (r->dset[d] >= 0)
            H5Dclose(r->dset[d]);
        if (r->type[d] >= 0)
            H5Tclose(r->type[d]);
    }
    if (r->file >= 0)
        H5Fclose(r->file);
    free(r->rbuf);
    free(r->tbuf);
    free(r->models);
    free(r);
    *rp = NULL;
}

static void read_info(vg_archive_reader *r)
{
    vg_archive_info *in = &r->info;
    vg_analysis_cfg *c = &in->analysis;
    hid_t f = r->file;

    attr_str(f, "venue", in->venue, sizeof(in->venue));
    in->session_id = attr_u64(f, "session_id", 0);
    in->file_index = (uint32_t)attr_i64(f, "file_index", 0);
    in->after_fault = (int)attr_i64(f, "after_fault", 0);
    in->first_alert_id = attr_u64(f, "first_alert_id", 1);
    in->created_wall_ns = attr_i64(f, "created_wall_ns", 0);
    vg_analysis_cfg_default(c);
    c->lateness_ns = attr_i64(f, "analysis_lateness_ns", c->lateness_ns);
    c->max_future_ns = attr_i64(f, "analysis_max_future_ns", c->max_future_ns);
    /* Files from before the skew (2026-11-23) have none: their core refused such readings. */
    c->skew_ns = attr_i64(f, "analysis_skew_ns", 0);
    c->max_pending = (uint32_t)attr_i64(f, "analysis_max_pending", c->max_pending);
    c->anomaly = (int)attr_i64(f, "analysis_anomaly", c->anomaly);
    c->camera_fresh_ns = attr_i64(f, "analysis_camera_fresh_ns", c->camera_fresh_ns);
    c->trend_window_ns = attr_i64(f, "analysis_trend_window_ns", c->trend_window_ns);
    c->trend_min_ns = attr_i64(f, "analysis_trend_min_ns", c->trend_min_ns);
    c->flow_window_ns = attr_i64(f, "analysis_flow_window_ns", c->flow_window_ns);
    c->help_rearm_ns = attr_i64(f, "analysis_help_rearm_ns", c->help_rearm_ns);
    c->anomaly_hold_ns = attr_i64(f, "analysis_anomaly_hold_ns", c->anomaly_hold_ns);
    /* The stream of this file continues from its own first id (rotation keeps counting). */
    c->first_alert_id = in->first_alert_id;
    in->first_tick_ns = INT64_MIN;
    in->last_tick_ns = INT64_MIN;
}

static bool all_zero(const unsigned char *p, size_t n)
{
    return p[0] == 0 && memcmp(p, p + 1, n - 1) == 0;
}

/* A flush cut short by a full disk can leave a dataset's extent past the rows that reached
 * the disk; HDF5 reads the fill value there: zeros. No record is all zeros (each has a time
 * or an id), so trailing zero rows are left out, and counted in info.cut_rows. */
static int cut_zero_tail(vg_archive_reader *r, enum vg__ds d)
{
    enum { N = 256 };
    const size_t sz = H5Tget_size(r->type[d]);
    unsigned char *buf = sz ? calloc(N, sz) : NULL;
    int rc = 0;

    if (!buf)
        return sz ? -ENOMEM : -EIO;
    while (r->count[d]) {
        const uint64_t n = r->count[d] < N ? r->count[d] : N, start = r->count[d] - n;
        uint64_t k = n;

        memset(buf, 0, (size_t)n * sz);
        if ((rc = read_rows(r, d, start, (size_t)n, buf)) < 0)
            break;
        while (k && all_zero(buf + (k - 1) * sz, sz))
            k--;
        r->info.cut_rows += n - k;
        r->count[d] = start + k;
        if (k)
            break;
    }
    free(buf);
    return rc;
}

int vg_archive_reader_open(const char *path, vg_archive_reader **ret)
{
    vg_archive_reader *r;
    char fmt[32];
    int rc;

    if (!path || !ret)
        return -EINVAL;
    if (access(path, R_OK) != 0)
        return -errno;
    r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->file = -1;
    for (int d = 0; d < VG__DS_COUNT; d++)
        r->dset[d] = r->type[d] = -1;
    H5dont_atexit(); /* as the writer does (archive.c): the same library state either way */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (H5Fis_hdf5(path) <= 0) {
        rc = -EPROTO;
        goto fail;
    }
    /* A SWMR reader takes a bad metadata checksum for a race with the writer and retries,
     * by default 100 times with growing sleeps: a damaged file hung replay, and vigil run's
     * start (it reads every archive for the next alert id), for more than 15 minutes. A
     * few attempts cover a real race: the writer flushes whole metadata in one go. */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_metadata_read_attempts(fapl, READ_ATTEMPTS) < 0) {
        if (fapl >= 0)
            H5Pclose(fapl);
        rc = -EIO;
        goto fail;
    }
    r->file = H5Fopen(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, fapl);
    H5Pclose(fapl);
    if (r->file < 0) /* an old-format HDF5 file cannot be opened SWMR */
        r->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (r->file < 0) {
        rc = -EIO;
        goto fail;
    }
    if (attr_str(r->file, "format", fmt, sizeof(fmt)) < 0 || strcmp(fmt, VG__ARCHIVE_FORMAT) ||
        attr_i64(r->file, "format_version", 0) < 1 ||
        attr_i64(r->file, "format_version", 0) > VG_ARCHIVE_FORMAT_VERSION) {
        rc = -EPROTO;
        goto fail;
    }
    /* Last dataset first: the writer flushes readings and ticks before a /models row, so a
     * row this reader sees in a file being written never points past the readings and
     * ticks it sees. */
    for (int d = VG__DS_COUNT - 1; d >= 0; d--) {
        hid_t sp;
        hsize_t dims = 0;

        r->dset[d] = H5Dopen2(r->file, vg__ds[d].name, H5P_DEFAULT);
        if (d == VG__DS_MODELS && r->dset[d] >= 0) {
            hid_t ft = H5Dget_type(r->dset[d]);

            r->positions = ft >= 0 && H5Tget_member_index(ft, "tick_index") >= 0;
            if (ft >= 0)
                H5Tclose(ft);
            r->type[d] = vg__archive_models_type(r->positions);
        } else {
            r->type[d] = vg__archive_type((enum vg__ds)d);
        }
        if (r->dset[d] < 0 || r->type[d] < 0) {
            rc = -EIO; /* a Vigil archive (its attributes say so) that is damaged */
            goto fail;
        }
        sp = H5Dget_space(r->dset[d]);
        if (sp < 0 || H5Sget_simple_extent_dims(sp, &dims, NULL) != 1) {
            if (sp >= 0)
                H5Sclose(sp);
            rc = -EIO;
            goto fail;
        }
        H5Sclose(sp);
        r->count[d] = dims;
        if (d != VG__DS_MODEL_TEXT && (rc = cut_zero_tail(r, (enum vg__ds)d)) < 0)
            goto fail;
    }
    r->rbuf = malloc(BLOCK * sizeof(*r->rbuf));
    r->tbuf = malloc(BLOCK * sizeof(*r->tbuf));
    if (!r->rbuf || !r->tbuf) {
        rc = -ENOMEM;
        goto fail;
    }
    read_info(r);
    for (int t = VG_ARCHIVE_REC_READING; t < VG_ARCHIVE_REC_END; t++)
        r->info.count[t] = r->count[vg__archive_ds_of((enum vg_archive_rec)t)];
    if (r->count[VG__DS_TICKS]) {
        vg__row_tick first, last;

        if (read_rows(r, VG__DS_TICKS, 0, 1, &first) == 0 &&
            read_rows(r, VG__DS_TICKS, r->count[VG__DS_TICKS] - 1, 1, &last) == 0) {
            r->info.first_tick_ns = first.t_ns;
            r->info.last_tick_ns = last.t_ns;
            r->info.lost = last.lost;
        }
    }
    r->models = calloc(r->count[VG__DS_MODELS] + 1, sizeof(*r->models));
    if (!r->models) {
        rc = -ENOMEM;
        goto fail;
    }
    /* Files without positions leave them 0 (calloc): the reader reports them unpositioned. */
    if (read_rows(r, VG__DS_MODELS, 0, (size_t)r->count[VG__DS_MODELS], r->models) < 0) {
        rc = -EIO;
        goto fail;
    }
    if (r->count[VG__DS_MODELS]) {
        const vg__row_model *m = &r->models[0];

        r->info.model_digest = m->digest;
        snprintf(r->info.model_version, sizeof(r->info.model_version), "%.*s",
                 (int)sizeof(m->version), m->version);
        snprintf(r->info.model_path, sizeof(r->info.model_path), "%.*s",
                 (int)sizeof(m->path), m->path);
    }
    r->info.switch_positions = r->positions;
    r->next_model = 1;
    *ret = r;
    return 0;
fail:
    vg_archive_reader_free(&r);
    return rc;
}

int vg_archive_reader_info(const vg_archive_reader *r, vg_archive_info *ret)
{
    if (!r || !ret)
        return -EINVAL;
    *ret = r->info;
    return 0;
}

int vg_archive_reader_model_text(vg_archive_reader *r, size_t idx, char **ret_text,
                                 size_t *ret_len)
{
    vg__row_model m;
    char *text;
    int rc;

    if (!r || !ret_text)
        return -EINVAL;
    if (idx >= r->count[VG__DS_MODELS])
        return -ENOENT;
    rc = read_rows(r, VG__DS_MODELS, idx, 1, &m);
    if (rc < 0)
        return rc;
    if (m.offset + m.length > r->count[VG__DS_MODEL_TEXT])
        return -EIO;
    text = malloc(m.length + 1);
    if (!text)
        return -ENOMEM;
    rc = read_rows(r, VG__DS_MODEL_TEXT, m.offset, m.length, text);
    if (rc < 0) {
        free(text);
        return rc;
    }
    text[m.length] = '\0';
    *ret_text = text;
    if (ret_len)
        *ret_len = m.length;
    return 0;
}

/* Is row idx's switch a point of this file's input stream? After the previous switch, within
 * the file, and between the ticks around it. */
static int check_position(vg_archive_reader *r, size_t idx)
{
    const vg__row_model *m = &r->models[idx];
    uint64_t prev_r, prev_t; /* the previous switch (row 0: the start) */
    vg__row_tick t;

    if (idx == 0 || !r->positions)
        return 0;
    prev_r = idx > 1 ? r->models[idx - 1].reading_index : 0;
    prev_t = idx > 1 ? r->models[idx - 1].tick_index : 0;
    if (m->reading_index > r->count[VG__DS_READINGS] || m->tick_index > r->count[VG__DS_TICKS] ||
        m->reading_index < prev_r || m->tick_index < prev_t)
        return -ERANGE;
    if (m->tick_index > 0 && (read_rows(r, VG__DS_TICKS, m->tick_index - 1, 1, &t) < 0 ||
                              t.reading_index > m->reading_index))
        return -ERANGE;
    if (m->tick_index < r->count[VG__DS_TICKS] &&
        (read_rows(r, VG__DS_TICKS, m->tick_index, 1, &t) < 0 ||
         t.reading_index < m->reading_index))
        return -ERANGE;
    return 0;
}

int vg_archive_reader_model(vg_archive_reader *r, size_t idx, vg_archive_model *ret)
{
    const vg__row_model *m;

    if (!r || !ret)
        return -EINVAL;
    if (idx >= r->count[VG__DS_MODELS])
        return -ENOENT;
    m = &r->models[idx];
    memset(ret, 0, sizeof(*ret));
    ret->t_ns = m->t_ns;
    ret->digest = m->digest;
    ret->length = m->length;
    ret->positioned = idx == 0 || r->positions;
    ret->reading_index = idx == 0 ? 0 : m->reading_index;
    ret->tick_index = idx == 0 ? 0 : m->tick_index;
    snprintf(ret->version, sizeof(ret->version), "%.*s", (int)sizeof(m->version), m->version);
    snprintf(ret->path, sizeof(ret->path), "%.*s", (int)sizeof(m->path), m->path);
    return check_position(r, idx);
}

int vg_archive_reader_switches(vg_archive_reader *r, int on)
{
    if (!r)
        return -EINVAL;
    if (on)
        for (size_t i = 1; i < r->count[VG__DS_MODELS]; i++)
            if (check_position(r, i) < 0)
                return -ERANGE;
    r->switches = on != 0;
    return 0;
}

int vg_archive_reader_load_model(vg_archive_reader *r, vg_model **ret, vg_model_error *ret_err)
{
    return vg_archive_reader_load_model_at(r, 0, ret, ret_err);
}

int vg_archive_reader_load_model_at(vg_archive_reader *r, size_t idx, vg_model **ret,
                                    vg_model_error *ret_err)
{
    char *text = NULL, tmpl[PATH_MAX], mpath[sizeof(r->models->path) + 1];
    const char *slash;
    size_t len = 0;
    int fd, rc;

    if (!r || !ret)
        return -EINVAL;
    rc = vg_archive_reader_model_text(r, idx, &text, &len);
    if (rc < 0)
        return rc;
    snprintf(mpath, sizeof(mpath), "%.*s", (int)sizeof(r->models[idx].path),
             r->models[idx].path);
    /* Beside the original file when possible, so its @include paths still resolve. */
    slash = strrchr(mpath, '/');
    fd = -1;
    if (slash && (size_t)(slash - mpath) < sizeof(tmpl) - 32) {
        snprintf(tmpl, sizeof(tmpl), "%.*s/.vigil-replay-XXXXXX.cfg", (int)(slash - mpath),
                 mpath);
        fd = mkstemps(tmpl, 4);
    }
    if (fd < 0) {
        const char *dir = getenv("TMPDIR");

        snprintf(tmpl, sizeof(tmpl), "%s/vigil-replay-XXXXXX.cfg", dir && *dir ? dir : "/tmp");
        fd = mkstemps(tmpl, 4);
    }
    if (fd < 0) {
        rc = -errno;
        free(text);
        return rc;
    }
    if (write(fd, text, len) != (ssize_t)len) {
        rc = -EIO;
        close(fd);
        unlink(tmpl);
        free(text);
        return rc;
    }
    close(fd);
    free(text);
    rc = vg_model_load(tmpl, ret, ret_err);
    unlink(tmpl);
    return rc;
}

int vg_archive_reader_rewind(vg_archive_reader *r)
{
    if (!r)
        return -EINVAL;
    r->next_reading = r->next_tick = 0;
    r->next_model = 1;
    r->rn = r->tn = 0;
    r->rstart = r->tstart = 0;
    return 0;
}

static int load_block(vg_archive_reader *r, enum vg__ds d, uint64_t at)
{
    uint64_t left = r->count[d] - at;
    size_t n = left > BLOCK ? BLOCK : (size_t)left;
    int rc = read_rows(r, d, at, n, d == VG__DS_READINGS ? (void *)r->rbuf : (void *)r->tbuf);

    if (rc < 0)
        return rc;
    if (d == VG__DS_READINGS) {
        r->rstart = at;
        r->rn = n;
    } else {
        r->tstart = at;
        r->tn = n;
    }
    return 0;
}

int vg_archive_reader_next(vg_archive_reader *r, vg_archive_input *ret)
{
    uint64_t limit = r ? r->count[VG__DS_READINGS] : 0;
    const vg__row_tick *tick = NULL;
    int rc;

    if (!r || !ret)
        return -EINVAL;
    /* A switch comes before the input at its position. */
    if (r->switches && r->positions && r->next_model < r->count[VG__DS_MODELS] &&
        r->models[r->next_model].reading_index == r->next_reading &&
        r->models[r->next_model].tick_index == r->next_tick) {
        const vg__row_model *m = &r->models[r->next_model];

        memset(ret, 0, sizeof(*ret));
        ret->type = VG_ARCHIVE_REC_MODEL;
        ret->model = (uint32_t)r->next_model++;
        ret->t_ns = m->t_ns;
        return 1;
    }
    if (r->next_tick < r->count[VG__DS_TICKS]) {
        if (r->next_tick < r->tstart || r->next_tick >= r->tstart + r->tn) {
            rc = load_block(r, VG__DS_TICKS, r->next_tick);
            if (rc < 0)
                return rc;
        }
        tick = &r->tbuf[r->next_tick - r->tstart];
        if (tick->reading_index < limit)
            limit = tick->reading_index;
    }
    if (r->next_reading < limit) {
        const vg__row_reading *row;

        if (r->next_reading < r->rstart || r->next_reading >= r->rstart + r->rn) {
            rc = load_block(r, VG__DS_READINGS, r->next_reading);
            if (rc < 0)
                return rc;
        }
        row = &r->rbuf[r->next_reading - r->rstart];
        memset(ret, 0, sizeof(*ret));
        ret->type = VG_ARCHIVE_REC_READING;
        ret->reject = (uint8_t)(row->r.reserved & 0xff);
        ret->t_ns = row->r.t_ns;
        ret->reading = row->r;
        ret->reading.reserved = 0;
        r->next_reading++;
        return 1;
    }
    if (tick) {
        memset(ret, 0, sizeof(*ret));
        ret->type = VG_ARCHIVE_REC_TICK;
        ret->t_ns = tick->t_ns;
        ret->lost = tick->lost;
        r->next_tick++;
        return 1;
    }
    return 0;
}

int vg_archive_reader_read(vg_archive_reader *r, enum vg_archive_rec type, uint64_t start,
                           size_t n, void *out)
{
    int d = vg__archive_ds_of(type);
    int rc = 0;

    if (!r || d < 0 || type == VG_ARCHIVE_REC_MODEL || (!out && n) || start > r->count[d] ||
        n > r->count[d] - start)
        return -EINVAL;
    if (type == VG_ARCHIVE_REC_ALERT || type == VG_ARCHIVE_REC_TICK ||
        type == VG_ARCHIVE_REC_READING) {
        size_t done = 0;
        void *tmp = malloc((n < 1024 ? n : 1024) * vg__ds[d].row_size + 1);

        if (!tmp)
            return -ENOMEM;
        while (done < n && rc == 0) {
            size_t k = n - done < 1024 ? n - done : 1024;

            rc = read_rows(r, (enum vg__ds)d, start + done, k, tmp);
            for (size_t i = 0; i < k && rc == 0; i++) {
                if (type == VG_ARCHIVE_REC_ALERT) {
                    ((vg_alert_event *)out)[done + i] = ((vg__row_alert *)tmp)[i].ev;
                } else {
                    vg_archive_input *o = &((vg_archive_input *)out)[done + i];

                    memset(o, 0, sizeof(*o));
                    o->type = (uint8_t)type;
                    if (type == VG_ARCHIVE_REC_TICK) {
                        o->t_ns = ((vg__row_tick *)tmp)[i].t_ns;
                        o->lost = ((vg__row_tick *)tmp)[i].lost;
                    } else {
                        o->reading = ((vg__row_reading *)tmp)[i].r;
                        o->reject = (uint8_t)(o->reading.reserved & 0xff);
                        o->reading.reserved = 0;
                        o->t_ns = o->reading.t_ns;
                    }
                }
            }
            done += k;
        }
        free(tmp);
        return rc;
    }
    return read_rows(r, (enum vg__ds)d, start, n, out);
}

int vg_archive_replay(vg_archive_reader *r, vg_analysis *a, uint64_t *ret_readings)
{
    vg_archive_input in;
    uint64_t n = 0;
    int rc;

    if (!r || !a)
        return -EINVAL;
    while ((rc = vg_archive_reader_next(r, &in)) == 1) {
        if (in.type == VG_ARCHIVE_REC_READING) {
            vg_analysis_push(a, &in.reading);
            n++;
        } else if (in.type == VG_ARCHIVE_REC_TICK && vg_analysis_tick(a, in.t_ns) < 0) {
            return -EINVAL;
        }
    }
    if (rc < 0)
        return rc;
    if (ret_readings)
        *ret_readings = n;
    return 0;
}

int vg_archive_add_incidents(const char *path, const vg_archive_incident *inc, size_t n)
{
    hid_t f, d = -1, t = -1, fs = -1, ms = -1;
    hsize_t dims = 0, size, count = n;
    char fmt[32];
    int rc = -EIO;

    if (!path || (!inc && n))
        return -EINVAL;
    if (access(path, W_OK) != 0)
        return -errno;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (H5Fis_hdf5(path) <= 0)
        return -EPROTO;
    f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        return -EBUSY; /* still open for writing, or left by a crash (h5clear -s) */
    if (attr_str(f, "format", fmt, sizeof(fmt)) < 0 || strcmp(fmt, VG__ARCHIVE_FORMAT)) {
        rc = -EPROTO;
        goto out;
    }
    d = H5Dopen2(f, "incidents", H5P_DEFAULT);
    t = vg__archive_type(VG__DS_INCIDENTS);
    if (d < 0 || t < 0)
        goto out;
    fs = H5Dget_space(d);
    if (fs < 0 || H5Sget_simple_extent_dims(fs, &dims, NULL) != 1)
        goto out;
    H5Sclose(fs);
    fs = -1;
    if (n == 0) {
        rc = 0;
        goto out;
    }
    size = dims + n;
    if (H5Dset_extent(d, &size) < 0)
        goto out;
    fs = H5Dget_space(d);
    ms = H5Screate_simple(1, &count, NULL);
    if (fs < 0 || ms < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, &dims, NULL, &count, NULL) < 0 ||
        H5Dwrite(d, t, ms, fs, H5P_DEFAULT, inc) < 0)
        goto out;
    rc = 0;
out:
    if (ms >= 0)
        H5Sclose(ms);
    if (fs >= 0)
        H5Sclose(fs);
    if (t >= 0)
        H5Tclose(t);
    if (d >= 0)
        H5Dclose(d);
    if (H5Fclose(f) < 0 && rc == 0)
        rc = -EIO;
    return rc;
}

/* ---- where a new run's alert ids start ---- */

static int is_archive_name(const char *name, const char *prefix)
{
    size_t n = strlen(name), p = strlen(prefix);
    return n > p + 4 && strncmp(name, prefix, p) == 0 && name[p] == '-' &&
           strcmp(name + n - 3, ".h5") == 0;
}

/* The largest alert id in the file, or first_alert_id - 1 when it has none (what could be
 * read, on a read error). */
static int max_alert_id(vg_archive_reader *r, uint64_t *ret)
{
    enum { N = 64 };
    vg_alert_event *ev = malloc(N * sizeof(*ev));
    uint64_t n = r->info.count[VG_ARCHIVE_REC_ALERT], max = r->info.first_alert_id - 1;
    int rc = 0;

    if (!ev)
        return -ENOMEM;
    for (uint64_t i = 0; i < n && rc == 0; i += N) {
        size_t k = n - i < N ? (size_t)(n - i) : N;
        rc = vg_archive_reader_read(r, VG_ARCHIVE_REC_ALERT, i, k, ev);
        for (size_t j = 0; j < k && rc == 0; j++)
            if (ev[j].id > max)
                max = ev[j].id;
    }
    free(ev);
    *ret = max;
    return rc;
}

int vg_archive_next_alert_id(const char *dir, const char *prefix, uint64_t *ret)
{
    struct dirent **list = NULL;
    char path[PATH_MAX], newest[PATH_MAX] = "";
    int64_t newest_wall = INT64_MIN;
    uint32_t newest_index = 0;
    uint64_t max = 0;
    int n, rc = 0, unreadable = 0;

    if (!dir || !ret)
        return -EINVAL;
    if (!prefix)
        prefix = "vigil";
    n = scandir(dir, &list, NULL, alphasort);
    if (n < 0)
        return -errno;
    for (int i = 0; i < n; i++) {
        vg_archive_reader *r;

        if (!is_archive_name(list[i]->d_name, prefix)) {
            free(list[i]);
            continue;
        }
        if (snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name) >= (int)sizeof(path) ||
            vg_archive_reader_open(path, &r) < 0) {
            unreadable++;
        } else {
            const vg_archive_info *in = &r->info;
            if (in->first_alert_id - 1 > max)
                max = in->first_alert_id - 1;
            if (in->created_wall_ns > newest_wall ||
                (in->created_wall_ns == newest_wall && in->file_index >= newest_index)) {
                newest_wall = in->created_wall_ns;
                newest_index = in->file_index;
                snprintf(newest, sizeof(newest), "%s", path);
            }
            vg_archive_reader_free(&r);
        }
        free(list[i]);
    }
    free(list);
    /* Ids only grow, so the newest file holds the largest (its alerts are read; the others'
     * attributes only). */
    if (newest[0]) {
        vg_archive_reader *r;
        uint64_t m;

        if (vg_archive_reader_open(newest, &r) == 0) {
            rc = max_alert_id(r, &m);
            if (m > max)
                max = m;
            vg_archive_reader_free(&r);
        } else {
            rc = -EIO;
        }
        if (rc == -ENOMEM)
            return rc;
        unreadable += rc < 0;
    }
    *ret = max + 1;
    return unreadable;
}
