import sys

from infermeter.cli import main

sys.exit(main())
