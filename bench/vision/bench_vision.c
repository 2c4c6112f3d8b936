/* Accuracy and speed of vigil-count's people counter on vtest.avi (768x576, 10 fps), against
 * plain HOG measured in the same run.
 *
 * usage: bench_vision VTEST.AVI LABELS.TXT...
 * Each case prints one line: method, OpenCV threads, frames/s of vg_vision_counter_process()
 * (decoding excluded: it is the same for every method), mean absolute error over the
 * labelled frames, and that error relative to the mean true count. The motion method sees
 * every frame (it learns the background); HOG is stateless, so it runs on the labelled frames
 * only. The last lines are the ratios motion / HOG. */
#include "vigil/common.h"
#include "vigil/vision.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LABELS 256

struct labels {
    int n;
    int frame[MAX_LABELS];
    int count[MAX_LABELS];
};

struct result {
    double fps;
    double mae;
    double rel;
};

static int read_labels(const char *path, struct labels *l)
{
    FILE *f = fopen(path, "r");
    char line[256];

    if (!f)
        return -errno;
    l->n = 0;
    while (fgets(line, sizeof(line), f) && l->n < MAX_LABELS) {
        int fr, c;
        if (line[0] == '#' || sscanf(line, "%d %d", &fr, &c) != 2)
            continue;
        l->frame[l->n] = fr;
        l->count[l->n] = c;
        l->n++;
    }
    fclose(f);
    return l->n > 0 ? 0 : -EPROTO;
}

static void setup_cfg(vg_vision_counter_cfg *cfg, enum vg_vision_method m, int threads, int flow)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->width = 768;
    cfg->height = 576;
    cfg->fps = 10;
    /* Calibration read off vtest.avi: a person with feet on row 235 is about 65 px tall,
     * on row 575 about 145 px (models/cameras/vtest.cfg). */
    cfg->row_a = 235;
    cfg->height_a_px = 65;
    cfg->row_b = 575;
    cfg->height_b_px = 145;
    cfg->method = m;
    cfg->flow = flow;
    cfg->threads = threads;
    cfg->n_zones = 1;
    vg_vision_zone_cfg *z = &cfg->zones[0];
    snprintf(z->id, sizeof(z->id), "all");
    z->n_points = 4;
    float xs[] = {0, 768, 768, 0}, ys[] = {0, 0, 576, 576};
    memcpy(z->x, xs, sizeof(xs));
    memcpy(z->y, ys, sizeof(ys));
    z->area_m2 = 1000;
}

static int run(const char *video, const struct labels *l, enum vg_vision_method m, int threads,
               int flow, struct result *res)
{
    vg_vision_source_cfg scfg = {.uri = NULL, .backend = VG_VISION_BACKEND_FFMPEG};
    char uri[4096];
    vg_vision_source *src = NULL;
    vg_vision_counter_cfg cfg;
    vg_vision_counter *ctr = NULL;
    vg_vision_frame fr;
    int r, idx = 0, li = 0, processed = 0;
    int64_t spent = 0;
    double abs_err = 0, truth = 0;

    snprintf(uri, sizeof(uri), "file:%s", video);
    scfg.uri = uri;
    scfg.file_start_ns = 1;
    setup_cfg(&cfg, m, threads, flow);
    r = vg_vision_source_open(&scfg, &src);
    if (r < 0)
        return r;
    r = vg_vision_counter_new(&cfg, &ctr);
    if (r < 0)
        goto out;
    while (li < l->n && (r = vg_vision_source_read(src, &fr)) == 0) {
        int labelled = idx == l->frame[li];
        if (m == VG_VISION_METHOD_MOTION || labelled) {
            int64_t t0 = vg_mono_ns();
            r = vg_vision_counter_process(ctr, &fr);
            spent += vg_mono_ns() - t0;
            if (r < 0)
                goto out;
            processed++;
        }
        if (labelled) {
            int count;
            double sv;
            vg_vision_counter_zone(ctr, 0, &count, &sv);
            if (getenv("BENCH_VISION_VERBOSE"))
                printf("  frame %d truth %d counted %d\n", idx, l->count[li], count);
            abs_err += fabs((double)count - l->count[li]);
            truth += l->count[li];
            li++;
        }
        idx++;
    }
    if (li < l->n) {
        r = r < 0 && r != -ENODATA ? r : -EPROTO; /* a labelled frame past the end */
        goto out;
    }
    res->fps = processed / (spent / 1e9);
    res->mae = abs_err / l->n;
    res->rel = abs_err / truth;
    r = 0;
out:
    vg_vision_counter_free(&ctr);
    vg_vision_source_free(&src);
    return r;
}

static int bench_labels(const char *video, const char *path)
{
    struct labels l = {0};
    struct result mot[3], hog[3], flow;
    int r = read_labels(path, &l);

    if (r < 0) {
        fprintf(stderr, "bench_vision: %s: %s\n", path, vg_strerror(r));
        return r;
    }
    printf("# %s: %d labelled frames\n", path, l.n);
    printf("# case threads fps mae mae/mean_truth\n");
    for (int t = 1; t <= 2; t++) {
        if ((r = run(video, &l, VG_VISION_METHOD_MOTION, t, 0, &mot[t])) < 0 ||
            (r = run(video, &l, VG_VISION_METHOD_HOG, t, 0, &hog[t])) < 0)
            goto fail;
        printf("motion %d %.1f %.2f %.3f\n", t, mot[t].fps, mot[t].mae, mot[t].rel);
        printf("hog %d %.1f %.2f %.3f\n", t, hog[t].fps, hog[t].mae, hog[t].rel);
    }
    if ((r = run(video, &l, VG_VISION_METHOD_MOTION, 2, 1, &flow)) < 0)
        goto fail;
    printf("motion+flow 2 %.1f %.2f %.3f\n", flow.fps, flow.mae, flow.rel);
    printf("ratio speed motion/hog: %.1fx (1 thread) %.1fx (2 threads)\n", mot[1].fps / hog[1].fps,
           mot[2].fps / hog[2].fps);
    printf("ratio mae motion/hog: %.2f\n", mot[2].mae / hog[2].mae);
    return 0;
fail:
    fprintf(stderr, "bench_vision: %s\n", vg_strerror(r));
    return r;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s VTEST.AVI LABELS.TXT...\n", argv[0]);
        return 2;
    }
    printf("# %s; fps = frames/s of vg_vision_counter_process() at 768x576, decoding "
           "excluded\n",
           argv[1]);
    for (int i = 2; i < argc; i++)
        if (bench_labels(argv[1], argv[i]) < 0)
            return 1;
    return 0;
}
