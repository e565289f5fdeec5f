"""Command-line interface: ``mdkoop <command>`` (see :mod:`mdkoop.cli.main`)."""
