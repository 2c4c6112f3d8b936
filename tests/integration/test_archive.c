/* Integration tests of the archive with real HDF5 files, the real analysis core and the
 * archive thread, in a temp dir:
 *
 * - determinism: a scripted 15-minute stream (a concourse filling past its critical density
 *   and emptying, a CO2 rise, a help-point press, refused readings) runs through the core
 *   while the producer archives every reading and tick exactly as the engine does; the files
 *   (rotated every 5 minutes) are replayed through a fresh core and with `vigil replay
 *   --verify`: the alert stream is the same, byte for byte.
 * - crash safety: a child process archives with a 200 ms flush interval, tells the parent
 *   how many readings are surely flushed, keeps writing, and is killed with SIGKILL; the
 *   file opens and holds every one of those readings, in order.
 * - a full disk (RLIMIT_FSIZE with SIGXFSZ ignored): the thread counts the fault, keeps
 *   consuming without blocking the producer, and resumes in a new file.
 * - a removed directory: the next file cannot be created; once the directory is back the
 *   archive resumes there.
 * - tuning: `vigil tune` over the scripted archives measures lead times per setting.
 * - `vigil replay --publish`: a real ZeroMQ SUB socket receives the replayed alerts.
 * - reloads: the real engine (event clock, archive) reloads a model that removes a zone,
 *   renumbers cameras and sensors and lowers a threshold; `vigil replay --verify` and the
 *   library switch models where the live core did and give the live stream exactly (the
 *   first model alone does not), also through --publish's alert layer.
 * - one model for a replay or a sweep: `vigil replay --model` and `vigil tune` refuse a
 *   model of another venue or one that numbers zones (sensors, ...) otherwise than the
 *   archive's models; objects added at the end of a list replay exactly. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "archive_fixture.h"
#include "child.h"
#include "vigil/archive.h"
#include "vigil/common.h"
#include "vigil/engine.h"

#define S INT64_C(1000000000)
#define T0 (INT64_C(1779456000) * S)
#define MAX_EV 4096

/* The fixture's directory and model (archive_fixture.h), by their short names. */
static const char *const dir = af_dir;
static vg_model *model;

static void setup(void)
{
    archive_fixture_setup(getenv("VG_TEST_TMPDIR"), "vg-itest-archive");
    model = af_model;
}

static void teardown(void)
{
    archive_fixture_teardown();
    model = NULL;
}

TestSuite(archive, .init = setup, .fini = teardown, .timeout = 120);

static vg_reading reading(enum vg_reading_type type, uint32_t source, uint32_t zone,
                          int64_t t_ns, double v)
{
    vg_reading r;

    memset(&r, 0, sizeof(r));
    r.t_ns = t_ns;
    r.type = (uint8_t)type;
    r.source = source;
    r.zone = zone;
    r.value = v;
    return r;
}

/* ---------------------------------------------------------------- determinism */

struct live {
    vg_ring *ring;
    char json[MAX_EV][1024];
    size_t n;
    size_t kinds[VG_ALERT_KIND_COUNT];
    size_t raises;
};

static void push_wait(vg_ring *ring, int (*push)(vg_ring *, const void *), const void *p)
{
    int rc;

    while ((rc = push(ring, p)) == -EAGAIN)
        vg_ring_wait_writable(ring, VG_ARCHIVE_MAX_SLOTS, -1);
    cr_assert_eq(rc, 0);
}

static int push_alert_v(vg_ring *r, const void *p) { return vg_archive_push_alert(r, p); }
static int push_metrics_v(vg_ring *r, const void *p) { return vg_archive_push_metrics(r, p); }

static void live_alert(void *ctx, const vg_alert_event *ev)
{
    struct live *l = ctx;

    cr_assert_lt(l->n, MAX_EV);
    cr_assert_gt(vg_archive_alert_json(model, ev, l->json[l->n], sizeof(l->json[0])), 0);
    l->n++;
    if (ev->kind < VG_ALERT_KIND_COUNT)
        l->kinds[ev->kind]++;
    l->raises += ev->action == VG_ALERT_ACTION_RAISE;
    push_wait(l->ring, push_alert_v, ev);
}

static void live_metrics(void *ctx, int64_t t_ns, const vg_zone_metrics *m, size_t n)
{
    struct live *l = ctx;

    (void)t_ns;
    for (size_t i = 0; i < n; i++)
        push_wait(l->ring, push_metrics_v, &m[i]);
}

struct replayed {
    char (*json)[1024];
    size_t n;
};

static void replay_alert(void *ctx, const vg_alert_event *ev)
{
    struct replayed *r = ctx;

    cr_assert_lt(r->n, MAX_EV);
    vg_archive_alert_json(model, ev, r->json[r->n], sizeof(r->json[0]));
    r->n++;
}

/* The live side: what the engine's analysis thread does for each reading and tick. */
static void live_push(vg_analysis *an, struct live *l, const vg_reading *r)
{
    int why = vg_analysis_push(an, r), rc;

    while ((rc = vg_archive_push_reading(l->ring, r, why)) == -EAGAIN)
        vg_ring_wait_writable(l->ring, 1, -1);
    cr_assert_eq(rc, 0);
}

static void live_tick(vg_analysis *an, struct live *l, int64_t t)
{
    int rc;

    while ((rc = vg_archive_push_tick(l->ring, t, 0)) == -EAGAIN)
        vg_ring_wait_writable(l->ring, 1, -1);
    cr_assert_eq(vg_analysis_tick(an, t), 0);
}

/* Runs the scripted stream below through a live core while archiving (rotation every
 * 5 minutes); fills *l with the live alert stream. */
static void write_scenario(struct live *l)
{
    vg_archive_cfg c;
    vg_analysis_cfg acfg;
    vg_archive *a;
    vg_analysis *an;

    memset(l, 0, sizeof(*l));
    cr_assert_eq(vg_ring_new(VG_ARCHIVE_SLOT_SIZE, 4096, &l->ring), 0);
    vg_analysis_cfg_default(&acfg);
    acfg.sink.ctx = l;
    acfg.sink.on_alert = live_alert;
    acfg.sink.on_metrics = live_metrics;
    cr_assert_eq(vg_analysis_new(model, &acfg, &an), 0);
    vg_archive_cfg_default(&c);
    c.model = model;
    c.analysis = &acfg;
    c.rotate_ns = 300 * S;
    c.chunk_records = 256;
    cr_assert_eq(vg_archive_new(dir, &c, &a), 0);
    cr_assert_eq(vg_archive_start(a, l->ring), 0);
    /* 900 s at 1 Hz. conc (100 m²): 50 persons, then +2 per second from t=60 s to 500 at
     * t=285 s (5 p/m²: past warning 3, critical 4, emergency 5), held to t=400 s, then -2 per
     * second back to 50; hall steady at 800 (0.8 p/m²). co2 every 10 s: 600 ppm, 1700 ppm
     * from t=300 s to 600 s (over the 1500 warning), then 600. A medical help press at
     * t=120 s. Refused: a negative count at t=200 s, a co2 of 20000 ppm (out of range) at
     * t=205 s, and a duplicate camera reading at t=210 s. */
    for (int s = 0; s < 900; s++) {
        int64_t t = T0 + (int64_t)s * S;
        double conc = 50;
        vg_reading r;

        if (s >= 60 && s < 285)
            conc = 50 + 2 * (s - 60);
        else if (s >= 285 && s < 400)
            conc = 500;
        else if (s >= 400 && s < 625)
            conc = 500 - 2 * (s - 400);
        r = reading(VG_READING_COUNT, 0, 0, t + 100000000, conc);
        live_push(an, l, &r);
        if (s == 210)
            live_push(an, l, &r);
        r = reading(VG_READING_COUNT, 1, 1, t + 200000000, 800);
        live_push(an, l, &r);
        if (s % 10 == 0) {
            r = reading(VG_READING_SENSOR, 0, VG_MODEL_NONE, t + 300000000,
                        s >= 300 && s < 600 ? 1700 : 600);
            live_push(an, l, &r);
        }
        if (s == 120) {
            r = reading(VG_READING_HELP, 0, 0, t + 400000000, 0);
            r.sub = VG_HELP_MEDICAL;
            live_push(an, l, &r);
        }
        if (s == 200) {
            r = reading(VG_READING_COUNT, 1, 1, t + 500000000, -3);
            live_push(an, l, &r);
        }
        if (s == 205) {
            r = reading(VG_READING_SENSOR, 0, VG_MODEL_NONE, t + 600000000, 20000);
            live_push(an, l, &r);
        }
        live_tick(an, l, t + S);
    }
    cr_assert_eq(vg_archive_stop(a), 0);
    {
        vg_archive_stats st;

        vg_archive_get_stats(a, &st);
        cr_assert_eq(st.dropped, 0);
        cr_assert_eq(st.faults, 0);
        /* ticks T0+1 s .. T0+900 s in 300 s files: [1,300) [300,600) [600,900) [900] */
        cr_assert_eq(st.files, 4, "files %llu", (unsigned long long)st.files);
        cr_assert_eq(st.written[VG_ARCHIVE_REC_ALERT], l->n);
        cr_assert_eq(st.written[VG_ARCHIVE_REC_TICK], 900);
    }
    vg_archive_free(&a);
    vg_analysis_free(&an);
    vg_ring_free(&l->ring);

}

