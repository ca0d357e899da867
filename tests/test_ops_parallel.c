/* The kernels' thread pool (ops/parallel.c): every item runs exactly once whatever the thread
 * count and grain; tids stay below the thread count; a nested call runs serially on its
 * caller; several caller threads at once each get their own workers; a forked child can
 * still run parallel loops; the spin setting (API and OCELLUS_SPIN) is honoured, and with
 * spin 0 idle workers sleep instead of burning CPU. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ocellus.h"
#include "parallel.h"

#define MAXN 10000

typedef struct {
    atomic_int hits[MAXN];
    atomic_int bad_tid;
    atomic_int calls;
    int nthreads;
} count_job;

static void count_items(void *arg, int64_t b, int64_t e, int tid)
{
    count_job *j = arg;
    atomic_fetch_add(&j->calls, 1);
    if (tid < 0 || tid >= j->nthreads) atomic_store(&j->bad_tid, 1);
    for (int64_t i = b; i < e; i++) atomic_fetch_add(&j->hits[i], 1);
}

static void check_cover(int nthreads, int64_t n, int64_t grain)
{
    count_job *j = calloc(1, sizeof(*j));
    assert_non_null(j);
    j->nthreads = nthreads;
    oc_parallel_for(nthreads, n, grain, count_items, j);
    for (int64_t i = 0; i < n; i++) assert_int_equal(atomic_load(&j->hits[i]), 1);
    for (int64_t i = n; i < MAXN; i++) assert_int_equal(atomic_load(&j->hits[i]), 0);
    assert_int_equal(atomic_load(&j->bad_tid), 0);
    if (n > 0 && grain > 0) assert_true(atomic_load(&j->calls) <= (n + grain - 1) / grain);
    free(j);
}

static void test_every_item_once(void **state)
{
    (void)state;
    const int threads[] = {1, 2, 3, 8};
    const int64_t ns[] = {0, 1, 2, 7, 64, 1000, MAXN};
    const int64_t grains[] = {0, 1, 3, 100, 100000};
    for (size_t a = 0; a < sizeof(threads) / sizeof(*threads); a++)
        for (size_t b = 0; b < sizeof(ns) / sizeof(*ns); b++)
            for (size_t c = 0; c < sizeof(grains) / sizeof(*grains); c++)
                check_cover(threads[a], ns[b], grains[c]);
}

/* many short jobs in a row: a lost wake-up would hang here (the test runner's timeout) */
static void test_many_short_jobs(void **state)
{
    (void)state;
    const int spins[] = {0, 20, 1000};
    for (int s = 0; s < 3; s++) {
        oc_parallel_set_spin_us(spins[s]);
        for (int r = 0; r < 2000; r++) check_cover(2, 4, 1);
    }
    oc_parallel_set_spin_us(OC_SPIN_DEFAULT_US);
}

typedef struct {
    atomic_int inner_tid_nonzero;
    atomic_int inner_items;
} nest_job;

static void nested_inner(void *arg, int64_t b, int64_t e, int tid)
{
    nest_job *j = arg;
    if (tid != 0) atomic_store(&j->inner_tid_nonzero, 1);
    atomic_fetch_add(&j->inner_items, (int)(e - b));
}

static void nested_outer(void *arg, int64_t b, int64_t e, int tid)
{
    (void)tid;
    for (int64_t i = b; i < e; i++) oc_parallel_for(4, 10, 1, nested_inner, arg);
}

static void test_nested_runs_serially(void **state)
{
    (void)state;
    nest_job j;
    atomic_init(&j.inner_tid_nonzero, 0);
    atomic_init(&j.inner_items, 0);
    oc_parallel_for(2, 6, 1, nested_outer, &j);
    assert_int_equal(atomic_load(&j.inner_tid_nonzero), 0);
    assert_int_equal(atomic_load(&j.inner_items), 60);
}

static void *caller_thread(void *arg)
{
    (void)arg;
    for (int r = 0; r < 200; r++) check_cover(2, 500, 7);
    return NULL;
}

static void test_concurrent_callers(void **state)
{
    (void)state;
    pthread_t t[3];
    for (int i = 0; i < 3; i++) assert_int_equal(pthread_create(&t[i], NULL, caller_thread, NULL), 0);
    caller_thread(NULL);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
}

static void test_fork_child(void **state)
{
    (void)state;
    check_cover(2, 100, 1); /* the parent's workers exist now */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        count_job *j = calloc(1, sizeof(*j));
        if (!j) _exit(3);
        j->nthreads = 2;
        oc_parallel_for(2, 100, 1, count_items, j);
        for (int i = 0; i < 100; i++)
            if (atomic_load(&j->hits[i]) != 1) _exit(1);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void nothing(void *arg, int64_t b, int64_t e, int tid)
{
    (void)arg, (void)b, (void)e, (void)tid;
}

/* with spin 0 the workers sleep between jobs: 50 ms of idle wall time between jobs costs
 * (almost) no CPU; with a 200 ms spin they burn CPU for the whole pause */
static void test_idle_workers_sleep(void **state)
{
    (void)state;
    const struct timespec pause = {0, 50 * 1000 * 1000};
    oc_parallel_set_spin_us(0);
    oc_parallel_for(2, 2, 1, nothing, NULL);
    double c0 = cpu_seconds();
    nanosleep(&pause, NULL);
    double idle_passive = cpu_seconds() - c0;
    oc_parallel_set_spin_us(200000);
    oc_parallel_for(2, 2, 1, nothing, NULL);
    c0 = cpu_seconds();
    nanosleep(&pause, NULL);
    double idle_active = cpu_seconds() - c0;
    oc_parallel_set_spin_us(OC_SPIN_DEFAULT_US);
    oc_parallel_for(2, 2, 1, nothing, NULL);
    assert_true(idle_passive < 0.005);
    /* the spinning worker may lose its core on a busy machine; it still burns far more */
    assert_true(idle_active > idle_passive);
}

static void test_spin_api(void **state)
{
    (void)state;
    assert_int_equal(oc_set_spin_us(-1), OC_ERR_INVALID_ARG);
    assert_int_equal(oc_set_spin_us(123), OC_OK);
    assert_int_equal(oc_get_spin_us(), 123);
    assert_int_equal(oc_set_spin_us(OC_SPIN_DEFAULT_US), OC_OK);
    assert_int_equal(oc_get_spin_us(), OC_SPIN_DEFAULT_US);
}

static void test_spin_env(void **state)
{
    (void)state;
    assert_int_equal(oc_parallel_parse_spin(NULL), OC_SPIN_DEFAULT_US);
    assert_int_equal(oc_parallel_parse_spin(""), OC_SPIN_DEFAULT_US);
    assert_int_equal(oc_parallel_parse_spin("passive"), 0);
    assert_true(oc_parallel_parse_spin("active") > 1000000);
    assert_int_equal(oc_parallel_parse_spin("0"), 0);
    assert_int_equal(oc_parallel_parse_spin("777"), 777);
    assert_int_equal(oc_parallel_parse_spin("-5"), OC_SPIN_DEFAULT_US);
    assert_int_equal(oc_parallel_parse_spin("12us"), OC_SPIN_DEFAULT_US);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_item_once),     cmocka_unit_test(test_many_short_jobs),
        cmocka_unit_test(test_nested_runs_serially), cmocka_unit_test(test_concurrent_callers),
        cmocka_unit_test(test_fork_child),          cmocka_unit_test(test_idle_workers_sleep),
        cmocka_unit_test(test_spin_api),            cmocka_unit_test(test_spin_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
