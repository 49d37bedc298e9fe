/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * cgroups for environments, v1 and v2 behind one table of operations (crun's shape). The
 * version is detected once; only the backends (cgroup-v1.c, cgroup-v2.c, cgroup-none.c)
 * know file names. On a v1 "hybrid" host the unified mount still gives cgroup.freeze and
 * cgroup.kill, which are used for freezing (never the v1 freezer: its frozen tasks survive
 * SIGKILL) and killing.
 *
 * Every directory lemu makes sits under "lemu-<pid>-<starttime>", so parallel lemus never
 * touch each other's, and those of a dead lemu are removed at the next start.
 */

typedef enum CgVersion {
        CG_NONE,
        CG_V1,
        CG_V2,
        _CG_VERSION_MAX,
        _CG_VERSION_INVALID = -22,
} CgVersion;

typedef struct CgLimits {
        uint64_t memory_bytes; /* 0: none */
        unsigned pids;         /* 0: none */
        double cpus;           /* 0: none; 1.0 = one CPU */
} CgLimits;

typedef struct Cgroup Cgroup;

typedef struct CgroupOps {
        const char *name;
        /* Limits as the controller files spell them. Return: 0 or -errno. */
        int (*set_limits)(Cgroup *cg, const CgLimits *l);
        /* The number of OOM kills in this cgroup so far. */
        int (*oom_kills)(Cgroup *cg, uint64_t *ret);
        /* Process memory now (anonymous + shmem; never file cache), in bytes. */
        int (*memory_now)(Cgroup *cg, uint64_t *ret);
        /* CPU time used by every task that ever ran in the cgroup, ns. */
        int (*cpu_usage_ns)(Cgroup *cg, uint64_t *ret);
} CgroupOps;

/* What the host offers, detected once. */
typedef struct CgHost {
        CgVersion version;
        const CgroupOps *ops;
        char *memory; /* instance dirs per controller; NULL when not available */
        char *pids;
        char *cpu;
        char *cpuacct;     /* v1: precise CPU usage (may equal cpu) */
        char *unified;     /* v2 or the hybrid's unified mount: freeze and kill */
        char *daemon_leaf; /* v2: the leaf lemu moved into to delegate controllers */
        char instance[64];
        char reason[256]; /* why memory limits are not enforced, when they are not */
} CgHost;

struct Cgroup {
        const CgHost *host;
        char *memory, *pids, *cpu, *cpuacct, *unified; /* this environment's dirs, or NULL */
        int freeze_fd;
        int memstat_fd; /* memory.stat, kept open: read after every invocation */
        uint64_t oom_seen;
};

/*
 * cg_host_init() - detects the cgroup layout and makes this lemu's instance dirs.
 * @root: "auto" (under lemu's own cgroups, from /proc/self/{mountinfo,cgroup}), or a folder
 * laid out like cgroupfs (tests): with cgroup.controllers at its top it is v2, else its
 * memory/, pids/, cpu/ and unified/ subfolders are v1 hierarchies.
 * Return: 0; the host may be CG_NONE (reason says why).
 */
int cg_host_init(CgHost *h, const char *root);
void cg_host_deinit(CgHost *h);

/* cg_create() - makes @name's dirs under every available controller and applies @l. */
int cg_create(Cgroup *cg, const CgHost *h, const char *name, const CgLimits *l);
/* Directories the launcher must join (cgroup.procs), NULL-terminated, at most 5. */
int cg_join_dirs(const Cgroup *cg, const char **out, int max);
/* Freezes or thaws every process of the cgroup (unified hierarchy). -EOPNOTSUPP without. */
int cg_freeze(Cgroup *cg, bool frozen);
bool cg_can_freeze(const Cgroup *cg);
/* Kills every process (cgroup.kill where there is one, else SIGKILL to cgroup.procs). */
void cg_kill(Cgroup *cg);
/* True when the OOM killer fired in this cgroup since the last call. */
bool cg_oom_fired(Cgroup *cg);
/* Lists the pids of the cgroup into @out. Return: how many, or -errno. */
int cg_pids(const Cgroup *cg, pid_t *out, int max);
/* cg_memory_now() - the cgroup's process memory now, bytes. Return: 0 or -errno. */
int cg_memory_now(Cgroup *cg, uint64_t *ret);
/* cg_cpu_usage_ns() - CPU time of the cgroup's tasks, dead ones included. */
int cg_cpu_usage_ns(Cgroup *cg, uint64_t *ret);
/* cg_destroy() - removes the dirs. Return: 0, or -EBUSY while processes remain (retry). */
int cg_destroy(Cgroup *cg);

/* Backends and helpers shared by them (cgroup.c). */
extern const CgroupOps cg_v1_ops, cg_v2_ops, cg_none_ops;
int cg__write(const char *dir, const char *file, const char *value);
int cg__read(const char *dir, const char *file, char *buf, size_t n);
int cg__read_key(const char *dir, const char *file, const char *key, uint64_t *ret);
/* cg__memory_stat() - @k1 (required) and @k2 (0 when absent) from the cgroup's memory.stat,
 * in one read of the kept file. Return: 0 or -errno. */
int cg__memory_stat(Cgroup *cg, const char *k1, uint64_t *v1, const char *k2, uint64_t *v2);
