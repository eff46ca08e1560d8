"""Plumbing shared by the section pages of every app (not views themselves)."""

from __future__ import annotations

from django.http import Http404

from monitoring.roles import RoleRequiredMixin


class SectionPage(RoleRequiredMixin):
    """A role-checked page whose named ``{% partialdef %}`` fragments can be fetched alone.

    ``?fragment=<name>`` renders ``<template_name>#<name>`` with the page's own
    context, so a live refresh (htmx, triggered by a WebSocket event) uses the
    same markup as the first render. Only names listed in ``fragments`` are served.
    """

    fragments: tuple[str, ...] = ()
    # The context name of the page's GET filter form: invalid filter values answer 400
    # (the client's mistake; the re-rendered form names the field).
    filter_form: str | None = None

    def render_to_response(self, context, **response_kwargs):
        if self.filter_form and self.request.method == "GET" and not context[self.filter_form].is_valid():
            response_kwargs.setdefault("status", 400)
        return super().render_to_response(context, **response_kwargs)

    def get_template_names(self) -> list[str]:
        names = super().get_template_names()
        fragment = self.request.GET.get("fragment")
        if fragment is None:
            return names
        if fragment not in self.fragments:
            raise Http404("No such fragment on this page.")
        return [f"{names[0]}#{fragment}"]