Test(archive, replay_reproduces_the_live_alert_stream_byte_for_byte)
{
    static struct live l;
    static char replay_json[MAX_EV][1024];
    struct replayed rep = {replay_json, 0};
    char names[16][512];
    int nfiles;

    write_scenario(&l);
    /* The script must have raised the alerts it was written for, else the comparison below
     * proves nothing. */
    cr_assert_geq(l.kinds[VG_ALERT_DENSITY], 3, "density events: %zu", l.kinds[VG_ALERT_DENSITY]);
    cr_assert_geq(l.kinds[VG_ALERT_HELP_MEDICAL], 1);
    cr_assert_geq(l.raises, 2);

    /* Replay: the archived model and settings, all files in order, one core. */
    nfiles = list_archives(dir, names, 16);
    cr_assert_eq(nfiles, 4);
    {
        vg_archive_reader *rd;
        vg_model *m2 = NULL;
        vg_model_error err;
        vg_archive_info info;
        vg_analysis *an2 = NULL;
        uint64_t total = 0;

        for (int f = 0; f < nfiles; f++) {
            uint64_t n = 0;

            cr_assert_eq(vg_archive_reader_open(names[f], &rd), 0);
            if (!an2) {
                cr_assert_eq(vg_archive_reader_load_model(rd, &m2, &err), 0, "%s", err.message);
                vg_archive_reader_info(rd, &info);
                info.analysis.sink.ctx = &rep;
                info.analysis.sink.on_alert = replay_alert;
                cr_assert_eq(vg_analysis_new(m2, &info.analysis, &an2), 0);
            }
            cr_assert_eq(vg_archive_replay(rd, an2, &n), 0);
            total += n;
            vg_archive_reader_free(&rd);
        }
        /* 900 × 2 camera readings, 90 co2, 1 help, 3 refused */
        cr_assert_eq(total, 1800 + 90 + 1 + 3);
        vg_analysis_free(&an2);
        vg_model_free(&m2);
    }
    cr_assert_eq(rep.n, l.n, "replayed %zu events, live %zu", rep.n, l.n);
    for (size_t i = 0; i < l.n; i++)
        cr_assert_str_eq(replay_json[i], l.json[i], "event %zu differs", i);

    /* The same through the program: `vigil replay --verify` prints the live stream. */
    {
        char cmd[4096], line[2048], out_path[256];
        const char *vigil = getenv("VG_VIGIL");
        FILE *p;
        size_t i = 0;
        int len, st;

        cr_assert_not_null(vigil, "VG_VIGIL is set by meson");
        snprintf(out_path, sizeof(out_path), "%s/replay.err", dir);
        len = snprintf(cmd, sizeof(cmd), "%s replay --verify", vigil);
        for (int f = 0; f < nfiles; f++)
            len += snprintf(cmd + len, sizeof(cmd) - (size_t)len, " %s", names[f]);
        snprintf(cmd + len, sizeof(cmd) - (size_t)len, " 2>%s", out_path);
        p = popen(cmd, "r");
        cr_assert_not_null(p);
        while (fgets(line, sizeof(line), p)) {
            line[strcspn(line, "\n")] = '\0';
            cr_assert_lt(i, l.n);
            cr_assert_str_eq(line, l.json[i], "line %zu", i);
            i++;
        }
        st = pclose(p);
        cr_assert_eq(i, l.n);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "vigil replay --verify failed");
    }
}

/* ---------------------------------------------------------------- crash safety */

static void child_writer(int fd)
{
    vg_archive_cfg c;
    vg_archive *a;
    vg_ring *ring;
    vg_archive_stats st;
    uint32_t tag = 0;
    const uint32_t sure = 50000;
    uint64_t flushes;

    vg_archive_cfg_default(&c);
    c.model = model;
    c.flush_interval_ns = 200 * VG_NS_PER_MS;
    c.chunk_records = 1024;
    if (vg_archive_new(dir, &c, &a) < 0 || vg_ring_new(VG_ARCHIVE_SLOT_SIZE, 8192, &ring) < 0 ||
        vg_archive_start(a, ring) < 0)
        _exit(3);
    for (;;) {
        vg_reading r = reading(VG_READING_SENSOR, 0, VG_MODEL_NONE,
                               T0 + (int64_t)tag * 1000000, 400 + tag % 1000);

        r.tag = tag;
        while (vg_archive_push_reading(ring, &r, 0) == -EAGAIN)
            vg_ring_wait_writable(ring, 1, -1);
        tag++;
        if (tag % 1000 == 0)
            while (vg_archive_push_tick(ring, T0 + (int64_t)tag * 1000000, 0) == -EAGAIN)
                vg_ring_wait_writable(ring, 1, -1);
        if (tag == sure) {
            /* Every reading up to `sure` is consumed; the next flush after that has them. */
            do {
                vg_archive_get_stats(a, &st);
            } while (st.written[VG_ARCHIVE_REC_READING] < sure && !usleep(1000));
            flushes = st.flushes;
            do {
                vg_archive_get_stats(a, &st);
            } while (st.flushes < flushes + 1 && !usleep(1000));
            if (write(fd, &tag, sizeof(tag)) != sizeof(tag))
                _exit(4);
        }
    }
}

Test(archive, sigkill_keeps_every_reading_up_to_the_last_flush)
{
    int fds[2];
    pid_t pid;
    uint32_t sure = 0;
    struct pollfd pfd;
    char names[4][512];
    vg_archive_reader *rd;
    vg_archive_info info;
    vg_archive_input in;
    uint64_t n = 0;
    int st;

    cr_assert_eq(pipe(fds), 0);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        child_writer(fds[1]);
        _exit(0);
    }
    close(fds[1]);
    pfd.fd = fds[0];
    pfd.events = POLLIN;
    cr_assert_eq(poll(&pfd, 1, 60000), 1, "the writer never reported");
    cr_assert_eq(read(fds[0], &sure, sizeof(sure)), (ssize_t)sizeof(sure));
    cr_assert_eq(sure, 50000);
    /* Still writing (readings past `sure`, unflushed buffers) when it dies. */
    cr_assert_eq(kill(pid, SIGKILL), 0);
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    close(fds[0]);

    cr_assert_eq(list_archives(dir, names, 4), 1);
    cr_assert_eq(vg_archive_reader_open(names[0], &rd), 0, "the killed writer's file opens");
    vg_archive_reader_info(rd, &info);
    cr_assert_geq(info.count[VG_ARCHIVE_REC_READING], sure);
    while (vg_archive_reader_next(rd, &in) == 1) {
        if (in.type != VG_ARCHIVE_REC_READING)
            continue;
        cr_assert_eq(in.reading.tag, n, "reading %llu", (unsigned long long)n);
        cr_assert_float_eq(in.reading.value, 400 + n % 1000, 0);
        n++;
    }
    cr_assert_geq(n, sure);
    vg_archive_reader_free(&rd);
}

/* ---------------------------------------------------------------- faults */

static vg_archive_stats wait_stats(vg_archive *a, int (*ok)(const vg_archive_stats *),
                                   int64_t timeout_ns)
{
    int64_t deadline = vg_mono_ns() + timeout_ns;
    vg_archive_stats st;

    for (;;) {
        vg_archive_get_stats(a, &st);
        if (ok(&st) || vg_mono_ns() > deadline)
            return st;
        usleep(2000);
    }
}

