// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the vfio-user server (vfio-user.md) fed whole message streams over its
 * real UNIX socket, as a client would, against live mtty devices (issue 8 §4). The devices
 * are created once per process; each input is one connection, so one session from VERSION
 * negotiation to teardown (§4.4), read and written with bounded waits.
 *
 * Input: one byte of options, then records, each sent as one message. Options:
 *
 *   bit 0  the device: 0 an mtty-2 on ptys, 1 an mtty-1 in loopback
 *   bit 1  a second client connects while the session is open and sends a VERSION header; it
 *          must get one EBUSY error reply and end of file (§4.2)
 *   bit 2  that second client's message has the No_reply flag: end of file only
 *   bit 3  after the session, a new one must find the device at power-on: config space and
 *          UART registers 1-7 of every port read as right after creation (mtty.md §8,
 *          vfio-user.md §4.4 step 5: teardown resets)
 *   bit 4  a driver thread makes DMA transfers during the session (§10.1): 16-byte reads and
 *          8-byte writes at IOVA 0x200000, alternately, up to DMA_TRANSFERS of them, from the
 *          moment the client sent a DMA_MAP without fd covering them (retrying DMA_TRIES
 *          times, 100 us apart, while that mapping is not in place). Such a mapping turns them
 *          into DMA_READ/DMA_WRITE requests to the client (§8.12). Once it has sent one, and
 *          until the server refused it, the client holds back each of its own reply records
 *          (type 1) until a request has arrived for it to answer, waiting HOLD_MS at most in
 *          all
 *
 * Records:
 *
 *   ctl:u8  len:u16le  header[16]  payload[len]   (a record cut short by the end is dropped)
 *
 *   ctl bits 0-3  number of fds sent with it (SCM_RIGHTS), 0..15
 *   ctl bits 4-5  kind of the first fd: 0 memfd (64 KiB), 1 eventfd (count 1, so an INTx
 *                 unmask eventfd fires at once), 2 /dev/null, 3 one end of a socketpair; the
 *                 following fds take the next kinds in turn
 *   ctl bit 6     keep the header's msg_size as written (else 16 + len): framing errors
 *   ctl bit 7     send header and payload in two sendmsg() calls, the fds with the payload
 *
 * After the last record the client shuts its sending side and reads until end of file. What
 * comes back is checked: only whole messages, only replies (or the server's DMA requests),
 * error replies header-only with an errno, replies in the order of the commands they answer
 * (when every msg_size was ours), and a successful VERSION reply carrying NUL-terminated JSON
 * with a "capabilities" object (§7). A server that neither answers nor closes within
 * STALL_MS, or an fd count that keeps growing across inputs, is a bug too.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "fuzz_mtty.h"

#define HDR 16
#define CTL_NR_FDS 0x0fu
#define CTL_KIND_SHIFT 4
#define CTL_RAW_SIZE 0x40u
#define CTL_SPLIT 0x80u
#define STALL_MS 5000 /* no byte moved for this long: the server hangs */
#define FDS_KEPT 64 /* fds received, kept open until the input ends (a twin socket) */
#define FD_SLACK 100 /* fds a session being torn down may still hold (16 DMA maps, 32 rx) */
#define OPT_DEVICE 0x1u
#define OPT_BUSY 0x2u
#define OPT_BUSY_NO_REPLY 0x4u
#define OPT_CHECK_RESET 0x8u
#define OPT_DMA 0x10u
#define DMA_IOVA 0x200000u
#define DMA_TRANSFERS 4
#define DMA_TRIES 50 /* attempts 100 us apart while the session or the mapping is missing */
#define HOLD_MS 10 /* per session: longest wait for DMA requests, then replies go anyway */
#define STATE_MAX (256 + 2 * 7) /* config space, UART offsets 1-7 of two ports */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One sendmsg() unit: a message, or the header or payload of a split one. */
struct chunk {
	size_t off, len; /* in the wire buffer */
	unsigned int nr_fds, kind;
	bool reply; /* the first chunk of a record of type 1 */
	bool dma_map; /* the first chunk of a dma_map_msg() record */
};

/* A record's header as sent, for the order check of the replies. */
struct sent {
	uint16_t msg_id, command;
	bool dma_map; /* a DMA_MAP without fd covering the driver thread's transfers */
};

struct conn {
	int fd;
	uint8_t *wire;
	struct chunk *chunks;
	unsigned int nr_chunks, cur; /* cur: the chunk being sent */
	size_t pos; /* bytes of chunks[cur] sent */
	struct sent *sent;
	unsigned int nr_sent, cursor; /* cursor: first record a reply may answer */
	bool raw; /* a record kept its own msg_size: framing is the fuzzer's */
	uint8_t *rbuf; /* received bytes not yet checked */
	size_t rlen, rcap;
	int kept[FDS_KEPT];
	unsigned int nr_kept;
	uint8_t *state; /* non-NULL: the data of successful REGION_READs is appended here */
	size_t state_len;
	bool hold; /* OPT_DMA: reply records wait for a request (see the top of this file) */
	struct dma_thread *dma; /* OPT_DMA: told when a dma_map_msg() record is sent */
	unsigned int maps_sent, maps_refused; /* dma_map_msg() records */
	unsigned int requests, released; /* DMA requests received, reply records sent */
	uint64_t hold_deadline; /* set at the first hold: no holding after it; 0: none yet */
	bool holding; /* a reply record waits now */
};

/* The driver thread of OPT_DMA. */
struct dma_thread {
	pthread_t thread;
	struct umdev_mdev *mdev;
	pthread_mutex_t lock; /* protects go; the thread waits on cond for go or stop */
	pthread_cond_t cond;
	bool go; /* the client sent a DMA_MAP without fd covering DMA_IOVA */
	atomic_bool stop; /* set once the session ended */
	unsigned int done; /* transfers that reached the client (no -ENOTCONN or -EFAULT) */
};

/* A device and what a new session reads from it at power-on (OPT_CHECK_RESET). */
struct target {
	struct umdev_mdev *mdev;
	unsigned int nr_ports;
	uint8_t poweron[STATE_MAX];
	size_t poweron_len;
};

static struct target targets[2];
static unsigned int fd_baseline;
static bool trace; /* FUZZ_TRACE set: print every message from the server */

/* For a stall report: every thread's state and wait channel, and the open fds, to stderr. */
static void threads_dump(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char path[300], stat[256] = "", wchan[64] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
		f = fopen(path, "r");
		if (f) {
			if (!fgets(stat, sizeof(stat), f))
				stat[0] = '\0';
			fclose(f);
		}
		snprintf(path, sizeof(path), "/proc/self/task/%s/wchan", e->d_name);
		f = fopen(path, "r");
		if (f) {
			if (!fgets(wchan, sizeof(wchan), f))
				wchan[0] = '\0';
			fclose(f);
		}
		stat[strcspn(stat, "\n")] = '\0';
		fprintf(stderr, "fuzz_vfio_user: thread %s wchan %s: %.80s\n", e->d_name, wchan,
			stat);
	}
	if (d)
		closedir(d);
	fprintf(stderr, "fuzz_vfio_user: %u fds open, %u at start\n", fuzz_nr_open_fds(),
		fd_baseline);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)fuzz_le32(p) | (uint64_t)fuzz_le32(p + 4) << 32;
}

