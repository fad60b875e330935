"""Template helpers of the browser inbox. Every helper escapes customer text itself."""

from __future__ import annotations

from django import template
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

from inbox.services.threads import MENTION_RE

register = template.Library()


@register.filter(needs_autoescape=True)
def with_mentions(text: str, autoescape: bool = True) -> SafeString:
    """Escapes the text, marks @mentions and keeps line breaks."""
    escaped = str(conditional_escape(text))
    marked = MENTION_RE.sub(lambda m: str(format_html('<mark class="mention">{}</mark>', m.group(0))), escaped)
    # Safe: built from the escaped text; a mention holds no character escaping changes.
    return mark_safe(marked.replace("\n", "<br>"))
