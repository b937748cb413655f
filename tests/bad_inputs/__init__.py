"""A data-driven corpus of bad inputs, run by ``tests/test_bad_inputs.py``.

* :mod:`bad_inputs.api` — calls of the public :mod:`theory` API that must raise a
  one-line :class:`ValueError` saying what was expected.
* :mod:`bad_inputs.files` — ``dsb-verify`` command lines and the small bad files they
  read, built on the fly in a temporary directory; each must exit with code 2, one
  line on stderr, no traceback and no partial output.

An entry that the library does not yet refuse cleanly carries ``bug="..."``; the test
marks it ``xfail(strict=True)`` so the corpus records the defect and notices its fix.
"""
