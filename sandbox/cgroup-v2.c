/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroup v2 backend: memory.max with memory.swap.max 0, pids.max, cpu.max, OOM kills from
 * memory.events.
 */
#include <errno.h>
#include <stdio.h>

#include "cgroup.h"

static int v2_set_limits(Cgroup *cg, const CgLimits *l) {
        char v[48];
        int r;

        if (cg->memory && l->memory_bytes) {
                snprintf(v, sizeof(v), "%llu", (unsigned long long) l->memory_bytes);
                r = cg__write(cg->memory, "memory.max", v);
                if (r < 0)
                        return r;
                (void) cg__write(cg->memory, "memory.swap.max", "0");
        }
        if (cg->pids && l->pids) {
                snprintf(v, sizeof(v), "%u", l->pids);
                r = cg__write(cg->pids, "pids.max", v);
                if (r < 0)
                        return r;
        }
        if (cg->cpu && l->cpus > 0) {
                long quota = (long) (l->cpus * 100000);
                if (quota < 1000)
                        quota = 1000;
                snprintf(v, sizeof(v), "%ld 100000", quota);
                r = cg__write(cg->cpu, "cpu.max", v);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int v2_oom_kills(Cgroup *cg, uint64_t *ret) {
        if (!cg->memory)
                return -EOPNOTSUPP;
        return cg__read_key(cg->memory, "memory.events", "oom_kill", ret);
}

static int v2_memory_now(Cgroup *cg, uint64_t *ret) {
        uint64_t anon = 0, shmem = 0;

        if (!cg->memory)
                return -EOPNOTSUPP;
        int r = cg__memory_stat(cg, "anon", &anon, "shmem", &shmem);
        if (r < 0)
                return r;
        *ret = anon + shmem;
        return 0;
}

static int v2_cpu_usage_ns(Cgroup *cg, uint64_t *ret) {
        uint64_t usec;
        const char *dir = cg->cpu ? cg->cpu : cg->unified;

        if (!dir)
                return -EOPNOTSUPP;
        int r = cg__read_key(dir, "cpu.stat", "usage_usec", &usec);
        if (r < 0)
                return r;
        *ret = usec * 1000;
        return 0;
}

const CgroupOps cg_v2_ops = {
        .cpu_usage_ns = v2_cpu_usage_ns,
        .name = "v2",
        .set_limits = v2_set_limits,
        .oom_kills = v2_oom_kills,
        .memory_now = v2_memory_now,
};
