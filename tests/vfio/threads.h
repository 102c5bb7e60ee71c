/* SPDX-License-Identifier: MIT */
/*
 * Thread counting for the tests that check what an idle or a connected device costs (issue
 * 10): tests/vfio and tests/unit/test_mtty_device.c.
 */
#ifndef UMDEV_TESTS_VFIO_THREADS_H
#define UMDEV_TESTS_VFIO_THREADS_H

#include <dirent.h>
#include <unistd.h>

/* Return: the number of threads of this process (/proc/self/task), or 0 if unreadable. */
static inline unsigned int test_nr_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	unsigned int n = 0;

	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/*
 * Wait up to @timeout_ms for the thread count to reach @want (threads end on their own).
 * Return: the count last seen.
 */
static inline unsigned int test_nr_threads_reach(unsigned int want, int timeout_ms)
{
	unsigned int n = test_nr_threads();

	for (int waited = 0; waited < timeout_ms && n != want; waited += 5) {
		usleep(5000);
		n = test_nr_threads();
	}
	return n;
}

#endif
