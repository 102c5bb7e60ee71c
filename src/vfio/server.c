// SPDX-License-Identifier: MIT
/*
 * The server thread of one vfio device (vfio-user.md §3.3, §4, §5, §6): accept, credentials,
 * framing, one session at a time, EBUSY for extra connections, the handshake deadline, R4's
 * termination, and the server's side of message-based DMA (§8.12). One thread per device with
 * a connection, so clients of different devices never wait on each other (C1). The listeners'
 * thread (vfio.c) starts it when a connection arrives on an idle device; once it has no
 * session, no extra connection and nothing pending, it hands the socket back and ends.
 *
 * The thread never blocks on a client. Replies and DMA requests go to a bounded output queue
 * per socket (C2, 4 MiB) that is written without blocking when the socket can take whole
 * messages; while the queue is full the connection is not read (back-pressure: the messages
 * a read already took, at most RX_AHEAD bytes, still run), and a connection that stalls
 * mid-message stalls only its own receive state (C3). A message already in the socket takes
 * one recvmsg() and its reply one sendmsg(); SIOCOUTQ is asked only when a bound of the send
 * buffer's use leaves no room for the next message (outq_flush()). So a client that
 * stops reading delays neither removal nor its device's interrupts (C6). Nor do its fds: they
 * are signalled, drained and closed without waiting (clientfd.c); when its closes pile up on
 * closer threads, this device reads nothing more until they complete (closes_stalled()),
 * and when accept4() runs out of fds the listener rests instead of spinning (accept_all()).
 *
 * No partial message (§3.3 step 4): a message is handed to the kernel only when the socket has
 * room for all of it, so closing the connection at any point leaves only whole messages in the
 * client's receive queue. The socket's send buffer is raised to hold the largest message when
 * the daemon may (SO_SNDBUFFORCE); where it may not and the buffer is smaller than a message,
 * that message is written in parts once the buffer has drained (split_end below), and only a
 * removal or a write error in the middle of such a message can cut it.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/sockios.h>

#include "umdev/log.h"
#include "private.h"

#define MAX_BUSY 8 /* extra connections waiting for their EBUSY reply */
#define BURST 64 /* messages per poll() round of one session */
#define CMSG_FDS_MAX 253 /* SCM_MAX_FD */
#define OUTQ_MAX (4u << 20) /* C2: output queue bound per connection, bytes */
#define OUTQ_KEEP (256u << 10) /* an empty queue keeps at most this much memory */
#define OUTQ_FDS 4 /* messages with fds in one queue (VERSION's twin socket) */
#define SNDBUF_WANT (1 << 20) /* asked for; Linux doubles it: 2 MiB holds any message */
#define ACCEPT_BACKOFF_MS 100 /* accept4() out of fds: the listener rests this long (C1) */
#define STALL_POLL_MS 50 /* closes_stalled(): how often the budget is looked at again */
/*
 * Bytes one read may take past the end of the message being read (rx_step): a request of up
 * to 64 bytes, its header included, arrives in one recvmsg(); a read can complete at most 3
 * messages besides the current one, none of which carries fds (they come with a read's first
 * byte), and those are executed before the reader stops (rx_buffered()).
 */
#define RX_AHEAD 48

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
	bool drop_fds; /* fds are closed as they arrive: extra connections, the twin socket */
	bool ctrunc;
	int fds[VFIO_USER_RX_FDS_MAX];
	unsigned int nr_fds, nr_fds_total;
	/* the connection's, kept across messages (rx_next()) */
	uint8_t ahead[RX_AHEAD]; /* read past the current message, not yet taken */
	size_t ahead_off, ahead_len;
	bool drained; /* the last read was short: the socket held no more */
	/* fds and MSG_CTRUNC of a read that went past the current message: the message that
	 * takes the read's last byte gets them (rx_step()) */
	int pend_fds[VFIO_USER_RX_FDS_MAX];
	unsigned int nr_pend, nr_pend_total;
	bool pend_ctrunc;
};

struct busy {
	int fd;
	uint64_t deadline_ms;
	struct rx rx;
};

/*
 * Output queue of one socket: whole messages back to back in buf[head, tail), each starting
 * with its 16-byte header, so message boundaries are found from msg_size (offset 4).
 */
struct outq {
	uint8_t *buf;
	size_t head, tail, cap;
	size_t split_end; /* non-zero: the message ending here was handed over in part */
	int sndbuf; /* the socket's send buffer (SO_SNDBUF), bytes */
	/* at least the send buffer's use (SIOCOUTQ, which only falls as the client reads): the
	 * last value asked for, plus sndbuf_need() of every write since */
	size_t queued_max;
	struct {
		size_t off; /* the message starting at buf[off] carries fd */
		int fd;
	} fds[OUTQ_FDS];
	unsigned int nr_fds;
};