static int is_faulted(const vg_archive_stats *st) { return st->faulted; }
static int is_recovered(const vg_archive_stats *st) { return !st->faulted && st->files >= 2; }

/* Pushes readings (never waiting: as the engine does) with tags from *tag; returns how many
 * the ring refused. */
static uint64_t push_burst(vg_ring *ring, uint32_t *tag, uint32_t n)
{
    uint64_t refused = 0;

    for (uint32_t i = 0; i < n; i++) {
        /* incompressible enough to fill the file quickly */
        vg_reading r = reading(VG_READING_SENSOR, 0, VG_MODEL_NONE, T0 + (int64_t)*tag * 1000,
                               (double)(*tag) * 1.000000123456789);

        r.tag = *tag;
        if (vg_archive_push_reading(ring, &r, 0) == 0)
            (*tag)++;
        else
            refused++;
    }
    return refused;
}

/* Runs `vigil CMD_NAME ARGS` with stdout to out_path and stderr to err_path; returns the exit
 * status (-1 when it did not exit). */
static int run_vigil(const char *cmd_name, const char *args, const char *out_path,
                     const char *err_path)
{
    return child_sh("%s %s %s >%s 2>%s", getenv("VG_VIGIL"), cmd_name, args, out_path, err_path);
}

/* An archive thread writing uncompressed small chunks, flushing every 50 ms and trying a new
 * file every retry_ns after a fault, fed through *ring. */
static vg_archive *start_filling(vg_ring **ring, int64_t retry_ns)
{
    vg_archive_cfg c;
    vg_archive *a;

    signal(SIGXFSZ, SIG_IGN); /* write() then fails with EFBIG instead of killing us */
    vg_archive_cfg_default(&c);
    c.model = model;
    c.compression = 0;
    c.chunk_records = 1024;
    c.flush_interval_ns = 50 * VG_NS_PER_MS;
    c.retry_ns = retry_ns;
    cr_assert_eq(vg_archive_new(dir, &c, &a), 0);
    cr_assert_eq(vg_ring_new(VG_ARCHIVE_SLOT_SIZE, 4096, ring), 0);
    cr_assert_eq(vg_archive_start(a, *ring), 0);
    return a;
}

/* Makes the "disk" hold `bytes` a file (RLIMIT_FSIZE, as a full disk) and pushes readings
 * until the archive faults; the caller restores the limit. */
static vg_archive_stats fill_until_fault(vg_archive *a, vg_ring *ring, uint32_t *tag,
                                         rlim_t bytes)
{
    struct rlimit low;
    vg_archive_stats st;
    int64_t deadline = vg_mono_ns() + 30 * S;

    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &low), 0);
    low.rlim_cur = bytes;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &low), 0);
    do {
        push_burst(ring, tag, 1000);
        usleep(1000);
        vg_archive_get_stats(a, &st);
    } while (!st.faulted && vg_mono_ns() < deadline);
    cr_assert_eq(st.faulted, 1, "no fault after %u readings", *tag);
    return st;
}

Test(archive, full_disk_is_counted_and_a_new_file_follows)
{
    vg_archive *a;
    vg_ring *ring;
    vg_archive_stats st;
    struct rlimit lim;
    uint32_t tag = 0, first_after;
    int64_t deadline;
    vg_archive_reader *rd;
    vg_archive_info info;
    vg_archive_input in;
    int seen_first = 0;

    a = start_filling(&ring, 1 * S);
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &lim), 0);
    st = fill_until_fault(a, ring, &tag, 512 * 1024); /* about 10,000 readings */
    cr_assert_geq(st.faults, 1);
    cr_assert_lt(st.last_error, 0);
    /* Still consuming while faulted: what it takes now is dropped and counted. */
    {
        uint64_t dropped = st.dropped;

        push_burst(ring, &tag, 500);
        st = wait_stats(a, is_faulted, 1 * S);
        deadline = vg_mono_ns() + 10 * S;
        while (vg_ring_depth(ring) && vg_mono_ns() < deadline)
            usleep(1000);
        vg_archive_get_stats(a, &st);
        cr_assert_gt(st.dropped, dropped);
    }
    /* Space returns: the next retry opens a new file and archiving resumes there. */
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    st = wait_stats(a, is_recovered, 10 * S);
    cr_assert(is_recovered(&st), "faulted %d files %llu", st.faulted,
              (unsigned long long)st.files);
    first_after = tag;
    push_burst(ring, &tag, 2000);
    cr_assert_eq(vg_archive_stop(a), st.last_error); /* stop reports the past fault */
    vg_archive_get_stats(a, &st);
    cr_assert_eq(st.faulted, 0);
    vg_archive_free(&a);
    vg_ring_free(&ring);

    cr_assert_eq(vg_archive_reader_open(st.path, &rd), 0);
    vg_archive_reader_info(rd, &info);
    cr_assert_eq(info.after_fault, 1);
    cr_assert_geq(info.file_index, 1);
    while (vg_archive_reader_next(rd, &in) == 1) {
        if (in.reading.tag == first_after)
            seen_first = 1;
        if (seen_first) {
            cr_assert_eq(in.reading.tag, first_after, "readings after recovery are all there");
            first_after++;
        }
    }
    cr_assert(seen_first);
    cr_assert_eq(first_after, tag);
    vg_archive_reader_free(&rd);

    /* replay says the file follows a fault, so a reviewer knows the live run may differ */
    {
        char out[600], err[600], text[4096] = "";
        snprintf(out, sizeof(out), "%s/replay.out", dir);
        snprintf(err, sizeof(err), "%s/replay.err", dir);
        cr_assert_eq(run_vigil("replay", st.path, out, err), 0);
        FILE *f = fopen(err, "r");
        cr_assert_not_null(f);
        text[fread(text, 1, sizeof(text) - 1, f)] = '\0';
        fclose(f);
        cr_assert_not_null(strstr(text, "written after an archive fault lost records"), "%s",
                           text);
    }
}

/* What a full disk leaves behind is counted honestly: every reading the archive took is in
 * a file or counted as dropped, and none counted as written is missing from the files.
 * Before 2026-11-23 rows taken since the last flush counted as written even when the fault
 * then lost them, and those still buffered counted twice (written and dropped). */
Test(archive, full_disk_counts_each_reading_once_in_a_file_or_dropped)
{
    vg_archive *a;
    vg_ring *ring;
    vg_archive_stats st;
    struct rlimit lim;
    uint32_t tag = 0;
    char names[16][512];
    unsigned char *seen;
    uint64_t in_files = 0;
    int n;

    a = start_filling(&ring, 200 * VG_NS_PER_MS);
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &lim), 0);
    fill_until_fault(a, ring, &tag, 512 * 1024);
    push_burst(ring, &tag, 500); /* taken while there is no file */
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    st = wait_stats(a, is_recovered, 10 * S);
    cr_assert(is_recovered(&st));
    push_burst(ring, &tag, 2000);
    vg_archive_stop(a);
    vg_archive_get_stats(a, &st);
    vg_archive_free(&a);
    vg_ring_free(&ring);

    seen = calloc(tag, 1);
    cr_assert_not_null(seen);
    n = list_archives(dir, names, 16);
    cr_assert_geq(n, 2);
    for (int i = 0; i < n; i++) {
        vg_archive_reader *rd;
        vg_archive_input in;

        cr_assert_eq(vg_archive_reader_open(names[i], &rd), 0, "%s", names[i]);
        while (vg_archive_reader_next(rd, &in) == 1) {
            if (in.type != VG_ARCHIVE_REC_READING)
                continue;
            cr_assert_lt(in.reading.tag, tag);
            cr_assert_eq(seen[in.reading.tag], 0, "reading %u archived twice", in.reading.tag);
            seen[in.reading.tag] = 1;
            in_files++;
        }
        vg_archive_reader_free(&rd);
    }
    free(seen);
    cr_log_info("%u readings taken: %llu in files, %llu written, %llu records dropped", tag,
                (unsigned long long)in_files,
                (unsigned long long)st.written[VG_ARCHIVE_REC_READING],
                (unsigned long long)st.dropped);
    cr_assert_leq(st.written[VG_ARCHIVE_REC_READING], in_files,
                  "counted as written but not in any file");
    cr_assert_geq(in_files + st.dropped, tag, "lost without being counted");
    /* Each reading once: the only other records are the files' model rows. */
    cr_assert_leq(st.written[VG_ARCHIVE_REC_READING] + st.dropped, (uint64_t)tag + st.files,
                  "counted twice");
}

