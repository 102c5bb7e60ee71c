// SPDX-License-Identifier: MIT
/*
 * Unit tests of the lock checker (src/util/lockdep.h, issue 8 §2): the order of
 * docs/locking.md is enforced and "caller holds X" is checked. A violation aborts, so each
 * violating case runs in a child process and the test reads its status and stderr.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lockdep.h"

static struct umdev_mutex outer = UMDEV_MUTEX_INIT(&umdev__lock_class_list);
static struct umdev_mutex inner = UMDEV_MUTEX_INIT(&umdev__lock_class_guard);
static struct umdev_mutex leaf2 = UMDEV_MUTEX_INIT(&umdev__lock_class_mdev_ref);
static struct umdev_rwlock tree;

/* Run @fn in a child; return its wait status and what it wrote to stderr in @err. */
static int run_child(void (*fn)(void), char *err, size_t len)
{
	int pipefd[2], status;
	ssize_t n, got = 0;
	pid_t pid;

	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], STDERR_FILENO);
		close(pipefd[0]);
		fn();
		_exit(0);
	}
	close(pipefd[1]);
	while (got < (ssize_t)len - 1 && (n = read(pipefd[0], err + got, len - 1 - got)) > 0)
		got += n;
	err[got] = '\0';
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void expect_abort(void (*fn)(void), const char *want1, const char *want2)
{
	char err[1024];
	int status = run_child(fn, err, sizeof(err));

	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
		fail_msg("child did not abort (status 0x%x), stderr: %s", status, err);
	if (!strstr(err, want1) || (want2 && !strstr(err, want2)))
		fail_msg("stderr lacks '%s'/'%s': %s", want1, want2 ? want2 : "", err);
}

static void expect_exit0(void (*fn)(void))
{
	char err[1024];
	int status = run_child(fn, err, sizeof(err));

	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("child failed (status 0x%x), stderr: %s", status, err);
}

static void in_order(void)
{
	umdev__mutex_lock(&outer);
	umdev__mutex_lock(&inner);
	umdev__assert_held(&outer);
	umdev__assert_held(&inner);
	umdev__mutex_unlock(&outer); /* out of order release is fine */
	umdev__assert_not_held(&outer);
	umdev__assert_held(&inner);
	umdev__mutex_unlock(&inner);
	if (umdev__lockdep_depth() != 0)
		_exit(3);
}

static void test_lockdep_order_kept_passes(void **state)
{
	(void)state;
	expect_exit0(in_order);
}

static void inversion(void)
{
	umdev__mutex_lock(&inner);
	umdev__mutex_lock(&outer); /* list_lock under the guard mutex */
}

static void test_lockdep_inversion_aborts_naming_both(void **state)
{
	(void)state;
	expect_abort(inversion, "taking 'list_lock'", "holding 'parent guard mutex'");
}

static void two_leaves(void)
{
	umdev__mutex_lock(&inner);
	umdev__mutex_lock(&leaf2);
}

static void test_lockdep_leaf_inside_leaf_aborts(void **state)
{
	(void)state;
	expect_abort(two_leaves, "taking 'mdev ref_lock'", "holding 'parent guard mutex'");
}

static void recursive(void)
{
	umdev__mutex_lock(&outer);
	umdev__mutex_lock(&outer);
}

static void test_lockdep_recursion_aborts(void **state)
{
	(void)state;
	expect_abort(recursive, "recursive locking: taking 'list_lock'", NULL);
}

static void not_held(void)
{
	umdev__assert_held(&outer);
}

static void test_lockdep_assert_held_aborts_when_not_held(void **state)
{
	(void)state;
	expect_abort(not_held, "'list_lock' must be held", NULL);
}

static void *hold_outer(void *arg)
{
	(void)arg;
	umdev__mutex_lock(&outer);
	return NULL; /* exits holding it: only this thread's record says so */
}

static void held_by_other_thread(void)
{
	pthread_t t;

	pthread_create(&t, NULL, hold_outer, NULL);
	pthread_join(t, NULL);
	umdev__assert_held(&outer);
}

static void test_lockdep_assert_held_is_per_thread(void **state)
{
	(void)state;
	expect_abort(held_by_other_thread, "'list_lock' must be held", NULL);
}

static void read_held_for_write(void)
{
	umdev__rwlock_init(&tree, &umdev__lock_class_tree, false);
	umdev__rwlock_rdlock(&tree);
	umdev__assert_held(&tree);
	umdev__assert_write_held(&tree);
}

static void test_lockdep_rwlock_write_assert_needs_write(void **state)
{
	(void)state;
	expect_abort(read_held_for_write, "'tree_lock' must be held for writing", NULL);
}

static void unlock_unheld(void)
{
	umdev__mutex_unlock(&outer);
}

static void test_lockdep_unlock_of_unheld_aborts(void **state)
{
	(void)state;
	expect_abort(unlock_unheld, "releasing 'list_lock'", NULL);
}

static void trylock_any_order(void)
{
	umdev__mutex_lock(&inner);
	if (!umdev__mutex_trylock(&outer)) /* never waits: not an inversion */
		_exit(4);
	umdev__assert_held(&outer);
	umdev__mutex_unlock(&outer);
	umdev__mutex_unlock(&inner);
}

static void test_lockdep_trylock_is_not_order_checked(void **state)
{
	(void)state;
	expect_exit0(trylock_any_order);
}

static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;

static void timedwait_keeps_record(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	umdev__mutex_lock(&outer);
	if (umdev__cond_timedwait(&cond, &outer, &ts) != ETIMEDOUT)
		_exit(5);
	umdev__assert_held(&outer);
	umdev__mutex_unlock(&outer);
}

static void test_lockdep_cond_wait_keeps_the_record(void **state)
{
	(void)state;
	expect_exit0(timedwait_keeps_record);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lockdep_order_kept_passes),
	    cmocka_unit_test(test_lockdep_inversion_aborts_naming_both),
	    cmocka_unit_test(test_lockdep_leaf_inside_leaf_aborts),
	    cmocka_unit_test(test_lockdep_recursion_aborts),
	    cmocka_unit_test(test_lockdep_assert_held_aborts_when_not_held),
	    cmocka_unit_test(test_lockdep_assert_held_is_per_thread),
	    cmocka_unit_test(test_lockdep_rwlock_write_assert_needs_write),
	    cmocka_unit_test(test_lockdep_unlock_of_unheld_aborts),
	    cmocka_unit_test(test_lockdep_trylock_is_not_order_checked),
	    cmocka_unit_test(test_lockdep_cond_wait_keeps_the_record),
	};

#ifndef UMDEV_LOCKDEP
	return 77; /* release build: the checker is compiled away */
#endif
	return cmocka_run_group_tests(tests, NULL, NULL);
}
