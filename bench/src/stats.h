/* stats.h -- the statistics of the benchmark tree: summaries and percentiles, the
 * Mann-Whitney U test, least-squares slope (leak and drift tests) and regression levels.
 * Pure C, no library state: tests/test_bench_stats.c checks every function against values
 * computed by scipy (tools/fixtures/bench_stats_expected.py). */
#ifndef BENCH_STATS_H
#define BENCH_STATS_H

typedef struct {
    int n;
    double min, max, mean, median, stddev; /* stddev: sample (n-1) standard deviation */
    double p90, p95, p99;
} bs_summary;

/* Percentile q in [0,100] with linear interpolation between closest ranks (numpy's default
 * "linear" method). x need not be sorted; it is not modified. Returns NAN when n < 1. */
double bs_percentile(const double *x, int n, double q);
/* Fill every field (NAN for n < 1; stddev 0 for n == 1). */
void bs_summarize(const double *x, int n, bs_summary *out);

/* Two-sided Mann-Whitney U test, as scipy.stats.mannwhitneyu(x, y) with its defaults
 * (alternative='two-sided', use_continuity=True, method='auto': the exact distribution when
 * one sample has <= 8 values and there are no ties, else the normal approximation with the
 * tie correction). u1 is the statistic of x (scipy's returned value), u2 = nx*ny - u1. */
typedef struct {
    double u1, u2;
    double p;
    int exact; /* 1: exact distribution, 0: normal approximation */
} bs_mwu;
/* Returns 0 on success, -1 when a sample is empty or memory runs out. */
int bs_mann_whitney(const double *x, int nx, const double *y, int ny, bs_mwu *out);

/* Least-squares line y = intercept + slope * x, as scipy.stats.linregress: r, the two-sided
 * p-value of "slope == 0" (Student t with n-2 degrees of freedom) and the slope's standard
 * error. Returns -1 when n < 3 or all x are equal. */
typedef struct {
    double slope, intercept, r, p, stderr_slope;
} bs_linfit;
int bs_linregress(const double *x, const double *y, int n, bs_linfit *out);

/* Upper tail of the standard normal, and of Student t with df degrees of freedom. */
double bs_normal_sf(double z);
double bs_student_t_sf(double t, double df);
/* Regularized incomplete beta I_x(a, b). */
double bs_betainc(double a, double b, double x);

/* Slope test for leaks: samples y[i] taken after cycle i (x = 0, 1, 2, ...). A leak is a
 * slope above tol_per_cycle (units of y per cycle) that is also significant (p < alpha). */
typedef struct {
    bs_linfit fit;
    double growth;   /* slope * (n - 1): the fitted growth over the whole run */
    int leak;
} bs_slope_result;
int bs_slope_test(const double *y, int n, double tol_per_cycle, double alpha, bs_slope_result *out);

/* Regression levels by relative change of the median: minor 10-25%, major 25-50%,
 * critical > 50%. */
typedef enum { BS_LEVEL_NONE = 0, BS_LEVEL_MINOR, BS_LEVEL_MAJOR, BS_LEVEL_CRITICAL } bs_level;
bs_level bs_level_of(double rel_change);
const char *bs_level_name(bs_level l);

/* Compare current samples against baseline samples (lower is better, e.g. latency).
 * rel_change = (median(cur) - median(base)) / median(base). A regression needs BOTH
 * rel_change > threshold AND p < alpha (Mann-Whitney U); an improvement is the mirror
 * (rel_change < -threshold and p < alpha). level is bs_level_of(rel_change) for a
 * regression, BS_LEVEL_NONE otherwise. */
typedef struct {
    double median_base, median_cur, rel_change;
    bs_mwu mwu;
    int significant, regression, improvement;
    bs_level level;
} bs_comparison;
int bs_compare(const double *base, int nb, const double *cur, int nc, double threshold,
               double alpha, bs_comparison *out);

#endif
