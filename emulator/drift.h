/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Environment drift (DESIGN "Surfacing bugs"): after an invocation the figures an
 * environment kept — descriptors, threads, resident memory, files and bytes in its /tmp —
 * are read when its runtime asks for its next event, before that event goes (see drift.c):
 * after each of the first DRIFT_EVERY_UNTIL invocations, then after every DRIFT_STRIDE-th.
 * A finding needs a strict rise over 5 consecutive samples, the first 2 after init
 * skipped, and a minimum total (descriptors +5, threads +5, RSS +max(4 MiB, 10 %), /tmp
 * +1 MiB or +1 file), so that garbage-collector warm-up in Go or Node is not reported. Work
 * after the response is caught in the settle window: CPU the environment burns in the
 * settle_ms after asking for its next event, on 3 consecutive invocations (≥ 2 ms each), is a
 * work_after_response finding.
 */

enum { DRIFT_FDS, DRIFT_THREADS, DRIFT_RSS, DRIFT_TMP_FILES, DRIFT_TMP_BYTES, _DRIFT_MAX };

typedef struct DriftSample {
        int64_t v[_DRIFT_MAX]; /* -1: not measurable */
        uint64_t invocation;   /* the invocation since init it follows (0: not known) */
} DriftSample;

/* Which invocations are sampled: each of the first DRIFT_EVERY_UNTIL after init, then every
 * DRIFT_STRIDE-th. A sample is eight procfs and cgroup reads (memory.stat flushes the cgroup's
 * statistics), more than a warm invocation costs the daemon: taken after each, a busy
 * function's throughput fell by a quarter, and every 16th, by 9 %. Past the first invocations
 * a leak still shows, a slow one sooner (a descriptor every 10 invocations never rises 5
 * times in a row when read after each), and the choice depends only on the count, so
 * findings stay reproducible. */
#define DRIFT_EVERY_UNTIL 32
#define DRIFT_STRIDE      64

/* A process of the environment's tree, with its procfs files kept open: a sample is then a
 * pread() per file instead of an open/read/close, and the launcher check is made once. */
typedef struct DriftProc {
        pid_t pid;
        int children_fd; /* /proc/PID/task/PID/children */
        int status_fd;   /* /proc/PID/status; -1 for lemu's launcher and init */
        bool launcher;
        bool seen; /* in the current walk */
} DriftProc;

typedef struct DriftState {
        uint64_t invocations;  /* ended since init: when to sample */
        unsigned samples;      /* since init */
        DriftSample window[6]; /* the last 6 after the first 2 */
        unsigned n_window;
        bool reported[_DRIFT_MAX];
        unsigned war_streak; /* work-after-response, consecutive */
        bool war_reported;
        uint64_t settle_cpu_ns; /* CPU time when the settle window opened */
        uint64_t generation;    /* bumped at each init */
        /* Kept across drift_reset() (which closes the files): */
        DriftProc *procs;
        unsigned n_procs, cap_procs;
        pid_t ns_pid; /* the process whose mount namespace was compared, and the verdict */
        bool ns_private;
} DriftState;

struct ExecEnv;

/* drift_reset() - a new init: start counting again. */
void drift_reset(DriftState *d);
/* drift_release() - closes the kept procfs files; the environment is going away. */
void drift_release(DriftState *d);
/* drift_pid_hwm_kb() - @pid's peak resident memory (VmHWM) in KiB through the kept file when
 * there is one (one pread), else procfs; 0 when gone. */
uint64_t drift_pid_hwm_kb(DriftState *d, pid_t pid);
/* drift_sample() - reads the environment's figures now and records a verdict on record
 * @seq. */
void drift_sample(struct ExecEnv *env, uint64_t seq);
/* Settle window (settle_ms > 0): its start and end. */
void drift_settle_begin(struct ExecEnv *env);
void drift_settle_end(struct ExecEnv *env, uint64_t seq);
/* drift_sample_due() - whether the @nth invocation since init is followed by a sample. */
static inline bool drift_sample_due(uint64_t nth) {
        return nth <= DRIFT_EVERY_UNTIL || nth % DRIFT_STRIDE == 0;
}
/* drift_check() - the rule over a window (exposed for unit tests). Return: the finding's
 * kind index or -1; @ret_detail describes it. */
int drift_check(DriftState *d, const DriftSample *s, char *ret_detail, size_t n);
