/* SPDX-License-Identifier: MIT */
/*
 * The 16550A UART register model of one mtty port (mtty.md §5, §6.4-§6.9, §7.5, §8, §9).
 *
 * Pure state machine: no threads, no I/O, no allocation. The driver glue owns one
 * struct mtty_uart per port, serializes every call on it with the device's lock (mtty.md
 * §6.3: accesses to one device are serialized), and evaluates the interrupt condition with
 * mtty_uart_irq_pending() at the evaluation points of mtty.md §7.1. The far end is reached
 * only through struct mtty_uart_ops, called synchronously from mtty_uart_write().
 *
 * Register and bit names are those of <linux/serial_reg.h>.
 */
#ifndef UMDEV_MTTY_UART_H
#define UMDEV_MTTY_UART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

/** RX FIFO depth in FIFO mode (FCR[0] = 1); 1 byte (holding register) otherwise (§5.1). */
#define MTTY_UART_FIFO_SIZE 16

/** Size in bytes of one port's record in the save/restore image (mtty.md §9). */
#define MTTY_UART_IMAGE_SIZE 32

/**
 * struct mtty_uart_ops - the far end of a port, as seen by the register model.
 * @transmit: a byte written to THR (DLAB = 0) leaves the port towards the far end (pty
 *	backend, outside MCR loopback). Called with the caller's lock held; must not block and
 *	must not call back into the model. Return true if the far end took the byte, false if it
 *	was dropped (pty not attached, or EAGAIN: §5.2); false counts it in @tx_dropped. NULL
 *	means "drop everything".
 * @line_changed: termios reflection hook (§4.4): called after every LCR write with DLAB = 0,
 *	with the current divisor (DLM << 8 | DLL) and the new LCR. The glue typically applies
 *	mtty_uart_termios_apply() to the slave's termios. Same rules as @transmit; may be NULL.
 */
struct mtty_uart_ops {
	bool (*transmit)(void *opaque, uint8_t byte);
	void (*line_changed)(void *opaque, uint16_t divisor, uint8_t lcr);
};

/**
 * struct mtty_uart - one emulated 16550A port.
 *
 * All fields are protected by the caller's device lock. Read the counters directly; treat
 * everything else as private and go through the functions below.
 */
struct mtty_uart {
	/* set by mtty_uart_init(), kept across mtty_uart_reset() */
	const struct mtty_uart_ops *ops; /* borrowed; may be NULL */
	void *opaque; /* passed to every op */
	bool loopback_backend; /* §5.4 kernel-sample far end instead of @ops */

	/* read-only for the glue: mtty/stats counters (§4.5), never cleared by the model */
	uint64_t tx_bytes; /* bytes written to THR with DLAB = 0 */
	uint64_t tx_dropped; /* of those, bytes @ops->transmit did not take (§5.2) */
	uint64_t rx_bytes; /* bytes placed into the RX FIFO (far end or looped back) */
	uint64_t rx_overruns; /* bytes lost because the RX FIFO was full (§5.1) */

	/* private: register state (§6.5 power-on values in mtty_uart_reset()) */
	uint8_t ier; /* bits 3:0 */
	uint8_t lcr; /* all 8 bits; bit 7 is DLAB */
	uint8_t mcr; /* bits 4:0 */
	uint8_t scr; /* scratch */
	uint8_t dll; /* divisor latch, low byte */
	uint8_t dlm; /* divisor latch, high byte */
	uint8_t fcr; /* stored FCR bits 0, 3, 7:6; 0 whenever FIFOs are off */
	uint8_t msr_delta; /* MSR bits 3:0: DDCD, TERI, DDSR, DCTS; cleared by reading MSR */
	bool oe; /* LSR.OE: an overrun happened since the last LSR read */
	bool thre_latch; /* THR-empty interrupt latch (§6.7) */
	uint8_t rx[MTTY_UART_FIFO_SIZE]; /* RX FIFO ring */
	unsigned int rx_head; /* index of the oldest byte */
	unsigned int rx_count; /* bytes held, <= the current capacity */
};

/**
 * mtty_uart_init() - set up @u as a new port: counters 0, registers at power-on values.
 * @u: the port; every field is overwritten.
 * @ops: far end operations; borrowed, must outlive @u; NULL drops every transmitted byte.
 * @opaque: passed to each op.
 *
 * The port starts with the pty far end (@ops); see mtty_uart_set_loopback_backend().
 * Source: mtty.md §4.5 (counters start at 0), §6.5.
 */
