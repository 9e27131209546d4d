"""`python -m jscc_rt.cli` (e.g. under torchrun): the jscc-rt command line."""
import sys

from jscc_rt.cli import main

sys.exit(main())
