/* vigil-count's private header: the parsed configuration file. */
#ifndef VIGIL_COUNT_H
#define VIGIL_COUNT_H

#include "vigil/vision.h"

#include <stddef.h>

#define VG_COUNT_STR_MAX 256
#define VG_COUNT_URI_MAX 1024

typedef struct vg_count_cfg {
    char venue[VG_VISION_ID_MAX];
    char camera[VG_VISION_ID_MAX];
    char source[VG_COUNT_URI_MAX];
    enum vg_vision_backend backend;
    int open_timeout_ms;
    int realtime;           /* files: pace frames at the file's rate */
    double fps;             /* 0: take the source's own rate */
    double publish_hz;      /* count messages per second of event time */
    double stopped_after_s; /* live: no frame for this long is "stopped" (read bound) */
    double reconnect_max_s; /* live: longest wait between reopen attempts */
    char broker_host[VG_COUNT_STR_MAX];
    int broker_port;
    char client_id[VG_COUNT_STR_MAX];
    char username[VG_COUNT_STR_MAX];
    char password[VG_COUNT_STR_MAX];
    int keepalive_s;
    /* width/height/fps are filled in from the first frame */
    vg_vision_counter_cfg counter;
} vg_count_cfg;

/* Reads and validates a vigil-count configuration file into *ret_cfg.
 * On error returns -EINVAL (bad value or missing key), -ENOENT/-EACCES (cannot read) or
 * -EPROTO (syntax), and writes one line naming the file, the line and the key to err.
 * Thread: any. */
int vg_count_cfg_load(const char *path, vg_count_cfg *ret_cfg, char *err, size_t err_size);

#endif
