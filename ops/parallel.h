/* parallel.h -- the kernels' thread pool (ops/parallel.c).
 *
 * Why our own pool and not OpenMP: libgomp's idle threads spin for ~3 ms (300k pauses) before
 * they sleep, and it reads OMP_WAIT_POLICY / GOMP_SPINCOUNT once, in its own constructor,
 * before any code of ours runs, so a library cannot change that for its users. On a shared
 * machine the spinning thread burns the time slice the thread with the work needs: yolo11n
 * went from 0.13 s to 2.9 s with other jobs on the two cores. This pool spins for a bounded
 * time (OCELLUS_SPIN / oc_set_spin_us, default OC_SPIN_DEFAULT_US) and then sleeps on a
 * futex, both when a worker waits for work and when the caller waits for the workers.
 *
 * Each calling thread gets its own set of workers (created on first use, joined when that
 * thread exits), so several sessions can run concurrently from different threads, as with
 * OpenMP's per-master teams. A call made from inside a parallel loop runs serially on the
 * calling thread (tid 0), like a nested OpenMP region.
 */
#ifndef OC_PARALLEL_H
#define OC_PARALLEL_H

#include <stdint.h>

#define OC_SPIN_DEFAULT_US 20

/* fn runs over [begin, end) sub-ranges of [0, n) as thread tid (0 <= tid < nthreads). */
typedef void (*oc_range_fn)(void *arg, int64_t begin, int64_t end, int tid);

/* Runs fn over [0, n) with up to nthreads threads (the caller is thread 0). Threads take
 * chunks of `grain` items (grain <= 0: about n / (4 * nthreads)) from a shared counter until
 * none is left, so a thread that loses its core does not hold back the others for long.
 * Which thread runs which chunk varies from run to run: fn's result for an item must depend
 * only on the item (tid is for choosing per-thread scratch). Returns when all chunks are
 * done; their writes are then visible to the caller. */
void oc_parallel_for(int nthreads, int64_t n, int64_t grain, oc_range_fn fn, void *arg);

/* How long an idle pool thread spins (microseconds) before it sleeps: OCELLUS_SPIN
 * (microseconds, or "passive" = 0, "active" = never sleep) until oc_parallel_set_spin_us
 * (behind the public oc_set_spin_us) sets it. */
int oc_parallel_spin_us(void);
void oc_parallel_set_spin_us(int us);
/* OCELLUS_SPIN's value -> microseconds (NULL, empty or not understood: the default) */
int oc_parallel_parse_spin(const char *s);

#endif
