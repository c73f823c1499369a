import sys

from loyalty_local.server import main

sys.exit(main())
