/* Run-time CPU feature detection, used to pick a kernel variant (never -march=native). */
#ifndef FASTCONV_CPU_H
#define FASTCONV_CPU_H
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define FC_X86 1
static inline int fc_cpu_has_avx2_fma(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
static inline int fc_cpu_has_avx512f(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}
#else
#define FC_X86 0
static inline int fc_cpu_has_avx2_fma(void) { return 0; }
static inline int fc_cpu_has_avx512f(void) { return 0; }
#endif
#endif
