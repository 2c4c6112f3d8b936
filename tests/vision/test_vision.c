/* The C API of include/vigil/vision.h on real video: a 70-frame clip cut from OpenCV's
 * vtest.avi (fetched by fetch-vtest.sh into the build tree, path in VG_TEST_VTEST) and
 * synthetic black, grey and frozen frames generated here. Expected counts come from the
 * hand labels in bench/vision/labels.txt (frame 66: six people, five of them left of
 * x = 560, one right of it). */
#include "vigil/common.h"
#include "vigil/vision.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define W 768
#define H 576
#define CLIP_FRAMES 70

static char dir[256];
static char clip[4096];
static char clip_uri[4200];

/* Cuts the first CLIP_FRAMES frames of vtest.avi into an MJPEG clip of our own, once per
 * build tree (beside the fetched vtest.avi); each test gets a scratch directory. */
static void setup(void)
{
    const char *vtest = getenv("VG_TEST_VTEST");
    char uri[4096], tmp[4200];
    vg_vision_source_cfg sc = {.uri = uri, .backend = VG_VISION_BACKEND_FFMPEG};
    vg_vision_source *src = NULL;
    vg_vision_writer *w = NULL;
    vg_vision_frame f;

    cr_assert(vtest, "VG_TEST_VTEST is not set: run through tests/vision/fetch-vtest.sh");
    snprintf(dir, sizeof(dir), "%s/vg-vision.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    cr_assert(mkdtemp(dir));
    cr_assert(strrchr(vtest, '/'), "VG_TEST_VTEST must be a path with a directory");
    snprintf(clip, sizeof(clip), "%.*s/clip%d.avi", (int)(strrchr(vtest, '/') - vtest), vtest,
             CLIP_FRAMES);
    snprintf(clip_uri, sizeof(clip_uri), "file:%s", clip);
    if (access(clip, R_OK) == 0)
        return;
    snprintf(tmp, sizeof(tmp), "%s.%d.avi", clip, (int)getpid());
    snprintf(uri, sizeof(uri), "file:%s", vtest);
    cr_assert_eq(vg_vision_source_open(&sc, &src), 0);
    cr_assert_eq(vg_vision_writer_open(tmp, W, H, 10, &w), 0);
    for (int i = 0; i < CLIP_FRAMES; i++) {
        cr_assert_eq(vg_vision_source_read(src, &f), 0);
        cr_assert_eq(vg_vision_writer_write(w, &f), 0);
    }
    vg_vision_writer_free(&w);
    vg_vision_source_free(&src);
    cr_assert_eq(rename(tmp, clip), 0, "%s: %s", clip, strerror(errno));
}

static void teardown(void)
{
    rmdir(dir);
}

TestSuite(vision, .init = setup, .fini = teardown, .timeout = 60);

static void base_cfg(vg_vision_counter_cfg *c)
{
    memset(c, 0, sizeof(*c));
    c->width = W;
    c->height = H;
    c->fps = 10;
    c->row_a = 235;
    c->height_a_px = 65;
    c->row_b = 575;
    c->height_b_px = 145;
    c->n_zones = 1;
    c->frozen_after_s = 1;
    snprintf(c->zones[0].id, VG_VISION_ID_MAX, "all");
    c->zones[0].n_points = 4;
    float xs[] = {0, W, W, 0}, ys[] = {0, 0, H, H};
    memcpy(c->zones[0].x, xs, sizeof(xs));
    memcpy(c->zones[0].y, ys, sizeof(ys));
    c->zones[0].area_m2 = 800;
}

static void split_cfg(vg_vision_counter_cfg *c)
{
    base_cfg(c);
    c->n_zones = 2;
    c->zones[0].x[1] = c->zones[0].x[2] = 560;
    snprintf(c->zones[0].id, VG_VISION_ID_MAX, "left");
    c->zones[1] = c->zones[0];
    snprintf(c->zones[1].id, VG_VISION_ID_MAX, "right");
    c->zones[1].x[0] = c->zones[1].x[3] = 560;
    c->zones[1].x[1] = c->zones[1].x[2] = W;
}

static vg_vision_source *open_clip(void)
{
    vg_vision_source_cfg sc = {.uri = clip_uri,
                               .backend = VG_VISION_BACKEND_FFMPEG,
                               .file_start_ns = INT64_C(1779456000) * VG_NS_PER_S};
    vg_vision_source *s = NULL;
    cr_assert_eq(vg_vision_source_open(&sc, &s), 0);
    return s;
}

/* ---------------------------------------------------------------- source */

Test(vision, clip_reads_every_frame_in_order_then_enodata)
{
    vg_vision_source *s = open_clip();
    vg_vision_frame f;
    int n = 0;

    cr_assert_float_eq(vg_vision_source_fps(s), 10.0, 0.01);
    while (vg_vision_source_read(s, &f) == 0) {
        cr_assert_eq(f.width, W);
        cr_assert_eq(f.height, H);
        cr_assert_geq(f.stride, (size_t)W * 3);
        /* event time: the configured start plus the frame's position at 10 fps */
        cr_assert_eq(f.t_ns, INT64_C(1779456000) * VG_NS_PER_S + n * 100 * VG_NS_PER_MS);
        n++;
    }
    cr_assert_eq(n, CLIP_FRAMES);
    cr_assert_eq(vg_vision_source_read(s, &f), -ENODATA);
    vg_vision_source_free(&s);
    cr_assert_null(s);
    vg_vision_source_free(&s); /* accepts NULL */
    vg_vision_source_free(NULL);
}

static int dropped_at_least(vg_vision_source *s, uint64_t n, int deadline_ms)
{
    int64_t end = vg_mono_ns() + (int64_t)deadline_ms * VG_NS_PER_MS;
    while (vg_vision_source_dropped(s) < n && vg_mono_ns() < end) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return vg_vision_source_dropped(s) >= n;
}

/* The live path (grabber thread, newest frame wins) on a file played at its own 10 fps: a
 * reader that falls behind gets the newest frame, and every frame is either read or counted
 * as dropped. */
Test(vision, live_source_drops_stale_frames_and_accounts_for_each)
{
    vg_vision_source_cfg sc = {.uri = clip_uri, .backend = VG_VISION_BACKEND_FFMPEG, .live = 1};
    vg_vision_source *s = NULL;
    vg_vision_frame f;
    int n = 0, r;

    cr_assert_eq(vg_vision_source_open(&sc, &s), 0);
    cr_assert_eq(vg_vision_source_read(s, &f), 0);
    n++;
    int64_t age = vg_wall_ns() - f.t_ns; /* live frames carry capture (wall) time */
    cr_assert(age >= 0 && age < 5 * VG_NS_PER_S, "frame age %lld ns", (long long)age);
    /* fall behind by three frames: the grabber keeps only the newest */
    cr_assert(dropped_at_least(s, 3, 10000), "no frame dropped");
    while ((r = vg_vision_source_read(s, &f)) == 0)
        n++;
    cr_assert_eq(r, -ENODATA);
    cr_assert_eq((uint64_t)n + vg_vision_source_dropped(s), CLIP_FRAMES, "read %d, dropped %llu", n,
                 (unsigned long long)vg_vision_source_dropped(s));
    vg_vision_source_free(&s);
}

Test(vision, missing_file_is_enoent)
{
    vg_vision_source_cfg sc = {.uri = "file:/nonexistent/vigil/clip.avi",
                               .backend = VG_VISION_BACKEND_FFMPEG};
    vg_vision_source *s = NULL;
    cr_assert_eq(vg_vision_source_open(&sc, &s), -ENOENT);
    cr_assert_null(s);
}

Test(vision, file_that_is_not_video_is_eio)
{
    char path[320], uri[330];
    snprintf(path, sizeof(path), "%s/not-a-video.avi", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs("this is not a video\n", f);
    fclose(f);
    snprintf(uri, sizeof(uri), "file:%s", path);
    vg_vision_source_cfg sc = {.uri = uri, .backend = VG_VISION_BACKEND_FFMPEG};
    vg_vision_source *s = NULL;
    cr_assert_eq(vg_vision_source_open(&sc, &s), -EIO);
    unlink(path);
}

Test(vision, bad_uri_or_backend_is_einval)
{
    vg_vision_source *s = NULL;
    vg_vision_source_cfg sc = {.uri = "http://example.invalid/x",
                               .backend = VG_VISION_BACKEND_FFMPEG};
    cr_assert_eq(vg_vision_source_open(&sc, &s), -EINVAL);
    sc.uri = clip_uri;
    sc.backend = VG_VISION_BACKEND_V4L2; /* V4L2 cannot read a file */
    cr_assert_eq(vg_vision_source_open(&sc, &s), -EINVAL);
    sc.uri = "v4l2:/dev/video0";
    sc.backend = VG_VISION_BACKEND_FFMPEG;
    cr_assert_eq(vg_vision_source_open(&sc, &s), -EINVAL);
    sc.uri = "file:";
    cr_assert_eq(vg_vision_source_open(&sc, &s), -EINVAL);
    cr_assert_eq(vg_vision_source_open(NULL, &s), -EINVAL);
    sc.uri = clip_uri;
    cr_assert_eq(vg_vision_source_open(&sc, NULL), -EINVAL);
    cr_assert_null(s);
}

Test(vision, missing_v4l2_device_is_enoent)
{
    vg_vision_source_cfg sc = {.uri = "v4l2:/dev/video-vigil-none",
                               .backend = VG_VISION_BACKEND_V4L2};
    vg_vision_source *s = NULL;
    cr_assert_eq(vg_vision_source_open(&sc, &s), -ENOENT);
}

Test(vision, unreachable_rtsp_fails_within_its_timeout)
{
    vg_vision_source_cfg sc = {.uri = "rtsp://127.0.0.1:1/none",
                               .backend = VG_VISION_BACKEND_FFMPEG,
                               .open_timeout_ms = 2000,
                               .read_timeout_ms = 2000};
    vg_vision_source *s = NULL;
    int64_t t0 = vg_mono_ns();
    int r = vg_vision_source_open(&sc, &s);
    int64_t ms = (vg_mono_ns() - t0) / VG_NS_PER_MS;
    cr_assert(r == -EIO || r == -ETIMEDOUT, "got %d (%s)", r, vg_strerror(r));
    cr_assert_null(s);
    cr_assert_lt(ms, 2000 + 1500, "open took %lld ms", (long long)ms);
}

Test(vision, read_checks_arguments)
{
    vg_vision_frame f;
    vg_vision_source *s = open_clip();
    cr_assert_eq(vg_vision_source_read(NULL, &f), -EINVAL);
    cr_assert_eq(vg_vision_source_read(s, NULL), -EINVAL);
    vg_vision_source_free(&s);
}

/* ---------------------------------------------------------------- counter */

Test(vision, counter_rejects_bad_configuration)
{
    vg_vision_counter_cfg c;
    vg_vision_counter *k = NULL;

    base_cfg(&c);
    c.n_zones = 0;
    cr_assert_eq(vg_vision_counter_new(&c, &k), -EINVAL);
    base_cfg(&c);
    c.n_zones = VG_VISION_MAX_ZONES + 1;
    cr_assert_eq(vg_vision_counter_new(&c, &k), -EINVAL);
    base_cfg(&c);
    c.zones[0].n_points = 2;
    cr_assert_eq(vg_vision_counter_new(&c, &k), -EINVAL);
    base_cfg(&c);
    c.zones[0].area_m2 = 0;
    cr_assert_eq(vg_vision_counter_new(&c, &k), -EINVAL);
    base_cfg(&c);
    c.zones[0].id[0] = '\0';
    cr_assert_eq(vg_vision_counter_new(&c, &k), -EINVAL);
    split_cfg(&c);
    snprintf(c.zones[1].id, VG_VISION_ID_MAX, "left"); /* repeated id */
    cr_assert_eq(vg_vision_counter_new(&c, &k), -EINVAL);
    base_cfg(&c);
    c.row_b = c.row_a; /* calibration needs two different rows */
    cr_assert_eq(vg_vision_counter_new(&c, &k), -EINVAL);
    base_cfg(&c);
    c.height_a_px = 0;
    cr_assert_eq(vg_vision_counter_new(&c, &k), -EINVAL);
    base_cfg(&c);
    c.fps = 0;
    cr_assert_eq(vg_vision_counter_new(&c, &k), -EINVAL);
    base_cfg(&c);
    c.width = 0;
    cr_assert_eq(vg_vision_counter_new(&c, &k), -EINVAL);
    base_cfg(&c);
    c.method = (enum vg_vision_method)7;
    cr_assert_eq(vg_vision_counter_new(&c, &k), -EINVAL);
    cr_assert_eq(vg_vision_counter_new(NULL, &k), -EINVAL);
    base_cfg(&c);
    cr_assert_eq(vg_vision_counter_new(&c, NULL), -EINVAL);
    cr_assert_null(k);
}

Test(vision, counter_checks_frames_and_zone_index)
{
    vg_vision_counter_cfg c;
    vg_vision_counter *k = NULL;
    static uint8_t px[64 * 64 * 3];
    vg_vision_frame f = {.data = px, .width = 64, .height = 64, .stride = 64 * 3};
    int n;
    double v;

    base_cfg(&c);
    cr_assert_eq(vg_vision_counter_new(&c, &k), 0);
    cr_assert_eq(vg_vision_counter_process(k, &f), -EINVAL); /* not the configured size */
    f.data = NULL;
    f.width = W;
    f.height = H;
    f.stride = W * 3;
    cr_assert_eq(vg_vision_counter_process(k, &f), -EINVAL);
    cr_assert_eq(vg_vision_counter_process(k, NULL), -EINVAL);
    cr_assert_eq(vg_vision_counter_process(NULL, &f), -EINVAL);
    cr_assert_eq(vg_vision_counter_zone(k, 1, &n, &v), -ERANGE);
    cr_assert_eq(vg_vision_counter_zone(k, -1, &n, &v), -ERANGE);
    cr_assert_eq(vg_vision_counter_zone(k, 0, NULL, &v), -EINVAL);
    /* no frame yet: no estimate, outputs untouched */
    n = 42;
    cr_assert_eq(vg_vision_counter_zone(k, 0, &n, &v), -EAGAIN);
    cr_assert_eq(n, 42);
    vg_vision_counter_free(&k);
    cr_assert_null(k);
    vg_vision_counter_free(&k);
}

/* Runs the clip through a counter and returns it after frame `upto` (0-based). */
static vg_vision_counter *count_clip(vg_vision_counter_cfg *c, int upto)
{
    vg_vision_counter *k = NULL;
    vg_vision_source *s = open_clip();
    vg_vision_frame f;
    int n, i;
    double v;

    cr_assert_eq(vg_vision_counter_new(c, &k), 0);
    for (i = 0; i <= upto; i++) {
        cr_assert_eq(vg_vision_source_read(s, &f), 0);
        if (i == 0)
            cr_assert_eq(vg_vision_counter_zone(k, 0, &n, &v), -EAGAIN);
        cr_assert_eq(vg_vision_counter_process(k, &f), 0);
        cr_assert_eq(vg_vision_counter_health(k, NULL, 0), VG_VISION_HEALTH_OK, "frame %d", i);
    }
    vg_vision_source_free(&s);
    return k;
}

Test(vision, counts_the_labelled_frame_within_one_person)
{
    vg_vision_counter_cfg c;
    int n;
    double v;

    base_cfg(&c);
    vg_vision_counter *k = count_clip(&c, 66);
    cr_assert_eq(vg_vision_counter_zone(k, 0, &n, &v), 0);
    cr_assert(n >= 5 && n <= 7, "frame 66 has 6 people, counted %d", n);
    cr_assert(isnan(v), "flow is off: speed_var must be NaN");
    vg_vision_counter_free(&k);
}

Test(vision, zones_split_the_count_by_where_people_stand)
{
    vg_vision_counter_cfg c;
    int left, right;
    double v;

    split_cfg(&c);
    vg_vision_counter *k = count_clip(&c, 66);
    cr_assert_eq(vg_vision_counter_zone(k, 0, &left, &v), 0);
    cr_assert_eq(vg_vision_counter_zone(k, 1, &right, &v), 0);
    cr_assert(left >= 4 && left <= 6, "five people left of x=560, counted %d", left);
    cr_assert_eq(right, 1, "one person right of x=560, counted %d", right);
    vg_vision_counter_free(&k);
}

Test(vision, flow_gives_a_plausible_speed_variance)
{
    vg_vision_counter_cfg c;
    int n;
    double v;

    base_cfg(&c);
    c.flow = 1;
    vg_vision_counter *k = count_clip(&c, 40);
    cr_assert_eq(vg_vision_counter_zone(k, 0, &n, &v), 0);
    /* People walk at about 1.3 m/s: the variance of their velocities is finite, positive
     * and well under (2 m/s)^2 + (2 m/s)^2. */
    cr_assert(isfinite(v) && v > 0 && v < 8, "speed_var %g", v);
    vg_vision_counter_free(&k);
}

Test(vision, hog_reference_method_counts_too)
{
    vg_vision_counter_cfg c;
    vg_vision_source *s = open_clip();
    vg_vision_counter *k = NULL;
    vg_vision_frame f;
    int n;
    double v;

    base_cfg(&c);
    c.method = VG_VISION_METHOD_HOG;
    cr_assert_eq(vg_vision_counter_new(&c, &k), 0);
    cr_assert_eq(vg_vision_source_read(s, &f), 0);
    cr_assert_eq(vg_vision_counter_process(k, &f), 0);
    cr_assert_eq(vg_vision_counter_zone(k, 0, &n, &v), 0); /* HOG needs no warm-up */
    /* frame 0 shows 5 people; HOG at native size misses the small ones but never
     * invents a crowd */
    cr_assert(n >= 0 && n <= 5, "counted %d", n);
    vg_vision_counter_free(&k);
    vg_vision_source_free(&s);
}

/* ---------------------------------------------------------------- health */

static uint8_t *solid(uint8_t value)
{
    uint8_t *p = malloc((size_t)W * H * 3);
    cr_assert(p);
    memset(p, value, (size_t)W * H * 3);
    return p;
}

static enum vg_vision_health feed(vg_vision_counter *k, const uint8_t *px, int frames,
                                  int64_t *t_ns, char *detail, size_t size)
{
    vg_vision_frame f = {.data = px, .width = W, .height = H, .stride = W * 3};
    for (int i = 0; i < frames; i++) {
        f.t_ns = *t_ns;
        *t_ns += 100 * VG_NS_PER_MS;
        cr_assert_eq(vg_vision_counter_process(k, &f), 0);
    }
    return vg_vision_counter_health(k, detail, size);
}

Test(vision, black_image_is_reported_black_after_a_second)
{
    vg_vision_counter_cfg c;
    vg_vision_counter *k = NULL;
    uint8_t *black = solid(0);
    int64_t t = 0;
    char detail[128] = "";

    base_cfg(&c);
    c.frozen_after_s = 60; /* black must win on its own, not as "frozen" */
    cr_assert_eq(vg_vision_counter_new(&c, &k), 0);
    /* frames at t = 0.0 .. 0.9 s: not yet a second of black */
    cr_assert_eq(feed(k, black, 10, &t, detail, sizeof(detail)), VG_VISION_HEALTH_OK);
    cr_assert_eq(feed(k, black, 1, &t, detail, sizeof(detail)), VG_VISION_HEALTH_BLACK);
    cr_assert_neq(detail[0], '\0');
    cr_assert_str_eq(vg_vision_health_name(VG_VISION_HEALTH_BLACK), "black");
    free(black);
    vg_vision_counter_free(&k);
}

Test(vision, uniform_grey_image_is_reported_covered)
{
    vg_vision_counter_cfg c;
    vg_vision_counter *k = NULL;
    uint8_t *grey = solid(128);
    int64_t t = 0;
    char detail[128];

    base_cfg(&c);
    c.frozen_after_s = 60;
    cr_assert_eq(vg_vision_counter_new(&c, &k), 0);
    cr_assert_eq(feed(k, grey, 10, &t, detail, sizeof(detail)), VG_VISION_HEALTH_OK);
    cr_assert_eq(feed(k, grey, 1, &t, detail, sizeof(detail)), VG_VISION_HEALTH_COVERED);
    cr_assert(strstr(detail, "covered"), "detail: %s", detail);
    free(grey);
    vg_vision_counter_free(&k);
}

Test(vision, repeated_frame_is_frozen_and_recovers_when_the_image_moves)
{
    vg_vision_counter_cfg c;
    vg_vision_counter *k = NULL;
    vg_vision_source *s = open_clip();
    vg_vision_frame f;
    uint8_t *still = malloc((size_t)W * H * 3);
    int64_t t = 0;
    char detail[128];

    cr_assert(still);
    cr_assert_eq(vg_vision_source_read(s, &f), 0);
    for (int y = 0; y < H; y++)
        memcpy(still + (size_t)y * W * 3, f.data + (size_t)y * f.stride, (size_t)W * 3);
    base_cfg(&c); /* frozen_after_s = 1 */
    cr_assert_eq(vg_vision_counter_new(&c, &k), 0);
    /* frames at t = 0.0 .. 0.9 s: unchanged for 0.9 s, still OK; the 11th makes 1 s */
    cr_assert_eq(feed(k, still, 10, &t, detail, sizeof(detail)), VG_VISION_HEALTH_OK);
    cr_assert_eq(feed(k, still, 1, &t, detail, sizeof(detail)), VG_VISION_HEALTH_FROZEN);
    cr_assert(strstr(detail, "unchanged"), "detail: %s", detail);
    /* live video again */
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(vg_vision_source_read(s, &f), 0);
        cr_assert_eq(vg_vision_counter_process(k, &f), 0);
    }
    cr_assert_eq(vg_vision_counter_health(k, NULL, 0), VG_VISION_HEALTH_OK);
    vg_vision_counter_free(&k);

    /* the documented default (frozen_after_s 0: 10 s): still OK after 9.9 s, frozen at 10 */
    c.frozen_after_s = 0;
    cr_assert_eq(vg_vision_counter_new(&c, &k), 0);
    t = 0;
    cr_assert_eq(feed(k, still, 100, &t, detail, sizeof(detail)), VG_VISION_HEALTH_OK);
    cr_assert_eq(feed(k, still, 1, &t, detail, sizeof(detail)), VG_VISION_HEALTH_FROZEN);
    free(still);
    vg_vision_source_free(&s);
    vg_vision_counter_free(&k);
}

Test(vision, health_names)
{
    cr_assert_str_eq(vg_vision_health_name(VG_VISION_HEALTH_OK), "ok");
    cr_assert_str_eq(vg_vision_health_name(VG_VISION_HEALTH_FROZEN), "frozen");
    cr_assert_str_eq(vg_vision_health_name(VG_VISION_HEALTH_COVERED), "covered");
    cr_assert_str_eq(vg_vision_health_name(VG_VISION_HEALTH_STOPPED), "stopped");
    cr_assert_str_eq(vg_vision_health_name((enum vg_vision_health)99), "?");
}

/* ---------------------------------------------------------------- writer */

Test(vision, writer_checks_arguments)
{
    vg_vision_writer *w = NULL;
    char path[320];
    static uint8_t px[32 * 32 * 3];
    vg_vision_frame f = {.data = px, .width = 32, .height = 32, .stride = 32 * 3};

    snprintf(path, sizeof(path), "%s/w.avi", dir);
    cr_assert_eq(vg_vision_writer_open(NULL, 64, 64, 10, &w), -EINVAL);
    cr_assert_eq(vg_vision_writer_open(path, 0, 64, 10, &w), -EINVAL);
    cr_assert_eq(vg_vision_writer_open(path, 64, 64, 0, &w), -EINVAL);
    cr_assert_eq(vg_vision_writer_open("/nonexistent/vigil/w.avi", 64, 64, 10, &w), -EIO);
    cr_assert_null(w);
    cr_assert_eq(vg_vision_writer_open(path, 64, 64, 10, &w), 0);
    cr_assert_eq(vg_vision_writer_write(w, &f), -EINVAL); /* 32x32 into a 64x64 file */
    vg_vision_writer_free(&w);
    cr_assert_null(w);
    unlink(path);
}

/* A zone that cannot contain a foot would read 0 people forever, as if it were empty: a
 * polygon off the frame or without area is refused; one partly inside is fine. */
Test(vision, counter_rejects_a_zone_off_the_frame_or_without_area)
{
    static const struct {
        float x[3], y[3];
        int ok;
    } polys[] = {
        {{1000, 1900, 1900}, {1000, 1000, 1070}, 0}, /* right of and below a 768x576 frame */
        {{W, W + 100, W + 100}, {0, 0, 100}, 0},     /* touches the right edge from outside */
        {{5, 5, 5}, {5, 5, 5}, 0},                   /* one point */
        {{0, 100, 200}, {0, 100, 200}, 0},           /* collinear */
        {{-50, 10, -50}, {-50, 10, 100}, 1},         /* partly inside */
        {{700, 1900, 1900}, {500, 500, 1070}, 1},
    };
    vg_vision_counter_cfg c;
    vg_vision_counter *k = NULL;

    for (size_t i = 0; i < sizeof(polys) / sizeof(polys[0]); i++) {
        base_cfg(&c);
        c.zones[0].n_points = 3;
        memcpy(c.zones[0].x, polys[i].x, sizeof(polys[i].x));
        memcpy(c.zones[0].y, polys[i].y, sizeof(polys[i].y));
        cr_expect_eq(vg_vision_counter_new(&c, &k), polys[i].ok ? 0 : -EINVAL, "polygon %zu", i);
        vg_vision_counter_free(&k);
    }
}

/* A configured rate replaces the file's own (which may be wrong) for the frames' event
 * times: the 10 fps clip read at 4 fps is stamped 250 ms apart. */
Test(vision, source_fps_override_sets_the_file_frames_times)
{
    vg_vision_source_cfg sc = {.uri = clip_uri,
                               .backend = VG_VISION_BACKEND_FFMPEG,
                               .file_start_ns = INT64_C(1779456000) * VG_NS_PER_S,
                               .fps = 4};
    vg_vision_source *s = NULL;
    vg_vision_frame f;

    cr_assert_eq(vg_vision_source_open(&sc, &s), 0);
    cr_assert_float_eq(vg_vision_source_fps(s), 4.0, 0.001);
    for (int n = 0; n < 5; n++) {
        cr_assert_eq(vg_vision_source_read(s, &f), 0);
        cr_assert_eq(f.t_ns, INT64_C(1779456000) * VG_NS_PER_S + n * 250 * VG_NS_PER_MS);
    }
    vg_vision_source_free(&s);
    sc.fps = 1001;
    cr_assert_eq(vg_vision_source_open(&sc, &s), -EINVAL);
    sc.fps = NAN;
    cr_assert_eq(vg_vision_source_open(&sc, &s), -EINVAL);
    cr_assert_null(s);
}
