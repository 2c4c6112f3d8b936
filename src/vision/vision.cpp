/* The C API of include/vigil/vision.h over OpenCV 4: video sources, the people counter with
 * camera health, and a clip writer. The only C++ in Vigil.
 *
 * DESIGN
 * Exceptions never cross the C boundary: every extern "C" function is a function-try-block
 * mapping std::bad_alloc to -ENOMEM and anything else to -EIO (libzmq src/zmq.cpp does the
 * same). Objects are allocated with new (std::nothrow).
 *
 * Live sources (V4L2, RTSP) have a grabber thread that owns the cv::VideoCapture and keeps
 * only the newest decoded frame in a slot guarded by a mutex; the reader swaps it out. A
 * frame not read before the next one arrives is dropped and counted: a late count of a crowd
 * is worse than a skipped frame. Files are read synchronously on the caller's thread and
 * stamped by position (start + index / fps), so a file replays the same way every time.
 *
 * Counting (VG_VISION_METHOD_MOTION): MOG2 background subtraction at about 384 px wide with
 * shadow detection (shadows are not people). Each foreground blob counts as
 * min(area / (0.15 h²), width / (0.4 h)), rounded, at least 1, where h is a person's height
 * in pixels at the blob's foot row from the perspective calibration: people merge side by
 * side at this kind of camera height, so the width bounds a count that shadows or a car
 * would inflate. The constants were fitted on the labelled vtest.avi frames. A blob that
 * stops moving fades into MOG2's background: the counter keeps a vanished blob that was slow
 * and away from the image border as a held person for up to k_hold_s, until a new blob
 * appears on its spot (it walked off) or the time runs out. docs/vision.md has the numbers. */
#include "vigil/vision.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>
#include <opencv2/video.hpp>
#include <opencv2/videoio.hpp>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <memory>
#include <new>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <time.h>
#include <vector>

#define VG_VISION_CATCH                                                                            \
    catch (const std::bad_alloc &)                                                                 \
    {                                                                                              \
        return -ENOMEM;                                                                            \
    }                                                                                              \
    catch (...)                                                                                    \
    {                                                                                              \
        return -EIO;                                                                               \
    }

static int64_t wall_ns()
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void frame_out(const cv::Mat &m, int64_t t_ns, vg_vision_frame *f)
{
    f->data = m.data;
    f->width = m.cols;
    f->height = m.rows;
    f->stride = m.step[0];
    f->t_ns = t_ns;
}

/* Wraps a caller's frame without copying; valid while the caller's buffer is. */
static cv::Mat frame_in(const vg_vision_frame *f)
{
    return cv::Mat(f->height, f->width, CV_8UC3, const_cast<uint8_t *>(f->data), f->stride);
}

/* ================================================================ source */

struct vg_vision_source {
    cv::VideoCapture cap; /* files: caller's thread; live: the grabber thread only */
    bool live = false;
    double fps = 0;
    int64_t start_ns = 0;
    int64_t index = 0; /* files: frames read so far */
    int read_timeout_ms = 5000;
    cv::Mat cur; /* the frame handed out last; owner thread */

    /* live only */
    std::thread grabber;
    std::mutex lock; /* protects slot, slot_t_ns, seq, failed, stop, dropped */
    std::condition_variable cond;
    cv::Mat slot;
    int64_t slot_t_ns = 0;
    uint64_t seq = 0;      /* frames put in the slot */
    uint64_t seq_read = 0; /* owner thread: seq of the frame read last */
    bool failed = false;
    bool stop = false;
    bool paced = false; /* a file read as a live camera (cfg.live) */
    uint64_t dropped = 0;
};

/* The rate a file's frames are stamped and paced at: one the file does not state is
 * guessed as 10 fps, the same fallback vigil-count gives the counter. */
static double file_fps(const vg_vision_source *s)
{
    return s->fps > 0 ? s->fps : 10.0;
}

static void grab_loop(vg_vision_source *s)
{
    cv::Mat m;
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0;; i++) {
        if (s->paced) { /* a file played as a camera: one frame per 1/fps */
            auto due = t0 + std::chrono::nanoseconds((int64_t)(i * 1e9 / file_fps(s)));
            std::unique_lock<std::mutex> g(s->lock);
            if (s->cond.wait_until(g, due, [s] { return s->stop; }))
                return;
        }
        bool ok;
        try {
            ok = s->cap.read(m) && !m.empty();
        } catch (...) {
            ok = false;
        }
        int64_t t = wall_ns();
        std::lock_guard<std::mutex> g(s->lock);
        if (s->stop)
            return;
        if (!ok) {
            s->failed = true;
            s->cond.notify_all();
            return;
        }
        if (s->seq > s->seq_read)
            s->dropped++; /* the previous frame was never read: newest wins */
        cv::swap(s->slot, m);
        s->slot_t_ns = t;
        s->seq++;
        s->cond.notify_all();
    }
}