struct server {
	struct umdev__vfio_device *dev;
	struct umdev__vfio_session *s;
	int s_fd;
	uint64_t handshake_deadline_ms;
	struct rx rx;
	struct outq out;
	/* the twin socket (§7.4): DMA requests out, their replies in */
	int twin_fd; /* the session's s->twin_fd once negotiated; -1: DMA uses the main socket */
	struct rx twin_rx;
	struct outq twin_out;
	uint16_t dma_msg_id; /* §8.12: per-session 16-bit counter */
	struct busy busy[MAX_BUSY];
	unsigned int nr_busy;
	uint64_t req_deadline_ms; /* R4 with T_req: terminate at this time; 0: not removing */
	uint64_t accept_retry_ms; /* accept4() ran out of fds: listener not polled until then */
	bool serve_on; /* the socket could not be handed back: this thread keeps it */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void rx_init(struct rx *rx, bool discard, bool drop_fds)
{
	memset(rx, 0, sizeof(*rx));
	rx->discard = discard;
	rx->drop_fds = drop_fds;
}

/* Forget the current message; bytes (and their fds) read past it stay for the next. */
static void rx_next(struct rx *rx)
{
	for (unsigned int i = 0; i < rx->nr_fds; i++)
		umdev__clientfd_close(rx->fds[i]);
	free(rx->payload);
	rx->payload = NULL;
	rx->have = 0;
	rx->msg_size = 0;
	rx->ctrunc = false;
	rx->nr_fds = rx->nr_fds_total = 0;
}

/* Forget everything read: the connection ends. */
static void rx_clear(struct rx *rx)
{
	rx_next(rx);
	for (unsigned int i = 0; i < rx->nr_pend; i++)
		umdev__clientfd_close(rx->pend_fds[i]);
	rx_init(rx, rx->discard, rx->drop_fds);
}

/* A received fd: kept for its message (the current one or, @pend, a later one) or closed. */
static void rx_fd(struct rx *rx, int f, bool pend)
{
	int *fds = pend ? rx->pend_fds : rx->fds;
	unsigned int *nr = pend ? &rx->nr_pend : &rx->nr_fds;

	if (pend)
		rx->nr_pend_total++;
	else
		rx->nr_fds_total++;
	if (*nr < VFIO_USER_RX_FDS_MAX && !rx->drop_fds)
		fds[(*nr)++] = f;
	else
		umdev__clientfd_close(f); /* counted: EINVAL */
}

/*
 * Move bytes read ahead into the current message, and check its header once it is whole.
 * Return: RX_DONE, RX_MORE (all taken, the message is not complete), or a header's error.
 */
static enum rx_result rx_take(struct rx *rx)
{
	for (;;) {
		size_t n;

		if (rx->have == VFIO_USER_HDR_SIZE && !rx->msg_size) {
			uint32_t size = umdev__wire_hdr_size(rx->hdr);
			int ret = umdev__wire_check_size(size);

			if (ret == -EINVAL)
				return RX_SMALL;
			if (ret == -E2BIG)
				return RX_BIG; /* the body is not read */
			if (!rx->discard) {
				rx->payload = malloc(size - VFIO_USER_HDR_SIZE + 1);
				if (!rx->payload)
					return RX_EOF;
			}
			rx->msg_size = size;
		}
		if (rx->msg_size && rx->have == rx->msg_size)
			return RX_DONE;
		if (!rx->ahead_len)
			return RX_MORE;
		if (rx->have < VFIO_USER_HDR_SIZE) {
			n = VFIO_USER_HDR_SIZE - rx->have;
			n = n < rx->ahead_len ? n : rx->ahead_len;
			memcpy(rx->hdr + rx->have, rx->ahead + rx->ahead_off, n);
		} else {
			n = rx->msg_size - rx->have;
			n = n < rx->ahead_len ? n : rx->ahead_len;
			if (!rx->discard)
				memcpy(rx->payload + (rx->have - VFIO_USER_HDR_SIZE),
				       rx->ahead + rx->ahead_off, n);
		}
		rx->have += n;
		rx->ahead_off += n;
		rx->ahead_len -= n;
		if (rx->ahead_len)
			continue;
		rx->ahead_off = 0; /* this message took the read's last byte: its fds */
		for (unsigned int i = 0; i < rx->nr_pend; i++)
			rx_fd(rx, rx->pend_fds[i], false);
		rx->nr_fds_total += rx->nr_pend_total - rx->nr_pend;
		rx->ctrunc |= rx->pend_ctrunc;
		rx->nr_pend = rx->nr_pend_total = 0;
		rx->pend_ctrunc = false;
	}
}

/* Whether the bytes already read complete a message (or a bad header): rx_step() returns it
 * without reading, so a reader that stops at a limit runs these first, or none would wake
 * it for them (poll() sees only the socket). */
static bool rx_buffered(const struct rx *rx)
{
	size_t avail = rx->have + rx->ahead_len;
	uint8_t hdr[VFIO_USER_HDR_SIZE];
	uint32_t size;

	if (rx->msg_size)
		return avail >= rx->msg_size;
	if (avail < VFIO_USER_HDR_SIZE)
		return false;
	memcpy(hdr, rx->hdr, rx->have);
	memcpy(hdr + rx->have, rx->ahead + rx->ahead_off, VFIO_USER_HDR_SIZE - rx->have);
	size = umdev__wire_hdr_size(hdr);
	return umdev__wire_check_size(size) < 0 || avail >= size;
}

/*
 * One non-blocking step of reading a message (§6.2). A recvmsg() fills the rest of the current
 * message and up to RX_AHEAD bytes after it, so a message already in the socket costs one
 * call; it reads only when the bytes in hand do not complete the message. A short read means
 * the socket held no more: the next step returns RX_MORE without the recvmsg() that would
 * only say EAGAIN, and the one after reads again.
 *
 * Which message the fds of a read belong to: on a UNIX stream socket the fds of a sendmsg()
 * come with the read that first takes a byte of it, and that read ends with the sendmsg's
 * bytes (unix_stream_read_generic() stops after an skb with fds), though it may begin with
 * earlier bytes. A read within the current message gives them to it, as reading exactly one
 * message at a time did. A read past its end (QEMU's GET_INFO, then its DMA_MAP with the
 * memfd) gives them to the message that holds the read's last byte, the one their sendmsg()
 * carried (or ended in); the messages before it get none.
 */
static enum rx_result rx_step(int fd, struct rx *rx)
{
	static _Thread_local uint8_t scratch[4096];
	union {
		char buf[CMSG_SPACE(sizeof(int) * CMSG_FDS_MAX)];
		struct cmsghdr align;
	} control;

