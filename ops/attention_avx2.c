/* attention_avx2.c -- avx2 instantiation of the tiled attention in attention_tmpl.h */
#define SIMD_VEC_AVX2 1
#include "simd_vec.h"
#include "attention_tmpl.h"
