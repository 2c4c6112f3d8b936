/* Private to src/model: the model's body, shared by the loader (load.c) and the accessors
 * and lookups (model.c). */
#ifndef VIGIL_MODEL_PRIV_H
#define VIGIL_MODEL_PRIV_H

#include "vigil/model.h"

#include <stddef.h>
#include <stdint.h>

/* Bump allocator: everything a model owns lives in its blocks and goes in one free. */
struct vg__arena_block;
typedef struct vg__arena {
    struct vg__arena_block *head;
} vg__arena;

void *vg__arena_alloc(vg__arena *a, size_t size);
char *vg__arena_strdup(vg__arena *a, const char *s);
void vg__arena_release(vg__arena *a);

/* Open-addressing table from one or two strings (device, field) to up to two indices.
 * Built once at load; read-only afterwards. */
typedef struct vg__slot {
    const char *key;  /* NULL: empty */
    const char *key2; /* second half of a two-part key, or NULL */
    uint32_t len, len2;
    uint32_t a, b;
} vg__slot;

typedef struct vg__table {
    vg__slot *slots;
    uint32_t mask; /* capacity - 1; capacity is a power of two > 2 * entries */
    uint32_t count;
} vg__table;

/* Sizes a table for n entries. Returns 0 or -ENOMEM. */
int vg__table_init(vg__table *t, vg__arena *a, uint32_t n);
/* Inserts; returns 0, or -EEXIST with *ret_existing (the slot already holding the key). */
int vg__table_put(vg__table *t, const char *key, size_t len, const char *key2, size_t len2,
                  uint32_t a, uint32_t b, const vg__slot **ret_existing);
const vg__slot *vg__table_get(const vg__table *t, const char *key, size_t len, const char *key2,
                              size_t len2);

struct vg_model {
    vg__arena arena;
    const char *venue, *venue_name, *version, *path;
    char *text;
    size_t text_len;
    uint64_t digest;
    int32_t utc_offset_s;

    vg_zone *zones;
    vg_line *lines;
    vg_camera *cameras;
    vg_sensor *sensors;
    vg_help_point *help_points;
    vg_profile *profiles;
    vg_phase *phases;
    const char **sectors;
    uint32_t n_zones, n_lines, n_cameras, n_sensors, n_help_points, n_profiles, n_phases, n_sectors;
    uint32_t default_profile;
    enum vg_feed routes[VG_ALERT_KIND_COUNT];

    vg__table t_zone, t_line, t_camera, t_sensor, t_help_point, t_profile, t_phase, t_sector;
    vg__table t_frigate;    /* frigate name -> (camera, zone) */
    vg__table t_z2m;        /* (device, field) -> sensor */
    vg__table t_z2m_device; /* device -> first sensor */
};

/* The built-in profile: DESIGN.md "Default grades" (docs/model.md lists each value). */
void vg__profile_defaults(vg_profile *p);
/* Default feed of each alert kind. */
enum vg_feed vg__default_route(enum vg_alert_kind k);

uint64_t vg__fnv1a(const void *data, size_t len, uint64_t h);
#define VG__FNV_BASIS UINT64_C(0xcbf29ce484222325)

#endif
