/* Register fields named by their mask: FIELD_PREP(mask, v) puts v into the
 * field, FIELD_GET(mask, reg) takes it out.  With a constant mask the
 * checks run at compile time: an empty or non-contiguous mask, a constant
 * value that does not fit, or a mask wider than the register type stop the
 * build (the kernel's rules). */
#ifndef _LINUX_BITFIELD_H
#define _LINUX_BITFIELD_H

#include <linux/build_bug.h>
#include <linux/types.h>
#include <asm/byteorder.h>

/* The shift of a field is its mask's lowest set bit. */
#define __bf_shf(x) (__builtin_ffsll(x) - 1)

/* Unsigned type of the register, for the "mask too wide" check. */
#define __unsigned_scalar_typeof(x) __typeof__(_Generic((x), \
	char: (unsigned char)0, \
	unsigned char: (unsigned char)0, signed char: (unsigned char)0, \
	unsigned short: (unsigned short)0, signed short: (unsigned short)0, \
	unsigned int: (unsigned int)0, signed int: (unsigned int)0, \
	unsigned long: (unsigned long)0, signed long: (unsigned long)0, \
	unsigned long long: (unsigned long long)0, signed long long: (unsigned long long)0, \
	default: (x)))
#define __bf_cast_unsigned(type, x) ((__unsigned_scalar_typeof(type))(x))

#define __BF_FIELD_CHECK(_mask, _reg, _val, _pfx) ({ \
	BUILD_BUG_ON_MSG(!__builtin_constant_p(_mask), _pfx "mask is not constant"); \
	BUILD_BUG_ON_MSG((_mask) == 0, _pfx "mask is zero"); \
	BUILD_BUG_ON_MSG(__builtin_constant_p(_val) ? \
			 ~((_mask) >> __bf_shf(_mask)) & (0 + (_val)) : 0, \
			 _pfx "value too large for the field"); \
	BUILD_BUG_ON_MSG(__bf_cast_unsigned(_mask, _mask) > \
			 __bf_cast_unsigned(_reg, ~0ull), _pfx "type of reg too small for mask"); \
	BUILD_BUG_ON_NOT_POWER_OF_2((_mask) + (1ULL << __bf_shf(_mask))); })

/* Largest value the field holds. */
#define FIELD_MAX(_mask) ({ \
	__BF_FIELD_CHECK(_mask, 0ULL, 0ULL, "FIELD_MAX: "); \
	(__typeof__(_mask))((_mask) >> __bf_shf(_mask)); })

/* Would _val fit the field? */
#define FIELD_FIT(_mask, _val) ({ \
	__BF_FIELD_CHECK(_mask, 0ULL, 0ULL, "FIELD_FIT: "); \
	!((((__typeof__(_mask))(_val)) << __bf_shf(_mask)) & ~(_mask)); })

/* _val shifted into the field (bits outside the field dropped). */
#define FIELD_PREP(_mask, _val) ({ \
	__BF_FIELD_CHECK(_mask, 0ULL, _val, "FIELD_PREP: "); \
	((__typeof__(_mask))(_val) << __bf_shf(_mask)) & (_mask); })

/* The field's value in _reg. */
#define FIELD_GET(_mask, _reg) ({ \
	__BF_FIELD_CHECK(_mask, _reg, 0U, "FIELD_GET: "); \
	(__typeof__(_mask))(((_reg) & (_mask)) >> __bf_shf(_mask)); })

/* FIELD_PREP for constant expressions (static initialisers). */
#define FIELD_PREP_CONST(_mask, _val) \
	((__typeof__(_mask))(((_val) << __bf_shf(_mask)) & (_mask)) + \
	 BUILD_BUG_ON_ZERO((_mask) == 0 || \
			   (((_mask) + (1ULL << __bf_shf(_mask))) & \
			    ((_mask) + (1ULL << __bf_shf(_mask)) - 1)) != 0 || \
			   (~((_mask) >> __bf_shf(_mask)) & (_val)) != 0))

/* The typed forms: le32_encode_bits(v, field) and so on, with the field
 * given as a (constant) mask and the result in the register's byte order. */
extern void __field_bad_mask(void) __compiletime_error("bad bitfield mask");
extern void __field_overflow(void) __compiletime_error("value doesn't fit into mask");

static __always_inline u64 field_multiplier(u64 field)
{
	if ((field | (field - 1)) & ((field | (field - 1)) + 1))
		__field_bad_mask();
	return field & -field;
}
static __always_inline u64 field_mask(u64 field)
{
	return field / field_multiplier(field);
}
#define field_max(field) ((__typeof__(field))field_mask(field))


#define __BF_MAKE_OP(type, base, to, from) \
static __always_inline __##type type##_encode_bits(base v, base field) \
{ \
	if (__builtin_constant_p(v) && (v & ~field_mask(field))) \
		__field_overflow(); \
	return to((v & field_mask(field)) * field_multiplier(field)); \
} \
static __always_inline __##type type##_replace_bits(__##type old, base val, base field) \
{ \
	return (old & ~to(field)) | type##_encode_bits(val, field); \
} \
static __always_inline void type##p_replace_bits(__##type *p, base val, base field) \
{ \
	*p = (*p & ~to(field)) | type##_encode_bits(val, field); \
} \
static __always_inline base type##_get_bits(__##type v, base field) \
{ \
	return (from(v) & field) / field_multiplier(field); \
}
#define __BF_MAKE_OPS(size) \
	__BF_MAKE_OP(le##size, u##size, cpu_to_le##size, le##size##_to_cpu) \
	__BF_MAKE_OP(be##size, u##size, cpu_to_be##size, be##size##_to_cpu) \
	__BF_MAKE_OP(u##size, u##size, , )
__BF_MAKE_OP(u8, u8, , )
__BF_MAKE_OPS(16)
__BF_MAKE_OPS(32)
__BF_MAKE_OPS(64)
#undef __BF_MAKE_OP
#undef __BF_MAKE_OPS

#endif
