/* Internals shared by the alert module's files (not installed). */
#ifndef VIGIL_ALERT_PRIV_H
#define VIGIL_ALERT_PRIV_H

#include "vigil/alert.h"
#include "vigil/common.h"

#include <stdarg.h>
#include <stddef.h>

/* Growable text buffer; after a failed append err is set and later appends do nothing.
 * max bounds the size (0: unbounded). */
typedef struct vg__buf {
    char *p;
    size_t len, cap, max;
    int err;   /* 0 or -ENOMEM / -EMSGSIZE */
    int owned; /* p is malloc'd (a growable buffer) */
} vg__buf;

void vg__buf_init(vg__buf *b, char *fixed, size_t fixed_cap, size_t max);
void vg__buf_release(vg__buf *b);
void vg__buf_reset(vg__buf *b);
void vg__buf_put(vg__buf *b, const char *s, size_t n);
void vg__buf_puts(vg__buf *b, const char *s);
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void vg__buf_printf(vg__buf *b, const char *fmt, ...);
/* Appends s as a JSON string literal (quotes, escapes). */
void vg__buf_json_str(vg__buf *b, const char *s);
/* Appends a JSON number, or null for NaN/inf. */
void vg__buf_json_num(vg__buf *b, double v);

/* Writes the JSON object of one alert (the body of a feed message and of a snapshot entry).
 * reason < 0 leaves out "reason"; seq/fseq 0 leave them out. */
void vg__alert_json(vg__buf *b, const vg_model *m, const vg_alert_info *a, int reason, int feed,
                    uint64_t seq, uint64_t fseq);

/* The topic of a note: "<feed>.<grade>.<zone or sector>", grade "clear" for cleared/rtn. */
int vg__alert_topic(const vg_model *m, const vg_alert_info *a, int feed, char *out, size_t cap);

/* Id of the alert's zone, or "" (flood summaries: their sector's name). */
const char *vg__alert_zone_id(const vg_model *m, const vg_alert_info *a);

/* The suggested action text for an alert ("" when the model has none): vg_model_action(),
 * or a flood summary's own; may be written to buf. */
const char *vg__alert_action(const vg_model *m, const vg_alert_info *a, char *buf, size_t cap);

#endif
