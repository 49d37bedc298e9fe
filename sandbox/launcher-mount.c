/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The launcher's mount stage (init, in the environment's own mount namespace): a private
 * /tmp and a read-only view of everything else, as on Lambda.
 */
#include <errno.h>

#include "launcher.h"

int launch_mounts(const LaunchOpts *o, const char **ret_stage) {
        *ret_stage = "mount";
        return -EOPNOTSUPP;
}
