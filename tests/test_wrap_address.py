"""Long addresses wrap on a phone after ``@`` and dots (the ``wrap_address`` filter)."""

from __future__ import annotations

from django.template import Context, Template

from mailadmin.templatetags.mailadmin_tags import wrap_address


def test_an_address_may_break_after_the_at_sign_and_each_dot():
    assert wrap_address("first.last@mail.example.com") == (
        "first.<wbr>last@<wbr>mail.<wbr>example.<wbr>com"
    )


def test_the_address_is_escaped_and_shown_in_unicode():
    assert wrap_address("<b>@xn--bcher-kva.example") == "&lt;b&gt;@<wbr>bücher.<wbr>example"
    rendered = Template("{% load mailadmin_tags %}{{ a|wrap_address }}").render(
        Context({"a": 'x"><script>@a.test'})
    )
    assert "<script>" not in rendered and "&lt;script&gt;@<wbr>a.<wbr>test" in rendered


def test_an_empty_value_stays_empty():
    assert wrap_address("") == "" and wrap_address(None) == ""