Test(archive, removed_directory_is_a_fault_until_it_is_back)
{
    vg_archive_cfg c;
    vg_archive *a;
    vg_ring *ring;
    vg_archive_stats st;
    char adir[256], names[8][512];
    int64_t deadline;
    int k = 0;

    snprintf(adir, sizeof(adir), "%s/arch", dir);
    cr_assert_eq(mkdir(adir, 0755), 0);
    vg_archive_cfg_default(&c);
    c.model = model;
    c.rotate_ns = 60 * S;
    c.retry_ns = 100 * VG_NS_PER_MS;
    cr_assert_eq(vg_archive_new(adir, &c, &a), 0);
    cr_assert_eq(vg_ring_new(VG_ARCHIVE_SLOT_SIZE, 1024, &ring), 0);
    cr_assert_eq(vg_archive_start(a, ring), 0);
    cr_assert_eq(vg_archive_push_tick(ring, T0, 0), 0);
    /* the operator's mistake: the directory goes away under the running engine */
    deadline = vg_mono_ns() + 10 * S;
    do {
        vg_archive_get_stats(a, &st);
    } while (st.written[VG_ARCHIVE_REC_TICK] < 1 && vg_mono_ns() < deadline && !usleep(1000));
    rm_rf(adir);
    /* the next minute needs a new file there */
    cr_assert_eq(vg_archive_push_tick(ring, T0 + 60 * S, 0), 0);
    st = wait_stats(a, is_faulted, 10 * S);
    cr_assert_eq(st.faulted, 1);
    cr_assert_eq(st.last_error, -ENOENT);
    cr_assert_eq(mkdir(adir, 0755), 0);
    st = wait_stats(a, is_recovered, 10 * S);
    cr_assert(is_recovered(&st));
    for (k = 0; k < 5; k++)
        cr_assert_eq(vg_archive_push_tick(ring, T0 + (61 + k) * S, 0), 0);
    cr_assert_eq(vg_archive_stop(a), -ENOENT);
    vg_archive_free(&a);
    vg_ring_free(&ring);
    cr_assert_eq(list_archives(adir, names, 8), 1);
    {
        vg_archive_reader *rd;
        vg_archive_info info;

        cr_assert_eq(vg_archive_reader_open(names[0], &rd), 0);
        vg_archive_reader_info(rd, &info);
        cr_assert_eq(info.after_fault, 1);
        cr_assert_eq(info.count[VG_ARCHIVE_REC_TICK], 5);
        cr_assert_eq(info.last_tick_ns, T0 + 65 * S);
        vg_archive_reader_free(&rd);
    }
}

/* ---------------------------------------------------------------- tuning */

/* `vigil tune` over the scripted archives with an incident marked in the last file: the
 * concourse reaches its critical 4 p/m² (400 persons) at t=235 s. Varying the moving
 * advisory level 1.0, 1.5, 2.0 p/m² moves the first density alert with the count ramp
 * (2 persons/s on 100 m² = 0.02 p/m² per s): it crosses 1.0 at t=85 s, 1.5 at t=110 s,
 * 2.0 at t=135 s, and everything after the crossing (on-delay, lateness) is the same for
 * each, so the lead times differ by exactly 25 s, falling as the level rises. */
Test(archive, tune_reports_lead_time_per_setting)
{
    static struct live l;
    char names[16][512], cmd[4096], csv[256], png[256], line[1024];
    vg_archive_incident inc;
    double lead[3], per10_per_act[3];
    unsigned long long adv[3];
    int nfiles, len, have_gnuplot;
    FILE *f;

    write_scenario(&l);
    nfiles = list_archives(dir, names, 16);
    cr_assert_eq(nfiles, 4);
    memset(&inc, 0, sizeof(inc));
    inc.t_start_ns = T0 + 60 * S;
    inc.t_critical_ns = T0 + 235 * S;
    inc.t_end_ns = T0 + 625 * S;
    inc.zone = 0;
    inc.kind = VG_ALERT_DENSITY;
    snprintf(inc.id, sizeof(inc.id), "conc-buildup");
    cr_assert_eq(vg_archive_add_incidents(names[nfiles - 1], &inc, 1), 0);

    snprintf(csv, sizeof(csv), "%s/tune.csv", dir);
    snprintf(png, sizeof(png), "%s/tune.png", dir);
    len = snprintf(cmd, sizeof(cmd), "%s tune", getenv("VG_VIGIL"));
    for (int i = 0; i < nfiles; i++)
        len += snprintf(cmd + len, sizeof(cmd) - (size_t)len, " %s", names[i]);
    /* gnuplot-nox is a dependency of --plot only (deploy/install-deps.sh) */
    have_gnuplot = system("command -v gnuplot >/dev/null 2>&1") == 0;
    if (!have_gnuplot)
        cr_log_warn("gnuplot is not installed: --plot is not tested");
    snprintf(cmd + len, sizeof(cmd) - (size_t)len,
             " --vary profiles.default.density.moving.advisory=1.0:2.0:0.5 --csv %s%s%s"
             " >/dev/null",
             csv, have_gnuplot ? " --plot " : "", have_gnuplot ? png : "");
    cr_assert_eq(child_sh("%s", cmd), 0, "%s", cmd);

    f = fopen(csv, "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(line, sizeof(line), f));
    cr_assert_str_eq(line, "profiles.default.density.moving.advisory,advisory,warning,critical,"
                           "emergency,security,medical,technical,supervisor,activations,"
                           "per_10min,peak_10min,eemua,chattering,incidents,caught,"
                           "mean_lead_s,min_lead_s\n");
    for (int i = 0; i < 3; i++) {
        double level;
        unsigned long long incidents, caught;
        char *p;

        cr_assert_not_null(fgets(line, sizeof(line), f), "row %d", i);
        level = strtod(line, &p);
        cr_assert_float_eq(level, 1.0 + 0.5 * i, 1e-9);
        /* level, adv, warn, crit, emer, sec, med, tech, sup, activations, per10, peak,
         * eemua, chattering, incidents, caught, mean, min */
        {
            char *fld[18];
            int k = 0;

            for (char *tok = strtok(line, ","); tok && k < 18; tok = strtok(NULL, ","))
                fld[k++] = tok;
            cr_assert_eq(k, 18);
            adv[i] = strtoull(fld[1], NULL, 10);
            incidents = strtoull(fld[14], NULL, 10);
            caught = strtoull(fld[15], NULL, 10);
            lead[i] = strtod(fld[16], NULL);
            cr_assert_eq(incidents, 1);
            cr_assert_eq(caught, 1);
            cr_assert_float_eq(strtod(fld[17], NULL), lead[i], 1e-9);
            /* the alarm-load columns, as docs/archive.md defines them (EEMUA 191) */
            const double acts = strtod(fld[9], NULL), per10 = strtod(fld[10], NULL);
            const double peak = strtod(fld[11], NULL);
            const char *want = peak >= 10 ? "flood" : per10 <= 1 ? "acceptable"
                               : per10 <= 2 ? "manageable" : "overloaded";
            cr_assert_str_eq(fld[12], want, "row %d: per10 %g peak %g", i, per10, peak);
            cr_assert_leq(peak, acts, "row %d", i);
            cr_assert_geq(peak, acts > 0 ? 1 : 0, "row %d", i);
            per10_per_act[i] = acts > 0 ? per10 / acts : -1;
        }
    }
    fclose(f);
    /* one archive, one duration: per_10min is activations over the same span in every row */
    for (int i = 1; i < 3; i++)
        if (per10_per_act[i] > 0 && per10_per_act[0] > 0)
            cr_assert_float_eq(per10_per_act[i], per10_per_act[0], 1e-3 * per10_per_act[0]);
    cr_assert_gt(lead[2], 0, "the alert came before critical");
    cr_assert_float_eq(lead[0] - lead[1], 25.0, 1e-6, "leads %g %g %g", lead[0], lead[1], lead[2]);
    cr_assert_float_eq(lead[1] - lead[2], 25.0, 1e-6, "leads %g %g %g", lead[0], lead[1], lead[2]);
    cr_assert_geq(adv[0], 1);

    /* the plot is a PNG */
    if (have_gnuplot) {
        f = fopen(png, "rb");
        cr_assert_not_null(f);
        cr_assert_eq(fread(line, 1, 8, f), 8);
        cr_assert_eq(memcmp(line, "\x89PNG\r\n\x1a\n", 8), 0);
        fclose(f);
    }

    /* The same incident from a simulator's ground truth (vigil sim --truth): two incidents,
     * both caught with the same lead as before at advisory 1.0 (its window starts 5 s before
     * t_start, like the simulator's; the first alert is well after that). */
    {
        char truth[256], tcmd[4600];
        const char *fields[18];
        char row[1024];
        int k = 0;

        snprintf(truth, sizeof(truth), "%s/truth.json", dir);
        f = fopen(truth, "w");
        cr_assert_not_null(f);
        fprintf(f, "{\"v\":1,\"scenario\":\"t\",\"incidents\":[{\"id\":\"sim-1\","
                   "\"type\":\"gate_closed\",\"zone\":\"conc\",\"t_start\":1779456060.000,"
                   "\"t_end\":1779456625.000,\"buildup\":true,\"t_critical\":1779456235.000,"
                   "\"window\":[1779456055.000,1779456745.000],\"expect\":[{\"kind\":"
                   "\"density\",\"feed\":\"security\",\"min_grade\":\"warning\"}]}]}\n");
        fclose(f);
        snprintf(tcmd, sizeof(tcmd), "%.*s --truth %s --vary "
                 "profiles.default.density.moving.advisory=1.0:1.0:1 --csv - 2>/dev/null",
                 len, cmd, truth);
        f = popen(tcmd, "r");
        cr_assert_not_null(f);
        cr_assert_not_null(fgets(row, sizeof(row), f)); /* header */
        cr_assert_not_null(fgets(row, sizeof(row), f));
        cr_assert_eq(pclose(f), 0);
        for (char *tok = strtok(row, ","); tok && k < 18; tok = strtok(NULL, ","))
            fields[k++] = tok;
        cr_assert_eq(k, 18);
        cr_assert_eq(strtoull(fields[14], NULL, 10), 2, "incidents");
        cr_assert_eq(strtoull(fields[15], NULL, 10), 2, "caught");
        cr_assert_float_eq(strtod(fields[16], NULL), lead[0], 1e-6);
    }

    /* usage errors */
    snprintf(cmd + len, sizeof(cmd) - (size_t)len, " --vary nope=2:1:1 >/dev/null 2>&1");
    cr_assert_eq(child_sh("%s", cmd), 2);
    snprintf(cmd + len, sizeof(cmd) - (size_t)len,
             " --vary profiles.nope.density.x=1:2:1 >/dev/null 2>&1");
    cr_assert_eq(child_sh("%s", cmd), 2, "a profile the model does not have");
}

/* A --vary KEY the model does not have (a misspelt name, an unknown zone) or a range the
 * model refuses is bad usage, exit 2, found before the sweep and before the warning that
 * there are no incidents (it was exit 1, in the sweep), as an unknown core setting is. */
Test(archive, tune_refuses_an_unknown_key_as_bad_usage)
{
    static struct live l;
    static const struct {
        const char *vary, *want;
    } cases[] = {
        {"profiles.default.density.moving.warnign=2.5:3.5:0.5", "warnign: unknown key"},
        {"zones.NOPE.area_m2=1:2:1", "--vary zones.NOPE.area_m2: no such numeric setting"},
        {"profiles.default.density.moving.warning=2.5:9:0.5", "levels must rise"},
        {"analysis.bogus=0:1:1", "unknown core setting"},
    };
    char names[16][512], args[1024], out[300], errp[300];

    write_scenario(&l);
    cr_assert_eq(list_archives(dir, names, 16), 4);
    snprintf(out, sizeof(out), "%s/tune.out", dir);
    snprintf(errp, sizeof(errp), "%s/tune.err", dir);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(args, sizeof(args), "%s --vary %s", names[0], cases[i].vary);
        cr_expect_eq(run_vigil("tune", args, out, errp), 2, "--vary %s", cases[i].vary);
        cr_expect_eq(count_lines(errp, cases[i].want), 1, "--vary %s", cases[i].vary);
        cr_expect_eq(count_lines(errp, "no incidents"), 0, "--vary %s", cases[i].vary);
        cr_expect_eq(count_lines(out, NULL), 0, "--vary %s: no table", cases[i].vary);
    }
}

