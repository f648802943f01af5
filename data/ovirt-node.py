#!/usr/bin/python3
"""ovirt-node on an installed node: the package lives in dist-packages."""
import sys

from org_ovirt_node.cli.main import main

sys.exit(main())
