/* SPDX-License-Identifier: Apache-2.0 */
/* lemu's entry point: everything is in the emulator library, which the tests link too. */
#include "cli.h"

int main(int argc, char **argv) {
        return cli_main(argc, argv);
}
