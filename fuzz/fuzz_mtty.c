// SPDX-License-Identifier: MIT
/* The fuzz targets' live mtty device model (fuzz_mtty.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "umdev/log.h"
#include "hooks.h"
#include "mtty.h"
#include "vfio.h"
#include "fuzz_mtty.h"

static char rundir[64];
static struct umdev__parent *core_parent;

void fuzz_bug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s: ", program_invocation_short_name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

unsigned int fuzz_nr_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned int n = 0;

	if (!d)
		return 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

int fuzz_fd_make(unsigned int kind)
{
	int fd = -1, sp[2];

	switch (kind & 3) {
	case 0:
		fd = memfd_create("fuzz-dma", MFD_CLOEXEC);
		if (fd >= 0 && ftruncate(fd, FUZZ_MEMFD_SIZE) < 0) {
			close(fd);
			fd = -1;
		}
		break;
	case 1:
		fd = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
		break;
	case 2:
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		break;
	default:
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0) {
			close(sp[1]);
			fd = sp[0];
		}
		break;
	}
	return fd;
}

static __attribute__((noreturn)) void die(const char *what, int err)
{
	fprintf(stderr, "fuzz: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

/* Formats every message (its code is reached by clients) and drops it. */
static void log_drop(void *opaque, enum umdev_log_level level, const char *msg)
{
	(void)opaque;
	(void)level;
	(void)msg;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	(void)remove(path);
	return 0;
}

static void rundir_remove(void)
{
	(void)nftw(rundir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int find_parent(struct umdev_parent *parent, void *arg)
{
	(void)arg;
	if (strcmp(umdev__parent_name(parent->core), "mtty"))
		return 0;
	core_parent = parent->core;
	return 1;
}

void fuzz_mtty_start(bool sockets)
{
	struct umdev_vfio_options opt = {.max_dma_maps = 16};
	int ret;

	umdev_log_set_sink(log_drop, NULL, UMDEV_LOG_DEBUG);
	if (sockets) {
		strcpy(rundir, "/tmp/umdev-fuzz-XXXXXX");
		if (!mkdtemp(rundir))
			die("mkdtemp", errno);
		atexit(rundir_remove);
		opt.rundir = rundir;
	}
	ret = umdev_vfio_init(&opt);
	if (ret < 0)
		die("umdev_vfio_init", ret);
	ret = mtty_set_rundir(NULL); /* no pty symlinks */
	if (ret < 0)
		die("mtty_set_rundir", ret);
	ret = mtty_register_driver();
	if (ret < 0)
		die("mtty_register_driver", ret);
	if (!mtty_parent_add("mtty", &ret))
		die("mtty_parent_add", ret);
	umdev__core_for_each_parent(find_parent, NULL);
	if (!core_parent)
		die("parent 'mtty'", ENODEV);
}

struct umdev_mdev *fuzz_mtty_create(unsigned int nr_ports, const char *backend)
{
	struct umdev_mdev *mdev;
	uuid_t uuid;
	int ret;

	ret = mtty_set_default_backend(backend);
	if (ret < 0)
		die("mtty_set_default_backend", ret);
	uuid_generate(uuid);
	ret = umdev__type_create(umdev__parent_type(core_parent, nr_ports - 1), &uuid);
	if (ret < 0)
		die("create", ret);
	mdev = umdev_mdev_get(&uuid); /* never put: the device lives as long as the process */
	if (!mdev)
		die("umdev_mdev_get", ENODEV);
	return mdev;
}

const char *fuzz_mtty_socket(struct umdev_mdev *mdev)
{
	static char path[128];

	snprintf(path, sizeof(path), "%s/vfio/devices/vfio%u", rundir, umdev_mdev_vfio_index(mdev));
	return path;
}
