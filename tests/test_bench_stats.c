/* test_bench_stats.c -- the benchmark tree's statistics (bench/src/stats.c) against values
 * computed by scipy 1.10 / numpy 1.24 (tools/fixtures/bench_stats_expected.py prints the
 * samples and the expected numbers below; the samples come from a fixed seed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <math.h>
#include <cmocka.h>

#include "../bench/src/stats.c"

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void assert_close(double got, double want, double rel, const char *what)
{
    double tol = rel * fabs(want);
    if (tol < 1e-300) tol = 1e-300;
    if (!(fabs(got - want) <= tol)) {
        fprintf(stderr, "%s: got %.17g, want %.17g (rel tol %g)\n", what, got, want, rel);
        fail();
    }
}

/* ---- expected values (generated; do not edit by hand) ---- */
static const double mw_exact_x[5] = {9.8851790000000008, 11.549325, 10.968683, 10.222803000000001, 8.5813579999999998};
static const double mw_exact_y[7] = {9.5872139999999995, 12.686662999999999, 12.324527, 9.5052850000000007, 12.125349999999999, 9.1120850000000004, 12.497476000000001};
/* mw_exact: scipy mannwhitneyu U=12 p=0.43181818181818188 */
#define MW_EXACT_U 12
#define MW_EXACT_P 0.43181818181818188
static const double mw_ties_x[20] = {103, 104, 98, 103, 99, 94, 102, 102, 101, 101, 98, 100, 99, 96, 96, 100, 92, 99, 105, 106};
static const double mw_ties_y[24] = {105, 105, 101, 104, 101, 107, 101, 97, 98, 100, 108, 96, 107, 103, 101, 105, 113, 104, 103, 104, 102, 106, 98, 99};
/* mw_ties: scipy mannwhitneyu U=144 p=0.023892711606105746 */
#define MW_TIES_U 144
#define MW_TIES_P 0.023892711606105746
static const double reg_flag_x[30] = {139.07679999999999, 132.63849999999999, 131.7217, 147.35679999999999, 134.7816, 135.249, 126.1151, 139.07239999999999, 132.13829999999999, 140.16739999999999, 143.78219999999999, 139.15270000000001, 141.74019999999999, 142.34870000000001, 138.83799999999999, 136.304, 140.38839999999999, 139.30340000000001, 149.04249999999999, 154.99529999999999, 152.2047, 132.65770000000001, 144.46350000000001, 123.0591, 137.755, 138.46780000000001, 145.9829, 142.23830000000001, 136.79040000000001, 128.2979};
static const double reg_flag_y[30] = {98.766199999999998, 102.8002, 92.313599999999994, 94.901799999999994, 90.935699999999997, 98.994900000000001, 96.2042, 101.59139999999999, 99.517799999999994, 95.219999999999999, 107.13200000000001, 102.9982, 97.333799999999997, 94.637699999999995, 98.453800000000001, 106.7877, 92.951999999999998, 94.317300000000003, 95.668899999999994, 100.00490000000001, 105.6758, 102.2867, 100.8095, 101.4136, 95.294399999999996, 101.45950000000001, 99.624399999999994, 98.897999999999996, 107.6074, 97.891599999999997};
/* reg_flag: scipy mannwhitneyu U=900 p=3.0198593591621571e-11 */
#define REG_FLAG_U 900
#define REG_FLAG_P 3.0198593591621571e-11
#define REG_FLAG_BASE_MED 98.946449999999999
#define REG_FLAG_CUR_MED 139.07459999999998
static const double reg_noise_x[6] = {130, 95, 320, 125, 305, 92};
static const double reg_noise_y[6] = {100, 105, 90, 310, 95, 290};
/* reg_noise: scipy mannwhitneyu U=21.5 p=0.63035552636186443 */
#define REG_NOISE_U 21.5
#define REG_NOISE_P 0.63035552636186443
#define REG_NOISE_BASE_MED 102.5
#define REG_NOISE_CUR_MED 127.5
static const double reg_small_x[40] = {211.36930000000001, 207.0728, 209.8708, 210.9248, 213.34950000000001, 209.7037, 211.09739999999999, 211.5188, 210.0412, 208.51419999999999, 208.86259999999999, 212.86000000000001, 210.39519999999999, 207.60830000000001, 209.15940000000001, 207.41390000000001, 209.47030000000001, 209.47630000000001, 209.5788, 210.5752, 209.6388, 209.95490000000001, 211.92519999999999, 209.86170000000001, 205.2843, 211.68180000000001, 206.77160000000001, 207.7903, 207.93610000000001, 212.62819999999999, 210.69890000000001, 210.1858, 207.93979999999999, 209.84700000000001, 212.72300000000001, 211.37610000000001, 209.89109999999999, 210.7364, 209.85489999999999, 208.626};
static const double reg_small_y[40] = {198.70650000000001, 198.26259999999999, 196.3458, 199.6293, 198.16839999999999, 198.7123, 200.69999999999999, 199.99860000000001, 199.83940000000001, 199.5626, 200.30289999999999, 197.94309999999999, 199.73099999999999, 198.29730000000001, 199.25649999999999, 201.08940000000001, 198.02160000000001, 197.2929, 198.83250000000001, 200.78809999999999, 199.07159999999999, 197.44739999999999, 203.50999999999999, 201.56659999999999, 198.97630000000001, 202.5181, 194.79050000000001, 197.00839999999999, 199.31989999999999, 201.79499999999999, 201.14510000000001, 198.44450000000001, 202.91669999999999, 201.6934, 202.3116, 200.8715, 201.17310000000001, 199.08850000000001, 199.4384, 199.35910000000001};
/* reg_small: scipy mannwhitneyu U=1600 p=1.4350853063936679e-14 */
#define REG_SMALL_U 1600
#define REG_SMALL_P 1.4350853063936679e-14
static const double pct_x[23] = {143.46713, 99.709800000000001, 185.56844000000001, 146.64034000000001, 92.629750000000001, 411.96339999999998, 142.67528999999999, 191.67522, 159.17197999999999, 134.14225999999999, 234.68423999999999, 163.28818000000001, 110.57928, 272.42739, 82.125950000000003, 160.26187999999999, 309.81927999999999, 187.03931, 112.07419, 156.77828, 134.40763999999999, 142.26011, 195.45185000000001};
#define PCT_0 82.125950000000003
#define PCT_10 101.883696
#define PCT_50 156.77828
#define PCT_90 264.87876
#define PCT_95 306.08009099999992
#define PCT_99 389.49169360000008
#define PCT_100 411.96339999999998
#define PCT_MEAN 172.55831260869564
#define PCT_STD 75.545353715166613
static const double slope_leak[40] = {50006503, 50023745, 50008744, 50005589, 50034349, 49998009, 50044536, 49986435, 50044248, 50005664, 50028433, 50050635, 50049816, 50078395, 50043398, 50070455, 50049281, 50041824, 50064554, 50055686, 50091552, 50078197, 50103834, 50081123, 50080720, 50119953, 50085677, 50121430, 50107636, 50115644, 50091166, 50146026, 50145409, 50144726, 50126071, 50125067, 50168385, 50142604, 50180078, 50159112};
#define SLOPE_LEAK_SLOPE 4172.0959662288933
#define SLOPE_LEAK_INTERCEPT 49996261.853658535
#define SLOPE_LEAK_R 0.9405728200752721
#define SLOPE_LEAK_P 2.0454111443711276e-19
#define SLOPE_LEAK_STDERR 244.35858377119797
static const double slope_flat[40] = {49986621, 50018228, 50001083, 49990292, 49976602, 49992885, 49996002, 49961686, 49922497, 50013683, 50015793, 50002701, 50030818, 50008658, 50025197, 49990954, 50020781, 49990025, 50019641, 49996504, 50018624, 50054843, 50018587, 49969809, 49992063, 50028071, 50007830, 49975010, 49997563, 49976304, 50001066, 50005239, 50001994, 49956953, 49992083, 49997926, 49999002, 49960412, 49984561, 49995029};
#define SLOPE_FLAT_SLOPE -145.84840525328329
#define SLOPE_FLAT_INTERCEPT 50000184.543902442
#define SLOPE_FLAT_R -0.071744516396889682
#define SLOPE_FLAT_P 0.65998680449796931
#define SLOPE_FLAT_STDERR 328.92779275759409