/* Whether the record of header @h is a DMA_MAP without fd whose range holds OPT_DMA's. */
static bool dma_map_msg(const uint8_t *h, size_t len, uint8_t ctl)
{
	uint64_t iova, size;

	if (fuzz_le16(h + 2) != 2 || (fuzz_le32(h + 8) & 0xf) || (ctl & CTL_NR_FDS) || len < 32)
		return false;
	iova = le64(h + HDR + 16);
	size = le64(h + HDR + 24);
	return iova <= DMA_IOVA && size >= 16 && DMA_IOVA + 16 - iova <= size;
}

/* Lay the records of @data out as the bytes to send. Return: 0 or -ENOMEM. */
static int conn_build(struct conn *c, const uint8_t *data, size_t size)
{
	size_t i = 0, off = 0, max = size / (3 + HDR) + 1;

	c->wire = malloc(size ? size : 1);
	c->chunks = calloc(2 * max, sizeof(*c->chunks));
	c->sent = calloc(max, sizeof(*c->sent));
	if (!c->wire || !c->chunks || !c->sent)
		return -ENOMEM;
	while (size - i >= 3 + HDR) {
		uint8_t ctl = data[i];
		size_t len = fuzz_le16(data + i + 1);
		uint8_t *h = c->wire + off;
		struct chunk *ch = &c->chunks[c->nr_chunks];

		i += 3;
		if (len > size - i - HDR)
			break; /* cut short */
		memcpy(h, data + i, HDR + len);
		i += HDR + len;
		if (ctl & CTL_RAW_SIZE) {
			c->raw = true;
		} else {
			uint32_t msg_size = (uint32_t)(HDR + len);

			for (int b = 0; b < 4; b++)
				h[4 + b] = (uint8_t)(msg_size >> (8 * b));
		}
		c->sent[c->nr_sent++] =
		    (struct sent){fuzz_le16(h), fuzz_le16(h + 2), dma_map_msg(h, len, ctl)};
		*ch = (struct chunk){.off = off,
				     .len = HDR + len,
				     .nr_fds = ctl & CTL_NR_FDS,
				     .kind = (ctl >> CTL_KIND_SHIFT) & 3,
				     .reply = (fuzz_le32(h + 8) & 0xf) == 1,
				     .dma_map = c->sent[c->nr_sent - 1].dma_map};
		if ((ctl & CTL_SPLIT) && len) {
			ch[1] = ch[0];
			ch[0].len = HDR;
			ch[0].nr_fds = 0;
			ch[1].off += HDR;
			ch[1].len = len;
			ch[1].reply = ch[1].dma_map =
			    false; /* counted at the record's first chunk */
			c->nr_chunks++;
		}
		c->nr_chunks++;
		off += HDR + len;
	}
	return 0;
}

