/* SPDX-License-Identifier: MIT */
/*
 * Fault injection for test binaries (issue 8 §3), the userspace analogue of the kernel's
 * fail-nth: every allocation made by our own code (the static libraries linked into the
 * test) and every injection point a test driver or test hook declares with fault_hit() is
 * one numbered point; fault_arm(n) makes the n-th point after it fail. A walk arms n = 1, 2,
 * ... over one operation until an armed run passes every point without failing: then every
 * point of that operation has been failed once.
 *
 * Link with fault_dep (tests/fault/meson.build): it wraps malloc, calloc, realloc, strdup,
 * asprintf and vasprintf with -Wl,--wrap, so calls from libc itself or from shared libraries
 * (libfuse) are not counted. Counting is process-wide (the FUSE worker thread that serves a
 * test's write counts), so a walk runs one operation at a time.
 */
#ifndef UMDEV_TESTS_FAULT_H
#define UMDEV_TESTS_FAULT_H

#include <stdbool.h>

/* fault_arm() - count points from now on; the @nth (1-based) fails. 0 counts, fails none. */
void fault_arm(unsigned int nth);
/* fault_disarm() - stop counting. Return: the points passed since fault_arm(). */
unsigned int fault_disarm(void);
/* fault_fired() - Return: whether the armed point failed since the last fault_arm(). */
bool fault_fired(void);
/*
 * fault_hit() - an injection point of a test driver or hook: count it.
 * @what: a name for the report of the point that failed (static storage).
 * Return: true if this point must fail now.
 */
bool fault_hit(const char *what);
/* fault_last() - Return: the name of the point that failed last ("malloc", "probe", ...). */
const char *fault_last(void);

#endif
