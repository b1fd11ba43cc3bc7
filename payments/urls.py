from django.urls import path

from . import views

app_name = "payments"

urlpatterns = [
    path("stripe/webhook", views.stripe_webhook, name="stripe-webhook"),
    path("<str:reference>/pay/", views.pay_page, name="pay"),
    path("<str:reference>/setup", views.card_setup, name="card-setup"),
    path("<str:reference>/card", views.card_payment, name="card"),
    path("<str:reference>/return", views.payment_return, name="return"),
]