static void test_percentiles_match_numpy(void **state)
{
    (void)state;
    assert_close(bs_percentile(pct_x, N_OF(pct_x), 0), PCT_0, 1e-12, "p0");
    assert_close(bs_percentile(pct_x, N_OF(pct_x), 10), PCT_10, 1e-12, "p10");
    assert_close(bs_percentile(pct_x, N_OF(pct_x), 50), PCT_50, 1e-12, "p50");
    assert_close(bs_percentile(pct_x, N_OF(pct_x), 90), PCT_90, 1e-12, "p90");
    assert_close(bs_percentile(pct_x, N_OF(pct_x), 95), PCT_95, 1e-12, "p95");
    assert_close(bs_percentile(pct_x, N_OF(pct_x), 99), PCT_99, 1e-12, "p99");
    assert_close(bs_percentile(pct_x, N_OF(pct_x), 100), PCT_100, 1e-12, "p100");
    bs_summary s;
    bs_summarize(pct_x, N_OF(pct_x), &s);
    assert_int_equal(s.n, 23);
    assert_close(s.min, PCT_0, 1e-12, "min");
    assert_close(s.max, PCT_100, 1e-12, "max");
    assert_close(s.median, PCT_50, 1e-12, "median");
    assert_close(s.p90, PCT_90, 1e-12, "summary p90");
    assert_close(s.p95, PCT_95, 1e-12, "summary p95");
    assert_close(s.p99, PCT_99, 1e-12, "summary p99");
    assert_close(s.mean, PCT_MEAN, 1e-12, "mean");
    assert_close(s.stddev, PCT_STD, 1e-10, "stddev (ddof=1)");
    /* the input stays unsorted: percentile must not reorder the caller's data */
    assert_true(pct_x[0] == 143.46713);
    /* edge cases */
    double one = 7.5;
    bs_summarize(&one, 1, &s);
    assert_true(s.median == 7.5 && s.p99 == 7.5 && s.stddev == 0.0);
    assert_true(isnan(bs_percentile(NULL, 0, 50)));
    double two[2] = {10, 20};
    assert_close(bs_percentile(two, 2, 95), 19.5, 1e-15, "two-point p95");
}

