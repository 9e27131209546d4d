import sys

from jscc_rt.cli import main

sys.exit(main())
