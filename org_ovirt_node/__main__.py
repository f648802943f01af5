"""`python3 -m org_ovirt_node` is the `ovirt-node` command."""

import sys

from org_ovirt_node.cli.main import main

sys.exit(main())
