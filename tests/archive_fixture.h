/* The archive tests' fixture, shared by tests/unit/test_archive.c and
 * tests/integration/test_archive.c: a temporary directory holding a small venue model, and
 * the archive files written into it. */
#ifndef VIGIL_TESTS_ARCHIVE_FIXTURE_H
#define VIGIL_TESTS_ARCHIVE_FIXTURE_H

#include "vigil/model.h"

/* The venue: conc (moving, 100 m², cam-c) and hall (standing, 1000 m², cam-h) joined by the
 * counting line door; a co2 sensor and the help point hp in conc. */
extern const char *const archive_fixture_model;

extern char af_dir[128];        /* the temporary directory */
extern char af_model_path[192]; /* af_dir/venue.cfg */
extern vg_model *af_model;      /* loaded from it */

/* Creates af_dir under root (NULL: /tmp) named name-XXXXXX, writes and loads the model. */
void archive_fixture_setup(const char *root, const char *name);

/* Frees the model and removes af_dir with everything in it. */
void archive_fixture_teardown(void);

/* Removes path and, for a directory, everything below it. */
void rm_rf(const char *path);

/* The .h5 files of directory d in name order (creation order: the name carries the time and
 * the file index), as paths in names; returns how many (at most cap). */
int list_archives(const char *d, char names[][512], int cap);

#endif
