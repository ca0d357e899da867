/* parallel.c -- the kernels' thread pool: bounded spin, then futex sleep (see parallel.h).
 *
 * Protocol. Each calling thread owns a pool of workers (thread-local). Worker i (tid i+1) has
 * its own wake word `gen`; to start a job the caller publishes the job, sets `remaining` to
 * the number of workers taking part, bumps their gen words and wakes those that sleep. A
 * worker runs chunks until the shared counter passes n, then decrements `remaining`; the one
 * that brings it to 0 wakes the caller if it sleeps. Every wait first spins for spin_us
 * (checking the word between pauses), then announces itself in a `sleeping` flag and sleeps
 * in futex_wait on the word. The waker stores the word before it reads the flag and the
 * sleeper stores the flag before it re-reads the word (both sequentially consistent), so one
 * of them always sees the other: no lost wake-up. Linux only (futex). */
#include "parallel.h"

#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define OC_POOL_MAX_WORKERS 255

/* ---- spin setting -------------------------------------------------------------------- */
static atomic_int g_spin_us = -1; /* -1: not read from the environment yet */

int oc_parallel_parse_spin(const char *s)
{
    if (!s || !*s) return OC_SPIN_DEFAULT_US;
    if (!strcmp(s, "passive")) return 0;
    if (!strcmp(s, "active")) return INT_MAX;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < 0) return OC_SPIN_DEFAULT_US;
    return v > INT_MAX ? INT_MAX : (int)v;
}

int oc_parallel_spin_us(void)
{
    int v = atomic_load_explicit(&g_spin_us, memory_order_relaxed);
    if (v < 0) {
        int e = oc_parallel_parse_spin(getenv("OCELLUS_SPIN")), expect = -1;
        atomic_compare_exchange_strong(&g_spin_us, &expect, e);
        v = atomic_load(&g_spin_us);
    }
    return v;
}

void oc_parallel_set_spin_us(int us)
{
    atomic_store(&g_spin_us, us < 0 ? 0 : us);
}

/* ---- waiting ------------------------------------------------------------------------- */
static void futex_wait(atomic_uint *word, unsigned expect)
{
    syscall(SYS_futex, (unsigned *)word, FUTEX_WAIT_PRIVATE, expect, NULL, NULL, 0);
}

