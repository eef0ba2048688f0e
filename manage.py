#!/usr/bin/env python
"""Django's command-line utility; the run mode comes from CAMIO_MODE."""

import sys


def main() -> None:
    """Run a management command under the current mode's settings."""
    from camio_portal.env import use_default_settings

    use_default_settings()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
