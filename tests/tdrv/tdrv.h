/* SPDX-License-Identifier: MIT */
/*
 * tdrv - the test driver of mdev.md §9: an mdev driver whose callbacks fail with a chosen
 * errno, block on a gate, or sleep, and count every call. Parents are named by the test
 * (t0..t7 in the spec's fixture), class "tdrv", one type "a" (type id "tdrv-a"),
 * core-managed with max_instances 16 unless configured otherwise.
 *
 * Used by core unit tests (C API), the in-process tree tests (tests/tree) and the stress tests.
 * All knobs are per parent and thread-safe.
 */
#ifndef UMDEV_TDRV_H
#define UMDEV_TDRV_H

#include <stdbool.h>
#include <stddef.h>

#include "umdev/mdev.h"

/* Driver-wide options; fixed between tdrv_register() and tdrv_unregister(). */
struct tdrv_options {
	const char *driver_name; /* NULL: "tdrv" */
	unsigned int max_instances; /* 0: 16 */
	bool description; /* give the driver show_description (M-3, M-8) */
	bool driver_managed; /* give the driver get_available (M-79) */
	const char *pretty_name; /* NULL: none (M-5: name reads "a\n") */
	bool sample_attr; /* a writable device attribute `sample_attr` (M-75, M-81) */
	/*
	 * Binary attributes (struct umdev_bin_attr) in the subdirectory `bin`: `sized` of
	 * TDRV_BIN_SIZE bytes and `dynamic` of size 0 holding TDRV_BIN_SIZE bytes, byte i of
	 * both being tdrv_bin_byte(i).
	 */
	bool bin_attr;
};

struct tdrv_parent;

enum tdrv_callback {
	TDRV_PROBE,
	TDRV_REMOVE,
	TDRV_NR_CALLBACKS,
};

/* Register the driver "tdrv" with @opt (NULL: defaults). Return: umdev_register_driver(). */
int tdrv_register(const struct tdrv_options *opt);
/* Unregister it. Return: umdev_unregister_driver(). */
int tdrv_unregister(void);
/* The registered driver (for M-9 style tests). */
struct umdev_driver *tdrv_driver(void);

/*
 * Allocate and register parent @name with one type "a". Return: the parent, or NULL with
 * *ret_err (if non-NULL) set to the negative errno of umdev_register_parent().
 */
struct tdrv_parent *tdrv_parent_add(const char *name, int *ret_err);
/* umdev_unregister_parent(), then free the parent and its type array (M-80). */
void tdrv_parent_remove(struct tdrv_parent *p);
/* The two halves of tdrv_parent_remove(): a driver may keep its memory past unregistration,
 * and its threads may call umdev_mdev_create() on its types until then (-ENODEV). */
void tdrv_parent_unregister(struct tdrv_parent *p);
void tdrv_parent_free(struct tdrv_parent *p);
struct umdev_type *tdrv_type(struct tdrv_parent *p);
struct umdev_parent *tdrv_umdev_parent(struct tdrv_parent *p);

/* probe returns @ret (0, a negative errno, or a bogus value such as +5 for M-31). */
void tdrv_set_probe_result(struct tdrv_parent *p, int ret);
/* probe fails with @ret for one in @every calls (0: never), pseudo-randomly (M-56). */
void tdrv_set_probe_fail_ratio(struct tdrv_parent *p, int ret, unsigned int every);
/* the callback sleeps @ms milliseconds (M-50..M-52) */
void tdrv_set_sleep_ms(struct tdrv_parent *p, enum tdrv_callback cb, unsigned int ms);
/* driver-managed mode: the value get_available returns */
void tdrv_set_available(struct tdrv_parent *p, unsigned int avail);
/* the bytes show_description returns (copied; at most 4096) */
void tdrv_set_description(struct tdrv_parent *p, const char *bytes, size_t len);

/* Gates: while closed, the callback blocks at entry until tdrv_gate_open() (M-40, M-42, M-59). */
void tdrv_gate_close(struct tdrv_parent *p, enum tdrv_callback cb);
void tdrv_gate_open(struct tdrv_parent *p, enum tdrv_callback cb);
/* Wait until at least @n callers are blocked in the gate of @cb. */
void tdrv_gate_wait_blocked(struct tdrv_parent *p, enum tdrv_callback cb, unsigned int n);

/*
 * Extra work run at the start of probe, with no lock held (M-78); NULL: none. @arg is
 * borrowed.
 */
void tdrv_set_probe_hook(struct tdrv_parent *p, void (*fn)(struct umdev_mdev *mdev, void *arg),
			 void *arg);

/* Length and content of the binary attributes (bin_attr). */
#define TDRV_BIN_SIZE 10000
static inline unsigned char tdrv_bin_byte(size_t i)
{
	return (unsigned char)(i * 7 + i / 251);
}
/* The binary attributes' read returns @ret (0: the content; a -errno or a bogus count). */
void tdrv_set_bin_result(struct tdrv_parent *p, long ret);

/* Counters since the parent was added. */
unsigned int tdrv_calls(struct tdrv_parent *p, enum tdrv_callback cb);
unsigned int tdrv_get_available_calls(struct tdrv_parent *p);
unsigned int tdrv_description_calls(struct tdrv_parent *p);
unsigned int tdrv_store_calls(struct tdrv_parent *p);
unsigned int tdrv_bin_read_calls(struct tdrv_parent *p);
/* Number of mdevs for which probe succeeded and remove has not run. */
unsigned int tdrv_live(struct tdrv_parent *p);
/* Violations the driver saw: remove without probe, double remove, store on a removed mdev. */
unsigned int tdrv_violations(void);

#endif