static void test_mann_whitney_exact(void **state)
{
    (void)state;
    bs_mwu r;
    assert_int_equal(bs_mann_whitney(mw_exact_x, N_OF(mw_exact_x), mw_exact_y, N_OF(mw_exact_y), &r), 0);
    assert_int_equal(r.exact, 1);
    assert_close(r.u1, MW_EXACT_U, 1e-12, "exact U");
    assert_close(r.u2, 5.0 * 7.0 - MW_EXACT_U, 1e-12, "exact U2");
    assert_close(r.p, MW_EXACT_P, 1e-9, "exact p");
    /* swapping the samples swaps U1/U2 and keeps the two-sided p */
    bs_mwu s;
    assert_int_equal(bs_mann_whitney(mw_exact_y, N_OF(mw_exact_y), mw_exact_x, N_OF(mw_exact_x), &s), 0);
    assert_close(s.u1, r.u2, 1e-12, "swapped U");
    assert_close(s.p, r.p, 1e-9, "swapped p");
    /* complete separation of 3 vs 3: exact p = 2 / C(6,3) = 0.1 */
    const double a[3] = {1, 2, 3}, b[3] = {4, 5, 6};
    assert_int_equal(bs_mann_whitney(a, 3, b, 3, &r), 0);
    assert_close(r.u1, 0, 1e-12, "separated U");
    assert_close(r.p, 0.1, 1e-12, "separated p");
    assert_int_equal(bs_mann_whitney(a, 0, b, 3, &r), -1);
}

static void test_mann_whitney_ties_asymptotic(void **state)
{
    (void)state;
    bs_mwu r;
    assert_int_equal(bs_mann_whitney(mw_ties_x, N_OF(mw_ties_x), mw_ties_y, N_OF(mw_ties_y), &r), 0);
    assert_int_equal(r.exact, 0);
    assert_close(r.u1, MW_TIES_U, 1e-12, "ties U");
    assert_close(r.p, MW_TIES_P, 1e-9, "ties p (tie-corrected normal approximation)");
    /* every value equal: no evidence */
    const double c[4] = {5, 5, 5, 5};
    assert_int_equal(bs_mann_whitney(c, 2, c + 2, 2, &r), 0);
    assert_close(r.p, 1.0, 1e-12, "all-equal p");
}

