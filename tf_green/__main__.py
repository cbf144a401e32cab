"""``python -m tf_green``: the same as the ``tf-green`` command."""

from tf_green.cli import main

raise SystemExit(main())
