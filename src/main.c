/* dockhand: a token service for container registries with robot accounts. */
#include <stdio.h>

#include "dockhand/cli.h"
#include "dockhand/config.h"

int main(int argc, char **argv)
{
    struct config cfg;
    if (config_load(&cfg, &argc, argv, stderr) < 0)
        return 2;
    int rc = cli_main(&cfg, argc, argv);
    config_deinit(&cfg);
    return rc;
}
