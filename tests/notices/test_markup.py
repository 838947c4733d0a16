"""The notices' Markdown subset: what it refuses, and that what it renders stays inside the allow-list."""

import pytest

from notices.markup import markup_problem, markup_render


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("<script>alert(1)</script>", "html"),
        ("こんにちは <span onclick=x>x</span>", "html"),
        ("<!-- hidden -->", "html"),
        ("**<i>x</i>**", "html"),
        ("![logo](https://cdn.example/logo.png)", "image"),
        ("![a][r]\n\n[r]: https://cdn.example/a.png", "image"),
        ("[a](javascript:alert(1))", "link_scheme"),
        ("[a](http://plain.example/)", "link_scheme"),
        ("<http://plain.example/>", "link_scheme"),
        ("[a](data:text/html,x)", "link_scheme"),
        ("[a][r]\n\n[r]: vbscript:x", "link_scheme"),
        ("[a](//no-scheme.example/)", "link_scheme"),
    ],
)
def test_refused(text, problem):
    assert markup_problem(text) == problem


def test_subset_renders():
    html = markup_render(
        '**太字**と*斜体*\n\n- 一\n- 二\n\n1. 壱\n\n[説明](https://www.example.go.jp/a?b=1&c=2 "t")'
    )
    assert "<strong>太字</strong>" in html and "<em>斜体</em>" in html
    assert "<ul>" in html and "<ol>" in html
    assert 'href="https://www.example.go.jp/a?b=1&amp;c=2"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


def test_everything_else_stays_text():
    html = markup_render("# 見出し\n\n`code`\n\n> 引用\n\n| a | b |\n|---|---|\n\nx &lt; y & z")
    assert (
        "<h1>" not in html and "<code>" not in html and "<blockquote>" not in html and "<table>" not in html
    )
    assert "# 見出し" in html and "x &lt; y &amp; z" in html


def test_renderer_escapes_html_it_was_never_meant_to_see():
    # Even if a body skipped the check, the renderer has HTML off: tags come out as text.
    html = markup_render("<script>alert(1)</script> <img src=x onerror=alert(1)>")
    assert "<script>" not in html and "<img" not in html and "&lt;script&gt;" in html
