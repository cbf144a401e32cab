"""``python -m tf_green``: the same as the ``tf-green`` command.

Python imports the ``tf_green`` package (and with it TensorFlow) before this module runs, so
TensorFlow's import-time log lines still show here; the ``tf-green`` console script
(``_tf_green_launcher``) hides them.
"""

from tf_green.cli import main

raise SystemExit(main())
