"""scripts/submit: run one job, or the whole pipeline, with spark-submit against any master.

The package ships to the executors as a wheel (--py-files) that carries conf/ and schemas/, so the
driver and the executors read the same schema files and policy as the checkout that built it. The
Delta jars come from jars_dir (--jars) or, when an environment names none, from Maven (--packages);
the environment's spark.* settings become --conf. The lake is resolved here, on the submitting side,
so a relative lake in an environment file means the same folder it means to `tradematch`.
"""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from tradematch.settings import PACKAGED, Settings, SettingsError, load_settings, project_root
from tradematch.spark import DELTA_CATALOG, DELTA_EXTENSION

POM = "scripts/delta-jars.pom.xml"


def build_wheel(root: Path, out: Path) -> Path:
    """dist/tradematch-*.whl: the package with conf/ and schemas/ under tradematch/_project/.

    It is built from a staged copy of the tree so the checkout itself never holds a second copy.
    """
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("tradematch-*.whl"):
        old.unlink()
    with tempfile.TemporaryDirectory(prefix="tradematch-wheel-") as tmp:
        src = Path(tmp)
        shutil.copytree(root / "lib", src / "lib", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        for part in ("conf", "schemas"):
            shutil.copytree(root / part, src / "lib" / "tradematch" / PACKAGED / part)
        for file in ("pyproject.toml", "README.md"):
            shutil.copy(root / file, src / file)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(src)],
                       check=True, stdout=sys.stderr)
    (wheel,) = out.glob("tradematch-*.whl")
    return wheel


def delta_package(root: Path) -> str:
    """The Maven coordinate of the Delta jars scripts/setup fetches (one place names the version)."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    dep = ET.parse(root / POM).getroot().find("m:dependencies/m:dependency", ns)
    return ":".join(dep.find(f"m:{tag}", ns).text for tag in ("groupId", "artifactId", "version"))


def _delta_jars(settings: Settings, root: Path) -> list[str]:
    folder = settings.jars_path()
    jars = sorted(folder.glob("*.jar")) if folder and folder.is_dir() else []
    if jars:
        return ["--jars", ",".join(str(j) for j in jars)]
    return ["--packages", delta_package(root)]


def command(settings: Settings, job: str, master: str, wheel: Path, job_args: list[str],
            root: Path, deploy_mode: str = "client") -> list[str]:
    """The spark-submit command line for jobs/<job>.py with the tradematch options job_args."""
    entry = root / "jobs" / f"{job}.py"
    if not entry.is_file():
        known = sorted(p.stem for p in (root / "jobs").glob("*.py"))
        raise SettingsError(f"no entry point jobs/{job}.py (jobs: {', '.join(known)})")
    spark_home = os.environ.get("SPARK_HOME")
    submit = str(Path(spark_home) / "bin" / "spark-submit") if spark_home else str(Path(sys.executable).parent / "spark-submit")
    conf = {**settings.spark, "spark.sql.extensions": DELTA_EXTENSION,
            "spark.sql.catalog.spark_catalog": DELTA_CATALOG}
    return [submit, "--master", master, "--deploy-mode", deploy_mode, "--name", f"tradematch-{job}",
            *_delta_jars(settings, root), "--py-files", str(wheel),
            *[arg for key, value in sorted(conf.items()) for arg in ("--conf", f"{key}={value}")],
            str(entry), "--env", settings.env, "--lake", settings.lake_uri(), *job_args]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scripts/submit", description=__doc__.splitlines()[0])
    parser.add_argument("--master", help="Spark master URL (default: the environment's master)")
    parser.add_argument("--deploy-mode", default="client", choices=("client", "cluster"))
    parser.add_argument("--print", action="store_true", help="print the spark-submit command, do not run it")
    parser.add_argument("job", help="a jobs/ entry point: pipeline (every job in order) or one job's name")
    return parser


def _global_options() -> argparse.ArgumentParser:
    """The tradematch global options the submitter must see itself (the rest go to the job untouched)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--env", default="local")
    parser.add_argument("--lake")
    parser.add_argument("--set", action="append", default=[])
    return parser


def main(argv: list[str] | None = None) -> int:
    args, rest = _parser().parse_known_args(argv)
    known, job_args = _global_options().parse_known_args(rest)
    root = project_root()
    try:
        settings = load_settings(known.env, [*known.set, *([f"lake={known.lake}"] if known.lake else [])])
        master = args.master or settings.master
        if not master:
            raise SettingsError(f"{settings.source}: master is null: pass --master")
        wheel = build_wheel(root, root / "dist")
        cmd = command(settings, args.job, master, wheel, [f"--set={s}" for s in known.set] + job_args,
                      root, args.deploy_mode)
    except SettingsError as exc:
        print(f"scripts/submit: error: {exc}", file=sys.stderr)
        return 2
    if args.print:
        print(shlex.join(cmd))
        return 0
    print(f"scripts/submit: {shlex.join(cmd)}", file=sys.stderr, flush=True)
    env = dict(os.environ)
    env.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    if master.startswith("local"):  # executors are this machine: the same Python
        env.setdefault("PYSPARK_PYTHON", sys.executable)
    return subprocess.run(cmd, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
