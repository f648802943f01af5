"""Run the add-on service: what Anaconda's start-module starts (see data/)."""

import sys

from org_ovirt_node.service.server import main

sys.exit(main())