static bool starts_with(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

extern "C" int vg_vision_source_open(const vg_vision_source_cfg *cfg, vg_vision_source **ret)
try {
    if (!cfg || !cfg->uri || !ret)
        return -EINVAL;
    const char *uri = cfg->uri;
    std::string target;
    bool live;
    int api;
    if (starts_with(uri, "file:")) {
        if (cfg->backend != VG_VISION_BACKEND_FFMPEG)
            return -EINVAL;
        target = uri + 5;
        struct stat st;
        if (target.empty())
            return -EINVAL;
        if (stat(target.c_str(), &st) != 0)
            return -ENOENT;
        live = cfg->live != 0;
        api = cv::CAP_FFMPEG;
    } else if (starts_with(uri, "v4l2:")) {
        if (cfg->backend != VG_VISION_BACKEND_V4L2)
            return -EINVAL;
        target = uri + 5;
        struct stat st;
        if (target.empty())
            return -EINVAL;
        if (stat(target.c_str(), &st) != 0)
            return -ENOENT;
        live = true;
        api = cv::CAP_V4L2;
    } else if (starts_with(uri, "rtsp://") || starts_with(uri, "rtsps://")) {
        if (cfg->backend != VG_VISION_BACKEND_FFMPEG)
            return -EINVAL;
        target = uri;
        live = true;
        api = cv::CAP_FFMPEG;
    } else {
        return -EINVAL;
    }

    if (std::isnan(cfg->fps) || cfg->fps > 1000)
        return -EINVAL;
    int open_ms = cfg->open_timeout_ms > 0 ? cfg->open_timeout_ms : 5000;
    int read_ms = cfg->read_timeout_ms > 0 ? cfg->read_timeout_ms : 5000;
    /* owned here until it is handed out, so every early return and exception frees it */
    std::unique_ptr<vg_vision_source> s(new (std::nothrow) vg_vision_source);
    if (!s)
        return -ENOMEM;
    s->live = live;
    s->read_timeout_ms = read_ms;
    s->start_ns = cfg->file_start_ns ? cfg->file_start_ns : wall_ns();

    std::vector<int> params;
    if (live && api == cv::CAP_FFMPEG && !starts_with(uri, "file:"))
        params = {cv::CAP_PROP_OPEN_TIMEOUT_MSEC, open_ms, cv::CAP_PROP_READ_TIMEOUT_MSEC, read_ms};
    auto t0 = std::chrono::steady_clock::now();
    bool opened = false;
    try {
        if (api == cv::CAP_V4L2)
            opened = s->cap.open(target, api); /* V4L2 takes no timeout properties */
        else
            opened = s->cap.open(target, api, params);
    } catch (const std::bad_alloc &) {
        return -ENOMEM;
    } catch (...) {
        opened = false;
    }
    if (!opened) {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - t0)
                      .count();
        return live && ms >= open_ms ? -ETIMEDOUT : -EIO;
    }
    s->fps = s->cap.get(cv::CAP_PROP_FPS);
    if (!(s->fps > 0 && s->fps < 1000))
        s->fps = 0;
    if (starts_with(uri, "file:") && cfg->fps > 0)
        s->fps = cfg->fps; /* the configured rate corrects a file that states a wrong one */
    s->paced = live && starts_with(uri, "file:");
    if (live) {
        try {
            s->grabber = std::thread(grab_loop, s.get());
        } catch (...) {
            return -ENOMEM;
        }
    }
    *ret = s.release();
    return 0;
}
VG_VISION_CATCH

extern "C" void vg_vision_source_free(vg_vision_source **sp)
{
    if (!sp || !*sp)
        return;
    vg_vision_source *s = *sp;
    try {
        if (s->grabber.joinable()) {
            {
                std::lock_guard<std::mutex> g(s->lock);
                s->stop = true;
            }
            s->cond.notify_all(); /* a paced file waits on it until its next frame is due */
            /* The grabber may sit in a read for up to read_timeout_ms; it checks stop
             * right after. */
            s->grabber.join();
        }
        s->cap.release();
    } catch (...) {
    }
    delete s;
    *sp = nullptr;
}

