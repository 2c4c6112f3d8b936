/* vigil replay: run HDF5 archives through the analysis core again (issue #6 builds it). */
#include "cmd.h"

#include <stdio.h>

int vg_cmd_replay(int argc, char **argv)
{
    if (vg_cmd_wants_help(argc, argv)) {
        printf("usage: vigil replay ...\n\nrun HDF5 archives through the analysis core again.\nNot built yet: issue #6.\n");
        return 0;
    }
    return vg_cmd_not_yet("replay", 6);
}
