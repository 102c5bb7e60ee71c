// SPDX-License-Identifier: MIT
/*
 * Binary attributes (struct umdev_bin_attr, the kernel's bin_attribute) seen through the tree:
 * st_size, reads at any offset past the 4096 bytes of text attributes, clipping to the size,
 * a dynamic size of 0, read-only files, errnos and driver bugs. tdrv's bin/sized holds
 * TDRV_BIN_SIZE bytes with size TDRV_BIN_SIZE, bin/dynamic the same bytes with size 0.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tree_fixture.h"

/* The whole file by read(2)s of @chunk bytes until EOF; the byte count, or -errno. */
static ssize_t read_all(const char *path, unsigned char *buf, size_t len, size_t chunk)
{
	size_t got = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -errno;
	do {
		n = read(fd, buf + got, chunk < len - got ? chunk : len - got);
		if (n > 0)
			got += (size_t)n;
	} while (n > 0 && got < len);
	close(fd);
	return n < 0 ? -errno : (ssize_t)got;
}

static void assert_content(const unsigned char *buf, size_t off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != tdrv_bin_byte(off + i))
			fail_msg("byte %zu: 0x%02x, want 0x%02x", off + i, buf[i],
				 tdrv_bin_byte(off + i));
}

static void test_bin_stat_gives_the_size_and_a_read_only_mode(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(1);
	struct stat st;

	assert_int_equal(fx_create(f, 0, u), 37);
	assert_int_equal(stat(fx_dev(f, u, "bin/sized"), &st), 0);
	assert_int_equal(st.st_size, TDRV_BIN_SIZE);
	assert_int_equal(st.st_mode, S_IFREG | 0444);
	assert_int_equal(stat(fx_dev(f, u, "bin/dynamic"), &st), 0);
	assert_int_equal(st.st_size, 0); /* not known in advance */
	assert_int_equal(st.st_mode, S_IFREG | 0444); /* 0644 asked: write bits dropped */
	assert_int_equal(open(fx_dev(f, u, "bin/dynamic"), O_WRONLY), -1);
	assert_int_equal(errno, EACCES);
	assert_int_equal(open(fx_dev(f, u, "bin/sized"), O_RDWR), -1);
	assert_int_equal(errno, EACCES);
	assert_int_equal(tdrv_bin_read_calls(f->t[0]), 0); /* stat and open never read */
	assert_int_equal(fx_remove(f, u), 1);
}

static void test_bin_whole_file_past_4096_bytes(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(2);
	static unsigned char buf[TDRV_BIN_SIZE + 100];

	assert_int_equal(fx_create(f, 0, u), 37);
	/* one large read(2), then 1000-byte reads: the same bytes either way */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(read_all(fx_dev(f, u, "bin/sized"), buf, sizeof(buf), sizeof(buf)),
			 TDRV_BIN_SIZE);
	assert_content(buf, 0, TDRV_BIN_SIZE);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(read_all(fx_dev(f, u, "bin/sized"), buf, sizeof(buf), 1000),
			 TDRV_BIN_SIZE);
	assert_content(buf, 0, TDRV_BIN_SIZE);
	/* size 0: the driver's 0 is the end */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(read_all(fx_dev(f, u, "bin/dynamic"), buf, sizeof(buf), 3000),
			 TDRV_BIN_SIZE);
	assert_content(buf, 0, TDRV_BIN_SIZE);
	assert_int_equal(fx_remove(f, u), 1);
}