extern "C" int vg_vision_source_read(vg_vision_source *s, vg_vision_frame *ret_frame)
try {
    if (!s || !ret_frame)
        return -EINVAL;
    if (!s->live) {
        cv::Mat m;
        if (!s->cap.read(m) || m.empty())
            return -ENODATA;
        if (m.type() != CV_8UC3)
            return -EIO;
        if (!m.isContinuous())
            m = m.clone();
        s->cur = m;
        int64_t t = s->start_ns + (int64_t)llround((double)s->index * 1e9 / file_fps(s));
        s->index++;
        frame_out(s->cur, t, ret_frame);
        return 0;
    }
    std::unique_lock<std::mutex> g(s->lock);
    bool got = s->cond.wait_for(g, std::chrono::milliseconds(s->read_timeout_ms),
                                [s] { return s->seq > s->seq_read || s->failed; });
    if (s->seq > s->seq_read) {
        cv::swap(s->cur, s->slot);
        s->seq_read = s->seq;
        int64_t t = s->slot_t_ns;
        g.unlock();
        if (s->cur.type() != CV_8UC3)
            return -EIO;
        frame_out(s->cur, t, ret_frame);
        return 0;
    }
    if (s->failed)
        return s->paced ? -ENODATA : -EIO; /* a file played live just ended */
    return got ? -EIO : -ETIMEDOUT;
}
VG_VISION_CATCH

extern "C" double vg_vision_source_fps(const vg_vision_source *s)
{
    return s ? s->fps : 0;
}

extern "C" uint64_t vg_vision_source_dropped(const vg_vision_source *s)
{
    if (!s)
        return 0;
    try {
        std::lock_guard<std::mutex> g(const_cast<vg_vision_source *>(s)->lock);
        return s->dropped;
    } catch (...) {
        return 0;
    }
}

/* ================================================================ counter */

/* Tuned on vtest.avi labels (bench/vision/labels.txt); see docs/vision.md. */
static const double k_person_area = 0.15;  /* silhouette area / h² */
static const double k_person_width = 0.40; /* silhouette width / h */
static const double k_min_blob = 0.20;     /* blobs under this many persons are noise */
static const double k_proc_width = 384;    /* motion analysis width, px */
static const double k_flow_width = 192;    /* optical flow width, px */
static const int k_cell = 8;               /* flow cell, flow pixels (32 px at 768 wide) */
static const double k_var_window_s = 3;    /* speed variance: running window */
static const double k_var_min_s = 1;       /* speed variance: data needed before a value */
static const double k_hold_s = 20;         /* longest a still person is held */
static const double k_still_speed = 0.25;  /* person heights per second: "slow" */

struct zone_rt {
    std::vector<cv::Point2f> poly; /* full-resolution pixels */
    cv::Mat flow_mask;             /* CV_8U at flow resolution */
    int count = 0;
    double speed_var = NAN;
};

struct track {
    cv::Point2f foot; /* full-res */
    cv::Rect box;     /* processing res */
    double persons;   /* estimated people in the blob */
    double speed;     /* person heights per second, smoothed */
    int64_t seen_ns;  /* last time seen moving */
    bool held;        /* no longer in the foreground, kept as still */
};

/* Running velocity statistics of one flow cell (m/s), over the frames it was occupied. */
struct cell_stat {
    double mx = 0, my = 0, m2 = 0;
    long n = 0;    /* occupied frames in the running window */
    long idle = 0; /* frames since it was last occupied */
};

struct vg_vision_counter {
    vg_vision_counter_cfg cfg;
    std::vector<zone_rt> zones;
    double scale = 1;  /* proc / full */
    double fscale = 1; /* flow / full */
    cv::Ptr<cv::BackgroundSubtractorMOG2> mog;
    cv::HOGDescriptor hog;
    cv::Mat small, gray, prev_gray, fg, labels, stats, centroids;
    cv::Mat fgray, fprev, flow, fmask;
    std::vector<cell_stat> cells;
    std::vector<track> tracks;
    int64_t last_ns = 0;
    bool have_prev = false;
    long frames = 0;      /* processed */
    int64_t first_ns = 0; /* event time of the first frame */
    int64_t now_ns = 0;   /* event time of the latest frame */

    /* health: event times when each condition began (changed: the last frame that differed) */
    int64_t changed_ns = 0;
    int64_t dark_since_ns = -1;
    int64_t flat_since_ns = -1;
    enum vg_vision_health health = VG_VISION_HEALTH_OK;
    char detail[128] = "";
};

