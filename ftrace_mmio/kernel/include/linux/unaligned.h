/* Newer kernels moved asm/unaligned.h here; both spellings work. */
#include <asm/unaligned.h>
