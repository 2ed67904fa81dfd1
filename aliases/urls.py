from django.urls import path, register_converter

from aliases import views


class AliasAddressConverter:
    """``local@domain``, or ``@domain`` for a catch-all."""

    regex = r"[^/@]*@[^/@]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(AliasAddressConverter, "alias_address")

app_name = "aliases"
urlpatterns = [
    path("", views.alias_list, name="list"),
    path("add/", views.alias_add, name="add"),
    path("<alias_address:address>/edit/", views.alias_edit, name="edit"),
    path("<alias_address:address>/delete/", views.alias_delete, name="delete"),
]
