/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "config.h"

/*
 * Shared between config.c (loading, flags, validation, dump) and config-keys.c (the key
 * table and what each value type means). Nothing outside the config module includes this.
 */

typedef enum CfgType {
        CFG_T_STRING,  /* char *; non-empty; choices restrict it when given */
        CFG_T_PATH,    /* char *; resolved against the source's folder; literal kept as is */
        CFG_T_ENUM,    /* int enum, spelled as choices[value] */
        CFG_T_UINT,    /* unsigned */
        CFG_T_U64,     /* uint64_t */
        CFG_T_OPT_I64, /* int64_t, -1 for null */
        CFG_T_DOUBLE,  /* double; seconds when the name ends in _s, ms for _ms */
        CFG_T_BOOL,    /* bool */
        CFG_T_STRV,    /* char **, NULL-terminated; min = fewest entries */
        CFG_T_DELAYS,  /* double * with its count at off_n */
        CFG_T_ENV,     /* CfgKeyValue * with its count at off_n; names checked, 4 KB in all */
        CFG_T_ALIASES, /* CfgKeyValue * with its count at off_n */
        CFG_T_SHADOW,  /* the shadow trio; off is that of the whole CfgLifecycle */
        CFG_T_FAULTS,  /* char * holding the JSON array */
        _CFG_T_MAX,
} CfgType;

/* One config key. A key belongs to Config (global) or to every FunctionConfig. */
typedef struct CfgKey {
        const char *section; /* NULL at the top of its scope, else "limits", "sandbox", … */
        const char *name;    /* the JSON key */
        const char *flag;    /* NULL: derived (see cfg__key_flag()) */
        CfgType type;
        bool global;
        bool nullable;
        bool is_mutable; /* may change while lemu runs (PUT …/lifecycle) */
        size_t off, off_n;
        const char *def; /* the default, as JSON text */
        double min, max; /* inclusive bounds of numbers (of the entry count for STRV) */
        bool min_excl;   /* min itself is out of range ("greater than 0") */
        double warn_below;
        const char *const *choices;          /* NULL-terminated */
        const char *literal;                 /* a word a PATH key keeps unresolved ("auto") */
        const char *(*check)(const char *s); /* NULL or why @s is wrong */
        const char *help;
} CfgKey;

extern const CfgKey cfg__keys[];
extern const size_t cfg__n_keys;

#define CFG_PATH_MAX  256
#define CFG_DEPTH_MAX 16
#define CFG_ENV_MAX   4096

/*
 * Where a value comes from, so that errors and warnings can say where: the key path so
 * far, and, for JSON text, the child index at each level, from which the key's line:col is
 * found again in the text.
 */
typedef struct CfgCtx {
        Config *config;   /* warnings go here; NULL drops them */
        const char *text; /* comment-stripped JSON, or NULL for flags */
        const char *orig; /* the text as given, for line:col */
        size_t len;
        const char *base_dir; /* relative paths resolve against it; NULL keeps them */
        const char *where;    /* appended to reasons, e.g. "in env file 'x.json'" */
        bool mutable_only;
        char path[CFG_PATH_MAX];
        size_t path_len;
        int idx[CFG_DEPTH_MAX];
        unsigned depth;
        CfgError *err;
} CfgCtx;

void cfg__ctx_init(CfgCtx *x, Config *c, CfgError *err);
/* Appends ".name" (or "[index]" when @name is NULL) to the path; returns the mark to pop. */
size_t cfg__push(CfgCtx *x, const char *name, int index);
void cfg__pop(CfgCtx *x, size_t mark);
/* Fill x->err at the current key; return -EINVAL. */
int cfg__error(CfgCtx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cfg__warn(CfgCtx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int cfg__key_set(CfgCtx *x, const CfgKey *k, void *base, const cJSON *v);
/* The value as JSON; relative paths are shown resolved against @base_dir (NULL: as they are). */
cJSON *cfg__key_json(const CfgKey *k, const void *base, const char *base_dir);
void cfg__key_free(const CfgKey *k, void *base);
const CfgKey *cfg__key_find(const char *section, const char *name, bool global);
const CfgKey *cfg__key_by_flag(const char *flag);
/* The flag without "--" into @buf (or the key's explicit one). */
const char *cfg__key_flag(const CfgKey *k, char *buf, size_t n);
bool cfg__is_section(const char *name, bool global);
/* -EINVAL when an earlier member of @obj has @m's name. */
int cfg__check_duplicate(CfgCtx *x, const cJSON *obj, const cJSON *m);

/* Adds or replaces one variable of @fn, checking its name and the 4 KB total. */
int cfg__env_put(CfgCtx *x, FunctionConfig *fn, const char *name, const char *value);
int cfg__alias_put(CfgCtx *x, FunctionConfig *fn, const char *name, const char *version);
bool cfg__function_name_ok(const char *name);

char *cfg__resolve(const char *base, const char *path);
/* The shortest text that reads back as @d. */
const char *cfg__fmt_num(char buf[32], double d);
void cfg__strv_free(char **v);
