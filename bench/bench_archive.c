/* Archive benchmarks, each against its reference in the same run:
 *
 *   write      N readings (plus a tick every 1000) archived by vg_archive_write() on the
 *              calling thread, without and with deflate level 1, against fwrite() of the
 *              same 48-byte rows to a plain file (the limit: the bytes alone, no HDF5).
 *              Each includes the final flush and close.
 *   thread     the same readings pushed through a 64 Ki-slot ring to the vg-archive thread
 *              (what `vigil run` does), compressed, until vg_archive_stop() returns.
 *   read       vg_archive_reader_next() over the compressed and the plain file, against
 *              memcpy of the same rows from memory (the limit of walking the records).
 *              Target: >= 5 million readings/s.
 *   replay     vg_archive_replay() through the real analysis core (readings/s), for scale.
 *
 * Readings look like a venue's: 20,000 sensors at 1 Hz in turn, values a slow random walk.
 * Each case runs REPS times and the median is printed as "<case> <ops> <ns_per_op>" with
 * the rate and the ratio to its reference.
 * Rows are 40 bytes (the vg_reading); the file adds HDF5 metadata and the tick rows.
 * Usage: bench_archive [readings]   (default 4 million) in $TMPDIR (default /tmp). */
#include "vigil/archive.h"
#include "vigil/common.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REPS 3
#define S INT64_C(1000000000)
#define T0 (INT64_C(1779456000) * S)
#define SENSORS 20000

static const char *model_text =
    "venue = { id = \"bench\"; name = \"Bench\"; default_profile = \"default\"; };\n"
    "profiles = ( { id = \"default\"; } );\n"
    "zones = ( { id = \"z\"; type = \"moving\"; area_m2 = 100; capacity = 400; } );\n"
    "sensors = ( { id = \"s\"; kind = \"temperature\"; zone = \"z\"; min = -40; max = 80;\n"
    "              period_s = 1; } );\n";

static char dir[200];
static vg_model *model;
static vg_archive_record *slots; /* the workload, as ring slots */
static size_t n_slots, n_readings;

static void rm_files(const char *d)
{
    DIR *dp = opendir(d);
    struct dirent *e;
    char p[600];

    if (!dp)
        return;
    while ((e = readdir(dp))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "%s/%s", d, e->d_name);
        unlink(p);
    }
    closedir(dp);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median(double *v)
{
    qsort(v, REPS, sizeof(*v), cmp_d);
    return v[REPS / 2];
}

static void make_workload(size_t n)
{
    double value[64];
    uint64_t rng = 88172645463325252ull;

    n_readings = n;
    n_slots = n + n / 1000 + 1;
    slots = calloc(n_slots, sizeof(*slots));
    if (!slots)
        exit(1);
    for (int i = 0; i < 64; i++)
        value[i] = 20 + i * 0.1;
    n_slots = 0;
    for (size_t i = 0; i < n; i++) {
        vg_archive_record *s = &slots[n_slots++];
        uint32_t src = (uint32_t)(i % SENSORS);

        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        value[src % 64] += ((double)(rng % 201) - 100) / 1000.0; /* +-0.1 degC steps */
        s->type = VG_ARCHIVE_REC_READING;
        s->nslots = 1;
        s->u.reading.t_ns = T0 + (int64_t)(i / SENSORS) * S + (int64_t)src * 50000;
        s->u.reading.value = value[src % 64];
        s->u.reading.type = VG_READING_SENSOR;
        s->u.reading.source = 0; /* the model has one sensor: replay applies every reading */
        s->u.reading.zone = VG_MODEL_NONE;
        s->u.reading.tag = src;
        if (i % 1000 == 999) {
            vg_archive_record *t = &slots[n_slots++];

            t->type = VG_ARCHIVE_REC_TICK;
            t->nslots = 1;
            t->u.tick.t_ns = s->u.reading.t_ns;
        }
    }
}

/* ---- write ---- */

/* The limit: the same rows (the 40-byte reading, as the archive stores it) written with
 * fwrite in blocks of one chunk, then fflush: the bytes alone. */
