/* attention_avx512.c -- avx512 instantiation of the tiled attention in attention_tmpl.h */
#define SIMD_VEC_AVX512 1
#include "simd_vec.h"
#include "attention_tmpl.h"
