"""`python -m faregate`: the same command line as the `faregate` script."""

from faregate.cli import main

main()
