// SPDX-License-Identifier: MIT
/*
 * The server thread of one vfio device (vfio-user.md §3.3, §4, §5, §6): accept, credentials,
 * framing, one session at a time, EBUSY for extra connections, the handshake deadline, R4's
 * termination. One thread per device, so clients of different devices never wait on each
 * other (C1), and a connection that stalls mid-message or stops reading stalls only its own
 * device's thread (C2, C3); every wait also watches the device's wake eventfd so removal is
 * never blocked by a client.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "umdev/log.h"
#include "private.h"

#define MAX_BUSY 8 /* extra connections waiting for their EBUSY reply */
#define BURST 64 /* messages per poll() round of one session */
#define CMSG_FDS_MAX 253 /* SCM_MAX_FD */

enum rx_result {
	RX_MORE = 0,
	RX_DONE = 1,
	RX_EOF = -1,
	RX_SMALL = -2, /* msg_size < 16 */
	RX_BIG = -3, /* msg_size > MAX_MSG_SIZE */
};

/* Receive state of one message (session or extra connection). */
struct rx {
	uint8_t hdr[VFIO_USER_HDR_SIZE];
	size_t have; /* bytes of the message received */
	uint32_t msg_size;
	uint8_t *payload;
	bool discard; /* extra connection: payload bytes are dropped */
	bool ctrunc;
	int fds[VFIO_USER_RX_FDS_MAX];
	unsigned int nr_fds, nr_fds_total;
};

struct busy {
	int fd;
	uint64_t deadline_ms;
	struct rx rx;
};

struct server {
	struct umdev__vfio_device *dev;
	struct umdev__vfio_session *s;
	int s_fd;
	uint64_t handshake_deadline_ms;
	struct rx rx;
	struct busy busy[MAX_BUSY];
	unsigned int nr_busy;
	uint64_t req_deadline_ms; /* R4 with T_req: terminate at this time; 0: not removing */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void rx_init(struct rx *rx, bool discard)
{
	memset(rx, 0, sizeof(*rx));
	rx->discard = discard;
}

static void rx_clear(struct rx *rx)
{
	for (unsigned int i = 0; i < rx->nr_fds; i++)
		close(rx->fds[i]);
	free(rx->payload);
	rx_init(rx, rx->discard);
}

/* One non-blocking step of reading a message (§6.2). */
static enum rx_result rx_step(int fd, struct rx *rx)
{
	static _Thread_local uint8_t scratch[4096];
	union {
		char buf[CMSG_SPACE(sizeof(int) * CMSG_FDS_MAX)];
		struct cmsghdr align;
	} control;

	for (;;) {
		struct iovec iov;
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
		struct cmsghdr *c;
		ssize_t r;

		if (rx->have >= VFIO_USER_HDR_SIZE && rx->have == rx->msg_size)
			return RX_DONE;
		if (rx->have < VFIO_USER_HDR_SIZE) {
			iov.iov_base = rx->hdr + rx->have;
			iov.iov_len = VFIO_USER_HDR_SIZE - rx->have;
		} else if (rx->discard) {
			iov.iov_base = scratch;
			iov.iov_len = rx->msg_size - rx->have;
			if (iov.iov_len > sizeof(scratch))
				iov.iov_len = sizeof(scratch);
		} else {
			iov.iov_base = rx->payload + (rx->have - VFIO_USER_HDR_SIZE);
			iov.iov_len = rx->msg_size - rx->have;
		}
		mh.msg_control = control.buf;
		mh.msg_controllen = sizeof(control.buf);
		r = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return RX_MORE;
		if (mh.msg_flags & MSG_CTRUNC)
			rx->ctrunc = true;
		for (c = r >= 0 ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c)) {
			size_t n;

			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < n; i++) {
				int f;

				memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				rx->nr_fds_total++;
				if (rx->nr_fds < VFIO_USER_RX_FDS_MAX)
					rx->fds[rx->nr_fds++] = f;
				else
					close(f); /* counted: the message fails EINVAL */
			}
		}
		if (r <= 0)
			return RX_EOF; /* EOF or ECONNRESET, mid-message included (§6.3) */
		rx->have += (size_t)r;
		if (rx->have == VFIO_USER_HDR_SIZE) {
			int ret;

			rx->msg_size = le32(rx->hdr + 4);
			ret = umdev__vfio_check_header(rx->msg_size);
			if (ret == -EINVAL)
				return RX_SMALL;
			if (ret == -E2BIG)
				return RX_BIG; /* the body is not read */
			if (!rx->discard) {
				rx->payload = malloc(rx->msg_size - VFIO_USER_HDR_SIZE + 1);
				if (!rx->payload)
					return RX_EOF;
			}
		}
	}
}

