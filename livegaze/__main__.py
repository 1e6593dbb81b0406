import sys

from livegaze.cli import main

sys.exit(main())
