/* __init/__exit markers.  The loader keeps all sections, so these only
 * document intent; initcalls are module_init/module_exit (linux/module.h). */
#ifndef _LINUX_INIT_H
#define _LINUX_INIT_H

#include <linux/compiler.h>

#define __init
#define __exit
#define __initdata
#define __exitdata
#define __initconst
#define __devinit
#define __devexit
#define __initdata_or_module
#define __init_or_module
#define __meminit
#define __ref
#define __refdata
#define __refconst
#define __exit_p(x) x
#define __devexit_p(x) x

#endif
