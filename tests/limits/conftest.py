import pytest
from allauth.account.models import EmailAddress
from django.test import Client

from tests.factories import OwnerFactory
from tests.pages.conftest import details_data  # noqa: F401  (the details form's POST data)

PASSWORD = "pw-for-tests-1"  # UserFactory's


@pytest.fixture
def verified_owner(db):
    user = OwnerFactory(email="owner@example.com")
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


def login(client: Client, email: str, password: str = PASSWORD, **extra):
    return client.post("/accounts/login/", {"login": email, "password": password}, **extra)


def too_many_logins(response) -> bool:
    return "Too many failed login attempts" in response.content.decode()
