/* vigil detect: the streaming anomaly detector over timestamp,value CSV files (issue #3 builds it). */
#include "cmd.h"

#include <stdio.h>

int vg_cmd_detect(int argc, char **argv)
{
    if (vg_cmd_wants_help(argc, argv)) {
        printf("usage: vigil detect ...\n\nthe streaming anomaly detector over timestamp,value CSV files.\nNot built yet: issue #3.\n");
        return 0;
    }
    return vg_cmd_not_yet("detect", 3);
}
