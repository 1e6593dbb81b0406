import sys

try:
    from livegaze.cli import main
except KeyboardInterrupt:  # Ctrl-C during the first import
    print("livegaze: interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
