"""``python -m dsb_verifier.checks.cli``: the ``dsb-verify`` command."""

from dsb_verifier.checks.cli.main import console_main

console_main()