static double bench_fwrite(void)
{
    char path[600];
    static vg_reading block[8192];
    size_t nb = 0;
    int64_t t0 = vg_mono_ns();
    FILE *f;

    snprintf(path, sizeof(path), "%s/plain.bin", dir);
    f = fopen(path, "wb");
    if (!f)
        exit(1);
    for (size_t i = 0; i < n_slots; i++) {
        if (slots[i].type != VG_ARCHIVE_REC_READING)
            continue;
        block[nb++] = slots[i].u.reading;
        if (nb == 8192) {
            fwrite(block, sizeof(block[0]), nb, f);
            nb = 0;
        }
    }
    fwrite(block, sizeof(block[0]), nb, f);
    fflush(f);
    fclose(f);
    t0 = vg_mono_ns() - t0;
    unlink(path); /* dropping the pages is not part of writing them */
    return (double)t0;
}

static vg_archive_stats last_stats;

/* A fresh subdirectory per case, so the files of one case do not end up in another's. */
static const char *subdir(const char *name)
{
    static char p[300];

    snprintf(p, sizeof(p), "%s/%s", dir, name);
    rm_files(p);
    mkdir(p, 0755);
    return p;
}

static double bench_write(int compression)
{
    const char *d = subdir(compression ? "deflate" : "plain");
    vg_archive_cfg c;
    vg_archive *a;
    int64_t t0;

    vg_archive_cfg_default(&c);
    c.model = model;
    c.compression = compression;
    t0 = vg_mono_ns();
    if (vg_archive_new(d, &c, &a) < 0)
        exit(1);
    /* as the thread does: one batch of slots at a time */
    for (size_t i = 0; i < n_slots; i += 1024)
        vg_archive_write(a, &slots[i], n_slots - i < 1024 ? n_slots - i : 1024);
    vg_archive_stop(a);
    vg_archive_get_stats(a, &last_stats);
    vg_archive_free(&a);
    return (double)(vg_mono_ns() - t0);
}

static double bench_thread(void)
{
    const char *d = subdir("thread");
    vg_archive_cfg c;
    vg_archive *a;
    vg_ring *ring;
    int64_t t0;

    vg_archive_cfg_default(&c);
    c.model = model;
    if (vg_ring_new(VG_ARCHIVE_SLOT_SIZE, 65536, &ring) < 0)
        exit(1);
    t0 = vg_mono_ns();
    if (vg_archive_new(d, &c, &a) < 0 || vg_archive_start(a, ring) < 0)
        exit(1);
    for (size_t i = 0; i < n_slots;) {
        size_t k = vg_ring_push_n(ring, &slots[i], n_slots - i < 256 ? n_slots - i : 256);

        i += k;
        if (k == 0)
            vg_ring_wait_writable(ring, 256, -1);
    }
    vg_archive_stop(a);
    vg_archive_get_stats(a, &last_stats);
    vg_archive_free(&a);
    vg_ring_free(&ring);
    return (double)(vg_mono_ns() - t0);
}

/* ---- read ---- */

static double bench_memcpy(void)
{
    vg_reading r;
    double sum = 0;
    int64_t t0 = vg_mono_ns();

    for (size_t i = 0; i < n_slots; i++) {
        memcpy(&r, &slots[i].u.reading, sizeof(r));
        sum += r.value;
    }
    if (sum == 42)
        puts("");
    return (double)(vg_mono_ns() - t0);
}

static int64_t cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * S + ts.tv_nsec;
}

static double read_cpu_ns; /* CPU time of the last bench_read (single-threaded) */

static double bench_read(const char *path, uint64_t *ret_n)
{
    vg_archive_reader *rd;
    vg_archive_input in;
    uint64_t n = 0;
    double sum = 0;
    int64_t t0 = vg_mono_ns(), c0 = cpu_ns();

    if (vg_archive_reader_open(path, &rd) < 0)
        exit(1);
    while (vg_archive_reader_next(rd, &in) == 1) {
        n += in.type == VG_ARCHIVE_REC_READING;
        sum += in.reading.value;
    }
    vg_archive_reader_free(&rd);
    if (sum == 42)
        puts("");
    *ret_n = n;
    read_cpu_ns = (double)(cpu_ns() - c0);
    return (double)(vg_mono_ns() - t0);
}

