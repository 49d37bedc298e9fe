/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/*
 * The fault catalogue (DESIGN "Surfacing bugs", `lemu help faults`): one table of injected
 * platform faults per function. A fault is parsed and checked once (faults.c), counts the
 * function's Invoke calls from the moment it is added, and is armed on an invocation when its
 * `when` matches; an armed fault fires at most once per Invoke call (async_fail spans the
 * attempts of its event), at its phase, and is then written into the invocation's record and
 * the log. Faults are reference-counted: an invocation keeps the faults armed on it even when
 * the table is cleared meanwhile (a removed fault no longer fires).
 */

struct Invocation;
struct ExecEnv;
struct Function;

typedef enum FaultAction {
        FAULT_CRASH,
        FAULT_INIT_HANG,
        FAULT_DELAY,
        FAULT_TIMEOUT,
        FAULT_OOM,
        FAULT_RUNTIME_API_ERROR,
        FAULT_RUNTIME_API_DROP,
        FAULT_THROTTLE,
        FAULT_DUPLICATE,
        FAULT_ASYNC_FAIL,
        FAULT_RECLAIM,
        FAULT_LONG_FREEZE,
        FAULT_CLOCK_SKEW,
        FAULT_TMP_FULL,
        FAULT_NOFILE_LIMIT,
        FAULT_ERROR_RESPONSE,
        _FAULT_ACTION_MAX,
        _FAULT_ACTION_INVALID = -22,
} FaultAction;

typedef enum FaultPhase {
        FAULT_PHASE_INIT,
        FAULT_PHASE_INVOKE,
        FAULT_PHASE_AFTER_RESPONSE,
        FAULT_PHASE_IDLE,
        _FAULT_PHASE_MAX,
        _FAULT_PHASE_INVALID = -22,
} FaultPhase;

/* The Runtime API call a runtime_api_* fault hits. */
typedef enum FaultEndpoint {
        FAULT_EP_NEXT,
        FAULT_EP_RESPONSE,
        _FAULT_EP_MAX,
        _FAULT_EP_INVALID = -22,
} FaultEndpoint;

#define FAULT_ID_MAX 64

typedef struct Fault {
        unsigned refs;
        bool removed; /* cleared from its table: armed copies no longer fire */
        char id[FAULT_ID_MAX + 1];
        FaultAction action;
        FaultPhase phase;
        /* when */
        uint64_t invocation; /* from the Nth Invoke call on; 0: not given */
        uint64_t every;      /* every Nth; 0: not given */
        double probability;  /* < 0: not given */
        int64_t times;       /* -1: unlimited */
        /* parameters */
        double ms;  /* delay, long_freeze, clock_skew (signed), crash's after_ms */
        int status; /* runtime_api_error */
        FaultEndpoint endpoint;
        char *reason;                     /* throttle */
        unsigned attempts;                /* async_fail */
        unsigned n;                       /* nofile_limit */
        char *error_type, *error_message; /* error_response, async_fail */
        char *body;                       /* error_response: JSON text of the answer */
        bool run_handler;
        /* state */
        char *json;    /* the object as given, id included, for listings */
        uint64_t seen; /* Invoke calls since it was added */
        uint64_t fired;
        uint64_t rng;
} Fault;

typedef struct FaultTable {
        Fault **v;
        size_t n;
        uint64_t seed;      /* the function's stream of the config seed */
        unsigned next_auto; /* "<action>-<n>" ids */
} FaultTable;

/* The faults armed on one Invoke call, and what their firing left to undo. */
typedef struct FaultArmed {
        Fault **v;
        size_t n;
        uint32_t fired;   /* bit i: v[i] fired */
        bool hold_clock;  /* a hold (delay) kept the invocation's clock running */
        bool crash_timer; /* a crash's after_ms runs on the environment's fault timer */
        int fill_fd;      /* tmp_full: the unlinked file that fills /tmp, or -1 */
        bool nofile_set;  /* nofile_limit: the runtime's old limit to put back */
        int nofile_pid;
        uint64_t nofile_cur;
} FaultArmed;

const char *fault_action_name(FaultAction a);
const char *fault_phase_name(FaultPhase p);

