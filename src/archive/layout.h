/* Private: the HDF5 file layout shared by the writer (archive.c) and the reader (reader.c).
 * docs/archive.md describes the same layout for people and other tools. */
#ifndef VIGIL_ARCHIVE_LAYOUT_H
#define VIGIL_ARCHIVE_LAYOUT_H

#include "vigil/archive.h"

#include <hdf5.h>
#include <stddef.h>

/* Root attribute "format" holds this. */
#define VG__ARCHIVE_FORMAT "vigil-archive"

enum vg__ds {
    VG__DS_READINGS = 0,
    VG__DS_TICKS,
    VG__DS_METRICS,
    VG__DS_ALERTS,
    VG__DS_REJECTS,
    VG__DS_ACTIONS,
    VG__DS_INCIDENTS,
    VG__DS_MODELS,
    VG__DS_MODEL_TEXT,
    VG__DS_COUNT
};

/* Rows as stored (memory type == file type, so writes need no conversion). */
/* A reading row is the vg_reading itself, 40 bytes, with the result of the live push
 * (enum vg_reject) in the low byte of r.reserved: the "reject" field
 * of the file's compound type. Readers clear it again before handing the reading out. */
typedef struct vg__row_reading {
    vg_reading r;
} vg__row_reading;

/* Offset of that byte: the low byte of the uint16 on either byte order. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define VG__REJECT_OFFSET (offsetof(vg_reading, reserved) + 1)
#else
#define VG__REJECT_OFFSET offsetof(vg_reading, reserved)
#endif

typedef struct vg__row_tick {
    int64_t t_ns;
    uint64_t reading_index; /* readings of this file before the tick */
    uint64_t lost;
} vg__row_tick;

typedef struct vg__row_alert {
    vg_alert_event ev;
    uint64_t reading_index; /* readings of this file before the event */
} vg__row_alert;

/* The switch position (reading_index, tick_index) came later than the other fields: files
 * written before it have rows without them (the reader checks, vg__archive_models_type()). */
typedef struct vg__row_model {
    int64_t t_ns;       /* in force from (INT64_MIN: from the start of the file) */
    uint64_t digest;
    uint64_t offset;    /* into /model_text */
    uint64_t length;
    char version[64];
    char path[192];
    uint64_t reading_index; /* readings of this file before the switch */
    uint64_t tick_index;    /* ticks of this file before the switch */
} vg__row_model;

/* Dataset name, row size, default chunk rows (0: cfg.chunk_records). */
typedef struct vg__ds_desc {
    const char *name;
    size_t row_size;
    hsize_t chunk;
} vg__ds_desc;

extern const vg__ds_desc vg__ds[VG__DS_COUNT];

/* Builds the HDF5 type of a dataset's rows (close with H5Tclose). Returns < 0 on failure. */
hid_t vg__archive_type(enum vg__ds d);

/* The /models row type with (positions 1) or without (0: files written before switch
 * positions were recorded) reading_index and tick_index; the memory layout is
 * vg__row_model either way. Close with H5Tclose; < 0 on failure. */
hid_t vg__archive_models_type(int positions);

/* Dataset of a record type, or -1. */
int vg__archive_ds_of(enum vg_archive_rec type);

/* Maps the errno left by a failed HDF5 call to a negative errno (-EIO when unknown). */
int vg__archive_errno(void);

#endif
