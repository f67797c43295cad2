"""spark-submit entry point: OPTIMIZE and VACUUM the lake's tables. Arguments are tradematch's global
options, then maintain's own (--tables T ..., --step optimize|vacuum)."""
import sys

from tradematch.cli import entry_point

if __name__ == "__main__":
    sys.exit(entry_point("maintain", ("--tables", "--step")))
