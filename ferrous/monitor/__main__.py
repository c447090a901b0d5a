import sys

from ferrous.monitor.app import main

if __name__ == "__main__":
    sys.exit(main())
