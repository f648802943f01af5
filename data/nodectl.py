#!/usr/bin/python3
"""nodectl on an installed node (/usr/sbin/nodectl): the package lives in dist-packages."""
import sys

from org_ovirt_node.nodectl.cli import main

sys.exit(main())