	for (;;) {
		struct iovec iov[2];
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
		enum rx_result res = rx_take(rx);
		struct cmsghdr *c;
		bool pend;
		ssize_t r;

		if (res != RX_MORE)
			return res;
		if (rx->drained) {
			rx->drained = false; /* the next step, after poll(), reads */
			return RX_MORE;
		}
		if (rx->have < VFIO_USER_HDR_SIZE) {
			iov[0].iov_base = rx->hdr + rx->have;
			iov[0].iov_len = VFIO_USER_HDR_SIZE - rx->have;
		} else if (rx->discard) {
			iov[0].iov_base = scratch;
			iov[0].iov_len = rx->msg_size - rx->have;
			if (iov[0].iov_len > sizeof(scratch))
				iov[0].iov_len = sizeof(scratch);
		} else {
			iov[0].iov_base = rx->payload + (rx->have - VFIO_USER_HDR_SIZE);
			iov[0].iov_len = rx->msg_size - rx->have;
		}
		iov[1].iov_base = rx->ahead; /* empty: rx_take() took it all */
		iov[1].iov_len = sizeof(rx->ahead);
		mh.msg_control = control.buf;
		mh.msg_controllen = sizeof(control.buf);
		r = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return RX_MORE;
		pend =
		    r > 0 && (size_t)r > iov[0].iov_len; /* past the current message's known end */
		if (mh.msg_flags & MSG_CTRUNC)
			*(pend ? &rx->pend_ctrunc : &rx->ctrunc) = true;
		for (c = r >= 0 ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c)) {
			size_t n;

			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < n; i++) {
				int f;

				memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				rx_fd(rx, f, pend);
			}
		}
		if (r <= 0)
			return RX_EOF; /* EOF or ECONNRESET, mid-message included (§6.3) */
		rx->drained = (size_t)r < iov[0].iov_len + iov[1].iov_len;
		if ((size_t)r <= iov[0].iov_len) {
			rx->have += (size_t)r;
		} else {
			rx->have += iov[0].iov_len;
			rx->ahead_len = (size_t)r - iov[0].iov_len;
		}
	}
}

/* ---- output queues (C2) ---- */

static void outq_init(struct outq *q, int fd)
{
	int want = SNDBUF_WANT;
	socklen_t len = sizeof(q->sndbuf);

	memset(q, 0, sizeof(*q));
	/* room for the largest message at once; without CAP_NET_ADMIN capped by wmem_max */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof(want)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want));
	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &q->sndbuf, &len) < 0 || q->sndbuf <= 0)
		q->sndbuf = 4096;
}

