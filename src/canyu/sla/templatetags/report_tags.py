from django import template

from canyu.sla.views import report_duration as _report_duration

register = template.Library()


@register.filter
def report_duration(seconds: float | None) -> str:
    """Seconds as the report shows them: "45 s", "12 min", "3 h 5 min", "—" for none."""
    return _report_duration(seconds)
