import sys

from assistant.bench import main

sys.exit(main())
