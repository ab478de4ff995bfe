"""``python -m yibao.cli``: the command line."""

from yibao.cli import main

main()
