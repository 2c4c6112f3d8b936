/* Subcommands of the `vigil` program. Each returns the process exit status:
 * 0 success, 1 failure at run time, 2 bad usage. */
#ifndef VIGIL_APP_CMD_H
#define VIGIL_APP_CMD_H

#include "vigil/archive.h"

#include <stddef.h>

/* The slowest --speed of vigil replay and vigil sim (event seconds per wall second): below
 * it a minute of events would take more than 17 hours, so it is a typo, refused as bad usage. */
#define VG_MIN_SPEED 0.001

/* The first line of a password or key file (malloc'd, line end removed), or NULL with *why
 * saying why: the open or read error, "empty file", or "out of memory". */
char *vg_cmd_read_secret(const char *path, const char **why);

/* Parses "[scheme://]HOST:PORT" with an optional scheme from `schemes` (NULL-terminated).
 * Writes the host into host (cap bytes), the port and the scheme index (-1 none).
 * Returns 0 or -EINVAL. */
int vg_cmd_parse_endpoint(const char *url, const char *const *schemes, char *host, size_t cap,
                          int *ret_port, int *ret_scheme);

/* A ZeroMQ bind address as the feeds take it: tcp://HOST:PORT where PORT may be '*' (any
 * free port). Returns 0 or -EINVAL. */
int vg_cmd_zmq_endpoint_ok(const char *url);

/* Whether base can grade every reading of the archive file rd (path file): it must be a
 * model of the file's venue and number its zones, sensors, cameras, lines and help points
 * as every model in force in the file (reloads included) did, since readings name them by
 * index; objects added at the end of a list are fine. model_path: base's file (NULL: the
 * first archive's model). split_advice ends the message about a reload that renumbered.
 * Returns 0, or -1 after saying why on stderr as `vigil CMD: FILE: ...`. */
int vg_cmd_check_layout(const char *cmd, vg_archive_reader *rd, const char *file,
                        const vg_archive_info *info, const vg_model *base,
                        const char *model_path, const char *split_advice);

int vg_cmd_run(int argc, char **argv);
int vg_cmd_replay(int argc, char **argv);
int vg_cmd_tune(int argc, char **argv);
int vg_cmd_sim(int argc, char **argv);
int vg_cmd_watch(int argc, char **argv);
int vg_cmd_detect(int argc, char **argv);
int vg_cmd_check(int argc, char **argv);
int vg_cmd_score(int argc, char **argv);

#endif
