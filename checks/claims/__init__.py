"""One module per claim check (C1–C6 of docs/theory.md), their negative controls
(:mod:`.controls`) and the case-drawing machinery they share."""