void mtty_uart_init(struct mtty_uart *u, const struct mtty_uart_ops *ops, void *opaque);

/**
 * mtty_uart_set_loopback_backend() - choose the far end of @u.
 * @u: the port.
 * @loopback: true for the kernel-sample loopback backend (§5.4): transmitted bytes enter
 *	the port's own RX FIFO and @ops->transmit is never called; false for @ops (pty).
 *
 * Registers, FIFO and counters are not touched (the backend changes only while no client is
 * connected, §4.2, and the disconnect resets the registers). Source: mtty.md §4.2, §5.4.
 */
void mtty_uart_set_loopback_backend(struct mtty_uart *u, bool loopback);

/**
 * mtty_uart_reset() - return @u to its power-on state.
 * @u: the port.
 *
 * Every register to §6.5 (IER, LCR, MCR, SCR, DLL, DLM, FCR 0; LSR 0x60; MSR 0xB0), RX FIFO
 * drained, OE, THRE latch and MSR deltas cleared. Keeps @ops, the backend choice and the
 * counters, and calls no op. Afterwards mtty_uart_irq_pending() is false.
 * Source: mtty.md §6.5, §8 (DEVICE_RESET and disconnect); T-29, T-68.
 */
void mtty_uart_reset(struct mtty_uart *u);

/**
 * mtty_uart_read() - a guest 1-byte read of register @offset.
 * @u: the port.
 * @offset: byte offset in the port's 8-byte I/O BAR, 0-7; the glue rejects other offsets
 *	and widths (§6.3). An offset above 7 reads 0xFF and changes nothing.
 *
 * Side effects, as on the 16550A (§6.6, §6.7): RBR (DLAB 0) pops the oldest RX byte; IIR
 * clears the THRE latch when it reports THR empty (0x02); LSR clears OE; MSR clears the
 * delta bits 3:0. DLL/DLM (DLAB 1), IER, LCR, MCR and SCR reads have none.
 * Source: mtty.md §6.4, §6.6, §6.7, §6.9; T-29 to T-47.
 *
 * Return: the register value.
 */
uint8_t mtty_uart_read(struct mtty_uart *u, unsigned int offset);

/**
 * mtty_uart_write() - a guest 1-byte write of @val to register @offset.
 * @u: the port.
 * @offset: byte offset in the port's I/O BAR, 0-7; an offset above 7 is ignored.
 * @val: the byte written.
 *
 * THR (DLAB 0) counts @tx_bytes and transmits at once (§5.1): in MCR loopback or with the
 * loopback backend into the own RX FIFO, else through @ops->transmit; the THRE latch is set
 * afterwards. IER bits 7:4 and MCR bits 7:5 are ignored; ETBEI 0 -> 1 sets the THRE latch,
 * 1 -> 0 clears it. FCR follows §6.6. LCR with DLAB 0 calls @ops->line_changed (§4.4). MCR
 * updates the modem inputs in loopback and sets MSR deltas for inputs that changed (§6.8).
 * LSR and MSR writes are ignored.
 * Source: mtty.md §5.1, §5.4, §6.4, §6.6-§6.8, §7.5.
 */
void mtty_uart_write(struct mtty_uart *u, unsigned int offset, uint8_t val);

/**
 * mtty_uart_rx_room() - bytes the far end may push now without an overrun.
 * @u: the port.
 *
 * Return: the free space of the RX FIFO (16 or 1 minus the bytes held, §5.1), or 0 while
 * the far end is not read: in MCR loopback (§5.1, §6.8) and with the loopback backend
 * (§5.4). The pty reader reads at most this many bytes (§5.3).
 */
size_t mtty_uart_rx_room(const struct mtty_uart *u);

/**
 * mtty_uart_rx_push() - bytes arrive from the far end (host -> guest).
 * @u: the port.
 * @bytes: the bytes, oldest first; borrowed.
 * @n: how many; the caller pushes at most mtty_uart_rx_room() (§5.3).
 *
 * Each byte that fits enters the RX FIFO and counts in @rx_bytes; a byte that arrives while
 * the FIFO is full is discarded, sets LSR.OE and counts in @rx_overruns (§5.1). The caller
 * evaluates interrupts once after the batch (§5.3, §7.1).
 *
 * Return: the number of bytes stored in the FIFO (@n when the caller kept to the room).
 */
