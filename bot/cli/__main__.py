"""`python -m bot.cli` runs the CLI (benchmarks use it to measure a fresh process)."""

from bot.cli import main

main()
