/* talus probe list: the probes on the USB bus (model, serial, firmware). */
#include "commands.h"
#include "tl_driver.h"
#include "tl_simusb.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: talus probe list [--sim PRESET] [--serial S] [--json]\n\n"
            "List the talus probes on the USB bus (VID 1209, PID 0001): model, serial,\n"
            "firmware, bus and address.\n\n"
            "  --sim PRESET  first put a simulated probe on an emulated bus (umockdev)\n"
            "  --serial S    serial of that simulated probe (default TLSIM0001)\n"
            "  --json        print one JSON object {\"probes\": [...]}\n\n"
            "A probe that cannot be opened (permissions: install drivers/70-talus-probe.rules)\n"
            "is listed with model \"?\".\n");
}

int cmd_probe(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "list") != 0) {
        fprintf(stderr, "talus probe: unknown subcommand '%s' (see --help)\n", argv[1]);
        return 2;
    }
    const char *preset = NULL, *serial = NULL;
    bool json = false;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strncmp(argv[i], "--sim=", 6)) {
            preset = argv[i] + 6;
        } else if ((!strcmp(argv[i], "--sim") || !strcmp(argv[i], "--serial")) && i + 1 < argc) {
            if (!strcmp(argv[i], "--sim"))
                preset = argv[++i];
            else
                serial = argv[++i];
        } else {
            fprintf(stderr, "talus probe list: unknown or incomplete option '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    tl_simusb *sim = NULL;
    if (preset) {
        tl_simusb_config cfg = tl_simusb_config_default();
        cfg.preset = preset;
        if (serial)
            cfg.serial = serial;
        tl_status st = tl_simusb_start(&cfg, &sim);
        if (st != TL_OK) {
            fprintf(stderr, "talus probe list: cannot start the simulated probe '%s': %s\n", preset,
                    tl_strerror(st));
            return 1;
        }
    }
    tl_probe_info infos[16];
    size_t n = 0;
    tl_status st = tl_driver_list(infos, 16, &n);
    tl_simusb_stop(sim);
    if (st != TL_OK) {
        fprintf(stderr, "talus probe list: cannot enumerate USB devices: %s\n", tl_strerror(st));
        return 1;
    }
    if (n > 16)
        n = 16;
    if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON *arr = cJSON_AddArrayToObject(root, "probes");
        for (size_t i = 0; i < n; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "model", infos[i].model);
            cJSON_AddStringToObject(o, "serial", infos[i].serial);
            cJSON_AddStringToObject(o, "firmware", infos[i].firmware);
            char id[16];
            snprintf(id, sizeof id, "%04x:%04x", infos[i].vid, infos[i].pid);
            cJSON_AddStringToObject(o, "usb_id", id);
            cJSON_AddNumberToObject(o, "bus", infos[i].bus);
            cJSON_AddNumberToObject(o, "address", infos[i].address);
            cJSON_AddItemToArray(arr, o);
        }
        char *txt = cJSON_Print(root);
        printf("%s\n", txt);
        cJSON_free(txt);
        cJSON_Delete(root);
    } else if (n == 0) {
        printf("no talus probe found\n");
    } else {
        printf("%-24s %-16s %-12s %s\n", "MODEL", "SERIAL", "FIRMWARE", "BUS:ADDR");
        for (size_t i = 0; i < n; i++)
            printf("%-24s %-16s %-12s %03u:%03u\n", infos[i].model, infos[i].serial, infos[i].firmware,
                   infos[i].bus, infos[i].address);
    }
    return 0;
}
