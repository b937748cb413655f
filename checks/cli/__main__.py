"""``python -m dsb_verifier.checks.cli``: the ``dsb-verify`` command."""

import sys

from dsb_verifier.checks.cli.main import main

sys.exit(main())