/**
 * fault_parse() - parses and checks one fault object.
 * @text, @len: JSON text (borrowed).
 * @err: on failure, what is wrong, naming the key ("when.phase: expected ...").
 * Return: 0 with *@ret a new fault (refs 1; fault_unref() it), or -EINVAL.
 */
int fault_parse(const char *text, size_t len, Fault **ret, char *err, size_t errn);
Fault *fault_ref(Fault *f);
Fault *fault_unref(Fault *f);

void fault_table_init(FaultTable *t, uint64_t seed);
void fault_table_deinit(FaultTable *t);
/**
 * fault_table_add() - adds @f (taken over); an id is given when it has none.
 * Return: 0, or -EEXIST (the id is taken; @f is freed) with @err filled.
 */
int fault_table_add(FaultTable *t, Fault *f, char *err, size_t errn);
/* fault_table_load() - adds every fault of a JSON array (the config's "faults"). */
int fault_table_load(FaultTable *t, const char *json, char *err, size_t errn);
/* fault_table_remove() - Return: 0, or -ENOENT when no fault has @id. */
int fault_table_remove(FaultTable *t, const char *id);
/* fault_table_clear() - removes every fault; returns how many. */
size_t fault_table_clear(FaultTable *t);
/* fault_table_json() - {"faults": [...]}, each with "fired" and "invocations". */
void fault_table_json(const FaultTable *t, Buf *out);
/**
 * fault_table_arm() - one Invoke call: every fault counts it and draws from its generator;
 * those whose `when` matches and that have times left are armed.
 * Return: the armed set (NULL when none), freed with fault_armed_free().
 */
FaultArmed *fault_table_arm(FaultTable *t);
void fault_armed_free(FaultArmed *a);

/* ---- the actions: hooks called by sched.c, env.c and rapi (through env.c) ---- */

/* sched_submit(): arms the function's faults on a new Invoke call. */
void fault_arm(struct Invocation *inv);
/* sched_submit(): an Event armed with `duplicate` gets a twin (same request id), or NULL. */
struct Invocation *fault_duplicate(struct Invocation *inv);
/* try_start(): the throttle reason when a throttle fault fires, else NULL. */
const char *fault_throttle(struct Invocation *inv);
/* try_start(): true when error_response answered without running the handler. */
bool fault_answer_now(struct Invocation *inv);
/* try_start(): true when reclaim ended @env (the invocation goes elsewhere, cold). */
bool fault_reclaim(struct Invocation *inv, struct ExecEnv *env);
/* env init started: crash in phase init. */
void fault_init_started(struct ExecEnv *env);
/* on_ready() during init: true while init_hang holds the runtime's first /next unanswered. */
bool fault_init_hangs(struct ExecEnv *env);
/* deliver(): true when a delay, long_freeze, tmp_full or nofile_limit holds the event, or
 * when the last nofile_limit's old limit is still being put back (the fault hands it over
 * with env_deliver() later). */
bool fault_hold(struct ExecEnv *env, struct Invocation *inv);
/* deliver(): true when a hold let the invocation's clock run (delay): it is not restarted. */
bool fault_clock_kept(const struct Invocation *inv);
/* deliver(), before the event goes: clock_skew, nofile_limit. */
void fault_event(struct ExecEnv *env, struct Invocation *inv);
/* deliver(), after the event went: crash, timeout, oom. */
void fault_delivered(struct ExecEnv *env, struct Invocation *inv);
/* Runtime API: what the runtime's call gets instead — 0 (nothing), a status, or -1 (drop). */
int fault_runtime_call(struct ExecEnv *env, FaultEndpoint ep);
/* on_result(): true when the answer is dropped (timeout: the environment is frozen). */
bool fault_hides_result(struct Invocation *inv);
/* on_result(), the answer taken: error_response with run_handler, async_fail, crash after. */
void fault_result(struct ExecEnv *env, struct Invocation *inv);
/* detach(): the invocation leaves @env — limits and /tmp filler put back. */
void fault_detach(struct ExecEnv *env, struct Invocation *inv);
/* after_exit(): the processes are gone — a lowered memory limit is put back. */
void fault_env_exited(struct ExecEnv *env);
