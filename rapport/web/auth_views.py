"""Signing in and out, passwords and personal API tokens.

Sign-in is Django's LoginView: it passes the request to `authenticate`, which
django-axes needs to count failures per username and address.
"""

from django.contrib import messages
from django.contrib.auth import views as auth
from django.shortcuts import render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST

from rapport.identity.selectors import api_tokens_of
from rapport.identity.services import api_token_create, api_token_revoke
from rapport.records.exceptions import RecordNotFound
from rapport.web.decorators import ui_view
from rapport.web.forms import ApiTokenForm, PasswordChangeForm, PasswordResetSetForm

login = auth.LoginView.as_view(
    template_name="web/auth/login.html",
    redirect_authenticated_user=True,
    next_page=reverse_lazy("web:home"),
)
logout = auth.LogoutView.as_view(next_page=reverse_lazy("web:login"))

password_reset = auth.PasswordResetView.as_view(
    template_name="web/auth/password_reset_form.html",
    email_template_name="web/auth/password_reset_email.txt",
    subject_template_name="web/auth/password_reset_subject.txt",
    success_url=reverse_lazy("web:password_reset_done"),
)
password_reset_done = auth.PasswordResetDoneView.as_view(
    template_name="web/auth/password_reset_done.html"
)
password_reset_confirm = auth.PasswordResetConfirmView.as_view(
    form_class=PasswordResetSetForm,
    template_name="web/auth/password_reset_confirm.html",
    success_url=reverse_lazy("web:password_reset_complete"),
)
password_reset_complete = auth.PasswordResetCompleteView.as_view(
    template_name="web/auth/password_reset_complete.html"
)


class _PasswordChange(auth.PasswordChangeView):
    form_class = PasswordChangeForm
    template_name = "web/auth/password_change.html"
    success_url = reverse_lazy("web:home")

    def form_valid(self, form):
        response = super().form_valid(form)
        revoked = form.tokens_revoked
        tokens = (
            ""
            if not revoked
            else (
                " Your API token was revoked: create a new one under API tokens."
                if revoked == 1
                else f" Your {revoked} API tokens were revoked: create new ones under API tokens."
            )
        )
        messages.success(self.request, f"Your password was changed.{tokens}")
        return response


password_change = _PasswordChange.as_view()


def _tokens_page(request, form, secret=None, status=200):
    tokens = list(api_tokens_of(request.user))
    return render(
        request,
        "web/auth/tokens.html",
        {"form": form, "tokens": tokens, "secret": secret},
        status=status,
    )


@ui_view
def api_tokens(request):
    """List the user's tokens; POST creates one and shows its secret this once."""
    if request.method == "POST":
        form = ApiTokenForm(request.POST)
        if form.is_valid():
            token, secret = api_token_create(user=request.user, name=form.cleaned_data["name"])
            messages.success(request, f"Token “{token.name}” created. Copy it now.")
            return _tokens_page(request, ApiTokenForm(), secret=secret)
        return _tokens_page(request, form, status=422)
    return _tokens_page(request, ApiTokenForm())


@ui_view
@require_POST
def api_token_revoke_view(request, pk: int):
    token = api_tokens_of(request.user).filter(pk=pk).first()
    if token is None:
        raise RecordNotFound("token")
    api_token_revoke(token=token)
    messages.success(request, f"Token “{token.name}” revoked.")
    return _tokens_page(request, ApiTokenForm())
