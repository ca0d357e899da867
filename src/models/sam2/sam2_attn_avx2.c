/* sam2_attn_avx2.c -- AVX2 instantiation of sam2_attn_tmpl.h */
#define SIMD_VEC_AVX2 1
#include "simd_vec.h"
#include "sam2_attn_tmpl.h"
