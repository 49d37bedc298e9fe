/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <errno.h>
#include <stdbool.h>

/*
 * seccomp filters, built in the daemon with libseccomp and handed to the launcher as a raw
 * BPF program (an array of struct sock_filter) in a sealed memfd. The launcher never links
 * libseccomp: it preads the program from offset 0 and loads it right before execve.
 */

typedef enum FilterProfile {
        FILTER_PROFILE_DEFAULT, /* refuses what a function never needs (filter.c's table) */
        _FILTER_PROFILE_MAX,
        _FILTER_PROFILE_INVALID = -EINVAL,
} FilterProfile;

/*
 * filter_profile_from_string() - the profile a sandbox.seccomp value names.
 * @s: "default"; "off" (or anything else) names no profile.
 * Return: the profile, or _FILTER_PROFILE_INVALID.
 */
FilterProfile filter_profile_from_string(const char *s);

/*
 * filter_build() - builds @p and exports it as BPF into a new memfd ("lemu-seccomp",
 * close-on-exec), sealed against writes, growth, shrinking and further seals.
 * @ret_fd: the memfd, owned by the caller; written only on success.
 * Return: 0, or a negative errno (libseccomp's, or a syscall's).
 */
int filter_build(FilterProfile p, int *ret_fd);

/*
 * filter_export_pfc() - writes @p as libseccomp's pseudo filter code (human-readable) to @fd,
 * for golden-file tests and review. @fd stays the caller's.
 * Return: 0 or a negative errno.
 */
int filter_export_pfc(FilterProfile p, int fd);

/*
 * One built filter per profile for the daemon's lifetime: the first get builds it, later gets
 * return the same descriptor (every launcher preads it from offset 0, so one is enough). A
 * build that failed is remembered and not retried. A zeroed FilterCache is an empty one.
 */
typedef struct FilterCache {
        bool tried[_FILTER_PROFILE_MAX];
        int fd[_FILTER_PROFILE_MAX];  /* valid when tried and err == 0 */
        int err[_FILTER_PROFILE_MAX]; /* the build's negative errno */
} FilterCache;

/*
 * filter_cache_get() - the sealed memfd of @p, built on first use.
 * Return: the descriptor (borrowed: the cache closes it), or the build's negative errno.
 */
int filter_cache_get(FilterCache *c, FilterProfile p);

/*
 * filter_cache_peek() - the descriptor of @p if it was built, without building.
 * Return: the descriptor (borrowed), or -1.
 */
int filter_cache_peek(const FilterCache *c, FilterProfile p);

/* filter_cache_deinit() - closes every descriptor; safe on a zeroed or deinitialised cache. */
void filter_cache_deinit(FilterCache *c);
