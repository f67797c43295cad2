"""Great Expectations Data Docs for every suite, readable without internet.

GE 1.24's pages load Bootstrap, jQuery, bootstrap-table, Vega, Font Awesome and a datepicker from CDNs, and
its logo from S3.
A suite page is rendered server-side and needs none of their scripts, so each page loses its remote
<script> and <link> tags, takes the logo from the site's own static/images, and links Bootstrap's CSS
from a local copy instead: the one Spark's own web UI ships inside the spark-core jar (pyspark is a dependency anyway). GE's index page lists the suites only
through bootstrap-table's JavaScript, so it is not written: the report is the index, and each page's
Home link points back to it.
"""
from __future__ import annotations

import re
import uuid
import zipfile
from pathlib import Path

from tradematch.quality import context, gx_suite
from tradematch.schema import Catalog

FOLDER = "data_docs"
_REMOTE = re.compile(r'<script[^>]*\bsrc="https?://[^"]*"[^>]*>\s*</script>\s*|<link[^>]*\bhref="https?://[^"]*"[^>]*>\s*')
_LOGO = re.compile(r'src="https?://[^"]*/(logo-long\.png)[^"]*"')  # GE's logo, also in the site's static/images
_BOOTSTRAP = "org/apache/spark/ui/static/bootstrap.min.css"


def build(catalog: Catalog, out: Path, home: str) -> dict[str, str]:
    """Render each table's suite into out/data_docs/; {table: page path relative to out}."""
    ctx, _ = context()
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    names = [n for n in catalog.schemas() if catalog.suite_file(n).is_file()]
    for name in names:
        ctx.suites.add_or_update(gx_suite(catalog.schema(name), catalog.suite_file(name), name))
    site = f"report-{uuid.uuid4().hex[:8]}"
    ctx.add_data_docs_site(site, {"class_name": "SiteBuilder", "show_how_to_buttons": False,
                                  "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                                                    "base_directory": str(out / FOLDER)},
                                  "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"}})
    try:
        ctx.build_data_docs(site_names=[site], build_index=False,
                            resource_identifiers=[ExpectationSuiteIdentifier(name) for name in names])
    finally:
        ctx.delete_data_docs_site(site)
    styles = out / FOLDER / "static" / "styles"
    styles.mkdir(parents=True, exist_ok=True)
    (styles / "bootstrap.min.css").write_bytes(_spark_ui_bootstrap())
    pages = {}
    for name in names:
        page = out / FOLDER / "expectations" / f"{name}.html"
        page.write_text(offline(page.read_text(), f"../../{home}"))
        pages[name] = page.relative_to(out).as_posix()
    return pages


def offline(html: str, home: str) -> str:
    """A suite page without remote scripts, styles and images, with local Bootstrap CSS and Home linking to home."""
    html = _LOGO.sub(r'src="../static/images/\1"', _REMOTE.sub("", html)).replace('href="../index.html"', f'href="{home}"')
    return html.replace("<head>", '<head>\n<link rel="stylesheet" href="../static/styles/bootstrap.min.css">', 1)


def _spark_ui_bootstrap() -> bytes:
    import pyspark

    jars = sorted((Path(pyspark.__file__).parent / "jars").glob("spark-core_*.jar"))
    if not jars:
        raise FileNotFoundError(f"no spark-core jar under {Path(pyspark.__file__).parent / 'jars'}")
    with zipfile.ZipFile(jars[-1]) as jar:
        return jar.read(_BOOTSTRAP)
