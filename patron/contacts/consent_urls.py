from django.urls import path

from patron.contacts.consent_views import consent_answer, consent_history_page

app_name = "consent"

urlpatterns = [
    path("contacts/<int:pk>/consent/answer/", consent_answer, name="answer"),
    path("contacts/<int:pk>/consent/history/", consent_history_page, name="history"),
]
