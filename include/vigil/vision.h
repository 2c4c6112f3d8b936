/* Vision: the camera side of vigil-count, a plain C API over OpenCV (C++).
 *
 * Three objects, each owned by one thread (the one that calls it):
 *   vg_vision_source  a video file, a V4L2 camera or an RTSP stream, opened with a named
 *                     OpenCV backend. Live sources are read by an internal grabber thread
 *                     that keeps only the newest frame, so latency stays bounded: stale
 *                     frames are dropped (and counted), never queued.
 *   vg_vision_counter counts people per zone (a polygon with its walkable area and a
 *                     perspective calibration), optionally estimates each zone's speed
 *                     variance from dense optical flow, and grades the camera's health
 *                     (frozen, black, covered).
 *   vg_vision_writer  writes frames to a video file (test clips, recordings).
 *
 * Frames cross the API as vg_vision_frame: packed 8-bit BGR rows. A frame the caller passes
 * in is wrapped, not copied, and never kept past the call.
 *
 * Errors: 0 or a negative errno. Every entry point catches every C++ exception:
 * std::bad_alloc becomes -ENOMEM, anything else -EIO. No OpenCV type appears here. */
#ifndef VIGIL_VISION_H
#define VIGIL_VISION_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Zones and polygon corners per counter. */
#define VG_VISION_MAX_ZONES 32
#define VG_VISION_MAX_POINTS 32
#define VG_VISION_ID_MAX 64

/* One BGR frame: height rows of width pixels, 3 bytes each, rows `stride` bytes apart. */
typedef struct vg_vision_frame {
    const uint8_t *data;
    int width;
    int height;
    size_t stride;
    int64_t t_ns; /* event time: Unix ns (file: start time + position; live: capture time) */
} vg_vision_frame;

/* ---------------------------------------------------------------- source */

typedef struct vg_vision_source vg_vision_source;

enum vg_vision_backend {
    VG_VISION_BACKEND_FFMPEG = 0, /* files and RTSP (cv::CAP_FFMPEG) */
    VG_VISION_BACKEND_V4L2 = 1,   /* /dev/videoN (cv::CAP_V4L2) */
};

typedef struct vg_vision_source_cfg {
    /* "file:PATH", "v4l2:/dev/videoN" or "rtsp://..." */
    const char *uri;
    enum vg_vision_backend backend; /* must suit the uri: FFMPEG for file/rtsp, V4L2 for v4l2 */
    int open_timeout_ms;            /* bound on connecting to a stream; <= 0: 5000 */
    int read_timeout_ms;            /* bound on one read of a stream; <= 0: 5000 */
    /* Files: event time of the first frame (Unix ns); later frames add their position. 0
     * means "the wall clock at open". Live sources stamp each frame with the wall clock. */
    int64_t file_start_ns;
    /* Files only: play the file as a live camera: the grabber thread decodes it at its own
     * frame rate, frames are stamped with the wall clock, and frames not read in time are
     * dropped like a camera's. For demos and for testing the live path. */
    int live;
    /* Files only: > 0 is the frame rate to stamp (and, live, to play) frames at instead of the
     * one the file states, which may be wrong; <= 0: the file's, or 10 if it states none. */
    double fps;
} vg_vision_source_cfg;

/* Opens a source. cfg and its strings are borrowed for the call.
 * Returns 0 and *ret (free with vg_vision_source_free()); -EINVAL for a NULL argument, a uri
 * without a known scheme, a backend that does not suit it, or fps NaN or over 1000; -ENOENT
 * when a file does not exist; -ETIMEDOUT when a stream did not open within open_timeout_ms;
 * -EIO when OpenCV cannot open it; -ENOMEM.
 * Thread: any; the source then belongs to the calling thread. */
int vg_vision_source_open(const vg_vision_source_cfg *cfg, vg_vision_source **ret);

/* Stops the grabber thread (if any) and frees the source; accepts NULL and *sp == NULL, sets
 * *sp to NULL. Thread: owner. */
void vg_vision_source_free(vg_vision_source **sp);

/* Reads the next frame (files: in order; live: the newest one, waiting up to
 * read_timeout_ms). *ret_frame points into the source and stays valid until the next read
 * or free. Returns 0; -ENODATA at the end of a file (also one played live); -ETIMEDOUT when a live
 * source gave no new frame in time; -EIO when the source failed (stream closed, device gone);
 * -EINVAL for a NULL argument. Thread: owner. */
int vg_vision_source_read(vg_vision_source *s, vg_vision_frame *ret_frame);

/* Nominal frame rate (cfg.fps if set, else the source's; 0 if neither says) and live
 * frames the grabber dropped because a newer one arrived before they were read.
 * Thread: owner. */
double vg_vision_source_fps(const vg_vision_source *s);
uint64_t vg_vision_source_dropped(const vg_vision_source *s);

/* ---------------------------------------------------------------- counter */

typedef struct vg_vision_counter vg_vision_counter;

typedef struct vg_vision_zone_cfg {
    char id[VG_VISION_ID_MAX];
    int n_points;                  /* 3 .. VG_VISION_MAX_POINTS */
    float x[VG_VISION_MAX_POINTS]; /* polygon corners, image pixels */
    float y[VG_VISION_MAX_POINTS];
    double area_m2; /* walkable area inside the polygon, > 0 */
} vg_vision_zone_cfg;

/* The area the zone's polygon encloses, in square pixels (shoelace formula; 0 for repeated
 * or collinear corners, NaN when a corner is not finite). The counter refuses a zone under
 * 1 px²: it contains no feet and would read 0 forever. Thread: any. */
double vg_vision_zone_area_px(const vg_vision_zone_cfg *z);

