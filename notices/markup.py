"""The Markdown subset of notices: paragraphs, bold (and italic), lists and https links. Nothing else.

An agency's text is checked when it arrives (:func:`markup_problem`): raw HTML, images and links that are
not https are refused, not quietly dropped, so the agency learns at once. What passes is rendered by
:func:`markup_render` with HTML disabled and only the subset's rules enabled; the result is checked once
more against a tag and attribute allow-list before it is marked safe. Never render a body another way.
"""

from html.parser import HTMLParser
from urllib.parse import urlsplit

from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from markdown_it.token import Token

# The inspector sees everything CommonMark knows, raw HTML included, and every link whatever its scheme.
_inspector = MarkdownIt("commonmark", {"html": True})
_inspector.validateLink = lambda url: True  # type: ignore[method-assign]

# The renderer knows only the subset; anything else stays literal text, escaped.
_renderer = MarkdownIt("zero", {"html": False, "breaks": True}).enable(
    ["list", "reference", "emphasis", "link", "autolink", "newline", "escape", "entity"]
)
_renderer.validateLink = lambda url: _is_https(url)  # type: ignore[method-assign]

ALLOWED_TAGS = {"p": set(), "strong": set(), "em": set(), "ul": set(), "ol": {"start"}, "li": set(),
                "br": set(), "a": {"href", "title", "rel", "class"}}  # fmt: skip


def _is_https(url: str) -> bool:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() == "https" and bool(parts.netloc)


def _walk(tokens: list[Token]):
    for token in tokens:
        yield token
        if token.children:
            yield from _walk(token.children)


def markup_problem(text: str) -> str | None:
    """Why the text is refused (``html``, ``image``, ``link_scheme``), or None when it may be shown."""
    for token in _walk(_inspector.parse(text)):
        if token.type in {"html_block", "html_inline"}:
            return "html"
        if token.type == "image":
            return "image"
        if token.type == "link_open" and not _is_https(str(token.attrGet("href") or "")):
            return "link_scheme"
    return None


class _AllowListCheck(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.bad: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        allowed = ALLOWED_TAGS.get(tag)
        if allowed is None or any(name not in allowed for name, _ in attrs):
            self.bad.append(tag)
        if tag == "a" and not _is_https(dict(attrs).get("href") or ""):
            self.bad.append("a[href]")

    def handle_endtag(self, tag: str) -> None:
        if tag not in ALLOWED_TAGS:
            self.bad.append(tag)


def _render_link_open(self, tokens, idx, options, env):  # markdown-it renderer rule signature
    token = tokens[idx]
    token.attrSet("rel", "noopener noreferrer nofollow")
    token.attrSet("class", "external-link")
    return self.renderToken(tokens, idx, options, env)


_renderer.add_render_rule("link_open", _render_link_open)


def markup_render(text: str) -> SafeString:
    """Safe HTML of a checked body. Raises ValueError if the output escaped the allow-list (it cannot)."""
    html = _renderer.render(text)
    check = _AllowListCheck()
    check.feed(html)
    check.close()
    if check.bad:
        raise ValueError(f"rendered notice outside the allow-list: {sorted(set(check.bad))}")
    return mark_safe(html)  # noqa: S308 -- escaped by the renderer, then checked against the allow-list
