"""``python -m learned_aug.cli``: the ``learned-aug`` command (as torchrun relaunches it)."""

from learned_aug.cli import main

raise SystemExit(main())