/* Event time over which health conditions must hold (black, covered) and MOG2 learns the
 * background before the first estimate (its very first frame is all foreground). Equal, so
 * a camera that is black from the start never produces a count. */
static const int64_t k_settle_ns = 1000000000;

static bool warmed_up(const vg_vision_counter *c)
{
    if (c->cfg.method == VG_VISION_METHOD_HOG)
        return c->frames >= 1;
    return c->frames >= 2 && c->now_ns - c->first_ns >= k_settle_ns;
}

static double person_h(const vg_vision_counter_cfg *c, double row)
{
    double slope = (c->height_b_px - c->height_a_px) / (c->row_b - c->row_a);
    double h = c->height_a_px + slope * (row - c->row_a);
    return h > 4 ? h : 4; /* far rows: never below a few pixels */
}

extern "C" const char *vg_vision_health_name(enum vg_vision_health h)
{
    switch (h) {
    case VG_VISION_HEALTH_OK:
        return "ok";
    case VG_VISION_HEALTH_FROZEN:
        return "frozen";
    case VG_VISION_HEALTH_BLACK:
        return "black";
    case VG_VISION_HEALTH_COVERED:
        return "covered";
    case VG_VISION_HEALTH_STOPPED:
        return "stopped";
    }
    return "?";
}

extern "C" double vg_vision_zone_area_px(const vg_vision_zone_cfg *z)
{
    double a2 = 0;

    for (int j = 0; j < z->n_points; j++) {
        if (!std::isfinite(z->x[j]) || !std::isfinite(z->y[j]))
            return NAN;
        int k = (j + 1) % z->n_points;
        a2 += (double)z->x[j] * z->y[k] - (double)z->x[k] * z->y[j];
    }
    return std::fabs(a2) / 2;
}

/* Whether the polygon covers at least one pixel of a width x height frame. A zone off the
 * frame would read 0 people forever, and a camera that cannot see its zone must not report
 * it empty. Rasterised over the polygon's bounding box clipped to the frame, not the frame. */
static bool zone_in_frame(const vg_vision_zone_cfg *z, int width, int height)
{
    std::vector<cv::Point> p;
    for (int j = 0; j < z->n_points; j++) /* corners checked finite; clamp keeps int safe */
        p.emplace_back((int)lround(std::min(std::max((double)z->x[j], -1e6), 1e6)),
                       (int)lround(std::min(std::max((double)z->y[j], -1e6), 1e6)));
    cv::Rect box = cv::boundingRect(p) & cv::Rect(0, 0, width, height);
    if (box.empty())
        return false;
    cv::Mat mask = cv::Mat::zeros(box.size(), CV_8U);
    cv::fillPoly(mask, std::vector<std::vector<cv::Point>>{p}, cv::Scalar(255), cv::LINE_8, 0,
                 -box.tl());
    return cv::countNonZero(mask) > 0;
}

extern "C" int vg_vision_zone_in_frame(const vg_vision_zone_cfg *z, int width, int height)
try {
    if (!z || z->n_points < 3 || z->n_points > VG_VISION_MAX_POINTS || width <= 0 ||
        height <= 0 || std::isnan(vg_vision_zone_area_px(z)))
        return -EINVAL;
    return zone_in_frame(z, width, height) ? 1 : 0;
}
VG_VISION_CATCH

static int check_cfg(const vg_vision_counter_cfg *c)
{
    if (c->width < 32 || c->height < 32 || c->width > 8192 || c->height > 8192)
        return -EINVAL;
    if (!(c->fps > 0 && c->fps <= 1000))
        return -EINVAL;
    /* Read as int: a C caller may store any value, and loading an out-of-range enum is
     * undefined in C++. */
    int method;
    memcpy(&method, &c->method, sizeof(method));
    if (method != VG_VISION_METHOD_MOTION && method != VG_VISION_METHOD_HOG)
        return -EINVAL;
    if (!(c->height_a_px > 0 && c->height_b_px > 0) || !std::isfinite(c->row_a) ||
        !std::isfinite(c->row_b) || std::fabs(c->row_a - c->row_b) < 1)
        return -EINVAL;
    if (c->n_zones < 1 || c->n_zones > VG_VISION_MAX_ZONES)
        return -EINVAL;
    for (int i = 0; i < c->n_zones; i++) {
        const vg_vision_zone_cfg *z = &c->zones[i];
        if (z->id[0] == '\0' || !memchr(z->id, '\0', sizeof(z->id)))
            return -EINVAL;
        if (z->n_points < 3 || z->n_points > VG_VISION_MAX_POINTS)
            return -EINVAL;
        if (!(z->area_m2 > 0) || !std::isfinite(z->area_m2))
            return -EINVAL;
        /* Not finite (NaN), or no area: a zone that contains no feet reads 0 forever. */
        if (!(vg_vision_zone_area_px(z) >= 1))
            return -EINVAL;
        if (!zone_in_frame(z, c->width, c->height))
            return -EINVAL;
        for (int k = 0; k < i; k++)
            if (strcmp(c->zones[k].id, z->id) == 0)
                return -EINVAL;
    }
    return 0;
}