size_t mtty_uart_rx_push(struct mtty_uart *u, const uint8_t *bytes, size_t n);

/**
 * mtty_uart_irq_pending() - whether the port requests an interrupt.
 * @u: the port.
 *
 * True iff IIR bit 0 would read 0: some source of §6.7 is both enabled in IER and active.
 * No side effect (the THRE latch is only cleared by a guest IIR read). OUT2 does not gate
 * it (§6.6). The device condition C (§2) is the OR over its ports.
 *
 * Return: true if an interrupt is pending.
 */
bool mtty_uart_irq_pending(const struct mtty_uart *u);

/**
 * mtty_uart_divisor() - the divisor latch, DLM << 8 | DLL.
 * @u: the port.
 *
 * Return: the divisor; 0 at power-on. The baud rate is 115200 / divisor (§10).
 */
uint16_t mtty_uart_divisor(const struct mtty_uart *u);

/**
 * mtty_uart_divisor_speed() - the termios speed for a divisor (§4.4).
 * @divisor: divisor latch value.
 *
 * Return: the speed_t constant (B50 ... B115200) when 115200 / @divisor is exact and a
 * standard rate of §4.4; B0 ("leave the speed unchanged") otherwise, including divisor 0.
 */
speed_t mtty_uart_divisor_speed(uint16_t divisor);

/**
 * mtty_uart_termios_apply() - reflect divisor and LCR into termios settings (§4.4).
 * @t: termios to update in place; only c_cflag's CSIZE, CSTOPB, PARENB, PARODD and CMSPAR
 *	bits and (when mtty_uart_divisor_speed() is not B0) the input and output speed change;
 *	c_iflag, c_oflag, c_lflag and c_cc are kept.
 * @divisor: divisor latch value (mtty_uart_divisor()).
 * @lcr: line control register; bit 7 (DLAB) and bit 6 (break) are ignored.
 *
 * CSIZE = CS5 + LCR[1:0]; CSTOPB = LCR[2]; PARENB = LCR[3]; PARODD = LCR[3] and not LCR[4];
 * CMSPAR = LCR[5] when parity is on. Pure: no I/O, so tests need no pty. Source: mtty.md
 * §4.4; T-33, T-34.
 */
void mtty_uart_termios_apply(struct termios *t, uint16_t divisor, uint8_t lcr);

/**
 * mtty_uart_save() - write the port's record of the save/restore image.
 * @u: the port; quiescent (no access in progress).
 * @image: MTTY_UART_IMAGE_SIZE bytes at offset 280 + 32·n of the device image.
 *
 * Layout (mtty.md §9): IER, LCR, MCR, SCR, DLL, DLM, FCR (bits 0, 3, 7:6), flags (bit 0 OE,
 * bit 1 THRE latch), MSR deltas (bits 3:0), RX count (0-16), 16 RX bytes oldest first
 * (unused bytes 0), 6 reserved bytes 0. Counters, backend and modem inputs are not saved.
 */
void mtty_uart_save(const struct mtty_uart *u, uint8_t image[MTTY_UART_IMAGE_SIZE]);

/**
 * mtty_uart_restore() - load a port record written by mtty_uart_save().
 * @u: the port; quiescent.
 * @image: MTTY_UART_IMAGE_SIZE bytes.
 *
 * Validates first and changes nothing on failure. Keeps @ops, backend and counters; calls
 * no op (the glue may reflect termios itself from mtty_uart_divisor() and the LCR).
 * Source: mtty.md §9; T-79, T-80.
 *
 * Return: 0, or -EINVAL: a register has bits its write mask does not allow (IER 7:4,
 * MCR 7:5, FCR 5:4 and 2:1, any FCR bit but bit 0 while bit 0 is clear, flags 7:2, MSR
 * deltas 7:4), a reserved byte is non-zero, or the RX count exceeds the capacity implied by
 * the saved FCR (16 if FCR[0], else 1).
 */
int mtty_uart_restore(struct mtty_uart *u, const uint8_t image[MTTY_UART_IMAGE_SIZE]);

#endif /* UMDEV_MTTY_UART_H */
