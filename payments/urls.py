from django.urls import path

from . import manual_views, views

app_name = "payments"

urlpatterns = [
    path("stripe/webhook", views.stripe_webhook, name="stripe-webhook"),
    path("<str:reference>/pay/", views.pay_page, name="pay"),
    path("manual/<str:code>/proof", manual_views.proof, name="manual-proof"),
    path("<str:reference>/manual/", manual_views.choose, name="manual-choose"),
    path("<str:reference>/manual/<str:code>/", manual_views.instructions, name="manual"),
    path("<str:reference>/setup", views.card_setup, name="card-setup"),
    path("<str:reference>/card", views.card_payment, name="card"),
    path("<str:reference>/return", views.payment_return, name="return"),
]
