/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* sbx_tree_max_hwm_kb() - the largest single peak (VmHWM) in the tree, KiB. */
uint64_t sbx_tree_max_hwm_kb(pid_t root);

/*
 * sbx_tree_peak_kb() - the peak resident memory of a process tree, in KiB: the sum over
 * @root and its descendants of each process's peak RSS (VmHWM). Process memory only, never
 * file cache, as Lambda's "Max Memory Used" counts it. Reads procfs (memory-backed, does
 * not sleep on disk). Return: KiB, or 0 when @root is gone.
 */
uint64_t sbx_tree_peak_kb(pid_t root);

/* sbx_tree_rss_kb() - the current resident memory of the tree (sum of VmRSS), in KiB. */
uint64_t sbx_tree_rss_kb(pid_t root);
/* sbx_tree_pids() - @root and its descendants, parents first. Return: how many. */
int sbx_tree_pids(pid_t root, pid_t *out, int max);

/* sbx_start_time_of() - @pid's start time (field 22 of /proc/PID/stat, in clock ticks since
 * boot), which with the pid names a process uniquely: "lemu-<pid>-<starttime>" folders and
 * cgroups belong to a live lemu only while both match. Return: 0 when @pid is gone. */
unsigned long long sbx_start_time_of(pid_t pid);

/* sbx_tree_runtime() - the first process of the tree that is not lemu's launcher or init: the
 * runtime. Return: its pid, or 0. */
pid_t sbx_tree_runtime(pid_t root);
/* sbx_pid_exiting() - @pid is gone, a zombie, or exiting (PF_EXITING: set before the kernel
 * closes its descriptors, so a peer that sees EOF from a dying process can tell). */
bool sbx_pid_exiting(pid_t pid);
/* sbx_pid_hwm_kb() - one process's peak resident memory (VmHWM), KiB; 0 when gone. */
uint64_t sbx_pid_hwm_kb(pid_t pid);
