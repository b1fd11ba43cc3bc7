"""allauth receivers for back-office accounts."""

from allauth.account.models import EmailAddress
from allauth.account.signals import password_reset
from django.dispatch import receiver


@receiver(password_reset, dispatch_uid="guests.verify_on_password_reset")
def verify_address_on_password_reset(sender, request, user, **kwargs):
    """Opening a password-reset link proves control of the inbox it was sent to.

    A staff account made by an owner gets its first password this way (see
    ``guests.services.invite_staff``), so the reset also verifies the address and
    the person can sign in straight away. Only when the account has exactly one
    address: with several we cannot tell which inbox received the link.
    """
    addresses = list(EmailAddress.objects.filter(user=user))
    if len(addresses) == 1 and not addresses[0].verified:
        addresses[0].verified = True
        addresses[0].save(update_fields=["verified"])