static double bench_replay(const char *path)
{
    vg_archive_reader *rd;
    vg_analysis *an;
    vg_analysis_cfg cfg;
    int64_t t0 = vg_mono_ns();

    vg_analysis_cfg_default(&cfg);
    if (vg_archive_reader_open(path, &rd) < 0 || vg_analysis_new(model, &cfg, &an) < 0)
        exit(1);
    vg_archive_replay(rd, an, NULL);
    vg_analysis_free(&an);
    vg_archive_reader_free(&rd);
    return (double)(vg_mono_ns() - t0);
}

static void line(const char *name, double ns, double ref_ns, const char *ref)
{
    printf("%-24s %zu %.1f   %.2f M readings/s", name, n_readings, ns / (double)n_readings,
           (double)n_readings / ns * 1e3);
    if (ref_ns > 0)
        printf("   %.2fx %s", ref_ns / ns, ref);
    printf("\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 4000000;
    const char *tmp = getenv("TMPDIR");
    char model_path[512], plain[512] = "", packed[512] = "";
    double t_ref[REPS], t_a[REPS], t_b[REPS], t_c[REPS];
    double ref, plain_ns, packed_ns, thread_ns;
    vg_model_error err;
    uint64_t nr = 0;
    FILE *f;

    snprintf(dir, sizeof(dir), "%s/vg-bench-archive-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return 1;
    snprintf(model_path, sizeof(model_path), "%s/model.cfg", dir);
    f = fopen(model_path, "w");
    if (!f)
        return 1;
    fputs(model_text, f);
    fclose(f);
    if (vg_model_load(model_path, &model, &err) < 0) {
        fprintf(stderr, "model: %s: %s\n", err.key, err.message);
        return 1;
    }
    unlink(model_path);
    make_workload(n);
    printf("# bench_archive: %zu readings (40-byte rows), median of %d runs, dir %s\n", n, REPS,
           dir);

    for (int r = 0; r < REPS; r++) {
        t_ref[r] = bench_fwrite();
        t_a[r] = bench_write(0);
        t_b[r] = bench_write(1);
        t_c[r] = bench_thread();
    }
    ref = median(t_ref);
    plain_ns = median(t_a);
    packed_ns = median(t_b);
    thread_ns = median(t_c);
    line("write_fwrite_reference", ref, 0, "");
    line("write_hdf5_plain", plain_ns, ref, "of fwrite");
    line("write_hdf5_deflate1", packed_ns, ref, "of fwrite");
    line("write_thread_deflate1", thread_ns, ref, "of fwrite");
    if (last_stats.dropped || last_stats.faults)
        printf("# WARNING: %llu dropped, %llu faults\n", (unsigned long long)last_stats.dropped,
               (unsigned long long)last_stats.faults);

    /* files to read: one plain, one compressed (the thread's, left by the last run) */
    snprintf(packed, sizeof(packed), "%s", last_stats.path);
    bench_write(0);
    snprintf(plain, sizeof(plain), "%s", last_stats.path);
    double cpu_b[REPS];

    for (int r = 0; r < REPS; r++) {
        t_ref[r] = bench_memcpy();
        t_a[r] = bench_read(plain, &nr);
        t_b[r] = bench_read(packed, &nr);
        cpu_b[r] = read_cpu_ns;
    }
    if (nr != n)
        printf("# WARNING: read %llu readings of %zu\n", (unsigned long long)nr, n);
    ref = median(t_ref);
    line("read_memcpy_reference", ref, 0, "");
    line("read_archive_plain", median(t_a), ref, "of memcpy");
    line("read_archive_deflate1", median(t_b), ref, "of memcpy");
    /* On a shared machine wall time counts other processes' turns; the CPU time of this
     * single-threaded loop is what reading costs. */
    line("read_archive_deflate1_cpu", median(cpu_b), median(t_b), "of its wall time");
    printf("# target: read >= 5 M readings/s: wall %s, per CPU second %s\n",
           (double)n / median(t_b) * 1e3 >= 5.0 ? "met" : "NOT met",
           (double)n / median(cpu_b) * 1e3 >= 5.0 ? "met" : "NOT met");
    for (int r = 0; r < REPS; r++)
        t_c[r] = bench_replay(packed);
    line("replay_through_core", median(t_c), median(t_b), "of the plain read");
    {
        static const char *const subs[] = {"plain", "deflate", "thread"};

        for (int i = 0; i < 3; i++)
            rmdir(subdir(subs[i]));
    }
    rmdir(dir);
    vg_model_free(&model);
    free(slots);
    return 0;
}