extern "C" int vg_vision_counter_new(const vg_vision_counter_cfg *cfg, vg_vision_counter **ret)
try {
    if (!cfg || !ret)
        return -EINVAL;
    int r = check_cfg(cfg);
    if (r < 0)
        return r;
    vg_vision_counter *c = new (std::nothrow) vg_vision_counter;
    if (!c)
        return -ENOMEM;
    try {
        c->cfg = *cfg;
        if (!(c->cfg.person_height_m > 0))
            c->cfg.person_height_m = 1.7;
        if (!(c->cfg.frozen_after_s > 0))
            c->cfg.frozen_after_s = 10;
        if (cfg->threads > 0)
            cv::setNumThreads(cfg->threads);
        c->scale = std::min(1.0, k_proc_width / cfg->width);
        c->fscale = std::min(1.0, k_flow_width / cfg->width);
        cv::Size fsize((int)lround(cfg->width * c->fscale), (int)lround(cfg->height * c->fscale));
        for (int i = 0; i < cfg->n_zones; i++) {
            zone_rt z;
            std::vector<cv::Point> fp;
            for (int j = 0; j < cfg->zones[i].n_points; j++) {
                z.poly.emplace_back(cfg->zones[i].x[j], cfg->zones[i].y[j]);
                fp.emplace_back((int)lround(cfg->zones[i].x[j] * c->fscale),
                                (int)lround(cfg->zones[i].y[j] * c->fscale));
            }
            z.flow_mask = cv::Mat::zeros(fsize, CV_8U);
            cv::fillPoly(z.flow_mask, std::vector<std::vector<cv::Point>>{fp}, cv::Scalar(255));
            c->zones.push_back(std::move(z));
        }
        if (cfg->method == VG_VISION_METHOD_MOTION)
            c->mog = cv::createBackgroundSubtractorMOG2(500, 16, true);
        else
            c->hog.setSVMDetector(cv::HOGDescriptor::getDefaultPeopleDetector());
    } catch (...) {
        delete c;
        throw;
    }
    *ret = c;
    return 0;
}
VG_VISION_CATCH

extern "C" void vg_vision_counter_free(vg_vision_counter **cp)
{
    if (!cp || !*cp)
        return;
    delete *cp;
    *cp = nullptr;
}

static int zone_of(const vg_vision_counter *c, cv::Point2f foot)
{
    for (size_t i = 0; i < c->zones.size(); i++)
        if (cv::pointPolygonTest(c->zones[i].poly, foot, false) >= 0)
            return (int)i;
    return -1;
}

/* Grades the image before counting: a camera that shows nothing must not report zero. */
static void update_health(vg_vision_counter *c, int64_t t_ns)
{
    cv::Scalar mean, sd;
    cv::meanStdDev(c->gray, mean, sd);
    if (c->have_prev) {
        /* Identical images: a real sensor's noise changes some pixel by more than 2 grey
         * levels every frame, even when the scene is still. */
        cv::Mat d;
        cv::absdiff(c->gray, c->prev_gray, d);
        if (cv::countNonZero(d > 2) != 0)
            c->changed_ns = t_ns;
    } else {
        c->changed_ns = t_ns;
    }
    bool dark = mean[0] < 24 && sd[0] < 16, flat = mean[0] >= 24 && sd[0] < 8;
    c->dark_since_ns = dark ? (c->dark_since_ns < 0 ? t_ns : c->dark_since_ns) : -1;
    c->flat_since_ns = flat ? (c->flat_since_ns < 0 ? t_ns : c->flat_since_ns) : -1;

    double unchanged_s = (double)(t_ns - c->changed_ns) / 1e9;
    if (dark && t_ns - c->dark_since_ns >= k_settle_ns) {
        c->health = VG_VISION_HEALTH_BLACK;
        snprintf(c->detail, sizeof(c->detail), "image dark and featureless (mean %.0f, sd %.1f)",
                 mean[0], sd[0]);
    } else if (flat && t_ns - c->flat_since_ns >= k_settle_ns) {
        c->health = VG_VISION_HEALTH_COVERED;
        snprintf(c->detail, sizeof(c->detail),
                 "image lit but featureless (mean %.0f, sd %.1f): lens covered or defocused",
                 mean[0], sd[0]);
    } else if (unchanged_s >= c->cfg.frozen_after_s) {
        c->health = VG_VISION_HEALTH_FROZEN;
        snprintf(c->detail, sizeof(c->detail), "image unchanged for %.0f s", unchanged_s);
    } else {
        c->health = VG_VISION_HEALTH_OK;
        c->detail[0] = '\0';
    }
}