static void outq_clear(struct outq *q)
{
	for (unsigned int i = 0; i < q->nr_fds; i++)
		close(q->fds[i].fd);
	free(q->buf);
	memset(q, 0, sizeof(*q));
}

static size_t outq_bytes(const struct outq *q)
{
	return q->tail - q->head;
}

/*
 * Append one message: header @hdr, then @len bytes of @payload, with @nr_fds (0 or 1) fds,
 * which the queue takes over (closed if this fails). Return: 0 or -ENOMEM.
 */
static int outq_push(struct outq *q, const uint8_t *hdr, const void *payload, size_t len,
		     const int *fds, unsigned int nr_fds)
{
	size_t n = VFIO_USER_HDR_SIZE + len;

	if (nr_fds > 1 || (nr_fds && q->nr_fds == OUTQ_FDS))
		goto err_close;
	if (q->tail + n > q->cap && q->head) { /* compact */
		memmove(q->buf, q->buf + q->head, q->tail - q->head);
		for (unsigned int i = 0; i < q->nr_fds; i++)
			q->fds[i].off -= q->head;
		if (q->split_end)
			q->split_end -= q->head;
		q->tail -= q->head;
		q->head = 0;
	}
	if (q->tail + n > q->cap) {
		size_t cap = q->cap ? q->cap : 4096;
		uint8_t *buf;

		while (cap < q->tail + n)
			cap *= 2;
		buf = realloc(q->buf, cap);
		if (!buf)
			goto err_close;
		q->buf = buf;
		q->cap = cap;
	}
	memcpy(q->buf + q->tail, hdr, VFIO_USER_HDR_SIZE);
	if (len)
		memcpy(q->buf + q->tail + VFIO_USER_HDR_SIZE, payload, len);
	if (nr_fds) {
		q->fds[q->nr_fds].off = q->tail;
		q->fds[q->nr_fds++].fd = fds[0];
	}
	q->tail += n;
	return 0;

err_close:
	for (unsigned int i = 0; i < nr_fds; i++)
		close(fds[i]);
	return -ENOMEM;
}

static size_t msg_len_at(const struct outq *q, size_t off)
{
	return umdev__wire_hdr_size(q->buf + off);
}

/* Index in q->fds of the fd carried by the message at @off, or -1. */
static int fd_at(const struct outq *q, size_t off)
{
	for (unsigned int i = 0; i < q->nr_fds; i++)
		if (q->fds[i].off == off)
			return (int)i;
	return -1;
}

/*
 * Send-buffer bytes that sending @len bytes may take, with a generous allowance for the
 * kernel's per-buffer overhead (truesize; measured below 1 KiB per 32 KiB on Linux 6).
 */
static size_t sndbuf_need(size_t len)
{
	return len + (len / 16384 + 1) * 8192;
}

/*
 * Write what the socket can take without blocking, whole messages only (see the top of this
 * file). Return: 0 (done, or waiting for POLLOUT); a negative errno: the connection is dead.
 */
static int outq_flush(struct outq *q, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;

	while (q->head < q->tail) {
		size_t start = q->head, end = start;
		struct iovec iov;
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
		int fdi = fd_at(q, start);
		ssize_t r;

		if (q->split_end) {
			end = q->split_end; /* the rest of a message handed over in part */
			fdi = -1;
		} else {
			size_t room, fit, queued;

			/* ask the kernel only when the bound leaves no room for the first message
			 */
			if (sndbuf_need(msg_len_at(q, start)) + q->queued_max > (size_t)q->sndbuf) {
				int v = 0;

				if (ioctl(fd, SIOCOUTQ, &v) < 0 || v < 0)
					v = 0;
				q->queued_max = (size_t)v;
			}
			queued = q->queued_max;
			room = (size_t)q->sndbuf > queued ? (size_t)q->sndbuf - queued : 0;
			while (end < q->tail) {
				size_t m = msg_len_at(q, end);

				if (end > start && fd_at(q, end) >= 0)
					break; /* fds go with the first byte of a sendmsg() */
				if (sndbuf_need(end + m - start) > room)
					break;
				end += m;
			}
			if (end == start) {
				/* POLLOUT comes at 3/4 room: wait for it unless the message could
				 * never fit, in which case it goes now, in parts */
				fit = (size_t)q->sndbuf - (size_t)q->sndbuf / 4;
				if (sndbuf_need(msg_len_at(q, start)) <= fit ||
				    queued > (size_t)q->sndbuf / 4)
					return 0;
				end = start + msg_len_at(q, start);
			}
		}
		iov.iov_base = q->buf + start;
		iov.iov_len = end - start;
		if (fdi >= 0) {
			struct cmsghdr *c;

			memset(&control, 0, sizeof(control));
			mh.msg_control = control.buf;
			mh.msg_controllen = sizeof(control.buf);
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &q->fds[fdi].fd, sizeof(int));
		}
		r = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (r <= 0)
			return r < 0 ? -errno : -EPIPE;
		q->queued_max += sndbuf_need((size_t)r);
		if (fdi >= 0) { /* the fd went with the first byte; ours is closed */
			close(q->fds[fdi].fd);
			q->fds[fdi] = q->fds[--q->nr_fds];
		}
		q->head += (size_t)r;
		if (q->head < end) { /* in part: find the message it stopped in */
			size_t m = start;

			while (m + msg_len_at(q, m) <= q->head)
				m += msg_len_at(q, m);
			q->split_end = m == q->head ? 0 : m + msg_len_at(q, m);
		} else if (q->head == q->split_end) {
			q->split_end = 0;
		}
	}
	q->head = q->tail = 0;
	if (q->cap > OUTQ_KEEP) { /* a burst is over: give its memory back */
		free(q->buf);
		q->buf = NULL;
		q->cap = 0;
	}
	return 0;
}

