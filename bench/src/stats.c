/* stats.c -- see stats.h. */
#include "stats.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile_sorted(const double *s, int n, double q)
{
    if (n < 1) return NAN;
    if (q <= 0) return s[0];
    if (q >= 100) return s[n - 1];
    double h = (n - 1) * (q / 100.0);
    int lo = (int)floor(h);
    if (lo >= n - 1) return s[n - 1];
    double f = h - lo;
    return s[lo] + f * (s[lo + 1] - s[lo]);
}

double bs_percentile(const double *x, int n, double q)
{
    if (!x || n < 1) return NAN;
    double *s = malloc(sizeof(double) * (size_t)n);
    if (!s) return NAN;
    memcpy(s, x, sizeof(double) * (size_t)n);
    qsort(s, (size_t)n, sizeof(double), cmp_double);
    double r = percentile_sorted(s, n, q);
    free(s);
    return r;
}

void bs_summarize(const double *x, int n, bs_summary *o)
{
    o->n = n < 0 ? 0 : n;
    o->min = o->max = o->mean = o->median = o->stddev = NAN;
    o->p90 = o->p95 = o->p99 = NAN;
    if (!x || n < 1) return;
    double *s = malloc(sizeof(double) * (size_t)n);
    if (!s) return;
    memcpy(s, x, sizeof(double) * (size_t)n);
    qsort(s, (size_t)n, sizeof(double), cmp_double);
    double sum = 0;
    for (int i = 0; i < n; i++) sum += s[i];
    double mean = sum / n, ss = 0;
    for (int i = 0; i < n; i++) ss += (s[i] - mean) * (s[i] - mean);
    o->min = s[0];
    o->max = s[n - 1];
    o->mean = mean;
    o->stddev = n > 1 ? sqrt(ss / (n - 1)) : 0.0;
    o->median = percentile_sorted(s, n, 50);
    o->p90 = percentile_sorted(s, n, 90);
    o->p95 = percentile_sorted(s, n, 95);
    o->p99 = percentile_sorted(s, n, 99);
    free(s);
}

/* ---- special functions ---------------------------------------------------------------- */
double bs_normal_sf(double z) { return 0.5 * erfc(z / sqrt(2.0)); }

/* continued fraction for the incomplete beta (modified Lentz) */
static double betacf(double a, double b, double x)
{
    const double tiny = 1e-300, eps = 1e-15;
    double qab = a + b, qap = a + 1, qam = a - 1;
    double c = 1, d = 1 - qab * x / qap;
    if (fabs(d) < tiny) d = tiny;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 1000; m++) {
        int m2 = 2 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < eps) break;
    }
    return h;
}

double bs_betainc(double a, double b, double x)
{
    if (x <= 0) return 0;
    if (x >= 1) return 1;
    double lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    double bt = exp(lbt);
    if (x < (a + 1) / (a + b + 2)) return bt * betacf(a, b, x) / a;
    return 1 - bt * betacf(b, a, 1 - x) / b;
}

double bs_student_t_sf(double t, double df)
{
    if (isnan(t) || df <= 0) return NAN;
    if (isinf(t)) return t > 0 ? 0.0 : 1.0;
    double tail = 0.5 * bs_betainc(df / 2, 0.5, df / (df + t * t)); /* P(T > |t|) */
    return t >= 0 ? tail : 1 - tail;
}

/* ---- Mann-Whitney U ------------------------------------------------------------------- */
typedef struct {
    double v;
    int from_x;
} mw_item;

static int cmp_item(const void *a, const void *b)
{
    double x = ((const mw_item *)a)->v, y = ((const mw_item *)b)->v;
    return (x > y) - (x < y);
}

/* P(U >= u) for the exact null distribution of U with sample sizes m, n (no ties): the
 * counts are the coefficients of the Gaussian binomial [m+n choose m]_q. */
static double mw_exact_sf(double u, int m, int n)
{
    if (m > n) { int t = m; m = n; n = t; }
    int umax = m * n;
    double *c = calloc((size_t)umax + (size_t)m + (size_t)n + 1, sizeof(double)); /* room for the intermediate degree */
    if (!c) return NAN;
    c[0] = 1;
    int deg = 0; /* current degree */
    for (int i = 1; i <= m; i++) {
        /* multiply by (1 - q^(n+i)) */
        int k = n + i, nd = deg + k;
        for (int j = nd; j >= k; j--) c[j] -= c[j - k];
        /* divide by (1 - q^i): b[j] = a[j] + b[j-i] */
        for (int j = i; j <= nd; j++) c[j] += c[j - i];
        deg = nd - i;
    }
    double total = 0, tail = 0;
    int ui = (int)ceil(u - 1e-9);
    for (int j = 0; j <= umax; j++) {
        if (c[j] < 0) c[j] = 0; /* rounding guard */
        total += c[j];
        if (j >= ui) tail += c[j];
    }
    free(c);
    return tail / total;
}

