"""spark-submit entry point: the affinity job. Arguments are tradematch's global options."""
import sys

from tradematch.cli import main

if __name__ == "__main__":
    sys.exit(main([*sys.argv[1:], "job", "affinity"]))
