#include "commands.h"

/* Placeholder: replaced when this command lands. */
int bench_usb(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cmd_not_built("bench usb");
}
