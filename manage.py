#!/usr/bin/env python3
"""Django's command-line utility for mailadmin."""

import os
import sys


def main() -> None:
    from mailadmin.dotenv import load_dotenv

    load_dotenv()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailadmin.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
