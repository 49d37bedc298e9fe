/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroup v1 backend: memory.limit_in_bytes (and memsw, so swap is no way round it),
 * pids.max, CFS quota for CPU, OOM kills from memory.oom_control. v1 refuses to lower a
 * memory limit below current use (EBUSY); limits are set before any process joins.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cgroup.h"

static int v1_set_limits(Cgroup *cg, const CgLimits *l) {
        char v[32];
        int r;

        if (cg->memory && l->memory_bytes) {
                snprintf(v, sizeof(v), "%llu", (unsigned long long) l->memory_bytes);
                r = cg__write(cg->memory, "memory.limit_in_bytes", v);
                if (r < 0)
                        return r;
                /* Absent without swap accounting; the plain limit then binds alone. */
                (void) cg__write(cg->memory, "memory.memsw.limit_in_bytes", v);
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
                r = cg__write(cg->cpu, "cpu.cfs_period_us", "100000");
                if (r < 0)
                        return r;
                snprintf(v, sizeof(v), "%ld", quota);
                r = cg__write(cg->cpu, "cpu.cfs_quota_us", v);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int v1_oom_kills(Cgroup *cg, uint64_t *ret) {
        if (!cg->memory)
                return -EOPNOTSUPP;
        return cg__read_key(cg->memory, "memory.oom_control", "oom_kill", ret);
}

static int v1_memory_now(Cgroup *cg, uint64_t *ret) {
        uint64_t rss = 0, shmem = 0;

        if (!cg->memory)
                return -EOPNOTSUPP;
        int r = cg__memory_stat(cg, "total_rss", &rss, "total_shmem", &shmem);
        if (r < 0)
                return r;
        *ret = rss + shmem;
        return 0;
}

static int v1_cpu_usage_ns(Cgroup *cg, uint64_t *ret) {
        char buf[64];

        if (!cg->cpuacct)
                return -EOPNOTSUPP;
        int r = cg__read(cg->cpuacct, "cpuacct.usage", buf, sizeof(buf));
        if (r < 0)
                return r;
        *ret = strtoull(buf, NULL, 10);
        return 0;
}

const CgroupOps cg_v1_ops = {
        .cpu_usage_ns = v1_cpu_usage_ns,
        .name = "v1",
        .set_limits = v1_set_limits,
        .oom_kills = v1_oom_kills,
        .memory_now = v1_memory_now,
};
