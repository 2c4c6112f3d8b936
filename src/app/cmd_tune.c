/* vigil tune: sweep thresholds over archives and report alert rates against lead time (issue #6 builds it). */
#include "cmd.h"

#include <stdio.h>

int vg_cmd_tune(int argc, char **argv)
{
    if (vg_cmd_wants_help(argc, argv)) {
        printf("usage: vigil tune ...\n\nsweep thresholds over archives and report alert rates against lead time.\nNot built yet: issue #6.\n");
        return 0;
    }
    return vg_cmd_not_yet("tune", 6);
}
