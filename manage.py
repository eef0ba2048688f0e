#!/usr/bin/env python
"""Django's command-line utility; the run mode comes from CAMIO_MODE."""

import sys

from camio_portal.cli import manage

if __name__ == "__main__":
    sys.exit(manage(sys.argv[1:], prog=sys.argv[0]))
