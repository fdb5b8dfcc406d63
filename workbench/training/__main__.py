import sys

from workbench.training import main

sys.exit(main())
