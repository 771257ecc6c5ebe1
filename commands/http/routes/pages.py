"""The pages for people (finance, auditor) and the API docs: static files from the package.

The pages hold no data: they call the JSON API with the token the person signs in with.
"""

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)
STATIC_PACKAGE = ("commands.http", "static")
PAGES = {"/": "index.html", "/auditor": "auditor.html", "/docs": "docs.html"}


def _page(file_name: str) -> str:
    return (
        resources.files(STATIC_PACKAGE[0])
        .joinpath(STATIC_PACKAGE[1], file_name)
        .read_text(encoding="utf-8")
    )


def _add_page(path: str, file_name: str) -> None:
    html = _page(file_name)

    def page() -> HTMLResponse:
        return HTMLResponse(html)

    name = file_name.removesuffix(".html")
    router.add_api_route(path, page, methods=["GET"], name=f"page_{name}")


for _path, _file in PAGES.items():
    _add_page(_path, _file)