/* ---------------------------------------------------------------- replay --publish */

/* A SUB socket connects to a free loopback port first; `vigil replay --publish` binds it,
 * waits a second for subscribers, replays the scripted archives and publishes through the
 * alert layer: the subscriber sees the concourse's density alert on the security feed
 * (topic security.<grade>.conc, JSON naming the kind). */
/* A SUB socket for `vigil replay --publish`, subscribed to prefix and connected to a free
 * loopback port (a throwaway PUB socket bound to :* picks it), whose endpoint goes to ep. */
static void *replay_subscriber(void *ctx, const char *prefix, char *ep, size_t cap)
{
    void *probe = zmq_socket(ctx, ZMQ_PUB), *sub;
    char last[64];
    size_t ll = sizeof(last);
    int timeout_ms = 500;

    cr_assert_eq(zmq_bind(probe, "tcp://127.0.0.1:*"), 0);
    cr_assert_eq(zmq_getsockopt(probe, ZMQ_LAST_ENDPOINT, last, &ll), 0);
    snprintf(ep, cap, "tcp://127.0.0.1:%d", atoi(strrchr(last, ':') + 1));
    zmq_close(probe);
    sub = zmq_socket(ctx, ZMQ_SUB);
    cr_assert_eq(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, prefix, strlen(prefix)), 0);
    cr_assert_eq(zmq_setsockopt(sub, ZMQ_RCVTIMEO, &timeout_ms, sizeof(timeout_ms)), 0);
    cr_assert_eq(zmq_connect(sub, ep), 0);
    return sub;
}

/* One alert message (topic, body; NUL-terminated, cut to fit). Returns 1, or 0 on timeout
 * or a message that is not topic + body. */
static int recv_alert(void *sub, char *topic, size_t tcap, char *body, size_t bcap)
{
    int more = 0, n = zmq_recv(sub, topic, tcap - 1, 0);
    size_t ml = sizeof(more);

    if (n < 0)
        return 0;
    topic[(size_t)n < tcap - 1 ? (size_t)n : tcap - 1] = '\0';
    zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &ml);
    if (!more || (n = zmq_recv(sub, body, bcap - 1, 0)) < 0)
        return 0;
    body[(size_t)n < bcap - 1 ? (size_t)n : bcap - 1] = '\0';
    return 1;
}

Test(archive, replay_publishes_on_zeromq)
{
    static struct live l;
    char names[16][512], cmd[4096], ep[64], topic[256], body[4096];
    void *ctx, *sub;
    int nfiles, len, seen = 0;
    int64_t deadline;
    FILE *p;

    write_scenario(&l);
    nfiles = list_archives(dir, names, 16);
    cr_assert_eq(nfiles, 4);
    ctx = zmq_ctx_new();
    sub = replay_subscriber(ctx, "security.", ep, sizeof(ep));
    len = snprintf(cmd, sizeof(cmd), "%s replay --quiet --publish %s", getenv("VG_VIGIL"), ep);
    for (int i = 0; i < nfiles; i++)
        len += snprintf(cmd + len, sizeof(cmd) - (size_t)len, " %s", names[i]);
    snprintf(cmd + len, sizeof(cmd) - (size_t)len, " 2>/dev/null");
    p = popen(cmd, "r");
    cr_assert_not_null(p);
    deadline = vg_mono_ns() + 30 * S;
    while (!seen && vg_mono_ns() < deadline)
        if (recv_alert(sub, topic, sizeof(topic), body, sizeof(body)) && strstr(topic, ".conc") &&
            strstr(body, "\"density\""))
            seen = 1;
    cr_assert_eq(pclose(p), 0);
    cr_assert(seen, "no density alert for conc on the security feed");
    zmq_close(sub);
    zmq_ctx_term(ctx);
}

/* An endpoint that is not tcp://HOST:PORT (or :*) is bad usage, as for `vigil run --feeds`:
 * exit 2 before anything is replayed (it was exit 1, "Invalid argument", after loading). */
