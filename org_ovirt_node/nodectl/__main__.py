"""`python3 -m org_ovirt_node.nodectl` is `nodectl`."""

import sys

from org_ovirt_node.nodectl.cli import main

sys.exit(main())
