/* Private to src/sim: the scenario's body (read by the simulator), and the small helpers the
 * simulator, the truth writer and the scorer share. */
#ifndef VIGIL_SIM_PRIV_H
#define VIGIL_SIM_PRIV_H

#include "vigil/sim.h"

#include <stdint.h>

/* A window of the day, in seconds from the scenario's start; from < to. */
typedef struct vg__window {
    double from_s;
    double to_s;
} vg__window;

typedef struct vg__entry {
    uint32_t zone;
    double share; /* normalised: entries' shares sum to 1 */
} vg__entry;

struct vg_scenario {
    const vg_model *model;
    char *path;
    char *name;
    char *description;
    int64_t start_ns;
    int64_t duration_ns;
    uint32_t attendance;
    vg__window ingress;
    double kickoff_s;       /* match (first half) starts */
    vg__window half_time;
    double half_time_share; /* fraction of each stand that visits the concourses */
    vg__window egress;
    double temperature_c, humidity_pct, wbgt_c;
    double line_period_s;
    vg__entry *entries; /* NULL: inferred by the simulator */
    uint32_t n_entries;
    vg_incident *incidents;
    uint32_t n_incidents;
    char **strings; /* every string the incidents point at, freed with the scenario */
    uint32_t n_strings;
};

/* s as a quoted JSON string, escaped (ids are [A-Za-z0-9_.-], but scenario names and the ids
 * of a truth file read back may hold anything). NULL is "". */
void vg__sim_put_json_str(FILE *f, const char *s);

/* Event time as Unix seconds with milliseconds, e.g. "1779456000.250" (buf >= 32 bytes). */
void vg__sim_fmt_ts(char *buf, size_t len, int64_t t_ns);

/* The alert kinds an incident type is expected to raise: writes up to cap kinds and their
 * lowest grade that counts, returns how many. */
uint32_t vg__sim_expected(enum vg_incident_type t, const char *mode, enum vg_alert_kind *kinds,
                          enum vg_grade *min_grades, uint32_t cap);

/* What the truth writer reads from a simulator. */
const vg_model *vg__sim_model(const vg_sim *s);
const vg_scenario *vg__sim_scenario(const vg_sim *s);
const vg_sim_cfg *vg__sim_cfg(const vg_sim *s);
int64_t vg__sim_shift_ns(const vg_sim *s);

#endif
