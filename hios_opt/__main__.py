import sys

from hios_opt.cli import main

sys.exit(main())
