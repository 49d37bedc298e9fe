/* SPDX-License-Identifier: Apache-2.0 */
/*
 * No cgroups (an ordinary user on a v1 host, or cgroupfs not writable): nothing is limited
 * here. The daemon says so once, reports the limits as unenforced, and watches memory with
 * its RSS watchdog instead.
 */
#include <errno.h>

#include "cgroup.h"

static int none_set_limits(Cgroup *cg, const CgLimits *l) {
        return 0;
}

static int none_oom_kills(Cgroup *cg, uint64_t *ret) {
        return -EOPNOTSUPP;
}

static int none_memory_now(Cgroup *cg, uint64_t *ret) {
        return -EOPNOTSUPP;
}

static int none_cpu_usage_ns(Cgroup *cg, uint64_t *ret) {
        return -EOPNOTSUPP;
}

const CgroupOps cg_none_ops = {
        .cpu_usage_ns = none_cpu_usage_ns,
        .name = "none",
        .set_limits = none_set_limits,
        .oom_kills = none_oom_kills,
        .memory_now = none_memory_now,
};
