from django.urls import path

from . import group_views, manual_views, views

app_name = "payments"

urlpatterns = [
    path("stripe/webhook", views.stripe_webhook, name="stripe-webhook"),
    # a group booking's one card payment (payments/group_views.py)
    path("groups/<str:reference>/pay/", group_views.group_pay_page, name="group-pay"),
    path("groups/<str:reference>/setup", group_views.group_card_setup, name="group-card-setup"),
    path("groups/<str:reference>/card", group_views.group_card_payment, name="group-card"),
    path("groups/<str:reference>/return", group_views.group_payment_return, name="group-return"),
    path("<str:reference>/pay/", views.pay_page, name="pay"),
    path("manual/<str:code>/proof", manual_views.proof, name="manual-proof"),
    path("<str:reference>/manual/", manual_views.choose, name="manual-choose"),
    path("<str:reference>/manual/<str:code>/", manual_views.instructions, name="manual"),
    path("<str:reference>/setup", views.card_setup, name="card-setup"),
    path("<str:reference>/card", views.card_payment, name="card"),
    path("<str:reference>/return", views.payment_return, name="return"),
]
