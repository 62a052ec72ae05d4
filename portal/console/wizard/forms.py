"""What the wizard's forms are built on (SLDS, and the texts customers see, which every desk's channel page
sets). Each step's forms are in its module (``steps/<step>.py``); each validates
with field-level messages and writes nothing when it is invalid."""

from __future__ import annotations

from django import forms

SHORT_TEXT = {"rows": 2}


class SldsForm(forms.Form):
    """Renders with SLDS classes; the templates lay the fields out."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                continue
            css = "slds-select" if isinstance(widget, forms.Select) else "slds-input"
            if isinstance(widget, forms.Textarea):
                css = "slds-textarea"
            widget.attrs.setdefault("class", css)


def optional_text(label: str, help_text: str, attrs: dict = SHORT_TEXT) -> forms.CharField:
    """A text area the admin may leave empty (the widget copies ``attrs``, so one dict serves every field)."""
    return forms.CharField(
        label=label, required=False, widget=forms.Textarea(attrs=attrs), help_text=help_text
    )


class TextsMixin(forms.Form):
    # A sentence or two each: two rows that grow as the admin types (not Django's default ten).
    welcome_text = optional_text("Welcome text", "Sent when a conversation opens.")
    closing_text = optional_text("Closing text", "Sent when the agent ends it.")
    no_agent_text = optional_text("No agent available", "Sent when nobody can take it.")

    def save_texts(self, tenant) -> None:
        for name in ("welcome_text", "closing_text", "no_agent_text"):
            setattr(tenant, name, self.cleaned_data[name].strip())
        tenant.save(update_fields=["welcome_text", "closing_text", "no_agent_text", "updated_at"])