int bs_mann_whitney(const double *x, int nx, const double *y, int ny, bs_mwu *out)
{
    memset(out, 0, sizeof *out);
    out->p = NAN;
    if (!x || !y || nx < 1 || ny < 1) return -1;
    int n = nx + ny;
    mw_item *it = malloc(sizeof(mw_item) * (size_t)n);
    if (!it) return -1;
    for (int i = 0; i < nx; i++) it[i] = (mw_item){x[i], 1};
    for (int i = 0; i < ny; i++) it[nx + i] = (mw_item){y[i], 0};
    qsort(it, (size_t)n, sizeof(mw_item), cmp_item);
    double r1 = 0, tie_term = 0;
    int ties = 0;
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && it[j + 1].v == it[i].v) j++;
        double t = j - i + 1;
        double rank = (i + 1 + j + 1) / 2.0; /* average of ranks i+1..j+1 */
        for (int k = i; k <= j; k++)
            if (it[k].from_x) r1 += rank;
        if (t > 1) {
            ties = 1;
            tie_term += t * t * t - t;
        }
        i = j + 1;
    }
    free(it);
    double n1 = nx, n2 = ny;
    out->u1 = r1 - n1 * (n1 + 1) / 2;
    out->u2 = n1 * n2 - out->u1;
    double u = out->u1 > out->u2 ? out->u1 : out->u2;
    double p;
    if ((nx <= 8 || ny <= 8) && !ties) {
        out->exact = 1;
        p = 2 * mw_exact_sf(u, nx, ny);
    } else {
        out->exact = 0;
        double mu = n1 * n2 / 2, nn = n1 + n2;
        double s = sqrt(n1 * n2 / 12 * ((nn + 1) - tie_term / (nn * (nn - 1))));
        double num = u - mu - 0.5;
        if (s > 0) {
            p = 2 * bs_normal_sf(num / s);
        } else {
            p = 1.0; /* every value equal: no evidence of a difference */
        }
    }
    if (p > 1) p = 1;
    if (p < 0) p = 0;
    out->p = p;
    return 0;
}

/* ---- linear regression ---------------------------------------------------------------- */
int bs_linregress(const double *x, const double *y, int n, bs_linfit *o)
{
    memset(o, 0, sizeof *o);
    o->p = NAN;
    if (!x || !y || n < 3) return -1;
    double mx = 0, my = 0;
    for (int i = 0; i < n; i++) { mx += x[i]; my += y[i]; }
    mx /= n;
    my /= n;
    double sxx = 0, syy = 0, sxy = 0;
    for (int i = 0; i < n; i++) {
        double dx = x[i] - mx, dy = y[i] - my;
        sxx += dx * dx;
        syy += dy * dy;
        sxy += dx * dy;
    }
    if (sxx == 0) return -1;
    double r = (syy == 0) ? 0.0 : sxy / sqrt(sxx * syy);
    if (r > 1) r = 1;
    if (r < -1) r = -1;
    double df = n - 2;
    o->slope = sxy / sxx;
    o->intercept = my - o->slope * mx;
    o->r = r;
    if (fabs(r) >= 1) {
        o->p = 0;
        o->stderr_slope = 0;
    } else {
        double t = r * sqrt(df / ((1 - r) * (1 + r)));
        o->p = 2 * bs_student_t_sf(fabs(t), df);
        o->stderr_slope = sqrt((1 - r * r) * syy / sxx / df);
    }
    return 0;
}

int bs_slope_test(const double *y, int n, double tol_per_cycle, double alpha, bs_slope_result *o)
{
    memset(o, 0, sizeof *o);
    if (n < 3) return -1;
    double *x = malloc(sizeof(double) * (size_t)n);
    if (!x) return -1;
    for (int i = 0; i < n; i++) x[i] = i;
    int rc = bs_linregress(x, y, n, &o->fit);
    free(x);
    if (rc) return rc;
    o->growth = o->fit.slope * (n - 1);
    o->leak = o->fit.slope > tol_per_cycle && o->fit.p < alpha;
    return 0;
}

/* ---- regressions ---------------------------------------------------------------------- */
bs_level bs_level_of(double c)
{
    if (!(c >= 0.10)) return BS_LEVEL_NONE;
    if (c < 0.25) return BS_LEVEL_MINOR;
    if (c <= 0.50) return BS_LEVEL_MAJOR;
    return BS_LEVEL_CRITICAL;
}

const char *bs_level_name(bs_level l)
{
    switch (l) {
    case BS_LEVEL_MINOR: return "minor";
    case BS_LEVEL_MAJOR: return "major";
    case BS_LEVEL_CRITICAL: return "critical";
    default: return "none";
    }
}

int bs_compare(const double *base, int nb, const double *cur, int nc, double threshold,
               double alpha, bs_comparison *o)
{
    memset(o, 0, sizeof *o);
    if (!base || !cur || nb < 1 || nc < 1) return -1;
    o->median_base = bs_percentile(base, nb, 50);
    o->median_cur = bs_percentile(cur, nc, 50);
    if (bs_mann_whitney(cur, nc, base, nb, &o->mwu)) return -1;
    o->rel_change = o->median_base > 0 ? (o->median_cur - o->median_base) / o->median_base : 0;
    o->significant = o->mwu.p < alpha;
    o->regression = o->significant && o->rel_change > threshold;
    o->improvement = o->significant && o->rel_change < -threshold;
    o->level = o->regression ? bs_level_of(o->rel_change) : BS_LEVEL_NONE;
    return 0;
}