static void count_hog(vg_vision_counter *c, const cv::Mat &img)
{
    std::vector<cv::Rect> found;
    c->hog.detectMultiScale(img, found, 0, cv::Size(8, 8), cv::Size(), 1.05, 2);
    for (auto &z : c->zones)
        z.count = 0;
    for (const cv::Rect &r : found) {
        int zi = zone_of(c, cv::Point2f(r.x + r.width * 0.5f, (float)(r.y + r.height) * 0.95f));
        if (zi >= 0)
            c->zones[zi].count++;
    }
}

static void count_motion(vg_vision_counter *c, int64_t t_ns)
{
    double dt = c->last_ns ? (double)(t_ns - c->last_ns) / 1e9 : 1.0 / c->cfg.fps;
    if (!(dt > 0))
        dt = 1.0 / c->cfg.fps;
    c->mog->apply(c->small, c->fg);
    /* 255 = foreground, 127 = shadow: shadows are not people. */
    cv::threshold(c->fg, c->fg, 200, 255, cv::THRESH_BINARY);
    static const cv::Mat kopen = cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(3, 3));
    static const cv::Mat kclose = cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(5, 9));
    cv::morphologyEx(c->fg, c->fg, cv::MORPH_OPEN, kopen);
    cv::morphologyEx(c->fg, c->fg, cv::MORPH_CLOSE, kclose);
    int n = cv::connectedComponentsWithStats(c->fg, c->labels, c->stats, c->centroids, 8, CV_32S);
    std::vector<double> zc(c->zones.size(), 0.0);
    std::vector<track> now;
    for (int i = 1; i < n; i++) {
        const int *st = c->stats.ptr<int>(i);
        cv::Rect box(st[cv::CC_STAT_LEFT], st[cv::CC_STAT_TOP], st[cv::CC_STAT_WIDTH],
                     st[cv::CC_STAT_HEIGHT]);
        double area = st[cv::CC_STAT_AREA] / (c->scale * c->scale); /* full-res px² */
        cv::Point2f foot((float)((box.x + box.width * 0.5) / c->scale),
                         (float)((box.y + box.height) / c->scale));
        double h = person_h(&c->cfg, foot.y);
        double persons = area / (k_person_area * h * h);
        if (persons < k_min_blob)
            continue;
        track t;
        t.foot = foot;
        t.box = box;
        /* Side by side is how people merge into one blob at this camera height: the width
         * bounds the count where shadows or a car inflate the area. */
        double across = box.width / c->scale / (k_person_width * h);
        t.persons = std::max(1.0, std::min(std::round(persons), std::round(across)));
        t.seen_ns = t_ns;
        t.held = false;
        t.speed = 1.0; /* a new blob is assumed moving until matched */
        /* Match the nearest previous track within one person height. */
        double best = h;
        const track *prev = nullptr;
        for (const track &p : c->tracks) {
            double d = std::hypot(p.foot.x - foot.x, p.foot.y - foot.y);
            if (d < best) {
                best = d;
                prev = &p;
            }
        }
        if (prev) {
            double v = best / h / dt;
            t.speed = prev->held ? v : 0.6 * prev->speed + 0.4 * v;
        }
        now.push_back(t);
    }
    /* Tracks that vanished: a slow one away from the border is a person standing still who
     * faded into the background; hold it while nothing moves on its spot. */
    cv::Rect inner(2, 2, c->fg.cols - 4, c->fg.rows - 4);
    for (const track &p : c->tracks) {
        bool matched = false;
        double h = person_h(&c->cfg, p.foot.y);
        for (const track &t : now)
            if (std::hypot(p.foot.x - t.foot.x, p.foot.y - t.foot.y) < h) {
                matched = true;
                break;
            }
        if (matched)
            continue;
        if (p.speed > k_still_speed || (t_ns - p.seen_ns) / 1e9 > k_hold_s)
            continue;
        if ((p.box & inner) != p.box)
            continue;
        track q = p;
        q.held = true;
        now.push_back(q);
    }
    for (const track &t : now) {
        int zi = zone_of(c, t.foot);
        if (zi >= 0)
            zc[(size_t)zi] += t.persons;
    }
    for (size_t i = 0; i < c->zones.size(); i++)
        c->zones[i].count = (int)std::lround(zc[i]);
    c->tracks.swap(now);
}

