// SPDX-License-Identifier: MIT
/*
 * bench_vfio_syscalls - the system calls of one vfio-user round trip (issue 10), for strace:
 * bench_vfio's server and client (bench_vfio.c, included whole), pinned to one CPU, one VERSION,
 * then ROUND_TRIPS (plus a tenth as warm-up) 4-byte config REGION_READs, nothing else. Run it
 * with two counts under `strace -f -c`; the difference of the two counts of the server's calls
 * (poll, recvmsg, sendmsg, ioctl; the client uses read and write) divided by the difference of
 * the round trips is the server's calls per round trip (docs/benchmarks.md).
 *
 * Usage: bench_vfio_syscalls [ROUND_TRIPS]   (default 10000)
 */
int bench_vfio_main(int argc, char **argv);
#define main bench_vfio_main
#include "bench_vfio.c"
#undef main

int main(int argc, char **argv);

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
	uint64_t *ns = malloc((n ? n : 1) * sizeof(uint64_t));
	struct read_req req;
	cpu_set_t one;
	int fd;

	if (!ns)
		die("malloc", ENOMEM);
	server_start();
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	affinity_all(&one); /* this thread and every server thread */
	fd = client_open(sockets[0]);
	set_read(&req, REGION_CONFIG, 0, 4);
	(void)measure(fd, &req, n, ns);
	close(fd);
	server_stop();
	free(ns);
	return 0;
}
