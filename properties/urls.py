from django.urls import path

from . import views

app_name = "properties"

urlpatterns = [
    path("", views.home, name="home"),
    path("properties/<slug:slug>/", views.property_detail, name="detail"),
]
