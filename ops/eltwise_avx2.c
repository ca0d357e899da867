/* eltwise_avx2.c -- avx2 instantiation of the row kernels in h4_eltwise_tmpl.h */
#define H4_AVX2 1
#include "h4_vec.h"
#include "h4_eltwise_tmpl.h"