/* Send what the socket takes now. Return: false once everything is sent or sending failed. */
static bool conn_send(struct conn *c)
{
	while (c->cur < c->nr_chunks) {
		struct chunk *ch = &c->chunks[c->cur];
		struct iovec iov = {c->wire + ch->off + c->pos, ch->len - c->pos};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
		union {
			char buf[CMSG_SPACE(sizeof(int) * CTL_NR_FDS)];
			struct cmsghdr align;
		} control;
		int fds[CTL_NR_FDS];
		unsigned int nr = 0;
		ssize_t r;

		if (c->pos == 0 && ch->reply && c->hold && c->maps_sent > c->maps_refused &&
		    c->requests <= c->released) {
			if (!c->hold_deadline)
				c->hold_deadline = now_ms() + HOLD_MS;
			c->holding = now_ms() < c->hold_deadline;
			if (c->holding)
				return true; /* no request to answer yet: wait for one */
		}
		if (c->pos == 0 && ch->reply)
			c->released++;
		if (c->pos == 0 && ch->dma_map && c->dma) {
			c->maps_sent++;
			pthread_mutex_lock(&c->dma->lock);
			c->dma->go = true;
			pthread_cond_signal(&c->dma->cond);
			pthread_mutex_unlock(&c->dma->lock);
		}

		if (c->pos == 0 && ch->nr_fds) {
			struct cmsghdr *cm;

			for (unsigned int k = 0; k < ch->nr_fds; k++) {
				int fd = fuzz_fd_make(ch->kind + k);

				if (fd >= 0)
					fds[nr++] = fd;
			}
			memset(&control, 0, sizeof(control));
			mh.msg_control = control.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * nr);
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int) * nr);
			memcpy(CMSG_DATA(cm), fds, sizeof(int) * nr);
		}
		r = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		for (unsigned int k = 0; k < nr; k++)
			close(fds[k]); /* sent (the server has its own), or to be made again */
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		if (r < 0)
			return false; /* EPIPE, ECONNRESET: the server closed (§6.3) */
		c->pos += (size_t)r;
		if (c->pos == ch->len) {
			c->cur++;
			c->pos = 0;
		}
	}
	return false;
}

static void check_version_reply(const uint8_t *p, size_t len)
{
	struct json_object *root, *caps;

	if (len < 5 || p[len - 1] != '\0')
		fuzz_bug("VERSION reply of %zu bytes without NUL-terminated JSON", len);
	root = json_tokener_parse((const char *)p + 4);
	if (!root || !json_object_object_get_ex(root, "capabilities", &caps) ||
	    !json_object_is_type(caps, json_type_object))
		fuzz_bug("VERSION reply JSON '%s' has no capabilities object", (const char *)p + 4);
	json_object_put(root);
}

