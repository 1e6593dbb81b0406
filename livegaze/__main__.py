import os
import sys

try:
    from livegaze.cli import main
except KeyboardInterrupt:  # Ctrl-C during the first import: no interpreter shutdown (see cli.main)
    print("livegaze: interrupted", file=sys.stderr)
    sys.stderr.flush()
    os._exit(130)

sys.exit(main())
