/* The archive tests' fixture, shared by the unit and integration tests of the archive and
 * the engine: a temporary directory holding a small venue model, the archive files written
 * into it, and a line counter for the JSON lines files the engine writes beside them. */
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

/* Lines of the file at path that contain needle (NULL: every line); -1 if it cannot be
 * opened. */
int count_lines(const char *path, const char *needle);

#endif