/* Queue a reply: success (flags 0x1) or error (0x21, header only) (§6.1). */
static int queue_reply(struct outq *q, const uint8_t *req_hdr, int err,
		       struct umdev__vfio_reply *reply)
{
	uint8_t hdr[VFIO_USER_HDR_SIZE];
	size_t len = err ? 0 : reply->len;
	unsigned int nr_fds = 0;
	int ret;

	umdev__wire_reply_hdr(hdr, req_hdr, len, (uint32_t)err);
	if (!err && reply->nr_fds)
		nr_fds = reply->nr_fds; /* 1: the queue takes it over */
	ret = outq_push(q, hdr, err ? NULL : reply->payload, len, reply->fds, nr_fds);
	if (nr_fds)
		reply->nr_fds = 0;
	return ret;
}

/* ---- message-based DMA, the server's side (§8.12) ---- */

/* Queue every request not yet sent, on the twin socket if there is one. */
static int dma_send(struct server *sv)
{
	struct umdev__vfio_device *dev = sv->dev;
	struct outq *q = sv->twin_fd >= 0 ? &sv->twin_out : &sv->out;
	struct umdev_list *pos;
	int ret = 0;

	umdev__mutex_lock(&dev->lock);
	umdev_list_for_each(pos, &dev->dma_reqs) {
		struct umdev__dma_req *req = umdev_list_entry(pos, struct umdev__dma_req, node);
		struct vfio_user_dma_rw rw = {
		    .addr = req->iova, .count = req->len, .data = req->buf};
		size_t len = umdev__wire_dma_rw_req_size(req->write, req->len);
		struct vfio_user_header h = {.flags = VFIO_USER_F_TYPE_COMMAND};
		uint8_t hdr[VFIO_USER_HDR_SIZE], *p;

		if (req->sent)
			continue;
		p = malloc(len);
		if (!p) {
			ret = -ENOMEM;
			break;
		}
		req->msg_id = sv->dma_msg_id++;
		/* DMA_WRITE's data copied now: the waiter's buffer is valid under dev->lock */
		umdev__wire_dma_rw_req_encode(p, req->write, &rw);
		h.msg_id = req->msg_id;
		h.command = req->write ? VFIO_USER_DMA_WRITE : VFIO_USER_DMA_READ;
		h.msg_size = (uint32_t)(VFIO_USER_HDR_SIZE + len);
		umdev__wire_hdr_encode(hdr, &h); /* flags 0: a command */
		ret = outq_push(q, hdr, p, len, NULL, 0);
		free(p);
		if (ret < 0)
			break;
		req->sent = true;
	}
	umdev__mutex_unlock(&dev->lock);
	return ret;
}

/* ---- sessions ---- */

static void session_end(struct server *sv)
{
	if (!sv->s)
		return;
	/* §3.3 step 4: what the socket takes now, whole messages only; never wait for it */
	(void)outq_flush(&sv->out, sv->s_fd);
	rx_clear(&sv->rx);
	rx_clear(&sv->twin_rx);
	outq_clear(&sv->out);
	outq_clear(&sv->twin_out);
	sv->twin_fd = -1;
	shutdown(sv->s_fd, SHUT_RDWR);
	umdev__vfio_session_free(sv->s); /* teardown (§4.4), closes both sockets */
	sv->dev->session = NULL;
	sv->s = NULL;
	sv->s_fd = -1;
}

