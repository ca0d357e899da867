/* sam2_attn_avx512.c -- AVX-512 instantiation of sam2_attn_tmpl.h */
#define SIMD_VEC_AVX512 1
#include "simd_vec.h"
#include "sam2_attn_tmpl.h"
