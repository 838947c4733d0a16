from django import template

register = template.Library()


@register.filter
def label_in(status, language: str) -> str:
    return status.label(language)


@register.filter
def agency_in(status, language: str) -> str:
    return status.agency_name(language)