/* Speed variance per zone, after Helbing et al. (2007): the variance over time of the local
 * velocity, Var(v) = <|v|²> - |<v>|² at a fixed place, averaged over the places where people
 * are. Places are cells of k_cell flow pixels; a cell's velocity in a frame is the mean flow
 * of its moving pixels, converted to m/s with the calibration (person_height_m per person
 * height in pixels at that row). Each cell keeps a running mean over about k_var_window_s of
 * the frames in which it was occupied; a steady walker gives ~0, stop-and-go and counterflow
 * give more. A zone reports NaN until some cell of it has k_var_min_s of data. */
static void estimate_flow(vg_vision_counter *c, int64_t t_ns)
{
    /* Displacement per frame -> per second, with the real gap: a live source drops frames. */
    double per_s = t_ns > c->last_ns && c->last_ns ? 1e9 / (double)(t_ns - c->last_ns) : c->cfg.fps;
    cv::Size fsize(c->zones[0].flow_mask.cols, c->zones[0].flow_mask.rows);
    cv::resize(c->gray, c->fgray, fsize, 0, 0, cv::INTER_AREA);
    if (c->fprev.empty() || c->fprev.size() != c->fgray.size()) {
        c->fgray.copyTo(c->fprev);
        return;
    }
    cv::calcOpticalFlowFarneback(c->fprev, c->fgray, c->flow, 0.5, 2, 9, 2, 5, 1.1, 0);
    cv::swap(c->fprev, c->fgray);
    if (c->cfg.method == VG_VISION_METHOD_MOTION)
        cv::resize(c->fg, c->fmask, c->flow.size(), 0, 0, cv::INTER_NEAREST);
    else
        c->fmask = cv::Mat(c->flow.size(), CV_8U, cv::Scalar(255));

    int gw = (fsize.width + k_cell - 1) / k_cell, gh = (fsize.height + k_cell - 1) / k_cell;
    if ((int)c->cells.size() != gw * gh)
        c->cells.assign((size_t)(gw * gh), cell_stat());
    double window = std::max(2.0, c->cfg.fps * k_var_window_s);
    for (int cy = 0; cy < gh; cy++) {
        for (int cx = 0; cx < gw; cx++) {
            cell_stat &st = c->cells[(size_t)(cy * gw + cx)];
            double sx = 0, sy = 0;
            int n = 0, area = 0;
            for (int y = cy * k_cell; y < std::min(fsize.height, (cy + 1) * k_cell); y++) {
                const cv::Point2f *f = c->flow.ptr<cv::Point2f>(y);
                const uint8_t *fm = c->fmask.ptr<uint8_t>(y);
                /* metres per flow pixel on this row, times frames per second */
                double k = c->cfg.person_height_m / person_h(&c->cfg, (y + 0.5) / c->fscale) /
                           c->fscale * per_s;
                for (int x = cx * k_cell; x < std::min(fsize.width, (cx + 1) * k_cell); x++) {
                    area++;
                    if (!fm[x])
                        continue;
                    sx += f[x].x * k;
                    sy += f[x].y * k;
                    n++;
                }
            }
            if (n * 4 < area) { /* under a quarter moving: nobody here now */
                if (++st.idle > window)
                    st = cell_stat(); /* old news: start afresh when someone comes */
                continue;
            }
            double vx = sx / n, vy = sy / n;
            st.idle = 0;
            st.n++;
            double a = 1.0 / std::min((double)st.n, window);
            st.mx += a * (vx - st.mx);
            st.my += a * (vy - st.my);
            st.m2 += a * (vx * vx + vy * vy - st.m2);
        }
    }
    double min_n = std::max(2.0, c->cfg.fps * k_var_min_s);
    for (zone_rt &z : c->zones) {
        double sum = 0;
        int n = 0;
        for (int cy = 0; cy < gh; cy++)
            for (int cx = 0; cx < gw; cx++) {
                const cell_stat &st = c->cells[(size_t)(cy * gw + cx)];
                int px = std::min(fsize.width - 1, cx * k_cell + k_cell / 2);
                int py = std::min(fsize.height - 1, cy * k_cell + k_cell / 2);
                if (st.n < min_n || st.idle > 0 || !z.flow_mask.at<uint8_t>(py, px))
                    continue;
                sum += std::max(0.0, st.m2 - st.mx * st.mx - st.my * st.my);
                n++;
            }
        z.speed_var = n > 0 ? sum / n : NAN;
    }
}