/*
 * Write all of @iov with @fds attached to the first byte. Waits for POLLOUT while the client
 * is slow (C2: only this device waits), but gives up once the device is being removed.
 * Return: 0; -EPIPE and friends (the connection is dead); -ECONNABORTED removal.
 */
static int send_all(struct server *sv, int fd, struct iovec *iov, int iovcnt, const int *fds,
		    unsigned int nr_fds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 1)];
		struct cmsghdr align;
	} control;

	while (iovcnt > 0) {
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};
		ssize_t r;

		if (nr_fds) {
			struct cmsghdr *c;

			memset(&control, 0, sizeof(control));
			mh.msg_control = control.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * nr_fds);
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * nr_fds);
			memcpy(CMSG_DATA(c), fds, sizeof(int) * nr_fds);
		}
		r = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p[2] = {{.fd = fd, .events = POLLOUT},
					      {.fd = sv->dev->wake_fd, .events = POLLIN}};

			if (sv->dev->removing &&
			    (!sv->req_deadline_ms || now_ms() >= sv->req_deadline_ms))
				return -ECONNABORTED;
			(void)poll(p, 2, 100);
			continue;
		}
		if (r < 0)
			return -errno;
		nr_fds = 0; /* attached once */
		while (iovcnt > 0 && (size_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt > 0) {
			iov->iov_base = (char *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return 0;
}

/* Send a reply: success (flags 0x1) or error (0x21, header only) (§6.1). */
static int send_reply(struct server *sv, int fd, const uint8_t *req_hdr, int err,
		      struct umdev__vfio_reply *reply)
{
	uint8_t hdr[VFIO_USER_HDR_SIZE] = {0};
	struct iovec iov[2];
	size_t len = err ? 0 : reply->len;
	uint32_t size = (uint32_t)(VFIO_USER_HDR_SIZE + len);
	uint32_t flags = VFIO_USER_F_TYPE_REPLY | (err ? VFIO_USER_F_ERROR : 0);

	memcpy(hdr, req_hdr, 4); /* msg_id and command, echoed */
	for (int i = 0; i < 4; i++) {
		hdr[4 + i] = (uint8_t)(size >> (8 * i));
		hdr[8 + i] = (uint8_t)(flags >> (8 * i));
		hdr[12 + i] = (uint8_t)((uint32_t)err >> (8 * i));
	}
	iov[0] = (struct iovec){hdr, sizeof(hdr)};
	iov[1] = (struct iovec){err ? NULL : reply->payload, len};
	return send_all(sv, fd, iov, len ? 2 : 1, err ? NULL : reply->fds, err ? 0 : reply->nr_fds);
}

static void session_end(struct server *sv)
{
	if (!sv->s)
		return;
	rx_clear(&sv->rx);
	shutdown(sv->s_fd, SHUT_RDWR);
	umdev__vfio_session_free(sv->s); /* teardown (§4.4), closes the socket */
	sv->s = NULL;
	sv->s_fd = -1;
}

/* Execute the complete message in sv->rx. Return: false when the connection must close. */
static bool session_message(struct server *sv)
{
	struct umdev__vfio_msg msg = {0};
	struct umdev__vfio_reply reply = {0};
	struct rx *rx = &sv->rx;
	bool fatal = false, no_reply;
	uint8_t hdr[VFIO_USER_HDR_SIZE];
	int ret;

	memcpy(hdr, rx->hdr, sizeof(hdr));
	msg.msg_id = (uint16_t)(hdr[0] | hdr[1] << 8);
	msg.command = (uint16_t)(hdr[2] | hdr[3] << 8);
	msg.msg_size = rx->msg_size;
	msg.flags = le32(hdr + 8);
	msg.error = le32(hdr + 12);
	msg.payload = rx->payload;
	msg.len = rx->msg_size - VFIO_USER_HDR_SIZE;
	memcpy(msg.fds, rx->fds, sizeof(msg.fds));
	msg.nr_fds = rx->nr_fds;
	msg.nr_fds_total = rx->nr_fds_total;
	rx->nr_fds = 0;
	no_reply = msg.flags & VFIO_USER_F_NO_REPLY;

	if ((msg.flags & VFIO_USER_F_TYPE_MASK) == VFIO_USER_F_TYPE_REPLY) {
		umdev__vfio_msg_close_fds(&msg); /* no outstanding request: discarded (§6.2) */
		rx_clear(rx);
		return true;
	}
	if (rx->ctrunc) {
		umdev__vfio_msg_close_fds(&msg);
		ret = -EINVAL;
	} else {
		ret = umdev__vfio_handle(sv->s, &msg, &reply, &fatal);
	}
	rx_clear(rx);
	if (!no_reply && send_reply(sv, sv->s_fd, hdr, ret < 0 ? -ret : 0, &reply) < 0)
		fatal = true;
	umdev__vfio_reply_free(&reply);
	return !fatal;
}

static void session_readable(struct server *sv)
{
	for (int i = 0; i < BURST && sv->s; i++) {
		enum rx_result r = rx_step(sv->s_fd, &sv->rx);

		if (r == RX_MORE)
			return;
		if (r == RX_SMALL || r == RX_BIG) {
			struct umdev__vfio_reply none = {0};

			if (!(le32(sv->rx.hdr + 8) & VFIO_USER_F_NO_REPLY))
				(void)send_reply(sv, sv->s_fd, sv->rx.hdr,
						 r == RX_SMALL ? EINVAL : E2BIG, &none);
			session_end(sv);
			return;
		}
		if (r == RX_EOF || !session_message(sv)) {
			session_end(sv);
			return;
		}
		if (sv->s->state == VFIO_SESSION_ACTIVE)
			sv->handshake_deadline_ms = 0;
	}
}

/* §3.4: uid 0, the socket owner, or the access group. */
static bool peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	if (cred.uid == 0 || cred.uid == geteuid() ||
	    (umdev__vfio_config.has_group && cred.gid == umdev__vfio_config.group))
		return true;
	umdev_log(UMDEV_LOG_DEBUG, "vfio socket: peer pid %d uid %u refused", (int)cred.pid,
		  (unsigned int)cred.uid);
	return false;
}

static void accept_all(struct server *sv)
{
	for (;;) {
		int fd = accept4(sv->dev->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return; /* EAGAIN, or out of fds: retried at the next wake-up */
		}
		if (!peer_allowed(fd)) {
			close(fd); /* without reading or writing a byte */
			continue;
		}
		if (!sv->s) {
			sv->s = umdev__vfio_session_new(sv->dev, fd);
			if (!sv->s) {
				close(fd);
				continue;
			}
			sv->s_fd = fd;
			rx_init(&sv->rx, false);
			sv->handshake_deadline_ms =
			    now_ms() + umdev__vfio_config.handshake_timeout_ms;
		} else if (sv->nr_busy < MAX_BUSY) {
			struct busy *b = &sv->busy[sv->nr_busy++];

			b->fd = fd;
			b->deadline_ms = now_ms() + umdev__vfio_config.handshake_timeout_ms;
			rx_init(&b->rx, true);
		} else {
			close(fd);
		}
	}
}

static void busy_drop(struct server *sv, unsigned int i)
{
	rx_clear(&sv->busy[i].rx);
	close(sv->busy[i].fd);
	sv->busy[i] = sv->busy[--sv->nr_busy];
}

/* §4.2: an extra connection gets EBUSY for its first complete message, then close. */
static void busy_readable(struct server *sv, unsigned int i)
{
	struct busy *b = &sv->busy[i];
	enum rx_result r = rx_step(b->fd, &b->rx);
	struct umdev__vfio_reply none = {0};

	if (r == RX_MORE)
		return;
	if (r != RX_EOF && !(le32(b->rx.hdr + 8) & VFIO_USER_F_NO_REPLY)) {
		/* never blocks the session: a full socket buffer just loses the reply */
		uint8_t hdr[VFIO_USER_HDR_SIZE] = {0};

		memcpy(hdr, b->rx.hdr, 4);
		hdr[4] = VFIO_USER_HDR_SIZE;
		hdr[8] = VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_ERROR;
		hdr[12] = EBUSY;
		(void)send(b->fd, hdr, sizeof(hdr), MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	(void)none;
	busy_drop(sv, i);
}

static void drain_wake(int fd)
{
	uint64_t v;

	(void)!read(fd, &v, sizeof(v));
}

void *umdev__vfio_server_thread(void *arg)
{
	struct server sv = {.dev = arg, .s_fd = -1};
	struct umdev__vfio_device *dev = sv.dev;
	bool closing = false;

	for (;;) {
		struct pollfd p[4 + MAX_BUSY];
		unsigned int n = 0, i_listen = ~0u, i_sess = ~0u, i_unmask = ~0u, i_busy = 0;
		uint64_t now = now_ms(), deadline = 0;
		int timeout = -1, unmask_fd = -1;

		if (dev->removing && !closing) { /* R4 (§3.3) */
			closing = true;
			close(dev->listen_fd); /* step 1: backlog connections closed unanswered */
			dev->listen_fd = -1;
			while (sv.nr_busy)
				busy_drop(&sv, 0);
			pthread_mutex_lock(&dev->lock);
			if (sv.s && dev->irq.req_trigger >= 0 && umdev__vfio_config.req_timeout_ms)
				sv.req_deadline_ms = now + umdev__vfio_config.req_timeout_ms;
			pthread_mutex_unlock(&dev->lock);
		}
		if (closing && (!sv.req_deadline_ms || now >= sv.req_deadline_ms || !sv.s)) {
			session_end(&sv); /* step 4: no command is executing here; 5: teardown */
			break;
		}

		p[n++] = (struct pollfd){.fd = dev->wake_fd, .events = POLLIN};
		if (dev->listen_fd >= 0) {
			i_listen = n;
			p[n++] = (struct pollfd){.fd = dev->listen_fd, .events = POLLIN};
		}
		if (sv.s) {
			i_sess = n;
			p[n++] = (struct pollfd){.fd = sv.s_fd, .events = POLLIN};
			if (sv.s->state == VFIO_SESSION_HANDSHAKE)
				deadline = sv.handshake_deadline_ms;
			pthread_mutex_lock(&dev->lock);
			unmask_fd = dev->irq.intx_unmask; /* changed only on this thread */
			pthread_mutex_unlock(&dev->lock);
			if (unmask_fd >= 0) {
				i_unmask = n;
				p[n++] = (struct pollfd){.fd = unmask_fd, .events = POLLIN};
			}
		}
		i_busy = n;
		for (unsigned int i = 0; i < sv.nr_busy; i++) {
			p[n++] = (struct pollfd){.fd = sv.busy[i].fd, .events = POLLIN};
			if (!deadline || sv.busy[i].deadline_ms < deadline)
				deadline = sv.busy[i].deadline_ms;
		}
		if (sv.req_deadline_ms && (!deadline || sv.req_deadline_ms < deadline))
			deadline = sv.req_deadline_ms;
		if (deadline)
			timeout = deadline > now ? (int)(deadline - now) : 0;

		if (poll(p, n, timeout) < 0 && errno != EINTR)
			break;
		now = now_ms();
		if (p[0].revents)
			drain_wake(dev->wake_fd);
		if (i_sess != ~0u && p[i_sess].revents)
			session_readable(&sv);
		if (i_unmask != ~0u && p[i_unmask].revents && sv.s)
			umdev__irq_unmask_event(dev);
		if (sv.s && sv.s->state == VFIO_SESSION_HANDSHAKE && sv.handshake_deadline_ms &&
		    now >= sv.handshake_deadline_ms)
			session_end(&sv); /* §4.3: closed without a reply */
		/* extra connections, from the last so busy_drop() keeps the indexes valid */
		for (unsigned int i = sv.nr_busy; i-- > 0;) {
			if (i_busy + i < n && p[i_busy + i].revents)
				busy_readable(&sv, i);
			else if (now >= sv.busy[i].deadline_ms)
				busy_drop(&sv, i);
		}
		if (i_listen != ~0u && p[i_listen].revents && dev->listen_fd >= 0)
			accept_all(&sv);
	}
	if (dev->listen_fd >= 0) {
		close(dev->listen_fd);
		dev->listen_fd = -1;
	}
	while (sv.nr_busy)
		busy_drop(&sv, 0);
	session_end(&sv);
	return NULL;
}