Test(archive, replay_refuses_a_bad_publish_endpoint_as_bad_usage)
{
    static struct live l;
    static const char *const eps[] = {"notaurl", "tcp://127.0.0.1", "tcp://127.0.0.1:0"};
    char names[16][512], args[1024], out[300], errp[300], want[128];

    write_scenario(&l);
    cr_assert_eq(list_archives(dir, names, 16), 4);
    snprintf(out, sizeof(out), "%s/replay.out", dir);
    snprintf(errp, sizeof(errp), "%s/replay.err", dir);
    for (size_t i = 0; i < sizeof(eps) / sizeof(eps[0]); i++) {
        snprintf(args, sizeof(args), "%s --publish %s", names[0], eps[i]);
        cr_expect_eq(run_vigil("replay", args, out, errp), 2, "--publish %s", eps[i]);
        snprintf(want, sizeof(want), "invalid --publish endpoint '%s'", eps[i]);
        cr_expect_eq(count_lines(errp, want), 1, "--publish %s", eps[i]);
        cr_expect_eq(count_lines(out, NULL), 0, "--publish %s: nothing replayed", eps[i]);
    }
}

/* ---------------------------------------------------------------- replay across a reload */

/* The first model: three zones, three cameras; the temperature sensor tmp (index 0) warns
 * from 30 °C. */
static const char *const reload_model_a =
    "venue = { id = \"t\"; name = \"T\"; default_profile = \"default\"; };\n"
    "profiles = ( { id = \"default\"; } );\n"
    "zones = (\n"
    "  { id = \"conc\"; type = \"moving\"; area_m2 = 100; capacity = 400; },\n"
    "  { id = \"annex\"; type = \"moving\"; area_m2 = 100; capacity = 400; },\n"
    "  { id = \"hall\"; type = \"standing\"; area_m2 = 1000; capacity = 4000; }\n"
    ");\n"
    "cameras = (\n"
    "  { id = \"cam-c\"; period_s = 1; zones = ( { zone = \"conc\"; coverage = 1.0; } ); },\n"
    "  { id = \"cam-a\"; period_s = 1; zones = ( { zone = \"annex\"; coverage = 1.0; } ); },\n"
    "  { id = \"cam-h\"; period_s = 1; zones = ( { zone = \"hall\"; coverage = 1.0; } ); }\n"
    ");\n"
    "sensors = (\n"
    "  { id = \"tmp\"; kind = \"temperature\"; zone = \"hall\"; min = -30; max = 60;\n"
    "    period_s = 600; limit = { warning = 30.0; deadband = 0.5; on_delay_s = 0; }; },\n"
    "  { id = \"co2\"; kind = \"co2\"; zone = \"conc\"; min = 300; max = 10000;\n"
    "    period_s = 600; }\n"
    ");\n";

/* The reload: annex and its camera removed (hall and cam-h move from index 2 to 1), a
 * smoke sensor first (tmp moves from index 0 to 2), and tmp warns from 20 °C. */
static const char *const reload_model_b =
    "venue = { id = \"t\"; name = \"T\"; default_profile = \"default\"; };\n"
    "profiles = ( { id = \"default\"; } );\n"
    "zones = (\n"
    "  { id = \"conc\"; type = \"moving\"; area_m2 = 100; capacity = 400; },\n"
    "  { id = \"hall\"; type = \"standing\"; area_m2 = 1000; capacity = 4000; }\n"
    ");\n"
    "cameras = (\n"
    "  { id = \"cam-c\"; period_s = 1; zones = ( { zone = \"conc\"; coverage = 1.0; } ); },\n"
    "  { id = \"cam-h\"; period_s = 1; zones = ( { zone = \"hall\"; coverage = 1.0; } ); }\n"
    ");\n"
    "sensors = (\n"
    "  { id = \"smk\"; kind = \"smoke\"; zone = \"hall\"; min = 0; max = 1; period_s = 600; },\n"
    "  { id = \"co2\"; kind = \"co2\"; zone = \"conc\"; min = 300; max = 10000;\n"
    "    period_s = 600; },\n"
    "  { id = \"tmp\"; kind = \"temperature\"; zone = \"hall\"; min = -30; max = 60;\n"
    "    period_s = 600; limit = { warning = 20.0; deadband = 0.5; on_delay_s = 0; }; }\n"
    ");\n";

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static void submit(vg_engine *e, const char *topic, int64_t t, const char *tail)
{
    char msg[256];
    int n = snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld,%s}", (long long)(t / S), tail);

    cr_assert_eq(vg_engine_submit(e, topic, msg, (size_t)n, vg_wall_ns()), 0);
}

struct reload_run {
    char arch[256];       /* the archive directory */
    char a_path[256];     /* the first model's file */
    char h5[512];         /* the one archive file */
    uint64_t live_events; /* event lines the live engine wrote */
};

/* vigil run's engine on the event clock, archiving into dir/arch: 100 s under model A
 * (conc at 3.5 p/m² raises a density warning; tmp at 25 °C is fine), a reload to model B,
 * 100 s more (conc at 4.5 p/m² goes critical; tmp at 25 °C now warns). */
static void run_with_reload(struct reload_run *run)
{
    char b_path[256], events[256], err[512];
    int64_t day0 = (vg_wall_ns() / S - 86400) * S;
    vg_model *ma;
    vg_model_error merr;
    vg_engine_cfg cfg;
    vg_engine *e;
    vg_engine_stats st;
    char names[4][512];

    memset(run, 0, sizeof(*run));
    snprintf(run->arch, sizeof(run->arch), "%s/arch", dir);
    cr_assert_eq(mkdir(run->arch, 0755), 0);
    snprintf(run->a_path, sizeof(run->a_path), "%s/a.cfg", dir);
    snprintf(b_path, sizeof(b_path), "%s/b.cfg", dir);
    snprintf(events, sizeof(events), "%s/events.jsonl", dir);
    write_text(run->a_path, reload_model_a);
    write_text(b_path, reload_model_b);
    cr_assert_eq(vg_model_load(run->a_path, &ma, &merr), 0, "%s:%d: %s", merr.file, merr.line,
                 merr.message);

    vg_engine_cfg_default(&cfg);
    cfg.model = ma;
    cfg.use_broker = 0;
    cfg.event_clock = 1;
    cfg.tick_ns = S;
    cfg.startup_grace_ns = 0;
    cfg.events_path = events;
    cfg.archive_dir = run->arch;
    cr_assert_eq(vg_engine_new(&cfg, &e), 0);
    cr_assert_eq(vg_engine_start(e), 0);
    for (int s = 0; s < 200; s++) {
        int64_t t = day0 + s * S;

        if (s == 100) {
            cr_assert_eq(vg_engine_reload(e, b_path, err, sizeof(err)), 0, "%s", err);
        }
        submit(e, "vigil/t/count/cam-c", t, s < 100 ? "\"counts\":{\"conc\":350}"
                                                    : "\"counts\":{\"conc\":450}");
        if (s < 100)
            submit(e, "vigil/t/count/cam-a", t, "\"counts\":{\"annex\":50}");
        submit(e, "vigil/t/count/cam-h", t, "\"counts\":{\"hall\":800}");
        if (s % 10 == 0)
            submit(e, "vigil/t/sensor/tmp", t, "\"value\":25");
    }
    vg_engine_stop(e);
    vg_engine_stats_get(e, &st);
    vg_engine_free(&e);
    vg_model_free(&ma);
    cr_assert_eq(st.reloads, 1);
    cr_assert_eq(st.archive_full, 0);
    run->live_events = (uint64_t)count_lines(events, NULL);
    cr_assert_eq(list_archives(run->arch, names, 4), 1);
    snprintf(run->h5, sizeof(run->h5), "%s", names[0]);
}

/* Alert events a replay produced, each with the model in force when it came. */
struct graded {
    vg_alert_event *ev;
    const vg_model **model;
    size_t n, cap;
    const vg_model *now;
};

static void graded_alert(void *ctx, const vg_alert_event *ev)
{
    struct graded *g = ctx;

    cr_assert_lt(g->n, g->cap);
    g->ev[g->n] = *ev;
    g->model[g->n++] = g->now;
}

/* Replays h5 through the library: switches 1 applies the archived reloads where the live
 * core did, 0 grades everything with the first model (the replay before reloads were
 * positioned). Returns how many events differ from the archived /alerts (each pair printed
 * with the model in force at the replayed event), counting missing and extra ones. The
 * models are freed: g->model[] is only compared, never read, afterwards. */
