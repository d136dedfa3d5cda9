"""``python -m humanorai`` runs the same command line as ``humanorai``."""

from humanorai.cli import app

app(prog_name="humanorai")
