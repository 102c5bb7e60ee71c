// SPDX-License-Identifier: MIT
/*
 * The host pseudo-terminals of the mtty pty backend (mtty.md §4.3, §5.2, §5.5): creation in
 * raw mode through the master, the one open and close of the slave that makes the master
 * report POLLHUP while nobody is attached, the <rundir>/mtty/<uuid>/portN symlinks, and the
 * removal order (symlink first, then the master).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "device.h"
#include "mtty.h"

/* Fault injection for tests (mtty.h): the step of §4.3 that fails, 0 for none, and its errno. */
static unsigned int inject_step;
static int inject_err;

void mtty_inject_pty_failure(unsigned int step, int err)
{
	inject_step = step;
	inject_err = err;
}

/* -errno if @step is the injected failing step, else 0. */
static int injected(unsigned int step)
{
	return inject_step == step ? -inject_err : 0;
}

static int mkdir_0755(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Step 2: raw mode, CS8 | CREAD | CLOCAL, no parity, one stop bit, 115200 both ways. */
static int set_raw(int master)
{
	struct termios t;

	if (tcgetattr(master, &t) < 0)
		return -errno;
	cfmakeraw(&t);
	t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | PARODD | CSTOPB | CMSPAR | CRTSCTS);
	t.c_cflag |= CS8 | CREAD | CLOCAL;
	if (cfsetispeed(&t, B115200) < 0 || cfsetospeed(&t, B115200) < 0)
		return -errno;
	if (tcsetattr(master, TCSANOW, &t) < 0)
		return -errno;
	return 0;
}

/* Step 4: <rundir>/mtty/<uuid>/port<N> -> slave path (directories mode 0755). */
static int link_create(struct mtty_pty *pty, const char *rundir, const char *uuid_str,
		       unsigned int port)
{
	char dir[4096], link[4096 + 16];
	int n, ret;

	n = snprintf(dir, sizeof(dir), "%s/mtty", rundir);
	if (n < 0 || (size_t)n >= sizeof(dir))
		return -ENAMETOOLONG;
	ret = mkdir_0755(dir);
	if (ret < 0)
		return ret;
	n = snprintf(dir, sizeof(dir), "%s/mtty/%s", rundir, uuid_str);
	if (n < 0 || (size_t)n >= sizeof(dir))
		return -ENAMETOOLONG;
	ret = mkdir_0755(dir);
	if (ret < 0)
		return ret;
	n = snprintf(link, sizeof(link), "%s/port%u", dir, port);
	if (n < 0 || (size_t)n >= sizeof(link))
		return -ENAMETOOLONG;
	pty->link = strdup(link);
	if (!pty->link)
		return -ENOMEM;
	(void)unlink(link); /* a stale link of a previous daemon */
	if (symlink(pty->path, link) < 0) {
		ret = -errno;
		free(pty->link);
		pty->link = NULL;
		return ret;
	}
	return 0;
}

int mtty_pty_open(struct mtty_pty *pty, const char *rundir, const char *uuid_str, unsigned int port)
{
	int master, slave, ret;

	pty->master = -1;
	pty->path[0] = '\0';
	pty->link = NULL;

	/* step 1 */
	ret = injected(1);
	if (ret < 0)
		return ret;
	master = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (master < 0)
		return -errno;
	if (grantpt(master) < 0 || unlockpt(master) < 0) {
		ret = -errno;
		goto err_close;
	}
	ret = -ptsname_r(master, pty->path, sizeof(pty->path));
	if (ret < 0)
		goto err_close;
	/* step 2: Linux applies termios requests on a master to its slave */
	ret = injected(2);
	if (ret == 0)
		ret = set_raw(master);
	if (ret < 0)
		goto err_close;
	/* step 3: open and close the slave once, so the master reports POLLHUP until attached */
	ret = injected(3);
	if (ret < 0)
		goto err_close;
	slave = open(pty->path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0) {
		ret = -errno;
		goto err_close;
	}
	close(slave);
	/* step 4: the caller publishes the path; the symlink is ours */
	if (rundir && rundir[0]) {
		ret = injected(4);
		if (ret == 0)
			ret = link_create(pty, rundir, uuid_str, port);
		if (ret < 0)
			goto err_close;
	}
	pty->master = master;
	return 0;

err_close:
	close(master);
	pty->path[0] = '\0';
	return ret;
}

void mtty_pty_close(struct mtty_pty *pty)
{
	if (pty->link) {
		(void)unlink(pty->link); /* §5.5: the symlink first ... */
		free(pty->link);
		pty->link = NULL;
	}
	if (pty->master >= 0) {
		close(pty->master); /* ... then the master: slave holders see POLLHUP, EOF, EIO */
		pty->master = -1;
	}
	pty->path[0] = '\0';
}

void mtty_pty_rmdir(const char *rundir, const char *uuid_str)
{
	char dir[4096];
	int n;

	if (!rundir || !rundir[0])
		return;
	n = snprintf(dir, sizeof(dir), "%s/mtty/%s", rundir, uuid_str);
	if (n > 0 && (size_t)n < sizeof(dir))
		(void)rmdir(dir);
}

void mtty_pty_clear_stale(const char *rundir)
{
	char dir[4096];
	struct dirent *e;
	DIR *d;
	int n;

	if (!rundir || !rundir[0])
		return;
	n = snprintf(dir, sizeof(dir), "%s/mtty", rundir);
	if (n < 0 || (size_t)n >= sizeof(dir) || !(d = opendir(dir)))
		return;
	while ((e = readdir(d))) {
		int sub;
		DIR *sd;

		if (e->d_name[0] == '.')
			continue;
		sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0 || !(sd = fdopendir(sub))) {
			if (sub >= 0)
				close(sub);
			continue;
		}
		for (struct dirent *p; (p = readdir(sd));)
			if (!strncmp(p->d_name, "port", 4))
				(void)unlinkat(dirfd(sd), p->d_name,
					       0); /* the links, never their targets */
		closedir(sd);
		(void)unlinkat(dirfd(d), e->d_name,
			       AT_REMOVEDIR); /* only if nothing else is left */
	}
	closedir(d);
}

bool mtty_pty_attached(const struct mtty_pty *pty)
{
	struct pollfd p = {.fd = pty->master, .events = POLLOUT};

	if (pty->master < 0)
		return false;
	if (poll(&p, 1, 0) < 0)
		return false;
	return !(p.revents & (POLLHUP | POLLERR | POLLNVAL));
}
