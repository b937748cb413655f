"""``python -m benchmarks [--only SECTIONS] [--max-n N] [--repeat R] [--json FILE]``."""

from benchmarks import main

if __name__ == "__main__":
    raise SystemExit(main())
