// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the parsers of every writable sysfs file (issue 8 §4), fed the bytes of
 * one write(2). Byte 0 of the input picks the file, the rest is what is written:
 *
 *   0   <type>/create    umdev__sysfs_parse_uuid()  (mdev.md §6.5)
 *   1   <mdev>/remove    umdev__sysfs_parse_ulong() (mdev.md §6.6)
 *   2+  the writable attributes of a live mtty-2 device's dev_groups, in order (mtty.md §4.1:
 *       mtty/backend today), called as the tree calls them: 1..4096 bytes, mdev ACTIVE
 *
 * Besides the sanitizers, each result is checked against an independent model: libuuid's
 * uuid_parse() for create, strtoul(base 0) restricted to the kernel's kstrtoul() syntax for
 * remove, and for the attributes the store contract of umdev/mdev.h (the count or an errno)
 * plus mtty/backend's read-back (mtty.md §4.2); and the process's pty and eventfd fds in each
 * backend mode stay as many as the first time that mode was seen (no leak across switches).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "hooks.h"
#include "parse.h"
#include "fuzz_mtty.h"

#define WRITE_MAX 4096 /* the tree cuts a write to one page (mdev.md §6.1) */
#define MAX_STORES 16

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct umdev_mdev *mdev;
static const struct umdev_attr *stores[MAX_STORES];
static unsigned int nr_stores;
static unsigned int fds_in_mode[2]; /* device_fds() in backend pty, loopback; 0: not seen */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const struct umdev_attr_group *const *g;

	(void)argc;
	(void)argv;
	fuzz_mtty_start(false);
	mdev = fuzz_mtty_create(2, "pty");
	for (g = umdev__mdev_dev_groups(mdev); g && *g; g++)
		for (size_t i = 0; (*g)->attrs[i]; i++) {
			const struct umdev_attr *a = (*g)->attrs[i];

			if (!a->store || ((*g)->is_visible && !(*g)->is_visible(mdev, a)))
				continue;
			if (nr_stores == MAX_STORES)
				fuzz_bug("more than %u writable attributes", MAX_STORES);
			stores[nr_stores++] = a;
		}
	return 0;
}

/*
 * The fds of the kinds a backend switch opens and closes (pty masters and slaves, eventfds),
 * counted, and listed into @list (if non-NULL, @size bytes). Only those: libFuzzer's symbolizer
 * keeps pipes of its own open.
 */
static unsigned int device_fds(char *list, size_t size)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	unsigned int nr = 0;
	size_t n = 0;

	while (d && (e = readdir(d))) {
		char path[300], target[96];
		ssize_t len;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		target[len > 0 ? len : 0] = '\0';
		if (strcmp(target, "/dev/ptmx") && strncmp(target, "/dev/pts/", 9) &&
		    strcmp(target, "anon_inode:[eventfd]"))
			continue;
		nr++;
		if (list && n + 128 < size)
			n += (size_t)snprintf(list + n, size - n, "%s%s=%s", n ? " " : "",
					      e->d_name, target);
	}
	if (d)
		closedir(d);
	return nr;
}

/* create: 36 or 37 bytes whose first 36 libuuid parses (it checks the same 8-4-4-4-12). */
static void check_create(const char *buf, size_t len)
{
	char text[37];
	uuid_t got, want;
	int ret;

	memset(got, 0xa5, sizeof(got));
	memcpy(want, got, sizeof(want));
	ret = umdev__sysfs_parse_uuid(buf, len, &got);
	if (len == 36 || len == 37) {
		memcpy(text, buf, 36);
		text[36] = '\0';
		if (strlen(text) == 36 && uuid_parse(text, want) == 0) {
			if (ret != 0 || uuid_compare(got, want))
				fuzz_bug("create: %zu bytes libuuid accepts: ret %d", len, ret);
			return;
		}
	}
	if (ret != -EINVAL)
		fuzz_bug("create: %zu bytes libuuid refuses: ret %d, not -EINVAL", len, ret);
	if (memcmp(got, want, sizeof(got)))
		fuzz_bug("create: a failed parse wrote its result");
}

/*
 * kstrtoul(s, 0) on the NUL-terminated copy: '+'? then a digit, strtoul base 0 consuming all
 * but an optional final '\n', no overflow. Return: whether it parses, with its value.
 */
static bool model_ulong(const char *buf, size_t len, unsigned long *ret_val)
{
	char text[WRITE_MAX + 1];
	const char *p = text;
	char *end;
	unsigned long v;

	memcpy(text, buf, len);
	text[len] = '\0';
	if (*p == '+')
		p++;
	if (!isdigit((unsigned char)*p))
		return false; /* strtoul would also take spaces and '-' */
	errno = 0;
	v = strtoul(p, &end, 0);
	if (errno)
		return false;
	if (*end == '\n')
		end++;
	if (*end)
		return false;
	*ret_val = v;
	return true;
}

static void check_remove(const char *buf, size_t len)
{
	unsigned long got = 0xa5a5, want = 0;
	int ret;

	ret = umdev__sysfs_parse_ulong(buf, len, &got);
	if (model_ulong(buf, len, &want)) {
		if (ret != 0 || got != want)
			fuzz_bug("remove: %zu bytes kstrtoul takes as %lu: ret %d value %lu", len,
				 want, ret, got);
	} else if (ret != -EINVAL || got != 0xa5a5) {
		fuzz_bug("remove: %zu bytes kstrtoul refuses: ret %d", len, ret);
	}
}

static void check_store(const struct umdev_attr *a, const char *buf, size_t len)
{
	char shown[UMDEV_ATTR_BUF_SIZE];
	ssize_t ret, n = 0;

	if (len == 0)
		return; /* the tree never calls store without bytes */
	ret = a->store(mdev, buf, len);
	if (ret != (ssize_t)len && (ret >= 0 || ret < -4095))
		fuzz_bug("%s: store of %zu bytes returned %zd", a->name, len, ret);
	if (a->show) {
		n = a->show(mdev, shown, sizeof(shown));
		if (n >= (ssize_t)sizeof(shown) || n < -4095)
			fuzz_bug("%s: show returned %zd", a->name, n);
	}
	/* mtty.md §4.2: a successful write is what reads back, with one newline */
	if (!strcmp(a->name, "backend") && ret > 0) {
		size_t want = buf[len - 1] == '\n' ? len - 1 : len;

		if (n != (ssize_t)want + 1 || memcmp(shown, buf, want) || shown[want] != '\n')
			fuzz_bug("backend: wrote '%.*s', reads back %zd bytes", (int)want, buf, n);
	}
	if (!strcmp(a->name, "backend") && n > 0) {
		unsigned int mode = shown[0] == 'l', fds = device_fds(NULL, 0);
		char list[1024] = "";

		if (!fds_in_mode[mode]) {
			fds_in_mode[mode] = fds;
		} else if (fds != fds_in_mode[mode]) {
			(void)device_fds(list, sizeof(list));
			fuzz_bug("backend %s: %u pty and eventfd fds open, %u before (%s)",
				 mode ? "loopback" : "pty", fds, fds_in_mode[mode], list);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data + 1;
	size_t len = size - 1;
	unsigned int sel;

	if (size < 1)
		return 0;
	if (len > WRITE_MAX)
		len = WRITE_MAX;
	sel = data[0] % (2 + nr_stores);
	if (sel == 0)
		check_create(buf, len);
	else if (sel == 1)
		check_remove(buf, len);
	else
		check_store(stores[sel - 2], buf, len);
	return 0;
}
