import sys

from assistant.training import main

sys.exit(main())
