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

    def get_template_names(self) -> list[str]:
        names = super().get_template_names()
        fragment = self.request.GET.get("fragment")
        if fragment is None:
            return names
        if fragment not in self.fragments:
            raise Http404("No such fragment on this page.")
        return [f"{names[0]}#{fragment}"]
