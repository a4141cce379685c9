#include "commands.h"

#include <stdio.h>
#include <string.h>

int cmd_bench(int argc, char **argv)
{
    static const struct { const char *name; int (*fn)(int, char **); } kinds[] = {
        { "imaging", bench_imaging }, { "sim", bench_sim }, { "usb", bench_usb },
        { "analysis", bench_analysis }, { "needle", bench_needle },
    };
    if (argc >= 2)
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
            if (strcmp(argv[1], kinds[i].name) == 0)
                return kinds[i].fn(argc - 1, argv + 1);
    fprintf(argc >= 2 && strcmp(argv[1], "--help") ? stderr : stdout,
            "usage: talus bench imaging|sim|usb|analysis|needle [OPTIONS] (--help for each)\n");
    return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
}
