import sys

from clearing.cli import main

sys.exit(main())