static void test_regression_flagged(void **state)
{
    (void)state;
    bs_comparison c;
    /* x = current, y = baseline */
    assert_int_equal(bs_compare(reg_flag_y, N_OF(reg_flag_y), reg_flag_x, N_OF(reg_flag_x), 0.20, 0.05, &c), 0);
    assert_close(c.median_base, REG_FLAG_BASE_MED, 1e-12, "base median");
    assert_close(c.median_cur, REG_FLAG_CUR_MED, 1e-12, "cur median");
    assert_close(c.mwu.u1, REG_FLAG_U, 1e-12, "flag U");
    assert_close(c.mwu.p, REG_FLAG_P, 1e-6, "flag p");
    assert_close(c.rel_change, REG_FLAG_CUR_MED / REG_FLAG_BASE_MED - 1, 1e-12, "change");
    assert_true(c.significant);
    assert_true(c.regression);
    assert_false(c.improvement);
    assert_int_equal(c.level, BS_LEVEL_MAJOR); /* +40.6% */
    /* the same data read the other way round is an improvement, not a regression */
    assert_int_equal(bs_compare(reg_flag_x, N_OF(reg_flag_x), reg_flag_y, N_OF(reg_flag_y), 0.20, 0.05, &c), 0);
    assert_false(c.regression);
    assert_true(c.improvement);
    assert_int_equal(c.level, BS_LEVEL_NONE);
}

static void test_regression_not_flagged_when_noisy(void **state)
{
    (void)state;
    bs_comparison c;
    assert_int_equal(bs_compare(reg_noise_y, N_OF(reg_noise_y), reg_noise_x, N_OF(reg_noise_x), 0.20, 0.05, &c), 0);
    assert_close(c.median_base, REG_NOISE_BASE_MED, 1e-12, "noise base median");
    assert_close(c.median_cur, REG_NOISE_CUR_MED, 1e-12, "noise cur median");
    assert_true(c.rel_change > 0.20); /* beyond the threshold ... */
    assert_int_equal(c.mwu.exact, 0); /* 95 is tied between the samples */
    assert_close(c.mwu.u1, REG_NOISE_U, 1e-12, "noise U");
    assert_close(c.mwu.p, REG_NOISE_P, 1e-9, "noise p");
    assert_false(c.significant); /* ... but not significant */
    assert_false(c.regression);
    assert_int_equal(c.level, BS_LEVEL_NONE);
}

static void test_regression_not_flagged_when_small(void **state)
{
    (void)state;
    bs_comparison c;
    assert_int_equal(bs_compare(reg_small_y, N_OF(reg_small_y), reg_small_x, N_OF(reg_small_x), 0.20, 0.05, &c), 0);
    assert_close(c.mwu.u1, REG_SMALL_U, 1e-12, "small U");
    assert_close(c.mwu.p, REG_SMALL_P, 1e-6, "small p");
    assert_true(c.significant); /* significant ... */
    assert_true(c.rel_change > 0.03 && c.rel_change < 0.07); /* ... but only ~5% */
    assert_false(c.regression);
    /* with a 3% threshold the same data is a regression, below the minor level */
    assert_int_equal(bs_compare(reg_small_y, N_OF(reg_small_y), reg_small_x, N_OF(reg_small_x), 0.03, 0.05, &c), 0);
    assert_true(c.regression);
    assert_int_equal(c.level, BS_LEVEL_NONE);
}

static void test_levels(void **state)
{
    (void)state;
    assert_int_equal(bs_level_of(0.05), BS_LEVEL_NONE);
    assert_int_equal(bs_level_of(0.10), BS_LEVEL_MINOR);
    assert_int_equal(bs_level_of(0.2499), BS_LEVEL_MINOR);
    assert_int_equal(bs_level_of(0.25), BS_LEVEL_MAJOR);
    assert_int_equal(bs_level_of(0.50), BS_LEVEL_MAJOR);
    assert_int_equal(bs_level_of(0.5001), BS_LEVEL_CRITICAL);
    assert_int_equal(bs_level_of(-0.8), BS_LEVEL_NONE);
    assert_int_equal(bs_level_of(NAN), BS_LEVEL_NONE);
    assert_string_equal(bs_level_name(BS_LEVEL_CRITICAL), "critical");
    /* a doubling with clean samples is critical */
    double b[12], c[12];
    for (int i = 0; i < 12; i++) { b[i] = 100 + i; c[i] = 200 + 2 * i; }
    bs_comparison r;
    assert_int_equal(bs_compare(b, 12, c, 12, 0.20, 0.05, &r), 0);
    assert_true(r.regression);
    assert_int_equal(r.level, BS_LEVEL_CRITICAL);
}

