import sys

try:
    from hios_opt.cli import main
except KeyboardInterrupt:  # Ctrl-C while the command line loads: no traceback
    print("error: interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