/* A reply (type 1) from the client: the answer to a DMA request, or discarded (§6.2). */
static void route_reply(struct server *sv, struct rx *rx)
{
	struct vfio_user_header h;
	uint32_t err = 0;

	umdev__wire_hdr_decode(rx->hdr, &h);
	if (h.flags & VFIO_USER_F_ERROR)
		err = h.error ? h.error : EIO; /* an error reply without an errno: EIO */
	(void)umdev__dma_reply(sv->dev, h.msg_id, err, rx->payload,
			       rx->msg_size - VFIO_USER_HDR_SIZE);
}

/* Execute the complete message in sv->rx. Return: false when the connection must close. */
static bool session_message(struct server *sv)
{
	struct umdev__vfio_msg msg = {0};
	struct umdev__vfio_reply reply = {0};
	struct rx *rx = &sv->rx;
	bool fatal = false, no_reply;
	uint8_t hdr[VFIO_USER_HDR_SIZE];
	struct vfio_user_header h;
	int ret;

	memcpy(hdr, rx->hdr, sizeof(hdr));
	umdev__wire_hdr_decode(hdr, &h);
	msg.msg_id = h.msg_id;
	msg.command = h.command;
	msg.msg_size = h.msg_size;
	msg.flags = h.flags;
	msg.error = h.error;
	msg.payload = rx->payload;
	msg.len = rx->msg_size - VFIO_USER_HDR_SIZE;
	memcpy(msg.fds, rx->fds, sizeof(msg.fds));
	msg.nr_fds = rx->nr_fds;
	msg.nr_fds_total = rx->nr_fds_total;
	rx->nr_fds = 0;
	no_reply = msg.flags & VFIO_USER_F_NO_REPLY;

	if ((msg.flags & VFIO_USER_F_TYPE_MASK) == VFIO_USER_F_TYPE_REPLY) {
		umdev__vfio_msg_close_fds(&msg); /* replies carry no fds */
		if (sv->s->state == VFIO_SESSION_ACTIVE && sv->twin_fd < 0)
			route_reply(sv, rx); /* DMA on the main socket (§8.12) */
		rx_next(rx);
		return true;
	}
	if (rx->ctrunc) {
		umdev__vfio_msg_close_fds(&msg);
		ret = -EINVAL;
	} else {
		ret = umdev__vfio_handle(sv->s, &msg, &reply, &fatal);
	}
	rx_next(rx);
	if (!no_reply && queue_reply(&sv->out, hdr, ret < 0 ? -ret : 0, &reply) < 0)
		fatal = true;
	umdev__vfio_reply_free(&reply);
	if (sv->s->state == VFIO_SESSION_ACTIVE && sv->s->twin_fd >= 0 && sv->twin_fd < 0) {
		sv->twin_fd = sv->s->twin_fd; /* negotiated by this VERSION (§7.4) */
		rx_init(&sv->twin_rx, false, true); /* replies to DMA requests carry no fds */
		outq_init(&sv->twin_out, sv->twin_fd);
	}
	return !fatal;
}

/*
 * Whether this device has VFIO_CLOSE_PENDING_MAX closes outstanding on closer threads
 * (clientfd.c): then nothing more is read from its clients, so a client whose fds cannot be
 * closed promptly stalls only its own device and pins a bounded number of fds.
 */
static bool closes_stalled(void)
{
	struct umdev__close_budget *b = umdev__close_budget_cur;

	return b && atomic_load(&b->pending) >= VFIO_CLOSE_PENDING_MAX;
}

/*
 * Read and execute while the output queue has room (C2) and closes keep up; messages already
 * read (at most RX_AHEAD bytes past the last limit check) are executed whatever the limits.
 */
