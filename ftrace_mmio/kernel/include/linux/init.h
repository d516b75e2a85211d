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

#endif