/* Check one whole message from the server. */
static void check_message(struct conn *c, const uint8_t *h, const uint8_t *payload, size_t len)
{
	uint16_t msg_id = fuzz_le16(h), command = fuzz_le16(h + 2);
	uint32_t flags = fuzz_le32(h + 8), error = fuzz_le32(h + 12);

	if (trace)
		fprintf(stderr, "msg_id %u command %u flags 0x%x errno %u, %zu bytes\n", msg_id,
			command, flags, error, len);
	if ((flags & 0xf) == 0) { /* a command from the server: only DMA (§8.12) */
		if (command != 11 && command != 12)
			fuzz_bug("server sent command %u", command);
		c->requests++;
		return;
	}
	if ((flags & 0xf) != 1)
		fuzz_bug("server message of type %u", flags & 0xf);
	if ((flags & 0x20) && (len || !error))
		fuzz_bug("error reply to command %u: %zu payload bytes, errno %u", command, len,
			 error);
	if (!(flags & 0x20) && error)
		fuzz_bug("success reply to command %u with errno %u", command, error);
	if (!c->raw) { /* §6.1: each reply echoes msg_id and command of a request, in order */
		while (c->cursor < c->nr_sent && (c->sent[c->cursor].msg_id != msg_id ||
						  c->sent[c->cursor].command != command))
			c->cursor++;
		if (c->cursor == c->nr_sent)
			fuzz_bug("reply (msg_id %u, command %u) to no request", msg_id, command);
		if (c->sent[c->cursor].dma_map && (flags & 0x20))
			c->maps_refused++;
		c->cursor++;
	}
	if (command == 1 && !(flags & 0x20))
		check_version_reply(payload, len);
	if (command == 9 && !(flags & 0x20) && c->state && len > 16) {
		if (c->state_len + len - 16 > STATE_MAX)
			fuzz_bug("state reads returned too much");
		memcpy(c->state + c->state_len, payload + 16, len - 16);
		c->state_len += len - 16;
	}
}

/* Read what is there. Return: false at end of file. */
static bool conn_recv(struct conn *c)
{
	for (;;) {
		union {
			char buf[CMSG_SPACE(sizeof(int) * 16)];
			struct cmsghdr align;
		} control;
		struct iovec iov;
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
		struct cmsghdr *cm;
		size_t used;
		ssize_t r;

		if (c->rcap - c->rlen < 65536) {
			uint8_t *b = realloc(c->rbuf, c->rcap * 2 + 65536);

			if (!b)
				fuzz_bug("out of memory");
			c->rbuf = b;
			c->rcap = c->rcap * 2 + 65536;
		}
		iov.iov_base = c->rbuf + c->rlen;
		iov.iov_len = c->rcap - c->rlen;
		mh.msg_control = control.buf;
		mh.msg_controllen = sizeof(control.buf);
		r = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return true;
		for (cm = r > 0 ? CMSG_FIRSTHDR(&mh) : NULL; cm; cm = CMSG_NXTHDR(&mh, cm)) {
			size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t k = 0; k < n; k++) {
				int fd;

				memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
				if (c->nr_kept < FDS_KEPT)
					c->kept[c->nr_kept++] = fd;
				else
					close(fd);
			}
		}
		if (r <= 0) { /* EOF, or ECONNRESET after the queued data (§3.3 step 4) */
			if (c->rlen)
				fuzz_bug("connection closed within a message (%zu bytes)", c->rlen);
			return false;
		}
		c->rlen += (size_t)r;
		for (used = 0; c->rlen - used >= HDR;) {
			const uint8_t *h = c->rbuf + used;
			uint32_t size = fuzz_le32(h + 4);

			if (size < HDR)
				fuzz_bug("server message of msg_size %u", size);
			if (c->rlen - used < size)
				break;
			check_message(c, h, h + HDR, size - HDR);
			used += size;
		}
		memmove(c->rbuf, c->rbuf + used, c->rlen - used);
		c->rlen -= used;
	}
}

static void conn_free(struct conn *c)
{
	for (unsigned int k = 0; k < c->nr_kept; k++)
		close(c->kept[k]);
	if (c->fd >= 0)
		close(c->fd);
	free(c->wire);
	free(c->chunks);
	free(c->sent);
	free(c->rbuf);
}

