/* Scope-based cleanup, as the kernel's (6.5+): a variable declared with a
 * cleanup attribute runs its destructor when it goes out of scope.
 *
 *   struct foo *p __free(kfree) = kzalloc(...);   freed on every return
 *   return_ptr(p);                                 ... unless handed out
 *   guard(mutex)(&dev->lock);                      unlocked at scope end
 *   scoped_guard(spinlock_irqsave, &dev->slock) { ... }
 *
 * The lock classes are defined next to their locks (mutex.h, spinlock.h). */
#ifndef _LINUX_CLEANUP_H
#define _LINUX_CLEANUP_H

#include <linux/compiler.h>

#ifndef __cleanup
#define __cleanup(func) __attribute__((__cleanup__(func)))
#endif

/* __free(name): the cleanup defined by DEFINE_FREE(name, type, expr), where
 * expr sees the variable's value as _T. */
#define DEFINE_FREE(_name, _type, _free) \
	static __always_inline void __free_##_name(void *p) { _type _T = *(_type *)p; _free; }
#define __free(_name) __cleanup(__free_##_name)

/* Take the value out of a __free variable, leaving NULL so nothing is freed. */
#define __get_and_null(p, nullvalue) ({ \
	__auto_type __gan_ptr = &(p); \
	__auto_type __gan_val = *__gan_ptr; \
	*__gan_ptr = nullvalue; \
	__gan_val; \
})
#define take_ptr(p) __get_and_null(p, NULL)
#define no_free_ptr(p) ((__typeof__(p))__get_and_null(p, NULL))
#define retain_and_null_ptr(p) ((void)__get_and_null(p, NULL))
#define return_ptr(p) return no_free_ptr(p)

/* A class: a type with a constructor (its arguments) and a destructor (_T
 * points at the object). CLASS(name, var)(args) declares one. */
#define DEFINE_CLASS(_name, _type, _exit, _init, _init_args...) \
	typedef _type class_##_name##_t; \
	static __always_inline void class_##_name##_destructor(_type *p) \
	{ _type _T = *p; _exit; } \
	static __always_inline _type class_##_name##_constructor(_init_args) \
	{ _type t = _init; return t; }
#define CLASS(_name, var) \
	class_##_name##_t var __cleanup(class_##_name##_destructor) = class_##_name##_constructor

/* A guard on a lock given by pointer: _lock and _unlock see it as _T. */
#define DEFINE_GUARD(_name, _type, _lock, _unlock) \
	DEFINE_CLASS(_name, _type, if (_T) { _unlock; }, ({ _lock; _T; }), _type _T); \
	static __always_inline void *class_##_name##_lock_ptr(class_##_name##_t *_T) \
	{ return (void *)(unsigned long)*_T; }
/* A conditional variant: _cond decides whether the lock was taken. */
#define DEFINE_GUARD_COND(_name, _ext, _condlock) \
	typedef class_##_name##_t class_##_name##_ext##_t; \
	static __always_inline void class_##_name##_ext##_destructor(class_##_name##_t *p) \
	{ class_##_name##_destructor(p); } \
	static __always_inline class_##_name##_t class_##_name##_ext##_constructor(class_##_name##_t _T) \
	{ class_##_name##_t t = (_condlock) ? _T : NULL; return t; } \
	static __always_inline void *class_##_name##_ext##_lock_ptr(class_##_name##_t *_T) \
	{ return class_##_name##_lock_ptr(_T); }

#define guard(_name) CLASS(_name, __UNIQUE_ID(guard))
#define __guard_ptr(_name) class_##_name##_lock_ptr

/* The body runs once, with the lock held; break leaves it early. */
#define scoped_guard(_name, args...) \
	for (CLASS(_name, __scoped)(args), *__scoped_done = NULL; \
	     __guard_ptr(_name)(&__scoped) && !__scoped_done; __scoped_done = (void *)1)
/* As scoped_guard, for a conditional lock: _fail runs if it was not taken. */
#define scoped_cond_guard(_name, _fail, args...) \
	for (CLASS(_name, __scoped)(args), *__scoped_done = NULL; !__scoped_done; \
	     __scoped_done = (void *)1) \
		if (!__guard_ptr(_name)(&__scoped)) { _fail; } else

/* Guards on locks that need state besides the lock (saved flags ...):
 * _T->lock is the lock, other members come from the trailing arguments. */
#define DEFINE_LOCK_GUARD_1(_name, _type, _lock, _unlock, ...) \
	typedef struct { _type *lock; __VA_ARGS__; } class_##_name##_t; \
	static __always_inline void class_##_name##_destructor(class_##_name##_t *_T) \
	{ if (_T->lock) { _unlock; } } \
	static __always_inline class_##_name##_t class_##_name##_constructor(_type *l) \
	{ class_##_name##_t _t = { .lock = l }, *_T = &_t; _lock; return _t; } \
	static __always_inline void *class_##_name##_lock_ptr(class_##_name##_t *_T) \
	{ return (void *)_T->lock; }
#define DEFINE_LOCK_GUARD_1_COND(_name, _ext, _condlock) \
	typedef class_##_name##_t class_##_name##_ext##_t; \
	static __always_inline void class_##_name##_ext##_destructor(class_##_name##_t *_T) \
	{ class_##_name##_destructor(_T); } \
	static __always_inline class_##_name##_t class_##_name##_ext##_constructor(void *l) \
	{ class_##_name##_t _t = { .lock = l }, *_T = &_t; if (!(_condlock)) _T->lock = NULL; \
	  return _t; } \
	static __always_inline void *class_##_name##_ext##_lock_ptr(class_##_name##_t *_T) \
	{ return class_##_name##_lock_ptr(_T); }
/* Guards with no lock object (irq off, preemption off). */
#define DEFINE_LOCK_GUARD_0(_name, _lock, _unlock, ...) \
	typedef struct { void *lock; __VA_ARGS__; } class_##_name##_t; \
	static __always_inline void class_##_name##_destructor(class_##_name##_t *_T) \
	{ if (_T->lock) { _unlock; } } \
	static __always_inline class_##_name##_t class_##_name##_constructor(void) \
	{ class_##_name##_t _t = { .lock = (void *)1 }, *_T __maybe_unused = &_t; _lock; return _t; } \
	static __always_inline void *class_##_name##_lock_ptr(class_##_name##_t *_T) \
	{ return _T->lock; }

#endif
