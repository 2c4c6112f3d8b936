/* Checks shared by several subcommands: endpoint syntax (run, replay) and whether a venue
 * model can grade an archive's readings (replay, tune). See cmd.h. */
#include "cmd.h"

#include "vigil/common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vg_cmd_parse_endpoint(const char *url, const char *const *schemes, char *host, size_t cap,
                          int *ret_port, int *ret_scheme)
{
    const char *p = url, *colon;
    char *end;
    long port;

    *ret_scheme = -1;
    if (strstr(url, "://")) {
        for (int i = 0; schemes && schemes[i]; i++) {
            size_t n = strlen(schemes[i]);
            if (strncmp(url, schemes[i], n) == 0 && strncmp(url + n, "://", 3) == 0) {
                *ret_scheme = i;
                p = url + n + 3;
                break;
            }
        }
        if (*ret_scheme < 0)
            return -EINVAL;
    }
    if (*p == '[') { /* [IPv6]:port */
        const char *rb = strchr(p, ']');
        if (!rb || rb[1] != ':' || (size_t)(rb - p - 1) >= cap || rb == p + 1)
            return -EINVAL;
        memcpy(host, p + 1, (size_t)(rb - p - 1));
        host[rb - p - 1] = '\0';
        colon = rb + 1;
    } else {
        colon = strrchr(p, ':');
        if (!colon || colon == p || (size_t)(colon - p) >= cap)
            return -EINVAL;
        memcpy(host, p, (size_t)(colon - p));
        host[colon - p] = '\0';
        if (strchr(host, '/'))
            return -EINVAL;
    }
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || port < 0 || port > 65535)
        return -EINVAL;
    *ret_port = (int)port;
    return 0;
}

int vg_cmd_zmq_endpoint_ok(const char *url)
{
    static const char *const schemes[] = {"tcp", NULL};
    char tmp[300], host[256];
    size_t n = strlen(url);
    int port, scheme;

    if (n >= sizeof(tmp) - 1)
        return -EINVAL;
    memcpy(tmp, url, n + 1);
    if (n >= 2 && strcmp(tmp + n - 2, ":*") == 0)
        memcpy(tmp + n - 1, "0", 2);
    if (vg_cmd_parse_endpoint(tmp, schemes, host, sizeof(host), &port, &scheme) || scheme < 0)
        return -EINVAL;
    if (port == 0 && strcmp(tmp, url) == 0)
        return -EINVAL; /* port 0 is spelled '*' for ZeroMQ */
    return 0;
}

/* The first kind whose ids archived (indices as the readings carry them) does not have at
 * the same indices in base, or NULL when every index names the same thing in both (base may
 * add objects at the end). */
static const char *renumbered(const vg_model *archived, const vg_model *base)
{
#define SAME_IDS(kind, count, get)                                                   \
    do {                                                                             \
        if (count(archived) > count(base))                                           \
            return kind;                                                             \
        for (uint32_t i = 0; i < count(archived); i++)                               \
            if (strcmp(get(archived, i)->id, get(base, i)->id) != 0)                 \
                return kind;                                                         \
    } while (0)
    SAME_IDS("zones", vg_model_zone_count, vg_model_zone);
    SAME_IDS("sensors", vg_model_sensor_count, vg_model_sensor);
    SAME_IDS("cameras", vg_model_camera_count, vg_model_camera);
    SAME_IDS("lines", vg_model_line_count, vg_model_line);
    SAME_IDS("help points", vg_model_help_point_count, vg_model_help_point);
#undef SAME_IDS
    return NULL;
}

int vg_cmd_check_layout(const char *cmd, vg_archive_reader *rd, const char *file,
                        const vg_archive_info *info, const vg_model *base,
                        const char *model_path, const char *split_advice)
{
    const char *what = model_path ? model_path : "the first archive's model";

    /* Another venue's model may even number alike: its objects are still other places. */
    if (strcmp(info->venue, vg_model_venue(base)) != 0) {
        fprintf(stderr, "vigil %s: %s: %s is a model of venue \"%s\", the file was archived "
                        "at venue \"%s\"\n",
                cmd, file, what, vg_model_venue(base), info->venue);
        return -1;
    }
    for (size_t k = 0; k < (size_t)info->count[VG_ARCHIVE_REC_MODEL]; k++) {
        vg_model *m = NULL;
        vg_model_error err;
        vg_archive_model row;
        const char *kind;
        int r;

        memset(&row, 0, sizeof(row));
        if (vg_archive_reader_model(rd, k, &row) != -ENOENT && row.digest == vg_model_digest(base))
            continue; /* the base itself: nothing to compare */
        r = vg_archive_reader_load_model_at(rd, k, &m, &err);
        if (r < 0) {
            fprintf(stderr, "vigil %s: %s: archived model %zu does not load: %s\n", cmd, file, k,
                    r == -EINVAL ? err.message : vg_strerror(r));
            return -1;
        }
        kind = renumbered(m, base);
        vg_model_free(&m);
        if (!kind)
            continue;
        if (k == 0)
            fprintf(stderr, "vigil %s: %s: %s numbers its %s differently from the file's "
                            "model, so its readings would be counted against the wrong ones "
                            "(add new objects at the end of a list, do not reorder)\n",
                    cmd, file, what, kind);
        else
            fprintf(stderr, "vigil %s: %s: the reload after reading %llu (model %zu, %s) "
                            "renumbered the %s; one model cannot grade both parts of this "
                            "file: %s\n",
                    cmd, file, (unsigned long long)row.reading_index, k,
                    row.path[0] ? row.path : "-", kind, split_advice);
        return -1;
    }
    return 0;
}