/* A session's teardown runs after its end of file reached us: give it time to close fds. */
static void check_fds(void)
{
	uint64_t until = now_ms() + 2000;
	unsigned int n;

	while ((n = fuzz_nr_open_fds()) > fd_baseline + FD_SLACK) {
		if (now_ms() > until)
			fuzz_bug("%u fds open, %u at start: a leak", n, fd_baseline);
		usleep(10000);
	}
}

static int client_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		fuzz_bug("connect %s: %s", path, strerror(errno));
	return fd;
}

/*
 * §4.2: a connection made while a session is open gets EBUSY for its first message (none
 * with No_reply), then end of file.
 */
static void busy_probe(const char *path, bool no_reply)
{
	uint8_t hdr[HDR] = {0xef, 0xbe, 1, 0, HDR, 0, 0, 0, no_reply ? 0x10 : 0};
	uint8_t got[2 * HDR];
	size_t have = 0;
	int fd = client_connect(path);

	if (send(fd, hdr, sizeof(hdr), MSG_NOSIGNAL) != (ssize_t)sizeof(hdr))
		fuzz_bug("busy probe: send: %s", strerror(errno));
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;

		if (poll(&p, 1, STALL_MS) != 1) {
			threads_dump();
			fuzz_bug("busy probe: no reply or EOF for %d ms", STALL_MS);
		}
		r = recv(fd, got + have, sizeof(got) - have, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		have += (size_t)r;
		if (have == sizeof(got))
			break;
	}
	close(fd);
	if (no_reply ? have != 0
		     : have != HDR || fuzz_le16(got) != 0xbeef || fuzz_le16(got + 2) != 1 ||
			   fuzz_le32(got + 4) != HDR || fuzz_le32(got + 8) != 0x21 ||
			   fuzz_le32(got + 12) != EBUSY)
		fuzz_bug("busy probe: %zu bytes instead of %s", have,
			 no_reply ? "none" : "one EBUSY reply");
}

static void *dma_main(void *arg)
{
	struct dma_thread *t = arg;
	unsigned int tries = 0;
	uint8_t buf[16] = {0};

	pthread_mutex_lock(&t->lock);
	while (!t->go && !atomic_load(&t->stop))
		pthread_cond_wait(&t->cond, &t->lock);
	pthread_mutex_unlock(&t->lock);
	while (!atomic_load(&t->stop) && t->done < DMA_TRANSFERS && tries < DMA_TRIES) {
		int ret = t->done & 1 ? umdev_dma_write(t->mdev, DMA_IOVA, buf, 8)
				      : umdev_dma_read(t->mdev, DMA_IOVA, buf, sizeof(buf));

		if (ret > 0 || ret < -4095)
			fuzz_bug("umdev_dma_%s returned %d", t->done & 1 ? "write" : "read", ret);
		if (ret == -ENOTCONN || ret == -EFAULT || ret == -EPERM) {
			tries++;
			usleep(100); /* the mapping is not in place (yet) */
		} else {
			t->done++;
		}
	}
	return NULL;
}

/*
 * One session: the messages of @records (the record format above) on @path, with the busy
 * probe of @opt, and the checks of check_message(). Return: the bytes appended to @state.
 */
