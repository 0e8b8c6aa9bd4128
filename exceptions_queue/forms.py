from django import forms

from exceptions_queue.selectors import list_assignable_users


class CommentForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)


class DismissForm(forms.Form):
    reason = forms.CharField(
        max_length=1000, widget=forms.TextInput(attrs={"placeholder": "Why no fix is needed"})
    )


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(queryset=None, required=False, empty_label="Nobody (queue)")

    def __init__(self, *args, queue: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = list_assignable_users(queue=queue)


class BulkForm(forms.Form):
    """What to do with the rows ticked on a queue page: claim, unassign, dismiss (with a
    reason) or ``action:<name>`` for a type action that needs no input."""

    items = forms.TypedMultipleChoiceField(coerce=int, choices=())
    operation = forms.CharField(max_length=80)
    reason = forms.CharField(max_length=1000, required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        posted = self.data.getlist("items") if hasattr(self.data, "getlist") else []
        self.fields["items"].choices = [(value, value) for value in posted if value.isdigit()]
