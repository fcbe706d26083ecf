import sys

from motionlab.cli import main

sys.exit(main())