static size_t session_run(struct umdev_mdev *mdev, unsigned int opt, const uint8_t *records,
			  size_t size, uint8_t *state)
{
	struct conn c = {.fd = -1, .state = state, .hold = opt & OPT_DMA};
	struct dma_thread dma = {
	    .mdev = mdev, .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	bool sending = true, open = true;
	const char *path;
	uint64_t idle_since;

	if (conn_build(&c, records, size) < 0)
		fuzz_bug("out of memory");
	if ((opt & OPT_DMA) && pthread_create(&dma.thread, NULL, dma_main, &dma))
		fuzz_bug("pthread_create failed");
	if (opt & OPT_DMA)
		c.dma = &dma;
	path = fuzz_mtty_socket(mdev);
	c.fd = client_connect(path);
	if (opt & OPT_BUSY)
		busy_probe(path, opt & OPT_BUSY_NO_REPLY);
	if (fcntl(c.fd, F_SETFL, O_NONBLOCK) < 0)
		fuzz_bug("fcntl: %s", strerror(errno));
	idle_since = now_ms();
	while (open) {
		struct pollfd p = {.fd = c.fd, .events = POLLIN};
		size_t before = c.rlen;
		unsigned int cur = c.cur;
		size_t pos = c.pos;

		if (sending && !(sending = conn_send(&c)))
			(void)shutdown(c.fd, SHUT_WR); /* the server reads EOF, ends the session */
		if (sending && !c.holding)
			p.events |= POLLOUT; /* not while holding a reply back: that would spin */
		if (poll(&p, 1, c.holding ? 1 : 100) < 0 && errno != EINTR)
			fuzz_bug("poll: %s", strerror(errno));
		if (p.revents & (POLLIN | POLLHUP | POLLERR))
			open = conn_recv(&c);
		if (c.rlen != before || c.cur != cur || c.pos != pos || p.revents) {
			idle_since = now_ms();
		} else if (now_ms() - idle_since > STALL_MS) {
			threads_dump();
			fuzz_bug("server stalled: %u of %u chunks sent, no reply or EOF for %d ms",
				 c.cur, c.nr_chunks, STALL_MS);
		}
	}
	if (opt & OPT_DMA) { /* the session is over: waiting transfers failed -ENOTCONN */
		pthread_mutex_lock(&dma.lock);
		atomic_store(&dma.stop, true);
		pthread_cond_signal(&dma.cond);
		pthread_mutex_unlock(&dma.lock);
		pthread_join(dma.thread, NULL);
	}
	conn_free(&c);
	return c.state_len;
}

/* Append one record (ctl 0) to @buf at *@len. */
static void record_add(uint8_t *buf, size_t *len, uint16_t command, const uint8_t *payload,
		       uint16_t plen)
{
	uint8_t *r = buf + *len;

	memset(r, 0, 3 + HDR);
	r[1] = (uint8_t)plen;
	r[2] = (uint8_t)(plen >> 8);
	r[3] = (uint8_t)(*len); /* msg_id */
	r[5] = (uint8_t)command;
	memcpy(r + 3 + HDR, payload, plen);
	*len += 3 + HDR + plen;
}

/* A session reading what OPT_CHECK_RESET compares. Return: the bytes read into @state. */
static size_t state_read(const struct target *t, uint8_t state[STATE_MAX])
{
	uint8_t records[64 * (3 + HDR + 16)], p[16] = {0};
	size_t len = 0;

	record_add(records, &len, 1, (const uint8_t *)"\0\0\0\0{}", 7); /* VERSION 0.0 */
	p[8] = 7; /* REGION_READ of 256 bytes at 0 of region 7 (config) */
	p[13] = 1;
	record_add(records, &len, 9, p, 16);
	for (unsigned int port = 0; port < t->nr_ports; port++)
		for (unsigned int off = 1; off < 8; off++) { /* not RBR: reading it pops */
			memset(p, 0, sizeof(p));
			p[0] = (uint8_t)off;
			p[8] = (uint8_t)port; /* BAR<port> */
			p[12] = 1;
			record_add(records, &len, 9, p, 16);
		}
	return session_run(t->mdev, 0, records, len, state);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_mtty_start(true);
	targets[0] = (struct target){.mdev = fuzz_mtty_create(2, "pty"), .nr_ports = 2};
	targets[1] = (struct target){.mdev = fuzz_mtty_create(1, "loopback"), .nr_ports = 1};
	for (unsigned int i = 0; i < 2; i++) {
		targets[i].poweron_len = state_read(&targets[i], targets[i].poweron);
		if (targets[i].poweron_len != 256 + 7 * targets[i].nr_ports)
			fuzz_bug("device %u: power-on state of %zu bytes", i,
				 targets[i].poweron_len);
	}
	fd_baseline = fuzz_nr_open_fds();
	trace = getenv("FUZZ_TRACE");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct target *t;
	uint8_t state[STATE_MAX];
	size_t n;

	if (size < 1)
		return 0;
	check_fds();
	t = &targets[data[0] & OPT_DEVICE];
	(void)session_run(t->mdev, data[0], data + 1, size - 1, NULL);
	if (!(data[0] & OPT_CHECK_RESET))
		return 0;
	n = state_read(t, state);
	for (size_t i = 0; i < t->poweron_len; i++)
		if (n != t->poweron_len || state[i] != t->poweron[i])
			fuzz_bug("after teardown, %s %zu reads 0x%02x, at power-on 0x%02x",
				 i < 256 ? "config offset" : "UART byte", i < 256 ? i : i - 256,
				 i < n ? state[i] : 0, t->poweron[i]);
	return 0;
}