/* 1 when the zone's polygon covers at least one pixel of a width x height frame, 0 when it
 * lies off it (the counter refuses such a zone); -EINVAL (bad polygon or size), -ENOMEM.
 * Thread: any. */
int vg_vision_zone_in_frame(const vg_vision_zone_cfg *z, int width, int height);

enum vg_vision_method {
    /* Background subtraction (MOG2) finds moving people; each blob counts as its area over
     * the calibrated area of one person at its foot row; blobs that stop moving are held
     * (see docs/vision.md). Fast: the default. */
    VG_VISION_METHOD_MOTION = 0,
    /* OpenCV's built-in HOG people detector on the whole frame at native size: the
     * reference the benchmark compares against. Slow, and blind to people under ~100 px. */
    VG_VISION_METHOD_HOG = 1,
};

typedef struct vg_vision_counter_cfg {
    int width, height; /* frame size every processed frame must have */
    double fps;        /* nominal frame rate (time itself comes from each frame's t_ns); > 0 */
    /* Perspective calibration: a standing person whose feet are on image row row_a is
     * height_a_px tall, on row row_b height_b_px tall (rows differ); linear in between and
     * beyond. person_height_m converts pixels to metres for optical flow (<= 0: 1.7). */
    double row_a, height_a_px, row_b, height_b_px;
    double person_height_m;
    enum vg_vision_method method;
    int flow;    /* 1: estimate speed variance per zone (dense optical flow) */
    int threads; /* OpenCV worker threads for this process (cv::setNumThreads); <= 0: leave */
    /* Health: seconds of an unchanged image before "frozen" (<= 0: 10). Black and covered
     * must last one second. All health timers run on the frames' event time. */
    double frozen_after_s;
    int n_zones; /* 1 .. VG_VISION_MAX_ZONES */
    vg_vision_zone_cfg zones[VG_VISION_MAX_ZONES];
} vg_vision_counter_cfg;

enum vg_vision_health {
    VG_VISION_HEALTH_OK = 0,
    VG_VISION_HEALTH_FROZEN = 1,  /* the image has not changed for frozen_after_s */
    VG_VISION_HEALTH_BLACK = 2,   /* dark and featureless: no signal, lens cap, lights off */
    VG_VISION_HEALTH_COVERED = 3, /* lit but featureless: lens covered, sprayed or defocused */
    VG_VISION_HEALTH_STOPPED = 4, /* no frames (set by the caller, never by the counter) */
};

/* "ok", "frozen", "black", "covered", "stopped"; "?" for an unknown value. Thread: any. */
const char *vg_vision_health_name(enum vg_vision_health h);

/* Creates a counter. cfg is copied. Returns 0 and *ret (free with
 * vg_vision_counter_free()); -EINVAL when a size, rate, calibration, zone count, polygon or
 * area is out of range, a polygon encloses under 1 px² or has no pixel inside the
 * width x height frame (its zone would read 0 forever), or a zone id is empty or repeated;
 * -ENOMEM. Thread: any; the counter then belongs to the calling thread. */
int vg_vision_counter_new(const vg_vision_counter_cfg *cfg, vg_vision_counter **ret);

/* Accepts NULL and *cp == NULL; sets *cp to NULL. Thread: owner. */
void vg_vision_counter_free(vg_vision_counter **cp);

/* Runs one frame through the counter (frame borrowed for the call). Frames must come in
 * time order and at the configured size. Returns 0; -EINVAL for a NULL argument, a frame of
 * another size or a NULL data pointer; -EIO/-ENOMEM from OpenCV (the counter stays usable).
 * Thread: owner. */
int vg_vision_counter_process(vg_vision_counter *c, const vg_vision_frame *frame);

/* The latest estimate for zone `zone` (0-based, config order): people (rounded) and speed
 * variance in m²/s² (NaN when flow is off or no moving person was seen). Only meaningful
 * while the health is OK. Returns 0; -EAGAIN before the first estimate (the motion method
 * learns the background over the first second of event time; outputs untouched); -EINVAL for a
 * NULL pointer; -ERANGE for a bad zone index. Thread: owner. */
int vg_vision_counter_zone(const vg_vision_counter *c, int zone, int *ret_count,
                           double *ret_speed_var);

/* The camera's health after the latest frame, and a short reason for a person (written to
 * detail, NUL-terminated, truncated to detail_size; detail may be NULL; empty when OK).
 * A NULL counter gives VG_VISION_HEALTH_STOPPED. Thread: owner. */
enum vg_vision_health vg_vision_counter_health(const vg_vision_counter *c, char *detail,
                                               size_t detail_size);

/* ---------------------------------------------------------------- writer */

typedef struct vg_vision_writer vg_vision_writer;

/* Opens PATH (borrowed for the call) for writing Motion-JPEG in AVI at width x height, fps,
 * with the FFMPEG backend. Returns 0 and *ret (free with vg_vision_writer_free(), which
 * closes the file); -EINVAL for a bad argument; -EIO when OpenCV cannot open the file;
 * -ENOMEM. Thread: any; the writer then belongs to the calling thread. */
int vg_vision_writer_open(const char *path, int width, int height, double fps,
                          vg_vision_writer **ret);
/* Appends one frame of the opened size (borrowed for the call). Returns 0; -EINVAL for a
 * NULL argument or a frame of another size; -EIO/-ENOMEM from OpenCV. Thread: owner. */
int vg_vision_writer_write(vg_vision_writer *w, const vg_vision_frame *frame);

/* Finishes and closes the file, frees the writer; accepts NULL and *wp == NULL, sets *wp to
 * NULL. Thread: owner. */
void vg_vision_writer_free(vg_vision_writer **wp);

#ifdef __cplusplus
}
#endif

#endif
