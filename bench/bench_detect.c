/* Cost of the streaming anomaly detector per reading, on one core, against a reference
 * measured in the same run: a plain EWMA z-score (the "windowed Gaussian" class of
 * detector: mean and variance, one division, one exp), over the same readings.
 * Cases (each REPS times, alternating detector and reference; medians printed):
 *   one_stream   one detector fed N readings in a row (hot cache);
 *   many_streams S detectors fed round-robin, N readings in all (cold-ish cache, as the
 *                engine sees 20,000 sensors interleaved).
 * The signal is a noisy daily sine with occasional spikes and level shifts (work in
 * update does not depend on the data, but the data keeps it honest).
 * Time is the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), the cost on one core.
 * Output: one line per case `<case> <ops> <ns_per_op>`, then the ratio detector / reference
 * and the bytes per stream.
 * Usage: bench_detect [readings_per_case]   (default 2 million) */
#include "vigil/common.h"
#include "vigil/detect.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPS 7
#define STREAMS 1000

static double *data;
static size_t n_points;
static volatile double sink;

struct ewma_z {
    double mean, var;
    uint64_t n;
};

static double ewma_z_update(struct ewma_z *e, double x)
{
    const double a = 0.01;
    if (e->n++ == 0) {
        e->mean = x;
        return 0.0;
    }
    double diff = x - e->mean;
    double z = e->var > 0.0 ? fabs(diff) / sqrt(e->var) : 0.0;
    e->mean += a * diff;
    e->var = (1.0 - a) * (e->var + a * diff * diff);
    return 1.0 - exp(-z * z / 18.0);
}

/* CPU time of this thread: the cost on one core, not inflated when the machine is shared
 * and the thread is descheduled (a wall-clock timer would count other programs' work). */
static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * VG_NS_PER_S + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return v[n / 2];
}

/* ns per reading for `streams` detectors fed round-robin over the data. */
static double run_vigil(int streams)
{
    vg_detector **d = calloc((size_t)streams, sizeof(*d));
    double acc = 0.0;

    if (!d)
        exit(1);
    for (int s = 0; s < streams; s++)
        if (vg_detector_new(NULL, &d[s]) < 0)
            exit(1);
    int64_t t0 = now_ns();
    for (size_t i = 0; i < n_points; i++) {
        int s = (int)(i % (size_t)streams);
        acc += vg_detector_update(d[s], (int64_t)(i / (size_t)streams) * 300 * VG_NS_PER_S,
                                  data[i]);
    }
    int64_t t1 = now_ns();
    sink = acc;
    for (int s = 0; s < streams; s++)
        vg_detector_free(&d[s]);
    free(d);
    return (double)(t1 - t0) / (double)n_points;
}

static double run_reference(int streams)
{
    struct ewma_z *e = calloc((size_t)streams, sizeof(*e));
    double acc = 0.0;

    if (!e)
        exit(1);
    int64_t t0 = now_ns();
    for (size_t i = 0; i < n_points; i++)
        acc += ewma_z_update(&e[i % (size_t)streams], data[i]);
    int64_t t1 = now_ns();
    sink = acc;
    free(e);
    return (double)(t1 - t0) / (double)n_points;
}

static void bench_case(const char *name, int streams)
{
    double v[REPS], r[REPS];

    for (int k = 0; k < REPS; k++) {
        v[k] = run_vigil(streams);
        r[k] = run_reference(streams);
    }
    double mv = median(v, REPS), mr = median(r, REPS);
    printf("%s %zu %.1f\n", name, n_points, mv);
    printf("%s_ewma_z_reference %zu %.1f\n", name, n_points, mr);
    printf("%s ratio vigil/ewma_z %.1f (median of %d runs; target: <= 1000 ns per reading)\n",
           name, mv / mr, REPS);
}

int main(int argc, char **argv)
{
    n_points = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000000;
    if (n_points < STREAMS)
        n_points = STREAMS;
    data = malloc(n_points * sizeof(*data));
    if (!data)
        return 1;
    uint64_t x = 88172645463325252ULL;
    double level = 0.0;
    for (size_t i = 0; i < n_points; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double u = (double)(x >> 11) / 9007199254740992.0;
        if (u < 0.0005)
            level += (u - 0.00025) * 40000.0; /* occasional level shift */
        double spike = u > 0.9995 ? 30.0 : 0.0;
        data[i] = 50.0 + level + 20.0 * sin(2.0 * M_PI * (double)i / 288.0) + 2.0 * (u - 0.5) +
                  spike;
    }

    vg_detector *d = NULL;
    if (vg_detector_new(NULL, &d) < 0)
        return 1;
    printf("# vg_detector: %zu bytes per stream (%.1f MB for 20,000 streams)\n",
           vg_detector_memory(d), vg_detector_memory(d) * 20000.0 / 1e6);
    vg_detector_free(&d);

    bench_case("one_stream", 1);
    bench_case("many_streams", STREAMS);
    free(data);
    return 0;
}
