import sys

from ferrous.server.app import main

if __name__ == "__main__":
    sys.exit(main())
