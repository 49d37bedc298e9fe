/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the scenario file of `lemu test` (steps, expectations, JSONPaths), and the
 * config a valid scenario builds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Scenario s;
        char err[1024];

        memset(&s, 0, sizeof(s));
        err[0] = '\0';
        int r = scn_load_string(&s, (const char *) data, size, "fuzz.json", "/nonexistent-fuzz",
                                err, sizeof(err));
        if (r < 0 && !err[0])
                abort(); /* an error must say why */
        if (r == 0) {
                Config c; /* scn_build_config() initialises it, and it is then freed */
                char cerr[1024];
                if (scn_build_config(&s, &c, NULL, cerr, sizeof(cerr)) == 0)
                        (void) scn_bind(&s, &c, cerr, sizeof(cerr));
                cfg_deinit(&c);
        }
        scn_deinit(&s);
        return 0;
}
