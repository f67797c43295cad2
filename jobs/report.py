"""spark-submit entry point: the HTML report of the lake's latest run. Arguments are tradematch's global
options, then the report's own (--out DIR, --evaluation FILE)."""
import sys

from tradematch.cli import entry_point

if __name__ == "__main__":
    sys.exit(entry_point("report", ("--out", "--evaluation")))
