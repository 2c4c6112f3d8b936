/* vigil sim: simulate an event day on a venue model and publish it over MQTT (issue #8 builds it). */
#include "cmd.h"

#include <stdio.h>

int vg_cmd_sim(int argc, char **argv)
{
    if (vg_cmd_wants_help(argc, argv)) {
        printf("usage: vigil sim ...\n\nsimulate an event day on a venue model and publish it over MQTT.\nNot built yet: issue #8.\n");
        return 0;
    }
    return vg_cmd_not_yet("sim", 8);
}
