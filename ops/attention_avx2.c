/* attention_avx2.c -- avx2 instantiation of the tiled attention in h4_attn_tmpl.h */
#define H4_AVX2 1
#include "h4_vec.h"
#include "h4_attn_tmpl.h"
