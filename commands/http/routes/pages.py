"""The pages for people (finance, auditor) and the API docs: static files from the package.

The two pages share one layout (head, navigation, the sign-in field) and differ in their main
part and scripts. They hold no data: they call the JSON API with the token the person signs in
with, kept in sessionStorage.
"""

from dataclasses import dataclass
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)
STATIC_PACKAGE = ("commands.http", "static")
COMMON_SCRIPTS = ("/static/common.js",)


@dataclass(frozen=True)
class Page:
    """One page: where it is served, its title, its main part and its scripts."""

    path: str
    title: str
    main_file: str
    scripts: tuple[str, ...]


PAGES = (
    Page(
        "/",
        "Finance",
        "finance.main.html",
        ("/static/vendor/chart.js/chart.umd.min.js", *COMMON_SCRIPTS, "/static/finance.js"),
    ),
    Page("/auditor", "Auditor", "auditor.main.html", (*COMMON_SCRIPTS, "/static/auditor.js")),
)


def _static_text(file_name: str) -> str:
    folder = resources.files(STATIC_PACKAGE[0]).joinpath(STATIC_PACKAGE[1])
    return folder.joinpath(file_name).read_text(encoding="utf-8")


def render(page: Page) -> str:
    """The page's HTML: the layout around its main part; scripts by URL only (CSP)."""
    nav = "".join(
        f'<a href="{other.path}"'
        + (' aria-current="page"' if other is page else "")
        + f">{other.title}</a>"
        for other in PAGES
    )
    scripts = "\n".join(f'  <script src="{url}" defer></script>' for url in page.scripts)
    return _static_text("layout.html").format(
        title=page.title.lower(), scripts=scripts, nav=nav, main=_static_text(page.main_file)
    )


def _add(path: str, name: str, html: str) -> None:
    def page() -> HTMLResponse:
        return HTMLResponse(html)

    router.add_api_route(path, page, methods=["GET"], name=name)


for _page in PAGES:
    _add(_page.path, f"page_{_page.title.lower()}", render(_page))
_add("/docs", "page_docs", _static_text("docs.html"))