static size_t library_replay(const char *h5, int switches, struct graded *g)
{
    vg_archive_reader *rd;
    vg_archive_info info;
    vg_archive_input in;
    vg_analysis *an;
    vg_model *models[8];
    vg_model_error err;
    vg_alert_event *want;
    size_t nmodels = 0, differ = 0;
    int rc;

    cr_assert_eq(vg_archive_reader_open(h5, &rd), 0);
    vg_archive_reader_info(rd, &info);
    cr_assert_eq(vg_archive_reader_load_model(rd, &models[nmodels++], &err), 0, "%s",
                 err.message);
    memset(g, 0, sizeof(*g));
    g->cap = 4096;
    g->ev = calloc(g->cap, sizeof(*g->ev));
    g->model = calloc(g->cap, sizeof(*g->model));
    g->now = models[0];
    info.analysis.sink.ctx = g;
    info.analysis.sink.on_alert = graded_alert;
    cr_assert_eq(vg_analysis_new(models[0], &info.analysis, &an), 0);
    cr_assert_eq(vg_archive_reader_switches(rd, switches), 0);
    while ((rc = vg_archive_reader_next(rd, &in)) == 1) {
        if (in.type == VG_ARCHIVE_REC_READING) {
            vg_analysis_push(an, &in.reading);
        } else if (in.type == VG_ARCHIVE_REC_TICK) {
            cr_assert_eq(vg_analysis_tick(an, in.t_ns), 0);
        } else {
            cr_assert(switches, "no switches unless asked for");
            cr_assert_lt(nmodels, 8);
            cr_assert_eq(vg_archive_reader_load_model_at(rd, in.model, &models[nmodels], &err),
                         0, "%s", err.message);
            cr_assert_eq(vg_analysis_reload(an, models[nmodels]), 0);
            g->now = models[nmodels++];
        }
    }
    cr_assert_eq(rc, 0);

    want = calloc(info.count[VG_ARCHIVE_REC_ALERT] + 1, sizeof(*want));
    cr_assert_eq(vg_archive_reader_read(rd, VG_ARCHIVE_REC_ALERT, 0,
                                        info.count[VG_ARCHIVE_REC_ALERT], want), 0);
    for (size_t i = 0; i < g->n || i < info.count[VG_ARCHIVE_REC_ALERT]; i++) {
        char a[1024], b[1024];

        if (i >= g->n || i >= info.count[VG_ARCHIVE_REC_ALERT]) {
            differ++;
            continue;
        }
        vg_archive_alert_json(g->model[i], &g->ev[i], a, sizeof(a));
        vg_archive_alert_json(g->model[i], &want[i], b, sizeof(b));
        differ += strcmp(a, b) != 0;
    }
    free(want);
    vg_analysis_free(&an);
    for (size_t i = 0; i < nmodels; i++)
        vg_model_free(&models[i]);
    g->now = NULL;
    vg_archive_reader_free(&rd);
    return differ;
}

static void graded_free(struct graded *g)
{
    free(g->ev);
    free(g->model);
    memset(g, 0, sizeof(*g));
}

/* The live engine reloads a model that removes a zone, renumbers cameras and sensors and
 * lowers a threshold; alerts after it come from the new model only. The archive records
 * where the core switched (after 310 readings and 100 ticks: the /models t_ns, the last
 * tick's time, is shared by readings on both sides of it), and the replay switches there:
 * `vigil replay --verify` and the library both give the live stream exactly. Graded with
 * the first model only (how replay worked before), the same archive differs. */
Test(archive, replay_switches_models_where_the_live_core_did)
{
    struct reload_run run;
    struct graded g;
    vg_archive_reader *rd;
    vg_archive_info info;
    vg_archive_model mi;
    vg_archive_input tick, rdg;
    char args[1024], out[300], errp[300];
    size_t post_tmp = 0, post = 0;

    run_with_reload(&run);

    /* where the switch is */
    cr_assert_eq(vg_archive_reader_open(run.h5, &rd), 0);
    vg_archive_reader_info(rd, &info);
    cr_assert_eq(info.count[VG_ARCHIVE_REC_MODEL], 2);
    cr_assert_eq(vg_archive_reader_model(rd, 0, &mi), 0);
    cr_assert_eq(mi.t_ns, INT64_MIN);
    cr_assert_eq(mi.reading_index, 0);
    cr_assert_eq(vg_archive_reader_model(rd, 1, &mi), 0);
    cr_assert(mi.positioned);
    cr_assert_eq(mi.reading_index, 100 * 3 + 10, "readings before the reload: %llu",
                 (unsigned long long)mi.reading_index);
    cr_assert_eq(mi.tick_index, 100, "ticks before the reload: %llu",
                 (unsigned long long)mi.tick_index);
    cr_assert_not_null(strstr(mi.path, "b.cfg"), "%s", mi.path);
    /* t_ns alone is ambiguous: the last tick before the switch has it, and so does the
     * reading just before the switch, which came after that tick */
    cr_assert_eq(vg_archive_reader_read(rd, VG_ARCHIVE_REC_TICK, 99, 1, &tick), 0);
    cr_assert_eq(vg_archive_reader_read(rd, VG_ARCHIVE_REC_READING, mi.reading_index - 1, 1,
                                        &rdg), 0);
    cr_assert_eq(mi.t_ns, tick.t_ns);
    cr_assert_eq(rdg.t_ns, mi.t_ns);
    vg_archive_reader_free(&rd);

    /* the library: identical with the switch, different without */
    cr_assert_eq(library_replay(run.h5, 1, &g), 0, "replay with the archived switch differs");
    cr_assert_eq(g.n, info.count[VG_ARCHIVE_REC_ALERT]);
    cr_assert_eq(g.n, run.live_events, "the archive holds every live event");
    for (size_t i = 0; i < g.n; i++) {
        if (g.model[i] == g.model[0])
            continue;
        post++;
        post_tmp += g.ev[i].kind == VG_ALERT_SENSOR_LIMIT && g.ev[i].source == 2;
    }
    cr_assert_geq(post_tmp, 1, "tmp's warning under the new threshold (index 2)");
    cr_assert_geq(post, 2, "and the critical density after the reload");
    graded_free(&g);
    cr_assert_gt(library_replay(run.h5, 0, &g), 0, "first model only: must differ");
    for (size_t i = 0; i < g.n; i++)
        cr_assert(g.ev[i].kind != VG_ALERT_SENSOR_LIMIT, "no tmp warning under model A");
    graded_free(&g);

    /* the program */
    snprintf(out, sizeof(out), "%s/replay.out", dir);
    snprintf(errp, sizeof(errp), "%s/replay.err", dir);
    snprintf(args, sizeof(args), "--verify %s", run.h5);
    cr_assert_eq(run_vigil("replay", args, out, errp), 0, "vigil replay --verify across the reload");
    cr_assert_eq(count_lines(out, NULL), (int)run.live_events);
    cr_assert_geq(count_lines(out, "\"source\":\"tmp\""), 1);
    cr_assert_eq(count_lines(errp, "identical to the live run"), 1);
    cr_assert_eq(count_lines(errp, "model 1 in force"), 1);
    /* --model grades with one model throughout: the first cannot grade the readings after
     * the reload, which name zones and sensors by the new model's indices */
    snprintf(args, sizeof(args), "--model %s %s", run.a_path, run.h5);
    cr_assert_eq(run_vigil("replay", args, out, errp), 1, "graded with the first model only");
    cr_assert_eq(count_lines(errp, "the reload after reading 310 (model 1, "), 1);
    cr_assert_eq(count_lines(errp, "renumbered the zones; one model cannot grade both parts"), 1);
    cr_assert_eq(count_lines(errp, "replay it without --model"), 1);
    cr_assert_eq(count_lines(out, NULL), 0, "nothing replayed");
}

/* The fixture's model with edits, written to dir/name: each pair of arguments (up to a NULL)
 * replaces the first occurrence of a text by another. Returns the path (static: one at a
 * time). */
