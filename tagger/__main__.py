"""``python -m tagger ...`` runs the command line (also under torchrun)."""

from cli import main

main()