static void test_linregress_and_slope_test(void **state)
{
    (void)state;
    bs_slope_result s;
    assert_int_equal(bs_slope_test(slope_leak, N_OF(slope_leak), 1024.0, 0.01, &s), 0);
    assert_close(s.fit.slope, SLOPE_LEAK_SLOPE, 1e-9, "leak slope");
    assert_close(s.fit.intercept, SLOPE_LEAK_INTERCEPT, 1e-12, "leak intercept");
    assert_close(s.fit.r, SLOPE_LEAK_R, 1e-9, "leak r");
    assert_close(s.fit.p, SLOPE_LEAK_P, 1e-6, "leak p");
    assert_close(s.fit.stderr_slope, SLOPE_LEAK_STDERR, 1e-8, "leak stderr");
    assert_close(s.growth, SLOPE_LEAK_SLOPE * 39, 1e-9, "leak growth");
    assert_true(s.leak);

    assert_int_equal(bs_slope_test(slope_flat, N_OF(slope_flat), 1024.0, 0.01, &s), 0);
    assert_close(s.fit.slope, SLOPE_FLAT_SLOPE, 1e-8, "flat slope");
    assert_close(s.fit.intercept, SLOPE_FLAT_INTERCEPT, 1e-12, "flat intercept");
    assert_close(s.fit.r, SLOPE_FLAT_R, 1e-8, "flat r");
    assert_close(s.fit.p, SLOPE_FLAT_P, 1e-8, "flat p");
    assert_close(s.fit.stderr_slope, SLOPE_FLAT_STDERR, 1e-8, "flat stderr");
    assert_false(s.leak);

    /* a leak below the tolerance is not reported even though it is significant */
    assert_int_equal(bs_slope_test(slope_leak, N_OF(slope_leak), 8192.0, 0.01, &s), 0);
    assert_false(s.leak);
    /* perfectly flat counters (the allocator's live bytes): slope 0, no leak */
    double flat[10];
    for (int i = 0; i < 10; i++) flat[i] = 123456;
    assert_int_equal(bs_slope_test(flat, 10, 0.0, 0.01, &s), 0);
    assert_true(s.fit.slope == 0.0);
    assert_false(s.leak);
    /* one byte per cycle on exact counters is a leak with tolerance 0 */
    for (int i = 0; i < 10; i++) flat[i] = 1000 + 64.0 * i;
    assert_int_equal(bs_slope_test(flat, 10, 0.0, 0.01, &s), 0);
    assert_close(s.fit.slope, 64, 1e-12, "exact slope");
    assert_true(s.leak);
    assert_int_equal(bs_slope_test(flat, 2, 0.0, 0.01, &s), -1);
}

static void test_distribution_tails(void **state)
{
    (void)state;
    assert_close(bs_student_t_sf(2.5, 7), 0.020496109292876437, 1e-9, "t.sf(2.5,7)");
    assert_close(bs_student_t_sf(0.3, 30), 0.38312305264217639, 1e-9, "t.sf(0.3,30)");
    assert_close(bs_student_t_sf(-1.2, 12), 0.8733526348732028, 1e-9, "t.sf(-1.2,12)");
    assert_close(bs_normal_sf(1.96), 0.024997895148220435, 1e-12, "norm.sf(1.96)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percentiles_match_numpy),
        cmocka_unit_test(test_mann_whitney_exact),
        cmocka_unit_test(test_mann_whitney_ties_asymptotic),
        cmocka_unit_test(test_regression_flagged),
        cmocka_unit_test(test_regression_not_flagged_when_noisy),
        cmocka_unit_test(test_regression_not_flagged_when_small),
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_linregress_and_slope_test),
        cmocka_unit_test(test_distribution_tails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