static void session_readable(struct server *sv)
{
	for (int i = 0;
	     sv->s && ((i < BURST && outq_bytes(&sv->out) < OUTQ_MAX && !closes_stalled()) ||
		       rx_buffered(&sv->rx));
	     i++) {
		enum rx_result r = rx_step(sv->s_fd, &sv->rx);

		if (r == RX_MORE)
			return;
		if (r == RX_SMALL || r == RX_BIG) {
			struct umdev__vfio_reply none = {0};

			if (!(umdev__wire_hdr_flags(sv->rx.hdr) & VFIO_USER_F_NO_REPLY))
				(void)queue_reply(&sv->out, sv->rx.hdr,
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

/* The twin socket carries only replies to DMA requests; anything else there is discarded. */
static void twin_readable(struct server *sv)
{
	for (int i = 0; sv->s && (i < BURST || rx_buffered(&sv->twin_rx)); i++) {
		enum rx_result r = rx_step(sv->twin_fd, &sv->twin_rx);

		if (r == RX_MORE)
			return;
		if (r != RX_DONE) { /* EOF or a bad header: protocol-fatal like the main socket */
			session_end(sv);
			return;
		}
		if ((umdev__wire_hdr_flags(sv->twin_rx.hdr) & VFIO_USER_F_TYPE_MASK) ==
			VFIO_USER_F_TYPE_REPLY &&
		    !sv->twin_rx.ctrunc)
			route_reply(sv, &sv->twin_rx);
		rx_next(&sv->twin_rx);
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

/*
 * Accept every pending connection. Out of fds (EMFILE, ENFILE, or the kernel's ENOBUFS/ENOMEM),
 * the listener would stay readable and poll() would spin: it rests for ACCEPT_BACKOFF_MS
 * instead, and the pending connection is accepted at the first retry after an fd is free.
 */
static void accept_all(struct server *sv)
{
	sv->accept_retry_ms = 0;
	for (;;) {
		int fd = accept4(sv->dev->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				sv->accept_retry_ms = now_ms() + ACCEPT_BACKOFF_MS;
			return; /* EAGAIN: nothing more pending */
		}
		if (!peer_allowed(fd)) {
			close(fd); /* without reading or writing a byte */
			continue;
		}
		if (!sv->s) {
			sv->s = umdev__vfio_session_new(sv->dev, fd);
			sv->dev->session = sv->s;
			if (!sv->s) {
				close(fd);
				continue;
			}
			sv->s_fd = fd;
			rx_init(&sv->rx, false, false);
			outq_init(&sv->out, fd);
			sv->dma_msg_id = 0;
			sv->handshake_deadline_ms =
			    now_ms() + umdev__vfio_config.handshake_timeout_ms;
		} else if (sv->nr_busy < MAX_BUSY) {
			struct busy *b = &sv->busy[sv->nr_busy++];

			b->fd = fd;
			b->deadline_ms = now_ms() + umdev__vfio_config.handshake_timeout_ms;
			rx_init(&b->rx, true, true);
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

	if (r == RX_MORE)
		return;
	if (r != RX_EOF && !(umdev__wire_hdr_flags(b->rx.hdr) & VFIO_USER_F_NO_REPLY)) {
		/* never blocks the session: a full socket buffer just loses the reply */
		uint8_t hdr[VFIO_USER_HDR_SIZE];

		umdev__wire_reply_hdr(hdr, b->rx.hdr, 0, EBUSY);
		(void)send(b->fd, hdr, sizeof(hdr), MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	busy_drop(sv, i);
}

static void drain_wake(int fd)
{
	uint64_t v;

	(void)!read(fd, &v, sizeof(v));
}

void *umdev__vfio_server_thread(void *arg)
{
	struct server sv = {.dev = arg, .s_fd = -1, .twin_fd = -1};
	struct umdev__vfio_device *dev = sv.dev;
	bool closing = false;

	umdev__close_budget_cur = dev->close_budget; /* put by R4 after the join */
	for (;;) {
		struct pollfd p[5 + MAX_BUSY];
		unsigned int n = 0, i_listen = ~0u, i_sess = ~0u, i_twin = ~0u, i_unmask = ~0u;
		unsigned int i_busy = 0;
		uint64_t now = now_ms(), deadline = 0;
		int timeout = -1, unmask_fd = -1;
		bool stalled;

		if (dev->removing && !closing) { /* R4 (§3.3) */
			closing = true;
			close(dev->listen_fd); /* step 1: backlog connections closed unanswered */
			dev->listen_fd = -1;
			while (sv.nr_busy)
				busy_drop(&sv, 0);
			umdev__mutex_lock(&dev->lock);
			if (sv.s && dev->irq.req_trigger >= 0 &&
			    umdev__vfio_config.req_timeout_ms &&
			    !atomic_load(&umdev__vfio_shutting_down))
				sv.req_deadline_ms = now + umdev__vfio_config.req_timeout_ms;
			umdev__mutex_unlock(&dev->lock);
		}
		if (closing && (!sv.req_deadline_ms || now >= sv.req_deadline_ms || !sv.s ||
				atomic_load(&umdev__vfio_shutting_down))) {
			/* step 4: no command is executing here, its reply is queued; 5: teardown */
			session_end(&sv);
			break;
		}
		if (sv.s && sv.s->state == VFIO_SESSION_ACTIVE && dma_send(&sv) < 0)
			session_end(&sv);
		if (sv.s && sv.twin_fd >= 0 && outq_flush(&sv.twin_out, sv.twin_fd) < 0)
			session_end(&sv);
		if (sv.s && outq_flush(&sv.out, sv.s_fd) < 0)
			session_end(&sv); /* EPIPE, ECONNRESET: protocol-fatal (§6.3) */

		/*
		 * Nothing to serve: accept what made the listeners' thread start this one, or go
		 * idle. Here, after the flushes, which may have ended the session: a thread that
		 * polled with no session and no connection would wait for a client forever. A past
		 * accept4() failure (accept_retry_ms) only delays this until its retry time: its
		 * connection may be gone by then, and the listener would never wake us.
		 */
		if (!closing && !sv.s && !sv.nr_busy && !sv.serve_on &&
		    (!sv.accept_retry_ms || now >= sv.accept_retry_ms)) {
			accept_all(&sv);
			if (!sv.s && !sv.nr_busy && !sv.accept_retry_ms) {
				if (umdev__vfio_thread_idle(dev)) {
					umdev__close_budget_cur = NULL;
					return NULL; /* dev is not ours any more */
				}
				sv.serve_on = !dev->removing;
				continue;
			}
		}
		stalled = closes_stalled(); /* if so, re-checked every STALL_POLL_MS */
		if (stalled)
			deadline = now + STALL_POLL_MS;
		p[n++] = (struct pollfd){.fd = dev->wake_fd, .events = POLLIN};
		if (dev->listen_fd >= 0 && (!sv.accept_retry_ms || now >= sv.accept_retry_ms)) {
			i_listen = n;
			p[n++] = (struct pollfd){.fd = dev->listen_fd, .events = POLLIN};
		} else if (dev->listen_fd >= 0 && (!deadline || sv.accept_retry_ms < deadline)) {
			deadline = sv.accept_retry_ms; /* resting after EMFILE (accept_all) */
		}
		if (sv.s) {
			short ev = 0;

			if (outq_bytes(&sv.out) < OUTQ_MAX && !stalled)
				ev |=
				    POLLIN; /* else back-pressure: not read until it drains (C2) */
			if (outq_bytes(&sv.out))
				ev |= POLLOUT;
			i_sess = n;
			p[n++] = (struct pollfd){.fd = sv.s_fd, .events = ev};
			if (sv.s->state == VFIO_SESSION_HANDSHAKE &&
			    (!deadline || sv.handshake_deadline_ms < deadline))
				deadline = sv.handshake_deadline_ms;
			if (sv.twin_fd >= 0) {
				i_twin = n;
				p[n++] = (struct pollfd){
				    .fd = sv.twin_fd,
				    .events = (short)((stalled ? 0 : POLLIN) |
						      (outq_bytes(&sv.twin_out) ? POLLOUT : 0))};
			}
			umdev__mutex_lock(&dev->lock);
			unmask_fd = dev->irq.intx_unmask; /* changed only on this thread */
			umdev__mutex_unlock(&dev->lock);
			if (unmask_fd >= 0) {
				i_unmask = n;
				p[n++] = (struct pollfd){.fd = unmask_fd, .events = POLLIN};
			}
		}
		i_busy = n;
		for (unsigned int i = 0; i < sv.nr_busy; i++) {
			p[n++] = (struct pollfd){.fd = sv.busy[i].fd,
						 .events = (short)(stalled ? 0 : POLLIN)};
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
			drain_wake(dev->wake_fd); /* removal, or DMA requests to send */
		if (i_unmask != ~0u && p[i_unmask].revents && sv.s)
			umdev__irq_unmask_event(dev, unmask_fd); /* C6: even when backed up */
		if (i_twin != ~0u && sv.s && (p[i_twin].revents & (POLLIN | POLLHUP | POLLERR)))
			twin_readable(&sv);
		if (i_sess != ~0u && sv.s) {
			short re = p[i_sess].revents;

			if (re & POLLIN)
				session_readable(&sv);
			else if (re & (POLLHUP | POLLERR))
				session_end(&sv); /* not read (backed up) and the client is gone */
		}
		if (sv.s && sv.s->state == VFIO_SESSION_HANDSHAKE && sv.handshake_deadline_ms &&
		    now >= sv.handshake_deadline_ms)
			session_end(&sv); /* §4.3: closed without a reply */
		/*
		 * extra connections, from the last so busy_drop() keeps the indexes valid; while
		 * stalled they are not read, but poll() reports a hang-up whatever the events: the
		 * peer is gone, so drop it now, or every poll() would return at once until then
		 */
		for (unsigned int i = sv.nr_busy; i-- > 0;) {
			short re = i_busy + i < n ? p[i_busy + i].revents : 0;

			if (re && !stalled)
				busy_readable(&sv, i);
			else if ((re & (POLLHUP | POLLERR)) || now >= sv.busy[i].deadline_ms)
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
	umdev__close_budget_cur = NULL; /* R4 never waits for the closes still pending */
	return NULL;
}