extern "C" int vg_vision_counter_process(vg_vision_counter *c, const vg_vision_frame *frame)
try {
    if (!c || !frame || !frame->data)
        return -EINVAL;
    if (frame->width != c->cfg.width || frame->height != c->cfg.height ||
        frame->stride < (size_t)frame->width * 3)
        return -EINVAL;
    cv::Mat img = frame_in(frame);
    if (c->scale < 1)
        cv::resize(img, c->small, cv::Size(), c->scale, c->scale, cv::INTER_AREA);
    else
        img.copyTo(c->small);
    cv::swap(c->gray, c->prev_gray);
    cv::cvtColor(c->small, c->gray, cv::COLOR_BGR2GRAY);
    if (c->frames == 0)
        c->first_ns = frame->t_ns;
    c->now_ns = frame->t_ns;
    update_health(c, frame->t_ns);
    c->have_prev = true;
    c->frames++;
    if (c->cfg.method == VG_VISION_METHOD_MOTION)
        count_motion(c, frame->t_ns);
    else
        count_hog(c, img);
    if (c->cfg.flow)
        estimate_flow(c, frame->t_ns);
    c->last_ns = frame->t_ns;
    return 0;
}
VG_VISION_CATCH

extern "C" int vg_vision_counter_zone(const vg_vision_counter *c, int zone, int *ret_count,
                                      double *ret_speed_var)
{
    if (!c || !ret_count || !ret_speed_var)
        return -EINVAL;
    if (zone < 0 || zone >= (int)c->zones.size())
        return -ERANGE;
    if (!warmed_up(c))
        return -EAGAIN;
    *ret_count = c->zones[(size_t)zone].count;
    *ret_speed_var = c->cfg.flow ? c->zones[(size_t)zone].speed_var : NAN;
    return 0;
}

extern "C" enum vg_vision_health vg_vision_counter_health(const vg_vision_counter *c, char *detail,
                                                          size_t detail_size)
{
    if (!c)
        return VG_VISION_HEALTH_STOPPED; /* no counter, no picture: never "ok" */
    if (detail && detail_size > 0)
        snprintf(detail, detail_size, "%s", c->detail);
    return c->health;
}

/* ================================================================ writer */

struct vg_vision_writer {
    cv::VideoWriter w;
    int width, height;
};

extern "C" int vg_vision_writer_open(const char *path, int width, int height, double fps,
                                     vg_vision_writer **ret)
try {
    if (!path || !*path || !ret || width < 8 || height < 8 || width > 8192 || height > 8192 ||
        !(fps > 0 && fps <= 1000))
        return -EINVAL;
    vg_vision_writer *w = new (std::nothrow) vg_vision_writer;
    if (!w)
        return -ENOMEM;
    w->width = width;
    w->height = height;
    bool ok = false;
    try {
        ok = w->w.open(path, cv::CAP_FFMPEG, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), fps,
                       cv::Size(width, height), true);
    } catch (const std::bad_alloc &) {
        delete w;
        return -ENOMEM;
    } catch (...) {
        ok = false;
    }
    if (!ok) {
        delete w;
        return -EIO;
    }
    *ret = w;
    return 0;
}
VG_VISION_CATCH

extern "C" int vg_vision_writer_write(vg_vision_writer *w, const vg_vision_frame *frame)
try {
    if (!w || !frame || !frame->data || frame->width != w->width || frame->height != w->height ||
        frame->stride < (size_t)frame->width * 3)
        return -EINVAL;
    w->w.write(frame_in(frame));
    return 0;
}
VG_VISION_CATCH

extern "C" void vg_vision_writer_free(vg_vision_writer **wp)
{
    if (!wp || !*wp)
        return;
    try {
        (*wp)->w.release();
    } catch (...) {
    }
    delete *wp;
    *wp = nullptr;
}