static void test_bin_pread_at_any_offset_is_clipped_to_the_size(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(3);
	unsigned char buf[200];
	unsigned int calls;
	int fd;

	assert_int_equal(fx_create(f, 0, u), 37);
	fd = open(fx_dev(f, u, "bin/sized"), O_RDONLY);
	assert_true(fd >= 0);
	/* no snapshot: the first read may start anywhere */
	assert_int_equal(pread(fd, buf, 100, 7777), 100);
	assert_content(buf, 7777, 100);
	assert_int_equal(pread(fd, buf, 100, 10), 100);
	assert_content(buf, 10, 100);
	assert_int_equal(pread(fd, buf, sizeof(buf), TDRV_BIN_SIZE - 30), 30);
	assert_content(buf, TDRV_BIN_SIZE - 30, 30);
	calls = tdrv_bin_read_calls(f->t[0]);
	assert_int_equal(pread(fd, buf, sizeof(buf), TDRV_BIN_SIZE), 0);
	assert_int_equal(pread(fd, buf, sizeof(buf), TDRV_BIN_SIZE + 5000), 0);
	assert_int_equal(tdrv_bin_read_calls(f->t[0]), calls); /* EOF without asking */
	close(fd);
	/* size 0: every read goes to the driver, which says where the end is */
	fd = open(fx_dev(f, u, "bin/dynamic"), O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, sizeof(buf), TDRV_BIN_SIZE - 30), 30);
	assert_content(buf, TDRV_BIN_SIZE - 30, 30);
	calls = tdrv_bin_read_calls(f->t[0]);
	assert_int_equal(pread(fd, buf, sizeof(buf), TDRV_BIN_SIZE + 5000), 0);
	assert_int_equal(tdrv_bin_read_calls(f->t[0]), calls + 1);
	close(fd);
	assert_int_equal(fx_remove(f, u), 1);
}

static void test_bin_read_errno_reaches_the_reader(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(4);
	unsigned char buf[64];

	assert_int_equal(fx_create(f, 0, u), 37);
	tdrv_set_bin_result(f->t[0], -EBUSY);
	assert_int_equal(read_all(fx_dev(f, u, "bin/sized"), buf, sizeof(buf), sizeof(buf)),
			 -EBUSY);
	assert_int_equal(read_all(fx_dev(f, u, "bin/dynamic"), buf, sizeof(buf), sizeof(buf)),
			 -EBUSY);
	assert_int_equal(fx_warnings(), 0); /* a vendor errno is no warning */
	tdrv_set_bin_result(f->t[0], 0);
	assert_int_equal(read_all(fx_dev(f, u, "bin/sized"), buf, sizeof(buf), sizeof(buf)),
			 sizeof(buf));
	assert_content(buf, 0, sizeof(buf));
	assert_int_equal(fx_remove(f, u), 1);
}

static void test_bin_count_above_len_is_eio_and_logged(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(5);
	unsigned char buf[64];

	assert_int_equal(fx_create(f, 0, u), 37);
	tdrv_set_bin_result(f->t[0], 1L << 20); /* more than any read asks */
	f->warnings_expected = 1;
	assert_int_equal(read_all(fx_dev(f, u, "bin/sized"), buf, sizeof(buf), sizeof(buf)), -EIO);
	assert_int_equal(fx_warnings(), 1);
	tdrv_set_bin_result(f->t[0], 0);
	assert_int_equal(fx_remove(f, u), 1);
}

static void test_bin_stale_handle_is_enodev(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(6);
	unsigned char buf[64];
	unsigned int calls;
	int fd;

	assert_int_equal(fx_create(f, 0, u), 37);
	fd = open(fx_dev(f, u, "bin/sized"), O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fx_remove(f, u), 1);
	calls = tdrv_bin_read_calls(f->t[0]);
	assert_int_equal(pread(fd, buf, sizeof(buf), 0), -1);
	assert_int_equal(errno, ENODEV);
	assert_int_equal(tdrv_bin_read_calls(f->t[0]), calls);
	close(fd);
	assert_false(fx_exists(fx_dev(f, u, "bin")));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_bin_stat_gives_the_size_and_a_read_only_mode,
					    fx_setup_bin, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_bin_whole_file_past_4096_bytes, fx_setup_bin,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_bin_pread_at_any_offset_is_clipped_to_the_size,
					    fx_setup_bin, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_bin_read_errno_reaches_the_reader, fx_setup_bin,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_bin_count_above_len_is_eio_and_logged,
					    fx_setup_bin, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_bin_stale_handle_is_enodev, fx_setup_bin,
					    fx_teardown),
	};

	return cmocka_run_group_tests_name("bin", tests, fx_group_setup, fx_group_teardown);
}