static void futex_wake_all(atomic_uint *word)
{
    syscall(SYS_futex, (unsigned *)word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Returns once *word != old: spins for the spin budget, then sleeps. */
static void wait_while_equal(atomic_uint *word, unsigned old, atomic_int *sleeping)
{
    if (atomic_load_explicit(word, memory_order_acquire) != old) return;
    int us = oc_parallel_spin_us();
    if (us > 0) {
        /* pause-spinning only: measured on a loaded 2-core machine, calling sched_yield in
         * this loop made yolo11n 2x slower than sleeping at once (the yielding thread stays
         * runnable and keeps competing for the core) */
        int64_t deadline = now_ns() + (int64_t)us * 1000;
        for (;;) {
            for (int i = 0; i < 64; i++) {
                if (atomic_load_explicit(word, memory_order_acquire) != old) return;
                cpu_relax();
            }
            if (now_ns() >= deadline) break;
        }
    }
    for (;;) {
        atomic_store(sleeping, 1);
        if (atomic_load(word) != old) break;
        futex_wait(word, old);
        if (atomic_load(word) != old) break;
    }
    atomic_store(sleeping, 0);
}

/* ---- the pool ------------------------------------------------------------------------ */
typedef struct {
    oc_range_fn fn;
    void *arg;
    int64_t n, grain;
    atomic_llong next; /* first item not yet taken */
} pool_job;

typedef struct pool pool;

typedef struct {
    _Alignas(64) atomic_uint gen; /* bumped to hand this worker a job */
    atomic_int sleeping;
    int tid;
    pool *owner;
    pthread_t thread;
} pool_worker;

struct pool {
    pool_job *job;
    int stop;
    int nworkers;
    _Alignas(64) atomic_uint remaining; /* workers still running the job */
    atomic_int caller_sleeping;
    pool_worker workers[OC_POOL_MAX_WORKERS];
};

static _Thread_local pool *tls_pool;
static _Thread_local int tls_in_parallel; /* a worker, or a caller inside oc_parallel_for */
static pthread_key_t g_pool_key;
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;

static void run_chunks(pool_job *j, int tid)
{
    for (;;) {
        int64_t b = atomic_fetch_add_explicit(&j->next, j->grain, memory_order_relaxed);
        if (b >= j->n) break;
        int64_t e = b + j->grain < j->n ? b + j->grain : j->n;
        j->fn(j->arg, b, e, tid);
    }
}

static void *worker_main(void *p)
{
    pool_worker *w = p;
    pool *pl = w->owner;
    tls_in_parallel = 1;
    unsigned seen = 0;
    for (;;) {
        wait_while_equal(&w->gen, seen, &w->sleeping);
        seen = atomic_load(&w->gen);
        if (pl->stop) break;
        run_chunks(pl->job, w->tid);
        if (atomic_fetch_sub(&pl->remaining, 1) == 1 && atomic_load(&pl->caller_sleeping))
            futex_wake_all(&pl->remaining);
    }
    return NULL;
}

static void pool_destroy(void *p)
{
    pool *pl = p;
    if (!pl) return;
    pl->stop = 1;
    for (int i = 0; i < pl->nworkers; i++) {
        pool_worker *w = &pl->workers[i];
        atomic_fetch_add(&w->gen, 1);
        futex_wake_all(&w->gen);
        pthread_join(w->thread, NULL);
    }
    free(pl);
}

/* A forked child has only the forking thread: its pool's workers are gone. Forget the pool
 * (its memory is lost, once) so the child makes a new one instead of waiting forever. */
static void forget_pool_in_child(void)
{
    tls_pool = NULL;
    pthread_setspecific(g_pool_key, NULL);
}

static void make_key(void)
{
    pthread_key_create(&g_pool_key, pool_destroy);
    pthread_atfork(NULL, NULL, forget_pool_in_child);
}

/* the calling thread's pool with at least `want` workers (fewer if threads cannot be made) */
static pool *get_pool(int want)
{
    pool *pl = tls_pool;
    if (!pl) {
        pthread_once(&g_key_once, make_key);
        pl = calloc(1, sizeof(*pl));
        if (!pl) return NULL;
        tls_pool = pl;
        pthread_setspecific(g_pool_key, pl);
    }
    if (want > OC_POOL_MAX_WORKERS) want = OC_POOL_MAX_WORKERS;
    while (pl->nworkers < want) {
        pool_worker *w = &pl->workers[pl->nworkers];
        atomic_init(&w->gen, 0);
        atomic_init(&w->sleeping, 0);
        w->tid = pl->nworkers + 1;
        w->owner = pl;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) break;
        pl->nworkers++;
    }
    return pl;
}

void oc_parallel_for(int nthreads, int64_t n, int64_t grain, oc_range_fn fn, void *arg)
{
    if (n <= 0) return;
    if (grain <= 0) {
        int64_t parts = 4 * (int64_t)(nthreads > 1 ? nthreads : 1);
        grain = (n + parts - 1) / parts;
    }
    int64_t chunks = (n + grain - 1) / grain;
    int nt = nthreads;
    if (nt > chunks) nt = (int)chunks;
    pool *pl = NULL;
    if (nt > 1 && !tls_in_parallel) pl = get_pool(nt - 1);
    if (pl && nt - 1 > pl->nworkers) nt = pl->nworkers + 1;
    if (!pl || nt <= 1) {
        int outer = tls_in_parallel;
        tls_in_parallel = 1;
        fn(arg, 0, n, 0);
        tls_in_parallel = outer;
        return;
    }
    pool_job job = {fn, arg, n, grain, 0};
    atomic_init(&job.next, 0);
    pl->job = &job;
    atomic_store(&pl->remaining, (unsigned)(nt - 1));
    for (int i = 0; i < nt - 1; i++) {
        pool_worker *w = &pl->workers[i];
        atomic_fetch_add(&w->gen, 1);
        if (atomic_load(&w->sleeping)) futex_wake_all(&w->gen);
    }
    tls_in_parallel = 1;
    run_chunks(&job, 0);
    tls_in_parallel = 0;
    /* wait for the workers: spin, then sleep on `remaining` */
    unsigned r = atomic_load(&pl->remaining);
    while (r != 0) {
        wait_while_equal(&pl->remaining, r, &pl->caller_sleeping);
        r = atomic_load(&pl->remaining);
    }
}
