/* eltwise_avx512.c -- avx512 instantiation of the row kernels in h4_eltwise_tmpl.h */
#define H4_AVX512 1
#include "h4_vec.h"
#include "h4_eltwise_tmpl.h"