static const char *model_variant(const char *name, ...)
{
    static char path[300];
    char text[4096], *at;
    const char *find, *put;
    va_list ap;
    FILE *f;

    snprintf(text, sizeof(text), "%s", archive_fixture_model);
    va_start(ap, name);
    while ((find = va_arg(ap, const char *))) {
        char rest[4096];

        put = va_arg(ap, const char *);
        at = strstr(text, find);
        cr_assert_not_null(at, "%s", find);
        snprintf(rest, sizeof(rest), "%s", at + strlen(find));
        snprintf(at, sizeof(text) - (size_t)(at - text), "%s%s", put, rest);
    }
    va_end(ap);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
    return path;
}

/* `vigil replay --model FILE` grades the archived readings, which name zones and sensors by
 * index, with FILE: a zone inserted at the top of the list (conc's readings would be graded
 * as the new zone's) or another venue's model is refused before anything is replayed; zones
 * and help points added at the end replay the live stream exactly. */
Test(archive, replay_refuses_a_model_that_numbers_the_venue_otherwise)
{
    static struct live l;
    static const char *const zone_new =
        "  { id = \"new\"; type = \"moving\"; area_m2 = 50; capacity = 100; }";
    char names[16][512], files[4096] = "", args[4600], out[300], errp[300], put[256];
    int nfiles, len = 0;

    write_scenario(&l);
    nfiles = list_archives(dir, names, 16);
    cr_assert_eq(nfiles, 4);
    for (int f = 0; f < nfiles; f++)
        len += snprintf(files + len, sizeof(files) - (size_t)len, " %s", names[f]);
    snprintf(out, sizeof(out), "%s/replay.out", dir);
    snprintf(errp, sizeof(errp), "%s/replay.err", dir);

    snprintf(put, sizeof(put), "zones = (\n%s,\n", zone_new);
    snprintf(args, sizeof(args), "--model %s%s",
             model_variant("top.cfg", "zones = (\n", put, NULL), files);
    cr_assert_eq(run_vigil("replay", args, out, errp), 1, "a zone inserted at the top");
    cr_assert_eq(count_lines(errp, "top.cfg numbers its zones differently from the file's "
                                   "model"), 1);
    cr_assert_eq(count_lines(errp, "(add new objects at the end of a list, do not reorder)"), 1);
    cr_assert_eq(count_lines(out, NULL), 0, "nothing replayed");

    snprintf(args, sizeof(args), "--model %s%s",
             model_variant("other.cfg", "id = \"t\"", "id = \"u\"", NULL), files);
    cr_assert_eq(run_vigil("replay", args, out, errp), 1, "another venue's model");
    cr_assert_eq(count_lines(errp, "other.cfg is a model of venue \"u\", the file was archived "
                                   "at venue \"t\""), 1);
    cr_assert_eq(count_lines(out, NULL), 0, "nothing replayed");

    snprintf(put, sizeof(put), "neighbours = [ \"conc\" ]; },\n%s\n);", zone_new);
    snprintf(args, sizeof(args), "--verify --model %s%s",
             model_variant("end.cfg", "neighbours = [ \"conc\" ]; }\n);", put,
                           "\"hp\"; zone = \"conc\"; }",
                           "\"hp\"; zone = \"conc\"; }, { id = \"hp2\"; zone = \"hall\"; }",
                           NULL),
             files);
    cr_assert_eq(run_vigil("replay", args, out, errp), 0, "objects added at the end");
    cr_assert_eq(count_lines(errp, "identical to the live run"), 1);
    cr_assert_eq(count_lines(out, NULL), (int)l.n);
}

/* With --publish the alert layer switches too: tmp's warning after the reload is about
 * hall, zone 1 of the new model (zone 1 of the first model is annex), on the technical feed.
 * The SUB socket connects first (see replay_publishes_on_zeromq). */
Test(archive, replay_publish_switches_the_alert_layer_too)
{
    struct reload_run run;
    char cmd[2048], ep[64], topic[256], body[4096];
    void *ctx, *sub;
    int seen = 0;
    int64_t deadline;
    FILE *p;

    run_with_reload(&run);
    ctx = zmq_ctx_new();
    sub = replay_subscriber(ctx, "technical.", ep, sizeof(ep));
    snprintf(cmd, sizeof(cmd), "%s replay --quiet --publish %s %s 2>/dev/null",
             getenv("VG_VIGIL"), ep, run.h5);
    p = popen(cmd, "r");
    cr_assert_not_null(p);
    deadline = vg_mono_ns() + 30 * S;
    while (!seen && vg_mono_ns() < deadline) {
        if (!recv_alert(sub, topic, sizeof(topic), body, sizeof(body)) ||
            !strstr(body, "\"sensor_limit\""))
            continue;
        cr_assert_str_eq(topic, "technical.warning.hall", "%s", body);
        cr_assert_not_null(strstr(body, "\"source\":\"tmp\""), "%s", body);
        seen = 1;
    }
    cr_assert_eq(pclose(p), 0);
    cr_assert(seen, "no tmp warning on the technical feed");
    zmq_close(sub);
    zmq_ctx_term(ctx);
}

/* `vigil tune` grades every reading with one model: it refuses an archive whose reload
 * renumbered the venue (the readings after it carry the new indices), a --model that
 * numbers the objects otherwise than the archive's model, and another venue's model. */
Test(archive, tune_refuses_models_that_number_the_venue_otherwise)
{
    struct reload_run run;
    char out[300], errp[300], args[1400], b_path[300];

    run_with_reload(&run);
    snprintf(out, sizeof(out), "%s/tune.out", dir);
    snprintf(errp, sizeof(errp), "%s/tune.err", dir);
    snprintf(args, sizeof(args),
             "%s --vary profiles.default.density.moving.warning=2.5:3.0:0.5", run.h5);
    cr_assert_eq(run_vigil("tune", args, out, errp), 1);
    cr_assert_eq(count_lines(errp, "the reload after reading 310 (model 1, "), 1);
    cr_assert_eq(count_lines(errp, "renumbered the zones; one model cannot grade both parts"), 1);
    cr_assert_eq(count_lines(out, NULL), 0, "no table");

    snprintf(b_path, sizeof(b_path), "%s/b.cfg", dir);
    snprintf(args, sizeof(args),
             "%s --model %s --vary profiles.default.density.moving.warning=2.5:3.0:0.5", run.h5,
             b_path);
    cr_assert_eq(run_vigil("tune", args, out, errp), 1);
    cr_assert_eq(count_lines(errp, "b.cfg numbers its zones differently from the file's model"),
                 1);

    /* another venue's model, numbered alike */
    snprintf(b_path, sizeof(b_path), "%s/u.cfg", dir);
    snprintf(args, sizeof(args), "venue = { id = \"u\";%s", strchr(reload_model_a, ';') + 1);
    write_text(b_path, args);
    snprintf(args, sizeof(args),
             "%s --model %s --vary profiles.default.density.moving.warning=2.5:3.0:0.5", run.h5,
             b_path);
    cr_assert_eq(run_vigil("tune", args, out, errp), 1);
    cr_assert_eq(count_lines(errp, "u.cfg is a model of venue \"u\", the file was archived at "
                                   "venue \"t\""), 1);
}

/* While the disk stays full, each retry creates a file and fails before it holds a record:
 * such a file is removed, so the directory holds only archives (`vigil replay` over the
 * directory failed at the first leftover with "not a Vigil archive"). */
Test(archive, failed_retries_leave_no_half_made_files)
{
    vg_archive *a;
    vg_ring *ring;
    vg_archive_stats st;
    struct rlimit lim, low;
    uint32_t tag = 0;
    char names[64][512];

    a = start_filling(&ring, 200 * VG_NS_PER_MS);
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &lim), 0);
    fill_until_fault(a, ring, &tag, 256 * 1024);
    low = lim;
    /* Now not even a new file's header fits: the retries fail one after another. */
    low.rlim_cur = 1024;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &low), 0);
    usleep(1500 * 1000);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    st = wait_stats(a, is_recovered, 10 * S);
    cr_assert(is_recovered(&st), "faulted %d files %llu", st.faulted,
              (unsigned long long)st.files);
    vg_archive_stop(a);
    vg_archive_free(&a);
    vg_ring_free(&ring);

    const int n = list_archives(dir, names, 64);
    cr_assert_geq(n, 2, "the first file and the one after the fault");
    for (int i = 0; i < n; i++) {
        vg_archive_reader *rd = NULL;
        cr_expect_eq(vg_archive_reader_open(names[i], &rd), 0, "%s is not an archive",
                     names[i]);
        vg_archive_reader_free(&rd);
    }
}
