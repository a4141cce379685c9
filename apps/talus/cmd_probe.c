#include "commands.h"

/* Placeholder: replaced when this command lands. */
int cmd_probe(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cmd_not_built("probe");
}
