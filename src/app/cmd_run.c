/* vigil run: the live engine: MQTT readings in, graded alerts out on ZeroMQ, HDF5 archive (issue #4 builds it). */
#include "cmd.h"

#include <stdio.h>

int vg_cmd_run(int argc, char **argv)
{
    if (vg_cmd_wants_help(argc, argv)) {
        printf("usage: vigil run ...\n\nthe live engine: MQTT readings in, graded alerts out on ZeroMQ, HDF5 archive.\nNot built yet: issue #4.\n");
        return 0;
    }
    return vg_cmd_not_yet("run", 4);
}
