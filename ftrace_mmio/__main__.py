import sys

from ftrace_mmio.cli import main

sys.exit(main())
