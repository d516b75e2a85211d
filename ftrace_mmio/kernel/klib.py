"""The kernel's own library code, as guest machine code.

memcpy, memset and the string functions run on the emulated CPU (compiled
once with the module flags and cached), not in Python: a driver that
memcpy()s into an ioremap'd buffer then makes real CPU accesses, as it would
on a real kernel, and gcc's implicit calls to memcpy/memset for structure
copies land here too.  The copies use ``rep movsb``/``rep stosb`` like an
x86-64 kernel on a CPU with fast string operations.
"""

from __future__ import annotations

from pathlib import Path

KLIB_NAME = "kernel"

# The rest of the kernel's guest code: every kernel/core/*.c, built as one
# unit (so their static names must not clash) with the module flags and
# headers, loaded at boot after this library.
CORE_DIR = Path(__file__).resolve().parent / "core"
CORE_NAME = "vmlinux"
CORE_FLAGS = (f"-fmacro-prefix-map={CORE_DIR}/=kernel/",)


def core_source() -> str:
    """One translation unit that includes every kernel/core/*.c."""
    files = sorted(CORE_DIR.glob("*.c"))
    return "".join(f'#include "{f}"\n' for f in files)

KLIB_SOURCE = r"""
typedef unsigned long size_t;
typedef long ssize_t;

void *memcpy(void *dest, const void *src, size_t n)
{
	void *d = dest;

	__asm__ __volatile__("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	return dest;
}

void *memset(void *s, int c, size_t n)
{
	void *d = s;

	__asm__ __volatile__("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return s;
}

void *memmove(void *dest, const void *src, size_t n)
{
	if ((unsigned long)dest <= (unsigned long)src ||
	    (unsigned long)dest >= (unsigned long)src + n)
		return memcpy(dest, src, n);
	{
		/* Overlapping with dest above src: copy backwards. */
		char *d = (char *)dest + n - 1;
		const char *s = (const char *)src + n - 1;

		__asm__ __volatile__("std\n\trep movsb\n\tcld"
				     : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	}
	return dest;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x < *y ? -1 : 1;
	return 0;
}

size_t strlen(const char *s)
{
	const char *p = s;

	while (*p)
		p++;
	return p - s;
}

size_t strnlen(const char *s, size_t maxlen)
{
	size_t n = 0;

	while (n < maxlen && s[n])
		n++;
	return n;
}

int strcmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned char x = *a, y = *b;

		if (x != y)
			return x < y ? -1 : 1;
		if (!x)
			return 0;
	}
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		unsigned char x = *a, y = *b;

		if (x != y)
			return x < y ? -1 : 1;
		if (!x)
			return 0;
	}
	return 0;
}

char *strcpy(char *dest, const char *src)
{
	char *d = dest;

	while ((*d++ = *src++))
		;
	return dest;
}

char *strncpy(char *dest, const char *src, size_t n)
{
	size_t i = 0;

	for (; i < n && src[i]; i++)
		dest[i] = src[i];
	for (; i < n; i++)
		dest[i] = 0;
	return dest;
}

ssize_t strscpy(char *dest, const char *src, size_t count)
{
	size_t i;

	if (!count)
		return -7;		/* -E2BIG */
	for (i = 0; i < count; i++) {
		dest[i] = src[i];
		if (!src[i])
			return i;
	}
	dest[count - 1] = 0;
	return -7;
}

char *strchr(const char *s, int c)
{
	for (;; s++) {
		if (*s == (char)c)
			return (char *)s;
		if (!*s)
			return 0;
	}
}
"""

# Extra flags: keep gcc from turning these loops back into calls to
# themselves.
KLIB_CFLAGS = ("-fno-tree-loop-distribute-patterns", "-fno-builtin")
