import sys

from clearing.cluster.main import main

sys.exit(main())
