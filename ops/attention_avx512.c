/* attention_avx512.c -- avx512 instantiation of the tiled attention in h4_attn_tmpl.h */
#define H4_AVX512 1
#include "h4_vec.h"
#include "h4_attn_tmpl.h"
