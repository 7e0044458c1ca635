import sys

from edgeapp.cli import main

sys.exit(main())
