/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: raw bytes on a connection to the Invoke API listener (HTTP parsing, function
 * references, invocation types, payload and client-context checks, limits, pipelining).
 */
#include <stddef.h>
#include <stdint.h>

#include "fake-emulator.h"
#include "http-driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Emulator *e = fake_emulator();
        FuzzDriver d = { .loop = e->loop, .server = &e->api, .port = http_server_port(&e->api) };

        fuzz_driver_send(&d, data, size);
        fake_emulator_reset(e);
        return 0;
}
