/* eltwise_avx512.c -- avx512 instantiation of the row kernels in eltwise_tmpl.h */
#define SIMD_VEC_AVX512 1
#include "simd_vec.h"
#include "eltwise_tmpl.h"
