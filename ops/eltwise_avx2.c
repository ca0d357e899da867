/* eltwise_avx2.c -- avx2 instantiation of the row kernels in eltwise_tmpl.h */
#define SIMD_VEC_AVX2 1
#include "simd_vec.h"
#include "eltwise_tmpl.h"
